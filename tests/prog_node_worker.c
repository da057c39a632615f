/*
 * prog_node_worker.c - one process of the node-budget tests.
 *
 * Allocates -m MiB with malloc (SBMA memory: the program is linked with
 * libsbma), then -s sweeps: each sweep checks every word against what the
 * previous sweep wrote and writes a new value, then a phase of random
 * read-modify-writes (also checked). The values depend on -i ID, the word
 * and the sweep only, so the last check proves every byte survived every
 * eviction bit for bit. With -b, the process calls sbma__block-like
 * blocking through the public API between sweeps (sbma_evict_all), so that
 * peers see pages come and go. Exit: 0 all data correct, 1 bad usage or
 * out of memory, 3 wrong data (the first bad word is printed).
 *
 * With -f N the process forks N-1 children first (before any SBMA
 * allocation), each running the same work with ID+k: the fork-based way to
 * start a job; the parent waits for all and fails if any failed.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crash_report.h"
#include "sbma.h"

/* What the worker is doing, for a crash report (crash_report.h). */
static const char *phase = "start-up";
static const char *where(void)
{
	return phase;
}

static uint64_t val(uint64_t id, uint64_t i, uint64_t sweep)
{
	uint64_t x = (id << 48) ^ (sweep << 40) ^ i;
	x *= 0x9E3779B97F4A7C15ULL;
	x ^= x >> 31;
	return x * 0xBF58476D1CE4E5B9ULL + sweep;
}

static int bad(uint64_t id, size_t i, uint64_t got, uint64_t want, const char *where)
{
	fprintf(stderr, "prog_node_worker %" PRIu64 " (pid %d): %s: word %zu is %016" PRIx64 ", expected %016" PRIx64 "\n",
		id, (int)getpid(), where, i, got, want);
	return 3;
}

static int work(uint64_t id, size_t mib, unsigned sweeps, int evict_between)
{
	size_t n = (mib << 20) / 8;
	uint64_t *a = malloc(n * 8);
	if (!a) {
		perror("prog_node_worker: malloc");
		return 1;
	}
	phase = "first write";
	for (size_t i = 0; i < n; i++)
		a[i] = val(id, i, 0);
	phase = "sweeps";
	for (unsigned s = 1; s <= sweeps; s++) {
		for (size_t i = 0; i < n; i++) {
			if (a[i] != val(id, i, s - 1))
				return bad(id, i, a[i], val(id, i, s - 1), "sweep");
			a[i] = val(id, i, s);
		}
		if (evict_between)
			sbma_evict_all();
	}
	phase = "random updates";
	/* Random updates: x[i] ^= key, checked at the end by undoing them. */
	uint64_t r = id * 2654435761u + 1;
	size_t updates = n / 4096;
	for (size_t k = 0; k < updates; k++) {
		r = r * 6364136223846793005ULL + 1442695040888963407ULL;
		a[(r >> 16) % n] ^= r;
	}
	r = id * 2654435761u + 1;
	for (size_t k = 0; k < updates; k++) {
		r = r * 6364136223846793005ULL + 1442695040888963407ULL;
		a[(r >> 16) % n] ^= r;
	}
	phase = "final check";
	for (size_t i = 0; i < n; i++)
		if (a[i] != val(id, i, sweeps))
			return bad(id, i, a[i], val(id, i, sweeps), "final check");
	phase = "free and exit";
	free(a);
	return 0;
}

int main(int argc, char **argv)
{
	size_t mib = 16;
	unsigned sweeps = 3, forks = 1;
	uint64_t id = 1;
	int evict_between = 0, c;
	while ((c = getopt(argc, argv, "m:s:i:f:b")) != -1) {
		switch (c) {
		case 'm': mib = strtoul(optarg, NULL, 10); break;
		case 's': sweeps = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'i': id = strtoull(optarg, NULL, 10); break;
		case 'f': forks = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'b': evict_between = 1; break;
		default:
			fprintf(stderr, "usage: %s [-m MiB] [-s sweeps] [-i id] [-f processes] [-b]\n", argv[0]);
			return 1;
		}
	}
	tc_crash_report(where);
	if (!mib || !forks) {
		fprintf(stderr, "prog_node_worker: -m and -f must be positive\n");
		return 1;
	}
	for (unsigned k = 1; k < forks; k++) {
		pid_t p = fork();
		if (p < 0) {
			perror("prog_node_worker: fork");
			return 1;
		}
		if (p == 0)
			_exit(work(id + k, mib, sweeps, evict_between));
	}
	int rc = work(id, mib, sweeps, evict_between);
	for (unsigned k = 1; k < forks; k++) {
		int st;
		if (wait(&st) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			rc = rc ? rc : 3;
	}
	return rc;
}
