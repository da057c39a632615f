/*
 * pmpi_internal.h - what the files of the PMPI layer (libsbma-pmpi) share.
 *
 * The layer does two things around MPI calls:
 *
 *   - Pinning. Every SBMA buffer handed to MPI is made resident with the
 *     access MPI needs and pinned (excluded from eviction) until MPI is done
 *     with it: for a blocking call until it returns, for a nonblocking one
 *     until its request completes in Wait or Test (requests.c), for a
 *     persistent one until MPI_Request_free. Single-copy transports (CMA
 *     process_vm_readv/writev, XPMEM, KNEM) and RDMA NICs read and write
 *     these pages from the kernel or the device, where a protected or
 *     dropped page fails the transfer or loses data.
 *
 *   - Blocking. A blocking call becomes its nonblocking form plus a test
 *     loop (wait.c) which, once the first test did not complete it, marks the
 *     process blocked (sbma__block_enter: with SBMA_EVICT=eager its unpinned
 *     pages are written back and dropped), answers the node's release
 *     requests between tests (sbma__block_poll) and sleeps with backoff, so
 *     that oversubscribed ranks do not burn the cores the running ones need.
 *
 * Every wrapper returns the MPI result of the call it wraps. SBMA's own
 * failures (a pin that could not load a page) never fail the MPI call: they
 * are reported once and the call goes ahead.
 *
 * The layer's own MPI traffic (the node name at MPI_Init, the statistics at
 * MPI_Finalize) goes through PMPI_*, never through the wrappers.
 */
#ifndef SBMA_PMPI_INTERNAL_H
#define SBMA_PMPI_INTERNAL_H

#include <mpi.h>

#include "sbma_internal.h"

#define PMPI_EXPORT __attribute__((visibility("default")))

/* ---- the allocator inside MPI calls ---- */

/*
 * Nonzero while this thread is inside a wrapper (src/preload.c defines it;
 * its malloc then hands every request to libc). The buffers MPI allocates
 * for itself during a call (libnbc's temporaries for a nonblocking
 * collective, pipelining buffers) are filled and drained by the kernel
 * (CMA) or a NIC as well as by MPI; as SBMA memory they would start out
 * not resident, be evicted while in flight, and neither pinned nor seen.
 */
extern __thread int sbma__libc_only;

static inline int pmpi__enter(void)
{
	return sbma__libc_only++;
}

static inline void pmpi__leave(int *unused)
{
	(void)unused;
	sbma__libc_only--;
}

/* First statement of every wrapper: the rest of the call, whatever return
 * ends it, runs with MPI's allocations going to libc. */
#define PMPI__IN_MPI() int pmpi__in_mpi_ __attribute__((cleanup(pmpi__leave), unused)) = pmpi__enter()

/* ---- buffers.c: pinning the SBMA part of MPI buffers ---- */

/* One pinned byte range; len 0: nothing pinned. */
struct pmpi__span {
	char *addr;
	size_t len;
};

/* The buffers of one operation: at most a send side and a receive side. */
struct pmpi__pins {
	struct pmpi__span s[2];
};
enum { PMPI__SEND = 0, PMPI__RECV = 1 };

static inline void pmpi__pins_init(struct pmpi__pins *p)
{
	p->s[0].len = p->s[1].len = 0;
}

static inline int pmpi__pins_any(const struct pmpi__pins *p)
{
	return p->s[0].len || p->s[1].len;
}

/* Whether this process has SBMA memory at all: false until the first SBMA
 * allocation, and then every pin below is one range check. */
static inline int pmpi__have_arena(void)
{
	return __atomic_load_n(&sbma__state, __ATOMIC_ACQUIRE) == SBMA_READY;
}

/*
 * Pin, in slot `slot` of p, the SBMA pages of `count` elements of `type` at
 * buf (the bytes the datatype's true extent covers), for `access`
 * (SBMA_ACCESS_READ: MPI reads the buffer; SBMA_ACCESS_WRITE: MPI writes
 * it, and may read it). MPI_IN_PLACE, a zero count and memory that is not
 * SBMA's pin nothing. MPI_BOTTOM (absolute addresses) is handled.
 */
void pmpi__pin_typed(struct pmpi__pins *p, int slot, const void *buf, MPI_Aint count, MPI_Datatype type, int access);
/* The same for the blocks of a v-collective: element counts and
 * displacements (in extents of type) for n processes. */
void pmpi__pin_v(struct pmpi__pins *p, int slot, const void *buf, const int counts[], const int displs[], int n,
                 MPI_Datatype type, int access);
/* Alltoallw: displacements in bytes, one type per process. */
void pmpi__pin_w(struct pmpi__pins *p, int slot, const void *buf, const int counts[], const int displs[],
                 const MPI_Datatype types[], int n, int access);
/* Pin [addr, addr+len) directly. */
void pmpi__pin_bytes(struct pmpi__pins *p, int slot, const void *addr, size_t len, int access);
/* Undo every pin of p (and mark p empty). */
void pmpi__unpin(struct pmpi__pins *p);

/* ---- requests.c: pins of nonblocking and persistent requests ---- */

/*
 * The request table maps an MPI_Request handle to the pins taken when it
 * was posted. Handle values are reused by MPI as soon as a request is
 * freed, so posting a pinned request and completing a tracked one happen
 * under one lock (pmpi__req_lock): between an MPI call that frees a request
 * and the table update that drops its pins, no other thread can post a
 * request that gets the same handle. The lock is recursive (an error
 * handler may call MPI) and taken only while the table is not empty.
 */
void pmpi__req_lock(void);
void pmpi__req_unlock(void);
/* Whether any request is tracked (a relaxed read: a hint for fast paths). */
int pmpi__req_tracked(void);
/* Requests whose pins were kept for good (freed while active). */
uint64_t pmpi__req_leaked(void);
/* Record the pins of a request just posted. Caller holds the lock. If p
 * has no pins, nothing is recorded. */
void pmpi__req_insert_locked(MPI_Request req, struct pmpi__pins *p, int persistent);

/*
 * Post a nonblocking call whose buffers are pinned in `pins`: `call` is the
 * PMPI_I... call that fills *req. If nothing was pinned the call is made
 * directly; otherwise it is made under the table lock and its pins are
 * recorded, or dropped if the call failed.
 */
#define PMPI__POST_TRACKED(pins, req, persistent, call)                                                                \
	({                                                                                                             \
		int rc_;                                                                                               \
		if (!pmpi__pins_any(pins)) {                                                                           \
			rc_ = (call);                                                                                  \
		} else {                                                                                               \
			pmpi__req_lock();                                                                              \
			rc_ = (call);                                                                                  \
			if (rc_ == MPI_SUCCESS)                                                                        \
				pmpi__req_insert_locked(*(req), (pins), (persistent));                                 \
			else                                                                                           \
				pmpi__unpin(pins);                                                                     \
			pmpi__req_unlock();                                                                            \
		}                                                                                                      \
		rc_;                                                                                                   \
	})

/* ---- wait.c: the blocking engine ---- */

/*
 * One test of a blocking operation: sets *done when it is complete and
 * returns the MPI result (an error ends the wait).
 */
typedef int (*pmpi__test_fn)(void *ctx, int *done);

/*
 * Wait until test says done: tests at once, then for up to 50 us with
 * sched_yield() between tests; if that did not complete the operation the
 * process becomes blocked (sbma__block_enter), and between tests it answers
 * release requests (sbma__block_poll) and sleeps, 20 us at first, doubling
 * up to 1 ms. Returns the result of the last test.
 */
int pmpi__wait(pmpi__test_fn test, void *ctx);
/* Wait for one internal request (not tracked). */
int pmpi__wait_request(MPI_Request *req, MPI_Status *status);
/* Wait for n internal requests (not tracked). */
int pmpi__wait_requests(int n, MPI_Request reqs[], MPI_Status statuses[]);

/* ---- collectives.c ---- */

/* Processes whose blocks a collective buffer holds: the group size of an
 * intracommunicator, the larger of the two groups of an intercommunicator. */
int pmpi__peers(MPI_Comm comm);

#endif /* SBMA_PMPI_INTERNAL_H */
