/*
 * store.c - the backing store: one file per process.
 *
 * The file is created in SBMA_DIR with O_TMPFILE (or created and unlinked at
 * once where O_TMPFILE is not supported), mode 0600, so it has no name that
 * another user could open and nothing is left on disk after a crash. Its
 * layout mirrors the arena: page i of the arena lives at offset i * page
 * size, so no mapping table is needed and runs of adjacent pages are runs of
 * adjacent file blocks.
 *
 * Space is reserved (fallocate) when memory is allocated, so a full disk is
 * reported to the malloc that asked for too much, and eviction never fails
 * for lack of space. Freed extents are punched out.
 *
 * I/O is direct (O_DIRECT) where the file system allows it, so the page
 * cache keeps no second copy of evicted data that the budget would not see.
 * Where it does not, I/O is buffered and the cached copy is dropped after
 * each transfer (best effort).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sbma_internal.h"

static int store_fd = -1;
static int store_direct;     /* O_DIRECT in effect */
static int store_can_reserve = 1;

/* The random part of a fallback name: unknown to other users in advance.
 * Under an injected O_TMPFILE refusal (a test of this path) it is the
 * attempt number, so that the test can pre-create the names. */
static unsigned name_salt(int attempt)
{
#ifdef SBMA_FAULT_INJECT
	if (sbma__fi_on(SBMA__FI_TMPFILE))
		return (unsigned)attempt;
#endif
	return (unsigned)(sbma__os_now_ns() ^ (unsigned)attempt * 2654435761u);
}

static int open_in_dir(const char *dir, int flags)
{
	int fd = sbma__os_open_tmpfile(dir, flags);
	if (fd >= 0 || (fd != -EOPNOTSUPP && fd != -EISDIR && fd != -ENOENT))
		return fd;
	if (fd == -ENOENT) {
		/* ENOENT from O_TMPFILE can mean a missing directory or an old
		 * kernel; tell them apart. */
		struct stat st;
		if (stat(dir, &st) != 0)
			return -ENOENT;
	}
	/* No O_TMPFILE here: a unique name, created exclusively (a file or a
	 * link someone put there first is never opened: O_EXCL, O_NOFOLLOW),
	 * unlinked at once. */
	char path[PATH_MAX + 64];
	for (int attempt = 0; attempt < 100; attempt++) {
		sbma__format(path, sizeof path, "%s/.sbma-%u-%d-%u", dir, (unsigned)geteuid(), (int)getpid(),
			     name_salt(attempt));
		fd = sbma__os_create_excl(path, flags);
		if (fd == -EEXIST)
			continue;
		if (fd < 0)
			return fd;
		unlink(path);
		/* Still named (moved away before the unlink: a directory that
		 * others may write to without the sticky bit): not private. */
		struct stat st;
		if (fstat(fd, &st) != 0 || st.st_nlink != 0) {
			close(fd);
			continue;
		}
		return fd;
	}
	return -EEXIST;
}

int sbma__store_open(void)
{
	const char *dir = sbma__opt.dir;
	int fd = -1;
	store_direct = 0;
	if (sbma__opt.direct_io != 0) {
		fd = open_in_dir(dir, O_DIRECT);
		if (fd >= 0)
			store_direct = 1;
		else if (sbma__opt.direct_io == 1) {
			sbma__log("SBMA_DIRECT=on but %s refuses O_DIRECT: %s", dir, strerror(-fd));
			return fd;
		}
	}
	if (fd < 0)
		fd = open_in_dir(dir, 0);
	if (fd < 0) {
		sbma__log("cannot create the backing file in SBMA_DIR=%s: %s", dir, strerror(-fd));
		return fd;
	}
	store_fd = fd;
	return 0;
}

/*
 * Open a new backing file and make it the current one; the previous one
 * stays open and its descriptor goes to *old_fd, for the caller to copy
 * from and close. For fork.c: a forked child must not write its parent's
 * file. On failure the current file is unchanged.
 */
int sbma__store_replace(int *old_fd)
{
	int fd = store_fd, direct = store_direct;
	int rc = sbma__store_open();
	if (rc) {
		store_fd = fd;
		store_direct = direct;
		return rc;
	}
	*old_fd = fd;
	return 0;
}

void sbma__store_close(void)
{
	if (store_fd >= 0)
		close(store_fd);
	store_fd = -1;
}

int sbma__store_fd(void)
{
	return store_fd;
}

int sbma__store_reserve(uint64_t off, uint64_t len)
{
	if (!store_can_reserve)
		return 0;
	int rc = sbma__os_reserve(store_fd, (off_t)off, (off_t)len);
	if (rc == -EOPNOTSUPP) {
		/* FIXME: without fallocate a full disk surfaces at eviction
		 * time (the pages then stay resident and the error is
		 * reported) instead of at malloc. */
		store_can_reserve = 0;
		if (sbma__opt.verbose)
			sbma__log("SBMA_DIR=%s cannot reserve space (no fallocate): a full disk will be found late",
				  sbma__opt.dir);
		return 0;
	}
	if (rc == -ENOSPC || rc == -EDQUOT || rc == -EFBIG) {
		/* Undo the part that was reserved before the disk filled. */
		sbma__os_punch(store_fd, (off_t)off, (off_t)len);
		return -ENOMEM;
	}
	return rc;
}

int sbma__store_release(uint64_t off, uint64_t len)
{
	int rc = sbma__os_punch(store_fd, (off_t)off, (off_t)len);
	return rc == -EOPNOTSUPP ? 0 : rc;
}

/* Some file systems accept O_DIRECT at open and refuse it at the first
 * transfer; in auto mode fall back to buffered I/O for good. */
static int direct_refused(int rc)
{
	if (rc != -EINVAL || !store_direct || sbma__opt.direct_io == 1)
		return 0;
	int fl = fcntl(store_fd, F_GETFL);
	if (fl < 0 || fcntl(store_fd, F_SETFL, fl & ~O_DIRECT) < 0)
		return 0;
	store_direct = 0;
	return 1;
}

/*
 * After a failed buffered write, give [off, off+len) fresh blocks: punch it
 * and reserve it again. ext4 silently loses a later, successful buffered
 * write to a fallocated (unwritten) extent whose write-back had failed
 * ("failed to convert unwritten extents to written extents": the data reads
 * back as zeros; tests/test_inject_eio.sh, SBMA_DIRECT=off, caught it).
 * Direct I/O does not need it (the same test), and it is not done there:
 * on a failing device every extra metadata change brings the file system
 * closer to going read-only. The data there is obsolete: the caller keeps
 * these pages dirty and resident. A failure here is left for the next
 * write to find.
 */
static void rearm_async(uint64_t off, uint64_t len)
{
	if (store_direct)
		return;
	if (sbma__os_punch(store_fd, (off_t)off, (off_t)len) == 0 && store_can_reserve)
		sbma__os_reserve(store_fd, (off_t)off, (off_t)len);
}

int sbma__store_write_async(const void *buf, uint64_t off, uint64_t len)
{
	int rc = sbma__os_pwrite_full(store_fd, buf, len, (off_t)off);
	if (rc && direct_refused(rc))
		rc = sbma__os_pwrite_full(store_fd, buf, len, (off_t)off);
	if (rc == 0 && !store_direct) {
		/* Write back now and drop the cached copy once clean: evicted
		 * data must not stay in RAM behind the budget's back. The
		 * write-back's own error is the write's error: a buffered
		 * pwrite succeeds into the page cache, the device may still
		 * refuse the data (EIO, a thin-provisioned or full device:
		 * ENOSPC), and the caller is about to drop its only other copy.
		 * tests/test_inject_eio.sh (SBMA_DIRECT=off) lost data before
		 * this check. */
		rc = sbma__os_sync_range(store_fd, (off_t)off, (off_t)len);
		if (rc == 0)
			posix_fadvise(store_fd, (off_t)off, (off_t)len, POSIX_FADV_DONTNEED);
	}
	if (rc)
		rearm_async(off, len);
	return rc;
}

int sbma__store_read_async(void *buf, uint64_t off, uint64_t len)
{
	int rc = sbma__os_pread_full(store_fd, buf, len, (off_t)off);
	if (rc && direct_refused(rc))
		rc = sbma__os_pread_full(store_fd, buf, len, (off_t)off);
	if (rc == 0 && !store_direct)
		posix_fadvise(store_fd, (off_t)off, (off_t)len, POSIX_FADV_DONTNEED);
	return rc;
}

int sbma__store_is_direct(void)
{
	return store_direct;
}
