/*
 * prog_store.c - leaves a recognisable secret in its backing file, for
 * tests/test_store_secure.sh to look for.
 *
 *   prog_store MIB
 *
 * mallocs MIB MiB (SBMA memory), fills it with the line
 * "SBMA-SECRET-PATTERN-<pid>\n" over and over, evicts it all (now it is in
 * the backing file), prints "evicted" and waits for a line on stdin; then
 * frees it, prints "freed" and waits for another line; exits 0. Exit 1: no
 * memory or the memory is not SBMA's; 3: the data read back wrong.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sbma.h"

static void wait_line(void)
{
	char buf[64];
	if (!fgets(buf, sizeof buf, stdin))
		exit(0); /* the test went away */
}

int main(int argc, char **argv)
{
	size_t size = (argc > 1 ? strtoul(argv[1], NULL, 10) : 8) << 20;
	char line[64];
	int n = snprintf(line, sizeof line, "SBMA-SECRET-PATTERN-%d\n", (int)getpid());
	char *p = malloc(size);
	if (!p || !sbma_owns(p)) {
		fprintf(stderr, "prog_store: no SBMA memory\n");
		return 1;
	}
	for (size_t i = 0; i + (size_t)n <= size; i += (size_t)n)
		memcpy(p + i, line, (size_t)n);
	if (sbma_evict_all() < 0)
		return 3;
	if (memcmp(p + size / 2 / (size_t)n * (size_t)n, line, (size_t)n) != 0)
		return 3;
	/* The check above faulted a page back in: out with it again. */
	if (sbma_evict_all() < 0)
		return 3;
	printf("evicted\n");
	fflush(stdout);
	wait_line();
	free(p);
	printf("freed\n");
	fflush(stdout);
	wait_line();
	return 0;
}
