/*
 * libexitorder.c - handlers that run around SBMA's own exit work, for
 * tests/test_exit_order.sh (with tests/test_exit_order.c).
 *
 * At exit glibc runs, in this order: the atexit handlers registered after
 * the program started (main's), then every object's destructors (the
 * program's first, then the libraries' in the reverse of their
 * initialisation: a library that SBMA does not depend on and that was
 * initialised before it, which is the case for this one both when libsbma
 * is preloaded and when it is linked first, is finalised after SBMA), and
 * last the atexit handlers that library constructors registered before
 * main (their registration precedes glibc's own exit handler for the
 * destructors). This library has two destructors (priorities 101 and the
 * default: within one object the lower runs later) and registers an atexit
 * handler from its constructor, so it runs code after SBMA's destructors
 * (node_leave, the statistics report). The last one also allocates,
 * checks and frees a new block.
 *
 * Each handler evicts all SBMA memory (sbma_evict_all, looked up with
 * dlsym so that the library works with and without SBMA), checks every word
 * of the blocks the program registered against the version it expects,
 * writes the next version and checks it after another eviction; it prints
 * "NAME ok node=present|gone" (the node segment still there or not), or
 * "NAME FAIL ..." and ends the process with status 1.
 */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "libexitorder.h"

#define MAX_BLOCKS 4

static struct {
	uint64_t *w;
	size_t words;
	uint64_t seed;
	uint64_t ver;
} blocks[MAX_BLOCKS];
static int nblocks;

static uint64_t mix(uint64_t x)
{
	x += 0x9E3779B97F4A7C15ULL;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
	return x ^ (x >> 31);
}

uint64_t exitorder_value(uint64_t seed, uint64_t ver, size_t i)
{
	return mix(seed ^ mix((ver << 40) ^ i));
}

void exitorder_add(void *p, size_t bytes, uint64_t seed, uint64_t ver)
{
	if (nblocks == MAX_BLOCKS)
		abort();
	blocks[nblocks].w = p;
	blocks[nblocks].words = bytes / 8;
	blocks[nblocks].seed = seed;
	blocks[nblocks].ver = ver;
	nblocks++;
}

void exitorder_corrupt(void)
{
	if (nblocks)
		blocks[0].w[blocks[0].words / 2] ^= 1u << 9;
}

/* A line with one write(2): stdio may be gone this late. */
static void say(const char *name, const char *what)
{
	char line[256];
	int n = snprintf(line, sizeof line, "%s %s\n", name, what);
	if (write(1, line, (size_t)n) != n)
		_exit(3);
}

static void evict_all(void)
{
	int64_t (*f)(void) = (int64_t (*)(void))dlsym(RTLD_DEFAULT, "sbma_evict_all");
	if (f && f() < 0) {
		say("evict", "FAIL sbma_evict_all");
		_exit(1);
	}
}

static size_t wrong(int b)
{
	size_t bad = 0;
	for (size_t i = 0; i < blocks[b].words; i++)
		bad += blocks[b].w[i] != exitorder_value(blocks[b].seed, blocks[b].ver, i);
	return bad;
}

void exitorder_check(const char *name)
{
	char what[160];
	evict_all();
	for (int b = 0; b < nblocks; b++) {
		size_t bad = wrong(b);
		if (bad) {
			snprintf(what, sizeof what, "FAIL block %d: %zu wrong words of version %llu", b, bad,
				 (unsigned long long)blocks[b].ver);
			say(name, what);
			_exit(1);
		}
		blocks[b].ver++;
		for (size_t i = 0; i < blocks[b].words; i++)
			blocks[b].w[i] = exitorder_value(blocks[b].seed, blocks[b].ver, i);
	}
	evict_all();
	for (int b = 0; b < nblocks; b++) {
		size_t bad = wrong(b);
		if (bad) {
			snprintf(what, sizeof what, "FAIL block %d: %zu wrong words after rewriting", b, bad);
			say(name, what);
			_exit(1);
		}
	}
	const char *seg = getenv("EXITORDER_SEGMENT");
	snprintf(what, sizeof what, "ok node=%s", seg && *seg ? (access(seg, F_OK) == 0 ? "present" : "gone") : "none");
	say(name, what);
}

/* The last handler also allocates: a new block after SBMA left the node
 * (private budget then), written, evicted, read back, freed. */
static void late_atexit(void)
{
	exitorder_check("lib-atexit-from-constructor");
	size_t bytes = 3u << 20;
	uint64_t *w = malloc(bytes);
	if (!w) {
		say("late-malloc", "FAIL malloc");
		_exit(1);
	}
	for (size_t i = 0; i < bytes / 8; i++)
		w[i] = exitorder_value(99, 0, i);
	evict_all();
	for (size_t i = 0; i < bytes / 8; i++)
		if (w[i] != exitorder_value(99, 0, i)) {
			say("late-malloc", "FAIL wrong word after eviction");
			_exit(1);
		}
	free(w);
	say("late-malloc", "ok");
}

__attribute__((constructor)) static void lib_init(void)
{
	atexit(late_atexit);
}

__attribute__((destructor(101))) static void lib_fini_101(void)
{
	exitorder_check("lib-destructor-101");
}

__attribute__((destructor)) static void lib_fini_default(void)
{
	exitorder_check("lib-destructor");
}
