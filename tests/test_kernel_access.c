/*
 * test_kernel_access.c - system calls on SBMA memory the kernel touches
 * itself (src/kernel_access.c), and the allocator entry points a real
 * program uses (src/preload.c).
 *
 * The kernel raises no fault on protected user memory: it fails with
 * EFAULT. The first test proves it, with raw syscall(2)s on evicted,
 * never-touched and read-only SBMA pages; every other test makes the same
 * kind of call through the wrapped libc function and checks the result and
 * the data bit for bit. Each wrapped function is called with its buffers in
 * SBMA memory in every state that fails without the wrapper: evicted with
 * data (PROT_NONE, on disk), never touched (PROT_NONE, a hole), and
 * resident but read-only (for buffers the kernel writes). That covers
 * read, write, pread, pwrite and their *64, __* and _chk forms; readv,
 * writev, preadv, pwritev, preadv2, pwritev2 (+64), with the iovec arrays
 * themselves in evicted SBMA memory; pipes; send/recv/sendto/recvfrom,
 * sendmsg/recvmsg (data, peer address and SCM_RIGHTS control data, msghdr
 * and iovecs all in SBMA memory), sendmmsg/recvmmsg; the stat family
 * (stat, lstat, fstat, fstatat, their 64 forms, the __xstat forms of old
 * binaries, statx, statfs, fstatfs), with the path name in SBMA memory too;
 * getdents64, readlink(at), getcwd, getrandom, process_vm_readv/writev;
 * fread/fwrite (+_unlocked, _chk), fputs and puts; the printf family with a
 * calls that only read path names (open, fopen, opendir, access, mkdir,
 * rename, unlink... 30 in all) with the names in evicted SBMA memory; the
 * printf family with a
 * %s string of twice the budget (fprintf, vfprintf, dprintf, printf and
 * their _chk forms, and a %.*s precision); a stream buffer in SBMA memory
 * (setvbuf, setbuffer) evicted between calls. Transfers of 3x the
 * budget are cut into pinned chunks where the program cannot tell: on a
 * regular file (write, read, pwrite, pread, fwrite, fread) the data is
 * exact, nothing goes over the budget, and a read past the end of the file
 * stops there; a pipe write and a stream-socket send or MSG_WAITALL recv
 * are whole, a pipe read returns at most a chunk; a vectored call is pinned
 * whole and goes over the budget, counted. Pins hold while another thread
 * evicts everything in a loop. Then the allocator: reallocarray overflow (ENOMEM, the block
 * untouched), memalign/aligned_alloc/posix_memalign/valloc/pvalloc
 * alignment as glibc defines it, malloc_usable_size, cfree, mallopt,
 * glibc's own allocations (strdup of 2 MiB) staying glibc's,
 * mallinfo/mallinfo2 (SBMA's blocks counted as mmapped chunks),
 * malloc_trim, malloc_stats, and bad frees: a double free and interior
 * pointers are reported with the address and change nothing, and with
 * SBMA_CHECK=1 the process stops with the address named (in re-executed
 * children, stderr checked).
 *
 * Built a second time as test_kernel_access_net (-DKA_NET_TEST), with the
 * wrappers compiled in and pinning switched off by the fault-injection
 * flag sbma__ka_nopin, to show that the EFAULT net alone rescues a call.
 * Run alone it uses SBMA_BUDGET=16M; tests/kaccess-*.sh run it with other
 * SBMA pages.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdarg.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "test_common.h"

/* Exported by glibc (and libsbma) but declared by no header. */
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
ssize_t __read_chk(int fd, void *buf, size_t count, size_t buflen);
ssize_t __pread_chk(int fd, void *buf, size_t count, off_t off, size_t buflen);
ssize_t __pread64_chk(int fd, void *buf, size_t count, off64_t off, size_t buflen);
size_t __fread_chk(void *ptr, size_t ptrlen, size_t size, size_t nmemb, FILE *stream);
size_t __fread_unlocked_chk(void *ptr, size_t ptrlen, size_t size, size_t nmemb, FILE *stream);
ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags);
ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags,
		       struct sockaddr *addr, socklen_t *addrlen);
ssize_t __readlink_chk(const char *path, char *buf, size_t len, size_t buflen);
ssize_t __readlinkat_chk(int dirfd, const char *path, char *buf, size_t len, size_t buflen);
char *__getcwd_chk(char *buf, size_t size, size_t buflen);
void cfree(void *ptr);
/* glibc's own allocator: buffers that must not be SBMA memory. */
void *__libc_malloc(size_t size);
void __libc_free(void *ptr);

static struct sbma_config cfg;
static size_t psz;
static char **main_argv;
static char dir[] = "/tmp/sbma-kaccess-XXXXXX"; /* files, links, a directory */

/* ------------------------------------------------------------ buffers */

/* The states in which a buffer makes the kernel fail without the wrapper. */
enum kind { EVICTED, FRESH, RDONLY, NKINDS };
__attribute__((unused)) static const char *const kind_name[] = { "evicted", "never touched", "read-only" };

/* n bytes (a multiple of 8) of SBMA memory in state k; an evicted buffer
 * holds data (seed), the others zeros. */
static char *sbuf(size_t n, enum kind k, uint64_t seed)
{
	char *p = sbma_malloc(n);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	if (k == EVICTED)
		tc_fill(p, n, seed, 1, 0);
	CU_ASSERT_FATAL(sbma_evict_all() >= 0);
	if (k == RDONLY) {
		/* Read every page: resident, readable, not writable. */
		volatile const char *v = p;
		for (size_t i = 0; i < n; i += 512)
			(void)v[i];
	}
	return p;
}

/* A copy of s in evicted SBMA memory. */
__attribute__((unused)) static char *sstr(const char *s)
{
	size_t n = (strlen(s) + 8) & ~(size_t)7;
	char *p = sbma_malloc(n);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	strcpy(p, s);
	CU_ASSERT_FATAL(sbma_evict_all() >= 0);
	return p;
}

static int tmpfd(void)
{
	char path[64];
	snprintf(path, sizeof path, "%s/f-XXXXXX", dir);
	int fd = mkstemp(path);
	CU_ASSERT_FATAL(fd >= 0);
	unlink(path);
	return fd;
}

/* A file holding n bytes of reference data (seed), written from libc
 * memory. */
static int data_file(size_t n, uint64_t seed)
{
	int fd = tmpfd();
	uint64_t chunk[1024];
	for (size_t off = 0; off < n; off += sizeof chunk) {
		size_t len = n - off < sizeof chunk ? n - off : sizeof chunk;
		tc_fill(chunk, len, seed, 1, off / 8);
		CU_ASSERT_FATAL(pwrite(fd, chunk, len, (off_t)off) == (ssize_t)len);
	}
	return fd;
}

/* Number of bytes of fd's [0, n) that differ from the reference (read into
 * libc memory). */
static size_t file_bad(int fd, size_t n, uint64_t seed)
{
	static uint64_t got[8192], want[8192];
	size_t bad = 0;
	for (size_t off = 0; off < n; off += sizeof got) {
		size_t len = n - off < sizeof got ? n - off : sizeof got;
		if (pread(fd, got, len, (off_t)off) != (ssize_t)len)
			return n;
		tc_fill(want, len, seed, 1, off / 8);
		for (size_t i = 0; i < len / 8; i++)
			bad += got[i] != want[i];
	}
	return bad;
}

__attribute__((unused)) static uint64_t over_budget(void)
{
	return tc_stats().over_budget;
}

static char file_path[128], link_path[128], long_target[400];

/* The iovec array for the vectored calls: in SBMA memory (written now,
 * evicted with everything else before the call), three uneven pieces. */
static struct iovec *iov3(char *buf, size_t n)
{
	struct iovec *v = sbma_malloc(3 * sizeof *v);
	CU_ASSERT_PTR_NOT_NULL_FATAL(v);
	size_t a = 8 * 1000 + 8, b = n / 2 + 8;
	v[0] = (struct iovec){ buf, a };
	v[1] = (struct iovec){ buf + a, b - a };
	v[2] = (struct iovec){ buf + b, n - b };
	CU_ASSERT_FATAL(sbma_evict_all() >= 0);
	return v;
}

#ifndef KA_NET_TEST
/* ------------------------------------------- 0. the kernel does not fault */

static void test_raw_efault(void)
{
	size_t n = 64 * KiB;
	int fd = data_file(n, 1);
	char *ev = sbuf(n, EVICTED, 2), *fr = sbuf(n, FRESH, 0), *ro = sbuf(n, RDONLY, 0);

	errno = 0;
	CU_ASSERT_EQUAL(syscall(SYS_write, fd, ev, n), -1);
	CU_ASSERT_EQUAL(errno, EFAULT);
	errno = 0;
	CU_ASSERT_EQUAL(syscall(SYS_pread64, fd, fr, n, 0), -1);
	CU_ASSERT_EQUAL(errno, EFAULT);
	errno = 0;
	CU_ASSERT_EQUAL(syscall(SYS_pread64, fd, ro, n, 0), -1);
	CU_ASSERT_EQUAL(errno, EFAULT);
	CU_ASSERT(sbma_evict_all() >= 0);
	errno = 0;
	CU_ASSERT_EQUAL(syscall(SYS_pread64, fd, ev, n, 0), -1);
	CU_ASSERT_EQUAL(errno, EFAULT);
	errno = 0;
	CU_ASSERT_EQUAL(syscall(SYS_fstat, fd, fr), -1);
	CU_ASSERT_EQUAL(errno, EFAULT);
	errno = 0;
	CU_ASSERT_EQUAL(syscall(SYS_getcwd, fr, 4096), -1);
	CU_ASSERT_EQUAL(errno, EFAULT);
	int sv[2];
	CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	CU_ASSERT_EQUAL(send(sv[0], "x", 1, 0), 1);
	errno = 0;
	CU_ASSERT_EQUAL(syscall(SYS_recvfrom, sv[1], fr, 1, 0, NULL, NULL), -1);
	CU_ASSERT_EQUAL(errno, EFAULT);
	/* The byte is still there for the wrapped call. */
	CU_ASSERT_EQUAL(recv(sv[1], fr, 1, 0), 1);
	CU_ASSERT_EQUAL(fr[0], 'x');
	/* Nothing was damaged by the failed calls. */
	CU_ASSERT_EQUAL(tc_check(ev, n, 2, 1, 0, "after raw calls"), 0);
	close(sv[0]);
	close(sv[1]);
	close(fd);
	sbma_free(ev);
	sbma_free(fr);
	sbma_free(ro);
}

/* ------------------------------------------------- 1. read/write family */

#define NIO (512 * KiB)

/* Each writer writes buf[0..n) at file offset 0; each reader reads file
 * offset 0..n into buf. */
struct io_op {
	const char *name;
	ssize_t (*fn)(int fd, char *buf, size_t n);
};

#define VEC_OP(call, ...)                                                     \
	{                                                                     \
		struct iovec *v = iov3(buf, n);                               \
		ssize_t r = call(fd, v, 3, ##__VA_ARGS__);                    \
		sbma_free(v);                                                 \
		return r;                                                     \
	}

static ssize_t w_write(int fd, char *buf, size_t n) { lseek(fd, 0, SEEK_SET); return write(fd, buf, n); }
static ssize_t w___write(int fd, char *buf, size_t n) { lseek(fd, 0, SEEK_SET); return __write(fd, buf, n); }
static ssize_t w_pwrite(int fd, char *buf, size_t n) { return pwrite(fd, buf, n, 0); }
static ssize_t w_pwrite64(int fd, char *buf, size_t n) { return pwrite64(fd, buf, n, 0); }
static ssize_t w___pwrite64(int fd, char *buf, size_t n) { return __pwrite64(fd, buf, n, 0); }
static ssize_t w_writev(int fd, char *buf, size_t n) { lseek(fd, 0, SEEK_SET); VEC_OP(writev) }
static ssize_t w_pwritev(int fd, char *buf, size_t n) VEC_OP(pwritev, 0)
static ssize_t w_pwritev64(int fd, char *buf, size_t n) VEC_OP(pwritev64, 0)
static ssize_t w_pwritev2(int fd, char *buf, size_t n) VEC_OP(pwritev2, 0, 0)
static ssize_t w_pwritev64v2(int fd, char *buf, size_t n) VEC_OP(pwritev64v2, 0, 0)

static ssize_t stdio_op(int fd, char *buf, size_t n, int write, int how)
{
	FILE *f = fdopen(dup(fd), write ? "w" : "r");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	lseek(fd, 0, SEEK_SET);
	size_t r;
	if (write)
		r = how ? fwrite_unlocked(buf, 8, n / 8, f) : fwrite(buf, 8, n / 8, f);
	else if (how == 0)
		r = fread(buf, 8, n / 8, f);
	else if (how == 1)
		r = fread_unlocked(buf, 8, n / 8, f);
	else if (how == 2)
		r = __fread_chk(buf, n, 8, n / 8, f);
	else
		r = __fread_unlocked_chk(buf, n, 8, n / 8, f);
	fclose(f);
	return (ssize_t)(r * 8);
}
static ssize_t w_fwrite(int fd, char *buf, size_t n) { return stdio_op(fd, buf, n, 1, 0); }
static ssize_t w_fwrite_unlocked(int fd, char *buf, size_t n) { return stdio_op(fd, buf, n, 1, 1); }

static ssize_t r_read(int fd, char *buf, size_t n) { lseek(fd, 0, SEEK_SET); return read(fd, buf, n); }
static ssize_t r___read(int fd, char *buf, size_t n) { lseek(fd, 0, SEEK_SET); return __read(fd, buf, n); }
static ssize_t r___read_chk(int fd, char *buf, size_t n) { lseek(fd, 0, SEEK_SET); return __read_chk(fd, buf, n, n); }
static ssize_t r_pread(int fd, char *buf, size_t n) { return pread(fd, buf, n, 0); }
static ssize_t r_pread64(int fd, char *buf, size_t n) { return pread64(fd, buf, n, 0); }
static ssize_t r___pread64(int fd, char *buf, size_t n) { return __pread64(fd, buf, n, 0); }
static ssize_t r___pread_chk(int fd, char *buf, size_t n) { return __pread_chk(fd, buf, n, 0, n); }
static ssize_t r___pread64_chk(int fd, char *buf, size_t n) { return __pread64_chk(fd, buf, n, 0, n); }
static ssize_t r_readv(int fd, char *buf, size_t n) { lseek(fd, 0, SEEK_SET); VEC_OP(readv) }
static ssize_t r_preadv(int fd, char *buf, size_t n) VEC_OP(preadv, 0)
static ssize_t r_preadv64(int fd, char *buf, size_t n) VEC_OP(preadv64, 0)
static ssize_t r_preadv2(int fd, char *buf, size_t n) VEC_OP(preadv2, 0, 0)
static ssize_t r_preadv64v2(int fd, char *buf, size_t n) VEC_OP(preadv64v2, 0, 0)
static ssize_t r_fread(int fd, char *buf, size_t n) { return stdio_op(fd, buf, n, 0, 0); }
static ssize_t r_fread_unlocked(int fd, char *buf, size_t n) { return stdio_op(fd, buf, n, 0, 1); }
static ssize_t r___fread_chk(int fd, char *buf, size_t n) { return stdio_op(fd, buf, n, 0, 2); }
static ssize_t r___fread_unlocked_chk(int fd, char *buf, size_t n) { return stdio_op(fd, buf, n, 0, 3); }

#define OP(f) { #f, f }
static const struct io_op writers[] = {
	OP(w_write), OP(w___write), OP(w_pwrite), OP(w_pwrite64), OP(w___pwrite64),
	OP(w_writev), OP(w_pwritev), OP(w_pwritev64), OP(w_pwritev2), OP(w_pwritev64v2),
	OP(w_fwrite), OP(w_fwrite_unlocked),
};
static const struct io_op readers[] = {
	OP(r_read), OP(r___read), OP(r___read_chk), OP(r_pread), OP(r_pread64),
	OP(r___pread64), OP(r___pread_chk), OP(r___pread64_chk), OP(r_readv),
	OP(r_preadv), OP(r_preadv64), OP(r_preadv2), OP(r_preadv64v2), OP(r_fread),
	OP(r_fread_unlocked), OP(r___fread_chk), OP(r___fread_unlocked_chk),
};

static void test_file_io(void)
{
	size_t n = NIO;
	for (size_t i = 0; i < sizeof writers / sizeof *writers; i++) {
		int fd = tmpfd();
		char *buf = sbuf(n, EVICTED, 100 + i);
		ssize_t r = writers[i].fn(fd, buf, n);
		if (r != (ssize_t)n)
			fprintf(stderr, "  %s: %zd (%s)\n", writers[i].name, r, strerror(errno));
		CU_ASSERT_EQUAL(r, (ssize_t)n);
		CU_ASSERT_EQUAL(file_bad(fd, n, 100 + i), 0);
		CU_ASSERT_EQUAL(tc_check(buf, n, 100 + i, 1, 0, writers[i].name), 0);
		sbma_free(buf);
		close(fd);
	}
	int fd = data_file(n, 7);
	for (size_t i = 0; i < sizeof readers / sizeof *readers; i++) {
		for (int k = 0; k < NKINDS; k++) {
			char *buf = sbuf(n, (enum kind)k, 200 + i);
			ssize_t r = readers[i].fn(fd, buf, n);
			if (r != (ssize_t)n)
				fprintf(stderr, "  %s into %s memory: %zd (%s)\n", readers[i].name,
					kind_name[k], r, strerror(errno));
			CU_ASSERT_EQUAL(r, (ssize_t)n);
			CU_ASSERT_EQUAL(tc_check(buf, n, 7, 1, 0, readers[i].name), 0);
			sbma_free(buf);
		}
	}
	close(fd);
}

/* More separate SBMA ranges than the wrapper keeps on its stack: 24 iovecs
 * over every other page of one buffer, evicted. */
static void test_many_ranges(void)
{
	enum { NV = 24 };
	size_t piece = psz < 64 * KiB ? psz : 64 * KiB;
	size_t n = 2 * NV * psz;
	char *src = sbuf(n, EVICTED, 31), *dst = sbuf(n, FRESH, 0);
	struct iovec *v = sbma_malloc(2 * NV * sizeof *v);
	CU_ASSERT_PTR_NOT_NULL_FATAL(v);
	for (int i = 0; i < NV; i++) {
		v[i] = (struct iovec){ src + 2 * (size_t)i * psz, piece };
		v[NV + i] = (struct iovec){ dst + 2 * (size_t)i * psz, piece };
	}
	CU_ASSERT(sbma_evict_all() >= 0);
	int fd = tmpfd();
	CU_ASSERT_EQUAL(pwritev(fd, v, NV, 0), (ssize_t)(NV * piece));
	CU_ASSERT(sbma_evict_all() >= 0);
	CU_ASSERT_EQUAL(preadv(fd, v + NV, NV, 0), (ssize_t)(NV * piece));
	size_t bad = 0;
	for (int i = 0; i < NV; i++)
		bad += memcmp(src + 2 * (size_t)i * psz, dst + 2 * (size_t)i * psz, piece) != 0;
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT_EQUAL(tc_stats().pinned, 0);
	close(fd);
	sbma_free(v);
	sbma_free(src);
	sbma_free(dst);
}

/* Pins hold while another thread evicts everything in a loop: file
 * transfers (one range, and 24 ranges that overflow the stack list) and
 * stat into SBMA memory, checked each round. */
static int evictor_stop; /* atomic: read by the evictor, set by the test */

static void *evictor(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&evictor_stop, __ATOMIC_ACQUIRE))
		sbma_evict_all();
	return NULL;
}

static void test_concurrent_evict(void)
{
	enum { NV = 24 };
	size_t piece = 16 * KiB, n = 2 * NV * piece; /* separate, not adjacent */
	char *src = sbuf(n, EVICTED, 32), *dst = sbuf(n, FRESH, 0);
	struct iovec *v = sbma_malloc(NV * sizeof *v);
	struct stat *st = sbma_malloc(sizeof *st);
	CU_ASSERT_FATAL(v && st);
	for (int i = 0; i < NV; i++)
		v[i] = (struct iovec){ dst + 2 * (size_t)i * piece, piece };
	int fd = tmpfd();
	pthread_t t;
	__atomic_store_n(&evictor_stop, 0, __ATOMIC_RELEASE);
	CU_ASSERT_FATAL(pthread_create(&t, NULL, evictor, NULL) == 0);
	size_t bad = 0;
	int rounds = 0;
	for (double t0 = tc_now(); tc_now() - t0 < 2.0; rounds++) {
		bad += pwrite(fd, src, n, 0) != (ssize_t)n;
		bad += pread(fd, dst, n, 0) != (ssize_t)n;
		bad += tc_check(dst, n, 32, 1, 0, "pread while evicting") != 0;
		memset(dst, 0, n);
		bad += preadv(fd, v, NV, 0) != (ssize_t)(NV * piece);
		for (int i = 0; i < NV; i++)
			bad += tc_check(dst + 2 * (size_t)i * piece, piece, 32, 1, (size_t)i * piece / 8,
					"preadv while evicting") != 0;
		bad += fstat(fd, st) != 0 || st->st_size != (off_t)n;
	}
	__atomic_store_n(&evictor_stop, 1, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT(rounds > 2);
	CU_ASSERT_EQUAL(tc_stats().pinned, 0);
	close(fd);
	sbma_free(src);
	sbma_free(dst);
	sbma_free(v);
	sbma_free(st);
}

/* ----------------------------------------------------------- 2. pipes */

struct pump {
	int fd;
	char *buf;
	size_t n;
	int write;
	ssize_t done;
};

static void *pump_run(void *arg)
{
	struct pump *p = arg;
	size_t done = 0;
	while (done < p->n) {
		ssize_t r = p->write ? write(p->fd, p->buf + done, p->n - done)
				     : read(p->fd, p->buf + done, p->n - done);
		if (r <= 0)
			break;
		done += (size_t)r;
	}
	p->done = (ssize_t)done;
	return NULL;
}

/* A thread moves n bytes between libc memory and one end of a pipe. */
static pthread_t pump_start(struct pump *p, int fd, size_t n, int write)
{
	pthread_t t;
	p->fd = fd;
	p->n = n;
	p->write = write;
	p->buf = __libc_malloc(n);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p->buf);
	if (write)
		tc_fill(p->buf, n, 41, 1, 0);
	CU_ASSERT_FATAL(pthread_create(&t, NULL, pump_run, p) == 0);
	return t;
}

static void test_pipe(void)
{
	size_t n = 1 * MiB;
	int pfd[2];
	struct pump p;
	CU_ASSERT_FATAL(pipe(pfd) == 0);
	/* write(2) of an evicted buffer into a pipe; a thread reads. */
	char *src = sbuf(n, EVICTED, 40);
	pthread_t t = pump_start(&p, pfd[0], n, 0);
	CU_ASSERT_EQUAL(write(pfd[1], src, n), (ssize_t)n);
	close(pfd[1]); /* a failed write must not leave the reader waiting */
	pthread_join(t, NULL);
	close(pfd[0]);
	CU_ASSERT_EQUAL(p.done, (ssize_t)n);
	CU_ASSERT_EQUAL(tc_check(p.buf, n, 40, 1, 0, "pipe read side"), 0);
	__libc_free(p.buf);
	/* read(2) from a pipe into never-touched memory, short reads and all. */
	CU_ASSERT_FATAL(pipe(pfd) == 0);
	char *dst = sbuf(n, FRESH, 0);
	t = pump_start(&p, pfd[1], n, 1);
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(pfd[0], dst + got, n - got);
		if (r <= 0)
			break;
		got += (size_t)r;
		if (got < n && got % 3 == 0)
			CU_ASSERT(sbma_evict_all() >= 0);
	}
	CU_ASSERT_EQUAL(got, n);
	close(pfd[0]); /* a failed read must not leave the writer waiting */
	pthread_join(t, NULL);
	CU_ASSERT_EQUAL(tc_check(dst, n, 41, 1, 0, "pipe into SBMA"), 0);
	__libc_free(p.buf);
	close(pfd[1]);
	sbma_free(src);
	sbma_free(dst);
}

/* --------------------------------------------------------- 3. sockets */

/* A stream socket pair: send from evicted memory, recv into every kind. */
static void test_stream_socket(void)
{
	size_t n = 64 * KiB; /* fits the socket buffers: no reader thread */
	int sv[2];
	CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	for (int k = 0; k < NKINDS; k++) {
		for (int how = 0; how < 4; how++) {
			char *src = sbuf(n, EVICTED, 50 + how);
			char *dst = sbuf(n, (enum kind)k, 60);
			ssize_t s;
			if (how == 0)
				s = send(sv[0], src, n, 0);
			else if (how == 1)
				s = __send(sv[0], src, n, 0);
			else if (how == 2)
				s = sendto(sv[0], src, n, 0, NULL, 0);
			else
				s = write(sv[0], src, n);
			CU_ASSERT_EQUAL(s, (ssize_t)n);
			CU_ASSERT(sbma_evict_all() >= 0);
			ssize_t r;
			if (how == 0)
				r = recv(sv[1], dst, n, MSG_WAITALL);
			else if (how == 1)
				r = __recv_chk(sv[1], dst, n, n, MSG_WAITALL);
			else if (how == 2)
				r = recvfrom(sv[1], dst, n, MSG_WAITALL, NULL, NULL);
			else
				r = __recvfrom_chk(sv[1], dst, n, n, MSG_WAITALL, NULL, NULL);
			CU_ASSERT_EQUAL(r, (ssize_t)n);
			CU_ASSERT_EQUAL(tc_check(dst, n, 50 + how, 1, 0, "stream recv"), 0);
			sbma_free(src);
			sbma_free(dst);
		}
	}
	close(sv[0]);
	close(sv[1]);
}

/* Two datagram sockets bound to abstract names: the peer address matters. */
static socklen_t bind_abstract(int fd, struct sockaddr_un *a, const char *tag)
{
	memset(a, 0, sizeof *a);
	a->sun_family = AF_UNIX;
	int len = snprintf(a->sun_path + 1, sizeof a->sun_path - 1, "sbma-ka-%s-%d", tag, (int)getpid());
	socklen_t alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)len);
	CU_ASSERT_FATAL(bind(fd, (struct sockaddr *)a, alen) == 0);
	return alen;
}

struct dgram {
	int a, b;
	struct sockaddr_un aa, ba;
	socklen_t alen, blen;
};

static void dgram_open(struct dgram *d)
{
	d->a = socket(AF_UNIX, SOCK_DGRAM, 0);
	d->b = socket(AF_UNIX, SOCK_DGRAM, 0);
	CU_ASSERT_FATAL(d->a >= 0 && d->b >= 0);
	d->alen = bind_abstract(d->a, &d->aa, "a");
	d->blen = bind_abstract(d->b, &d->ba, "b");
	int big = 4 * MiB;
	setsockopt(d->a, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
	setsockopt(d->b, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
}

static void dgram_close(struct dgram *d)
{
	close(d->a);
	close(d->b);
}

static void test_dgram_addr(void)
{
	size_t n = 64 * KiB;
	struct dgram d;
	dgram_open(&d);
	for (int k = 0; k < NKINDS; k++) {
		char *src = sbuf(n, EVICTED, 70 + k);
		/* The destination address, in evicted SBMA memory. */
		struct sockaddr_un *to = sbma_malloc(sizeof *to);
		CU_ASSERT_PTR_NOT_NULL_FATAL(to);
		*to = d.ba;
		CU_ASSERT(sbma_evict_all() >= 0);
		CU_ASSERT_EQUAL(sendto(d.a, src, n, 0, (struct sockaddr *)to, d.blen), (ssize_t)n);
		/* The received data, the peer address and its length: SBMA. */
		char *dst = sbuf(n, (enum kind)k, 0);
		char *meta = sbuf(4096, (enum kind)k, 0);
		struct sockaddr_un *from = (struct sockaddr_un *)meta;
		socklen_t *flen = (socklen_t *)(meta + 2048);
		if (k != RDONLY) {
			*flen = sizeof *from;
			CU_ASSERT(sbma_evict_all() >= 0);
		}
		ssize_t r;
		if (k == RDONLY) {
			/* *flen must be set: pass a resident read-only
			 * length next to a read-only address instead. */
			socklen_t fl = sizeof *from;
			r = __recvfrom_chk(d.b, dst, n, n, 0, (struct sockaddr *)from, &fl);
			CU_ASSERT_EQUAL(fl, d.alen);
		} else {
			r = recvfrom(d.b, dst, n, 0, (struct sockaddr *)from, flen);
			CU_ASSERT_EQUAL(*flen, d.alen);
		}
		CU_ASSERT_EQUAL(r, (ssize_t)n);
		CU_ASSERT_EQUAL(tc_check(dst, n, 70 + k, 1, 0, "recvfrom"), 0);
		CU_ASSERT_EQUAL(memcmp(from, &d.aa, d.alen), 0);
		sbma_free(src);
		sbma_free(dst);
		sbma_free(meta);
		sbma_free(to);
	}
	dgram_close(&d);
}

/* sendmsg/recvmsg: data in three pieces, the peer address, and SCM_RIGHTS
 * control data passing a descriptor; the msghdr, the iovec arrays, the
 * address and the control buffer are SBMA memory as well. */
struct msg_area {
	struct msghdr h;
	struct iovec v[3];
	struct sockaddr_un name;
	char control[CMSG_SPACE(sizeof(int))] __attribute__((aligned(8)));
};

static void test_msg(void)
{
	size_t n = 96 * KiB;
	struct dgram d;
	dgram_open(&d);
	int passfd = data_file(4096, 3);
	struct stat want;
	CU_ASSERT_FATAL(fstat(passfd, &want) == 0);
	for (int k = 0; k < NKINDS; k++) {
		char *src = sbuf(n, EVICTED, 80 + k), *dst = sbuf(n, (enum kind)k, 0);
		struct msg_area *s = sbma_malloc(sizeof *s), *r = sbma_malloc(sizeof *r);
		CU_ASSERT_PTR_NOT_NULL_FATAL(s);
		CU_ASSERT_PTR_NOT_NULL_FATAL(r);
		memset(s, 0, sizeof *s);
		memset(r, 0, sizeof *r);
		size_t cut[4] = { 0, 1000 * 8, n / 2, n };
		for (int i = 0; i < 3; i++) {
			s->v[i] = (struct iovec){ src + cut[i], cut[i + 1] - cut[i] };
			r->v[i] = (struct iovec){ dst + cut[i], cut[i + 1] - cut[i] };
		}
		s->name = d.ba;
		s->h.msg_name = &s->name;
		s->h.msg_namelen = d.blen;
		s->h.msg_iov = s->v;
		s->h.msg_iovlen = 3;
		s->h.msg_control = s->control;
		s->h.msg_controllen = sizeof s->control;
		struct cmsghdr *c = CMSG_FIRSTHDR(&s->h);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &passfd, sizeof(int));
		r->h.msg_name = &r->name;
		r->h.msg_namelen = sizeof r->name;
		r->h.msg_iov = r->v;
		r->h.msg_iovlen = 3;
		r->h.msg_control = r->control;
		r->h.msg_controllen = sizeof r->control;
		CU_ASSERT(sbma_evict_all() >= 0);
		if (k == RDONLY) {
			/* The received headers read-only, the data too. */
			volatile const char *v = (const char *)r;
			for (size_t i = 0; i < sizeof *r; i += 64)
				(void)v[i];
			for (size_t i = 0; i < n; i += 512)
				(void)((volatile const char *)dst)[i];
		}
		CU_ASSERT_EQUAL(sendmsg(d.a, &s->h, 0), (ssize_t)n);
		CU_ASSERT(sbma_evict_all() >= 0);
		CU_ASSERT_EQUAL(recvmsg(d.b, &r->h, 0), (ssize_t)n);
		CU_ASSERT_EQUAL(tc_check(dst, n, 80 + k, 1, 0, "recvmsg"), 0);
		CU_ASSERT_EQUAL(r->h.msg_namelen, d.alen);
		CU_ASSERT_EQUAL(memcmp(&r->name, &d.aa, d.alen), 0);
		CU_ASSERT_EQUAL(r->h.msg_flags & (MSG_TRUNC | MSG_CTRUNC), 0);
		struct cmsghdr *rc = CMSG_FIRSTHDR(&r->h);
		CU_ASSERT_PTR_NOT_NULL_FATAL(rc);
		CU_ASSERT_EQUAL(rc->cmsg_type, SCM_RIGHTS);
		int got;
		memcpy(&got, CMSG_DATA(rc), sizeof got);
		struct stat st;
		CU_ASSERT_EQUAL(fstat(got, &st), 0);
		CU_ASSERT_EQUAL(st.st_ino, want.st_ino);
		CU_ASSERT_EQUAL(st.st_dev, want.st_dev);
		close(got);
		sbma_free(src);
		sbma_free(dst);
		sbma_free(s);
		sbma_free(r);
	}
	close(passfd);
	dgram_close(&d);
}

static void test_mmsg(void)
{
	enum { NM = 4 };
	size_t n = 32 * KiB;
	struct dgram d;
	dgram_open(&d);
	char *src = sbuf(NM * n, EVICTED, 90), *dst = sbuf(NM * n, FRESH, 0);
	struct mmsghdr *sv = sbma_malloc(NM * sizeof *sv), *rv = sbma_malloc(NM * sizeof *rv);
	struct iovec *iov = sbma_malloc(2 * NM * sizeof *iov);
	struct timespec *tmo = sbma_malloc(sizeof *tmo);
	CU_ASSERT_FATAL(sv && rv && iov && tmo);
	memset(sv, 0, NM * sizeof *sv);
	memset(rv, 0, NM * sizeof *rv);
	for (int i = 0; i < NM; i++) {
		iov[i] = (struct iovec){ src + (size_t)i * n, n };
		iov[NM + i] = (struct iovec){ dst + (size_t)i * n, n };
		sv[i].msg_hdr.msg_name = &d.ba;
		sv[i].msg_hdr.msg_namelen = d.blen;
		sv[i].msg_hdr.msg_iov = &iov[i];
		sv[i].msg_hdr.msg_iovlen = 1;
		rv[i].msg_hdr.msg_iov = &iov[NM + i];
		rv[i].msg_hdr.msg_iovlen = 1;
	}
	*tmo = (struct timespec){ 5, 0 };
	CU_ASSERT(sbma_evict_all() >= 0);
	CU_ASSERT_EQUAL(sendmmsg(d.a, sv, NM, 0), NM);
	CU_ASSERT(sbma_evict_all() >= 0);
	CU_ASSERT_EQUAL(recvmmsg(d.b, rv, NM, MSG_WAITFORONE, tmo), NM);
	for (int i = 0; i < NM; i++) {
		CU_ASSERT_EQUAL(sv[i].msg_len, n);
		CU_ASSERT_EQUAL(rv[i].msg_len, n);
	}
	CU_ASSERT_EQUAL(tc_check(dst, NM * n, 90, 1, 0, "recvmmsg"), 0);
	sbma_free(src);
	sbma_free(dst);
	sbma_free(sv);
	sbma_free(rv);
	sbma_free(iov);
	sbma_free(tmo);
	dgram_close(&d);
}

/* ------------------------------------------------------ 4. file system */


/* One stat-like call into out (SBMA) with the path name in SBMA memory;
 * compares with the same call into libc memory. Returns 0 if equal. */
enum st_call {
	ST_STAT, ST_LSTAT, ST_FSTAT, ST_FSTATAT, ST_STAT64, ST_LSTAT64, ST_FSTAT64, ST_FSTATAT64,
	ST_XSTAT, ST_LXSTAT, ST_FXSTAT, ST_FXSTATAT, ST_XSTAT64, ST_LXSTAT64, ST_FXSTAT64,
	ST_FXSTATAT64, ST_NCALLS
};
static const char *const st_name[] = {
	"stat", "lstat", "fstat", "fstatat", "stat64", "lstat64", "fstat64", "fstatat64",
	"__xstat", "__lxstat", "__fxstat", "__fxstatat", "__xstat64", "__lxstat64", "__fxstat64",
	"__fxstatat64",
};

static int do_stat(enum st_call c, const char *path, int fd, void *out)
{
	struct stat *s = out;
	struct stat64 *s64 = out;
	switch (c) {
	case ST_STAT: return stat(path, s);
	case ST_LSTAT: return lstat(path, s);
	case ST_FSTAT: return fstat(fd, s);
	case ST_FSTATAT: return fstatat(AT_FDCWD, path, s, AT_SYMLINK_NOFOLLOW);
	case ST_STAT64: return stat64(path, s64);
	case ST_LSTAT64: return lstat64(path, s64);
	case ST_FSTAT64: return fstat64(fd, s64);
	case ST_FSTATAT64: return fstatat64(AT_FDCWD, path, s64, 0);
	case ST_XSTAT: return __xstat(1, path, s);
	case ST_LXSTAT: return __lxstat(1, path, s);
	case ST_FXSTAT: return __fxstat(1, fd, s);
	case ST_FXSTATAT: return __fxstatat(1, AT_FDCWD, path, s, AT_SYMLINK_NOFOLLOW);
	case ST_XSTAT64: return __xstat64(1, path, s64);
	case ST_LXSTAT64: return __lxstat64(1, path, s64);
	case ST_FXSTAT64: return __fxstat64(1, fd, s64);
	case ST_FXSTATAT64: return __fxstatat64(1, AT_FDCWD, path, s64, 0);
	default: return -1;
	}
}

static void test_stat(void)
{
	int fd = open(file_path, O_RDONLY);
	CU_ASSERT_FATAL(fd >= 0);
	for (int c = 0; c < ST_NCALLS; c++) {
		for (int k = 0; k < NKINDS; k++) {
			/* lstat-like calls on the link, the rest on the file. */
			int on_link = c == ST_LSTAT || c == ST_LSTAT64 || c == ST_LXSTAT ||
				      c == ST_LXSTAT64 || c == ST_FSTATAT || c == ST_FXSTATAT;
			char *path = sstr(on_link ? link_path : file_path);
			/* The structure at the start of its own SBMA page(s). */
			char *out = sbuf(psz, (enum kind)k, 9);
			struct stat want;
			CU_ASSERT_FATAL((on_link ? lstat(link_path, &want) : stat(file_path, &want)) == 0);
			CU_ASSERT(sbma_evict_all() >= 0);
			if (k == RDONLY)
				(void)*(volatile char *)out;
			int rc = do_stat((enum st_call)c, path, fd, out);
			if (rc != 0)
				fprintf(stderr, "  %s into %s memory: %s\n", st_name[c], kind_name[k],
					strerror(errno));
			CU_ASSERT_EQUAL(rc, 0);
			struct stat *got = (struct stat *)out;
			CU_ASSERT(got->st_ino == want.st_ino && got->st_dev == want.st_dev &&
				  got->st_mode == want.st_mode && got->st_size == want.st_size &&
				  got->st_mtim.tv_sec == want.st_mtim.tv_sec &&
				  got->st_mtim.tv_nsec == want.st_mtim.tv_nsec);
			sbma_free(out);
			sbma_free(path);
		}
	}
	for (int k = 0; k < NKINDS; k++) {
		char *path = sstr(file_path);
		char *out = sbuf(psz, (enum kind)k, 9);
		struct statx want;
		CU_ASSERT_FATAL(statx(AT_FDCWD, file_path, 0, STATX_BASIC_STATS, &want) == 0);
		CU_ASSERT(sbma_evict_all() >= 0);
		if (k == RDONLY)
			(void)*(volatile char *)out;
		struct statx *sx = (struct statx *)out;
		CU_ASSERT_EQUAL(statx(AT_FDCWD, path, 0, STATX_BASIC_STATS, sx), 0);
		CU_ASSERT_EQUAL(sx->stx_ino, want.stx_ino);
		CU_ASSERT_EQUAL(sx->stx_size, want.stx_size);
		/* statfs family: compare what does not change between calls. */
		struct statfs wfs;
		CU_ASSERT_FATAL(statfs(file_path, &wfs) == 0);
		for (int c = 0; c < 4; c++) {
			CU_ASSERT(sbma_evict_all() >= 0);
			if (k == RDONLY)
				(void)*(volatile char *)out;
			struct statfs *fs = (struct statfs *)out;
			int rc = c == 0 ? statfs(path, fs)
				 : c == 1 ? fstatfs(fd, fs)
				 : c == 2 ? statfs64(path, (struct statfs64 *)fs)
					  : fstatfs64(fd, (struct statfs64 *)fs);
			CU_ASSERT_EQUAL(rc, 0);
			CU_ASSERT(fs->f_type == wfs.f_type && fs->f_bsize == wfs.f_bsize &&
				  fs->f_blocks == wfs.f_blocks);
		}
		sbma_free(out);
		sbma_free(path);
	}
	close(fd);
}

/* The records of two getdents64 results are the same (the kernel leaves
 * the padding after each name as it was). */
static int same_dirents(const char *a, const char *b, size_t n)
{
	size_t entries = 0;
	for (size_t off = 0; off < n;) {
		const struct dirent64 *x = (const void *)(a + off), *y = (const void *)(b + off);
		if (x->d_ino != y->d_ino || x->d_off != y->d_off || x->d_reclen != y->d_reclen ||
		    x->d_type != y->d_type || strcmp(x->d_name, y->d_name) != 0 || x->d_reclen == 0)
			return 0;
		off += x->d_reclen;
		entries++;
	}
	return entries >= 40;
}

static void test_getdents(void)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY);
	CU_ASSERT_FATAL(fd >= 0);
	static char want[64 * 1024];
	ssize_t w = getdents64(fd, want, sizeof want);
	CU_ASSERT_FATAL(w > 0);
	for (int k = 0; k < NKINDS; k++) {
		char *buf = sbuf(sizeof want, (enum kind)k, 11);
		CU_ASSERT_EQUAL(lseek(fd, 0, SEEK_SET), 0);
		ssize_t r = getdents64(fd, buf, sizeof want);
		CU_ASSERT_EQUAL(r, w);
		CU_ASSERT(r == w && same_dirents(buf, want, (size_t)w));
		sbma_free(buf);
	}
	close(fd);
}

static void test_readlink_getcwd(void)
{
	size_t tl = strlen(long_target);
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	CU_ASSERT_FATAL(dfd >= 0);
	const char *base = strrchr(link_path, '/') + 1;
	for (int k = 0; k < NKINDS; k++) {
		for (int how = 0; how < 4; how++) {
			char *path = sstr(how < 2 ? link_path : base);
			char *buf = sbuf(4096, (enum kind)k, 12);
			ssize_t r = how == 0 ? readlink(path, buf, 4096)
				    : how == 1 ? __readlink_chk(path, buf, 4096, 4096)
				    : how == 2 ? readlinkat(dfd, path, buf, 4096)
					       : __readlinkat_chk(dfd, path, buf, 4096, 4096);
			CU_ASSERT_EQUAL(r, (ssize_t)tl);
			CU_ASSERT(r == (ssize_t)tl && memcmp(buf, long_target, tl) == 0);
			sbma_free(buf);
			sbma_free(path);
		}
		char want[PATH_MAX];
		CU_ASSERT_FATAL(getcwd(want, sizeof want) != NULL);
		for (int how = 0; how < 2; how++) {
			char *buf = sbuf(PATH_MAX, (enum kind)k, 13);
			char *r = how ? __getcwd_chk(buf, PATH_MAX, PATH_MAX) : getcwd(buf, PATH_MAX);
			CU_ASSERT_PTR_EQUAL(r, buf);
			CU_ASSERT(r && strcmp(buf, want) == 0);
			sbma_free(buf);
		}
	}
	close(dfd);
}

static void test_getrandom(void)
{
	size_t n = 4096;
	for (int k = 0; k < NKINDS; k++) {
		char *buf = sbuf(n, (enum kind)k, 14);
		ssize_t r = getrandom(buf, n, 0);
		CU_ASSERT_EQUAL(r, (ssize_t)n);
		/* Random words are neither the old contents nor zero. */
		size_t same = 0;
		for (size_t i = 0; i < n / 8; i++)
			same += ((uint64_t *)buf)[i] == (k == EVICTED ? tc_val(14, 1, i) : 0);
		CU_ASSERT(same < 4);
		sbma_free(buf);
	}
}

/* process_vm_readv/writev on this very process: the local side is SBMA. */
static void test_process_vm(void)
{
	size_t n = 128 * KiB;
	static uint64_t remote[128 * KiB / 8];
	tc_fill(remote, n, 15, 1, 0);
	char *buf = sbuf(n, FRESH, 0);
	struct iovec lv = { buf, n }, rv = { remote, n };
	ssize_t r = process_vm_readv(getpid(), &lv, 1, &rv, 1, 0);
	if (r < 0 && (errno == EPERM || errno == ENOSYS)) {
		fprintf(stderr, "  process_vm_readv: %s (not allowed here: skipped) ", strerror(errno));
		sbma_free(buf);
		return;
	}
	CU_ASSERT_EQUAL(r, (ssize_t)n);
	CU_ASSERT_EQUAL(tc_check(buf, n, 15, 1, 0, "process_vm_readv"), 0);
	sbma_free(buf);
	buf = sbuf(n, EVICTED, 16);
	lv.iov_base = buf;
	CU_ASSERT_EQUAL(process_vm_writev(getpid(), &lv, 1, &rv, 1, 0), (ssize_t)n);
	CU_ASSERT_EQUAL(tc_check(remote, n, 16, 1, 0, "process_vm_writev"), 0);
	sbma_free(buf);
}

/* fputs, fputs_unlocked and puts of a string longer than the stream's
 * buffer, in evicted SBMA memory (puts in a child, stdout on a file). */
static void test_fputs(void)
{
	size_t n = 200 * KiB;
	char *ref = __libc_malloc(n + 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ref);
	for (size_t i = 0; i < n; i++)
		ref[i] = (char)('a' + (tc_val(17, 1, i) % 26));
	ref[n] = '\0';
	for (int how = 0; how < 3; how++) {
		char *s = sbma_malloc(n + 8);
		CU_ASSERT_PTR_NOT_NULL_FATAL(s);
		memcpy(s, ref, n + 1);
		CU_ASSERT(sbma_evict_all() >= 0);
		int fd = tmpfd();
		if (how < 2) {
			FILE *f = fdopen(dup(fd), "w");
			CU_ASSERT_PTR_NOT_NULL_FATAL(f);
			CU_ASSERT(how ? fputs_unlocked(s, f) >= 0 : fputs(s, f) >= 0);
			CU_ASSERT_EQUAL(fclose(f), 0);
		} else {
			fflush(stdout);
			pid_t pid = fork();
			CU_ASSERT_FATAL(pid >= 0);
			if (pid == 0) {
				dup2(fd, 1);
				_exit(puts(s) >= 0 && fflush(stdout) == 0 ? 0 : 1);
			}
			int st;
			CU_ASSERT_EQUAL(waitpid(pid, &st, 0), pid);
			CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
		}
		char *back = __libc_malloc(n + 2);
		ssize_t r = pread(fd, back, n + 2, 0);
		CU_ASSERT_EQUAL(r, (ssize_t)(how < 2 ? n : n + 1));
		CU_ASSERT(r >= (ssize_t)n && memcmp(back, ref, n) == 0);
		__libc_free(back);
		close(fd);
		sbma_free(s);
	}
	__libc_free(ref);
}

/* glibc's fortified open, declared by no header here. */
int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags);
int __openat64_2(int dirfd, const char *path, int flags);

/* An fd call's result: closed if it is one; whether it succeeded. */
static int fd_ok(int fd)
{
	if (fd < 0)
		return 0;
	close(fd);
	return 1;
}

static int file_ok(FILE *f)
{
	return f && fclose(f) == 0;
}

/*
 * Calls that only read path names, with every name (and fopen's mode) in
 * evicted SBMA memory: open and its 64, openat and _2 forms, creat, fopen,
 * freopen, opendir, access, faccessat, mkdir, mkdirat, rmdir, rename,
 * renameat, chdir, truncate, chmod, symlink, link, unlink, unlinkat. Each
 * must succeed and do what it says (checked with calls on ordinary
 * memory). Without the wrappers every one failed with EFAULT.
 */
static void test_paths(void)
{
	char a[200], b[200];
	snprintf(a, sizeof a, "%s/path-a", dir);
	snprintf(b, sizeof b, "%s/path-b", dir);
	int cwd = open(".", O_RDONLY | O_DIRECTORY);
	CU_ASSERT_FATAL(cwd >= 0);
	static const char *const names[] = {
		"open", "open64", "__open_2", "__open64_2", "openat", "openat64", "__openat_2", "__openat64_2",
		"creat", "creat64", "fopen", "fopen64", "freopen", "freopen64", "opendir", "access",
		"faccessat", "mkdir", "mkdirat", "rmdir", "rename", "renameat", "chdir", "truncate",
		"truncate64", "chmod", "symlink", "link", "unlink", "unlinkat",
	};
	for (int c = 0; c < (int)(sizeof names / sizeof *names); c++) {
		/* The names this case needs, evicted (sstr evicts everything). */
		char *f = sstr(file_path), *pa = sstr(a), *pb = sstr(b), *pd = sstr(dir), *rd = sstr("r");
		struct stat st;
		int ok = 0;
		FILE *fp;
		DIR *d;
		switch (c) {
		case 0: ok = fd_ok(open(f, O_RDONLY)); break;
		case 1: ok = fd_ok(open64(f, O_RDONLY)); break;
		case 2: ok = fd_ok(__open_2(f, O_RDONLY)); break;
		case 3: ok = fd_ok(__open64_2(f, O_RDONLY)); break;
		case 4: ok = fd_ok(openat(AT_FDCWD, pa, O_CREAT | O_WRONLY, 0600)) && stat(a, &st) == 0; break;
		case 5: ok = fd_ok(openat64(AT_FDCWD, f, O_RDONLY)); break;
		case 6: ok = fd_ok(__openat_2(AT_FDCWD, f, O_RDONLY)); break;
		case 7: ok = fd_ok(__openat64_2(AT_FDCWD, f, O_RDONLY)); break;
		case 8: ok = fd_ok(creat(pb, 0600)) && stat(b, &st) == 0 && unlink(b) == 0; break;
		case 9: ok = fd_ok(creat64(pb, 0600)) && stat(b, &st) == 0 && unlink(b) == 0; break;
		case 10: ok = file_ok(fopen(f, rd)); break;
		case 11: ok = file_ok(fopen64(f, rd)); break;
		case 12:
		case 13:
			fp = fopen(a, "r");
			ok = fp && file_ok(c == 12 ? freopen(f, rd, fp) : freopen64(f, rd, fp));
			break;
		case 14: ok = (d = opendir(pd)) != NULL && closedir(d) == 0; break;
		case 15: ok = access(f, R_OK) == 0; break;
		case 16: ok = faccessat(AT_FDCWD, f, R_OK, 0) == 0; break;
		case 17: ok = mkdir(pb, 0700) == 0 && stat(b, &st) == 0 && S_ISDIR(st.st_mode); break;
		case 18: ok = rmdir(b) == 0 && mkdirat(AT_FDCWD, pb, 0700) == 0 && stat(b, &st) == 0; break;
		case 19: ok = rmdir(pb) == 0 && stat(b, &st) != 0; break;
		case 20: ok = rename(pa, pb) == 0 && stat(b, &st) == 0 && stat(a, &st) != 0; break;
		case 21: ok = renameat(AT_FDCWD, pb, AT_FDCWD, pa) == 0 && stat(a, &st) == 0; break;
		case 22: {
			char here[300];
			ok = chdir(pd) == 0 && getcwd(here, sizeof here) && strcmp(here, dir) == 0;
			CU_ASSERT_EQUAL(fchdir(cwd), 0);
			break;
		}
		case 23: ok = truncate(pa, 777) == 0 && stat(a, &st) == 0 && st.st_size == 777; break;
		case 24: ok = truncate64(pa, 778) == 0 && stat(a, &st) == 0 && st.st_size == 778; break;
		case 25: ok = chmod(pa, 0640) == 0 && stat(a, &st) == 0 && (st.st_mode & 0777) == 0640; break;
		case 26: ok = symlink(f, pb) == 0 && lstat(b, &st) == 0 && S_ISLNK(st.st_mode) && unlink(b) == 0; break;
		case 27: ok = link(pa, pb) == 0 && stat(b, &st) == 0 && st.st_nlink == 2; break;
		case 28: ok = unlink(pb) == 0 && stat(b, &st) != 0; break;
		case 29: ok = unlinkat(AT_FDCWD, pa, 0) == 0 && stat(a, &st) != 0; break;
		}
		if (!ok)
			fprintf(stderr, "  %s with its names in evicted SBMA memory: %s\n", names[c], strerror(errno));
		CU_ASSERT(ok);
		sbma_free(f);
		sbma_free(pa);
		sbma_free(pb);
		sbma_free(pd);
		sbma_free(rd);
	}
	close(cwd);
}

/* glibc's _FORTIFY_SOURCE entry points, declared by no header here. */
int __fprintf_chk(FILE *f, int flag, const char *fmt, ...);
int __printf_chk(int flag, const char *fmt, ...);
int __dprintf_chk(int fd, int flag, const char *fmt, ...);
int __vfprintf_chk(FILE *f, int flag, const char *fmt, va_list ap);

static int v_fprintf(FILE *f, int chk, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = chk ? __vfprintf_chk(f, 1, fmt, ap) : vfprintf(f, fmt, ap);
	va_end(ap);
	return r;
}

/*
 * The printf family with a %s argument in SBMA memory larger than the
 * budget (src/kernel_access_printf.c): glibc writes a long string from
 * where it is, through its internal write, and the kernel fails it with
 * EFAULT (0 bytes out, -1 returned) once the string's first pages have been
 * evicted by its last. Each form prints "<" string ">" with a number
 * around it (the arguments after a string must be read right too) into a
 * file: the return value and every byte must be right. printf and
 * __printf_chk run in a child whose stdout is the file.
 */
static void test_printf(void)
{
	size_t n = 2 * cfg.budget;
	char *ref = __libc_malloc(n + 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ref);
	for (size_t i = 0; i < n; i++)
		ref[i] = (char)('a' + (tc_val(18, 1, i) % 26));
	ref[n] = '\0';
	char *s = sbma_malloc(n + 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	memcpy(s, ref, n + 1);
	static const char *const names[] = { "fprintf", "__fprintf_chk", "vfprintf", "__vfprintf_chk",
					     "dprintf", "__dprintf_chk", "printf", "__printf_chk",
					     "fprintf %.*s" };
	for (int how = 0; how < 9; how++) {
		/* how 8: all but the last 10 bytes, by precision */
		size_t len = how == 8 ? n - 10 : n;
		CU_ASSERT(sbma_evict_all() >= 0);
		int fd = tmpfd(), r = -2;
		FILE *f = how < 4 || how == 8 ? fdopen(dup(fd), "w") : NULL;
		switch (how) {
		case 0: r = fprintf(f, "%d<%s>%d", 7, s, 9); break;
		case 1: r = __fprintf_chk(f, 1, "%d<%s>%d", 7, s, 9); break;
		case 2: r = v_fprintf(f, 0, "%d<%s>%d", 7, s, 9); break;
		case 3: r = v_fprintf(f, 1, "%d<%s>%d", 7, s, 9); break;
		case 4: r = dprintf(fd, "%d<%s>%d", 7, s, 9); break;
		case 5: r = __dprintf_chk(fd, 1, "%d<%s>%d", 7, s, 9); break;
		case 8: r = fprintf(f, "%d<%.*s>%d", 7, (int)len, s, 9); break;
		default: {
			fflush(stdout);
			pid_t pid = fork();
			CU_ASSERT_FATAL(pid >= 0);
			if (pid == 0) {
				dup2(fd, 1);
				int c = how == 6 ? printf("%d<%s>%d", 7, s, 9) : __printf_chk(1, "%d<%s>%d", 7, s, 9);
				_exit(c == (int)n + 4 && fflush(stdout) == 0 ? 0 : 1);
			}
			int st;
			CU_ASSERT_EQUAL(waitpid(pid, &st, 0), pid);
			CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
			r = (int)n + 4;
		}
		}
		int err = errno;
		if (f)
			CU_ASSERT_EQUAL(fclose(f), 0);
		if (r != (int)len + 4)
			fprintf(stderr, "  %s returned %d (%s), expected %zu\n", names[how], r, strerror(err), len + 4);
		CU_ASSERT_EQUAL(r, (int)len + 4);
		char *back = __libc_malloc(n + 8);
		ssize_t got = pread(fd, back, n + 8, 0);
		CU_ASSERT_EQUAL(got, (ssize_t)len + 4);
		CU_ASSERT(got == (ssize_t)len + 4 && memcmp(back, "7<", 2) == 0 && memcmp(back + 2, ref, len) == 0 &&
			  memcmp(back + 2 + len, ">9", 2) == 0);
		__libc_free(back);
		close(fd);
	}
	sbma_free(s);
	__libc_free(ref);
}

/*
 * A stream buffer in SBMA memory (setvbuf, setbuffer; 2 MiB, above
 * SBMA_MIN_ALLOC), kernel_access_stdio_buffer.c: stdio fills and drains it
 * with its internal read and write. Writing: 1.5 MiB in small fwrites stay
 * in the buffer, sbma_evict_all, then fclose flushes them; reading: the
 * first fgetc fills the buffer, sbma_evict_all, then the rest is read
 * through it. Every byte must be right. Without the pin the eviction
 * closed the buffer and the flush failed with EFAULT (fclose returned EOF,
 * nothing written).
 */
static void test_setvbuf(void)
{
	size_t bsz = 2 * MiB, n = 3 * MiB / 2;
	char *ref = __libc_malloc(n);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ref);
	for (size_t i = 0; i < n; i++)
		ref[i] = (char)tc_val(19, 1, i);
	for (int how = 0; how < 2; how++) {
		char *buf = sbma_malloc(bsz);
		CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
		int fd = tmpfd();
		FILE *f = fdopen(dup(fd), "w");
		CU_ASSERT_PTR_NOT_NULL_FATAL(f);
		if (how)
			setbuffer(f, buf, bsz);
		else
			CU_ASSERT_EQUAL(setvbuf(f, buf, _IOFBF, bsz), 0);
		for (size_t i = 0; i < n; i += 4096)
			CU_ASSERT_EQUAL(fwrite(ref + i, 1, n - i < 4096 ? n - i : 4096, f), n - i < 4096 ? n - i : 4096);
		CU_ASSERT(sbma_evict_all() >= 0);
		struct stat sb;
		CU_ASSERT(fstat(fd, &sb) == 0 && sb.st_size == 0); /* all still in the buffer */
		CU_ASSERT_EQUAL(fclose(f), 0);
		char *back = __libc_malloc(n + 1);
		CU_ASSERT_EQUAL(pread(fd, back, n + 1, 0), (ssize_t)n);
		CU_ASSERT(memcmp(back, ref, n) == 0);
		/* Read it back through the same buffer (the descriptors share
		 * the offset the writing stream left at the end). */
		CU_ASSERT_EQUAL(lseek(fd, 0, SEEK_SET), 0);
		f = fdopen(dup(fd), "r");
		CU_ASSERT_PTR_NOT_NULL_FATAL(f);
		CU_ASSERT_EQUAL(setvbuf(f, buf, _IOFBF, bsz), 0);
		int c = fgetc(f);
		CU_ASSERT(sbma_evict_all() >= 0);
		back[0] = (char)c;
		CU_ASSERT_EQUAL(fread(back + 1, 1, n, f), n - 1);
		CU_ASSERT(c != EOF && memcmp(back, ref, n) == 0);
		CU_ASSERT_EQUAL(fclose(f), 0);
		struct sbma_stats st = tc_stats();
		CU_ASSERT_EQUAL(st.pinned, 0); /* fclose unpinned it */
		__libc_free(back);
		close(fd);
		sbma_free(buf);
	}
	__libc_free(ref);
}

/* ------------------------------------------- 5. transfers over the budget */

static void test_split(void)
{
	size_t n = 3 * cfg.budget;
	if (n > 192 * MiB)
		n = 192 * MiB;
	n &= ~(psz - 1);
	uint64_t ob = over_budget();
	char *src = sbuf(n, EVICTED, 20);
	int fd = tmpfd();
	/* write(2) and read(2) */
	CU_ASSERT_EQUAL(write(fd, src, n), (ssize_t)n);
	CU_ASSERT_EQUAL(file_bad(fd, n, 20), 0);
	char *dst = sbuf(n, FRESH, 0);
	CU_ASSERT_EQUAL(lseek(fd, 0, SEEK_SET), 0);
	CU_ASSERT_EQUAL(read(fd, dst, n), (ssize_t)n);
	CU_ASSERT_EQUAL(lseek(fd, 0, SEEK_CUR), (off_t)n);
	CU_ASSERT_EQUAL(tc_check(dst, n, 20, 1, 0, "split read"), 0);
	CU_ASSERT_EQUAL(over_budget(), ob);
	CU_ASSERT_EQUAL(tc_stats().pinned, 0);
	/* pwrite/pread at an offset */
	CU_ASSERT(sbma_evict_all() >= 0);
	CU_ASSERT_EQUAL(pwrite(fd, dst, n, (off_t)n), (ssize_t)n);
	sbma_free(dst);
	dst = sbuf(n, EVICTED, 21);
	CU_ASSERT_EQUAL(pread(fd, dst, n, (off_t)n), (ssize_t)n);
	CU_ASSERT_EQUAL(tc_check(dst, n, 20, 1, 0, "split pread"), 0);
	/* A read past the end of the file stops there (a short count), and
	 * what lies beyond is left alone. */
	CU_ASSERT(sbma_evict_all() >= 0);
	size_t tail = n / 3 + psz;
	CU_ASSERT_EQUAL(pread(fd, src, n, (off_t)(2 * n - tail)), (ssize_t)tail);
	CU_ASSERT_EQUAL(tc_check(src, tail, 20, 1, (n - tail) / 8, "split short read"), 0);
	CU_ASSERT_EQUAL(tc_check(src + tail, n - tail, 20, 1, tail / 8, "split beyond EOF"), 0);
	CU_ASSERT_EQUAL(over_budget(), ob);
	/* fwrite/fread */
	sbma_free(src);
	src = sbuf(n, EVICTED, 22);
	FILE *f = fdopen(dup(fd), "w+");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	rewind(f);
	CU_ASSERT_EQUAL(fwrite(src, 8, n / 8, f), n / 8);
	CU_ASSERT_EQUAL(fflush(f), 0);
	CU_ASSERT_EQUAL(file_bad(fd, n, 22), 0);
	rewind(f);
	CU_ASSERT(sbma_evict_all() >= 0);
	CU_ASSERT_EQUAL(fread(dst, 1, n, f), n);
	CU_ASSERT_EQUAL(tc_check(dst, n, 22, 1, 0, "split fread"), 0);
	/* fread at the end: items, not bytes; a partial item counts not. */
	CU_ASSERT_EQUAL(fseek(f, (long)(2 * n - 12), SEEK_SET), 0);
	CU_ASSERT_EQUAL(fread(dst, 8, n / 8, f), 1);
	fclose(f);
	CU_ASSERT_EQUAL(over_budget(), ob);
	CU_ASSERT_EQUAL(tc_stats().pinned, 0);
	close(fd);

	/* A pipe: a write loops over chunks and is whole; a read takes at
	 * most a chunk (a short read, which a pipe may always return). */
	size_t chunk = (cfg.budget / 4) & ~(psz - 1);
	int pfd[2];
	struct pump p;
	CU_ASSERT_FATAL(pipe(pfd) == 0);
	CU_ASSERT(sbma_evict_all() >= 0);
	pthread_t t = pump_start(&p, pfd[0], n, 0);
	CU_ASSERT_EQUAL(write(pfd[1], src, n), (ssize_t)n);
	close(pfd[1]);
	pthread_join(t, NULL);
	close(pfd[0]);
	CU_ASSERT_EQUAL(p.done, (ssize_t)n);
	CU_ASSERT_EQUAL(tc_check(p.buf, n, 22, 1, 0, "pipe write"), 0);
	__libc_free(p.buf);
	CU_ASSERT_FATAL(pipe(pfd) == 0);
	fcntl(pfd[0], F_SETPIPE_SZ, 1024 * 1024);
	t = pump_start(&p, pfd[1], n, 1);
	size_t got = 0, most = 0;
	while (got < n) {
		ssize_t r = read(pfd[0], dst + got, n - got);
		if (r <= 0)
			break;
		got += (size_t)r;
		most = (size_t)r > most ? (size_t)r : most;
	}
	CU_ASSERT_EQUAL(got, n);
	CU_ASSERT(most <= chunk);
	close(pfd[0]);
	pthread_join(t, NULL);
	close(pfd[1]);
	CU_ASSERT_EQUAL(tc_check(dst, n, 41, 1, 0, "pipe read"), 0);
	__libc_free(p.buf);
	CU_ASSERT_EQUAL(over_budget(), ob);

	/* A stream socket: send loops; recv with MSG_WAITALL loops to the
	 * full count. */
	int sv[2];
	CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	CU_ASSERT(sbma_evict_all() >= 0);
	t = pump_start(&p, sv[1], n, 0);
	CU_ASSERT_EQUAL(send(sv[0], src, n, 0), (ssize_t)n);
	pthread_join(t, NULL);
	CU_ASSERT_EQUAL(tc_check(p.buf, n, 22, 1, 0, "stream send"), 0);
	__libc_free(p.buf);
	t = pump_start(&p, sv[0], n, 1);
	CU_ASSERT_EQUAL(recv(sv[1], dst, n, MSG_WAITALL), (ssize_t)n);
	pthread_join(t, NULL);
	CU_ASSERT_EQUAL(tc_check(dst, n, 41, 1, 0, "stream recv MSG_WAITALL"), 0);
	__libc_free(p.buf);
	close(sv[0]);
	close(sv[1]);
	CU_ASSERT_EQUAL(over_budget(), ob);
	CU_ASSERT_EQUAL(tc_stats().pinned, 0);

	/* A vectored call is pinned whole (not cut): over the budget,
	 * counted, and still exact. */
	fd = tmpfd();
	struct iovec v = { src, n };
	CU_ASSERT(sbma_evict_all() >= 0);
	CU_ASSERT_EQUAL(pwritev(fd, &v, 1, 0), (ssize_t)n);
	CU_ASSERT_EQUAL(file_bad(fd, n, 22), 0);
	CU_ASSERT(over_budget() > ob);
	close(fd);
	sbma_free(src);
	sbma_free(dst);
}

/* ------------------------------------------------- 6. allocator entry points */

static void test_alloc_entry_points(void)
{
	size_t big = cfg.min_alloc > 2 * MiB ? cfg.min_alloc : 2 * MiB;
	/* Hidden from the compiler, which would warn about what is tested. */
	volatile size_t huge = SIZE_MAX / 2 + 1;
	/* reallocarray: overflow is ENOMEM and leaves the block alone. */
	errno = 0;
	CU_ASSERT_PTR_NULL(reallocarray(NULL, huge, 3));
	CU_ASSERT_EQUAL(errno, ENOMEM);
	char *volatile p = malloc(big);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT(sbma_owns(p));
	tc_fill(p, big, 23, 1, 0);
	errno = 0;
	CU_ASSERT_PTR_NULL(reallocarray(p, 2, huge));
	CU_ASSERT_EQUAL(errno, ENOMEM);
	CU_ASSERT_EQUAL(tc_check(p, big, 23, 1, 0, "after reallocarray overflow"), 0);
	char *q = reallocarray(p, big / 512, 1024);
	CU_ASSERT_PTR_NOT_NULL_FATAL(q);
	CU_ASSERT_EQUAL(tc_check(q, big, 23, 1, 0, "reallocarray grow"), 0);
	CU_ASSERT(malloc_usable_size(q) >= 2 * big);
	free(q);

	/* memalign: glibc rounds an odd alignment up to a power of two. */
	size_t aligns[] = { 1, 8, 16, 24, 48, 100, 4096, 65536, MiB, 2 * MiB };
	size_t sizes[] = { 100, 5000, big };
	for (size_t a = 0; a < sizeof aligns / sizeof *aligns; a++) {
		size_t want = 1;
		while (want < aligns[a])
			want <<= 1;
		for (size_t s = 0; s < 3; s++) {
			void *m = memalign(aligns[a], sizes[s]);
			CU_ASSERT_PTR_NOT_NULL_FATAL(m);
			CU_ASSERT_EQUAL((uintptr_t)m % want, 0);
			CU_ASSERT(malloc_usable_size(m) >= sizes[s]);
			CU_ASSERT_EQUAL(!!sbma_owns(m), sizes[s] >= cfg.min_alloc);
			memset(m, 0x5a, sizes[s]);
			free(m);
		}
	}
	errno = 0;
	CU_ASSERT_PTR_NULL(memalign(SIZE_MAX / 2 + 2, 100));
	CU_ASSERT_EQUAL(errno, EINVAL);
	/* aligned_alloc: a power of two, or EINVAL (C17, glibc 2.38). */
	size_t bad_aligns[] = { 0, 24, 48, 3 * 4096 };
	for (size_t a = 0; a < 4; a++) {
		for (size_t s = 0; s < 3; s++) {
			errno = 0;
			CU_ASSERT_PTR_NULL(aligned_alloc(bad_aligns[a], sizes[s]));
			CU_ASSERT_EQUAL(errno, EINVAL);
		}
	}
	for (size_t s = 0; s < 3; s++) {
		void *m = aligned_alloc(256, sizes[s]);
		CU_ASSERT_PTR_NOT_NULL_FATAL(m);
		CU_ASSERT_EQUAL((uintptr_t)m % 256, 0);
		free(m);
		void *pm = (void *)0x1;
		CU_ASSERT_EQUAL(posix_memalign(&pm, 24, sizes[s]), EINVAL);
		CU_ASSERT_EQUAL(posix_memalign(&pm, 4, sizes[s]), EINVAL);
		CU_ASSERT_PTR_EQUAL(pm, (void *)0x1);
		CU_ASSERT_EQUAL(posix_memalign(&pm, 8192, sizes[s]), 0);
		CU_ASSERT_EQUAL((uintptr_t)pm % 8192, 0);
		free(pm);
		/* valloc and pvalloc: the OS page; pvalloc rounds the size. */
		size_t page = (size_t)sysconf(_SC_PAGESIZE);
		void *v = valloc(sizes[s]);
		CU_ASSERT_PTR_NOT_NULL_FATAL(v);
		CU_ASSERT_EQUAL((uintptr_t)v % page, 0);
		free(v);
		v = pvalloc(sizes[s]);
		CU_ASSERT_PTR_NOT_NULL_FATAL(v);
		CU_ASSERT_EQUAL((uintptr_t)v % page, 0);
		CU_ASSERT(malloc_usable_size(v) >= ((sizes[s] + page - 1) & ~(page - 1)));
		free(v);
	}
	errno = 0;
	CU_ASSERT_PTR_NULL(pvalloc(SIZE_MAX - 10));
	CU_ASSERT_EQUAL(errno, ENOMEM);

	/* malloc_usable_size of the three kinds of pointer. */
	CU_ASSERT_EQUAL(malloc_usable_size(NULL), 0);
	char *small = malloc(100), *large = malloc(big);
	CU_ASSERT(malloc_usable_size(small) >= 100);
	CU_ASSERT(malloc_usable_size(large) >= big);
	CU_ASSERT_EQUAL(malloc_usable_size(large) % psz, 0);

	/* mallinfo2/mallinfo: SBMA's blocks count as mmapped chunks. */
	struct mallinfo2 a = mallinfo2();
	char *more = malloc(8 * MiB);
	CU_ASSERT_PTR_NOT_NULL_FATAL(more);
	struct mallinfo2 b = mallinfo2();
	CU_ASSERT_EQUAL(b.hblks, a.hblks + 1);
	CU_ASSERT(b.hblkhd >= a.hblkhd + 8 * MiB);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
	struct mallinfo old = mallinfo();
#pragma GCC diagnostic pop
	CU_ASSERT_EQUAL((size_t)old.hblks, b.hblks);
	free(more);
	struct mallinfo2 c = mallinfo2();
	CU_ASSERT_EQUAL(c.hblks, a.hblks);
	CU_ASSERT_EQUAL(c.hblkhd, a.hblkhd);

	/* Left to glibc: they work on its heap and do not crash. */
	CU_ASSERT_EQUAL(mallopt(M_MMAP_THRESHOLD, 512 * 1024), 1);
	CU_ASSERT_EQUAL(mallopt(M_TRIM_THRESHOLD, 1024 * 1024), 1);
	(void)malloc_trim(0);
	FILE *devnull = fopen("/dev/null", "w");
	CU_ASSERT_EQUAL(malloc_info(0, devnull), 0);
	fclose(devnull);
	int saved = dup(2), nul = open("/dev/null", O_WRONLY);
	dup2(nul, 2);
	malloc_stats();
	dup2(saved, 2);
	close(saved);
	close(nul);

	/* What glibc allocates for itself stays glibc's, whatever the size
	 * (it may hand it to the kernel where no wrapper sees it). */
	char *text = malloc(big + 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	CU_ASSERT(sbma_owns(text));
	memset(text, 'x', big);
	text[big] = '\0';
	char *dup = strdup(text);
	CU_ASSERT_PTR_NOT_NULL_FATAL(dup);
	CU_ASSERT(!sbma_owns(dup));
	CU_ASSERT_EQUAL(strlen(dup), big);
	DIR *d = opendir(dir);
	CU_ASSERT_PTR_NOT_NULL(d);
	if (d)
		closedir(d);
	free(dup);
	free(text);

	/* cfree (old binaries) of both kinds. */
	uint64_t before = tc_stats().allocations;
	cfree(large);
	cfree(small);
	CU_ASSERT_EQUAL(tc_stats().allocations, before - 1);
}

/* ----------------------------------------------------------- 7. bad frees */

/* Child modes (argv[1]): what a buggy program does. */
static int child_bad_free(const char *mode)
{
	/* volatile: the compiler must not see the bugs this simulates. */
	char *volatile p = malloc(4 * MiB);
	char *keep = malloc(4 * MiB);
	if (!p || !keep || !sbma_owns(p))
		return 2;
	tc_fill(keep, 4 * MiB, 24, 1, 0);
	if (strcmp(mode, "--double-free") == 0) {
		printf("%p\n", (void *)p);
		fflush(stdout);
		free(p);
		free(p);
	} else {
		char *volatile inner = p + psz, *volatile odd = p + 40;
		printf("%p %p\n", (void *)inner, (void *)odd);
		fflush(stdout);
		free(inner);
		errno = 0;
		if (realloc(odd, 8 * MiB) != NULL || errno != EINVAL)
			return 3;
		free(p); /* the block itself is still live and intact */
	}
	/* Nothing else was damaged, and SBMA still allocates. */
	char *again = malloc(4 * MiB);
	if (!again || tc_check(keep, 4 * MiB, 24, 1, 0, "block kept") != 0)
		return 4;
	memset(again, 1, 4 * MiB);
	free(again);
	free(keep);
	printf("survived\n");
	return 0;
}

/* Run this program in mode `mode` with SBMA_CHECK=check; collect stdout and
 * stderr. Returns the wait status. */
static int run_child(const char *mode, const char *check, char *out, size_t on, char *err, size_t en)
{
	int po[2], pe[2];
	CU_ASSERT_FATAL(pipe(po) == 0 && pipe(pe) == 0);
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		dup2(po[1], 1);
		dup2(pe[1], 2);
		close(po[0]);
		close(pe[0]);
		setenv("SBMA_CHECK", check, 1);
		char *args[] = { main_argv[0], (char *)mode, NULL };
		execv("/proc/self/exe", args);
		_exit(99);
	}
	close(po[1]);
	close(pe[1]);
	size_t og = 0, eg = 0;
	ssize_t r;
	while (og < on - 1 && (r = read(po[0], out + og, on - 1 - og)) > 0)
		og += (size_t)r;
	while (eg < en - 1 && (r = read(pe[0], err + eg, en - 1 - eg)) > 0)
		eg += (size_t)r;
	out[og] = '\0';
	err[eg] = '\0';
	int st;
	waitpid(pid, &st, 0);
	close(po[0]);
	close(pe[0]);
	return st;
}

static void test_bad_free(void)
{
	char out[256], err[4096], want[256];
	void *addr, *addr2;

	/* Double free: told with the address, nothing else happens. */
	int st = run_child("--double-free", "0", out, sizeof out, err, sizeof err);
	CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "survived"));
	CU_ASSERT_EQUAL(sscanf(out, "%p", &addr), 1);
	snprintf(want, sizeof want, "free(%p): not a live SBMA allocation", addr);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, want));
	if (!strstr(err, want))
		fprintf(stderr, "  want \"%s\" in stderr:\n%s", want, err);

	/* Interior pointers: told as such, the block stays live. */
	st = run_child("--interior", "0", out, sizeof out, err, sizeof err);
	CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "survived"));
	CU_ASSERT_EQUAL(sscanf(out, "%p %p", &addr, &addr2), 2);
	snprintf(want, sizeof want, "free(%p): points inside a live SBMA allocation", addr);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, want));
	snprintf(want, sizeof want, "realloc(%p): points inside a live SBMA allocation", addr2);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, want));

	/* SBMA_CHECK=1: the process stops at the first one, naming it. */
	st = run_child("--double-free", "1", out, sizeof out, err, sizeof err);
	CU_ASSERT(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
	CU_ASSERT_PTR_NULL(strstr(out, "survived"));
	CU_ASSERT_EQUAL(sscanf(out, "%p", &addr), 1);
	snprintf(want, sizeof want, "free(%p): invalid pointer (SBMA_CHECK=1)", addr);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, want));
	st = run_child("--interior", "1", out, sizeof out, err, sizeof err);
	CU_ASSERT(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
	CU_ASSERT_EQUAL(sscanf(out, "%p", &addr), 1);
	snprintf(want, sizeof want, "free(%p): invalid pointer (SBMA_CHECK=1)", addr);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, want));
}

#endif /* !KA_NET_TEST */

/* ------------------------------------------------ the EFAULT net alone */

#ifdef KA_NET_TEST
extern int sbma__ka_nopin;

static void test_net(void)
{
	size_t n = 256 * KiB;
	int fd = data_file(n, 25);
	/* Capture what SBMA_VERBOSE says: the net must say it caught one. */
	int log = tmpfd(), saved = dup(2);
	dup2(log, 2);
	sbma__ka_nopin = 1;
	char *buf = sbuf(n, EVICTED, 26);
	CU_ASSERT_EQUAL(pread(fd, buf, n, 0), (ssize_t)n);
	CU_ASSERT_EQUAL(tc_check(buf, n, 25, 1, 0, "net: pread"), 0);
	CU_ASSERT(sbma_evict_all() >= 0);
	int out = tmpfd();
	CU_ASSERT_EQUAL(write(out, buf, n), (ssize_t)n);
	CU_ASSERT_EQUAL(file_bad(out, n, 25), 0);
	char *ro = sbuf(psz, RDONLY, 0);
	CU_ASSERT_EQUAL(fstat(fd, (struct stat *)ro), 0);
	CU_ASSERT_EQUAL(((struct stat *)ro)->st_size, (off_t)n);
	char *cwd = sbuf(PATH_MAX, FRESH, 0);
	CU_ASSERT_PTR_EQUAL(getcwd(cwd, PATH_MAX), cwd);
	struct iovec *v = iov3(buf, n);
	CU_ASSERT(sbma_evict_all() >= 0);
	CU_ASSERT_EQUAL(preadv(fd, v, 3, 0), (ssize_t)n);
	CU_ASSERT_EQUAL(tc_check(buf, n, 25, 1, 0, "net: preadv"), 0);
	/* A bad pointer outside SBMA memory still fails, once. */
	void *volatile wild = (void *)8; /* hidden from the compiler's checks */
	errno = 0;
	CU_ASSERT_EQUAL(read(fd, wild, 16), -1);
	CU_ASSERT_EQUAL(errno, EFAULT);
	sbma__ka_nopin = 0;
	dup2(saved, 2);
	close(saved);
	char said[512] = "";
	ssize_t r = pread(log, said, sizeof said - 1, 0);
	said[r > 0 ? r : 0] = '\0';
	CU_ASSERT_PTR_NOT_NULL(strstr(said, "EFAULT on SBMA memory; retried"));
	close(log);
	close(out);
	close(fd);
	sbma_free(v);
	sbma_free(cwd);
	sbma_free(ro);
	sbma_free(buf);
}
#endif

/* ------------------------------------------------------------------ main */

static void make_files(void)
{
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		exit(99);
	}
	snprintf(file_path, sizeof file_path, "%s/file", dir);
	int fd = open(file_path, O_CREAT | O_WRONLY, 0600);
	if (fd < 0 || ftruncate(fd, 12345) != 0) {
		perror(file_path);
		exit(99);
	}
	close(fd);
	/* A link with a long target (longer than a cache line, a stack buffer
	 * in a naive wrapper...). */
	memset(long_target, 0, sizeof long_target);
	snprintf(long_target, sizeof long_target, "%s/", dir);
	for (size_t i = strlen(long_target); i < 300; i++)
		long_target[i] = (char)('a' + i % 26);
	snprintf(link_path, sizeof link_path, "%s/link", dir);
	if (symlink(long_target, link_path) != 0) {
		perror(link_path);
		exit(99);
	}
	for (int i = 0; i < 40; i++) {
		char name[160];
		snprintf(name, sizeof name, "%s/entry-%02d-%s", dir, i, i % 2 ? "odd" : "even-longer-name");
		fd = open(name, O_CREAT | O_WRONLY, 0600);
		if (fd >= 0)
			close(fd);
	}
}

static void remove_files(void)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

int main(int argc, char **argv)
{
	static const char *const defaults[] = { "SBMA_BUDGET", "16M",
#ifdef KA_NET_TEST
						"SBMA_VERBOSE", "1",
#endif
						NULL };
	main_argv = argv;
	tc_env_defaults(argv, defaults);
	cfg = tc_config();
	psz = cfg.page_size;
#ifndef KA_NET_TEST
	if (argc > 1)
		return child_bad_free(argv[1]);
#else
	(void)argc;
#endif
	tc_print_config("test_kernel_access");
	signal(SIGPIPE, SIG_IGN); /* a broken pipe fails a check, not the run */
	make_files();
#ifdef KA_NET_TEST
	CU_TestInfo tests[] = {
		{ "EFAULT net alone (pins switched off)", test_net },
		CU_TEST_INFO_NULL,
	};
#else
	CU_TestInfo tests[] = {
		{ "raw system calls on SBMA memory get EFAULT", test_raw_efault },
		{ "read/write/pread/pwrite/v/2/64/chk, stdio", test_file_io },
		{ "more separate ranges than the stack list", test_many_ranges },
		{ "calls while another thread evicts", test_concurrent_evict },
		{ "pipes", test_pipe },
		{ "stream sockets: send/recv/sendto/recvfrom", test_stream_socket },
		{ "datagrams with peer addresses", test_dgram_addr },
		{ "sendmsg/recvmsg with SCM_RIGHTS", test_msg },
		{ "sendmmsg/recvmmsg", test_mmsg },
		{ "stat family, statx, statfs", test_stat },
		{ "getdents64", test_getdents },
		{ "readlink, readlinkat, getcwd", test_readlink_getcwd },
		{ "getrandom", test_getrandom },
		{ "process_vm_readv/writev", test_process_vm },
		{ "fputs, fputs_unlocked, puts", test_fputs },
		{ "open, fopen, mkdir, rename... with names in SBMA memory", test_paths },
		{ "printf family, strings over the budget", test_printf },
		{ "setvbuf, setbuffer: stream buffer in SBMA memory", test_setvbuf },
		{ "transfers of 3x the budget", test_split },
		{ "allocator entry points", test_alloc_entry_points },
		{ "double free, interior pointers, SBMA_CHECK", test_bad_free },
		CU_TEST_INFO_NULL,
	};
#endif
	int rc = tc_run("kernel_access", tests);
	remove_files();
	return rc;
}
