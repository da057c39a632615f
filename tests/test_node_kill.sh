#!/bin/sh
# SIGKILL of one process of a job at a random moment, repeated: the others
# finish with bit-exact data, the dead process's charge is reclaimed (the
# node's total comes back to what the survivors hold), and after the last
# survivor exits neither the segment nor a backing file is left.
# See docs/testing.md.
. "${top_srcdir:-.}/tests/node_lib.sh"

export SBMA_BUDGET=16M
rounds=${SBMA_TEST_ROUNDS:-10}
killed=0
r=1
while [ $r -le "$rounds" ]; do
	pids=
	for i in 1 2 3 4; do
		"$bin/prog_node_worker" -m 16 -s 16 -i $((r * 10 + i)) &
		pids="$pids $!"
	done
	victim=$(echo "$pids" | tr ' ' '\n' | sed -n "$((r % 4 + 2))p")
	# A random moment in the first ~0.4 s (the work takes about a second).
	delay=$(awk -v s="$r$$" 'BEGIN { srand(s); printf "%.3f", rand() * 0.4 }')
	sleep "$delay"
	kill -KILL "$victim" 2>/dev/null
	# The survivors reclaim the charge when they next need budget; a
	# survivor that never waits again leaves it to the last one's exit.
	balanced=no
	for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
		out=$("$bin/prog_node_probe" check "$SBMA_JOB")
		case $? in
		0 | 4) balanced=yes; break ;; # balanced, or everyone done already
		esac
		sleep 0.05
	done
	[ $balanced = yes ] || echo "note: round $r: charge not yet reclaimed after 1 s: $out"
	for p in $pids; do
		if [ "$p" = "$victim" ]; then
			wait "$p"
			st=$?
			[ $st -eq 137 ] && killed=$((killed + 1))
			continue
		fi
		wait "$p" || fail "round $r: survivor $p exited with status $?"
	done
	expect_clean "round $r"
	r=$((r + 1))
done

echo "ok: $rounds rounds, $killed processes killed while working, survivors all correct"
# Most rounds must really kill a process at work, or the test proves nothing.
[ $killed -ge $((rounds / 2)) ] || fail "only $killed of $rounds victims were still running when killed"

# A survivor that needs budget must get the dead process's share: one
# process holds the whole budget and is killed; the next must not wait for
# SBMA_NODE_TIMEOUT (which would take 10 s) but finish at once.
"$bin/prog_node_worker" -m 16 -s 200 -i 7 &
holder=$!
wait_for_segment "$seg" || fail "the holder never created the segment"
# Until it holds the whole budget (16 MiB resident of its 16 MiB array).
for _ in $(seq 100); do
	out=$("$bin/prog_node_probe" check "$SBMA_JOB")
	[ "$(field charged "$out")" = $((16 << 20)) ] && break
	sleep 0.05
done
kill -STOP "$holder"
start=$(date +%s)
# While the holder is stopped (alive, holding the budget), start the
# reclaimer in the background, then kill the holder.
SBMA_NODE_TIMEOUT=30 "$bin/prog_node_worker" -m 16 -s 2 -i 8 &
other=$!
sleep 0.3
kill -KILL "$holder"
wait "$holder"
wait "$other" || fail "the process after the killed holder failed"
took=$(($(date +%s) - start))
expect_le "seconds until the killed holder's budget was reclaimed and used" "$took" 5
expect_clean "killed holder"

# A process killed while it holds the segment's mutex: the others get
# EOWNERDEAD, repair, and go on (no hang: the watchdog would fail the test).
pids=
for i in 1 2 3; do
	"$bin/prog_node_worker" -m 16 -s 16 -i $((900 + i)) &
	pids="$pids $!"
done
wait_for_segment "$seg" || fail "no segment for the mutex-holder round"
"$bin/prog_node_probe" hold "$SBMA_JOB" >"$SBMA_DIR/held" &
holder=$!
for _ in $(seq 100); do
	grep -q held "$SBMA_DIR/held" 2>/dev/null && break
	sleep 0.05
done
grep -q held "$SBMA_DIR/held" || fail "the probe never got the mutex"
sleep 0.2 # the workers now queue on the lock
kill -KILL $holder
wait $holder 2>/dev/null
for p in $pids; do
	wait "$p" || fail "after a process died holding the mutex: worker $p exited with status $?"
done
rm -f "$SBMA_DIR/held"
expect_clean "mutex holder killed"
echo "ok: a process killed holding the node mutex: the others repaired it and finished"

[ $fails -eq 0 ] || exit 1
echo "PASS"
