/*
 * init.c - MPI_Init, MPI_Init_thread, MPI_Finalize.
 *
 * After MPI starts:
 *   - SBMA's fault handler is checked again: MPI libraries (Open MPI's
 *     opal_signal, UCX, PSM) install their own SIGSEGV handler in MPI_Init,
 *     sometimes without going through sigaction; SBMA's must stay first.
 *   - The process joins its node's budget segment. The segment name comes
 *     from the launcher's environment when there is one (sbma__node_join
 *     detects Open MPI, PMIx, Slurm); otherwise the ranks that share a node
 *     (MPI_COMM_TYPE_SHARED) agree on one: node-local rank 0 makes it from
 *     its host name, pid and the time, and broadcasts it.
 *
 * At MPI_Finalize with SBMA_STATS=1, rank 0 prints one table of every
 * rank's counters (instead of one report per process at exit).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pmpi_internal.h"

#define NAME_MAX_LEN 64

/* Letters, digits, '-' and '_' only: the name becomes part of a POSIX
 * shared-memory object name. */
static void make_job_name(char name[NAME_MAX_LEN])
{
	char host[32] = "host";
	gethostname(host, sizeof host - 1);
	host[sizeof host - 1] = '\0';
	for (char *c = host; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '-'))
			*c = '_';
	sbma__format(name, NAME_MAX_LEN, "mpi-%s-%d-%lx", host, (int)getpid(), (unsigned long)time(NULL));
}

/* Collective over MPI_COMM_WORLD: every rank takes part in the agreement if
 * any rank needs it (a rank that returned early would leave the others
 * waiting in MPI_Comm_split_type). */
static void join_node(void)
{
	int rc = sbma__node_join(NULL);                           /* 1 joined, 0 no launcher job, <0 refused */
	int need = rc == 0 && strcmp(sbma__opt.job, "none") != 0; /* SBMA_JOB=none: private */
	int anyone = 0;
	if (PMPI_Allreduce(&need, &anyone, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD) != MPI_SUCCESS || !anyone)
		return;
	MPI_Comm node;
	if (PMPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node) != MPI_SUCCESS)
		return;
	char name[NAME_MAX_LEN] = "";
	int rank = 0;
	PMPI_Comm_rank(node, &rank);
	if (rank == 0)
		make_job_name(name);
	if (PMPI_Bcast(name, NAME_MAX_LEN, MPI_CHAR, 0, node) == MPI_SUCCESS && name[0] && need) {
		name[NAME_MAX_LEN - 1] = '\0';
		sbma__node_join(name);
	}
	PMPI_Comm_free(&node);
}

static void after_init(void)
{
	sbma__fault_recheck();
	join_node();
}

PMPI_EXPORT int MPI_Init(int *argc, char ***argv)
{
	PMPI__IN_MPI();
	int rc = PMPI_Init(argc, argv);
	if (rc == MPI_SUCCESS)
		after_init();
	return rc;
}

PMPI_EXPORT int MPI_Init_thread(int *argc, char ***argv, int required, int *provided)
{
	PMPI__IN_MPI();
	int rc = PMPI_Init_thread(argc, argv, required, provided);
	if (rc == MPI_SUCCESS)
		after_init();
	return rc;
}

/* ---- the statistics table ---- */

static unsigned long long mib(uint64_t b)
{
	return (unsigned long long)((b + (1u << 19)) >> 20);
}

static unsigned long long ms(uint64_t ns)
{
	return (unsigned long long)(ns / 1000000u);
}

static void print_row(const char *who, const struct sbma_stats *s)
{
	sbma__fdprintf(2, "sbma: %6s %10llu %9llu %9llu %10llu %10llu %6llu %8llu %9llu %9llu\n", who,
	               (unsigned long long)(s->faults_read + s->faults_write + s->faults_upgrade), mib(s->bytes_read),
	               mib(s->bytes_written), ms(s->blocked_ns), ms(s->wait_ns), (unsigned long long)s->node_waits,
	               (unsigned long long)s->releases, (unsigned long long)s->pages_evicted, mib(s->peak_resident));
}

static void print_table(const struct sbma_stats *all, int n)
{
	struct sbma_stats sum;
	memset(&sum, 0, sizeof sum);
	sbma__fdprintf(2, "sbma: statistics of %d MPI ranks (MiB, ms)\n", n);
	sbma__fdprintf(2, "sbma: %6s %10s %9s %9s %10s %10s %6s %8s %9s %9s\n", "rank", "faults", "read", "written",
	               "blocked", "wait", "waits", "releases", "evicted", "peak");
	for (int i = 0; i < n; i++) {
		char who[16];
		sbma__format(who, sizeof who, "%d", i);
		print_row(who, &all[i]);
		sum.faults_read += all[i].faults_read + all[i].faults_write + all[i].faults_upgrade;
		sum.bytes_read += all[i].bytes_read;
		sum.bytes_written += all[i].bytes_written;
		sum.blocked_ns += all[i].blocked_ns;
		sum.wait_ns += all[i].wait_ns;
		sum.node_waits += all[i].node_waits;
		sum.releases += all[i].releases;
		sum.pages_evicted += all[i].pages_evicted;
		sum.peak_resident += all[i].peak_resident;
	}
	print_row("total", &sum);
}

/* Gather every rank's counters at rank 0 and print them there; then no
 * process prints its own report at exit. Collective: every rank decides
 * with the others (SBMA_STATS might be set on some ranks only). */
static void stats_table(void)
{
	int rank = 0, size = 1;
	PMPI_Comm_rank(MPI_COMM_WORLD, &rank);
	PMPI_Comm_size(MPI_COMM_WORLD, &size);
	struct sbma_stats *all = NULL;
	if (rank == 0)
		all = __libc_malloc(sizeof *all * (size_t)size);
	/* [0]: some rank wants the table; [1]: rank 0 has no room for it. */
	int mine[2] = {sbma__opt.print_stats != 0, rank == 0 && !all}, agreed[2] = {0, 0};
	if (PMPI_Allreduce(mine, agreed, 2, MPI_INT, MPI_MAX, MPI_COMM_WORLD) != MPI_SUCCESS || !agreed[0] ||
	    agreed[1]) {
		__libc_free(all);
		return; /* no table: each process reports at exit, if asked */
	}
	struct sbma_stats me;
	sbma_stats(&me);
	PMPI_Gather(&me, (int)sizeof me, MPI_BYTE, all, (int)sizeof me, MPI_BYTE, 0, MPI_COMM_WORLD);
	if (rank == 0)
		print_table(all, size);
	__libc_free(all);
	sbma__opt.print_stats = 0;
}

PMPI_EXPORT int MPI_Finalize(void)
{
	PMPI__IN_MPI();
	stats_table();
	uint64_t leaked = pmpi__req_leaked();
	if (leaked && sbma__opt.verbose)
		sbma__log("pmpi: %llu requests freed while active kept their buffers pinned to the end",
		          (unsigned long long)leaked);
	return PMPI_Finalize();
}
