/*
 * init.c - start-up, the engine lock, fork and exit.
 *
 * Two stages. The library constructor reads and validates the SBMA_*
 * environment (a bad value stops the process here, before main) and
 * installs the fault handler, so that SBMA's handler is first in the chain.
 * The engine proper (the arena, the backing file) is created at the first
 * SBMA allocation: a shell or a compiler preloaded with SBMA that never makes
 * a large allocation never creates a file.
 *
 * While the engine starts, allocations go to libc (state SBMA_STARTING), so
 * that hwloc and the dynamic linker may call malloc during start-up.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "sbma_internal.h"

volatile int sbma__state = SBMA_UNINIT;
static int options_loaded;
static pthread_mutex_t engine_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;

void sbma__lock(sigset_t *old)
{
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, old);
	pthread_mutex_lock(&engine_lock);
}

void sbma__unlock(const sigset_t *old)
{
	pthread_mutex_unlock(&engine_lock);
	pthread_sigmask(SIG_SETMASK, old, NULL);
}

void sbma__lock_async(void)
{
	pthread_mutex_lock(&engine_lock);
}

void sbma__unlock_async(void)
{
	pthread_mutex_unlock(&engine_lock);
}

/* fork.c: the child gets a private copy of SBMA memory and its own backing
 * file. prepare takes the engine lock (and blocks signals) until parent and
 * child have each run theirs. FIXME: move to a fork.c section of
 * sbma_internal.h. */
void sbma__fork_prepare(void);
void sbma__fork_parent(void);
void sbma__fork_child(void);

/*
 * Registered once, from the constructor (or from the engine start, if a
 * constructor that ran before SBMA's made a large allocation): early, so
 * that SBMA's prepare handler runs after those of the program and of most
 * libraries, and its child handler before theirs; they may then touch SBMA
 * memory in their handlers. See fork.c.
 */
static void register_fork_handlers_once(void)
{
	pthread_atfork(sbma__fork_prepare, sbma__fork_parent, sbma__fork_child);
}

static void register_fork_handlers(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, register_fork_handlers_once);
}

/* A destructor, not atexit: it must run in every process that asked for
 * statistics, also those that never made an SBMA allocation. */
__attribute__((destructor)) static void print_stats_at_exit(void)
{
	if (sbma__opt.print_stats)
		sbma_print_stats(2);
}

/* Options and the handler; idempotent. Returns 0 or -EINVAL. */
static int load_options_locked(const struct sbma_config *cfg)
{
	int rc = sbma__options_load(cfg);
	if (rc)
		return rc;
	options_loaded = 1;
	sbma__log_keep_stderr();
	if (sbma__opt.verbose)
		sbma__options_print(2);
	return 0;
}

static int start_engine_locked(void)
{
	sbma__state = SBMA_STARTING;
	int rc = sbma__fault_install();
	if (!rc)
		rc = sbma__store_open();
	if (!rc)
		rc = sbma__arena_create();
	if (rc) {
		sbma__state = SBMA_FAILED;
		return rc;
	}
	sbma__st.budget = sbma__opt.budget;
	sbma__st.maps = 1;
	/* A job shares one node budget: join its segment now. A refused
	 * segment (another owner, corrupt) stops the process, with the
	 * reason printed: running on a private budget would silently
	 * oversubscribe the node. */
	if (sbma__node_join_locked() < 0)
		exit(EXIT_FAILURE);
	register_fork_handlers();
	__atomic_store_n(&sbma__state, SBMA_READY, __ATOMIC_RELEASE);
	return 0;
}

int sbma__ensure_ready(void)
{
	if (SBMA_LIKELY(__atomic_load_n(&sbma__state, __ATOMIC_ACQUIRE) == SBMA_READY))
		return 0;
	if (sbma__state == SBMA_STARTING || sbma__state == SBMA_FAILED)
		return -EAGAIN;
	pthread_mutex_lock(&init_lock);
	int rc = 0;
	if (sbma__state == SBMA_UNINIT) {
		rc = options_loaded ? 0 : load_options_locked(NULL);
		if (rc) {
			/* A bad setting found this late (no constructor ran):
			 * stop, as the constructor would have. */
			exit(EXIT_FAILURE);
		}
		rc = start_engine_locked();
	} else if (sbma__state != SBMA_READY) {
		rc = -EAGAIN;
	}
	pthread_mutex_unlock(&init_lock);
	return rc;
}

int sbma_init(const struct sbma_config *cfg)
{
	pthread_mutex_lock(&init_lock);
	int rc;
	if (sbma__state != SBMA_UNINIT) {
		rc = sbma__state == SBMA_READY ? -EALREADY : -EAGAIN;
	} else {
		rc = load_options_locked(cfg);
		if (!rc)
			rc = start_engine_locked();
	}
	pthread_mutex_unlock(&init_lock);
	return rc;
}

int sbma_get_config(struct sbma_config *cfg)
{
	if (!cfg)
		return -EINVAL;
	int rc = sbma__ensure_ready();
	if (rc && rc != -EAGAIN)
		return rc;
	cfg->budget = sbma__opt.budget;
	cfg->page_size = sbma__opt.page_size;
	cfg->min_alloc = sbma__opt.min_alloc;
	cfg->readahead = sbma__opt.readahead;
	cfg->arena_size = sbma__A.size ? sbma__A.size : sbma__opt.arena_size;
	cfg->dir = sbma__opt.dir;
	cfg->read_policy = sbma__opt.read_policy;
	cfg->direct_io = sbma__state == SBMA_READY ? sbma__store_is_direct() : sbma__opt.direct_io;
	cfg->verbose = sbma__opt.verbose;
	cfg->print_stats = sbma__opt.print_stats;
	return 0;
}

void sbma_print_config(int fd)
{
	sbma__options_print(fd);
}

/* Runs before main in every process SBMA is linked into or preloaded into:
 * a bad SBMA_* value stops the program before it starts work. */
__attribute__((constructor)) static void sbma_constructor(void)
{
	pthread_mutex_lock(&init_lock);
	int rc = options_loaded ? 0 : load_options_locked(NULL);
	pthread_mutex_unlock(&init_lock);
	if (rc)
		exit(EXIT_FAILURE);
	/* Installed now so that SBMA's handler is first in the chain. */
	sbma__fault_install();
	register_fork_handlers();
}
