# bench/lib/system.sh - the machine a run is on: its description
# (machine.txt), the memory cgroup the limited contenders run in, and the
# swap file of the kernel contender (sourced by bench/run).

sysf() { local v; v=$(tr -d '\n' 2>/dev/null < "$1" | xargs); echo "${v:-?}"; }

machine_info() {
	local dev src
	src=$(df --output=source "$dir" | tail -1)
	dev=$(scratch_dev)
	echo "date: $(date -Is)"
	echo "host: $(hostname)"
	echo "kernel: $(uname -srvm)"
	echo "cores (nproc): $(nproc)"
	grep -m1 'model name' /proc/cpuinfo | sed 's/^model name\s*:/cpu:/'
	echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
	grep -E '^(MemTotal|MemAvailable|SwapTotal):' /proc/meminfo
	echo "vm.swappiness: $(cat /proc/sys/vm/swappiness)"
	echo "vm.max_map_count: $(cat /proc/sys/vm/max_map_count)"
	echo "scratch dir: $dir"
	echo "scratch file system: $(findmnt -n -o SOURCE,FSTYPE,OPTIONS --target "$dir" 2>/dev/null || stat -f -c %T "$dir")"
	if [ -n "$dev" ]; then
		local blk=$dev
		[ -e "/sys/class/block/$dev/partition" ] && blk=$(basename "$(readlink -f "/sys/class/block/$dev/..")")
		echo "scratch device: /dev/$dev ($src); model: $(sysf "/sys/block/$blk/device/model"), vendor: $(sysf "/sys/block/$blk/device/vendor"), driver: $(basename "$(readlink -f "/sys/block/$blk/device/driver" 2>/dev/null)" 2>/dev/null || echo '?'), rotational: $(cat "/sys/block/$blk/queue/rotational" 2>/dev/null), scheduler: $(cat "/sys/block/$blk/queue/scheduler" 2>/dev/null), logical block: $(cat "/sys/block/$blk/queue/logical_block_size" 2>/dev/null)"
	else
		echo "scratch device: $src (no block device statistics: device I/O columns are 0)"
	fi
	echo "df:"; df -h "$dir" | sed 's/^/  /'
	echo "swaps before the run:"; sed 's/^/  /' /proc/swaps
	echo "cgroup v1 memory controller: $([ -d /sys/fs/cgroup/memory ] && echo yes || echo no)"
	echo "uid: $(id -u)"
	echo "packages:"
	dpkg-query -W -f='  ${Package} ${Version}\n' libc6 gcc openmpi-bin libopenmpi3 fio gnuplot-nox python3 coreutils 2>/dev/null
	echo "  mpiexec: $(mpiexec --version 2>/dev/null | head -1)"
	env | grep '^SBMA_' | sed 's/^/env: /'
	git -C "$here/.." rev-parse --short HEAD 2>/dev/null | sed 's/^/commit: /'
	git -C "$here/.." status --porcelain --untracked-files=no 2>/dev/null | grep -q . && echo "worktree: modified (uncommitted changes)"
	echo "command line: $cmdline"
	echo "case timeout: $case_timeout s"
}

# ---- the memory cgroup -----------------------------------------------------
cg=
cg_note=
swap_on=0
swap_made=0
swap_note=
cleanup() {
	if [ "$swap_on" = 1 ]; then
		swapoff "$swapfile" 2>/dev/null
		swap_on=0
	fi
	[ -n "$swapfile" ] && [ -f "$swapfile" ] && [ "$swap_made" = 1 ] && rm -f "$swapfile"
	if [ -n "$cg" ] && [ -d "$cg" ]; then
		echo 0 > "$cg/memory.force_empty" 2>/dev/null
		rmdir "$cg" 2>/dev/null || echo "bench/run: could not remove $cg" >&2
	fi
	rm -f "$dir"/sbma-bench-raw.* "$dir"/sbma-bench-mmap.* "$dir"/sbma-bench-fio.* 2>/dev/null
}

# make_cgroup: creates $cg, or sets $cg_note saying why not.
make_cgroup() {
	if [ "$(id -u)" != 0 ]; then
		cg_note="not root: the kernel contenders are skipped, SBMA runs without a cgroup"
	elif [ ! -d /sys/fs/cgroup/memory ]; then
		cg_note="/sys/fs/cgroup/memory missing (no cgroup v1 memory controller): the kernel contenders are skipped"
	elif ! mkdir "/sys/fs/cgroup/memory/sbma-bench-$$" 2>/dev/null; then
		cg_note="cannot create /sys/fs/cgroup/memory/sbma-bench-$$: the kernel contenders are skipped"
	else
		cg=/sys/fs/cgroup/memory/sbma-bench-$$
	fi
	[ -n "$cg_note" ] && note "$cg_note"
	return 0
}
cg_limit() { [ -n "$cg" ] && echo "$1" > "$cg/memory.limit_in_bytes"; }
# The rules of every limited case: the cgroup gets B + allowance (program
# text, stack, page tables, libc's heap, which the kernel charges too), SBMA
# B - slack (its metadata and the page cache its I/O may leave). Both favour
# the kernel contenders.
allow_of() { echo $(( $1 / 16 > 8 << 20 ? $1 / 16 : 8 << 20 )); }
slack_of() { echo $(( $1 / 32 > 4 << 20 ? $1 / 32 : 4 << 20 )); }

# ---- the swap file ---------------------------------------------------------
swap_up() { # swap_up SIZE: create (once) and enable the swap file
	local sz=$1
	if [ "$swap_made" = 1 ] && [ -f "$swapfile" ]; then
		if [ "$(stat -c %s "$swapfile")" -ge "$sz" ]; then
			swapon "$swapfile" 2>/dev/null && { swap_on=1; return 0; }
		fi
		rm -f "$swapfile"; swap_made=0
	fi
	if [ -e "$swapfile" ]; then
		swap_note="$swapfile already exists: not touching it, swap cases skipped"
		return 1
	fi
	say "creating a $(mib "$sz") MiB swap file $swapfile"
	if ! fallocate -l "$sz" "$swapfile" 2>/dev/null; then
		dd if=/dev/zero of="$swapfile" bs=4M count=$(( sz >> 22 )) status=none ||
			{ swap_note="cannot create $swapfile"; rm -f "$swapfile"; return 1; }
	fi
	swap_made=1
	chmod 600 "$swapfile"
	mkswap "$swapfile" > /dev/null 2>&1 || { swap_note="mkswap failed"; return 1; }
	if ! swapon "$swapfile" 2>/dev/null; then
		# some file systems refuse fallocated swap files: write it out
		dd if=/dev/zero of="$swapfile" bs=4M count=$(( sz >> 22 )) status=none
		mkswap "$swapfile" > /dev/null 2>&1
		swapon "$swapfile" 2>/dev/null || { swap_note="swapon $swapfile failed"; return 1; }
	fi
	swap_on=1
	return 0
}
# SBMA runs with swap off: with swap on the kernel could swap SBMA's own
# memory (shmem), and the case would no longer be SBMA alone.
swap_down() { [ "$swap_on" = 1 ] && swapoff "$swapfile" && swap_on=0; return 0; }
