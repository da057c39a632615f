# bench/cases/fio.sh - the I/O floor of this run: the scratch device's
# bandwidth measured with fio in SBMA_DIR, in the same run as the cases it
# is the floor of (sourced by bench/run).
#
# Sequential write, then read, O_DIRECT, one job at queue depth 1, at the
# largest I/O SBMA issues when it evicts or reads back in bulk (one
# coalesced run: SBMA_READAHEAD, 4 MiB by default; --fio-bs). Then random
# reads and writes of one SBMA page (SBMA_PAGE, 64 KiB by default), queue
# depth 1: what a random miss costs at best, the floor of the random
# phases. Rows bench=fio: seq_write, seq_read, rand_read, rand_write (MBps,
# and iops for the random ones). Without fio (and not root, so that it
# cannot be installed) the group is skipped with a note; the floors then use
# evict_throughput's raw pwrite/pread numbers, if that case ran.
#
# fio runs twice, first and last in the run (jobs seq_write ... and
# seq_write_end ...): the device behind a virtual disk changes speed with
# the host's load (2x between runs here), so the floor uses the faster of
# the two, the lower (stricter) floor.

fio_ensure() {
	command -v fio > /dev/null && return 0
	if [ "$(id -u)" = 0 ] && command -v apt-get > /dev/null; then
		say "fio: not installed, installing it (apt-get install fio)"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q fio > "$out/logs/apt-fio.log" 2>&1
	fi
	command -v fio > /dev/null
}

# fio_one NAME RW BS SIZE [RUNTIME]: one fio job; rows MBps (and iops).
fio_one() {
	local name=$1 rw=$2 bs=$3 sz=$4 rt=${5:-} json
	json=$out/logs/fio-$name.json
	run_case "fio-$name" 0 fio --name="$name" --directory="$dir" \
		--filename="sbma-bench-fio.$$" --rw="$rw" --bs="$bs" --size="$sz" \
		--direct=1 --ioengine=psync --iodepth=1 --numjobs=1 --fallocate=native \
		--end_fsync=1 ${rt:+--time_based=0 --runtime="$rt"} \
		--output-format=json --output="$json"
	[ -s "$json" ] || return 0
	python3 - "$json" "$name" "$csv" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))["jobs"][0]
d = j["read"] if j["read"]["io_bytes"] > 0 else j["write"]
with open(sys.argv[3], "a") as f:
    f.write("fio,%s,MBps,%.1f,MB/s\n" % (sys.argv[2], d["bw_bytes"] / 1e6))
    f.write("fio,%s,iops,%.0f,1/s\n" % (sys.argv[2], d["iops"]))
    f.write("fio,%s,lat_us,%.1f,us\n" % (sys.argv[2], d["lat_ns"]["mean"] / 1e3))
PY
	echo "    $name: $(val fio "$name" MBps) MB/s, $(val fio "$name" iops) IO/s"
}

run_fio() { # run_fio [SUFFIX]
	local page=${SBMA_PAGE:-64K} sfx=${1:-}
	step "I/O floor${sfx:+ (again, at the end)}: fio in $dir, O_DIRECT, sequential $fio_bs, random $page, queue depth 1"
	if ! fio_ensure; then
		note "fio is not installed (and cannot be installed: not root): the I/O floor uses evict_throughput's raw pwrite/pread, if it ran"
		return 0
	fi
	rc_bench=fio
	fio_one "seq_write$sfx" write "$fio_bs" "$fio_size"
	fio_one "seq_read$sfx" read "$fio_bs" "$fio_size"
	fio_one "rand_read$sfx" randread "$page" "$fio_size" 5
	fio_one "rand_write$sfx" randwrite "$page" "$fio_size" 5
	rm -f "$dir/sbma-bench-fio.$$"
	rc_bench=sweep
}

fio_summary() {
	echo "## I/O floor: the device, measured with fio in this run"
	echo
	if [ -z "$(val fio seq_write MBps)" ]; then
		echo "fio did not run (see the notes); floors use evict_throughput's raw numbers if present."
		echo
		return
	fi
	echo "fio 1 job, queue depth 1, O_DIRECT, psync, in \`$dir\`; commands in commands.txt."
	echo
	echo "| job | I/O size | MB/s | IO/s | mean latency us |"
	echo "| --- | ---: | ---: | ---: | ---: |"
	local j bs
	for j in seq_write seq_read rand_read rand_write seq_write_end seq_read_end rand_read_end rand_write_end; do
		[ -n "$(val fio $j MBps)" ] || continue
		case $j in seq_*) bs=$fio_bs ;; *) bs=${SBMA_PAGE:-64K} ;; esac
		echo "| $j | $bs | $(fmt "$(val fio $j MBps)" %.0f) | $(fmt "$(val fio $j iops)" %.0f) | $(fmt "$(val fio $j lat_us)" %.0f) |"
	done
	echo
	echo "Floor of a case = bytes read / seq_read + bytes written / seq_write, each the faster of"
	echo "the first and the last (_end) measurement of the run."
	echo
}
