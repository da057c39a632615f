/*
 * prog_signals.c - the signal chain of an unmodified program under
 * LD_PRELOAD=libsbma.so (run by tests/test_signals_preload.sh). It knows
 * nothing of SBMA: it finds sbma_evict_all and sbma_owns with dlsym, and
 * exits 3 if they are not there (not preloaded). It checks, in order: SBMA's
 * handler is in the kernel before main; a handler installed with the raw
 * rt_sigaction system call before SBMA's engine starts is taken over when
 * the first large malloc starts it, and chained; a handler installed with
 * sigaction() gets that one back as oldact and leaves the kernel's action
 * SBMA's; 64 MiB of malloc'd SBMA memory survive sbma_evict_all; a NULL
 * dereference in a forked child reaches the program's handler (installed
 * with sigaction(), signal() and __sysv_signal(), what signal() is under
 * strict ISO C); SA_RESETHAND runs it once, then the fault kills; with
 * SIG_DFL the fault kills with SIGSEGV; a stack overflow reaches an
 * SA_ONSTACK handler on the alternate stack; a real SIGBUS reaches a SIGBUS
 * handler. Then the signal mask, on 8 MiB more of malloc'd SBMA memory
 * (the child bodies of tests/sig_common.h, each in a forked child): threads
 * that block every signal with pthread_sigmask or sigprocmask, a nested
 * critical section, sighold/sigblock, threads created with a blocked mask
 * or a pthread_attr_setsigmask_np one, a SIGUSR1 handler with a full
 * sa_mask, a handler inside sigsuspend: each touches evicted memory and
 * gets its data back, the program's queries show the mask it asked for and
 * the kernel's own mask (read with the system call) leaves SIGSEGV/SIGBUS
 * open; a SIGSEGV sent by kill, sigqueue or pthread_kill while blocked
 * waits (sigpending shows it) and arrives on unblock with its siginfo, or
 * kills then under SIG_DFL; a forked child keeps the mask, not the kept
 * signal; a NULL dereference in a thread that blocks SIGSEGV kills the
 * process without the program's handler; mask calls in the program's
 * SIGSEGV handler followed by siglongjmp leave the next fault reaching it;
 * a mask inherited across exec that blocks SIGSEGV/SIGBUS in the kernel
 * (the program runs itself again, as "prog_signals exec") becomes the
 * program's, and the kernel's opens, before main.
 * Prints "ok" and exits 0, or names each failed check and exits 1.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>

#include "sig_common.h"

#define SIZE (64u << 20)

static int fails;
#define CHECK(c)                                                                           \
	do {                                                                               \
		if (!(c)) {                                                                \
			fprintf(stderr, "prog_signals:%d: check failed: %s\n", __LINE__, #c); \
			fails++;                                                           \
		}                                                                          \
	} while (0)

static int kernel_has_sbma(int sig)
{
	struct sc_kact k;
	return sc_kget(sig, &k) == 0 && k.handler == sc_sbma_handler;
}

/* A child's wait status and report, checked against what is expected. */
static void expect(const char *what, void (*fn)(void), int exit_code, int sig, const char *said)
{
	char out[512];
	fflush(NULL);
	int st = sc_run(fn, out, sizeof out);
	int ok = (sig ? sc_killed(st, sig) : sc_exited(st, exit_code)) && strcmp(out, said) == 0;
	if (!ok) {
		fprintf(stderr, "prog_signals: %s: status 0x%x, child said \"%s\"; expected %s %d, \"%s\"\n",
			what, st, out, sig ? "signal" : "exit", sig ? sig : exit_code, said);
		fails++;
	}
}

static void child_bus(void)
{
	sc_sigbus();
	sc_say("survived");
}

/* Exec this program again with SIGSEGV, SIGBUS and SIGUSR1 blocked in the
 * kernel, as a parent without SBMA may leave them. */
static void child_exec_blocked(void)
{
	uint64_t m = (1ULL << (SIGSEGV - 1)) | (1ULL << (SIGBUS - 1)) | (1ULL << (SIGUSR1 - 1));
	syscall(SYS_rt_sigprocmask, SIG_BLOCK, &m, NULL, sizeof m);
	execl("/proc/self/exe", "prog_signals", "exec", (char *)NULL);
	sc_say("noexec;");
}

/* The program child_exec_blocked started: SIGSEGV and SIGBUS are blocked
 * for the program and open in the kernel, and evicted SBMA memory works.
 * Exit status 0 or 1; nothing on stdout. */
static int after_exec(int64_t (*evict_all)(void))
{
	int ok = sc_blocks(SIGSEGV) && sc_blocks(SIGBUS) && sc_blocks(SIGUSR1) &&
		 !sc_kblocks(SIGSEGV) && !sc_kblocks(SIGBUS) && sc_kblocks(SIGUSR1);
	if (!ok)
		fprintf(stderr, "prog_signals exec: mask not taken over (kernel %#llx)\n",
			(unsigned long long)sc_kmask());
	sc_mem_words = (8u << 20) / 8;
	sc_mem = malloc(sc_mem_words * 8);
	if (!sc_mem)
		return 1;
	sc_evict = evict_all;
	sc_mem_fill();
	int bad = sc_mem_evict() != 0 || sc_mem_touch() != 0;
	return ok && !bad ? 0 : 1;
}

int main(int argc, char **argv)
{
	int64_t (*evict_all)(void) = (int64_t(*)(void))dlsym(RTLD_DEFAULT, "sbma_evict_all");
	int (*owns)(const void *) = (int (*)(const void *))dlsym(RTLD_DEFAULT, "sbma_owns");
	if (!evict_all || !owns) {
		fprintf(stderr, "prog_signals: SBMA is not loaded (run with LD_PRELOAD=libsbma.so)\n");
		return 3;
	}
	if (argc > 1 && strcmp(argv[1], "exec") == 0)
		return after_exec(evict_all);

	/* The constructor installed SBMA's handler before main. */
	struct sc_kact k;
	CHECK(sc_kget(SIGSEGV, &k) == 0);
	CHECK(k.handler != (void *)SIG_DFL && k.handler != (void *)SIG_IGN);
	sc_sbma_handler = k.handler;
	CHECK(kernel_has_sbma(SIGBUS));

	/* A handler installed behind interposition's back before the engine
	 * starts: the engine's start re-checks and takes it over. */
	int raw = sc_kinstall(SIGSEGV, sc_h_raw) == 0;
	if (raw)
		CHECK(sc_kget(SIGSEGV, &k) == 0 && k.handler == (void *)sc_h_raw);
	uint64_t *p = malloc(SIZE);
	CHECK(p != NULL);
	if (!p)
		return 1;
	CHECK(owns(p));
	CHECK(kernel_has_sbma(SIGSEGV));
	struct sigaction cur, old;
	CHECK(sigaction(SIGSEGV, NULL, &cur) == 0);
	if (raw) {
		CHECK(cur.sa_sigaction == sc_h_raw);
		expect("raw handler taken over", sc_child_null, 42, 0, "raw:segv:null");
	}

	/* sigaction: oldact is the program's previous handler. */
	struct sigaction a = sc_act_info(sc_h_info, 0);
	CHECK(sigaction(SIGSEGV, &a, &old) == 0);
	CHECK(old.sa_handler == cur.sa_handler);
	CHECK(kernel_has_sbma(SIGSEGV));

	/* SBMA memory still works. */
	for (size_t i = 0; i < SIZE / 8; i++)
		p[i] = i * 0x9E3779B97F4A7C15ULL;
	CHECK(evict_all() > 0); /* what was still resident */
	size_t bad = 0;
	for (size_t i = 0; i < SIZE / 8; i++)
		bad += p[i] != i * 0x9E3779B97F4A7C15ULL;
	CHECK(bad == 0);
	free(p);

	expect("sigaction handler", sc_child_null, 42, 0, "info:segv:null");

	CHECK((void *)signal(SIGSEGV, sc_h_plain) == (void *)sc_h_info);
	CHECK(kernel_has_sbma(SIGSEGV));
	expect("signal handler", sc_child_null, 42, 0, "plain:segv");

	CHECK(__sysv_signal(SIGSEGV, sc_h_plain) == sc_h_plain);
	CHECK(kernel_has_sbma(SIGSEGV));
	expect("__sysv_signal handler", sc_child_null, 42, 0, "plain:segv");

	expect("SA_RESETHAND", sc_child_resethand, 0, SIGSEGV, "once:dfl;");
	expect("SIG_DFL", sc_child_dfl_null, 0, SIGSEGV, "");
	expect("stack overflow", sc_child_overflow, 42, 0, "stack:alt");

	CHECK(signal(SIGBUS, sc_h_plain) == SIG_DFL);
	CHECK(kernel_has_sbma(SIGBUS));
	expect("SIGBUS handler", child_bus, 42, 0, "plain:bus");

	/* The signal mask. */
	sc_mem_words = (8u << 20) / 8;
	sc_mem = malloc(sc_mem_words * 8);
	CHECK(sc_mem && owns(sc_mem));
	if (!sc_mem)
		return 1;
	sc_evict = evict_all;
	sc_mem_fill();
	const char *blocked = "saved;view;kopen;touched;restored;main:touched;";
	expect("mask: pthread_sigmask thread", sc_child_block_pthread, 0, 0, blocked);
	expect("mask: sigprocmask thread", sc_child_block_procmask, 0, 0, blocked);
	expect("mask: nested sigprocmask", sc_child_procmask_nested, 0, 0,
	       "view;kopen;touched;nested;unblocked;touched;");
	expect("mask: sighold/sigblock", sc_child_old_forms, 0, 0,
	       "view;kopen;touched;rel;bsd;kopen;touched;set;");
	expect("mask: new threads", sc_child_inherit, 0, 0,
	       "view;kopen;touched;attr:view;kopen;touched;");
	expect("mask: sa_mask", sc_child_sa_mask, 0, 0, "kmask;oldact;touched;back;");
	expect("mask: sigsuspend", sc_child_suspend, 0, 0, "h:view;touched;woke;kept;ended;");
	expect("mask: kill while blocked", sc_child_kill_blocked, 0, 0,
	       "kept;pending;touched;user;clear;queue;tkill;");
	expect("mask: kill while blocked, SIG_DFL", sc_child_kill_blocked_dfl, 0, SIGSEGV,
	       "alive;touched;");
	expect("mask: fork", sc_child_fork_kept, 0, 0,
	       "kept;child:view;kopen;touched;none;parent:one;");
	expect("mask: NULL in a blocked thread", sc_child_null_blocked, 0, SIGSEGV, "touched;");
	expect("mask: handler + siglongjmp", sc_child_handler_jump, 0, 0, "hits;open;touched;");
	expect("mask: inherited across exec", child_exec_blocked, 0, 0, "");
	free(sc_mem);

	if (fails)
		return 1;
	printf("ok\n");
	return 0;
}
