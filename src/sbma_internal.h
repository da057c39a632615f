/*
 * sbma_internal.h - what the files of the engine share, grouped by the file
 * that defines it.
 *
 * Error convention (all internal functions): return 0 or a non-negative
 * count on success, -errno on failure; never rely on errno afterwards.
 *
 * Names: sbma__* is cross-file and internal (hidden by -fvisibility=hidden);
 * *_locked needs the engine lock held by the caller; *_async may run inside
 * the SIGSEGV handler (no malloc, no stdio, no lock the faulting thread may
 * already hold).
 */
#ifndef SBMA_INTERNAL_H
#define SBMA_INTERNAL_H

#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>

#include "sbma.h"

#define SBMA_LIKELY(x) __builtin_expect(!!(x), 1)
#define SBMA_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* ---- os.c: the only place that calls the kernel for memory and files ---- */

int sbma__os_mprotect(void *addr, size_t len, int prot);
int sbma__os_madvise(void *addr, size_t len, int advice);
void *sbma__os_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off, int *err);
int sbma__os_munmap(void *addr, size_t len);
int sbma__os_mincore(void *addr, size_t len, unsigned char *vec);
/* Full-length positional I/O: loops over short transfers and EINTR. */
int sbma__os_pread_full(int fd, void *buf, size_t len, off_t off);
int sbma__os_pwrite_full(int fd, const void *buf, size_t len, off_t off);
/* The same into a file that lives in RAM (the memfd): no fault injection. */
int sbma__os_pwrite_ram_full(int fd, const void *buf, size_t len, off_t off);
/* Kernel AIO reads (io_setup, io_submit, io_getevents). */
int sbma__os_aio_setup(unsigned nr, uint64_t *ctx);
int sbma__os_aio_read(uint64_t ctx, int fd, void *buf, size_t len, off_t off, uint64_t tag);
int sbma__os_aio_wait(uint64_t ctx, uint64_t *tag, int64_t *res);
int sbma__os_punch(int fd, off_t off, off_t len);
int sbma__os_reserve(int fd, off_t off, off_t len);
/* Wait until [off, off+len) of a file written with buffered I/O is on the
 * device; the write-back error (EIO, ENOSPC) if it failed. */
int sbma__os_sync_range(int fd, off_t off, off_t len);
size_t sbma__os_page_size(void);
uint64_t sbma__os_now_ns(void);
/* Read a small text file whole into buf (NUL-terminated). */
int sbma__os_read_text(const char *path, char *buf, size_t size);
/* A new file without a name in dir (O_TMPFILE | O_RDWR | flags, mode 0600):
 * the descriptor or -errno. */
int sbma__os_open_tmpfile(const char *dir, int flags);
/* Create path, which must not exist (O_CREAT | O_EXCL | O_NOFOLLOW |
 * O_RDWR | flags, mode 0600): the descriptor or -errno. */
int sbma__os_create_excl(const char *path, int flags);

/* ---- fault_inject.c: random failures of os.c (--enable-fault-inject) ---- */
/* Only in a build configured with --enable-fault-inject (SBMA_FAULT_INJECT
 * defined); see the file header and docs/reliability.md. */
#ifdef SBMA_FAULT_INJECT
enum sbma__fi_op {
	SBMA__FI_MPROTECT,
	SBMA__FI_MADVISE,
	SBMA__FI_MMAP,
	SBMA__FI_PREAD,
	SBMA__FI_PWRITE,
	SBMA__FI_SYNC,    /* sync_file_range after a buffered write */
	SBMA__FI_RESERVE, /* fallocate that reserves space */
	SBMA__FI_PUNCH,   /* fallocate that punches a hole */
	SBMA__FI_TMPFILE, /* O_TMPFILE refused: only when named in the list */
	SBMA__FI_NOPS
};
/* Returned by sbma__fi_check for pread/pwrite: transfer less than asked. */
#define SBMA__FI_SHORT (-1)
/* Whether this call of op is to fail: 0 make the real call, else the errno
 * to fail with (or SBMA__FI_SHORT). _async; never touches errno. */
int sbma__fi_check(enum sbma__fi_op op);
/* Whether op is being injected at all (a rate and op in the list). */
int sbma__fi_on(enum sbma__fi_op op);
#endif
/* ---- end fault_inject.c ---- */

/* ---- log.c: messages that never allocate (stack buffer + write(2)) ---- */

/* Once the options are read: remember which file stderr is (and keep a
 * duplicate of it with SBMA_STATS), so that messages to fd 2 still reach it
 * after the program closed or replaced fd 2. */
void sbma__log_keep_stderr(void);
void sbma__log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print "sbma: fatal: ..." and abort(): detected corruption only. */
void sbma__die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* snprintf that is safe in the signal handler for %s %d %u %ld %lu %zu %x %p %llu. */
int sbma__format(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void sbma__fdprintf(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- options.c: the SBMA_* environment variables, one table ---- */

/* Every read of the environment that can change what SBMA does (SBMA_*,
 * TMPDIR, the launcher's job variables): ignored in a secure-execution
 * (setuid, setgid, capabilities) program, whose caller must not choose
 * where its memory goes or which node segment it joins. glibc has had
 * secure_getenv since 2.17; elsewhere plain getenv is the best there is. */
#if defined(HAVE_SECURE_GETENV) || (defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 17))
#define sbma__getenv secure_getenv
#else
#define sbma__getenv getenv
#endif

struct sbma__options {
	uint64_t budget;      /* resolved, bytes */
	unsigned budget_pct;  /* nonzero if given as a percentage */
	size_t page_size;     /* SBMA page, multiple of the OS page */
	size_t min_alloc;     /* malloc below this goes to libc */
	size_t readahead;     /* largest readahead window, bytes (0: off) */
	uint64_t arena_size;  /* virtual bytes reserved */
	char dir[PATH_MAX];   /* backing directory */
	int read_policy;      /* enum sbma_read_policy */
	int direct_io;        /* 1 on, 0 off, -1 auto */
	int verbose;
	int print_stats;
	int check;            /* SBMA_CHECK: diagnose bad frees */
	size_t max_maps;      /* protection runs allowed before coarsening */
	char job[72];         /* SBMA_JOB: node segment name ("" unset) */
	int evict_policy;     /* SBMA__EVICT_*: in blocking calls */
	unsigned node_timeout; /* seconds to wait for node budget */
	int unlocked_io;      /* SBMA_UNLOCKED_IO: store I/O of loads, reservations
			       * and hole punches without the engine lock */
};
enum { SBMA__EVICT_LAZY = 0, SBMA__EVICT_EAGER = 1 };
extern struct sbma__options sbma__opt;

/*
 * Fill sbma__opt from the defaults, then cfg's non-zero fields (if cfg is
 * not NULL), then the environment, and validate. On a bad value print one
 * line naming the variable, the value and what was expected, and return
 * -EINVAL.
 */
int sbma__options_load(const struct sbma_config *cfg);
/*
 * Where sbma__options_load_from() reads the variables and puts its error
 * line. sbma__options_load() is the library's: the environment (with
 * secure_getenv) and stderr. A test passes get (called with arg and a
 * variable name, TMPDIR included; NULL means unset) and msg, which then
 * receives the line that would have gone to stderr, without the
 * "sbma[pid]: " prefix and the newline.
 */
struct sbma__opt_source {
	const char *(*get)(void *arg, const char *name); /* NULL: the environment */
	void *arg;
	char *msg; /* NULL: stderr */
	size_t msg_size;
};
int sbma__options_load_from(const struct sbma_config *cfg, const struct sbma__opt_source *src);
/* The name of row i of the table, in table order; NULL past the end. */
const char *sbma__option_name(size_t i);
void sbma__options_print(int fd);
/*
 * Parse "123", "64K", "1.5G", "2GiB", "10%": binary suffixes K M G T (with
 * optional "iB" or "B"), case-insensitive. A percentage is allowed only if
 * pct is not NULL; then *pct gets it (1..100) and *out 0. Returns 0 or
 * -EINVAL (garbage, negative, empty) or -ERANGE (overflow).
 */
int sbma__parse_size(const char *s, uint64_t *out, unsigned *pct);

/* ---- sysmem.c: how much memory this process may use at most ---- */

/* min(physical memory from hwloc, memory-cgroup limit (v1 or v2)); bytes. */
uint64_t sbma__node_memory(void);
/* The memory-cgroup limit, or UINT64_MAX if none. */
uint64_t sbma__cgroup_limit(void);

/* ---- store.c: the backing file ---- */

/* Open the unlinked, 0600 backing file in sbma__opt.dir. */
int sbma__store_open(void);
void sbma__store_close(void);
/* Reserve [off, off+len) on disk (fallocate): -ENOSPC when full. */
int sbma__store_reserve(uint64_t off, uint64_t len);
/* Give [off, off+len) back to the file system (punch a hole). */
int sbma__store_release(uint64_t off, uint64_t len);
/* Full-length transfers between buf and the store; _async: handler-safe. */
int sbma__store_write_async(const void *buf, uint64_t off, uint64_t len);
int sbma__store_read_async(void *buf, uint64_t off, uint64_t len);
/* Read [off, off+len) of the store into the same range of the file fd (the
 * memfd) through a bounce buffer; -EAGAIN if none is free (the caller then
 * reads into its mapping with sbma__store_read_async). _async. */
int sbma__store_read_to_file_async(int fd, uint64_t off, uint64_t len);
int sbma__store_fd(void);
int sbma__store_is_direct(void);

/* ---- region.c: the arena, its page states and its allocations ---- */

/* Page state bits (one byte per SBMA page). */
enum {
	PG_ALLOC = 1u << 0,   /* belongs to a live allocation */
	PG_RES = 1u << 1,     /* resident: data in RAM */
	PG_RW = 1u << 2,      /* application view writable (implies PG_RES) */
	PG_DIRTY = 1u << 3,   /* modified since last written to the store */
	PG_DISK = 1u << 4,    /* the store holds this page's data */
	PG_WASRES = 1u << 5,  /* resident before sbma_evict_all(): eager reload */
	PG_BUSY = 1u << 6,    /* in transit: being loaded, or written out, by a
			       * thread that dropped the engine lock for the
			       * I/O (SBMA_UNLOCKED_IO, vmm.c) */
	PG_CACHED = 1u << 7,  /* freed, but its RAM kept for the next malloc
			       * (cache.c): alone (closed), or with PG_RES |
			       * PG_RW (left open), never with PG_ALLOC */
};

/* A sequential stream of load faults: the run of the last fault on it was
 * [low, next); the next fault of the stream is on page next (going up) or
 * low - 1 (going down), and loads window pages. */
struct sbma__stream {
	size_t low, next, window;
};
/* Streams followed at once: a program reading one array and writing
 * another (or two threads) makes two. */
#define SBMA__STREAMS 4

/* The most freed extents the cache keeps (cache.c). */
#define SBMA__CACHE_SLOTS 64

/* One live allocation. */
struct sbma__region {
	size_t first;  /* first page index */
	size_t npages; /* pages */
	size_t size;   /* bytes asked for */
};

struct sbma__arena {
	char *app;            /* the application view, PROT per page */
	char *mgr;            /* the manager view, always read-write */
	uint64_t size;        /* bytes in each view */
	size_t npages;        /* pages in the arena */
	size_t psz;           /* SBMA page size */
	unsigned pshift;      /* log2(psz) */
	int memfd;            /* the RAM behind both views */
	uint8_t *state;       /* PG_* per page */
	uint32_t *stamp;      /* last-use clock per page (replacement) */
	uint16_t *pins;       /* pin count per page */
	uint32_t clock;       /* advances at each fault */
	size_t runs;          /* protection runs in the application view */
	/* Allocations, sorted by first page. */
	struct sbma__region *regions;
	size_t nregions, cap_regions;
	/* Free extents of the arena, sorted, coalesced. */
	struct sbma__extent { size_t first, npages; } *free;
	size_t nfree, cap_free;
	/* Sequential-access detection for readahead. */
	/* The sequential streams of faults (vmm.c, find_stream), most
	 * recent first. */
	struct sbma__stream ra[SBMA__STREAMS];
	size_t wa_next;       /* same for write upgrades */
	size_t wa_window;
	/* Pages in transit without the engine lock (SBMA_UNLOCKED_IO). */
	size_t loading;       /* PG_BUSY pages: being loaded or written out */
	size_t leaving;       /* of which being written out by an eviction */
	uint32_t gen;         /* futex word: bumped when a load finishes */
	uint32_t waiters;     /* threads asleep on gen */
	/* Freed extents whose resident pages are kept for reuse (cache.c),
	 * oldest first; neither allocated nor in the free list. */
	struct sbma__extent cache[SBMA__CACHE_SLOTS];
	size_t ncache;
	size_t cache_pages;   /* pages of the cached extents */
	size_t cache_res;     /* of which resident (PG_CACHED), counted in
			       * sbma__st.resident */
	uint64_t cache_hits;  /* mallocs served from the cache */
	uint64_t cache_drops; /* cached extents given back (pressure, bound) */
};
extern struct sbma__arena sbma__A;

int sbma__arena_create(void);
void sbma__arena_destroy(void);
static inline int sbma__in_arena(const void *p)
{
	return (uintptr_t)p - (uintptr_t)sbma__A.app < sbma__A.size;
}
static inline size_t sbma__page_of(const void *p)
{
	return ((uintptr_t)p - (uintptr_t)sbma__A.app) >> sbma__A.pshift;
}
/* Reserve npages whose first page address is a multiple of align (bytes). */
int sbma__region_alloc_locked(size_t npages, size_t align, size_t size, size_t *first);
/* The allocation starting exactly at page first, or NULL. */
struct sbma__region *sbma__region_find_locked(size_t first);
void sbma__region_remove_locked(struct sbma__region *r);
/* The two halves of sbma__region_remove_locked, for a free that punches
 * its pages between them without the lock: drop r from the table (its
 * extent is then neither allocated nor free, so nobody can reuse it), and
 * later give the extent to the free list. */
void sbma__region_unlink_locked(struct sbma__region *r);
void sbma__region_give_back_locked(size_t first, size_t npages);
int sbma__region_resize_locked(struct sbma__region *r, size_t npages);
/* Record [first, first+npages) (taken from elsewhere than the free list:
 * the cache) as an allocation of size bytes; -ENOMEM if the table cannot
 * grow. */
int sbma__region_insert_locked(size_t first, size_t npages, size_t size);

/* ---- cache.c: freed extents kept resident for the next malloc ---- */

/* Keep the extent of r (a live allocation being freed, no page busy) in
 * the cache instead of freeing it: 1 if kept (r is then gone from the
 * table), 0 if the caller must free it as usual. */
int sbma__cache_put_locked(struct sbma__region *r);
/* Take a cached extent of npages (first page a multiple of align bytes)
 * for a malloc of size bytes: its resident pages become writable and
 * dirty, the rest plain allocated pages. 1 and *first if one was found. */
int sbma__cache_take_locked(size_t npages, size_t align, size_t size, size_t *first);
/* Take the oldest cached extent out if the cache is over its bound (over)
 * or at all (!over): its pages are uncounted and state 0, the extent in
 * no list; the caller gives its RAM and disk back (sbma__vmm_free_space)
 * and then the extent (sbma__region_give_back_locked). 1 if one was. */
int sbma__cache_pop_locked(int over, size_t *first, size_t *n);
/* Drop cached extents, oldest first, until `pages` resident pages are
 * dropped or none is left (SIZE_MAX: all); returns resident pages dropped.
 * Punches under the lock. The node charge stays (the caller syncs, or
 * uses it as room for a load). */
size_t sbma__cache_drop_locked(size_t pages);

/* ---- vmm.c: load, evict, touch, pin, discard, replacement ---- */

/* Handle a fault at addr; returns 1 if handled, 0 if not SBMA's. _async. */
int sbma__vmm_fault_async(void *addr, int is_write);
/* A SIGSEGV at addr kills the process: if addr is in the arena, say what
 * the fault path saw there (page state, transfers in flight). _async. */
void sbma__vmm_report_miss_async(const void *addr);
/* Change the application-view protection of pages [first, first+n). */
int sbma__vmm_protect_locked(size_t first, size_t n, int prot);
int64_t sbma__vmm_evict_locked(size_t first, size_t n, int remember);
int sbma__vmm_load_locked(size_t first, size_t n, int write, int pin);
int sbma__vmm_unpin_locked(size_t first, size_t n);
int sbma__vmm_discard_locked(size_t first, size_t n);
/* Drop the pages of a freed allocation: no write-back, RAM and disk freed.
 * No page of the range may be PG_BUSY (sbma__vmm_wait_busy_locked). */
void sbma__vmm_free_locked(size_t first, size_t n);
/* The same in two parts: the page states and counters (lock held), then
 * the RAM and the disk space (no lock needed: the caller has unlinked the
 * extent, so no other thread can reach its pages). */
void sbma__vmm_free_states_locked(size_t first, size_t n);
void sbma__vmm_free_space(size_t first, size_t n);
/* For the cache: clear a freed allocation's states like
 * sbma__vmm_free_states_locked, but its resident pages keep their RAM and
 * their count in the resident total, as PG_CACHED (writable ones left
 * open); returns them. */
size_t sbma__vmm_cache_states_locked(size_t first, size_t n);
/* The reverse, for a malloc served by the cache: every page becomes
 * PG_ALLOC, the PG_CACHED ones resident, writable and dirty. */
void sbma__vmm_reuse_states_locked(size_t first, size_t n);
/* Before a cached extent is given back: close its open pages (PROT_NONE;
 * they stay PG_CACHED and counted). */
void sbma__vmm_close_cached_locked(size_t first, size_t n);
/* If a page of [first, first+n) is being loaded without the lock, sleep
 * until that load is done (the lock is dropped meanwhile, so anything the
 * caller looked up under it may have changed) and return 1; else 0. */
int sbma__vmm_wait_busy_locked(size_t first, size_t n);
/* Sleep (lock dropped meanwhile) until no load is in flight anywhere. */
void sbma__vmm_wait_idle_locked(void);
int64_t sbma__vmm_reacquire_locked(void);
/* Evict every unpinned page of every allocation (remember: mark them for
 * an eager reacquire). Returns bytes written or -errno. */
int64_t sbma__vmm_evict_all_locked(int remember);
/* Evict about `pages` of the oldest unpinned pages. Returns pages evicted. */
int64_t sbma__vmm_evict_oldest_locked(size_t pages, int remember);
/* Bytes of pages marked for an eager reacquire that are not resident. */
uint64_t sbma__vmm_reacquire_want_locked(void);
/* Debug builds: check every invariant of the page states and counters. */
void sbma__vmm_audit_locked(const char *where);

/* ---- stats.c ---- */

extern struct sbma_stats sbma__st;
void sbma__stats_resident_add(int64_t bytes);

/* ---- init.c: start-up, the engine lock, exit ---- */

enum sbma__state { SBMA_UNINIT, SBMA_STARTING, SBMA_READY, SBMA_FAILED };
extern volatile int sbma__state;
/* Initialise on first use; 0 when the engine is ready. */
int sbma__ensure_ready(void);
/* The engine lock. From threads: signals blocked while held (the previous
 * mask is saved in *old). From the SIGSEGV handler: _async variants. */
void sbma__lock(sigset_t *old);
void sbma__unlock(const sigset_t *old);
void sbma__lock_async(void);
void sbma__unlock_async(void);

/* ---- fault.c: the SIGSEGV/SIGBUS handler and its chain ---- */

int sbma__fault_install(void);
/* Make sure SBMA's handler is still the one the kernel calls (a library
 * such as MPI may have installed its own without going through sigaction
 * interposition); any handler found in its place is chained behind SBMA's.
 * Called by the PMPI layer after MPI_Init. Returns 0 or -errno. */
int sbma__fault_recheck(void);

/* ---- node.c: the budget shared by the processes of a job on a node ---- */

/* Join (or create) the segment of job name `job` (NULL: detect from
 * SBMA_JOB or the launcher's environment; no job: stay private). Callable
 * before or after the engine started; the resident memory is charged at
 * once. Returns 1 joined, 0 private (no job), -errno on a refused segment
 * (the message is printed). */
int sbma__node_join(const char *job);
/* Whether this process shares a node segment. */
int sbma__node_active(void);
/* The job name detected from SBMA_JOB or the launcher, or NULL. */
const char *sbma__node_detect_job(void);
/* At engine start (init lock held, engine not yet running): join the
 * detected job's segment if there is one. Same returns as sbma__node_join. */
int sbma__node_join_locked(void);
/* The budget in force: the node's when joined, else SBMA_BUDGET. */
uint64_t sbma__node_budget(void);
/*
 * Charge `bytes` to the node before loading them (engine lock held; may run
 * in the fault handler). If the node is short it asks blocked processes to
 * release, calls evict_own(shortfall, arg) (which evicts this process's
 * coldest pages and returns the bytes it evicted; NULL: never) and waits
 * asleep, first come first served, up to SBMA_NODE_TIMEOUT; then it charges
 * anyway (over budget, counted) or, with `partial`, only what is free.
 * Always returns 0: a process is never refused memory it already owns.
 */
int sbma__node_charge_locked(uint64_t bytes, int64_t (*evict_own)(uint64_t, void *), void *arg, int partial);
/* Bytes charged but not resident (room for loads without charging). */
uint64_t sbma__node_room_locked(void);
/* Give back the charge beyond what is resident; publish the statistics. */
void sbma__node_sync_locked(void);
/* Blocked (1) or running (0), as others see this process. */
void sbma__node_set_state(int blocked);
/* Whether another process asked this one to release memory (no lock). */
int sbma__node_release_pending(void);
/* The bytes asked for (and clear the request). */
uint64_t sbma__node_take_release_locked(void);
/* In a forked child: take a slot of its own, charge what it holds. */
int sbma__node_fork_child(void);

/* ---- block.c: a process entering, waiting in and leaving a blocking call ---- */

/* The process is about to block (an MPI wait): it becomes "blocked" in the
 * node segment and, with SBMA_EVICT=eager, writes back and drops all its
 * unpinned pages first. Nests: only the outermost pair acts. */
void sbma__block_enter(void);
/* While blocked: answer the node's release requests (evicting), cheap when
 * there are none. Returns 1 if it released memory, else 0. Call it from
 * the wait loop between tests, never from a signal handler. */
int sbma__block_poll(void);
/* Leaving the blocking call: wait for admission if the node is short, bring
 * evicted pages back by the read policy, become "running". */
void sbma__block_leave(void);
/* A wait outside MPI: wait(ctx, ns) waits up to ns for the event and
 * returns 1 (it happened), 0 (not yet) or -errno (give up). Enters the
 * blocked state unless *entered says it already did, then alternates waits
 * and release requests until wait() returns nonzero, which it returns. The
 * caller calls sbma__block_leave() once at the end if *entered became 1,
 * and first waits up to SBMA__BLOCK_SPIN_NS itself: a wait that short (a
 * pipe its reader is draining) does not count as blocked, and does not
 * evict under SBMA_EVICT=eager. */
#define SBMA__BLOCK_SPIN_NS 50000L
int sbma__block_wait(int (*wait)(void *ctx, long ns), void *ctx, int *entered);
/* MPI_Pcontrol(0)/(1) and sbma_pmpi_disable/enable: while off, enter/leave
 * only mark the state and never evict. */
extern volatile int sbma__block_evict_enabled;

/* ---- libc's allocator (glibc exports it under these names) ---- */

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);

/* kernel_access.c: the next definition of a libc function after libsbma's
 * (dlsym RTLD_NEXT); stops the process with a message if there is none.
 * For the wrappers of kernel_access*.c. */
void *sbma__ka_next(const char *name);

#endif /* SBMA_INTERNAL_H */
