/*
 * sig_common.h - helpers shared by the signal-chain tests (test_signals.c,
 * linked with SBMA, and prog_signals.c, run under LD_PRELOAD): the kernel's
 * own view of a signal action, read and written with the rt_sigaction
 * system call so that no interposition can hide or intercept it; children
 * that report through a pipe; a real NULL dereference, a real SIGBUS and a
 * real stack overflow. Everything a handler calls here is async-signal-safe.
 */
#ifndef SBMA_SIG_COMMON_H
#define SBMA_SIG_COMMON_H

#include <fcntl.h>
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

#endif /* SBMA_SIG_COMMON_H */
