/*
 * prog_fullfs.c - run by tests/test_fullfs.sh with SBMA_DIR on a small file
 * system. It mallocs 4 MiB blocks (SBMA memory: above SBMA_MIN_ALLOC) and
 * fills each one until malloc returns NULL. Because SBMA reserves backing
 * space at allocation, a full file system must show up there, as NULL with
 * errno ENOMEM, and never later as a crash or lost data at eviction: after
 * the NULL, sbma_evict_all() must succeed and every block must read back
 * intact. Then it frees everything and checks that the space can be
 * allocated again (freed extents are given back). Exit status: 0 ok, 1 the
 * file system never filled, 2 wrong errno, 3 eviction failed, 4 data wrong,
 * 5 no reuse after free. Prints "blocks N" on stdout.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sbma.h"

#define BLOCK (4u << 20)
#define MAXBLOCKS 4096 /* 16 GiB: far more than the test's file system */

static uint64_t val(size_t blk, size_t i)
{
	uint64_t x = (blk << 32) ^ (i * 0x9E3779B97F4A7C15ULL);
	x ^= x >> 31;
	return x * 0x94D049BB133111EBULL;
}

static uint64_t *blocks[MAXBLOCKS];

int main(void)
{
	size_t n = 0;
	int err = 0;
	for (; n < MAXBLOCKS; n++) {
		errno = 0;
		uint64_t *p = malloc(BLOCK);
		if (!p) {
			err = errno;
			break;
		}
		if (!sbma_owns(p)) {
			fprintf(stderr, "prog_fullfs: block %zu is not SBMA memory\n", n);
			return 4;
		}
		for (size_t i = 0; i < BLOCK / 8; i++)
			p[i] = val(n, i);
		blocks[n] = p;
	}
	printf("blocks %zu\n", n);
	fflush(stdout);
	if (n == MAXBLOCKS || n == 0) {
		fprintf(stderr, "prog_fullfs: %zu blocks of 4 MiB: the file system %s\n", n,
			n ? "never filled" : "took none");
		return 1;
	}
	if (err != ENOMEM) {
		fprintf(stderr, "prog_fullfs: malloc failed with errno %d (%s), want ENOMEM\n", err,
			strerror(err));
		return 2;
	}
	int64_t w = sbma_evict_all();
	if (w < 0) {
		fprintf(stderr, "prog_fullfs: sbma_evict_all: %s\n", strerror((int)-w));
		return 3;
	}
	for (size_t b = 0; b < n; b++)
		for (size_t i = 0; i < BLOCK / 8; i++)
			if (blocks[b][i] != val(b, i)) {
				fprintf(stderr, "prog_fullfs: block %zu word %zu wrong\n", b, i);
				return 4;
			}
	/* Small allocations still come from libc. */
	char *small = malloc(100);
	if (!small) {
		fprintf(stderr, "prog_fullfs: a small malloc failed on a full SBMA_DIR\n");
		return 2;
	}
	free(small);
	for (size_t b = 0; b < n; b++)
		free(blocks[b]);
	/* The space came back: the same number of blocks fits again. */
	for (size_t b = 0; b < n; b++) {
		blocks[b] = malloc(BLOCK);
		if (!blocks[b]) {
			fprintf(stderr, "prog_fullfs: after free, block %zu of %zu failed\n", b, n);
			return 5;
		}
		memset(blocks[b], (int)b, BLOCK);
	}
	if (sbma_evict_all() < 0) {
		fprintf(stderr, "prog_fullfs: second sbma_evict_all failed\n");
		return 3;
	}
	for (size_t b = 0; b < n; b++) {
		if (((unsigned char *)blocks[b])[BLOCK - 1] != (unsigned char)b) {
			fprintf(stderr, "prog_fullfs: reused block %zu wrong\n", b);
			return 4;
		}
		free(blocks[b]);
	}
	printf("ok\n");
	return 0;
}
