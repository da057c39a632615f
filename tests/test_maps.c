/*
 * test_maps.c - page-granular protection never runs the process out of
 * kernel memory areas. With 4 KiB SBMA pages and a 256 MiB budget, writes at
 * random 4 KiB pages of a 2 GiB region (every write a fault, resident and
 * non-resident pages interleaved page by page; 40000 writes) would split the
 * region into some 80000 protection runs if nothing coarsened them; the
 * kernel refuses mprotect past vm.max_map_count (65530 by default) and that
 * must never become a crash or a failed operation. The test reads
 * /proc/self/maps every few thousand writes and asserts the number of areas
 * stays below vm.max_map_count - 1000, and below SBMA_MAX_MAPS + the areas
 * the process had before (+ 256 for libraries and threads) when that variable
 * is set; that sbma_stats().maps agrees with it; that every sbma_evict_all()
 * succeeds; that coarsening did happen (else the test proved nothing); and,
 * at the end, that every written page holds what was last written to it and
 * that never-written pages (every 64th checked) read zero. Run alone it uses
 * SBMA_PAGE=4K, SBMA_BUDGET=256M and SBMA_DIR=/dev/shm: the property tested
 * does not depend on the store, and on a file system mounted with -o discard
 * freeing tens of thousands of scattered 4 KiB extents (the hole punch at
 * free) alone takes 10-20 s.
 */
#define _GNU_SOURCE
#include "test_common.h"

static struct sbma_config cfg;

static void test_random_pages(void)
{
	const size_t region = 2048 * MiB;
	const size_t pg = 4096;
	const size_t npages = region / pg;
	const int writes = 40000;
	long max_map_count = tc_read_long("/proc/sys/vm/max_map_count", 65530);
	const char *mm = getenv("SBMA_MAX_MAPS");
	long sbma_max = mm ? atol(mm) : 0;
	long base = tc_count_maps();
	long peak = base;
	uint64_t rs = 4242;
	size_t bad = 0;

	uint8_t *ver = calloc(npages, 1); /* 512 KiB: below min_alloc, libc */
	CU_ASSERT_PTR_NOT_NULL_FATAL(ver);
	char *p = sbma_malloc(region);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT(sbma_owns(p));

	double t0 = tc_now();
	for (int i = 0; i < writes; i++) {
		size_t k = tc_rand(&rs) % npages;
		ver[k]++;
		if (!ver[k])
			ver[k] = 1;
		/* The first and the last word of the page. */
		uint64_t *w = (uint64_t *)(p + k * pg);
		w[0] = tc_val(1, ver[k], k);
		w[pg / 8 - 1] = tc_val(2, ver[k], k);
		/* A read of a random page, checked. */
		if (i % 4 == 0) {
			size_t j = tc_rand(&rs) % npages;
			uint64_t *v = (uint64_t *)(p + j * pg);
			uint64_t want0 = ver[j] ? tc_val(1, ver[j], j) : 0;
			if (v[0] != want0)
				bad++;
		}
		if (i % 5000 == 0 || i == writes - 1) {
			long n = tc_count_maps();
			if (n > peak)
				peak = n;
			if (i % 15000 == 0)
				CU_ASSERT(sbma_evict_all() >= 0);
		}
	}
	struct sbma_stats s = tc_stats();
	long now = tc_count_maps();
	fprintf(stderr,
		"  maps: base %ld peak %ld now %ld; stats.maps %" PRIu64 " coarsenings %" PRIu64
		" faults w %" PRIu64 " evicted %" PRIu64 " pages\n",
		base, peak, now, s.maps, s.coarsenings, s.faults_write, s.pages_evicted);
	CU_ASSERT(peak < max_map_count - 1000);
	if (sbma_max > 0)
		CU_ASSERT(peak <= base + sbma_max + 256);
	CU_ASSERT(s.maps <= (uint64_t)now);
	CU_ASSERT(s.pages_evicted > 0);
	/* 40000 scattered pages are far more runs than the default limit
	 * (half of vm.max_map_count): SBMA must have coarsened. */
	if (sbma_max == 0 || sbma_max < writes)
		CU_ASSERT(s.coarsenings > 0);
	CU_ASSERT(s.peak_resident <= cfg.budget + cfg.readahead + cfg.page_size);

	double t1 = tc_now();
	/* Verify every written page and every 64th unwritten one (each
	 * visit to an unwritten page is a fault too), in address order. */
	size_t visited = 0;
	for (size_t k = 0; k < npages; k++) {
		if (!ver[k] && k % 64)
			continue;
		visited++;
		uint64_t *w = (uint64_t *)(p + k * pg);
		uint64_t want0 = ver[k] ? tc_val(1, ver[k], k) : 0;
		uint64_t want1 = ver[k] ? tc_val(2, ver[k], k) : 0;
		if (w[0] != want0 || w[pg / 8 - 1] != want1) {
			if (!bad)
				fprintf(stderr, "  page %zu: got %016" PRIx64 " want %016" PRIx64 "\n",
					k, w[0], want0);
			bad++;
		}
	}
	now = tc_count_maps();
	fprintf(stderr, "  writes %.1f s, verify %.1f s (%zu pages), maps after verify %ld\n",
		t1 - t0, tc_now() - t1, visited, now);
	CU_ASSERT(now < max_map_count - 1000);
	CU_ASSERT_EQUAL(bad, 0);
	double t2 = tc_now();
	CU_ASSERT(sbma_evict_all() >= 0);
	double t3 = tc_now();
	sbma_free(p);
	fprintf(stderr, "  evict_all %.1f s, free %.1f s\n", t3 - t2, tc_now() - t3);
	free(ver);
	/* After the free the areas go back near the baseline. */
	now = tc_count_maps();
	CU_ASSERT(now <= base + 64);
}

int main(int argc, char **argv)
{
	static const char *const defaults[] = { "SBMA_PAGE", "4K", "SBMA_BUDGET", "256M",
						"SBMA_DIR", "/dev/shm", NULL };
	static const char *const defaults_noshm[] = { "SBMA_PAGE", "4K", "SBMA_BUDGET", "256M",
						      NULL };
	(void)argc;
	tc_env_defaults(argv, access("/dev/shm", W_OK) == 0 ? defaults : defaults_noshm);
	cfg = tc_config();
	tc_print_config("test_maps");
	CU_TestInfo tests[] = {
		{ "random 4K writes over 2 GiB stay below max_map_count", test_random_pages },
		CU_TEST_INFO_NULL,
	};
	return tc_run("maps", tests);
}
