/*
 * node.c - one memory budget for all the processes of a job on a node.
 *
 * The processes that share a job name (SBMA_JOB, or the launcher's job:
 * PMIx/Open MPI, Slurm; or a name agreed over MPI at MPI_Init) map one POSIX
 * shared-memory segment (layout: node_segment.h). It holds the node budget
 * and one slot per process: what it holds (its charge), its state (running,
 * blocked in a blocking call, waiting for budget) and its statistics.
 *
 * Charging. Every load is charged before it happens: the engine asks for the
 * bytes it is about to make resident (sbma__node_charge_locked), evictions
 * and frees give them back (sbma__node_sync_locked trims the charge to what
 * is resident). So the sum of resident SBMA memory on the node stays within
 * the budget, except for loads granted past it (pinned memory that cannot be
 * evicted, or a wait that timed out), which are counted in over_budget.
 *
 * When the node is full, a process that needs budget
 *   1. asks blocked processes to release (they answer at their next poll,
 *      in the wait loop of the blocking call: never in a signal handler);
 *   2. if nobody blocked holds anything it could release, evicts its own
 *      coldest pages (so the node always makes progress);
 *   3. if it has nothing left to evict either, waits asleep (a futex in the
 *      segment, woken whenever budget is freed) for SBMA_NODE_TIMEOUT
 *      seconds at most, then loads over budget and says so once. It does
 *      not wait at all when no other process is running: then nobody
 *      could ever free budget (all blocked with pinned buffers, say).
 * Waiters are served first come, first served: a process with a ticket has
 * the budget it waits for reserved against everyone who came later.
 *
 * Crash recovery. The mutex is robust: if a process dies holding it, the
 * next locker gets EOWNERDEAD, makes it consistent, and recomputes the node
 * total from the slots. Any process that waits scans the slots for dead
 * processes (the pid is gone, is a zombie, or belongs to a newer process
 * with another start time) and reclaims their charge. The last process to
 * leave removes the segment; a segment whose processes are all dead is
 * stale: it is removed and a fresh one created, never joined.
 *
 * Locking: the node lock is only ever taken with the engine lock held (or
 * before the engine runs), never across I/O; it may be taken in the SIGSEGV
 * handler (signals are blocked while the engine lock is held, so it is never
 * already held by the interrupted thread).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "node_segment.h"
#include "sbma_internal.h"

static struct sbma_node_segment *seg; /* NULL: a private budget */
static struct sbma_node_slot *me;
static char seg_name[SBMA_NODE_JOB_MAX + 128];
static char job_buf[SBMA_NODE_JOB_MAX];
static int warned_over;

#define RELAXED_STORE(field, v) __atomic_store_n(&(field), (v), __ATOMIC_RELAXED)
#define WAIT_SLICE_NS (20 * 1000 * 1000ull)

/* ------------------------------------------------------------ processes */

/* Field 22 (start time, clock ticks after boot) of /proc/pid/stat, and
 * whether the process is a zombie; 0 if it cannot be read. */
static uint64_t proc_start_time(pid_t pid, int *zombie)
{
	char path[64], buf[1024];
	sbma__format(path, sizeof path, "/proc/%d/stat", (int)pid);
	if (zombie)
		*zombie = 0;
	if (sbma__os_read_text(path, buf, sizeof buf) <= 0)
		return 0;
	/* The command name may contain spaces and parentheses: fields are
	 * counted from the last ')'. */
	char *p = strrchr(buf, ')');
	if (!p)
		return 0;
	p += 2; /* field 3: the state */
	if (zombie)
		*zombie = *p == 'Z' || *p == 'X';
	for (int field = 3; field < 22 && *p; p++)
		if (*p == ' ')
			field++;
	return strtoull(p, NULL, 10);
}

static int slot_alive(const struct sbma_node_slot *s)
{
	if (s == me)
		return 1;
	if (kill(s->pid, 0) != 0 && errno == ESRCH)
		return 0;
	int zombie;
	uint64_t st = proc_start_time(s->pid, &zombie);
	if (zombie)
		return 0;
	return !(st && s->start_time && st != s->start_time);
}

/* ---------------------------------------------------------------- futex */

static void wake_all(void)
{
	__atomic_add_fetch(&seg->futex, 1, __ATOMIC_RELEASE);
	syscall(SYS_futex, &seg->futex, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

static void sleep_on(uint32_t seen, uint64_t ns)
{
	struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000ull), .tv_nsec = (long)(ns % 1000000000ull)};
	syscall(SYS_futex, &seg->futex, FUTEX_WAIT, seen, &ts, NULL, 0);
}

/* ----------------------------------------------------------------- lock */

/* Reclaim the charge of dead processes and recompute the node total from
 * the slots (after a crash it may be off by one half-done update). */
static void recover_locked(void)
{
	uint64_t total = 0;
	int freed = 0;
	for (unsigned i = 0; i < SBMA_NODE_SLOTS; i++) {
		struct sbma_node_slot *s = &seg->slots[i];
		if (!s->pid)
			continue;
		if (!slot_alive(s)) {
			if (sbma__opt.verbose)
				sbma__log("node: process %d died holding %llu bytes of the node budget; reclaimed",
					  (int)s->pid, (unsigned long long)s->charged);
			memset(s, 0, sizeof *s);
			seg->recovered++;
			freed = 1;
			continue;
		}
		total += s->charged;
	}
	seg->charged = total;
	if (freed)
		wake_all();
}

static void node_lock(void)
{
	int rc = pthread_mutex_lock(&seg->lock);
	if (rc == EOWNERDEAD) {
		/* Its owner died inside: the fields may be half updated. */
		pthread_mutex_consistent(&seg->lock);
		recover_locked();
	} else if (rc) {
		sbma__die("node segment %s: cannot lock it: %s", seg_name, strerror(rc));
	}
}

static void node_unlock(void)
{
	pthread_mutex_unlock(&seg->lock);
}

/* ---------------------------------------------------------------- stats */

static void publish(void)
{
	RELAXED_STORE(me->resident, sbma__st.resident);
	RELAXED_STORE(me->dirty, sbma__st.dirty);
	RELAXED_STORE(me->pinned, sbma__st.pinned);
	RELAXED_STORE(me->bytes_read, sbma__st.bytes_read);
	RELAXED_STORE(me->bytes_written, sbma__st.bytes_written);
	RELAXED_STORE(me->faults, sbma__st.faults_read + sbma__st.faults_write + sbma__st.faults_upgrade);
	RELAXED_STORE(me->waits, sbma__st.node_waits);
	RELAXED_STORE(me->wait_ns, sbma__st.wait_ns);
	RELAXED_STORE(me->releases, sbma__st.releases);
	RELAXED_STORE(me->blocked_ns, sbma__st.blocked_ns);
	RELAXED_STORE(me->updated_ns, sbma__os_now_ns());
}

/* ------------------------------------------------------------- charging */

/* Budget reserved for the waiters ahead of ticket t (0: ahead of everyone,
 * i.e. all waiters). */
static uint64_t reserved_ahead(uint64_t t)
{
	uint64_t r = 0;
	for (unsigned i = 0; i < SBMA_NODE_SLOTS; i++) {
		struct sbma_node_slot *s = &seg->slots[i];
		if (s != me && s->pid && s->ticket && (t == 0 || s->ticket < t))
			r += s->want;
	}
	return r;
}

static void add_charge(uint64_t bytes)
{
	me->charged += bytes;
	seg->charged += bytes;
}

/* Take `bytes` if the node has them beyond what earlier waiters need. */
static int try_charge_locked(uint64_t bytes)
{
	uint64_t used = seg->charged + reserved_ahead(me->ticket);
	if (used > seg->budget || seg->budget - used < bytes)
		return 0;
	add_charge(bytes);
	return 1;
}

/* Ask blocked processes to release about `bytes`. Returns the bytes asked
 * for now or earlier and not yet answered. */
static uint64_t ask_blocked_locked(uint64_t bytes)
{
	uint64_t pending = 0;
	for (unsigned i = 0; i < SBMA_NODE_SLOTS; i++) {
		struct sbma_node_slot *s = &seg->slots[i];
		if (s == me || !s->pid || __atomic_load_n(&s->state, __ATOMIC_RELAXED) != SBMA_SLOT_BLOCKED)
			continue;
		uint64_t pinned = __atomic_load_n(&s->pinned, __ATOMIC_RELAXED);
		uint64_t can = s->charged > pinned ? s->charged - pinned : 0;
		if (s->release_req) {
			pending += s->release_req;
			continue;
		}
		if (!can || pending >= bytes)
			continue;
		uint64_t ask = bytes - pending < can ? bytes - pending : can;
		__atomic_store_n(&s->release_req, ask, __ATOMIC_RELEASE);
		pending += ask;
	}
	return pending;
}

/* Whether waiting can help: another process is running (it frees budget
 * when it evicts to make room for itself, frees memory or blocks; a waiter
 * counts as running while it evicts its own pages). If all others are
 * blocked or asleep waiting, no request is pending and nobody is ahead in
 * the queue, nobody will ever free budget: waiting would only stall the
 * node (pinned MPI buffers of every rank at once, say). */
static int anyone_may_free_locked(void)
{
	for (unsigned i = 0; i < SBMA_NODE_SLOTS; i++) {
		struct sbma_node_slot *s = &seg->slots[i];
		if (s == me || !s->pid)
			continue;
		/* A request not taken yet: its process has not looked (a
		 * blocked one looks every millisecond or so). A round is
		 * fruitless only once it has answered. */
		if (__atomic_load_n(&s->state, __ATOMIC_RELAXED) == SBMA_SLOT_RUNNING ||
		    __atomic_load_n(&s->release_req, __ATOMIC_ACQUIRE))
			return 1;
	}
	return 0;
}

static void set_state(uint32_t state)
{
	__atomic_store_n(&me->state, state, __ATOMIC_RELAXED);
}

int sbma__node_charge_locked(uint64_t bytes, int64_t (*evict_own)(uint64_t, void *), void *arg, int partial)
{
	if (!seg || !bytes)
		return 0;
	node_lock();
	if (!me->ticket && try_charge_locked(bytes)) {
		node_unlock();
		return 0;
	}
	/* The node is short: queue up, then ask, evict or wait. */
	uint64_t t0 = sbma__os_now_ns();
	uint64_t deadline = t0 + (uint64_t)sbma__opt.node_timeout * 1000000000ull;
	uint32_t prev_state = me->state;
	if (bytes > seg->budget)
		bytes = seg->budget;
	me->ticket = ++seg->next_ticket;
	me->want = bytes;
	set_state(SBMA_SLOT_WAITING);
	sbma__st.node_waits++;
	int own_left = evict_own != NULL;
	/* A round of release requests that freed nothing (the blocked
	 * processes' pages are pinned, or one hangs): evict our own before
	 * asking again, rather than wait for the timeout. */
	int fruitless = 0;
	for (;;) {
		if (try_charge_locked(bytes))
			break;
		uint64_t used = seg->charged + reserved_ahead(me->ticket);
		uint64_t shortfall = used + bytes > seg->budget ? used + bytes - seg->budget : bytes;
		uint64_t asked = fruitless && own_left ? 0 : ask_blocked_locked(shortfall);
		if (!asked && own_left) {
			/* Running, as others see it: it is about to free budget. */
			set_state(SBMA_SLOT_RUNNING);
			node_unlock();
			int64_t got = evict_own(shortfall, arg);
			node_lock();
			set_state(SBMA_SLOT_WAITING);
			if (got <= 0)
				own_left = 0;
			fruitless = 0;
			continue;
		}
		int timed_out = sbma__os_now_ns() >= deadline;
		/* Earlier waiters get served first: they run next, and running
		 * processes free budget. */
		int progress = (asked && !fruitless) || own_left || reserved_ahead(me->ticket) ||
			       anyone_may_free_locked();
		if (timed_out || !progress) {
			if (partial) {
				/* Admission: take what is free, leave the rest
				 * to faults. */
				uint64_t free_now = seg->budget > used ? seg->budget - used : 0;
				add_charge(free_now < bytes ? free_now : bytes);
			} else {
				add_charge(bytes);
				seg->over_budget++;
				sbma__st.over_budget++;
				if (!warned_over++)
					sbma__log("node: %s; process %d loads past the node budget (counted in "
						  "over_budget; said once)",
						  timed_out ? "no process released memory within SBMA_NODE_TIMEOUT"
							    : "no other process can release memory (all blocked or "
							      "waiting, their pages pinned)",
						  (int)getpid());
			}
			break;
		}
		uint32_t seen = __atomic_load_n(&seg->futex, __ATOMIC_ACQUIRE);
		uint64_t charged_before = seg->charged;
		node_unlock();
		sleep_on(seen, WAIT_SLICE_NS);
		node_lock();
		recover_locked();
		fruitless = asked && seg->charged >= charged_before;
	}
	me->ticket = 0;
	me->want = 0;
	set_state(prev_state == SBMA_SLOT_WAITING ? SBMA_SLOT_RUNNING : prev_state);
	node_unlock();
	sbma__st.wait_ns += sbma__os_now_ns() - t0;
	/* Budget we no longer reserve may be what the next waiter needs. */
	wake_all();
	return 0;
}

uint64_t sbma__node_room_locked(void)
{
	if (!seg)
		return 0;
	return me->charged > sbma__st.resident ? me->charged - sbma__st.resident : 0;
}

void sbma__node_sync_locked(void)
{
	if (!seg)
		return;
	publish();
	if (me->charged <= sbma__st.resident)
		return;
	node_lock();
	uint64_t give = me->charged - sbma__st.resident;
	me->charged -= give;
	seg->charged -= give > seg->charged ? seg->charged : give;
	node_unlock();
	wake_all();
}

void sbma__node_set_state(int blocked)
{
	if (seg)
		set_state(blocked ? SBMA_SLOT_BLOCKED : SBMA_SLOT_RUNNING);
}

int sbma__node_release_pending(void)
{
	return seg && __atomic_load_n(&me->release_req, __ATOMIC_ACQUIRE) != 0;
}

uint64_t sbma__node_take_release_locked(void)
{
	if (!seg)
		return 0;
	node_lock();
	uint64_t req = me->release_req;
	me->release_req = 0;
	node_unlock();
	return req;
}

/* ---------------------------------------------------------------- join */

/* Keep [A-Za-z0-9._-]; anything else becomes '_'. */
static void sanitize(char *dst, size_t n, const char *src)
{
	size_t i = 0;
	for (; src[i] && i + 1 < n; i++) {
		char c = src[i];
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
			 c == '_' || c == '-';
		dst[i] = ok ? c : '_';
	}
	dst[i] = '\0';
}

const char *sbma__node_detect_job(void)
{
	if (sbma__opt.job[0])
		return strcmp(sbma__opt.job, "none") ? sbma__opt.job : NULL;
	/* The launcher's identity of this run: every process it starts on a
	 * node sees the same value, and the next run another one. */
	static const char *const vars[] = {"PMIX_NAMESPACE", "OMPI_MCA_orte_ess_jobid", "SLURM_JOB_ID"};
	for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
		const char *v = getenv(vars[i]);
		if (!v || !*v)
			continue;
		char raw[SBMA_NODE_JOB_MAX];
		const char *step = i == 2 ? getenv("SLURM_STEP_ID") : NULL;
		sbma__format(raw, sizeof raw, "%s%s%s", v, step ? "." : "", step ? step : "");
		sanitize(job_buf, sizeof job_buf, raw);
		return job_buf;
	}
	return NULL;
}

/* Why an existing segment cannot be joined, or NULL if it can. */
static const char *check_existing(const struct stat *st, const struct sbma_node_segment *s)
{
	if (st->st_uid != getuid())
		return "it belongs to another user";
	if (st->st_mode & 077)
		return "other users may access it (mode is not 0600)";
	if ((uint64_t)st->st_size < sizeof *s)
		return "it is too small to be an SBMA node segment";
	if (s->magic != SBMA_NODE_MAGIC)
		return "it is not an SBMA node segment (wrong magic)";
	if (s->version != SBMA_NODE_VERSION)
		return "it was made by another SBMA version";
	if (s->header_size != sizeof *s || s->size != (uint64_t)st->st_size || s->nslots != SBMA_NODE_SLOTS ||
	    s->uid != getuid())
		return "its header is inconsistent (corrupt)";
	return NULL;
}

static int create_segment(int fd)
{
	if (ftruncate(fd, sizeof *seg) != 0)
		return -errno;
	int err = 0;
	struct sbma_node_segment *s =
		sbma__os_mmap(NULL, sizeof *s, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0, &err);
	if (!s)
		return -err;
	pthread_mutexattr_t ma;
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(&s->lock, &ma);
	pthread_mutexattr_destroy(&ma);
	/* Locked before the magic makes it visible, until the creator holds
	 * a slot: a segment without live processes is stale to anyone who
	 * looks (a joiner, another job's sweep), and this one must not be. */
	pthread_mutex_lock(&s->lock);
	s->version = SBMA_NODE_VERSION;
	s->header_size = sizeof *s;
	s->size = sizeof *s;
	s->uid = getuid();
	s->nslots = SBMA_NODE_SLOTS;
	s->budget = sbma__opt.budget;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	s->created_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	sbma__format(s->job, sizeof s->job, "%s", job_buf);
	__atomic_store_n(&s->magic, SBMA_NODE_MAGIC, __ATOMIC_RELEASE);
	seg = s;
	return 0;
}

/*
 * Remove the segments of this user's other jobs on this host whose
 * processes all died (killed by SIGKILL, so no one removed them): launcher
 * job names change at every run, so nobody would ever join them again to
 * find them stale. Runs when a job creates its segment, before the engine
 * starts (opendir may allocate: it gets libc's memory then).
 */
static void sweep_stale(const char *host)
{
	char prefix[64], suffix[80];
	sbma__format(prefix, sizeof prefix, "sbma-%u-", (unsigned)getuid());
	sbma__format(suffix, sizeof suffix, "-%s", host);
	DIR *d = opendir("/dev/shm");
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name), ns = strlen(suffix);
		if (strncmp(e->d_name, prefix, strlen(prefix)) || n <= ns || strcmp(e->d_name + n - ns, suffix))
			continue;
		char name[300];
		sbma__format(name, sizeof name, "/%s", e->d_name);
		int fd = shm_open(name, O_RDWR | O_NOFOLLOW | O_CLOEXEC, 0);
		if (fd < 0)
			continue;
		struct stat st;
		struct sbma_node_segment *s = NULL;
		int err = 0;
		if (fstat(fd, &st) == 0 && st.st_uid == getuid() && (uint64_t)st.st_size == sizeof *s)
			s = sbma__os_mmap(NULL, sizeof *s, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0, &err);
		close(fd);
		if (!s)
			continue;
		if (!check_existing(&st, s)) {
			/* Only look: a job that lives reclaims its own dead. A
			 * lock that cannot be had is not ours to repair, nor to
			 * wait for: another job's process may hold it stopped
			 * (SIGSTOP) for ever. */
			int lr = pthread_mutex_trylock(&s->lock);
			if (lr == EOWNERDEAD)
				pthread_mutex_consistent(&s->lock);
			else if (lr) {
				sbma__os_munmap(s, sizeof *s);
				continue;
			}
			int live = 0;
			for (unsigned i = 0; i < SBMA_NODE_SLOTS; i++)
				live += s->slots[i].pid && slot_alive(&s->slots[i]);
			if (!live && !s->closing) {
				s->closing = 1;
				shm_unlink(name);
				if (sbma__opt.verbose)
					sbma__log("node: removed the stale node segment /dev/shm%s", name);
			}
			pthread_mutex_unlock(&s->lock);
		}
		sbma__os_munmap(s, sizeof *s);
	}
	closedir(d);
}

/* Map an existing segment and check it. Returns 0, -EAGAIN (gone or stale
 * and removed: try again) or another -errno after printing why. */
static int open_existing(void)
{
	int fd = shm_open(seg_name, O_RDWR | O_NOFOLLOW | O_CLOEXEC, 0);
	if (fd < 0)
		return errno == ENOENT ? -EAGAIN : -errno;
	struct stat st;
	/* The creator sizes and fills it right after creating it. */
	for (int i = 0; i < 200; i++) {
		if (fstat(fd, &st) != 0) {
			close(fd);
			return -errno;
		}
		if (st.st_uid != getuid() || (uint64_t)st.st_size >= sizeof *seg)
			break;
		usleep(10000);
	}
	const char *why = NULL;
	struct sbma_node_segment *s = NULL;
	int err = 0;
	if (st.st_uid == getuid() && (uint64_t)st.st_size >= sizeof *s) {
		s = sbma__os_mmap(NULL, sizeof *s, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0, &err);
		for (int i = 0; s && i < 200 && __atomic_load_n(&s->magic, __ATOMIC_ACQUIRE) == 0; i++)
			usleep(10000);
	}
	close(fd);
	if (err)
		return -err;
	why = check_existing(&st, s ? s : &(struct sbma_node_segment){0});
	if (why) {
		sbma__log("node: refusing the node segment /dev/shm%s: %s. Remove it if it is stale, or set "
			  "SBMA_JOB to another name",
			  seg_name, why);
		if (s)
			sbma__os_munmap(s, sizeof *s);
		return -EPERM;
	}
	seg = s;
	me = NULL;
	node_lock();
	recover_locked();
	int live = 0;
	for (unsigned i = 0; i < SBMA_NODE_SLOTS; i++)
		live += seg->slots[i].pid != 0;
	if (seg->closing || !live) {
		/* Being removed by its last process, or left behind by a job
		 * whose processes all died: never join it. */
		if (!seg->closing) {
			seg->closing = 1;
			shm_unlink(seg_name);
			if (sbma__opt.verbose)
				sbma__log("node: removed the stale node segment /dev/shm%s", seg_name);
		}
		node_unlock();
		sbma__os_munmap(seg, sizeof *seg);
		seg = NULL;
		return -EAGAIN;
	}
	return 0; /* locked */
}

/* With the node lock held: take a free slot for this process and charge
 * what it holds already (allocated before joining, or inherited by fork),
 * over budget if need be: it is in RAM either way. On failure the lock is
 * released and the process goes on with a private budget. */
static int take_slot_locked(void)
{
	me = NULL;
	for (unsigned i = 0; i < SBMA_NODE_SLOTS && !me; i++)
		if (!seg->slots[i].pid)
			me = &seg->slots[i];
	if (!me) {
		node_unlock();
		sbma__log("node: the node segment /dev/shm%s has no free slot (%u processes of this job on this "
			  "node at most); process %d keeps a private budget",
			  seg_name, SBMA_NODE_SLOTS, (int)getpid());
		sbma__os_munmap(seg, sizeof *seg);
		seg = NULL;
		return -ENOSPC;
	}
	memset(me, 0, sizeof *me);
	me->pid = getpid();
	me->start_time = proc_start_time(getpid(), NULL);
	me->state = SBMA_SLOT_RUNNING;
	add_charge(sbma__st.resident);
	return 0;
}

/* Join with the engine lock held (or before the engine runs). */
static int join_locked(const char *job)
{
	if (seg)
		return 1;
	if (job != job_buf)
		sanitize(job_buf, sizeof job_buf, job);
	char host[64] = "", hs[64];
	gethostname(host, sizeof host - 1);
	char *dot = strchr(host, '.');
	if (dot)
		*dot = '\0';
	sanitize(hs, sizeof hs, host);
	sbma__format(seg_name, sizeof seg_name, SBMA_NODE_PREFIX "%u-%s-%s", (unsigned)getuid(), job_buf, hs);

	int rc = -EAGAIN;
	for (int attempt = 0; attempt < 20 && rc == -EAGAIN; attempt++) {
		int fd = shm_open(seg_name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0) {
			if (attempt == 0)
				sweep_stale(hs);
			/* shm_open applies the umask; 0600 needs no more. */
			rc = create_segment(fd); /* returns with the lock held */
			close(fd);
			if (rc) {
				shm_unlink(seg_name);
				break;
			}
		} else if (errno == EEXIST) {
			rc = open_existing();
		} else {
			rc = -errno;
		}
	}
	if (rc) {
		if (rc != -EPERM)
			sbma__log("node: cannot join the node segment /dev/shm%s: %s", seg_name, strerror(-rc));
		seg = NULL;
		return rc;
	}
	if (take_slot_locked())
		return 0; /* a private budget, and it said so */
	if (seg->budget != sbma__opt.budget && sbma__opt.verbose)
		sbma__log("node: the node budget of job %s is %llu bytes (set by the first process); "
			  "this process's SBMA_BUDGET (%llu) is not used",
			  job_buf, (unsigned long long)seg->budget, (unsigned long long)sbma__opt.budget);
	sbma__st.budget = seg->budget;
	publish();
	node_unlock();
	if (sbma__opt.verbose)
		sbma__log("node: process %d joined /dev/shm%s (budget %llu bytes)", (int)getpid(), seg_name,
			  (unsigned long long)seg->budget);
	return 1;
}

int sbma__node_join_locked(void)
{
	const char *job = sbma__node_detect_job();
	return job ? join_locked(job) : 0;
}

int sbma__node_join(const char *job)
{
	int rc = sbma__ensure_ready();
	if (rc)
		return rc;
	if (!job)
		job = sbma__node_detect_job();
	if (!job)
		return seg ? 1 : 0;
	sigset_t old;
	sbma__lock(&old);
	rc = join_locked(job);
	sbma__unlock(&old);
	return rc;
}

int sbma__node_active(void)
{
	return seg != NULL;
}

uint64_t sbma__node_budget(void)
{
	return seg ? seg->budget : sbma__opt.budget;
}

int sbma__node_fork_child(void)
{
	if (!seg)
		return 0;
	/* `me` still points at the parent's slot: take one of our own. */
	node_lock();
	int rc = take_slot_locked();
	if (rc)
		return rc;
	publish();
	node_unlock();
	return 0;
}

/* Leave at exit: give the charge back; the last one out removes the
 * segment. Later destructors that touch SBMA memory fall back to the
 * private budget. */
__attribute__((destructor)) static void node_leave(void)
{
	if (!seg)
		return;
	sigset_t old;
	int engine = sbma__state == SBMA_READY;
	if (engine)
		sbma__lock(&old);
	node_lock();
	seg->charged -= me->charged > seg->charged ? seg->charged : me->charged;
	memset(me, 0, sizeof *me);
	int live = 0;
	for (unsigned i = 0; i < SBMA_NODE_SLOTS; i++)
		live += seg->slots[i].pid && slot_alive(&seg->slots[i]);
	if (!live) {
		seg->closing = 1;
		shm_unlink(seg_name);
	}
	node_unlock();
	wake_all();
	struct sbma_node_segment *s = seg;
	seg = NULL;
	me = NULL;
	sbma__st.budget = sbma__opt.budget;
	if (engine)
		sbma__unlock(&old);
	sbma__os_munmap(s, sizeof *s);
}
