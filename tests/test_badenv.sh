#!/bin/sh
# test_badenv.sh - every SBMA_* variable refuses a bad value loudly, and
# libsbma is invisible to programs that do not know it. For each variable,
# tests/prog_alloc (which allocates and checks 64 MiB) is run with garbage,
# zero, negative, overflowing and out-of-range values: it must exit nonzero,
# not by a signal, with a message on stderr that names the variable; values
# whose meaning is debatable (e.g. SBMA_DIRECT=on on a file system without
# O_DIRECT) may be accepted but must not crash, and if refused must name the
# variable; good values must run to "ok". SBMA_DIR is also tried missing, as
# a regular file and (as root, when mount works) as a read-only tmpfs.
# SBMA_VERBOSE=1 must print the settings and SBMA_STATS=1 the statistics.
# Finally unmodified programs (/bin/ls -la /usr/bin, sh -c 'echo hi | cat', a sort with a
# 64 MiB buffer over a 16 MiB budget, and tests/prog_plain) are run with
# LD_PRELOAD=.libs/libsbma.so and their output must match a run without it.
# Needs: top_builddir (set by make check; default ".").

top_builddir=${top_builddir:-.}
top_srcdir=${top_srcdir:-.}
PROG="$top_builddir/tests/prog_alloc"
PLAIN="$top_builddir/tests/prog_plain"
LIB="$top_builddir/.libs/libsbma.so"
case $LIB in /*) ;; *) LIB="$(pwd)/$LIB" ;; esac

if [ ! -x "$PROG" ]; then
	echo "test_badenv: $PROG not built" >&2
	exit 99
fi

# Start from a clean SBMA environment: only what each check sets counts.
for v in $(env | sed -n 's/^\(SBMA_[A-Z_]*\)=.*/\1/p'); do
	unset "$v"
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sbma-badenv.XXXXXX") || exit 99
ro_mounted=
cleanup() {
	[ -n "$ro_mounted" ] && umount "$tmp/ro" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

passes=0
fails=0
pass() { passes=$((passes + 1)); echo "PASS: $*"; }
fail() {
	fails=$((fails + 1))
	echo "FAIL: $*"
	if [ -s "$tmp/err" ]; then sed 's/^/    stderr: /' "$tmp/err" | head -5; fi
}

# A hang must fail the test, not stall make check.
TIMEOUT=
command -v timeout >/dev/null && TIMEOUT="timeout -s KILL 120"

# run VAR VALUE: run prog_alloc with VAR=VALUE; sets rc, leaves out/err.
run() {
	env "$1=$2" $TIMEOUT "$PROG" >"$tmp/out" 2>"$tmp/err"
	rc=$?
}

# bad VAR VALUE...: each value must be refused with exactly one line on
# stderr that names VAR as VAR='... (so that a line about SBMA_READAHEAD
# does not pass for SBMA_READ) and says what was expected. The variables
# tried are collected for the completeness check at the end.
refused_vars=
bad() {
	var=$1
	shift
	case " $refused_vars " in
	*" $var "*) ;;
	*) refused_vars="$refused_vars $var" ;;
	esac
	for val in "$@"; do
		run "$var" "$val"
		lines=$(wc -l <"$tmp/err")
		if [ $rc -eq 0 ]; then
			fail "$var='$val' accepted (want: refused)"
		elif [ $rc -ge 128 ]; then
			fail "$var='$val' killed by signal $((rc - 128))"
		elif ! grep -qF "$var='" "$tmp/err"; then
			fail "$var='$val' refused (exit $rc) but stderr does not name $var"
		elif [ "$lines" -ne 1 ] || ! grep -q ": expected " "$tmp/err"; then
			fail "$var='$val' refused, but stderr is $lines lines, not one saying what was expected"
		else
			pass "$var='$val' refused: $(head -1 "$tmp/err")"
		fi
	done
}

# good VAR VALUE...: each value must run to "ok".
good() {
	var=$1
	shift
	for val in "$@"; do
		run "$var" "$val"
		if [ $rc -eq 0 ] && grep -qx ok "$tmp/out"; then
			pass "$var='$val' accepted"
		else
			fail "$var='$val' not accepted (exit $rc)"
		fi
	done
}

# any VAR VALUE...: accepted or refused, never a crash; a refusal names VAR.
any() {
	var=$1
	shift
	for val in "$@"; do
		run "$var" "$val"
		if [ $rc -ge 128 ]; then
			fail "$var='$val' killed by signal $((rc - 128))"
		elif [ $rc -ne 0 ] && ! grep -q "$var" "$tmp/err"; then
			fail "$var='$val' refused (exit $rc) but stderr does not name $var"
		else
			pass "$var='$val' exit $rc"
		fi
	done
}

OVER=99999999999999999999999

# The baseline: no SBMA variable at all.
"$PROG" >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -eq 0 ] && grep -qx ok "$tmp/out" && [ ! -s "$tmp/err" ]; then
	pass "defaults: ok, nothing on stderr"
else
	fail "defaults: exit $rc"
fi

bad SBMA_BUDGET lots 12Q 0 -64M $OVER 20000000T 0% 101% 1.5% 4K " 64M" 64M,
good SBMA_BUDGET 64M 25% 1.5G 64MiB ""
bad SBMA_PAGE big 0 -4K $OVER 5000 12K 128M 2K 4K4
good SBMA_PAGE 4K 16K 1M
bad SBMA_MIN_ALLOC x 0 -1M $OVER 100 1Mx
good SBMA_MIN_ALLOC 4K 2M
bad SBMA_READAHEAD x -4M $OVER 5000
good SBMA_READAHEAD 0 8M
bad SBMA_ARENA x 0 -1T $OVER 1M 1000T
good SBMA_ARENA 4G
bad SBMA_READ sideways 0 -1 $OVER
good SBMA_READ lazy eager
bad SBMA_DIRECT maybe 2 -1 $OVER
good SBMA_DIRECT auto off
any SBMA_DIRECT on
for v in SBMA_VERBOSE SBMA_STATS SBMA_CHECK SBMA_UNLOCKED_IO; do
	bad $v maybe 2 -1 $OVER
	good $v 0 no
done
good SBMA_CHECK 1
maxmap=$(cat /proc/sys/vm/max_map_count 2>/dev/null || echo 65530)
bad SBMA_MAX_MAPS x 0 -5 $OVER 63 "$maxmap" 1e3
good SBMA_MAX_MAPS 1000
any SBMA_MAX_MAPS 10K
bad SBMA_JOB "a/b" ".hidden" "x y" "j\$" 12345678901234567890123456789012345678901234567890123456789012345
good SBMA_JOB none "badenv-$$" A.b_c-9
bad SBMA_EVICT sometimes 2 -1 $OVER
good SBMA_EVICT lazy eager
bad SBMA_NODE_TIMEOUT x 0 -1 86401 10s 1.5 $OVER
good SBMA_NODE_TIMEOUT 1 86400

# A value with a newline or a terminal escape (control bytes in values were
# found by tests/fuzz/run-libfuzzer.sh to split or hide the error line)
# gives one whole line.
nl='
'
bad SBMA_JOB "a${nl}b" "x$(printf '\033')[2Jy"
bad SBMA_READ "lazy${nl}SBMA_READ=eager"

# SBMA_DIR: missing, not a directory, read-only, a 1200-byte path (still
# one line that ends with what was expected).
: >"$tmp/afile"
bad SBMA_DIR /nonexistent/sbma-dir "$tmp/afile" "/$(printf '%01200d' 0)"
good SBMA_DIR "$tmp"
if [ "$(id -u)" = 0 ]; then
	mkdir "$tmp/ro"
	if mount -t tmpfs -o ro,size=4m tmpfs "$tmp/ro" 2>/dev/null; then
		ro_mounted=1
		bad SBMA_DIR "$tmp/ro"
		umount "$tmp/ro" && ro_mounted=
	else
		echo "SKIP: SBMA_DIR read-only (mount refused)"
	fi
else
	echo "SKIP: SBMA_DIR read-only (not root)"
fi

# SBMA_VERBOSE=1 prints the settings; SBMA_STATS=1 the statistics at exit.
SBMA_VERBOSE=1 "$PROG" >"$tmp/out" 2>"$tmp/err"
rc=$?
cat "$tmp/out" "$tmp/err" >"$tmp/all"
if [ $rc -eq 0 ] && grep -q SBMA_BUDGET "$tmp/all" && grep -q SBMA_PAGE "$tmp/all" &&
	grep -q SBMA_DIR "$tmp/all"; then
	pass "SBMA_VERBOSE=1 prints the settings"
else
	fail "SBMA_VERBOSE=1: exit $rc, settings not printed"
fi
SBMA_STATS=1 "$PROG" >"$tmp/out" 2>"$tmp/err"
rc=$?
cat "$tmp/out" "$tmp/err" >"$tmp/all"
if [ $rc -eq 0 ] && grep -qi 'written' "$tmp/all" && grep -qi 'fault' "$tmp/all"; then
	pass "SBMA_STATS=1 prints statistics at exit"
else
	fail "SBMA_STATS=1: exit $rc, no statistics (want 'written' and 'fault')"
fi

# LD_PRELOAD: unmodified programs give the same output with and without.
if [ ! -f "$LIB" ]; then
	fail "LD_PRELOAD: $LIB missing"
else
	preload_same() {
		name=$1
		shift
		"$@" >"$tmp/ref.out" 2>"$tmp/ref.err"
		ref=$?
		env LD_PRELOAD="$LIB" SBMA_BUDGET=16M $TIMEOUT "$@" >"$tmp/pre.out" 2>"$tmp/err"
		got=$?
		if [ $got -ne $ref ]; then
			fail "LD_PRELOAD $name: exit $got, without: $ref"
		elif ! cmp -s "$tmp/ref.out" "$tmp/pre.out"; then
			fail "LD_PRELOAD $name: output differs"
		elif ! cmp -s "$tmp/ref.err" "$tmp/err"; then
			fail "LD_PRELOAD $name: stderr differs"
		else
			pass "LD_PRELOAD $name: same output"
		fi
	}
	preload_same "ls -la /usr/bin" /bin/ls -la /usr/bin
	preload_same "echo hi | cat" /bin/sh -c 'echo hi | cat'
	preload_same "sort -S 64M" /bin/sh -c 'seq 1 1500000 | sort -S 64M -r | md5sum'
	preload_same "prog_plain" "$PLAIN"
	# The program's own malloc must bind to libsbma.so, not to libc.
	env LD_DEBUG=bindings LD_PRELOAD="$LIB" "$PLAIN" >/dev/null 2>"$tmp/bind"
	if grep "binding file $PLAIN " "$tmp/bind" | grep "libsbma" | grep -q "symbol \`malloc'"; then
		pass "LD_PRELOAD: prog_plain's malloc binds to libsbma.so"
	else
		grep "binding file $PLAIN " "$tmp/bind" | grep "symbol \`malloc'" | head -1 >"$tmp/err"
		fail "LD_PRELOAD: prog_plain's malloc does not bind to libsbma.so"
	fi
	env LD_PRELOAD="$LIB" SBMA_STATS=1 "$PLAIN" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ $rc -eq 0 ] && grep -qx ok "$tmp/out" && grep -qi written "$tmp/err"; then
		pass "LD_PRELOAD prog_plain with SBMA_STATS=1: ok and statistics"
	else
		fail "LD_PRELOAD prog_plain with SBMA_STATS=1: exit $rc, statistics missing"
	fi
fi

# Every variable docs/environment.md documents has bad values above: a new
# variable without them fails here.
doc="$top_srcdir/docs/environment.md"
documented=$(sed -n 's/^## \(SBMA_[A-Z_]*\)$/\1/p' "$doc" 2>/dev/null)
if [ -z "$documented" ]; then
	fail "no SBMA_* sections in $doc"
fi
for v in $documented; do
	case " $refused_vars " in
	*" $v "*) pass "$v: bad values tried" ;;
	*) fail "$v is documented but no bad value of it is tried here" ;;
	esac
done

echo "test_badenv: $passes passed, $fails failed"
[ $fails -eq 0 ]
