#!/bin/sh
# mpi-examples-plain.sh - the MPI examples are right before SBMA is put under
# them: each one (examples/bsp_sweep, pagerank, samplesort and, when built,
# the Fortran bsp_sweep_f) runs on 4 ranks at a small size WITHOUT SBMA and
# must print a line starting with PASS and exit 0; and each one must notice
# damage: run again with EXAMPLE_CORRUPT set (one rank damages one datum in
# the middle of the run: a bit of an element, a CSR col entry, a row
# boundary, an out-degree, a rank-vector entry, a gathered value, a key, the
# order of two keys), it must print FAIL and exit 1. A test of SBMA that runs
# these examples is only as good as their own checks; this is that check.
# Needs: top_builddir (set by make check; default "."); MPIEXEC (set by make
# check from configure; default mpiexec), Open MPI's or MPICH's; MPI_FLAVOUR
# (set by make check) if the launcher is to be checked. Skips (77) without
# the examples or a launcher. About 15 s on an idle 2-core machine (14
# launches).

top_builddir=${top_builddir:-.}
EX="$top_builddir/examples"
MPIEXEC=${MPIEXEC:-mpiexec}
NP=4

if [ ! -x "$EX/bsp_sweep" ] || [ ! -x "$EX/pagerank" ] || [ ! -x "$EX/samplesort" ]; then
	echo "SKIP: the MPI examples are not built (configure found no MPI?)"
	exit 77
fi
if ! command -v "$MPIEXEC" >/dev/null 2>&1; then
	echo "SKIP: no MPI launcher ($MPIEXEC)"
	exit 77
fi

# No SBMA here, whatever the caller's environment says.
unset LD_PRELOAD
for v in $(env | sed -n 's/^\(SBMA_[A-Z_]*\)=.*/\1/p'); do
	unset "$v"
done
unset EXAMPLE_CORRUPT

. "${top_srcdir:-.}/tests/mpi_launch.sh"
# Open MPI forwards only the variables named with -x (hydra forwards the
# whole environment).
[ "$MPI_IS_OPENMPI" = 1 ] && LAUNCH="$LAUNCH -x EXAMPLE_CORRUPT"
TIMEOUT=
command -v timeout >/dev/null && TIMEOUT="timeout -k 10 60"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sbma-mpiex.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM HUP

fails=0
runs=0

# run EXPECT CORRUPT PROGRAM ARGS...: EXPECT is PASS (exit 0) or FAIL (exit 1);
# CORRUPT is the EXAMPLE_CORRUPT value, 0 for none.
run() {
	expect=$1
	corrupt=$2
	prog=$3
	shift 3
	runs=$((runs + 1))
	label="$(basename "$prog") $*"
	[ "$corrupt" != 0 ] && label="$label, EXAMPLE_CORRUPT=$corrupt"
	start=$(date +%s.%N)
	EXAMPLE_CORRUPT=$corrupt $TIMEOUT $LAUNCH "$prog" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	end=$(date +%s.%N)
	secs=$(echo "$start $end" | awk '{ printf "%.1f", $2 - $1 }')
	verdicts=$(grep -c '^PASS\|^FAIL' "$tmp/out")
	line=$(grep '^PASS\|^FAIL' "$tmp/out" | head -1)
	want_rc=0
	[ "$expect" = FAIL ] && want_rc=1
	if [ "$verdicts" -eq 1 ] && [ "${line%% *}" = "$expect" ] && [ $rc -eq $want_rc ]; then
		echo "ok: $label: $expect as expected, exit $rc (${secs} s)"
		echo "    $line"
	else
		echo "FAIL: $label: expected $expect and exit $want_rc, got exit $rc and $verdicts verdict lines:"
		sed 's/^/    /' "$tmp/out" | head -5
		sed 's/^/    stderr: /' "$tmp/err" | head -15
		fails=$((fails + 1))
	fi
}

run PASS 0 "$EX/bsp_sweep" -m 4 -s 8
run FAIL 1 "$EX/bsp_sweep" -m 4 -s 8
run PASS 0 "$EX/pagerank" -m 4 -i 8
for c in col rowptr deg x gathered; do
	run FAIL $c "$EX/pagerank" -m 2 -i 4
done
run PASS 0 "$EX/samplesort" -m 4
run FAIL bit "$EX/samplesort" -m 2
run FAIL swap "$EX/samplesort" -m 2
if [ -x "$EX/bsp_sweep_f" ]; then
	run PASS 0 "$EX/bsp_sweep_f" -m 4 -s 8
	run FAIL 1 "$EX/bsp_sweep_f" -m 4 -s 8
else
	echo "SKIP: examples/bsp_sweep_f (no MPI Fortran compiler)"
fi

# Bad usage is exit 2 and no verdict.
runs=$((runs + 1))
$TIMEOUT $LAUNCH "$EX/samplesort" -m nonsense >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -ne 2 ] || grep -q '^PASS\|^FAIL' "$tmp/out" || ! grep -q usage "$tmp/err"; then
	echo "FAIL: samplesort -m nonsense: exit $rc, expected 2 and a usage message"
	fails=$((fails + 1))
else
	echo "ok: samplesort -m nonsense: usage, exit 2"
fi

echo "mpi-examples-plain: $runs runs, $fails failed"
[ $fails -eq 0 ]
