/*
 * cache.c - freed extents kept in RAM for the next malloc.
 *
 * A fresh SBMA allocation is holes in the memfd: each first touch of a page
 * is a fault, an mprotect and a page the kernel allocates and zeroes, and
 * each free punches them all out again (and the store range). A program
 * that frees and allocates large blocks in a loop pays that every time,
 * where libc would hand it the memory it touched before. So free keeps the
 * extent, with its resident pages, in a short list, and the next malloc
 * (not calloc: the pages hold the old data) of at most its size takes it:
 * the kept pages are still mapped, writable and dirty, with no fault and
 * no mprotect.
 *
 * The rules (docs/design.md, "The free-extent cache", has the reasons):
 *   - Cached pages are PG_CACHED, without PG_ALLOC. The writable ones stay
 *     writable (PG_RES | PG_RW too): an mprotect at each free and each
 *     reuse was most of an allocation-heavy program's cost. The others
 *     (read-only: never written, zeros) are closed. An extent is closed
 *     whole before it is given back (sbma__vmm_close_cached_locked), so a
 *     stray access after that is not SBMA's fault and kills the program;
 *     before, it lands in dead data, as with libc. SBMA_CHECK=1 keeps
 *     nothing, so there every access after free faults.
 *   - They hold RAM: they count in sbma__st.resident (so in the budget and
 *     the node's charge), and are the first pages given back when room is
 *     needed (vmm.c: evict_oldest, room_unlocked, make_room; evict_all),
 *     without a write: their data is dead.
 *   - Only extents whose data never reached the store are kept (no page
 *     PG_DISK): the backing file then holds nothing of them, only the
 *     space reserved at malloc, which the reuse needs again. Others are
 *     freed as before, store range punched.
 *   - Bounded: at most SBMA__CACHE_SLOTS extents and an eighth of the
 *     budget in force, at most CACHE_MAX; an extent larger than that is
 *     never kept. SBMA_CHECK=1 keeps nothing (a bad pointer is easier to
 *     find when freed memory is gone at once).
 *   - fork drops the cache first (fork.c): the child must not reuse pages
 *     of the parent's memfd.
 *
 * The list is ordered oldest first; a freed extent joins its cached
 * neighbours (the whole becomes the newest); a malloc takes the smallest
 * extent that fits (best fit) and leaves the rest of it cached.
 */
#include "config.h"

#include <string.h>

#include "sbma_internal.h"

#define A sbma__A

/* The most the cache holds, whatever the budget. */
#define CACHE_MAX ((uint64_t)256 << 20)

/* The bound in pages: an eighth of the budget, at most CACHE_MAX. */
static size_t cap_pages(void)
{
	uint64_t cap = sbma__node_budget() / 8;
	if (cap > CACHE_MAX)
		cap = CACHE_MAX;
	return (size_t)(cap >> A.pshift);
}

static int any_on_disk(size_t first, size_t n)
{
	for (size_t i = first; i < first + n; i++)
		if (A.state[i] & PG_DISK)
			return 1;
	return 0;
}

/* Give the oldest cached extent back, RAM and disk; returns the resident
 * pages it held. */
static size_t drop_oldest(void)
{
	size_t before = A.cache_res, first, n;
	sbma__cache_pop_locked(0, &first, &n);
	sbma__vmm_free_space(first, n);
	sbma__region_give_back_locked(first, n);
	return before - A.cache_res;
}

int sbma__cache_put_locked(struct sbma__region *r)
{
	size_t first = r->first, n = r->npages;
	if (sbma__opt.check || n > cap_pages() || any_on_disk(first, n))
		return 0;
	if (A.ncache == SBMA__CACHE_SLOTS)
		drop_oldest(); /* for a slot: now, under the lock */
	sbma__vmm_cache_states_locked(first, n);
	sbma__region_unlink_locked(r);
	A.cache_pages += n;
	/* Cached neighbours join it (as the newest): a longer extent fits
	 * more requests. */
	for (size_t c = 0; c < A.ncache;) {
		struct sbma__extent *e = &A.cache[c];
		if (e->first + e->npages != first && first + n != e->first) {
			c++;
			continue;
		}
		if (e->first < first)
			first = e->first;
		n += e->npages;
		memmove(e, e + 1, (A.ncache - c - 1) * sizeof *e);
		A.ncache--;
	}
	A.cache[A.ncache++] = (struct sbma__extent){.first = first, .npages = n};
	return 1;
}

int sbma__cache_take_locked(size_t npages, size_t align, size_t size, size_t *first)
{
	size_t apages = align > A.psz ? align >> A.pshift : 1, best = SIZE_MAX;
	for (size_t c = 0; c < A.ncache; c++) {
		const struct sbma__extent *e = &A.cache[c];
		if (e->npages >= npages && e->first % apages == 0 &&
		    (best == SIZE_MAX || e->npages < A.cache[best].npages))
			best = c;
	}
	if (best == SIZE_MAX)
		return 0;
	struct sbma__extent *e = &A.cache[best];
	size_t start = e->first;
	if (sbma__region_insert_locked(start, npages, size))
		return 0;
	if (e->npages == npages) {
		memmove(e, e + 1, (A.ncache - best - 1) * sizeof *e);
		A.ncache--;
	} else {
		/* The tail stays cached, at its place in the age order. */
		e->first += npages;
		e->npages -= npages;
	}
	A.cache_pages -= npages;
	sbma__vmm_reuse_states_locked(start, npages);
	A.cache_hits++;
	*first = start;
	return 1;
}

int sbma__cache_pop_locked(int over, size_t *first, size_t *n)
{
	if (!A.ncache || (over && A.cache_pages <= cap_pages()))
		return 0;
	struct sbma__extent e = A.cache[0];
	memmove(&A.cache[0], &A.cache[1], (A.ncache - 1) * sizeof A.cache[0]);
	A.ncache--;
	A.cache_pages -= e.npages;
	/* Off the list first: closing may relieve mprotect's ENOMEM by
	 * dropping other extents (vmm.c set_level_retry). */
	sbma__vmm_close_cached_locked(e.first, e.npages);
	size_t res = 0;
	for (size_t i = e.first; i < e.first + e.npages; i++) {
		res += A.state[i] == PG_CACHED;
		A.state[i] = 0;
	}
	A.cache_res -= res;
	sbma__stats_resident_add(-(int64_t)((uint64_t)res << A.pshift));
	A.cache_drops++;
	*first = e.first;
	*n = e.npages;
	return 1;
}

size_t sbma__cache_drop_locked(size_t pages)
{
	size_t dropped = 0;
	while (dropped < pages && A.ncache)
		dropped += drop_oldest();
	return dropped;
}
