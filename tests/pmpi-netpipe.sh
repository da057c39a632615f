#!/bin/sh
# pmpi-netpipe.sh - an unmodified MPI program from the distribution under
# LD_PRELOAD=libsbma-pmpi.so: NetPIPE (Debian's netpipe-openmpi, NPopenmpi;
# under MPICH netpipe-mpich2's NPmpich2) in integrity mode (-i: the
# receiver checks every message's contents) on 2 ranks, messages of 1 to
# 4 MiB (its buffers are malloc'd: SBMA memory), with SBMA_EVICT=eager (a
# rank blocked in MPI_Recv writes back and drops its unpinned pages, i.e.
# the buffer it has just sent from, which comes back from the store for
# the next send) under a 12 MiB node budget (a rank pins its receive
# buffer while still holding the send buffer it just used, the other rank
# pins its own: at most 12 MiB). Every size must report "Integrity check
# passed", the run must exit 0 with no transfer failing on an inaccessible
# page (Open MPI's "errno = 14"), and the SBMA_STATS table must show that
# the layer saw it (MPI_Finalize went through the wrapper; pages were
# written to the store). Skips (77) when NetPIPE for this MPI is not
# installed (apt-get install netpipe-openmpi, or netpipe-mpich2).
NP=2
. "${top_srcdir:-.}/tests/pmpi_lib.sh"

NPBIN=
if [ "$MPI_IS_OPENMPI" = 1 ]; then
	NPBIN=$(command -v NPopenmpi)
else
	NPBIN=$(command -v NPmpich2 || command -v NPmpich)
fi
if [ -z "$NPBIN" ]; then
	echo "SKIP: NetPIPE for this MPI is not installed (Debian: netpipe-openmpi or netpipe-mpich2)"
	exit 77
fi
SBMA_BUDGET=12M
SBMA_STATS=1
SBMA_EVICT=eager
SBMA_NODE_TIMEOUT=2
export SBMA_BUDGET SBMA_STATS SBMA_EVICT SBMA_NODE_TIMEOUT

# shellcheck disable=SC2086
mpi_run "$(basename "$NPBIN") -i, 1-4 MiB, preloaded" $(forward SBMA_BUDGET SBMA_STATS SBMA_EVICT SBMA_NODE_TIMEOUT)$(preload) \
	"$NPBIN" -i -l 1048576 -u 4194304 -p 0 -o "$tmp/np.out"
# NetPIPE reports on stderr.
passed=$(cat "$tmp/out" "$tmp/err" | grep -c 'Integrity check passed')
failed=$(cat "$tmp/out" "$tmp/err" | grep -ci 'integrity check failed\|error')
if [ $rc -ne 0 ] || [ "$passed" -lt 5 ] || [ "$failed" -ne 0 ]; then
	fail "exit $rc, $passed sizes passed, $failed failure lines"
else
	echo "ok: $label: $passed sizes passed the integrity check (${secs} s)"
	check_no_efault
	if check_stats_table; then
		written=$(awk '$1 == "sbma:" && $2 == "total" { print $5 }' "$tmp/err")
		if [ -z "$written" ] || [ "$written" -le 0 ]; then
			fail "the SBMA table shows no bytes written to the backing store"
		fi
	fi
fi
finish
