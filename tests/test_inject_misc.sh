#!/bin/sh
# test_inject_misc.sh - failures from outside that need no fault-injection
# build: signals that stop a process in the middle of SBMA's work, a peer
# that holds the node budget and stops answering, and API misuse.
#
# 1. Misuse (prog_inject misuse): the range calls on memory that is not
#    SBMA's (stack, libc heap, NULL), on empty and overflowing ranges, with
#    bad access flags, return -EINVAL; an unpin without a pin, malloc(0),
#    realloc(p, 0) and sbma_realloc(p, 0) (free p: the live allocations
#    and bytes come back to what they were; NULL),
#    calloc/malloc overflow (NULL, ENOMEM) do no harm; SBMA data allocated
#    before is intact after them.
# 2. SIGTERM and SIGINT at random moments while a process evicts and
#    reloads 4x its budget in a loop (prog_inject evictloop): its handler
#    reads every word of SBMA memory (faulting it in, from the handler) and
#    must find it whole; without a handler the signal kills it (exit
#    128+signal, no SBMA message); either way nothing is left in SBMA_DIR.
#    While the first one runs: its backing file has mode 0600 and no name
#    in SBMA_DIR.
# 3. A process of a job holds half the node budget and is stopped
#    (SIGSTOP), as a hung peer would be: another process of the same job,
#    with twice the other half as footprint, must finish correctly without
#    waiting for it (it evicts its own pages); then the stopped one is
#    continued (SIGCONT) and must finish correctly too; no segment and no
#    backing file are left. (A stopped process that holds the WHOLE node
#    budget is not tested here: its peers then load one page per
#    SBMA_NODE_TIMEOUT, see docs/reliability.md.)
# Needs: top_builddir (set by make check; default ".").

top_builddir=${top_builddir:-.}
PROG="$top_builddir/tests/prog_inject"
PROBE="$top_builddir/tests/prog_node_probe"

if [ ! -x "$PROG" ] || [ ! -x "$PROBE" ]; then
	echo "test_inject_misc: $PROG or $PROBE not built" >&2
	exit 99
fi
for v in $(env | sed -n 's/^\(SBMA_[A-Z_]*\)=.*/\1/p'); do
	unset "$v"
done
# Signals must reach the program itself, not the libtool wrapper's shell.
if [ -x "$top_builddir/tests/.libs/prog_inject" ]; then
	PROG="$top_builddir/tests/.libs/prog_inject"
	LD_LIBRARY_PATH="$top_builddir/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
	export LD_LIBRARY_PATH
fi
TIMEOUT=
command -v timeout >/dev/null && TIMEOUT="timeout -k 5 120"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sbma-misc.XXXXXX") || exit 99
job=test-inject-$$
seg=$("$PROBE" name "$job")
pids=
cleanup() {
	for p in $pids; do kill -KILL "$p" 2>/dev/null; done
	rm -rf "$tmp"
	rm -f "$seg"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
mkdir "$tmp/store"
fails=0
fail() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}
show() {
	sed 's/^/    out: /' "$tmp/out" | head -5
	sed 's/^/    err: /' "$tmp/err" | head -5
}
# wait_for WORD PID: until the program printed WORD on a line (60 s at most).
wait_for() {
	n=0
	while ! grep -qx "$1" "$tmp/out" 2>/dev/null; do
		if ! kill -0 "$2" 2>/dev/null || [ $n -ge 600 ]; then
			return 1
		fi
		sleep 0.1
		n=$((n + 1))
	done
}
expect_empty_dir() {
	if [ -n "$(ls -A "$tmp/store")" ]; then
		fail "$1: files left in SBMA_DIR: $(ls -A "$tmp/store")"
		rm -f "$tmp/store"/* "$tmp/store"/.??* 2>/dev/null
	fi
}

# ---- 1. misuse ----
env SBMA_JOB=none SBMA_DIR="$tmp/store" SBMA_BUDGET=1M $TIMEOUT "$PROG" misuse >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -eq 0 ] && grep -qx OK "$tmp/out"; then
	echo "PASS: misuse: every wrong call refused or harmless, data intact"
else
	fail "misuse: exit $rc"
	show
fi
expect_empty_dir misuse

# ---- 2. SIGTERM, SIGINT in the middle of evictions ----
i=0
for sig in TERM INT TERM INT TERM INT TERM INT; do
	page=$(echo 4K 16K 64K | cut -d' ' -f$((i % 3 + 1)))
	delay=$(awk -v s="$i$$" 'BEGIN { srand(s); printf "%.3f", 0.02 + rand() * 0.4 }')
	for handler in yes no; do
		if [ $handler = yes ]; then nh=; else nh=PROG_NO_HANDLER=1; fi
		# No timeout(1) here: the signal must reach the program itself.
		env SBMA_JOB=none SBMA_DIR="$tmp/store" SBMA_BUDGET=2M SBMA_PAGE=$page $nh \
			"$PROG" evictloop >"$tmp/out" 2>"$tmp/err" &
		p=$!
		pids=$p
		if ! wait_for looping $p; then
			fail "SIG$sig: the program never started its loop"
			show
		fi
		if [ $i -eq 0 ] && [ $handler = yes ]; then
			# The backing file: open, mode 0600, and no name in
			# SBMA_DIR (O_TMPFILE, or unlinked at once).
			mode=
			for f in /proc/$p/fd/*; do
				case $(readlink "$f") in
				"$tmp/store/"*) mode=$(stat -L -c %a "$f") ;;
				esac
			done
			if [ "$mode" != 600 ] || [ -n "$(ls -A "$tmp/store")" ]; then
				fail "backing file: mode '${mode:-none found}', names in SBMA_DIR: '$(ls -A "$tmp/store")'"
			else
				echo "PASS: the backing file is open with mode 0600 and has no name in SBMA_DIR"
			fi
		fi
		sleep "$delay"
		kill -$sig $p
		n=0
		while kill -0 $p 2>/dev/null && [ $n -lt 300 ]; do
			sleep 0.1
			n=$((n + 1))
		done
		if kill -0 $p 2>/dev/null; then
			fail "SIG$sig: the program did not end within 30 s"
			kill -KILL $p
		fi
		wait $p
		rc=$?
		pids=
		if [ $handler = yes ]; then
			if [ $rc -ne 0 ] || ! grep -qx OK "$tmp/out"; then
				fail "SIG$sig after ${delay}s (handler, $page pages): exit $rc"
				show
			fi
		else
			case $sig in TERM) want=143 ;; *) want=130 ;; esac
			if [ $rc -ne $want ] || grep -q 'sbma\[[0-9]*\]' "$tmp/err"; then
				fail "SIG$sig after ${delay}s (no handler, $page pages): exit $rc, want $want and no message"
				show
			fi
		fi
		expect_empty_dir "SIG$sig"
	done
	i=$((i + 1))
done
[ $fails -eq 0 ] && echo "PASS: SIGTERM/SIGINT during evictions, 16 runs: the handler found every word," \
	"the default action killed cleanly, nothing left in SBMA_DIR"

# ---- 3. a stopped process holding half the node budget ----
rm -f "$tmp/in" "$tmp/out" "$tmp/err"
mkfifo "$tmp/in"
env SBMA_JOB=$job SBMA_DIR="$tmp/store" SBMA_BUDGET=16M SBMA_NODE_TIMEOUT=30 PROG_MIB=8 \
	"$PROG" thin <"$tmp/in" >"$tmp/out" 2>"$tmp/err" &
holder=$!
pids=$holder
exec 3>"$tmp/in"
if wait_for filled $holder; then
	charged=$("$PROBE" check "$job" | tr ' ' '\n' | sed -n 's/^charged=//p')
	kill -STOP $holder
	start=$(date +%s)
	env SBMA_JOB=$job SBMA_DIR="$tmp/store" SBMA_BUDGET=16M SBMA_NODE_TIMEOUT=30 PROG_MIB=16 \
		$TIMEOUT "$PROG" >"$tmp/out2" 2>"$tmp/err2"
	rc=$?
	took=$(($(date +%s) - start))
	if [ $rc -ne 0 ] || ! grep -qx OK "$tmp/out2"; then
		fail "peer of a stopped holder: exit $rc"
		sed 's/^/    err: /' "$tmp/err2" | head -5
	elif [ $took -ge 30 ]; then
		fail "peer of a stopped holder: took $took s: it waited for the stopped one"
	else
		echo "PASS: a stopped process held ${charged:-?} bytes of the 16M node budget; its peer (16M" \
			"footprint) finished correctly in ${took} s"
	fi
	kill -CONT $holder
	echo go >&3
	wait_for waiting $holder && echo go >&3
else
	fail "the holder never filled its memory"
	show
fi
exec 3>&-
wait $holder
rc=$?
pids=
if [ $rc -ne 0 ] || ! grep -qx OK "$tmp/out"; then
	fail "the stopped and continued holder: exit $rc"
	show
else
	echo "PASS: the holder, continued, finished correctly"
fi
[ -e "$seg" ] && fail "the segment $seg is left after both processes exited"
expect_empty_dir "stopped holder"

echo "test_inject_misc: $fails failed"
[ $fails -eq 0 ]
