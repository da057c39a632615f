/*
 * wait.c - the blocking engine: a blocking MPI call as a test loop.
 *
 * Every blocking call the layer wraps is posted in its nonblocking form and
 * completed here, in three phases:
 *
 *   1. One test at once: a call that completes without waiting (an eager
 *      send, a message that was already there) costs little more than the
 *      blocking call did and never counts as blocked.
 *   2. Up to 50 us of tests with sched_yield() between them: a message a
 *      few microseconds away (a ping-pong, a small collective) is seen at
 *      once, and a short wait neither evicts nor sleeps. A sleep would cost
 *      more than the wait: nanosleep adds the timer slack (50 us by
 *      default) to whatever it is asked for. Measured with NetPIPE on two
 *      ranks: 2-8 us small-message latency with the layer as without it;
 *      without this phase it was 200 us.
 *   3. Blocked: sbma__block_enter() tells the node (and with
 *      SBMA_EVICT=eager writes back and drops the unpinned pages), then the
 *      loop alternates tests, sbma__block_poll() (release requests from
 *      ranks that are running and short of budget) and sleeps.
 *
 * Why sleep: a rank spinning in MPI_Wait on an oversubscribed node (eight
 * ranks on two cores, the usual out-of-core setup) takes the core from the
 * rank it waits for. The sleep starts at 20 us and doubles to 1 ms, so a
 * long wait costs about a thousand wake-ups a second. Each test also
 * drives MPI's progress engine, which rendezvous transfers need.
 *
 * FIXME: the sleep adds up to 1 ms of latency to a long wait's end; an MPI
 * that can block in the kernel (Open MPI's opal_progress with
 * mpi_yield_when_idle, MPICH's ch4 netmod wait) would do better, but there
 * is no portable way to ask for it. The spin time and the backoff are
 * constants, not settings.
 */
#include "config.h"

#include <errno.h>
#include <sched.h>
#include <time.h>

#include "pmpi_internal.h"

#define BACKOFF_FIRST_NS 20000L
#define BACKOFF_MAX_NS   1000000L

/* Spin this long (testing, yielding the core) before counting as blocked:
 * a message that is a few microseconds away (a ping-pong, a small
 * collective) is seen without a sleep's latency (nanosleep adds the timer
 * slack, 50 us by default), and a short wait does not evict. */
#define SPIN_NS 50000L

int pmpi__wait(pmpi__test_fn test, void *ctx)
{
	int done = 0;
	int rc = test(ctx, &done);
	if (rc != MPI_SUCCESS || done)
		return rc;
	uint64_t spin_end = sbma__os_now_ns() + SPIN_NS;
	do {
		sched_yield();
		rc = test(ctx, &done);
		if (rc != MPI_SUCCESS || done)
			return rc;
	} while (sbma__os_now_ns() < spin_end);
	sbma__block_enter();
	long ns = BACKOFF_FIRST_NS;
	for (;;) {
		rc = test(ctx, &done);
		if (rc != MPI_SUCCESS || done)
			break;
		/* Memory was released for another rank: test again before
		 * sleeping, the release may have taken long. */
		if (sbma__block_poll())
			continue;
		struct timespec ts = {0, ns};
		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
		ns = ns * 2 < BACKOFF_MAX_NS ? ns * 2 : BACKOFF_MAX_NS;
	}
	sbma__block_leave();
	return rc;
}

struct one_req {
	MPI_Request *req;
	MPI_Status *status;
};

static int test_one(void *ctx, int *done)
{
	struct one_req *c = ctx;
	return PMPI_Test(c->req, done, c->status);
}

int pmpi__wait_request(MPI_Request *req, MPI_Status *status)
{
	struct one_req c = {req, status};
	return pmpi__wait(test_one, &c);
}

struct all_reqs {
	int n;
	MPI_Request *reqs;
	MPI_Status *statuses;
};

static int test_all(void *ctx, int *done)
{
	struct all_reqs *c = ctx;
	return PMPI_Testall(c->n, c->reqs, done, c->statuses);
}

int pmpi__wait_requests(int n, MPI_Request reqs[], MPI_Status statuses[])
{
	struct all_reqs c = {n, reqs, statuses};
	return pmpi__wait(test_all, &c);
}
