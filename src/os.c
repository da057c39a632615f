/*
 * os.c - the primitive layer: every kernel call the engine makes on memory
 * and files goes through here.
 *
 * Return convention: 0 (or a byte count) on success, -errno on failure.
 * errno itself is saved and restored, because some of these run inside the
 * SIGSEGV handler, where clobbering the interrupted code's errno would be a
 * bug the program could see. Everything here is async-signal-safe.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "sbma_internal.h"

#define SAVE_ERRNO int saved_errno_ = errno
#define RETURN_ERRNO(rc)                                                      \
	do {                                                                  \
		int r_ = (rc) ? -errno : 0;                                   \
		errno = saved_errno_;                                         \
		return r_;                                                    \
	} while (0)

int sbma__os_mprotect(void *addr, size_t len, int prot)
{
	SAVE_ERRNO;
	RETURN_ERRNO(mprotect(addr, len, prot) != 0);
}

int sbma__os_madvise(void *addr, size_t len, int advice)
{
	SAVE_ERRNO;
	RETURN_ERRNO(madvise(addr, len, advice) != 0);
}

void *sbma__os_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off, int *err)
{
	int saved = errno;
	void *p = mmap(addr, len, prot, flags, fd, off);
	*err = p == MAP_FAILED ? -errno : 0;
	errno = saved;
	return p == MAP_FAILED ? NULL : p;
}

int sbma__os_munmap(void *addr, size_t len)
{
	SAVE_ERRNO;
	RETURN_ERRNO(munmap(addr, len) != 0);
}

/* A short transfer is not an error: it is continued until done, so that a
 * signal or a partial device write can never silently lose data. A
 * zero-byte transfer before the end means the file is shorter than the
 * caller believes, which is corruption of our own bookkeeping: -EIO. */
static int transfer_full(int fd, char *p, size_t len, off_t off, int write)
{
	int saved = errno;
	while (len > 0) {
		ssize_t n = write ? pwrite(fd, p, len, off) : pread(fd, p, len, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int rc = n < 0 ? -errno : -EIO;
			errno = saved;
			return rc;
		}
		p += n;
		off += n;
		len -= (size_t)n;
	}
	errno = saved;
	return 0;
}

int sbma__os_pread_full(int fd, void *buf, size_t len, off_t off)
{
	return transfer_full(fd, buf, len, off, 0);
}

int sbma__os_pwrite_full(int fd, const void *buf, size_t len, off_t off)
{
	return transfer_full(fd, (char *)buf, len, off, 1);
}

int sbma__os_punch(int fd, off_t off, off_t len)
{
	SAVE_ERRNO;
	RETURN_ERRNO(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len) != 0);
}

int sbma__os_reserve(int fd, off_t off, off_t len)
{
	SAVE_ERRNO;
	int rc;
	do
		rc = fallocate(fd, 0, off, len);
	while (rc != 0 && errno == EINTR);
	RETURN_ERRNO(rc != 0);
}

size_t sbma__os_page_size(void)
{
	static size_t ps;
	if (!ps)
		ps = (size_t)sysconf(_SC_PAGESIZE);
	return ps;
}

uint64_t sbma__os_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int sbma__os_read_text(const char *path, char *buf, size_t size)
{
	int saved = errno;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int rc = -errno;
		errno = saved;
		return rc;
	}
	size_t got = 0;
	while (got + 1 < size) {
		ssize_t n = read(fd, buf + got, size - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	close(fd);
	errno = saved;
	return (int)got;
}
