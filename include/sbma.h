/*
 * sbma.h - storage-backed memory allocation: the public API.
 *
 * SBMA keeps large allocations in memory whose pages it moves itself between
 * RAM and a per-process backing file, so that a program can use more memory
 * than its budget. Most programs never call these functions: linking
 * libsbma (or preloading it) replaces malloc and friends. The calls below are
 * for programs that want to steer SBMA: allocate from it explicitly, evict
 * memory before a phase that does not need it, pin a buffer that a device or
 * another process will access, read the statistics.
 *
 * Conventions:
 *   - The allocation functions follow libc: NULL (or an error number for
 *     sbma_posix_memalign) and errno on failure.
 *   - Every other function returns 0 (or a non-negative count) on success and
 *     a negative errno value on failure; none of them changes errno.
 *   - Ranges (addr, len) may cover memory that SBMA does not manage; only the
 *     SBMA pages inside the range are affected. A range that contains no SBMA
 *     memory at all is rejected with -EINVAL.
 *   - Every function is thread-safe. None may be called from a signal
 *     handler.
 */
#ifndef SBMA_H
#define SBMA_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define SBMA_API __attribute__((visibility("default")))
#else
#define SBMA_API
#endif

#define SBMA_VERSION_MAJOR 0
#define SBMA_VERSION_MINOR 1
#define SBMA_VERSION_PATCH 0

/* How pages that were resident before an eviction come back. */
enum sbma_read_policy {
	SBMA_READ_LAZY = 0,  /* one fault at a time, with readahead */
	SBMA_READ_EAGER = 1, /* sbma_reacquire() reads them back in bulk */
};

/* Access requested from sbma_touch(). */
enum sbma_access {
	SBMA_ACCESS_READ = 1,
	SBMA_ACCESS_WRITE = 2, /* implies read */
};

/*
 * Settings, as read from the SBMA_* environment variables (see
 * docs/environment.md). A zero field means "the default".
 */
struct sbma_config {
	uint64_t budget;          /* bytes of resident SBMA memory allowed */
	size_t page_size;         /* SBMA page: a multiple of the OS page */
	size_t min_alloc;         /* malloc() below this goes to libc */
	size_t readahead;         /* largest readahead window, bytes */
	uint64_t arena_size;      /* virtual size reserved for SBMA memory */
	const char *dir;          /* directory of the backing file */
	int read_policy;          /* enum sbma_read_policy */
	int direct_io;            /* 1 = O_DIRECT, 0 = buffered, -1 = auto */
	int verbose;              /* print the settings at start-up */
	int print_stats;          /* print the statistics at exit */
};

/* Counters since start-up. Sizes in bytes, times in nanoseconds. */
struct sbma_stats {
	uint64_t faults_read;     /* read faults on non-resident pages */
	uint64_t faults_write;    /* write faults on non-resident pages */
	uint64_t faults_upgrade;  /* write faults on readable pages */
	uint64_t faults_io;       /* faults that had to read the store */
	uint64_t pages_loaded;    /* pages made resident (faults, readahead, touch) */
	uint64_t pages_readahead; /* of those, loaded ahead of a fault */
	uint64_t pages_evicted;   /* pages dropped from RAM */
	uint64_t evictions;       /* eviction passes (each one bulk) */
	uint64_t bytes_read;      /* read from the backing store */
	uint64_t bytes_written;   /* written to the backing store */
	uint64_t read_calls;      /* I/O system calls issued */
	uint64_t write_calls;
	uint64_t io_ns;           /* time spent in backing-store I/O */
	uint64_t resident;        /* SBMA memory in RAM now */
	uint64_t dirty;           /* of which modified since last written */
	uint64_t pinned;          /* of which pinned */
	uint64_t charged;         /* budget charged by this process now */
	uint64_t peak_resident;   /* largest value of resident so far */
	uint64_t over_budget;     /* loads past the budget: pinned memory, a node
	                           * wait that timed out, a failed eviction */
	uint64_t allocated;       /* bytes of live SBMA allocations */
	uint64_t allocations;     /* live SBMA allocations */
	uint64_t budget;          /* the budget in force */
	uint64_t maps;            /* protection runs (kernel memory areas) now */
	uint64_t coarsenings;     /* evictions forced by the memory-area limit */
	uint64_t blocked_ns;      /* time spent in blocking calls (PMPI layer) */
	uint64_t wait_ns;         /* time spent waiting for node budget */
	uint64_t node_waits;      /* times this process waited for node budget */
	uint64_t releases;        /* release requests answered while blocked */
};

/*
 * Initialise SBMA. Optional: SBMA initialises itself from the environment
 * on first use. sbma_init(NULL) reads the environment; sbma_init(&cfg)
 * takes the non-zero fields of cfg as defaults, which SBMA_* environment
 * variables still override (so a user can adjust a program that calls this
 * without rebuilding it).
 * Returns 0, -EALREADY if SBMA is already initialised (the settings in force
 * stay), or -EINVAL for a bad setting (a message names it on stderr).
 */
SBMA_API int sbma_init(const struct sbma_config *cfg);

/* The settings in force (initialising SBMA if needed). */
SBMA_API int sbma_get_config(struct sbma_config *cfg);

/*
 * Allocation. These always allocate SBMA memory, whatever the size (malloc
 * only does for sizes of at least SBMA_MIN_ALLOC). Memory is aligned to at
 * least the OS page. A full backing directory gives NULL with errno ENOMEM.
 * sbma_free() also takes any pointer that malloc() returned (malloc hands
 * small requests to libc); sbma_realloc() takes NULL or an SBMA pointer.
 */
SBMA_API void *sbma_malloc(size_t size);
SBMA_API void *sbma_calloc(size_t nmemb, size_t size);
SBMA_API void *sbma_realloc(void *ptr, size_t size);
SBMA_API void sbma_free(void *ptr);
SBMA_API void *sbma_aligned_alloc(size_t alignment, size_t size);
SBMA_API int sbma_posix_memalign(void **memptr, size_t alignment, size_t size);
SBMA_API size_t sbma_malloc_usable_size(void *ptr);

/* Nonzero if ptr points into SBMA memory (allocated or not). */
SBMA_API int sbma_owns(const void *ptr);

/*
 * Write every dirty, unpinned SBMA page to the backing store and drop every
 * unpinned page from RAM. Returns the number of bytes written, or -errno
 * (the pages that could not be written stay resident).
 */
SBMA_API int64_t sbma_evict_all(void);

/* Same for the SBMA pages inside [addr, addr+len). */
SBMA_API int64_t sbma_evict(void *addr, size_t len);

/*
 * Bring back, in bulk, the pages that sbma_evict_all() dropped, if the read
 * policy is eager; nothing otherwise. Returns the number of bytes made
 * resident, or -errno.
 */
SBMA_API int64_t sbma_reacquire(void);

/*
 * Make the SBMA pages of [addr, addr+len) resident with at least the given
 * access (enum sbma_access), so that the kernel or another process can use
 * them. Returns 0 or -errno.
 */
SBMA_API int sbma_touch(void *addr, size_t len, int access);

/*
 * Pin: touch with the given access and keep the pages resident, excluded
 * from eviction, until as many sbma_unpin() calls. Pins nest. Pinned memory
 * may exceed the budget (counted in sbma_stats.over_budget).
 */
SBMA_API int sbma_pin(void *addr, size_t len, int access);
SBMA_API int sbma_unpin(void *addr, size_t len);

/*
 * The contents of the whole SBMA pages inside [addr, addr+len) are no longer
 * needed: they are dropped without write-back and read back as zeros.
 * Partial pages at either end are left alone. Pinned pages are left alone.
 */
SBMA_API int sbma_discard(void *addr, size_t len);

/*
 * The PMPI layer (libsbma-pmpi) releases memory around blocking MPI calls.
 * sbma_pmpi_disable() turns that off for a phase (pages stay resident
 * across blocking calls), sbma_pmpi_enable() turns it back on; MPI_Pcontrol(0)
 * and MPI_Pcontrol(1) do the same. Both return the previous state (1 on).
 * Without libsbma-pmpi they only set the flag.
 */
SBMA_API int sbma_pmpi_enable(void);
SBMA_API int sbma_pmpi_disable(void);

/* Fill *st with the counters. Returns 0 or -EINVAL for a NULL pointer. */
SBMA_API int sbma_stats(struct sbma_stats *st);

/* Print the settings (what SBMA_VERBOSE=1 prints) or the statistics to fd. */
SBMA_API void sbma_print_config(int fd);
SBMA_API void sbma_print_stats(int fd);

#ifdef __cplusplus
}
#endif

#endif /* SBMA_H */
