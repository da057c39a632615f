/*
 * crash_report.h - a crash that happens once in a hundred CI runs must
 * explain itself. tc_crash_report(where) installs a handler for SIGSEGV,
 * SIGBUS (those SBMA does not serve: it chains them to the program's
 * handler, this one) and SIGABRT that prints the signal, its code and
 * address, whether the address is in SBMA's arena, the thread, where(), the
 * program's own account of what it was doing (the CUnit test, say), and the
 * stack; then the process dies of the signal as it would have (the same
 * exit status). Used by the threaded CUnit tests (test_common.h) and the
 * node worker (prog_node_worker.c). Needs no CUnit.
 */
#ifndef SBMA_TEST_CRASH_REPORT_H
#define SBMA_TEST_CRASH_REPORT_H

#include <execinfo.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sbma.h"

static const char *(*tc_crash_where)(void);

/* snprintf and backtrace_symbols_fd are not on the async-signal-safe list,
 * but the process is dying anyway: the worst case is a lost report. */
static inline void tc_on_crash(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	char buf[512];
	int n = snprintf(buf, sizeof buf,
			 "\ncrash: signal %d (code %d) at %p in process %d thread %ld (%s SBMA's arena), in: %s; stack:\n",
			 sig, si ? si->si_code : 0, si ? si->si_addr : NULL, (int)getpid(), (long)syscall(SYS_gettid),
			 si && sbma_owns(si->si_addr) ? "inside" : "outside",
			 tc_crash_where ? tc_crash_where() : "?");
	if (n > 0 && write(2, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1) < 0)
		n = 0;
	void *frames[64];
	backtrace_symbols_fd(frames, backtrace(frames, 64), 2);
	/* The default action: a fault runs the access again and dies of it;
	 * abort() raises again by itself; a sent signal is raised here. */
	struct sigaction dfl;
	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	sigaction(sig, &dfl, NULL);
	if (sig != SIGABRT && (!si || si->si_code <= 0))
		raise(sig);
}

static inline void tc_crash_report(const char *(*where)(void))
{
	tc_crash_where = where;
	void *warm[1];
	backtrace(warm, 1); /* loads the unwinder now, not in the handler */
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = tc_on_crash;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGABRT, &sa, NULL);
}

#endif /* SBMA_TEST_CRASH_REPORT_H */
