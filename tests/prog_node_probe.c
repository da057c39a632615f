/*
 * prog_node_probe.c - looks into a node segment from outside, for the
 * node-budget tests. It links nothing of SBMA but the segment layout.
 *
 *   prog_node_probe watch JOB PID...   sample until the segment is gone
 *       (or 60 s): every 2 ms, the sum over the listed processes (and their
 *       children) of RssShmem
 *       (the kernel's count of their SBMA pages and the segment) and the
 *       segment's charged total. Prints "max_rss_shmem=N max_charged=N
 *       budget=N over_budget=N final_charged=N recovered=N", exit 0.
 *   prog_node_probe check JOB    the segment's total equals the sum of its
 *       live slots' charges: prints them, exit 0 if equal, 3 if not, 4 if
 *       there is no segment.
 *   prog_node_probe name JOB     print the segment's path.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "node_segment.h"

#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

static void seg_path(const char *job, char *buf, size_t n)
{
	char host[64] = "";
	gethostname(host, sizeof host - 1);
	char *dot = strchr(host, '.');
	if (dot)
		*dot = '\0';
	for (char *p = host; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '.' ||
		      *p == '_' || *p == '-'))
			*p = '_';
	snprintf(buf, n, "/dev/shm/sbma-%u-%s-%s", (unsigned)getuid(), job, host);
}

static struct sbma_node_segment *map_seg(const char *job)
{
	char path[256];
	seg_path(job, path, sizeof path);
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return NULL;
	struct stat st;
	if (fstat(fd, &st) != 0 || (size_t)st.st_size < sizeof(struct sbma_node_segment)) {
		close(fd);
		return NULL;
	}
	void *p = mmap(NULL, sizeof(struct sbma_node_segment), PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return NULL;
	struct sbma_node_segment *s = p;
	if (LOAD(s->magic) != SBMA_NODE_MAGIC)
		return NULL;
	return s;
}

static uint64_t rss_shmem_one(pid_t pid)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	uint64_t kb = 0;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "RssShmem: %" SCNu64, &kb) == 1)
			break;
	fclose(f);
	return kb << 10;
}

/* A process and its children (a fork-based job is listed by its parent). */
static uint64_t rss_shmem(pid_t pid)
{
	char path[96], buf[4096];
	uint64_t sum = rss_shmem_one(pid);
	snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)pid, (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return sum;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	for (char *p = strtok(buf, " \n"); p; p = strtok(NULL, " \n"))
		sum += rss_shmem_one((pid_t)atoi(p));
	return sum;
}

static int watch(const char *job, int npid, char **pids)
{
	struct sbma_node_segment *s = NULL;
	uint64_t max_rss = 0, max_charged = 0;
	struct timespec d = {0, 2000000};
	char path[256];
	seg_path(job, path, sizeof path);
	for (int i = 0; i < 30000; i++) {
		if (!s)
			s = map_seg(job);
		else if (access(path, F_OK) != 0)
			break; /* the last process removed it */
		uint64_t sum = 0;
		for (int k = 0; k < npid; k++)
			sum += rss_shmem((pid_t)atoi(pids[k]));
		if (sum > max_rss)
			max_rss = sum;
		if (s && LOAD(s->charged) > max_charged)
			max_charged = LOAD(s->charged);
		nanosleep(&d, NULL);
	}
	if (!s) {
		printf("no segment\n");
		return 4;
	}
	printf("max_rss_shmem=%" PRIu64 " max_charged=%" PRIu64 " budget=%" PRIu64 " over_budget=%" PRIu64
	       " final_charged=%" PRIu64 " recovered=%" PRIu64 "\n",
	       max_rss, max_charged, LOAD(s->budget), LOAD(s->over_budget), LOAD(s->charged), LOAD(s->recovered));
	return 0;
}

static int check(const char *job)
{
	struct sbma_node_segment *s = map_seg(job);
	if (!s) {
		printf("no segment\n");
		return 4;
	}
	uint64_t sum = 0;
	int live = 0;
	for (unsigned i = 0; i < SBMA_NODE_SLOTS; i++) {
		const struct sbma_node_slot *sl = &s->slots[i];
		int pid = LOAD(sl->pid);
		if (!pid)
			continue;
		if (kill(pid, 0) != 0 && errno == ESRCH)
			continue;
		live++;
		sum += LOAD(sl->charged);
	}
	printf("charged=%" PRIu64 " live_sum=%" PRIu64 " live=%d budget=%" PRIu64 "\n", LOAD(s->charged), sum, live,
	       LOAD(s->budget));
	return LOAD(s->charged) == sum ? 0 : 3;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && !strcmp(argv[1], "watch"))
		return watch(argv[2], argc - 3, argv + 3);
	if (argc == 3 && !strcmp(argv[1], "check"))
		return check(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "name")) {
		char path[256];
		seg_path(argv[2], path, sizeof path);
		printf("%s\n", path);
		return 0;
	}
	fprintf(stderr, "usage: %s watch JOB PID... | check JOB | name JOB\n", argv[0]);
	return 2;
}
