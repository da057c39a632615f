# bench/lib/targets.sh - issue 6's and issue 3's targets against this run's
# numbers: one table at the top of results.md (sourced by bench/run; reads
# only results.csv, after the groups' summaries have added their ratios).

# target_row NAME VALUE OP LIMIT : one row, "met" or by how much it missed
target_row() {
	local v=$2 verdict
	if [ -z "$v" ] || [ "$v" = - ]; then
		echo "| $1 | - | $3 $4 | not measured |"
		return
	fi
	# ">x": a lower bound (the slower side hit the timeout)
	verdict=$(awk -v v="${v#>}" -v l="$4" -v op="$3" -v lb="${v%%[0-9]*}" 'BEGIN {
		if (lb == ">" && op == ">=" && v >= l) { print "met (lower bound)"; exit }
		if (op == ">=") { if (v >= l) print "met"; else printf "missed: %.2f of %.2f (%.0f %% short)\n", v, l, (1 - v / l) * 100 }
		else { if (v <= l) print "met"; else printf "missed: %.2fx the limit %.2f\n", v / l, l } }')
	row targets "$1" value "$v" x
	echo "| $1 | $v | $3 $4 | $verdict |"
}

targets_summary() {
	local k n w
	echo "## Targets (issue 6, issue 3) in this run"
	echo
	echo "| target | measured | wanted | verdict |"
	echo "| --- | ---: | --- | --- |"
	if has_case evict; then
		for k in evict_all fault_in touch; do
			target_row "eviction/reload: $k / fio sequential" "$(val evict_throughput $k ratio_to_fio)" ">=" 0.8
		done
	fi
	if has_case fault; then
		for k in first_read first_write upgrade; do
			target_row "fault: $k / bare SIGSEGV+mprotect" "$(fmt "$(val fault_cost $k ratio_to_bare)" %.2f)" "<=" 1.5
		done
	fi
	if has_case bsp; then
		for n in ${bsp_ranks//,/ }; do
			target_row "BSP N=$n: kernel time / SBMA time" "$(val bsp "n$n" kernel_over_sbma)" ">=" 5
			target_row "BSP N=$n: SBMA time / floor" "$(val bsp "n$n" sbma_over_floor)" "<=" 1.5
		done
	fi
	if has_case overhead; then
		for w in $overhead_workloads; do
			target_row "in-core overhead, $w: SBMA / glibc (median of pairs)" "$(fmt "$(val overhead "$w" ratio_median)" %.3f)" "<=" 1.05
		done
	fi
	echo
}
