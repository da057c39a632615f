/*
 * region.c - the arena: the address space SBMA memory lives in, the state of
 * its pages, and the allocations carved out of it.
 *
 * At start-up SBMA reserves one large range of virtual memory (SBMA_ARENA)
 * backed by one memfd, mapped twice:
 *
 *   app  the application view. Its protection per page is SBMA's record of
 *        what the program may do without SBMA seeing it: PROT_NONE (not
 *        resident, or resident but the next access must be seen), PROT_READ
 *        (resident, clean) or PROT_READ|PROT_WRITE (resident, dirty).
 *   mgr  the manager view, always read-write. SBMA fills and drains pages
 *        through it while the application view is still closed, so no
 *        thread ever sees a partly loaded page (DESIGN.md 3.6).
 *
 * Page i of the arena is at app + i*psz, at mgr + i*psz, at offset i*psz of
 * the memfd and at offset i*psz of the backing file. One formula, no tables.
 * Dropping a page from RAM is a hole punched in the memfd: both views then
 * read zeros, which is also what never-written pages are.
 *
 * Allocations are extents of whole pages, found first-fit in a sorted,
 * coalesced free list and recorded in a sorted table; both are small (one
 * entry per large allocation) and touched only by malloc and free, never by
 * the fault handler, which works from the per-page state bytes alone.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sbma_internal.h"

struct sbma__arena sbma__A = {.memfd = -1};

/* The application view's base is aligned this much, so that page-index
 * alignment and address alignment agree for every supported alignment. */
#define ARENA_ALIGN ((size_t)1 << 30)
#define MIN_ARENA ((uint64_t)64 << 20)

static void *map_array(size_t bytes)
{
	int err;
	return sbma__os_mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
			     -1, 0, &err);
}

/* Map the memfd twice. Shrinks the arena when the address space is limited
 * (ulimit -v), down to MIN_ARENA. */
static int map_views(uint64_t size)
{
	int err = 0;
	for (; size >= MIN_ARENA; size /= 2) {
		if (ftruncate(sbma__A.memfd, (off_t)size) != 0)
			return -errno;
		char *res = sbma__os_mmap(NULL, size + ARENA_ALIGN, PROT_NONE,
					  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0, &err);
		if (!res)
			continue;
		char *app = (char *)(((uintptr_t)res + ARENA_ALIGN - 1) & ~(uintptr_t)(ARENA_ALIGN - 1));
		if (app > res)
			sbma__os_munmap(res, (size_t)(app - res));
		sbma__os_munmap(app + size, (size_t)(res + ARENA_ALIGN - app));
		if (!sbma__os_mmap(app, size, PROT_NONE, MAP_SHARED | MAP_FIXED | MAP_NORESERVE, sbma__A.memfd,
				   0, &err)) {
			sbma__os_munmap(app, size);
			continue;
		}
		char *mgr = sbma__os_mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE,
					  sbma__A.memfd, 0, &err);
		if (!mgr) {
			sbma__os_munmap(app, size);
			continue;
		}
		sbma__A.app = app;
		sbma__A.mgr = mgr;
		sbma__A.size = size;
		if (size < sbma__opt.arena_size && sbma__opt.verbose)
			sbma__log("SBMA_ARENA reduced to %llu bytes by the address-space limit",
				  (unsigned long long)size);
		return 0;
	}
	return err ? err : -ENOMEM;
}

int sbma__arena_create(void)
{
	struct sbma__arena *A = &sbma__A;
	A->psz = sbma__opt.page_size;
	A->pshift = (unsigned)__builtin_ctzl(A->psz);
	A->memfd = memfd_create("sbma", MFD_CLOEXEC);
	if (A->memfd < 0) {
		int rc = -errno;
		sbma__log("memfd_create failed: %s", strerror(-rc));
		return rc;
	}
	uint64_t size = sbma__opt.arena_size & ~(uint64_t)(A->psz - 1);
	int rc = map_views(size);
	if (rc) {
		sbma__log("cannot reserve %llu bytes of address space for SBMA_ARENA: %s",
			  (unsigned long long)size, strerror(-rc));
		close(A->memfd);
		A->memfd = -1;
		return rc;
	}
	A->npages = A->size >> A->pshift;
	A->state = map_array(A->npages);
	A->stamp = map_array(A->npages * sizeof *A->stamp);
	A->pins = map_array(A->npages * sizeof *A->pins);
	A->cap_free = 64;
	A->free = __libc_malloc(A->cap_free * sizeof *A->free);
	if (!A->state || !A->stamp || !A->pins || !A->free) {
		sbma__log("cannot map the page-state arrays for %zu pages", A->npages);
		return -ENOMEM;
	}
	A->free[0].first = 0;
	A->free[0].npages = A->npages;
	A->nfree = 1;
	A->runs = 1;
	return 0;
}

void sbma__arena_destroy(void)
{
	/* The views stay mapped: destructors of other libraries that run after
	 * ours may still read SBMA memory. The kernel frees it at exit. */
}

static int grow(void **arr, size_t *cap, size_t elem)
{
	size_t ncap = *cap ? *cap * 2 : 64;
	void *p = __libc_realloc(*arr, ncap * elem);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

int sbma__region_alloc_locked(size_t npages, size_t align, size_t size, size_t *first)
{
	struct sbma__arena *A = &sbma__A;
	size_t apages = align > A->psz ? align >> A->pshift : 1;
	if (align > ARENA_ALIGN || npages == 0 || npages > A->npages)
		return align > ARENA_ALIGN ? -EINVAL : -ENOMEM;
	if (A->nregions == A->cap_regions &&
	    grow((void **)&A->regions, &A->cap_regions, sizeof *A->regions))
		return -ENOMEM;
	/* An aligned allocation may split a free extent in three. */
	if (A->nfree + 1 >= A->cap_free && grow((void **)&A->free, &A->cap_free, sizeof *A->free))
		return -ENOMEM;
	for (size_t i = 0; i < A->nfree; i++) {
		struct sbma__extent *e = &A->free[i];
		size_t start = (e->first + apages - 1) / apages * apages;
		if (start - e->first >= e->npages || e->npages - (start - e->first) < npages)
			continue;
		size_t end = start + npages, eend = e->first + e->npages;
		if (start > e->first && end < eend) {
			memmove(&A->free[i + 2], &A->free[i + 1], (A->nfree - i - 1) * sizeof *A->free);
			A->free[i + 1].first = end;
			A->free[i + 1].npages = eend - end;
			e->npages = start - e->first;
			A->nfree++;
		} else if (start > e->first) {
			e->npages = start - e->first;
		} else if (end < eend) {
			e->first = end;
			e->npages = eend - end;
		} else {
			memmove(e, e + 1, (A->nfree - i - 1) * sizeof *A->free);
			A->nfree--;
		}
		sbma__region_insert_locked(start, npages, size); /* room made above */
		*first = start;
		return 0;
	}
	return -ENOMEM;
}

/* The index of the first allocation that starts at or after page `first`
 * (the table is sorted by first page). */
static size_t region_index(size_t first)
{
	struct sbma__arena *A = &sbma__A;
	size_t lo = 0, hi = A->nregions;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (A->regions[mid].first < first)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int sbma__region_insert_locked(size_t first, size_t npages, size_t size)
{
	struct sbma__arena *A = &sbma__A;
	if (A->nregions == A->cap_regions &&
	    grow((void **)&A->regions, &A->cap_regions, sizeof *A->regions))
		return -ENOMEM;
	/* Keep the table sorted. */
	size_t lo = region_index(first);
	memmove(&A->regions[lo + 1], &A->regions[lo], (A->nregions - lo) * sizeof *A->regions);
	A->regions[lo] = (struct sbma__region){.first = first, .npages = npages, .size = size};
	A->nregions++;
	return 0;
}

struct sbma__region *sbma__region_find_locked(size_t first)
{
	struct sbma__arena *A = &sbma__A;
	size_t lo = region_index(first);
	return lo < A->nregions && A->regions[lo].first == first ? &A->regions[lo] : NULL;
}

/* Give the extent of r back to the free list (coalescing) and drop r from
 * the table. The caller has already dropped its pages. */
void sbma__region_remove_locked(struct sbma__region *r)
{
	size_t first = r->first, n = r->npages;
	sbma__region_unlink_locked(r);
	sbma__region_give_back_locked(first, n);
}

void sbma__region_unlink_locked(struct sbma__region *r)
{
	struct sbma__arena *A = &sbma__A;
	size_t idx = (size_t)(r - A->regions);
	memmove(r, r + 1, (A->nregions - idx - 1) * sizeof *r);
	A->nregions--;
}

void sbma__region_give_back_locked(size_t first, size_t n)
{
	struct sbma__arena *A = &sbma__A;
	size_t i = 0;
	while (i < A->nfree && A->free[i].first < first)
		i++;
	int join_prev = i > 0 && A->free[i - 1].first + A->free[i - 1].npages == first;
	int join_next = i < A->nfree && first + n == A->free[i].first;
	if (join_prev && join_next) {
		A->free[i - 1].npages += n + A->free[i].npages;
		memmove(&A->free[i], &A->free[i + 1], (A->nfree - i - 1) * sizeof *A->free);
		A->nfree--;
	} else if (join_prev) {
		A->free[i - 1].npages += n;
	} else if (join_next) {
		A->free[i].first = first;
		A->free[i].npages += n;
	} else {
		if (A->nfree == A->cap_free && grow((void **)&A->free, &A->cap_free, sizeof *A->free)) {
			/* FIXME: the extent leaks (address space only: its
			 * RAM and disk were already given back). */
			return;
		}
		memmove(&A->free[i + 1], &A->free[i], (A->nfree - i) * sizeof *A->free);
		A->free[i].first = first;
		A->free[i].npages = n;
		A->nfree++;
	}
}

/*
 * Change r's length in place to npages: shrinking gives the tail back to
 * the free list (the caller has dropped its pages first); growing takes
 * pages from the free extent that starts right after r. -ENOMEM if that
 * extent is missing or too small.
 */
int sbma__region_resize_locked(struct sbma__region *r, size_t npages)
{
	struct sbma__arena *A = &sbma__A;
	size_t end = r->first + r->npages;
	if (npages < r->npages) {
		struct sbma__region tail = {.first = r->first + npages, .npages = r->npages - npages};
		/* Reuse the removal path: insert the tail as a region right
		 * after r, then remove it. */
		if (A->nregions == A->cap_regions &&
		    grow((void **)&A->regions, &A->cap_regions, sizeof *A->regions))
			return -ENOMEM;
		size_t idx = (size_t)(r - A->regions);
		memmove(&A->regions[idx + 2], &A->regions[idx + 1], (A->nregions - idx - 1) * sizeof *r);
		A->regions[idx + 1] = tail;
		A->nregions++;
		A->regions[idx].npages = npages;
		sbma__region_remove_locked(&A->regions[idx + 1]);
		return 0;
	}
	size_t extra = npages - r->npages;
	for (size_t i = 0; i < A->nfree; i++) {
		struct sbma__extent *e = &A->free[i];
		if (e->first < end)
			continue;
		if (e->first > end || e->npages < extra)
			return -ENOMEM;
		if (e->npages == extra) {
			memmove(e, e + 1, (A->nfree - i - 1) * sizeof *e);
			A->nfree--;
		} else {
			e->first += extra;
			e->npages -= extra;
		}
		r->npages = npages;
		return 0;
	}
	return -ENOMEM;
}
