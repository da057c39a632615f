/*
 * alloc.c - malloc-family semantics over arena regions, and the rest of the
 * public API that takes address ranges.
 *
 * An allocation is a whole number of SBMA pages starting on a page boundary,
 * so every SBMA pointer is aligned to at least the SBMA page (and so to
 * max_align_t). Disk space for the whole allocation is reserved before the
 * pointer is returned: a full disk is ENOMEM here, never a lost page later.
 * Fresh pages are holes in the memfd and read as zeros, so calloc costs
 * nothing extra. malloc may instead get a freed extent whose pages are
 * still in RAM (cache.c); calloc never does.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <string.h>

#include "sbma_internal.h"

#define A sbma__A

static size_t pages_for(size_t size, int *overflow)
{
	if (size == 0)
		size = 1;
	if (size > SIZE_MAX - A.psz) {
		*overflow = 1;
		return 0;
	}
	return (size + A.psz - 1) >> A.pshift;
}

/* A new extent from the free list, with its disk space reserved; 0 or
 * -errno. May drop the lock (*old) for the reservation. */
static int new_extent_locked(size_t npages, size_t align, size_t size, size_t *first, sigset_t *old)
{
	int rc = sbma__region_alloc_locked(npages, align, size, first);
	if (rc)
		return rc;
	uint64_t off = (uint64_t)*first << A.pshift, len = (uint64_t)npages << A.pshift;
	if (sbma__opt.unlocked_io) {
		/* fallocate can take milliseconds: not under the lock.
		 * Until it is done the pages stay state 0 (a fault there
		 * is not SBMA's), and no one else has the pointer. */
		sbma__unlock(old);
		rc = sbma__store_reserve(off, len);
		sbma__lock(old);
	} else {
		rc = sbma__store_reserve(off, len);
	}
	if (rc)
		sbma__region_remove_locked(sbma__region_find_locked(*first));
	return rc;
}

static void *alloc_aligned(size_t align, size_t size, int zero)
{
	int rc = sbma__ensure_ready();
	if (rc) {
		errno = rc == -EAGAIN ? ENOMEM : -rc;
		return NULL;
	}
	int overflow = 0;
	size_t npages = pages_for(size, &overflow);
	if (overflow || npages > A.npages) {
		errno = ENOMEM;
		return NULL;
	}
	sigset_t old;
	sbma__lock(&old);
	size_t first;
	/* A cached extent has its disk space reserved and its states set. */
	if (!zero && sbma__cache_take_locked(npages, align, size, &first)) {
		rc = 0;
	} else {
		rc = new_extent_locked(npages, align, size, &first, &old);
		if (rc == -ENOMEM && A.ncache) {
			/* The cache may hold the address space or the disk
			 * space that is missing. */
			sbma__cache_drop_locked(SIZE_MAX);
			sbma__node_sync_locked();
			rc = new_extent_locked(npages, align, size, &first, &old);
		}
		if (!rc)
			memset(A.state + first, PG_ALLOC, npages);
	}
	if (!rc) {
		sbma__st.allocated += size;
		sbma__st.allocations++;
	}
	sbma__unlock(&old);
	if (rc) {
		errno = rc == -EINVAL ? EINVAL : ENOMEM;
		return NULL;
	}
	return A.app + ((size_t)first << A.pshift);
}

void *sbma_malloc(size_t size)
{
	return alloc_aligned(0, size, 0);
}

void *sbma_calloc(size_t nmemb, size_t size)
{
	size_t total;
	if (__builtin_mul_overflow(nmemb, size, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	return alloc_aligned(0, total, 1);
}

void *sbma_aligned_alloc(size_t alignment, size_t size)
{
	if (alignment == 0 || (alignment & (alignment - 1))) {
		errno = EINVAL;
		return NULL;
	}
	return alloc_aligned(alignment, size, 0);
}

int sbma_posix_memalign(void **memptr, size_t alignment, size_t size)
{
	if (!memptr || alignment < sizeof(void *) || (alignment & (alignment - 1)))
		return EINVAL;
	int saved = errno;
	void *p = alloc_aligned(alignment, size, 0);
	int rc = p ? 0 : errno;
	errno = saved;
	if (p)
		*memptr = p;
	return rc;
}

/* The live allocation that starts at p, or NULL. Lock held. */
static struct sbma__region *region_at_locked(const void *p)
{
	if (!sbma__in_arena(p) || ((uintptr_t)p & (A.psz - 1)))
		return NULL;
	return sbma__region_find_locked(sbma__page_of(p));
}

/* The same, once no page of it is being loaded by another thread (a fault
 * whose readahead crossed into it); may drop the lock to wait. */
static struct sbma__region *idle_region_at_locked(const void *p)
{
	struct sbma__region *r;
	do
		r = region_at_locked(p);
	while (r && sbma__vmm_wait_busy_locked(r->first, r->npages));
	return r;
}

/* Whether p is inside a live allocation (without being its start). Lock
 * held. */
static int inside_live_locked(const void *p)
{
	return sbma__in_arena(p) && (A.state[sbma__page_of(p)] & PG_ALLOC);
}

/*
 * A pointer into the arena that is not the start of a live allocation. Told
 * always (the region lookup that found it costs nothing extra) and, under
 * SBMA_CHECK=1, fatal. Nothing is freed or changed either way.
 */
static void bad_pointer(const char *fn, const void *p, int inside)
{
	const char *what = inside ? "points inside a live SBMA allocation, not at its start"
				  : "not a live SBMA allocation (double free, or a pointer SBMA never returned)";
	sbma__log("%s(%p): %s", fn, p, what);
	if (sbma__opt.check)
		sbma__die("%s(%p): invalid pointer (SBMA_CHECK=1)", fn, p);
}

/* Give back an extent that is in no list: its RAM and disk space (without
 * the lock under SBMA_UNLOCKED_IO: the punches can take milliseconds, and
 * no other thread can reach the extent), then the extent itself to the
 * free list. */
static void release_extent_locked(size_t first, size_t n, sigset_t *old)
{
	if (sbma__opt.unlocked_io) {
		sbma__unlock(old);
		sbma__vmm_free_space(first, n);
		sbma__lock(old);
	} else {
		sbma__vmm_free_space(first, n);
	}
	sbma__region_give_back_locked(first, n);
}

void sbma_free(void *ptr)
{
	if (!ptr)
		return;
	if (!sbma__in_arena(ptr)) {
		/* malloc() hands small requests to libc, so a program that
		 * pairs malloc with sbma_free is not wrong. */
		__libc_free(ptr);
		return;
	}
	sigset_t old;
	sbma__lock(&old);
	struct sbma__region *r = idle_region_at_locked(ptr);
	int inside = r ? 0 : inside_live_locked(ptr);
	if (r) {
		sbma__st.allocated -= r->size;
		sbma__st.allocations--;
		size_t first, n;
		if (sbma__cache_put_locked(r)) {
			/* Kept: what the cache holds beyond its bound goes,
			 * oldest first. */
			while (sbma__cache_pop_locked(1, &first, &n))
				release_extent_locked(first, n, &old);
		} else {
			first = r->first;
			n = r->npages;
			sbma__vmm_free_states_locked(first, n);
			sbma__region_unlink_locked(r);
			release_extent_locked(first, n, &old);
		}
		sbma__node_sync_locked();
#ifdef SBMA_DEBUG
		sbma__vmm_audit_locked("free");
#endif
	}
	sbma__unlock(&old);
	if (!r)
		bad_pointer("free", ptr, inside);
}

size_t sbma_malloc_usable_size(void *ptr)
{
	if (!ptr || sbma__state != SBMA_READY)
		return 0;
	sigset_t old;
	sbma__lock(&old);
	struct sbma__region *r = region_at_locked(ptr);
	size_t n = r ? r->npages << A.pshift : 0;
	sbma__unlock(&old);
	return n;
}

void *sbma_realloc(void *ptr, size_t size)
{
	if (!ptr)
		return sbma_malloc(size);
	if (size == 0) {
		sbma_free(ptr);
		return NULL;
	}
	int overflow = 0;
	if (sbma__state != SBMA_READY) {
		bad_pointer("realloc", ptr, 0);
		errno = EINVAL;
		return NULL;
	}
	size_t npages = pages_for(size, &overflow);
	if (overflow) {
		errno = ENOMEM;
		return NULL;
	}
	sigset_t old;
	sbma__lock(&old);
	struct sbma__region *r = idle_region_at_locked(ptr);
	if (!r) {
		int inside = inside_live_locked(ptr);
		sbma__unlock(&old);
		bad_pointer("realloc", ptr, inside);
		errno = EINVAL;
		return NULL;
	}
	size_t oldsize = r->size, oldpages = r->npages;
	int done = 0;
	if (npages == oldpages) {
		done = 1;
	} else if (npages < oldpages) {
		sbma__vmm_free_locked(r->first + npages, oldpages - npages);
		done = sbma__region_resize_locked(r, npages) == 0;
		if (!done) /* the tail is dropped but still ours */
			done = 1;
	} else {
		size_t first = r->first;
		uint64_t off = (uint64_t)(first + oldpages) << A.pshift;
		uint64_t len = (uint64_t)(npages - oldpages) << A.pshift;
		if (sbma__region_resize_locked(r, npages) == 0) {
			if (sbma__store_reserve(off, len) == 0) {
				memset(A.state + first + oldpages, PG_ALLOC, npages - oldpages);
				done = 1;
			} else {
				sbma__region_resize_locked(sbma__region_find_locked(first), oldpages);
				r = NULL;
			}
		}
	}
	if (done) {
		r = sbma__region_find_locked(sbma__page_of(ptr));
		sbma__st.allocated += size - oldsize;
		r->size = size;
	}
	sbma__unlock(&old);
	if (done)
		return ptr;
	/* Move: the copy goes through the application view without the
	 * lock, so it faults, loads and evicts like any program access. */
	void *np = sbma_malloc(size);
	if (!np)
		return NULL;
	memcpy(np, ptr, oldsize < size ? oldsize : size);
	sbma_free(ptr);
	return np;
}

int sbma_owns(const void *ptr)
{
	return sbma__state == SBMA_READY && sbma__in_arena(ptr);
}

/* The pages of [addr, addr+len) inside the arena: whole pages touched by the
 * range if `whole` is 0, pages entirely inside it if 1. */
static int range_pages(const void *addr, size_t len, int whole, size_t *first, size_t *n)
{
	if (sbma__state != SBMA_READY || len == 0)
		return -EINVAL;
	uintptr_t lo = (uintptr_t)addr, hi;
	if (__builtin_add_overflow(lo, len, &hi))
		return -EINVAL;
	uintptr_t alo = (uintptr_t)A.app, ahi = alo + A.size;
	if (hi <= alo || lo >= ahi)
		return -EINVAL;
	if (lo < alo)
		lo = alo;
	if (hi > ahi)
		hi = ahi;
	size_t p0, p1;
	if (whole) {
		p0 = (lo - alo + A.psz - 1) >> A.pshift;
		p1 = (hi - alo) >> A.pshift;
	} else {
		p0 = (lo - alo) >> A.pshift;
		p1 = (hi - alo + A.psz - 1) >> A.pshift;
	}
	if (p1 <= p0)
		return whole ? 1 : -EINVAL;
	*first = p0;
	*n = p1 - p0;
	return 0;
}

int64_t sbma_evict_all(void)
{
	if (sbma__state != SBMA_READY)
		return 0;
	sigset_t old;
	sbma__lock(&old);
	int64_t total = sbma__vmm_evict_all_locked(1);
#ifdef SBMA_DEBUG
	sbma__vmm_audit_locked("evict_all");
#endif
	sbma__unlock(&old);
	return total;
}

/* What the range calls do under the lock, once the range is resolved to
 * pages. */
enum range_op { OP_EVICT, OP_TOUCH_READ, OP_TOUCH_WRITE, OP_UNPIN, OP_DISCARD };

static int64_t on_range(void *addr, size_t len, enum range_op op, int pin)
{
	size_t first, n;
	int rc = range_pages(addr, len, op == OP_DISCARD, &first, &n);
	if (rc)
		return rc > 0 ? 0 : rc; /* discard of less than a page: nothing */
	sigset_t old;
	sbma__lock(&old);
	int64_t r;
	switch (op) {
	case OP_EVICT:
		r = sbma__vmm_evict_locked(first, n, 0);
		break;
	case OP_TOUCH_READ:
	case OP_TOUCH_WRITE:
		r = sbma__vmm_load_locked(first, n, op == OP_TOUCH_WRITE, pin);
		break;
	case OP_UNPIN:
		r = sbma__vmm_unpin_locked(first, n);
		break;
	default:
		r = sbma__vmm_discard_locked(first, n);
		break;
	}
#ifdef SBMA_DEBUG
	sbma__vmm_audit_locked("range operation");
#endif
	sbma__unlock(&old);
	return r;
}

int64_t sbma_evict(void *addr, size_t len)
{
	return on_range(addr, len, OP_EVICT, 0);
}

int64_t sbma_reacquire(void)
{
	if (sbma__state != SBMA_READY)
		return 0;
	sigset_t old;
	sbma__lock(&old);
	int64_t n = sbma__vmm_reacquire_locked();
	sbma__unlock(&old);
	return n;
}

static int touch_range(void *addr, size_t len, int access, int pin)
{
	if (access != SBMA_ACCESS_READ && access != SBMA_ACCESS_WRITE &&
	    access != (SBMA_ACCESS_READ | SBMA_ACCESS_WRITE))
		return -EINVAL;
	return (int)on_range(addr, len, (access & SBMA_ACCESS_WRITE) ? OP_TOUCH_WRITE : OP_TOUCH_READ, pin);
}

int sbma_touch(void *addr, size_t len, int access)
{
	return touch_range(addr, len, access, 0);
}

int sbma_pin(void *addr, size_t len, int access)
{
	return touch_range(addr, len, access, 1);
}

int sbma_unpin(void *addr, size_t len)
{
	return (int)on_range(addr, len, OP_UNPIN, 0);
}

int sbma_discard(void *addr, size_t len)
{
	return (int)on_range(addr, len, OP_DISCARD, 0);
}
