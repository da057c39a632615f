#!/bin/sh
# Several processes share one node budget (SBMA_JOB): their combined
# footprint is 4x the budget; all finish with bit-exact data while a sampler
# checks that the kernel's count of their SBMA pages (RssShmem) stays within
# the budget plus a slack, and that the node's charge never passes the
# budget. Separate executables, then a fork-based job, then SBMA_JOB=none
# (a private budget: no segment). See docs/testing.md.
. "${top_srcdir:-.}/tests/node_lib.sh"

# The slack: the segment itself (~70 KiB, mapped by every process) and the
# kernel's fault-around of a page being read through the manager view.
slack=$((4 * 256 * 1024))
export SBMA_BUDGET=32M
budget=$((32 << 20))

run_job() { # name, then the worker processes' arguments, one string each
	name=$1
	shift
	pids=
	for args in "$@"; do
		# shellcheck disable=SC2086
		"$bin/prog_node_worker" $args &
		pids="$pids $!"
	done
	# shellcheck disable=SC2086
	"$bin/prog_node_probe" watch "$SBMA_JOB" $pids >"$SBMA_DIR/../watch.$$" &
	watcher=$!
	for p in $pids; do
		wait "$p" || fail "$name: worker $p exited with status $?"
	done
	wait "$watcher"
	out=$(cat "$SBMA_DIR/../watch.$$")
	rm -f "$SBMA_DIR/../watch.$$"
	echo "$name: $out"
	expect_le "$name: node RssShmem" "$(field max_rss_shmem "$out")" $((budget + slack))
	expect_le "$name: node charge" "$(field max_charged "$out")" $budget
	expect_le "$name: loads past the budget" "$(field over_budget "$out")" 0
	expect_le "$name: charge left at the end" "$(field final_charged "$out")" 0
	expect_clean "$name"
}

run_job "4 executables" "-m 32 -s 3 -i 1" "-m 32 -s 3 -i 2" "-m 32 -s 3 -i 3" "-m 32 -s 3 -i 4"
run_job "fork-based, 4 processes" "-m 32 -s 3 -i 10 -f 4"
# Processes that also evict everything between sweeps, as blocked MPI ranks do.
run_job "4 executables, evicting" "-m 32 -s 3 -i 20 -b" "-m 32 -s 3 -i 21 -b" "-m 32 -s 3 -i 22" "-m 32 -s 3 -i 23"

SBMA_JOB=none "$bin/prog_node_worker" -m 8 -s 1 || fail "SBMA_JOB=none: worker failed"
if ls /dev/shm | grep -q "^sbma-$(id -u)-none-"; then
	fail "SBMA_JOB=none created a node segment"
fi

[ $fails -eq 0 ] || exit 1
echo "PASS"
