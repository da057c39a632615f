/*
 * prog_fake_segment.c - an SBMA node segment made by hand, for
 * tests/test_sbma_stat.sh: sbma-stat is tested on a segment whose every
 * field is known, without the engine, and on spoilt copies of it.
 *
 * Usage: prog_fake_segment [-c KIND] JOB
 *
 * It creates /sbma-<uid>-<JOB>-<host> with shm_open (O_EXCL, mode 0600,
 * <host> the short host name, as src/node.c names it), budget 3 GiB, and
 * fills four slots:
 *   slot 0  this process, running, charged 100 MiB; its counters grow by
 *           1 MiB read, 512 KiB written and 10 faults every 10 ms
 *   slot 1  its parent (the test script), blocked, charged 50 MiB
 *   slot 2  a child that has exited and been reaped (a dead pid), waiting,
 *           charged 25 MiB
 *   slot 5  pid 1 with a wrong start time (a pid now used by another
 *           process), running, charged 5 MiB
 * The magic is written last, as node.c does. KIND spoils the segment:
 *   ok (default), magic (wrong magic), zero (magic 0: not initialised),
 *   small (4 KiB file), empty (0-byte file), version (2), header (header
 *   size), nslots (128), size (size field larger than the file), owner
 *   (header uid is another uid), mode (0640), job (header job differs from
 *   the name), nameuid (named for uid+1: the file owner differs), flap (the
 *   file is truncated to 0 and re-made over and over, to make a reader hit
 *   SIGBUS).
 * It prints "name /sbma-...", "running PID", "blocked PID", "dead PID",
 * "reused PID" and "ready" (one per line), then keeps the segment until
 * SIGTERM, SIGINT or SIGHUP, or 300 s, then removes it (shm_unlink) and
 * exits 0. Exit 1: it could not make the segment, 2: usage.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "node_segment.h"

#define MIB             (1024ull * 1024)
#define STORE(field, v) __atomic_store_n(&(field), (v), __ATOMIC_RELAXED)

static uint64_t now_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Field 22 of /proc/pid/stat, 0 if unreadable. */
static uint64_t start_time(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	if (!p)
		return 0;
	for (int field = 2; field < 22 && *p; p++)
		if (*p == ' ')
			field++;
	return strtoull(p, NULL, 10);
}

static const char *kind = "ok";
static int is(const char *k)
{
	return strcmp(kind, k) == 0;
}

static struct sbma_node_slot *slot_of(struct sbma_node_segment *s, unsigned i, pid_t pid, uint32_t state, uint64_t st,
                                      uint64_t charged)
{
	struct sbma_node_slot *x = &s->slots[i];
	x->pid = pid;
	x->state = state;
	x->start_time = st;
	x->charged = charged;
	x->resident = charged;
	x->dirty = charged / 4;
	x->pinned = i == 0 ? 4 * MIB : 0;
	x->waits = i + 1;
	x->wait_ns = (i + 1) * 250000000ull;
	x->releases = i;
	x->blocked_ns = i * 1500000000ull;
	x->updated_ns = now_ns(CLOCK_MONOTONIC);
	s->charged += charged;
	return x;
}

/* Fill the segment (the whole header, magic last). */
static void fill(struct sbma_node_segment *s, size_t file_size, const char *job, pid_t dead, uint64_t st_self,
                 uint64_t st_parent, uint64_t st_init)
{
	memset(s, 0, sizeof *s);
	pthread_mutexattr_t ma;
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(&s->lock, &ma);
	pthread_mutexattr_destroy(&ma);
	s->version = is("version") ? 2 : SBMA_NODE_VERSION;
	s->header_size = is("header") ? sizeof *s - 8 : sizeof *s;
	s->size = is("size") ? file_size + 4096 : file_size;
	s->uid = is("owner") ? getuid() + 1 : getuid();
	s->nslots = is("nslots") ? 128 : SBMA_NODE_SLOTS;
	s->budget = 3072 * MIB;
	s->over_budget = 2;
	s->recovered = 1;
	s->next_ticket = 7;
	s->created_ns = now_ns(CLOCK_REALTIME) - 65000000000ull; /* 1m05s ago */
	snprintf(s->job, sizeof s->job, "%s", is("job") ? "otherjob" : job);
	slot_of(s, 0, getpid(), SBMA_SLOT_RUNNING, st_self, 100 * MIB);
	slot_of(s, 1, getppid(), SBMA_SLOT_BLOCKED, st_parent, 50 * MIB);
	struct sbma_node_slot *w = slot_of(s, 2, dead, SBMA_SLOT_WAITING, 12345, 25 * MIB);
	w->want = 64 * MIB;
	w->ticket = 6;
	slot_of(s, 5, 1, SBMA_SLOT_RUNNING, st_init + 1000, 5 * MIB);
	uint64_t magic = is("magic") ? 0x1234567890abcdefull : is("zero") ? 0 : SBMA_NODE_MAGIC;
	__atomic_store_n(&s->magic, magic, __ATOMIC_RELEASE);
}

int main(int argc, char **argv)
{
	int c;
	while ((c = getopt(argc, argv, "c:")) != -1) {
		if (c != 'c')
			return 2;
		kind = optarg;
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "usage: prog_fake_segment [-c KIND] JOB\n");
		return 2;
	}
	const char *job = argv[optind];
	static const char *const kinds[] = {"ok",     "magic", "zero",  "small", "empty", "version", "header",
	                                    "nslots", "size",  "owner", "mode",  "job",   "nameuid", "flap"};
	size_t k = 0;
	while (k < sizeof kinds / sizeof kinds[0] && !is(kinds[k]))
		k++;
	if (k == sizeof kinds / sizeof kinds[0]) {
		fprintf(stderr, "prog_fake_segment: unknown kind '%s'\n", kind);
		return 2;
	}

	char host[256] = "";
	gethostname(host, sizeof host - 1);
	char *dot = strchr(host, '.');
	if (dot)
		*dot = '\0';
	for (char *p = host; *p; p++) /* node.c's alphabet */
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '.' ||
		      *p == '_' || *p == '-'))
			*p = '_';
	char name[512];
	snprintf(name, sizeof name, SBMA_NODE_PREFIX "%u-%s-%s", (unsigned)getuid() + (is("nameuid") ? 1u : 0u), job,
	         host);

	/* Signals are taken by sigtimedwait below: block them first, so that
	 * one that comes early still ends in shm_unlink. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGALRM);
	sigprocmask(SIG_BLOCK, &set, NULL);
	alarm(300);

	/* A dead pid: a child that has exited and been reaped. */
	pid_t dead = fork();
	if (dead < 0)
		return 1;
	if (dead == 0)
		_exit(0);
	waitpid(dead, NULL, 0);

	int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (fd < 0) {
		fprintf(stderr, "prog_fake_segment: shm_open %s: %s\n", name, strerror(errno));
		return 1;
	}
	int rc = 1;
	struct sbma_node_segment *s = MAP_FAILED;
	size_t size = sizeof *s;
	if (is("small"))
		size = 4096;
	if (is("empty"))
		size = 0;
	if (size && ftruncate(fd, (off_t)size) != 0) {
		perror("prog_fake_segment: ftruncate");
		goto out;
	}
	if (is("mode") && fchmod(fd, 0640) != 0) {
		perror("prog_fake_segment: fchmod");
		goto out;
	}
	/* Mapped whole even when the file is smaller: only the first page is
	 * written then (the magic and version, which fill() puts first). */
	s = mmap(NULL, sizeof *s, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (s == MAP_FAILED) {
		perror("prog_fake_segment: mmap");
		goto out;
	}
	uint64_t st_self = start_time(getpid()), st_parent = start_time(getppid()), st_init = start_time(1);
	if (size == sizeof *s) {
		fill(s, size, job, dead, st_self, st_parent, st_init);
	} else if (size) {
		s->version = SBMA_NODE_VERSION;
		s->header_size = sizeof *s;
		__atomic_store_n(&s->magic, SBMA_NODE_MAGIC, __ATOMIC_RELEASE);
	}

	printf("name %s\nrunning %d\nblocked %d\ndead %d\nreused %d\nready\n", name, (int)getpid(), (int)getppid(),
	       (int)dead, 1);
	fflush(stdout);

	struct sbma_node_slot *me = &s->slots[0];
	struct timespec tick = {0, is("flap") ? 100000 : 10000000};
	for (;;) {
		int sig = sigtimedwait(&set, NULL, &tick);
		if (sig > 0)
			break;
		if (is("flap")) {
			if (ftruncate(fd, 0) != 0 || ftruncate(fd, (off_t)size) != 0)
				break;
			fill(s, size, job, dead, st_self, st_parent, st_init);
		} else if (size == sizeof *s) {
			STORE(me->bytes_read, me->bytes_read + MIB);
			STORE(me->bytes_written, me->bytes_written + MIB / 2);
			STORE(me->faults, me->faults + 10);
			STORE(me->updated_ns, now_ns(CLOCK_MONOTONIC));
		}
	}
	rc = 0;
out:
	if (s != MAP_FAILED)
		munmap(s, sizeof *s);
	close(fd);
	shm_unlink(name);
	return rc;
}
