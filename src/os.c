/*
 * os.c - the primitive layer: every kernel call the engine makes on memory
 * and files goes through here.
 *
 * Return convention: 0 (or a byte count) on success, -errno on failure.
 * errno itself is saved and restored, because some of these run inside the
 * SIGSEGV handler, where clobbering the interrupted code's errno would be a
 * bug the program could see. Everything here is async-signal-safe.
 *
 * EINTR is retried here wherever the kernel may return it (transfers,
 * fallocate, sync_file_range, open): SBMA blocks signals while it holds the
 * engine lock, so it should not happen, but a caller must never see it.
 *
 * Fault injection (./configure --enable-fault-inject; fault_inject.c): each
 * kernel call below first asks sbma__fi_check() whether to fail, and fails
 * the way the kernel would, errno and all. In a normal build FAKE() is 0
 * and the compiler removes the branch.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "sbma_internal.h"

#ifdef SBMA_FAULT_INJECT
#define FAKE(op) sbma__fi_check(op)
#else
#define FAKE(op) 0
#define SBMA__FI_SHORT (-1)
#endif
/* The kernel call, or -1 with errno set if fault injection says so. */
#define CALL(op, call) (fake_ = FAKE(op), fake_ > 0 ? (errno = fake_, -1) : (call))

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
	int fake_;
	RETURN_ERRNO(CALL(SBMA__FI_MPROTECT, mprotect(addr, len, prot)) != 0);
}

int sbma__os_madvise(void *addr, size_t len, int advice)
{
	SAVE_ERRNO;
	int fake_;
	RETURN_ERRNO(CALL(SBMA__FI_MADVISE, madvise(addr, len, advice)) != 0);
}

void *sbma__os_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off, int *err)
{
	int saved = errno;
	int fake_ = FAKE(SBMA__FI_MMAP);
	void *p = fake_ > 0 ? (errno = fake_, MAP_FAILED) : mmap(addr, len, prot, flags, fd, off);
	*err = p == MAP_FAILED ? -errno : 0;
	errno = saved;
	return p == MAP_FAILED ? NULL : p;
}

/* Which OS pages of [addr, addr+len) have RAM behind them (for the memfd
 * views: which memfd pages are allocated), one byte per page in vec. */
int sbma__os_mincore(void *addr, size_t len, unsigned char *vec)
{
	SAVE_ERRNO;
	RETURN_ERRNO(mincore(addr, len, vec) != 0);
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
static int transfer_full(int fd, char *p, size_t len, off_t off, int write, int inject)
{
	int saved = errno;
	while (len > 0) {
		size_t want = len;
		ssize_t n;
		int fake_ = inject ? FAKE(write ? SBMA__FI_PWRITE : SBMA__FI_PREAD) : 0;
		if (fake_ == SBMA__FI_SHORT && len >= 2 * sbma__os_page_size())
			want = (len / 2) & ~(sbma__os_page_size() - 1); /* whole pages: O_DIRECT */
		if (fake_ > 0) {
			errno = fake_;
			n = -1;
		} else {
			n = write ? pwrite(fd, p, want, off) : pread(fd, p, want, off);
		}
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
	return transfer_full(fd, buf, len, off, 0, 1);
}

int sbma__os_pwrite_full(int fd, const void *buf, size_t len, off_t off)
{
	return transfer_full(fd, (char *)buf, len, off, 1, 1);
}

/* Not a device transfer (a file in RAM, the memfd): the injected pwrite
 * failures stand for a failing disk and are not made here. */
int sbma__os_pwrite_ram_full(int fd, const void *buf, size_t len, off_t off)
{
	return transfer_full(fd, (char *)buf, len, off, 1, 0);
}

/* Kernel AIO, by raw system calls (no libaio): with O_DIRECT the read
 * runs on the device while the caller copies the one before. A context
 * belongs to the process that made it (a forked child must make its own). */
int sbma__os_aio_setup(unsigned nr, uint64_t *ctx)
{
	SAVE_ERRNO;
	aio_context_t c = 0;
	int rc = syscall(SYS_io_setup, nr, &c) != 0;
	*ctx = c;
	RETURN_ERRNO(rc);
}

/* Submit one read of len bytes at off into buf; tag comes back from
 * sbma__os_aio_wait. An injected pread failure refuses the submission (the
 * caller then reads synchronously, through the injection again). */
int sbma__os_aio_read(uint64_t ctx, int fd, void *buf, size_t len, off_t off, uint64_t tag)
{
	SAVE_ERRNO;
	int fake_;
	struct iocb cb;
	struct iocb *cbs[1] = {&cb};
	memset(&cb, 0, sizeof cb);
	cb.aio_data = tag;
	cb.aio_lio_opcode = IOCB_CMD_PREAD;
	cb.aio_fildes = (uint32_t)fd;
	cb.aio_buf = (uint64_t)(uintptr_t)buf;
	cb.aio_nbytes = len;
	cb.aio_offset = off;
	long rc;
	do
		rc = CALL(SBMA__FI_PREAD, syscall(SYS_io_submit, (aio_context_t)ctx, 1L, cbs));
	while (rc < 0 && errno == EINTR);
	if (rc == 0)
		errno = EAGAIN;
	RETURN_ERRNO(rc != 1);
}

/* Wait for one submitted read: its tag, and its result (bytes or -errno). */
int sbma__os_aio_wait(uint64_t ctx, uint64_t *tag, int64_t *res)
{
	SAVE_ERRNO;
	struct io_event ev;
	long rc;
	do
		rc = syscall(SYS_io_getevents, (aio_context_t)ctx, 1L, 1L, &ev, NULL);
	while (rc < 0 && errno == EINTR);
	if (rc == 1) {
		*tag = ev.data;
		*res = ev.res;
	} else if (rc == 0) {
		errno = EIO;
	}
	RETURN_ERRNO(rc != 1);
}

int sbma__os_punch(int fd, off_t off, off_t len)
{
	SAVE_ERRNO;
	int rc, fake_;
	do
		rc = CALL(SBMA__FI_PUNCH, fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len));
	while (rc != 0 && errno == EINTR);
	RETURN_ERRNO(rc != 0);
}

int sbma__os_reserve(int fd, off_t off, off_t len)
{
	SAVE_ERRNO;
	int rc, fake_;
	do
		rc = CALL(SBMA__FI_RESERVE, fallocate(fd, 0, off, len));
	while (rc != 0 && errno == EINTR);
	RETURN_ERRNO(rc != 0);
}

/* sync_file_range reports the write-back errors of the range (since Linux
 * 4.13 it uses the file's error sequence, as fdatasync does); where it is
 * not supported, fdatasync does the same for the whole file. */
int sbma__os_sync_range(int fd, off_t off, off_t len)
{
	SAVE_ERRNO;
	int rc, fake_;
	do
		rc = CALL(SBMA__FI_SYNC, sync_file_range(fd, off, len,
							 SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
								 SYNC_FILE_RANGE_WAIT_AFTER));
	while (rc != 0 && errno == EINTR);
	if (rc != 0 && (errno == ENOSYS || errno == EINVAL || errno == ESPIPE || errno == EOPNOTSUPP)) {
		do
			rc = fdatasync(fd);
		while (rc != 0 && errno == EINTR);
	}
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

int sbma__os_open_tmpfile(const char *dir, int flags)
{
	int fd, fake_;
	do
		fd = CALL(SBMA__FI_TMPFILE, open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC | flags, 0600));
	while (fd < 0 && errno == EINTR);
	return fd >= 0 ? fd : -errno;
}

int sbma__os_create_excl(const char *path, int flags)
{
	int fd;
	do
		fd = open(path, O_CREAT | O_EXCL | O_NOFOLLOW | O_RDWR | O_CLOEXEC | flags, 0600);
	while (fd < 0 && errno == EINTR);
	return fd >= 0 ? fd : -errno;
}

int sbma__os_read_text(const char *path, char *buf, size_t size)
{
	int saved = errno;
	int fd;
	do
		fd = open(path, O_RDONLY | O_CLOEXEC);
	while (fd < 0 && errno == EINTR);
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
