/*
 * ooc_demo.c - an out-of-core sweep in one process, the quick start's job.
 *
 * An array four times the SBMA budget is allocated with plain malloc (SBMA
 * replaces it), initialised, swept three times (read-modify-write), updated
 * at random places, then checked element by element against the closed form
 * and summed. The process's resident memory stays near the budget; SBMA
 * moves the rest to its backing file. Prints PASS or FAIL, the time, and the
 * statistics; exits 0 only on PASS.
 *
 * Usage: ooc_demo [footprint-bytes]   (default: 4 x the SBMA budget)
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "sbma.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The value of element i after initialisation and `sweeps` sweeps. */
static uint64_t expected(uint64_t i, int sweeps)
{
	uint64_t v = i * 2654435761u + 7;
	for (int s = 0; s < sweeps; s++)
		v = v * 3 + (uint64_t)s;
	return v;
}

static uint64_t rng_next(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

int main(int argc, char **argv)
{
	struct sbma_config cfg;
	if (sbma_get_config(&cfg) != 0) {
		fprintf(stderr, "ooc_demo: SBMA is not available\n");
		return 2;
	}
	uint64_t bytes = argc > 1 ? strtoull(argv[1], NULL, 0) : 4 * cfg.budget;
	size_t n = (size_t)(bytes / sizeof(uint64_t));
	const int sweeps = 3;
	const size_t updates = n / 10000; /* 0.01%: random misses cost a device round trip each */

	printf("ooc_demo: array of %zu MiB, SBMA budget %llu MiB (footprint %.1fx the budget)\n",
	       (size_t)(bytes >> 20), (unsigned long long)(cfg.budget >> 20), (double)bytes / (double)cfg.budget);
	double t0 = now();
	uint64_t *a = malloc(n * sizeof *a);
	if (!a) {
		perror("ooc_demo: malloc");
		return 2;
	}
	for (size_t i = 0; i < n; i++)
		a[i] = expected(i, 0);
	for (int s = 0; s < sweeps; s++)
		for (size_t i = 0; i < n; i++)
			a[i] = a[i] * 3 + (uint64_t)s;
	uint64_t x = 88172645463325252ull;
	for (size_t k = 0; k < updates; k++)
		a[rng_next(&x) % n] += 1;

	/* Every element must equal its closed form plus the few random
	 * increments it got, and the increments must add up exactly. */
	uint64_t extra = 0;
	size_t bad = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t d = a[i] - expected(i, sweeps);
		if (d > 64) {
			if (bad++ < 5)
				fprintf(stderr, "ooc_demo: a[%zu] = %" PRIu64 ", expected %" PRIu64 " (+ a few)\n", i,
					a[i], expected(i, sweeps));
		}
		extra += d;
	}
	double t1 = now();
	int pass = bad == 0 && extra == updates;
	printf("ooc_demo: %s (%zu bad elements, %" PRIu64 " of %zu increments found) in %.2f s\n",
	       pass ? "PASS" : "FAIL", bad, extra, updates, t1 - t0);
	free(a);
	fflush(stdout); /* the statistics are written straight to the fd */
	sbma_print_stats(1);
	return pass ? 0 : 1;
}
