/*
 * sysmem.c - how much memory this process may use at most.
 *
 * SBMA_BUDGET may be given as a percentage, and a percentage of the wrong
 * total is worse than none: on a machine with 256 GiB where the job's memory
 * cgroup allows 16 GiB, "50%" must mean 8 GiB, or the kernel's OOM killer
 * (or its own swapping, which is what SBMA exists to avoid) steps in long
 * before SBMA evicts anything. So the answer is the smaller of:
 *
 *   - the physical memory SBMA may allocate from: the NUMA nodes that hwloc
 *     reports as allowed to this process (hwloc already leaves out the nodes
 *     a cpuset excludes), or the machine's total when hwloc sees no nodes;
 *     /proc/meminfo's MemTotal when hwloc cannot load a topology at all;
 *   - the memory-cgroup limit: cgroup v2 (memory.max) and v1
 *     (memory.limit_in_bytes), the smallest over the process's cgroup and
 *     all its ancestors, because a parent's limit binds its children too and
 *     the child's own file does not show it. Walking up to the root also
 *     finds the right file in a container whose cgroup file system is
 *     mounted at its own cgroup, where the path /proc/self/cgroup names does
 *     not exist under the mount point.
 *
 * Both results are computed once and cached: they do not change in a way
 * SBMA could follow anyway, and hwloc's topology load is not cheap. hwloc
 * may call malloc; that is fine here because the engine routes mallocs made
 * during its own start-up to libc. Concurrent first calls only compute the
 * same value twice.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <hwloc.h>

#include "sbma_internal.h"

/* cgroup v1 writes "no limit" as the largest page-aligned signed 64-bit
 * value (9223372036854771712); anything this large is no limit at all. */
#define CG1_UNLIMITED ((uint64_t)1 << 62)

static uint64_t physical_from_hwloc(void)
{
	hwloc_topology_t topo;
	uint64_t total = 0;

	if (hwloc_topology_init(&topo) != 0)
		return 0;
	/* Only NUMA nodes are needed, and hwloc refuses to drop those (and
	 * the machine and PUs): keeping nothing else makes the load cheap. */
	hwloc_topology_set_all_types_filter(topo, HWLOC_TYPE_FILTER_KEEP_NONE);
	if (hwloc_topology_load(topo) == 0) {
		hwloc_obj_t node = NULL;
		while ((node = hwloc_get_next_obj_by_type(topo, HWLOC_OBJ_NUMANODE, node)) != NULL)
			total += node->attr ? node->attr->numanode.local_memory : 0;
		if (total == 0) {
			hwloc_obj_t root = hwloc_get_root_obj(topo);
			total = root ? root->total_memory : 0;
		}
	}
	hwloc_topology_destroy(topo);
	return total;
}

static uint64_t physical_from_meminfo(void)
{
	char buf[4096];
	const char *p;

	if (sbma__os_read_text("/proc/meminfo", buf, sizeof buf) <= 0)
		return 0;
	p = strstr(buf, "MemTotal:");
	if (!p)
		return 0;
	/* "MemTotal:       24684084 kB" */
	return (uint64_t)strtoull(p + strlen("MemTotal:"), NULL, 10) * 1024;
}

/*
 * The limit in dir/<path>/<file>, then in each ancestor of path, the
 * smallest; UINT64_MAX if none. A v2 "max", or a v1 value at or above
 * CG1_UNLIMITED, is no limit; a file that does not exist (the root cgroup,
 * or a path outside this mount) is skipped.
 */
static uint64_t limit_walk(const char *dir, const char *path, const char *file)
{
	char cg[PATH_MAX], fname[PATH_MAX], buf[64];
	uint64_t limit = UINT64_MAX;
	size_t len;

	len = strlen(path);
	if (len >= sizeof cg)
		return UINT64_MAX;
	memcpy(cg, path, len + 1);
	/* Trailing newline or slashes are not part of the path. */
	while (len > 0 && (cg[len - 1] == '\n' || cg[len - 1] == '/'))
		cg[--len] = '\0';

	for (;;) {
		int n = snprintf(fname, sizeof fname, "%s%s%s/%s", dir,
				 cg[0] == '/' || cg[0] == '\0' ? "" : "/", cg, file);
		if (n > 0 && (size_t)n < sizeof fname &&
		    sbma__os_read_text(fname, buf, sizeof buf) > 0 &&
		    buf[0] >= '0' && buf[0] <= '9') {
			uint64_t v = strtoull(buf, NULL, 10);
			if (v < CG1_UNLIMITED && v < limit)
				limit = v;
		}
		/* Up one level; the root ("") is the last one tried. */
		if (cg[0] == '\0')
			break;
		char *slash = strrchr(cg, '/');
		if (!slash)
			slash = cg;
		*slash = '\0';
	}
	return limit;
}

static uint64_t cgroup_limit_uncached(void)
{
	char buf[4096];
	uint64_t limit = UINT64_MAX;
	char *line, *next;

	if (sbma__os_read_text("/proc/self/cgroup", buf, sizeof buf) <= 0)
		return UINT64_MAX;
	/* Lines are "hierarchy-id:controllers:path". A hybrid system has both
	 * a v2 line ("0::/path") and v1 lines; whichever carries a limit
	 * counts, and the smallest wins. */
	for (line = buf; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		char *c1 = strchr(line, ':');
		char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		*c1 = '\0';
		*c2 = '\0';
		const char *ctrl = c1 + 1, *path = c2 + 1;
		uint64_t l = UINT64_MAX;

		if (strcmp(line, "0") == 0 && *ctrl == '\0') {
			/* v2: mounted at /sys/fs/cgroup, or at .../unified
			 * next to v1 hierarchies. */
			l = limit_walk("/sys/fs/cgroup", path, "memory.max");
			uint64_t u = limit_walk("/sys/fs/cgroup/unified", path, "memory.max");
			if (u < l)
				l = u;
		} else {
			/* v1: is "memory" one of the comma-separated
			 * controllers of this hierarchy? */
			size_t n = strlen("memory");
			for (const char *p = ctrl; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
				if (strncmp(p, "memory", n) == 0 && (p[n] == ',' || p[n] == '\0')) {
					l = limit_walk("/sys/fs/cgroup/memory", path, "memory.limit_in_bytes");
					break;
				}
			}
		}
		if (l < limit)
			limit = l;
	}
	return limit;
}

static uint64_t cg_cache;
static int cg_done;

uint64_t sbma__cgroup_limit(void)
{
	if (__atomic_load_n(&cg_done, __ATOMIC_ACQUIRE))
		return __atomic_load_n(&cg_cache, __ATOMIC_RELAXED);
	uint64_t l = cgroup_limit_uncached();
	__atomic_store_n(&cg_cache, l, __ATOMIC_RELAXED);
	__atomic_store_n(&cg_done, 1, __ATOMIC_RELEASE);
	return l;
}

static uint64_t mem_cache; /* 0: not computed yet */

uint64_t sbma__node_memory(void)
{
	uint64_t m = __atomic_load_n(&mem_cache, __ATOMIC_ACQUIRE);

	if (m)
		return m;
	m = physical_from_hwloc();
	if (m == 0)
		m = physical_from_meminfo();
	uint64_t cg = sbma__cgroup_limit();
	if (m == 0 || cg < m)
		m = cg;
	/* Neither hwloc nor /proc nor a cgroup knows: SBMA_BUDGET as a
	 * percentage would be meaningless, so report nothing rather than
	 * pretend (the budget check then asks for a size in bytes). */
	if (m == UINT64_MAX)
		m = 0;
	if (m)
		__atomic_store_n(&mem_cache, m, __ATOMIC_RELEASE);
	return m;
}
