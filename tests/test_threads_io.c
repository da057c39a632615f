/*
 * test_threads_io.c - loads that read the backing file without the engine
 * lock (SBMA_UNLOCKED_IO) never hand a thread a partly loaded, stale or lost
 * page, and free, realloc, discard, eviction and fork all wait for them.
 *
 * Three tests, eight fault threads each, every word checked against its
 * reference value (tests/test_common.h):
 *
 *   same pages     the region (three times the budget) is written once; the
 *                  threads then read all of it at the same time, in the same
 *                  order (so they fault on the very pages another thread is
 *                  loading) and in random orders, while one thread loops on
 *                  sbma_evict_all() and another forks: each child checks
 *                  every word of the region and exits 1 on a mismatch.
 *   disjoint pages thread t owns the SBMA pages p with p % 8 == t, so one
 *                  thread's readahead window runs over pages that the others
 *                  write; each rewrites random pages with a new version and
 *                  checks others, while evict_all loops and a churn thread
 *                  mallocs, fills, reallocs, checks, discards and frees
 *                  blocks placed right after the region (readahead from the
 *                  region's last pages reaches into them while they are
 *                  freed).
 *   touch          threads fault on evicted pages while others
 *                  sbma_touch() and sbma_evict() the same ranges.
 *
 * A deadlock fails the test through the runner's alarm (SBMA_TEST_TIMEOUT).
 * Run alone it uses SBMA_BUDGET=16M; tests/threads-io-locked.sh runs it with
 * SBMA_UNLOCKED_IO=off (the engine lock held over all I/O) as well.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sys/wait.h>

#include "test_common.h"

#define NT 8
#define SEED_A 0xA11CE
#define SEED_B 0xB0B

static struct sbma_config cfg;
static size_t psz;
static char *region;
static size_t region_size, npages;
static volatile int stop;
static size_t bad_total;
static uint64_t evict_calls, evict_errors, forks, child_failures;
static pthread_mutex_t bad_lock = PTHREAD_MUTEX_INITIALIZER;

static void add_bad(size_t bad)
{
	pthread_mutex_lock(&bad_lock);
	bad_total += bad;
	pthread_mutex_unlock(&bad_lock);
}

static void *evictor(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		if (sbma_evict_all() < 0)
			__atomic_add_fetch(&evict_errors, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&evict_calls, 1, __ATOMIC_RELAXED);
		usleep(2000);
	}
	return NULL;
}

/* Run worker(0..NT-1) to the end while helper1 and helper2 (NULL: none)
 * loop until told to stop. */
static void run_threads(void *(*worker)(void *), void *(*helper1)(void *), void *(*helper2)(void *))
{
	pthread_t help[2], th[NT];
	void *(*helpers[2])(void *) = {helper1, helper2};
	bad_total = 0;
	for (int i = 0; i < 2; i++)
		if (helpers[i])
			CU_ASSERT_EQUAL_FATAL(pthread_create(&help[i], NULL, helpers[i], NULL), 0);
	for (int t = 0; t < NT; t++)
		CU_ASSERT_EQUAL_FATAL(pthread_create(&th[t], NULL, worker, (void *)(intptr_t)t), 0);
	for (int t = 0; t < NT; t++)
		pthread_join(th[t], NULL);
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < 2; i++)
		if (helpers[i])
			pthread_join(help[i], NULL);
	__atomic_store_n(&stop, 0, __ATOMIC_RELEASE);
}

/* ---- same pages ---- */

static void *same_reader(void *arg)
{
	int t = (int)(intptr_t)arg;
	uint64_t rs = 12345 + (uint64_t)t;
	size_t bad = 0;
	for (int round = 0; round < 3; round++) {
		if (t % 2 == 0) {
			/* All even threads in the same order: they collide. */
			bad += tc_check(region, region_size, SEED_A, 1, 0, "same pages, in order");
		} else {
			for (size_t k = 0; k < npages; k++) {
				size_t p = tc_rand(&rs) % npages;
				bad += tc_check(region + p * psz, psz, SEED_A, 1, p * psz / 8,
						"same pages, random order");
			}
		}
	}
	add_bad(bad);
	return NULL;
}

static void *forker(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		pid_t pid = fork();
		if (pid == 0)
			_exit(tc_check(region, region_size, SEED_A, 1, 0, "fork child") ? 1 : 0);
		if (pid < 0)
			break;
		int st = 0;
		waitpid(pid, &st, 0);
		__atomic_add_fetch(&forks, 1, __ATOMIC_RELAXED);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			__atomic_add_fetch(&child_failures, 1, __ATOMIC_RELAXED);
		usleep(50000);
	}
	return NULL;
}

static void test_same_pages(void)
{
	tc_fill(region, region_size, SEED_A, 1, 0);
	CU_ASSERT(sbma_evict_all() >= 0);
	struct sbma_stats s0 = tc_stats();
	run_threads(same_reader, evictor, forker);
	struct sbma_stats s1 = tc_stats();
	size_t bad = tc_check(region, region_size, SEED_A, 1, 0, "same pages, final");
	fprintf(stderr, "  %" PRIu64 " forks, %" PRIu64 " evict_all, %" PRIu64 " MiB read, %" PRIu64 " faults\n",
		forks, evict_calls, (s1.bytes_read - s0.bytes_read) >> 20,
		s1.faults_read + s1.faults_write - s0.faults_read - s0.faults_write);
	CU_ASSERT_EQUAL(bad_total, 0);
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT_EQUAL(child_failures, 0);
	CU_ASSERT(forks > 0);
	CU_ASSERT_EQUAL(evict_errors, 0);
	/* Three times the budget, read by eight threads: loads must happen. */
	CU_ASSERT(s1.bytes_read - s0.bytes_read >= region_size);
}

/* ---- disjoint pages ---- */

static uint16_t *ver; /* per page; page p belongs to thread p % NT */
static size_t churn_fail;

static void *disjoint_writer(void *arg)
{
	int t = (int)(intptr_t)arg;
	uint64_t rs = 999 + (uint64_t)t * 7919;
	size_t mine = (npages - (size_t)t + NT - 1) / NT, bad = 0;
	for (int i = 0; i < 1500; i++) {
		size_t p = (tc_rand(&rs) % mine) * NT + (size_t)t;
		char *a = region + p * psz;
		if (tc_rand(&rs) % 3 == 0) {
			ver[p]++;
			tc_fill(a, psz, SEED_B, ver[p], p * psz / 8);
		} else {
			bad += tc_check(a, psz, SEED_B, ver[p], p * psz / 8, "disjoint page");
		}
		if (i % 500 == 499) /* a sequential pass: readahead over others' pages */
			for (size_t q = (size_t)t; q < npages; q += NT)
				bad += tc_check(region + q * psz, psz, SEED_B, ver[q], q * psz / 8,
						"disjoint pass");
	}
	add_bad(bad);
	return NULL;
}

/* Blocks right after the region: malloc, fill, realloc, check, discard
 * part, free. */
static void *churn(void *arg)
{
	(void)arg;
	uint64_t rs = 4242;
	size_t bad = 0, fail = 0;
	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		size_t n = psz * (1 + tc_rand(&rs) % 64);
		uint64_t seed = tc_rand(&rs);
		char *p = sbma_malloc(n);
		if (!p) {
			fail++;
			continue;
		}
		tc_fill(p, n, seed, 1, 0);
		size_t n2 = psz * (1 + tc_rand(&rs) % 64);
		char *q = sbma_realloc(p, n2);
		if (!q) {
			fail++;
			sbma_free(p);
			continue;
		}
		bad += tc_check(q, n < n2 ? n : n2, seed, 1, 0, "churn after realloc");
		if (n2 >= 2 * psz) {
			/* Discarded pages read as zeros. */
			if (sbma_discard(q, psz) != 0)
				fail++;
			bad += tc_nonzero(q, psz) != 0;
		}
		sbma_free(q);
	}
	add_bad(bad);
	__atomic_add_fetch(&churn_fail, fail, __ATOMIC_RELAXED);
	return NULL;
}

static void test_disjoint_pages(void)
{
	ver = calloc(npages, sizeof *ver);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ver);
	tc_fill(region, region_size, SEED_B, 0, 0);
	CU_ASSERT(sbma_evict_all() >= 0);
	struct sbma_stats s0 = tc_stats();
	run_threads(disjoint_writer, evictor, churn);
	CU_ASSERT(sbma_evict_all() >= 0);
	size_t bad = 0;
	for (size_t p = 0; p < npages; p++)
		bad += tc_check(region + p * psz, psz, SEED_B, ver[p], p * psz / 8, "disjoint, final");
	struct sbma_stats s1 = tc_stats();
	fprintf(stderr, "  %" PRIu64 " MiB read, %" PRIu64 " MiB written, %" PRIu64 " pages evicted\n",
		(s1.bytes_read - s0.bytes_read) >> 20, (s1.bytes_written - s0.bytes_written) >> 20,
		s1.pages_evicted - s0.pages_evicted);
	CU_ASSERT_EQUAL(bad_total, 0);
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT_EQUAL(churn_fail, 0);
	CU_ASSERT_EQUAL(evict_errors, 0);
	CU_ASSERT(s1.bytes_read > s0.bytes_read);
	CU_ASSERT(s1.bytes_written > s0.bytes_written);
	free(ver);
}

/* ---- touch and evict against faults ---- */

static void *toucher(void *arg)
{
	int t = (int)(intptr_t)arg;
	uint64_t rs = 31337 + (uint64_t)t;
	size_t bad = 0;
	for (int i = 0; i < 400; i++) {
		size_t p = tc_rand(&rs) % npages, n = 1 + tc_rand(&rs) % 16;
		if (p + n > npages)
			n = npages - p;
		char *a = region + p * psz;
		/* CUnit is not thread-safe: failed calls count as bad. */
		if (t % 4 == 0)
			bad += sbma_touch(a, n * psz, SBMA_ACCESS_READ) != 0;
		else if (t % 4 == 1)
			bad += sbma_evict(a, n * psz) < 0;
		bad += tc_check(a, n * psz, SEED_A, 2, p * psz / 8, "touch/evict");
	}
	add_bad(bad);
	return NULL;
}

static void test_touch(void)
{
	tc_fill(region, region_size, SEED_A, 2, 0);
	CU_ASSERT(sbma_evict_all() >= 0);
	run_threads(toucher, NULL, NULL);
	CU_ASSERT_EQUAL(bad_total, 0);
	CU_ASSERT_EQUAL(tc_check(region, region_size, SEED_A, 2, 0, "touch, final"), 0);
}

int main(int argc, char **argv)
{
	static const char *const defaults[] = { "SBMA_BUDGET", "16M", NULL };
	(void)argc;
	tc_crash_report(tc_current_test);
	cfg = tc_start(argv, defaults, "test_threads_io");
	psz = cfg.page_size;
	region_size = (3 * cfg.budget) & ~(psz - 1);
	if (region_size > 96 * MiB)
		region_size = 96 * MiB;
	npages = region_size / psz;
	if (npages < 2 * NT) {
		fprintf(stderr, "test_threads_io: budget %" PRIu64 " too small for page %zu\n", cfg.budget, psz);
		return 1;
	}
	region = sbma_aligned_alloc(psz, region_size);
	if (!region) {
		fprintf(stderr, "test_threads_io: cannot allocate %zu bytes\n", region_size);
		return 1;
	}
	CU_TestInfo tests[] = {
		{ "8 threads fault on the same evicted pages (evict_all, fork)", test_same_pages },
		{ "8 threads on disjoint pages (evict_all, malloc/realloc/discard/free)", test_disjoint_pages },
		{ "faults against sbma_touch and sbma_evict", test_touch },
		CU_TEST_INFO_NULL,
	};
	int rc = tc_run("threads_io", tests);
	sbma_free(region);
	return rc;
}
