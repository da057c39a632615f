# bench/cases/sweep.sh - the sweep workload (bench/sweep.c) against each
# contender, at each footprint/budget ratio (sourced by bench/run).
#
# Footprint S = --size; for each ratio x in --ratios, budget B = S/x. The
# contenders are the cases selected among incore, sbma-lazy, sbma-eager,
# swap, mmap:
#   incore      sweep_plain, no limit (run at every ratio: its spread is
#               the run's noise)
#   sbma-lazy   sweep linked with SBMA, SBMA_READ=lazy, SBMA_BUDGET = B -
#               slack, in the memory cgroup (limit B + allowance), swap off
#   sbma-eager  the same, SBMA_READ=eager
#   swap        sweep_plain in the cgroup with a swap file on
#   mmap        sweep_plain --mode mmap (a MAP_SHARED file in the scratch
#               directory) in the cgroup
# Case names <contender>-x<ratio>. Bytes moved: SBMA's own counters; the
# kernel's swap-in/out (/proc/vmstat) for swap; the scratch device's
# sectors read/written for mmap (both machine-wide: other I/O on the
# machine during the case counts too). The floor of a case = its bytes
# moved at the fio bandwidths; the minimum floor = what any pager must
# move: (S - B) written 4 times (init, 3 sweeps) and read 4 times (3
# sweeps, check).

sweep_contenders="incore sbma-lazy sbma-eager mmap swap"

run_sweep_group() {
	local x b lim sb c name
	real_prog sweep
	local sw=$real_bin sw_ld=$real_ldpath
	rc_bench=sweep
	for x in ${ratios//,/ }; do
		b=$(( S / x )); lim=$(( b + $(allow_of "$b") )); sb=$(( b - $(slack_of "$b") ))
		[ -z "$cg" ] && sb=$b
		for c in $sweep_contenders; do
			has_case "$c" || continue
			name=$c-x$x
			case $c in
			incore)
				step "sweep $name: $(mib "$S") MiB in-core, no limit"
				run_case "$name" 0 "$bindir/sweep_plain" --csv "$csv" --label "$name" "$S" ;;
			sbma-lazy|sbma-eager)
				step "sweep $name: SBMA_READ=${c#sbma-}, SBMA_BUDGET $(mib "$sb") MiB$([ -n "$cg" ] && echo ", cgroup $(mib "$lim") MiB")"
				cg_limit "$lim"
				run_case "$name" "$([ -n "$cg" ] && echo 1 || echo 0)" env SBMA_DIR="$dir" SBMA_BUDGET="$sb" \
					SBMA_READ="${c#sbma-}" ${sw_ld:+LD_LIBRARY_PATH="$sw_ld"} "$sw" --csv "$csv" --label "$name" "$S"
				row sweep "$name" moved_read "$(val sweep "$name" bytes_read)" B
				row sweep "$name" moved_written "$(val sweep "$name" bytes_written)" B ;;
			swap|mmap)
				if [ -z "$cg" ]; then step "sweep $name: skipped ($cg_note)"; continue; fi
				cg_limit "$lim"
				if [ "$c" = swap ]; then
					if ! swap_up $(( S + (256 << 20) )); then
						step "sweep $name: skipped ($swap_note)"; continue
					fi
					step "sweep $name: kernel swap, cgroup $(mib "$lim") MiB"
					run_case "$name" 1 "$bindir/sweep_plain" --csv "$csv" --label "$name" "$S"
					swap_down
					row sweep "$name" moved_read "$(val sweep "$name" run_swap_in)" B
					row sweep "$name" moved_written "$(val sweep "$name" run_swap_out)" B
				else
					step "sweep $name: kernel file-backed mmap in $dir, cgroup $(mib "$lim") MiB"
					run_case "$name" 1 "$bindir/sweep_plain" --mode mmap --dir "$dir" --csv "$csv" --label "$name" "$S"
					row sweep "$name" moved_read "$(val sweep "$name" run_dev_read)" B
					row sweep "$name" moved_written "$(val sweep "$name" run_dev_written)" B
				fi ;;
			esac
		done
	done
	[ -n "$swap_note" ] && note "$swap_note"
	return 0
}

sweep_summary() {
	local x b c name tot inc mm fl fm res row mr mw minb
	echo "## Sweep: $(mib "$S") MiB array, budget B = S / ratio, ratios $ratios"
	echo
	echo "init, 3 read-modify-write sweeps, $(( S / 8 / 1000 )) random updates, a read-only check"
	echo "(DESIGN.md section 6). Times in seconds. cgroup limit B + max(8 MiB, B/16), SBMA_BUDGET"
	echo "B - max(4 MiB, B/32), swap on for the swap case only. Moved = bytes read + written (SBMA:"
	echo "its counters; swap: pswpin/out; mmap: the device's sectors). Floor = moved at the fio"
	echo "bandwidths; min floor = (S - B) written 4 times and read 4 times, plus in-core time."
	echo
	for x in ${ratios//,/ }; do
		b=$(( S / x ))
		inc=$(val sweep "incore-x$x" total)
		mm=$(val sweep "mmap-x$x" total)
		fm=$(floor_s $(( 4 * (S - b) )) $(( 4 * (S - b) )))
		[ -n "$fm" ] && [ -n "$inc" ] && fm=$(awk -v a="$fm" -v b="$inc" 'BEGIN {printf "%.2f", a + b}')
		[ -n "$fm" ] && row sweep "floor-x$x" min_floor "$fm" s
		echo "### Ratio $x: B = $(mib "$b") MiB (min floor $(fmt "$fm" %.2f) s)"
		echo
		echo "| case | init | sweep1 | sweep2 | sweep3 | random | check | total s | x in-core | x mmap | moved GiB | floor s | x floor | x min floor | cgroup peak MiB | result |"
		echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
		for c in $sweep_contenders; do
			has_case "$c" || continue
			name=$c-x$x
			tot=$(val sweep "$name" total)
			if [ -z "$tot" ]; then
				if [ -n "${rcs[$name]:-}" ]; then res="no result (exit ${rcs[$name]})"; else res=skipped; fi
				[ "${rcs[$name]:-}" = 124 ] && res="timeout (> ${case_timeout} s)"
				echo "| $name | | | | | | | - | | | | | | | | $res |"
				continue
			fi
			row="| $name"
			for ph in init sweep1 sweep2 sweep3 random check; do row="$row | $(fmt "$(val sweep "$name" $ph)" %.2f)"; done
			res=$([ "$(val sweep "$name" pass)" = 1 ] && echo PASS || echo FAIL)
			mr=$(val sweep "$name" moved_read); mw=$(val sweep "$name" moved_written)
			fl=
			[ "$c" != incore ] && [ -n "$mr" ] && fl=$(floor_s "$mr" "$mw")
			[ -n "$fl" ] && row sweep "$name" ratio_to_floor "$(ratio "$tot" "$fl")" x
			[ -n "$fm" ] && [ "$c" != incore ] && row sweep "$name" ratio_to_min_floor "$(ratio "$tot" "$fm")" x
			[ "$c" != incore ] && [ -n "$inc" ] && row sweep "$name" ratio_to_incore "$(ratio "$tot" "$inc")" x
			[ "$c" != mmap ] && [ -n "$mm" ] && row sweep "$name" ratio_to_mmap "$(ratio "$tot" "$mm")" x
			echo "$row | $(fmt "$tot" %.2f) | $(ratio "$tot" "$inc") | $(ratio "$tot" "$mm") | $([ -n "$mr" ] && awk -v a="$mr" -v b="$mw" 'BEGIN {printf "%.2f", (a + b) / 2^30}' || echo -) | $(fmt "$fl" %.2f) | $(ratio "$tot" "$fl") | $([ "$c" = incore ] && echo - || ratio "$tot" "$fm") | ${peak[$name]:--} | $res |"
		done
		echo
	done
	sweep_plots
}

# PNG plots of time and bytes moved against the ratio, one line per
# contender (gnuplot; skipped with a note if it is missing).
sweep_plots() {
	local dat=$out/sweep_plot.dat c x t m col=2 plot_t= plot_m=
	command -v gnuplot > /dev/null || { echo "(No plots: gnuplot is not installed; apt-get install gnuplot-nox.)"; echo; return 0; }
	{
		printf '# ratio'
		for c in $sweep_contenders; do has_case "$c" && printf ' %s_s %s_GiB' "$c" "$c"; done
		echo
		for x in ${ratios//,/ }; do
			printf '%s' "$x"
			for c in $sweep_contenders; do
				has_case "$c" || continue
				t=$(val sweep "$c-x$x" total)
				m=$(awk -v a="$(val sweep "$c-x$x" moved_read)" -v b="$(val sweep "$c-x$x" moved_written)" 'BEGIN {if (a=="") print "NaN"; else printf "%.3f", (a + b) / 2^30}')
				[ "$c" = incore ] && m=0
				printf ' %s %s' "${t:-NaN}" "$m"
			done
			echo
		done
	} > "$dat"
	# one colour per contender in both plots
	local lc=1
	for c in $sweep_contenders; do
		has_case "$c" || continue
		plot_t="$plot_t${plot_t:+, }'$dat' using 1:$col with linespoints lc $lc pt $lc title '$c'"
		[ "$c" != incore ] && plot_m="$plot_m${plot_m:+, }'$dat' using 1:$(( col + 1 )) with linespoints lc $lc pt $lc title '$c'"
		col=$(( col + 2 )); lc=$(( lc + 1 ))
	done
	local xmax
	xmax=$(echo "${ratios//,/ }" | tr ' ' '\n' | sort -n | tail -1)
	gnuplot <<GP 2> "$out/logs/gnuplot.log"
set terminal png size 900,560
set logscale x 2
set xrange [$(echo "${ratios//,/ }" | tr ' ' '\n' | sort -n | head -1) / 1.3 : $xmax * 1.3]
set xtics ($(echo "$ratios" | sed 's/\([0-9]*\)/"\1x" \1/g'))
set key outside right top
set grid
set xlabel 'footprint / budget'
set output '$out/sweep_time.png'
set ylabel 'time, s (log)'
set logscale y
set title 'sweep, $(mib "$S") MiB: time against footprint/budget'
plot $plot_t
set output '$out/sweep_bytes.png'
set ylabel 'bytes read + written, GiB (log)'
set title 'sweep, $(mib "$S") MiB: bytes moved against footprint/budget'
plot $plot_m
GP
	if [ -s "$out/sweep_time.png" ]; then
		echo "![time](sweep_time.png) ![bytes moved](sweep_bytes.png)"
		echo
		echo "Plots: sweep_time.png, sweep_bytes.png (data: sweep_plot.dat)."
	else
		echo "(gnuplot failed: see logs/gnuplot.log)"
	fi
	echo
}
