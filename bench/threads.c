/*
 * threads - SBMA under many threads: allocation, faults and evictions at
 * once, against glibc malloc and plain pread/pwrite on the same device.
 *
 * Strong scaling: the work is fixed (--total bytes, or --ops allocations)
 * and split evenly among --threads threads, so time(T=1) / time(T) is the
 * speedup. Three cases:
 *
 *   alloc  each thread: malloc a block of min_alloc/2 .. 4.5*min_alloc
 *          bytes (around and above SBMA_MIN_ALLOC), write one byte per
 *          4 KiB, free it. --mode sbma: the malloc SBMA exports (small ones
 *          go to libc); --mode glibc: glibc's own (__libc_malloc).
 *   fault  each thread owns total/T bytes of SBMA memory, written once,
 *          then sbma_evict_all(); the timed part reads one word per 4 KiB
 *          of its own region (checking it), so every page comes back from
 *          the store. The budget must hold all of it (the script sets it).
 *          --mode pread: the same bytes read from a file (O_DIRECT where
 *          possible) in --chunk transfers, each thread its own range.
 *   evict  each thread sweeps its own region --sweeps times, writing one
 *          word per 4 KiB; the regions together exceed the budget, so
 *          every sweep evicts (writes) and reloads (reads). --mode pread:
 *          each sweep reads and writes each thread's range in --chunk
 *          transfers.
 *
 * Each case runs --reps times; the best (shortest) run is reported: the
 * machines are shared and the minimum is the least noisy estimate. One
 * line on stdout, and with --csv rows bench=threads,
 * case=<case>-<label>-T<threads>, metrics seconds and MB/s (or ops/s).
 *
 * Which SBMA locking is measured comes from the environment (the script
 * sets SBMA_UNLOCKED_IO); --label only names the contender in the output.
 *
 * Usage: threads --case alloc|fault|evict [--mode sbma|glibc|pread]
 *        [--threads T] [--total BYTES] [--ops N] [--sweeps N] [--chunk BYTES]
 *        [--reps N] [--label NAME] [--csv FILE]
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sbma.h"
#include "bench_util.h"

extern void *__libc_malloc(size_t);
extern void __libc_free(void *);

#define MAXT 64
#define STRIDE 4096

enum kase { C_ALLOC, C_FAULT, C_EVICT };
enum mode { M_SBMA, M_GLIBC, M_PREAD };

static struct {
	enum kase kase;
	enum mode mode;
	int threads;
	uint64_t total;
	uint64_t ops;
	int sweeps;
	uint64_t chunk;
	int reps;
	const char *label;
	const char *csv;
} o = {C_FAULT, M_SBMA, 1, 256u << 20, 2000, 2, 0, 3, NULL, NULL};

static pthread_barrier_t ready, start, done;
static size_t min_alloc = 1u << 20;
static uint64_t per; /* bytes per thread */
static int fd = -1;  /* pread mode */

struct thr {
	int id;
	char *region; /* sbma mode: the thread's SBMA memory */
	char *buf;    /* pread mode: one chunk */
	uint64_t bad;
	pthread_t th;
};
static struct thr th[MAXT];

static uint64_t word_of(int t, uint64_t off)
{
	return ((uint64_t)t << 48) ^ (off / STRIDE) ^ 0x5bd1e995u;
}

static void alloc_work(struct thr *w)
{
	uint64_t rs = 0x9E3779B97F4A7C15ULL * (uint64_t)(w->id + 1);
	uint64_t n = o.ops / (uint64_t)o.threads;
	for (uint64_t i = 0; i < n; i++) {
		size_t sz = min_alloc / 2 + (size_t)(bench_rand(&rs) % (4 * min_alloc));
		char *p = o.mode == M_SBMA ? malloc(sz) : __libc_malloc(sz);
		if (!p)
			bench_die("threads: malloc(%zu) failed", sz);
		for (size_t k = 0; k < sz; k += STRIDE)
			p[k] = (char)k;
		if (o.mode == M_SBMA)
			free(p);
		else
			__libc_free(p);
	}
}

static void touch_region(struct thr *w, int write)
{
	for (uint64_t off = 0; off < per; off += STRIDE) {
		uint64_t *q = (uint64_t *)(w->region + off);
		if (write)
			*q = word_of(w->id, off);
		else if (*q != word_of(w->id, off))
			w->bad++;
	}
}

static void file_pass(struct thr *w, int write)
{
	off_t base = (off_t)(per * (uint64_t)w->id);
	for (uint64_t off = 0; off < per; off += o.chunk) {
		ssize_t r = write ? pwrite(fd, w->buf, o.chunk, base + (off_t)off)
				  : pread(fd, w->buf, o.chunk, base + (off_t)off);
		if (r != (ssize_t)o.chunk)
			bench_die("threads: %s failed: %s", write ? "pwrite" : "pread",
				  r < 0 ? strerror(errno) : "short transfer");
	}
}

static void *run(void *arg)
{
	struct thr *w = arg;
	/* Set-up (untimed): the data each thread will work on. */
	if (o.kase != C_ALLOC) {
		if (o.mode == M_SBMA) {
			w->region = sbma_malloc(per);
			if (!w->region)
				bench_die("threads: sbma_malloc(%llu) failed", (unsigned long long)per);
			touch_region(w, 1);
		} else {
			w->buf = mmap(NULL, o.chunk, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (w->buf == MAP_FAILED)
				bench_die("threads: mmap: %s", strerror(errno));
			memset(w->buf, w->id + 1, o.chunk);
			file_pass(w, 1);
		}
	}
	pthread_barrier_wait(&ready);
	for (int rep = 0; rep < o.reps; rep++) {
		pthread_barrier_wait(&start);
		switch (o.kase) {
		case C_ALLOC:
			alloc_work(w);
			break;
		case C_FAULT:
			if (o.mode == M_SBMA)
				touch_region(w, 0);
			else
				file_pass(w, 0);
			break;
		case C_EVICT:
			for (int s = 0; s < o.sweeps; s++) {
				if (o.mode == M_SBMA) {
					touch_region(w, 1);
				} else {
					file_pass(w, 0);
					file_pass(w, 1);
				}
			}
			break;
		}
		pthread_barrier_wait(&done);
	}
	return NULL;
}

/* Before each timed run: evicted SBMA memory, or no cached file data. */
static void prepare_rep(void)
{
	if (o.kase == C_ALLOC)
		return;
	if (o.mode == M_SBMA) {
		if (o.kase == C_FAULT && sbma_evict_all() < 0)
			bench_die("threads: sbma_evict_all failed");
	} else {
		fdatasync(fd);
		posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	}
}

static void open_file(void)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/sbma-threads-bench.XXXXXX", bench_default_dir());
	int t = mkstemp(path);
	if (t < 0)
		bench_die("threads: cannot create a file in %s: %s", bench_default_dir(), strerror(errno));
	unlink(path);
	if (ftruncate(t, (off_t)(per * (uint64_t)o.threads)) != 0)
		bench_die("threads: ftruncate: %s", strerror(errno));
	/* O_DIRECT, like SBMA's own store, where the file system allows. */
	char self[64];
	snprintf(self, sizeof self, "/proc/self/fd/%d", t);
	fd = open(self, O_RDWR | O_DIRECT);
	if (fd < 0)
		fd = t;
	else
		close(t);
}

static const char *const case_names[] = {"alloc", "fault", "evict"};
static const char *const mode_names[] = {"sbma", "glibc", "pread"};

static int pick(const char *s, const char *const *names, int n, const char *what)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(s, names[i]))
			return i;
	bench_die("threads: %s: unknown value '%s'", what, s);
	return 0;
}

static void parse(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v)
			bench_die("threads: %s needs a value", a);
		i++;
		if (!strcmp(a, "--case"))
			o.kase = pick(v, case_names, 3, a);
		else if (!strcmp(a, "--mode"))
			o.mode = pick(v, mode_names, 3, a);
		else if (!strcmp(a, "--threads"))
			o.threads = atoi(v);
		else if (!strcmp(a, "--total")) {
			if (bench_parse_size(v, &o.total))
				bench_die("threads: --total: bad size '%s'", v);
		} else if (!strcmp(a, "--chunk")) {
			if (bench_parse_size(v, &o.chunk))
				bench_die("threads: --chunk: bad size '%s'", v);
		} else if (!strcmp(a, "--ops"))
			o.ops = strtoull(v, NULL, 10);
		else if (!strcmp(a, "--sweeps"))
			o.sweeps = atoi(v);
		else if (!strcmp(a, "--reps"))
			o.reps = atoi(v);
		else if (!strcmp(a, "--label"))
			o.label = v;
		else if (!strcmp(a, "--csv"))
			o.csv = v;
		else
			bench_die("threads: unknown option '%s'", a);
	}
	if (o.threads < 1 || o.threads > MAXT || o.reps < 1 || o.sweeps < 1 || o.ops < (uint64_t)o.threads)
		bench_die("threads: expected 1..%d threads, reps, sweeps >= 1 and ops >= threads", MAXT);
	if ((o.kase == C_ALLOC && o.mode == M_PREAD) || (o.kase != C_ALLOC && o.mode == M_GLIBC))
		bench_die("threads: --mode %s does not apply to --case %s", mode_names[o.mode],
			  case_names[o.kase]);
}

int main(int argc, char **argv)
{
	parse(argc, argv);
	struct sbma_config cfg;
	if (sbma_get_config(&cfg) == 0) {
		min_alloc = cfg.min_alloc;
		if (!o.chunk)
			o.chunk = cfg.page_size;
	}
	if (!o.chunk)
		o.chunk = 64u << 10;
	per = o.total / (uint64_t)o.threads / o.chunk * o.chunk;
	if (o.kase != C_ALLOC && per < STRIDE)
		bench_die("threads: --total too small for %d threads", o.threads);
	if (o.mode == M_PREAD)
		open_file();
	pthread_barrier_init(&ready, NULL, (unsigned)o.threads + 1);
	pthread_barrier_init(&start, NULL, (unsigned)o.threads + 1);
	pthread_barrier_init(&done, NULL, (unsigned)o.threads + 1);
	for (int t = 0; t < o.threads; t++) {
		th[t].id = t;
		if (pthread_create(&th[t].th, NULL, run, &th[t]) != 0)
			bench_die("threads: pthread_create failed");
	}
	uint64_t best = UINT64_MAX;
	struct sbma_stats s0, s1;
	pthread_barrier_wait(&ready);
	for (int rep = 0; rep < o.reps; rep++) {
		prepare_rep();
		sbma_stats(&s0);
		uint64_t t0 = bench_now_ns();
		pthread_barrier_wait(&start);
		pthread_barrier_wait(&done);
		uint64_t dt = bench_now_ns() - t0;
		sbma_stats(&s1);
		if (dt < best)
			best = dt;
	}
	uint64_t bad = 0;
	for (int t = 0; t < o.threads; t++) {
		pthread_join(th[t].th, NULL);
		bad += th[t].bad;
		if (th[t].region)
			sbma_free(th[t].region);
	}
	if (bad)
		bench_die("threads: %llu words read back wrong", (unsigned long long)bad);
	const char *label = o.label ? o.label : mode_names[o.mode];
	char cas[128];
	snprintf(cas, sizeof cas, "%s-%s-T%d", case_names[o.kase], label, o.threads);
	double sec = bench_sec(best);
	uint64_t moved = o.kase == C_FAULT ? per * (uint64_t)o.threads
			 : o.kase == C_EVICT ? per * (uint64_t)o.threads * (uint64_t)o.sweeps : 0;
	bench_csv(o.csv, "threads", cas, "seconds", sec, "s");
	if (o.kase == C_ALLOC) {
		double ops = (double)(o.ops / (uint64_t)o.threads * (uint64_t)o.threads) / sec;
		bench_csv(o.csv, "threads", cas, "ops", ops, "ops/s");
		printf("%s %.4f s %.0f ops/s\n", cas, sec, ops);
	} else {
		bench_csv(o.csv, "threads", cas, "rate", bench_mbps(moved, best), "MB/s");
		printf("%s %.4f s %.1f MB/s faults %llu read %llu MiB written %llu MiB (last rep)\n", cas, sec,
		       bench_mbps(moved, best), (unsigned long long)(s1.faults_read + s1.faults_write - s0.faults_read - s0.faults_write),
		       (unsigned long long)((s1.bytes_read - s0.bytes_read) >> 20),
		       (unsigned long long)((s1.bytes_written - s0.bytes_written) >> 20));
	}
	return 0;
}
