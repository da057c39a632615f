/*
 * test_common.h - helpers shared by the CUnit integration tests: the
 * reference data function (data is recomputed from (seed, version, word), so
 * no second copy of a region is kept), environment defaults applied by
 * re-executing the program (SBMA reads its settings once, at start-up, before
 * main runs), the kernel's view of the process (/proc/self/status,
 * /proc/self/maps), and a runner that turns CUnit failures into an exit
 * status.
 */
#ifndef SBMA_TEST_COMMON_H
#define SBMA_TEST_COMMON_H

#include <CUnit/Basic.h>
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crash_report.h"
#include "sbma.h"

#define MiB (1024ULL * 1024ULL)
#define KiB 1024ULL

static inline uint64_t tc_mix64(uint64_t x)
{
	x += 0x9E3779B97F4A7C15ULL;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
	return x ^ (x >> 31);
}

/* The reference value of word `word` of an object at version `ver`. */
static inline uint64_t tc_val(uint64_t seed, uint64_t ver, uint64_t word)
{
	return tc_mix64(seed ^ tc_mix64((ver << 40) ^ word));
}

static inline void tc_fill(void *p, size_t bytes, uint64_t seed, uint64_t ver, uint64_t word0)
{
	uint64_t *w = p;
	for (size_t i = 0; i < bytes / 8; i++)
		w[i] = tc_val(seed, ver, word0 + i);
}

/* Number of wrong words; the first one is reported on stderr. */
static inline size_t tc_check(const void *p, size_t bytes, uint64_t seed, uint64_t ver,
			      uint64_t word0, const char *what)
{
	const uint64_t *w = p;
	size_t bad = 0;
	for (size_t i = 0; i < bytes / 8; i++) {
		uint64_t want = tc_val(seed, ver, word0 + i);
		if (w[i] != want) {
			if (!bad)
				fprintf(stderr,
					"  %s: mismatch at %p (word %zu of %zu): got %016" PRIx64
					" want %016" PRIx64 "\n",
					what, (void *)&w[i], i, bytes / 8, w[i], want);
			bad++;
		}
	}
	return bad;
}

/* Number of non-zero bytes in [p, p+bytes). */
static inline size_t tc_nonzero(const void *p, size_t bytes)
{
	const unsigned char *c = p;
	size_t n = 0;
	for (size_t i = 0; i < bytes; i++)
		n += c[i] != 0;
	return n;
}

/* A small deterministic PRNG (xorshift64*), one state per thread. */
static inline uint64_t tc_rand(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

/*
 * Give each variable in defaults (NULL-terminated name/value pairs) its
 * default if the environment does not set it, then re-execute the program so
 * that SBMA, which reads its settings once before main, sees them. Variables
 * already set are kept: the wrapper scripts and the user choose.
 */
static inline void tc_env_defaults(char **argv, const char *const *defaults)
{
	int changed = 0;
	if (getenv("SBMA_TEST_REEXECED"))
		return;
	for (size_t i = 0; defaults[i]; i += 2) {
		if (!getenv(defaults[i])) {
			setenv(defaults[i], defaults[i + 1], 1);
			changed = 1;
		}
	}
	if (!changed)
		return;
	setenv("SBMA_TEST_REEXECED", "1", 1);
	execv("/proc/self/exe", argv);
	perror("execv /proc/self/exe");
	exit(99);
}

/* A field of /proc/self/status in KiB (e.g. "VmRSS:"), or -1. */
static inline long tc_status_kib(const char *field)
{
	char line[256];
	long v = -1;
	size_t n = strlen(field);
	FILE *f = fopen("/proc/self/status", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f)) {
		if (strncmp(line, field, n) == 0) {
			v = strtol(line + n, NULL, 10);
			break;
		}
	}
	fclose(f);
	return v;
}

/* Lines of /proc/self/maps (kernel memory areas), or -1. */
static inline long tc_count_maps(void)
{
	char buf[65536];
	long lines = 0;
	ssize_t r;
	FILE *f = fopen("/proc/self/maps", "r");
	if (!f)
		return -1;
	while ((r = (ssize_t)fread(buf, 1, sizeof buf, f)) > 0)
		for (ssize_t i = 0; i < r; i++)
			lines += buf[i] == '\n';
	fclose(f);
	return lines;
}

static inline long tc_read_long(const char *path, long dflt)
{
	long v = dflt;
	FILE *f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = dflt;
		fclose(f);
	}
	return v;
}

static inline struct sbma_config tc_config(void)
{
	struct sbma_config c;
	memset(&c, 0, sizeof c);
	int rc = sbma_get_config(&c);
	if (rc != 0) {
		fprintf(stderr, "sbma_get_config: %d\n", rc);
		exit(1);
	}
	return c;
}

static inline struct sbma_stats tc_stats(void)
{
	struct sbma_stats s;
	memset(&s, 0, sizeof s);
	CU_ASSERT_EQUAL_FATAL(sbma_stats(&s), 0);
	return s;
}

static inline void tc_print_config(const char *prog)
{
	struct sbma_config c = tc_config();
	fprintf(stderr,
		"%s: budget %" PRIu64 " page %zu min_alloc %zu readahead %zu read %s\n", prog,
		c.budget, c.page_size, c.min_alloc, c.readahead,
		c.read_policy == SBMA_READ_EAGER ? "eager" : "lazy");
}

/* The start of a test program: defaults for the SBMA_* variables the
 * environment leaves unset (tc_env_defaults), then the engine's
 * configuration, printed under the program's name and returned. */
static inline struct sbma_config tc_start(char **argv, const char *const *defaults, const char *prog)
{
	tc_env_defaults(argv, defaults);
	tc_print_config(prog);
	return tc_config();
}

static inline double tc_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Wall time of each test (CUnit's "Elapsed time" is CPU time). */
static double tc_t0;
static inline void tc_setup(void)
{
	tc_t0 = tc_now();
}
static inline void tc_teardown(void)
{
	fprintf(stderr, "  (%.1f s wall) ", tc_now() - tc_t0);
}

/*
 * Whether the test `name` is in SBMA_TEST_SKIP, a list of test names
 * separated by ';'. The sanitizer stages of the CI (.ci/run) use it to
 * leave out the tests a sanitizer cannot run (its malloc takes the place
 * of SBMA's, say); each program's other tests still run.
 */
static inline int tc_skipped(const char *name)
{
	const char *list = getenv("SBMA_TEST_SKIP");
	size_t n = strlen(name);
	while (list && *list) {
		const char *end = strchr(list, ';');
		size_t len = end ? (size_t)(end - list) : strlen(list);
		if (len == n && strncmp(list, name, n) == 0)
			return 1;
		list = end ? end + 1 : NULL;
	}
	return 0;
}

/* What tc_crash_report() names as the place of a crash: the CUnit test. */
static inline const char *tc_current_test(void)
{
	CU_pTest t = CU_get_current_test();
	return t && t->pName ? t->pName : "(none)";
}

/*
 * Run one suite; return the process exit status: 0 if every assertion
 * passed, 1 otherwise (CUnit's basic runner alone always exits 0), 77
 * (skip) if SBMA_TEST_SKIP names every test.
 */
static inline int tc_run(const char *suite, CU_TestInfo *all)
{
	size_t n = 0, kept = 0;
	while (all[n].pName)
		n++;
	CU_TestInfo tests[n + 1]; /* no malloc: some tests count SBMA's */
	for (size_t i = 0; i < n; i++) {
		if (tc_skipped(all[i].pName))
			fprintf(stderr, "skipped (SBMA_TEST_SKIP): %s\n", all[i].pName);
		else
			tests[kept++] = all[i];
	}
	if (kept == 0)
		return 77;
	tests[kept] = all[n]; /* the terminator */
	CU_SuiteInfo suites[] = {
		{ suite, NULL, NULL, tc_setup, tc_teardown, tests },
		CU_SUITE_INFO_NULL,
	};
	/* A hang (say, a fault that never resolves) must fail the test rather
	 * than stall make check: SIGALRM's default action ends the process. */
	const char *limit = getenv("SBMA_TEST_TIMEOUT");
	alarm(limit ? (unsigned)atoi(limit) : 300);
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	if (CU_register_suites(suites) != CUE_SUCCESS) {
		CU_cleanup_registry();
		return 1;
	}
	/* Unbuffered: CUnit writes "Test: name ..." to stdout (the newline
	 * comes with the result), which a log file would otherwise buffer; a
	 * crash would lose it, and with it which test was running. */
	setvbuf(stdout, NULL, _IONBF, 0);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	unsigned run = CU_get_number_of_tests_run();
	CU_cleanup_registry();
	if (run == 0)
		return 1;
	return failed ? 1 : 0;
}

#endif /* SBMA_TEST_COMMON_H */
