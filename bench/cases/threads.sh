# bench/cases/threads.sh - runs bench/threads.sh (another part of the
# project: many threads allocating and freeing) if it is there, and keeps
# its CSV rows (bench,case,metric,value,unit on its stdout) in results.csv
# (sourced by bench/run).

run_threads() {
	local t=$here/threads.sh
	if [ ! -f "$t" ]; then
		step "threads: skipped (bench/threads.sh not present)"
		note "threads: bench/threads.sh not present: skipped"
		return 0
	fi
	step "threads: bench/threads.sh"
	rc_bench=threads
	run_case threads 0 env BENCH_BINDIR="$bindir" BENCH_DIR="$dir" BENCH_QUICK="$quick" bash "$t"
	# its CSV lines (5 fields, a number in the 4th) go to results.csv
	awk -F, 'NF == 5 && $4 ~ /^-?[0-9.eE+-]+$/ && $1 != "bench"' "$out/logs/threads.log" >> "$csv"
	rc_bench=sweep
}

threads_summary() {
	echo "## Threads (bench/threads.sh)"
	echo
	if [ ! -f "$out/logs/threads.log" ]; then
		echo "Not run: bench/threads.sh is not present."
		echo
		return
	fi
	echo "| bench | case | metric | value | unit |"
	echo "| --- | --- | --- | ---: | --- |"
	awk -F, 'NF == 5 && $4 ~ /^-?[0-9.eE+-]+$/ && $1 != "bench" && $3 !~ /^run_/' "$out/logs/threads.log" 2>/dev/null |
		awk -F, '{printf "| %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5}'
	echo
}
