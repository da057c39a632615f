/*
 * sweep - the out-of-core workload of DESIGN.md section 6.
 *
 * An array of S bytes of uint64_t (n = S/8 elements):
 *
 *   init     a[i] = i
 *   sweep k  a[i] += i + k, for k = 1, 2, 3   (read-modify-write, in order)
 *   random   n/1000 updates a[j] += 1 at random j (xorshift64*, fixed seed)
 *   check    a read-only pass computing sum(a[i] * w(i)), w(i) odd and
 *            different for every i, so that a lost, zeroed or misplaced
 *            page changes the result
 *
 * After the sweeps a[i] = 4i + 6; each random update adds w(j) to the
 * checksum. The expected value is computed from that closed form, without
 * reading the array (arithmetic only, outside the timed phases). The program
 * prints PASS or FAIL and exits 1 on FAIL.
 *
 * Memory: --mode malloc (default) takes the array from plain malloc, so the
 * same source runs unmodified with SBMA (linked: bench/sweep; or
 * LD_PRELOAD=libsbma.so bench/sweep_plain) and without it
 * (bench/sweep_plain). --mode mmap maps a file in --dir (default SBMA_DIR,
 * TMPDIR, /tmp) MAP_SHARED instead: the kernel's file-backed mmap
 * contender. The file is unlinked as soon as it is mapped.
 *
 * Timing: each phase and the total, in seconds, on stdout; with --csv FILE
 * one row per phase is appended (bench,case,metric,value,unit) under the
 * case name given by --label.
 *
 * If SBMA is present (linked or preloaded), its counters are printed at the
 * end: sbma_stats is a weak reference, so bench/sweep_plain does not need
 * the library.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sbma.h"
#include "bench_util.h"

/* bench/sweep links libsbma (SWEEP_WITH_SBMA); bench/sweep_plain does not. */
#ifdef SWEEP_WITH_SBMA
#define HAVE_SBMA() 1
#else
#pragma weak sbma_stats
#define HAVE_SBMA() (sbma_stats != NULL)
#endif

/* Keep the compiler from fusing or dropping the phases. */
#define BARRIER(p) __asm__ volatile("" : : "r"(p) : "memory")

static uint64_t weight(uint64_t i)
{
	return (i * 0x9E3779B97F4A7C15ULL) | 1;
}

enum { P_INIT, P_SWEEP1, P_SWEEP2, P_SWEEP3, P_RANDOM, P_CHECK, NPHASES };
static const char *phase_name[NPHASES] = {
	"init", "sweep1", "sweep2", "sweep3", "random", "check",
};

static void report(const char *csv, const char *label, int ph, uint64_t ns)
{
	printf("  %-8s %9.3f s\n", phase_name[ph], bench_sec(ns));
	fflush(stdout);
	bench_csv(csv, "sweep", label, phase_name[ph], bench_sec(ns), "s");
}

int main(int argc, char **argv)
{
	uint64_t size = 2ull << 30, n, m, i, k, seed = 0x5eed5eedULL;
	uint64_t t0, t, total = 0, sum, expect, upd = 0;
	const char *mode = "malloc", *dir = bench_default_dir();
	const char *csv = NULL, *label = NULL;
	uint64_t *a;
	char path[4096];
	int fd = -1, ok;

	for (i = 1; i < (uint64_t)argc; i++) {
		if (!strcmp(argv[i], "--mode") && i + 1 < (uint64_t)argc) {
			mode = argv[++i];
			if (strcmp(mode, "malloc") && strcmp(mode, "mmap"))
				bench_die("--mode: expected malloc or mmap, "
					  "got '%s'", mode);
		} else if (!strcmp(argv[i], "--dir") &&
			   i + 1 < (uint64_t)argc) {
			dir = argv[++i];
		} else if (!strcmp(argv[i], "--csv") &&
			   i + 1 < (uint64_t)argc) {
			csv = argv[++i];
		} else if (!strcmp(argv[i], "--label") &&
			   i + 1 < (uint64_t)argc) {
			label = argv[++i];
		} else if (argv[i][0] != '-') {
			if (bench_parse_size(argv[i], &size) || size < 4096)
				bench_die("size: bad value '%s' (expected "
					  "bytes >= 4096, e.g. 2G)", argv[i]);
		} else {
			bench_die("usage: %s [--mode malloc|mmap] [--dir DIR] "
				  "[--csv FILE] [--label NAME] [SIZE]",
				  argv[0]);
		}
	}
	if (!label)
		label = mode;
	n = size / sizeof(uint64_t);
	m = n / 1000;
	printf("sweep: %llu MiB (%llu elements), %llu random updates, "
	       "mode %s%s%s, SBMA %s\n",
	       (unsigned long long)(size >> 20), (unsigned long long)n,
	       (unsigned long long)m, mode,
	       strcmp(mode, "mmap") ? "" : " in ",
	       strcmp(mode, "mmap") ? "" : dir,
	       HAVE_SBMA() ? "present" : "absent");
	fflush(stdout);

	t0 = bench_now_ns();
	if (!strcmp(mode, "mmap")) {
		snprintf(path, sizeof(path), "%s/sbma-bench-mmap.XXXXXX", dir);
		fd = mkstemp(path);
		if (fd < 0)
			bench_die("cannot create a file in %s: %s", dir,
				  strerror(errno));
		unlink(path);
		if (ftruncate(fd, (off_t)(n * sizeof(*a))) != 0)
			bench_die("ftruncate: %s", strerror(errno));
		a = mmap(NULL, n * sizeof(*a), PROT_READ | PROT_WRITE,
			 MAP_SHARED, fd, 0);
		if (a == MAP_FAILED)
			bench_die("mmap of the file: %s", strerror(errno));
	} else {
		a = malloc(n * sizeof(*a));
		if (!a)
			bench_die("malloc(%llu) failed",
				  (unsigned long long)(n * sizeof(*a)));
	}

	for (i = 0; i < n; i++)
		a[i] = i;
	BARRIER(a);
	t = bench_now_ns() - t0;
	total += t;
	report(csv, label, P_INIT, t);

	for (k = 1; k <= 3; k++) {
		t0 = bench_now_ns();
		for (i = 0; i < n; i++)
			a[i] += i + k;
		BARRIER(a);
		t = bench_now_ns() - t0;
		total += t;
		report(csv, label, P_SWEEP1 + (int)k - 1, t);
	}

	t0 = bench_now_ns();
	for (i = 0; i < m; i++) {
		uint64_t j = bench_rand(&seed) % n;

		a[j] += 1;
		upd += weight(j);
	}
	BARRIER(a);
	t = bench_now_ns() - t0;
	total += t;
	report(csv, label, P_RANDOM, t);

	t0 = bench_now_ns();
	sum = 0;
	for (i = 0; i < n; i++)
		sum += a[i] * weight(i);
	BARRIER(a);
	t = bench_now_ns() - t0;
	total += t;
	report(csv, label, P_CHECK, t);
	printf("  %-8s %9.3f s\n", "total", bench_sec(total));
	bench_csv(csv, "sweep", label, "total", bench_sec(total), "s");

	/* closed form: a[i] = 4i + 6, plus w(j) for each update (in upd) */
	expect = upd;
	for (i = 0; i < n; i++)
		expect += (4 * i + 6) * weight(i);
	ok = sum == expect;
	printf("checksum %016llx expected %016llx: %s\n",
	       (unsigned long long)sum, (unsigned long long)expect,
	       ok ? "PASS" : "FAIL");
	bench_csv(csv, "sweep", label, "pass", ok, "bool");

	if (HAVE_SBMA()) {
		struct sbma_stats st;

		if (sbma_stats(&st) == 0) {
			printf("sbma: faults r/w/up %llu/%llu/%llu, io faults "
			       "%llu, read %llu MiB in %llu calls, written "
			       "%llu MiB in %llu calls, peak resident %llu "
			       "MiB, budget %llu MiB\n",
			       (unsigned long long)st.faults_read,
			       (unsigned long long)st.faults_write,
			       (unsigned long long)st.faults_upgrade,
			       (unsigned long long)st.faults_io,
			       (unsigned long long)(st.bytes_read >> 20),
			       (unsigned long long)st.read_calls,
			       (unsigned long long)(st.bytes_written >> 20),
			       (unsigned long long)st.write_calls,
			       (unsigned long long)(st.peak_resident >> 20),
			       (unsigned long long)(st.budget >> 20));
			bench_csv(csv, "sweep", label, "bytes_read",
				  (double)st.bytes_read, "B");
			bench_csv(csv, "sweep", label, "bytes_written",
				  (double)st.bytes_written, "B");
			bench_csv(csv, "sweep", label, "faults",
				  (double)(st.faults_read + st.faults_write +
					   st.faults_upgrade), "count");
		}
	}

	if (fd >= 0) {
		munmap(a, n * sizeof(*a));
		close(fd);
	} else {
		free(a);
	}
	return ok ? 0 : 1;
}
