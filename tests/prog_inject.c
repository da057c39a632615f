/*
 * prog_inject.c - the workload of the fault-injection tests
 * (tests/test_inject.sh, tests/test_inject_eio.sh): it must end with every
 * word right, or stop; never go on with wrong data.
 *
 * `prog_inject` allocates 4 x SBMA_BUDGET (or PROG_MIB MiB) with malloc (four chunks, so
 * SBMA memory), writes a pattern, sweeps it (check and rewrite), makes
 * random block updates and single-word reads, evicts everything, evicts
 * and touches sub-ranges, frees a chunk and callocs it again (which must
 * read as zeros), grows another with realloc (which must keep its
 * contents), evicts again and verifies every word. The reference is
 * recomputed from (seed, chunk, version, word); only the block versions
 * are kept, in libc memory. Errors that SBMA reports to the caller are
 * expected under injection and are printed, not fatal: a NULL from
 * malloc/calloc/realloc with errno ENOMEM (a full disk at allocation) is
 * retried; a failed sbma_evict_all/sbma_evict/sbma_touch leaves the data in
 * memory, which the next check verifies. After a failed sbma_evict_all
 * with only write errors injected (PROG_EXPECT_DIRTY=1), dirty pages must
 * remain (nothing dropped that is not on disk).
 *
 * `prog_inject thin` (tests/test_inject_eio.sh, with SBMA_DIR on a file
 * system whose device fails writes; also tests/test_inject_misc.sh, as a
 * process that holds budget), `prog_inject misuse` and `prog_inject
 * evictloop` (tests/test_inject_misc.sh): see the functions below.
 * `prog_inject build` prints "fault-inject" or "plain": how libsbma was
 * configured.
 *
 * Output: "OK" on stdout and exit 0; or the first wrong word as
 * "bad word: ..." on stdout and exit 1; exit 2 when the program itself
 * cannot go on (an allocation refused 100 times), with a message.
 * PROG_SEED sets the data seed (default: SBMA_FAULT_INJECT_SEED, else 1).
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sbma.h"

#define BLK    4096u     /* bytes per versioned block */
#define WPB    (BLK / 8) /* words per block */
#define NCHUNK 4

static uint64_t seed = 1;
static uint64_t bad_words;
static int expect_dirty;

static uint64_t mix64(uint64_t x)
{
	x += 0x9E3779B97F4A7C15ULL;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
	return x ^ (x >> 31);
}

/* Version 0 is all zeros (fresh calloc memory). */
static uint64_t val(int chunk, uint32_t ver, uint64_t word)
{
	if (ver == 0)
		return 0;
	return mix64(seed ^ mix64(((uint64_t)chunk << 56) ^ ((uint64_t)ver << 36) ^ word));
}

static uint64_t rng = 88172645463325252ULL;
static uint64_t rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545F4914F6CDD1DULL;
}

struct chunk {
	uint64_t *p;
	size_t nblk;
	uint32_t *ver;
};
static struct chunk ch[NCHUNK];

static void fill_block(int c, size_t b, uint32_t ver)
{
	uint64_t *w = ch[c].p + b * WPB;
	for (size_t i = 0; i < WPB; i++)
		w[i] = val(c, ver, b * WPB + i);
	ch[c].ver[b] = ver;
}

static int check_word(int c, size_t b, size_t i, const char *phase)
{
	uint64_t got = ch[c].p[b * WPB + i], want = val(c, ch[c].ver[b], b * WPB + i);
	if (got == want)
		return 0;
	if (!bad_words++)
		printf("bad word: chunk %d word %zu (%p) got %016" PRIx64 " want %016" PRIx64 " (%s)\n", c, b * WPB + i,
		       (void *)&ch[c].p[b * WPB + i], got, want, phase);
	return 1;
}

static void check_block(int c, size_t b, const char *phase)
{
	for (size_t i = 0; i < WPB; i++)
		check_word(c, b, i, phase);
}

static void check_all(const char *phase)
{
	for (int c = 0; c < NCHUNK; c++)
		for (size_t b = 0; b < ch[c].nblk; b++)
			check_block(c, b, phase);
}

/* malloc-family calls may fail with ENOMEM under injection (fallocate
 * refused): that is a correct answer, so try again. */
static void *retry_alloc(int kind, void *old, size_t size)
{
	for (int t = 0; t < 100; t++) {
		errno = 0;
		void *p = kind == 0 ? malloc(size) : kind == 1 ? calloc(size / 8, 8) : realloc(old, size);
		if (p)
			return p;
		if (errno != ENOMEM) {
			fprintf(stderr, "prog_inject: allocation of %zu bytes failed with errno %d (%s), want ENOMEM\n",
			        size, errno, strerror(errno));
			exit(2);
		}
	}
	fprintf(stderr, "prog_inject: allocation of %zu bytes refused 100 times\n", size);
	exit(2);
}

static void report_evict(int64_t rc, const char *what)
{
	if (rc >= 0)
		return;
	struct sbma_stats st;
	sbma_stats(&st);
	fprintf(stderr, "prog_inject: %s: %s (data stays in memory: %llu bytes resident, %llu dirty)\n", what,
	        strerror((int)-rc), (unsigned long long)st.resident, (unsigned long long)st.dirty);
	if (expect_dirty && (st.dirty == 0 || st.resident == 0)) {
		printf("bad word: %s failed but no dirty page stayed resident\n", what);
		bad_words++;
	}
}

static void new_chunk(int c, size_t bytes, int zeroed)
{
	ch[c].nblk = bytes / BLK;
	ch[c].p = retry_alloc(zeroed, NULL, bytes);
	ch[c].ver = calloc(ch[c].nblk, sizeof *ch[c].ver); /* small: libc */
	if (!ch[c].ver) {
		fprintf(stderr, "prog_inject: out of libc memory\n");
		exit(2);
	}
}

static int workload(void)
{
	struct sbma_config cfg;
	int grc = sbma_get_config(&cfg);
	if (grc != 0) {
		/* SBMA could not start (it said why): malloc is libc's, and
		 * the program must still run correctly. */
		fprintf(stderr, "prog_inject: sbma_get_config: %s; going on with libc's memory\n", strerror(-grc));
		memset(&cfg, 0, sizeof cfg);
		cfg.budget = 1 << 20;
	}
	size_t chunk = (size_t)cfg.budget;
	const char *m = getenv("PROG_MIB"); /* the footprint instead of 4x the budget */
	if (m)
		chunk = ((size_t)strtoul(m, NULL, 10) << 20) / NCHUNK;
	if (chunk < cfg.min_alloc)
		chunk = cfg.min_alloc;
	chunk = (chunk + BLK - 1) / BLK * BLK;

	/* 1. Write a pattern over 4x the budget: evictions by the budget. */
	for (int c = 0; c < NCHUNK; c++) {
		new_chunk(c, chunk, 0);
		for (size_t b = 0; b < ch[c].nblk; b++)
			fill_block(c, b, 1);
	}
	/* 2. Sweep: check and rewrite every block. */
	for (int c = 0; c < NCHUNK; c++)
		for (size_t b = 0; b < ch[c].nblk; b++) {
			check_block(c, b, "sweep");
			fill_block(c, b, ch[c].ver[b] + 1);
		}
	/* 3. Random block updates and word reads. */
	size_t total = NCHUNK * ch[0].nblk / 2;
	for (size_t k = 0; k < total; k++) {
		int c = (int)(rnd() % NCHUNK);
		size_t b = rnd() % ch[c].nblk;
		if (rnd() & 1)
			fill_block(c, b, ch[c].ver[b] + 1);
		else
			check_word(c, b, rnd() % WPB, "random read");
	}
	/* 4. Everything out, then sub-ranges out and in. */
	report_evict(sbma_evict_all(), "sbma_evict_all");
	check_all("after evict_all");
	report_evict(sbma_evict(ch[0].p, chunk / 2), "sbma_evict");
	int rc = sbma_touch(ch[1].p, chunk, SBMA_ACCESS_READ);
	if (rc < 0)
		fprintf(stderr, "prog_inject: sbma_touch: %s\n", strerror(-rc));
	for (size_t b = 0; b < ch[0].nblk; b += 3)
		fill_block(0, b, ch[0].ver[b] + 1);
	/* 5. Free and calloc again: the new chunk must read as zeros. */
	free(ch[3].p);
	free(ch[3].ver);
	new_chunk(3, chunk, 1);
	check_all("calloc after free");
	for (size_t b = 0; b < ch[3].nblk; b += 2)
		fill_block(3, b, 7);
	/* 6. Grow a chunk: the contents move or stay, intact. */
	size_t old = ch[2].nblk;
	ch[2].p = retry_alloc(2, ch[2].p, 2 * chunk);
	ch[2].nblk = 2 * chunk / BLK;
	uint32_t *nv = realloc(ch[2].ver, ch[2].nblk * sizeof *nv);
	if (!nv) {
		fprintf(stderr, "prog_inject: out of libc memory\n");
		return 2;
	}
	ch[2].ver = nv;
	for (size_t b = 0; b < old; b++)
		check_block(2, b, "realloc");
	for (size_t b = old; b < ch[2].nblk; b++)
		fill_block(2, b, 1);
	/* 7. Out again; every word checked (faulted back in). */
	report_evict(sbma_evict_all(), "sbma_evict_all");
	check_all("final");
	for (int c = 0; c < NCHUNK; c++) {
		free(ch[c].p);
		free(ch[c].ver);
	}
	return 0;
}

/* Wait for the test script's go-ahead (a line on stdin). */
static int wait_line(const char *say)
{
	char line[64];
	printf("%s\n", say);
	fflush(stdout);
	if (!fgets(line, sizeof line, stdin)) {
		fprintf(stderr, "prog_inject: no go-ahead on stdin after \"%s\"\n", say);
		return -1;
	}
	return 0;
}

/*
 * thin (tests/test_inject_eio.sh): SBMA_DIR is on a file system whose device
 * will refuse writes. Fill PROG_MIB MiB (default 32; evictions by the budget
 * still succeed), say "filled" and wait: the script makes the device refuse
 * writes. Evict everything: must fail, be reported, and leave the pages
 * resident and dirty; every word is checked, then a sweep rewrites every
 * fifth block (its loads need room: the evictions that make it fail, and
 * the loads go past the budget). Say "waiting" and wait: the script lets
 * the device accept writes again. Evict everything: should succeed (exit 0,
 * "OK"); every word is checked once more, read back from the store. If it
 * fails (the file system went read-only meanwhile), every word is checked
 * in memory and the exit status is 4.
 */
static int thin(void)
{
	const char *m = getenv("PROG_MIB");
	size_t mib = m ? (size_t)strtoul(m, NULL, 10) : 32;
	size_t bytes = mib << 20;
	for (int c = 0; c < NCHUNK; c++) {
		new_chunk(c, bytes / NCHUNK, 0);
		for (size_t b = 0; b < ch[c].nblk; b++)
			fill_block(c, b, 1);
	}
	if (wait_line("filled"))
		return 2;
	int64_t rc = sbma_evict_all();
	struct sbma_stats st;
	sbma_stats(&st);
	if (rc >= 0) {
		printf("thin: the first sbma_evict_all did not fail (%lld bytes written): the device did not refuse\n",
		       (long long)rc);
	} else {
		printf("thin: sbma_evict_all failed: %s; %llu bytes resident, %llu dirty\n", strerror((int)-rc),
		       (unsigned long long)st.resident, (unsigned long long)st.dirty);
		if (st.dirty == 0) {
			printf("bad word: the eviction failed but no dirty page stayed\n");
			bad_words++;
		}
	}
	check_all("after the failed eviction");
	for (int c = 0; c < NCHUNK; c++)
		for (size_t b = 0; b < ch[c].nblk; b += 5)
			fill_block(c, b, ch[c].ver[b] + 1);
	check_all("after the sweep");
	sbma_stats(&st);
	printf("thin: after the sweep: %llu bytes resident, %llu dirty, over_budget %llu\n",
	       (unsigned long long)st.resident, (unsigned long long)st.dirty, (unsigned long long)st.over_budget);
	if (wait_line("waiting"))
		return 2;
	rc = sbma_evict_all();
	sbma_stats(&st);
	printf("thin: second sbma_evict_all: %lld; %llu bytes resident, %llu dirty\n", (long long)rc,
	       (unsigned long long)st.resident, (unsigned long long)st.dirty);
	if (rc < 0) {
		/* The file system may have gone read-only meanwhile (ext4
		 * does when its own metadata cannot be written): then the data
		 * must still be whole in memory. */
		check_all("after the second eviction failed");
		printf("thin: the second sbma_evict_all failed too (%s): every word checked in memory\n",
		       strerror((int)-rc));
		return bad_words ? 1 : 4;
	}
	check_all("read back from the store");
	return 0;
}

/*
 * misuse: calls that are wrong must fail (or be ignored) without harm: the
 * range calls on memory that is not SBMA's, on an empty or overflowing
 * range, with bad access flags; malloc(0); realloc(p, 0) (frees p, NULL);
 * an unpin without a pin. SBMA
 * memory allocated before must be intact after them.
 */
static int misuse(void)
{
	struct sbma_config cfg;
	sbma_get_config(&cfg);
	size_t n = 4 * (size_t)cfg.budget;
	new_chunk(0, n, 0);
	for (size_t b = 0; b < ch[0].nblk; b++)
		fill_block(0, b, 1);
	char stack[8192];
	char *small = malloc(64); /* libc's */
	void *p = ch[0].p;
	int fails = 0;
#define EXPECT(call, want)                                                                                             \
	do {                                                                                                           \
		long long got_ = (long long)(call);                                                                    \
		if (got_ != (long long)(want)) {                                                                       \
			printf("misuse: %s returned %lld, want %lld\n", #call, got_, (long long)(want));               \
			fails++;                                                                                       \
		}                                                                                                      \
	} while (0)
	memset(stack, 1, sizeof stack);
	EXPECT(sbma_touch(stack, sizeof stack, SBMA_ACCESS_READ), -EINVAL);
	EXPECT(sbma_pin(stack, sizeof stack, SBMA_ACCESS_WRITE), -EINVAL);
	EXPECT(sbma_evict(small, 64), -EINVAL);
	EXPECT(sbma_discard(small, 64), -EINVAL);
	EXPECT(sbma_unpin(stack, sizeof stack), -EINVAL);
	EXPECT(sbma_touch(NULL, 4096, SBMA_ACCESS_READ), -EINVAL);
	EXPECT(sbma_evict(p, 0), -EINVAL);
	EXPECT(sbma_evict(p, SIZE_MAX), -EINVAL);
	EXPECT(sbma_touch(p, n, 0), -EINVAL);
	EXPECT(sbma_touch(p, n, 8), -EINVAL);
	EXPECT(sbma_unpin(p, n), 0); /* never pinned: nothing to undo */
	EXPECT(sbma_owns(stack), 0);
	EXPECT(sbma_owns(small), 0);
	EXPECT(sbma_owns(p), 1);
	void *z = malloc(0);
	EXPECT(z != NULL, 1);
	free(z);
	z = sbma_malloc(0);
	EXPECT(z != NULL && sbma_owns(z), 1);
	sbma_free(z);
	/* realloc(p, 0) frees p (and returns NULL): the allocation count
	 * and bytes go back to what they were, through the libc entry
	 * point and through SBMA's own. */
	struct sbma_stats st0, st1;
	for (int way = 0; way < 2; way++) {
		sbma_stats(&st0);
		void *r = way ? sbma_malloc(cfg.min_alloc * 3) : malloc(cfg.min_alloc * 3);
		EXPECT(r != NULL && sbma_owns(r), 1);
		if (r)
			memset(r, 7, cfg.min_alloc * 3);
		void *q = way ? sbma_realloc(r, 0) : realloc(r, 0);
		EXPECT(q, 0);
		sbma_stats(&st1);
		EXPECT(st1.allocations, st0.allocations);
		EXPECT(st1.allocated, st0.allocated);
	}
	volatile size_t huge = SIZE_MAX / 2; /* volatile: no compile-time warning */
	errno = 0;
	EXPECT(calloc(huge, 3), 0);
	EXPECT(errno, ENOMEM);
	errno = 0;
	EXPECT(malloc(huge * 2 - 4096), 0);
	EXPECT(errno, ENOMEM);
	free(small);
	check_all("after the misuse");
	free(ch[0].p);
	if (fails)
		printf("bad word: %d misused calls answered wrongly\n", fails);
	return fails ? 1 : 0;
}

/*
 * evictloop: fill 4x the budget, install a handler for SIGTERM and SIGINT
 * that checks every word (faulting SBMA memory in, from the handler) and
 * exits 0 with "OK" or 1 with the bad word (PROG_NO_HANDLER=1: none, the
 * signal kills), say "looping", then evict
 * everything and rewrite a block per page, forever. The test script sends
 * the signal at a random moment: whatever SBMA was doing (an eviction, a
 * load), the handler must find the data whole.
 */
static volatile sig_atomic_t in_write = -1;
static void on_stop_signal(int sig)
{
	(void)sig;
	/* A block being rewritten when the signal came is half old, half
	 * new: check every other block. */
	for (int c = 0; c < NCHUNK; c++)
		for (size_t b = 0; b < ch[c].nblk; b++)
			if (!(c == 0 && (long)b == (long)in_write))
				check_block(c, b, "in the signal handler");
	if (bad_words) {
		fflush(stdout);
		_exit(1);
	}
	write(1, "OK\n", 3);
	_exit(0);
}

static int evictloop(void)
{
	struct sbma_config cfg;
	sbma_get_config(&cfg);
	size_t chunk = (size_t)cfg.budget;
	for (int c = 0; c < NCHUNK; c++) {
		new_chunk(c, chunk, 0);
		for (size_t b = 0; b < ch[c].nblk; b++)
			fill_block(c, b, 1);
	}
	/* Without a handler, the default action: a shell starts background
	 * jobs with SIGINT ignored. */
	void (*h)(int) = getenv("PROG_NO_HANDLER") ? SIG_DFL : on_stop_signal;
	signal(SIGTERM, h);
	signal(SIGINT, h);
	printf("looping\n");
	fflush(stdout);
	size_t step = cfg.page_size / BLK ? cfg.page_size / BLK : 1;
	for (;;) {
		report_evict(sbma_evict_all(), "sbma_evict_all");
		for (size_t b = 0; b < ch[0].nblk; b += step) {
			in_write = (sig_atomic_t)b;
			fill_block(0, b, ch[0].ver[b] + 1);
			in_write = -1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "workload";
	if (strcmp(mode, "build") == 0) {
#ifdef SBMA_FAULT_INJECT
		puts("fault-inject");
#else
		puts("plain");
#endif
		return 0;
	}
	const char *s = getenv("PROG_SEED");
	if (!s)
		s = getenv("SBMA_FAULT_INJECT_SEED");
	if (s)
		seed = strtoull(s, NULL, 10) + 1;
	rng ^= mix64(seed);
	const char *e = getenv("PROG_EXPECT_DIRTY");
	expect_dirty = e && *e == '1';
	setvbuf(stdout, NULL, _IOLBF, 0);
	int rc = strcmp(mode, "thin") == 0        ? thin()
	         : strcmp(mode, "misuse") == 0    ? misuse()
	         : strcmp(mode, "evictloop") == 0 ? evictloop()
	                                          : workload();
	if (bad_words) {
		printf("bad words: %llu\n", (unsigned long long)bad_words);
		return 1;
	}
	if (rc)
		return rc;
	printf("OK\n");
	return 0;
}
