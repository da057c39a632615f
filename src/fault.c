/*
 * fault.c - the SIGSEGV/SIGBUS handler, the chain behind it, and the
 * sigaction()/signal() interposition that keeps it first.
 *
 * Contract. The handler (on_fault) runs on the faulting thread, with every
 * signal blocked (sa_mask is full), possibly on the alternate signal stack
 * (SBMA installs with SA_ONSTACK, so that a stack overflow still reaches a
 * handler when the program has set up an alternate stack). It assumes:
 *   - SBMA code never touches the application view while it holds the
 *     engine lock, and blocks all signals while it holds it; so the lock it
 *     takes here is never already held by this thread. (That block goes
 *     through the interposed pthread_sigmask below: SIGSEGV and SIGBUS stay
 *     open under the engine lock too. A sent one is kept, a fault outside
 *     SBMA memory kills as before; a fault on SBMA memory under the lock, an
 *     SBMA bug, would wait for the lock instead of killing.)
 *   - The same holds for the chain lock (below): it is taken only with all
 *     signals blocked, around code that touches no application memory.
 *   - A signal is SBMA's only if it is a SIGSEGV the kernel raised
 *     (si_code > 0) on a page that belongs to a live allocation. Anything
 *     else goes down the chain: a fault elsewhere, any SIGBUS (SBMA has
 *     nothing to serve there: one in the arena means the RAM behind it
 *     could not be provided, which is reported), a signal sent by kill().
 *   - The thread's mask record (tm, below) is read here; code the handler
 *     interrupts may be half-way through changing it, which is harmless
 *     because only this thread writes it and the handler puts back what it
 *     changes.
 * It may call: the engine's *_async functions (mprotect, pread, pwrite,
 * fallocate, madvise, clock_gettime, write(2) for messages), glibc's
 * __sigaction, real_sigmask (glibc's pthread_sigmask), raise, getpid,
 * gettid, rt_tgsigqueueinfo, sched_yield, and the program's handler.
 * It must never: call malloc or stdio, take any lock but the engine lock and
 * the chain lock, or change errno as the interrupted code sees it (the
 * program's handler may, as it could without SBMA).
 *
 * Keeping first. The kernel always holds SBMA's handler for SIGSEGV and
 * SIGBUS. What the program believes it installed, its "next" handler, is
 * recorded here instead: sigaction(), signal(), bsd_signal(), ssignal(),
 * sysv_signal(), __sysv_signal() (what signal() is under strict ISO C
 * modes) and sigset() are interposed (exported by libsbma and
 * libsbma-pmpi); for these two signals they record the new action and
 * return the one recorded before, so a program sees what it installed and
 * never SBMA's, and every other signal passes straight through. The library
 * constructor, or the first interposed call if it comes earlier, installs
 * SBMA's handler and records what was there. A handler installed behind
 * SBMA's back (a raw rt_sigaction system call, a library calling glibc's
 * __sigaction) is found by sbma__fault_recheck(), which runs again at engine
 * start (sbma__fault_install) and after MPI_Init (the PMPI layer): it
 * records that handler as next and puts SBMA's back.
 *
 * The real sigaction is glibc's __sigaction (exported since GLIBC_2.2.5):
 * no dlsym, which allocates and is not async-signal-safe, and glibc still
 * adds its signal-return trampoline as for any caller. Cost: a library that
 * interposes sigaction after SBMA (a sanitizer, libjsig) is bypassed, for
 * all signals. signal() and sigset() for other signals go to the next
 * definition (dlsym at load), because glibc's signal() depends on
 * siginterrupt() state that SBMA cannot see.
 *
 * Chaining emulates what the kernel would have done with the recorded
 * action:
 *   - SIG_DFL, or SIG_IGN for a signal an instruction raised (the kernel
 *     never ignores those either): restore SIG_DFL in the kernel and
 *     return; the instruction faults again and the process dies of the
 *     signal, with a core where enabled. A sent signal (or an action-optional
 *     machine-check SIGBUS) is raised again instead, pending until the
 *     handler returns. A sent signal whose action is SIG_IGN is dropped.
 *   - a handler: SA_RESETHAND resets the record to SIG_DFL before the call,
 *     atomically with respect to other threads (two threads faulting at
 *     once: one gets the handler, the other the default). The handler runs
 *     with the mask the kernel would have set (the interrupted context's,
 *     as the program believes it, plus sa_mask, plus the signal unless
 *     SA_NODEFER), on the alternate stack if SBMA's handler is on it, and
 *     gets siginfo and the context if SA_SIGINFO. What it does to the
 *     context or errno, and a siglongjmp out of it, behave as without SBMA.
 *   - a handler that calls SBMA's back, with the context it was given or
 *     with none (it got SBMA's handler as its "previous" one through a path
 *     interposition cannot see), ends the chain with the default action
 *     instead of recursing until the stack overflows.
 *
 * Keeping SIGSEGV and SIGBUS open. A thread that blocks SIGSEGV (a runtime's
 * helper thread with a full mask, a critical section under sigprocmask) and
 * then touches evicted SBMA memory would be killed: the kernel turns a
 * blocked synchronous fault into SIG_DFL. So the program never blocks these
 * two in the kernel; what it believes is kept per thread in tm.thinks
 * (initial-exec TLS: a plain %fs access, safe in the handler and from the
 * first constructor on). Interposed: pthread_sigmask, sigprocmask,
 * sigsuspend, sigpending, sighold, sigrelse, sigblock, sigsetmask,
 * siggetmask and pthread_create.
 *   - A mask change passes everything else to glibc's pthread_sigmask and
 *     records these two; oldset and queries show the program's mask (the
 *     kernel's plus the record). An interposed call never makes the kernel
 *     block them, and opens them only where the program unblocks them: a
 *     block the kernel holds for real (inside the program's own SIGSEGV
 *     handler, below; after a raw system call) stays until the program
 *     unblocks, so that a sigreturn or siglongjmp, which restore the
 *     kernel's mask behind SBMA's back, leave the record right.
 *   - In the handler, for a signal the program believes blocked: a fault on
 *     SBMA memory is served as always; any other fault kills the process
 *     (the default action, as the kernel does for a blocked fault); a sent
 *     signal (kill, pthread_kill, sigqueue; also an action-optional machine
 *     check) is kept for the thread with the head of its siginfo, shown by
 *     sigpending(), and queued again to the thread with that siginfo
 *     (rt_tgsigqueueinfo) as soon as the program unblocks it. A second one
 *     while kept coalesces, as the kernel does with standard signals. A
 *     forked child does not inherit it.
 *   - sigsuspend() waits with the wait mask minus these two and the record
 *     set from it (handlers that run inside see the wait mask); a kept
 *     signal the wait mask opens is delivered inside the wait.
 *   - sigaction() for every other signal leaves them out of the sa_mask the
 *     kernel gets (a handler with a full sa_mask would die on SBMA memory)
 *     and hands them back in oldact.
 *   - pthread_create() while the creator believes them blocked, or with a
 *     pthread_attr_setsigmask_np mask, starts the thread through a wrapper
 *     that opens them and sets its record: the new thread inherits the mask
 *     the program believes, as POSIX says. Other threads start unwrapped.
 *   - The constructor moves a block inherited across exec into the record.
 * The exception is the program's own SIGSEGV/SIGBUS handler: SBMA calls it
 * with the kernel's mask set for real, because a record kept for the
 * handler's duration would be left stale by a siglongjmp out of it (glibc
 * restores the mask by an internal call), and the next fault would then be
 * killed as blocked. So evicted SBMA memory touched inside that handler
 * while it blocks SIGSEGV still kills, as before.
 *
 * Concurrency. Each signal's record is a seqlock. Writers (the interposed
 * calls, sbma__fault_recheck, SA_RESETHAND in the handler) serialise on the
 * chain lock, a spinlock held with all signals blocked, which also covers
 * SBMA's changes of the kernel's action. The handler reads a consistent copy
 * of the record without the lock and retries if a writer got in between.
 * The mask record is per thread: written by its thread, read by the handler
 * on that thread.
 *
 * Differences from the kernel that remain: SBMA's handler is installed with
 * SA_RESTART and SA_ONSTACK whatever the program asked, which matters only
 * for a SIGSEGV/SIGBUS sent with kill() that interrupts a system call, or a
 * program with an alternate stack whose handler did not ask for it; a
 * SIG_IGN recorded for these signals is not inherited across execve() (the
 * kernel sees a handler, which exec resets); siginterrupt() on them changes
 * SBMA's SA_RESTART, not the record. For the mask (docs/design.md, "Signal
 * masks"): a process-directed SIGSEGV/SIGBUS that the kernel hands to a
 * thread believing it blocked stays with that thread (the kernel would
 * have picked another), and sigwait()/signalfd never see a kept one;
 * inside a handler of another signal, these two from its sa_mask are open
 * and not shown; sigsuspend() may return for a kept signal; mask changes
 * glibc makes internally (siglongjmp, setcontext, posix_spawn attributes,
 * threads glibc creates itself, thrd_create) and exec'd programs see the
 * kernel's mask, not the record.
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "sbma_internal.h"

#define EXPORT __attribute__((visibility("default")))

/* glibc's sigaction and sigsuspend, under names interposition does not
 * take over. */
extern int __sigaction(int sig, const struct sigaction *act, struct sigaction *oldact);
extern int __sigsuspend(const sigset_t *set);

typedef void (*handler_t)(int);

/* ------------------------------------------------------------ the records */

/* The action the program believes the kernel holds, copied word by word so
 * that the handler can read it while another thread writes it. */
#define ACTION_WORDS (sizeof(struct sigaction) / sizeof(unsigned long))
_Static_assert(sizeof(struct sigaction) % sizeof(unsigned long) == 0,
	       "struct sigaction is copied by words");
union action {
	struct sigaction sa;
	unsigned long w[ACTION_WORDS];
};

struct record {
	unsigned seq; /* odd while a writer changes act */
	union action act;
};

static struct record rec_segv, rec_bus; /* zero: SIG_DFL, until installed */
static int chain_lock;                  /* see "Concurrency" above */
static int installed;                   /* under chain_lock */

static struct record *record_of(int sig)
{
	return sig == SIGBUS ? &rec_bus : &rec_segv;
}

static int is_chained(int sig)
{
	return sig == SIGSEGV || sig == SIGBUS;
}

/* ------------------------------------------- the mask, real and believed */

/* SIGSEGV and SIGBUS as bits, in the record and in helpers below. */
#define SEGV_BIT 1u
#define BUS_BIT 2u
#define BOTH_BITS (SEGV_BIT | BUS_BIT)

static unsigned bit_of(int sig)
{
	return sig == SIGSEGV ? SEGV_BIT : sig == SIGBUS ? BUS_BIT : 0;
}

static unsigned bits_in(const sigset_t *s)
{
	return (sigismember(s, SIGSEGV) == 1 ? SEGV_BIT : 0) |
	       (sigismember(s, SIGBUS) == 1 ? BUS_BIT : 0);
}

static void bits_add(sigset_t *s, unsigned bits)
{
	if (bits & SEGV_BIT)
		sigaddset(s, SIGSEGV);
	if (bits & BUS_BIT)
		sigaddset(s, SIGBUS);
}

static void bits_del(sigset_t *s, unsigned bits)
{
	if (bits & SEGV_BIT)
		sigdelset(s, SIGSEGV);
	if (bits & BUS_BIT)
		sigdelset(s, SIGBUS);
}

/* The next pthread_sigmask (glibc's), found at load. */
typedef int (*sigmask_fn)(int, const sigset_t *, sigset_t *);
static sigmask_fn next_pthread_sigmask;

/*
 * Change the kernel's mask of this thread: glibc's pthread_sigmask, or
 * before it is known (a constructor that ran before SBMA's) the system call
 * with what glibc adds, that its internal signals (SIGCANCEL, SIGSETXID: the
 * first two real-time signals, which sigdelset refuses to name) are never
 * blocked. Returns 0 or an error number; errno is left alone. _async.
 */
static int real_sigmask(int how, const sigset_t *set, sigset_t *old)
{
	sigmask_fn next = __atomic_load_n(&next_pthread_sigmask, __ATOMIC_ACQUIRE);
	if (next)
		return next(how, set, old);
	sigset_t s;
	if (set) {
		s = *set;
		s.__val[0] &= ~((1UL << (__SIGRTMIN - 1)) | (1UL << __SIGRTMIN));
		set = &s;
	}
	int saved = errno;
	int rc = syscall(SYS_rt_sigprocmask, how, set, old, _NSIG / 8) == 0 ? 0 : errno;
	errno = saved;
	return rc;
}

/*
 * What the program believes of SIGSEGV and SIGBUS in this thread's mask,
 * where the kernel has them open (see "Keeping SIGSEGV and SIGBUS open"):
 * the program's mask is the kernel's plus `thinks`. A sent signal that came
 * while the program believed it blocked is kept in `kept`, with the head of
 * its siginfo (code, sender, value or address: all a sent signal carries)
 * and the process that kept it. Zero in a new thread. Only this thread
 * writes it; a handler that interrupts a writer puts back what it changed.
 */
#define KEPT_INFO 32
_Static_assert(sizeof(siginfo_t) >= KEPT_INFO, "siginfo_t holds its head");
static __thread struct {
	unsigned char thinks;
	unsigned char kept[2]; /* [0] SIGSEGV, [1] SIGBUS */
	pid_t kept_by[2];
	unsigned char info[2][KEPT_INFO];
} tm __attribute__((tls_model("initial-exec")));

static unsigned thinks_get(void)
{
	return __atomic_load_n(&tm.thinks, __ATOMIC_RELAXED);
}

static void thinks_set(unsigned bits)
{
	__atomic_store_n(&tm.thinks, (unsigned char)bits, __ATOMIC_RELAXED);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
}

/* Keep a sent sig for this thread (the handler, while the program believes
 * sig blocked). _async. */
static void keep_async(int sig, const siginfo_t *si)
{
	int i = sig == SIGBUS;
	if (__atomic_load_n(&tm.kept[i], __ATOMIC_RELAXED))
		return; /* a standard signal is pending once */
	memcpy(tm.info[i], si, KEPT_INFO);
	tm.kept_by[i] = getpid();
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	__atomic_store_n(&tm.kept[i], 1, __ATOMIC_RELAXED);
}

/* The kept signals among bits (those this process kept). */
static unsigned kept_bits(unsigned bits)
{
	unsigned k = 0;
	for (int i = 0; i < 2; i++) {
		unsigned b = i ? BUS_BIT : SEGV_BIT;
		if ((bits & b) && __atomic_load_n(&tm.kept[i], __ATOMIC_RELAXED) &&
		    tm.kept_by[i] == getpid())
			k |= b;
	}
	return k;
}

/* Queue the kept signals among bits to this thread again, with their
 * siginfo: the kernel delivers each as soon as the thread's mask lets it.
 * (To itself a thread may queue any siginfo.) errno is left alone. _async. */
static void requeue_async(unsigned bits)
{
	int saved = errno;
	for (int i = 0; i < 2; i++) {
		unsigned b = i ? BUS_BIT : SEGV_BIT;
		if (!(bits & b) || !__atomic_load_n(&tm.kept[i], __ATOMIC_RELAXED))
			continue;
		siginfo_t si;
		memset(&si, 0, sizeof si);
		memcpy(&si, tm.info[i], KEPT_INFO);
		pid_t by = tm.kept_by[i];
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		__atomic_store_n(&tm.kept[i], 0, __ATOMIC_RELAXED);
		pid_t pid = getpid();
		if (by == pid) /* a forked child does not inherit it */
			syscall(SYS_rt_tgsigqueueinfo, pid, (pid_t)syscall(SYS_gettid),
				i ? SIGBUS : SIGSEGV, &si);
	}
	errno = saved;
}

/* Whether the kernel blocks SIGSEGV/SIGBUS for real in this thread. */
static unsigned real_bits(void)
{
	sigset_t cur;
	sigemptyset(&cur);
	if (real_sigmask(SIG_BLOCK, NULL, &cur) != 0)
		return 0;
	return bits_in(&cur);
}

/* A block of SIGSEGV/SIGBUS the kernel holds for real (inherited across
 * exec, or a new thread's) becomes the record, and they open. */
static void absorb_real_block(unsigned extra)
{
	unsigned real = real_bits();
	thinks_set(thinks_get() | real | extra);
	if (real) {
		sigset_t s;
		sigemptyset(&s);
		bits_add(&s, real);
		real_sigmask(SIG_UNBLOCK, &s, NULL);
	}
}

/* _async: the handler takes it too (signals are already blocked there). */
static void chain_lock_take_async(sigset_t *old)
{
	sigset_t all;
	sigfillset(&all);
	real_sigmask(SIG_BLOCK, &all, old);
	while (__atomic_exchange_n(&chain_lock, 1, __ATOMIC_ACQUIRE))
		sched_yield();
}

static void chain_lock_drop_async(const sigset_t *old)
{
	__atomic_store_n(&chain_lock, 0, __ATOMIC_RELEASE);
	real_sigmask(SIG_SETMASK, old, NULL);
}

static void record_set_locked(struct record *r, const struct sigaction *sa)
{
	union action a;
	a.sa = *sa;
	unsigned s = r->seq;
	__atomic_store_n(&r->seq, s + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	for (size_t i = 0; i < ACTION_WORDS; i++)
		__atomic_store_n(&r->act.w[i], a.w[i], __ATOMIC_RELAXED);
	__atomic_store_n(&r->seq, s + 2, __ATOMIC_RELEASE);
}

/* A consistent copy of the record, without the lock. _async. */
static void record_get_async(struct record *r, union action *out)
{
	unsigned s;
	do {
		while ((s = __atomic_load_n(&r->seq, __ATOMIC_ACQUIRE)) & 1)
			sched_yield();
		for (size_t i = 0; i < ACTION_WORDS; i++)
			out->w[i] = __atomic_load_n(&r->act.w[i], __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
	} while (__atomic_load_n(&r->seq, __ATOMIC_RELAXED) != s);
}

/* ------------------------------------------------------------ the handler */

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

/* Whether returning from the handler executes again the instruction that
 * raised the signal, so that a default action restored in the kernel takes
 * effect by itself. Sent signals (si_code <= 0) and action-optional machine
 * checks are not tied to an instruction. */
static int raised_by_instruction(int sig, const siginfo_t *si)
{
	if (si->si_code <= 0)
		return 0;
#ifdef BUS_MCEERR_AO
	if (sig == SIGBUS && si->si_code == BUS_MCEERR_AO)
		return 0;
#else
	(void)sig;
#endif
	return 1;
}

/* The default action of sig (for both signals: terminate with a core). */
static void default_action_async(int sig, int by_instruction)
{
	struct sigaction dfl;
	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	__sigaction(sig, &dfl, NULL);
	/* Blocked while the handler runs: pending until it returns. */
	if (!by_instruction)
		raise(sig);
}

/* The default action for a signal the chain does not handle: the process
 * dies. A SIGSEGV inside the arena is said first, with what SBMA saw
 * there: otherwise only a core could tell a freed pointer from a page
 * SBMA lost track of. */
static void die_by_default_async(int sig, siginfo_t *si, int by_instruction)
{
	if (sig == SIGSEGV && by_instruction)
		sbma__vmm_report_miss_async(si->si_addr);
	default_action_async(sig, by_instruction);
}

/* The context being passed down the chain by this thread, and the frame
 * that passed it: a call of SBMA's handler from deeper in the stack with the
 * same context is the program's handler calling SBMA's back. A siglongjmp
 * out of the program's handler leaves this set, but a later signal is
 * handled at the same depth, never deeper with the same context. */
static __thread struct {
	void *uc;
	uintptr_t frame;
} passing __attribute__((tls_model("initial-exec")));

static void chain_async(int sig, siginfo_t *si, void *uc, int saved_errno)
{
	struct record *r = record_of(sig);
	int by_instruction = raised_by_instruction(sig, si);
	uintptr_t frame = (uintptr_t)__builtin_frame_address(0);
	if (SBMA_UNLIKELY(passing.uc == uc && frame < passing.frame)) {
		default_action_async(sig, by_instruction);
		errno = saved_errno;
		return;
	}

	union action next;
	record_get_async(r, &next);
	handler_t h = next.sa.sa_handler;
	if ((next.sa.sa_flags & SA_RESETHAND) && h != SIG_DFL && h != SIG_IGN) {
		/* Take and reset under the lock: of two threads faulting at
		 * once, only one may get the handler. */
		sigset_t old;
		chain_lock_take_async(&old);
		next = r->act;
		h = next.sa.sa_handler;
		if ((next.sa.sa_flags & SA_RESETHAND) && h != SIG_DFL && h != SIG_IGN) {
			struct sigaction reset = next.sa;
			reset.sa_handler = SIG_DFL; /* the kernel keeps the flags */
			record_set_locked(r, &reset);
		}
		chain_lock_drop_async(&old);
	}

	if (h == SIG_IGN && !by_instruction) {
		errno = saved_errno;
		return;
	}
	if (h == SIG_DFL || h == SIG_IGN) {
		die_by_default_async(sig, si, by_instruction);
		errno = saved_errno;
		return;
	}

	/* The mask the kernel would have set for this handler, set for real
	 * (see "Keeping SIGSEGV and SIGBUS open" for why these two are not
	 * kept open here): the interrupted mask as the program believes it,
	 * sa_mask, the signal. The record is put back after the handler,
	 * whose mask calls the kernel undoes at sigreturn. */
	sigset_t mask = next.sa.sa_mask;
	sigorset(&mask, &mask, &((ucontext_t *)uc)->uc_sigmask);
	unsigned outer_thinks = thinks_get();
	bits_add(&mask, outer_thinks);
	if (!(next.sa.sa_flags & SA_NODEFER))
		sigaddset(&mask, sig);
	void *outer_uc = passing.uc;
	uintptr_t outer_frame = passing.frame;
	passing.uc = uc;
	passing.frame = frame;
	real_sigmask(SIG_SETMASK, &mask, NULL);
	errno = saved_errno;
	if (next.sa.sa_flags & SA_SIGINFO)
		next.sa.sa_sigaction(sig, si, uc);
	else
		h(sig);
	passing.uc = outer_uc;
	passing.frame = outer_frame;
	thinks_set(outer_thinks);
}

static void on_fault(int sig, siginfo_t *si, void *uc)
{
	int saved = errno;
	if (SBMA_UNLIKELY(!si || !uc)) {
		/* Not the kernel: a program's handler calling SBMA's back
		 * without the context. The end of the chain. */
		default_action_async(sig, 0);
		errno = saved;
		return;
	}
	if (sig == SIGSEGV && si->si_code > 0 &&
	    sbma__vmm_fault_async(si->si_addr, access_kind(uc))) {
		errno = saved;
		return;
	}
	if (sig == SIGBUS && si->si_code > 0 && sbma__in_arena(si->si_addr))
		sbma__log("SIGBUS at %p in SBMA memory: the RAM behind SBMA's arena could not "
			  "be provided (memory limit?)",
			  si->si_addr);
	if (SBMA_UNLIKELY(thinks_get() & bit_of(sig))) {
		/* The program believes sig blocked: what the kernel does with
		 * a blocked signal. A fault kills (with a core); a sent signal
		 * waits until the program unblocks it. */
		if (raised_by_instruction(sig, si))
			die_by_default_async(sig, si, 1);
		else
			keep_async(sig, si);
		errno = saved;
		return;
	}
	chain_async(sig, si, uc, saved);
}

/* ------------------------------------------------ install and re-check */

static int is_ours(const struct sigaction *sa)
{
	return (sa->sa_flags & SA_SIGINFO) && sa->sa_sigaction == on_fault;
}

/* Make the kernel call SBMA's handler for sig; whatever it called instead
 * becomes the record (the program's next handler). */
static int put_first_locked(int sig)
{
	struct sigaction cur, mine;
	if (__sigaction(sig, NULL, &cur) != 0)
		return -errno;
	if (is_ours(&cur))
		return 0;
	/* Recorded first: a fault on another thread right after the switch
	 * must find it. */
	record_set_locked(record_of(sig), &cur);
	memset(&mine, 0, sizeof mine);
	mine.sa_sigaction = on_fault;
	mine.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
	sigfillset(&mine.sa_mask);
	if (__sigaction(sig, &mine, NULL) != 0)
		return -errno;
	return 0;
}

static int put_first_both_locked(void)
{
	int rc = put_first_locked(SIGSEGV);
	if (!rc)
		rc = put_first_locked(SIGBUS);
	if (!rc)
		installed = 1;
	return rc;
}

int sbma__fault_recheck(void)
{
	sigset_t old;
	int saved = errno;
	chain_lock_take_async(&old);
	int rc = put_first_both_locked();
	chain_lock_drop_async(&old);
	errno = saved;
	return rc;
}

/* Called by the constructor (which installs) and again at engine start
 * (which thereby re-checks): the same operation. */
/* fork() from one thread while another holds the chain lock would leave
 * the child with a lock nobody releases (its next sigaction on SIGSEGV or
 * SIGBUS would spin forever) and maybe a record half written: hold it
 * across fork. */
static sigset_t fork_saved_mask;
static void chain_fork_prepare(void)
{
	chain_lock_take_async(&fork_saved_mask);
}
static void chain_fork_release(void)
{
	chain_lock_drop_async(&fork_saved_mask);
}

int sbma__fault_install(void)
{
	static int atfork_done;
	if (!__atomic_exchange_n(&atfork_done, 1, __ATOMIC_ACQ_REL))
		pthread_atfork(chain_fork_prepare, chain_fork_release, chain_fork_release);
	return sbma__fault_recheck();
}

/* -------------------------------------------------------- interposition */

/* sigaction() for SIGSEGV and SIGBUS: record act, hand back the record. */
static int record_swap(int sig, const struct sigaction *act, struct sigaction *oldact)
{
	struct sigaction a, prev;
	if (act) {
		/* Copied before the lock: *act may be evicted SBMA memory. */
		a = *act;
		sigdelset(&a.sa_mask, SIGKILL); /* as the kernel does */
		sigdelset(&a.sa_mask, SIGSTOP);
	}
	int saved = errno;
	sigset_t old;
	chain_lock_take_async(&old);
	int rc = installed ? 0 : put_first_both_locked();
	if (!rc) {
		struct record *r = record_of(sig);
		prev = r->act.sa;
		if (act)
			record_set_locked(r, &a);
	}
	chain_lock_drop_async(&old);
	errno = saved;
	if (rc) /* SBMA's handler could not go in: the program's goes instead */
		return __sigaction(sig, act, oldact);
	if (oldact)
		*oldact = prev;
	return 0;
}

/*
 * Every other signal: SIGSEGV and SIGBUS in sa_mask are left out of what the
 * kernel gets (its handler may touch SBMA memory) and kept here, with the
 * handler they came with, to be handed back in oldact while the kernel
 * still holds that handler. Under the chain lock.
 */
static struct {
	handler_t h;
	unsigned char bits;
} masked_by[_NSIG];

static int other_action(int sig, const struct sigaction *act, struct sigaction *oldact)
{
	struct sigaction a, prev;
	unsigned bits = 0;
	if (act) {
		a = *act; /* copied before the lock: may be SBMA memory */
		bits = bits_in(&a.sa_mask);
		bits_del(&a.sa_mask, bits);
		act = &a;
	}
	if (sig <= 0 || sig >= _NSIG ||
	    (!bits && !__atomic_load_n(&masked_by[sig].bits, __ATOMIC_RELAXED)))
		return __sigaction(sig, act, oldact);
	int saved = errno;
	sigset_t old;
	chain_lock_take_async(&old);
	int rc = __sigaction(sig, act, &prev);
	int err = errno;
	if (rc == 0) {
		if (masked_by[sig].bits && masked_by[sig].h == prev.sa_handler)
			bits_add(&prev.sa_mask, masked_by[sig].bits);
		if (act) {
			masked_by[sig].h = a.sa_handler;
			masked_by[sig].bits = (unsigned char)bits;
		}
	}
	chain_lock_drop_async(&old);
	if (rc != 0) {
		errno = err;
		return rc;
	}
	errno = saved;
	if (oldact)
		*oldact = prev;
	return 0;
}

/* After glibc's signal() or sigset() installed an action for another signal
 * (its sa_mask never holds SIGSEGV or SIGBUS). */
static void forget_masked_by(int sig)
{
	if (sig <= 0 || sig >= _NSIG || !__atomic_load_n(&masked_by[sig].bits, __ATOMIC_RELAXED))
		return;
	sigset_t old;
	chain_lock_take_async(&old);
	masked_by[sig].bits = 0;
	chain_lock_drop_async(&old);
}

EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *oldact)
{
	if (is_chained(sig))
		return record_swap(sig, act, oldact);
	return other_action(sig, act, oldact);
}

/* The one-handler forms of sigaction(), for SIGSEGV and SIGBUS, built as
 * glibc builds them. */
static handler_t set_handler(int sig, handler_t h, int flags, int mask_self)
{
	if (h == SIG_ERR) {
		errno = EINVAL;
		return SIG_ERR;
	}
	struct sigaction a, prev;
	memset(&a, 0, sizeof a);
	a.sa_handler = h;
	sigemptyset(&a.sa_mask);
	if (mask_self)
		sigaddset(&a.sa_mask, sig);
	a.sa_flags = flags;
	if (record_swap(sig, &a, &prev) != 0)
		return SIG_ERR;
	return prev.sa_handler;
}

/* The next definitions, for the other signals: resolved at load so that a
 * handler that re-arms itself with signal() never runs dlsym. */
static handler_t (*next_signal)(int, handler_t);
static handler_t (*next_sysv_signal)(int, handler_t);
static handler_t (*next_sigset)(int, handler_t);

static void find_next(void)
{
	if (!next_signal)
		next_signal = (handler_t(*)(int, handler_t))dlsym(RTLD_NEXT, "signal");
	if (!next_sysv_signal)
		next_sysv_signal = (handler_t(*)(int, handler_t))dlsym(RTLD_NEXT, "__sysv_signal");
	if (!next_sigset)
		next_sigset = (handler_t(*)(int, handler_t))dlsym(RTLD_NEXT, "sigset");
}

typedef int (*create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
static create_fn next_pthread_create;

static void find_next_mask(void)
{
	if (!next_pthread_sigmask) {
		sigmask_fn f = (sigmask_fn)dlsym(RTLD_NEXT, "pthread_sigmask");
		__atomic_store_n(&next_pthread_sigmask, f, __ATOMIC_RELEASE);
	}
	if (!next_pthread_create)
		next_pthread_create = (create_fn)dlsym(RTLD_NEXT, "pthread_create");
}

__attribute__((constructor)) static void find_next_at_load(void)
{
	find_next();
	find_next_mask();
	/* A mask inherited across exec that blocks SIGSEGV/SIGBUS. */
	absorb_real_block(0);
}

/* For another signal, where no next definition exists: glibc's semantics
 * on __sigaction (signal() then ignores siginterrupt()). */
static handler_t fallback_signal(int sig, handler_t h, int flags, int mask_self)
{
	if (h == SIG_ERR) {
		errno = EINVAL;
		return SIG_ERR;
	}
	struct sigaction a, prev;
	memset(&a, 0, sizeof a);
	a.sa_handler = h;
	sigemptyset(&a.sa_mask);
	if (mask_self && sigaddset(&a.sa_mask, sig) != 0)
		return SIG_ERR;
	a.sa_flags = flags;
	if (__sigaction(sig, &a, &prev) != 0)
		return SIG_ERR;
	return prev.sa_handler;
}

static handler_t bsd_form(int sig, handler_t h)
{
	if (is_chained(sig))
		return set_handler(sig, h, SA_RESTART, 1);
	find_next();
	forget_masked_by(sig);
	if (next_signal)
		return next_signal(sig, h);
	return fallback_signal(sig, h, SA_RESTART, 1);
}

static handler_t sysv_form(int sig, handler_t h)
{
	if (is_chained(sig))
		return set_handler(sig, h, SA_RESETHAND | SA_NODEFER, 0);
	find_next();
	forget_masked_by(sig);
	if (next_sysv_signal)
		return next_sysv_signal(sig, h);
	return fallback_signal(sig, h, SA_RESETHAND | SA_NODEFER, 0);
}

EXPORT handler_t signal(int sig, handler_t h)
{
	return bsd_form(sig, h);
}

EXPORT handler_t bsd_signal(int sig, handler_t h)
{
	return bsd_form(sig, h);
}

EXPORT handler_t ssignal(int sig, handler_t h)
{
	return bsd_form(sig, h);
}

EXPORT handler_t sysv_signal(int sig, handler_t h)
{
	return sysv_form(sig, h);
}

EXPORT handler_t __sysv_signal(int sig, handler_t h)
{
	return sysv_form(sig, h);
}

/* System V sigset(): like glibc's, with the record in place of the kernel. */
EXPORT handler_t sigset(int sig, handler_t disp)
{
	if (!is_chained(sig)) {
		find_next();
		if (disp != SIG_HOLD)
			forget_masked_by(sig);
		if (next_sigset)
			return next_sigset(sig, disp);
		errno = ENOSYS;
		return SIG_ERR;
	}
	sigset_t one, before;
	sigemptyset(&one);
	sigaddset(&one, sig);
	if (disp == SIG_HOLD) {
		struct sigaction prev;
		if (sigprocmask(SIG_BLOCK, &one, &before) != 0)
			return SIG_ERR;
		if (sigismember(&before, sig))
			return SIG_HOLD;
		if (record_swap(sig, NULL, &prev) != 0)
			return SIG_ERR;
		return prev.sa_handler;
	}
	handler_t prev = set_handler(sig, disp, 0, 0);
	if (prev == SIG_ERR)
		return SIG_ERR;
	if (sigprocmask(SIG_UNBLOCK, &one, &before) != 0)
		return SIG_ERR;
	return sigismember(&before, sig) ? SIG_HOLD : prev;
}

/* ------------------------------------------------ mask interposition */

/*
 * pthread_sigmask() as the program sees it: SIGSEGV and SIGBUS in set are
 * recorded, not passed on (they are passed on when unblocked: the kernel
 * may hold a real block of them); oldset shows the program's mask. Returns
 * 0 or an error number; errno is left alone (as glibc's).
 */
static int mask_change(int how, const sigset_t *set, sigset_t *oldset)
{
	sigset_t k, kold;
	unsigned want = 0;
	sigemptyset(&kold);
	if (set) {
		k = *set; /* copied first: *set may be evicted SBMA memory */
		want = bits_in(&k);
		if (how == SIG_BLOCK || how == SIG_SETMASK) {
			/* A real block stays real (see the rule above). */
			unsigned keep = how == SIG_SETMASK && want ? want & real_bits() : 0;
			bits_del(&k, BOTH_BITS & ~keep);
		}
		set = &k;
	}
	int rc = real_sigmask(how, set, &kold);
	if (rc)
		return rc;
	unsigned real = bits_in(&kold);
	unsigned before = real | thinks_get();
	if (set) {
		unsigned after, real_after;
		switch (how) {
		case SIG_BLOCK:
			after = before | want;
			real_after = real;
			break;
		case SIG_UNBLOCK:
			after = before & ~want;
			real_after = real & ~want;
			break;
		default: /* SIG_SETMASK: the kernel took it */
			after = want;
			real_after = real & want;
			break;
		}
		thinks_set(after & ~real_after);
		requeue_async(~after & BOTH_BITS);
	}
	if (oldset) {
		bits_add(&kold, before);
		*oldset = kold;
	}
	return 0;
}

EXPORT int pthread_sigmask(int how, const sigset_t *set, sigset_t *oldset)
{
	return mask_change(how, set, oldset);
}

EXPORT int sigprocmask(int how, const sigset_t *set, sigset_t *oldset)
{
	int rc = mask_change(how, set, oldset);
	if (rc) {
		errno = rc;
		return -1;
	}
	return 0;
}

/* The kernel swaps the mask for the wait and back: the record does the same
 * around it. A kept signal the wait mask opens is blocked for real for a
 * moment and queued, so that the wait's own mask swap delivers it. */
EXPORT int sigsuspend(const sigset_t *mask)
{
	sigset_t k = *mask; /* may be SBMA memory */
	unsigned want = bits_in(&k);
	unsigned real = real_bits();
	bits_del(&k, want & ~real); /* a real block stays real */
	unsigned outer = thinks_get();
	unsigned fire = kept_bits(~want & ~real & BOTH_BITS);
	sigset_t f;
	sigemptyset(&f);
	bits_add(&f, fire);
	if (fire) {
		real_sigmask(SIG_BLOCK, &f, NULL);
		requeue_async(fire);
	}
	thinks_set(want & ~real);
	int rc = __sigsuspend(&k);
	int err = errno;
	thinks_set(outer);
	if (fire)
		real_sigmask(SIG_UNBLOCK, &f, NULL);
	/* Kept during the wait, open again now. */
	requeue_async(~(outer | real) & BOTH_BITS);
	errno = err;
	return rc;
}

EXPORT int sigpending(sigset_t *set)
{
	sigset_t s;
	sigemptyset(&s);
	if (syscall(SYS_rt_sigpending, &s, _NSIG / 8) != 0)
		return -1;
	bits_add(&s, kept_bits(BOTH_BITS));
	*set = s;
	return 0;
}

/* The System V and BSD forms, built as glibc builds them, on sigprocmask. */
EXPORT int sighold(int sig)
{
	sigset_t s;
	sigemptyset(&s);
	if (sigaddset(&s, sig) < 0)
		return -1;
	return sigprocmask(SIG_BLOCK, &s, NULL);
}

EXPORT int sigrelse(int sig)
{
	sigset_t s;
	sigemptyset(&s);
	if (sigaddset(&s, sig) < 0)
		return -1;
	return sigprocmask(SIG_UNBLOCK, &s, NULL);
}

/* An old-style mask: bit sig - 1 for signals 1 to 32. */
static int old_mask_call(int how, int mask)
{
	sigset_t s, o;
	sigemptyset(&s);
	sigemptyset(&o);
	s.__val[0] = (unsigned int)mask;
	if (sigprocmask(how, how == SIG_BLOCK && !mask ? NULL : &s, &o) < 0)
		return -1;
	return (int)(unsigned int)o.__val[0];
}

EXPORT int sigblock(int mask)
{
	return old_mask_call(SIG_BLOCK, mask);
}

EXPORT int sigsetmask(int mask)
{
	return old_mask_call(SIG_SETMASK, mask);
}

EXPORT int siggetmask(void)
{
	return old_mask_call(SIG_BLOCK, 0);
}

/*
 * A thread that must start with SIGSEGV/SIGBUS blocked, as the program
 * believes: it starts in start_with_mask, which sets its record and opens
 * them in the kernel.
 *
 * The start record lives on the creator's stack, and the creator waits
 * (a futex on `taken`) until the new thread has copied it: no allocation,
 * so nothing depends on which malloc the process has.
 *
 * start_with_mask may run before a sanitizer runtime has set the thread
 * up: a runtime that interposes pthread_create (TSan, ASan) reaches this
 * one as its "real" pthread_create, with its own start routine as fn, and
 * TSan starts its background thread with every signal blocked, so that
 * thread comes here too. Instrumented code (even a call to another SBMA
 * function, which the compiler will not inline into an uninstrumented one)
 * or an intercepted libc call (free, memset, sigemptyset) would then run
 * on an uninitialised thread state and crash. So it is built without
 * sanitizers and touches only its own locals, the record (plain TLS
 * stores) and raw system calls.
 */
struct start {
	void *(*fn)(void *);
	void *arg;
	unsigned bits;
	int taken; /* 0 until the new thread has copied fn, arg and bits */
};

#define KERNEL_SEGV_BUS ((UINT64_C(1) << (SIGSEGV - 1)) | (UINT64_C(1) << (SIGBUS - 1)))

__attribute__((no_sanitize("address", "thread", "undefined"))) static void *
start_with_mask(void *p)
{
	struct start *sp = p;
	void *(*fn)(void *) = sp->fn;
	void *arg = sp->arg;
	unsigned char bits = (unsigned char)sp->bits;
	__atomic_store_n(&sp->taken, 1, __ATOMIC_RELEASE);
	syscall(SYS_futex, &sp->taken, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	/* sp is gone from here on. The record first, then the kernel: a sent
	 * signal between the two is kept, as the program expects. A new
	 * thread's record is zero and nothing else writes it yet. */
	tm.thinks = bits;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	uint64_t open = KERNEL_SEGV_BUS; /* the kernel's sigset: _NSIG / 8 bytes */
	syscall(SYS_rt_sigprocmask, SIG_UNBLOCK, &open, NULL, sizeof open);
	return fn(arg);
}

EXPORT int pthread_create(pthread_t *thread, const pthread_attr_t *attr, void *(*fn)(void *),
			  void *arg)
{
	if (SBMA_UNLIKELY(!next_pthread_create)) {
		find_next_mask();
		if (!next_pthread_create)
			return EAGAIN;
	}
	/* The mask the new thread gets: the attribute's, or the creator's. */
	unsigned bits;
	sigset_t m;
#if __GLIBC_PREREQ(2, 32)
	if (attr && pthread_attr_getsigmask_np(attr, &m) == 0)
		bits = bits_in(&m);
	else
#endif
		bits = thinks_get() | real_bits();
	if (!bits)
		return next_pthread_create(thread, attr, fn, arg);
	struct start s = { .fn = fn, .arg = arg, .bits = bits, .taken = 0 };
	int rc = next_pthread_create(thread, attr, start_with_mask, &s);
	if (rc)
		return rc;
	int saved = errno;
	while (!__atomic_load_n(&s.taken, __ATOMIC_ACQUIRE))
		syscall(SYS_futex, &s.taken, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
	errno = saved;
	return 0;
}
