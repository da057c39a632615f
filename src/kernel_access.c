/*
 * kernel_access.c - system calls that read or write user buffers.
 *
 * The kernel raises no SIGSEGV when it touches protected user memory
 * itself: read() into an evicted SBMA buffer fails with EFAULT (or returns
 * short). So each wrapper below pins the part of the buffer that is SBMA
 * memory with the access the kernel needs (resident, and safe from eviction
 * by other threads) for the duration of the call. Buffers outside the arena
 * cost one range check.
 *
 * FIXME(issue 3): recv/send families, getdents, stat-like calls and the
 * *64 aliases of the positional calls are not wrapped yet; iovec arrays are
 * pinned element by element.
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <sys/uio.h>
#include <unistd.h>

#include "sbma_internal.h"

#define EXPORT __attribute__((visibility("default")))

/* The next definition of a libc function, looked up once. dlsym may
 * allocate; by the time a program reads a file, malloc works. */
#define REAL(name)                                                            \
	static __typeof__(name) *real_##name;                                 \
	if (SBMA_UNLIKELY(!real_##name))                                      \
		real_##name = (__typeof__(name) *)dlsym(RTLD_NEXT, #name)

static inline int pin(const void *buf, size_t len, int access)
{
	if (SBMA_LIKELY(!sbma__in_arena(buf) && !sbma__in_arena((const char *)buf + len - 1)) || len == 0)
		return 0;
	return sbma_pin((void *)buf, len, access) == 0;
}

static inline void unpin(int pinned, const void *buf, size_t len)
{
	if (pinned) {
		int saved = errno;
		sbma_unpin((void *)buf, len);
		errno = saved;
	}
}

static int pin_iov(const struct iovec *iov, int n, int access)
{
	int any = 0;
	for (int i = 0; i < n; i++)
		any |= pin(iov[i].iov_base, iov[i].iov_len, access);
	return any;
}

static void unpin_iov(int pinned, const struct iovec *iov, int n)
{
	if (!pinned)
		return;
	for (int i = 0; i < n; i++)
		if (sbma__in_arena(iov[i].iov_base) && iov[i].iov_len)
			unpin(1, iov[i].iov_base, iov[i].iov_len);
}

EXPORT ssize_t read(int fd, void *buf, size_t count)
{
	REAL(read);
	int p = pin(buf, count, SBMA_ACCESS_WRITE);
	ssize_t n = real_read(fd, buf, count);
	unpin(p, buf, count);
	return n;
}

EXPORT ssize_t write(int fd, const void *buf, size_t count)
{
	REAL(write);
	int p = pin(buf, count, SBMA_ACCESS_READ);
	ssize_t n = real_write(fd, buf, count);
	unpin(p, buf, count);
	return n;
}

EXPORT ssize_t pread(int fd, void *buf, size_t count, off_t off)
{
	REAL(pread);
	int p = pin(buf, count, SBMA_ACCESS_WRITE);
	ssize_t n = real_pread(fd, buf, count, off);
	unpin(p, buf, count);
	return n;
}

EXPORT ssize_t pwrite(int fd, const void *buf, size_t count, off_t off)
{
	REAL(pwrite);
	int p = pin(buf, count, SBMA_ACCESS_READ);
	ssize_t n = real_pwrite(fd, buf, count, off);
	unpin(p, buf, count);
	return n;
}

EXPORT ssize_t readv(int fd, const struct iovec *iov, int iovcnt)
{
	REAL(readv);
	int p = pin_iov(iov, iovcnt, SBMA_ACCESS_WRITE);
	ssize_t n = real_readv(fd, iov, iovcnt);
	unpin_iov(p, iov, iovcnt);
	return n;
}

EXPORT ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
	REAL(writev);
	int p = pin_iov(iov, iovcnt, SBMA_ACCESS_READ);
	ssize_t n = real_writev(fd, iov, iovcnt);
	unpin_iov(p, iov, iovcnt);
	return n;
}

/* stdio reads and writes through libc-internal calls that no wrapper sees. */
EXPORT size_t fread(void *ptr, size_t size, size_t nmemb, FILE *stream)
{
	REAL(fread);
	size_t len;
	int p = __builtin_mul_overflow(size, nmemb, &len) ? 0 : pin(ptr, len, SBMA_ACCESS_WRITE);
	size_t n = real_fread(ptr, size, nmemb, stream);
	unpin(p, ptr, len);
	return n;
}

EXPORT size_t fwrite(const void *ptr, size_t size, size_t nmemb, FILE *stream)
{
	REAL(fwrite);
	size_t len;
	int p = __builtin_mul_overflow(size, nmemb, &len) ? 0 : pin(ptr, len, SBMA_ACCESS_READ);
	size_t n = real_fwrite(ptr, size, nmemb, stream);
	unpin(p, ptr, len);
	return n;
}

#undef fread_unlocked
#undef fwrite_unlocked

EXPORT size_t fread_unlocked(void *ptr, size_t size, size_t nmemb, FILE *stream)
{
	REAL(fread_unlocked);
	size_t len;
	int p = __builtin_mul_overflow(size, nmemb, &len) ? 0 : pin(ptr, len, SBMA_ACCESS_WRITE);
	size_t n = real_fread_unlocked(ptr, size, nmemb, stream);
	unpin(p, ptr, len);
	return n;
}

EXPORT size_t fwrite_unlocked(const void *ptr, size_t size, size_t nmemb, FILE *stream)
{
	REAL(fwrite_unlocked);
	size_t len;
	int p = __builtin_mul_overflow(size, nmemb, &len) ? 0 : pin(ptr, len, SBMA_ACCESS_READ);
	size_t n = real_fwrite_unlocked(ptr, size, nmemb, stream);
	unpin(p, ptr, len);
	return n;
}

/* _FORTIFY_SOURCE builds (most distribution binaries) call these instead. */
ssize_t __read_chk(int fd, void *buf, size_t count, size_t buflen);
ssize_t __pread_chk(int fd, void *buf, size_t count, off_t off, size_t buflen);
size_t __fread_chk(void *ptr, size_t ptrlen, size_t size, size_t nmemb, FILE *stream);
size_t __fread_unlocked_chk(void *ptr, size_t ptrlen, size_t size, size_t nmemb, FILE *stream);

EXPORT ssize_t __read_chk(int fd, void *buf, size_t count, size_t buflen)
{
	REAL(__read_chk);
	int p = pin(buf, count, SBMA_ACCESS_WRITE);
	ssize_t n = real___read_chk(fd, buf, count, buflen);
	unpin(p, buf, count);
	return n;
}

EXPORT ssize_t __pread_chk(int fd, void *buf, size_t count, off_t off, size_t buflen)
{
	REAL(__pread_chk);
	int p = pin(buf, count, SBMA_ACCESS_WRITE);
	ssize_t n = real___pread_chk(fd, buf, count, off, buflen);
	unpin(p, buf, count);
	return n;
}

EXPORT size_t __fread_chk(void *ptr, size_t ptrlen, size_t size, size_t nmemb, FILE *stream)
{
	REAL(__fread_chk);
	size_t len;
	int p = __builtin_mul_overflow(size, nmemb, &len) ? 0 : pin(ptr, len, SBMA_ACCESS_WRITE);
	size_t n = real___fread_chk(ptr, ptrlen, size, nmemb, stream);
	unpin(p, ptr, len);
	return n;
}

EXPORT size_t __fread_unlocked_chk(void *ptr, size_t ptrlen, size_t size, size_t nmemb, FILE *stream)
{
	REAL(__fread_unlocked_chk);
	size_t len;
	int p = __builtin_mul_overflow(size, nmemb, &len) ? 0 : pin(ptr, len, SBMA_ACCESS_WRITE);
	size_t n = real___fread_unlocked_chk(ptr, ptrlen, size, nmemb, stream);
	unpin(p, ptr, len);
	return n;
}
