/*
 * prog_fork_cost.c - what fork() costs with SBMA memory. Allocates N MiB
 * (argument, 256 by default), writes it all, so that with SBMA_BUDGET=N/2
 * about half is resident (and dirty) and half evicted; then times fork()
 * (the parent returns when the child's private copy is made) with a child
 * that exits at once, fork+exec of /bin/true, posix_spawn of /bin/true and
 * system("true"), three times each, and the same fork after the resident
 * half is made clean (evicted and read back: no copy of its store data, it
 * becomes dirty in the child). Not run by make check:
 *
 *   SBMA_BUDGET=128M tests/prog_fork_cost 256
 */
#define _GNU_SOURCE
#include <errno.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sbma.h"

extern char **environ;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int reap(pid_t pid)
{
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static void state(const char *when)
{
	struct sbma_stats s;
	sbma_stats(&s);
	printf("%s: resident %llu MiB (dirty %llu MiB), allocated %llu MiB\n", when,
	       (unsigned long long)(s.resident >> 20), (unsigned long long)(s.dirty >> 20),
	       (unsigned long long)(s.allocated >> 20));
}

static void time_fork(const char *label)
{
	for (int k = 0; k < 3; k++) {
		double t0 = now();
		pid_t pid = fork();
		if (pid == 0)
			_exit(0);
		double t1 = now();
		if (pid < 0 || reap(pid)) {
			perror("fork");
			exit(1);
		}
		printf("%-34s fork() returned in %8.1f ms, child reaped after %8.1f ms\n", label, (t1 - t0) * 1e3,
		       (now() - t0) * 1e3);
	}
}

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 256;
	size_t n = mib << 20;
	char *p = sbma_malloc(n);
	if (!p) {
		perror("sbma_malloc");
		return 1;
	}
	for (size_t i = 0; i < n; i += 4096)
		memset(p + i, (int)(i >> 12), 4096);
	state("after writing");
	fflush(stdout);
	time_fork("fork, child exits (dirty):");

	char *const args[] = {"true", NULL};
	for (int k = 0; k < 3; k++) {
		double t0 = now();
		pid_t pid = fork();
		if (pid == 0) {
			execv("/bin/true", args);
			_exit(127);
		}
		if (pid < 0 || reap(pid))
			return 1;
		printf("%-34s %8.1f ms\n", "fork + exec /bin/true:", (now() - t0) * 1e3);
	}
	for (int k = 0; k < 3; k++) {
		double t0 = now();
		pid_t pid;
		if (posix_spawn(&pid, "/bin/true", NULL, NULL, args, environ) || reap(pid))
			return 1;
		printf("%-34s %8.1f ms\n", "posix_spawn /bin/true:", (now() - t0) * 1e3);
	}
	for (int k = 0; k < 3; k++) {
		double t0 = now();
		if (system("true") != 0)
			return 1;
		printf("%-34s %8.1f ms\n", "system(\"true\"):", (now() - t0) * 1e3);
	}

	/* The resident half clean: evict everything, read the last half back. */
	sbma_evict_all();
	volatile char sink = 0;
	for (size_t i = n / 2; i < n; i += 4096)
		sink ^= p[i];
	(void)sink;
	state("after evict + read back");
	fflush(stdout);
	time_fork("fork, child exits (clean):");

	for (size_t i = 0; i < n; i += 4096)
		if (p[i] != (char)(i >> 12)) {
			fprintf(stderr, "data wrong at %zu\n", i);
			return 1;
		}
	sbma_free(p);
	return 0;
}
