#!/bin/sh
# test_signals_preload.sh - SBMA's SIGSEGV/SIGBUS handler stays first in an
# unmodified program under LD_PRELOAD=libsbma.so, and the program's own
# handlers are chained behind it: tests/prog_signals (see its header for
# the checks) must print "ok" and exit 0. Run without the preload it must
# exit 3 (it noticed SBMA is absent), so a missing libsbma.so cannot pass.
# Needs: top_builddir (set by make check; default ".").

top_builddir=${top_builddir:-.}
PROG="$top_builddir/tests/prog_signals"
LIB="$top_builddir/.libs/libsbma.so"
case $LIB in /*) ;; *) LIB="$(pwd)/$LIB" ;; esac

if [ ! -x "$PROG" ] || [ ! -f "$LIB" ]; then
	echo "test_signals_preload: $PROG or $LIB not built" >&2
	exit 99
fi

for v in $(env | sed -n 's/^\(SBMA_[A-Z_]*\)=.*/\1/p'); do
	unset "$v"
done

fail=0
timeout 120 "$PROG" >/dev/null 2>&1
rc=$?
if [ "$rc" -ne 3 ]; then
	echo "FAIL: prog_signals without LD_PRELOAD exited $rc, expected 3" >&2
	fail=1
fi

out=$(SBMA_BUDGET=16M LD_PRELOAD="$LIB" timeout 120 "$PROG")
rc=$?
if [ "$rc" -ne 0 ] || [ "$out" != "ok" ]; then
	echo "FAIL: prog_signals under LD_PRELOAD exited $rc, printed \"$out\"" >&2
	fail=1
fi
[ "$fail" -eq 0 ] && echo "test_signals_preload: ok"
exit "$fail"
