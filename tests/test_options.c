/*
 * test_options.c - the SBMA_* variables: sbma__parse_size on good and bad
 * sizes, sbma__options_load on every variable with good values, garbage,
 * zero, negative, overflowing and out-of-range values (each bad one must
 * give -EINVAL and exactly one line on stderr that names the variable and
 * the value), the layering defaults < struct sbma_config < environment, the
 * SBMA_VERBOSE listing (every variable, and each one documented in
 * docs/environment.md), and the sanity of sbma__node_memory and
 * sbma__cgroup_limit.
 *
 * The error lines are captured by pointing fd 2 at a temporary file around
 * the call, since sbma__log writes with write(2).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "sbma_internal.h"

static const char *const vars[] = {
	"SBMA_BUDGET", "SBMA_PAGE", "SBMA_MIN_ALLOC", "SBMA_READAHEAD",
	"SBMA_ARENA", "SBMA_DIR", "SBMA_READ", "SBMA_DIRECT", "SBMA_VERBOSE",
	"SBMA_STATS", "SBMA_CHECK", "SBMA_MAX_MAPS", "SBMA_JOB", "SBMA_EVICT",
	"SBMA_NODE_TIMEOUT", "SBMA_UNLOCKED_IO",
};
#define NVARS (sizeof vars / sizeof vars[0])

static char msg[8192]; /* what the last captured call wrote to stderr */
static char tmpdir_saved[PATH_MAX];
static int tmpdir_was_set;

static void clear_env(void)
{
	for (size_t i = 0; i < NVARS; i++)
		unsetenv(vars[i]);
	if (tmpdir_was_set)
		setenv("TMPDIR", tmpdir_saved, 1);
	else
		unsetenv("TMPDIR");
}

/* Run sbma__options_load(cfg) with stderr captured into msg. */
static int load_captured(const struct sbma_config *cfg)
{
	char path[] = "/tmp/sbma-test-options-XXXXXX";
	int fd = mkstemp(path), saved, rc;
	ssize_t n;

	msg[0] = '\0';
	if (fd < 0)
		return -9999;
	unlink(path);
	fflush(stderr);
	saved = dup(2);
	dup2(fd, 2);
	rc = sbma__options_load(cfg);
	dup2(saved, 2);
	close(saved);
	n = pread(fd, msg, sizeof msg - 1, 0);
	msg[n > 0 ? n : 0] = '\0';
	close(fd);
	return rc;
}

static int count_lines(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* Setting var=value alone must fail with -EINVAL and one line naming
 * var='value'. */
static void expect_bad(const char *var, const char *value)
{
	char want[512];

	clear_env();
	setenv(var, value, 1);
	int rc = load_captured(NULL);
	snprintf(want, sizeof want, "%s='%s'", var, value);
	CU_ASSERT_EQUAL(rc, -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, want));
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "expected"));
	CU_ASSERT_EQUAL(count_lines(msg), 1);
	if (rc != -EINVAL || !strstr(msg, want) || count_lines(msg) != 1)
		fprintf(stderr, "\n  %s='%s': rc %d, message: %s", var, value, rc, msg);
	unsetenv(var);
}

/* Setting var=value alone must succeed, silently. */
static void expect_good(const char *var, const char *value)
{
	clear_env();
	setenv(var, value, 1);
	int rc = load_captured(NULL);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_STRING_EQUAL(msg, "");
	if (rc != 0)
		fprintf(stderr, "\n  %s='%s': rc %d, message: %s", var, value, rc, msg);
}

static uint64_t meminfo_total(void)
{
	char buf[256];
	FILE *f = fopen("/proc/meminfo", "r");
	unsigned long long kb = 0;

	while (f && fgets(buf, sizeof buf, f))
		if (sscanf(buf, "MemTotal: %llu kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return (uint64_t)kb * 1024;
}

static uint64_t max_map_count(void)
{
	FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
	unsigned long long m = 65530;

	if (f) {
		if (fscanf(f, "%llu", &m) != 1)
			m = 65530;
		fclose(f);
	}
	return m;
}

/* ---- sbma__parse_size ---- */

static void size_is(const char *s, uint64_t want)
{
	uint64_t v = 12345;
	int rc = sbma__parse_size(s, &v, NULL);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_EQUAL(v, want);
	if (rc != 0 || v != want)
		fprintf(stderr, "\n  parse_size(\"%s\"): rc %d, %llu, want %llu", s, rc,
			(unsigned long long)v, (unsigned long long)want);
}

static void size_fails(const char *s, int want_rc, int allow_pct)
{
	uint64_t v;
	unsigned pct;
	int rc = sbma__parse_size(s, &v, allow_pct ? &pct : NULL);
	CU_ASSERT_EQUAL(rc, want_rc);
	if (rc != want_rc)
		fprintf(stderr, "\n  parse_size(\"%s\"): rc %d, want %d", s, rc, want_rc);
}

static void test_parse_plain(void)
{
	size_is("0", 0);
	size_is("1", 1);
	size_is("123", 123);
	size_is("4096B", 4096);
	size_is("4096b", 4096);
	size_is("18446744073709551615", UINT64_MAX);
	size_is("007", 7);
}

static void test_parse_suffixes(void)
{
	size_is("64K", 65536);
	size_is("64k", 65536);
	size_is("64KB", 65536);
	size_is("64kb", 65536);
	size_is("64KiB", 65536);
	size_is("64kib", 65536);
	size_is("64KIB", 65536);
	size_is("1M", 1 << 20);
	size_is("3m", 3 << 20);
	size_is("2MiB", 2 << 20);
	size_is("1G", (uint64_t)1 << 30);
	size_is("2GiB", (uint64_t)2 << 30);
	size_is("1T", (uint64_t)1 << 40);
	size_is("1t", (uint64_t)1 << 40);
	size_is("16777215T", UINT64_MAX - ((uint64_t)1 << 40) + 1);
}

static void test_parse_fractions(void)
{
	size_is("1.5G", (uint64_t)3 << 29);
	size_is("0.5K", 512);
	size_is("0.25M", 1 << 18);
	size_is("1.0001K", 1024);       /* 1024.1024: rounded down */
	size_is("0.001K", 1);           /* 1.024 */
	size_is("0.0009K", 0);          /* 0.9216 */
	size_is("1.9", 1);              /* bytes: the fraction is dropped */
	size_is("2.75T", (uint64_t)11 << 38);
	/* One byte exactly, written out in full: every digit counts. */
	size_is("0.0000000000009094947017729282379150390625T", 1);
	size_is("0.0000000000009094947017729282379150390624T", 0);
	/* The largest value there is, reached by a fraction. */
	size_is("16777215.99999999999999999999999999999999999999999T", UINT64_MAX);
}

static void test_parse_percent(void)
{
	uint64_t v = 1;
	unsigned pct = 0;

	CU_ASSERT_EQUAL(sbma__parse_size("50%", &v, &pct), 0);
	CU_ASSERT_EQUAL(pct, 50);
	CU_ASSERT_EQUAL(v, 0);
	CU_ASSERT_EQUAL(sbma__parse_size("1%", &v, &pct), 0);
	CU_ASSERT_EQUAL(pct, 1);
	CU_ASSERT_EQUAL(sbma__parse_size("100%", &v, &pct), 0);
	CU_ASSERT_EQUAL(pct, 100);
	/* A size where a percentage is allowed: pct says "not a percentage". */
	CU_ASSERT_EQUAL(sbma__parse_size("8G", &v, &pct), 0);
	CU_ASSERT_EQUAL(pct, 0);
	CU_ASSERT_EQUAL(v, (uint64_t)8 << 30);
}

static void test_parse_bad(void)
{
	size_fails("", -EINVAL, 0);
	size_fails("", -EINVAL, 1);
	size_fails("abc", -EINVAL, 0);
	size_fails("K", -EINVAL, 0);
	size_fails("-1", -EINVAL, 0);
	size_fails("-64K", -EINVAL, 0);
	size_fails("+1", -EINVAL, 0);
	size_fails(" 64K", -EINVAL, 0);
	size_fails("64K ", -EINVAL, 0);
	size_fails("12Kx", -EINVAL, 0);
	size_fails("64KiBx", -EINVAL, 0);
	size_fails("64KK", -EINVAL, 0);
	size_fails("64Q", -EINVAL, 0);
	size_fails("1iB", -EINVAL, 0);
	size_fails("1.", -EINVAL, 0);
	size_fails("1.G", -EINVAL, 0);
	size_fails(".5G", -EINVAL, 0);
	size_fails("1.5.5G", -EINVAL, 0);
	size_fails("1,5G", -EINVAL, 0);
	size_fails("0x10", -EINVAL, 0);
	size_fails("1e9", -EINVAL, 0);
	/* Junk after a huge number is junk first. */
	size_fails("99999999999999999999x", -EINVAL, 0);
}

static void test_parse_overflow(void)
{
	size_fails("99999999999999999999T", -ERANGE, 0);
	size_fails("18446744073709551616", -ERANGE, 0);
	size_fails("17179869184G", -ERANGE, 0);
	size_fails("16777216T", -ERANGE, 0);
	size_fails("16777216.5T", -ERANGE, 0);
	size_fails("99999999999999999999999999999999", -ERANGE, 0);
}

static void test_parse_bad_percent(void)
{
	size_fails("0%", -ERANGE, 1);
	size_fails("101%", -ERANGE, 1);
	size_fails("99999999999999999999%", -ERANGE, 1);
	size_fails("50%", -EINVAL, 0);      /* not allowed here */
	size_fails("%", -EINVAL, 1);
	size_fails("-5%", -EINVAL, 1);
	size_fails("12.5%", -EINVAL, 1);
	size_fails("50%x", -EINVAL, 1);
	size_fails("50K%", -EINVAL, 1);
	size_fails("50 %", -EINVAL, 1);
}

/* ---- sbma__options_load ---- */

static void test_defaults(void)
{
	clear_env();
	unsetenv("TMPDIR");
	CU_ASSERT_EQUAL_FATAL(load_captured(NULL), 0);
	CU_ASSERT_STRING_EQUAL(msg, "");
	CU_ASSERT_EQUAL(sbma__opt.page_size, 65536);
	CU_ASSERT_EQUAL(sbma__opt.min_alloc, 1 << 20);
	CU_ASSERT_EQUAL(sbma__opt.readahead, 4 << 20);
	CU_ASSERT_EQUAL(sbma__opt.arena_size, (uint64_t)1 << 40);
	CU_ASSERT_EQUAL(sbma__opt.budget_pct, 50);
	uint64_t node = sbma__node_memory();
	CU_ASSERT(sbma__opt.budget == node / 2 || sbma__opt.budget + 1 == node / 2 ||
		  sbma__opt.budget == node / 2 + 1);
	CU_ASSERT_STRING_EQUAL(sbma__opt.dir, "/tmp");
	CU_ASSERT_EQUAL(sbma__opt.read_policy, SBMA_READ_LAZY);
	CU_ASSERT_EQUAL(sbma__opt.direct_io, -1);
	CU_ASSERT_EQUAL(sbma__opt.verbose, 0);
	CU_ASSERT_EQUAL(sbma__opt.print_stats, 0);
	CU_ASSERT_EQUAL(sbma__opt.check, 0);
	uint64_t mmc = max_map_count();
	CU_ASSERT_EQUAL(sbma__opt.max_maps, mmc / 2 < 64 ? 64 : mmc / 2);
	clear_env();
}

static void test_empty_is_unset(void)
{
	clear_env();
	for (size_t i = 0; i < NVARS; i++)
		setenv(vars[i], "", 1);
	CU_ASSERT_EQUAL(load_captured(NULL), 0);
	CU_ASSERT_STRING_EQUAL(msg, "");
	CU_ASSERT_EQUAL(sbma__opt.page_size, 65536);
	CU_ASSERT_EQUAL(sbma__opt.budget_pct, 50);
	clear_env();
}

static void test_sizes_garbage(void)
{
	static const char *const sizes[] = {
		"SBMA_BUDGET", "SBMA_PAGE", "SBMA_MIN_ALLOC", "SBMA_READAHEAD", "SBMA_ARENA",
	};
	static const char *const bad[] = {
		"abc", "-1", "-64K", "12Kx", "99999999999999999999T", "1.5.5G", "64 K", "0x1000",
	};
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
		for (size_t j = 0; j < sizeof bad / sizeof bad[0]; j++)
			expect_bad(sizes[i], bad[j]);
	clear_env();
}

static void test_page(void)
{
	expect_good("SBMA_PAGE", "4096");
	CU_ASSERT_EQUAL(sbma__opt.page_size, 4096);
	expect_good("SBMA_PAGE", "1m");
	CU_ASSERT_EQUAL(sbma__opt.page_size, 1 << 20);
	expect_good("SBMA_PAGE", "64M");
	CU_ASSERT_EQUAL(sbma__opt.page_size, 64 << 20);
	/* The 4M default readahead is rounded up to a larger page. */
	expect_good("SBMA_PAGE", "8M");
	CU_ASSERT_EQUAL(sbma__opt.readahead, 8 << 20);
	expect_bad("SBMA_PAGE", "0");
	expect_bad("SBMA_PAGE", "2048");
	expect_bad("SBMA_PAGE", "12K");
	expect_bad("SBMA_PAGE", "128M");
	expect_bad("SBMA_PAGE", "50%");
	/* The message the documentation promises. */
	expect_bad("SBMA_PAGE", "abc");
	char want[200];
	snprintf(want, sizeof want, "SBMA_PAGE='abc': expected a size such as 64K, a multiple of the %zu-byte OS page and a power of two",
		 sbma__os_page_size());
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, want));
	clear_env();
}

static void test_budget(void)
{
	uint64_t node = sbma__node_memory();

	expect_good("SBMA_BUDGET", "1G");
	CU_ASSERT_EQUAL(sbma__opt.budget, (uint64_t)1 << 30);
	CU_ASSERT_EQUAL(sbma__opt.budget_pct, 0);
	expect_good("SBMA_BUDGET", "1.5G");
	CU_ASSERT_EQUAL(sbma__opt.budget, (uint64_t)3 << 29);
	expect_good("SBMA_BUDGET", "25%");
	CU_ASSERT_EQUAL(sbma__opt.budget_pct, 25);
	CU_ASSERT(sbma__opt.budget <= node / 4 + 1 && sbma__opt.budget + 1 >= node / 4);
	expect_good("SBMA_BUDGET", "100%");
	CU_ASSERT_EQUAL(sbma__opt.budget, node);
	expect_good("SBMA_BUDGET", "256K");   /* exactly 4 pages of 64K */
	expect_bad("SBMA_BUDGET", "255K");
	expect_bad("SBMA_BUDGET", "0");
	expect_bad("SBMA_BUDGET", "0%");
	expect_bad("SBMA_BUDGET", "101%");
	expect_bad("SBMA_BUDGET", "-5%");
	expect_bad("SBMA_BUDGET", "12.5%");
	/* 4 pages of the page in force, whatever it is. */
	clear_env();
	setenv("SBMA_PAGE", "1M", 1);
	setenv("SBMA_BUDGET", "3M", 1);
	CU_ASSERT_EQUAL(load_captured(NULL), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "SBMA_BUDGET='3M'"));
	setenv("SBMA_BUDGET", "4M", 1);
	CU_ASSERT_EQUAL(load_captured(NULL), 0);
	clear_env();
}

static void test_min_alloc(void)
{
	expect_good("SBMA_MIN_ALLOC", "4096");
	CU_ASSERT_EQUAL(sbma__opt.min_alloc, 4096);
	expect_good("SBMA_MIN_ALLOC", "256K");
	CU_ASSERT_EQUAL(sbma__opt.min_alloc, 256 << 10);
	expect_good("SBMA_MIN_ALLOC", "10000");
	expect_bad("SBMA_MIN_ALLOC", "0");
	expect_bad("SBMA_MIN_ALLOC", "4095");
	clear_env();
}

static void test_readahead(void)
{
	expect_good("SBMA_READAHEAD", "0");
	CU_ASSERT_EQUAL(sbma__opt.readahead, 0);
	expect_good("SBMA_READAHEAD", "64K");
	expect_good("SBMA_READAHEAD", "16M");
	CU_ASSERT_EQUAL(sbma__opt.readahead, 16 << 20);
	expect_bad("SBMA_READAHEAD", "100K");
	expect_bad("SBMA_READAHEAD", "4097");
	/* Checked against the page in force. */
	clear_env();
	setenv("SBMA_PAGE", "1M", 1);
	setenv("SBMA_READAHEAD", "512K", 1);
	CU_ASSERT_EQUAL(load_captured(NULL), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "SBMA_READAHEAD='512K'"));
	setenv("SBMA_READAHEAD", "2M", 1);
	CU_ASSERT_EQUAL(load_captured(NULL), 0);
	clear_env();
}

static void test_arena(void)
{
	expect_good("SBMA_ARENA", "64M");
	CU_ASSERT_EQUAL(sbma__opt.arena_size, 64 << 20);
	expect_good("SBMA_ARENA", "64T");
	/* Rounded up to whole SBMA pages. */
	expect_good("SBMA_ARENA", "100000000");
	CU_ASSERT_EQUAL(sbma__opt.arena_size % 65536, 0);
	CU_ASSERT(sbma__opt.arena_size >= 100000000 && sbma__opt.arena_size < 100000000 + 65536);
	expect_bad("SBMA_ARENA", "0");
	expect_bad("SBMA_ARENA", "63M");
	expect_bad("SBMA_ARENA", "65T");
	expect_bad("SBMA_ARENA", "16777215T");
	clear_env();
}

static void test_dir(void)
{
	char d[] = "/tmp/sbma-test-dir-XXXXXX", file[PATH_MAX];

	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(d));
	expect_good("SBMA_DIR", d);
	CU_ASSERT_STRING_EQUAL(sbma__opt.dir, d);
	expect_bad("SBMA_DIR", "/nonexistent/sbma");
	snprintf(file, sizeof file, "%s/file", d);
	int fd = open(file, O_CREAT | O_WRONLY, 0600);
	CU_ASSERT(fd >= 0);
	close(fd);
	expect_bad("SBMA_DIR", file);
	/* The default follows TMPDIR, and a bad TMPDIR is named as such. */
	clear_env();
	setenv("TMPDIR", d, 1);
	CU_ASSERT_EQUAL(load_captured(NULL), 0);
	CU_ASSERT_STRING_EQUAL(sbma__opt.dir, d);
	setenv("TMPDIR", "/nonexistent/tmp", 1);
	CU_ASSERT_EQUAL(load_captured(NULL), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "SBMA_DIR='/nonexistent/tmp' (the default, from TMPDIR)"));
	setenv("TMPDIR", "", 1);
	CU_ASSERT_EQUAL(load_captured(NULL), 0);
	CU_ASSERT_STRING_EQUAL(sbma__opt.dir, "/tmp");
	unlink(file);
	rmdir(d);
	clear_env();
}

static void test_enums(void)
{
	expect_good("SBMA_READ", "eager");
	CU_ASSERT_EQUAL(sbma__opt.read_policy, SBMA_READ_EAGER);
	expect_good("SBMA_READ", "LAZY");
	CU_ASSERT_EQUAL(sbma__opt.read_policy, SBMA_READ_LAZY);
	expect_bad("SBMA_READ", "sometimes");
	expect_bad("SBMA_READ", "1");
	expect_bad("SBMA_READ", "eager ");

	expect_good("SBMA_DIRECT", "on");
	CU_ASSERT_EQUAL(sbma__opt.direct_io, 1);
	expect_good("SBMA_DIRECT", "off");
	CU_ASSERT_EQUAL(sbma__opt.direct_io, 0);
	expect_good("SBMA_DIRECT", "Auto");
	CU_ASSERT_EQUAL(sbma__opt.direct_io, -1);
	expect_good("SBMA_DIRECT", "0");
	CU_ASSERT_EQUAL(sbma__opt.direct_io, 0);
	expect_bad("SBMA_DIRECT", "maybe");
	expect_bad("SBMA_DIRECT", "-1");
	clear_env();
}

static void test_bools(void)
{
	static const char *const b[] = { "SBMA_VERBOSE", "SBMA_STATS", "SBMA_CHECK" };
	static const char *const on[] = { "1", "yes", "YES", "true", "on", "On" };
	static const char *const off[] = { "0", "no", "false", "OFF" };
	static const char *const bad[] = { "2", "-1", "y", "enable", "1x", "01" };

	for (size_t i = 0; i < 3; i++) {
		for (size_t j = 0; j < sizeof on / sizeof on[0]; j++) {
			expect_good(b[i], on[j]);
			CU_ASSERT(sbma__opt.verbose + sbma__opt.print_stats + sbma__opt.check == 1);
		}
		for (size_t j = 0; j < sizeof off / sizeof off[0]; j++) {
			expect_good(b[i], off[j]);
			CU_ASSERT(sbma__opt.verbose + sbma__opt.print_stats + sbma__opt.check == 0);
		}
		for (size_t j = 0; j < sizeof bad / sizeof bad[0]; j++)
			expect_bad(b[i], bad[j]);
	}
	expect_good("SBMA_VERBOSE", "1");
	CU_ASSERT_EQUAL(sbma__opt.verbose, 1);
	expect_good("SBMA_STATS", "yes");
	CU_ASSERT_EQUAL(sbma__opt.print_stats, 1);
	expect_good("SBMA_CHECK", "true");
	CU_ASSERT_EQUAL(sbma__opt.check, 1);
	clear_env();
}

static void test_unlocked_io(void)
{
	expect_good("SBMA_UNLOCKED_IO", "off");
	CU_ASSERT_EQUAL(sbma__opt.unlocked_io, 0);
	expect_good("SBMA_UNLOCKED_IO", "on");
	CU_ASSERT_EQUAL(sbma__opt.unlocked_io, 1);
	expect_bad("SBMA_UNLOCKED_IO", "maybe");
	expect_bad("SBMA_UNLOCKED_IO", "2");
	clear_env();
}

static void test_max_maps(void)
{
	uint64_t mmc = max_map_count();
	char s[32];

	expect_good("SBMA_MAX_MAPS", "64");
	CU_ASSERT_EQUAL(sbma__opt.max_maps, 64);
	snprintf(s, sizeof s, "%llu", (unsigned long long)(mmc - 1));
	expect_good("SBMA_MAX_MAPS", s);
	CU_ASSERT_EQUAL(sbma__opt.max_maps, mmc - 1);
	snprintf(s, sizeof s, "%llu", (unsigned long long)mmc);
	expect_bad("SBMA_MAX_MAPS", s);
	expect_bad("SBMA_MAX_MAPS", "63");
	expect_bad("SBMA_MAX_MAPS", "0");
	expect_bad("SBMA_MAX_MAPS", "-100");
	expect_bad("SBMA_MAX_MAPS", "1K");
	expect_bad("SBMA_MAX_MAPS", "1000.5");
	expect_bad("SBMA_MAX_MAPS", "lots");
	expect_bad("SBMA_MAX_MAPS", "99999999999999999999999");
	clear_env();
}

static void test_node_settings(void)
{
	expect_good("SBMA_JOB", "run-42.a_b");
	CU_ASSERT_STRING_EQUAL(sbma__opt.job, "run-42.a_b");
	expect_good("SBMA_JOB", "");
	CU_ASSERT_STRING_EQUAL(sbma__opt.job, "");
	expect_bad("SBMA_JOB", "a/b");
	expect_bad("SBMA_JOB", "../x");
	expect_bad("SBMA_JOB", ".x");
	expect_bad("SBMA_JOB", "has space");
	expect_bad("SBMA_JOB", "0123456789012345678901234567890123456789012345678901234567890123456789");
	expect_good("SBMA_EVICT", "eager");
	CU_ASSERT_EQUAL(sbma__opt.evict_policy, SBMA__EVICT_EAGER);
	expect_good("SBMA_EVICT", "");
	CU_ASSERT_EQUAL(sbma__opt.evict_policy, SBMA__EVICT_LAZY);
	expect_bad("SBMA_EVICT", "always");
	expect_good("SBMA_NODE_TIMEOUT", "");
	CU_ASSERT_EQUAL(sbma__opt.node_timeout, 10);
	expect_good("SBMA_NODE_TIMEOUT", "3600");
	CU_ASSERT_EQUAL(sbma__opt.node_timeout, 3600);
	expect_bad("SBMA_NODE_TIMEOUT", "0");
	expect_bad("SBMA_NODE_TIMEOUT", "86401");
	expect_bad("SBMA_NODE_TIMEOUT", "5s");
	clear_env();
}

static void test_combination(void)
{
	clear_env();
	setenv("SBMA_PAGE", "256K", 1);
	setenv("SBMA_BUDGET", "2G", 1);
	setenv("SBMA_MIN_ALLOC", "512K", 1);
	setenv("SBMA_READAHEAD", "8M", 1);
	setenv("SBMA_ARENA", "256G", 1);
	setenv("SBMA_DIR", "/tmp", 1);
	setenv("SBMA_READ", "eager", 1);
	setenv("SBMA_DIRECT", "on", 1);
	setenv("SBMA_VERBOSE", "1", 1);
	setenv("SBMA_STATS", "1", 1);
	setenv("SBMA_CHECK", "1", 1);
	setenv("SBMA_MAX_MAPS", "1000", 1);
	CU_ASSERT_EQUAL_FATAL(load_captured(NULL), 0);
	CU_ASSERT_EQUAL(sbma__opt.page_size, 256 << 10);
	CU_ASSERT_EQUAL(sbma__opt.budget, (uint64_t)2 << 30);
	CU_ASSERT_EQUAL(sbma__opt.min_alloc, 512 << 10);
	CU_ASSERT_EQUAL(sbma__opt.readahead, 8 << 20);
	CU_ASSERT_EQUAL(sbma__opt.arena_size, (uint64_t)256 << 30);
	CU_ASSERT_EQUAL(sbma__opt.read_policy, SBMA_READ_EAGER);
	CU_ASSERT_EQUAL(sbma__opt.direct_io, 1);
	CU_ASSERT(sbma__opt.verbose && sbma__opt.print_stats && sbma__opt.check);
	CU_ASSERT_EQUAL(sbma__opt.max_maps, 1000);
	/* Two bad values: one message only, for the first. */
	setenv("SBMA_PAGE", "bad", 1);
	setenv("SBMA_ARENA", "worse", 1);
	CU_ASSERT_EQUAL(load_captured(NULL), -EINVAL);
	CU_ASSERT_EQUAL(count_lines(msg), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "SBMA_PAGE='bad'"));
	CU_ASSERT_PTR_NULL(strstr(msg, "SBMA_ARENA"));
	clear_env();
}

static void test_config_layer(void)
{
	struct sbma_config c;

	clear_env();
	memset(&c, 0, sizeof c);
	c.page_size = 1 << 20;
	c.budget = (uint64_t)1 << 30;
	c.dir = "/tmp";
	c.read_policy = SBMA_READ_EAGER;
	c.direct_io = 1;
	c.print_stats = 1;
	CU_ASSERT_EQUAL_FATAL(load_captured(&c), 0);
	CU_ASSERT_EQUAL(sbma__opt.page_size, 1 << 20);
	CU_ASSERT_EQUAL(sbma__opt.budget, (uint64_t)1 << 30);
	CU_ASSERT_EQUAL(sbma__opt.budget_pct, 0);
	CU_ASSERT_EQUAL(sbma__opt.read_policy, SBMA_READ_EAGER);
	CU_ASSERT_EQUAL(sbma__opt.direct_io, 1);
	CU_ASSERT_EQUAL(sbma__opt.print_stats, 1);
	/* Zero fields keep the defaults. */
	CU_ASSERT_EQUAL(sbma__opt.min_alloc, 1 << 20);
	CU_ASSERT_EQUAL(sbma__opt.arena_size, (uint64_t)1 << 40);
	CU_ASSERT_EQUAL(sbma__opt.verbose, 0);

	/* The environment wins over the config. */
	setenv("SBMA_PAGE", "128K", 1);
	setenv("SBMA_BUDGET", "10%", 1);
	CU_ASSERT_EQUAL(load_captured(&c), 0);
	CU_ASSERT_EQUAL(sbma__opt.page_size, 128 << 10);
	CU_ASSERT_EQUAL(sbma__opt.budget_pct, 10);
	clear_env();

	/* A bad config value is named by variable and field. */
	c.page_size = 12345;
	CU_ASSERT_EQUAL(load_captured(&c), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "SBMA_PAGE='12345'"));
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "sbma_config.page_size"));
	c.page_size = 0;
	c.read_policy = 7;
	CU_ASSERT_EQUAL(load_captured(&c), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "SBMA_READ='7'"));
	c.read_policy = 0;
	c.dir = "/nonexistent/sbma";
	CU_ASSERT_EQUAL(load_captured(&c), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "sbma_config.dir"));
	/* ... unless the environment overrides it. */
	setenv("SBMA_DIR", "/tmp", 1);
	CU_ASSERT_EQUAL(load_captured(&c), 0);
	clear_env();
}

/*
 * Every variable of the table (sbma__option_name, so a new one is covered
 * without a change here), refuses a value with a control byte in one line
 * that names it and shows the byte as \xHH; a value of 3000 bytes is cut
 * to 128 with its length, so that "expected ..." still ends the line
 * (control bytes split or hid the line: found by tests/fuzz/run-libfuzzer.sh;
 * a value of ~1000 bytes lost the "expected" part to sbma__log's buffer).
 */
static void test_error_lines(void)
{
	char want[128], big[3001];
	size_t i;
	const char *name;

	for (i = 0; (name = sbma__option_name(i)) != NULL; i++) {
		clear_env();
		setenv(name, "\001bad\nx", 1);
		CU_ASSERT_EQUAL(load_captured(NULL), -EINVAL);
		snprintf(want, sizeof want, "%s='\\x01bad\\x0ax': expected ", name);
		CU_ASSERT_PTR_NOT_NULL(strstr(msg, want));
		CU_ASSERT_EQUAL(count_lines(msg), 1);
		if (!strstr(msg, want) || count_lines(msg) != 1)
			fprintf(stderr, "\n  %s: want %s, message: %s", name, want, msg);
	}
	CU_ASSERT_EQUAL(i, NVARS);
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	clear_env();
	setenv("SBMA_JOB", big, 1);
	CU_ASSERT_EQUAL(load_captured(NULL), -EINVAL);
	CU_ASSERT_EQUAL(count_lines(msg), 1);
	CU_ASSERT(strlen(msg) < 600);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "xxx...' (3000 bytes): expected a name of 1-64"));
	clear_env();
}

/* The SBMA_VERBOSE listing: one line per variable, "NAME = value   (help)". */
static void test_print(void)
{
	char path[] = "/tmp/sbma-test-print-XXXXXX", out[8192], line[64];
	int fd = mkstemp(path);
	ssize_t n;

	CU_ASSERT_FATAL(fd >= 0);
	unlink(path);
	clear_env();
	setenv("SBMA_BUDGET", "25%", 1);
	setenv("SBMA_READ", "eager", 1);
	CU_ASSERT_EQUAL_FATAL(load_captured(NULL), 0);
	sbma__options_print(fd);
	n = pread(fd, out, sizeof out - 1, 0);
	close(fd);
	out[n > 0 ? n : 0] = '\0';
	CU_ASSERT_EQUAL(count_lines(out), (int)NVARS);
	for (size_t i = 0; i < NVARS; i++) {
		snprintf(line, sizeof line, "%s ", vars[i]);
		CU_ASSERT_PTR_NOT_NULL(strstr(out, line));
	}
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "SBMA_PAGE       = 64K   ("));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "SBMA_READ       = eager   ("));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "SBMA_DIRECT     = auto   ("));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "SBMA_BUDGET     = 25% = "));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "SBMA_ARENA      = 1T   ("));
	clear_env();
}

/* Every variable the table prints has its entry in docs/environment.md. */
static void test_documented(void)
{
	/* make check exports top_srcdir (tests/tests.am) and srcdir. */
	const char *srcdir = getenv("top_srcdir");
	if (!srcdir)
		srcdir = getenv("srcdir");
	char path[PATH_MAX], doc[65536], name[64];
	FILE *f;
	size_t n;

	snprintf(path, sizeof path, "%s/docs/environment.md", srcdir ? srcdir : ".");
	f = fopen(path, "r");
	if (!f && !srcdir) {
		snprintf(path, sizeof path, "../docs/environment.md");
		f = fopen(path, "r");
	}
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	n = fread(doc, 1, sizeof doc - 1, f);
	doc[n] = '\0';
	fclose(f);
	for (size_t i = 0; i < NVARS; i++) {
		snprintf(name, sizeof name, "## %s", vars[i]);
		CU_ASSERT_PTR_NOT_NULL(strstr(doc, name));
		if (!strstr(doc, name))
			fprintf(stderr, "\n  %s is not documented in %s", vars[i], path);
	}
}

/* ---- sysmem ---- */

static void test_sysmem(void)
{
	uint64_t node = sbma__node_memory(), total = meminfo_total();
	uint64_t cg = sbma__cgroup_limit();

	CU_ASSERT(node > 0);
	CU_ASSERT(total == 0 || node <= total);
	CU_ASSERT(node <= cg);
	CU_ASSERT(cg > 0);
	/* Cached: the same answer again. */
	CU_ASSERT_EQUAL(sbma__node_memory(), node);
	CU_ASSERT_EQUAL(sbma__cgroup_limit(), cg);
	/* On a cgroup v1 system, never above the limit of the mount's root
	 * (the process's cgroup or one of its ancestors). */
	FILE *f = fopen("/sys/fs/cgroup/memory/memory.limit_in_bytes", "r");
	unsigned long long l;
	if (f) {
		if (fscanf(f, "%llu", &l) == 1 && l < (1ull << 62))
			CU_ASSERT(cg <= l);
		fclose(f);
	}
}

int main(void)
{
	const char *t = getenv("TMPDIR");
	CU_pSuite s;
	unsigned failures;

	if (t) {
		tmpdir_was_set = 1;
		snprintf(tmpdir_saved, sizeof tmpdir_saved, "%s", t);
	}
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 99;
	s = CU_add_suite("options", NULL, NULL);
	if (!s)
		return 99;
	struct { const char *name; void (*fn)(void); } tests[] = {
		{ "parse_size: plain numbers", test_parse_plain },
		{ "parse_size: suffixes", test_parse_suffixes },
		{ "parse_size: fractions", test_parse_fractions },
		{ "parse_size: percentages", test_parse_percent },
		{ "parse_size: garbage", test_parse_bad },
		{ "parse_size: overflow", test_parse_overflow },
		{ "parse_size: bad percentages", test_parse_bad_percent },
		{ "load: defaults", test_defaults },
		{ "load: empty is unset", test_empty_is_unset },
		{ "load: garbage sizes", test_sizes_garbage },
		{ "load: SBMA_PAGE", test_page },
		{ "load: SBMA_BUDGET", test_budget },
		{ "load: SBMA_MIN_ALLOC", test_min_alloc },
		{ "load: SBMA_READAHEAD", test_readahead },
		{ "load: SBMA_ARENA", test_arena },
		{ "load: SBMA_DIR", test_dir },
		{ "load: SBMA_READ, SBMA_DIRECT", test_enums },
		{ "load: SBMA_VERBOSE, SBMA_STATS, SBMA_CHECK", test_bools },
		{ "load: SBMA_MAX_MAPS", test_max_maps },
		{ "load: SBMA_UNLOCKED_IO", test_unlocked_io },
		{ "load: SBMA_JOB, SBMA_EVICT, SBMA_NODE_TIMEOUT", test_node_settings },
		{ "load: a full combination", test_combination },
		{ "load: struct sbma_config", test_config_layer },
		{ "load: error lines of every variable", test_error_lines },
		{ "print: SBMA_VERBOSE listing", test_print },
		{ "docs: every variable documented", test_documented },
		{ "sysmem: node memory, cgroup limit", test_sysmem },
	};
	for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++)
		if (!CU_add_test(s, tests[i].name, tests[i].fn))
			return 99;
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failures = CU_get_number_of_failures();
	CU_cleanup_registry();
	return failures ? 1 : 0;
}
