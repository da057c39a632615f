/*
 * test_exit_order.c - SBMA memory stays valid for the code that runs at
 * exit, before and after SBMA's own exit work (tests/test_exit_order.sh).
 *
 * main allocates three blocks with malloc (12 MiB, 6 MiB and 2 MiB: SBMA
 * memory when libsbma is preloaded or linked, over a 8 MiB budget so that
 * most of it is on disk), fills them, evicts everything and registers the
 * blocks with libexitorder; an atexit handler of main and a destructor of
 * the program check them too (those run before SBMA's destructors), and the
 * library's handlers after (see tests/libexitorder.c). Every check reads
 * every word back from the backing store, rewrites it and reads it again.
 * Prints "main ok" and one line per handler. EXITORDER_CORRUPT=1 flips one
 * bit first: "main FAIL", exit 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libexitorder.h"

static void main_atexit(void)
{
	exitorder_check("main-atexit");
}

__attribute__((destructor)) static void prog_fini(void)
{
	exitorder_check("program-destructor");
}

int main(void)
{
	static const size_t sizes[] = {12u << 20, 6u << 20, 2u << 20};
	for (int b = 0; b < 3; b++) {
		uint64_t *w = malloc(sizes[b]);
		if (!w) {
			perror("malloc");
			return 1;
		}
		for (size_t i = 0; i < sizes[b] / 8; i++)
			w[i] = exitorder_value((uint64_t)b + 1, 0, i);
		exitorder_add(w, sizes[b], (uint64_t)b + 1, 0);
	}
	atexit(main_atexit);
	/* The test's check of itself: one wrong word must be found. */
	if (getenv("EXITORDER_CORRUPT"))
		exitorder_corrupt();
	exitorder_check("main");
	return 0;
}
