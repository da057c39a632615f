# bench/cases/micro.sh - the two micro-benchmarks: the cost of one fault
# (bench/fault_cost) and bulk eviction / read-back (bench/evict_throughput),
# each against its bare baseline measured in the same program (sourced by
# bench/run).

run_fault() {
	step "fault_cost ($fault_size region, SBMA_PAGE=${SBMA_PAGE:-default}, best of $reps)"
	rc_bench=fault_cost
	run_case fault 0 env SBMA_DIR="$dir" SBMA_BUDGET=$(( 4 * $(bytes "$fault_size") )) \
		"$bindir/fault_cost" --size "$fault_size" --reps "$reps" --csv "$csv"
	rc_bench=sweep
}

run_evict() {
	step "evict_throughput ($evict_mib MiB in $dir, best of $reps)"
	rc_bench=evict_throughput
	run_case evict 0 env SBMA_DIR="$dir" SBMA_BUDGET=$(( 2 * evict_mib << 20 )) \
		"$bindir/evict_throughput" --dir "$dir" --reps "$reps" --csv "$csv" "$evict_mib"
	rc_bench=sweep
}

fault_summary() {
	local bare b2 k
	echo "## Fault cost (bench/fault_cost, region $fault_size, best of $reps)"
	echo
	echo "Target: an SBMA fault within 1.5x of a bare SIGSEGV + mprotect round trip."
	echo
	echo "| case | ns/page | faults/page | ns/fault | x bare round trip |"
	echo "| --- | ---: | ---: | ---: | ---: |"
	bare=$(val fault_cost bare_os_page ns_per_fault)
	echo "| bare SIGSEGV+mprotect (OS page) | $(fmt "$bare" %.0f) | 1 | $(fmt "$bare" %.0f) | 1.00 |"
	b2=$(val fault_cost bare_sbma_page ns_per_fault)
	echo "| bare, SBMA-page mprotect | $(fmt "$b2" %.0f) | 1 | $(fmt "$b2" %.0f) | $(ratio "$b2" "$bare") |"
	for k in first_read first_write upgrade reload_random reload_seq; do
		echo "| $k | $(fmt "$(val fault_cost $k ns_per_page)" %.0f) | $(fmt "$(val fault_cost $k faults_per_page)" %.2f) | $(fmt "$(val fault_cost $k ns_per_fault)" %.0f) | $(fmt "$(val fault_cost $k ratio_to_bare)" %.2f) |"
	done
	echo
}

evict_summary() {
	local rw rr dio fw fr k m base
	rw=$(val evict_throughput raw_write MBps); rr=$(val evict_throughput raw_read MBps)
	fw=$(val fio seq_write MBps); fr=$(val fio seq_read MBps)
	dio=$(val evict_throughput raw direct_io)
	echo "## Eviction and read-back (bench/evict_throughput, $evict_mib MiB, best of $reps)"
	echo
	echo "Target: >= 0.8 of the device's sequential bandwidth. Baselines: fio (above, same run) and"
	echo "the program's own sequential pwrite/pread, 4 MiB per call, $([ "$dio" = 1 ] && echo O_DIRECT || echo buffered)."
	echo
	echo "| case | SBMA MB/s | fio MB/s | SBMA / fio | pwrite/pread MB/s | SBMA / pwrite/pread |"
	echo "| --- | ---: | ---: | ---: | ---: | ---: |"
	for k in evict_all fault_in touch; do
		m=$(val evict_throughput $k MBps)
		case $k in evict_all) base=$fw; b2=$rw; lab="sbma_evict_all (write)" ;;
		fault_in) base=$fr; b2=$rr; lab="read back, one fault per page" ;;
		touch) base=$fr; b2=$rr; lab="read back, sbma_touch" ;; esac
		r=$(ratio "$m" "$base")
		[ "$r" != - ] && row evict_throughput "$k" ratio_to_fio "$r" x
		echo "| $lab | $(fmt "$m" %.0f) | $(fmt "$base" %.0f) | $r | $(fmt "$b2" %.0f) | $(ratio "$m" "$b2") |"
	done
	echo
}
