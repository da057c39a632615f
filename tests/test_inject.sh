#!/bin/sh
# test_inject.sh - under random kernel-call failures SBMA either goes on
# correctly or stops with its message: never wrong data, never a hang.
#
# Needs a build configured with --enable-fault-inject (src/fault_inject.c):
# the failures are made by src/os.c at the rate SBMA_FAULT_INJECT, from the
# seed SBMA_FAULT_INJECT_SEED. Without that build it skips (77).
#
# 1. The loop: tests/prog_inject (4x the budget: pattern, sweep, random
#    updates, evictions, free + calloc, realloc, every word verified) runs
#    INJECT_RUNS times (2000), each with its own seed, at rates from 0.0001
#    to 0.01, SBMA pages of 4K, 16K and 64K, lazy and eager reads, the store
#    on $TMPDIR and on /dev/shm, with O_DIRECT where the file system allows
#    it (SBMA_DIRECT=auto) and buffered (off). Each run is
#      correct          exit 0 and "OK";
#      cleanly stopped  stopped with SBMA's message on stderr (a "fatal:"
#                       line and SIGABRT, or an exit status with an
#                       sbma[pid] line), and no "bad word" output;
#      corrupted        "bad word" output, exit 0 without "OK", a signal
#                       without SBMA's fatal message, or an exit without
#                       SBMA's message;
#      hung             still running after 60 s (timeout).
#    The test fails if any run is corrupted or hung, or if no failure was
#    injected at all (a build that injects nothing proves nothing).
# 2. Failures SBMA must absorb without stopping (every run must be
#    correct): only write-back failures (pwrite, sync: eviction errors,
#    whose pages must stay resident and dirty, PROG_EXPECT_DIRTY=1, and be
#    reported) and only fallocate failures (malloc returns NULL/ENOMEM,
#    the program allocates again).
#
# 3. Rates of 0.03 to 0.2 (INJECT_HIGH_RUNS runs, 100), where SBMA's retries
#    give out and runs stop: they must stop cleanly.
#
# A failing run is printed with the command that replays it. Settings:
# INJECT_RUNS (2000), INJECT_HIGH_RUNS (100), INJECT_SEED (first seed, 1),
# INJECT_TIMEOUT (60).
# Needs: top_builddir (set by make check; default ".").

top_builddir=${top_builddir:-.}
PROG="$top_builddir/tests/prog_inject"
RUNS=${INJECT_RUNS:-2000}
SEED0=${INJECT_SEED:-1}
TMO=${INJECT_TIMEOUT:-60}

if [ ! -x "$PROG" ]; then
	echo "test_inject: $PROG not built" >&2
	exit 99
fi
if [ "$("$PROG" build 2>/dev/null)" != fault-inject ]; then
	echo "SKIP: test_inject needs a build configured with --enable-fault-inject"
	exit 77
fi
# The libtool wrapper script costs a shell per run: run the binary itself.
if [ -x "$top_builddir/tests/.libs/prog_inject" ]; then
	PROG="$top_builddir/tests/.libs/prog_inject"
	LD_LIBRARY_PATH="$top_builddir/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
	export LD_LIBRARY_PATH
	[ "$("$PROG" build 2>/dev/null)" = fault-inject ] || PROG="$top_builddir/tests/prog_inject"
fi
for v in $(env | sed -n 's/^\(SBMA_[A-Z_]*\)=.*/\1/p'); do
	unset "$v"
done
TIMEOUT=
command -v timeout >/dev/null && TIMEOUT="timeout -k 5 $TMO"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sbma-inject.XXXXXX") || exit 99
trap 'rm -rf "$tmp" "$shmdir"' EXIT
trap 'exit 1' INT TERM HUP
mkdir "$tmp/store"
shmdir=
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
	shmdir=$(mktemp -d /dev/shm/sbma-inject.XXXXXX) || shmdir=
fi
[ -n "$shmdir" ] || shmdir="$tmp/store"

RATES="0.0001 0.0002 0.0003 0.0005 0.001 0.002 0.003 0.005 0.01"
nrates=9
pick() { # pick N WORDS...: the N-th word (from 0)
	n=$1
	shift
	shift "$n"
	echo "$1"
}

# classify: sets $class (and $injected, $fatal) from $rc, $tmp/out and
# $tmp/err, with shell builtins only (thousands of runs).
classify() {
	bad=0 ok=0 fatal=0 msg=0 f=0
	while IFS= read -r line; do
		case $line in
		"bad word"*) bad=1 ;;
		OK) ok=1 ;;
		esac
	done <"$tmp/out"
	while IFS= read -r line; do
		case $line in
		"sbma["*"]: fault injection: "*)
			f=${line#*calls, }
			f=${f%% failed*}
			printf '%s\n' "$line" >>"$tmp/filines"
			;;
		"sbma["*"]: fatal: "*)
			fatal=1
			msg=1
			;;
		"sbma["*"]: "*) msg=1 ;;
		esac
	done <"$tmp/err"
	injected=$((injected + f))
	if [ $bad -eq 1 ]; then
		class=corrupted
	elif [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
		class=hung
	elif [ "$rc" -eq 0 ]; then
		if [ $ok -eq 1 ]; then class=correct; else class=corrupted; fi
	elif [ "$rc" -gt 128 ]; then
		# Killed by a signal: clean only if SBMA stopped it (abort
		# after its fatal message).
		if [ "$rc" -eq 134 ] && [ $fatal -eq 1 ]; then class=stopped; else class=corrupted; fi
	elif [ $msg -eq 1 ]; then
		class=stopped
	else
		class=corrupted
	fi
}

correct=0
stopped=0
corrupted=0
hung=0
injected=0
n_fatal_msgs=0
start=$(date +%s)

# note_stop_reason: after a run that stopped cleanly, its reason (the fatal
# message, else SBMA's last line), with addresses and counts blanked, goes
# to $tmp/reasons for the summary.
note_stop_reason() {
	if [ $fatal -eq 1 ]; then
		grep -m1 '^sbma\[[0-9]*\]: fatal: ' "$tmp/err"
	else
		grep '^sbma\[[0-9]*\]: ' "$tmp/err" | grep -v 'fault injection: ' | tail -1
	fi | sed "s/^sbma\[[0-9]*\]: //; s/0x[0-9a-f]*/ADDR/g; s/[0-9][0-9]* pages/N pages/g; s/\$/ (exit $rc)/" \
		>>"$tmp/reasons"
}

# run LABEL ENV... : one run of prog_inject; sets rc, class.
run() {
	label=$1
	shift
	# In a subshell: bash reports a child killed by a signal ("Aborted")
	# on its own stderr; that report is noise here (the run is classified).
	(
		env SBMA_JOB=none SBMA_BUDGET=256K SBMA_MIN_ALLOC=64K SBMA_READAHEAD=256K "$@" $TIMEOUT "$PROG" \
			>"$tmp/out" 2>"$tmp/err"
		exit $?
	) 2>/dev/null
	rc=$?
	classify
	if [ "$class" = corrupted ] || [ "$class" = hung ]; then
		echo "FAIL ($class): $label: exit $rc"
		sed 's/^/    out: /' "$tmp/out" | head -5
		sed 's/^/    err: /' "$tmp/err" | head -10
		echo "    replay: env SBMA_JOB=none SBMA_BUDGET=256K SBMA_MIN_ALLOC=64K SBMA_READAHEAD=256K $* $PROG"
	fi
}

# ---- 1. the loop ----
i=0
while [ $i -lt "$RUNS" ]; do
	seed=$((SEED0 + i))
	rate=$(pick $((i % nrates)) $RATES)
	page=$(pick $((i / nrates % 3)) 4K 16K 64K)
	read=$(pick $((i / nrates / 3 % 2)) lazy eager)
	if [ $((i / nrates / 6 % 2)) -eq 0 ]; then dir=$tmp/store; else dir=$shmdir; fi
	direct=$(pick $((i / nrates / 12 % 2)) auto off)
	run "run $i" SBMA_PAGE=$page SBMA_READ=$read SBMA_DIR=$dir SBMA_DIRECT=$direct \
		SBMA_FAULT_INJECT=$rate SBMA_FAULT_INJECT_SEED=$seed
	case $class in
	correct) correct=$((correct + 1)) ;;
	stopped)
		stopped=$((stopped + 1))
		note_stop_reason
		;;
	corrupted) corrupted=$((corrupted + 1)) ;;
	hung) hung=$((hung + 1)) ;;
	esac
	i=$((i + 1))
done
loop_injected=$injected
mv "$tmp/filines" "$tmp/filines.loop" 2>/dev/null
echo "test_inject: $RUNS runs, $correct correct, $stopped cleanly stopped, $corrupted corrupted, $hung hung" \
	"($loop_injected failures injected, $(($(date +%s) - start)) s)"
# What was injected, summed over the loop's runs.
if [ -s "$tmp/filines.loop" ]; then
	awk '{ sub(/.*failed \(/, ""); sub(/\)$/, ""); gsub(/[,;]/, " ");
		for (i = 1; i < NF; i += 2) n[$i] += $(i + 1) }
		END { s = ""; for (k in n) s = s " " k " " n[k]; print "test_inject: injected:" s }' "$tmp/filines.loop"
fi
if [ -s "$tmp/reasons" ]; then
	echo "test_inject: why the stopped runs stopped:"
	sort "$tmp/reasons" | uniq -c | sort -rn | head -10 | sed 's/^/    /'
fi
fails=$((corrupted + hung))
if [ "$loop_injected" -eq 0 ] && [ "$RUNS" -gt 0 ]; then
	echo "FAIL: no failure was injected in $RUNS runs"
	fails=$((fails + 1))
fi

# ---- 2. failures that must never stop the program ----
# run_absorb NAME OPS RATE COUNT PATTERN: every run correct; PATTERN (the
# report of the failure) seen on stderr in at least one run.
run_absorb() {
	name=$1 ops=$2 rate=$3 count=$4 pattern=$5
	good=0 seen=0 injected=0 j=0
	while [ $j -lt "$count" ]; do
		page=$(pick $((j % 3)) 4K 16K 64K)
		if [ $((j % 2)) -eq 0 ]; then dir=$tmp/store; else dir=$shmdir; fi
		direct=$(pick $((j / 2 % 2)) auto off)
		run "$name run $j" SBMA_PAGE=$page SBMA_DIR=$dir SBMA_DIRECT=$direct SBMA_FAULT_INJECT_OPS=$ops \
			SBMA_FAULT_INJECT=$rate SBMA_FAULT_INJECT_SEED=$((SEED0 + 100000 + j)) PROG_EXPECT_DIRTY=$6
		if [ "$class" = correct ]; then
			good=$((good + 1))
		elif [ "$class" = stopped ]; then
			echo "FAIL: $name run $j stopped; it must go on:"
			sed 's/^/    err: /' "$tmp/err" | head -10
		fi
		grep -q "$pattern" "$tmp/err" && seen=$((seen + 1))
		j=$((j + 1))
	done
	echo "test_inject: $name: $count runs, $good correct, $seen reported the failure ($injected failures injected)"
	[ $good -eq "$count" ] || fails=$((fails + 1))
	if [ $seen -eq 0 ] && [ -n "$pattern" ]; then
		echo "FAIL: $name: no run reported a failure ('$pattern')"
		fails=$((fails + 1))
	fi
}
run_absorb "write-back errors" pwrite,sync 0.1 60 'eviction: writing .* failed' 1
run_absorb "fallocate errors" fallocate 0.3 30 '' 0

# ---- 3. rates high enough to stop runs ----
# At the loop's rates SBMA's retries absorb nearly everything; here the
# paths that stop the process run too, and must stop it cleanly.
HIGH=${INJECT_HIGH_RUNS:-100}
hc=0 hs=0 hx=0 j=0
: >"$tmp/reasons"
while [ $j -lt "$HIGH" ]; do
	rate=$(pick $((j % 4)) 0.03 0.05 0.1 0.2)
	page=$(pick $((j / 4 % 3)) 4K 16K 64K)
	direct=$(pick $((j / 12 % 2)) auto off)
	run "high-rate run $j" SBMA_PAGE=$page SBMA_DIR=$tmp/store SBMA_DIRECT=$direct \
		SBMA_FAULT_INJECT=$rate SBMA_FAULT_INJECT_SEED=$((SEED0 + 200000 + j))
	case $class in
	correct) hc=$((hc + 1)) ;;
	stopped)
		hs=$((hs + 1))
		note_stop_reason
		;;
	*) hx=$((hx + 1)) ;;
	esac
	j=$((j + 1))
done
echo "test_inject: high rates (0.03-0.2): $HIGH runs, $hc correct, $hs cleanly stopped, $hx corrupted or hung"
if [ -s "$tmp/reasons" ]; then
	echo "test_inject: why they stopped:"
	sort "$tmp/reasons" | uniq -c | sort -rn | head -10 | sed 's/^/    /'
fi
fails=$((fails + hx))

echo "test_inject: $((RUNS + 90 + HIGH)) runs in $(($(date +%s) - start)) s"
[ $fails -eq 0 ]
