/*
 * requests.c - the pins of nonblocking and persistent requests, and the
 * calls that complete requests (MPI_Wait*, MPI_Test*, MPI_Request_free).
 *
 * A nonblocking call pins its buffers when it is posted; they must stay
 * pinned until MPI is done with them, which the program learns (and so the
 * layer learns) only when Wait or Test completes the request. The table
 * below maps the request handle to its pins. A completed non-persistent
 * request is set to MPI_REQUEST_NULL by MPI: after each Wait/Test call the
 * layer compares each handle with the value it had before the call, and
 * drops the pins of those that became MPI_REQUEST_NULL. A persistent request
 * keeps its handle across Start/complete cycles and keeps its pins until
 * MPI_Request_free: its buffer may be registered with a NIC when it is
 * created, and it must not move in between.
 *
 * Handle values are reused by MPI as soon as a request is freed (Open MPI's
 * handles are pointers into a free list, MPICH's are table indices). The
 * table is therefore updated under one lock together with the MPI call
 * that creates or frees the handle: posting a pinned request (PMPI_I...,
 * insert) and completing requests (PMPI_Test..., drop) never interleave.
 * The lock is held only around nonblocking MPI calls, never across a wait,
 * and only while the table has entries; programs without SBMA buffers in
 * flight never take it.
 *
 * Invariant: every entry in the table is the one live request with that
 * handle value, or a request that completed behind the layer's back
 * (MPI_Request_free of an active request, a binding that calls PMPI_Wait
 * directly); an entry of the second kind is dropped when the handle value
 * is next posted or completed.
 */
#include "config.h"

#include <pthread.h>
#include <string.h>

#include "pmpi_internal.h"

#define NBUCKETS 1024 /* power of two */

struct entry {
	uint64_t key;
	struct pmpi__pins pins;
	int persistent;
	struct entry *next;
};

static pthread_mutex_t lock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
static struct entry *buckets[NBUCKETS];
static int ntracked;    /* entries in the table */
static uint64_t leaked; /* requests freed while active: pins kept for good */

static inline uint64_t key_of(MPI_Request r)
{
	uint64_t k = 0;
	_Static_assert(sizeof(MPI_Request) <= sizeof(uint64_t), "MPI_Request wider than 64 bits");
	memcpy(&k, &r, sizeof r);
	return k;
}

static inline struct entry **bucket_of(uint64_t k)
{
	return &buckets[(k * 0x9e3779b97f4a7c15ull) >> 54 & (NBUCKETS - 1)];
}

void pmpi__req_lock(void)
{
	pthread_mutex_lock(&lock);
}

void pmpi__req_unlock(void)
{
	pthread_mutex_unlock(&lock);
}

uint64_t pmpi__req_leaked(void)
{
	return __atomic_load_n(&leaked, __ATOMIC_RELAXED);
}

int pmpi__req_tracked(void)
{
	return __atomic_load_n(&ntracked, __ATOMIC_RELAXED) != 0;
}

/* Unlink the entry of key; NULL if none. */
static struct entry *take_locked(uint64_t k)
{
	for (struct entry **pp = bucket_of(k); *pp; pp = &(*pp)->next) {
		if ((*pp)->key == k) {
			struct entry *e = *pp;
			*pp = e->next;
			__atomic_store_n(&ntracked, ntracked - 1, __ATOMIC_RELAXED);
			return e;
		}
	}
	return NULL;
}

static void drop_locked(MPI_Request r, int unpin)
{
	struct entry *e = take_locked(key_of(r));
	if (!e)
		return;
	if (unpin)
		pmpi__unpin(&e->pins);
	__libc_free(e);
}

void pmpi__req_insert_locked(MPI_Request req, struct pmpi__pins *p, int persistent)
{
	if (!pmpi__pins_any(p) || req == MPI_REQUEST_NULL)
		return;
	uint64_t k = key_of(req);
	/* A stale entry under this handle belongs to a request that completed
	 * where the layer could not see it: MPI is done with its buffers. */
	drop_locked(req, 1);
	struct entry *e = __libc_malloc(sizeof *e);
	if (!e) {
		/* FIXME: out of memory for the table: the pins are kept for
		 * good rather than released while MPI may use the buffer. */
		leaked++;
		return;
	}
	e->key = k;
	e->pins = *p;
	e->persistent = persistent;
	struct entry **b = bucket_of(k);
	e->next = *b;
	*b = e;
	__atomic_store_n(&ntracked, ntracked + 1, __ATOMIC_RELAXED);
}

/* After an MPI call that may have completed requests: drop the pins of the
 * ones MPI set to MPI_REQUEST_NULL (non-persistent, complete). */
static void complete_changed_locked(int n, const MPI_Request *before, const MPI_Request *after)
{
	for (int i = 0; i < n; i++)
		if (before[i] != MPI_REQUEST_NULL && after[i] == MPI_REQUEST_NULL)
			drop_locked(before[i], 1);
}

/*
 * A call on an array of requests, with the table updated for the requests
 * it completes. `saved` is scratch space for n handles (NULL when nothing
 * was tracked at the start of the wait: then nothing posted since can be
 * among these requests, and the call is made without the lock).
 */
#define TRACKED_CALL(n, reqs, saved, call)                                                                             \
	({                                                                                                             \
		int rc_;                                                                                               \
		if (!(saved)) {                                                                                        \
			rc_ = (call);                                                                                  \
		} else {                                                                                               \
			pmpi__req_lock();                                                                              \
			memcpy((saved), (reqs), sizeof(MPI_Request) * (size_t)(n));                                    \
			rc_ = (call);                                                                                  \
			complete_changed_locked((n), (saved), (reqs));                                                 \
			pmpi__req_unlock();                                                                            \
		}                                                                                                      \
		rc_;                                                                                                   \
	})

/* Scratch space for n saved handles: on the stack for small n. If the
 * allocation fails the wait goes on untracked: the pins of its requests
 * stay until their handle values are posted or completed again (see the
 * invariant at the top). */
struct saved {
	MPI_Request *p;
	MPI_Request small[16];
};

static MPI_Request *saved_get(struct saved *s, int n)
{
	s->p = NULL;
	if (!pmpi__req_tracked() || n <= 0)
		return NULL;
	if ((size_t)n <= sizeof s->small / sizeof s->small[0])
		s->p = s->small;
	else
		s->p = __libc_malloc(sizeof(MPI_Request) * (size_t)n);
	return s->p;
}

static void saved_put(struct saved *s)
{
	if (s->p && s->p != s->small)
		__libc_free(s->p);
}

/* ---- the wrappers ---- */

struct wait_ctx {
	int n;
	MPI_Request *reqs;
	MPI_Request *saved;
	int *flag_or_index; /* Test: flag; Waitany: index; Waitsome: outcount */
	int *indices;
	MPI_Status *status;
};

static int test_one(void *ctx, int *done)
{
	struct wait_ctx *c = ctx;
	return TRACKED_CALL(1, c->reqs, c->saved, PMPI_Test(c->reqs, done, c->status));
}

PMPI_EXPORT int MPI_Wait(MPI_Request *request, MPI_Status *status)
{
	PMPI__IN_MPI();
	if (*request == MPI_REQUEST_NULL)
		return PMPI_Wait(request, status);
	struct saved s;
	struct wait_ctx c = {1, request, saved_get(&s, 1), NULL, NULL, status};
	int rc = pmpi__wait(test_one, &c);
	saved_put(&s);
	return rc;
}

PMPI_EXPORT int MPI_Test(MPI_Request *request, int *flag, MPI_Status *status)
{
	PMPI__IN_MPI();
	struct saved s;
	MPI_Request *sv = saved_get(&s, 1);
	int rc = TRACKED_CALL(1, request, sv, PMPI_Test(request, flag, status));
	saved_put(&s);
	return rc;
}

static int test_all(void *ctx, int *done)
{
	struct wait_ctx *c = ctx;
	return TRACKED_CALL(c->n, c->reqs, c->saved, PMPI_Testall(c->n, c->reqs, done, c->status));
}

PMPI_EXPORT int MPI_Waitall(int count, MPI_Request requests[], MPI_Status statuses[])
{
	PMPI__IN_MPI();
	struct saved s;
	struct wait_ctx c = {count, requests, saved_get(&s, count), NULL, NULL, statuses};
	int rc = pmpi__wait(test_all, &c);
	saved_put(&s);
	return rc;
}

PMPI_EXPORT int MPI_Testall(int count, MPI_Request requests[], int *flag, MPI_Status statuses[])
{
	PMPI__IN_MPI();
	struct saved s;
	MPI_Request *sv = saved_get(&s, count);
	int rc = TRACKED_CALL(count, requests, sv, PMPI_Testall(count, requests, flag, statuses));
	saved_put(&s);
	return rc;
}

static int test_any(void *ctx, int *done)
{
	struct wait_ctx *c = ctx;
	return TRACKED_CALL(c->n, c->reqs, c->saved, PMPI_Testany(c->n, c->reqs, c->flag_or_index, done, c->status));
}

PMPI_EXPORT int MPI_Waitany(int count, MPI_Request requests[], int *index, MPI_Status *status)
{
	PMPI__IN_MPI();
	struct saved s;
	struct wait_ctx c = {count, requests, saved_get(&s, count), index, NULL, status};
	int rc = pmpi__wait(test_any, &c);
	saved_put(&s);
	return rc;
}

PMPI_EXPORT int MPI_Testany(int count, MPI_Request requests[], int *index, int *flag, MPI_Status *status)
{
	PMPI__IN_MPI();
	struct saved s;
	MPI_Request *sv = saved_get(&s, count);
	int rc = TRACKED_CALL(count, requests, sv, PMPI_Testany(count, requests, index, flag, status));
	saved_put(&s);
	return rc;
}

static int test_some(void *ctx, int *done)
{
	struct wait_ctx *c = ctx;
	int rc = TRACKED_CALL(c->n, c->reqs, c->saved,
	                      PMPI_Testsome(c->n, c->reqs, c->flag_or_index, c->indices, c->status));
	/* MPI_UNDEFINED (no active request) also ends the wait. */
	*done = *c->flag_or_index != 0;
	return rc;
}

PMPI_EXPORT int MPI_Waitsome(int incount, MPI_Request requests[], int *outcount, int indices[], MPI_Status statuses[])
{
	PMPI__IN_MPI();
	struct saved s;
	struct wait_ctx c = {incount, requests, saved_get(&s, incount), outcount, indices, statuses};
	int rc = pmpi__wait(test_some, &c);
	saved_put(&s);
	return rc;
}

PMPI_EXPORT int MPI_Testsome(int incount, MPI_Request requests[], int *outcount, int indices[], MPI_Status statuses[])
{
	PMPI__IN_MPI();
	struct saved s;
	MPI_Request *sv = saved_get(&s, incount);
	int rc = TRACKED_CALL(incount, requests, sv, PMPI_Testsome(incount, requests, outcount, indices, statuses));
	saved_put(&s);
	return rc;
}

PMPI_EXPORT int MPI_Request_free(MPI_Request *request)
{
	PMPI__IN_MPI();
	if (!pmpi__req_tracked() || *request == MPI_REQUEST_NULL)
		return PMPI_Request_free(request);
	pmpi__req_lock();
	MPI_Request r = *request;
	/* Complete (or an inactive persistent request): MPI is done with the
	 * buffers. Active: MPI goes on using them after the free, and nothing
	 * will tell when it stops. */
	int flag = 0;
	if (PMPI_Request_get_status(r, &flag, MPI_STATUS_IGNORE) != MPI_SUCCESS)
		flag = 0;
	int rc = PMPI_Request_free(request);
	if (rc == MPI_SUCCESS) {
		if (!flag) {
			/* FIXME: an active request freed by the program keeps
			 * its buffers pinned until the process ends (or the
			 * buffer is freed): there is no way to learn when
			 * MPI completes it. */
			struct entry *e = take_locked(key_of(r));
			if (e) {
				leaked++;
				if (sbma__opt.verbose)
					sbma__log("pmpi: a request with pinned buffers was freed while active: its "
					          "pages stay pinned");
				__libc_free(e);
			}
		} else {
			drop_locked(r, 1);
		}
	}
	pmpi__req_unlock();
	return rc;
}
