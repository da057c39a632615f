#!/usr/bin/env bash
# bench/node_job.sh - run N copies of a sweep program as one job and sum up.
#
# usage: bench/node_job.sh --procs N --start together|rolling --dir DIR
#                          --case NAME [--csv FILE] [--timeout S] -- PROG ARGS...
#
# Starts N processes of PROG ARGS --csv DIR/p<i>.csv --label p<i> (bench/sweep
# or bench/sweep_plain with the per-process size among ARGS), each with its
# stdout and stderr in DIR/p<i>.log, in the caller's environment and cgroup,
# and waits for all of them. --start together forks them all, then releases
# them at the same instant; --start rolling launches process i+1 when
# process i has printed the end of its init phase (or has exited), so that
# the processes are about one phase apart instead of in lock-step.
#
# Measured: the wall time from the release (together) or the first launch
# (rolling) to the last exit (the job's time), the processes alive on
# average (the sum of their lifetimes / the wall time), each process's own total, exit status and PASS/FAIL; summed over the
# processes, SBMA's bytes_read, bytes_written and over_budget (from the
# SBMA_STATS=1 report on stderr, when SBMA is present); and, for the whole
# machine, the pages swapped in and out (/proc/vmstat pswpin, pswpout) during
# the job. Rows bench=node, case=NAME are appended to --csv. A process that
# is still running after --timeout seconds (from the first launch) is killed
# (exit status 124) and the job counts as timed out: its wall time is then a
# lower bound.
set -u -o pipefail

procs=
start=together
dir=
name=
csv=
tmo=600

while [ $# -gt 0 ]; do
	case $1 in
	--procs) procs=$2; shift ;;
	--start) start=$2; shift ;;
	--dir) dir=$2; shift ;;
	--case) name=$2; shift ;;
	--csv) csv=$2; shift ;;
	--timeout) tmo=$2; shift ;;
	--) shift; break ;;
	*) echo "node_job.sh: unknown option '$1'" >&2; exit 2 ;;
	esac
	shift
done
if [ -z "$procs" ] || [ -z "$dir" ] || [ -z "$name" ] || [ $# -eq 0 ]; then
	echo "usage: node_job.sh --procs N --start together|rolling --dir DIR --case NAME [--csv FILE] [--timeout S] -- PROG ARGS..." >&2
	exit 2
fi
case $start in together|rolling) ;; *) echo "node_job.sh: --start: expected together or rolling, got '$start'" >&2; exit 2 ;; esac
mkdir -p "$dir" || exit 2

vmstat() { awk -v k="$1" '$1==k {print $2}' /proc/vmstat; }
now() { echo "$EPOCHREALTIME"; }
row() { [ -n "$csv" ] && echo "node,$name,$1,$2,$3" >> "$csv"; }

declare -a pid=() t_start=() t_end=() rc=()
# timeout puts each process in a process group of its own: pass a TERM on.
stop_all() { local p; for p in "${pid[@]}"; do kill "$p" 2>/dev/null; done; }
trap 'stop_all; exit 143' TERM INT
# note (within 50 ms) the end of processes that exit while others start
mark_ended() {
	local j
	for (( j = 0; j < ${#pid[@]}; j++ )); do
		[ -z "${t_end[j]:-}" ] && ! kill -0 "${pid[j]}" 2>/dev/null && t_end[j]=$(now)
	done
	return 0
}
left() { awk -v d="$deadline" -v t="$(now)" 'BEGIN {s = d - t; printf "%.3f", (s > 1 ? s : 1)}'; }
since() { awk -v a="$1" -v b="$t0" 'BEGIN {printf "%.2f", a - b}'; }

# Together: each process is forked first and waits (a shell reading one
# line from a FIFO) until all are ready; then all are released at once.
# Forking them one by one on a loaded 2-core machine takes 0.1-0.6 s for
# 8, which is as long as a whole in-core run of the small sizes and
# would let the first ones finish before the last begin.
if [ "$start" = together ]; then
	go=$dir/go.fifo
	rm -f "$go" "$dir"/ready.*
	mkfifo "$go" || exit 2
	exec 3<> "$go" # read-write: opening does not wait for a peer
fi
swin0=$(vmstat pswpin); swout0=$(vmstat pswpout)
t0=$(now)
deadline=$(awk -v t="$t0" -v d="$tmo" 'BEGIN {printf "%.3f", t + d}')

for (( i = 0; i < procs; i++ )); do
	rm -f "$dir/p$i.csv"
	if [ "$start" = together ]; then
		(
			: > "$dir/ready.$i"
			read -r _ <&3
			exec 3>&-
			exec timeout "$(left)" "$@" --csv "$dir/p$i.csv" --label "p$i" > "$dir/p$i.log" 2>&1
		) &
		pid[i]=$!
		continue
	fi
	timeout "$(left)" "$@" --csv "$dir/p$i.csv" --label "p$i" > "$dir/p$i.log" 2>&1 &
	pid[i]=$!
	t_start[i]=$(now)
	echo "p$i: pid ${pid[i]} started at +$(since "${t_start[i]}") s"
	if [ "$start" = rolling ] && [ $(( i + 1 )) -lt "$procs" ]; then
		# the next one starts when this one is past its init phase
		while kill -0 "${pid[i]}" 2>/dev/null && ! grep -q '^  init ' "$dir/p$i.log"; do
			sleep 0.05
			mark_ended
		done
	fi
done

if [ "$start" = together ]; then
	for (( k = 0; k < 3000; k++ )); do # 30 s at most, should a shell never get there
		[ "$(ls "$dir" | grep -c '^ready\.')" -lt "$procs" ] || break
		sleep 0.01
	done
	t0=$(now) # the job starts now: all are released
	deadline=$(awk -v t="$t0" -v d="$tmo" 'BEGIN {printf "%.3f", t + d}')
	for (( i = 0; i < procs; i++ )); do echo; done >&3
	exec 3>&-
	rm -f "$go" "$dir"/ready.*
	for (( i = 0; i < procs; i++ )); do
		t_start[i]=$t0
		echo "p$i: pid ${pid[i]} released at +0.00 s"
	done
fi

declare -A idx
for (( i = 0; i < procs; i++ )); do idx[${pid[i]}]=$i; done
running=("${pid[@]}")
while [ ${#running[@]} -gt 0 ]; do
	wait -n -p done_pid "${running[@]}"
	r=$?
	i=${idx[$done_pid]}
	[ -n "${t_end[i]:-}" ] || t_end[i]=$(now)
	rc[i]=$r
	running=()
	for (( k = 0; k < procs; k++ )); do [ -z "${rc[k]:-}" ] && running+=("${pid[k]}"); done
done
t1=$(now)
swin1=$(vmstat pswpin); swout1=$(vmstat pswpout)

wall=$(awk -v a="$t1" -v b="$t0" 'BEGIN {printf "%.3f", a - b}')
npass=0; nto=0; nfail=0
tmax=0; tsum=0; alive=0; br=0; bw=0; ob=0; have_sbma=0
for (( i = 0; i < procs; i++ )); do
	log=$dir/p$i.log
	tot=$(awk -F, '$3=="total" {print $4}' "$dir/p$i.csv" 2>/dev/null)
	pass=$(awk -F, '$3=="pass" {print $4}' "$dir/p$i.csv" 2>/dev/null)
	[ "${rc[i]}" = 0 ] && [ "$pass" = 1 ] && npass=$(( npass + 1 ))
	if [ "${rc[i]}" = 124 ]; then nto=$(( nto + 1 )); elif [ "${rc[i]}" != 0 ]; then nfail=$(( nfail + 1 )); fi
	alive=$(awk -v s="$alive" -v a="${t_end[i]}" -v b="${t_start[i]}" 'BEGIN {print s + a - b}')
	[ -n "$tot" ] && { tsum=$(awk -v a="$tsum" -v b="$tot" 'BEGIN {print a + b}'); tmax=$(awk -v a="$tmax" -v b="$tot" 'BEGIN {print (b > a ? b : a)}'); }
	if grep -q '^sbma:   bytes_read ' "$log"; then
		have_sbma=1
		br=$(( br + $(awk '$1=="sbma:" && $2=="bytes_read" {print $3}' "$log") ))
		bw=$(( bw + $(awk '$1=="sbma:" && $2=="bytes_written" {print $3}' "$log") ))
		ob=$(( ob + $(awk '$1=="sbma:" && $2=="over_budget" {print $3}' "$log") ))
	fi
	printf 'p%d: exit %s, total %s s, ended at +%s s, %s\n' "$i" "${rc[i]}" "${tot:--}" \
		"$(awk -v a="${t_end[i]}" -v b="$t0" 'BEGIN {printf "%.2f", a - b}')" \
		"$(grep -m1 -oE 'PASS|FAIL' "$log" || echo 'no result')"
	grep -h -E 'node:|loads past|Killed|error|failed' "$log" | sed "s/^/p$i: /" | head -5
done
swin=$(( (swin1 - swin0) * 4096 )); swout=$(( (swout1 - swout0) * 4096 ))

echo "wall $wall s; $npass of $procs PASS, $nto timed out, $nfail failed"
mean_alive=$(awk -v s="$alive" -v w="$wall" 'BEGIN {printf "%.2f", (w > 0 ? s / w : 0)}')
echo "slowest process $tmax s, sum of process totals $tsum s, processes alive on average $mean_alive"
[ "$have_sbma" = 1 ] && echo "sbma: read $(( br >> 20 )) MiB, written $(( bw >> 20 )) MiB, over_budget $ob (sums over the processes)"
echo "machine swap during the job: in $(( swin >> 20 )) MiB, out $(( swout >> 20 )) MiB"

row wall "$wall" s
row procs "$procs" count
row procs_pass "$npass" count
row procs_timeout "$nto" count
row slowest "$tmax" s
row sum_totals "$tsum" s
row mean_alive "$mean_alive" count
if [ "$have_sbma" = 1 ]; then
	row bytes_read "$br" B
	row bytes_written "$bw" B
	row over_budget "$ob" count
fi
row swap_in "$swin" B
row swap_out "$swout" B
[ "$npass" = "$procs" ]
