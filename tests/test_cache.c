/*
 * test_cache.c - the free-extent cache (src/cache.c): freed extents kept in
 * RAM for the next malloc.
 *
 *   - reuse: a malloc after a free of the same size gets the same pages
 *     back without a single fault, the resident total unchanged; data
 *     written there survives sbma_evict_all and reads back bit-exact; a
 *     smaller malloc takes the front of a cached extent and the next one
 *     its tail; realloc growth and shrink keep the data.
 *   - calloc never takes a cached extent: zeros after a free of data.
 *   - pressure: the cached bytes (the "cached" line of sbma_print_stats)
 *     are the first to go when a fault needs room (they must be 0 after
 *     touching more than the budget, with no load past the budget and the
 *     peak resident within it), and sbma_evict_all drops them.
 *   - use after free: a freed extent's writable pages stay open while it
 *     is cached (no mprotect at free and reuse), but once the cache gives
 *     it back (sbma_evict_all) a write to it kills the process with
 *     SIGSEGV (a forked child tries it): the open pages were closed
 *     before the memfd was punched.
 *   - fork: the parent gives its cache back before the child copies, so
 *     the child holds no resident memory it did not copy.
 *   - threads: four threads each keep two blocks of 1-6 MiB (more than the
 *     budget in all), and free, malloc, fill and check them whole, so that
 *     reuse, drops under pressure and evictions of reused (dirty) pages run
 *     at once; every byte must read back as written.
 * Run alone it uses SBMA_BUDGET=32M (the cache bound is then 4 MiB).
 *
 * Under SBMA_CHECK=1 (tests/cache-check.sh) the cache must keep nothing, so
 * that freed memory is gone at once; only that is tested then.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>

#include "test_common.h"

static struct sbma_config cfg;
static size_t psz;

/* A counter of sbma_print_stats by name (the cache's are not in struct
 * sbma_stats); -1 if missing. */
static long long print_stat(const char *name)
{
	FILE *f = tmpfile();
	if (!f)
		return -1;
	sbma_print_stats(fileno(f));
	rewind(f);
	char line[256], key[64];
	long long v = -1, x;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "sbma: %63s %lld", key, &x) == 2 && !strcmp(key, name))
			v = x;
	fclose(f);
	return v;
}

static uint64_t faults(const struct sbma_stats *s)
{
	return s->faults_read + s->faults_write + s->faults_upgrade;
}

/* Every test starts with an empty cache. */
static void empty_cache(void)
{
	CU_ASSERT(sbma_evict_all() >= 0);
	CU_ASSERT_EQUAL(print_stat("cached"), 0);
}

/* A block of len bytes filled with `byte`, then freed: the cache holds it
 * (the cache is emptied first). Returns where it was. */
static char *cached_block(size_t len, int byte)
{
	empty_cache();
	char *p = sbma_malloc(len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	memset(p, byte, len);
	sbma_free(p);
	CU_ASSERT_EQUAL(print_stat("cached"), (long long)len);
	return p;
}

static void test_reuse(void)
{
	empty_cache();
	size_t len = 4 * MiB;
	char *p = sbma_malloc(len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	tc_fill(p, len, 1, 1, 0);
	struct sbma_stats s0 = tc_stats();
	sbma_free(p);
	CU_ASSERT_EQUAL(print_stat("cached"), (long long)len);
	char *q = sbma_malloc(len);
	CU_ASSERT_PTR_EQUAL(q, p);
	CU_ASSERT_PTR_NOT_NULL_FATAL(q);
	struct sbma_stats s1 = tc_stats();
	CU_ASSERT_EQUAL(s1.resident, s0.resident);
	CU_ASSERT_EQUAL(print_stat("cached"), 0);
	tc_fill(q, len, 1, 2, 0);
	struct sbma_stats s2 = tc_stats();
	CU_ASSERT_EQUAL(faults(&s2), faults(&s1)); /* writable at once */
	CU_ASSERT_EQUAL(tc_check(q, len, 1, 2, 0, "reused"), 0);
	/* Reused pages are dirty: they go to the store and come back. */
	CU_ASSERT(sbma_evict_all() >= (int64_t)len);
	CU_ASSERT_EQUAL(tc_stats().resident, 0);
	CU_ASSERT_EQUAL(tc_check(q, len, 1, 2, 0, "reused, evicted"), 0);
	sbma_free(q);

	/* Front and tail of one cached extent. */
	empty_cache();
	p = sbma_malloc(len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	memset(p, 0x5a, len);
	sbma_free(p);
	char *a = sbma_malloc(len / 4), *b = sbma_malloc(len / 2);
	CU_ASSERT_PTR_EQUAL(a, p);
	CU_ASSERT_PTR_EQUAL(b, p + len / 4);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	CU_ASSERT_EQUAL(print_stat("cached"), (long long)(len / 4));
	tc_fill(a, len / 4, 2, 1, 0);
	tc_fill(b, len / 2, 3, 1, 0);
	CU_ASSERT_EQUAL(tc_check(a, len / 4, 2, 1, 0, "front"), 0);
	CU_ASSERT_EQUAL(tc_check(b, len / 2, 3, 1, 0, "tail"), 0);
	/* realloc of a reused block: grown (moved or not) and shrunk. */
	char *g = sbma_realloc(a, 2 * len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(g);
	CU_ASSERT_EQUAL(tc_check(g, len / 4, 2, 1, 0, "grown"), 0);
	char *h = sbma_realloc(g, psz);
	CU_ASSERT_PTR_EQUAL(h, g);
	CU_ASSERT_EQUAL(tc_check(h, psz, 2, 1, 0, "shrunk"), 0);
	CU_ASSERT_EQUAL(tc_check(b, len / 2, 3, 1, 0, "tail, after realloc"), 0);
	sbma_free(h);
	sbma_free(b);
}

static void test_calloc_zero(void)
{
	size_t len = 2 * MiB;
	char *p = cached_block(len, 0xff);
	char *c = sbma_calloc(1, len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(tc_nonzero(c, len), 0);
	CU_ASSERT_EQUAL(print_stat("cached"), (long long)len); /* not taken */
	sbma_free(c);
}

static void test_pressure(void)
{
	empty_cache();
	size_t keep = (size_t)(cfg.budget / 8);
	char *p = sbma_malloc(keep);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	memset(p, 1, keep);
	sbma_free(p);
	CU_ASSERT_EQUAL(print_stat("cached"), (long long)keep);
	struct sbma_stats s0 = tc_stats();
	CU_ASSERT_EQUAL(s0.resident, keep);
	/* More than the budget, touched page by page. */
	size_t big = (size_t)cfg.budget + cfg.budget / 2;
	char *q = sbma_calloc(1, big);
	CU_ASSERT_PTR_NOT_NULL_FATAL(q);
	uint64_t peak = 0;
	for (size_t off = 0; off < big; off += psz) {
		q[off] = 1;
		uint64_t r = tc_stats().resident;
		if (r > peak)
			peak = r;
	}
	struct sbma_stats s1 = tc_stats();
	CU_ASSERT(peak <= cfg.budget);
	CU_ASSERT_EQUAL(s1.over_budget, s0.over_budget);
	CU_ASSERT_EQUAL(print_stat("cached"), 0);
	CU_ASSERT(print_stat("cache_drops") > 0);
	sbma_free(q);

	/* sbma_evict_all gives the cache back too. */
	p = sbma_malloc(keep);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	memset(p, 1, keep);
	sbma_free(p);
	CU_ASSERT_EQUAL(print_stat("cached"), (long long)keep);
	CU_ASSERT(sbma_evict_all() >= 0);
	CU_ASSERT_EQUAL(print_stat("cached"), 0);
	CU_ASSERT_EQUAL(tc_stats().resident, 0);
}

static void test_use_after_free(void)
{
	empty_cache();
	fflush(NULL);
	pid_t pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		size_t len = 2 * MiB;
		volatile char *p = sbma_malloc(len);
		if (!p)
			_exit(2);
		memset((char *)p, 3, len);
		sbma_free((char *)p);
		if (print_stat("cached") != (long long)len)
			_exit(3); /* not cached: the test would prove nothing */
		if (sbma_evict_all() < 0 || print_stat("cached") != 0)
			_exit(4);
		p[len / 2] = 4;
		_exit(0);
	}
	int st;
	CU_ASSERT_EQUAL_FATAL(waitpid(pid, &st, 0), pid);
	CU_ASSERT(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);
	if (!WIFSIGNALED(st))
		fprintf(stderr, "  child exited with %d\n", WEXITSTATUS(st));
}

static void test_fork(void)
{
	size_t len = 2 * MiB;
	char *p = cached_block(len, 5);
	fflush(NULL);
	pid_t pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		/* Nothing live, nothing cached: nothing resident. */
		if (tc_stats().resident != 0 || print_stat("cached") != 0)
			_exit(3);
		char *q = sbma_malloc(len);
		if (!q)
			_exit(2);
		tc_fill(q, len, 6, 1, 0);
		_exit(tc_check(q, len, 6, 1, 0, "child") ? 4 : 0);
	}
	int st;
	CU_ASSERT_EQUAL_FATAL(waitpid(pid, &st, 0), pid);
	CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CU_ASSERT_EQUAL(print_stat("cached"), 0);
	CU_ASSERT_EQUAL(tc_stats().resident, 0);
	char *r = sbma_malloc(len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	tc_fill(r, len, 7, 1, 0);
	CU_ASSERT_EQUAL(tc_check(r, len, 7, 1, 0, "parent"), 0);
	sbma_free(r);
}

#define NTHREADS 4

static void *churn(void *arg)
{
	uint64_t t = (uint64_t)(intptr_t)arg, rs = 991 + t * 7919;
	struct {
		char *p;
		size_t n;
		uint64_t ver;
	} b[2] = {{0}};
	size_t bad = 0;
	for (uint64_t i = 1; i <= 40 && !bad; i++) {
		int k = (int)(i & 1);
		if (b[k].p) {
			bad += tc_check(b[k].p, b[k].n, 100 + t, b[k].ver, 0, "churn");
			sbma_free(b[k].p);
		}
		b[k].n = (1 + tc_rand(&rs) % 6) * MiB - (tc_rand(&rs) % 4) * psz;
		b[k].ver = i;
		b[k].p = sbma_malloc(b[k].n);
		if (!b[k].p)
			return (void *)(intptr_t)1;
		tc_fill(b[k].p, b[k].n, 100 + t, i, 0);
	}
	for (int k = 0; k < 2; k++)
		if (b[k].p) {
			bad += tc_check(b[k].p, b[k].n, 100 + t, b[k].ver, 0, "churn, end");
			sbma_free(b[k].p);
		}
	return (void *)(intptr_t)(bad != 0);
}

static void test_threads(void)
{
	empty_cache();
	struct sbma_stats s0 = tc_stats();
	pthread_t th[NTHREADS];
	for (intptr_t t = 0; t < NTHREADS; t++)
		CU_ASSERT_EQUAL_FATAL(pthread_create(&th[t], NULL, churn, (void *)t), 0);
	for (int t = 0; t < NTHREADS; t++) {
		void *rc;
		CU_ASSERT_EQUAL(pthread_join(th[t], &rc), 0);
		CU_ASSERT_PTR_NULL(rc);
	}
	struct sbma_stats s1 = tc_stats();
	CU_ASSERT_EQUAL(s1.allocations, s0.allocations);
	CU_ASSERT(print_stat("cache_hits") > 0);
	CU_ASSERT(s1.pages_evicted > s0.pages_evicted); /* there was pressure */
	CU_ASSERT(sbma_evict_all() >= 0);
	CU_ASSERT_EQUAL(tc_stats().resident, 0);
}

/* SBMA_CHECK=1: a freed block leaves RAM at once and the next malloc of
 * its size starts from fresh pages (it faults again). */
static void test_check_keeps_nothing(void)
{
	size_t len = 4 * MiB;
	struct sbma_stats s0 = tc_stats();
	char *p = sbma_malloc(len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	tc_fill(p, len, 1, 1, 0);
	sbma_free(p);
	CU_ASSERT_EQUAL(print_stat("cached"), 0);
	CU_ASSERT_EQUAL(tc_stats().resident, s0.resident);
	char *q = sbma_malloc(len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(q);
	struct sbma_stats s1 = tc_stats();
	tc_fill(q, len, 1, 2, 0);
	struct sbma_stats s2 = tc_stats();
	CU_ASSERT(faults(&s2) > faults(&s1));
	CU_ASSERT_EQUAL(tc_check(q, len, 1, 2, 0, "after free, SBMA_CHECK=1"), 0);
	sbma_free(q);
	CU_ASSERT_EQUAL(print_stat("cache_hits"), 0);
}

int main(int argc, char **argv)
{
	static const char *const defaults[] = { "SBMA_BUDGET", "32M", NULL };
	(void)argc;
	cfg = tc_start(argv, defaults, "test_cache");
	psz = cfg.page_size;
	const char *check = getenv("SBMA_CHECK");
	if (check && strcmp(check, "1") == 0) {
		CU_TestInfo only[] = {
			{ "SBMA_CHECK=1 keeps nothing", test_check_keeps_nothing },
			CU_TEST_INFO_NULL,
		};
		return tc_run("cache", only);
	}
	CU_TestInfo tests[] = {
		{ "free+malloc reuses the pages", test_reuse },
		{ "calloc gives zeros", test_calloc_zero },
		{ "cached pages go first under pressure", test_pressure },
		{ "use after the cache gives it back faults", test_use_after_free },
		{ "fork gives the cache back", test_fork },
		{ "threads: reuse, drops and evictions at once", test_threads },
		CU_TEST_INFO_NULL,
	};
	return tc_run("cache", tests);
}
