# bench/cases/node.sh - the node group: N processes of one job at once,
# sharing one node budget or each with a private share, against the kernel
# (sourced by bench/run; only when the case "node" is named).
#
# Total footprint F = --node-size, each process F/N, node budget B =
# F/factor, for each N in --node-procs and each factor in --node-factors.
# Contenders: incore (sweep_plain, no limit), sbma-shared (sweep, one
# SBMA_JOB, SBMA_BUDGET = B - slack shared by the N processes),
# sbma-private (SBMA_JOB=none, (B - slack)/N each), kernel (sweep_plain,
# swap on); all but incore in one cgroup of B + allowance. Start: together
# (released at the same instant) or rolling (each when the previous one has
# finished init). Driven by bench/node_job.sh; each process's output in
# <out>/node/<case>/p<i>.log. See docs/performance.md.

# ---- the node group -------------------------------------------------------
# For each start mode, N and factor: the contenders one after the other, so
# that the four of one configuration are measured within minutes of each
# other. SBMA runs with swap off (otherwise the kernel could swap SBMA's own
# memory, which is shmem); the kernel runs with swap on.
node_note=
run_node_group() {
	local st n x bn lim sb per name job save_timeout=$case_timeout
	real_prog sweep
	local node_sbma=$real_bin node_ldpath=$real_ldpath
	local nconf=0
	for st in $node_starts; do for n in ${node_procs//,/ }; do for x in ${node_factors//,/ }; do
		nconf=$(( nconf + 1 ))
	done; done; done
	step "node group: $nconf configurations x 4 contenders, F = $(mib "$F") MiB"
	case_timeout=$(( node_timeout + 60 ))
	rc_bench=node
	[ -z "$cg" ] && node_note="$cg_note: SBMA without a cgroup (budgets B and B/N), kernel skipped"
	for st in $node_starts; do for n in ${node_procs//,/ }; do for x in ${node_factors//,/ }; do
		bn=$(( F / x ))
		lim=$(( bn + $(allow_of "$bn") ))
		sb=$(( bn - $(slack_of "$bn") ))
		[ -z "$cg" ] && sb=$bn
		per=$(( F / n / 4096 * 4096 ))
		say "node: $st, N=$n, F/B=$x: each $(mib "$per") MiB, B=$(mib "$bn") MiB, cgroup $(mib "$lim") MiB, SBMA budget $(mib "$sb") MiB shared or $(mib $(( sb / n ))) MiB each"
		cg_limit "$lim"

		name=incore-n$n-x$x-$st
		run_case "$name" 0 "$here/node_job.sh" --procs "$n" --start "$st" \
			--dir "$out/node/$name" --case "$name" --csv "$csv" --timeout "$node_timeout" \
			-- "$bindir/sweep_plain" "$per"

		name=sbma-shared-n$n-x$x-$st
		job=sbma-bench-$$-n$n-x$x-$st
		run_case "$name" "$([ -n "$cg" ] && echo 1 || echo 0)" env SBMA_DIR="$dir" SBMA_JOB="$job" \
			SBMA_BUDGET="$sb" SBMA_STATS=1 ${node_ldpath:+LD_LIBRARY_PATH="$node_ldpath"} \
			"$here/node_job.sh" --procs "$n" --start "$st" \
			--dir "$out/node/$name" --case "$name" --csv "$csv" --timeout "$node_timeout" \
			-- "$node_sbma" "$per"
		if ls /dev/shm/ 2>/dev/null | grep -q -- "-$job-"; then
			note "$name left its segment in /dev/shm"
		fi

		name=sbma-private-n$n-x$x-$st
		run_case "$name" "$([ -n "$cg" ] && echo 1 || echo 0)" env SBMA_DIR="$dir" SBMA_JOB=none \
			SBMA_BUDGET=$(( sb / n )) SBMA_STATS=1 ${node_ldpath:+LD_LIBRARY_PATH="$node_ldpath"} \
			"$here/node_job.sh" --procs "$n" --start "$st" \
			--dir "$out/node/$name" --case "$name" --csv "$csv" --timeout "$node_timeout" \
			-- "$node_sbma" "$per"

		name=kernel-n$n-x$x-$st
		if [ -z "$cg" ]; then
			:
		elif ! swap_up $(( F + (256 << 20) )); then
			node_note="kernel runs skipped: $swap_note"
		else
			run_case "$name" 1 "$here/node_job.sh" --procs "$n" --start "$st" \
				--dir "$out/node/$name" --case "$name" --csv "$csv" --timeout "$node_timeout" \
				-- "$bindir/sweep_plain" "$per"
			swap_down
		fi
	done; done; done
	[ -n "$node_note" ] && note "$node_note"
	case_timeout=$save_timeout
	rc_bench=sweep
}

# The node group's tables (markdown on stdout) and ratio rows (results.csv).
node_summary() {
	local st n x bn c w inc sh to res r1 r2 n_ok
	mibv() { if [ -n "$1" ]; then echo $(( ${1%.*} >> 20 )); else echo -; fi; }
	echo "## Node: N processes of one job, total footprint F = $(mib "$F") MiB (each F/N)"
	echo
	echo "Time = the job's wall time, first start to last exit, seconds. B = F / (F/B). In each"
	echo "configuration the contenders ran one right after the other; ratios are to"
	echo "sbma-shared and to in-core of the same configuration. SBMA budgets are B - slack"
	echo "(shared) or (B - slack)/N (private); the cgroup limit is B + allowance for all but in-core."
	echo "A time with '>' hit --node-timeout (${node_timeout}s): a lower bound."
	[ -n "$node_note" ] && echo "Note: $node_note."
	echo
	for st in $node_starts; do
		echo "### Start: $st"
		echo
		echo "| N | F/B | B MiB | in-core s | sbma-shared s | sbma-private s | kernel s | private / shared | kernel / shared | shared / in-core | private / in-core | kernel / in-core |"
		echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
		for n in ${node_procs//,/ }; do for x in ${node_factors//,/ }; do
			bn=$(( F / x ))
			sh=$(val node "sbma-shared-n$n-x$x-$st" wall)
			inc=$(val node "incore-n$n-x$x-$st" wall)
			[ "$(val node "sbma-shared-n$n-x$x-$st" procs_timeout)" = 0 ] || sh=
			[ "$(val node "incore-n$n-x$x-$st" procs_timeout)" = 0 ] || inc=
			row="| $n | $x | $(mib "$bn")"
			for c in incore sbma-shared sbma-private kernel; do
				w=$(val node "$c-n$n-x$x-$st" wall)
				to=$(val node "$c-n$n-x$x-$st" procs_timeout)
				if [ -z "$w" ]; then row="$row | -"
				elif [ "$to" != 0 ]; then row="$row | >$(fmt "$w" %.1f)"
				else row="$row | $(fmt "$w" %.1f)"; fi
			done
			for c in sbma-private kernel; do
				w=$(val node "$c-n$n-x$x-$st" wall)
				to=$(val node "$c-n$n-x$x-$st" procs_timeout)
				r1=$(ratio "$w" "$sh")
				[ "$r1" != - ] && echo "node,$c-n$n-x$x-$st,ratio_to_shared,$r1,x" >> "$csv"
				[ "$r1" != - ] && [ "${to:-0}" != 0 ] && r1=">$r1"
				row="$row | $r1"
			done
			for c in sbma-shared sbma-private kernel; do
				w=$(val node "$c-n$n-x$x-$st" wall)
				to=$(val node "$c-n$n-x$x-$st" procs_timeout)
				r2=$(ratio "$w" "$inc")
				[ "$r2" != - ] && echo "node,$c-n$n-x$x-$st,ratio_to_incore,$r2,x" >> "$csv"
				[ "$r2" != - ] && [ "${to:-0}" != 0 ] && r2=">$r2"
				row="$row | $r2"
			done
			echo "$row |"
		done; done
		echo
		echo "Details (I/O: SBMA's own counters summed over the processes; swap: the machine's"
		echo "pswpin/pswpout during the job, any process):"
		echo
		echo "| case | wall s | slowest process s | processes alive (mean) | SBMA read MiB | SBMA written MiB | over_budget | swap in MiB | swap out MiB | cgroup peak MiB | result |"
		echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
		for n in ${node_procs//,/ }; do for x in ${node_factors//,/ }; do
			for c in incore sbma-shared sbma-private kernel; do
				c=$c-n$n-x$x-$st
				w=$(val node "$c" wall)
				if [ -z "$w" ]; then
					if [ -n "${rcs[$c]:-}" ]; then res="no result (exit ${rcs[$c]})"; else res=skipped; fi
					echo "| $c | - | | | | | | | | | $res |"
					continue
				fi
				n_ok=$(val node "$c" procs_pass); to=$(val node "$c" procs_timeout)
				res="$n_ok/$n PASS"
				[ "$to" != 0 ] && res="$res, $to timed out"
				echo "| $c | $(fmt "$w" %.1f) | $(fmt "$(val node "$c" slowest)" %.1f) | $(fmt "$(val node "$c" mean_alive)" %.2f) | $(mibv "$(val node "$c" bytes_read)") | $(mibv "$(val node "$c" bytes_written)") | $(val node "$c" over_budget) | $(mibv "$(val node "$c" swap_in)") | $(mibv "$(val node "$c" swap_out)") | ${peak[$c]:--} | $res |"
			done
		done; done
		echo
	done
}

