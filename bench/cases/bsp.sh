# bench/cases/bsp.sh - the MPI bulk-synchronous case: examples/bsp_sweep on
# N ranks of this machine (sourced by bench/run).
#
# Total footprint F = --bsp-size, F/N per rank, node budget B = F /
# --bsp-ratio (2), --bsp-steps supersteps, for each N in --bsp-ranks. All
# ranks run on this machine (mpiexec --oversubscribe: with more ranks than
# cores they share the CPUs). Contenders, one after the other per N:
#   incore   plain bsp_sweep, no limit; in the memory cgroup (limit off,
#            swap off) so that its peak gives what the N ranks and mpiexec
#            use besides the array (MPI's libraries, shared-memory
#            transport, buffers): O = peak - F
#   sbma     LD_PRELOAD=libsbma-pmpi.so, SBMA_BUDGET = B - slack shared by
#            the ranks (one node budget), in the memory cgroup of limit
#            B + O + allowance, swap off
#   kernel   plain bsp_sweep, every rank (and mpiexec) in the memory cgroup
#            of the same limit, with a swap file on
# Time = the program's own time (rank 0's line, the maximum over ranks).
# Moved: SBMA's counters summed over the ranks; swap in + out for the
# kernel. Floor = moved at the fio bandwidths; min floor = (F - B) written
# and read once per superstep plus once for init/verify.

run_bsp_group() {
	local n per b lim sb name mpx over top=$bindir/..
	local prog=$top/examples/bsp_sweep lib=$top/.libs/libsbma-pmpi.so
	if [ ! -x "$prog" ] || [ ! -f "$lib" ] || ! command -v mpiexec > /dev/null; then
		note "bsp: examples/bsp_sweep, .libs/libsbma-pmpi.so or mpiexec missing (configure found no MPI?): skipped"
		return 0
	fi
	export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
	b=$(( BSP_F / bsp_ratio )); sb=$(( b - $(slack_of "$b") ))
	[ -z "$cg" ] && sb=$b
	rc_bench=bsp
	for n in ${bsp_ranks//,/ }; do
		per=$(( BSP_F / n >> 20 ))
		mpx=(mpiexec -n "$n" --oversubscribe)
		[ "$(id -u)" = 0 ] && mpx+=(--allow-run-as-root)
		step "bsp N=$n: $per MiB per rank, F $(mib "$BSP_F") MiB, B $(mib "$b") MiB, $bsp_steps supersteps ($n ranks on $(nproc) cores$([ "$n" -gt "$(nproc)" ] && echo ', oversubscribed'))"
		name=incore-n$n
		cg_limit -1
		run_case "$name" "$([ -n "$cg" ] && echo 1 || echo 0)" "${mpx[@]}" "$prog" -m "$per" -s "$bsp_steps"
		bsp_parse "$name"
		over=$(( (${peak[$name]:-0} << 20) - BSP_F ))
		[ "$over" -lt 0 ] && over=0
		lim=$(( b + over + $(allow_of "$b") ))
		row bsp "n$n" mpi_overhead "$over" B
		row bsp "n$n" cgroup_limit "$lim" B

		name=sbma-n$n
		cg_limit "$lim"
		run_case "$name" "$([ -n "$cg" ] && echo 1 || echo 0)" env SBMA_BUDGET="$sb" SBMA_STATS=1 SBMA_DIR="$dir" \
			"${mpx[@]}" -x SBMA_BUDGET -x SBMA_STATS -x SBMA_DIR $(env | sed -n 's/^\(SBMA_[A-Z_]*\)=.*/-x \1/p' | grep -v -e BUDGET -e STATS -e DIR | tr '\n' ' ') \
			-x LD_PRELOAD="$lib" "$prog" -m "$per" -s "$bsp_steps"
		bsp_parse "$name"

		name=kernel-n$n
		if [ -z "$cg" ]; then
			:
		elif ! swap_up $(( BSP_F + (256 << 20) )); then
			note "bsp kernel: $swap_note"
		else
			cg_limit "$lim"
			run_case "$name" 1 "${mpx[@]}" "$prog" -m "$per" -s "$bsp_steps"
			swap_down
			bsp_parse "$name"
			row bsp "$name" moved_read "$(val bsp "$name" run_swap_in)" B
			row bsp "$name" moved_written "$(val bsp "$name" run_swap_out)" B
		fi
	done
	rc_bench=sweep
}

# Rows from one case's log: time (s) and pass; for SBMA the summed bytes.
bsp_parse() {
	local log=$out/logs/$1.log line
	line=$(grep -m1 -E '^(PASS|FAIL) bsp_sweep' "$log")
	[ -n "$line" ] || return 0
	row bsp "$1" time "$(echo "$line" | sed -n 's/.*; time \([0-9.]*\) s.*/\1/p')" s
	row bsp "$1" compute "$(echo "$line" | sed -n 's/.*compute \([0-9.]*\),.*/\1/p')" s
	row bsp "$1" mpi "$(echo "$line" | sed -n 's/.*mpi \([0-9.]*\),.*/\1/p')" s
	row bsp "$1" pass "$(case $line in PASS*) echo 1 ;; *) echo 0 ;; esac)" bool
	# "sbma:  total  faults  read  written  blocked  wait ..." (MiB, ms)
	line=$(grep -m1 -E '^sbma: +total ' "$log")
	if [ -n "$line" ]; then
		local nm=$1
		set -- $line
		row bsp "$nm" faults "$3" count
		row bsp "$nm" moved_read $(( $4 << 20 )) B
		row bsp "$nm" moved_written $(( $5 << 20 )) B
		row bsp "$nm" blocked_ms "$6" ms
		row bsp "$nm" wait_ms "$7" ms
	fi
}

bsp_busy() { # CPU busy % of one case
	awk -v c="$(val bsp "$1" run_cpu)" -v w="$(val bsp "$1" run_wall)" -v n="$(nproc)" \
		'BEGIN {if (c != "" && w > 0) printf "%.0f %%", 100 * c / (w * n); else print "-"}'
}

bsp_summary() {
	local n b tk ts ti fl fm mr mw res
	b=$(( BSP_F / bsp_ratio ))
	fm=$(floor_s $(( (bsp_steps + 1) * (BSP_F - b) )) $(( (bsp_steps + 1) * (BSP_F - b) )))
	echo "## MPI BSP: examples/bsp_sweep, F = $(mib "$BSP_F") MiB in all, B = F/$bsp_ratio = $(mib "$b") MiB, $bsp_steps supersteps"
	echo
	echo "All ranks on this machine's $(nproc) cores (oversubscribed when N > $(nproc)). Targets: SBMA >= 5x"
	echo "faster than the kernel (kernel / sbma >= 5) and within 1.5x of the floor (sbma / floor <= 1.5)."
	echo "The cgroup limit is B + O + allowance, O = what the ranks and mpiexec used besides the"
	echo "array in the in-core run (its cgroup peak - F; MPI libraries, shared-memory transport)."
	echo "Floor = SBMA's bytes moved at the fio bandwidths; min floor = (F - B) written and read"
	echo "$(( bsp_steps + 1 )) times each = $(fmt "$fm" %.2f) s. Times: the program's own (max over ranks), s."
	echo
	echo "| N | MiB/rank | in-core | sbma | kernel | kernel / sbma | sbma / in-core | SBMA moved GiB | floor s | sbma / floor | sbma / min floor | kernel / min floor | result |"
	echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
	for n in ${bsp_ranks//,/ }; do
		ti=$(val bsp "incore-n$n" time); ts=$(val bsp "sbma-n$n" time); tk=$(val bsp "kernel-n$n" time)
		# a kernel run stopped by the timeout: its time is a lower bound
		local gt=
		if [ -z "$tk" ] && [ "${rcs[kernel-n$n]:-}" = 124 ]; then
			tk=$(val bsp "kernel-n$n" run_wall); gt=">"
		fi
		mr=$(val bsp "sbma-n$n" moved_read); mw=$(val bsp "sbma-n$n" moved_written)
		fl=; [ -n "$mr" ] && fl=$(floor_s "$mr" "$mw")
		res=
		for c in incore sbma kernel; do
			case "$(val bsp "$c-n$n" pass)" in 1) ;; 0) res="$res $c FAIL" ;;
			*) [ -n "${rcs[$c-n$n]:-}" ] && res="$res $c no result (exit ${rcs[$c-n$n]})" ;; esac
		done
		[ -n "$tk" ] && [ -n "$ts" ] && row bsp "n$n" kernel_over_sbma "$gt$(ratio "$tk" "$ts")" x
		[ -n "$fl" ] && row bsp "n$n" sbma_over_floor "$(ratio "$ts" "$fl")" x
		[ -n "$fm" ] && row bsp "n$n" sbma_over_min_floor "$(ratio "$ts" "$fm")" x
		echo "| $n | $(( BSP_F / n >> 20 )) | $(fmt "$ti" %.2f) | $(fmt "$ts" %.2f) | $gt$(fmt "$tk" %.2f) | $gt$(ratio "$tk" "$ts") | $(ratio "$ts" "$ti") | $([ -n "$mr" ] && awk -v a="$mr" -v b="$mw" 'BEGIN {printf "%.2f", (a + b) / 2^30}' || echo -) | $(fmt "$fl" %.2f) | $(ratio "$ts" "$fl") | $(ratio "$ts" "$fm") | $gt$(ratio "$tk" "$fm") | ${res:-PASS} |"
	done
	echo
	echo "SBMA detail per N (sums over ranks): faults, blocked ms (time in blocking MPI calls), wait ms"
	echo "(waiting for node budget):"
	echo
	echo "CPU busy = user + system seconds of all the case's processes / (wall time x $(nproc) cores):"
	echo "near 100 % means the case is bound by the CPUs, not the device."
	echo
	echo "| N | MPI overhead O MiB | cgroup limit MiB | blocked ms | wait ms | SBMA faults | kernel swap in / out GiB | CPU busy in-core / sbma / kernel | kernel cgroup peak MiB | sbma cgroup peak MiB |"
	echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |"
	for n in ${bsp_ranks//,/ }; do
		echo "| $n | $(awk -v a="$(val bsp "n$n" mpi_overhead)" 'BEGIN {if (a != "") printf "%d", a/1048576; else print "-"}') | $(awk -v a="$(val bsp "n$n" cgroup_limit)" 'BEGIN {if (a != "") printf "%d", a/1048576; else print "-"}') | $(val bsp "sbma-n$n" blocked_ms) | $(val bsp "sbma-n$n" wait_ms) | $(val bsp "sbma-n$n" faults) | $(awk -v a="$(val bsp "kernel-n$n" moved_read)" -v b="$(val bsp "kernel-n$n" moved_written)" 'BEGIN {if (a != "") printf "%.2f / %.2f", a/2^30, b/2^30; else print "-"}') | $(bsp_busy "incore-n$n") / $(bsp_busy "sbma-n$n") / $(bsp_busy "kernel-n$n") | ${peak[kernel-n$n]:--} | ${peak[sbma-n$n]:--} |"
	done
	echo
}
