/*
 * rp_stats.c - a preloaded companion of libsbma.so for the real-program
 * tests: at exit, every process that used SBMA memory appends one line of
 * its statistics to a file in $RP_STATS_DIR.
 *
 * Why not SBMA_STATS=1: that report goes to file descriptor 2 from a
 * library destructor, and many programs have closed it by then. Every GNU
 * coreutils program (sort, shuf, ...) registers gnulib's close_stdout with
 * atexit, which fcloses stdout *and stderr*; atexit handlers run before
 * library destructors, so the report's writes fail with EBADF and the
 * statistics of those programs are lost (docs/realprogs.md). A file of our
 * own, opened at exit, does not depend on what the program did with its
 * descriptors, and the program's stderr stays exactly its own, so that it
 * can be compared byte for byte with a run without SBMA.
 *
 * LD_PRELOAD="libsbma.so rp_stats.so": libsbma.so comes first, so the
 * program's malloc still binds to it; sbma_stats() below binds to it too.
 * Nothing is written by processes that never made an SBMA allocation.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sbma.h"

/* Weak: preloaded without libsbma.so, this library does nothing. */
#pragma weak sbma_stats

__attribute__((destructor)) static void rp_stats_at_exit(void)
{
	const char *dir = getenv("RP_STATS_DIR");
	struct sbma_stats s;
	if (!sbma_stats || !dir || !*dir || sbma_stats(&s) != 0 || (s.peak_resident == 0 && s.bytes_written == 0))
		return;
	char comm[64] = "?";
	int cfd = open("/proc/self/comm", O_RDONLY | O_CLOEXEC);
	if (cfd >= 0) {
		ssize_t n = read(cfd, comm, sizeof comm - 1);
		comm[n > 0 ? n : 0] = 0;
		comm[strcspn(comm, "\n")] = 0;
		close(cfd);
	}
	char path[4096], line[1024];
	snprintf(path, sizeof path, "%s/stats.%d", dir, (int)getpid());
	int n = snprintf(line, sizeof line,
	                 "pid=%d comm=%s peak_resident=%llu budget=%llu bytes_written=%llu bytes_read=%llu "
	                 "over_budget=%llu faults=%llu pages_evicted=%llu io_ms=%llu wait_ms=%llu node_waits=%llu "
	                 "releases=%llu blocked_ms=%llu\n",
	                 (int)getpid(), comm, (unsigned long long)s.peak_resident, (unsigned long long)s.budget,
	                 (unsigned long long)s.bytes_written, (unsigned long long)s.bytes_read,
	                 (unsigned long long)s.over_budget,
	                 (unsigned long long)(s.faults_read + s.faults_write + s.faults_upgrade),
	                 (unsigned long long)s.pages_evicted, (unsigned long long)(s.io_ns / 1000000),
	                 (unsigned long long)(s.wait_ns / 1000000), (unsigned long long)s.node_waits,
	                 (unsigned long long)s.releases, (unsigned long long)(s.blocked_ns / 1000000));
	/* O_APPEND: a pid that comes round again adds a line. */
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd >= 0) {
		if (write(fd, line, (size_t)n) != n) {
			/* Nothing to do: the test reports the missing line. */
		}
		close(fd);
	}
}
