/*
 * bench_util.h - small helpers shared by the benchmark programs.
 *
 * Header-only on purpose: each benchmark is one .c file plus this, so that
 * bench/sweep.c can be built twice (with and without SBMA) without a helper
 * library. Nothing here allocates with malloc: under SBMA, malloc may hand
 * out protected memory, and the raw I/O baselines must not depend on it.
 */
#ifndef SBMA_BENCH_UTIL_H
#define SBMA_BENCH_UTIL_H

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline double bench_sec(uint64_t ns)
{
	return (double)ns / 1e9;
}

/* MB/s with MB = 10^6 bytes, as device vendors and fio quote it. */
static inline double bench_mbps(uint64_t bytes, uint64_t ns)
{
	return ns ? (double)bytes / 1e6 / ((double)ns / 1e9) : 0.0;
}

/*
 * Parse a size such as "2G", "512M", "64k", "4096" or "1.5G" (binary
 * multiples). Returns 0 and sets *out, or -EINVAL.
 */
static inline int bench_parse_size(const char *s, uint64_t *out)
{
	char *end;
	double v;
	uint64_t mult = 1;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || v < 0)
		return -EINVAL;
	switch (tolower((unsigned char)*end)) {
	case 't': mult <<= 10; /* fall through */
	case 'g': mult <<= 10; /* fall through */
	case 'm': mult <<= 10; /* fall through */
	case 'k': mult <<= 10; end++; break;
	case '\0': break;
	default: return -EINVAL;
	}
	if (tolower((unsigned char)*end) == 'i')
		end++;
	if (tolower((unsigned char)*end) == 'b')
		end++;
	if (*end)
		return -EINVAL;
	*out = (uint64_t)(v * (double)mult);
	return 0;
}

/* Exit with a message naming what was wrong, as the options table does. */
static inline void bench_die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

/* The directory for scratch files: SBMA_DIR, else TMPDIR, else /tmp. */
static inline const char *bench_default_dir(void)
{
	const char *d = getenv("SBMA_DIR");

	if (!d || !*d)
		d = getenv("TMPDIR");
	if (!d || !*d)
		d = "/tmp";
	return d;
}

/*
 * Append one row to the CSV file named by --csv (if any):
 * bench,case,metric,value,unit. Opened and closed per row so that a crash
 * keeps the rows already measured.
 */
static inline void bench_csv(const char *path, const char *bench,
			     const char *cas, const char *metric, double value,
			     const char *unit)
{
	FILE *f;

	if (!path)
		return;
	f = fopen(path, "a");
	if (!f) {
		fprintf(stderr, "cannot append to %s: %s\n", path,
			strerror(errno));
		return;
	}
	fprintf(f, "%s,%s,%s,%.6g,%s\n", bench, cas, metric, value, unit);
	fclose(f);
}

/* xorshift64*: a fast, reproducible generator; quality is plenty here. */
static inline uint64_t bench_rand(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545F4914F6CDD1DULL;
}

#endif /* SBMA_BENCH_UTIL_H */
