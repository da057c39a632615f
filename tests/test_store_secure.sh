#!/bin/sh
# test_store_secure.sh - evicted data stays private to its process.
#
# 1. Freed extents are punched: tests/prog_store fills 8 MiB of SBMA memory
#    with a line naming its pid, evicts it and waits. Its backing file, read
#    through /proc/PID/fd (it has no name), must then hold the line (else
#    the check below proves nothing) and about 8 MiB of blocks. After the
#    program frees the memory the file must hold no byte of it (no line, no
#    data found by SEEK_DATA: zero blocks), while the process still runs.
#    After it exits, no file is left in SBMA_DIR and a later process's
#    backing file in the same directory holds no line either.
# 2. The fallback name of the backing file (used where O_TMPFILE is
#    refused), in a build configured with --enable-fault-inject (skipped
#    otherwise): SBMA_FAULT_INJECT_OPS=tmpfile refuses O_TMPFILE and makes
#    the names predictable (.sbma-UID-PID-N, N the attempt). With none
#    pre-created the file is .sbma-UID-PID-0, mode 0600, already unlinked
#    while the program runs. Then, before the program starts (sh execs it:
#    same pid), user nobody (as root; else the test's own user) pre-creates
#    attempt 0 as a regular file of mode 0666, attempt 1 as a symbolic link
#    to a file of the caller's, attempt 2 as a dangling symbolic link: the
#    program must use attempt 3, mode 0600, unlinked; the three names must
#    be as they were (contents, targets; the dangling link's target never
#    created).
# Needs: top_builddir (set by make check; default ".").

top_builddir=${top_builddir:-.}
PROG="$top_builddir/tests/prog_store"
if [ ! -x "$PROG" ]; then
	echo "test_store_secure: $PROG not built" >&2
	exit 99
fi
for v in $(env | sed -n 's/^\(SBMA_[A-Z_]*\)=.*/\1/p'); do
	unset "$v"
done
# The program itself (not libtool's wrapper shell) must have the pid.
if [ -x "$top_builddir/tests/.libs/prog_store" ]; then
	PROG="$top_builddir/tests/.libs/prog_store"
	LD_LIBRARY_PATH="$top_builddir/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
	export LD_LIBRARY_PATH
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sbma-store.XXXXXX") || exit 99
chmod 1777 "$tmp" # a shared directory, as /tmp is
mkdir "$tmp/ctl"
pid=
cleanup() {
	[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
	exec 3>&- 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
export SBMA_DIR="$tmp" SBMA_JOB=none SBMA_BUDGET=4M
fails=0
fail() {
	fails=$((fails + 1))
	echo "FAIL: $*"
}

# start [ENV...] -- [PRE-COMMANDS]: run prog_store 8 with its stdin on a
# FIFO (fd 3); PRE-COMMANDS run in the shell that then execs the program,
# with $$ its pid. Sets pid.
start() {
	rm -f "$tmp/ctl/in" "$tmp/ctl/out"
	mkfifo "$tmp/ctl/in"
	env "$@" sh -c "$PRE exec \"$PROG\" 8" <"$tmp/ctl/in" >"$tmp/ctl/out" 2>"$tmp/ctl/err" &
	pid=$!
	exec 3>"$tmp/ctl/in"
}
# wait_for WORD: until the program printed WORD (60 s at most).
wait_for() {
	n=0
	while ! grep -qx "$1" "$tmp/ctl/out" 2>/dev/null; do
		if ! kill -0 "$pid" 2>/dev/null || [ $n -ge 600 ]; then
			fail "prog_store never printed '$1': $(cat "$tmp/ctl/err")"
			return 1
		fi
		sleep 0.1
		n=$((n + 1))
	done
}
finish() {
	echo go >&3
	exec 3>&-
	wait "$pid"
	rc=$?
	pid=
	[ $rc -eq 0 ] || fail "prog_store exited $rc: $(cat "$tmp/ctl/err")"
}
# store_fd: the program's descriptor of its backing file (into SBMA_DIR).
store_fd() {
	for f in /proc/$pid/fd/*; do
		case $(readlink "$f") in
		"$tmp/ctl/"*) ;;
		"$tmp/"*) echo "$f" && return ;;
		esac
	done
}

# ---- 1. freed extents are punched ----
PRE=
start SBMA_DIRECT=auto
if wait_for evicted; then
	fd=$(store_fd)
	secret="SBMA-SECRET-PATTERN-$pid"
	before=$(grep -c -a "^$secret\$" "$fd")
	blocks_before=$(stat -L -c %b "$fd")
	if [ "$before" -lt 100000 ]; then
		fail "after eviction the backing file holds the line only $before times (the test cannot see the data)"
	fi
	echo go >&3
	wait_for freed
	after=$(grep -c -a "SBMA-SECRET" "$fd")
	blocks_after=$(stat -L -c %b "$fd")
	data=$(python3 -c 'import os,sys
fd = os.open(sys.argv[1], os.O_RDONLY)
try:
    print(os.lseek(fd, 0, os.SEEK_DATA))
except OSError:
    print("none")' "$fd" 2>/dev/null || echo unknown)
	if [ "$after" -ne 0 ] || [ "$blocks_after" -ne 0 ] || [ "$data" != none ]; then
		fail "after free the backing file holds the line $after times, $blocks_after blocks, data at $data"
	else
		echo "PASS: punched: the line $before times in $blocks_before blocks after eviction;" \
			"after free: 0 times, 0 blocks, no data (SEEK_DATA)"
	fi
	finish
fi
if [ -n "$(ls -A "$tmp" | grep -v '^ctl$')" ]; then
	fail "files left in SBMA_DIR: $(ls -A "$tmp")"
fi
# A later process in the same directory: its file has none of it.
first=$secret
PRE=
start
if wait_for evicted; then
	fd=$(store_fd)
	n=$(grep -a -c "^$first\$" "$fd")
	own=$(grep -a -c "^SBMA-SECRET-PATTERN-$pid\$" "$fd")
	if [ "$n" -ne 0 ] || [ "$own" -lt 100000 ]; then
		fail "a later process's backing file: $n lines of the earlier process's, $own of its own"
	else
		echo "PASS: a later process's backing file: $own lines of its own, none of the earlier one's"
	fi
	finish
fi

# ---- 2. the fallback name ----
uid=$(id -u)
probe=$(env SBMA_FAULT_INJECT=1 SBMA_FAULT_INJECT_OPS=tmpfile SBMA_JOB=none "$PROG" 1 </dev/null 2>&1 >/dev/null)
if ! echo "$probe" | grep -q "fault injection:"; then
	echo "SKIP: fallback names (needs a build configured with --enable-fault-inject)"
	[ $fails -eq 0 ] || exit 1
	echo "PASS"
	exit 0
fi
# check_store WANT_N: the store is .sbma-UID-PID-WANT_N, mode 0600, unlinked.
check_store() {
	fd=$(store_fd)
	link=$(readlink "$fd")
	mode=$(stat -L -c %a "$fd")
	want="$tmp/.sbma-$uid-$pid-$1 (deleted)"
	if [ "$link" != "$want" ] || [ "$mode" != 600 ] || [ -e "$tmp/.sbma-$uid-$pid-$1" ]; then
		fail "fallback store: '$link' mode $mode, expected '$want' mode 600 and no name"
		return 1
	fi
}
FI="SBMA_FAULT_INJECT=1 SBMA_FAULT_INJECT_OPS=tmpfile"
PRE=
start $FI
if wait_for evicted; then
	check_store 0 && echo "PASS: fallback: $(readlink "$(store_fd)"), mode 0600, no name while it runs"
	finish
fi
if [ -n "$(ls -A "$tmp" | grep -v '^ctl$')" ]; then
	fail "fallback: files left in SBMA_DIR: $(ls -A "$tmp")"
fi

other=
if [ "$uid" -eq 0 ] && id nobody >/dev/null 2>&1; then
	other="setpriv --reuid=65534 --regid=65534 --clear-groups"
fi
echo "the caller's file" >"$tmp/ctl/victim"
chmod 666 "$tmp/ctl/victim"
PRE="$other sh -c 'umask 0; echo bait >$tmp/.sbma-$uid-\$0-0; ln -s $tmp/ctl/victim $tmp/.sbma-$uid-\$0-1;
ln -s $tmp/ctl/nowhere $tmp/.sbma-$uid-\$0-2' \$\$;"
start $FI
if wait_for evicted; then
	if check_store 3; then
		echo "PASS: fallback with attempts 0-2 pre-created${other:+ by nobody}: $(readlink "$(store_fd)"), mode 0600"
	fi
	p=$tmp/.sbma-$uid-$pid
	if [ "$(cat "$p-0")" != bait ] || [ "$(stat -c %a "$p-0")" != 666 ] ||
		[ "$(readlink "$p-1")" != "$tmp/ctl/victim" ] || [ "$(cat "$tmp/ctl/victim")" != "the caller's file" ] ||
		[ "$(readlink "$p-2")" != "$tmp/ctl/nowhere" ] || [ -e "$tmp/ctl/nowhere" ]; then
		fail "a pre-created name was opened or changed: $(ls -la "$tmp" "$tmp/ctl")"
	else
		echo "PASS: the pre-created file and links are as they were"
	fi
	finish
fi

[ $fails -eq 0 ] || exit 1
echo "PASS"
