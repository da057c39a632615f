#!/bin/sh
# test_sbma_stat.sh - tools/sbma-stat reads node segments right and never
# trusts a bad one. tests/prog_fake_segment makes a segment by hand (job
# "st<pid>", so that parallel runs never meet) with a budget of 3 GiB and
# four processes: itself running (its read counter grows), the test script
# blocked, a reaped child (dead pid) waiting, and pid 1 with a wrong start
# time (a reused pid). `sbma-stat --once --csv -j JOB` must report the
# budget, charge, free budget and process count, each pid with its state,
# "dead" on exactly the two dead ones (exited, reused), a read rate > 0 for
# the running one only; the table and the JSON (parsed by python3, when
# there is one) must say the same. Then spoilt segments (wrong magic, magic 0,
# 4 KiB and 0-byte files, version 2, wrong header size, slot count, size
# field, owner uid, mode, job name, and as root a name for another uid) must
# each be listed with its reason and exit 1 (no valid segment), never by a
# signal; a segment truncated and re-made over and over must never crash the
# tool (SIGBUS guard). -j must select the job exactly (not "JOB-x"); usage
# errors exit 2; no segment exits 1 with "no SBMA segment for uid N"; as
# root, another uid sees none of root's segments. The live view (in a
# pseudo-terminal, through python3) must draw, quit on q and on Ctrl-C, and
# give the terminal back as it found it. Every segment is removed at the
# end, also on failure. Needs /dev/shm (skip 77 otherwise).
# Needs: top_builddir (set by make check; default ".").

top_builddir=${top_builddir:-.}
STAT="$top_builddir/tools/sbma-stat"
FAKE="$top_builddir/tests/prog_fake_segment"
for p in "$STAT" "$FAKE"; do
	if [ ! -x "$p" ]; then
		echo "test_sbma_stat: $p not built" >&2
		exit 99
	fi
done
if [ ! -d /dev/shm ] || [ ! -w /dev/shm ]; then
	echo "SKIP: test_sbma_stat needs a writable /dev/shm"
	exit 77
fi

uid=$(id -u)
job="st$$"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sbma-stat.XXXXXX") || exit 99
fakes=
cleanup() {
	for p in $fakes; do
		kill "$p" 2>/dev/null
	done
	for p in $fakes; do
		wait "$p" 2>/dev/null
	done
	# The helpers unlink their segments; this catches a helper that died.
	rm -f /dev/shm/sbma-"$uid"-"$job"-* /dev/shm/sbma-"$((uid + 1))"-"$job"-*
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

TIMEOUT=
command -v timeout >/dev/null && TIMEOUT="timeout -s KILL 60"
PY=
command -v python3 >/dev/null && PY=python3

# stat ARGS...: run sbma-stat; rc, out, err.
stat_run() {
	$TIMEOUT "$STAT" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
}

# start_fake KIND JOB: a helper in the background, ready; its output in
# $tmp/fake-JOB.
start_fake() {
	: >"$tmp/fake-$2"
	"$FAKE" -c "$1" "$2" >"$tmp/fake-$2" 2>&1 &
	fp=$!
	fakes="$fakes $fp"
	n=0
	until grep -qx ready "$tmp/fake-$2"; do
		n=$((n + 1))
		if [ $n -gt 100 ] || ! kill -0 $fp 2>/dev/null; then
			sed 's/^/    fake: /' "$tmp/fake-$2"
			return 1
		fi
		sleep 0.1
	done
}

# fakeval JOB WORD: the helper's "WORD value" line.
fakeval() { sed -n "s/^$2 //p" "$tmp/fake-$1"; }

# csv FILE RECORD PID COLUMN: the COLUMN of the first RECORD row (of pid
# PID, unless PID is "-"). Fields may be quoted ("a, b" and "" for ").
csv() {
	awk -v rec="$2" -v pid="$3" -v col="$4" '
		function split_csv(line, f,    n, i, c, q, v) {
			n = 1; q = 0; v = ""
			for (i = 1; i <= length(line); i++) {
				c = substr(line, i, 1)
				if (q && c == "\"" && substr(line, i + 1, 1) == "\"") { v = v c; i++ }
				else if (c == "\"") q = !q
				else if (c == "," && !q) { f[n++] = v; v = "" }
				else v = v c
			}
			f[n] = v
			return n
		}
		NR == 1 { n = split_csv($0, h); for (i = 1; i <= n; i++) ix[h[i]] = i; next }
		{ split_csv($0, f) }
		f[1] == rec && (pid == "-" || f[ix["pid"]] == pid) { print f[ix[col]]; exit }' "$1"
}

# expect WHAT GOT WANT
expect() {
	if [ "$2" = "$3" ]; then pass "$1 = $3"; else fail "$1 = '$2', want '$3'"; fi
}

# ---- a valid segment -------------------------------------------------------

if ! start_fake ok "$job"; then
	fail "prog_fake_segment did not start"
	exit 1
fi
# A segment of job "$job-x": -j $job must not show it.
start_fake ok "$job-x" || fail "prog_fake_segment (job $job-x) did not start"
running=$(fakeval "$job" running)
blocked=$(fakeval "$job" blocked)
dead=$(fakeval "$job" dead)
reused=$(fakeval "$job" reused)
MIB=1048576

stat_run --once --csv -j "$job"
cp "$tmp/out" "$tmp/csv"
if [ $rc -ne 0 ]; then
	fail "--once --csv -j $job: exit $rc"
else
	pass "--once --csv -j $job: exit 0"
fi
head -1 "$tmp/csv" | grep -q '^record,time,sample,path,job,' && pass "CSV header" || fail "CSV header: $(head -1 "$tmp/csv")"
expect "segment records" "$(grep -c '^segment,' "$tmp/csv")" 1
expect "process records" "$(grep -c '^process,' "$tmp/csv")" 4
expect "invalid records" "$(grep -c '^invalid,' "$tmp/csv")" 0
expect "segment job" "$(csv "$tmp/csv" segment - job)" "$job"
expect "segment uid" "$(csv "$tmp/csv" segment - uid)" "$uid"
expect "budget" "$(csv "$tmp/csv" segment - budget)" $((3072 * MIB))
expect "charged" "$(csv "$tmp/csv" segment - charged)" $((180 * MIB))
expect "free" "$(csv "$tmp/csv" segment - free)" $((2892 * MIB))
expect "nprocs" "$(csv "$tmp/csv" segment - nprocs)" 4
expect "over_budget" "$(csv "$tmp/csv" segment - over_budget)" 2
expect "recovered" "$(csv "$tmp/csv" segment - recovered)" 1
age=$(csv "$tmp/csv" segment - age_s)
case $age in 6[5-9].* | 7[0-9].*) pass "age_s $age" ;; *) fail "age_s '$age', want about 65" ;; esac
for w in "running $running running 0 $((100 * MIB))" "blocked $blocked blocked 0 $((50 * MIB))" \
	"dead $dead waiting 1 $((25 * MIB))" "reused $reused running 1 $((5 * MIB))"; do
	set -- $w
	expect "$1 pid $2: state" "$(csv "$tmp/csv" process "$2" state)" "$3"
	expect "$1 pid $2: dead" "$(csv "$tmp/csv" process "$2" dead)" "$4"
	expect "$1 pid $2: charged" "$(csv "$tmp/csv" process "$2" charged)" "$5"
done
expect "dead pid: dead_reason" "$(csv "$tmp/csv" process "$dead" dead_reason)" exited
expect "reused pid: dead_reason" "$(csv "$tmp/csv" process "$reused" dead_reason)" reused
expect "reused pid: slot" "$(csv "$tmp/csv" process "$reused" slot)" 5
expect "waiting pid: want" "$(csv "$tmp/csv" process "$dead" want)" $((64 * MIB))
rd=$(csv "$tmp/csv" process "$running" read_Bps)
# 100 MiB/s nominal; a loaded machine runs the helper's 10 ms tick late.
if [ -n "$rd" ] && [ "$rd" -gt $((10 * MIB)) ] && [ "$rd" -lt $((400 * MIB)) ]; then
	pass "running pid read rate $rd B/s (nominal 100 MiB/s)"
else
	fail "running pid read rate '$rd' B/s, want about 100 MiB/s"
fi
expect "blocked pid read rate" "$(csv "$tmp/csv" process "$blocked" read_Bps)" 0

# The table says the same.
stat_run --once -j "$job"
if [ $rc -eq 0 ] && grep -q "^job $job  uid $uid  host .*  age 1m0[5-9]s" "$tmp/out" &&
	grep -q "^  budget 3.00G  charged 180M  free 2.82G  procs 4  over_budget 2  recovered 1$" "$tmp/out"; then
	pass "table: segment lines"
else
	fail "table: exit $rc, segment lines: $(grep -A1 "^job $job " "$tmp/out" | tr '\n' '|')"
fi
row() { grep -E "^ *$1 " "$tmp/out"; }
row "$running" | grep -q " running " && ! row "$running" | grep -q DEAD && pass "table: running row" ||
	fail "table: running row: $(row "$running")"
row "$blocked" | grep -q " blocked " && ! row "$blocked" | grep -q DEAD && pass "table: blocked row" ||
	fail "table: blocked row: $(row "$blocked")"
row "$dead" | grep -q " waiting .*DEAD exited" && pass "table: dead row" || fail "table: dead row: $(row "$dead")"
row "$reused" | grep -q "DEAD reused" && pass "table: reused row" || fail "table: reused row: $(row "$reused")"
grep -q "$job-x" "$tmp/out" && fail "-j $job shows job $job-x" || pass "-j $job leaves job $job-x out"

# JSON.
stat_run --once --json -j "$job"
if [ $rc -ne 0 ]; then
	fail "--once --json: exit $rc"
elif [ -z "$PY" ]; then
	echo "SKIP: --json parse (no python3)"
else
	if $PY -c '
import json, sys
d = json.load(open(sys.argv[1]))
s, = d["segments"]
assert s["job"] == sys.argv[2] and s["budget"] == 3 << 30 and s["nprocs"] == 4, s
p = {x["pid"]: x for x in s["processes"]}
assert sorted(p) == sorted(int(a) for a in sys.argv[3:7]), p.keys()
run, blk, dead, reu = (p[int(a)] for a in sys.argv[3:7])
assert (run["state"], run["dead"]) == ("running", False), run
assert (blk["state"], blk["dead"]) == ("blocked", False), blk
assert (dead["state"], dead["dead"], dead["dead_reason"]) == ("waiting", True, "exited"), dead
assert (reu["dead"], reu["dead_reason"]) == (True, "reused"), reu
assert run["read_Bps"] > 0 and blk["read_Bps"] == 0, (run, blk)
assert d["invalid"] == [], d["invalid"]
' "$tmp/out" "$job" "$running" "$blocked" "$dead" "$reused" 2>"$tmp/err"; then
		pass "--json parses and says the same"
	else
		fail "--json: $(tail -1 "$tmp/err")"
	fi
fi

# Streaming: -n 3 samples of CSV, rates from the second on.
stat_run --csv -i 0.1 -n 3 -j "$job"
if [ $rc -eq 0 ] && [ "$(grep -c '^segment,' "$tmp/out")" = 3 ] && [ "$(grep -c '^record,' "$tmp/out")" = 1 ]; then
	pass "--csv -n 3: three samples, one header"
else
	fail "--csv -n 3: exit $rc, $(grep -c '^segment,' "$tmp/out") segment rows"
fi
r1=$(awk -F, -v pid="$running" 'NR == 1 { for (i = 1; i <= NF; i++) h[$i] = i; next }
	$1 == "process" && $h["pid"] == pid { print $h["sample"] ":" $h["read_Bps"] }' "$tmp/out" | tr '\n' ' ')
case $r1 in "1: 2:"[0-9]*" 3:"[0-9]*) pass "rates: none in sample 1, then some ($r1)" ;;
*) fail "rates per sample: '$r1'" ;; esac

# ---- spoilt segments ---------------------------------------------------------

spoil() { # KIND REASON-REGEX
	j="$job-$1"
	if ! start_fake "$1" "$j"; then
		fail "$1: prog_fake_segment did not start"
		return
	fi
	stat_run --once --csv -j "$j"
	reason=$(csv "$tmp/out" invalid - reason)
	if [ $rc -ge 128 ]; then
		fail "$1: sbma-stat killed by signal $((rc - 128))"
	elif [ $rc -ne 1 ]; then
		fail "$1: exit $rc, want 1 (no valid segment)"
	elif ! echo "$reason" | grep -Eq "$2"; then
		fail "$1: reason '$reason', want /$2/"
	elif ! grep -q "no SBMA segment" "$tmp/err"; then
		fail "$1: stderr does not say 'no SBMA segment'"
	else
		pass "$1: skipped, '$reason'"
	fi
	stat_run --once -j "$j"
	if [ $rc -eq 1 ] && grep -q "^skipped /dev/shm/sbma-.*$j.*: " "$tmp/out"; then
		pass "$1: the table lists it as skipped"
	else
		fail "$1: table: exit $rc, $(grep skipped "$tmp/out")"
	fi
}
spoil magic "^wrong magic 0x1234567890abcdef"
spoil zero "^not initialised"
spoil small "^too small: 4096 bytes"
spoil empty "^empty"
spoil version "^version 2 not understood"
spoil header "^header size"
spoil nslots "^128 slots"
spoil size "^size field"
spoil owner "^owner uid $((uid + 1)) in the header"
spoil mode "^mode 0640"
spoil job "^job 'otherjob' in the header does not match"
if [ "$uid" = 0 ]; then
	spoil nameuid "^named for uid 1 but owned by uid 0"
else
	echo "SKIP: nameuid (root only: others see only their own uid's names)"
fi

# All of them at once, without -j: the valid ones listed, nothing crashes.
stat_run --once --csv
if [ $rc -eq 0 ] && grep -q "^segment,.*,$job," "$tmp/out" && [ "$(grep -c "^invalid,.*$job-" "$tmp/out")" -ge 11 ]; then
	pass "no -j: valid and spoilt segments listed together"
else
	fail "no -j: exit $rc, $(grep -c "$job" "$tmp/out") rows of ours"
fi

# A file truncated and re-made over and over while it is read: never a
# crash. 100 samples in one process (the SIGBUS guard must work again and
# again); it usually hits SIGBUS a few times, but that is luck, not required.
if start_fake flap "$job-flap"; then
	stat_run --csv -i 0.05 -n 100 -j "$job-flap"
	if [ $rc -eq 0 ] && [ "$(grep -c '^record,' "$tmp/out")" = 1 ]; then
		pass "flapping segment: 100 samples, no crash ($(grep -c '^segment,' "$tmp/out") valid," \
			"$(grep -c 'SIGBUS' "$tmp/out") SIGBUS, $(grep -c '^invalid,' "$tmp/out") invalid in all)"
	else
		fail "flapping segment: exit $rc"
	fi
	kill "$fp" 2>/dev/null # it keeps a core busy
	wait "$fp" 2>/dev/null
else
	fail "flap: prog_fake_segment did not start"
fi

# ---- usage, nothing found, other uids ------------------------------------

"$STAT" -h >"$tmp/out" 2>&1
expect "-h exit" $? 0
grep -q "^Usage: sbma-stat" "$tmp/out" && pass "-h prints usage" || fail "-h prints no usage"
for args in "--bogus" "-i" "-i 0" "-i abc" "-i -1" "-i nan" "-n 0" "--json --csv" "--once -n 2" "-j" "extra"; do
	# shellcheck disable=SC2086
	stat_run $args
	if [ $rc -eq 2 ] && [ -s "$tmp/err" ]; then
		pass "usage error '$args': exit 2"
	else
		fail "usage error '$args': exit $rc"
	fi
done
stat_run --once -j "nosuch$$"
if [ $rc -eq 1 ] && { grep -q "^no SBMA segment for uid $uid, job nosuch$$" "$tmp/err" ||
	grep -q "^no SBMA segment for any uid, job nosuch$$" "$tmp/err"; }; then
	pass "no segment: exit 1, '$(cat "$tmp/err")'"
else
	fail "no segment: exit $rc"
fi
if [ "$uid" = 0 ] && command -v setpriv >/dev/null; then
	$TIMEOUT setpriv --reuid=65534 --regid=65534 --clear-groups "$STAT" --once --csv -j "$job" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ $rc -eq 126 ] || [ $rc -eq 127 ]; then
		echo "SKIP: other uid (uid 65534 cannot run $STAT)"
	elif [ $rc -eq 1 ] && grep -q "^no SBMA segment for uid 65534, job $job" "$tmp/err" &&
		! grep -q "$job" "$tmp/out"; then
		pass "uid 65534 does not see root's segments"
	else
		fail "uid 65534: exit $rc, $(grep -c "$job" "$tmp/out") rows of root's job"
	fi
else
	echo "SKIP: other uid (needs root and setpriv)"
fi

# ---- the live view, in a pseudo-terminal ---------------------------------

if [ -z "$PY" ]; then
	echo "SKIP: live view (no python3)"
else
	for key in q ctrl-c; do
		$PY - "$STAT" "$job" "$running" "$key" >"$tmp/out" 2>"$tmp/err" <<'EOF'
import os, pty, select, sys, termios, time, fcntl, struct
stat, job, pid, key = sys.argv[1:5]
master, slave = pty.openpty()
fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 130, 0, 0))
before = termios.tcgetattr(slave)
child = os.fork()
if child == 0:
    os.setsid()
    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    os.execv(stat, [stat, "-i", "0.2", "-j", job])
out = b""
def read_for(secs, until=None):
    global out
    end = time.time() + secs
    while time.time() < end:
        r, _, _ = select.select([master], [], [], 0.05)
        if r:
            try:
                out += os.read(master, 65536)
            except OSError:
                return
            if until and until in out:
                return
read_for(5, b"RD_MiB/s")
time.sleep(0.5)  # a second frame, with rates
read_for(0.5)
drew = b"\x1b[?1049h" in out and pid.encode() in out and b" running " in out
os.write(master, b"q" if key == "q" else b"\x03")
status = None
end = time.time() + 5
while time.time() < end:
    read_for(0.1)
    p, st = os.waitpid(child, os.WNOHANG)
    if p:
        status = st
        break
if status is None:
    os.kill(child, 9)
    print("did not quit")
    sys.exit(1)
read_for(0.2)
after = termios.tcgetattr(slave)
if not drew:
    print("no frame with the process: %r" % out[-300:])
    sys.exit(1)
if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
    print("status %r" % status)
    sys.exit(1)
if not out.rstrip(b"\r\n").endswith(b"\x1b[?25h\x1b[?1049l"):
    print("screen not restored: %r" % out[-40:])
    sys.exit(1)
if after[3] != before[3] or after[0:3] != before[0:3]:
    print("terminal modes not restored: lflag %#x, was %#x" % (after[3], before[3]))
    sys.exit(1)
print("ok")
EOF
		if [ $? -eq 0 ]; then
			pass "live view: draws, quits on $key, terminal restored"
		else
			fail "live view ($key): $(cat "$tmp/out")"
		fi
	done
fi

echo "test_sbma_stat: $passes passed, $fails failed"
[ $fails -eq 0 ]
