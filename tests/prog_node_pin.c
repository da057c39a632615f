/*
 * prog_node_pin.c - what a process has pinned is in its node slot as soon
 * as it pins or unpins, for tests/test_node_pinned.sh.
 *
 * Other processes of the node ask a blocked one to release the part of its
 * charge that is not pinned, as its slot says (node.c, ask_blocked_locked).
 * A slot that still said "nothing pinned" after the process had pinned all
 * it held drew a request on every round of every waiter; the blocked
 * process answered each with nothing, and the waiters, seeing a request
 * pending, kept waiting, up to SBMA_NODE_TIMEOUT (the 10 s stall of the
 * MPI examples' collectives on pinned buffers).
 *
 * Usage: prog_node_pin PROBE (the path of tests/prog_node_probe), with
 * SBMA_JOB set. It allocates 8 MiB (sbma_malloc), writes it, pins half of
 * it, reads its own slot's `pinned` through `PROBE peek`, which must be
 * 4 MiB, then unpins and reads it again: 0. Exit 0 if both are right, 1
 * with the wrong value printed, 99 on a setup error.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sbma.h"

#define MIB ((size_t)1 << 20)

/* The slot field `pinned` of this process, or -1 if it cannot be read. */
static long long slot_pinned(const char *probe, const char *job)
{
	char cmd[1024];
	snprintf(cmd, sizeof cmd, "'%s' peek '%s' %d pinned", probe, job, (int)getpid());
	FILE *f = popen(cmd, "r");
	if (!f)
		return -1;
	long long v = -1;
	if (fscanf(f, "%lld", &v) != 1)
		v = -1;
	int st = pclose(f);
	return st == 0 ? v : -1;
}

static int expect(const char *probe, const char *job, const char *when, long long want)
{
	long long got = slot_pinned(probe, job);
	if (got < 0) {
		fprintf(stderr, "prog_node_pin: %s: cannot read this process's slot (job %s)\n", when, job);
		exit(99);
	}
	printf("%s: slot pinned %lld (expected %lld)\n", when, got, want);
	return got == want ? 0 : 1;
}

int main(int argc, char **argv)
{
	const char *job = getenv("SBMA_JOB");
	if (argc != 2 || !job || !*job) {
		fprintf(stderr, "usage: SBMA_JOB=name prog_node_pin PROBE\n");
		return 99;
	}
	size_t len = 8 * MIB, half = len / 2;
	char *p = sbma_malloc(len);
	if (!p) {
		perror("prog_node_pin: sbma_malloc");
		return 99;
	}
	memset(p, 0x5a, len);
	int bad = 0;
	if (sbma_pin(p, half, SBMA_ACCESS_READ) != 0) {
		fprintf(stderr, "prog_node_pin: sbma_pin failed\n");
		return 99;
	}
	bad |= expect(argv[1], job, "after sbma_pin of 4 MiB", (long long)half);
	if (sbma_unpin(p, half) != 0) {
		fprintf(stderr, "prog_node_pin: sbma_unpin failed\n");
		return 99;
	}
	bad |= expect(argv[1], job, "after sbma_unpin", 0);
	sbma_free(p);
	return bad;
}
