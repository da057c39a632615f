# bench/cases/overhead.sh - SBMA's cost when everything fits: the same
# program with glibc's malloc and with SBMA's, budget far above the
# footprint (sourced by bench/run). Issue 3's target: within 5 %.
#
# Workloads, each run --overhead-reps times as pairs (plain, sbma), the
# order of the pair alternating from one repetition to the next, so that
# the machine's drift hits both sides alike:
#   sweep       bench/sweep_plain (--overhead-size, 256 MiB) plain, and
#               under LD_PRELOAD=libsbma.so: sweep-heavy
#   alloc_mix   bench/alloc_mix (--alloc-ops operations): malloc/free/
#               realloc of 16 B - 8 MiB blocks: allocation-heavy
#   python3     tests/realprogs/py_work.py on 64 MiB (a real program)
#   sort        GNU sort -S 1G of 64 MiB of text lines (a real program)
# The SBMA side gets SBMA_BUDGET = 8 GiB (nothing is ever evicted). Time:
# the program's own total for sweep and alloc_mix, the wall time of the
# process for the real programs. Reported: median of each side, the ratio
# of the medians, and the median, lowest and highest of the per-pair
# ratios.

overhead_workloads="sweep alloc_mix python3 sort"

# ov_cmd WORKLOAD SIDE -> sets the array $ov (the command to run)
ov_cmd() {
	local pre=()
	[ "$2" = sbma ] && pre=(env LD_PRELOAD="$ov_lib" SBMA_BUDGET=8G SBMA_DIR="$dir")
	case $1 in
	sweep) ov=("${pre[@]}" "$bindir/sweep_plain" --csv "$csv" --label "ov-$1-$2-r$r" "$ov_size") ;;
	alloc_mix) ov=("${pre[@]}" "$bindir/alloc_mix" --ops "$alloc_ops" --csv "$csv" --label "ov-$1-$2-r$r") ;;
	python3) ov=("${pre[@]}" python3 "$here/../tests/realprogs/py_work.py" "$ov_tmp/py-$2.json" 64) ;;
	sort) ov=("${pre[@]}" sort -S 1G -o "$ov_tmp/sorted-$2.txt" "$ov_tmp/text.txt") ;;
	esac
}

run_overhead_group() {
	local w side r first second
	ov_top=$bindir/..
	ov_lib=$ov_top/.libs/libsbma.so
	ov_tmp=$out/overhead-tmp
	mkdir -p "$ov_tmp"
	if [ ! -f "$ov_lib" ]; then note "overhead: $ov_lib missing: skipped"; return 0; fi
	ov_ok=$overhead_workloads
	if [ -x "$ov_top/tests/realprogs/rp_gen" ]; then
		"$ov_top/tests/realprogs/rp_gen" text 64M 7 > "$ov_tmp/text.txt"
	else
		note "overhead: tests/realprogs/rp_gen not built (make check TESTS=): sort skipped"
		ov_ok=${ov_ok/sort/}
	fi
	command -v python3 > /dev/null || { note "overhead: no python3: skipped"; ov_ok=${ov_ok/python3/}; }
	rc_bench=overhead
	for (( r = 1; r <= overhead_reps; r++ )); do
		step "overhead rep $r/$overhead_reps: $ov_ok, glibc and SBMA ($([ $(( r % 2 )) = 1 ] && echo 'glibc first' || echo 'SBMA first'))"
		for w in $ov_ok; do
			if [ $(( r % 2 )) = 1 ]; then first=plain; second=sbma; else first=sbma; second=plain; fi
			for side in $first $second; do
				ov_cmd "$w" "$side"
				run_case "ov-$w-$side-r$r" 0 "${ov[@]}" > /dev/null
			done
		done
	done
	# the real programs must give the same output with and without SBMA
	for w in python3 sort; do
		case " $ov_ok " in *" $w "*) ;; *) continue ;; esac
		if [ "$w" = python3 ]; then f=py; else f=sorted; fi
		if ! cmp -s "$ov_tmp/$f-plain."* "$ov_tmp/$f-sbma."*; then
			note "overhead: $w: output differs between glibc and SBMA"
		fi
	done
	rm -rf "$ov_tmp"
	rc_bench=sweep
}

ov_time() { # ov_time WORKLOAD SIDE REP -> seconds
	case $1 in
	sweep) val sweep "ov-$1-$2-r$3" total ;;
	alloc_mix) val alloc_mix "ov-$1-$2-r$3" time ;;
	*) val overhead "ov-$1-$2-r$3" run_wall ;;
	esac
}

overhead_summary() {
	local w r p s mp ms rr
	echo "## In-core overhead against glibc malloc (budget 8 GiB, everything fits)"
	echo
	echo "$overhead_reps interleaved pairs per workload (the pair's order alternates). Target: SBMA / glibc"
	echo "<= 1.05. sweep: bench/sweep_plain $ov_size_h, LD_PRELOAD=libsbma.so or not; alloc_mix: $alloc_ops"
	echo "malloc/free/realloc of 16 B - 8 MiB; python3: tests/realprogs/py_work.py 64 MiB; sort: GNU sort"
	echo "-S 1G of 64 MiB of text (rp_gen text 64M 7). Seconds."
	echo
	echo "| workload | glibc median | glibc min-max | SBMA median | SBMA min-max | SBMA / glibc (medians) | per-pair ratio median | per-pair min-max | target |"
	echo "| --- | ---: | --- | ---: | --- | ---: | ---: | --- | --- |"
	for w in $overhead_workloads; do
		p=(); s=(); rr=()
		for (( r = 1; r <= overhead_reps; r++ )); do
			local a b
			a=$(ov_time "$w" plain "$r"); b=$(ov_time "$w" sbma "$r")
			[ -n "$a" ] && p+=("$a"); [ -n "$b" ] && s+=("$b")
			[ -n "$a" ] && [ -n "$b" ] && rr+=("$(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.4f", b/a}')")
		done
		[ ${#p[@]} -gt 0 ] || { echo "| $w | - | | - | | | | | not run |"; continue; }
		read -r mp p0 p1 < <(printf '%s\n' "${p[@]}" | med_spread)
		read -r ms s0 s1 < <(printf '%s\n' "${s[@]}" | med_spread)
		read -r mr r0 r1 < <(printf '%s\n' "${rr[@]}" | med_spread)
		row overhead "$w" ratio_median "$mr" x
		row overhead "$w" ratio_of_medians "$(ratio "$ms" "$mp")" x
		echo "| $w | $(fmt "$mp" %.3f) | $(fmt "$p0" %.3f)-$(fmt "$p1" %.3f) | $(fmt "$ms" %.3f) | $(fmt "$s0" %.3f)-$(fmt "$s1" %.3f) | $(ratio "$ms" "$mp") | $(fmt "$mr" %.3f) | $(fmt "$r0" %.2f)-$(fmt "$r1" %.2f) | $(awk -v r="$mr" 'BEGIN {if (r <= 1.05) print "met"; else printf "missed: +%.1f %% (target +5 %%)\n", (r - 1) * 100}') |"
	done
	echo
}
