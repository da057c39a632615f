#!/bin/sh
# run-libfuzzer.sh [SECONDS] - fuzz the SBMA_* option parser with libFuzzer.
#
# Builds tests/fuzz/fuzz_options.c with the parser's sources (src/options.c
# and the few files it calls: log.c, os.c, sysmem.c) using
# clang -fsanitize=fuzzer,address,undefined in a temporary directory, copies
# the corpus (tests/fuzz/corpus/options) there and fuzzes for SECONDS
# (default 60) under nice, with the dictionary tests/fuzz/options.dict.
# Works from the source tree it sits in; needs no configure or build.
#
# Exit 0: nothing found (the statistics are printed: executions, exec/s,
# corpus size). Exit 1: a finding (crash, sanitizer report, failed check,
# leak, timeout); the input that caused it is printed and kept, with the
# log, in the temporary directory. Exit 77: no clang with libFuzzer (or no
# hwloc headers) and no way to install them; what to install is printed.
# As root with apt-get, missing packages are installed (Debian 12:
# clang-14 libclang-rt-14-dev libhwloc-dev).
#
# Environment: CC_FUZZ=compiler to use; FUZZ_KEEP=1 keeps the temporary
# directory (and the corpus the run grew) even when nothing was found;
# FUZZ_ARGS=extra libFuzzer options.

secs=${1:-60}
case $secs in
'' | *[!0-9]*)
	echo "usage: $0 [SECONDS]" >&2
	exit 2
	;;
esac

here=$(cd "$(dirname "$0")" && pwd) || exit 99
top=$(cd "$here/../.." && pwd) || exit 99
if [ ! -f "$top/src/options.c" ] || [ ! -d "$here/corpus/options" ]; then
	echo "run-libfuzzer: $top is not an SBMA source tree" >&2
	exit 99
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/sbma-fuzz.XXXXXX") || exit 99
keep=${FUZZ_KEEP:-}
cleanup() { [ -n "$keep" ] || rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# A compiler is good if it builds a fuzzer with both sanitizers.
printf '#include <stddef.h>\n#include <stdint.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n' \
	>"$work/probe.c"
probe() {
	"$1" -fsanitize=fuzzer,address,undefined "$work/probe.c" -o "$work/probe" >/dev/null 2>&1
}
find_cc() {
	for c in ${CC_FUZZ:-} clang clang-14 clang-15 clang-16 clang-17 clang-18 clang-19; do
		if command -v "$c" >/dev/null 2>&1 && probe "$c"; then
			cc=$c
			return 0
		fi
	done
	return 1
}
have_hwloc() {
	pkg-config --exists hwloc 2>/dev/null
}

cc=
if ! find_cc || ! have_hwloc; then
	pkgs="clang-14 libclang-rt-14-dev libhwloc-dev pkg-config"
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "run-libfuzzer: installing $pkgs" >&2
		# shellcheck disable=SC2086 # one word per package
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q $pkgs >"$work/apt.log" 2>&1 ||
			{ apt-get update -q >/dev/null 2>&1 &&
				DEBIAN_FRONTEND=noninteractive apt-get install -y -q $pkgs >"$work/apt.log" 2>&1; } ||
			tail -5 "$work/apt.log" >&2
	fi
	if ! find_cc || ! have_hwloc; then
		echo "run-libfuzzer: SKIP: needs clang with libFuzzer and the sanitizers, and hwloc" >&2
		echo "  (Debian 12: apt-get install $pkgs)" >&2
		exit 77
	fi
fi

# The few definitions the parser's sources take from config.h.
printf '#define _GNU_SOURCE 1\n#define HAVE_SECURE_GETENV 1\n' >"$work/config.h"
echo "run-libfuzzer: building with $cc in $work" >&2
# shellcheck disable=SC2046
if ! nice -n 10 "$cc" -g -O1 -std=gnu11 -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=all -fno-omit-frame-pointer \
	-I"$work" -I"$top/src" -I"$top/include" -I"$here" \
	"$here/fuzz_options.c" "$top/src/options.c" "$top/src/log.c" "$top/src/os.c" \
	"$top/src/sysmem.c" $(pkg-config --cflags --libs hwloc) \
	-o "$work/fuzz_options" 2>"$work/build.log"; then
	cat "$work/build.log" >&2
	echo "run-libfuzzer: build failed" >&2
	keep=1
	exit 1
fi

cp -R "$here/corpus/options" "$work/corpus"
mkdir "$work/artifacts"
ncorp=$(ls "$work/corpus" | wc -l)
echo "run-libfuzzer: fuzzing for $secs s from $ncorp corpus files" >&2
# libFuzzer's own exit code for a finding is 77 (a skip to make): use 1.
# shellcheck disable=SC2086
(cd "$work" && nice -n 10 ./fuzz_options -max_total_time="$secs" \
	-dict="$here/options.dict" -artifact_prefix="$work/artifacts/" \
	-error_exitcode=1 -timeout_exitcode=1 -timeout=10 -rss_limit_mb=2048 \
	-print_final_stats=1 ${FUZZ_ARGS:-} "$work/corpus") >"$work/fuzz.log" 2>&1
rc=$?

found=$(ls "$work/artifacts" 2>/dev/null)
if [ $rc -ne 0 ] || [ -n "$found" ]; then
	keep=1
	grep -v '^#[0-9]' "$work/fuzz.log" | tail -40 >&2
	echo "run-libfuzzer: FINDING (exit $rc); log: $work/fuzz.log" >&2
	for f in $found; do
		echo "run-libfuzzer: crash input: $work/artifacts/$f" >&2
	done
	exit 1
fi

# The statistics: the last status line and libFuzzer's final counts.
grep '^#[0-9].*DONE\|^#[0-9].*pulse' "$work/fuzz.log" | tail -1 >&2
grep '^stat::' "$work/fuzz.log" >&2
echo "run-libfuzzer: corpus grew from $ncorp to $(ls "$work/corpus" | wc -l) files;" \
	"nothing found in $secs s" >&2
exit 0
