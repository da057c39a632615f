#!/bin/sh
# mpi-examples-sbma.sh - the MPI examples run out of core: each one
# (examples/bsp_sweep, pagerank, samplesort, and the Fortran bsp_sweep_f)
# on 4 ranks whose footprint is about twice the node budget, in both ways a
# user gets SBMA: linked with libsbma-pmpi (examples/*_pmpi) and unmodified
# under LD_PRELOAD=libsbma-pmpi.so. Each must print PASS (its own check of
# every result, see mpi-examples-plain.sh) while a sampler
# (tests/prog_node_probe watch) reads every 2 ms the RAM that the ranks'
# SBMA memfds hold (the kernel's count of their SBMA pages, summed over
# mpiexec's descendants; RssShmem would also count MPI's shared-memory
# transport, so it is only reported) and the node's charge: memfd RAM <=
# budget + an eighth (see the slack below) and charge <= budget, unless
# the node reports loads past the budget (all ranks blocked with pinned
# buffers: then the charge may pass the budget by what is pinned, and the
# test checks that the RAM stays within the charge). SBMA must have
# written pages out (proof that the run was out of core): the statistics
# table (SBMA_STATS=1) shows bytes written > 0. Also run with
# SBMA_EVICT=eager SBMA_READ=eager once (bsp_sweep).
# Needs: top_builddir, MPIEXEC (set by make check).

. "${top_srcdir:-.}/tests/pmpi_lib.sh"
bin=$top_builddir/tests
EX=$top_builddir/examples
for p in bsp_sweep pagerank samplesort bsp_sweep_pmpi pagerank_pmpi samplesort_pmpi; do
	if [ ! -x "$EX/$p" ]; then
		echo "$0: $EX/$p not built" >&2
		exit 99
	fi
done

# A page is charged before it is loaded and punched out of the memfd
# before its charge is given back: the memfds never hold more than the
# charge. But the sampler reads the ranks one after the other, not at one
# instant: while it goes from one rank to the next, a rank may evict a
# batch (an eighth of what it holds) that another one loads. Slack: one
# such batch of the whole budget.
budget_mib=16
# The backing files on /dev/shm (tmpfs) where it can be written, as the
# node tests do: this test is about the budget and the results, not the
# disk. On the shared virtual disk of the CI, pagerank's build phase (a
# random working set larger than a rank's share of the budget: tens of
# thousands of 64 KiB reads and writes at queue depth 1) took 5-46 s with
# the load of other jobs, against 5-7 s on tmpfs; with the run's other
# phases it came near the 120 s kill. The disk path is the integrity
# tests' (O_DIRECT and buffered).
sbma_dir=$tmp
if d=$(mktemp -d /dev/shm/sbma-examples.XXXXXX 2>/dev/null); then
	sbma_dir=$d
	trap 'rm -rf "$tmp" "$sbma_dir"' EXIT
fi
export SBMA_BUDGET=${budget_mib}M SBMA_STATS=1 SBMA_DIR="$sbma_dir"
budget=$((budget_mib << 20))
slack=$((budget / 8))

# run NAME MODE PROGRAM ARGS...: MODE is link or preload.
run() {
	name=$1 mode=$2 prog=$3
	shift 3
	SBMA_JOB=ex-$$-$runs
	export SBMA_JOB
	runs=$((runs + 1))
	extra=
	[ "$mode" = preload ] && extra=$(preload)
	# shellcheck disable=SC2086
	$TIMEOUT $LAUNCH $(forward SBMA_BUDGET SBMA_STATS SBMA_DIR SBMA_JOB SBMA_EVICT SBMA_READ) $extra \
		"$prog" "$@" >"$tmp/out" 2>"$tmp/err" &
	launcher=$!
	"$bin/prog_node_probe" watch "$SBMA_JOB" "$launcher" >"$tmp/watch" &
	watcher=$!
	wait "$launcher"
	st=$?
	wait "$watcher"
	w=$(cat "$tmp/watch")
	verdict=$(grep -E '^(PASS|FAIL)' "$tmp/out" | head -1)
	written=$(sed -n 's/^sbma: *total \{1,\}[0-9]\{1,\} \{1,\}[0-9]\{1,\} \{1,\}\([0-9]\{1,\}\).*/\1/p' "$tmp/err")
	rss=$(echo "$w" | tr ' ' '\n' | sed -n 's/^max_memfd=//p')
	charged=$(echo "$w" | tr ' ' '\n' | sed -n 's/^max_charged=//p')
	over=$(echo "$w" | tr ' ' '\n' | sed -n 's/^over_budget=//p')
	echo "$name ($mode): exit $st; $verdict"
	echo "    node: $w; MiB written by SBMA: ${written:-?}"
	if [ $st -ne 0 ] || [ "${verdict%% *}" != PASS ]; then
		fail "$name ($mode): exit $st, '$verdict'"
		sed 's/^/    | /' "$tmp/err" | tail -20
		return
	fi
	[ "${written:-0}" -gt 0 ] || fail "$name ($mode): SBMA wrote nothing: not out of core"
	if [ -z "$rss" ]; then
		fail "$name ($mode): the sampler saw no segment: $w"
	elif [ "${over:-0}" -eq 0 ]; then
		[ "$rss" -le $((budget + slack)) ] || fail "$name ($mode): node memfd RAM $rss > budget $budget + slack $slack"
		[ "$charged" -le $budget ] || fail "$name ($mode): node charge $charged > budget $budget"
	else
		# Past the budget by what is pinned: the RAM still never
		# exceeds what the node charged for it.
		echo "    ($over loads past the budget: pinned buffers of blocked ranks)"
		[ "$rss" -le $((charged + slack)) ] || fail "$name ($mode): node memfd RAM $rss > the node's charge $charged + slack"
	fi
}

fails=0
runs=0
fail() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}

# 4 ranks x 8 MiB = 32 MiB of arrays (more with each example's other
# buffers) on a 16 MiB node budget.
for mode in link preload; do
	sfx=
	[ "$mode" = link ] && sfx=_pmpi
	run bsp_sweep $mode "$EX/bsp_sweep$sfx" -m 8 -s 4
	run pagerank $mode "$EX/pagerank$sfx" -m 12 -i 5
	run samplesort $mode "$EX/samplesort$sfx" -m 8 -b 4
	if [ -x "$EX/bsp_sweep_f" ]; then
		if [ "$mode" = link ] && [ -x "$EX/bsp_sweep_f_pmpi" ]; then
			run bsp_sweep_f $mode "$EX/bsp_sweep_f_pmpi" -m 8 -s 4
		elif [ "$mode" = preload ]; then
			run bsp_sweep_f $mode "$EX/bsp_sweep_f" -m 8 -s 4
		fi
	fi
done
SBMA_EVICT=eager SBMA_READ=eager
export SBMA_EVICT SBMA_READ
run "bsp_sweep eager" link "$EX/bsp_sweep_pmpi" -m 8 -s 4

echo "$runs runs, $fails failed"
[ $fails -eq 0 ]
