/*
 * alloc_mix - an allocation-heavy program, for SBMA's in-core overhead.
 *
 * A table of --slots live blocks (default 4096) and --ops operations
 * (default 2,000,000). Each operation picks a slot at random: an empty slot
 * gets a new block, a full one is freed (one time in eight it is grown with
 * realloc instead). Block sizes, fixed by the seed:
 *
 *   90 %   16 B - 1 KiB      (small objects: libc's bins, SBMA's small path)
 *    9 %   1 KiB - 64 KiB    (buffers)
 *    1 %   1 MiB - 8 MiB     (large blocks: SBMA regions at the default
 *                             SBMA_MIN_ALLOC of 1 MiB)
 *
 * Every block is written when it is made (its first and last byte and one
 * byte per 4 KiB page, so large blocks pay their first-touch faults as a
 * real program would) and its first byte read back when it is freed: a
 * block handed out twice, or corrupted, changes the checksum.
 *
 * The program is plain C over malloc/free/realloc: run it as is (glibc) and
 * under LD_PRELOAD=libsbma.so with a budget above its footprint, and compare.
 * The slot table is static, not malloc'd, so it does not count.
 *
 * Output: ops, seconds, ns/op, peak live bytes and a checksum; --csv FILE
 * appends rows bench=alloc_mix, case=--label (metrics time, ns_per_op,
 * checksum).
 *
 * Usage: alloc_mix [--ops N] [--slots N] [--seed N] [--csv FILE] [--label S]
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"

#define MAX_SLOTS 65536

static unsigned char *slot_ptr[MAX_SLOTS];
static size_t slot_len[MAX_SLOTS];

static size_t pick_size(uint64_t *seed)
{
	uint64_t r = bench_rand(seed), kind = r % 100;

	r >>= 8;
	if (kind < 90)
		return 16 + r % (1024 - 16 + 1);
	if (kind < 99)
		return 1024 + r % (64 * 1024 - 1024 + 1);
	return (1u << 20) + r % (7u << 20);
}

/* Write the block the way a program fills a new buffer, sparsely. */
static void fill(unsigned char *p, size_t len, unsigned char tag)
{
	size_t off;

	for (off = 0; off < len; off += 4096)
		p[off] = tag;
	p[len - 1] = tag;
}

int main(int argc, char **argv)
{
	uint64_t ops = 2000000, nslots = 4096, seed = 12345, i, t0, ns;
	uint64_t live = 0, peak = 0, sum = 0, nmalloc = 0, nfree = 0;
	uint64_t nrealloc = 0;
	const char *csv = NULL, *label = "plain";
	int a;

	for (a = 1; a < argc; a++) {
		if (!strcmp(argv[a], "--ops") && a + 1 < argc) {
			ops = strtoull(argv[++a], NULL, 10);
		} else if (!strcmp(argv[a], "--slots") && a + 1 < argc) {
			nslots = strtoull(argv[++a], NULL, 10);
			if (!nslots || nslots > MAX_SLOTS)
				bench_die("--slots: expected 1..%d, got '%s'",
					  MAX_SLOTS, argv[a]);
		} else if (!strcmp(argv[a], "--seed") && a + 1 < argc) {
			seed = strtoull(argv[++a], NULL, 10) | 1;
		} else if (!strcmp(argv[a], "--csv") && a + 1 < argc) {
			csv = argv[++a];
		} else if (!strcmp(argv[a], "--label") && a + 1 < argc) {
			label = argv[++a];
		} else {
			bench_die("usage: %s [--ops N] [--slots N] [--seed N] "
				  "[--csv FILE] [--label S]", argv[0]);
		}
	}
	if (!ops)
		bench_die("--ops: expected a count > 0");

	t0 = bench_now_ns();
	for (i = 0; i < ops; i++) {
		uint64_t s = bench_rand(&seed) % nslots;
		unsigned char *p = slot_ptr[s];
		unsigned char tag = (unsigned char)(i | 1);

		if (p && (i & 7) == 3) {
			/* grow it: realloc keeps the old contents */
			size_t nl = slot_len[s] + slot_len[s] / 2 + 16;

			sum += p[0];
			p = realloc(p, nl);
			if (!p)
				bench_die("realloc(%zu) failed", nl);
			fill(p + slot_len[s], nl - slot_len[s], tag);
			live += nl - slot_len[s];
			slot_ptr[s] = p;
			slot_len[s] = nl;
			nrealloc++;
		} else if (p) {
			sum += p[0] * (s + 1);
			live -= slot_len[s];
			free(p);
			slot_ptr[s] = NULL;
			nfree++;
		} else {
			size_t len = pick_size(&seed);

			p = malloc(len);
			if (!p)
				bench_die("malloc(%zu) failed", len);
			fill(p, len, tag);
			slot_ptr[s] = p;
			slot_len[s] = len;
			live += len;
			nmalloc++;
		}
		if (live > peak)
			peak = live;
	}
	for (i = 0; i < nslots; i++) {
		if (slot_ptr[i]) {
			sum += slot_ptr[i][0];
			free(slot_ptr[i]);
		}
	}
	ns = bench_now_ns() - t0;

	printf("alloc_mix: %llu ops (%llu malloc, %llu free, %llu realloc), "
	       "%.3f s, %.0f ns/op, peak live %llu MiB, checksum %llu\n",
	       (unsigned long long)ops, (unsigned long long)nmalloc,
	       (unsigned long long)nfree, (unsigned long long)nrealloc,
	       bench_sec(ns), (double)ns / (double)ops,
	       (unsigned long long)(peak >> 20), (unsigned long long)sum);
	bench_csv(csv, "alloc_mix", label, "time", bench_sec(ns), "s");
	bench_csv(csv, "alloc_mix", label, "ns_per_op",
		  (double)ns / (double)ops, "ns");
	bench_csv(csv, "alloc_mix", label, "checksum", (double)sum, "count");
	return 0;
}
