/*
 * fork.c - fork() gives the child a private copy of SBMA memory and a
 * backing file of its own.
 *
 * The problem. SBMA memory is not private anonymous memory that the kernel
 * copies on write at fork: it is one memfd mapped MAP_SHARED twice (the
 * application view and the manager view), plus one backing file. A plain
 * fork leaves parent and child on the same memfd and the same file: a write
 * by either reaches the other, an eviction by one overwrites the other's
 * on-disk pages, a free (hole punch) by one zeroes the other's memory.
 *
 * What is already private. The page-state arrays (state, stamp, pins) are
 * MAP_PRIVATE anonymous, the allocation table and the free list are libc
 * memory, the counters are plain globals: fork copies them all, so the
 * child starts with the parent's exact bookkeeping. Only the data is shared.
 *
 * The copy. In the child (sbma__fork_child, single-threaded, engine lock
 * held since prepare): open a new backing file and reserve the space of
 * every allocation in it (DESIGN 3.3: eviction never fails for lack of
 * space); create a new memfd; copy the resident pages' data from the old
 * memfd to the new one (copy_file_range, skipping holes with SEEK_DATA);
 * copy the evicted pages (PG_DISK, not resident) from the parent's backing
 * file to the new one through a 4 MiB buffer (pread/pwrite, so O_DIRECT
 * and the space reservation are honoured and no page cache copy is kept;
 * not copy_file_range, which may reflink on XFS or btrfs: fast, but the
 * reserved space would become shared and a later eviction could find the
 * disk full), in long transfers: runs of evicted pages less than 1 MiB
 * apart are copied as one, gap included;
 * map the new memfd over both views with MAP_FIXED, at the same addresses,
 * and re-apply each page's protection from its state (so the run count
 * stays exact); close the old memfd and file. Clean resident pages whose
 * store copy is in the parent's file become dirty instead of having their
 * store copy copied: no disk I/O at fork for them, one write later if the
 * child evicts them (a child that execs or exits soon never pays it).
 *
 * Keeping the parent still. The copy is only a snapshot if the parent does
 * not change its memfd or its file meanwhile. sbma__fork_prepare takes the
 * engine lock (no fault, eviction, load or free can run in the parent) and
 * creates a socket pair (or a pipe); sbma__fork_parent holds the lock
 * until the child says its copy is done (one byte) or dies (EOF), then
 * releases it. The parent therefore cannot hang on a child that crashes or
 * is killed.
 *
 * Other threads of the parent. The lock stops SBMA, not plain stores: a
 * thread may keep writing resident, writable (PG_RW) pages without any
 * fault while the child copies, and the child would see writes made after
 * fork, some pages old and some new: a state that never existed (a list
 * node moved under a mutex could appear twice). So prepare also makes
 * every unpinned PG_RW page read-only (state and protection; the pages stay
 * dirty). From the end of prepare, any store to SBMA memory by any thread
 * of the parent faults and waits for the lock: SBMA memory is frozen at
 * one instant. Memory outside SBMA is snapshotted by the kernel a moment
 * later, at the fork system call; in between, threads could only write
 * non-SBMA memory, which is the same as if their SBMA writes had simply
 * been slower: still a state of a real execution. The parent handler
 * restores PG_RW (runs of resident, dirty, read-only pages); the child
 * does the same in its state before re-applying protections. Exception:
 * pinned pages stay writable, since the kernel or an MPI transfer of
 * another thread may be writing them (a read-only page would make that
 * call fail with EFAULT). A buffer under such in-flight I/O is copied as
 * it is at copy time; its contents were undefined for the child anyway.
 *
 * Which handlers run, in what order. pthread_atfork is called from the
 * library constructor (init.c), before the program and most libraries
 * register theirs: prepare handlers run last-registered first, so theirs
 * run before ours (they may still touch SBMA memory), and child handlers
 * first-registered first, so ours runs before theirs (they find the copy
 * made). Handlers registered before ours (by the libraries SBMA depends
 * on, or by a constructor that ran before SBMA's) must not touch SBMA
 * memory: between our prepare and our child handler that would deadlock
 * on the engine lock this thread holds.
 *
 * vfork, posix_spawn, system. glibc's posix_spawn and system() use
 * clone(CLONE_VM | CLONE_VFORK): the child runs in the parent's address
 * space, runs no atfork handler, and execs; the memfd and the backing file
 * are close-on-exec. Nothing to do, and nothing is copied. A child made by
 * fork() that only execs pays the full copy: it cannot be told apart from
 * one that will not exec. fork() calls that bypass the handlers (_Fork,
 * syscall(SYS_fork), clone without CLONE_VM) get the old, shared
 * behaviour. FIXME: not detected.
 *
 * When the copy fails (no space for the new file, no file descriptor, no
 * memory for the new memfd, or no socket pair nor pipe could be made to
 * hold the parent), the child cannot be given its memory, and
 * must not keep the parent's: its SBMA memory is revoked (both views
 * become inaccessible anonymous memory, the page states are cleared, the
 * engine is marked failed so that new allocations go to libc) and one line
 * says so on stderr. A child that then touches that memory dies of SIGSEGV;
 * a child that only execs, or uses other memory, runs normally. That is
 * better than _exit in the child (most children of a large process exec
 * at once) and far better than letting it share (silent corruption of the
 * parent). The parent is never affected: the child reports "done" (or EOF)
 * in every case.
 *
 * Cost. The parent's fork() returns only when the child's copy is done,
 * and other threads of the parent that fault or write SBMA memory wait as
 * long. The child copies its resident bytes (RAM to RAM, in the kernel) and
 * its evicted bytes (disk to disk, synchronously); it reserves backing
 * space for all its allocations; and, until one of the two exits, the node
 * holds the resident data twice (the node budget charges the child for it,
 * see sbma__node_fork_child). Measured with tests/prog_fork_cost on the
 * development machine (a 2-core VM, ext4 on virtio, shared and noisy):
 * 256 MiB of which 112 MiB resident and 144 MiB evicted: fork() takes
 * 0.7-1.3 s (the resident copy 0.2-0.35 s, about the cost of allocating
 * that much new memory in this VM; the evicted copy 0.3-0.6 s); all 256 MiB
 * resident: 0.3-1.0 s. fork+exec costs the same; posix_spawn and system()
 * 1-11 ms, as without SBMA. Roughly: 1 s per 256 MiB of SBMA memory.
 *
 * Pages, pins and counters in the child. The child keeps the parent's page
 * states, clock, pins and allocation table. Pins of threads that do not
 * exist in the child (a read(2) in progress in another thread) are never
 * released there: those pages stay resident in the child (FIXME: they
 * cannot be told apart from pins of the forking thread, which must stay).
 * The child's counters start over (faults, I/O, evictions), except the
 * gauges of what it holds (resident, dirty, pinned, allocated).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "sbma_internal.h"

#define A sbma__A
#define ST sbma__st

/* store.c; FIXME: move to the store.c section of sbma_internal.h. */
int sbma__store_replace(int *old_fd);

/* Bytes per transfer when copying the parent's backing file, and the
 * largest gap between evicted pages copied over rather than skipped. */
#define COPY_CHUNK ((size_t)4 << 20)
#define COPY_GAP ((uint64_t)1 << 20)

enum { LVL_NONE, LVL_READ, LVL_RW };

/* Set by prepare, read by parent and child; the engine lock protects it
 * (only one fork at a time is between prepare and parent/child). */
static struct {
	sigset_t mask;  /* the forking thread's signal mask before prepare */
	int sync[2];    /* [0] parent waits on it, [1] child says "done" */
	int sync_err;   /* -errno: no socket pair nor pipe could be made */
	int saved_errno;
} fk = {.sync = {-1, -1}};

static inline int level_of(uint8_t s)
{
	return (s & PG_RW) ? LVL_RW : (s & PG_RES) ? LVL_READ : LVL_NONE;
}

static inline uint64_t bytes(size_t pages)
{
	return (uint64_t)pages << A.pshift;
}

/* Call fn on each maximal run of pages of the allocations that satisfy
 * want(); stop at the first error. */
static int for_runs(int (*want)(size_t), int (*fn)(size_t first, size_t n, void *arg), void *arg)
{
	for (size_t r = 0; r < A.nregions; r++) {
		size_t i = A.regions[r].first, end = i + A.regions[r].npages;
		while (i < end) {
			if (!want(i)) {
				i++;
				continue;
			}
			size_t a = i;
			while (i < end && want(i))
				i++;
			int rc = fn(a, i - a, arg);
			if (rc)
				return rc;
		}
	}
	return 0;
}

/* The number of protection runs of the application view, from the states
 * (pages outside allocations are PROT_NONE); the formula of the audit. */
static size_t count_runs(void)
{
	size_t runs = 1, next = 0;
	int prev = level_of(A.state[0]);
	for (size_t r = 0; r < A.nregions; r++) {
		const struct sbma__region *g = &A.regions[r];
		if (g->first > next) {
			runs += prev != LVL_NONE;
			prev = LVL_NONE;
		}
		for (size_t i = g->first; i < g->first + g->npages; i++) {
			int l = level_of(A.state[i]);
			runs += l != prev;
			prev = l;
		}
		next = g->first + g->npages;
	}
	if (next < A.npages)
		runs += prev != LVL_NONE;
	return runs;
}

/* ------------------------------------------------- write-protect, restore */

static int writable_unpinned(size_t i)
{
	return (A.state[i] & PG_RW) && !A.pins[i];
}

static int make_read_only(size_t first, size_t n, void *arg)
{
	(void)arg;
	int rc = sbma__os_mprotect(A.app + bytes(first), bytes(n), PROT_READ);
	if (rc) {
		/* A failed mprotect may have changed part of the range: put
		 * it back as the states say (merging areas, so it succeeds). */
		sbma__os_mprotect(A.app + bytes(first), bytes(n), PROT_READ | PROT_WRITE);
		return rc;
	}
	for (size_t i = first; i < first + n; i++)
		A.state[i] &= (uint8_t)~PG_RW;
	return 0;
}

/* Dirty resident pages that are not writable: the ones prepare made
 * read-only (and any left read-only by a failed write-back, for which
 * write access is harmless: they are dirty already). */
static int dirty_read_only(size_t i)
{
	return (A.state[i] & (PG_RES | PG_DIRTY | PG_RW)) == (PG_RES | PG_DIRTY);
}

static int make_writable(size_t first, size_t n, void *arg)
{
	int apply = *(int *)arg;
	if (apply) {
		int rc = sbma__os_mprotect(A.app + bytes(first), bytes(n), PROT_READ | PROT_WRITE);
		if (rc) {
			/* Left read-only; the next write faults and upgrades. */
			sbma__os_mprotect(A.app + bytes(first), bytes(n), PROT_READ);
			return 0;
		}
	}
	for (size_t i = first; i < first + n; i++)
		A.state[i] |= PG_RW;
	return 0;
}

/* --------------------------------------------------------------- handlers */

void sbma__fork_prepare(void)
{
	sigset_t all, old;
	int saved = errno;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	sbma__lock_async();
	/* Loads in flight without the lock (SBMA_UNLOCKED_IO) are writing
	 * the memfd: let them finish; none can start while we hold it. */
	sbma__vmm_wait_idle_locked();
	/* Freed extents kept in RAM would be the parent's memfd pages in
	 * the child, whose next malloc could take them: give them back
	 * first (cache.c). */
	if (sbma__state == SBMA_READY)
		sbma__cache_drop_locked(SIZE_MAX);
	fk.mask = old;
	fk.saved_errno = saved;
	fk.sync[0] = fk.sync[1] = -1;
	fk.sync_err = 0;
	/* No allocation, nothing to copy: the child needs no snapshot and
	 * the parent need not wait (allocations wait for this lock). */
	if (sbma__state != SBMA_READY || A.nregions == 0)
		return;
	/* A socket pair, so that the child's "done" cannot raise SIGPIPE; a
	 * pipe where sockets are refused (a seccomp sandbox, say). */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fk.sync) != 0 && pipe2(fk.sync, O_CLOEXEC) != 0) {
		fk.sync_err = -errno;
		fk.sync[0] = fk.sync[1] = -1;
		return;
	}
	int rc = for_runs(writable_unpinned, make_read_only, NULL);
	A.runs = count_runs();
	if (rc)
		sbma__log("fork: cannot write-protect SBMA memory during fork (%s): pages that other threads "
			  "write while the child copies may reach the child",
			  strerror(-rc));
}

void sbma__fork_parent(void)
{
	/* read and close are cancellation points: a thread cancelled here
	 * would leave with the engine lock. */
	int cancel;
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel);
	if (fk.sync[0] >= 0) {
		close(fk.sync[1]);
		char c;
		ssize_t n;
		do
			n = read(fk.sync[0], &c, 1);
		while (n < 0 && errno == EINTR);
		close(fk.sync[0]);
		fk.sync[0] = fk.sync[1] = -1;
		int apply = 1;
		for_runs(dirty_read_only, make_writable, &apply);
		A.runs = count_runs();
#ifdef SBMA_DEBUG
		sbma__vmm_audit_locked("fork (parent)");
#endif
	}
	sigset_t mask = fk.mask;
	int saved = fk.saved_errno;
	sbma__unlock_async();
	pthread_sigmask(SIG_SETMASK, &mask, NULL);
	pthread_setcancelstate(cancel, NULL);
	errno = saved;
}

/* ---------------------------------------------------------- child's copy */

struct copy {
	int old_memfd, new_memfd;
	int old_store;
	char *buf;         /* COPY_CHUNK bytes, for the backing file */
	uint64_t mem_bytes, disk_bytes;
	const char *step;  /* what failed, for the message */
};

static int resident(size_t i)
{
	return (A.state[i] & PG_RES) != 0;
}

static int on_disk_only(size_t i)
{
	return (A.state[i] & (PG_RES | PG_DISK)) == PG_DISK;
}

static int allocated(size_t i)
{
	return (A.state[i] & PG_ALLOC) != 0;
}

static int at_level_read(size_t i)
{
	return level_of(A.state[i]) == LVL_READ;
}

static int at_level_rw(size_t i)
{
	return level_of(A.state[i]) == LVL_RW;
}

/* Bytes [off, off+len) of the old memfd into the new one. copy_file_range
 * stays in the kernel; where it is refused, write from the old manager
 * view. */
static int copy_mem_bytes(struct copy *c, off_t off, size_t len)
{
	static int no_cfr;
	while (len > 0 && !no_cfr) {
		loff_t in = off, out = off;
		ssize_t n = copy_file_range(c->old_memfd, &in, c->new_memfd, &out, len, 0);
		if (n > 0) {
			off += n;
			len -= (size_t)n;
			c->mem_bytes += (uint64_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
			return -errno;
		no_cfr = 1;
	}
	if (len == 0)
		return 0;
	int rc = sbma__os_pwrite_full(c->new_memfd, A.mgr + off, len, off);
	if (!rc)
		c->mem_bytes += len;
	return rc;
}

/* The data extents of a run of resident pages (a resident page that was
 * never written is a hole: it costs nothing in either memfd). */
static int copy_resident(size_t first, size_t n, void *arg)
{
	struct copy *c = arg;
	off_t off = (off_t)bytes(first), end = (off_t)bytes(first + n);
	while (off < end) {
		off_t data = lseek(c->old_memfd, off, SEEK_DATA);
		if (data < 0 && errno == ENXIO)
			return 0;
		off_t hole = data < 0 ? end : lseek(c->old_memfd, data, SEEK_HOLE);
		if (data < 0)
			data = off; /* no SEEK_DATA: copy it all */
		if (data >= end)
			return 0;
		if (hole < 0 || hole > end)
			hole = end;
		int rc = copy_mem_bytes(c, data, (size_t)(hole - data));
		if (rc)
			return rc;
		off = hole;
	}
	return 0;
}

/* Pages [first, first+n), from the parent's backing file to ours. */
static int copy_file_pages(struct copy *c, size_t first, size_t n)
{
	uint64_t off = bytes(first), end = bytes(first + n);
	while (off < end) {
		size_t len = end - off < COPY_CHUNK ? (size_t)(end - off) : COPY_CHUNK;
		int rc = sbma__os_pread_full(c->old_store, c->buf, len, (off_t)off);
		if (rc)
			return rc;
		rc = sbma__store_write_async(c->buf, off, len);
		if (rc)
			return rc;
		posix_fadvise(c->old_store, (off_t)off, (off_t)len, POSIX_FADV_DONTNEED);
		c->disk_bytes += len;
		off += len;
	}
	return 0;
}

/* The evicted pages (on disk, not resident). Runs of them less than
 * COPY_GAP apart are copied as one transfer, gap included: with small SBMA
 * pages evicted at random, one transfer per run would be slow random I/O.
 * The pages in a gap are resident or never written, not PG_DISK: what the
 * new file holds for them is never read. Gaps stay inside an allocation,
 * where the new file's space is reserved. */
static int copy_evicted(struct copy *c)
{
	size_t gap = (size_t)(COPY_GAP >> A.pshift);
	for (size_t r = 0; r < A.nregions; r++) {
		size_t i = A.regions[r].first, end = i + A.regions[r].npages;
		size_t a = SIZE_MAX, b = 0; /* pending: [a, b) */
		for (; i < end; i++) {
			if (!on_disk_only(i))
				continue;
			if (a != SIZE_MAX && i - b <= gap) {
				b = i + 1;
				continue;
			}
			int rc = a == SIZE_MAX ? 0 : copy_file_pages(c, a, b - a);
			if (rc)
				return rc;
			a = i;
			b = i + 1;
		}
		int rc = a == SIZE_MAX ? 0 : copy_file_pages(c, a, b - a);
		if (rc)
			return rc;
	}
	return 0;
}

static int reserve_region(size_t first, size_t n, void *arg)
{
	(void)arg;
	return sbma__store_reserve(bytes(first), bytes(n));
}

static int protect_read(size_t first, size_t n, void *arg)
{
	(void)arg;
	return sbma__os_mprotect(A.app + bytes(first), bytes(n), PROT_READ);
}

static int protect_rw(size_t first, size_t n, void *arg)
{
	(void)arg;
	return sbma__os_mprotect(A.app + bytes(first), bytes(n), PROT_READ | PROT_WRITE);
}

/* Map the memfd fd over both views, at the same addresses; every page of
 * the application view gets the protection its state says. */
static int map_views(int fd)
{
	int err;
	if (!sbma__os_mmap(A.app, A.size, PROT_NONE, MAP_SHARED | MAP_FIXED | MAP_NORESERVE, fd, 0, &err))
		return err;
	int rc = for_runs(at_level_read, protect_read, NULL);
	if (!rc)
		rc = for_runs(at_level_rw, protect_rw, NULL);
	if (rc)
		return rc;
	if (!sbma__os_mmap(A.mgr, A.size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED | MAP_NORESERVE, fd, 0,
			   &err))
		return err;
	return 0;
}

/* Fix the states the copy changes: pages made read-only by prepare become
 * writable again; clean resident pages whose store copy stays behind in the
 * parent's file become dirty; a resident page has no store copy. */
static void adjust_states(void)
{
	int apply = 0;
	for_runs(dirty_read_only, make_writable, &apply);
	for (size_t r = 0; r < A.nregions; r++) {
		size_t end = A.regions[r].first + A.regions[r].npages;
		for (size_t i = A.regions[r].first; i < end; i++) {
			uint8_t s = A.state[i];
			if (!(s & PG_RES))
				continue;
			if ((s & PG_DISK) && !(s & PG_DIRTY)) {
				s |= PG_DIRTY;
				ST.dirty += bytes(1);
			}
			A.state[i] = (uint8_t)(s & ~PG_DISK);
		}
	}
}

/* The counters start over; the gauges of what the child holds stay. */
static void restart_counters(void)
{
	struct sbma_stats keep = ST;
	memset(&ST, 0, sizeof ST);
	ST.resident = keep.resident;
	ST.dirty = keep.dirty;
	ST.pinned = keep.pinned;
	ST.peak_resident = keep.resident;
	ST.budget = keep.budget;
	ST.allocated = keep.allocated;
	ST.allocations = keep.allocations;
	ST.maps = keep.maps;
	ST.charged = keep.charged;
}

/* Give the child its own memfd and backing file, with its data. On failure
 * returns -errno with c->step set; the child's views may then point at
 * either memfd, and the caller revokes them. */
static int make_private(struct copy *c)
{
	int rc;
	c->step = "a new backing file";
	if ((rc = sbma__store_replace(&c->old_store)))
		return rc;
	c->step = "reserving backing space";
	if ((rc = for_runs(allocated, reserve_region, NULL)))
		return rc;
	c->step = "a new memfd";
	c->new_memfd = memfd_create("sbma", MFD_CLOEXEC);
	if (c->new_memfd < 0)
		return -errno;
	if (ftruncate(c->new_memfd, (off_t)A.size) != 0)
		return -errno;
	c->step = "copying resident pages";
	if ((rc = for_runs(resident, copy_resident, c)))
		return rc;
	c->step = "copying evicted pages";
	int err;
	c->buf = sbma__os_mmap(NULL, COPY_CHUNK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0, &err);
	if (!c->buf)
		return err;
	if ((rc = copy_evicted(c)))
		return rc;
	adjust_states();
	c->step = "mapping the new memfd";
	if ((rc = map_views(c->new_memfd)))
		return rc;
	close(c->old_memfd);
	A.memfd = c->new_memfd;
	c->new_memfd = -1;
	A.runs = count_runs();
	return 0;
}

/* The child could not get a copy: it must not keep the parent's memory.
 * Its SBMA memory becomes inaccessible; the allocation table stays, so
 * that free() of those pointers is quiet. */
static void revoke_memory(const struct copy *c, int rc)
{
	sbma__log("fork: process %d (a child of %d) cannot get its own copy of SBMA memory (%s: %s): its "
		  "%llu bytes of SBMA memory are dropped, and touching them ends it with SIGSEGV; a child "
		  "that only calls exec is not affected",
		  (int)getpid(), (int)getppid(), c->step, strerror(-rc), (unsigned long long)ST.allocated);
	int err;
	const int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED;
	if (!sbma__os_mmap(A.app, A.size, PROT_NONE, flags, -1, 0, &err) ||
	    !sbma__os_mmap(A.mgr, A.size, PROT_NONE, flags, -1, 0, &err))
		sbma__die("fork: cannot unmap the parent's SBMA memory in child %d: %s", (int)getpid(),
			  strerror(-err));
	if (A.memfd >= 0)
		close(A.memfd);
	A.memfd = -1;
	sbma__store_close();
	for (size_t r = 0; r < A.nregions; r++) {
		memset(A.state + A.regions[r].first, 0, A.regions[r].npages);
		memset(A.pins + A.regions[r].first, 0, A.regions[r].npages * sizeof *A.pins);
	}
	A.runs = 1;
	ST.resident = ST.dirty = ST.pinned = 0;
	__atomic_store_n(&sbma__state, SBMA_FAILED, __ATOMIC_RELEASE);
}

void sbma__fork_child(void)
{
	int cancel;
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel);
	if (fk.sync[0] >= 0)
		close(fk.sync[0]);
	if (sbma__state == SBMA_READY) {
		uint64_t t0 = sbma__os_now_ns();
		struct copy c = {.old_memfd = A.memfd, .new_memfd = -1, .old_store = -1};
		int rc;
		if (A.nregions && fk.sync[1] < 0) {
			/* The parent would not wait: no consistent copy. */
			c.step = "a pipe to hold the parent";
			rc = fk.sync_err;
		} else {
			rc = make_private(&c);
		}
		if (c.buf)
			sbma__os_munmap(c.buf, COPY_CHUNK);
		if (c.new_memfd >= 0)
			close(c.new_memfd);
		if (rc) {
			revoke_memory(&c, rc);
		} else {
			restart_counters();
			if (sbma__opt.verbose)
				sbma__log("fork: child %d copied %llu bytes of memory and %llu bytes of backing "
					  "file in %llu ms",
					  (int)getpid(), (unsigned long long)c.mem_bytes,
					  (unsigned long long)c.disk_bytes,
					  (unsigned long long)((sbma__os_now_ns() - t0) / 1000000));
#ifdef SBMA_DEBUG
			sbma__vmm_audit_locked("fork (child)");
#endif
		}
		if (c.old_store >= 0)
			close(c.old_store);
	}
	if (fk.sync[1] >= 0) {
		/* The parent may be gone: no SIGPIPE. Through a pipe, the
		 * SIGPIPE is pending (signals are blocked): take it back. */
		if (send(fk.sync[1], "", 1, MSG_NOSIGNAL) < 0 && errno == ENOTSOCK &&
		    write(fk.sync[1], "", 1) < 0 && errno == EPIPE) {
			sigset_t pipe_sig;
			struct timespec now = {0, 0};
			sigemptyset(&pipe_sig);
			sigaddset(&pipe_sig, SIGPIPE);
			sigtimedwait(&pipe_sig, NULL, &now);
		}
		close(fk.sync[1]);
	}
	fk.sync[0] = fk.sync[1] = -1;
	sigset_t mask = fk.mask;
	int saved = fk.saved_errno;
	sbma__unlock_async();
	pthread_sigmask(SIG_SETMASK, &mask, NULL);
	/* After the parent is released: joining the node's budget may wait
	 * for other processes, the parent among them. */
	sbma__node_fork_child();
	pthread_setcancelstate(cancel, NULL);
	errno = saved;
}
