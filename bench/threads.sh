#!/usr/bin/env bash
# bench/threads.sh - SBMA with many threads, side by side in one run:
#
#   sbma-locked    SBMA_UNLOCKED_IO=off: every fault, eviction and
#                  reservation does its I/O holding the one engine lock
#   sbma-unlocked  SBMA_UNLOCKED_IO=on: loads read the store, and the
#                  evictions faults make write it, without the lock;
#                  reservations and hole punches are made outside it
#   glibc          (alloc only) glibc's malloc, which caches per thread
#   pread          (fault, evict) plain pread/pwrite of the same bytes on
#                  the same device, each thread its own range (the floor)
#
# for T = 1, 2, 4, 8 threads and the three cases of bench/threads.c (its
# header says what each does). Writes CSV rows bench,case,metric,value,unit
# to <out>/threads.csv and a Markdown table with ratios to <out>/threads.md
# (also printed).
#
# Usage: bench/threads.sh [--bindir DIR] [--out DIR] [--threads "1 2 4 8"]
#                         [--total BYTES] [--ops N] [--reps N]
# SBMA_DIR (default $TMPDIR or /tmp) is where the backing files go.
set -u -o pipefail

here=$(cd "$(dirname "$0")" && pwd)
bindir=$here
out=.
threads="1 2 4 8"
total=256M
ops=240
reps=3
while [ $# -gt 0 ]; do
	case $1 in
	--bindir) bindir=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--threads) threads=$2; shift 2 ;;
	--total) total=$2; shift 2 ;;
	--ops) ops=$2; shift 2 ;;
	--reps) reps=$2; shift 2 ;;
	-h|--help) sed -n '2,20p' "$0"; exit 0 ;;
	*) echo "bench/threads.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
	esac
done
prog=$bindir/threads
[ -x "$prog" ] || { echo "bench/threads.sh: $prog not found: build it with 'make bench/threads'" >&2; exit 1; }
mkdir -p "$out" || exit 1
csv=$out/threads.csv
md=$out/threads.md
: > "$csv"
export SBMA_DIR=${SBMA_DIR:-${TMPDIR:-/tmp}}

mib() { numfmt --from=iec "$1" | awk '{ printf "%d", $1 / 1048576 }'; }
total_mib=$(mib "$total") || exit 1
fault_budget=$((total_mib * 2))M # holds everything: every fault is a load
evict_budget=$((total_mib / 4))M # a quarter: every sweep evicts

run() { # case label env... -- args...
	local c=$1 label=$2
	shift 2
	local envs=()
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	env "${envs[@]}" "$prog" --case "$c" --label "$label" --reps "$reps" --csv "$csv" "$@" ||
		echo "bench/threads.sh: $c $label $* failed" >&2
}

for t in $threads; do
	for lock in off on; do
		label=sbma-locked
		[ $lock = on ] && label=sbma-unlocked
		run alloc $label SBMA_UNLOCKED_IO=$lock SBMA_BUDGET=1G -- --threads "$t" --ops "$ops"
		run fault $label SBMA_UNLOCKED_IO=$lock SBMA_BUDGET=$fault_budget -- --threads "$t" --total "$total"
		run evict $label SBMA_UNLOCKED_IO=$lock SBMA_BUDGET=$evict_budget -- --threads "$t" --total "$total"
	done
	run alloc glibc -- --mode glibc --threads "$t" --ops "$ops"
	run fault pread -- --mode pread --threads "$t" --total "$total"
	run evict pread -- --mode pread --threads "$t" --total "$total"
done

# The table: seconds per contender, and the ratios that matter.
awk -F, -v threads="$threads" '
$3 == "seconds" {
	n = split($2, p, "-")            # case-label...-T<t>
	c = p[1]; t = substr(p[n], 2)
	label = p[2]; for (i = 3; i < n; i++) label = label "-" p[i]
	s[c, label, t] = $4
}
END {
	nt = split(threads, T, " ")
	split("alloc fault evict", C, " ")
	for (k = 1; k <= 3; k++) {
		c = C[k]; base = c == "alloc" ? "glibc" : "pread"
		printf "\n### %s (seconds, best of the runs; lower is better)\n\n", c
		printf "| T | sbma-locked | sbma-unlocked | %s | locked/unlocked | unlocked/%s | speedup T1->T (unlocked) |\n", base, base
		printf "| --- | --- | --- | --- | --- | --- | --- |\n"
		for (i = 1; i <= nt; i++) {
			t = T[i]; l = s[c, "sbma-locked", t]; u = s[c, "sbma-unlocked", t]; b = s[c, base, t]
			u1 = s[c, "sbma-unlocked", T[1]]
			printf "| %s | %.3f | %.3f | %.3f | %.2f | %.2f | %.2f |\n", t, l, u, b,
				u ? l / u : 0, b ? u / b : 0, u ? u1 / u : 0
		}
	}
}' "$csv" | tee "$md"
