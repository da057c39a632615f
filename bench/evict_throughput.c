/*
 * evict_throughput - SBMA's bulk write-out and read-back, against the device.
 *
 * Allocates N MiB with sbma_malloc, writes all of it, and times
 * sbma_evict_all() (bytes written per second). Then times reading it all
 * back twice: one read per SBMA page in order (faults, with readahead under
 * the lazy policy), and, after evicting the now clean pages again,
 * sbma_touch() of the whole range. The contents are checked on the way
 * back (the first word of each OS page holds its index).
 *
 * The baseline, measured in the same run and in the same directory: a
 * sequential pwrite of the same number of bytes to a fresh file, then a
 * sequential pread of it, in chunks of --io-size (default 4 MiB, the
 * engine's default I/O size), with O_DIRECT when the file system accepts it
 * (else buffered, with fdatasync in the write time and the file's cache
 * dropped before the read). The file is fallocated first, as the engine
 * reserves its extents at allocation time, and unlinked at once.
 *
 * The baseline buffers come from mmap, never from malloc: under SBMA,
 * malloc may return protected memory, which the kernel cannot read from.
 *
 * Each measurement is repeated --reps times (default 3); the best is kept.
 * Printed: MB/s (10^6 bytes/s) and the ratio SBMA/raw (target >= 0.8).
 *
 * Usage: evict_throughput [--io-size BYTES] [--dir DIR] [--reps N]
 *                         [--csv FILE] [MiB]          (default 1024 MiB)
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sbma.h"
#include "bench_util.h"

struct raw_result {
	uint64_t write_ns, read_ns;
	int direct;
};

static int open_scratch(const char *dir, int direct, char *path, size_t len)
{
	int fd;

	snprintf(path, len, "%s/sbma-bench-raw.XXXXXX", dir);
	fd = mkostemp(path, direct ? O_DIRECT : 0);
	if (fd >= 0)
		unlink(path);
	return fd;
}

/*
 * Sequential pwrite then pread of `size` bytes in `io` chunks. Returns 0,
 * or -EINVAL when O_DIRECT was asked for and refused (the caller retries
 * buffered).
 */
static int raw_io(const char *dir, uint64_t size, size_t io, int direct,
		  struct raw_result *r)
{
	char path[4096];
	uint64_t off, t0;
	char *buf;
	int fd;
	size_t i;

	fd = open_scratch(dir, direct, path, sizeof(path));
	if (fd < 0 && direct)
		return -EINVAL;
	if (fd < 0)
		bench_die("cannot create a file in %s: %s", dir,
			  strerror(errno));
	buf = mmap(NULL, io, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		bench_die("mmap of %zu bytes failed", io);
	for (i = 0; i + 8 <= io; i += 8)
		*(uint64_t *)(buf + i) = i * 0x9E3779B97F4A7C15ULL;
	if (fallocate(fd, 0, 0, (off_t)size) != 0 && errno != EOPNOTSUPP)
		bench_die("fallocate(%llu) in %s: %s",
			  (unsigned long long)size, dir, strerror(errno));

	t0 = bench_now_ns();
	for (off = 0; off < size; off += io) {
		size_t n = size - off < io ? size - off : io;
		ssize_t w = pwrite(fd, buf, n, (off_t)off);

		if (w < 0 && direct && off == 0 && errno == EINVAL) {
			close(fd);
			munmap(buf, io);
			return -EINVAL;
		}
		if (w != (ssize_t)n)
			bench_die("pwrite at %llu: %s",
				  (unsigned long long)off,
				  w < 0 ? strerror(errno) : "short write");
	}
	if (!direct)
		fdatasync(fd);
	r->write_ns = bench_now_ns() - t0;
	if (!direct)
		posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);

	t0 = bench_now_ns();
	for (off = 0; off < size; off += io) {
		size_t n = size - off < io ? size - off : io;
		ssize_t rd = pread(fd, buf, n, (off_t)off);

		if (rd != (ssize_t)n)
			bench_die("pread at %llu: %s",
				  (unsigned long long)off,
				  rd < 0 ? strerror(errno) : "short read");
	}
	r->read_ns = bench_now_ns() - t0;
	r->direct = direct;
	close(fd);
	munmap(buf, io);
	return 0;
}

struct sbma_result {
	uint64_t evict_ns, evict_bytes;
	uint64_t fault_ns, touch_ns;
	uint64_t read_calls, write_calls;
};

/* Write every OS page of p (first word = its index, the rest a fill). */
static void fill(char *p, uint64_t size, size_t os_page, uint64_t gen)
{
	uint64_t off;

	for (off = 0; off < size; off += os_page) {
		memset(p + off, (int)(gen & 0x7f) + 1, os_page);
		*(uint64_t *)(p + off) = off / os_page + gen;
	}
}

static void check(const char *p, uint64_t size, size_t os_page, uint64_t gen,
		  const char *what)
{
	uint64_t off;

	for (off = 0; off < size; off += os_page) {
		uint64_t want = off / os_page + gen;

		if (*(const uint64_t *)(p + off) != want) {
			fprintf(stderr, "FAIL: %s: word at offset %llu is "
				"%llu, expected %llu\n", what,
				(unsigned long long)off,
				(unsigned long long)*(const uint64_t *)(p + off),
				(unsigned long long)want);
			exit(1);
		}
	}
}

static void sbma_run(char *p, uint64_t size, size_t page, size_t os_page,
		     uint64_t gen, struct sbma_result *r)
{
	struct sbma_stats s0, s1;
	volatile uint64_t sink = 0;
	uint64_t t0, off;
	int64_t w;

	fill(p, size, os_page, gen);
	sbma_stats(&s0);
	t0 = bench_now_ns();
	w = sbma_evict_all();
	r->evict_ns = bench_now_ns() - t0;
	sbma_stats(&s1);
	if (w < 0)
		bench_die("sbma_evict_all: %s", strerror((int)-w));
	r->evict_bytes = (uint64_t)w;
	r->write_calls = s1.write_calls - s0.write_calls;

	/* read back: one touch per SBMA page, in order */
	t0 = bench_now_ns();
	for (off = 0; off < size; off += page)
		sink += *(volatile uint64_t *)(p + off);
	r->fault_ns = bench_now_ns() - t0;
	(void)sink;
	check(p, size, os_page, gen, "read back by faults");

	/* the pages are clean now: this eviction should write nothing */
	w = sbma_evict_all();
	if (w < 0)
		bench_die("sbma_evict_all: %s", strerror((int)-w));
	sbma_stats(&s0);
	t0 = bench_now_ns();
	if (sbma_touch(p, size, SBMA_ACCESS_READ) != 0)
		bench_die("sbma_touch failed");
	r->touch_ns = bench_now_ns() - t0;
	sbma_stats(&s1);
	r->read_calls = s1.read_calls - s0.read_calls;
	check(p, size, os_page, gen, "read back by sbma_touch");
}

int main(int argc, char **argv)
{
	uint64_t mib = 1024, size, io = 4u << 20;
	const char *dir = bench_default_dir(), *csv = NULL;
	size_t os_page = (size_t)sysconf(_SC_PAGESIZE), page;
	struct raw_result raw, braw = { UINT64_MAX, UINT64_MAX, 0 };
	struct sbma_result sr, bs = { UINT64_MAX, 0, UINT64_MAX, UINT64_MAX,
				      0, 0 };
	struct sbma_config cfg;
	int reps = 3, i, direct = 1;
	double w_raw, r_raw, w_sb, f_sb, t_sb;
	char *p;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--io-size") && i + 1 < argc) {
			if (bench_parse_size(argv[++i], &io) || io < 4096 ||
			    io % 4096)
				bench_die("--io-size: bad size '%s' (expected "
					  "a multiple of 4 KiB)", argv[i]);
		} else if (!strcmp(argv[i], "--dir") && i + 1 < argc) {
			dir = argv[++i];
		} else if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
			reps = atoi(argv[++i]);
			if (reps < 1)
				bench_die("--reps: expected a count >= 1");
		} else if (!strcmp(argv[i], "--csv") && i + 1 < argc) {
			csv = argv[++i];
		} else if (argv[i][0] != '-') {
			mib = strtoull(argv[i], NULL, 10);
			if (!mib)
				bench_die("size: expected MiB > 0, got '%s'",
					  argv[i]);
		} else {
			bench_die("usage: %s [--io-size BYTES] [--dir DIR] "
				  "[--reps N] [--csv FILE] [MiB]", argv[0]);
		}
	}
	size = mib << 20;
	if (sbma_get_config(&cfg) != 0)
		bench_die("sbma_get_config failed");
	page = cfg.page_size ? cfg.page_size : os_page;
	if (cfg.budget && cfg.budget < size)
		fprintf(stderr, "warning: SBMA budget %llu MiB < %llu MiB: "
			"the write phase will already evict\n",
			(unsigned long long)(cfg.budget >> 20),
			(unsigned long long)mib);
	printf("evict_throughput: %llu MiB, SBMA page %zu KiB, read policy "
	       "%s, SBMA direct_io %d, dir %s (SBMA dir %s), raw I/O size "
	       "%llu KiB, best of %d\n",
	       (unsigned long long)mib, page >> 10,
	       cfg.read_policy == SBMA_READ_EAGER ? "eager" : "lazy",
	       cfg.direct_io, dir, cfg.dir ? cfg.dir : "(default)",
	       (unsigned long long)(io >> 10), reps);
	fflush(stdout);

	p = sbma_malloc(size);
	if (!p)
		bench_die("sbma_malloc(%llu MiB) failed: %s",
			  (unsigned long long)mib, strerror(errno));
	for (i = 0; i < reps; i++) {
		int rc = raw_io(dir, size, io, direct, &raw);

		if (rc == -EINVAL) {
			direct = 0;
			raw_io(dir, size, io, 0, &raw);
		}
		if (raw.write_ns < braw.write_ns)
			braw.write_ns = raw.write_ns;
		if (raw.read_ns < braw.read_ns)
			braw.read_ns = raw.read_ns;
		braw.direct = raw.direct;

		sbma_run(p, size, page, os_page, (uint64_t)i * 1000003, &sr);
		if (sr.evict_ns < bs.evict_ns) {
			bs.evict_ns = sr.evict_ns;
			bs.evict_bytes = sr.evict_bytes;
			bs.write_calls = sr.write_calls;
		}
		if (sr.fault_ns < bs.fault_ns)
			bs.fault_ns = sr.fault_ns;
		if (sr.touch_ns < bs.touch_ns) {
			bs.touch_ns = sr.touch_ns;
			bs.read_calls = sr.read_calls;
		}
		printf("  rep %d: raw write %.0f MB/s, raw read %.0f MB/s, "
		       "evict %.0f MB/s, fault-in %.0f MB/s, touch %.0f MB/s\n",
		       i + 1, bench_mbps(size, raw.write_ns),
		       bench_mbps(size, raw.read_ns),
		       bench_mbps(sr.evict_bytes, sr.evict_ns),
		       bench_mbps(size, sr.fault_ns),
		       bench_mbps(size, sr.touch_ns));
		fflush(stdout);
	}
	sbma_free(p);

	w_raw = bench_mbps(size, braw.write_ns);
	r_raw = bench_mbps(size, braw.read_ns);
	w_sb = bench_mbps(bs.evict_bytes, bs.evict_ns);
	f_sb = bench_mbps(size, bs.fault_ns);
	t_sb = bench_mbps(size, bs.touch_ns);
	if (bs.evict_bytes != size)
		printf("note: sbma_evict_all wrote %llu bytes of %llu\n",
		       (unsigned long long)bs.evict_bytes,
		       (unsigned long long)size);
	printf("\n%-34s %10s %10s %8s\n", "case", "MB/s", "raw MB/s",
	       "SBMA/raw");
	printf("%-34s %10.0f %10.0f %8.2f%s\n", "evict_all (write)", w_sb,
	       w_raw, w_sb / w_raw, w_sb / w_raw >= 0.8 ? "" : "  < 0.8");
	printf("%-34s %10.0f %10.0f %8.2f%s\n", "read back, fault per page",
	       f_sb, r_raw, f_sb / r_raw, f_sb / r_raw >= 0.8 ? "" : "  < 0.8");
	printf("%-34s %10.0f %10.0f %8.2f%s\n", "read back, sbma_touch", t_sb,
	       r_raw, t_sb / r_raw, t_sb / r_raw >= 0.8 ? "" : "  < 0.8");
	printf("\nraw baseline: %s, %llu KiB per call; SBMA: %llu write "
	       "calls for the eviction, %llu read calls for the touch\n",
	       braw.direct ? "O_DIRECT" : "buffered (O_DIRECT refused)",
	       (unsigned long long)(io >> 10),
	       (unsigned long long)bs.write_calls,
	       (unsigned long long)bs.read_calls);

	bench_csv(csv, "evict_throughput", "raw_write", "MBps", w_raw, "MB/s");
	bench_csv(csv, "evict_throughput", "raw_read", "MBps", r_raw, "MB/s");
	bench_csv(csv, "evict_throughput", "evict_all", "MBps", w_sb, "MB/s");
	bench_csv(csv, "evict_throughput", "evict_all", "ratio_to_raw",
		  w_sb / w_raw, "x");
	bench_csv(csv, "evict_throughput", "fault_in", "MBps", f_sb, "MB/s");
	bench_csv(csv, "evict_throughput", "fault_in", "ratio_to_raw",
		  f_sb / r_raw, "x");
	bench_csv(csv, "evict_throughput", "touch", "MBps", t_sb, "MB/s");
	bench_csv(csv, "evict_throughput", "touch", "ratio_to_raw",
		  t_sb / r_raw, "x");
	bench_csv(csv, "evict_throughput", "raw", "direct_io", braw.direct,
		  "bool");
	return 0;
}
