/*
 * test_fork.c - fork() gives the child a private, consistent copy of SBMA
 * memory and a backing file of its own; exec, posix_spawn and system() work
 * and leave the parent's memory alone. Every region is four times the budget
 * (32 MiB at SBMA_BUDGET=8M), so at fork time part of it is resident and
 * dirty, part resident and clean (read back after eviction), and most of it
 * only in the backing file. Checked word for word against a reference
 * recomputed from (seed, version, offset):
 *   1. the child sees the fork-time data, overwrites it all, evicts and
 *      re-reads its own; the parent's data is unchanged after the child is
 *      done and after the parent's own evictions; the parent's counters and
 *      protection runs are the same right after fork as before;
 *   2. the parent rewrites, evicts and frees after fork while the child
 *      waits: the child still reads the fork-time data;
 *   3. a grandchild (fork in the child) gets the child's data, and its
 *      writes reach neither the child nor the parent;
 *   4. fork from a thread while two other threads write random blocks (one
 *      on resident pages without faults, one faulting nearly every time):
 *      each child's copy is a snapshot of one instant (it replays the
 *      writers' deterministic write sequence up to the newest version it
 *      sees: every block must hold exactly its last write by then, only
 *      the one write in progress may be torn; and that newest version must
 *      agree with the writer's progress counter in static memory, which the
 *      kernel copied at the fork system call), six times;
 *   5. system(), posix_spawn and fork+exec of /bin/true with the region
 *      live: they succeed, and the parent's data is intact;
 *   6. file descriptors: the child has exactly one memfd and one backing
 *      file, both different from the parent's (inode), and no extra
 *      descriptor (the fork's socket pair is closed); the parent's are
 *      unchanged; SBMA_DIR has no name left in it;
 *   7. a child whose copy fails (RLIMIT_FSIZE makes its new backing file
 *      too small; RLIMIT_NOFILE leaves no descriptor for the socket pair
 *      that holds the parent) prints one line, keeps running with its SBMA
 *      memory revoked (a touch is SIGSEGV, large mallocs go to libc, free
 *      is quiet), while the parent neither hangs nor loses data.
 * Run alone it uses SBMA_BUDGET=8M and a fresh SBMA_DIR under $TMPDIR
 * (removed at the end). The fork cost at larger sizes is measured by
 * tests/prog_fork_cost.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "test_common.h"

extern char **environ;

static struct sbma_config cfg;
static size_t psz, foot;
static char sbma_dir[PATH_MAX]; /* resolved */
static int own_dir;             /* SBMA_DIR is ours: it must stay empty */

/* fork with stdio flushed, so that the child does not repeat buffered
 * output (children leave with _exit). */
static pid_t fork_flushed(void)
{
	fflush(stdout);
	fflush(stderr);
	return fork();
}

static int wait_status(pid_t pid)
{
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return st;
}

/* A child reports through its exit status: 0 all checks passed. */
static void expect_child_ok(pid_t pid, const char *what)
{
	int st = wait_status(pid);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fprintf(stderr, "  %s: child %s %d\n", what, WIFEXITED(st) ? "exited with" : "killed by signal",
			WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* A region of `foot` bytes at version 1, with a mix of page states: the
 * first 8 MiB read back after eviction (resident, clean, on disk), the
 * last ones resident and dirty, the rest evicted. */
static char *make_region(uint64_t seed)
{
	char *p = sbma_malloc(foot);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	tc_fill(p, foot, seed, 1, 0);
	CU_ASSERT_EQUAL(tc_check(p, 8 * MiB, seed, 1, 0, "make_region"), 0);
	return p;
}

/* 1. The child's memory is its own; the parent's is untouched. */
static void test_child_private(void)
{
	const uint64_t seed = 0xA1;
	char *p = make_region(seed);
	struct sbma_stats s0 = tc_stats();
	CU_ASSERT(s0.resident > 0);
	CU_ASSERT(s0.resident < foot);
	pid_t pid = fork_flushed();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		size_t bad = 0;
		struct sbma_stats c = tc_stats();
		if (c.resident != s0.resident || c.maps != s0.maps || c.bytes_read != 0) {
			fprintf(stderr, "  child: resident %llu (parent %llu), maps %llu (%llu), bytes_read %llu\n",
				(unsigned long long)c.resident, (unsigned long long)s0.resident,
				(unsigned long long)c.maps, (unsigned long long)s0.maps,
				(unsigned long long)c.bytes_read);
			bad++;
		}
		bad += tc_check(p, foot, seed, 1, 0, "child: fork-time data");
		tc_fill(p, foot, seed, 2, 0);
		bad += sbma_evict_all() < 0;
		bad += tc_check(p, foot, seed, 2, 0, "child: own data after eviction");
		c = tc_stats();
		bad += c.bytes_written == 0 || c.resident > cfg.budget + cfg.readahead + psz;
		_exit(bad != 0);
	}
	struct sbma_stats s1 = tc_stats();
	CU_ASSERT_EQUAL(s1.resident, s0.resident);
	CU_ASSERT_EQUAL(s1.dirty, s0.dirty);
	CU_ASSERT_EQUAL(s1.maps, s0.maps);
	expect_child_ok(pid, "private copy");
	CU_ASSERT_EQUAL(tc_check(p, foot, seed, 1, 0, "parent after the child"), 0);
	CU_ASSERT(sbma_evict_all() >= 0);
	CU_ASSERT_EQUAL(tc_check(p, foot, seed, 1, 0, "parent after eviction"), 0);
	sbma_free(p);
}

/* 2. The parent rewrites, evicts and frees while the child waits. */
static void test_parent_changes(void)
{
	const uint64_t seed = 0xB2;
	char *p = make_region(seed);
	char *q = sbma_malloc(4 * MiB);
	CU_ASSERT_PTR_NOT_NULL_FATAL(q);
	tc_fill(q, 4 * MiB, seed + 1, 1, 0);
	int go[2];
	CU_ASSERT_FATAL(pipe(go) == 0);
	pid_t pid = fork_flushed();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		char c;
		close(go[1]);
		if (read(go[0], &c, 1) != 1)
			_exit(2);
		size_t bad = tc_check(p, foot, seed, 1, 0, "child: region the parent rewrote");
		bad += tc_check(q, 4 * MiB, seed + 1, 1, 0, "child: region the parent freed");
		_exit(bad != 0);
	}
	close(go[0]);
	tc_fill(p, foot, seed, 3, 0);
	CU_ASSERT(sbma_evict_all() >= 0);
	sbma_free(q);
	/* Likely the same pages again: new data where q's was. */
	char *r = sbma_malloc(4 * MiB);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	tc_fill(r, 4 * MiB, seed + 2, 1, 0);
	CU_ASSERT(sbma_evict_all() >= 0);
	CU_ASSERT(write(go[1], "x", 1) == 1);
	close(go[1]);
	expect_child_ok(pid, "parent changes after fork");
	CU_ASSERT_EQUAL(tc_check(p, foot, seed, 3, 0, "parent: its new data"), 0);
	CU_ASSERT_EQUAL(tc_check(r, 4 * MiB, seed + 2, 1, 0, "parent: reused pages"), 0);
	sbma_free(r);
	sbma_free(p);
}

/* 3. fork in the child. */
static void test_nested(void)
{
	const uint64_t seed = 0xC3;
	const size_t half = foot / 2;
	char *p = make_region(seed);
	pid_t pid = fork_flushed();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		size_t bad = tc_check(p, foot, seed, 1, 0, "child: fork-time data");
		tc_fill(p, half, seed, 2, 0);
		pid_t g = fork_flushed();
		if (g < 0)
			_exit(3);
		if (g == 0) {
			size_t gbad = tc_check(p, half, seed, 2, 0, "grandchild: child's data");
			gbad += tc_check(p + half, foot - half, seed, 1, half / 8, "grandchild: parent's data");
			tc_fill(p, foot, seed, 4, 0);
			gbad += sbma_evict_all() < 0;
			gbad += tc_check(p, foot, seed, 4, 0, "grandchild: own data");
			_exit(gbad != 0);
		}
		int st = wait_status(g);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			fprintf(stderr, "  grandchild failed (status 0x%x)\n", st);
			bad++;
		}
		bad += sbma_evict_all() < 0;
		bad += tc_check(p, half, seed, 2, 0, "child after grandchild");
		bad += tc_check(p + half, foot - half, seed, 1, half / 8, "child after grandchild (2)");
		_exit(bad != 0);
	}
	expect_child_ok(pid, "nested fork");
	CU_ASSERT_EQUAL(tc_check(p, foot, seed, 1, 0, "parent after child and grandchild"), 0);
	CU_ASSERT(sbma_evict_all() >= 0);
	CU_ASSERT_EQUAL(tc_check(p, foot, seed, 1, 0, "parent after eviction"), 0);
	sbma_free(p);
}

/* 4. Fork while other threads fault. Writer t rewrites random 4 KiB blocks
 * of its own area: write i goes to block pick(i) and stores version i in
 * words 1.. and then i in word 0, then i in w->done (static memory, which
 * the kernel copies at fork). So the state of an area at any instant is
 * determined by the newest version W in it: every block holds its last
 * write up to W, except the block of write W+1, which may be in progress;
 * and W is done or done+1. */
#define NW 2
#define BLK 4096
#define NFORK 4

struct writer {
	uint64_t *base;
	size_t nblk;
	uint64_t seed;
	uint64_t done; /* last write ended */
	pthread_t tid;
};
static struct writer writers[NW];
static int stop_writers;

static size_t pick(const struct writer *w, uint64_t i)
{
	return tc_mix64(w->seed ^ (i * 0x9E3779B97F4A7C15ULL)) % w->nblk;
}

static void write_block(struct writer *w, size_t b, uint64_t v)
{
	uint64_t *blk = w->base + b * (BLK / 8);
	for (size_t k = 1; k < BLK / 8; k++)
		blk[k] = tc_val(w->seed, v, b * (BLK / 8) + k);
	__atomic_store_n(&blk[0], v, __ATOMIC_RELEASE);
}

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	for (uint64_t i = 1; !__atomic_load_n(&stop_writers, __ATOMIC_ACQUIRE); i++) {
		write_block(w, pick(w, i), i);
		__atomic_store_n(&w->done, i, __ATOMIC_RELEASE);
	}
	return NULL;
}

/* Wrong blocks of w's area, judged against its newest version. */
static size_t check_snapshot(const struct writer *w, int allow_torn, const char *who, uint64_t *newest)
{
	uint64_t top = 0;
	for (size_t b = 0; b < w->nblk; b++)
		if (w->base[b * (BLK / 8)] > top)
			top = w->base[b * (BLK / 8)];
	uint64_t *last = calloc(w->nblk, sizeof *last); /* < SBMA_MIN_ALLOC: libc */
	if (!last)
		return 1;
	for (uint64_t i = 1; i <= top; i++)
		last[pick(w, i)] = i;
	size_t torn = allow_torn ? pick(w, top + 1) : SIZE_MAX, bad = 0;
	for (size_t b = 0; b < w->nblk; b++) {
		const uint64_t *blk = w->base + b * (BLK / 8);
		if (blk[0] != last[b]) {
			if (!bad)
				fprintf(stderr, "  %s: block %zu holds version %llu, expected %llu (newest %llu)\n", who,
					b, (unsigned long long)blk[0], (unsigned long long)last[b],
					(unsigned long long)top);
			bad++;
			continue;
		}
		if (b == torn)
			continue;
		for (size_t k = 1; k < BLK / 8; k++) {
			if (blk[k] == tc_val(w->seed, blk[0], b * (BLK / 8) + k))
				continue;
			if (!bad)
				fprintf(stderr, "  %s: block %zu (version %llu) wrong at word %zu (newest %llu)\n", who,
					b, (unsigned long long)blk[0], k, (unsigned long long)top);
			bad++;
			break;
		}
	}
	free(last);
	*newest = top;
	return bad;
}

static void *forker_main(void *arg)
{
	size_t *failures = arg;
	for (int k = 0; k < NFORK; k++) {
		usleep(30000);
		/* Writer 0's pages resident and writable (and recently used,
		 * so that replacement leaves them): it runs without faults
		 * right up to the fork. */
		sbma_touch(writers[0].base, writers[0].nblk * BLK, SBMA_ACCESS_WRITE);
		uint64_t d0 = __atomic_load_n(&writers[0].done, __ATOMIC_ACQUIRE);
		for (int spin = 0; spin < 1000 && __atomic_load_n(&writers[0].done, __ATOMIC_ACQUIRE) < d0 + 1000;
		     spin++)
			usleep(1000);
		uint64_t before[NW];
		for (int t = 0; t < NW; t++)
			before[t] = __atomic_load_n(&writers[t].done, __ATOMIC_ACQUIRE);
		pid_t pid = fork_flushed();
		if (pid < 0) {
			(*failures)++;
			continue;
		}
		if (pid == 0) {
			size_t bad = 0;
			for (int t = 0; t < NW; t++) {
				uint64_t top, done = writers[t].done; /* at fork */
				bad += check_snapshot(&writers[t], 1, "child snapshot", &top);
				/* SBMA memory and the rest of the process are
				 * of the same instant: write `done` had ended
				 * at fork, write done+1 may have been under way,
				 * no later one. */
				if (top < before[t] || top > done + 1) {
					fprintf(stderr, "  child: writer %d: newest version %llu, but %llu..%llu "
						"at fork\n", t, (unsigned long long)top,
						(unsigned long long)before[t], (unsigned long long)done + 1);
					bad++;
				}
			}
			_exit(bad != 0);
		}
		int st = wait_status(pid);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			fprintf(stderr, "  fork %d: child status 0x%x\n", k, st);
			(*failures)++;
		}
	}
	return NULL;
}

static void test_threads(void)
{
	/* Writer 0 mostly hits resident, writable pages (no fault: it
	 * writes as fast as it can); writer 1 rewrites the rest and faults
	 * nearly every time. */
	size_t hot = cfg.budget / 4 / BLK * BLK;
	size_t area[NW] = { hot, (foot - hot) / BLK * BLK };
	char *p = sbma_malloc(area[0] + area[1]);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	for (int t = 0; t < NW; t++) {
		struct writer *w = &writers[t];
		w->base = (uint64_t *)(p + (t ? area[0] : 0));
		w->nblk = area[t] / BLK;
		w->seed = 0xD4 + (uint64_t)t;
		w->done = 0;
		for (size_t b = 0; b < w->nblk; b++)
			write_block(w, b, 0);
	}
	struct sbma_stats s0 = tc_stats();
	stop_writers = 0;
	for (int t = 0; t < NW; t++)
		CU_ASSERT_FATAL(pthread_create(&writers[t].tid, NULL, writer_main, &writers[t]) == 0);
	size_t failures = 0;
	pthread_t forker;
	CU_ASSERT_FATAL(pthread_create(&forker, NULL, forker_main, &failures) == 0);
	pthread_join(forker, NULL);
	__atomic_store_n(&stop_writers, 1, __ATOMIC_RELEASE);
	for (int t = 0; t < NW; t++)
		pthread_join(writers[t].tid, NULL);
	CU_ASSERT_EQUAL(failures, 0);
	uint64_t writes = 0;
	for (int t = 0; t < NW; t++) {
		uint64_t top;
		CU_ASSERT_EQUAL(check_snapshot(&writers[t], 0, "parent at the end", &top), 0);
		CU_ASSERT_EQUAL(top, writers[t].done);
		writes += top;
	}
	struct sbma_stats s1 = tc_stats();
	fprintf(stderr, "  (%llu block writes, %llu faults, during %d forks) ", (unsigned long long)writes,
		(unsigned long long)(s1.faults_read + s1.faults_write + s1.faults_upgrade - s0.faults_read -
				     s0.faults_write - s0.faults_upgrade),
		NFORK);
	CU_ASSERT(s1.faults_write + s1.faults_read > s0.faults_write + s0.faults_read);
	sbma_free(p);
}

/* 5. Children made by vfork-style clone (posix_spawn, system) and children
 * that only exec. */
static void test_spawn(void)
{
	const uint64_t seed = 0xE5;
	char *p = make_region(seed);
	double t0 = tc_now();
	int rc = system("true");
	double t_system = tc_now() - t0;
	CU_ASSERT(rc != -1 && WIFEXITED(rc) && WEXITSTATUS(rc) == 0);
	rc = system("exit 3");
	CU_ASSERT(rc != -1 && WIFEXITED(rc) && WEXITSTATUS(rc) == 3);

	char *const args[] = { "true", NULL };
	pid_t pid;
	t0 = tc_now();
	CU_ASSERT_EQUAL_FATAL(posix_spawn(&pid, "/bin/true", NULL, NULL, args, environ), 0);
	expect_child_ok(pid, "posix_spawn");
	double t_spawn = tc_now() - t0;

	t0 = tc_now();
	pid = fork_flushed();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		execv("/bin/true", args);
		_exit(127);
	}
	expect_child_ok(pid, "fork + exec");
	double t_forkexec = tc_now() - t0;
	fprintf(stderr, "  (system %.1f ms, posix_spawn %.1f ms, fork+exec %.1f ms with %zu MiB) ", t_system * 1e3,
		t_spawn * 1e3, t_forkexec * 1e3, (size_t)(foot / MiB));

	CU_ASSERT_EQUAL(tc_check(p, foot, seed, 1, 0, "parent after spawns"), 0);
	CU_ASSERT(sbma_evict_all() >= 0);
	CU_ASSERT_EQUAL(tc_check(p, foot, seed, 1, 0, "parent after spawns and eviction"), 0);
	sbma_free(p);
}

/* 6. Descriptors. */
struct fds {
	int total, memfds, stores;
	ino_t mem_ino, store_ino;
};

static struct fds scan_fds(void)
{
	struct fds f = { 0, 0, 0, 0, 0 };
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return f;
	struct dirent *e;
	size_t dl = strlen(sbma_dir);
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		int fd = atoi(e->d_name);
		if (fd == dirfd(d))
			continue;
		char path[64], link[PATH_MAX];
		snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
		ssize_t n = readlink(path, link, sizeof link - 1);
		if (n < 0)
			continue;
		link[n] = '\0';
		f.total++;
		struct stat st;
		if (strncmp(link, "/memfd:sbma", 11) == 0 && fstat(fd, &st) == 0) {
			f.memfds++;
			f.mem_ino = st.st_ino;
		} else if (strncmp(link, sbma_dir, dl) == 0 && link[dl] == '/' && fstat(fd, &st) == 0) {
			f.stores++;
			f.store_ino = st.st_ino;
		}
	}
	closedir(d);
	return f;
}

/* Names in SBMA_DIR (a backing file must never have one for long); 0 when
 * the directory is not the test's own. */
static int dir_entries(void)
{
	DIR *d = own_dir ? opendir(sbma_dir) : NULL;
	int n = 0;
	struct dirent *e;
	if (!d)
		return own_dir ? -1 : 0;
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(d);
	return n;
}

static void test_descriptors(void)
{
	const uint64_t seed = 0xF6;
	char *p = make_region(seed);
	struct fds f0 = scan_fds();
	CU_ASSERT_EQUAL(f0.memfds, 1);
	CU_ASSERT_EQUAL(f0.stores, 1);
	pid_t pid = fork_flushed();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		struct fds f = scan_fds();
		size_t bad = 0;
		if (f.total != f0.total || f.memfds != 1 || f.stores != 1 || f.mem_ino == f0.mem_ino ||
		    f.store_ino == f0.store_ino) {
			fprintf(stderr,
				"  child: %d descriptors (parent %d), %d memfd (inode %lu, parent's %lu), "
				"%d backing files (inode %lu, parent's %lu)\n",
				f.total, f0.total, f.memfds, (unsigned long)f.mem_ino, (unsigned long)f0.mem_ino,
				f.stores, (unsigned long)f.store_ino, (unsigned long)f0.store_ino);
			bad++;
		}
		/* The new file is in use: eviction writes it, loads read it. */
		tc_fill(p, foot, seed, 2, 0);
		bad += sbma_evict_all() < 0;
		bad += tc_check(p, foot, seed, 2, 0, "child: data in its own file");
		bad += dir_entries() != 0;
		_exit(bad != 0);
	}
	expect_child_ok(pid, "descriptors");
	struct fds f1 = scan_fds();
	CU_ASSERT_EQUAL(f1.total, f0.total);
	CU_ASSERT_EQUAL(f1.memfds, 1);
	CU_ASSERT_EQUAL(f1.stores, 1);
	CU_ASSERT_EQUAL(f1.mem_ino, f0.mem_ino);
	CU_ASSERT_EQUAL(f1.store_ino, f0.store_ino);
	CU_ASSERT_EQUAL(dir_entries(), 0);
	CU_ASSERT_EQUAL(tc_check(p, foot, seed, 1, 0, "parent"), 0);
	sbma_free(p);
}

/* 7. The child's copy fails. A resource limit is set that the child
 * inherits and the parent drops right after fork: RLIMIT_FSIZE at
 * 1 MiB (the child's new backing file cannot get its space), or
 * RLIMIT_NOFILE at the next free descriptor (the socket pair that holds
 * the parent cannot be made, so no consistent copy can be taken). */
static void copy_fails(int resource, const char *expect)
{
	const uint64_t seed = 0x17 + (uint64_t)resource;
	char *p = make_region(seed);
	int errp[2];
	CU_ASSERT_FATAL(pipe(errp) == 0);
	struct sigaction ign, old_xfsz;
	memset(&ign, 0, sizeof ign);
	ign.sa_handler = SIG_IGN;
	sigaction(SIGXFSZ, &ign, &old_xfsz);
	fflush(stderr);
	int saved_err = dup(2);
	CU_ASSERT_FATAL(saved_err >= 0);
	dup2(errp[1], 2);
	struct rlimit old_lim, lim;
	CU_ASSERT_FATAL(getrlimit(resource, &old_lim) == 0);
	lim = old_lim;
	if (resource == RLIMIT_FSIZE) {
		lim.rlim_cur = MiB;
	} else {
		int next = fcntl(0, F_DUPFD, 0);
		CU_ASSERT_FATAL(next >= 0);
		close(next);
		lim.rlim_cur = (rlim_t)next;
	}
	CU_ASSERT_FATAL(setrlimit(resource, &lim) == 0);
	pid_t pid = fork_flushed();
	setrlimit(resource, &old_lim);
	if (pid == 0) {
		close(errp[0]);
		close(saved_err);
		size_t bad = 0;
		bad += sbma_owns(p) != 0;
		/* Touching the revoked memory kills (a grandchild tries). */
		pid_t g = fork_flushed();
		if (g == 0) {
			struct rlimit nocore = { 0, 0 };
			setrlimit(RLIMIT_CORE, &nocore);
			_exit(((volatile char *)p)[12345] == 42 ? 5 : 6);
		}
		int st = wait_status(g);
		bad += !(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);
		/* Large mallocs still work (libc), and free is quiet. */
		char *q = malloc(4 * MiB);
		bad += q == NULL;
		if (q) {
			memset(q, 7, 4 * MiB);
			bad += sbma_owns(q) != 0;
			free(q);
		}
		free(p);
		_exit(bad != 0);
	}
	dup2(saved_err, 2);
	close(saved_err);
	close(errp[1]);
	sigaction(SIGXFSZ, &old_xfsz, NULL);
	CU_ASSERT_FATAL(pid > 0);
	expect_child_ok(pid, "copy fails");
	char msg[4096];
	size_t got = 0;
	ssize_t n;
	while (got < sizeof msg - 1 && (n = read(errp[0], msg + got, sizeof msg - 1 - got)) > 0)
		got += (size_t)n;
	msg[got] = '\0';
	close(errp[0]);
	fprintf(stderr, "\n  child said: %s", got ? msg : "(nothing)\n");
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "cannot get its own copy of SBMA memory"));
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, expect));
	CU_ASSERT_EQUAL(tc_check(p, foot, seed, 1, 0, "parent after a failed child"), 0);
	CU_ASSERT(sbma_evict_all() >= 0);
	CU_ASSERT_EQUAL(tc_check(p, foot, seed, 1, 0, "parent after eviction"), 0);
	CU_ASSERT_EQUAL(dir_entries(), 0);
	sbma_free(p);
}

static void test_copy_fails(void)
{
	copy_fails(RLIMIT_FSIZE, "reserving backing space");
	copy_fails(RLIMIT_NOFILE, "a pipe to hold the parent");
}

int main(int argc, char **argv)
{
	(void)argc;
	/* A private SBMA_DIR, so that leftover files can be seen. */
	static char made[PATH_MAX];
	if (!getenv("SBMA_DIR")) {
		const char *tmp = getenv("TMPDIR");
		snprintf(made, sizeof made, "%s/sbma-fork.XXXXXX", tmp && *tmp ? tmp : "/tmp");
		if (!mkdtemp(made)) {
			perror("mkdtemp");
			return 99;
		}
		setenv("SBMA_TEST_FORK_DIR", made, 1);
	}
	const char *const defaults[] = { "SBMA_BUDGET", "8M", "SBMA_DIR", made, NULL };
	tc_env_defaults(argv, defaults);
	const char *owned = getenv("SBMA_TEST_FORK_DIR");
	if (!realpath(getenv("SBMA_DIR"), sbma_dir)) {
		perror("realpath SBMA_DIR");
		return 99;
	}
	own_dir = owned && strcmp(owned, getenv("SBMA_DIR")) == 0;

	cfg = tc_config();
	psz = cfg.page_size;
	foot = 4 * cfg.budget;
	if (foot > 64 * MiB)
		foot = 64 * MiB;
	if (foot < 16 * MiB)
		foot = 16 * MiB;
	tc_print_config("test_fork");
	/* Start the engine before the first fork (the descriptor test
	 * compares with the parent's). */
	sbma_free(sbma_malloc(1));

	CU_TestInfo tests[] = {
		{ "child gets a private copy", test_child_private },
		{ "parent changes after fork", test_parent_changes },
		{ "nested fork", test_nested },
		{ "fork while other threads fault", test_threads },
		{ "system, posix_spawn, fork+exec", test_spawn },
		{ "descriptors and backing files", test_descriptors },
		{ "child's copy fails", test_copy_fails },
		CU_TEST_INFO_NULL,
	};
	int rc = tc_run("fork", tests);
	if (own_dir && rmdir(owned) != 0) {
		perror("rmdir SBMA_DIR (files left in it?)");
		rc = 1;
	}
	return rc;
}
