#!/bin/sh
# test_fullfs.sh - a full backing file system is an allocation failure, not a
# crash. As root, it mounts a 32 MiB tmpfs (and, if loop devices work, a
# 64 MiB ext4 image), points SBMA_DIR at it and runs tests/prog_fullfs, which
# mallocs 4 MiB blocks until malloc returns NULL: the NULL must come with
# errno ENOMEM after a plausible number of blocks, and every block obtained
# must still verify after sbma_evict_all() (space is reserved at allocation,
# so eviction cannot fail for lack of it); freed space must be reusable; and
# after the program exits the file system must be empty again (the backing
# file is unlinked). Skips (77) when not root or when mount is refused.
# Needs: top_builddir (set by make check; default ".").

top_builddir=${top_builddir:-.}
PROG="$top_builddir/tests/prog_fullfs"

if [ "$(id -u)" != 0 ]; then
	echo "SKIP: test_fullfs needs root (mount)"
	exit 77
fi
if [ ! -x "$PROG" ]; then
	echo "test_fullfs: $PROG not built" >&2
	exit 99
fi
for v in $(env | sed -n 's/^\(SBMA_[A-Z_]*\)=.*/\1/p'); do
	unset "$v"
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sbma-fullfs.XXXXXX") || exit 99
mounts=
loopdev=
cleanup() {
	for m in $mounts; do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
	done
	[ -n "$loopdev" ] && losetup -d "$loopdev" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

fails=0
ran=0
TIMEOUT=
command -v timeout >/dev/null && TIMEOUT="timeout -s KILL 120"

# check_fs DIR SIZE_MIB LABEL [ENV...]
check_fs() {
	dir=$1
	mib=$2
	label=$3
	shift 3
	ran=$((ran + 1))
	env SBMA_DIR="$dir" SBMA_BUDGET=16M "$@" $TIMEOUT "$PROG" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	blocks=$(sed -n 's/^blocks //p' "$tmp/out")
	if [ $rc -ne 0 ]; then
		echo "FAIL: $label: prog_fullfs exit $rc (blocks ${blocks:-?})"
		sed 's/^/    /' "$tmp/err" | head -5
		fails=$((fails + 1))
	elif [ -z "$blocks" ] || [ "$blocks" -gt $((mib / 4)) ] || [ "$blocks" -lt $((mib / 8)) ]; then
		echo "FAIL: $label: $blocks blocks of 4 MiB on a $mib MiB file system"
		fails=$((fails + 1))
	else
		echo "PASS: $label: $blocks blocks, then ENOMEM, data intact, space reused"
	fi
	used=$(df -Pk "$dir" | awk 'NR == 2 { print $3 }')
	limit=$((mib * 1024 / 8)) # ext4 keeps its journal and metadata
	if [ -n "$(ls -A "$dir" | grep -v '^lost+found$')" ]; then
		echo "FAIL: $label: files left in SBMA_DIR: $(ls -A "$dir")"
		fails=$((fails + 1))
	elif [ "${used:-0}" -gt "$limit" ]; then
		echo "FAIL: $label: $used KiB still used after exit"
		fails=$((fails + 1))
	fi
}

mkdir "$tmp/tmpfs"
if mount -t tmpfs -o size=32m tmpfs "$tmp/tmpfs"; then
	mounts="$tmp/tmpfs $mounts"
	check_fs "$tmp/tmpfs" 32 "tmpfs 32M"
	check_fs "$tmp/tmpfs" 32 "tmpfs 32M, 4K pages" SBMA_PAGE=4K
	check_fs "$tmp/tmpfs" 32 "tmpfs 32M, eager" SBMA_READ=eager
else
	echo "SKIP: tmpfs mount refused"
fi

mkdir "$tmp/ext4"
if command -v mkfs.ext4 >/dev/null && truncate -s 64M "$tmp/img" &&
	mkfs.ext4 -q -F "$tmp/img" >/dev/null 2>&1 &&
	loopdev=$(losetup -f --show "$tmp/img" 2>/dev/null) &&
	mount "$loopdev" "$tmp/ext4" 2>/dev/null; then
	mounts="$tmp/ext4 $mounts"
	check_fs "$tmp/ext4" 64 "ext4 64M (loop)"
else
	echo "SKIP: loop ext4 (no loop device or mount refused)"
fi

[ $ran -eq 0 ] && exit 77
echo "test_fullfs: $ran runs, $fails failed"
[ $fails -eq 0 ]
