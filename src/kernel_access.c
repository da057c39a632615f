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

/* Whether [buf, buf+len) has SBMA memory in it (the arena is one range, so
 * checking both ends suffices for any buffer smaller than it). */
static inline int in_sbma(const void *buf, size_t len)
{
	return len && (sbma__in_arena(buf) || sbma__in_arena((const char *)buf + len - 1));
}

static inline int pin(const void *buf, size_t len, int access)
{
	return in_sbma(buf, len) && sbma_pin((void *)buf, len, access) == 0;
}

static inline void unpin(int pinned, const void *buf, size_t len)
{
	if (pinned) {
		int saved = errno;
		sbma_unpin((void *)buf, len);
		errno = saved;
	}
}

/* stdio's size * nmemb; 0 (nothing pinned) if it overflows, which libc then
 * rejects itself. */
static inline size_t items(size_t size, size_t nmemb)
{
	size_t len;
	return __builtin_mul_overflow(size, nmemb, &len) ? 0 : len;
}

/* Call the next definition of `name` with buf[0..len) pinned for `access`. */
#define PINNED_CALL(name, access, buf, len, ...)                              \
	({                                                                    \
		REAL(name);                                                   \
		int pinned_ = pin(buf, len, access);                          \
		__typeof__(real_##name(__VA_ARGS__)) ret_ = real_##name(__VA_ARGS__); \
		unpin(pinned_, buf, len);                                     \
		ret_;                                                         \
	})

#define R SBMA_ACCESS_READ  /* the kernel reads the buffer */
#define W SBMA_ACCESS_WRITE /* the kernel writes it */

static int pin_iov(const struct iovec *iov, int n, int access)
{
	int any = 0;
	for (int i = 0; i < n; i++)
		any |= pin(iov[i].iov_base, iov[i].iov_len, access);
	return any;
}

static void unpin_iov(int pinned, const struct iovec *iov, int n)
{
	for (int i = 0; pinned && i < n; i++)
		unpin(in_sbma(iov[i].iov_base, iov[i].iov_len), iov[i].iov_base, iov[i].iov_len);
}

EXPORT ssize_t read(int fd, void *buf, size_t count)
{
	return PINNED_CALL(read, W, buf, count, fd, buf, count);
}

EXPORT ssize_t write(int fd, const void *buf, size_t count)
{
	return PINNED_CALL(write, R, buf, count, fd, buf, count);
}

EXPORT ssize_t pread(int fd, void *buf, size_t count, off_t off)
{
	return PINNED_CALL(pread, W, buf, count, fd, buf, count, off);
}

EXPORT ssize_t pwrite(int fd, const void *buf, size_t count, off_t off)
{
	return PINNED_CALL(pwrite, R, buf, count, fd, buf, count, off);
}

EXPORT ssize_t readv(int fd, const struct iovec *iov, int iovcnt)
{
	REAL(readv);
	int p = pin_iov(iov, iovcnt, W);
	ssize_t n = real_readv(fd, iov, iovcnt);
	unpin_iov(p, iov, iovcnt);
	return n;
}

EXPORT ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
	REAL(writev);
	int p = pin_iov(iov, iovcnt, R);
	ssize_t n = real_writev(fd, iov, iovcnt);
	unpin_iov(p, iov, iovcnt);
	return n;
}

/* stdio reads and writes through libc-internal calls that no wrapper sees. */
#undef fread_unlocked
#undef fwrite_unlocked

EXPORT size_t fread(void *ptr, size_t size, size_t nmemb, FILE *stream)
{
	return PINNED_CALL(fread, W, ptr, items(size, nmemb), ptr, size, nmemb, stream);
}

EXPORT size_t fwrite(const void *ptr, size_t size, size_t nmemb, FILE *stream)
{
	return PINNED_CALL(fwrite, R, ptr, items(size, nmemb), ptr, size, nmemb, stream);
}

EXPORT size_t fread_unlocked(void *ptr, size_t size, size_t nmemb, FILE *stream)
{
	return PINNED_CALL(fread_unlocked, W, ptr, items(size, nmemb), ptr, size, nmemb, stream);
}

EXPORT size_t fwrite_unlocked(const void *ptr, size_t size, size_t nmemb, FILE *stream)
{
	return PINNED_CALL(fwrite_unlocked, R, ptr, items(size, nmemb), ptr, size, nmemb, stream);
}

/* _FORTIFY_SOURCE builds (most distribution binaries) call these instead. */
ssize_t __read_chk(int fd, void *buf, size_t count, size_t buflen);
ssize_t __pread_chk(int fd, void *buf, size_t count, off_t off, size_t buflen);
size_t __fread_chk(void *ptr, size_t ptrlen, size_t size, size_t nmemb, FILE *stream);
size_t __fread_unlocked_chk(void *ptr, size_t ptrlen, size_t size, size_t nmemb, FILE *stream);

EXPORT ssize_t __read_chk(int fd, void *buf, size_t count, size_t buflen)
{
	return PINNED_CALL(__read_chk, W, buf, count, fd, buf, count, buflen);
}

EXPORT ssize_t __pread_chk(int fd, void *buf, size_t count, off_t off, size_t buflen)
{
	return PINNED_CALL(__pread_chk, W, buf, count, fd, buf, count, off, buflen);
}

EXPORT size_t __fread_chk(void *ptr, size_t ptrlen, size_t size, size_t nmemb, FILE *stream)
{
	return PINNED_CALL(__fread_chk, W, ptr, items(size, nmemb), ptr, ptrlen, size, nmemb, stream);
}

EXPORT size_t __fread_unlocked_chk(void *ptr, size_t ptrlen, size_t size, size_t nmemb, FILE *stream)
{
	return PINNED_CALL(__fread_unlocked_chk, W, ptr, items(size, nmemb), ptr, ptrlen, size, nmemb, stream);
}
