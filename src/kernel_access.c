/*
 * kernel_access.c - calls that make the kernel read or write user buffers.
 *
 * The kernel raises no SIGSEGV when it touches protected user memory
 * itself: read() into an evicted (PROT_NONE) SBMA page, or stat() into a
 * page that is resident but read-only (not written since it was loaded),
 * fails with EFAULT, or returns short. Every wrapper below therefore does
 * three things (docs/preload.md has the whole list and the reasons):
 *
 *  1. Pin. The SBMA parts of every buffer the call hands to the kernel (the
 *     data, and also iovec arrays, msghdr structures, socket addresses,
 *     control data, path names) are collected into a pin set, merged where
 *     they are adjacent, and pinned with the access the kernel needs: READ
 *     for what it reads, WRITE for what it writes. Pinned pages are resident
 *     and no other thread can evict them during the call. Buffers outside
 *     the arena cost one range check each and nothing else.
 *
 *  2. Split. Pinning a buffer larger than the budget would push resident
 *     memory over it (allowed and counted in over_budget, but a 20 GiB
 *     fwrite of a checkpoint would then need 20 GiB of RAM). So a transfer
 *     with more SBMA memory than a quarter of the budget (a chunk) is cut
 *     into chunks, each pinned on its own, wherever the program cannot
 *     tell (cut_kind() decides, from the descriptor's type):
 *       - regular files and block devices (read, write, pread, pwrite and
 *         their aliases): chunk after chunk while each one is complete; a
 *         short chunk (end of file, a full disk) ends the loop, and an
 *         error is returned only if nothing was transferred, as the kernel
 *         does for a partial transfer;
 *       - pipes, FIFOs and stream sockets, writes (write, send, and recv
 *         with MSG_WAITALL): the same loop. A blocking write there is not
 *         atomic above PIPE_BUF and returns short only when a signal or an
 *         error stops it, which stops the loop likewise; a non-blocking one
 *         stops at the first short chunk, as it would have;
 *       - pipes, FIFOs and stream sockets, reads: one chunk only, a short
 *         read, which such a descriptor may return at any time (whatever
 *         had arrived); a pipe read is cut no shorter than the pipe's
 *         capacity, which bounds it anyway;
 *       - stdio (fread, fwrite): always, under the stream's lock: stdio
 *         loops internally anyway, so a cut fread is the same fread.
 *     Everything else is pinned whole, over the budget if it must be:
 *     datagram and seqpacket sockets (a message must not be cut), the
 *     msghdr and vectored calls, terminals, devices. The total of a cut
 *     read or write is capped at the kernel's own limit per call
 *     (MAX_RW_COUNT, just under 2 GiB), so the program never sees a count
 *     the kernel could not have returned. What cutting does change: one
 *     read or write of a regular file is atomic with respect to other
 *     threads and processes that share its open file description (Linux
 *     holds the file position lock for the call); a cut one is a sequence
 *     of such calls. Only a program that reads or writes one descriptor
 *     from several threads at once, with buffers over a chunk, could tell.
 *
 *  3. Net. A call that still fails with EFAULT although one of its buffers
 *     lies in SBMA memory (a pin that failed, say on an I/O error; ranges
 *     that could only be touched; a buffer SBMA could not see)
 *     is retried once after touching every SBMA buffer again with the
 *     access the kernel needs. Retrying is safe because a call that fails
 *     with EFAULT has transferred nothing: a pipe, a stream socket or a
 *     file keeps its data; a datagram socket drops the datagram that could
 *     not be copied, and the retry then waits for the next one (without
 *     SBMA the program would have got an error). stdio calls get no retry:
 *     a failed fread may have consumed buffered data, and the stream's
 *     error flag is already set.
 *
 * The real functions are looked up with dlsym(RTLD_NEXT) by a constructor
 * that runs before the rest of SBMA's start-up, so that no lookup (dlsym
 * allocates and takes the loader's lock) happens later inside the fault
 * handler: the engine's own store I/O (os.c, log.c) binds to these exported
 * wrappers too. A call made before that constructor (from an earlier
 * library's constructor) looks its function up on the spot.
 *
 * Not covered (FIXME(issue 3)): calls glibc makes internally (readdir's
 * getdents, stdio's own buffer refills, which no interposer sees: but a
 * long %s string of fprintf is, kernel_access_printf.c, and a stream
 * buffer from setvbuf is pinned, kernel_access_stdio_buffer.c); raw syscall(); asynchronous I/O (aio_*, io_uring),
 * whose buffers would have to stay pinned until completion; ioctl; the
 * remote side of process_vm_readv/writev.
 */
#include "config.h"

/* This file defines read, pread, stat... under their own names: no
 * _FORTIFY_SOURCE inline definitions and no 64-bit-offset renaming. */
#undef _FORTIFY_SOURCE
#undef _FILE_OFFSET_BITS

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/ioctl.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <termios.h>
#include <unistd.h>

#include "sbma_internal.h"

#define EXPORT __attribute__((visibility("default")))

/* For a function that only compares a pointer with the arena and never
 * reads through it (GCC would otherwise take a buffer that glibc declares
 * write-only for one read uninitialised). */
#if defined(__GNUC__) && __GNUC__ >= 11
#define NO_ACCESS(i) __attribute__((access(none, i)))
#else
#define NO_ACCESS(i)
#endif

/* stdio.h may define these as macros. */
#undef fread_unlocked
#undef fwrite_unlocked
#undef fputs_unlocked

/* Exported by glibc but declared by no header (old binaries, and what
 * _FORTIFY_SOURCE builds call). */
int __xstat(int ver, const char *path, struct stat *buf);
int __fxstat(int ver, int fd, struct stat *buf);
int __lxstat(int ver, const char *path, struct stat *buf);
int __fxstatat(int ver, int dirfd, const char *path, struct stat *buf, int flag);
int __xstat64(int ver, const char *path, struct stat64 *buf);
int __fxstat64(int ver, int fd, struct stat64 *buf);
int __lxstat64(int ver, const char *path, struct stat64 *buf);
int __fxstatat64(int ver, int dirfd, const char *path, struct stat64 *buf, int flag);
ssize_t __read(int fd, void *buf, size_t count);
ssize_t __write(int fd, const void *buf, size_t count);
ssize_t __pread64(int fd, void *buf, size_t count, off64_t off);
ssize_t __pwrite64(int fd, const void *buf, size_t count, off64_t off);
ssize_t __send(int fd, const void *buf, size_t n, int flags);
void __chk_fail(void) __attribute__((noreturn));
ssize_t __read_chk(int fd, void *buf, size_t count, size_t buflen);
ssize_t __pread_chk(int fd, void *buf, size_t count, off_t off, size_t buflen);
ssize_t __pread64_chk(int fd, void *buf, size_t count, off64_t off, size_t buflen);
size_t __fread_chk(void *ptr, size_t ptrlen, size_t size, size_t nmemb, FILE *stream);
size_t __fread_unlocked_chk(void *ptr, size_t ptrlen, size_t size, size_t nmemb, FILE *stream);
ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags);
ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags,
		       __SOCKADDR_ARG addr, socklen_t *addrlen);
ssize_t __readlink_chk(const char *path, char *buf, size_t len, size_t buflen);
ssize_t __readlinkat_chk(int dirfd, const char *path, char *buf, size_t len, size_t buflen);
char *__getcwd_chk(char *buf, size_t size, size_t buflen);
int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags);
int __openat64_2(int dirfd, const char *path, int flags);

/* ------------------------------------------------------- the real functions */

/* Every function wrapped here, once: the table of next definitions. */
#define KA_FUNCS(X)                                                           \
	X(read) X(write) X(pread) X(pwrite) X(pread64) X(pwrite64)            \
	X(__read) X(__write) X(__pread64) X(__pwrite64)                       \
	X(readv) X(writev) X(preadv) X(pwritev) X(preadv64) X(pwritev64)      \
	X(preadv2) X(pwritev2) X(preadv64v2) X(pwritev64v2)                   \
	X(process_vm_readv) X(process_vm_writev)                              \
	X(recv) X(recvfrom) X(recvmsg) X(recvmmsg)                            \
	X(send) X(__send) X(sendto) X(sendmsg) X(sendmmsg)                    \
	X(getdents64) X(getrandom) X(getcwd) X(readlink) X(readlinkat)        \
	X(stat) X(fstat) X(lstat) X(fstatat)                                  \
	X(stat64) X(fstat64) X(lstat64) X(fstatat64)                          \
	X(__xstat) X(__fxstat) X(__lxstat) X(__fxstatat)                      \
	X(__xstat64) X(__fxstat64) X(__lxstat64) X(__fxstatat64)              \
	X(statx) X(statfs) X(fstatfs) X(statfs64) X(fstatfs64)                \
	X(fread) X(fwrite) X(fread_unlocked) X(fwrite_unlocked)               \
	X(fputs) X(fputs_unlocked) X(puts)                                    \
	X(open) X(open64) X(__open_2) X(__open64_2)                           \
	X(openat) X(openat64) X(__openat_2) X(__openat64_2)                   \
	X(creat) X(creat64) X(fopen) X(fopen64) X(freopen) X(freopen64)       \
	X(opendir) X(access) X(faccessat) X(unlink) X(unlinkat)               \
	X(mkdir) X(mkdirat) X(rmdir) X(rename) X(renameat) X(chdir)           \
	X(truncate) X(truncate64) X(chmod) X(symlink) X(link)

#define DECLARE_REAL(name) static __typeof__(name) *real_##name;
KA_FUNCS(DECLARE_REAL)

void *sbma__ka_next(const char *name)
{
	void *p = dlsym(RTLD_NEXT, name);
	if (!p)
		sbma__die("%s: no definition after libsbma in the lookup order", name);
	return p;
}

/* The next definition of `name`, looked up now if the constructor has not
 * run yet. */
#define REAL(name)                                                            \
	({                                                                    \
		if (SBMA_UNLIKELY(real_##name == NULL))                       \
			real_##name = (__typeof__(real_##name))sbma__ka_next(#name); \
		real_##name;                                                  \
	})

/* Before init.c's constructor (default priority), which installs the fault
 * handler. A function this glibc lacks stays NULL: no program can call it. */
__attribute__((constructor(101))) static void resolve_all(void)
{
#define RESOLVE(name) real_##name = (__typeof__(real_##name))dlsym(RTLD_NEXT, #name);
	KA_FUNCS(RESOLVE)
}

/* ----------------------------------------------------------------- pin sets */

#define R SBMA_ACCESS_READ  /* the kernel reads the buffer */
#define W SBMA_ACCESS_WRITE /* the kernel writes it */

/* Whether [buf, buf+len) has SBMA memory in it (the arena is one range, so
 * checking both ends suffices for any buffer smaller than it). */
static inline int in_sbma(const void *buf, size_t len)
{
	return len && (sbma__in_arena(buf) || sbma__in_arena((const char *)buf + len - 1));
}

/*
 * The SBMA ranges of one call. Adjacent ranges with the same access merge
 * (an iovec array over one buffer is one range). The list starts in a small
 * array on the stack: the engine's own I/O runs through these wrappers, also
 * inside the fault handler and possibly on a small alternate signal stack,
 * though always without SBMA ranges. A call with more separate SBMA ranges
 * than that (a scatter list over many allocations) moves its list to an
 * array from glibc's allocator; should that fail, the extra ranges are only
 * touched, and the net covers their eviction.
 */
#define PS_LOCAL 8
struct ps_range {
	char *p;
	size_t len;
	unsigned char access, pinned;
};
struct pinset {
	unsigned n, cap; /* ranges recorded, room in r */
	unsigned sbma;   /* ranges with SBMA memory seen, recorded or not */
	int touch;       /* the net's second pass: touch, record nothing */
	struct ps_range *r;
	struct ps_range local[PS_LOCAL];
};

/* Fault injection for tests/test_kernel_access_net: nonzero makes every pin
 * "fail", so that only the net stands between the call and EFAULT. */
int sbma__ka_nopin;

static inline void ps_init(struct pinset *ps)
{
	ps->n = ps->sbma = 0;
	ps->cap = PS_LOCAL;
	ps->touch = 0;
	ps->r = ps->local;
}

static int ps_grow(struct pinset *ps)
{
	unsigned cap = ps->cap * 4;
	struct ps_range *r = __libc_malloc(cap * sizeof *r);
	if (!r)
		return -ENOMEM;
	memcpy(r, ps->r, ps->n * sizeof *r);
	if (ps->r != ps->local)
		__libc_free(ps->r);
	ps->r = r;
	ps->cap = cap;
	return 0;
}

NO_ACCESS(2) static void ps_add(struct pinset *ps, const void *p, size_t len, int access)
{
	if (SBMA_LIKELY(!in_sbma(p, len)))
		return;
	ps->sbma++;
	if (ps->touch) {
		sbma_touch((void *)p, len, access);
		return;
	}
	if (ps->n) {
		struct ps_range *last = &ps->r[ps->n - 1];
		if (last->access == access && last->p + last->len == (const char *)p) {
			last->len += len;
			return;
		}
	}
	if (ps->n == ps->cap && ps_grow(ps) != 0) {
		sbma_touch((void *)p, len, access);
		return;
	}
	ps->r[ps->n].p = (char *)p;
	ps->r[ps->n].len = len;
	ps->r[ps->n].access = (unsigned char)access;
	ps->r[ps->n].pinned = 0;
	ps->n++;
}

/* A NUL-terminated path the kernel reads. strlen faults it in if needed. */
static void ps_add_path(struct pinset *ps, const char *path)
{
	if (SBMA_UNLIKELY(path && sbma__in_arena(path)))
		ps_add(ps, path, strlen(path) + 1, R);
}

/* An iovec array (which the kernel reads) and its buffers. A count the
 * kernel rejects is not walked. */
static void ps_add_iov(struct pinset *ps, const struct iovec *iov, long n, int access)
{
	if (!iov || n <= 0 || n > (long)IOV_MAX)
		return;
	ps_add(ps, iov, (size_t)n * sizeof *iov, R);
	for (long i = 0; i < n; i++)
		ps_add(ps, iov[i].iov_base, iov[i].iov_len, access);
}

/* What a msghdr points to: data, peer address, control data. */
static void ps_add_msg_bufs(struct pinset *ps, const struct msghdr *m, int access)
{
	ps_add_iov(ps, m->msg_iov, m->msg_iovlen > (size_t)IOV_MAX ? -1 : (long)m->msg_iovlen, access);
	if (m->msg_name)
		ps_add(ps, m->msg_name, m->msg_namelen, access);
	if (m->msg_control)
		ps_add(ps, m->msg_control, m->msg_controllen, access);
}

/* recvmsg writes msg_namelen, msg_controllen and msg_flags back. */
static void ps_add_msg(struct pinset *ps, const struct msghdr *m, int access)
{
	if (!m)
		return;
	ps_add(ps, m, sizeof *m, access);
	ps_add_msg_bufs(ps, m, access);
}

/* recvmmsg/sendmmsg: the kernel writes msg_len (and, receiving, the
 * headers) back; it handles at most UIO_MAXIOV (IOV_MAX) messages. */
static void ps_add_mmsg(struct pinset *ps, const struct mmsghdr *v, unsigned n, int access)
{
	if (!v)
		return;
	if (n > (unsigned)IOV_MAX)
		n = IOV_MAX;
	ps_add(ps, v, n * sizeof *v, W);
	for (unsigned i = 0; i < n; i++)
		ps_add_msg_bufs(ps, &v[i].msg_hdr, access);
}

static void ps_pin(struct pinset *ps)
{
	if (SBMA_UNLIKELY(sbma__ka_nopin))
		return;
	for (unsigned i = 0; i < ps->n; i++)
		ps->r[i].pinned = sbma_pin(ps->r[i].p, ps->r[i].len, ps->r[i].access) == 0;
}

/* Unpin and free: the end of every call that had SBMA ranges. */
static void ps_done(struct pinset *ps)
{
	int saved = errno;
	for (unsigned i = 0; i < ps->n; i++)
		if (ps->r[i].pinned)
			sbma_unpin(ps->r[i].p, ps->r[i].len);
	if (ps->r != ps->local)
		__libc_free(ps->r);
	errno = saved;
}

/* The net caught a call: say so once (SBMA_VERBOSE), it means a buffer that
 * pinning did not cover. */
static void net_caught(const char *name)
{
	static int said;
	if (sbma__opt.verbose && !__atomic_exchange_n(&said, 1, __ATOMIC_RELAXED))
		sbma__log("%s: EFAULT on SBMA memory; retried after touching the buffers "
			  "(reported once)", name);
}

/* How each kind of call reports failure (errno then tells which). */
#define FAIL_NEG(r) ((r) < 0)
#define FAIL_NULL(r) ((r) == NULL)
#define FAIL_NEVER(r) ((void)(r), 0)

/*
 * The body of a wrapper: collect the call's SBMA ranges (`collect`, an
 * expression over ps_ and the arguments), pin them, call the next definition
 * of `name` with the arguments, and if it failed (`failed`) with EFAULT,
 * touch everything again (collect once more, in touch mode) and call once
 * more; unpin. Without SBMA memory in the call: the collect's range checks,
 * then a tail call.
 */
#define KCALL(name, failed, collect, ...)                                     \
	do {                                                                  \
		struct pinset ps_;                                            \
		ps_init(&ps_);                                                \
		collect;                                                      \
		if (SBMA_LIKELY(!ps_.sbma))                                   \
			return REAL(name)(__VA_ARGS__);                       \
		ps_pin(&ps_);                                                 \
		__typeof__(real_##name(__VA_ARGS__)) ret_ = REAL(name)(__VA_ARGS__); \
		if (failed(ret_) && errno == EFAULT) {                        \
			ps_.touch = 1;                                        \
			collect;                                              \
			net_caught(#name);                                    \
			ret_ = REAL(name)(__VA_ARGS__);                       \
		}                                                             \
		ps_done(&ps_);                                                \
		return ret_;                                                  \
	} while (0)

/* One buffer of len bytes the kernel reads or writes. */
#define BUF(p, len, access) ps_add(&ps_, (p), (len), (access))

/* ------------------------------------------------------------- splitting */

/* Bytes one call may pin when a transfer is split: a quarter of the budget
 * in force (the node's when the process shares one), whole SBMA pages. */
static size_t chunk_limit(void)
{
	uint64_t b = sbma__node_budget() / 4;
	size_t psz = sbma__A.psz;
	b &= ~(uint64_t)(psz - 1);
	return b < psz ? psz : (size_t)b;
}

/* The next chunk of [p, p+left): at most chunk_limit(), ending on an SBMA
 * page boundary (so that chunks share no page, and an O_DIRECT transfer from
 * an aligned buffer stays aligned). */
static size_t chunk_len(const char *p, size_t left)
{
	size_t step = chunk_limit();
	if (left <= step)
		return left;
	uintptr_t end = ((uintptr_t)p + step) & ~(uintptr_t)(sbma__A.psz - 1);
	return (size_t)(end - (uintptr_t)p);
}

/* What a transfer is. IO_ALL: it moves all its bytes unless something
 * stops it (a write, a recv with MSG_WAITALL); else it may return what is
 * there (a read). IO_POS: positional. IO_SOCK: a socket call. */
enum { IO_READ = 0, IO_ALL = 1, IO_POS = 2, IO_SOCK = 4 };

/* How a transfer too large to pin at once may be cut (file header). */
enum cut {
	CUT_NONE, /* pinned whole */
	CUT_LOOP, /* chunk after chunk while each one is complete */
	CUT_ONCE, /* one chunk: a short transfer the caller must expect */
};

static int stream_socket(int fd)
{
	int type = 0;
	socklen_t len = sizeof type;
	return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_STREAM;
}

/*
 * Regular files and block devices: reads and writes loop (a full transfer
 * until end of file or an error). Pipes, FIFOs and stream sockets: writes
 * loop too (a blocking write there is neither atomic above PIPE_BUF nor
 * short unless a signal or an error stops it, which stops the loop
 * likewise); reads take one chunk (a read there may always return less
 * than asked: what has arrived; a pipe read is cut no shorter than the
 * pipe's capacity). Anything else (datagram and seqpacket sockets, whose
 * messages must not be cut; terminals; devices) is pinned whole.
 */
NO_ACCESS(2) static enum cut cut_kind(int fd, const void *buf, size_t count, int how)
{
	if (SBMA_LIKELY(!in_sbma(buf, count)) || count <= chunk_limit())
		return CUT_NONE;
	int saved = errno;
	enum cut c = CUT_NONE;
	struct stat st;
	if (REAL(fstat)(fd, &st) != 0)
		c = CUT_NONE;
	else if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))
		c = (how & IO_SOCK) ? CUT_NONE : CUT_LOOP;
	else if (how & IO_POS)
		c = CUT_NONE;
	else if ((S_ISFIFO(st.st_mode) && !(how & IO_SOCK)) || (S_ISSOCK(st.st_mode) && stream_socket(fd)))
		c = (how & IO_ALL) ? CUT_LOOP : CUT_ONCE;
	if (c == CUT_ONCE && S_ISFIFO(st.st_mode)) {
		long cap = fcntl(fd, F_GETPIPE_SZ);
		if (cap > 0 && (size_t)cap >= chunk_limit())
			c = CUT_NONE;
	}
	errno = saved;
	return c;
}

/* --------------------------------------------------------- blocking calls */

/*
 * A process asleep in a system call cannot answer the node's release
 * requests: `sort | zstd` under one budget stalled because sort, holding
 * most of it, slept in write(2) on a full pipe while zstd waited for that
 * budget (docs/realprogs.md, finding 3). So, when the process shares a node
 * budget, a call that could sleep indefinitely on a pipe, FIFO, socket or
 * terminal first looks without waiting (poll with a zero timeout); only if
 * it would wait does the process become "blocked" in the node, as in an
 * MPI wait (a short wait first, then blocked, answering release requests
 * between 1 ms waits in poll(): block.c), and the real call is made
 * once the descriptor is ready, where it no longer waits. What does not
 * change:
 *   - the descriptor: a blocking one is never made non-blocking, and one
 *     that is non-blocking, or a socket with a receive or send timeout, or
 *     a terminal whose read returns without input (VMIN 0), goes to the
 *     call after at most the short wait, as do regular files and devices
 *     at once, which poll reports ready;
 *   - writes to a pipe of at most PIPE_BUF bytes, which POSIX makes atomic:
 *     poll's POLLOUT means a free pipe buffer, room for such a write. A
 *     longer write to a pipe or a stream socket, which is not atomic and
 *     may wait part-way, goes out in pieces without waiting (pwritev2 with
 *     RWF_NOWAIT, send with MSG_DONTWAIT) with blocked waits between them;
 *     the caller sees one write, with the count the kernel would give;
 *   - signals: poll() is never restarted after a handler, a blocking read
 *     or write is when the handler has SA_RESTART. After a handler the wait
 *     goes on if every handler the program installed has SA_RESTART, else
 *     the call fails with EINTR (or returns what it transferred): a program
 *     with a handler without SA_RESTART must expect EINTR from its calls.
 * Never with the engine lock held (fork.c reads a pipe under it) or in
 * SBMA's fault handler: both block every signal but SIGSEGV and SIGBUS,
 * which is how they are recognised. A program's own handler that calls
 * read() may wait blocked: the engine lock is never held by the thread a
 * handler interrupts (signals are blocked while it is held).
 * Not covered (FIXME(issue 3)): readiness a second thread or process takes
 * between poll and the call (the call then sleeps as before); writev and
 * sendmsg longer than PIPE_BUF (waited for, then made whole); recv with
 * MSG_WAITALL after its first bytes; getc, fgets, getline and stdio's
 * other calls (only fread, fwrite, fputs and puts are seen); poll, select,
 * accept and wait; processes with several threads are blocked while any
 * of them waits (block.c, FIXME(issue 4)).
 */

/* Whether this thread may enter the blocked state: not if it blocks every
 * signal the program could catch (the engine lock, the fault handler). */
static int may_block_here(void)
{
	sigset_t k;
	sigemptyset(&k);
	if (syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &k, _NSIG / 8) != 0)
		return 0;
	static const int probe[] = {SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGPIPE, SIGALRM, SIGTERM, SIGCHLD};
	for (size_t i = 0; i < sizeof probe / sizeof probe[0]; i++)
		if (!sigismember(&k, probe[i]))
			return 1;
	return 0;
}

/* After a handler interrupted the wait: whether the kernel would have
 * restarted the call. The signal is not known, so every installed handler
 * must have SA_RESTART. */
static int signal_restarts(void)
{
	for (int s = 1; s < NSIG; s++) {
		struct sigaction sa;
		if (s == SIGKILL || s == SIGSTOP || sigaction(s, NULL, &sa) != 0)
			continue;
		if (sa.sa_handler != SIG_DFL && sa.sa_handler != SIG_IGN && !(sa.sa_flags & SA_RESTART))
			return 0;
	}
	return 1;
}

/* What a call on fd that is not ready would do. */
enum waits {
	WAIT_NO,     /* return, fail or time out by itself: make it */
	WAIT_OTHER,  /* wait indefinitely (terminal, datagram socket) */
	WAIT_STREAM, /* the same, on a pipe, FIFO or stream socket */
};

static enum waits waits_kind(int fd, short events)
{
	int fl = fcntl(fd, F_GETFL);
	struct stat st;
	if (fl < 0 || (fl & O_NONBLOCK) || REAL(fstat)(fd, &st) != 0)
		return WAIT_NO;
	if (S_ISFIFO(st.st_mode))
		return WAIT_STREAM;
	if (S_ISSOCK(st.st_mode)) {
		struct timeval tv = {0, 0};
		socklen_t len = sizeof tv;
		int opt = (events & POLLIN) ? SO_RCVTIMEO : SO_SNDTIMEO;
		if (getsockopt(fd, SOL_SOCKET, opt, &tv, &len) != 0 || tv.tv_sec || tv.tv_usec)
			return WAIT_NO;
		return stream_socket(fd) ? WAIT_STREAM : WAIT_OTHER;
	}
	struct termios t;
	if (S_ISCHR(st.st_mode) && tcgetattr(fd, &t) == 0 &&
	    ((events & POLLOUT) || (t.c_lflag & ICANON) || t.c_cc[VMIN] > 0))
		return WAIT_OTHER;
	return WAIT_NO;
}

struct fd_event {
	int fd;
	short events;
};

/* block.c's wait: poll for the event for up to ns. Nonzero: stop waiting
 * (an error is left for the real call to report). */
static int fd_wait(void *ctx, long ns)
{
	struct fd_event *e = ctx;
	struct pollfd p = {e->fd, e->events, 0};
	struct timespec ts = {0, ns};
	int n = ppoll(&p, 1, &ts, NULL);
	if (n == 0 || (n < 0 && errno == EINTR && signal_restarts()))
		return 0;
	return n < 0 && errno == EINTR ? -EINTR : 1;
}

/* Whether the process shares a node budget: the only case where a sleeping
 * process keeps others waiting. */
static inline int shared_budget(void)
{
	return SBMA_UNLIKELY(sbma__node_active());
}

/*
 * Wait until fd is ready for `events`, blocked if it takes long, when the
 * call would otherwise sleep indefinitely there. First a look (poll with
 * timeout 0), then, for a descriptor in blocking mode, a short wait
 * (SBMA__BLOCK_SPIN_NS; the call would sleep anyway), and only then the
 * descriptor's type (waits_kind) and the blocked wait. *entered: as for
 * sbma__block_wait (the caller leaves). Returns 0 (make the call) or -1
 * with errno EINTR (fail it); errno is otherwise kept.
 */
static int wait_ready(int fd, short events, int *entered)
{
	int saved = errno;
	struct fd_event e = {fd, events};
	int rc = fd_wait(&e, 0);
	if (!rc) {
		int fl = fcntl(fd, F_GETFL);
		rc = fl < 0 || (fl & O_NONBLOCK) ? 1 : fd_wait(&e, SBMA__BLOCK_SPIN_NS);
	}
	if (!rc)
		rc = waits_kind(fd, events) == WAIT_NO || !may_block_here() ? 1
		     : sbma__block_wait(fd_wait, &e, entered);
	errno = saved;
	if (rc < 0) {
		errno = -rc;
		return -1;
	}
	return 0;
}

/* wait_ready() for one call, leaving the blocked state before it. */
static int ready_for(int fd, short events)
{
	int entered = 0;
	int rc = wait_ready(fd, events, &entered);
	if (entered)
		sbma__block_leave();
	return rc;
}

/* The kernel's MAX_RW_COUNT: one call never transfers more. */
static size_t max_rw(void)
{
	return (size_t)INT_MAX & ~(sbma__os_page_size() - 1);
}

/* One piece of a long write that never waits: as much as fits now. */
static ssize_t write_nowait(int fd, const char *p, size_t n, int flags, int sock)
{
	if (sock)
		return REAL(send)(fd, p, n, flags | MSG_DONTWAIT);
	struct iovec v = {(void *)p, n};
	return REAL(pwritev2)(fd, &v, 1, -1, RWF_NOWAIT);
}

/* The SBMA part of [p, p+n) pinned for reading (the kernel reads it). */
static void pin_range(struct pinset *ps, const char *p, size_t n)
{
	ps_init(ps);
	ps_add(ps, p, n, R);
	ps_pin(ps);
}

/*
 * A write longer than PIPE_BUF to a pipe, FIFO or stream socket, in pieces
 * that never wait in the kernel (pwritev2 with RWF_NOWAIT, send with
 * MSG_DONTWAIT), waiting while the descriptor is full. Each chunk of SBMA
 * memory is pinned once for its pieces (a piece is often only the pipe's
 * 64 KiB), and stays pinned through the short wait that usually suffices
 * (a reader draining the pipe); a longer wait unpins it first and waits
 * blocked, so that all of the process's memory can be released, then pins
 * the rest again. Returns 1 and the call's result in *ret, or 0 if the
 * call should be made as it is (the kernel refuses RWF_NOWAIT, the
 * descriptor is of another kind).
 */
static int write_in_pieces(int fd, const char *p, size_t count, int flags, int sock, ssize_t *ret)
{
	int kind = waits_kind(fd, POLLOUT);
	if (kind == WAIT_OTHER && ready_for(fd, POLLOUT) < 0) {
		*ret = -1;
		return 1;
	}
	if (kind != WAIT_STREAM || !may_block_here())
		return 0;
	if (count > max_rw())
		count = max_rw();
	struct fd_event e = {fd, POLLOUT};
	size_t done = 0;
	int fallback = 0, failed = 0;
	while (done < count && !failed) {
		size_t n = chunk_len(p + done, count - done), sent = 0;
		struct pinset ps;
		pin_range(&ps, p + done, n);
		int net = 0, full = 0;
		while (sent < n) {
			/* A short piece means the descriptor is full: wait
			 * rather than be told so by one more call. */
			ssize_t r = full ? (errno = EAGAIN, -1) : write_nowait(fd, p + done + sent, n - sent, flags, sock);
			full = 0;
			if (r > 0) {
				sent += (size_t)r;
				full = sent < n;
				continue;
			}
			if (r < 0 && errno == EAGAIN) {
				int rc = fd_wait(&e, SBMA__BLOCK_SPIN_NS);
				if (!rc) {
					int entered = 0;
					ps_done(&ps);
					rc = sbma__block_wait(fd_wait, &e, &entered);
					if (entered)
						sbma__block_leave();
					pin_range(&ps, p + done + sent, n - sent);
				}
				if (rc > 0)
					continue;
				errno = -rc;
			} else if (r < 0 && errno == EFAULT && ps.sbma && !net++) {
				/* The net, as in KCALL. */
				ps.touch = 1;
				ps_add(&ps, p + done + sent, n - sent, R);
				net_caught(sock ? "send" : "write");
				continue;
			}
			/* No RWF_NOWAIT for pipes in this kernel (before 5.x):
			 * the call as it was, if nothing went yet. */
			fallback = r < 0 && !done && !sent &&
				   (errno == EOPNOTSUPP || errno == EINVAL || errno == ENOSYS);
			failed = 1;
			break;
		}
		ps_done(&ps);
		done += sent;
	}
	if (fallback)
		return 0;
	/* As the kernel: what was written, else the error. */
	*ret = done ? (ssize_t)done : -1;
	return 1;
}

/* Before a write of count bytes: wait while fd is full, or write it in
 * pieces (write_in_pieces). Returns 1 with the result in *ret, else 0. */
static int blocking_write(int fd, const void *buf, size_t count, int flags, int sock, ssize_t *ret)
{
	if (!shared_budget() || (flags & MSG_DONTWAIT))
		return 0;
	if (count > PIPE_BUF)
		return write_in_pieces(fd, buf, count, flags, sock, ret);
	if (ready_for(fd, POLLOUT) < 0) {
		*ret = -1;
		return 1;
	}
	return 0;
}

/* Before a read, a vectored write or a datagram send: wait while fd is not
 * ready. Returns -1 (errno EINTR) if the call must fail. */
static inline int block_until_ready(int fd, short events, int flags)
{
	if (!shared_budget() || (flags & MSG_DONTWAIT))
		return 0;
	return ready_for(fd, events);
}

/* One pinned transfer. arg: the offset of a positional call, the flags of a
 * socket call, else unused. */
typedef ssize_t (*io_fn)(int fd, void *buf, size_t n, off_t arg);

#define IO_ONE(name, access, ...)                                             \
	static ssize_t name##_one(int fd, void *buf, size_t n, off_t arg)     \
	{                                                                     \
		(void)arg;                                                    \
		KCALL(name, FAIL_NEG, BUF(buf, n, access), __VA_ARGS__);      \
	}
IO_ONE(read, W, fd, buf, n)
IO_ONE(write, R, fd, buf, n)
IO_ONE(pread, W, fd, buf, n, arg)
IO_ONE(pwrite, R, fd, buf, n, arg)
IO_ONE(pread64, W, fd, buf, n, arg)
IO_ONE(pwrite64, R, fd, buf, n, arg)
IO_ONE(__read, W, fd, buf, n)
IO_ONE(__write, R, fd, buf, n)
IO_ONE(__pread64, W, fd, buf, n, arg)
IO_ONE(__pwrite64, R, fd, buf, n, arg)
IO_ONE(recv, W, fd, buf, n, (int)arg)
IO_ONE(send, R, fd, buf, n, (int)arg)
IO_ONE(__send, R, fd, buf, n, (int)arg)

/* A transfer of count bytes: whole, or cut by cut_kind(). */
NO_ACCESS(3) static ssize_t rw(io_fn one, int fd, const void *buf, size_t count, off_t arg, int how)
{
	enum cut c = cut_kind(fd, buf, count, how);
	if (SBMA_LIKELY(c == CUT_NONE))
		return one(fd, (void *)buf, count, arg);
	char *p = (char *)buf;
	if (c == CUT_ONCE)
		return one(fd, p, chunk_len(p, count), arg);
	if (count > max_rw())
		count = max_rw();
	size_t done = 0;
	while (done < count) {
		size_t n = chunk_len(p + done, count - done);
		ssize_t r = one(fd, p + done, n, (how & IO_POS) ? arg + (off_t)done : arg);
		if (r < 0)
			return done ? (ssize_t)done : r;
		done += (size_t)r;
		if ((size_t)r < n)
			break;
	}
	return (ssize_t)done;
}

EXPORT ssize_t read(int fd, void *buf, size_t count)
{
	if (block_until_ready(fd, POLLIN, 0) < 0)
		return -1;
	return rw(read_one, fd, buf, count, 0, IO_READ);
}

EXPORT ssize_t write(int fd, const void *buf, size_t count)
{
	ssize_t r;
	if (blocking_write(fd, buf, count, 0, 0, &r))
		return r;
	return rw(write_one, fd, buf, count, 0, IO_ALL);
}

EXPORT ssize_t pread(int fd, void *buf, size_t count, off_t off)
{
	return rw(pread_one, fd, buf, count, off, IO_READ | IO_POS);
}

EXPORT ssize_t pwrite(int fd, const void *buf, size_t count, off_t off)
{
	return rw(pwrite_one, fd, buf, count, off, IO_ALL | IO_POS);
}

EXPORT ssize_t pread64(int fd, void *buf, size_t count, off64_t off)
{
	return rw(pread64_one, fd, buf, count, off, IO_READ | IO_POS);
}

EXPORT ssize_t pwrite64(int fd, const void *buf, size_t count, off64_t off)
{
	return rw(pwrite64_one, fd, buf, count, off, IO_ALL | IO_POS);
}

/* Old binaries and some libraries call glibc's internal names. */
EXPORT ssize_t __read(int fd, void *buf, size_t count)
{
	if (block_until_ready(fd, POLLIN, 0) < 0)
		return -1;
	return rw(__read_one, fd, buf, count, 0, IO_READ);
}

EXPORT ssize_t __write(int fd, const void *buf, size_t count)
{
	ssize_t r;
	if (blocking_write(fd, buf, count, 0, 0, &r))
		return r;
	return rw(__write_one, fd, buf, count, 0, IO_ALL);
}

EXPORT ssize_t __pread64(int fd, void *buf, size_t count, off64_t off)
{
	return rw(__pread64_one, fd, buf, count, off, IO_READ | IO_POS);
}

EXPORT ssize_t __pwrite64(int fd, const void *buf, size_t count, off64_t off)
{
	return rw(__pwrite64_one, fd, buf, count, off, IO_ALL | IO_POS);
}

/* _FORTIFY_SOURCE builds (most distribution binaries) call these: glibc's
 * check, then the wrapper. */
EXPORT ssize_t __read_chk(int fd, void *buf, size_t count, size_t buflen)
{
	if (count > buflen)
		__chk_fail();
	return read(fd, buf, count);
}

EXPORT ssize_t __pread_chk(int fd, void *buf, size_t count, off_t off, size_t buflen)
{
	if (count > buflen)
		__chk_fail();
	return pread(fd, buf, count, off);
}

EXPORT ssize_t __pread64_chk(int fd, void *buf, size_t count, off64_t off, size_t buflen)
{
	if (count > buflen)
		__chk_fail();
	return pread64(fd, buf, count, off);
}

/* -------------------------------------------------------- vectored calls */

EXPORT ssize_t readv(int fd, const struct iovec *iov, int n)
{
	if (block_until_ready(fd, POLLIN, 0) < 0)
		return -1;
	KCALL(readv, FAIL_NEG, ps_add_iov(&ps_, iov, n, W), fd, iov, n);
}

EXPORT ssize_t writev(int fd, const struct iovec *iov, int n)
{
	if (block_until_ready(fd, POLLOUT, 0) < 0)
		return -1;
	KCALL(writev, FAIL_NEG, ps_add_iov(&ps_, iov, n, R), fd, iov, n);
}

EXPORT ssize_t preadv(int fd, const struct iovec *iov, int n, off_t off)
{
	KCALL(preadv, FAIL_NEG, ps_add_iov(&ps_, iov, n, W), fd, iov, n, off);
}

EXPORT ssize_t pwritev(int fd, const struct iovec *iov, int n, off_t off)
{
	KCALL(pwritev, FAIL_NEG, ps_add_iov(&ps_, iov, n, R), fd, iov, n, off);
}

EXPORT ssize_t preadv64(int fd, const struct iovec *iov, int n, off64_t off)
{
	KCALL(preadv64, FAIL_NEG, ps_add_iov(&ps_, iov, n, W), fd, iov, n, off);
}

EXPORT ssize_t pwritev64(int fd, const struct iovec *iov, int n, off64_t off)
{
	KCALL(pwritev64, FAIL_NEG, ps_add_iov(&ps_, iov, n, R), fd, iov, n, off);
}

EXPORT ssize_t preadv2(int fd, const struct iovec *iov, int n, off_t off, int flags)
{
	KCALL(preadv2, FAIL_NEG, ps_add_iov(&ps_, iov, n, W), fd, iov, n, off, flags);
}

EXPORT ssize_t pwritev2(int fd, const struct iovec *iov, int n, off_t off, int flags)
{
	KCALL(pwritev2, FAIL_NEG, ps_add_iov(&ps_, iov, n, R), fd, iov, n, off, flags);
}

EXPORT ssize_t preadv64v2(int fd, const struct iovec *iov, int n, off64_t off, int flags)
{
	KCALL(preadv64v2, FAIL_NEG, ps_add_iov(&ps_, iov, n, W), fd, iov, n, off, flags);
}

EXPORT ssize_t pwritev64v2(int fd, const struct iovec *iov, int n, off64_t off, int flags)
{
	KCALL(pwritev64v2, FAIL_NEG, ps_add_iov(&ps_, iov, n, R), fd, iov, n, off, flags);
}

/* Only the local side: the remote iovecs' buffers are another process's
 * memory (the remote iovec array itself is ours, and read). */
EXPORT ssize_t process_vm_readv(pid_t pid, const struct iovec *lv, unsigned long ln,
				const struct iovec *rv, unsigned long rn, unsigned long flags)
{
	KCALL(process_vm_readv, FAIL_NEG,
	      (ps_add_iov(&ps_, lv, ln > (unsigned long)IOV_MAX ? -1 : (long)ln, W),
	       BUF(rv, rn > (unsigned long)IOV_MAX ? 0 : rn * sizeof *rv, R)),
	      pid, lv, ln, rv, rn, flags);
}

EXPORT ssize_t process_vm_writev(pid_t pid, const struct iovec *lv, unsigned long ln,
				 const struct iovec *rv, unsigned long rn, unsigned long flags)
{
	KCALL(process_vm_writev, FAIL_NEG,
	      (ps_add_iov(&ps_, lv, ln > (unsigned long)IOV_MAX ? -1 : (long)ln, R),
	       BUF(rv, rn > (unsigned long)IOV_MAX ? 0 : rn * sizeof *rv, R)),
	      pid, lv, ln, rv, rn, flags);
}

/* --------------------------------------------------------------- sockets */

/*
 * recv and send on a stream socket are cut like read and write (rw(), the
 * flags passed on to every chunk), with three exceptions that stay whole:
 * MSG_PEEK|MSG_WAITALL (a loop would peek at the same bytes again), MSG_OOB
 * (the urgent mark goes on the last byte of the call) and any datagram or
 * seqpacket socket (cut_kind() sees those). MSG_WAITALL asks for all the
 * bytes (or an error, the end of the stream, a signal), so such a recv
 * loops like a write. The calls with addresses and
 * the msghdr calls are pinned whole: a message must arrive in one call.
 */
static int recv_how(int flags)
{
	if ((flags & (MSG_PEEK | MSG_WAITALL)) == (MSG_PEEK | MSG_WAITALL) || (flags & MSG_OOB))
		return -1;
	return IO_SOCK | ((flags & MSG_WAITALL) ? IO_ALL : IO_READ);
}

EXPORT ssize_t recv(int fd, void *buf, size_t n, int flags)
{
	if (block_until_ready(fd, POLLIN, flags) < 0)
		return -1;
	int how = recv_how(flags);
	if (how < 0)
		return recv_one(fd, buf, n, flags);
	return rw(recv_one, fd, buf, n, flags, how);
}

/* The peer address: *addrlen bytes at addr, and *addrlen itself (read and
 * written back). */
#define PEER(addr, addrlen)                                                   \
	((addr) && (addrlen) ? (BUF(addr, *(addrlen), W), BUF(addrlen, sizeof *(addrlen), W)) : (void)0)

EXPORT ssize_t recvfrom(int fd, void *buf, size_t n, int flags, __SOCKADDR_ARG addr, socklen_t *addrlen)
{
	if (block_until_ready(fd, POLLIN, flags) < 0)
		return -1;
	KCALL(recvfrom, FAIL_NEG, (BUF(buf, n, W), PEER(addr.__sockaddr__, addrlen)),
	      fd, buf, n, flags, addr, addrlen);
}

EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	if (block_until_ready(fd, POLLIN, flags) < 0)
		return -1;
	KCALL(recvmsg, FAIL_NEG, ps_add_msg(&ps_, msg, W), fd, msg, flags);
}

EXPORT int recvmmsg(int fd, struct mmsghdr *vec, unsigned int n, int flags, struct timespec *timeout)
{
	KCALL(recvmmsg, FAIL_NEG,
	      (ps_add_mmsg(&ps_, vec, n, W), BUF(timeout, timeout ? sizeof *timeout : 0, W)),
	      fd, vec, n, flags, timeout);
}

EXPORT ssize_t send(int fd, const void *buf, size_t n, int flags)
{
	ssize_t r;
	if (!(flags & MSG_OOB) && blocking_write(fd, buf, n, flags, 1, &r))
		return r;
	if (flags & MSG_OOB)
		return send_one(fd, (void *)buf, n, flags);
	return rw(send_one, fd, buf, n, flags, IO_SOCK | IO_ALL);
}

EXPORT ssize_t __send(int fd, const void *buf, size_t n, int flags)
{
	ssize_t r;
	if (!(flags & MSG_OOB) && blocking_write(fd, buf, n, flags, 1, &r))
		return r;
	if (flags & MSG_OOB)
		return __send_one(fd, (void *)buf, n, flags);
	return rw(__send_one, fd, buf, n, flags, IO_SOCK | IO_ALL);
}

EXPORT ssize_t sendto(int fd, const void *buf, size_t n, int flags, __CONST_SOCKADDR_ARG addr,
		      socklen_t addrlen)
{
	if (block_until_ready(fd, POLLOUT, flags) < 0)
		return -1;
	KCALL(sendto, FAIL_NEG,
	      (BUF(buf, n, R), BUF(addr.__sockaddr__, addr.__sockaddr__ ? addrlen : 0, R)),
	      fd, buf, n, flags, addr, addrlen);
}

EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	if (block_until_ready(fd, POLLOUT, flags) < 0)
		return -1;
	KCALL(sendmsg, FAIL_NEG, ps_add_msg(&ps_, msg, R), fd, msg, flags);
}

EXPORT int sendmmsg(int fd, struct mmsghdr *vec, unsigned int n, int flags)
{
	KCALL(sendmmsg, FAIL_NEG, ps_add_mmsg(&ps_, vec, n, R), fd, vec, n, flags);
}

EXPORT ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags)
{
	if (n > buflen)
		__chk_fail();
	return recv(fd, buf, n, flags);
}

EXPORT ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags,
			      __SOCKADDR_ARG addr, socklen_t *addrlen)
{
	if (n > buflen)
		__chk_fail();
	return recvfrom(fd, buf, n, flags, addr, addrlen);
}

/* ------------------------------------------- file system: names and status */

#define PATH(p) ps_add_path(&ps_, (p))

EXPORT ssize_t getdents64(int fd, void *buf, size_t n)
{
	KCALL(getdents64, FAIL_NEG, BUF(buf, n, W), fd, buf, n);
}

EXPORT ssize_t getrandom(void *buf, size_t n, unsigned int flags)
{
	KCALL(getrandom, FAIL_NEG, BUF(buf, n, W), buf, n, flags);
}

/* getcwd(NULL, ...) allocates (through malloc: glibc's for such sizes). */
EXPORT char *getcwd(char *buf, size_t size)
{
	KCALL(getcwd, FAIL_NULL, BUF(buf, buf ? size : 0, W), buf, size);
}

EXPORT char *__getcwd_chk(char *buf, size_t size, size_t buflen)
{
	if (size > buflen)
		__chk_fail();
	return getcwd(buf, size);
}

EXPORT ssize_t readlink(const char *path, char *buf, size_t n)
{
	KCALL(readlink, FAIL_NEG, (PATH(path), BUF(buf, n, W)), path, buf, n);
}

EXPORT ssize_t readlinkat(int dirfd, const char *path, char *buf, size_t n)
{
	KCALL(readlinkat, FAIL_NEG, (PATH(path), BUF(buf, n, W)), dirfd, path, buf, n);
}

EXPORT ssize_t __readlink_chk(const char *path, char *buf, size_t len, size_t buflen)
{
	if (len > buflen)
		__chk_fail();
	return readlink(path, buf, len);
}

EXPORT ssize_t __readlinkat_chk(int dirfd, const char *path, char *buf, size_t len, size_t buflen)
{
	if (len > buflen)
		__chk_fail();
	return readlinkat(dirfd, path, buf, len);
}

/* The stat family: a path (read) and a structure (written). */
#define STATBUF(st) BUF(st, sizeof *(st), W)

EXPORT int stat(const char *path, struct stat *st)
{
	KCALL(stat, FAIL_NEG, (PATH(path), STATBUF(st)), path, st);
}

EXPORT int lstat(const char *path, struct stat *st)
{
	KCALL(lstat, FAIL_NEG, (PATH(path), STATBUF(st)), path, st);
}

EXPORT int fstat(int fd, struct stat *st)
{
	KCALL(fstat, FAIL_NEG, STATBUF(st), fd, st);
}

EXPORT int fstatat(int dirfd, const char *path, struct stat *st, int flags)
{
	KCALL(fstatat, FAIL_NEG, (PATH(path), STATBUF(st)), dirfd, path, st, flags);
}

EXPORT int stat64(const char *path, struct stat64 *st)
{
	KCALL(stat64, FAIL_NEG, (PATH(path), STATBUF(st)), path, st);
}

EXPORT int lstat64(const char *path, struct stat64 *st)
{
	KCALL(lstat64, FAIL_NEG, (PATH(path), STATBUF(st)), path, st);
}

EXPORT int fstat64(int fd, struct stat64 *st)
{
	KCALL(fstat64, FAIL_NEG, STATBUF(st), fd, st);
}

EXPORT int fstatat64(int dirfd, const char *path, struct stat64 *st, int flags)
{
	KCALL(fstatat64, FAIL_NEG, (PATH(path), STATBUF(st)), dirfd, path, st, flags);
}

/* What binaries built against glibc before 2.33 call for stat(). */
EXPORT int __xstat(int ver, const char *path, struct stat *st)
{
	KCALL(__xstat, FAIL_NEG, (PATH(path), STATBUF(st)), ver, path, st);
}

EXPORT int __lxstat(int ver, const char *path, struct stat *st)
{
	KCALL(__lxstat, FAIL_NEG, (PATH(path), STATBUF(st)), ver, path, st);
}

EXPORT int __fxstat(int ver, int fd, struct stat *st)
{
	KCALL(__fxstat, FAIL_NEG, STATBUF(st), ver, fd, st);
}

EXPORT int __fxstatat(int ver, int dirfd, const char *path, struct stat *st, int flags)
{
	KCALL(__fxstatat, FAIL_NEG, (PATH(path), STATBUF(st)), ver, dirfd, path, st, flags);
}

EXPORT int __xstat64(int ver, const char *path, struct stat64 *st)
{
	KCALL(__xstat64, FAIL_NEG, (PATH(path), STATBUF(st)), ver, path, st);
}

EXPORT int __lxstat64(int ver, const char *path, struct stat64 *st)
{
	KCALL(__lxstat64, FAIL_NEG, (PATH(path), STATBUF(st)), ver, path, st);
}

EXPORT int __fxstat64(int ver, int fd, struct stat64 *st)
{
	KCALL(__fxstat64, FAIL_NEG, STATBUF(st), ver, fd, st);
}

EXPORT int __fxstatat64(int ver, int dirfd, const char *path, struct stat64 *st, int flags)
{
	KCALL(__fxstatat64, FAIL_NEG, (PATH(path), STATBUF(st)), ver, dirfd, path, st, flags);
}

EXPORT int statx(int dirfd, const char *path, int flags, unsigned int mask, struct statx *st)
{
	KCALL(statx, FAIL_NEG, (PATH(path), STATBUF(st)), dirfd, path, flags, mask, st);
}

EXPORT int statfs(const char *path, struct statfs *st)
{
	KCALL(statfs, FAIL_NEG, (PATH(path), STATBUF(st)), path, st);
}

EXPORT int fstatfs(int fd, struct statfs *st)
{
	KCALL(fstatfs, FAIL_NEG, STATBUF(st), fd, st);
}

EXPORT int statfs64(const char *path, struct statfs64 *st)
{
	KCALL(statfs64, FAIL_NEG, (PATH(path), STATBUF(st)), path, st);
}

EXPORT int fstatfs64(int fd, struct statfs64 *st)
{
	KCALL(fstatfs64, FAIL_NEG, STATBUF(st), fd, st);
}

/*
 * Calls that only read path names: a name inside a large allocation (a list
 * of file names read into one buffer, say) may be evicted, and the kernel
 * would fail the call with EFAULT. Pinned like the stat family's. fopen,
 * freopen and opendir open the file with glibc's internal open, which no
 * interposer sees: they are wrapped themselves. Not covered: the exec
 * family (argument and environment arrays), and path calls not listed here
 * (docs/preload.md).
 */

/* open's mode argument is there only with O_CREAT or O_TMPFILE. */
#define OPEN_MODE(flags, mode)                                                \
	do {                                                                  \
		if (((flags) & O_CREAT) || ((flags) & O_TMPFILE) == O_TMPFILE) { \
			va_list ap_;                                          \
			va_start(ap_, flags);                                 \
			mode = va_arg(ap_, mode_t);                           \
			va_end(ap_);                                          \
		}                                                             \
	} while (0)

EXPORT int open(const char *path, int flags, ...)
{
	mode_t mode = 0;
	OPEN_MODE(flags, mode);
	KCALL(open, FAIL_NEG, PATH(path), path, flags, mode);
}

EXPORT int open64(const char *path, int flags, ...)
{
	mode_t mode = 0;
	OPEN_MODE(flags, mode);
	KCALL(open64, FAIL_NEG, PATH(path), path, flags, mode);
}

EXPORT int openat(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;
	OPEN_MODE(flags, mode);
	KCALL(openat, FAIL_NEG, PATH(path), dirfd, path, flags, mode);
}

EXPORT int openat64(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;
	OPEN_MODE(flags, mode);
	KCALL(openat64, FAIL_NEG, PATH(path), dirfd, path, flags, mode);
}

EXPORT int __open_2(const char *path, int flags)
{
	KCALL(__open_2, FAIL_NEG, PATH(path), path, flags);
}

EXPORT int __open64_2(const char *path, int flags)
{
	KCALL(__open64_2, FAIL_NEG, PATH(path), path, flags);
}

EXPORT int __openat_2(int dirfd, const char *path, int flags)
{
	KCALL(__openat_2, FAIL_NEG, PATH(path), dirfd, path, flags);
}

EXPORT int __openat64_2(int dirfd, const char *path, int flags)
{
	KCALL(__openat64_2, FAIL_NEG, PATH(path), dirfd, path, flags);
}

EXPORT int creat(const char *path, mode_t mode)
{
	KCALL(creat, FAIL_NEG, PATH(path), path, mode);
}

EXPORT int creat64(const char *path, mode_t mode)
{
	KCALL(creat64, FAIL_NEG, PATH(path), path, mode);
}

EXPORT FILE *fopen(const char *path, const char *mode)
{
	KCALL(fopen, FAIL_NULL, (PATH(path), PATH(mode)), path, mode);
}

EXPORT FILE *fopen64(const char *path, const char *mode)
{
	KCALL(fopen64, FAIL_NULL, (PATH(path), PATH(mode)), path, mode);
}

EXPORT FILE *freopen(const char *path, const char *mode, FILE *f)
{
	KCALL(freopen, FAIL_NULL, (PATH(path), PATH(mode)), path, mode, f);
}

EXPORT FILE *freopen64(const char *path, const char *mode, FILE *f)
{
	KCALL(freopen64, FAIL_NULL, (PATH(path), PATH(mode)), path, mode, f);
}

EXPORT DIR *opendir(const char *path)
{
	KCALL(opendir, FAIL_NULL, PATH(path), path);
}

EXPORT int access(const char *path, int how)
{
	KCALL(access, FAIL_NEG, PATH(path), path, how);
}

EXPORT int faccessat(int dirfd, const char *path, int how, int flags)
{
	KCALL(faccessat, FAIL_NEG, PATH(path), dirfd, path, how, flags);
}

EXPORT int unlink(const char *path)
{
	KCALL(unlink, FAIL_NEG, PATH(path), path);
}

EXPORT int unlinkat(int dirfd, const char *path, int flags)
{
	KCALL(unlinkat, FAIL_NEG, PATH(path), dirfd, path, flags);
}

EXPORT int mkdir(const char *path, mode_t mode)
{
	KCALL(mkdir, FAIL_NEG, PATH(path), path, mode);
}

EXPORT int mkdirat(int dirfd, const char *path, mode_t mode)
{
	KCALL(mkdirat, FAIL_NEG, PATH(path), dirfd, path, mode);
}

EXPORT int rmdir(const char *path)
{
	KCALL(rmdir, FAIL_NEG, PATH(path), path);
}

EXPORT int rename(const char *from, const char *to)
{
	KCALL(rename, FAIL_NEG, (PATH(from), PATH(to)), from, to);
}

EXPORT int renameat(int fromfd, const char *from, int tofd, const char *to)
{
	KCALL(renameat, FAIL_NEG, (PATH(from), PATH(to)), fromfd, from, tofd, to);
}

EXPORT int chdir(const char *path)
{
	KCALL(chdir, FAIL_NEG, PATH(path), path);
}

EXPORT int truncate(const char *path, off_t len)
{
	KCALL(truncate, FAIL_NEG, PATH(path), path, len);
}

EXPORT int truncate64(const char *path, off64_t len)
{
	KCALL(truncate64, FAIL_NEG, PATH(path), path, len);
}

EXPORT int chmod(const char *path, mode_t mode)
{
	KCALL(chmod, FAIL_NEG, PATH(path), path, mode);
}

EXPORT int symlink(const char *target, const char *path)
{
	KCALL(symlink, FAIL_NEG, (PATH(target), PATH(path)), target, path);
}

EXPORT int link(const char *from, const char *to)
{
	KCALL(link, FAIL_NEG, (PATH(from), PATH(to)), from, to);
}

/* ----------------------------------------------------------------- stdio */

/*
 * Large fread/fwrite transfers go straight between the program's buffer
 * and the kernel, through calls inside glibc that no wrapper sees: the
 * buffer is pinned around the stdio call. Split into chunks under the
 * stream's lock (flockfile nests), each one an fread_unlocked or
 * fwrite_unlocked of bytes; stdio loops until done or EOF/error anyway, so
 * the result is the same, counted in items.
 */

/* stdio's size * nmemb; 0 (nothing pinned) if it overflows, which libc then
 * rejects itself. */
static inline size_t items(size_t size, size_t nmemb)
{
	size_t len;
	return __builtin_mul_overflow(size, nmemb, &len) ? 0 : len;
}

typedef size_t (*stdio_fn)(void *ptr, size_t size, size_t nmemb, FILE *f);

/* Bytes of a stdio transfer that may reach the kernel from the caller's
 * buffer. glibc copies a transfer shorter than the stream's buffer through
 * that buffer (a plain memcpy, which faults like any access), and hands
 * the caller's buffer to the kernel only from the buffer's size up; pinning
 * every short transfer cost four system calls per line of `sort` output.
 * A stream whose buffer is not allocated yet counts as unbuffered. */
static inline size_t stdio_direct(FILE *f, size_t len)
{
	size_t b = __fbufsize(f);
	return b && len < b ? 0 : len;
}

#define STDIO_ONE(name, access)                                               \
	static size_t name##_one(void *ptr, size_t size, size_t nmemb, FILE *f) \
	{                                                                     \
		KCALL(name, FAIL_NEVER, BUF(ptr, stdio_direct(f, items(size, nmemb)), access), \
		      ptr, size, nmemb, f);                                   \
	}
STDIO_ONE(fread, W)
STDIO_ONE(fwrite, R)
STDIO_ONE(fread_unlocked, W)
STDIO_ONE(fwrite_unlocked, R)

/* Bytes a stream has buffered for reading (glibc's FILE, which
 * <stdio.h> makes public). */
static inline size_t stdio_buffered(FILE *f)
{
	return f->_IO_read_end > f->_IO_read_ptr ? (size_t)(f->_IO_read_end - f->_IO_read_ptr) : 0;
}

/* Whether a stdio transfer of len bytes makes a system call: more than the
 * buffer holds (out 0) or has room for (out 1); a line-buffered or
 * unbuffered stream, or one whose buffer is not allocated yet, may. */
static int stdio_calls_kernel(FILE *f, size_t len, int out)
{
	if (!out)
		return len > stdio_buffered(f);
	size_t b = __fbufsize(f);
	return __flbf(f) || b <= 1 || len > b - __fpending(f);
}

/*
 * Before a piece of a stdio transfer, when the process shares a node
 * budget: wait, blocked, until the stream's descriptor is ready (see
 * "blocking calls"), and on a pipe, FIFO, socket or terminal shorten the
 * piece to what will not wait again: reading, what the buffer and the
 * kernel hold (FIONREAD; nothing means end of file, which does not wait);
 * writing, one buffer flush (no more than PIPE_BUF with a pipe's or a
 * socket's 4 KiB buffer), or one byte while the buffer is not allocated
 * (which allocates it). Regular files are never cut this way: a large
 * fwrite to one stays one write. *kind: waits_kind() of the descriptor,
 * -1 until a piece needs it (kept across the pieces of one call). Returns
 * -1 if a handler interrupted the wait: errno EINTR and the stream's error
 * flag, as glibc leaves them when its read or write fails so.
 */
static int stdio_piece(FILE *f, size_t *n, int out, int *kind)
{
	int fd = fileno_unlocked(f);
	if (fd < 0 || !stdio_calls_kernel(f, *n, out))
		return 0;
	short ev = out ? POLLOUT : POLLIN;
	if (ready_for(fd, ev) < 0) {
		f->_flags |= _IO_ERR_SEEN;
		return -1;
	}
	size_t most = *n;
	int saved = errno;
	if (out) {
		size_t b = __fbufsize(f);
		if (b == 0)
			most = 1;
		else if (b > 1 && !__flbf(f))
			most = b - __fpending(f) + b - 1;
	} else {
		int avail = 0;
		if (ioctl(fd, FIONREAD, &avail) == 0 && avail > 0)
			most = stdio_buffered(f) + (size_t)avail;
	}
	if (most < *n) {
		if (*kind < 0)
			*kind = waits_kind(fd, ev);
		if (*kind != WAIT_NO)
			*n = most;
	}
	errno = saved;
	return 0;
}

/* whole: the call as made; chunk: the _unlocked call for one chunk or
 * piece. out: fwrite (1) or fread (0). */
static size_t stdio_rw(stdio_fn whole, stdio_fn chunk, void *ptr, size_t size, size_t nmemb, FILE *f, int out)
{
	size_t len = items(size, nmemb);
	int cut = in_sbma(ptr, len) && len > chunk_limit();
	int wait = shared_budget() && len && stdio_calls_kernel(f, len, out);
	if (SBMA_LIKELY(!cut && !wait))
		return whole(ptr, size, nmemb, f);
	char *p = ptr;
	size_t done = 0;
	int kind = -1;
	flockfile(f);
	while (done < len) {
		size_t n = cut ? chunk_len(p + done, len - done) : len - done;
		if (wait && stdio_piece(f, &n, out, &kind) < 0)
			break;
		size_t r = chunk(p + done, 1, n, f);
		done += r;
		if (r < n)
			break;
	}
	funlockfile(f);
	return done / size;
}

EXPORT size_t fread(void *ptr, size_t size, size_t nmemb, FILE *f)
{
	return stdio_rw(fread_one, fread_unlocked_one, ptr, size, nmemb, f, 0);
}

EXPORT size_t fwrite(const void *ptr, size_t size, size_t nmemb, FILE *f)
{
	return stdio_rw(fwrite_one, fwrite_unlocked_one, (void *)ptr, size, nmemb, f, 1);
}

EXPORT size_t fread_unlocked(void *ptr, size_t size, size_t nmemb, FILE *f)
{
	return stdio_rw(fread_unlocked_one, fread_unlocked_one, ptr, size, nmemb, f, 0);
}

EXPORT size_t fwrite_unlocked(const void *ptr, size_t size, size_t nmemb, FILE *f)
{
	return stdio_rw(fwrite_unlocked_one, fwrite_unlocked_one, (void *)ptr, size, nmemb, f, 1);
}

EXPORT size_t __fread_chk(void *ptr, size_t ptrlen, size_t size, size_t nmemb, FILE *f)
{
	size_t len;
	if (__builtin_mul_overflow(size, nmemb, &len) || len > ptrlen)
		__chk_fail();
	return fread(ptr, size, nmemb, f);
}

EXPORT size_t __fread_unlocked_chk(void *ptr, size_t ptrlen, size_t size, size_t nmemb, FILE *f)
{
	size_t len;
	if (__builtin_mul_overflow(size, nmemb, &len) || len > ptrlen)
		__chk_fail();
	return fread_unlocked(ptr, size, nmemb, f);
}

/* Before a string goes to a stream: wait while its descriptor is full, if
 * the string will not fit in the buffer (stdio_piece). EOF if a handler
 * interrupted the wait. */
static int puts_ready(const char *s, size_t extra, FILE *f)
{
	if (!shared_budget())
		return 0;
	size_t n = strlen(s) + extra;
	int kind = WAIT_NO; /* wait if need be, never cut */
	return stdio_piece(f, &n, 1, &kind);
}

/* A string longer than the stream's buffer goes to the kernel from where it
 * is. Not split: the string is read (strlen) just before, so it is resident
 * unless it is larger than the budget. */
EXPORT int fputs(const char *s, FILE *f)
{
	if (puts_ready(s, 0, f) < 0)
		return EOF;
	KCALL(fputs, FAIL_NEVER, PATH(s), s, f);
}

EXPORT int fputs_unlocked(const char *s, FILE *f)
{
	if (puts_ready(s, 0, f) < 0)
		return EOF;
	KCALL(fputs_unlocked, FAIL_NEVER, PATH(s), s, f);
}

EXPORT int puts(const char *s)
{
	if (puts_ready(s, 1, stdout) < 0)
		return EOF;
	KCALL(puts, FAIL_NEVER, PATH(s), s);
}
