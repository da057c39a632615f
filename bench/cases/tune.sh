# bench/cases/tune.sh - SBMA's tuning knobs, each against the defaults in
# the same run (sourced by bench/run). The engine is not changed: each
# configuration is a set of SBMA_* variables.
#
# Configurations (--tune LIST, default all): base (the defaults), page16k,
# page256k, page1m (SBMA_PAGE; the default is 64K), eager (SBMA_READ),
# buffered (SBMA_DIRECT=off: buffered I/O with fadvise), ra1m, ra16m
# (SBMA_READAHEAD; the default is 4M). For each: the sweep of --tune-size
# (256M) at ratio --tune-ratio (4) with SBMA in the memory cgroup, and evict_throughput of
# --tune-evict MiB (one repetition). The base configuration runs first and
# last: the spread of its two runs is the noise to read the others against.

tune_all="base page16k page256k page1m eager buffered ra1m ra16m base2"

tune_env() {
	case $1 in
	base|base2) echo "" ;;
	page16k) echo SBMA_PAGE=16K ;;
	page256k) echo SBMA_PAGE=256K ;;
	page1m) echo SBMA_PAGE=1M ;;
	eager) echo SBMA_READ=eager ;;
	buffered) echo SBMA_DIRECT=off ;;
	ra1m) echo SBMA_READAHEAD=1M ;;
	ra16m) echo SBMA_READAHEAD=16M ;;
	*) return 1 ;;
	esac
}

run_tune_group() {
	local t e b lim sb
	real_prog sweep
	b=$(( TS / tune_ratio )); lim=$(( b + $(allow_of "$b") )); sb=$(( b - $(slack_of "$b") ))
	[ -z "$cg" ] && sb=$b
	rc_bench=sweep
	for t in ${tune//,/ }; do
		e=$(tune_env "$t")
		step "tune $t (${e:-defaults}): sweep $(mib "$TS") MiB at ratio $tune_ratio, evict_throughput $tune_evict MiB"
		cg_limit "$lim"
		run_case "tune-$t" "$([ -n "$cg" ] && echo 1 || echo 0)" env SBMA_DIR="$dir" SBMA_BUDGET="$sb" $e \
			${real_ldpath:+LD_LIBRARY_PATH="$real_ldpath"} "$real_bin" --csv "$csv" --label "tune-$t" "$TS"
		rc_bench=evict_throughput
		run_case "tune-evict-$t" 0 env SBMA_DIR="$dir" SBMA_BUDGET=$(( 2 * tune_evict << 20 )) $e \
			"$bindir/evict_throughput" --dir "$dir" --reps 1 --csv "$out/tune-evict-$t.csv" "$tune_evict"
		# the program's rows under case tune-<config>
		sed "s/^evict_throughput,\([^,]*\),/evict_throughput,tune-$t-\1,/" "$out/tune-evict-$t.csv" >> "$csv" 2>/dev/null
		rm -f "$out/tune-evict-$t.csv"
		rc_bench=sweep
	done
}

tune_summary() {
	local t base tot rnd sw mr mw
	base=$(val sweep tune-base total)
	echo "## Tuning: one knob at a time against the defaults (same run)"
	echo
	echo "Sweep $(mib "$TS") MiB at ratio $tune_ratio with SBMA in the cgroup (as in the sweep group), and"
	echo "evict_throughput $tune_evict MiB, one repetition. base and base2 are the defaults run first and"
	echo "last (their difference is the noise). x base = total / base's total."
	echo
	echo "| config | settings | sweep total s | x base | sweeps 1-3 s | random s | moved GiB | evict MB/s | fault-in MB/s | touch MB/s | result |"
	echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
	for t in ${tune//,/ }; do
		tot=$(val sweep "tune-$t" total)
		sw=$(awk -v a="$(val sweep "tune-$t" sweep1)" -v b="$(val sweep "tune-$t" sweep2)" -v c="$(val sweep "tune-$t" sweep3)" 'BEGIN {if (a != "") printf "%.2f", a + b + c}')
		mr=$(val sweep "tune-$t" bytes_read); mw=$(val sweep "tune-$t" bytes_written)
		[ -n "$tot" ] && row sweep "tune-$t" ratio_to_base "$(ratio "$tot" "$base")" x
		echo "| $t | $(tune_env "$t" | sed 's/^$/defaults/') | $(fmt "$tot" %.2f) | $(ratio "$tot" "$base") | ${sw:--} | $(fmt "$(val sweep "tune-$t" random)" %.2f) | $([ -n "$mr" ] && awk -v a="$mr" -v b="$mw" 'BEGIN {printf "%.2f", (a + b) / 2^30}' || echo -) | $(fmt "$(val evict_throughput "tune-$t-evict_all" MBps)" %.0f) | $(fmt "$(val evict_throughput "tune-$t-fault_in" MBps)" %.0f) | $(fmt "$(val evict_throughput "tune-$t-touch" MBps)" %.0f) | $([ "$(val sweep "tune-$t" pass)" = 1 ] && echo PASS || echo "FAIL/none (exit ${rcs[tune-$t]:-?})") |"
	done
	echo
}
