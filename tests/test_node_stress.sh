#!/bin/sh
# Many processes charging and releasing at once on a small budget with
# 4 KiB pages (many small charges), half of them evicting everything between
# sweeps: all data correct, the node's charge never past the budget, and
# back to exactly zero when the last leaves. See docs/testing.md.
. "${top_srcdir:-.}/tests/node_lib.sh"

export SBMA_BUDGET=8M SBMA_PAGE=4K
pids=
for i in 1 2 3 4 5 6 7 8; do
	b=
	[ $((i % 2)) -eq 0 ] && b=-b
	"$bin/prog_node_worker" -m 8 -s 3 -i $i $b &
	pids="$pids $!"
done
# shellcheck disable=SC2086
out=$("$bin/prog_node_probe" watch "$SBMA_JOB" $pids)
for p in $pids; do
	wait "$p" || fail "worker $p exited with status $?"
done
echo "$out"
expect_le "node charge" "$(field max_charged "$out")" $((8 << 20))
expect_le "loads past the budget" "$(field over_budget "$out")" 0
expect_le "charge left at the end" "$(field final_charged "$out")" 0
expect_clean "stress"

[ $fails -eq 0 ] || exit 1
echo "PASS"
