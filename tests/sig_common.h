/*
 * sig_common.h - helpers shared by the signal-chain tests (test_signals.c,
 * linked with SBMA, and prog_signals.c, run under LD_PRELOAD): the kernel's
 * own view of a signal action, read and written with the rt_sigaction
 * system call so that no interposition can hide or intercept it; children
 * that report through a pipe; a real NULL dereference, a real SIGBUS and a
 * real stack overflow. Everything a handler calls here is async-signal-safe
 * (but sc_mem_evict).
 *
 * The second half: the signal mask. Child bodies that block SIGSEGV (with
 * pthread_sigmask, sigprocmask, sighold, sigblock, a new thread's inherited
 * mask, a sigsuspend wait mask, a handler's sa_mask) and touch evicted SBMA
 * memory (sc_mem, set up by each program), read the kernel's own mask with
 * the rt_sigprocmask system call, send SIGSEGV with kill, pthread_kill and
 * sigqueue while it is blocked, and report each step through the pipe.
 */
#ifndef SBMA_SIG_COMMON_H
#define SBMA_SIG_COMMON_H

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SA_RESTORER
#define SA_RESTORER 0x04000000 /* x86, arm, arm64 */
#endif

/* The kernel's struct sigaction (x86-64, arm64: 64 signals). */
struct sc_kact {
	void *handler;
	unsigned long flags;
	void *restorer;
	uint64_t mask;
};

static inline int sc_kget(int sig, struct sc_kact *k)
{
	memset(k, 0, sizeof *k);
	return (int)syscall(SYS_rt_sigaction, sig, NULL, k, sizeof k->mask);
}

/*
 * Install h (SA_SIGINFO) for sig with the system call, behind every
 * interposer's back, as a library that calls the kernel directly would. The
 * signal-return trampoline is the one glibc gave the current action. Returns
 * 0, or -1 if there is none to borrow (then the caller skips).
 */
static inline int sc_kinstall(int sig, void (*h)(int, siginfo_t *, void *))
{
	struct sc_kact cur, k;
	if (sc_kget(sig, &cur) != 0)
		return -1;
	memset(&k, 0, sizeof k);
	k.handler = (void *)h;
	k.flags = SA_SIGINFO;
#if defined(__x86_64__)
	if (!(cur.flags & SA_RESTORER))
		return -1;
#endif
	if (cur.flags & SA_RESTORER) {
		k.flags |= SA_RESTORER;
		k.restorer = cur.restorer;
	}
	return (int)syscall(SYS_rt_sigaction, sig, &k, NULL, sizeof k.mask);
}

/* Where children report: written by handlers with write(2). */
static int sc_out = -1;

static inline void sc_say(const char *s)
{
	ssize_t r = write(sc_out, s, strlen(s));
	(void)r;
}

/* SBMA's handler as the kernel held it at start (the program reads it
 * first); a child that has installed its own handler reports "replaced;"
 * if the kernel no longer holds SBMA's, which is the failure these tests
 * exist to catch even where the kernel alone would chain the same way. */
static void *sc_sbma_handler;

static inline void sc_check_first(int sig)
{
	struct sc_kact k;
	if (sc_kget(sig, &k) != 0 || k.handler != sc_sbma_handler)
		sc_say("replaced;");
}

/* A NULL dereference the compiler cannot turn into a trap instruction. */
static int *volatile sc_null;
static inline void sc_deref_null(void)
{
	*sc_null = 1;
}

/* A real SIGBUS (BUS_ADRERR): a read of a file mapping past the end of
 * the file. */
static inline int sc_sigbus(void)
{
	char path[] = "/tmp/sbma-sigbus.XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0)
		return -1;
	unlink(path);
	volatile char *m = mmap(NULL, 8192, PROT_READ, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		return -1;
	return m[4096];
}

/* A real stack overflow. */
static int sc_depth_limit = -1; /* never reached: keeps the compiler honest */
static inline int sc_recurse(int n)
{
	volatile char pad[1024];
	pad[0] = (char)n;
	if (n == sc_depth_limit)
		return 0;
	return sc_recurse(n + 1) + pad[0];
}

/* ------------------------------------------------- handlers that report */

/* Each says what it got and exits 42; sc_h_once returns (the fault repeats). */
static inline void sc_h_info(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	if (sig == SIGSEGV && si->si_addr == NULL && si->si_code == SEGV_MAPERR)
		sc_say("info:segv:null");
	else if (sig == SIGBUS && si->si_code == BUS_ADRERR)
		sc_say("info:bus:adrerr");
	else
		sc_say("info:other");
	_exit(42);
}

static inline void sc_h_plain(int sig)
{
	sc_say(sig == SIGSEGV ? "plain:segv" : sig == SIGBUS ? "plain:bus" : "plain:other");
	_exit(42);
}

static inline void sc_h_raw(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	sc_say(sig == SIGSEGV && si->si_addr == NULL ? "raw:segv:null" : "raw:other");
	_exit(42);
}

/* Reports whether the recorded action is already SIG_DFL, and returns. */
static inline void sc_h_once(int sig)
{
	struct sigaction cur;
	sigaction(sig, NULL, &cur);
	sc_say(cur.sa_handler == SIG_DFL ? "once:dfl;" : "once:still;");
}

static char *sc_altstack;
static const size_t sc_altstack_size = 256 * 1024;

static inline void sc_h_stack(int sig, siginfo_t *si, void *uc)
{
	char here;
	(void)sig, (void)si, (void)uc;
	int on_alt = &here >= sc_altstack && &here < sc_altstack + sc_altstack_size;
	sc_say(on_alt ? "stack:alt" : "stack:main");
	_exit(42);
}

static inline struct sigaction sc_act(void (*h)(int), int flags)
{
	struct sigaction a;
	memset(&a, 0, sizeof a);
	a.sa_handler = h;
	a.sa_flags = flags;
	sigemptyset(&a.sa_mask);
	return a;
}

static inline struct sigaction sc_act_info(void (*h)(int, siginfo_t *, void *), int flags)
{
	struct sigaction a;
	memset(&a, 0, sizeof a);
	a.sa_sigaction = h;
	a.sa_flags = SA_SIGINFO | flags;
	sigemptyset(&a.sa_mask);
	return a;
}

/* Child bodies. */
static inline void sc_child_null(void)
{
	sc_deref_null();
	sc_say("survived");
}

static inline void sc_child_resethand(void)
{
	struct sigaction a = sc_act(sc_h_once, SA_RESETHAND);
	sigaction(SIGSEGV, &a, NULL);
	sc_check_first(SIGSEGV);
	sc_child_null();
}

static inline void sc_child_dfl_null(void)
{
	struct sigaction a = sc_act(SIG_DFL, 0);
	sigaction(SIGSEGV, &a, NULL);
	sc_check_first(SIGSEGV);
	sc_child_null();
}

/* Overflows the stack with an SA_ONSTACK handler on a 256 KiB alternate
 * stack (exit 3 if it cannot set one up). */
static inline void sc_child_overflow(void)
{
	sc_altstack = malloc(sc_altstack_size);
	stack_t ss;
	memset(&ss, 0, sizeof ss);
	ss.ss_sp = sc_altstack;
	ss.ss_size = sc_altstack_size;
	if (!sc_altstack || sigaltstack(&ss, NULL) != 0)
		_exit(3);
	struct sigaction a = sc_act_info(sc_h_stack, SA_ONSTACK);
	sigaction(SIGSEGV, &a, NULL);
	sc_check_first(SIGSEGV);
	sc_recurse(0);
	sc_say("survived");
}

/*
 * Run fn in a child (core dumps off, 20 s alarm so a loop dies instead of
 * hanging) that reports through sc_out; collect what it wrote into out
 * (NUL-terminated) and return its wait status, or -1.
 */
static inline int sc_run(void (*fn)(void), char *out, size_t size)
{
	int p[2];
	if (pipe(p) != 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		struct rlimit no = { 0, 0 };
		setrlimit(RLIMIT_CORE, &no);
		close(p[0]);
		sc_out = p[1];
		alarm(20);
		fn();
		_exit(0);
	}
	close(p[1]);
	size_t len = 0;
	ssize_t r;
	while (len + 1 < size && (r = read(p[0], out + len, size - 1 - len)) != 0) {
		if (r < 0)
			break;
		len += (size_t)r;
	}
	out[len] = '\0';
	close(p[0]);
	int st;
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return st;
}

static inline int sc_exited(int st, int code)
{
	return st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == code;
}

static inline int sc_killed(int st, int sig)
{
	return st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == sig;
}

/* ------------------------------------------------------ the signal mask */

/* sighold, sigrelse, sigblock and sigsetmask are deprecated, but programs
 * still call them. (siggetmask, which is sigblock(0), is left to
 * test_signals: glibc's definition carries a link-time warning.) */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

/* The kernel's own mask of the calling thread (no interposition can hide
 * it), and whether it blocks sig. */
static inline uint64_t sc_kmask(void)
{
	uint64_t m = 0;
	syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &m, sizeof m);
	return m;
}

static inline int sc_kblocks(int sig)
{
	return (int)((sc_kmask() >> (sig - 1)) & 1);
}

/* Whether the program's mask (as pthread_sigmask reports it) blocks sig. */
static inline int sc_blocks(int sig)
{
	sigset_t s;
	sigemptyset(&s);
	pthread_sigmask(SIG_BLOCK, NULL, &s);
	return sigismember(&s, sig) == 1;
}

/* "view;" if the program's mask blocks SIGSEGV and SIGBUS, and "kopen;" if
 * the kernel's does not while it blocks SIGUSR1 (the rest of the mask did
 * go through). */
static inline void sc_say_mask(void)
{
	sc_say(sc_blocks(SIGSEGV) && sc_blocks(SIGBUS) ? "view;" : "noview;");
	if (sc_kblocks(SIGSEGV) || sc_kblocks(SIGBUS))
		sc_say("kclosed;");
	else
		sc_say(sc_kblocks(SIGUSR1) ? "kopen;" : "kempty;");
}

/* SBMA memory set up by the program (sc_mem_words words, filled with
 * version sc_mem_ver) and how to evict it; children inherit both. */
static uint64_t *sc_mem;
static size_t sc_mem_words;
static unsigned sc_mem_ver;
static int64_t (*sc_evict)(void);

static inline uint64_t sc_word(size_t i, unsigned ver)
{
	return (i * 0x9E3779B97F4A7C15ULL) ^ ((uint64_t)ver << 56);
}

static inline void sc_mem_fill(void)
{
	for (size_t i = 0; i < sc_mem_words; i++)
		sc_mem[i] = sc_word(i, sc_mem_ver);
}

/* Evict all SBMA memory (0 bytes evicted: it already was); 0, or -1 on an
 * error. */
static inline int sc_mem_evict(void)
{
	return sc_evict() >= 0 ? 0 : -1;
}

/* Read the current version back (through faults if evicted) and write the
 * next one; the number of wrong words. */
static inline size_t sc_mem_touch(void)
{
	size_t bad = 0;
	for (size_t i = 0; i < sc_mem_words; i++) {
		bad += sc_mem[i] != sc_word(i, sc_mem_ver);
		sc_mem[i] = sc_word(i, sc_mem_ver + 1);
	}
	sc_mem_ver++;
	return bad;
}

/* Evict, then touch: "touched;" or what went wrong. */
static inline void sc_mem_cycle(void)
{
	if (sc_mem_evict() != 0)
		sc_say("noevict;");
	sc_say(sc_mem_touch() == 0 ? "touched;" : "bad;");
}

/* A handler that counts sent signals and what they carried. */
static volatile sig_atomic_t sc_n, sc_code, sc_from_me, sc_val;

static inline void sc_h_count(int sig, siginfo_t *si, void *uc)
{
	(void)sig, (void)uc;
	sc_n++;
	sc_code = si->si_code;
	sc_from_me = si->si_pid == getpid();
	sc_val = si->si_value.sival_int;
}

static inline void sc_count_segv(void)
{
	struct sigaction a = sc_act_info(sc_h_count, 0);
	sigaction(SIGSEGV, &a, NULL);
}

static inline sigset_t sc_one(int sig)
{
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, sig);
	return s;
}

/* A thread blocks every signal with pthread_sigmask (arg NULL) or
 * sigprocmask (arg not NULL), touches evicted SBMA memory, puts its mask
 * back; then the main thread touches it. Expected:
 * "saved;view;kopen;touched;restored;main:touched;". */
static inline void *sc_blocked_thread(void *arg)
{
	sigset_t all, saved;
	sigfillset(&all);
	sigemptyset(&saved);
	if (arg)
		sigprocmask(SIG_BLOCK, &all, &saved);
	else
		pthread_sigmask(SIG_BLOCK, &all, &saved);
	int was = sigismember(&saved, SIGSEGV) || sigismember(&saved, SIGUSR1);
	sc_say(was ? "saved:blocked;" : "saved;");
	sc_say_mask();
	sc_mem_cycle();
	if (arg)
		sigprocmask(SIG_SETMASK, &saved, NULL);
	else
		pthread_sigmask(SIG_SETMASK, &saved, NULL);
	int open = !sc_blocks(SIGSEGV) && !sc_blocks(SIGBUS) && !sc_blocks(SIGUSR1);
	sc_say(open && !sc_kmask() ? "restored;" : "stuck;");
	return NULL;
}

static inline void sc_run_blocked_thread(void *arg)
{
	pthread_t t;
	if (pthread_create(&t, NULL, sc_blocked_thread, arg) != 0)
		_exit(3);
	pthread_join(t, NULL);
	sc_say("main:");
	sc_mem_cycle();
}

static inline void sc_child_block_pthread(void)
{
	sc_run_blocked_thread(NULL);
}

static inline void sc_child_block_procmask(void)
{
	sc_run_blocked_thread("sigprocmask");
}

/* A critical section under sigprocmask in a single-threaded process, with
 * SIGSEGV blocked again inside it and then unblocked alone. Expected:
 * "view;kopen;touched;nested;unblocked;touched;". */
static inline void sc_child_procmask_nested(void)
{
	sigset_t all, old, mid, segv = sc_one(SIGSEGV);
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	sc_say_mask();
	sc_mem_cycle();
	sigprocmask(SIG_BLOCK, &segv, &mid);
	sc_say(sigismember(&mid, SIGSEGV) == 1 ? "nested;" : "lost;");
	sigprocmask(SIG_UNBLOCK, &segv, NULL);
	int ok = !sc_blocks(SIGSEGV) && sc_blocks(SIGBUS) && sc_blocks(SIGUSR1) &&
		 !sc_kblocks(SIGSEGV);
	sc_say(ok ? "unblocked;" : "wrong;");
	sc_mem_cycle();
	sigprocmask(SIG_SETMASK, &old, NULL);
}

/* kill(), sigqueue() and pthread_kill() of SIGSEGV while the program blocks
 * it: kept (not delivered, shown by sigpending, two coalesced into one), SBMA
 * memory still works, delivered on unblock with what it carried. Expected:
 * "kept;pending;touched;user;clear;queue;tkill;". */
static inline void sc_child_kill_blocked(void)
{
	sigset_t segv = sc_one(SIGSEGV), old, p;
	sc_count_segv();
	sigprocmask(SIG_BLOCK, &segv, &old);
	kill(getpid(), SIGSEGV);
	kill(getpid(), SIGSEGV);
	sc_say(sc_n == 0 ? "kept;" : "delivered;");
	sigemptyset(&p);
	sigpending(&p);
	sc_say(sigismember(&p, SIGSEGV) == 1 ? "pending;" : "notpending;");
	sc_mem_cycle();
	sigprocmask(SIG_SETMASK, &old, NULL);
	sc_say(sc_n == 1 && sc_code == SI_USER && sc_from_me ? "user;" : "wrong;");
	sigemptyset(&p);
	sigpending(&p);
	sc_say(sigismember(&p, SIGSEGV) == 0 ? "clear;" : "still;");

	pthread_sigmask(SIG_BLOCK, &segv, NULL);
	union sigval v;
	v.sival_int = 4242;
	sigqueue(getpid(), SIGSEGV, v);
	int n = sc_n;
	pthread_sigmask(SIG_UNBLOCK, &segv, NULL);
	sc_say(n == 1 && sc_n == 2 && sc_code == SI_QUEUE && sc_val == 4242 ? "queue;" : "wrongq;");

	sighold(SIGSEGV);
	pthread_kill(pthread_self(), SIGSEGV);
	n = sc_n;
	sigrelse(SIGSEGV);
	sc_say(n == 2 && sc_n == 3 && sc_code == SI_TKILL && sc_from_me ? "tkill;" : "wrongt;");
}

/* The default action waits for the unblock too. Expected: killed by SIGSEGV
 * after "alive;touched;". */
static inline void sc_child_kill_blocked_dfl(void)
{
	sigset_t segv = sc_one(SIGSEGV);
	struct sigaction a = sc_act(SIG_DFL, 0);
	sigaction(SIGSEGV, &a, NULL);
	pthread_sigmask(SIG_BLOCK, &segv, NULL);
	kill(getpid(), SIGSEGV);
	sc_say("alive;");
	sc_mem_cycle();
	pthread_sigmask(SIG_UNBLOCK, &segv, NULL);
	sc_say("survived;");
}

/* A real fault outside SBMA memory in a thread that blocks SIGSEGV kills the
 * process, without the program's handler, as the kernel does. Expected:
 * killed by SIGSEGV after "touched;". */
static inline void *sc_null_thread(void *arg)
{
	(void)arg;
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	sc_mem_cycle();
	sc_deref_null();
	sc_say("survived;");
	return NULL;
}

static inline void sc_child_null_blocked(void)
{
	struct sigaction a = sc_act_info(sc_h_info, 0);
	sigaction(SIGSEGV, &a, NULL);
	pthread_t t;
	if (pthread_create(&t, NULL, sc_null_thread, NULL) != 0)
		_exit(3);
	pthread_join(t, NULL);
	sc_say("joined;");
}

/* A new thread inherits the mask the program believes: its creator's, or
 * pthread_attr_setsigmask_np's. Expected:
 * "view;kopen;touched;attr:view;kopen;touched;". */
static inline void *sc_inherit_thread(void *arg)
{
	sc_say((const char *)arg);
	sc_say_mask();
	sc_mem_cycle();
	return NULL;
}

static inline void sc_child_inherit(void)
{
	sigset_t all, old;
	sigfillset(&all);
	pthread_t t;
	pthread_sigmask(SIG_BLOCK, &all, &old);
	if (pthread_create(&t, NULL, sc_inherit_thread, "") != 0)
		_exit(3);
	pthread_join(t, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_t at;
	pthread_attr_init(&at);
	if (pthread_attr_setsigmask_np(&at, &all) != 0 ||
	    pthread_create(&t, &at, sc_inherit_thread, "attr:") != 0)
		_exit(3);
	pthread_join(t, NULL);
	pthread_attr_destroy(&at);
}

/* A SIGUSR1 handler whose sa_mask is full touches SBMA memory; the kernel's
 * action leaves SIGSEGV/SIGBUS out, oldact still shows them. Expected:
 * "kmask;oldact;touched;back;". */
static inline void sc_h_touch(int sig)
{
	(void)sig;
	sc_say(sc_mem_touch() == 0 ? "touched;" : "bad;");
}

static inline void sc_child_sa_mask(void)
{
	struct sigaction a = sc_act(sc_h_touch, 0), o;
	sigfillset(&a.sa_mask);
	sigaction(SIGUSR1, &a, NULL);
	struct sc_kact k;
	sc_kget(SIGUSR1, &k);
	uint64_t both = (1ULL << (SIGSEGV - 1)) | (1ULL << (SIGBUS - 1));
	sc_say(!(k.mask & both) && (k.mask >> (SIGUSR2 - 1) & 1) ? "kmask;" : "kwrong;");
	sigaction(SIGUSR1, NULL, &o);
	int full = sigismember(&o.sa_mask, SIGSEGV) == 1 && sigismember(&o.sa_mask, SIGBUS) == 1 &&
		   sigismember(&o.sa_mask, SIGUSR2) == 1;
	sc_say(full ? "oldact;" : "oldwrong;");
	sc_mem_evict();
	raise(SIGUSR1);
	sc_say("back;");
}

/* A handler that runs inside sigsuspend sees the wait mask and touches SBMA
 * memory; a kept SIGSEGV that the wait mask opens ends the wait. Expected:
 * "h:view;touched;woke;kept;ended;". */
static inline void sc_h_touch_view(int sig)
{
	sc_say(sc_blocks(SIGSEGV) ? "h:view;" : "h:open;");
	sc_h_touch(sig);
}

static inline void sc_child_suspend(void)
{
	struct sigaction a = sc_act(sc_h_touch_view, 0);
	sigaction(SIGUSR1, &a, NULL);
	sigset_t usr1 = sc_one(SIGUSR1), wait, old;
	sigprocmask(SIG_BLOCK, &usr1, &old);
	raise(SIGUSR1);
	sc_mem_evict();
	sigfillset(&wait);
	sigdelset(&wait, SIGUSR1);
	sc_say(sigsuspend(&wait) == -1 && errno == EINTR ? "woke;" : "nowake;");
	sigprocmask(SIG_SETMASK, &old, NULL);

	sigset_t segv = sc_one(SIGSEGV), none;
	sc_count_segv();
	sigprocmask(SIG_BLOCK, &segv, NULL);
	kill(getpid(), SIGSEGV);
	sc_say(sc_n == 0 ? "kept;" : "delivered;");
	sigemptyset(&none);
	int rc = sigsuspend(&none);
	sc_say(rc == -1 && sc_n == 1 && sc_blocks(SIGSEGV) ? "ended;" : "notended;");
}

/* The program's SIGSEGV handler changes its mask and restores it, then
 * siglongjmps out (which restores the mask behind SBMA's back): the next
 * fault still reaches it, and SIGSEGV is open again. Expected:
 * "hits;open;touched;". */
static sigjmp_buf sc_jump;
static volatile sig_atomic_t sc_hits;

static inline void sc_h_mask_jump(int sig)
{
	(void)sig;
	sigset_t all, o;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &o);
	pthread_sigmask(SIG_SETMASK, &o, NULL);
	sc_hits++;
	siglongjmp(sc_jump, 1);
}

static inline void sc_child_handler_jump(void)
{
	struct sigaction a = sc_act(sc_h_mask_jump, 0);
	sigaction(SIGSEGV, &a, NULL);
	for (volatile int i = 0; i < 2; i++)
		if (sigsetjmp(sc_jump, 1) == 0)
			sc_deref_null();
	sc_say(sc_hits == 2 ? "hits;" : "lost;");
	sc_say(!sc_blocks(SIGSEGV) && !sc_kblocks(SIGSEGV) ? "open;" : "closed;");
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	sc_mem_cycle();
}

/* The System V and BSD forms. Expected:
 * "view;kopen;touched;rel;bsd;kopen;touched;set;". */
static inline void sc_child_old_forms(void)
{
	sighold(SIGSEGV);
	sighold(SIGBUS);
	sighold(SIGUSR1);
	sc_say_mask();
	sc_mem_cycle();
	sigrelse(SIGSEGV);
	sigrelse(SIGBUS);
	sigrelse(SIGUSR1);
	sc_say(!sc_blocks(SIGSEGV) && !sc_blocks(SIGUSR1) ? "rel;" : "norel;");
	int bits = (1 << (SIGSEGV - 1)) | (1 << (SIGUSR1 - 1));
	int old = sigblock(bits);
	sc_say(old == 0 && (sigblock(0) & bits) == bits ? "bsd;" : "nobsd;");
	sc_say(sc_kblocks(SIGSEGV) ? "kclosed;" : "kopen;");
	sc_mem_cycle();
	sigsetmask(old);
	sc_say(sigblock(0) == 0 && !sc_kmask() ? "set;" : "noset;");
}

/* fork() while SIGSEGV and SIGBUS are blocked and a SIGSEGV is kept: the
 * child keeps the mask, not the signal (the kernel passes no pending signal
 * to a child). Expected: "kept;child:view;kopen;touched;none;parent:one;". */
static inline void sc_child_fork_kept(void)
{
	sigset_t segv = sc_one(SIGSEGV), usr1 = sc_one(SIGUSR1);
	sc_count_segv();
	pthread_sigmask(SIG_BLOCK, &usr1, NULL);
	sigblock(1 << (SIGBUS - 1));
	pthread_sigmask(SIG_BLOCK, &segv, NULL);
	kill(getpid(), SIGSEGV);
	sc_say(sc_n == 0 ? "kept;" : "delivered;");
	pid_t pid = fork();
	if (pid == 0) {
		sc_say("child:");
		sc_say_mask();
		sc_mem_cycle();
		pthread_sigmask(SIG_UNBLOCK, &segv, NULL);
		sc_say(sc_n == 0 ? "none;" : "inherited;");
		_exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	pthread_sigmask(SIG_UNBLOCK, &segv, NULL);
	sc_say(sc_n == 1 ? "parent:one;" : "parent:wrong;");
}

#pragma GCC diagnostic pop

#endif /* SBMA_SIG_COMMON_H */

