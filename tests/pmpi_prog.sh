# pmpi_prog.sh - sourced by pmpi-link.sh, pmpi-preload.sh and pmpi-eager.sh:
# runs tests/prog_pmpi (see its header for what it checks) on $NP ranks
# under a 24 MiB node budget (the largest set of buffers pinned at once,
# Allgather's, is 20 MiB on the node), in the mode PMPI_MODE names:
#   link     tests/prog_pmpi, linked with libsbma-pmpi;
#   preload  tests/prog_pmpi_plain, plain MPI, under LD_PRELOAD=libsbma-pmpi.so;
#   eager    tests/prog_pmpi with SBMA_EVICT=eager and SBMA_READ=eager: a
#            blocked rank must have evicted its unpinned pages (and not under
#            MPI_Pcontrol(0)); and a 16 MiB node budget, less than what the
#            ranks pin at once in Allgather: that must still make progress
#            (loads past the budget after SBMA_NODE_TIMEOUT=1 s), not hang.
# Every run must exit 0 with "N passed, 0 failed" and no transfer may have
# met an inaccessible page (check_no_efault); with SBMA_STATS=1 rank 0
# prints one table at MPI_Finalize and no process prints its own report;
# with SBMA_VERBOSE=1 every rank reports joining the same node segment
# (check_one_segment: one budget for the node, whichever launcher).

. "$top_srcdir/tests/pmpi_lib.sh"

SBMA_BUDGET=24M
SBMA_STATS=1
SBMA_VERBOSE=1
export SBMA_BUDGET SBMA_STATS SBMA_VERBOSE
vars="SBMA_BUDGET SBMA_STATS SBMA_VERBOSE"
case $PMPI_MODE in
link)
	PROG="$top_builddir/tests/prog_pmpi"
	flags=$(forward $vars)
	;;
preload)
	PROG="$top_builddir/tests/prog_pmpi_plain"
	flags="$(forward $vars)$(preload)"
	;;
eager)
	PROG="$top_builddir/tests/prog_pmpi"
	SBMA_BUDGET=16M
	SBMA_NODE_TIMEOUT=1
	SBMA_EVICT=eager
	SBMA_READ=eager
	SBMA_PMPI_EXPECT_EVICT=1
	export SBMA_NODE_TIMEOUT SBMA_EVICT SBMA_READ SBMA_PMPI_EXPECT_EVICT
	flags=$(forward $vars SBMA_NODE_TIMEOUT SBMA_EVICT SBMA_READ SBMA_PMPI_EXPECT_EVICT)
	;;
*)
	echo "pmpi_prog.sh: unknown PMPI_MODE '$PMPI_MODE'" >&2
	exit 99
	;;
esac
if [ ! -x "$PROG" ]; then
	echo "$0: $PROG not built" >&2
	exit 99
fi

# shellcheck disable=SC2086
mpi_run "prog_pmpi ($PMPI_MODE, $NP ranks, SBMA_BUDGET=$SBMA_BUDGET)" $flags "$PROG"
summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$tmp/out")
if [ $rc -eq 77 ]; then
	echo "SKIP: $label: $(cat "$tmp/err")"
	exit 77
elif [ $rc -ne 0 ] || [ -z "$summary" ] || [ "${summary#* passed, }" != "0 failed" ]; then
	fail "exit $rc, summary '${summary:-none}'"
else
	echo "ok: $label: $summary (${secs} s)"
	sed 's/^/    /' "$tmp/out" | grep -v 'passed, '
	check_no_efault
	check_one_segment
	if check_stats_table; then
		b=$(blocked_ms 1)
		if [ -z "$b" ] || [ "$b" -le 0 ]; then
			fail "rank 1 shows no blocked time in the table ('$b' ms)"
		fi
	fi
fi
finish
