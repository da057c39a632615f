/*
 * stats.c - the counters, and the report printed at exit (SBMA_STATS=1).
 *
 * The counters are plain integers updated under the engine lock; readers
 * take the lock too, so a snapshot is consistent.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "sbma_internal.h"

struct sbma_stats sbma__st;

void sbma__stats_resident_add(int64_t bytes)
{
	sbma__st.resident += (uint64_t)bytes;
}

int sbma_stats(struct sbma_stats *st)
{
	if (!st)
		return -EINVAL;
	if (sbma__state != SBMA_READY) {
		memset(st, 0, sizeof *st);
		st->budget = sbma__opt.budget;
		return 0;
	}
	sigset_t old;
	sbma__lock(&old);
	sbma__st.charged = sbma__st.resident + sbma__node_room_locked();
	sbma__st.maps = sbma__A.runs;
	sbma__st.budget = sbma__node_budget();
	*st = sbma__st;
	sbma__unlock(&old);
	return 0;
}

static void line(int fd, const char *name, uint64_t v, const char *unit)
{
	if (unit[0] == 'B' && v >= (1u << 20))
		sbma__fdprintf(fd, "sbma:   %-18s %llu (%llu MiB)\n", name, (unsigned long long)v,
			       (unsigned long long)(v >> 20));
	else
		sbma__fdprintf(fd, "sbma:   %-18s %llu%s%s\n", name, (unsigned long long)v, unit[0] ? " " : "",
			       unit);
}

void sbma_print_stats(int fd)
{
	struct sbma_stats s;
	sbma_stats(&s);
	sbma__fdprintf(fd, "sbma: statistics of process %d\n", (int)getpid());
	line(fd, "faults_read", s.faults_read, "");
	line(fd, "faults_write", s.faults_write, "");
	line(fd, "faults_upgrade", s.faults_upgrade, "");
	line(fd, "faults_io", s.faults_io, "");
	line(fd, "pages_loaded", s.pages_loaded, "");
	line(fd, "pages_readahead", s.pages_readahead, "");
	line(fd, "pages_evicted", s.pages_evicted, "");
	line(fd, "evictions", s.evictions, "");
	line(fd, "bytes_read", s.bytes_read, "B");
	line(fd, "bytes_written", s.bytes_written, "B");
	line(fd, "read_calls", s.read_calls, "");
	line(fd, "write_calls", s.write_calls, "");
	line(fd, "io_ms", s.io_ns / 1000000, "ms");
	line(fd, "resident", s.resident, "B");
	line(fd, "dirty", s.dirty, "B");
	line(fd, "pinned", s.pinned, "B");
	line(fd, "peak_resident", s.peak_resident, "B");
	line(fd, "budget", s.budget, "B");
	line(fd, "over_budget", s.over_budget, "");
	line(fd, "allocated", s.allocated, "B");
	line(fd, "allocations", s.allocations, "");
	line(fd, "maps", s.maps, "");
	line(fd, "coarsenings", s.coarsenings, "");
	line(fd, "blocked_ms", s.blocked_ns / 1000000, "ms");
	line(fd, "wait_ms", s.wait_ns / 1000000, "ms");
	line(fd, "node_waits", s.node_waits, "");
	line(fd, "releases", s.releases, "");
	/* The free-extent cache (cache.c): not in struct sbma_stats, whose
	 * size is part of the ABI. */
	uint64_t hits = 0, drops = 0, cached = 0;
	if (sbma__state == SBMA_READY) {
		sigset_t old;
		sbma__lock(&old);
		hits = sbma__A.cache_hits;
		drops = sbma__A.cache_drops;
		cached = (uint64_t)sbma__A.cache_res << sbma__A.pshift;
		sbma__unlock(&old);
	}
	line(fd, "cache_hits", hits, "");
	line(fd, "cache_drops", drops, "");
	line(fd, "cached", cached, "B");
}
