/*
 * fault.c - the SIGSEGV handler.
 *
 * Contract. The handler runs on the faulting thread, with every signal
 * blocked (sa_mask is full), possibly on the alternate signal stack. It
 * assumes:
 *   - SBMA code never touches the application view while it holds the
 *     engine lock, and blocks all signals while it holds it; so the lock it
 *     takes here is never already held by this thread.
 *   - A fault at an address outside the arena, or on a page that belongs to
 *     no live allocation, is not SBMA's: it goes down the chain.
 * It may call: the engine's *_async functions (mprotect, pread, pwrite,
 * fallocate, madvise, clock_gettime, write(2) for messages).
 * It must never: call malloc or stdio, take any lock but the engine lock,
 * or change errno as the interrupted code sees it.
 *
 * Chaining: the handler that was installed before SBMA's is called for
 * faults that are not SBMA's, honouring SA_SIGINFO; if it was SIG_DFL or
 * SIG_IGN, the default action is restored and the faulting instruction
 * re-executed, so a real segmentation fault still kills the program with
 * SIGSEGV (and a core where enabled).
 * FIXME(issue 3): handlers installed after SBMA's (by the program, by Open
 * MPI at MPI_Init) replace it; sigaction/signal interposition is missing.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <ucontext.h>

#include "sbma_internal.h"

static struct sigaction prev_segv;

/* 1 write, 0 read, -1 unknown (the engine then assumes a read, and a write
 * faults once more). */
static int access_kind(void *ucv)
{
#if defined(__x86_64__)
	ucontext_t *uc = ucv;
	return (uc->uc_mcontext.gregs[REG_ERR] & 2) ? 1 : 0;
#else
	(void)ucv;
	return -1;
#endif
}

static void chain(int sig, siginfo_t *si, void *uc, const struct sigaction *prev)
{
	if (prev->sa_flags & SA_SIGINFO) {
		if (prev->sa_sigaction)
			prev->sa_sigaction(sig, si, uc);
		return;
	}
	if (prev->sa_handler == SIG_DFL || prev->sa_handler == SIG_IGN) {
		/* Re-executing the instruction with the default action in
		 * place kills the process the way the kernel would have. */
		struct sigaction dfl;
		memset(&dfl, 0, sizeof dfl);
		dfl.sa_handler = SIG_DFL;
		sigaction(sig, &dfl, NULL);
		return;
	}
	prev->sa_handler(sig);
}

static void on_segv(int sig, siginfo_t *si, void *uc)
{
	int saved = errno;
	if (sbma__vmm_fault_async(si->si_addr, access_kind(uc))) {
		errno = saved;
		return;
	}
	errno = saved;
	chain(sig, si, uc, &prev_segv);
}

int sbma__fault_install(void)
{
	static int installed;
	if (installed)
		return 0;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_segv;
	sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
	sigfillset(&sa.sa_mask);
	if (sigaction(SIGSEGV, &sa, &prev_segv) != 0)
		return -errno;
	installed = 1;
	return 0;
}
