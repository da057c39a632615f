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
 *
 * Reads for loads go through bounce buffers: pread from the store into
 * private memory that stays mapped, then pwrite into the memfd. Read
 * straight into the manager view, the destination is a hole of the memfd,
 * and the kernel faults in, zeroes and maps every 4 KiB page of it one at
 * a time inside the read (get_user_pages), before the device starts, and
 * the mapping has to be zapped again after; a pwrite into the memfd
 * allocates the pages without zeroing them (they are overwritten whole)
 * and maps nothing. A run longer than one chunk is read in chunks, with up
 * to BOUNCE_CHUNKS reads in flight (kernel AIO, O_DIRECT only) while the
 * one before is copied into the memfd: the device never waits for the copy.
 * The price: BOUNCE_SLOTS buffers of BOUNCE_CHUNKS * BOUNCE_CHUNK bytes
 * (anonymous memory outside the budget, mapped at the first read that
 * needs one). A read that finds every buffer taken (threads loading at
 * once, SBMA_UNLOCKED_IO) or cannot map one goes straight into the manager
 * view as before.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sbma_internal.h"

static int store_fd = -1;
static int store_direct;     /* O_DIRECT in effect */
static int store_can_reserve = 1;

#define BOUNCE_SLOTS 2
#define BOUNCE_CHUNKS 4
#define BOUNCE_CHUNK ((size_t)256 << 10)
static struct {
	char *buf;    /* BOUNCE_CHUNKS * BOUNCE_CHUNK bytes */
	uint64_t aio; /* AIO context of this slot, 0 if none */
	pid_t aio_pid;
	int taken;
} bounce[BOUNCE_SLOTS];

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

/* A free bounce slot, its buffer mapped on first use, or -1. */
static int bounce_claim(void)
{
	for (int k = 0; k < BOUNCE_SLOTS; k++) {
		if (__atomic_exchange_n(&bounce[k].taken, 1, __ATOMIC_ACQUIRE))
			continue;
		if (!bounce[k].buf) {
			int err;
			bounce[k].buf = sbma__os_mmap(NULL, BOUNCE_CHUNKS * BOUNCE_CHUNK, PROT_READ | PROT_WRITE,
						      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0, &err);
			if (!bounce[k].buf) {
				__atomic_store_n(&bounce[k].taken, 0, __ATOMIC_RELEASE);
				return -1;
			}
		}
		return k;
	}
	return -1;
}

/* The slot's AIO context, made on first use and again in a forked child
 * (contexts are not inherited); 0 where AIO is not available. */
static uint64_t bounce_aio(int k)
{
	pid_t pid = getpid();
	if (bounce[k].aio_pid != pid) {
		uint64_t ctx;
		bounce[k].aio = sbma__os_aio_setup(BOUNCE_CHUNKS, &ctx) == 0 ? ctx : 0;
		bounce[k].aio_pid = pid;
	}
	return bounce[k].aio;
}

/* Chunk c of a bounced read: in flight (submitted), done, or to be read
 * synchronously (never submitted, or came back short or failed: the
 * synchronous read has the error handling and the O_DIRECT fallback). */
enum { CH_SYNC, CH_FLIGHT, CH_DONE };

int sbma__store_read_to_file_async(int fd, uint64_t off, uint64_t len)
{
	int k = bounce_claim();
	if (k < 0)
		return -EAGAIN;
	uint64_t nch = (len + BOUNCE_CHUNK - 1) / BOUNCE_CHUNK;
	uint64_t ctx = store_direct && nch > 1 ? bounce_aio(k) : 0;
	int st[BOUNCE_CHUNKS];
	int64_t res[BOUNCE_CHUNKS];
	uint64_t sub = 0, flying = 0;
	int rc = 0;
	for (uint64_t c = 0; c < nch && !rc; c++) {
		/* Keep the next chunks' reads in flight, each in its own
		 * part of the buffer: chunk c + BOUNCE_CHUNKS reuses chunk
		 * c's, and is submitted once c has been copied. */
		for (; sub < nch && sub < c + BOUNCE_CHUNKS; sub++) {
			uint64_t o = sub * BOUNCE_CHUNK, n = len - o < BOUNCE_CHUNK ? len - o : BOUNCE_CHUNK;
			int b = (int)(sub % BOUNCE_CHUNKS);
			st[b] = CH_SYNC;
			if (ctx && sbma__os_aio_read(ctx, store_fd, bounce[k].buf + b * BOUNCE_CHUNK, n,
						     (off_t)(off + o), sub) == 0) {
				st[b] = CH_FLIGHT;
				flying++;
			} else {
				ctx = 0; /* the rest synchronously */
			}
		}
		int b = (int)(c % BOUNCE_CHUNKS);
		while (st[b] == CH_FLIGHT && !rc) {
			uint64_t tag;
			int64_t r;
			rc = sbma__os_aio_wait(bounce[k].aio, &tag, &r);
			if (!rc) {
				st[tag % BOUNCE_CHUNKS] = CH_DONE;
				res[tag % BOUNCE_CHUNKS] = r;
				flying--;
			}
		}
		uint64_t o = c * BOUNCE_CHUNK, n = len - o < BOUNCE_CHUNK ? len - o : BOUNCE_CHUNK;
		char *buf = bounce[k].buf + b * BOUNCE_CHUNK;
		if (!rc && (st[b] != CH_DONE || res[b] != (int64_t)n))
			rc = sbma__store_read_async(buf, off + o, n);
		if (!rc)
			rc = sbma__os_pwrite_ram_full(fd, buf, n, (off_t)(off + o));
	}
	/* Never give the buffer back with a read still landing in it. */
	while (flying) {
		uint64_t tag;
		int64_t r;
		int w = sbma__os_aio_wait(bounce[k].aio, &tag, &r);
		if (w)
			sbma__die("cannot wait for a read in flight from the backing file into the buffer at %p: %s",
				  (void *)bounce[k].buf, strerror(-w));
		flying--;
	}
	__atomic_store_n(&bounce[k].taken, 0, __ATOMIC_RELEASE);
	/* -EAGAIN means "no buffer" to the caller; the store never returns
	 * it, but a retry through the mapping would be harmless anyway. */
	return rc;
}

int sbma__store_is_direct(void)
{
	return store_direct;
}
