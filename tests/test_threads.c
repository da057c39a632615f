/*
 * test_threads.c - no thread ever sees a partly loaded or lost page. Eight
 * worker threads fault on one region of four times the budget while a ninth
 * calls sbma_evict_all() in a loop. The first half of the region is shared:
 * every 4 KiB block is cut into eight 512-byte slices and worker t owns slice
 * t of every block, so all threads write and read the same SBMA pages at the
 * same time, yet each can check its own bytes exactly. In the second half
 * each SBMA page belongs to one worker (different pages). Each worker keeps a
 * version per slice, rewrites random slices, and checks random ones as it
 * goes; everything is checked at the end. A second test runs sbma_malloc /
 * sbma_free / malloc / realloc / free from several threads at once, with the
 * evictor running, and checks every allocation's contents before freeing
 * it and that the live-allocation counters return to where they were. Run
 * alone it uses SBMA_BUDGET=16M.
 */
#define _GNU_SOURCE
#include <pthread.h>

#include "test_common.h"

#define NT 8
#define SLICE 512
#define TB (NT * SLICE)

static struct sbma_config cfg;
static size_t psz;

static char *region;
static size_t region_size, shared_blocks, private_pages, npieces;
static uint16_t *ver_shared[NT]; /* [block] per thread */
static uint16_t *ver_private;    /* [4 KiB piece] (owner = its page % NT) */
static volatile int stop_evictor;
static size_t bad_total;
static uint64_t evict_calls, evict_errors;
static pthread_mutex_t bad_lock = PTHREAD_MUTEX_INITIALIZER;

static void *evictor(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&stop_evictor, __ATOMIC_ACQUIRE)) {
		int64_t r = sbma_evict_all();
		__atomic_add_fetch(&evict_calls, 1, __ATOMIC_RELAXED);
		if (r < 0)
			__atomic_add_fetch(&evict_errors, 1, __ATOMIC_RELAXED);
		usleep(5000);
	}
	return NULL;
}

static char *slice_addr(size_t blk, int t)
{
	return region + blk * TB + (size_t)t * SLICE;
}

static uint64_t slice_word0(size_t blk, int t)
{
	return (blk * TB + (size_t)t * SLICE) / 8;
}

static void *worker(void *arg)
{
	int t = (int)(intptr_t)arg;
	uint64_t rs = 0x9E3779B97F4A7C15ULL * (uint64_t)(t + 1);
	size_t bad = 0;
	size_t my_pages = private_pages / NT;
	for (int i = 0; i < 3000; i++) {
		uint64_t r = tc_rand(&rs);
		if (r % 4 != 3) {
			size_t b = tc_rand(&rs) % shared_blocks;
			if (r & 16) {
				ver_shared[t][b]++;
				tc_fill(slice_addr(b, t), SLICE, t, ver_shared[t][b], slice_word0(b, t));
			} else {
				bad += tc_check(slice_addr(b, t), SLICE, t, ver_shared[t][b],
						slice_word0(b, t), "shared slice");
			}
		} else if (my_pages) {
			size_t pg = (tc_rand(&rs) % my_pages) * NT + (size_t)t;
			size_t pc = pg * (psz / 4096) + tc_rand(&rs) % (psz / 4096);
			char *a = region + shared_blocks * TB + pc * 4096;
			uint64_t w0 = (shared_blocks * TB + pc * 4096) / 8;
			if (r & 16) {
				ver_private[pc]++;
				tc_fill(a, 4096, 1000, ver_private[pc], w0);
			} else {
				bad += tc_check(a, 4096, 1000, ver_private[pc], w0, "private page");
			}
		}
	}
	pthread_mutex_lock(&bad_lock);
	bad_total += bad;
	pthread_mutex_unlock(&bad_lock);
	return NULL;
}

static void test_shared_faults(void)
{
	region_size = 4 * cfg.budget;
	if (region_size > 128 * MiB)
		region_size = 128 * MiB;
	region_size &= ~(psz - 1);
	size_t half = (region_size / 2) & ~(psz - 1);
	if (half < (size_t)TB)
		half = TB;
	shared_blocks = half / TB;
	private_pages = (region_size - shared_blocks * TB) / psz;
	region = sbma_aligned_alloc(psz, region_size);
	CU_ASSERT_PTR_NOT_NULL_FATAL(region);
	for (int t = 0; t < NT; t++) {
		ver_shared[t] = calloc(shared_blocks, sizeof(uint16_t));
		CU_ASSERT_PTR_NOT_NULL_FATAL(ver_shared[t]);
	}
	npieces = private_pages * (psz / 4096);
	ver_private = calloc(npieces ? npieces : 1, sizeof(uint16_t));
	CU_ASSERT_PTR_NOT_NULL_FATAL(ver_private);
	/* Version 0 everywhere: write it once. */
	for (size_t b = 0; b < shared_blocks; b++)
		for (int t = 0; t < NT; t++)
			tc_fill(slice_addr(b, t), SLICE, t, 0, slice_word0(b, t));
	for (size_t pc = 0; pc < npieces; pc++)
		tc_fill(region + shared_blocks * TB + pc * 4096, 4096, 1000, 0,
			(shared_blocks * TB + pc * 4096) / 8);
	struct sbma_stats s0 = tc_stats();

	pthread_t ev, th[NT];
	stop_evictor = 0;
	CU_ASSERT_EQUAL_FATAL(pthread_create(&ev, NULL, evictor, NULL), 0);
	for (int t = 0; t < NT; t++)
		CU_ASSERT_EQUAL_FATAL(pthread_create(&th[t], NULL, worker, (void *)(intptr_t)t), 0);
	for (int t = 0; t < NT; t++)
		pthread_join(th[t], NULL);
	__atomic_store_n(&stop_evictor, 1, __ATOMIC_RELEASE);
	pthread_join(ev, NULL);

	/* Final check of every byte, after one more eviction. */
	CU_ASSERT(sbma_evict_all() >= 0);
	size_t bad = 0;
	for (size_t b = 0; b < shared_blocks; b++)
		for (int t = 0; t < NT; t++)
			bad += tc_check(slice_addr(b, t), SLICE, t, ver_shared[t][b],
					slice_word0(b, t), "final shared");
	for (size_t pc = 0; pc < npieces; pc++)
		bad += tc_check(region + shared_blocks * TB + pc * 4096, 4096, 1000, ver_private[pc],
				(shared_blocks * TB + pc * 4096) / 8, "final private");
	struct sbma_stats s1 = tc_stats();
	fprintf(stderr,
		"  region %zu MiB, %" PRIu64 " evict_all calls, %" PRIu64
		" pages evicted, faults r/w/u %" PRIu64 "/%" PRIu64 "/%" PRIu64 "\n",
		region_size / (size_t)MiB, evict_calls, s1.pages_evicted - s0.pages_evicted,
		s1.faults_read - s0.faults_read, s1.faults_write - s0.faults_write,
		s1.faults_upgrade - s0.faults_upgrade);
	CU_ASSERT_EQUAL(bad_total, 0);
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT_EQUAL(evict_errors, 0);
	CU_ASSERT(evict_calls > 0);
	CU_ASSERT(s1.pages_evicted > s0.pages_evicted);
	CU_ASSERT(s1.peak_resident <= cfg.budget + cfg.readahead + psz);
	sbma_free(region);
	for (int t = 0; t < NT; t++)
		free(ver_shared[t]);
	free(ver_private);
}

/* ---- concurrent allocation ---- */

#define NA 4
#define LIVE 6

struct live {
	char *p;
	size_t n;
	uint64_t seed;
};

static size_t alloc_bad, alloc_fail;

static size_t check_live(struct live *l)
{
	/* Head, tail and one middle word: cheap, and catches mixed-up regions. */
	size_t bad = 0;
	size_t nw = l->n / 8;
	bad += tc_check(l->p, 64 < l->n ? 64 : (l->n & ~7u), l->seed, 1, 0, "alloc head");
	if (nw > 16) {
		bad += tc_check(l->p + (nw - 8) * 8, 64, l->seed, 1, nw - 8, "alloc tail");
		bad += tc_check(l->p + (nw / 2) * 8, 8, l->seed, 1, nw / 2, "alloc middle");
	}
	return bad;
}

static void fill_live(struct live *l)
{
	size_t nw = l->n / 8;
	tc_fill(l->p, 64 < l->n ? 64 : (l->n & ~7u), l->seed, 1, 0);
	if (nw > 16) {
		tc_fill(l->p + (nw - 8) * 8, 64, l->seed, 1, nw - 8);
		tc_fill(l->p + (nw / 2) * 8, 8, l->seed, 1, nw / 2);
	}
}

static void *allocator(void *arg)
{
	int t = (int)(intptr_t)arg;
	uint64_t rs = 77 + (uint64_t)t * 1000003;
	struct live live[LIVE] = { { 0 } };
	size_t bad = 0, fail = 0;
	for (int i = 0; i < 400; i++) {
		int k = (int)(tc_rand(&rs) % LIVE);
		struct live *l = &live[k];
		if (l->p) {
			bad += check_live(l);
			if (tc_rand(&rs) & 1) {
				/* sbma_free only takes SBMA memory; free takes both. */
				if (sbma_owns(l->p) && (tc_rand(&rs) & 1))
					sbma_free(l->p);
				else
					free(l->p);
			} else {
				/* realloc: grow or shrink, the checked words must follow */
				size_t n2 = 8 * (1 + tc_rand(&rs) % (4 * MiB / 8));
				char *q = realloc(l->p, n2);
				if (!q) {
					fail++;
					free(l->p);
				} else {
					l->p = q;
					size_t keep = n2 < l->n ? n2 : l->n;
					bad += tc_check(q, 64 < keep ? 64 : keep & ~7u, l->seed, 1, 0,
							"realloc head");
					l->n = n2;
					fill_live(l);
					continue;
				}
			}
			l->p = NULL;
			continue;
		}
		l->n = 8 * (1 + tc_rand(&rs) % (4 * MiB / 8));
		l->seed = tc_rand(&rs);
		l->p = (tc_rand(&rs) & 1) ? sbma_malloc(l->n) : malloc(l->n);
		if (!l->p) {
			fail++;
			continue;
		}
		fill_live(l);
	}
	for (int k = 0; k < LIVE; k++)
		if (live[k].p) {
			bad += check_live(&live[k]);
			free(live[k].p);
		}
	pthread_mutex_lock(&bad_lock);
	alloc_bad += bad;
	alloc_fail += fail;
	pthread_mutex_unlock(&bad_lock);
	return NULL;
}

static void test_concurrent_alloc(void)
{
	struct sbma_stats s0 = tc_stats();
	pthread_t ev, th[NA];
	stop_evictor = 0;
	CU_ASSERT_EQUAL_FATAL(pthread_create(&ev, NULL, evictor, NULL), 0);
	for (int t = 0; t < NA; t++)
		CU_ASSERT_EQUAL_FATAL(pthread_create(&th[t], NULL, allocator, (void *)(intptr_t)t), 0);
	for (int t = 0; t < NA; t++)
		pthread_join(th[t], NULL);
	__atomic_store_n(&stop_evictor, 1, __ATOMIC_RELEASE);
	pthread_join(ev, NULL);
	struct sbma_stats s1 = tc_stats();
	CU_ASSERT_EQUAL(alloc_bad, 0);
	CU_ASSERT_EQUAL(alloc_fail, 0);
	CU_ASSERT_EQUAL(evict_errors, 0);
	CU_ASSERT_EQUAL(s1.allocations, s0.allocations);
	CU_ASSERT_EQUAL(s1.allocated, s0.allocated);
}

int main(int argc, char **argv)
{
	static const char *const defaults[] = { "SBMA_BUDGET", "16M", NULL };
	(void)argc;
	tc_crash_report(tc_current_test);
	cfg = tc_start(argv, defaults, "test_threads");
	psz = cfg.page_size;
	if (psz < 4096 || psz % 4096) {
		fprintf(stderr, "test_threads: page size %zu not a multiple of 4 KiB\n", psz);
		return 1;
	}
	CU_TestInfo tests[] = {
		{ "8 threads fault while evict_all loops", test_shared_faults },
		{ "concurrent malloc/free/realloc", test_concurrent_alloc },
		CU_TEST_INFO_NULL,
	};
	return tc_run("threads", tests);
}
