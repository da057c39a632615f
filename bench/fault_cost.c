/*
 * fault_cost - what one SBMA fault costs, against the bare mechanism.
 *
 * Every SBMA fault is at least a SIGSEGV delivery, a return from the handler
 * and an mprotect. This program measures that bare round trip in the same
 * run (its own handler, on its own anonymous mapping, pages already
 * populated so that only the signal and the mprotect are timed), then the
 * four kinds of SBMA fault:
 *
 *   first read     a never-written page is read
 *   first write    a never-written page is written
 *   upgrade        a page that was read (so readable) is written
 *   reload         a page that sbma_evict_all() wrote out is read back
 *                  (random order: one fault, one read each; sequential
 *                  order: readahead may serve several pages per fault)
 *
 * Pages are touched once each in a random permutation (unless said
 * otherwise) so that readahead cannot hide the per-fault cost. Each case is
 * run --reps times on a fresh allocation; the best run is reported (the
 * machines are shared, and the minimum is the least noisy estimator of a
 * fixed cost). The fault counts come from sbma_stats(), so ns/fault is the
 * time divided by the faults SBMA itself counted, and ns/page the time
 * divided by the pages touched.
 *
 * The bare handler is installed with libc's own sigaction (found with
 * dlopen/dlsym) so that SBMA's sigaction interposition, if any, does not
 * chain it behind SBMA's handler; SBMA's handler is put back afterwards. No
 * SBMA memory is touched while the bare handler is installed.
 *
 * Usage: fault_cost [--size BYTES] [--reps N] [--csv FILE]
 * SBMA_PAGE, SBMA_BUDGET, SBMA_READ... come from the environment.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sbma.h"
#include "bench_util.h"

typedef int (*sigaction_fn)(int, const struct sigaction *, struct sigaction *);

static sigaction_fn libc_sigaction;
static int libc_sigaction_direct; /* 1 if found in libc itself */

/* State of the bare handler; read from the handler, so plain globals. */
static char *bare_base;
static size_t bare_len;
static size_t bare_gran; /* bytes made accessible per fault */
static struct sigaction bare_old;

/*
 * Bare handler: async-signal-safe, makes the faulting granule read-write.
 * A fault outside its mapping is not ours: put the previous handler back
 * and return, so that the access faults again and reaches it.
 */
static void bare_handler(int sig, siginfo_t *si, void *uc)
{
	char *a = si->si_addr;

	(void)sig;
	(void)uc;
	if (a < bare_base || a >= bare_base + bare_len) {
		libc_sigaction(SIGSEGV, &bare_old, NULL);
		return;
	}
	a = bare_base + (size_t)(a - bare_base) / bare_gran * bare_gran;
	if (mprotect(a, bare_gran, PROT_READ | PROT_WRITE) != 0)
		abort();
}

static void find_libc_sigaction(void)
{
	void *h = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
	void *f = h ? dlsym(h, "sigaction") : NULL;

	libc_sigaction = f ? (sigaction_fn)f : sigaction;
	libc_sigaction_direct = f != NULL;
}

/* A random permutation of 0..n-1 in memory that SBMA does not manage. */
static size_t *make_perm(size_t n, int shuffle, uint64_t seed)
{
	size_t *p = mmap(NULL, n * sizeof(*p), PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	size_t i;

	if (p == MAP_FAILED)
		bench_die("mmap of %zu bytes for the permutation failed",
			  n * sizeof(*p));
	for (i = 0; i < n; i++)
		p[i] = i;
	for (i = n; shuffle && i > 1; i--) {
		size_t j = bench_rand(&seed) % i, t = p[i - 1];

		p[i - 1] = p[j];
		p[j] = t;
	}
	return p;
}

/* Bare SIGSEGV + mprotect(granule) round trip, ns per fault. */
static double bare_round_trip(size_t npages, size_t gran, const size_t *perm)
{
	struct sigaction sa;
	uint64_t t0, t1;
	size_t i;
	char *m;

	bare_len = npages * gran;
	bare_gran = gran;
	m = mmap(NULL, bare_len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		bench_die("mmap of %zu bytes failed", bare_len);
	memset(m, 1, bare_len); /* populate: time the signal, not zero-fill */
	if (mprotect(m, bare_len, PROT_NONE) != 0)
		bench_die("mprotect(PROT_NONE) failed");
	bare_base = m;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = bare_handler;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (libc_sigaction(SIGSEGV, &sa, &bare_old) != 0)
		bench_die("sigaction failed");
	t0 = bench_now_ns();
	for (i = 0; i < npages; i++)
		((volatile char *)m)[perm[i] * gran] = 2;
	t1 = bench_now_ns();
	libc_sigaction(SIGSEGV, &bare_old, NULL);
	munmap(m, bare_len);
	bare_base = NULL;
	return (double)(t1 - t0) / (double)npages;
}

enum fault_case {
	FIRST_READ,
	FIRST_WRITE,
	UPGRADE,
	RELOAD_RANDOM,
	RELOAD_SEQ,
	NCASES
};

static const char *case_name[NCASES] = {
	"first read", "first write", "write upgrade", "reload (random)",
	"reload (sequential)",
};

static const char *case_key[NCASES] = {
	"first_read", "first_write", "upgrade", "reload_random", "reload_seq",
};

struct result {
	double ns_page;   /* best time per page touched */
	double ns_fault;  /* time / faults counted, same run */
	double faults;    /* faults counted per page touched */
	double io_faults; /* faults that read the store, per page */
};

static uint64_t fault_count(const struct sbma_stats *s)
{
	return s->faults_read + s->faults_write + s->faults_upgrade;
}

static void run_case(enum fault_case c, size_t npages, size_t page,
		     const size_t *perm, const size_t *seq, struct result *r)
{
	struct sbma_stats s0, s1;
	volatile uint64_t sink = 0;
	const size_t *order = c == RELOAD_SEQ ? seq : perm;
	uint64_t t0, t1, nf;
	char *p;
	size_t i;

	p = sbma_malloc(npages * page);
	if (!p)
		bench_die("sbma_malloc(%zu) failed", npages * page);
	switch (c) {
	case UPGRADE:
		for (i = 0; i < npages; i++)
			sink += ((volatile char *)p)[i * page];
		break;
	case RELOAD_RANDOM:
	case RELOAD_SEQ:
		for (i = 0; i < npages; i++)
			((volatile char *)p)[i * page] = (char)i;
		if (sbma_evict_all() < 0)
			bench_die("sbma_evict_all failed");
		break;
	default:
		break;
	}
	sbma_stats(&s0);
	t0 = bench_now_ns();
	if (c == FIRST_WRITE || c == UPGRADE) {
		for (i = 0; i < npages; i++)
			((volatile char *)p)[order[i] * page] = 3;
	} else {
		for (i = 0; i < npages; i++)
			sink += ((volatile char *)p)[order[i] * page];
	}
	t1 = bench_now_ns();
	sbma_stats(&s1);
	(void)sink;
	sbma_free(p);

	nf = fault_count(&s1) - fault_count(&s0);
	r->ns_page = (double)(t1 - t0) / (double)npages;
	r->ns_fault = nf ? (double)(t1 - t0) / (double)nf : 0.0;
	r->faults = (double)nf / (double)npages;
	r->io_faults = (double)(s1.faults_io - s0.faults_io) / (double)npages;
}

int main(int argc, char **argv)
{
	uint64_t size = 64ull << 20;
	const char *csv = NULL;
	int reps = 3, i, c;
	struct sbma_config cfg;
	struct result best[NCASES], r;
	double bare_os = 1e30, bare_sbma = 1e30;
	size_t os_page = (size_t)sysconf(_SC_PAGESIZE), page, npages;
	size_t *perm, *seq;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--size") && i + 1 < argc) {
			if (bench_parse_size(argv[++i], &size) || !size)
				bench_die("--size: bad size '%s' (expected "
					  "bytes, e.g. 64M)", argv[i]);
		} else if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
			reps = atoi(argv[++i]);
			if (reps < 1)
				bench_die("--reps: expected a count >= 1");
		} else if (!strcmp(argv[i], "--csv") && i + 1 < argc) {
			csv = argv[++i];
		} else {
			bench_die("usage: %s [--size BYTES] [--reps N] "
				  "[--csv FILE]", argv[0]);
		}
	}
	if (sbma_get_config(&cfg) != 0)
		bench_die("sbma_get_config failed");
	page = cfg.page_size ? cfg.page_size : os_page;
	npages = size / page;
	if (npages < 16)
		npages = 16;
	if (npages > 30000) /* stay far below vm.max_map_count */
		npages = 30000;
	if (cfg.budget && cfg.budget < npages * page)
		fprintf(stderr, "warning: SBMA budget %llu < %zu bytes "
			"measured: evictions will pollute the numbers\n",
			(unsigned long long)cfg.budget, npages * page);
	find_libc_sigaction();
	perm = make_perm(npages, 1, 42);
	seq = make_perm(npages, 0, 0);

	printf("fault_cost: %zu SBMA pages of %zu KiB (OS page %zu KiB), "
	       "budget %llu MiB, read policy %s, best of %d\n",
	       npages, page >> 10, os_page >> 10,
	       (unsigned long long)(cfg.budget >> 20),
	       cfg.read_policy == SBMA_READ_EAGER ? "eager" : "lazy", reps);
	printf("bare handler installed with %s\n",
	       libc_sigaction_direct ? "libc's sigaction (not interposed)"
				     : "sigaction (possibly interposed)");
	fflush(stdout);

	for (c = 0; c < NCASES; c++)
		best[c].ns_page = 1e30;
	for (i = 0; i < reps; i++) {
		double b;

		b = bare_round_trip(npages, os_page, perm);
		if (b < bare_os)
			bare_os = b;
		b = bare_round_trip(npages, page, perm);
		if (b < bare_sbma)
			bare_sbma = b;
		for (c = 0; c < NCASES; c++) {
			run_case((enum fault_case)c, npages, page, perm, seq,
				 &r);
			if (r.ns_page < best[c].ns_page)
				best[c] = r;
		}
	}

	printf("\n%-30s %10s %10s %12s %12s %8s\n", "case", "ns/page",
	       "faults/pg", "io faults/pg", "ns/fault", "x bare");
	printf("%-30s %10.0f %10.2f %12.2f %12.0f %8.2f\n",
	       "bare SIGSEGV+mprotect (OS pg)", bare_os, 1.0, 0.0, bare_os,
	       1.0);
	printf("%-30s %10.0f %10.2f %12.2f %12.0f %8.2f\n",
	       "bare, SBMA-page mprotect", bare_sbma, 1.0, 0.0, bare_sbma,
	       bare_sbma / bare_os);
	bench_csv(csv, "fault_cost", "bare_os_page", "ns_per_fault", bare_os,
		  "ns");
	bench_csv(csv, "fault_cost", "bare_sbma_page", "ns_per_fault",
		  bare_sbma, "ns");
	for (c = 0; c < NCASES; c++) {
		const struct result *b = &best[c];
		double per = b->ns_fault ? b->ns_fault : b->ns_page;

		printf("%-30s %10.0f %10.2f %12.2f %12.0f %8.2f\n",
		       case_name[c], b->ns_page, b->faults, b->io_faults,
		       b->ns_fault, per / bare_os);
		bench_csv(csv, "fault_cost", case_key[c], "ns_per_page",
			  b->ns_page, "ns");
		bench_csv(csv, "fault_cost", case_key[c], "ns_per_fault",
			  b->ns_fault, "ns");
		bench_csv(csv, "fault_cost", case_key[c], "faults_per_page",
			  b->faults, "count");
		bench_csv(csv, "fault_cost", case_key[c], "ratio_to_bare",
			  per / bare_os, "x");
	}
	printf("\n(x bare = ns/fault / bare OS-page round trip; ns/fault is "
	       "0 when SBMA counted no fault)\n");
	return 0;
}
