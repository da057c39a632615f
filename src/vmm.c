/*
 * vmm.c - the virtual memory manager: load, evict, touch, pin, discard, and
 * the replacement that keeps resident memory within the budget.
 *
 * Invariants (checked by sbma__vmm_audit_locked in debug builds):
 *   - PG_RW implies PG_RES; PG_DIRTY implies PG_RES or PG_BUSY (a dirty
 *     page being written out); PG_BUSY excludes PG_RES, and busy pages
 *     count as resident in sbma__st.resident; a page without PG_ALLOC
 *     has no other bit and no pin, except a freed page kept in RAM by the
 *     cache (cache.c): PG_CACHED alone (PROT_NONE) or PG_CACHED | PG_RES
 *     | PG_RW (left writable), counted in sbma__st.resident and in
 *     sbma__A.cache_res.
 *   - The application view's protection of a page is PROT_NONE without
 *     PG_RES, PROT_READ with PG_RES, PROT_READ|PROT_WRITE with PG_RW.
 *   - A resident (or cached) page's data is in the memfd; any other
 *     page's memfd range is a hole. A page's data is in the store iff PG_DISK and not
 *     PG_DIRTY, or it is a never-written page (no PG_DISK: reads as zeros).
 *   - sbma__st.resident/dirty/pinned are the counts of such pages times the
 *     page size; sbma__A.runs is the number of protection runs of the
 *     application view, i.e. the number of kernel memory areas it uses.
 *
 * Everything here runs with the engine lock held, from API calls or from the
 * fault handler; so nothing here allocates, uses stdio, or touches the
 * application view (it would fault on our own lock). Data moves through the
 * manager view, or the memfd's descriptor (loads, store.c), only.
 *
 * Two exceptions (SBMA_UNLOCKED_IO=on, the default; docs/design.md,
 * "Locking"): a fault that must read from the store claims its pages under
 * the lock (PG_BUSY, counted as resident so that the budget sees them),
 * drops the lock for the read into the memfd, and takes it again to
 * open the application view (load_run_unlocked); and the evictions that
 * make room for a fault close their victims and mark them PG_BUSY under the
 * lock, write and punch them without it, and settle their states under it
 * again (evict_oldest_unlocked). While a page is busy nobody else may touch
 * its state or its memfd range: other faults on it sleep until the
 * transfer is done (a futex on A.gen) and retry; loads, evictions and
 * readahead skip it (it is not PG_RES) or wait for it; free, discard,
 * touch and fork wait until it is done (sbma__vmm_wait_busy_locked,
 * sbma__vmm_wait_idle_locked). The transferring thread reads only the
 * PG_DISK or PG_DIRTY bits of its own busy pages without the lock, and no
 * one changes those while the pages are busy.
 *
 * Replacement: each page carries the clock value of its last fault (the only
 * accesses SBMA can see). When a load would pass the budget, the oldest
 * unpinned resident pages are evicted in one batch of at least an eighth of
 * the budget, chosen with an age histogram, written in address order so that
 * dirty neighbours go out as one long write.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sbma_internal.h"

#define A sbma__A
#define ST sbma__st

enum { LVL_NONE = 0, LVL_READ = 1, LVL_RW = 2 };

/* The kernel maps up to this many bytes of cached neighbours on a read
 * fault of a file mapping (fault_around_bytes, 64 KiB by default). */
#define FAULT_AROUND ((size_t)64 << 10)

static const int lvl_prot[] = {PROT_NONE, PROT_READ, PROT_READ | PROT_WRITE};

static inline int lvl_of(uint8_t s)
{
	return (s & PG_RW) ? LVL_RW : (s & PG_RES) ? LVL_READ : LVL_NONE;
}

static inline char *app_addr(size_t pg)
{
	return A.app + (pg << A.pshift);
}

static inline char *mgr_addr(size_t pg)
{
	return A.mgr + (pg << A.pshift);
}

static inline uint64_t bytes(size_t pages)
{
	return (uint64_t)pages << A.pshift;
}

/* Boundaries between pages of different protection at positions lo..hi
 * (position i is between page i-1 and page i). */
static size_t boundaries(size_t lo, size_t hi)
{
	size_t n = 0;
	if (lo == 0)
		lo = 1;
	if (hi > A.npages - 1)
		hi = A.npages - 1;
	for (size_t i = lo; i <= hi; i++)
		n += lvl_of(A.state[i - 1]) != lvl_of(A.state[i]);
	return n;
}

/*
 * Give pages [first, first+n) protection level lvl, in the state bytes and in
 * the application view, and keep the run count exact. The resident counter
 * follows PG_RES; the caller handles PG_DIRTY and the memfd contents.
 */
static int set_level(size_t first, size_t n, int lvl)
{
	size_t before = boundaries(first, first + n);
	int rc = sbma__os_mprotect(app_addr(first), bytes(n), lvl_prot[lvl]);
	if (rc) {
		if (rc == -ENOMEM)
			sbma__log("mprotect failed with ENOMEM: the process has too many memory areas "
				  "(vm.max_map_count); lower SBMA_MAX_MAPS or raise vm.max_map_count");
		return rc;
	}
	int64_t dres = 0;
	for (size_t i = first; i < first + n; i++) {
		uint8_t s = A.state[i];
		dres -= !!(s & PG_RES);
		s &= (uint8_t) ~(PG_RES | PG_RW);
		if (lvl >= LVL_READ)
			s |= PG_RES;
		if (lvl == LVL_RW)
			s |= PG_RW;
		dres += !!(s & PG_RES);
		A.state[i] = s;
	}
	A.runs = A.runs + boundaries(first, first + n) - before;
	if (dres)
		sbma__stats_resident_add((int64_t)bytes(1) * dres);
	return 0;
}

/* Whether any page of [a, b) has a bit of mask. */
static int any_page_has(size_t a, size_t b, uint8_t mask)
{
	for (size_t k = a; k < b; k++)
		if (A.state[k] & mask)
			return 1;
	return 0;
}

static void mark_dirty(size_t first, size_t n)
{
	for (size_t i = first; i < first + n; i++)
		if (!(A.state[i] & PG_DIRTY)) {
			A.state[i] |= PG_DIRTY;
			ST.dirty += bytes(1);
		}
}

/* Bits of page i's state, read by a transfer without the lock: only the
 * DISK or DIRTY bit of a page it has made busy, which nobody changes; other
 * bits of the same byte may be rewritten under the lock meanwhile (with
 * the same DISK and DIRTY), hence the atomic, untorn read. */
static inline int state_has(size_t i, uint8_t mask)
{
	return __atomic_load_n(&A.state[i], __ATOMIC_RELAXED) & mask;
}

/* What a transfer did, added to the statistics under the lock (the
 * transfer may run without it). */
struct tally {
	uint64_t ns, calls, pages;
};

/* ------------------------------------------------- loads in flight (busy) */

/* The engine's only futex: A.gen, bumped under the lock whenever loads
 * finish. A waiter reads it under the lock, drops the lock and sleeps while
 * it is unchanged, so a wake between the two is never lost. Plain system
 * calls: safe in the signal handler. */
static void gen_wait_locked(void)
{
	uint32_t g = A.gen;
	A.waiters++;
	sbma__unlock_async();
	syscall(SYS_futex, &A.gen, FUTEX_WAIT_PRIVATE, g, NULL, NULL, 0);
	sbma__lock_async();
	A.waiters--;
}

static void gen_wake_locked(void)
{
	__atomic_add_fetch(&A.gen, 1, __ATOMIC_RELEASE);
	if (A.waiters)
		syscall(SYS_futex, &A.gen, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

int sbma__vmm_wait_busy_locked(size_t first, size_t n)
{
	if (!A.loading)
		return 0;
	int waited = 0;
	while (A.loading && any_page_has(first, first + n, PG_BUSY)) {
		gen_wait_locked();
		waited = 1;
	}
	return waited;
}

void sbma__vmm_wait_idle_locked(void)
{
	while (A.loading)
		gen_wait_locked();
}

/* ------------------------------------------------------ error handling */

/*
 * What the paths below do when the kernel refuses (docs/reliability.md has
 * the whole table; --enable-fault-inject makes every one of these happen):
 *   - mprotect fails (ENOMEM: too many memory areas, or no memory for the
 *     kernel's page tables): the state bytes are left as they were (a call
 *     over several memory areas may have changed some of them: a page the
 *     kernel closed against its state is opened again by the fault path).
 *     Loads and frees try again after evicting the oldest pages,
 *     which merges areas back into one PROT_NONE run (set_level_retry);
 *     evictions give up and leave the pages resident.
 *   - a write to the store fails: the pages not written stay resident and
 *     dirty, the error is reported, and a load that needed the room goes
 *     past the budget (counted in over_budget) instead of failing.
 *   - a read from the store fails: the load is undone (no page is marked
 *     resident), the caller gets the error; the fault handler tries twice
 *     more and then stops the process with the reason (it cannot return
 *     to the program without the data).
 *   - the memfd cannot be punched: evicted pages stay resident; freed or
 *     discarded pages, which must read as zeros next time, stop the
 *     process (drop_ram_or_die).
 * A page is never marked resident with data that did not arrive, and
 * nothing is dropped from RAM that the store does not hold.
 */

static int64_t evict_oldest(size_t target, size_t lo, size_t hi, int remember);

/* Eviction errors are printed, but not without end: a dead disk would
 * otherwise print one line per fault. */
static unsigned evict_errors;
#define EVICT_ERRORS_SHOWN 20

static int evict_error_shown(void)
{
	if (evict_errors < EVICT_ERRORS_SHOWN)
		return ++evict_errors, 1;
	if (evict_errors++ == EVICT_ERRORS_SHOWN)
		sbma__log("eviction: further errors are not shown");
	return 0;
}

/* set_level, tried three more times when the kernel refuses, each time
 * after evicting the oldest pages outside the range (fewer memory areas,
 * less RAM) unless this already runs inside such an eviction (no
 * recursion: then it just tries again). */
static int set_level_retry(size_t first, size_t n, int lvl)
{
	static int relieving;
	int rc = set_level(first, n, lvl);
	for (int t = 0; rc && t < 3; t++) {
		if (!relieving) {
			relieving = 1;
			evict_oldest((size_t)(ST.resident >> A.pshift) / 4 + 1, first, first + n, 0);
			relieving = 0;
		}
		rc = set_level(first, n, lvl);
	}
	return rc;
}

/*
 * Give the RAM of pages [first, first+n) back, so that they read as zeros
 * again (a hole in the memfd). A punch that fails is tried again, then done
 * another way (MADV_REMOVE on the manager view frees the same memfd pages).
 */
static int drop_ram(size_t first, size_t n)
{
	int rc = 0;
	if (A.memfd < 0)
		return 0; /* a child whose fork copy failed: no RAM behind the views (fork.c) */
	for (int t = 0; t < 3; t++)
		if (!(rc = sbma__os_punch(A.memfd, (off_t)bytes(first), (off_t)bytes(n))))
			return 0;
	if (sbma__os_madvise(mgr_addr(first), bytes(n), MADV_REMOVE) == 0)
		return 0;
	return rc;
}

/* For freed and discarded pages: the next allocation (calloc!) or access
 * expects zeros there, and stale data would be silent corruption. */
static void drop_ram_or_die(size_t first, size_t n, const char *what)
{
	int rc = drop_ram(first, n);
	if (rc)
		sbma__die("%s: cannot free the RAM of %zu SBMA pages at %p: %s; stopping, because they "
			  "would not read as zeros when reused",
			  what, n, (void *)app_addr(first), strerror(-rc));
}

/* ------------------------------------------------------------------ evict */

/*
 * Write the dirty pages of [a, b) (application view closed, data in the
 * memfd) to the store, in runs, through the manager view. Returns 0, or
 * -errno with *done the first page not written. Touches no shared state
 * but the store and the memfd range: safe without the lock on busy pages.
 */
static int write_dirty(size_t a, size_t b, size_t *done, struct tally *t)
{
	for (size_t c = a; c < b;) {
		if (!state_has(c, PG_DIRTY)) {
			c++;
			continue;
		}
		size_t d = c;
		while (d < b && state_has(d, PG_DIRTY))
			d++;
		uint64_t t0 = sbma__os_now_ns();
		int rc = sbma__store_write_async(mgr_addr(c), bytes(c), bytes(d - c));
		t->ns += sbma__os_now_ns() - t0;
		t->calls++;
		if (rc) {
			if (evict_error_shown())
				sbma__log("eviction: writing %llu bytes at offset %llu of the backing file "
					  "failed: %s; the pages stay in memory",
					  (unsigned long long)bytes(d - c), (unsigned long long)bytes(c), strerror(-rc));
			*done = c;
			return rc;
		}
		t->pages += d - c;
		c = d;
	}
	*done = b;
	return 0;
}

/*
 * The I/O half of evicting the closed run [a, b): write its dirty pages,
 * then give its RAM back (only the pages written, after a write error).
 * *done is the first page not written; returns the write error, else the
 * drop error, else 0. No lock needed on busy pages.
 */
static int drain_run(size_t a, size_t b, size_t *done, int *drop_rc, struct tally *t)
{
	int rc = write_dirty(a, b, done, t);
	*drop_rc = *done > a ? drop_ram(a, *done - a) : 0;
	if (!rc && !*drop_rc && t->pages && A.psz < FAULT_AROUND) {
		/* Reading pages through the manager view to write them
		 * let the kernel's fault-around map their resident
		 * neighbours in the same 64 KiB block there too; they
		 * would count twice in RSS until evicted. */
		uintptr_t lo = (uintptr_t)mgr_addr(a) & ~(uintptr_t)(FAULT_AROUND - 1);
		uintptr_t hi = ((uintptr_t)mgr_addr(b) + FAULT_AROUND - 1) & ~(uintptr_t)(FAULT_AROUND - 1);
		sbma__os_madvise((void *)lo, hi - lo, MADV_DONTNEED);
	}
	return rc ? rc : *drop_rc;
}

/*
 * The state half (lock held): pages [a, done) are in the store, clean;
 * after a write error pages [done, b) keep their data in the memfd and
 * become resident again (still dirty: a non-resident dirty page would be
 * loaded from its older copy on disk); pages whose RAM could not be given
 * back stay resident (clean copies of the store). Returns bytes written,
 * or the error.
 */
static int64_t settle_run(size_t a, size_t b, size_t done, int write_rc, int drop_rc, int remember,
			  const struct tally *t)
{
	ST.io_ns += t->ns;
	ST.write_calls += t->calls;
	ST.bytes_written += bytes(t->pages);
	for (size_t k = a; k < done; k++)
		if (A.state[k] & PG_DIRTY) {
			A.state[k] = (uint8_t)((A.state[k] & ~PG_DIRTY) | PG_DISK);
			ST.dirty -= bytes(1);
		}
	if (write_rc) {
		int rc2 = set_level_retry(done, b - done, LVL_READ);
		if (rc2)
			sbma__die("eviction: after a failed write, cannot make %zu SBMA pages at %p "
				  "accessible again: %s; stopping rather than lose their data",
				  b - done, (void *)app_addr(done), strerror(-rc2));
	}
	if (drop_rc) {
		if (!write_rc && evict_error_shown())
			sbma__log("eviction: cannot free the RAM of %zu pages at %p: %s; they stay in memory",
				  done - a, (void *)app_addr(a), strerror(-drop_rc));
		set_level(a, done - a, LVL_READ);
	}
	if (write_rc || drop_rc)
		return write_rc ? write_rc : drop_rc;
	for (size_t k = a; k < b; k++)
		A.state[k] = remember ? (uint8_t)(A.state[k] | PG_WASRES) : (uint8_t)(A.state[k] & ~PG_WASRES);
	ST.pages_evicted += b - a;
	return (int64_t)bytes(t->pages);
}

/* Close the application view of [a, b) for an eviction: from here on no
 * thread can change these pages while they are written out. */
static int close_run(size_t a, size_t b)
{
	int rc = set_level(a, b - a, LVL_NONE);
	/* Writing through the manager view maps the pages there; drop their
	 * application-view entries first, or the kernel would count them
	 * twice in RSS while the write runs. */
	if (!rc && any_page_has(a, b, PG_DIRTY))
		sbma__os_madvise(app_addr(a), bytes(b - a), MADV_DONTNEED);
	return rc;
}

/*
 * Evict the resident, unpinned pages of [first, first+n) that satisfy
 * want(i) (NULL: all). Dirty pages are written in runs; then the range is
 * punched out of the memfd. Returns bytes written or -errno; on a write error
 * the pages not yet written stay resident (and dirty) and nothing is lost.
 */
static int64_t evict_filtered(size_t first, size_t n, int remember, int (*want)(size_t, void *), void *arg)
{
	int64_t written = 0;
	size_t end = first + n, i = first;
	while (i < end) {
		uint8_t s = A.state[i];
		if (!(s & PG_RES) || A.pins[i] || (want && !want(i, arg))) {
			i++;
			continue;
		}
		size_t a = i;
		while (i < end && (A.state[i] & PG_RES) && !A.pins[i] && (!want || want(i, arg)))
			i++;
		size_t b = i, done;
		int rc = close_run(a, b);
		if (rc)
			return rc;
		struct tally t = {0, 0, 0};
		int drop_rc;
		rc = drain_run(a, b, &done, &drop_rc, &t);
		int64_t w = settle_run(a, b, done, done < b ? rc : 0, drop_rc, remember, &t);
		if (w < 0)
			return w;
		written += w;
	}
	return written;
}

int64_t sbma__vmm_evict_locked(size_t first, size_t n, int remember)
{
	ST.evictions++;
	int64_t rc = evict_filtered(first, n, remember, NULL, NULL);
	sbma__node_sync_locked();
	return rc;
}

int64_t sbma__vmm_evict_all_locked(int remember)
{
	ST.evictions++;
	sbma__cache_drop_locked(SIZE_MAX);
	int64_t total = 0;
	for (size_t r = 0; r < A.nregions; r++) {
		int64_t w = evict_filtered(A.regions[r].first, A.regions[r].npages, remember, NULL, NULL);
		if (w < 0) {
			total = w;
			break;
		}
		total += w;
	}
	A.wa_next = SIZE_MAX;
	memset(A.ra, 0, sizeof A.ra);
	sbma__node_sync_locked();
	return total;
}

struct age_filter {
	uint32_t min_age;
	size_t lo, hi; /* excluded range */
};

static int old_enough(size_t i, void *arg)
{
	struct age_filter *f = arg;
	return (i < f->lo || i >= f->hi) && A.clock - A.stamp[i] >= f->min_age;
}

/* The age above which about `target` evictable pages lie, never counting
 * [lo, hi) (an age histogram); -ENOENT if no page can be evicted. */
static int oldest_filter(size_t target, size_t lo, size_t hi, struct age_filter *f)
{
	enum { NB = 256 };
	size_t hist[NB];
	uint32_t max_age = 0;
	size_t candidates = 0;
	for (size_t r = 0; r < A.nregions; r++) {
		struct sbma__region *g = &A.regions[r];
		for (size_t i = g->first; i < g->first + g->npages; i++) {
			if (!(A.state[i] & PG_RES) || A.pins[i] || (i >= lo && i < hi))
				continue;
			uint32_t age = A.clock - A.stamp[i];
			if (age > max_age)
				max_age = age;
			candidates++;
		}
	}
	if (!candidates)
		return -ENOENT;
	uint32_t width = max_age / NB + 1;
	memset(hist, 0, sizeof hist);
	for (size_t r = 0; r < A.nregions; r++) {
		struct sbma__region *g = &A.regions[r];
		for (size_t i = g->first; i < g->first + g->npages; i++)
			if ((A.state[i] & PG_RES) && !A.pins[i] && (i < lo || i >= hi))
				hist[(A.clock - A.stamp[i]) / width]++;
	}
	size_t sum = 0;
	int b = NB - 1;
	for (; b > 0; b--) {
		sum += hist[b];
		if (sum >= target)
			break;
	}
	*f = (struct age_filter){.min_age = (uint32_t)b * width, .lo = lo, .hi = hi};
	return 0;
}

/*
 * Evict about `target` pages, the oldest first, never from [lo, hi).
 * Returns pages evicted (possibly fewer: pinned memory) or -errno.
 */
static int64_t evict_oldest(size_t target, size_t lo, size_t hi, int remember)
{
	/* Freed pages kept for reuse go first: their data is dead, so
	 * dropping them writes nothing. */
	size_t dropped = sbma__cache_drop_locked(target);
	struct age_filter f;
	if (dropped >= target || oldest_filter(target - dropped, lo, hi, &f)) {
		/* Nothing (more) to evict (all pinned, say): still publish,
		 * so that a process that asked us to release reads what we
		 * really hold pinned and stops asking (node.c,
		 * ask_blocked_locked). */
		sbma__node_sync_locked();
		return (int64_t)dropped;
	}
	size_t before = ST.pages_evicted;
	ST.evictions++;
	for (size_t r = 0; r < A.nregions; r++) {
		struct sbma__region *g = &A.regions[r];
		int64_t rc = evict_filtered(g->first, g->npages, remember, old_enough, &f);
		if (rc < 0) {
			sbma__node_sync_locked();
			return rc;
		}
	}
	sbma__node_sync_locked();
	return (int64_t)(ST.pages_evicted - before + dropped);
}

int64_t sbma__vmm_evict_oldest_locked(size_t pages, int remember)
{
	return evict_oldest(pages, 0, 0, remember);
}

/*
 * evict_oldest for a fault (SBMA_UNLOCKED_IO, private budget): the victims
 * are chosen and closed under the lock and marked busy (still counted as
 * resident and dirty), the lock is dropped for the writes and the hole
 * punches, then taken again to settle their states. At most MAX_RUNS runs
 * per call (the list lives on the handler's stack). Returns 1 if the lock
 * was dropped (the caller's view of the pages is stale: fault again), 0 if
 * there was nothing to evict.
 */
#define MAX_RUNS 32
static int evict_oldest_unlocked(size_t target, size_t lo, size_t hi)
{
	struct age_filter f;
	if (oldest_filter(target, lo, hi, &f))
		return 0;
	struct run {
		size_t a, b, done;
		int write_rc, drop_rc;
		struct tally t;
	} runs[MAX_RUNS];
	size_t nruns = 0, taken = 0;
	for (size_t r = 0; r < A.nregions && nruns < MAX_RUNS && taken < target; r++) {
		size_t i = A.regions[r].first, end = i + A.regions[r].npages;
		while (i < end && nruns < MAX_RUNS && taken < target) {
			if (!(A.state[i] & PG_RES) || A.pins[i] || !old_enough(i, &f)) {
				i++;
				continue;
			}
			size_t a = i;
			while (i < end && (A.state[i] & PG_RES) && !A.pins[i] && old_enough(i, &f))
				i++;
			if (close_run(a, i))
				continue; /* left resident; the next fault tries again */
			for (size_t k = a; k < i; k++)
				A.state[k] |= PG_BUSY;
			A.loading += i - a;
			A.leaving += i - a;
			sbma__stats_resident_add((int64_t)bytes(i - a));
			runs[nruns++] = (struct run){.a = a, .b = i};
			taken += i - a;
		}
	}
	if (!nruns)
		return 0;
	ST.evictions++;
	sbma__unlock_async();
	for (size_t k = 0; k < nruns; k++) {
		struct run *u = &runs[k];
		u->t = (struct tally){0, 0, 0};
		int rc = drain_run(u->a, u->b, &u->done, &u->drop_rc, &u->t);
		u->write_rc = u->done < u->b ? rc : 0;
	}
	sbma__lock_async();
	for (size_t k = 0; k < nruns; k++) {
		struct run *u = &runs[k];
		for (size_t i = u->a; i < u->b; i++)
			A.state[i] &= (uint8_t)~PG_BUSY;
		A.loading -= u->b - u->a;
		A.leaving -= u->b - u->a;
		sbma__stats_resident_add(-(int64_t)bytes(u->b - u->a));
		settle_run(u->a, u->b, u->done, u->write_rc, u->drop_rc, 0, &u->t);
	}
	gen_wake_locked();
	return 1;
}

/*
 * Room for `need` more pages for a fault, with the evictions' I/O made
 * without the lock. Returns 0 if there is room, or if nothing can be
 * evicted (make_room then goes over budget as usual); 1 if the lock was
 * dropped: the fault must start again.
 */
static int room_unlocked(size_t need, size_t lo, size_t hi)
{
	uint64_t budget = sbma__opt.budget;
	if (ST.resident + bytes(need) > budget && A.ncache)
		sbma__cache_drop_locked((size_t)((ST.resident + bytes(need) - budget) >> A.pshift));
	if (ST.resident + bytes(need) <= budget)
		return 0;
	/* Pages already on their way out will make the room: wait for them
	 * rather than evict more (every thread short at once would
	 * otherwise each evict a batch). */
	if (A.leaving && ST.resident - bytes(A.leaving) + bytes(need) <= budget) {
		gen_wait_locked();
		return 1;
	}
	size_t target = need + (size_t)((budget / 8) >> A.pshift);
	uint64_t over = ST.resident + bytes(need) - budget;
	if (target < (over >> A.pshift))
		target = (size_t)(over >> A.pshift);
	return evict_oldest_unlocked(target, lo, hi);
}

struct own_range {
	size_t lo, hi;
};

/* The node is full and nobody blocked can release: evict this process's
 * own coldest pages, in a batch (an eighth of what it holds) so that the
 * next loads find room. */
static int64_t evict_own(uint64_t shortfall, void *arg)
{
	struct own_range *o = arg;
	size_t target = (size_t)((shortfall + bytes(1) - 1) >> A.pshift) + (size_t)((ST.resident / 8) >> A.pshift);
	int64_t got = evict_oldest(target, o->lo, o->hi, 0);
	return got < 0 ? got : (int64_t)bytes((size_t)got);
}

/*
 * Make room for `need` more resident pages, evicting from outside [lo, hi).
 * If pinned memory leaves no room, the load goes over budget (counted).
 */
static int make_room(size_t need, size_t lo, size_t hi)
{
	if (sbma__node_active()) {
		uint64_t room = sbma__node_room_locked();
		if (room < bytes(need) && A.ncache) {
			/* Dropping cached pages keeps their charge: room
			 * without asking the node. */
			sbma__cache_drop_locked((size_t)((bytes(need) - room) >> A.pshift) + 1);
			room = sbma__node_room_locked();
		}
		if (room >= bytes(need))
			return 0;
		struct own_range o = {lo, hi};
		return sbma__node_charge_locked(bytes(need) - room, evict_own, &o, 0);
	}
	uint64_t budget = sbma__opt.budget;
	if (ST.resident + bytes(need) <= budget)
		return 0;
	size_t target = need + (size_t)((budget / 8) >> A.pshift);
	uint64_t over = ST.resident + bytes(need) - budget;
	if (target < (over >> A.pshift))
		target = (size_t)(over >> A.pshift);
	/* An eviction that fails (reported there) leaves its pages resident:
	 * the load goes past the budget rather than fail, the data is safe in
	 * memory. */
	evict_oldest(target, lo, hi, 0);
	if (ST.resident + bytes(need) > budget)
		ST.over_budget++;
	return 0;
}

/* Too many protection runs means too many kernel memory areas: evict the
 * oldest pages (which turns runs back into one PROT_NONE area) until well
 * below the limit. */
static void coarsen(size_t lo, size_t hi)
{
	while (A.runs > sbma__opt.max_maps) {
		size_t goal = sbma__opt.max_maps * 3 / 4;
		size_t res = (size_t)(ST.resident >> A.pshift);
		size_t target = res / 4 + 1;
		ST.coarsenings++;
		int64_t got = evict_oldest(target, lo, hi, 0);
		if (got <= 0 || A.runs <= goal)
			break;
	}
}

/* ------------------------------------------------------------------- load */

static void tally_read(const struct tally *t)
{
	ST.io_ns += t->ns;
	ST.read_calls += t->calls;
	ST.bytes_read += bytes(t->pages);
}

/* Read the on-disk pages among [first, first+n) (all non-resident) into the
 * memfd, in runs: through a bounce buffer (store.c), or into the manager
 * view when none is free. Returns pages read or -errno. Touches nothing
 * shared but the memfd range of these pages: safe without the lock on busy
 * pages. */
static int64_t fill(size_t first, size_t n, struct tally *t)
{
	size_t got = 0, mapped = 0;
	for (size_t c = first; c < first + n;) {
		if (!state_has(c, PG_DISK)) {
			c++;
			continue;
		}
		size_t d = c;
		while (d < first + n && state_has(d, PG_DISK))
			d++;
		uint64_t t0 = sbma__os_now_ns();
		int rc = A.memfd < 0 ? -EAGAIN : sbma__store_read_to_file_async(A.memfd, bytes(c), bytes(d - c));
		if (rc == -EAGAIN) {
			rc = sbma__store_read_async(mgr_addr(c), bytes(c), bytes(d - c));
			mapped += d - c;
		}
		t->ns += sbma__os_now_ns() - t0;
		t->calls++;
		if (rc) {
			sbma__os_punch(A.memfd, (off_t)bytes(first), (off_t)bytes(n));
			return rc;
		}
		t->pages += d - c;
		got += d - c;
		c = d;
	}
	if (mapped) {
		/* The manager view's page-table entries would make the kernel
		 * count these pages twice in RSS; the data stays in the
		 * memfd. */
		sbma__os_madvise(mgr_addr(first), bytes(n), MADV_DONTNEED);
	}
	return (int64_t)got;
}

/* OS pages probed at the near end of the page beside a run (a byte each,
 * on the handler's stack). */
#define PROBE_PAGES 64

/* Whether the program touched nearly all of the last OS pages of SBMA
 * page pg (its first ones, with at_start: a program going down) (at least
 * three quarters of them have RAM in the memfd). */
static int densely_touched(size_t pg, int at_start)
{
	unsigned char vec[PROBE_PAGES];
	size_t os = sbma__os_page_size(), k = A.psz / os;
	if (k > PROBE_PAGES)
		k = PROBE_PAGES;
	if (sbma__os_mincore(at_start ? app_addr(pg) : app_addr(pg + 1) - k * os, k * os, vec))
		return 0;
	size_t got = 0;
	for (size_t i = 0; i < k; i++)
		got += vec[i] & 1;
	return got * 4 >= k * 3;
}

/* The pages of a run of n loaded going up (down: going down) that
 * prefill_fresh may allocate: all but the far end, left to the program's
 * faults as the next run's probe. */
static void prefill_span(size_t first, size_t n, int down, size_t *lo, size_t *hi)
{
	*lo = down ? first + 1 : first;
	*hi = down ? first + n : first + n - 1;
}

/* The next run of never-written pages in [*c, hi): moves *c to its first
 * page, sets *d after its last; 0 if there is none. */
static int fresh_run(size_t *c, size_t hi, size_t *d)
{
	while (*c < hi && state_has(*c, PG_DISK))
		(*c)++;
	if (*c >= hi)
		return 0;
	for (*d = *c; *d < hi && !state_has(*d, PG_DISK); (*d)++)
		;
	return 1;
}

/*
 * First touch of a sequential run (docs/performance.md, "First touch"):
 * allocate the memfd pages behind the never-written pages of the run but
 * its far end (prefill_span) with one fallocate per run, instead of one
 * shmem page fault per OS page when the program touches them, but only
 * when the program touched the page it came from (before the run, or
 * after it when going down) densely (a sweep, not one word per SBMA page:
 * those would pay for sixteen OS pages to use one). Runs of one page
 * (random access) are never prefilled. A failure is harmless: the
 * program's faults allocate what is missing, as without this. Touches
 * only the memfd range of these pages: safe without the lock on busy
 * pages; the probe reads the neighbour's state from the kernel, which is
 * only a hint if another thread changes it meanwhile. Returns whether it
 * allocated anything (then finish_load maps the pages: map_prefilled).
 */
static int prefill_fresh(size_t first, size_t n, int down)
{
	if (n < 2 || A.memfd < 0 || (down ? first + n >= A.npages : first == 0))
		return 0;
	size_t lo, hi;
	prefill_span(first, n, down, &lo, &hi);
	int probed = 0;
	for (size_t c = lo, d; fresh_run(&c, hi, &d); c = d) {
		if (!probed++ && !densely_touched(down ? first + n : first - 1, down))
			return 0;
		sbma__os_reserve(A.memfd, (off_t)bytes(c), (off_t)bytes(d - c));
	}
	return probed;
}

#ifndef MADV_POPULATE_READ /* Linux 5.14; older kernels refuse it (EINVAL) */
#define MADV_POPULATE_READ 22
#define MADV_POPULATE_WRITE 23
#endif

/*
 * After prefill_fresh: map the pages it allocated into the application
 * view, just opened at level lvl, with one madvise per run instead of one
 * minor fault per OS page when the program touches them (a sweep's first
 * pass was 1.26x glibc's time with the allocation alone, 1.20x with this;
 * docs/performance.md, "First touch"). The same pages as prefill_fresh.
 * Harmless if it fails (an old kernel): the program's faults map them.
 */
static void map_prefilled(size_t first, size_t n, int lvl, int down)
{
	size_t lo, hi;
	prefill_span(first, n, down, &lo, &hi);
	for (size_t c = lo, d; fresh_run(&c, hi, &d); c = d)
		sbma__os_madvise(app_addr(c), bytes(d - c), lvl == LVL_RW ? MADV_POPULATE_WRITE : MADV_POPULATE_READ);
}

/*
 * Make the non-resident pages of [first, first+n) resident with level lvl
 * (all must be allocated and non-resident). Budget room must be made by the
 * caller. Returns pages that needed I/O, or -errno.
 */
static int64_t finish_load(size_t first, size_t n, int lvl, int64_t io, int prefilled, int down);

/* down: a fault's run below the last one (a program going down), for
 * prefill_fresh. */
static int64_t load_run(size_t first, size_t n, int lvl, int down)
{
	struct tally t = {0, 0, 0};
	int64_t io = fill(first, n, &t);
	tally_read(&t);
	int prefilled = io >= 0 && prefill_fresh(first, n, down);
	return io < 0 ? io : finish_load(first, n, lvl, io, prefilled, down);
}

/*
 * load_run for a fault, with the read made without the engine lock
 * (SBMA_UNLOCKED_IO). Called and returns with the lock held; drops it in
 * between. The pages are claimed busy first and counted as resident, so
 * that the budget, the node's charge and other threads' readahead see
 * them; the caller has made room for them already.
 */
static int64_t load_run_unlocked(size_t first, size_t n, int lvl, int down)
{
	for (size_t i = first; i < first + n; i++)
		A.state[i] |= PG_BUSY;
	A.loading += n;
	sbma__stats_resident_add((int64_t)bytes(n));
	sbma__unlock_async();
	struct tally t = {0, 0, 0};
	int64_t io = fill(first, n, &t);
	int prefilled = io >= 0 && prefill_fresh(first, n, down);
	sbma__lock_async();
	tally_read(&t);
	/* Busy no more; set_level in finish_load counts them resident
	 * again if the load succeeds. */
	sbma__stats_resident_add(-(int64_t)bytes(n));
	for (size_t i = first; i < first + n; i++)
		A.state[i] &= (uint8_t)~PG_BUSY;
	A.loading -= n;
	if (io >= 0)
		io = finish_load(first, n, lvl, io, prefilled, down);
	gen_wake_locked();
	return io;
}

/* Open the application view of pages [first, first+n), whose data is in
 * the memfd now, at level lvl (and map them, if prefill_fresh allocated
 * them). */
static int64_t finish_load(size_t first, size_t n, int lvl, int64_t io, int prefilled, int down)
{
	int rc = set_level_retry(first, n, lvl);
	if (rc) {
		/* Not resident: the memfd range must be a hole again (if the
		 * punch fails, what stays is the store's own data). */
		sbma__os_punch(A.memfd, (off_t)bytes(first), (off_t)bytes(n));
		return rc;
	}
	if (lvl == LVL_RW)
		mark_dirty(first, n);
	if (prefilled)
		map_prefilled(first, n, lvl, down);
	for (size_t i = first; i < first + n; i++) {
		A.stamp[i] = A.clock;
		A.state[i] &= (uint8_t)~PG_WASRES;
	}
	ST.pages_loaded += n;
	if (ST.resident > ST.peak_resident)
		ST.peak_resident = ST.resident;
	return io;
}

/* Apply fn to each maximal run of allocated pages in [first, first+n) that
 * match the state mask test. */
#define FOR_RUNS(first, n, test, body)                                        \
	do {                                                                  \
		size_t e_ = (first) + (n);                                    \
		for (size_t i_ = (first); i_ < e_;) {                         \
			uint8_t s_ = A.state[i_];                             \
			if (!(s_ & PG_ALLOC) || !(test)) {                    \
				i_++;                                         \
				continue;                                     \
			}                                                     \
			size_t a_ = i_;                                       \
			while (i_ < e_ && (A.state[i_] & PG_ALLOC) &&         \
			       ((s_ = A.state[i_]), (test)))                  \
				i_++;                                         \
			size_t run_first = a_, run_n = i_ - a_;               \
			body;                                                 \
		}                                                             \
	} while (0)

int sbma__vmm_load_locked(size_t first, size_t n, int write, int pin)
{
	/* A busy page is not resident, but must not be loaded twice. */
	sbma__vmm_wait_busy_locked(first, n);
	A.clock++;
	size_t need = 0;
	for (size_t i = first; i < first + n; i++)
		need += (A.state[i] & (PG_ALLOC | PG_RES)) == PG_ALLOC;
	int rc = make_room(need, first, first + n);
	if (rc)
		return rc;
	int64_t r = 0;
	FOR_RUNS(first, n, !(s_ & PG_RES), {
		r = load_run(run_first, run_n, write ? LVL_RW : LVL_READ, 0);
		if (r < 0)
			return (int)r;
	});
	if (write)
		FOR_RUNS(first, n, (s_ & PG_RES) && !(s_ & PG_RW), {
			rc = set_level_retry(run_first, run_n, LVL_RW);
			if (rc)
				return rc;
			mark_dirty(run_first, run_n);
		});
	for (size_t i = first; i < first + n; i++) {
		if (!(A.state[i] & PG_ALLOC))
			continue;
		A.stamp[i] = A.clock;
		if (pin) {
			if (A.pins[i] == UINT16_MAX)
				return -EOVERFLOW;
			if (A.pins[i]++ == 0)
				ST.pinned += bytes(1);
		}
	}
	coarsen(first, first + n);
	/* Other processes of the node ask a blocked one to release what it
	 * holds beyond what it has pinned, as its slot says: publish the pins
	 * now, not at the next eviction (which pinned memory may never see). */
	if (pin)
		sbma__node_sync_locked();
	return 0;
}

int sbma__vmm_unpin_locked(size_t first, size_t n)
{
	for (size_t i = first; i < first + n; i++)
		if (A.pins[i] && --A.pins[i] == 0)
			ST.pinned -= bytes(1);
	sbma__node_sync_locked();
	return 0;
}

int sbma__vmm_discard_locked(size_t first, size_t n)
{
	sbma__vmm_wait_busy_locked(first, n);
	FOR_RUNS(first, n, !A.pins[i_], {
		size_t res = 0;
		for (size_t k = run_first; k < run_first + run_n; k++)
			res += !!(A.state[k] & PG_RES);
		if (res) {
			int rc = set_level(run_first, run_n, LVL_NONE);
			if (rc)
				return rc;
			drop_ram_or_die(run_first, run_n, "sbma_discard");
		}
		for (size_t k = run_first; k < run_first + run_n; k++) {
			if (A.state[k] & PG_DIRTY)
				ST.dirty -= bytes(1);
			A.state[k] = PG_ALLOC;
		}
	});
	sbma__node_sync_locked();
	return 0;
}

/* Close pages [first, first+n) of a freed allocation or cached extent
 * (PROT_NONE; PG_RES and PG_RW cleared, other bits kept). */
static void close_or_die(size_t first, size_t n)
{
	int rc = set_level_retry(first, n, LVL_NONE);
	if (rc)
		sbma__die("cannot protect freed SBMA memory at %p: %s", (void *)app_addr(first), strerror(-rc));
}

/*
 * Close the pages of a freed allocation and clear their states; with keep
 * (the cache), the resident ones keep their RAM and their count in the
 * resident total: a writable page stays open, as PG_CACHED | PG_RES |
 * PG_RW (no mprotect now nor at reuse: docs/design.md, "The free-extent
 * cache"), a read-only one (a never-written page, all zeros) is closed
 * and becomes PG_CACHED alone. Returns the pages kept.
 */
static size_t close_freed(size_t first, size_t n, int keep)
{
	if (A.loading && any_page_has(first, first + n, PG_BUSY))
		sbma__die("free of SBMA pages %zu..%zu while one is being loaded", first, first + n - 1);
	size_t open = 0, closed = 0;
	if (keep) {
		for (size_t i = first; i < first + n;) {
			if ((A.state[i] & (PG_RES | PG_RW)) != PG_RES) {
				i++;
				continue;
			}
			size_t a = i;
			while (i < first + n && (A.state[i] & (PG_RES | PG_RW)) == PG_RES)
				i++;
			close_or_die(a, i - a);
			for (size_t k = a; k < i; k++)
				A.state[k] |= PG_CACHED;
			closed += i - a;
		}
	} else {
		close_or_die(first, n);
	}
	for (size_t i = first; i < first + n; i++) {
		uint8_t s = A.state[i];
		if (s & PG_DIRTY)
			ST.dirty -= bytes(1);
		if (A.pins[i])
			ST.pinned -= bytes(1);
		A.pins[i] = 0;
		if (keep && (s & PG_RW)) {
			A.state[i] = PG_CACHED | PG_RES | PG_RW;
			open++;
		} else {
			A.state[i] = s & PG_CACHED;
		}
	}
	A.cache_res += open + closed;
	/* The open ones never stopped counting. */
	sbma__stats_resident_add((int64_t)bytes(closed));
	return open + closed;
}

void sbma__vmm_free_states_locked(size_t first, size_t n)
{
	close_freed(first, n, 0);
}

size_t sbma__vmm_cache_states_locked(size_t first, size_t n)
{
	return close_freed(first, n, 1);
}

void sbma__vmm_reuse_states_locked(size_t first, size_t n)
{
	for (size_t i = first; i < first + n;) {
		uint8_t s = A.state[i];
		if (!(s & PG_CACHED)) {
			A.state[i++] = PG_ALLOC;
			continue;
		}
		size_t a = i;
		for (; i < first + n && A.state[i] == s; i++)
			A.state[i] = PG_ALLOC;
		A.cache_res -= i - a;
		if (s & PG_RW) {
			/* Still open and counted resident: only the states. */
			for (size_t k = a; k < i; k++)
				A.state[k] = PG_ALLOC | PG_RES | PG_RW;
		} else {
			/* set_level counts them resident again. */
			sbma__stats_resident_add(-(int64_t)bytes(i - a));
			if (set_level_retry(a, i - a, LVL_RW)) {
				/* Left closed: then they must read as a fresh
				 * page would (a hole), and fault in as one. */
				drop_ram_or_die(a, i - a, "malloc");
				continue;
			}
		}
		/* Writable pages must be dirty: writes are not seen. */
		mark_dirty(a, i - a);
		for (size_t k = a; k < i; k++)
			A.stamp[k] = A.clock;
	}
}

void sbma__vmm_close_cached_locked(size_t first, size_t n)
{
	for (size_t i = first; i < first + n;) {
		if (!(A.state[i] & PG_RW)) {
			i++;
			continue;
		}
		size_t a = i;
		while (i < first + n && (A.state[i] & PG_RW))
			i++;
		close_or_die(a, i - a);
		/* Still cached, still counted (set_level uncounted them). */
		sbma__stats_resident_add((int64_t)bytes(i - a));
	}
}

void sbma__vmm_free_space(size_t first, size_t n)
{
	drop_ram_or_die(first, n, "free");
	/* A failed punch of the store only costs disk space: a reused page
	 * has no PG_DISK, so its old data there is never read. */
	sbma__store_release(bytes(first), bytes(n));
}

void sbma__vmm_free_locked(size_t first, size_t n)
{
	sbma__vmm_free_states_locked(first, n);
	sbma__vmm_free_space(first, n);
	sbma__node_sync_locked();
}

int64_t sbma__vmm_reacquire_locked(void)
{
	if (sbma__opt.read_policy != SBMA_READ_EAGER)
		return 0;
	int64_t loaded = 0;
	A.clock++;
	for (size_t r = 0; r < A.nregions; r++) {
		struct sbma__region *g = &A.regions[r];
		FOR_RUNS(g->first, g->npages, (s_ & PG_WASRES) && !(s_ & (PG_RES | PG_BUSY)), {
			/* Never evict to make room for a speculative reload:
			 * load what fits (in a node: what admission charged),
			 * leave the rest to faults. */
			uint64_t room = sbma__node_active() ? sbma__node_room_locked()
			                : sbma__opt.budget > ST.resident ? sbma__opt.budget - ST.resident : 0;
			size_t fit = (size_t)(room >> A.pshift);
			if (fit < run_n)
				run_n = fit;
			if (run_n == 0)
				goto out;
			int64_t rc = load_run(run_first, run_n, LVL_READ, 0);
			if (rc < 0)
				return rc;
			loaded += (int64_t)bytes(run_n);
		});
	}
out:
	for (size_t r = 0; r < A.nregions; r++)
		for (size_t i = A.regions[r].first; i < A.regions[r].first + A.regions[r].npages; i++)
			A.state[i] &= (uint8_t)~PG_WASRES;
	sbma__node_sync_locked();
	return loaded;
}

uint64_t sbma__vmm_reacquire_want_locked(void)
{
	size_t n = 0;
	for (size_t r = 0; r < A.nregions; r++)
		for (size_t i = A.regions[r].first; i < A.regions[r].first + A.regions[r].npages; i++)
			n += (A.state[i] & (PG_WASRES | PG_RES)) == PG_WASRES;
	return bytes(n);
}

/* ------------------------------------------------------------------ fault */

/* Consecutive allocated pages from pg matching (state & mask) == val, at most
 * max. */
static size_t run_from(size_t pg, size_t max, uint8_t mask, uint8_t val)
{
	size_t n = 0;
	while (n < max && pg + n < A.npages && (A.state[pg + n] & (mask | PG_ALLOC)) == (val | PG_ALLOC))
		n++;
	return n;
}

static size_t grow_window(int sequential, size_t window, size_t max)
{
	if (!sequential || window == 0)
		return 1;
	return window * 2 > max ? max : window * 2;
}

/* What the last fault of this thread that was not SBMA's saw under the
 * lock, for the message if the process then dies of it (fault.c): the
 * page state then, not when the message is written. */
static __thread struct {
	const void *addr;
	uint8_t state;
	size_t loading, leaving;
} miss __attribute__((tls_model("initial-exec")));

void sbma__vmm_report_miss_async(const void *addr)
{
	if (!sbma__in_arena(addr))
		return;
	long tid = syscall(SYS_gettid);
	if (miss.addr != addr) {
		sbma__log("fatal SIGSEGV at %p (thread %ld) inside SBMA's arena, not looked at by SBMA's fault path",
			  addr, tid);
		return;
	}
	sbma__log("fatal SIGSEGV at %p (thread %ld): SBMA page %zu is not part of a live allocation (page state "
		  "0x%02x; %zu pages were being loaded or evicted, %zu of them evicted): a freed or never-allocated "
		  "pointer, or an SBMA bug if the program holds it",
		  addr, tid, sbma__page_of(addr), (unsigned)miss.state, miss.loading, miss.leaving);
}

/*
 * The stream a load fault on pg continues (*seq set), moved to the front of
 * A.ra; or a new, empty one in place of the least recent. *down: the fault
 * is on the page below the stream's last run (a program going down: a
 * stack of records written from the top, as GNU sort's line table). The
 * caller sets the stream's run and window once the load is done. A stream
 * is a few words: a stale one only costs what its next fault would have
 * read ahead.
 */
static struct sbma__stream *find_stream(size_t pg, int *seq, int *down)
{
	size_t i = 0;
	*seq = *down = 0;
	for (; i < SBMA__STREAMS; i++) {
		const struct sbma__stream *r = &A.ra[i];
		if (!r->window)
			continue;
		*down = pg + 1 == r->low && pg != r->next;
		if (pg == r->next || *down)
			break;
	}
	struct sbma__stream found = {0, 0, 0};
	if (i < SBMA__STREAMS) {
		found = A.ra[i];
		*seq = 1;
	} else {
		i = SBMA__STREAMS - 1;
	}
	memmove(&A.ra[1], &A.ra[0], i * sizeof A.ra[0]);
	A.ra[0] = found;
	return &A.ra[0];
}

/* The run a fault on pg loads: up to window pages that are allocated and
 * neither resident nor in transit, from pg up, or (down) from pg down. */
static void fault_run(size_t pg, size_t window, int down, size_t *first, size_t *n)
{
	if (!down) {
		*first = pg;
		*n = run_from(pg, window, PG_RES | PG_BUSY, 0);
		return;
	}
	size_t k = 1;
	while (k < window && k <= pg &&
	       (A.state[pg - k] & (PG_ALLOC | PG_RES | PG_BUSY)) == PG_ALLOC)
		k++;
	*first = pg + 1 - k;
	*n = k;
}

/*
 * The fault path. Sequential access is detected per arena (the next page
 * expected, or the page below the last run: a program going down); the
 * readahead window doubles while it holds, up to
 * SBMA_READAHEAD, and drops to one page on a miss, so that random access
 * costs one small page per fault. A write fault on a readable page upgrades
 * it, with the same doubling for sequential writers.
 */
int sbma__vmm_fault_async(void *addr, int is_write)
{
	if (!sbma__in_arena(addr))
		return 0;
	sbma__lock_async();
	size_t pg = sbma__page_of(addr);
	uint8_t s = A.state[pg];
	if (!(s & PG_ALLOC)) {
		miss.addr = addr;
		miss.state = s;
		miss.loading = A.loading;
		miss.leaving = A.leaving;
		sbma__unlock_async();
		return 0;
	}
	/* A window of a quarter of the budget at most: the run of one
	 * fault must never evict the run of the fault before it, which an
	 * instruction touching two pages needs at once (a window of the whole
	 * budget made a memcpy across the last page of a run going up and the
	 * first of a run going down load each run over the other forever). */
	size_t ra_max = sbma__opt.readahead >> A.pshift, quarter = (size_t)(sbma__node_budget() >> A.pshift) / 4;
	if (ra_max > quarter)
		ra_max = quarter;
	if (ra_max < 1)
		ra_max = 1;
	A.clock++;
	if (s & PG_RW) {
		/* Another thread got here first; or an mprotect that failed
		 * half-way over several memory areas (the kernel may change
		 * some before it refuses) left this page closed: open it as
		 * its state says, or the fault would repeat forever. */
		int rc = sbma__os_mprotect(app_addr(pg), A.psz, PROT_READ | PROT_WRITE);
		if (rc)
			sbma__die("cannot make SBMA page %p writable: %s", (void *)app_addr(pg), strerror(-rc));
	} else if (s & PG_RES) {
		/* Readable and faulted: a write (whatever is_write says). */
		A.wa_window = grow_window(pg == A.wa_next, A.wa_window, ra_max);
		size_t n = run_from(pg, A.wa_window, PG_RES | PG_RW, PG_RES);
		int rc = set_level_retry(pg, n, LVL_RW);
		if (rc)
			sbma__die("cannot make SBMA page %p writable: %s", (void *)app_addr(pg), strerror(-rc));
		mark_dirty(pg, n);
		for (size_t i = pg; i < pg + n; i++)
			A.stamp[i] = A.clock;
		A.wa_next = pg + n;
		ST.faults_upgrade++;
	} else if (s & PG_BUSY) {
		/* Another thread is loading it: sleep until that load is done
		 * and let the access run again (it faults again if the page
		 * is still closed to it, a write on a page loaded readable
		 * say). */
		gen_wait_locked();
		sbma__unlock_async();
		return 1;
	} else {
		/* A run going down ends at pg. */
		int seq, down;
		struct sbma__stream *ra = find_stream(pg, &seq, &down);
		size_t window = grow_window(seq, ra->window, ra_max);
		size_t first, n;
		fault_run(pg, window, down, &first, &n);
		int lvl = is_write > 0 ? LVL_RW : LVL_READ;
		int64_t (*load)(size_t, size_t, int, int) = sbma__opt.unlocked_io ? load_run_unlocked : load_run;
		if (sbma__opt.unlocked_io && !sbma__node_active() && room_unlocked(n, first, first + n)) {
			/* The lock was dropped: look again. If another thread
			 * has loaded the page (or is loading it, or freed it),
			 * let the access fault again, as the same step of a
			 * sequential run. Else go on with the run as it is
			 * now; make_room below evicts under the lock what is
			 * still missing, or goes over budget when evictions
			 * fail: no second round, so failing writes cannot
			 * make this loop. */
			s = A.state[pg];
			if ((s & (PG_ALLOC | PG_RES | PG_BUSY)) != PG_ALLOC) {
				sbma__unlock_async();
				return 1;
			}
			/* Other faults may have moved the streams. */
			ra = find_stream(pg, &seq, &down);
			window = grow_window(seq, ra->window, ra_max);
			fault_run(pg, window, down, &first, &n);
		}
		int rc = make_room(n, first, first + n);
		int64_t io = rc ? rc : load(first, n, lvl, down);
		/* The program cannot go on without the data: a failed load
		 * (undone: nothing marked resident) is tried twice more, then
		 * the process stops with the reason. */
		for (int t = 0; io < 0 && t < 2; t++) {
			sbma__log("cannot load SBMA page %p (%zu pages) from the backing file: %s; trying again",
				  (void *)app_addr(first), n, strerror((int)-io));
			io = load(first, n, lvl, down);
		}
		if (io < 0)
			sbma__die("cannot load SBMA page %p (%zu pages) from the backing file: %s",
				  (void *)app_addr(first), n, strerror((int)-io));
		if (is_write > 0) {
			ST.faults_write++;
			A.wa_next = first + n;
		} else {
			ST.faults_read++;
		}
		ST.faults_io += io > 0;
		ST.pages_readahead += n - 1;
		/* The lock may have been dropped for the load: find the
		 * stream again (it is a hint: another thread's fault may have
		 * taken its place). */
		ra = find_stream(pg, &seq, &down);
		*ra = (struct sbma__stream){.low = first, .next = first + n, .window = window};
		coarsen(first, first + n);
	}
#ifdef SBMA_DEBUG
	sbma__vmm_audit_locked("fault");
#endif
	sbma__unlock_async();
	return 1;
}

/* ------------------------------------------------------------------ audit */

/* Walks the allocations and the cached extents only (free pages of the
 * arena are all PROT_NONE and state 0 by construction, and an audit of a
 * whole 1 TiB arena per fault would make debug builds unusable); a gap
 * between them counts as one PROT_NONE page for the run count. */
void sbma__vmm_audit_locked(const char *where)
{
	uint64_t res = 0, dirty = 0, pinned = 0;
	size_t runs = 1, next = 0, busy = 0, cached = 0, cpages = 0;
	int prev = lvl_of(A.state[0]); /* the first run is counted by runs = 1 */
	/* The cached extents in address order, to walk beside the table. */
	struct sbma__extent ext[SBMA__CACHE_SLOTS];
	size_t next_ext = 0;
	for (size_t c = 0; c < A.ncache; c++) {
		size_t k = c;
		for (; k > 0 && ext[k - 1].first > A.cache[c].first; k--)
			ext[k] = ext[k - 1];
		ext[k] = A.cache[c];
	}
	for (size_t r = 0; r < A.nregions || next_ext < A.ncache;) {
		int in_cache = r == A.nregions ||
		               (next_ext < A.ncache && ext[next_ext].first < A.regions[r].first);
		size_t first = in_cache ? ext[next_ext].first : A.regions[r].first;
		size_t n = in_cache ? ext[next_ext++].npages : A.regions[r++].npages;
		if (first < next)
			sbma__die("audit (%s): %s at page %zu overlaps the one before", where,
				  in_cache ? "cached extent" : "allocation", first);
		if (first > next) {
			runs += prev != LVL_NONE;
			prev = LVL_NONE;
		}
		for (size_t i = first; i < first + n; i++) {
			uint8_t s = A.state[i];
			runs += lvl_of(s) != prev;
			prev = lvl_of(s);
			if (in_cache) {
				if ((s != 0 && s != PG_CACHED && s != (PG_CACHED | PG_RES | PG_RW)) || A.pins[i])
					sbma__die("audit (%s): cached page %zu has state 0x%x pins %u", where, i, s,
						  A.pins[i]);
				cached += s != 0;
				continue;
			}
			if (!(s & PG_ALLOC)) {
				if (s || A.pins[i])
					sbma__die("audit (%s): free page %zu has state 0x%x pins %u", where, i, s,
						  A.pins[i]);
				continue;
			}
			if (((s & PG_RW) || ((s & PG_DIRTY) && !(s & PG_BUSY))) && !(s & PG_RES))
				sbma__die("audit (%s): page %zu (%p) is writable or dirty but not resident (0x%x)",
					  where, i, (void *)app_addr(i), s);
			if (A.pins[i] && !(s & PG_RES))
				sbma__die("audit (%s): page %zu is pinned but not resident", where, i);
			if ((s & PG_BUSY) && (s & (PG_RES | PG_RW)))
				sbma__die("audit (%s): page %zu is in transit but resident (0x%x)", where, i, s);
			/* Busy pages count as resident until their load ends. */
			res += !!(s & (PG_RES | PG_BUSY));
			busy += !!(s & PG_BUSY);
			dirty += !!(s & PG_DIRTY);
			pinned += !!A.pins[i];
		}
		cpages += in_cache ? n : 0;
		next = first + n;
	}
	if (next < A.npages)
		runs += prev != LVL_NONE;
	if (cached != A.cache_res || cpages != A.cache_pages)
		sbma__die("audit (%s): the cache holds %zu resident pages of %zu, the counters say %zu of %zu",
			  where, cached, cpages, A.cache_res, A.cache_pages);
	res += cached;
	if (busy != A.loading || A.leaving > A.loading)
		sbma__die("audit (%s): %zu pages are in transit, the counters say %zu (%zu leaving)", where, busy,
			  A.loading, A.leaving);
	if (bytes(res) != ST.resident || bytes(dirty) != ST.dirty || bytes(pinned) != ST.pinned || runs != A.runs)
		sbma__die("audit (%s): counters disagree: resident %llu/%llu dirty %llu/%llu pinned %llu/%llu "
			  "runs %zu/%zu",
			  where, (unsigned long long)bytes(res), (unsigned long long)ST.resident,
			  (unsigned long long)bytes(dirty), (unsigned long long)ST.dirty,
			  (unsigned long long)bytes(pinned), (unsigned long long)ST.pinned, runs, A.runs);
}
