#!/bin/sh
# test_preload.sh - unmodified programs under LD_PRELOAD=libsbma.so: the
# allocator needs no bootstrap arena, and large buffers handed to the
# kernel work (src/preload.c, src/kernel_access.c, docs/preload.md).
#  1. tests/prog_preload calls dlopen, dlsym, malloc, calloc, realloc and
#     read(2) from its preinit function, before any library constructor
#     (SBMA's included); it must print "ok" under the preload, and exit 3
#     without it (it noticed SBMA is absent), so a lost preload cannot pass.
#  2. sort with SBMA_MIN_ALLOC=4K: glibc's own (stdio) buffers must stay
#     glibc's, or its internal reads into them fail once they are evicted.
#  3. dd copies a 72 MiB file with 48 MiB blocks (its buffer is SBMA memory,
#     3x the 16 MiB budget): file to file (the reads and writes are split),
#     and file to pipe to file (pipe transfers are pinned whole, over the
#     budget); the copies must be identical to the original.
# Needs: top_builddir (set by make check; default ".").

top_builddir=${top_builddir:-.}
PROG="$top_builddir/tests/prog_preload"
LIB="$top_builddir/.libs/libsbma.so"
case $LIB in /*) ;; *) LIB="$(pwd)/$LIB" ;; esac

if [ ! -x "$PROG" ] || [ ! -f "$LIB" ]; then
	echo "test_preload: $PROG or $LIB not built" >&2
	exit 99
fi

for v in $(env | sed -n 's/^\(SBMA_[A-Z_]*\)=.*/\1/p'); do
	unset "$v"
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sbma-preload.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM HUP

TIMEOUT=
command -v timeout >/dev/null && TIMEOUT="timeout -s KILL 120"

fail=0
check() { # name rc: report
	if [ "$2" -eq 0 ]; then
		echo "PASS: $1"
	else
		echo "FAIL: $1"
		[ -s "$tmp/err" ] && sed 's/^/    stderr: /' "$tmp/err" | head -5
		fail=1
	fi
}

# 1. Early dlopen/dlsym/malloc.
$TIMEOUT "$PROG" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ $rc -eq 3 ]
check "prog_preload without LD_PRELOAD exits 3 (got $rc)" $?

for budget in 16M 50%; do
	env LD_PRELOAD="$LIB" SBMA_BUDGET=$budget $TIMEOUT "$PROG" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	[ $rc -eq 0 ] && [ "$(cat "$tmp/out")" = ok ]
	check "prog_preload under LD_PRELOAD, SBMA_BUDGET=$budget (exit $rc)" $?
done

# 2. Memory glibc allocates for itself stays glibc's: with SBMA_MIN_ALLOC
#    at its smallest, stdio's own buffers would otherwise be SBMA memory
#    that glibc reads into with internal calls no wrapper sees (EFAULT once
#    evicted: "sort: read failed: Bad address").
seq 1 1500000 >"$tmp/nums"
sort -r "$tmp/nums" | md5sum >"$tmp/want"
env LD_PRELOAD="$LIB" SBMA_BUDGET=16M SBMA_PAGE=4K SBMA_MIN_ALLOC=4K SBMA_DIR="$tmp" $TIMEOUT \
	sort -S 64M -r "$tmp/nums" 2>"$tmp/err" | md5sum >"$tmp/got"
cmp -s "$tmp/want" "$tmp/got" && [ ! -s "$tmp/err" ]
check "sort -S 64M with SBMA_MIN_ALLOC=4K, SBMA_PAGE=4K, budget 16M" $?

# 3. dd with buffers over the budget.
if ! command -v dd >/dev/null || ! command -v cmp >/dev/null; then
	echo "SKIP: dd or cmp missing"
else
	head -c $((72 * 1024 * 1024)) /dev/urandom >"$tmp/in" 2>/dev/null
	: >"$tmp/err"
	env LD_PRELOAD="$LIB" SBMA_BUDGET=16M SBMA_DIR="$tmp" $TIMEOUT \
		dd if="$tmp/in" of="$tmp/out1" bs=48M iflag=fullblock status=none 2>"$tmp/err" &&
		cmp -s "$tmp/in" "$tmp/out1"
	check "dd bs=48M file to file under a 16M budget" $?
	rm -f "$tmp/out1"
	env LD_PRELOAD="$LIB" SBMA_BUDGET=16M SBMA_DIR="$tmp" $TIMEOUT \
		sh -c 'dd if="$1" bs=48M status=none | dd of="$2" bs=48M iflag=fullblock status=none' \
		sh "$tmp/in" "$tmp/out2" 2>"$tmp/err" &&
		cmp -s "$tmp/in" "$tmp/out2"
	check "dd bs=48M file to pipe to file under a 16M budget" $?
fi

[ $fail -eq 0 ] && echo "test_preload: ok"
exit $fail
