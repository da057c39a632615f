/*
 * block.c - what a process does around a blocking call (an MPI wait).
 *
 * A blocked process is the cheap moment to move memory: its pages are not
 * in use, and other processes on the node may need the budget. Entering, it
 * marks itself blocked in the node segment and (SBMA_EVICT=eager) writes
 * back and drops every unpinned page, remembering which were resident.
 * While it waits, the wait loop calls sbma__block_poll() to answer release
 * requests from processes that are running. Leaving, it waits its turn for
 * budget, brings pages back by the read policy and becomes running again.
 *
 * Calls nest (a blocking call made from inside another one, e.g. by a
 * progress thread): only the outermost enter/leave pair acts. The depth is
 * per process, not per thread: with MPI_THREAD_MULTIPLE two threads may
 * block at once, and the process counts as blocked while any of them is.
 * FIXME(issue 4): a process is "blocked" while any thread blocks, even if
 * another thread keeps running and faulting; its pages then bounce.
 *
 * sbma__block_wait() is the same wait for a caller that can sleep until
 * its event instead of testing (the kernel-access wrappers: poll() on a
 * pipe or a socket): after the caller's own short wait
 * (SBMA__BLOCK_SPIN_NS), blocked, answering release requests between
 * waits of 1 ms. The event ends a wait at once, so no backoff is needed:
 * the slice only bounds how long a release request waits for an answer,
 * and a shorter one costs wake-ups (on an oversubscribed node, the cores
 * the running processes need). pmpi/wait.c keeps its own loop: MPI must
 * be tested, not waited for, and spins with sched_yield().
 */
#include "config.h"

#include <string.h>

#include "sbma_internal.h"

volatile int sbma__block_evict_enabled = 1;
static int depth; /* under the engine lock */
static uint64_t entered_ns;

static void sbma__block_enter_locked(int evict)
{
	if (evict && sbma__opt.evict_policy == SBMA__EVICT_EAGER) {
		int64_t rc = sbma__vmm_evict_all_locked(1);
		if (rc < 0)
			sbma__log("blocking call: eviction failed (%s); the pages stay in memory",
				  strerror((int)-rc));
	}
	sbma__node_set_state(1);
}

/* Answer a release request: the oldest pages first, remembered so that an
 * eager reload brings them back when the call returns. */
static int sbma__block_release_locked(void)
{
	uint64_t req = sbma__node_take_release_locked();
	/* While eviction is off (MPI_Pcontrol(0)) the request is answered
	 * with nothing: the asker then evicts its own pages or waits. */
	if (!req || !sbma__block_evict_enabled)
		return 0;
	size_t pages = (size_t)((req + sbma__A.psz - 1) / sbma__A.psz);
	/* Running while it evicts, as others see it: the request is taken,
	 * the budget not yet given back, and a waiter that looks now must
	 * not conclude that nobody can free any (node.c). */
	sbma__node_set_state(0);
	int64_t rc = sbma__vmm_evict_oldest_locked(pages, 1);
	sbma__node_set_state(1);
	sbma__st.releases++;
	if (rc < 0)
		sbma__log("release request: eviction failed (%s); the pages stay in memory", strerror((int)-rc));
	/* Even if nothing could go (pinned), the request is answered: the
	 * asker then evicts its own pages or waits. */
	return rc > 0;
}

static void sbma__block_leave_locked(int evict)
{
	/* Admission: wait (first come, first served, bounded) for the budget
	 * that the eager reload needs, instead of faulting it in against
	 * everyone else; then load what was granted. */
	if (evict && sbma__opt.read_policy == SBMA_READ_EAGER) {
		uint64_t want = sbma__vmm_reacquire_want_locked();
		if (want && sbma__node_active())
			sbma__node_charge_locked(want, NULL, NULL, 1);
		int64_t rc = sbma__vmm_reacquire_locked();
		if (rc < 0)
			sbma__log("reload after a blocking call failed (%s); pages will come back on faults",
				  strerror((int)-rc));
	}
	sbma__node_set_state(0);
}

void sbma__block_enter(void)
{
	if (sbma__state != SBMA_READY)
		return;
	sigset_t old;
	sbma__lock(&old);
	if (depth++ == 0) {
		entered_ns = sbma__os_now_ns();
		sbma__block_enter_locked(sbma__block_evict_enabled);
	}
	sbma__unlock(&old);
}

int sbma__block_poll(void)
{
	if (sbma__state != SBMA_READY || !sbma__node_release_pending())
		return 0;
	sigset_t old;
	sbma__lock(&old);
	int released = depth > 0 ? sbma__block_release_locked() : 0;
	sbma__unlock(&old);
	return released;
}

void sbma__block_leave(void)
{
	if (sbma__state != SBMA_READY)
		return;
	sigset_t old;
	sbma__lock(&old);
	if (depth > 0 && --depth == 0) {
		sbma__block_leave_locked(sbma__block_evict_enabled);
		sbma__st.blocked_ns += sbma__os_now_ns() - entered_ns;
	}
	sbma__unlock(&old);
}

/* The longest a release request waits for an answer. */
#define WAIT_SLICE_NS 1000000L

int sbma__block_wait(int (*wait)(void *ctx, long ns), void *ctx, int *entered)
{
	if (!*entered) {
		sbma__block_enter();
		*entered = 1;
	}
	for (;;) {
		/* After a release, look again at once: it may have taken
		 * longer than the event needed. */
		int rc = wait(ctx, sbma__block_poll() ? 0 : WAIT_SLICE_NS);
		if (rc)
			return rc;
	}
}

int sbma_pmpi_enable(void)
{
	return __atomic_exchange_n(&sbma__block_evict_enabled, 1, __ATOMIC_RELAXED);
}

int sbma_pmpi_disable(void)
{
	return __atomic_exchange_n(&sbma__block_evict_enabled, 0, __ATOMIC_RELAXED);
}
