#!/bin/sh
# test_stats_stderr.sh - SBMA_STATS=1 reports at exit even when the program
# closed its standard error first (src/log.c). tests/prog_close_stderr
# closes fd 2 in main, or fd 1 and 2 in an atexit handler (as every GNU
# coreutils program does), or closes fd 2 and opens a file that becomes fd
# 2: under LD_PRELOAD=libsbma.so with SBMA_STATS=1 and a budget below its
# 8 MiB, the report ("sbma: statistics of process", bytes_written) must be
# on the original standard error, and that file must hold only the
# program's own line. Then GNU sort (which closes fd 2 at exit) must report
# too, with its output unchanged; and without SBMA_STATS the preload must
# add no descriptor (the private duplicate is only kept for the report).
# Needs: top_builddir (set by make check; default ".").

top_builddir=${top_builddir:-.}
PROG=$top_builddir/tests/prog_close_stderr
LIB=$top_builddir/.libs/libsbma.so
case $LIB in /*) ;; *) LIB="$(pwd)/$LIB" ;; esac
if [ ! -x "$PROG" ] || [ ! -e "$LIB" ]; then
	echo "test_stats_stderr: $PROG or $LIB missing (make check builds them)" >&2
	exit 99
fi
for v in $(env | sed -n 's/^\(SBMA_[A-Z_]*\)=.*/\1/p'); do
	unset "$v"
done
W=$(mktemp -d "${TMPDIR:-/tmp}/sbma-stats-stderr.XXXXXX") || exit 99
trap 'rm -rf "$W"' EXIT
mkdir "$W/store"
fails=0
fail() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}

# sbma_run CMD...: under the preload, with statistics and a 4M budget;
# stderr to $W/err, stdout to $W/out. (timeout is preloaded too, and
# reports: the largest bytes_written counts.)
sbma_run() {
	LD_PRELOAD=$LIB SBMA_STATS=1 SBMA_BUDGET=4M SBMA_JOB=none SBMA_DIR=$W/store \
		timeout 60 "$@" >"$W/out" 2>"$W/err"
}

# has_report WHAT: the report is on stderr, with paging in it.
has_report() {
	if ! grep -q '^sbma: statistics of process' "$W/err"; then
		fail "$1: no statistics on stderr"
		return
	fi
	written=$(sed -n 's/^sbma:   bytes_written *\([0-9]*\).*/\1/p' "$W/err" | sort -n | tail -1)
	if [ "${written:-0}" -eq 0 ] && [ "$1" != sort ]; then
		fail "$1: the report says nothing was written (the budget did not page)"
		return
	fi
	echo "ok: $1: report on the original stderr (bytes_written ${written:-0})"
}

for mode in close atexit; do
	sbma_run "$PROG" $mode
	rc=$?
	[ $rc -eq 0 ] || fail "$mode: exit status $rc"
	grep -q '^sum ' "$W/out" || fail "$mode: no output"
	has_report $mode
done

sbma_run "$PROG" reuse "$W/data"
rc=$?
[ $rc -eq 0 ] || fail "reuse: exit status $rc"
has_report reuse
if [ "$(cat "$W/data" 2>/dev/null)" = "the program's own data" ]; then
	echo "ok: reuse: the file that became fd 2 holds only the program's line"
else
	fail "reuse: the file that became fd 2 holds: $(head -c 200 "$W/data" 2>/dev/null)"
fi

# GNU sort closes stdout and stderr in an atexit handler.
if command -v sort >/dev/null 2>&1; then
	seq 200000 | sed 's/$/ line/' >"$W/in"
	LC_ALL=C sort -S 16M -r "$W/in" >"$W/sorted.ref"
	LC_ALL=C sbma_run sort -S 16M -r "$W/in"
	cmp -s "$W/out" "$W/sorted.ref" || fail "sort: output differs under SBMA"
	has_report sort
fi

# Without SBMA_STATS no descriptor is added: the program sees the same
# descriptors with and without the preload.
ref=$(ls /proc/self/fd)
got=$(LD_PRELOAD=$LIB SBMA_JOB=none ls /proc/self/fd)
if [ "$ref" = "$got" ]; then
	echo "ok: no extra descriptor without SBMA_STATS"
else
	fail "descriptors without SBMA_STATS: '$got', without the preload '$ref'"
fi

[ $fails -eq 0 ] || exit 1
echo "test_stats_stderr: all passed"
exit 0
