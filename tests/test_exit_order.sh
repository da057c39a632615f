#!/bin/sh
# test_exit_order.sh - SBMA memory stays valid for everything that runs at
# exit, before and after SBMA's own exit work, and nothing is left behind.
# tests/test_exit_order (see its header and tests/libexitorder.c) checks 20
# MiB of evicted SBMA memory word by word, rewrites and re-checks it in
# main, in an atexit handler of main, in a destructor of the program (these
# run before SBMA's destructors), in two destructors of a library that is
# finalised after libsbma and in an atexit handler that library registered
# from its constructor (these run after; the last also allocates, checks
# and frees a new block). Run twice: the program built
# without SBMA under LD_PRELOAD=libsbma.so, and the same source linked with
# libsbma. Each run is in a job (SBMA_JOB) with SBMA_STATS=1 and an 8 MiB
# budget. Passes when every handler printed "ok", at least one of them ran
# after SBMA had left the node (its segment gone), the report was printed,
# and after exit SBMA_DIR is empty and the job's segment is gone. First,
# without SBMA, one bit flipped on purpose must be found.
# Needs: top_builddir (set by make check; default ".").

top_builddir=${top_builddir:-.}
bin=$top_builddir/tests
LIB=$top_builddir/.libs/libsbma.so
case $LIB in /*) ;; *) LIB="$(pwd)/$LIB" ;; esac
for f in "$bin/test_exit_order_plain" "$bin/test_exit_order_linked" "$bin/prog_node_probe" "$LIB"; do
	if [ ! -e "$f" ]; then
		echo "test_exit_order: $f missing (make check builds it)" >&2
		exit 99
	fi
done
for v in $(env | sed -n 's/^\(SBMA_[A-Z_]*\)=.*/\1/p'); do
	unset "$v"
done
W=$(mktemp -d /dev/shm/sbma-exit-order.XXXXXX 2>/dev/null || mktemp -d "${TMPDIR:-/tmp}/sbma-exit-order.XXXXXX") || exit 99
trap 'rm -rf "$W"' EXIT
fails=0
fail() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}

HANDLERS="main main-atexit program-destructor lib-destructor lib-destructor-101 lib-atexit-from-constructor late-malloc"

# one NAME PRELOAD PROGRAM
one() {
	name=$1 preload=$2 prog=$3
	job=test-exit-$$-$name
	seg=$("$bin/prog_node_probe" name "$job")
	rm -rf "$W/store"
	mkdir "$W/store"
	env ${preload:+LD_PRELOAD=$preload} SBMA_JOB="$job" SBMA_BUDGET=8M SBMA_STATS=1 \
		SBMA_DIR="$W/store" EXITORDER_SEGMENT="$seg" timeout 120 "$prog" >"$W/out" 2>"$W/err"
	rc=$?
	sed "s/^/    $name: /" "$W/out"
	[ $rc -eq 0 ] || fail "$name: exit status $rc"
	for h in $HANDLERS; do
		grep -q "^$h ok" "$W/out" || fail "$name: $h did not report ok"
	done
	grep -q "node=gone" "$W/out" || fail "$name: no handler ran after SBMA left the node"
	grep -q "node=present" "$W/out" || fail "$name: no handler ran before SBMA left the node"
	grep -q '^sbma: statistics of process' "$W/err" || fail "$name: no statistics report"
	written=$(sed -n 's/^sbma:   bytes_written *\([0-9]*\).*/\1/p' "$W/err" | sort -n | tail -1)
	[ "${written:-0}" -gt 0 ] || fail "$name: SBMA wrote nothing: the blocks were never on disk"
	left=$(ls -A "$W/store")
	[ -z "$left" ] || fail "$name: left in SBMA_DIR: $left"
	[ ! -e "$seg" ] || fail "$name: segment $seg left behind"
	rm -f "$seg"
	[ $fails -eq 0 ] && echo "ok: $name"
}

# The check can fail: one flipped bit is found.
if EXITORDER_CORRUPT=1 "$bin/test_exit_order_plain" >"$W/out" 2>&1 || ! grep -q '^main FAIL' "$W/out"; then
	fail "a flipped bit was not found: $(head -3 "$W/out")"
fi

one preload "$LIB" "$bin/test_exit_order_plain"
one linked "" "$bin/test_exit_order_linked"

[ $fails -eq 0 ] || exit 1
echo "test_exit_order: all passed"
exit 0
