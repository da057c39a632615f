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
 * Trust. The segment is shared memory: any process of the user may write
 * anything into it (a stray pointer, a bug, a test). Nothing read from it
 * is used as an index or a size without a bound, and each process keeps a
 * private copy of what it knows to be true: the header as it was checked
 * at join, and its own slot. Every time it takes the lock it compares
 * (check_locked) and repairs what differs, saying so (the first 20 times):
 * the header from its copy, its own slot from its copy (if another process
 * took the slot meanwhile, it moves to a free one), `closing` back to 0
 * while it is a member, and the node total from the slots' charges. Other
 * processes' fields are read clamped (a charge or a wanted amount never
 * counts for more than the arena could hold; a pid <= 0 is a dead slot; a
 * start time that does not match the pid's process is a dead slot; an
 * unknown state is neither running nor blocked), so a wrong value there
 * costs budget until its owner repairs it, never a crash or a wrong index.
 * The mutex cannot be repaired: a lock held for LOCK_PATIENCE_NS by a
 * thread that does not exist is corruption; the process says so and goes
 * on alone, with a private budget (leave_spoilt).
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

/* What this process knows to be true (see "Trust" above): the header as
 * checked at join, and its own slot's [lock] fields and state as it last
 * wrote them. Valid while `me` is set. */
static struct {
	uint64_t magic;
	uint32_t version, header_size;
	uint64_t size;
	uint32_t uid, nslots;
	uint64_t budget;
} hdr_copy_buf;
static struct sbma_node_slot my_copy;
static unsigned corrupt_reports;
static int seg_private; /* left a spoilt segment: seg is this process's own */

/* No slot's charge or want is ever larger than the largest arena (64 TiB):
 * a larger value is corruption, counted as this much. */
#define BYTES_MAX ((uint64_t)1 << 46)
#define LOCK_PATIENCE_NS (5 * 1000000000ull)

#define RELAXED_STORE(field, v) __atomic_store_n(&(field), (v), __ATOMIC_RELAXED)
#define WAIT_SLICE_NS (20 * 1000 * 1000ull)

static uint64_t clamp_bytes(uint64_t v)
{
	return v < BYTES_MAX ? v : BYTES_MAX;
}

static void report_corrupt(const char *what, unsigned long long was, unsigned long long now)
{
	if (corrupt_reports >= 20)
		return;
	corrupt_reports++;
	sbma__log("node segment /dev/shm%s: %s was %llu, expected %llu (changed by another process: "
		  "corrupt); repaired%s",
		  seg_name, what, was, now, corrupt_reports == 20 ? " (further repairs not shown)" : "");
}

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
	pid_t pid = s->pid;
	/* kill(0 or negative) would ask about process groups: such a pid is
	 * corruption, and the slot is as good as dead. */
	if (pid <= 0 || (kill(pid, 0) != 0 && errno == ESRCH))
		return 0;
	int zombie;
	uint64_t st = proc_start_time(pid, &zombie);
	if (zombie)
		return 0;
	/* A start time that cannot be read (no /proc) proves nothing. */
	return !st || st == s->start_time;
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
		total += clamp_bytes(s->charged);
	}
	seg->charged = total;
	if (freed)
		wake_all();
}

/* The thread that holds the lock, as glibc's robust mutex records it in
 * its lock word (0 elsewhere: unknown). */
static pid_t lock_holder_of(struct sbma_node_segment *s)
{
#if defined(__GLIBC__) && defined(FUTEX_TID_MASK)
	return (pid_t)(__atomic_load_n(&s->lock.__data.__lock, __ATOMIC_RELAXED) & FUTEX_TID_MASK);
#else
	return -1;
#endif
}

static pid_t lock_holder(void)
{
	return lock_holder_of(seg);
}

static void take_new_slot_locked(void);
static void leave_spoilt(const char *why);

/* With the lock held: compare the header and this process's slot with what
 * it knows, repair what differs, and recompute the node total if it does
 * not match the slots (see "Trust" at the top). */
static void check_locked(void)
{
	if (!me)
		return;
	const __typeof__(hdr_copy_buf) *h = &hdr_copy_buf;
#define REPAIR(field, what)                                                   \
	if (seg->field != h->field) {                                         \
		report_corrupt(what, (unsigned long long)seg->field, (unsigned long long)h->field); \
		seg->field = h->field;                                        \
	}
	REPAIR(magic, "the magic number");
	REPAIR(version, "the version");
	REPAIR(header_size, "the header size");
	REPAIR(size, "the segment size");
	REPAIR(uid, "the owner's uid");
	REPAIR(nslots, "the slot count");
	REPAIR(budget, "the node budget");
	/* Only the last process sets it, once nobody is left: not while we
	 * are here. */
	if (seg->closing) {
		report_corrupt("the closing flag", seg->closing, 0);
		seg->closing = 0;
	}
	if (me->pid != my_copy.pid) {
		if (me->pid == 0) {
			/* Taken for dead (its start time was spoilt, say)
			 * and cleared: take it back. */
			report_corrupt("the pid of a live process's slot", 0, (unsigned long long)my_copy.pid);
			*me = my_copy;
		} else {
			/* Cleared and taken by another process meanwhile. */
			report_corrupt("the pid of a live process's slot", (unsigned long long)me->pid,
				       (unsigned long long)my_copy.pid);
			take_new_slot_locked();
		}
	}
#define REPAIR_MINE(field, what)                                                        \
	if (me->field != my_copy.field) {                                               \
		report_corrupt(what, (unsigned long long)me->field, (unsigned long long)my_copy.field); \
		me->field = my_copy.field;                                              \
	}
	REPAIR_MINE(start_time, "a slot's start time");
	REPAIR_MINE(charged, "a slot's charge");
	REPAIR_MINE(want, "the bytes a slot waits for");
	REPAIR_MINE(ticket, "a slot's place in the wait queue");
	uint32_t state = __atomic_load_n(&me->state, __ATOMIC_RELAXED);
	if (state != my_copy.state) {
		report_corrupt("a slot's state", state, my_copy.state);
		__atomic_store_n(&me->state, my_copy.state, __ATOMIC_RELAXED);
	}
#undef REPAIR
#undef REPAIR_MINE
	uint64_t total = 0;
	for (unsigned i = 0; i < SBMA_NODE_SLOTS; i++)
		if (seg->slots[i].pid)
			total += clamp_bytes(seg->slots[i].charged);
	if (seg->charged != total) {
		report_corrupt("the node total (the sum of the slots' charges)", seg->charged, total);
		seg->charged = total;
	}
}

/* The segment's lock cannot be had (see node_lock): go on alone, on a
 * segment of this process's own with the same budget and what it holds,
 * rather than stop a job's process over shared bookkeeping. The shared
 * segment stays mapped (a thread may be reading this process's slot
 * without the lock) and is never removed by this process. */
static void leave_spoilt(const char *why)
{
	int err = 0;
	struct sbma_node_segment *p =
		sbma__os_mmap(NULL, sizeof *p, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0, &err);
	if (!p)
		sbma__die("node segment /dev/shm%s: %s, and no memory to go on alone: %s", seg_name, why,
			  strerror(-err));
	sbma__log("node segment /dev/shm%s: %s: the segment is corrupt. Process %d leaves it and keeps a private "
		  "budget of %llu bytes (remove the segment, or set SBMA_JOB to another name)",
		  seg_name, why, (int)getpid(), (unsigned long long)hdr_copy_buf.budget);
	pthread_mutex_init(&p->lock, NULL);
	/* As check_locked expects it: nothing to repair in our own. */
	p->magic = hdr_copy_buf.magic;
	p->version = hdr_copy_buf.version;
	p->header_size = hdr_copy_buf.header_size;
	p->size = hdr_copy_buf.size;
	p->uid = hdr_copy_buf.uid;
	p->nslots = hdr_copy_buf.nslots;
	p->budget = hdr_copy_buf.budget;
	p->slots[0] = my_copy;
	p->charged = my_copy.charged;
	seg = p;
	me = &p->slots[0];
	seg_private = 1;
}

/* The lock, waited for: a holder that keeps it LOCK_PATIENCE_NS without
 * existing is a spoilt lock word (a live holder, stopped say, is waited
 * for: it will let go when continued or killed). A member then goes on
 * alone (leave_spoilt); a process that is not one yet gets -EPERM, having
 * said why. */
static int node_lock(void)
{
	char why[160] = "";
	int rc, warned = 0;
	for (;;) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += (time_t)(LOCK_PATIENCE_NS / 1000000000ull);
		rc = pthread_mutex_timedlock(&seg->lock, &ts);
		if (rc != ETIMEDOUT)
			break;
		pid_t holder = lock_holder();
		if (holder == 0 || (holder > 0 && kill(holder, 0) != 0 && errno == ESRCH)) {
			sbma__format(why, sizeof why, "its lock is held by thread %d, which does not exist",
				     (int)holder);
			break;
		}
		if (!warned++)
			sbma__log("node segment /dev/shm%s: its lock has been held for %llu s by thread %d (stopped?); "
				  "waiting",
				  seg_name, LOCK_PATIENCE_NS / 1000000000ull, (int)holder);
	}
	if (rc == EOWNERDEAD) {
		/* Its owner died inside: the fields may be half updated. */
		pthread_mutex_consistent(&seg->lock);
		recover_locked();
	} else if (rc && !why[0]) {
		sbma__format(why, sizeof why, "its lock cannot be taken: %s", strerror(rc));
	}
	if (why[0]) {
		if (!me) {
			sbma__log("node: refusing the node segment /dev/shm%s: %s (corrupt). Remove it, or set "
				  "SBMA_JOB to another name",
				  seg_name, why);
			return -EPERM;
		}
		leave_spoilt(why);
		pthread_mutex_lock(&seg->lock);
	}
	check_locked();
	return 0;
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
			r += clamp_bytes(s->want);
	}
	return r;
}

/* This process's slot is written from its private copy: a value another
 * process wrote into it is replaced, never built upon. */
static void set_charge(uint64_t bytes)
{
	my_copy.charged = bytes;
	me->charged = bytes;
}

static void set_wait(uint64_t ticket, uint64_t want)
{
	my_copy.ticket = ticket;
	my_copy.want = want;
	me->ticket = ticket;
	me->want = want;
}

static void add_charge(uint64_t bytes)
{
	set_charge(my_copy.charged + bytes);
	seg->charged += bytes;
}

/* Take `bytes` if the node has them beyond what earlier waiters need. */
static int try_charge_locked(uint64_t bytes)
{
	uint64_t used = seg->charged + reserved_ahead(my_copy.ticket);
	uint64_t budget = hdr_copy_buf.budget;
	if (used > budget || budget - used < bytes)
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
		uint64_t charged = clamp_bytes(s->charged);
		uint64_t can = charged > pinned ? charged - pinned : 0;
		uint64_t req = __atomic_load_n(&s->release_req, __ATOMIC_RELAXED);
		if (req) {
			pending += clamp_bytes(req);
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
		uint32_t state = __atomic_load_n(&s->state, __ATOMIC_RELAXED);
		/* Only a blocked process answers requests: one left behind
		 * in the slot of a process that now waits itself never will. */
		if (state == SBMA_SLOT_RUNNING ||
		    (state == SBMA_SLOT_BLOCKED && __atomic_load_n(&s->release_req, __ATOMIC_ACQUIRE)))
			return 1;
	}
	return 0;
}

static void set_state(uint32_t state)
{
	my_copy.state = state;
	__atomic_store_n(&me->state, state, __ATOMIC_RELAXED);
}

int sbma__node_charge_locked(uint64_t bytes, int64_t (*evict_own)(uint64_t, void *), void *arg, int partial)
{
	if (!seg || !bytes)
		return 0;
	node_lock();
	if (!my_copy.ticket && try_charge_locked(bytes)) {
		node_unlock();
		return 0;
	}
	/* The node is short: queue up, then ask, evict or wait. */
	uint64_t t0 = sbma__os_now_ns();
	uint64_t deadline = t0 + (uint64_t)sbma__opt.node_timeout * 1000000000ull;
	uint32_t prev_state = my_copy.state;
	uint64_t budget = hdr_copy_buf.budget;
	if (bytes > budget)
		bytes = budget;
	uint64_t ticket = ++seg->next_ticket;
	if (!ticket) /* 0 means "no ticket": a spoilt counter wrapped */
		ticket = seg->next_ticket = 1;
	set_wait(ticket, bytes);
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
		uint64_t used = seg->charged + reserved_ahead(my_copy.ticket);
		uint64_t shortfall = used + bytes > budget ? used + bytes - budget : bytes;
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
		int progress = (asked && !fruitless) || own_left || reserved_ahead(my_copy.ticket) ||
			       anyone_may_free_locked();
		if (timed_out || !progress) {
			if (partial) {
				/* Admission: take what is free, leave the rest
				 * to faults. */
				uint64_t free_now = budget > used ? budget - used : 0;
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
	set_wait(0, 0);
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
	return my_copy.charged > sbma__st.resident ? my_copy.charged - sbma__st.resident : 0;
}

void sbma__node_sync_locked(void)
{
	if (!seg)
		return;
	publish();
	if (my_copy.charged <= sbma__st.resident)
		return;
	node_lock();
	uint64_t give = my_copy.charged - sbma__st.resident;
	set_charge(sbma__st.resident);
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
	/* Nobody can ask for more than it holds (a spoilt request would
	 * otherwise overflow the caller's page count). */
	return req < my_copy.charged ? req : my_copy.charged;
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
		const char *v = sbma__getenv(vars[i]);
		if (!v || !*v)
			continue;
		char raw[SBMA_NODE_JOB_MAX];
		const char *step = i == 2 ? sbma__getenv("SLURM_STEP_ID") : NULL;
		sbma__format(raw, sizeof raw, "%s%s%s", v, step ? "." : "", step ? step : "");
		sanitize(job_buf, sizeof job_buf, raw);
		return job_buf;
	}
	return NULL;
}

/* Why an existing segment cannot be joined, or NULL if it can. */
static const char *check_existing(const struct stat *st, const struct sbma_node_segment *s)
{
	if (st->st_uid != geteuid())
		return "it belongs to another user";
	if (!S_ISREG(st->st_mode))
		return "it is not a regular file";
	if (st->st_mode & 077)
		return "other users may access it (mode is not 0600)";
	if ((uint64_t)st->st_size < sizeof *s)
		return "it is too small to be an SBMA node segment";
	if (s->magic != SBMA_NODE_MAGIC)
		return "it is not an SBMA node segment (wrong magic)";
	if (s->version != SBMA_NODE_VERSION)
		return "it was made by another SBMA version";
	if (s->header_size != sizeof *s || s->size != (uint64_t)st->st_size || s->nslots != SBMA_NODE_SLOTS ||
	    s->uid != geteuid())
		return "its header is inconsistent (corrupt)";
	if (!s->budget || s->budget > BYTES_MAX)
		return "its node budget is 0 or impossibly large (corrupt)";
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
	s->uid = geteuid();
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

/* Where shm_open keeps its objects: link(2) needs the path. */
#define SHM_DIR "/dev/shm"

/*
 * Make the segment whole under a private name, then give it the job's name
 * with link(2), which fails if the name exists: a segment that has the job's
 * name is always sized, initialised and locked by its creator. (Created
 * under the job's name directly, a creator killed between creating and
 * sizing it left an empty file that refused the job forever, and a joiner
 * had to guess how long to wait for the size and the magic.) A private name
 * left by a creator killed before the link is removed by sweep_stale.
 * Returns 0 with the segment locked, -EEXIST or another -errno.
 */
static int create_linked(void)
{
	static unsigned serial;
	char tmp[96], from[128], to[128];
	sbma__format(tmp, sizeof tmp, SBMA_NODE_NEW_PREFIX "%u-%d-%u", (unsigned)geteuid(), (int)getpid(), serial++);
	int fd = shm_open(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	/* shm_open applies the umask; 0600 needs no more. */
	int rc = create_segment(fd); /* returns with the lock held */
	close(fd);
	if (rc == 0) {
		sbma__format(from, sizeof from, SHM_DIR "%s", tmp);
		sbma__format(to, sizeof to, SHM_DIR "%s", seg_name);
		if (link(from, to) != 0) {
			rc = -errno;
			pthread_mutex_unlock(&seg->lock);
			sbma__os_munmap(seg, sizeof *seg);
			seg = NULL;
		}
	}
	shm_unlink(tmp);
	return rc;
}

/* A private name of create_linked whose creator is dead: remove it. */
static void sweep_unlinked(const char *d_name)
{
	char prefix[64];
	sbma__format(prefix, sizeof prefix, "%s%u-", SBMA_NODE_NEW_PREFIX + 1, (unsigned)geteuid());
	size_t np = strlen(prefix);
	if (strncmp(d_name, prefix, np))
		return;
	long pid = strtol(d_name + np, NULL, 10);
	if (pid > 0 && (kill((pid_t)pid, 0) == 0 || errno != ESRCH))
		return;
	char name[300];
	sbma__format(name, sizeof name, "/%s", d_name);
	shm_unlink(name);
}

/*
 * Remove the segments of this user's other jobs on this host whose
 * processes all died (killed by SIGKILL, so no one removed them): launcher
 * job names change at every run, so nobody would ever join them again to
 * find them stale. Runs when a job creates its segment, before the engine
 * starts (opendir may allocate: it gets libc's memory then).
 */
/* The whole of a candidate segment into *copy, with pread: a file that
 * another process truncates while we look (a spoilt or hostile one; tests
 * do it on purpose) makes a read come back short, where reading it through
 * a mapping would raise SIGBUS in this process. 0 or -1. */
static int read_copy(int fd, struct sbma_node_segment *copy)
{
	char *p = (char *)copy;
	size_t left = sizeof *copy;
	off_t off = 0;
	while (left) {
		ssize_t n = pread(fd, p, left, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		off += n;
		left -= (size_t)n;
	}
	return 0;
}

static void sweep_stale(const char *host)
{
	char prefix[64], suffix[80];
	sbma__format(prefix, sizeof prefix, "sbma-%u-", (unsigned)geteuid());
	sbma__format(suffix, sizeof suffix, "-%s", host);
	int err = 0;
	struct sbma_node_segment *copy = sbma__os_mmap(NULL, sizeof *copy, PROT_READ | PROT_WRITE,
						       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0, &err);
	if (!copy)
		return;
	DIR *d = opendir("/dev/shm");
	if (!d) {
		sbma__os_munmap(copy, sizeof *copy);
		return;
	}
	struct dirent *e;
	while ((e = readdir(d))) {
		sweep_unlinked(e->d_name);
		size_t n = strlen(e->d_name), ns = strlen(suffix);
		if (strncmp(e->d_name, prefix, strlen(prefix)) || n <= ns || strcmp(e->d_name + n - ns, suffix))
			continue;
		char name[300];
		sbma__format(name, sizeof name, "/%s", e->d_name);
		int fd = shm_open(name, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0);
		if (fd < 0)
			continue;
		struct stat st;
		if (fstat(fd, &st) != 0 || st.st_uid != geteuid() || (uint64_t)st.st_size != sizeof *copy ||
		    read_copy(fd, copy) || check_existing(&st, copy)) {
			close(fd);
			continue;
		}
		/* Only look, never lock: another job's lock is not ours to
		 * take (a stopped holder would hold up this job's start, and
		 * a spoilt lock could harm it). A job that lives reclaims its
		 * own dead. A segment whose lock no live thread holds and
		 * whose slots are all dead can never gain a process again:
		 * whoever locks it finds it stale and removes it instead of
		 * joining. */
		pid_t holder = lock_holder_of(copy);
		int held = holder < 0 || (holder > 0 && !(kill(holder, 0) != 0 && errno == ESRCH));
		int live = 0;
		for (unsigned i = 0; i < SBMA_NODE_SLOTS && !held; i++)
			live += copy->slots[i].pid && slot_alive(&copy->slots[i]);
		if (held || live || copy->closing) {
			close(fd);
			continue;
		}
		/* Stale: the closing flag, set in the file itself, makes one
		 * sweeper the one that removes it (a second unlink could hit
		 * a new segment of that name). Mapped only now, and its size
		 * looked at again just before. FIXME: a file truncated in the
		 * instant between that look and the flag still raises
		 * SIGBUS here. */
		struct sbma_node_segment *s = NULL;
		if (fstat(fd, &st) == 0 && (uint64_t)st.st_size == sizeof *s)
			s = sbma__os_mmap(NULL, sizeof *s, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0, &err);
		close(fd);
		if (!s)
			continue;
		if (!__atomic_exchange_n(&s->closing, 1, __ATOMIC_ACQ_REL)) {
			shm_unlink(name);
			if (sbma__opt.verbose)
				sbma__log("node: removed the stale node segment /dev/shm%s", name);
		}
		sbma__os_munmap(s, sizeof *s);
	}
	closedir(d);
	sbma__os_munmap(copy, sizeof *copy);
}

/* Map an existing segment and check it. Returns 0, -EAGAIN (gone or stale
 * and removed: try again) or another -errno after printing why. */
static int open_existing(void)
{
	/* O_NONBLOCK: a FIFO put there must not hang the open. */
	int fd = shm_open(seg_name, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0);
	if (fd < 0 && (errno == ELOOP || errno == EISDIR)) {
		/* Put there by someone (a segment is never a link): another
		 * user may have made it to steer this job elsewhere. */
		sbma__log("node: refusing the node segment /dev/shm%s: it is %s, not a segment. Remove it, or set "
			  "SBMA_JOB to another name",
			  seg_name, errno == ELOOP ? "a symbolic link" : "a directory");
		return -EPERM;
	}
	if (fd < 0)
		return errno == ENOENT ? -EAGAIN : -errno;
	/* A segment gets its name only once it is whole (create_linked):
	 * nothing to wait for here. */
	struct stat st;
	if (fstat(fd, &st) != 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	const char *why = NULL;
	struct sbma_node_segment *s = NULL;
	int err = 0;
	if (st.st_uid == geteuid() && (uint64_t)st.st_size >= sizeof *s)
		s = sbma__os_mmap(NULL, sizeof *s, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0, &err);
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
	if (node_lock()) {
		sbma__os_munmap(s, sizeof *s);
		seg = NULL;
		return -EPERM;
	}
	recover_locked();
	int live = 0;
	for (unsigned i = 0; i < SBMA_NODE_SLOTS; i++)
		live += seg->slots[i].pid != 0;
	if (seg->closing && live) {
		/* The last process sets it once nobody is left: with live
		 * processes it is spoilt. */
		sbma__log("node segment /dev/shm%s: its closing flag is set while %d processes use it (corrupt); "
			  "repaired",
			  seg_name, live);
		seg->closing = 0;
	}
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
	my_copy = *me;
	add_charge(sbma__st.resident);
	return 0;
}

/* check_locked found this process's slot taken by another: move to a free
 * one, with what it knows it holds. */
static void take_new_slot_locked(void)
{
	for (unsigned i = 0; i < SBMA_NODE_SLOTS; i++) {
		if (!seg->slots[i].pid) {
			me = &seg->slots[i];
			*me = my_copy;
			return;
		}
	}
	/* Nowhere to go in it: go on alone. */
	pthread_mutex_unlock(&seg->lock);
	leave_spoilt("this process's slot was given to another and no slot is free");
	pthread_mutex_lock(&seg->lock);
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
	sbma__format(seg_name, sizeof seg_name, SBMA_NODE_PREFIX "%u-%s-%s", (unsigned)geteuid(), job_buf, hs);

	int rc = -EAGAIN;
	for (int attempt = 0; attempt < 20 && rc == -EAGAIN; attempt++) {
		rc = create_linked(); /* returns with the lock held */
		if (rc == 0)
			sweep_stale(hs);
		else if (rc == -EEXIST)
			rc = open_existing();
	}
	if (rc) {
		if (rc != -EPERM)
			sbma__log("node: cannot join the node segment /dev/shm%s: %s", seg_name, strerror(-rc));
		seg = NULL;
		return rc;
	}
	if (take_slot_locked())
		return 0; /* a private budget, and it said so */
	/* Checked (check_existing) or just written: what this process will
	 * hold the header to from now on. */
	hdr_copy_buf.magic = SBMA_NODE_MAGIC;
	hdr_copy_buf.version = SBMA_NODE_VERSION;
	hdr_copy_buf.header_size = sizeof *seg;
	hdr_copy_buf.size = sizeof *seg;
	hdr_copy_buf.uid = geteuid();
	hdr_copy_buf.nslots = SBMA_NODE_SLOTS;
	hdr_copy_buf.budget = seg->budget;
	if (hdr_copy_buf.budget != sbma__opt.budget && sbma__opt.verbose)
		sbma__log("node: the node budget of job %s is %llu bytes (set by the first process); "
			  "this process's SBMA_BUDGET (%llu) is not used",
			  job_buf, (unsigned long long)hdr_copy_buf.budget, (unsigned long long)sbma__opt.budget);
	sbma__st.budget = hdr_copy_buf.budget;
	publish();
	node_unlock();
	if (sbma__opt.verbose)
		sbma__log("node: process %d joined /dev/shm%s (budget %llu bytes)", (int)getpid(), seg_name,
			  (unsigned long long)hdr_copy_buf.budget);
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
	return seg ? hdr_copy_buf.budget : sbma__opt.budget;
}

int sbma__node_fork_child(void)
{
	if (!seg)
		return 0;
	/* `me` still points at the parent's slot, and my_copy holds the
	 * parent's: take a slot of our own, checking nothing as the parent. */
	me = NULL;
	if (node_lock()) {
		seg = NULL; /* a private budget, and it said so */
		return -EPERM;
	}
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
	seg->charged -= my_copy.charged > seg->charged ? seg->charged : my_copy.charged;
	memset(me, 0, sizeof *me);
	me = NULL; /* nothing of ours to check from here on */
	int live = 0;
	for (unsigned i = 0; i < SBMA_NODE_SLOTS; i++)
		live += seg->slots[i].pid && slot_alive(&seg->slots[i]);
	if (!live && !seg_private) {
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
