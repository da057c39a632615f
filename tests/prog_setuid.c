/*
 * prog_setuid.c - the program tests/test_setuid.sh makes setuid: it reports
 * the settings SBMA resolved, so that the test can tell whether a hostile
 * environment was obeyed.
 *
 * It links the engine statically (libsbma-core.la): a secure-execution
 * program ignores LD_LIBRARY_PATH, so it could not find an uninstalled
 * libsbma.so. It starts SBMA (sbma_init: a bad setting makes it exit 1 with
 * SBMA's message), allocates 16 MiB of SBMA memory, writes a pattern,
 * evicts it to the backing file, checks it, and prints one line:
 *
 *   secure=0|1 euid=N budget=N page=N min_alloc=N arena=N dir=PATH
 *   store=PATH node=0|1
 *
 * secure is the kernel's AT_SECURE for this process, store the backing
 * file's path as /proc/self/fd shows it, node whether it joined a node
 * segment. Exit: 0 ok, 1 SBMA refused to start, 2 out of memory, 3 data
 * wrong.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "sbma.h"
#include "sbma_internal.h"

#define SIZE ((size_t)16 << 20)

int main(void)
{
	int rc = sbma_init(NULL);
	if (rc < 0 && rc != -EALREADY) {
		fprintf(stderr, "prog_setuid: sbma_init: %s\n", strerror(-rc));
		return 1;
	}
	struct sbma_config cfg;
	if (sbma_get_config(&cfg) < 0)
		return 1;
	uint64_t *p = sbma_malloc(SIZE);
	if (!p)
		return 2;
	for (size_t i = 0; i < SIZE / 8; i++)
		p[i] = i * 0x9E3779B97F4A7C15ULL;
	if (sbma_evict_all() < 0)
		return 3;
	for (size_t i = 0; i < SIZE / 8; i++)
		if (p[i] != i * 0x9E3779B97F4A7C15ULL)
			return 3;
	char fdpath[64], store[4096] = "none";
	snprintf(fdpath, sizeof fdpath, "/proc/self/fd/%d", sbma__store_fd());
	ssize_t n = readlink(fdpath, store, sizeof store - 1);
	if (n > 0)
		store[n] = '\0';
	printf("secure=%d euid=%u budget=%llu page=%zu min_alloc=%zu arena=%llu dir=%s store=%s node=%d\n",
	       getauxval(AT_SECURE) ? 1 : 0, (unsigned)geteuid(), (unsigned long long)cfg.budget, cfg.page_size,
	       cfg.min_alloc, (unsigned long long)cfg.arena_size, cfg.dir, store, sbma__node_active());
	sbma_free(p);
	return 0;
}
