/*
 * prog_alloc.c - a small program for the shell tests: it allocates 64 MiB
 * with malloc, writes a pattern, reads it back, frees it, prints "ok" and
 * exits 0. Linked with libsbma (tests/prog_alloc), it first calls
 * sbma_init(NULL) so that a bad SBMA_* setting makes it exit 1 (SBMA has
 * printed the reason on stderr), and it checks that a malloc of at least
 * SBMA_MIN_ALLOC is SBMA memory and survives sbma_evict_all(). Built with
 * -DSBMA_TEST_PLAIN (tests/prog_plain) it knows nothing of SBMA: that one is
 * run under LD_PRELOAD=libsbma.so. Exit status: 0 ok, 1 init refused, 2 out
 * of memory, 3 data or ownership wrong.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef SBMA_TEST_PLAIN
#include "sbma.h"
#endif

#define SIZE (64u << 20)

static uint64_t val(size_t i)
{
	uint64_t x = i * 0x9E3779B97F4A7C15ULL + 0x1234;
	x ^= x >> 29;
	return x * 0xBF58476D1CE4E5B9ULL;
}

int main(void)
{
#ifndef SBMA_TEST_PLAIN
	int rc = sbma_init(NULL);
	if (rc < 0 && rc != -EALREADY) {
		fprintf(stderr, "prog_alloc: sbma_init: %s\n", strerror(-rc));
		return 1;
	}
	struct sbma_config cfg;
	rc = sbma_get_config(&cfg);
	if (rc < 0) {
		fprintf(stderr, "prog_alloc: sbma_get_config: %s\n", strerror(-rc));
		return 1;
	}
#endif
	uint64_t *p = malloc(SIZE);
	if (!p) {
		perror("prog_alloc: malloc");
		return 2;
	}
#ifndef SBMA_TEST_PLAIN
	if (SIZE >= cfg.min_alloc && !sbma_owns(p)) {
		fprintf(stderr, "prog_alloc: a %u-byte malloc is not SBMA memory\n", SIZE);
		return 3;
	}
#endif
	for (size_t i = 0; i < SIZE / 8; i++)
		p[i] = val(i);
#ifndef SBMA_TEST_PLAIN
	if (sbma_evict_all() < 0) {
		fprintf(stderr, "prog_alloc: sbma_evict_all failed\n");
		return 3;
	}
#endif
	for (size_t i = 0; i < SIZE / 8; i++) {
		if (p[i] != val(i)) {
			fprintf(stderr, "prog_alloc: wrong data at word %zu\n", i);
			return 3;
		}
	}
	free(p);
	printf("ok\n");
	return 0;
}
