/*
 * test_signals.c - SBMA's SIGSEGV/SIGBUS handler stays first, and the
 * program's handlers are chained behind it as the kernel would run them.
 * A handler installed after SBMA's with sigaction(), signal(),
 * bsd_signal(), sysv_signal(), __sysv_signal() or sigset() leaves the
 * kernel's action SBMA's (read with the raw system call); SBMA memory still
 * works (evicted, then read back through faults); and a real NULL
 * dereference in a forked child reaches the program's handler (which
 * reports through a pipe and exits 42), with siginfo. Also: the oldact a
 * program gets back is its own previous action, never SBMA's; SA_RESETHAND
 * runs the handler once and the second fault kills; with no handler a NULL
 * dereference kills with SIGSEGV, SIG_IGN cannot ignore a fault, a
 * SIGSEGV sent by kill() is ignored or kills as asked; a real SIGBUS reaches
 * a SIGBUS handler or kills; a stack overflow reaches a handler on the
 * alternate stack; the handler runs with the mask the kernel would have set
 * (sa_mask, the signal unless SA_NODEFER, the interrupted mask); a handler
 * installed with the raw system call is taken over by sbma__fault_recheck
 * and chained; a handler that calls SBMA's back ends the chain instead of
 * recursing; handlers swapped by one thread while another faults (and
 * siglongjmps out of the handler) never lose a fault.
 * The signal mask ("mask:" tests): SIGSEGV and SIGBUS blocked by the
 * program, in every way it can block them (pthread_sigmask, sigprocmask,
 * sighold, sigblock, a new thread's inherited or attribute mask, a
 * sigsuspend wait mask, a handler's sa_mask), stay open in the kernel (read
 * with the system call) while the program's queries and oldsets show them
 * blocked, and evicted SBMA memory touched meanwhile is served with the
 * right data; a SIGSEGV sent by kill, sigqueue or pthread_kill meanwhile
 * waits, shown by sigpending, and arrives on unblock with its siginfo (the
 * default action kills then); a real NULL dereference in a thread that
 * blocks SIGSEGV kills the process without the program's handler, as the
 * kernel does; a forked child keeps the mask but not a kept signal; mask
 * calls inside the program's handler followed by siglongjmp leave nothing
 * stale. Each of these children dies or reports wrongly without the
 * interposition. Links the internals (libsbma-core.la) for
 * sbma__fault_recheck; tests/test_signals_preload.sh checks the same
 * through libsbma.so under LD_PRELOAD.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdio.h>

#include "sbma_internal.h"
#include "sig_common.h"
#include "test_common.h"

#define REGION (8 * MiB)

/* ------------------------------------------------------------ handlers */

static void h_mask(int sig)
{
	sigset_t cur;
	char m[] = "mask:????";
	pthread_sigmask(SIG_BLOCK, NULL, &cur);
	m[5] = sigismember(&cur, SIGUSR1) ? '1' : '0';
	m[6] = sigismember(&cur, sig) ? '1' : '0';
	m[7] = sigismember(&cur, SIGUSR2) ? '1' : '0';
	m[8] = sigismember(&cur, SIGTERM) ? '1' : '0';
	sc_say(m);
	_exit(42);
}

static void h_errno(int sig)
{
	(void)sig;
	sc_say(errno == 4321 ? "errno:kept" : "errno:changed");
	_exit(42);
}

/* ------------------------------------------------------------ helpers */

/* Whether the kernel still calls SBMA's handler for sig. */
static int kernel_has_sbma(int sig)
{
	struct sc_kact k;
	return sc_kget(sig, &k) == 0 && k.handler == sc_sbma_handler && (k.flags & SA_SIGINFO) &&
	       (k.flags & SA_ONSTACK);
}

/* SBMA memory still works: written, evicted, read back through faults. */
static void check_sbma_memory(uint64_t seed)
{
	char *p = sbma_malloc(REGION);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	tc_fill(p, REGION, seed, 1, 0);
	CU_ASSERT(sbma_evict_all() >= (int64_t)REGION);
	struct sbma_stats s0 = tc_stats();
	errno = 4321; /* a fault served by SBMA leaves errno alone */
	CU_ASSERT_EQUAL(*(volatile uint64_t *)p, tc_val(seed, 1, 0));
	CU_ASSERT_EQUAL(errno, 4321);
	CU_ASSERT_EQUAL(tc_check(p, REGION, seed, 1, 0, "after eviction"), 0);
	tc_fill(p, REGION, seed, 2, 0);
	struct sbma_stats s1 = tc_stats();
	CU_ASSERT(s1.faults_read > s0.faults_read);
	CU_ASSERT(s1.faults_upgrade + s1.faults_write > s0.faults_upgrade + s0.faults_write);
	sbma_free(p);
}

static int run(void (*fn)(void), char *out, size_t size)
{
	fflush(NULL);
	return sc_run(fn, out, size);
}

static void child_bus(void)
{
	sc_sigbus();
	sc_say("survived");
}

/* ------------------------------------------------------------ tests */

/* The program's handler sees errno as the faulting code left it. */
static void child_errno(void)
{
	struct sigaction a = sc_act(h_errno, 0);
	sigaction(SIGSEGV, &a, NULL);
	errno = 4321;
	sc_child_null();
}

/* (a) sigaction() after SBMA is up. */
static void test_sigaction_chain(void)
{
	char out[256];
	struct sigaction a = sc_act_info(sc_h_info, 0), saved;
	CU_ASSERT_EQUAL_FATAL(sigaction(SIGSEGV, &a, &saved), 0);
	CU_ASSERT(kernel_has_sbma(SIGSEGV));
	check_sbma_memory(11);
	int st = run(sc_child_null, out, sizeof out);
	CU_ASSERT(sc_exited(st, 42));
	CU_ASSERT_STRING_EQUAL(out, "info:segv:null");
	st = run(child_errno, out, sizeof out);
	CU_ASSERT(sc_exited(st, 42));
	CU_ASSERT_STRING_EQUAL(out, "errno:kept");
	CU_ASSERT_EQUAL(sigaction(SIGSEGV, &saved, NULL), 0);
	CU_ASSERT(kernel_has_sbma(SIGSEGV));
}

/* (b) signal() and its relatives, each with the flags glibc gives it.
 * (bsd_signal is declared only for old X/Open modes.) */
typedef void (*handler_t)(int);
extern handler_t bsd_signal(int sig, handler_t h);
struct form {
	const char *name;
	handler_t (*set)(int, handler_t);
	int flags;     /* what the program's recorded action must show */
	int mask_self; /* sa_mask holds the signal */
};

/* Deprecated, but programs still call it. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
static handler_t via_sigset(int sig, handler_t h)
{
	return sigset(sig, h);
}
#pragma GCC diagnostic pop

static void test_signal_chain(void)
{
	const struct form forms[] = {
		{ "signal", signal, SA_RESTART, 1 },
		{ "bsd_signal", bsd_signal, SA_RESTART, 1 },
		{ "sysv_signal", sysv_signal, SA_RESETHAND | SA_NODEFER, 0 },
		{ "__sysv_signal", __sysv_signal, SA_RESETHAND | SA_NODEFER, 0 },
		{ "sigset", via_sigset, 0, 0 },
	};
	char out[256];
	for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
		const struct form *f = &forms[i];
		handler_t prev = f->set(SIGSEGV, sc_h_plain);
		CU_ASSERT(prev != SIG_ERR);
		CU_ASSERT(kernel_has_sbma(SIGSEGV));
		struct sigaction cur;
		CU_ASSERT_EQUAL(sigaction(SIGSEGV, NULL, &cur), 0);
		CU_ASSERT(cur.sa_handler == sc_h_plain);
		CU_ASSERT_EQUAL(cur.sa_flags & (SA_RESTART | SA_RESETHAND | SA_NODEFER | SA_SIGINFO),
				f->flags);
		CU_ASSERT_EQUAL(sigismember(&cur.sa_mask, SIGSEGV), f->mask_self);
		if (i == 0)
			check_sbma_memory(22);
		int st = run(sc_child_null, out, sizeof out);
		if (!sc_exited(st, 42) || strcmp(out, "plain:segv") != 0)
			fprintf(stderr, "  %s: status 0x%x, child said \"%s\"\n", f->name, st, out);
		CU_ASSERT(sc_exited(st, 42));
		CU_ASSERT_STRING_EQUAL(out, "plain:segv");
		CU_ASSERT(f->set(SIGSEGV, prev) == sc_h_plain);
	}
	CU_ASSERT(kernel_has_sbma(SIGSEGV));
}

/* (c) SA_RESETHAND, and sysv_signal (which sets it): the handler runs once,
 * sees SIG_DFL recorded, returns; the fault repeats and kills. */
static void child_sysv_once(void)
{
	sysv_signal(SIGSEGV, sc_h_once);
	sc_check_first(SIGSEGV);
	sc_deref_null();
	sc_say("survived");
}

static void test_resethand(void)
{
	char out[256];
	int st = run(sc_child_resethand, out, sizeof out);
	CU_ASSERT(sc_killed(st, SIGSEGV));
	CU_ASSERT_STRING_EQUAL(out, "once:dfl;");
	st = run(child_sysv_once, out, sizeof out);
	CU_ASSERT(sc_killed(st, SIGSEGV));
	CU_ASSERT_STRING_EQUAL(out, "once:dfl;");
}

/* (d) No handler, SIG_IGN, sent signals, SIGBUS. */
static void set_segv(handler_t h)
{
	struct sigaction a = sc_act(h, 0);
	sigaction(SIGSEGV, &a, NULL);
	sc_check_first(SIGSEGV);
}

static void child_ign_null(void)
{
	set_segv(SIG_IGN);
	sc_child_null();
}

static void child_dfl_kill(void)
{
	set_segv(SIG_DFL);
	kill(getpid(), SIGSEGV);
	sc_say("survived");
}

static void child_ign_kill(void)
{
	set_segv(SIG_IGN);
	kill(getpid(), SIGSEGV);
	sc_say("survived");
}

static void child_info_kill(void)
{
	struct sigaction a = sc_act_info(sc_h_info, 0);
	sigaction(SIGSEGV, &a, NULL);
	sc_check_first(SIGSEGV);
	kill(getpid(), SIGSEGV);
	sc_say("survived");
}

static void child_bus_dfl(void)
{
	struct sigaction a = sc_act(SIG_DFL, 0);
	sigaction(SIGBUS, &a, NULL);
	sc_check_first(SIGBUS);
	child_bus();
}

static void child_bus_handler(void)
{
	struct sigaction a = sc_act_info(sc_h_info, 0);
	sigaction(SIGBUS, &a, NULL);
	sc_check_first(SIGBUS);
	child_bus();
}

static void test_default(void)
{
	char out[256];
	struct sigaction cur;
	CU_ASSERT_EQUAL(sigaction(SIGSEGV, NULL, &cur), 0);
	CU_ASSERT(cur.sa_handler == SIG_DFL); /* what the test started with */

	int st = run(sc_child_dfl_null, out, sizeof out);
	CU_ASSERT(sc_killed(st, SIGSEGV));
	CU_ASSERT_STRING_EQUAL(out, "");
	st = run(child_ign_null, out, sizeof out);
	CU_ASSERT(sc_killed(st, SIGSEGV)); /* the kernel never ignores a fault */
	CU_ASSERT_STRING_EQUAL(out, "");
	st = run(child_dfl_kill, out, sizeof out);
	CU_ASSERT(sc_killed(st, SIGSEGV));
	CU_ASSERT_STRING_EQUAL(out, "");
	st = run(child_ign_kill, out, sizeof out);
	CU_ASSERT(sc_exited(st, 0));
	CU_ASSERT_STRING_EQUAL(out, "survived");
	st = run(child_info_kill, out, sizeof out);
	CU_ASSERT(sc_exited(st, 42));
	CU_ASSERT_STRING_EQUAL(out, "info:other"); /* si_code SI_USER, passed on */
	st = run(child_bus_dfl, out, sizeof out);
	CU_ASSERT(sc_killed(st, SIGBUS));
	CU_ASSERT_STRING_EQUAL(out, "");
	st = run(child_bus_handler, out, sizeof out);
	CU_ASSERT(sc_exited(st, 42));
	CU_ASSERT_STRING_EQUAL(out, "info:bus:adrerr");
	CU_ASSERT(kernel_has_sbma(SIGBUS));
}

/* (e) oldact is the program's previous action, never SBMA's. */
static void test_oldact(void)
{
	struct sigaction a = sc_act_info(sc_h_info, 0), b = sc_act(sc_h_plain, SA_NODEFER), o1, o2, o3, ob;
	sigaddset(&a.sa_mask, SIGUSR1);
	sigaddset(&a.sa_mask, SIGKILL); /* dropped, as the kernel drops it */
	CU_ASSERT_EQUAL(sigaction(SIGSEGV, &a, &o1), 0);
	CU_ASSERT(o1.sa_handler == SIG_DFL);
	CU_ASSERT_EQUAL(sigaction(SIGSEGV, &b, &o2), 0);
	CU_ASSERT(o2.sa_sigaction == sc_h_info);
	CU_ASSERT(o2.sa_flags & SA_SIGINFO);
	CU_ASSERT(sigismember(&o2.sa_mask, SIGUSR1));
	CU_ASSERT(!sigismember(&o2.sa_mask, SIGKILL));
	CU_ASSERT(!sigismember(&o2.sa_mask, SIGUSR2));
	CU_ASSERT(signal(SIGSEGV, sc_h_once) == sc_h_plain);
	CU_ASSERT_EQUAL(sigaction(SIGSEGV, NULL, &o3), 0);
	CU_ASSERT(o3.sa_handler == sc_h_once);
	CU_ASSERT(o3.sa_flags & SA_RESTART);
	/* SIGBUS has its own record. */
	CU_ASSERT_EQUAL(sigaction(SIGBUS, NULL, &ob), 0);
	CU_ASSERT(ob.sa_handler == SIG_DFL);
	CU_ASSERT(kernel_has_sbma(SIGSEGV));
	CU_ASSERT(kernel_has_sbma(SIGBUS));
	/* The save/restore idiom puts back what was there first. */
	CU_ASSERT_EQUAL(sigaction(SIGSEGV, &o1, NULL), 0);
	CU_ASSERT_EQUAL(sigaction(SIGSEGV, NULL, &o3), 0);
	CU_ASSERT(o3.sa_handler == SIG_DFL);
	/* Other signals are the kernel's business. */
	struct sigaction u = sc_act(sc_h_plain, 0), uo;
	CU_ASSERT_EQUAL(sigaction(SIGUSR1, &u, &uo), 0);
	struct sc_kact k;
	CU_ASSERT_EQUAL(sc_kget(SIGUSR1, &k), 0);
	CU_ASSERT(k.handler == (void *)sc_h_plain);
	CU_ASSERT_EQUAL(sigaction(SIGUSR1, &uo, NULL), 0);
	CU_ASSERT(signal(SIGUSR1, SIG_DFL) == uo.sa_handler);
	CU_ASSERT_EQUAL(sigaction(SIGKILL, &u, NULL), -1);
	CU_ASSERT_EQUAL(errno, EINVAL);
}

/* (f) A stack overflow reaches a handler on the alternate stack. */
static void test_altstack(void)
{
	char out[256];
	int st = run(sc_child_overflow, out, sizeof out);
	CU_ASSERT(sc_exited(st, 42));
	CU_ASSERT_STRING_EQUAL(out, "stack:alt");
}

/* The handler's signal mask: interrupted mask (SIGTERM blocked before the
 * fault) + sa_mask (SIGUSR1) + the signal itself unless SA_NODEFER; not
 * SBMA's all-blocked mask (SIGUSR2 open). */
static void child_mask(int flags)
{
	sigset_t term;
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &term, NULL);
	struct sigaction a = sc_act(h_mask, flags);
	sigaddset(&a.sa_mask, SIGUSR1);
	sigaction(SIGSEGV, &a, NULL);
	sc_check_first(SIGSEGV);
	sc_child_null();
}

static void child_mask_defer(void)
{
	child_mask(0);
}

static void child_mask_nodefer(void)
{
	child_mask(SA_NODEFER);
}

static void test_mask(void)
{
	char out[256];
	int st = run(child_mask_defer, out, sizeof out);
	CU_ASSERT(sc_exited(st, 42));
	CU_ASSERT_STRING_EQUAL(out, "mask:1101");
	st = run(child_mask_nodefer, out, sizeof out);
	CU_ASSERT(sc_exited(st, 42));
	CU_ASSERT_STRING_EQUAL(out, "mask:1001");
}

/* A handler installed with the raw system call (as by a library that never
 * calls sigaction) is found by sbma__fault_recheck and chained. */
static void test_recheck(void)
{
	char out[256];
	struct sigaction before, cur;
	CU_ASSERT_EQUAL(sigaction(SIGSEGV, NULL, &before), 0);
	if (sc_kinstall(SIGSEGV, sc_h_raw) != 0) {
		fprintf(stderr, "  (no signal trampoline to borrow: skipped) ");
		return;
	}
	struct sc_kact k;
	CU_ASSERT_EQUAL(sc_kget(SIGSEGV, &k), 0);
	CU_ASSERT(k.handler == (void *)sc_h_raw);
	CU_ASSERT_EQUAL(sbma__fault_recheck(), 0);
	CU_ASSERT(kernel_has_sbma(SIGSEGV));
	CU_ASSERT_EQUAL(sigaction(SIGSEGV, NULL, &cur), 0);
	CU_ASSERT(cur.sa_sigaction == sc_h_raw);
	CU_ASSERT_EQUAL(sbma__fault_recheck(), 0); /* nothing to do twice */
	CU_ASSERT_EQUAL(sigaction(SIGSEGV, NULL, &cur), 0);
	CU_ASSERT(cur.sa_sigaction == sc_h_raw);
	check_sbma_memory(33);
	int st = run(sc_child_null, out, sizeof out);
	CU_ASSERT(sc_exited(st, 42));
	CU_ASSERT_STRING_EQUAL(out, "raw:segv:null");
	CU_ASSERT_EQUAL(sigaction(SIGSEGV, &before, NULL), 0);
}

/* A handler that got SBMA's as its "previous" (behind interposition's
 * back) and chains to it: the chain ends with the default action after one
 * round, instead of recursing until the stack overflows. */
static void (*loop_prev)(int, siginfo_t *, void *);

static void h_loop(int sig, siginfo_t *si, void *uc)
{
	sc_say("L");
	loop_prev(sig, si, uc);
}

static void child_loop(void)
{
	struct sc_kact k;
	if (sc_kget(SIGSEGV, &k) != 0)
		_exit(3);
	loop_prev = (void (*)(int, siginfo_t *, void *))k.handler;
	if (sc_kinstall(SIGSEGV, h_loop) != 0 || sbma__fault_recheck() != 0)
		_exit(3);
	sc_child_null();
}

static void test_loop(void)
{
	char out[4096];
	int st = run(child_loop, out, sizeof out);
	CU_ASSERT(sc_killed(st, SIGSEGV));
	CU_ASSERT_STRING_EQUAL(out, "L");
}

/* One thread swaps the SIGSEGV handler between two that siglongjmp back,
 * while another takes 20000 real faults: every fault reaches one of them;
 * in the parent, SBMA faults meanwhile are served. */
static sigjmp_buf jump;
static volatile sig_atomic_t hits_a, hits_b;
static volatile int stop_swapping;

static void h_jump_a(int sig)
{
	(void)sig;
	hits_a++;
	siglongjmp(jump, 1);
}

static void h_jump_b(int sig)
{
	(void)sig;
	hits_b++;
	siglongjmp(jump, 1);
}

static void *swapper(void *arg)
{
	(void)arg;
	struct sigaction a = sc_act(h_jump_a, 0), b = sc_act(h_jump_b, 0);
	for (unsigned i = 0; !__atomic_load_n(&stop_swapping, __ATOMIC_RELAXED); i++)
		sigaction(SIGSEGV, i & 1 ? &a : &b, NULL);
	return NULL;
}

static void child_swap(void)
{
	struct sigaction a = sc_act(h_jump_a, 0);
	sigaction(SIGSEGV, &a, NULL);
	sc_check_first(SIGSEGV);
	pthread_t t;
	if (pthread_create(&t, NULL, swapper, NULL) != 0)
		_exit(3);
	/* At least 20000 faults, and on until both handlers have run: on a
	 * loaded machine the swapper may not get a core for a while. */
	volatile int i = 0;
	for (; i < 20000 || ((!hits_a || !hits_b) && i < 5000000); i++) {
		if (sigsetjmp(jump, 1) == 0)
			sc_deref_null();
	}
	__atomic_store_n(&stop_swapping, 1, __ATOMIC_RELAXED);
	pthread_join(t, NULL);
	sc_say(hits_a + hits_b == i && hits_a > 0 && hits_b > 0 ? "swap:ok" : "swap:lost");
	_exit(42);
}

static void test_swap_threads(void)
{
	char out[256];
	int st = run(child_swap, out, sizeof out);
	CU_ASSERT(sc_exited(st, 42));
	CU_ASSERT_STRING_EQUAL(out, "swap:ok");

	struct sigaction saved;
	CU_ASSERT_EQUAL(sigaction(SIGSEGV, NULL, &saved), 0);
	stop_swapping = 0;
	pthread_t t;
	CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, swapper, NULL), 0);
	for (int i = 0; i < 3; i++)
		check_sbma_memory(44 + (uint64_t)i);
	__atomic_store_n(&stop_swapping, 1, __ATOMIC_RELAXED);
	pthread_join(t, NULL);
	CU_ASSERT(kernel_has_sbma(SIGSEGV));
	CU_ASSERT_EQUAL(sigaction(SIGSEGV, &saved, NULL), 0);
}

/* ---------------------------------------------------- the signal mask */

/* Run a child body from sig_common.h: its wait status and report must be
 * as expected (exit_code, or killed by sig when sig is not 0). */
static void check_child(const char *what, void (*fn)(void), int exit_code, int sig,
			const char *said)
{
	char out[512];
	int st = run(fn, out, sizeof out);
	int ok = (sig ? sc_killed(st, sig) : sc_exited(st, exit_code)) && strcmp(out, said) == 0;
	if (!ok)
		fprintf(stderr, "  %s: status 0x%x, child said \"%s\"; expected %s %d, \"%s\"\n",
			what, st, out, sig ? "signal" : "exit", sig ? sig : exit_code, said);
	CU_ASSERT(ok);
}

static void test_mask_threads(void)
{
	const char *said = "saved;view;kopen;touched;restored;main:touched;";
	check_child("pthread_sigmask", sc_child_block_pthread, 0, 0, said);
	check_child("sigprocmask", sc_child_block_procmask, 0, 0, said);
	check_child("nested", sc_child_procmask_nested, 0, 0,
		    "view;kopen;touched;nested;unblocked;touched;");
}

static void test_mask_sent(void)
{
	check_child("kill/sigqueue/pthread_kill", sc_child_kill_blocked, 0, 0,
		    "kept;pending;touched;user;clear;queue;tkill;");
	check_child("default action", sc_child_kill_blocked_dfl, 0, SIGSEGV, "alive;touched;");
}

static void test_mask_null(void)
{
	check_child("NULL in a blocked thread", sc_child_null_blocked, 0, SIGSEGV, "touched;");
}

static void test_mask_inherit(void)
{
	check_child("new threads", sc_child_inherit, 0, 0,
		    "view;kopen;touched;attr:view;kopen;touched;");
	check_child("fork", sc_child_fork_kept, 0, 0,
		    "kept;child:view;kopen;touched;none;parent:one;");
}

static void test_mask_handlers(void)
{
	check_child("sa_mask", sc_child_sa_mask, 0, 0, "kmask;oldact;touched;back;");
	check_child("sigsuspend", sc_child_suspend, 0, 0, "h:view;touched;woke;kept;ended;");
	check_child("handler + siglongjmp", sc_child_handler_jump, 0, 0, "hits;open;touched;");
}

/* siggetmask: the program's mask too. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
static void child_siggetmask(void)
{
	sigset_t segv = sc_one(SIGSEGV);
	pthread_sigmask(SIG_BLOCK, &segv, NULL);
	sc_say(siggetmask() == 1 << (SIGSEGV - 1) && !sc_kmask() ? "get;" : "noget;");
	pthread_sigmask(SIG_UNBLOCK, &segv, NULL);
	sc_say(siggetmask() == 0 ? "get;" : "noget;");
}
#pragma GCC diagnostic pop

static void test_mask_old_forms(void)
{
	check_child("sighold/sigblock", sc_child_old_forms, 0, 0,
		    "view;kopen;touched;rel;bsd;kopen;touched;set;");
	check_child("siggetmask", child_siggetmask, 0, 0, "get;get;");
}

int main(int argc, char **argv)
{
	int rc = sbma_init(NULL);
	if (rc != 0 && rc != -EALREADY) {
		fprintf(stderr, "test_signals: sbma_init: %s\n", strerror(-rc));
		return 1;
	}
	struct sc_kact k;
	if (sc_kget(SIGSEGV, &k) != 0 || k.handler == (void *)SIG_DFL || k.handler == (void *)SIG_IGN) {
		fprintf(stderr, "test_signals: SBMA's SIGSEGV handler is not installed\n");
		return 1;
	}
	sc_sbma_handler = k.handler;
	/* SBMA memory for the mask tests' children. */
	sc_mem = sbma_malloc(REGION);
	if (!sc_mem) {
		fprintf(stderr, "test_signals: sbma_malloc: %s\n", strerror(errno));
		return 1;
	}
	sc_mem_words = REGION / 8;
	sc_evict = sbma_evict_all;
	sc_mem_fill();
	CU_TestInfo tests[] = {
		{ "oldact is the program's, not SBMA's", test_oldact },
		{ "sigaction handler chained (a)", test_sigaction_chain },
		{ "signal and relatives chained (b)", test_signal_chain },
		{ "SA_RESETHAND: once, then killed (c)", test_resethand },
		{ "default action, SIG_IGN, kill, SIGBUS (d)", test_default },
		{ "stack overflow to the alternate stack (f)", test_altstack },
		{ "handler mask: sa_mask, SA_NODEFER", test_mask },
		{ "recheck takes over a raw handler", test_recheck },
		{ "handler that calls SBMA's back", test_loop },
		{ "handlers swapped while faulting", test_swap_threads },
		{ "mask: threads block all, memory served", test_mask_threads },
		{ "mask: sent SIGSEGV waits for the unblock", test_mask_sent },
		{ "mask: NULL in a blocked thread kills", test_mask_null },
		{ "mask: new threads and fork inherit it", test_mask_inherit },
		{ "mask: sa_mask, sigsuspend, handler + siglongjmp", test_mask_handlers },
		{ "mask: sighold, sigblock and relatives", test_mask_old_forms },
		CU_TEST_INFO_NULL,
	};
	/* tests/test_signals WORD: only the tests whose name contains WORD. */
	if (argc > 1) {
		size_t n = 0;
		for (size_t i = 0; tests[i].pName; i++)
			if (strstr(tests[i].pName, argv[1]))
				tests[n++] = tests[i];
		tests[n] = (CU_TestInfo)CU_TEST_INFO_NULL;
	}
	return tc_run("signals", tests);
}
