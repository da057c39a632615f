#!/bin/sh
# test_node_corrupt.sh - a live node segment whose fields are spoilt, one at
# a time, while three processes of the job run (tests/prog_node_worker, 6
# MiB each under an 8 MiB node budget: they wait, ask and evict all the
# time), as a stray write by any process of the user would. Every header
# field and every slot field (of a slot in use, and of a free one) gets
# out-of-range values: huge charges, negative pids, state 255, 1000 slots,
# a wrong magic or uid, a node total that does not match the slots, a
# ticket counter about to wrap, an unterminated job name, a lock word held
# by a thread that does not exist. For each:
#   - the running processes must all finish with every word correct (exit
#     0) within the watchdog, and none may be killed by a signal;
#   - where SBMA promises a repair (docs/reliability.md), one of them must
#     say "repaired" naming the segment; for the lock, each must say it
#     leaves the segment and keeps a private budget;
#   - a process that joins while the field is spoilt must finish correctly
#     or be refused (exit 1) with a message naming the segment;
#   - tools/sbma-stat --once must exit 0 or 1, never by a signal;
#   - afterwards the segment is gone, or a new process of the job runs
#     correctly or is refused by name.
# See docs/testing.md.
# 37 cases of a few seconds each: more than node_lib.sh's default watchdog
# on a loaded machine (each process has its own 100 s timeout below).
SBMA_TEST_TIMEOUT=${SBMA_TEST_TIMEOUT:-900}
. "${top_srcdir:-.}/tests/node_lib.sh"

stat_tool=${top_builddir:-.}/tools/sbma-stat
base_job=$SBMA_JOB
export SBMA_BUDGET=8M SBMA_PAGE=16K SBMA_NODE_TIMEOUT=2
TO="timeout -k 5 100"
n=0

# one_case FIELD VALUE EXPECT: EXPECT is "repaired" (some process says it
# repaired the segment), "leaves" (every process leaves it) or "any".
one_case() {
	n=$((n + 1))
	SBMA_JOB=$base_job-$n
	seg=$("$bin/prog_node_probe" name "$SBMA_JOB")
	out=$SBMA_DIR/case$n
	pids=
	for i in 1 2 3; do
		$TO "$bin/prog_node_worker" -m 6 -s 150 -i $i 2>"$out.err$i" &
		pids="$pids $!"
	done
	if ! wait_for_segment "$seg"; then
		fail "$1=$2: the job never created its segment"
		wait
		return
	fi
	# All three in (a process joining a spoilt segment may be refused;
	# that is tested by the fourth below), and holding memory: on a
	# loaded machine all three were once still before their first write,
	# the node total 0, so that poking a 0 there spoilt nothing.
	k=0
	while ! "$bin/prog_node_probe" check "$SBMA_JOB" | grep -v '^charged=0 ' | grep -q ' live=3 ' &&
		[ $k -lt 200 ]; do
		sleep 0.05
		k=$((k + 1))
	done
	sleep 0.1
	poked=$("$bin/prog_node_probe" poke "$SBMA_JOB" "$1" "$2")
	prc=$?
	[ $prc -eq 0 ] || fail "$1=$2: prog_node_probe poke exited $prc (the job ended too soon?)"
	sleep 0.2
	$TO "$stat_tool" --once --csv -j "$SBMA_JOB" >/dev/null 2>"$out.stat"
	src=$?
	if [ $src -gt 1 ]; then
		fail "$1=$2: sbma-stat exited $src"
	fi
	$TO "$bin/prog_node_worker" -m 2 -s 3 -i 9 2>"$out.join"
	jrc=$?
	if [ $jrc -ne 0 ] && ! { [ $jrc -eq 1 ] && grep -q "$seg" "$out.join"; }; then
		fail "$1=$2: a process joining the spoilt segment exited $jrc: $(head -2 "$out.join")"
	fi
	i=0
	for p in $pids; do
		i=$((i + 1))
		wait "$p"
		rc=$?
		if [ $rc -ge 128 ]; then
			# Killed by a signal: its crash report is at the end.
			fail "$1=$2: worker $i exited $rc (signal $((rc - 128))); the end of its stderr:"
			tail -30 "$out.err$i" | sed 's/^/    | /'
		elif [ $rc -ne 0 ]; then
			fail "$1=$2: worker $i exited $rc: $(head -3 "$out.err$i")"
		fi
	done
	case $3 in
	repaired)
		cat "$out.err"* | grep "$seg" | grep -q "repaired" ||
			fail "$1=$2: no process said it repaired the segment"
		;;
	leaves)
		for i in 1 2 3; do
			grep "$seg" "$out.err$i" | grep -q "leaves it and keeps a private budget" ||
				fail "$1=$2: worker $i did not say it left the spoilt segment"
		done
		# Its own segment, after leaving, has nothing to repair.
		if cat "$out.err"* | grep -q "repaired"; then
			fail "$1=$2: a repair reported after leaving: $(grep -h repaired "$out.err"* | head -1)"
		fi
		;;
	esac
	if [ -e "$seg" ]; then
		# Still there (its last process left it spoilt, or went on alone):
		# the next process of the job joins, replaces or refuses it.
		"$bin/prog_node_worker" -m 2 -s 2 -i 7 2>"$out.after"
		arc=$?
		if [ $arc -ne 0 ] && ! { [ $arc -eq 1 ] && grep -q "$seg" "$out.after"; }; then
			fail "$1=$2: the next process after the job exited $arc: $(head -2 "$out.after")"
		fi
		rm -f "$seg"
	fi
	msg=$(cat "$out.err"* "$out.join" 2>/dev/null | grep -m1 "$seg" | sed 's/^sbma\[[0-9]*\]: //')
	echo "ok: $poked: ${msg:-no message}"
	rm -f "$out".*
}

# The header.
one_case magic 0x1234 repaired
one_case version 7 repaired
one_case header_size 8 repaired
one_case size 1 repaired
one_case uid 4242 repaired
one_case nslots 1000 repaired
one_case closing 1 repaired
one_case futex 0xffffffff any
one_case budget 0 repaired
one_case budget 0xffffffffffffffff repaired
one_case charged 0xffffffffffffffff repaired
one_case charged 0 repaired
one_case next_ticket 0xffffffffffffffff any
one_case over_budget 0xffffffffffffffff any
one_case recovered 0xffffffffffffffff any
one_case created_ns 0xffffffffffffffff any
one_case job nonul any
one_case lock 4194000 leaves
# A slot in use.
one_case slot.pid 0 repaired
one_case slot.pid -1 repaired
one_case slot.pid $$ repaired
one_case slot.state 255 repaired
one_case slot.start_time 12345 repaired
one_case slot.charged 0xffffffffffffffff repaired
one_case slot.charged 0x7fffffffffffffff repaired
one_case slot.want 0xffffffffffffffff repaired
one_case slot.ticket 1 repaired
one_case slot.release_req 0xffffffffffffffff any
one_case slot.resident 0xffffffffffffffff any
one_case slot.pinned 0xffffffffffffffff any
one_case slot.bytes_read 0xffffffffffffffff any
one_case slot.updated_ns 0xffffffffffffffff any
# A free slot that suddenly looks used.
one_case free.pid -5 any
one_case free.pid 1 any
one_case free.charged 0xffffffffffffffff any
one_case free.want 0xffffffffffffffff any
one_case free.ticket 1 any

expect_clean "after $n cases"
[ $fails -eq 0 ] || exit 1
echo "PASS ($n cases)"
