/*
 * test_integrity.c - data survives every way SBMA moves pages. Random block
 * writes and reads over a region four times the budget, with explicit
 * sbma_evict_all() calls and budget-driven evictions in between, are checked
 * byte for byte against a reference recomputed from (seed, version, offset);
 * so are realloc across evictions (grow and shrink keep the prefix), the
 * aligned allocators (alignments 16 B to 2 MiB), calloc (zeros, also after an
 * eviction), sbma_discard (whole pages read back as zeros, partial pages
 * kept), sbma_touch and sbma_pin/unpin (pinned pages stay resident and intact
 * through sbma_evict_all), read(2)/write(2) on evicted memory without
 * sbma_touch (the kernel does not fault: libsbma must make the buffer
 * resident), sbma_evict of a sub-range, and the eager path
 * (sbma_reacquire returns the bytes reloaded with SBMA_READ=eager, 0 with
 * lazy). The wrapper scripts tests/integrity-*.sh run it for both read
 * policies and SBMA pages of 4K, 16K, 64K and 1M; run alone it uses
 * SBMA_BUDGET=16M and the defaults for the rest.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdalign.h>

#include "test_common.h"

#define TB 4096 /* test block: the unit of a reference version */

static struct sbma_config cfg;
static size_t psz;

/* 1. Random block writes/reads over 4x the budget, many eviction cycles. */
static void test_random_rw(void)
{
	uint64_t foot = 4 * cfg.budget;
	if (foot > 256 * MiB)
		foot = 256 * MiB;
	if (foot < 16 * MiB)
		foot = 16 * MiB;
	size_t nblk = foot / TB;
	uint64_t seed = 0x1234, rs = 88172645463325252ULL;
	uint32_t *ver = calloc(nblk, sizeof *ver); /* < min_alloc: libc */
	char *p = sbma_malloc(foot);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ver);
	CU_ASSERT(sbma_owns(p));
	struct sbma_stats s0 = tc_stats();

	for (size_t b = 0; b < nblk; b++) {
		ver[b] = 1;
		tc_fill(p + b * TB, TB, seed, 1, b * TB / 8);
	}
	struct sbma_stats s1 = tc_stats();
	/* Writing 4x the budget must have evicted without being asked. */
	CU_ASSERT(s1.pages_evicted > s0.pages_evicted);
	CU_ASSERT(s1.resident <= cfg.budget + cfg.readahead + psz);

	/* Each random access may move a whole SBMA page both ways: fewer of
	 * them with large pages keeps the run time flat (~2 GB of I/O). */
	int ops = psz <= 64 * KiB ? 2000 : (int)(2000 * 64 * KiB / psz);
	if (ops < 150)
		ops = 150;
	size_t bad = 0;
	for (int round = 0; round < 6; round++) {
		for (int i = 0; i < ops; i++) {
			size_t b = tc_rand(&rs) % nblk;
			if (tc_rand(&rs) & 1) {
				ver[b]++;
				tc_fill(p + b * TB, TB, seed, ver[b], b * TB / 8);
			} else {
				bad += tc_check(p + b * TB, TB, seed, ver[b], b * TB / 8, "random read");
			}
		}
		/* Single-word writes in the middle of blocks: partial SBMA pages. */
		for (int i = 0; i < ops / 4; i++) {
			size_t b = tc_rand(&rs) % nblk;
			size_t w = tc_rand(&rs) % (TB / 8);
			bad += tc_check(p + b * TB + w * 8, 8, seed, ver[b], b * TB / 8 + w, "word read");
		}
		if (round % 2 == 0) {
			int64_t r = sbma_evict_all();
			CU_ASSERT(r >= 0);
			struct sbma_stats s = tc_stats();
			CU_ASSERT_EQUAL(s.resident, s.pinned);
		}
		/* A sequential sweep in some rounds (readahead path). */
		if (round == 3)
			for (size_t b = 0; b < nblk; b++)
				bad += tc_check(p + b * TB, TB, seed, ver[b], b * TB / 8, "sweep");
	}
	CU_ASSERT(sbma_evict_all() >= 0);
	for (size_t b = 0; b < nblk; b++)
		bad += tc_check(p + b * TB, TB, seed, ver[b], b * TB / 8, "final");
	CU_ASSERT_EQUAL(bad, 0);
	struct sbma_stats s2 = tc_stats();
	CU_ASSERT(s2.evictions > s0.evictions);
	CU_ASSERT(s2.bytes_written > 0);
	CU_ASSERT(s2.bytes_read > 0);
	CU_ASSERT(s2.peak_resident <= cfg.budget + cfg.readahead + psz);
	sbma_free(p);
	free(ver);
}

/* 2. malloc() goes to SBMA only from SBMA_MIN_ALLOC up. */
static void test_malloc_threshold(void)
{
	size_t big = cfg.min_alloc ? cfg.min_alloc : MiB;
	char *small = malloc(100);
	char *large = malloc(big);
	CU_ASSERT_PTR_NOT_NULL_FATAL(small);
	CU_ASSERT_PTR_NOT_NULL_FATAL(large);
	CU_ASSERT(!sbma_owns(small));
	CU_ASSERT(sbma_owns(large));
	CU_ASSERT(((uintptr_t)large & 15) == 0);
	CU_ASSERT(sbma_malloc_usable_size(large) >= big);
	tc_fill(large, big, 7, 1, 0);
	CU_ASSERT(sbma_evict_all() >= 0);
	CU_ASSERT_EQUAL(tc_check(large, big, 7, 1, 0, "malloc"), 0);
	free(large);
	free(small);
	/* sbma_malloc takes SBMA memory whatever the size. */
	char *tiny = sbma_malloc(24);
	CU_ASSERT_PTR_NOT_NULL_FATAL(tiny);
	CU_ASSERT(sbma_owns(tiny));
	CU_ASSERT(((uintptr_t)tiny & 15) == 0);
	memset(tiny, 0x5a, 24);
	CU_ASSERT(sbma_evict_all() >= 0);
	for (int i = 0; i < 24; i++)
		CU_ASSERT_EQUAL(tiny[i], 0x5a);
	sbma_free(tiny);
	sbma_free(NULL);
}

/* 3. realloc across evictions: grow and shrink keep the prefix. */
static void test_realloc(void)
{
	size_t sizes[] = { 3 * MiB + 8, 20 * MiB, MiB + 128, 40 * MiB, 5000, 9 * MiB };
	size_t have = 0; /* bytes with valid reference data */
	char *p = sbma_realloc(NULL, 2 * MiB);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT(sbma_owns(p));
	tc_fill(p, 2 * MiB, 99, 1, 0);
	have = 2 * MiB;
	for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
		size_t n = sizes[i];
		CU_ASSERT(sbma_evict_all() >= 0);
		char *q = sbma_realloc(p, n);
		CU_ASSERT_PTR_NOT_NULL_FATAL(q);
		p = q;
		size_t keep = have < n ? have : n;
		keep &= ~(size_t)7;
		CU_ASSERT_EQUAL(tc_check(p, keep, 99, 1, 0, "realloc prefix"), 0);
		CU_ASSERT(sbma_malloc_usable_size(p) >= n);
		/* Fill the whole new size: the new tail gets data too. */
		tc_fill(p, n & ~(size_t)7, 99, 1, 0);
		have = n & ~(size_t)7;
	}
	CU_ASSERT(sbma_evict_all() >= 0);
	CU_ASSERT_EQUAL(tc_check(p, have, 99, 1, 0, "realloc final"), 0);
	/* libc realloc of SBMA memory, through the replaced symbol. */
	char *q = realloc(p, 12 * MiB);
	CU_ASSERT_PTR_NOT_NULL_FATAL(q);
	CU_ASSERT_EQUAL(tc_check(q, have < 12 * MiB ? have : 12 * MiB, 99, 1, 0, "libc realloc"), 0);
	free(q);
}

/* 4. Aligned allocation, 16 B to 2 MiB, all three entry points. */
static void test_aligned(void)
{
	size_t aligns[] = { 16, 32, 64, 4096, 16384, 65536, MiB, 2 * MiB };
	for (size_t i = 0; i < sizeof aligns / sizeof *aligns; i++) {
		size_t a = aligns[i];
		size_t n = a >= MiB ? 3 * a : 3 * MiB; /* >= min_alloc, multiple of a */
		void *ptrs[4] = { 0 };
		ptrs[0] = sbma_aligned_alloc(a, n);
		CU_ASSERT_EQUAL(sbma_posix_memalign(&ptrs[1], a, n), 0);
		ptrs[2] = aligned_alloc(a, n);
		CU_ASSERT_EQUAL(posix_memalign(&ptrs[3], a, n), 0);
		for (int k = 0; k < 4; k++) {
			CU_ASSERT_PTR_NOT_NULL_FATAL(ptrs[k]);
			CU_ASSERT_EQUAL((uintptr_t)ptrs[k] % a, 0);
			if (k >= 2 && n >= cfg.min_alloc)
				CU_ASSERT(sbma_owns(ptrs[k]));
			tc_fill(ptrs[k], n, 500 + k, a, 0);
		}
		CU_ASSERT(sbma_evict_all() >= 0);
		for (int k = 0; k < 4; k++) {
			CU_ASSERT_EQUAL(tc_check(ptrs[k], n, 500 + k, a, 0, "aligned"), 0);
			free(ptrs[k]);
		}
	}
	/* Bad alignments are refused, not rounded. */
	void *x = (void *)1;
	CU_ASSERT_EQUAL(sbma_posix_memalign(&x, 24, 4096), EINVAL);
	CU_ASSERT_EQUAL(sbma_posix_memalign(&x, 3, 4096), EINVAL);
	errno = 0;
	CU_ASSERT_PTR_NULL(sbma_aligned_alloc(48, 4096));
	CU_ASSERT_EQUAL(errno, EINVAL);
}

/* 5. calloc returns zeros, also after reuse of freed memory and evictions. */
static void test_calloc(void)
{
	size_t n = 6 * MiB;
	char *p = sbma_malloc(n);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	memset(p, 0xff, n);
	CU_ASSERT(sbma_evict_all() >= 0);
	sbma_free(p);
	for (int round = 0; round < 3; round++) {
		char *q = round == 2 ? calloc(n / 4096, 4096) : sbma_calloc(n / 4096, 4096);
		CU_ASSERT_PTR_NOT_NULL_FATAL(q);
		CU_ASSERT_EQUAL(tc_nonzero(q, n), 0);
		CU_ASSERT(sbma_evict_all() >= 0);
		CU_ASSERT_EQUAL(tc_nonzero(q, n), 0);
		tc_fill(q, n / 2, 3, 3, 0);
		CU_ASSERT(sbma_evict_all() >= 0);
		CU_ASSERT_EQUAL(tc_check(q, n / 2, 3, 3, 0, "calloc half"), 0);
		CU_ASSERT_EQUAL(tc_nonzero(q + n / 2, n / 2), 0);
		memset(q, 0xee, n);
		free(q);
	}
	errno = 0;
	CU_ASSERT_PTR_NULL(sbma_calloc(SIZE_MAX / 2, 3));
	CU_ASSERT_EQUAL(errno, ENOMEM);
	errno = 0;
	CU_ASSERT_PTR_NULL(sbma_malloc(SIZE_MAX - 4096));
	CU_ASSERT_EQUAL(errno, ENOMEM);
}

/* 6. sbma_discard: whole pages read back as zeros; the rest is kept. */
static void test_discard(void)
{
	size_t n = 8 * psz;
	char *p = sbma_aligned_alloc(psz, n);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	tc_fill(p, n, 11, 1, 0);
	CU_ASSERT(sbma_evict_all() >= 0);
	/* Pages 1..4 on disk, discarded. */
	CU_ASSERT_EQUAL(sbma_discard(p + psz, 4 * psz), 0);
	/* Page 6 resident and dirty, discarded. */
	tc_fill(p + 6 * psz, psz, 11, 2, 6 * psz / 8);
	CU_ASSERT_EQUAL(sbma_discard(p + 6 * psz, psz), 0);
	/* Ranges that hold no whole page drop nothing: one inside page 7,
	 * one from the middle of page 0 to the first byte of page 1. */
	CU_ASSERT_EQUAL(sbma_discard(p + 7 * psz + psz / 2, psz / 4), 0);
	CU_ASSERT_EQUAL(sbma_discard(p + psz / 2, psz / 2 + 1), 0);
	CU_ASSERT_EQUAL(tc_check(p, psz, 11, 1, 0, "discard page 0"), 0);
	CU_ASSERT_EQUAL(tc_nonzero(p + psz, 4 * psz), 0);
	CU_ASSERT_EQUAL(tc_check(p + 5 * psz, psz, 11, 1, 5 * psz / 8, "discard page 5"), 0);
	CU_ASSERT_EQUAL(tc_nonzero(p + 6 * psz, psz), 0);
	CU_ASSERT_EQUAL(tc_check(p + 7 * psz, psz, 11, 1, 7 * psz / 8, "discard page 7"), 0);
	/* After another eviction, the zeros stay zeros. */
	CU_ASSERT(sbma_evict_all() >= 0);
	CU_ASSERT_EQUAL(tc_nonzero(p + psz, 4 * psz), 0);
	CU_ASSERT_EQUAL(tc_nonzero(p + 6 * psz, psz), 0);
	CU_ASSERT_EQUAL(tc_check(p, psz, 11, 1, 0, "discard page 0 again"), 0);
	/* A range without SBMA memory is rejected. */
	char local[64];
	CU_ASSERT_EQUAL(sbma_discard(local, sizeof local), -EINVAL);
	sbma_free(p);
}

/* 7. sbma_touch makes memory usable by the kernel; pins survive eviction. */
static void test_touch_pin(void)
{
	size_t n = 16 * psz < 8 * MiB ? 8 * MiB : 16 * psz;
	if (n > cfg.budget / 2)
		n = (cfg.budget / 2) & ~(psz - 1);
	char *p = sbma_aligned_alloc(psz, n);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	tc_fill(p, n, 21, 1, 0);
	CU_ASSERT(sbma_evict_all() >= 0);

	/* touch(READ) then write(2) from the buffer: the kernel reads it. */
	char path[] = "/tmp/sbma-touch-XXXXXX";
	int fd = mkstemp(path);
	CU_ASSERT_FATAL(fd >= 0);
	unlink(path);
	CU_ASSERT_EQUAL(sbma_touch(p, n, SBMA_ACCESS_READ), 0);
	struct sbma_stats a = tc_stats();
	CU_ASSERT_EQUAL(tc_check(p, n, 21, 1, 0, "touched"), 0);
	struct sbma_stats b = tc_stats();
	CU_ASSERT_EQUAL(b.faults_read, a.faults_read);
	CU_ASSERT_EQUAL(b.faults_io, a.faults_io);
	CU_ASSERT_EQUAL(pwrite(fd, p, n, 0), (ssize_t)n);
	/* touch(WRITE) then read(2) into the buffer after an eviction. */
	CU_ASSERT(sbma_evict_all() >= 0);
	CU_ASSERT_EQUAL(sbma_touch(p, n, SBMA_ACCESS_WRITE), 0);
	memset(p, 0, n);
	a = tc_stats();
	CU_ASSERT_EQUAL(a.faults_upgrade, b.faults_upgrade);
	CU_ASSERT_EQUAL(pread(fd, p, n, 0), (ssize_t)n);
	CU_ASSERT_EQUAL(tc_check(p, n, 21, 1, 0, "read(2) into touched"), 0);
	close(fd);

	/* Pin half: stays resident and intact through evict_all. */
	size_t half = n / 2;
	CU_ASSERT_EQUAL(sbma_pin(p, half, SBMA_ACCESS_WRITE), 0);
	CU_ASSERT_EQUAL(sbma_pin(p, half, SBMA_ACCESS_READ), 0); /* nested */
	tc_fill(p, half, 22, 1, 0);
	CU_ASSERT(sbma_evict_all() >= 0);
	struct sbma_stats s = tc_stats();
	CU_ASSERT(s.pinned >= half);
	CU_ASSERT(s.resident >= s.pinned);
	a = tc_stats();
	CU_ASSERT_EQUAL(tc_check(p, half, 22, 1, 0, "pinned"), 0);
	tc_fill(p, half, 22, 2, 0); /* writable: no fault either */
	b = tc_stats();
	CU_ASSERT_EQUAL(b.faults_read + b.faults_write + b.faults_upgrade,
			a.faults_read + a.faults_write + a.faults_upgrade);
	CU_ASSERT_EQUAL(tc_check(p + half, n - half, 21, 1, half / 8, "unpinned half"), 0);
	/* One unpin: still pinned (nesting). */
	CU_ASSERT_EQUAL(sbma_unpin(p, half), 0);
	CU_ASSERT(sbma_evict_all() >= 0);
	s = tc_stats();
	CU_ASSERT(s.pinned >= half);
	CU_ASSERT(s.resident >= half);
	/* Discard leaves pinned pages alone. */
	CU_ASSERT_EQUAL(sbma_discard(p, half), 0);
	CU_ASSERT_EQUAL(tc_check(p, half, 22, 2, 0, "pinned after discard"), 0);
	CU_ASSERT_EQUAL(sbma_unpin(p, half), 0);
	CU_ASSERT(sbma_evict_all() >= 0);
	s = tc_stats();
	CU_ASSERT_EQUAL(s.pinned, 0);
	CU_ASSERT_EQUAL(s.resident, 0);
	CU_ASSERT_EQUAL(tc_check(p, half, 22, 2, 0, "after unpin"), 0);
	char local[64];
	CU_ASSERT_EQUAL(sbma_pin(local, sizeof local, SBMA_ACCESS_READ), -EINVAL);
	CU_ASSERT_EQUAL(sbma_touch(local, sizeof local, SBMA_ACCESS_READ), -EINVAL);
	sbma_free(p);
}

/*
 * 7b. The kernel does not fault on protected memory: read(2)/write(2) on
 * evicted SBMA memory get EFAULT unless libsbma wraps them (DESIGN.md,
 * "Known traps": make such buffers resident first, retry once on EFAULT).
 * Unmodified programs (sort, cp...) do exactly this, without sbma_touch.
 */
static void test_kernel_access(void)
{
	size_t n = 4 * MiB;
	char *p = malloc(n); /* as an unmodified program would */
	char *q = malloc(n);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_PTR_NOT_NULL_FATAL(q);
	CU_ASSERT(sbma_owns(p) && sbma_owns(q));
	tc_fill(p, n, 61, 1, 0);
	char path[] = "/tmp/sbma-kaccess-XXXXXX";
	int fd = mkstemp(path);
	CU_ASSERT_FATAL(fd >= 0);
	unlink(path);
	/* write(2) from evicted memory. */
	CU_ASSERT(sbma_evict_all() >= 0);
	CU_ASSERT_EQUAL(write(fd, p, n), (ssize_t)n);
	/* read(2) and pread(2) into evicted memory (q never written: no
	 * mapping at all yet; then after an eviction of written data). */
	CU_ASSERT_EQUAL(pread(fd, q, n, 0), (ssize_t)n);
	CU_ASSERT_EQUAL(tc_check(q, n, 61, 1, 0, "pread into SBMA"), 0);
	CU_ASSERT(sbma_evict_all() >= 0);
	CU_ASSERT_EQUAL(lseek(fd, 0, SEEK_SET), 0);
	memset(q, 0, 1); /* q's first page dirty, the rest evicted clean */
	CU_ASSERT(sbma_evict_all() >= 0);
	CU_ASSERT_EQUAL(read(fd, q, n), (ssize_t)n);
	CU_ASSERT_EQUAL(tc_check(q, n, 61, 1, 0, "read into SBMA"), 0);
	close(fd);
	free(p);
	free(q);
}

/* 8. sbma_evict of a sub-range writes and drops only that range. */
static void test_evict_range(void)
{
	size_t n = 8 * psz;
	char *p = sbma_aligned_alloc(psz, n);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT(sbma_evict_all() >= 0);
	tc_fill(p, n, 31, 1, 0);
	struct sbma_stats a = tc_stats();
	CU_ASSERT(a.resident >= n);
	int64_t r = sbma_evict(p + 2 * psz, 3 * psz);
	CU_ASSERT_EQUAL(r, (int64_t)(3 * psz));
	struct sbma_stats b = tc_stats();
	CU_ASSERT_EQUAL(a.resident - b.resident, 3 * psz);
	CU_ASSERT_EQUAL(b.bytes_written - a.bytes_written, 3 * psz);
	/* Again: nothing left to write there. */
	CU_ASSERT_EQUAL(sbma_evict(p + 2 * psz, 3 * psz), 0);
	/* A range that only partly covers pages: only SBMA pages inside. */
	CU_ASSERT(sbma_evict(p + 6 * psz + 1, psz) >= 0);
	CU_ASSERT_EQUAL(tc_check(p, n, 31, 1, 0, "evict range"), 0);
	char local[64];
	CU_ASSERT_EQUAL(sbma_evict(local, sizeof local), -EINVAL);
	sbma_free(p);
}

/* 9. Eager reacquire returns what it reloaded; lazy returns 0. */
static void test_reacquire(void)
{
	size_t n = cfg.budget / 2;
	n &= ~(psz - 1);
	char *p = sbma_aligned_alloc(psz, n);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	tc_fill(p, n, 41, 1, 0);
	int64_t w = sbma_evict_all();
	CU_ASSERT(w >= (int64_t)n);
	struct sbma_stats a = tc_stats();
	CU_ASSERT_EQUAL(a.resident, 0);
	int64_t r = sbma_reacquire();
	struct sbma_stats b = tc_stats();
	if (cfg.read_policy == SBMA_READ_EAGER) {
		CU_ASSERT(r > 0);
		CU_ASSERT(r >= (int64_t)n);
		CU_ASSERT(r <= (int64_t)(cfg.budget + psz));
		CU_ASSERT(b.resident >= (uint64_t)n);
		CU_ASSERT(b.bytes_read - a.bytes_read >= (uint64_t)n);
		/* Already resident: reading costs no I/O. */
		CU_ASSERT_EQUAL(tc_check(p, n, 41, 1, 0, "eager"), 0);
		struct sbma_stats c = tc_stats();
		CU_ASSERT_EQUAL(c.faults_io, b.faults_io);
		CU_ASSERT_EQUAL(c.bytes_read, b.bytes_read);
	} else {
		CU_ASSERT_EQUAL(r, 0);
		CU_ASSERT_EQUAL(b.resident, 0);
		CU_ASSERT_EQUAL(b.bytes_read, a.bytes_read);
		CU_ASSERT_EQUAL(tc_check(p, n, 41, 1, 0, "lazy"), 0);
	}
	/* Nothing was evicted since: a second reacquire loads nothing. */
	CU_ASSERT_EQUAL(sbma_reacquire(), 0);
	CU_ASSERT(sbma_evict_all() >= 0);
	sbma_free(p);
}

int main(int argc, char **argv)
{
	static const char *const defaults[] = { "SBMA_BUDGET", "16M", NULL };
	(void)argc;
	cfg = tc_start(argv, defaults, "test_integrity");
	psz = cfg.page_size;
	if (!psz || !cfg.budget) {
		fprintf(stderr, "test_integrity: bad config\n");
		return 1;
	}
	CU_TestInfo tests[] = {
		{ "random read/write over 4x budget", test_random_rw },
		{ "malloc threshold", test_malloc_threshold },
		{ "realloc across evictions", test_realloc },
		{ "aligned allocation 16B..2M", test_aligned },
		{ "calloc zeroed", test_calloc },
		{ "discard", test_discard },
		{ "touch and pin", test_touch_pin },
		{ "read(2)/write(2) on evicted memory, no touch", test_kernel_access },
		{ "evict sub-range", test_evict_range },
		{ "reacquire (eager/lazy)", test_reacquire },
		CU_TEST_INFO_NULL,
	};
	return tc_run("integrity", tests);
}
