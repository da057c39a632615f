/*
 * prog_node_probe.c - looks into a node segment from outside, for the
 * node-budget tests. It links nothing of SBMA but the segment layout.
 *
 *   prog_node_probe watch JOB PID...   sample until the segment is gone
 *       (or 60 s): every 2 ms, the sum over the listed processes (and all
 *       their descendants) of the RAM their SBMA memfds hold and of RssShmem
 *       (the kernel's count of all their shared pages: SBMA's, the segment's,
 *       and any other shared memory) and the segment's charged total.
 *       Prints "max_memfd=N max_memfd_stretched=N valid_samples=N
 *       max_rss_shmem=N max_charged=N budget=N over_budget=N
 *       final_charged=N recovered=N", exit 0. max_memfd counts only passes
 *       over the processes that took at most 5 ms (see watch).
 *   prog_node_probe check JOB    the segment's total equals the sum of its
 *       live slots' charges: prints them, exit 0 if equal, 3 if not, 4 if
 *       there is no segment.
 *   prog_node_probe hold JOB     lock the segment's mutex, print "held" and
 *       wait to be killed (a process that dies holding the lock).
 *   prog_node_probe name JOB     print the segment's path.
 *   prog_node_probe poke JOB FIELD VALUE   write VALUE (decimal, 0x hex or
 *       negative) into one field of a live segment, as a stray write would,
 *       but between two of the job's own updates: with the segment's lock
 *       held for the instant of the write (else a process in the middle of
 *       `charged += x` wrote its sum over the poke, and the spoilt value
 *       was never seen: a flaky test), except for the lock word itself, or
 *       without it if it cannot be had within 2 s: a header field (magic version header_size size
 *       uid nslots closing futex budget charged next_ticket over_budget
 *       recovered created_ns; job takes a string, "nonul" fills it without
 *       a terminator; lock is glibc's lock word of the mutex), or slot.F for
 *       the first slot in use, free.F for the last free one (F: pid state
 *       start_time charged want ticket release_req resident dirty pinned
 *       bytes_read bytes_written faults waits wait_ns releases blocked_ns
 *       updated_ns). Prints "FIELD: OLD -> NEW"; exit 4 if there is no
 *       segment or no such slot, 2 for an unknown field.
 *   prog_node_probe peek JOB PID F   print field F (as for poke) of the
 *       slot of process PID; exit 4 if there is no segment or no such
 *       slot, 2 for an unknown field.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
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

/* RAM held by a process's SBMA memfd (the data of its resident SBMA pages,
 * whichever view maps them): the memfd's allocated blocks. Unlike RssShmem
 * it does not count other shared memory (MPI's shared-memory transport). */
static uint64_t memfd_ram_one(pid_t pid)
{
	char dir[64], path[320], link[256];
	snprintf(dir, sizeof dir, "/proc/%d/fd", (int)pid);
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	uint64_t sum = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		ssize_t n = readlink(path, link, sizeof link - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		struct stat st;
		if (strncmp(link, "/memfd:sbma", 11) == 0 && stat(path, &st) == 0)
			sum += (uint64_t)st.st_blocks * 512;
	}
	closedir(d);
	return sum;
}

/* fn summed over a process and all its descendants (a job is listed by
 * its launcher, which may sit under a `timeout`). */
static uint64_t tree_sum(pid_t pid, uint64_t (*fn)(pid_t))
{
	char path[96], buf[4096];
	uint64_t sum = fn(pid);
	snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)pid, (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return sum;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *save = NULL;
	for (char *p = strtok_r(buf, " \n", &save); p; p = strtok_r(NULL, " \n", &save))
		sum += tree_sum((pid_t)atoi(p), fn);
	return sum;
}

/* A pass over the processes' memfds that took longer than this was
 * stretched by the scheduler (see watch). */
#define SAMPLE_MAX_NS 5000000ull

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int watch(const char *job, int npid, char **pids)
{
	struct sbma_node_segment *s = NULL;
	uint64_t max_rss = 0, max_charged = 0, max_memfd = 0, max_memfd_stretched = 0, valid = 0;
	struct timespec d = {0, 2000000};
	char path[256];
	seg_path(job, path, sizeof path);
	for (int i = 0; i < 30000; i++) {
		if (!s)
			s = map_seg(job);
		else if (access(path, F_OK) != 0)
			break; /* the last process removed it */
		uint64_t sum = 0;
		uint64_t memfd = 0;
		/* The memfds are read one process after the other: a pass
		 * that the scheduler stretched (a loaded machine) may count a
		 * batch twice, once in the process that evicted it and once in
		 * the one that loaded it since. Only passes that took at most
		 * SAMPLE_MAX_NS count; the others are reported. */
		uint64_t t0 = now_ns();
		for (int k = 0; k < npid; k++)
			memfd += tree_sum((pid_t)atoi(pids[k]), memfd_ram_one);
		if (now_ns() - t0 <= SAMPLE_MAX_NS) {
			valid++;
			if (memfd > max_memfd)
				max_memfd = memfd;
		} else if (memfd > max_memfd_stretched) {
			max_memfd_stretched = memfd;
		}
		for (int k = 0; k < npid; k++)
			sum += tree_sum((pid_t)atoi(pids[k]), rss_shmem_one);
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
	if (!valid) /* never a pass short enough: the best there is */
		max_memfd = max_memfd_stretched;
	printf("max_memfd=%" PRIu64 " max_memfd_stretched=%" PRIu64 " valid_samples=%" PRIu64
	       " max_rss_shmem=%" PRIu64 " max_charged=%" PRIu64 " budget=%" PRIu64 " over_budget=%" PRIu64
	       " final_charged=%" PRIu64 " recovered=%" PRIu64 "\n",
	       max_memfd, max_memfd_stretched, valid, max_rss, max_charged, LOAD(s->budget), LOAD(s->over_budget), LOAD(s->charged), LOAD(s->recovered));
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

/* Take the segment's mutex and keep it until killed: a process that dies
 * holding it (the test kills this one with SIGKILL). Prints "held". */
static int hold(const char *job)
{
	char path[256];
	seg_path(job, path, sizeof path);
	int fd = open(path, O_RDWR);
	if (fd < 0)
		return 4;
	struct sbma_node_segment *s =
		mmap(NULL, sizeof *s, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (s == MAP_FAILED || LOAD(s->magic) != SBMA_NODE_MAGIC)
		return 4;
	int rc = pthread_mutex_lock(&s->lock);
	if (rc == EOWNERDEAD)
		pthread_mutex_consistent(&s->lock);
	else if (rc)
		return 3;
	printf("held\n");
	fflush(stdout);
	for (;;)
		pause();
}

#define HF(f) {#f, offsetof(struct sbma_node_segment, f), sizeof(((struct sbma_node_segment *)0)->f)}
#define SF(f) {#f, offsetof(struct sbma_node_slot, f), sizeof(((struct sbma_node_slot *)0)->f)}
struct field_desc {
	const char *name;
	size_t off, size;
};
static const struct field_desc header_fields[] = {
	HF(magic),  HF(version),  HF(header_size), HF(size),        HF(uid),         HF(nslots),
	HF(closing), HF(futex),   HF(budget),      HF(charged),     HF(next_ticket), HF(over_budget),
	HF(recovered), HF(created_ns),
	{"lock", offsetof(struct sbma_node_segment, lock), sizeof(int)},
};
static const struct field_desc slot_fields[] = {
	SF(pid),       SF(state),      SF(start_time), SF(charged),    SF(want),          SF(ticket),
	SF(release_req), SF(resident), SF(dirty),      SF(pinned),     SF(bytes_read),    SF(bytes_written),
	SF(faults),    SF(waits),      SF(wait_ns),    SF(releases),   SF(blocked_ns),    SF(updated_ns),
};

static const struct field_desc *find_field(const struct field_desc *t, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(t[i].name, name))
			return &t[i];
	return NULL;
}

static int poke(const char *job, const char *field, const char *value)
{
	char path[256];
	seg_path(job, path, sizeof path);
	int fd = open(path, O_RDWR);
	if (fd < 0)
		return 4;
	struct sbma_node_segment *s = mmap(NULL, sizeof *s, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (s == MAP_FAILED)
		return 4;
	char *base = (char *)s;
	if (!strcmp(field, "job")) {
		size_t n = sizeof s->job;
		if (!strcmp(value, "nonul"))
			memset(s->job, 'x', n);
		else
			snprintf(s->job, n, "%s", value);
		printf("job -> %s\n", value);
		return 0;
	}
	const struct field_desc *d = NULL;
	if (!strncmp(field, "slot.", 5) || !strncmp(field, "free.", 5)) {
		int slot = -1;
		if (field[0] == 's') {
			for (int i = (int)SBMA_NODE_SLOTS - 1; i >= 0; i--)
				if (LOAD(s->slots[i].pid) != 0)
					slot = i; /* the first in use */
		} else {
			for (int i = 0; i < (int)SBMA_NODE_SLOTS; i++)
				if (LOAD(s->slots[i].pid) == 0)
					slot = i; /* the last free */
		}
		if (slot < 0)
			return 4;
		d = find_field(slot_fields, sizeof slot_fields / sizeof slot_fields[0], field + 5);
		base = (char *)&s->slots[slot];
	} else {
		d = find_field(header_fields, sizeof header_fields / sizeof header_fields[0], field);
	}
	if (!d) {
		fprintf(stderr, "prog_node_probe: unknown field %s\n", field);
		return 2;
	}
	uint64_t v = value[0] == '-' ? (uint64_t)strtoll(value, NULL, 0) : strtoull(value, NULL, 0);
	uint64_t old = 0;
	char *at = base + d->off;
	int locked = 0;
	if (strcmp(field, "lock") != 0) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 2;
		int rc = pthread_mutex_timedlock(&s->lock, &ts);
		if (rc == EOWNERDEAD)
			pthread_mutex_consistent(&s->lock);
		locked = rc == 0 || rc == EOWNERDEAD;
	}
	if (d->size == 8) {
		old = __atomic_exchange_n((uint64_t *)at, v, __ATOMIC_RELAXED);
	} else {
		old = __atomic_exchange_n((uint32_t *)at, (uint32_t)v, __ATOMIC_RELAXED);
	}
	if (locked)
		pthread_mutex_unlock(&s->lock);
	printf("%s: %" PRIu64 " -> %" PRIu64 "\n", field, old, d->size == 8 ? v : (uint32_t)v);
	return 0;
}

/* Print FIELD of the slot that process pid holds; 4 if there is no
 * segment or no such slot, 2 for an unknown field. */
static int peek(const char *job, const char *pid, const char *field)
{
	const struct field_desc *d = find_field(slot_fields, sizeof slot_fields / sizeof slot_fields[0], field);
	if (!d) {
		fprintf(stderr, "prog_node_probe: unknown slot field %s\n", field);
		return 2;
	}
	struct sbma_node_segment *s = map_seg(job);
	if (!s)
		return 4;
	int32_t want = (int32_t)atoi(pid);
	for (unsigned i = 0; i < SBMA_NODE_SLOTS; i++) {
		if (want <= 0 || LOAD(s->slots[i].pid) != want)
			continue;
		const char *at = (const char *)&s->slots[i] + d->off;
		uint64_t v = d->size == 8 ? __atomic_load_n((const uint64_t *)at, __ATOMIC_RELAXED)
					  : __atomic_load_n((const uint32_t *)at, __ATOMIC_RELAXED);
		printf("%" PRIu64 "\n", v);
		return 0;
	}
	return 4;
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "peek"))
		return peek(argv[2], argv[3], argv[4]);
	if (argc == 5 && !strcmp(argv[1], "poke"))
		return poke(argv[2], argv[3], argv[4]);
	if (argc >= 3 && !strcmp(argv[1], "watch"))
		return watch(argv[2], argc - 3, argv + 3);
	if (argc == 3 && !strcmp(argv[1], "check"))
		return check(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "hold"))
		return hold(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "name")) {
		char path[256];
		seg_path(argv[2], path, sizeof path);
		printf("%s\n", path);
		return 0;
	}
	fprintf(stderr,
		"usage: %s watch JOB PID... | check JOB | hold JOB | name JOB | poke JOB FIELD VALUE | peek JOB PID FIELD\n",
		argv[0]);
	return 2;
}
