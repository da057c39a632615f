# bench/lib/common.sh - helpers shared by bench/run and the case groups in
# bench/cases/ (sourced, not run). Everything a group appends goes to
# $csv (bench,case,metric,value,unit); every command that is timed goes
# through run_case, which logs it, records its exact command line and
# settings in $out/commands.txt, and notes the device's I/O during it.

t_start=${t_start:-$(date +%s)}
say() { printf '[%4ss] %s\n' $(( $(date +%s) - t_start )) "$*"; }
note() { # a note that also goes to machine.txt and the summary
	say "NOTE: $*"
	echo "note: $*" >> "$out/machine.txt"
	notes+=("$*")
}
declare -a notes=()

bytes() { # "2G" -> 2147483648
	local v
	v=$(numfmt --from=iec "${1%[bB]}" 2>/dev/null) ||
		{ echo "bench/run: bad size '$1' (expected e.g. 2G, 512M)" >&2; exit 2; }
	echo "$v"
}
mib() { echo $(( ${1%.*} >> 20 )); }
row() { echo "$1,$2,$3,$4,$5" >> "$csv"; } # row BENCH CASE METRIC VALUE UNIT

val() { # val BENCH CASE METRIC -> value or empty (the last row wins)
	awk -F, -v b="$1" -v c="$2" -v m="$3" '$1==b && $2==c && $3==m {v=$4} END {if (v!="") print v}' "$csv"
}
vals() { # vals BENCH CASE METRIC -> every value, one a line
	awk -F, -v b="$1" -v c="$2" -v m="$3" '$1==b && $2==c && $3==m {print $4}' "$csv"
}
ratio() { # ratio A B -> A/B to 2 decimals, or "-"
	if [ -n "$1" ] && [ -n "$2" ]; then awk -v a="$1" -v b="$2" 'BEGIN {if (b>0) printf "%.2f", a/b; else print "-"}'; else echo "-"; fi
}
fmt() { if [ -n "$1" ]; then awk -v a="$1" "BEGIN {printf \"$2\", a}"; else echo "-"; fi; }
# median and spread of numbers on stdin: "median min max" (empty if none)
med_spread() {
	sort -g | awk '{v[NR]=$1} END {if (NR==0) exit; m = NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2; printf "%.4f %.4f %.4f\n", m, v[1], v[NR]}'
}

# The scratch directory's block device, for I/O accounting (empty if unknown).
scratch_dev() {
	local src d
	src=$(df --output=source "$dir" | tail -1)
	d=$(basename "$(readlink -f "$src")")
	[ -r "/sys/class/block/$d/stat" ] && echo "$d"
}
dev_sectors() { # "read written" sectors of the scratch device, or "0 0"
	if [ -n "$sdev" ]; then awk '{print $3, $7}' "/sys/class/block/$sdev/stat"; else echo "0 0"; fi
}
vmstat_v() { awk -v k="$1" '$1==k {print $2}' /proc/vmstat; }
# CPU seconds (user + system) of this shell's waited-for children so far
# (cutime + cstime of /proc/$$/stat; $$ is this shell even inside $(...)).
children_cpu() {
	awk -v hz="$(getconf CLK_TCK)" '{sub(/.*\) /, ""); printf "%.3f", ($14 + $15) / hz}' "/proc/$$/stat"
}

# run_case NAME IN_CGROUP(0/1) command... : output streamed (indented) and
# logged to $out/logs/NAME.log; the command line goes to commands.txt. Rows
# under bench $rc_bench, case NAME: run_wall (s), run_cpu (user + system
# seconds of the case's processes that were waited for), run_dev_read,
# run_dev_written (the scratch device, whole machine), run_swap_in,
# run_swap_out (/proc/vmstat, whole machine), run_exit, and in the cgroup
# cgroup_peak. (run_ prefix: the programs' own rows keep their names.)
rc_bench=sweep
declare -A peak rcs
run_case() {
	local name=$1 in_cg=$2 rc s0 s1 w0 w1 si0 so0 t0 t1 c0
	shift 2
	mkdir -p "$out/logs"
	if [ "$in_cg" = 1 ]; then
		echo 0 > "$cg/memory.force_empty" 2>/dev/null
		echo 0 > "$cg/memory.max_usage_in_bytes" 2>/dev/null
		echo 0 > "$cg/memory.failcnt" 2>/dev/null
	fi
	{
		printf '%s [%s]%s:' "$name" "$rc_bench" \
			"$([ "$in_cg" = 1 ] && echo " (memory cgroup limit $(cat "$cg/memory.limit_in_bytes") B, swap $([ "$swap_on" = 1 ] && echo on || echo off))")"
		printf ' %q' "$@"
		echo
	} >> "$out/commands.txt"
	echo "# $*" > "$out/logs/$name.log"
	read -r s0 w0 < <(dev_sectors)
	si0=$(vmstat_v pswpin); so0=$(vmstat_v pswpout)
	c0=$(children_cpu)
	t0=$EPOCHREALTIME
	(
		[ "$in_cg" = 1 ] && echo "$BASHPID" > "$cg/cgroup.procs"
		exec timeout "$case_timeout" "$@"
	) 2>&1 | tee -a "$out/logs/$name.log" | sed 's/^/    /'
	rc=${PIPESTATUS[0]}
	t1=$EPOCHREALTIME
	read -r s1 w1 < <(dev_sectors)
	rcs[$name]=$rc
	last_rc=$rc
	row "$rc_bench" "$name" run_wall "$(awk -v a="$t1" -v b="$t0" 'BEGIN {printf "%.3f", a - b}')" s
	row "$rc_bench" "$name" run_cpu "$(awk -v a="$(children_cpu)" -v b="$c0" 'BEGIN {printf "%.3f", a - b}')" s
	row "$rc_bench" "$name" run_dev_read $(( (s1 - s0) * 512 )) B
	row "$rc_bench" "$name" run_dev_written $(( (w1 - w0) * 512 )) B
	row "$rc_bench" "$name" run_swap_in $(( ($(vmstat_v pswpin) - si0) * 4096 )) B
	row "$rc_bench" "$name" run_swap_out $(( ($(vmstat_v pswpout) - so0) * 4096 )) B
	row "$rc_bench" "$name" run_exit "$rc" code
	if [ "$in_cg" = 1 ]; then
		peak[$name]=$(( $(cat "$cg/memory.max_usage_in_bytes") >> 20 ))
		echo "cgroup: max_usage $(cat "$cg/memory.max_usage_in_bytes") failcnt $(cat "$cg/memory.failcnt")" >> "$out/logs/$name.log"
		grep -E '^(total_)?(swap|pgmajfault|cache|rss) ' "$cg/memory.stat" >> "$out/logs/$name.log"
		row "$rc_bench" "$name" cgroup_peak "${peak[$name]}" MiB
	fi
	[ "$rc" = 124 ] && say "$name: timed out after ${case_timeout}s"
	[ "$rc" != 0 ] && say "$name: exit status $rc"
	return 0
}

# The real binary behind a libtool wrapper (so that the wrapper's shell is
# not timed): sets $real_bin and $real_ldpath for bench/PROG.
real_prog() {
	real_bin=$bindir/$1
	real_ldpath=
	if [ -x "$bindir/.libs/$1" ] && grep -q 'libtool' "$bindir/$1" 2>/dev/null; then
		real_ldpath=$(sed -n 's/^ *LD_LIBRARY_PATH="\([^:"]*\):.*/\1/p' "$bindir/$1" | head -1)
		[ -n "$real_ldpath" ] && real_bin=$bindir/.libs/$1
	fi
}

# The I/O floor in seconds for R bytes read and W bytes written at the fio
# bandwidths of this run (MB/s); empty without them.
floor_s() {
	local rbw wbw
	# the faster of the run's two fio measurements (start, end)
	rbw=$(printf '%s\n' "$(val fio seq_read MBps)" "$(val fio seq_read_end MBps)" | sort -g | tail -1)
	wbw=$(printf '%s\n' "$(val fio seq_write MBps)" "$(val fio seq_write_end MBps)" | sort -g | tail -1)
	[ -n "$rbw" ] || rbw=$(val evict_throughput raw_read MBps)
	[ -n "$wbw" ] || wbw=$(val evict_throughput raw_write MBps)
	[ -n "$rbw" ] && [ -n "$wbw" ] || return 0
	awk -v r="$1" -v w="$2" -v rb="$rbw" -v wb="$wbw" 'BEGIN {printf "%.3f", r/1e6/rb + w/1e6/wb}'
}
