/*
 * prog_preload.c - an unmodified program (built without SBMA) that
 * tests/test_preload.sh runs under LD_PRELOAD=libsbma.so, to show that SBMA
 * needs no bootstrap arena (src/preload.c, header).
 *
 * Its preinit function runs before every library constructor, SBMA's
 * included: SBMA has read no setting yet and its wrappers have resolved no
 * real function. There it calls dlopen and dlsym (a failing lookup too:
 * dlerror allocates its message), dlsym(RTLD_DEFAULT, "malloc"), malloc,
 * calloc and realloc of large and small blocks, and read(2) through a pipe.
 * main then checks every early block, frees them (they are glibc's: the
 * arena did not exist yet), makes large allocations that must now be
 * SBMA's (asked through dlsym(RTLD_DEFAULT, "sbma_owns")), grows an early
 * glibc block past SBMA_MIN_ALLOC with realloc (it moves into SBMA, the
 * contents kept), dlopens again, and prints "ok". Without SBMA (no
 * sbma_owns) it exits 3 after the same checks, so that a run that lost the
 * preload cannot pass.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MiB (1024UL * 1024UL)

static int early_ran, early_errors;
static char *early_big, *early_zero, *early_small;
static double (*early_cos)(double);
static void *early_malloc;

static void fill(char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (char)(i * 31 + seed + (i >> 12));
}

static size_t bad_bytes(const char *p, size_t n, unsigned seed)
{
	size_t bad = 0;
	for (size_t i = 0; i < n; i++)
		bad += p[i] != (char)(i * 31 + seed + (i >> 12));
	return bad;
}

static void fail(const char *what)
{
	static const char pre[] = "prog_preload: early: ";
	/* No stdio yet: it may not be initialised this early. */
	if (write(2, pre, sizeof pre - 1) < 0 || write(2, what, strlen(what)) < 0 || write(2, "\n", 1) < 0)
		_exit(9);
	early_errors++;
}

static void early(int argc, char **argv, char **envp)
{
	(void)argc;
	(void)argv;
	(void)envp;
	early_ran = 1;
	void *h = dlopen("libm.so.6", RTLD_NOW);
	if (!h) {
		fail("dlopen libm.so.6");
		return;
	}
	early_cos = (double (*)(double))dlsym(h, "cos");
	if (!early_cos)
		fail("dlsym cos");
	if (dlsym(h, "sbma_no_such_symbol") != NULL || dlerror() == NULL)
		fail("a failing dlsym");
	early_malloc = dlsym(RTLD_DEFAULT, "malloc");
	if (!early_malloc)
		fail("dlsym malloc");
	early_big = malloc(48 * MiB);
	early_zero = calloc(8, MiB);
	early_small = malloc(64);
	if (!early_big || !early_zero || !early_small) {
		fail("malloc");
		return;
	}
	fill(early_big, 48 * MiB, 1);
	early_big = realloc(early_big, 64 * MiB);
	if (!early_big || bad_bytes(early_big, 48 * MiB, 1))
		fail("realloc");
	int fds[2];
	if (pipe(fds) != 0 || write(fds[1], "early", 6) != 6 || read(fds[0], early_small, 64) != 6)
		fail("read through a pipe");
	close(fds[0]);
	close(fds[1]);
}

__attribute__((section(".preinit_array"), used)) static void (*preinit)(int, char **, char **) = early;

int main(void)
{
	int bad = 0;
	if (!early_ran || early_errors) {
		fprintf(stderr, "prog_preload: preinit %s, %d errors\n", early_ran ? "ran" : "did not run",
			early_errors);
		return 1;
	}
	if (early_cos(0.0) != 1.0)
		bad |= 1;
	if (bad_bytes(early_big, 48 * MiB, 1))
		bad |= 2;
	for (size_t i = 0; i < 8 * MiB; i++)
		if (early_zero[i]) {
			bad |= 4;
			break;
		}
	if (strcmp(early_small, "early") != 0)
		bad |= 8;
	if (dlsym(RTLD_DEFAULT, "malloc") != early_malloc)
		bad |= 16;
	int (*owns)(const void *) = (int (*)(const void *))dlsym(RTLD_DEFAULT, "sbma_owns");
	char *late = malloc(48 * MiB);
	if (!late)
		return 1;
	fill(late, 48 * MiB, 2);
	if (owns) {
		/* Before SBMA's constructor every request was glibc's. */
		if (owns(early_big) || owns(early_zero) || owns(early_small))
			bad |= 32;
		if (!owns(late))
			bad |= 64;
	}
	free(early_big);
	free(early_zero);
	/* An early glibc block grows into SBMA. */
	early_small = realloc(early_small, 4 * MiB);
	if (!early_small || strcmp(early_small, "early") != 0)
		bad |= 128;
	if (owns && !owns(early_small))
		bad |= 256;
	void *h = dlopen("libm.so.6", RTLD_NOW);
	if (!h || !dlsym(h, "sin"))
		bad |= 512;
	if (bad_bytes(late, 48 * MiB, 2))
		bad |= 1024;
	free(late);
	free(early_small);
	if (bad) {
		fprintf(stderr, "prog_preload: failed checks 0x%x\n", bad);
		return 1;
	}
	if (!owns)
		return 3;
	printf("ok\n");
	return 0;
}
