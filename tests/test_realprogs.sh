#!/bin/sh
# test_realprogs.sh - real, unmodified programs of the distribution run
# under LD_PRELOAD=libsbma.so with a budget well below their peak memory,
# and must behave exactly as without it. Each case runs one command (or a
# shell pipeline) twice on the same generated input, in two empty
# directories: once plainly, once with libsbma.so preloaded into every
# process of it. Exit status, stdout, stderr and every output file must be
# byte for byte the same. And SBMA must really have worked: at least one
# process used SBMA memory and wrote pages to its backing store (paging
# happened), no process had more SBMA memory resident than the budget
# (+ slack: one readahead window and one page), by SBMA's own count and by
# the kernel's (RssShmem, which is exactly SBMA's resident memory: it is a
# memfd). A program that is not installed is skipped with a note; the test
# exits 77 only if nothing could run.
#
# Cases (docs/realprogs.md says why each is sized as it is): the system
# python3 (bytearray, list, dict, sort, hashing, json, zlib; no numpy), GNU
# sort of a nearly sorted log and of random keys (-S 1G: the whole input in
# one malloc'd buffer), zstd --long and xz with a 64 MiB dictionary
# (compress and decompress), perl and awk on a slurped file, gcc -O2 of a
# generated file with a large initializer, sqlite3 building indexes, GNU
# diff, and a pipeline tar | zstd | zstd -d | tar | sha256sum, once with a
# budget per process and once with one budget shared by the pipeline
# (SBMA_JOB), and sort | zstd | zstd -d with a shared budget, where sort
# sleeps in a pipe write holding most of it (the processes' summed wait for
# node budget is bounded).
#
# Every program run has a timeout (RP_TIMEOUT, 120 s): a hang fails.
# A table at the end gives, per case: budget, peak RSS without and with
# SBMA (ru_maxrss of the largest process), SBMA's peak resident memory
# (largest process), the kernel's RssShmem peak, bytes SBMA wrote to its
# backing stores (all processes), times without and with, result.
#
# Settings: RP_DIR (where inputs, outputs and backing files go; default
# /dev/shm, else $TMPDIR or /tmp), RP_TIMEOUT, RP_CASES (names to run, e.g.
# "sort-log xz"), RP_SBMA_ENV (extra settings for the SBMA runs, e.g.
# "SBMA_PAGE=4K"), RP_KEEP=1 (keep the work directory), RP_MUTATE=1 (the
# SBMA runs get a different input and seed: every case must then FAIL; a
# check of the test itself, not run by make check).
# Needs: top_builddir, top_srcdir (set by make check; default "." and the
# directory above this script).

# The commands are single-quoted on purpose: $IN, $RP, $SEED expand in the
# shell that runs them.
# shellcheck disable=SC2016

top_builddir=${top_builddir:-.}
top_srcdir=${top_srcdir:-$(dirname "$0")/..}
abs() { case $1 in /*) echo "$1" ;; *) echo "$(pwd)/$1" ;; esac; }
LIB=$(abs "$top_builddir/.libs/libsbma.so")
SHIM=$(abs "$top_builddir/tests/realprogs/.libs/rp_stats.so")
RUN=$(abs "$top_builddir/tests/realprogs/rp_run")
GEN=$(abs "$top_builddir/tests/realprogs/rp_gen")
RP=$(abs "$top_srcdir/tests/realprogs")
for f in "$LIB" "$SHIM" "$RUN" "$GEN" "$RP/py_work.py"; do
	if [ ! -e "$f" ]; then
		echo "test_realprogs: $f missing (make check builds it)" >&2
		exit 99
	fi
done

# Only the settings of each case count.
for v in $(env | sed -n 's/^\(SBMA_[A-Z_]*\)=.*/\1/p'); do
	unset "$v"
done
# The C locale: the same collation in both runs and on every machine (and
# sort is faster in it).
LC_ALL=C
export LC_ALL

# Inputs, outputs of both runs and backing files take up to ~1.2 GB.
roomy() { [ -d "$1" ] && [ -w "$1" ] && [ "$(df -Pk "$1" | awk 'NR == 2 { print $4 }')" -gt 1500000 ]; }
base=${RP_DIR:-/dev/shm}
if [ -z "${RP_DIR:-}" ] && ! roomy "$base"; then
	base=${TMPDIR:-/tmp}
fi
W=$(mktemp -d "$base/sbma-realprogs.XXXXXX") || exit 99
if [ "${RP_KEEP:-0}" = 1 ]; then
	trap 'echo "test_realprogs: work directory kept: $W"' EXIT
else
	trap 'rm -rf "$W"' EXIT
fi
trap 'exit 1' INT TERM HUP
mkdir "$W/in" "$W/store" || exit 99
# The commands find their inputs in $IN, the helper scripts in $RP, and a
# seed in $SEED (python3's data has no input file).
IN=$W/in
SEED=1
export IN RP SEED
TMOUT=${RP_TIMEOUT:-120}

passes=0
fails=0
xfails=0
skips=0
table=$W/table
printf '| case | budget | peak RSS without | with SBMA | SBMA peak resident | kernel RssShmem peak | written by SBMA | time without | with SBMA | result |\n' >"$table"
printf '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n' >>"$table"

# size BYTES: 1.5G, 230M, 12K
size() {
	awk -v b="$1" 'BEGIN {
		if (b >= 1073741824) printf "%.1fG", b / 1073741824
		else if (b >= 1048576) printf "%.0fM", b / 1048576
		else printf "%.0fK", b / 1024 }'
}
# bytes SIZE: 64M -> 67108864
bytes() {
	awk -v s="$1" 'BEGIN { n = s + 0; u = substr(s, length(s));
		if (u == "K") n *= 1024; else if (u == "M") n *= 1048576; else if (u == "G") n *= 1073741824;
		printf "%d", n }'
}
# where A B: where two files first differ ("char 21, line 1", "EOF on ...")
where() { cmp "$1" "$2" 2>&1 | head -1 | sed 's/^.* differ: //; s/^cmp: //; s|'"$W"'/||g'; }
# field NAME FILE: the value of NAME=... in a one-line rp_run report
field() { tr ' ' '\n' <"$2" | sed -n "s/^$1=//p"; }

selected() {
	[ -z "${RP_CASES:-}" ] && return 0
	for c in $RP_CASES; do
		[ "$c" = "$1" ] && return 0
	done
	return 1
}

skip() { # name reason
	skips=$((skips + 1))
	echo "SKIP: $1: $2"
	printf '| %s | | | | | | | | | SKIP (%s) |\n' "$1" "$2" >>"$table"
}

# need NAME PROGRAM...: true if every program is installed, else a skip.
need() {
	name=$1
	shift
	for p in "$@"; do
		if ! command -v "$p" >/dev/null 2>&1; then
			skip "$name" "$p not installed"
			return 1
		fi
	done
	return 0
}

# Input files, made once, when a case first needs them: gen FILE ARGS...
gen() {
	f=$IN/$1
	shift
	[ -f "$f" ] && return 0
	if ! "$GEN" "$@" >"$f.tmp" || ! mv "$f.tmp" "$f"; then
		echo "test_realprogs: cannot make $f" >&2
		exit 99
	fi
	# Fixed times: tar archives the inputs, and must archive them the same
	# way in both runs.
	touch -d '2024-01-01 00:00:00' "$f"
}

# RP_MUTATE=1: the SBMA runs read a copy of the inputs in which one byte of
# every file differs, and get another seed.
mutated_inputs() {
	rm -rf "$W/in.mut"
	cp -pr "$IN" "$W/in.mut" || exit 99
	for f in "$W/in.mut"/*; do
		"$GEN" mutate "$f" || exit 99
		touch -d '2024-01-01 00:00:00' "$f"
	done
}

# The slack allowed over the budget: one readahead window (SBMA_READAHEAD,
# 4M by default) and one SBMA page (64K, or RP_SBMA_ENV's SBMA_PAGE), as in
# tests/test_accounting; the kernel's count may add up to 1 MiB more (pages
# mapped around a fault of the manager view, see tests/test_node_share.sh).
slack() {
	page=64K ra=4M
	for kv in ${RP_SBMA_ENV:-}; do
		case $kv in
		SBMA_PAGE=*) page=${kv#SBMA_PAGE=} ;;
		SBMA_READAHEAD=*) ra=${kv#SBMA_READAHEAD=} ;;
		esac
	done
	echo $(($(bytes "$ra") + $(bytes "$page")))
}

# run_case NAME BUDGET COMMAND [OUTPUT-FILE]...
# Optional, set for one call: CASE_JOB (a shared budget: SBMA_JOB),
# CASE_ENV (more NAME=VALUE settings), CASE_KNOWN (a known weak point: a
# failure is XFAIL, and a pass says XPASS), CASE_MAX_WAIT (seconds: the
# processes' time waiting for node budget, summed, must stay below it).
run_case() {
	name=$1 budget=$2 cmd=$3
	shift 3
	outputs=$*
	d=$W/run.$name
	mkdir -p "$d/ref" "$d/sbma" "$d/stats"
	echo "== $name (budget $budget): $cmd"

	(cd "$d/ref" && "$RUN" -o ../ref.rr -t "$TMOUT" -- sh -c "$cmd" >../ref.out 2>../ref.err)
	ref_rc=$?

	# The environment of the SBMA run: positional parameters, so that
	# LD_PRELOAD's two paths stay one argument.
	set -- -e "LD_PRELOAD=$LIB $SHIM" -e "SBMA_BUDGET=$budget" -e "SBMA_DIR=$W/store" \
		-e "SBMA_JOB=${CASE_JOB:-none}" -e "RP_STATS_DIR=$d/stats"
	for kv in ${CASE_ENV:-} ${RP_SBMA_ENV:-}; do
		set -- "$@" -e "$kv"
	done
	if [ "${RP_MUTATE:-0}" = 1 ]; then
		set -- "$@" -e "IN=$W/in.mut" -e "SEED=2"
	fi
	(cd "$d/sbma" && "$RUN" -o ../sbma.rr -t "$TMOUT" "$@" -- sh -c "$cmd" >../sbma.out 2>../sbma.err)
	sbma_rc=$?
	# rp_run writes no report only if it could not run at all (exit 125).
	[ -s "$d/ref.rr" ] || echo "elapsed=? maxrss_kb=0 shmem_kb=0 shmem_sum_kb=0 status=$ref_rc" >"$d/ref.rr"
	[ -s "$d/sbma.rr" ] || echo "elapsed=? maxrss_kb=0 shmem_kb=0 shmem_sum_kb=0 status=$sbma_rc" >"$d/sbma.rr"

	why=
	note=
	[ $ref_rc -eq 124 ] && why="$why; the run without SBMA timed out (${TMOUT}s)"
	[ $sbma_rc -eq 124 ] && why="$why; timed out after ${TMOUT}s under SBMA"
	[ $ref_rc -ne $sbma_rc ] && why="$why; exit status $sbma_rc, without SBMA $ref_rc"
	cmp -s "$d/ref.out" "$d/sbma.out" || why="$why; stdout differs ($(where "$d/ref.out" "$d/sbma.out"))"
	cmp -s "$d/ref.err" "$d/sbma.err" || why="$why; stderr differs"
	for o in $outputs; do
		if [ ! -f "$d/ref/$o" ]; then
			why="$why; the run without SBMA wrote no $o"
		elif ! cmp -s "$d/ref/$o" "$d/sbma/$o"; then
			why="$why; $o differs ($(where "$d/ref/$o" "$d/sbma/$o"))"
		fi
	done

	# SBMA's statistics, one line per process that used SBMA memory.
	cat "$d/stats"/stats.* >"$d/stats.all" 2>/dev/null
	nproc=$(wc -l <"$d/stats.all")
	peak=$(sed -n 's/.*peak_resident=\([0-9]*\).*/\1/p' "$d/stats.all" | sort -n | tail -1)
	written=$(sed -n 's/.*bytes_written=\([0-9]*\).*/\1/p' "$d/stats.all" | awk '{ s += $1 } END { printf "%d", s }')
	over=$(sed -n 's/.*over_budget=\([0-9]*\).*/\1/p' "$d/stats.all" | awk '{ s += $1 } END { printf "%d", s }')
	waited=$(sed -n 's/.* wait_ms=\([0-9]*\).*/\1/p' "$d/stats.all" | awk '{ s += $1 } END { printf "%d", s }')
	peak=${peak:-0}
	b=$(bytes "$budget")
	limit=$((b + $(slack)))
	if [ -n "${CASE_JOB:-}" ]; then
		shmem_kb=$(field shmem_sum_kb "$d/sbma.rr")
	else
		shmem_kb=$(field shmem_kb "$d/sbma.rr")
	fi
	shmem_kb=${shmem_kb:-0}
	if [ "$nproc" -eq 0 ]; then
		why="$why; no process used SBMA memory"
	elif [ "$written" -eq 0 ]; then
		why="$why; SBMA wrote nothing: no paging, the budget proves nothing"
	fi
	[ "$peak" -gt $limit ] && why="$why; SBMA peak resident $(size "$peak") > budget + slack $(size $limit)"
	[ $((shmem_kb * 1024)) -gt $((limit + 1048576)) ] &&
		why="$why; kernel RssShmem $(size $((shmem_kb * 1024))) > budget + slack + 1M"
	[ "$over" -gt 0 ] && note="$note; over_budget=$over"
	if [ -n "${CASE_MAX_WAIT:-}" ]; then
		if [ "$waited" -gt $((CASE_MAX_WAIT * 1000)) ]; then
			why="$why; the processes waited ${waited} ms for node budget, bound ${CASE_MAX_WAIT} s"
		else
			note="$note; waited ${waited} ms for node budget (bound ${CASE_MAX_WAIT} s)"
		fi
	fi
	# The last process of a job removes its segment.
	if [ -n "${CASE_JOB:-}" ]; then
		for seg in /dev/shm/sbma-*-"$CASE_JOB"-*; do
			[ -e "$seg" ] || continue
			why="$why; segment $seg left behind"
			rm -f "$seg"
		done
	fi

	t_ref=$(field elapsed "$d/ref.rr")
	t_sbma=$(field elapsed "$d/sbma.rr")
	rss_ref=$(field maxrss_kb "$d/ref.rr")
	rss_sbma=$(field maxrss_kb "$d/sbma.rr")

	if [ -z "$why" ]; then
		result=PASS
		passes=$((passes + 1))
		if [ -n "${CASE_KNOWN:-}" ]; then
			result=XPASS
			note="$note; the known weak point did not show: $CASE_KNOWN"
		fi
	elif [ -n "${CASE_KNOWN:-}" ]; then
		result=XFAIL
		xfails=$((xfails + 1))
		note="$note; known weak point: $CASE_KNOWN"
	else
		result=FAIL
		fails=$((fails + 1))
	fi
	why=${why#; }
	note=${note#; }
	echo "$result: $name${why:+: $why}${note:+ ($note)}"
	echo "    without SBMA: $(cat "$d/ref.rr")"
	echo "    with SBMA:    $(cat "$d/sbma.rr")"
	sed 's/^/    sbma: /' "$d/stats.all"
	if [ "$result" != PASS ]; then
		for f in ref.err sbma.err; do
			[ -s "$d/$f" ] && head -5 "$d/$f" | sed "s/^/    $f: /"
		done
	fi
	printf '| %s | %s | %s | %s | %s | %s | %s | %ss | %ss | %s |\n' "$name" "$budget" \
		"$(size $((rss_ref * 1024)))" "$(size $((rss_sbma * 1024)))" "$(size "$peak")" \
		"$(size $((shmem_kb * 1024)))" "$(size "$written")" "$t_ref" "$t_sbma" \
		"$result${why:+: $why}${note:+ ($note)}" >>"$table"
	[ "${RP_KEEP:-0}" = 1 ] || rm -rf "$d"
	CASE_JOB='' CASE_ENV='' CASE_KNOWN='' CASE_MAX_WAIT=''
}

# ---- the inputs --------------------------------------------------------
# Made up front (the mutated copy needs them all); ~300 MB, a few seconds.
gen log100.txt log 100M 1
gen text100.txt text 100M 2
gen text20.txt text 20M 3
gen text12.txt text 12M 4
gen text8.txt text 8M 5
gen d20a.txt text 20M 6
gen d20b.txt text 20M 6 7919
gen log12.txt log 12M 7
gen log60.txt log 60M 9
gen gen.c csrc 40 8 300000
cp "$RP/work.sql" "$IN/work.sql" && touch -d '2024-01-01 00:00:00' "$IN/work.sql"
[ "${RP_MUTATE:-0}" = 1 ] && mutated_inputs

# ---- the cases ---------------------------------------------------------
PY=/usr/bin/python3
if selected python3; then
	if [ -x "$PY" ]; then
		run_case python3 64M '/usr/bin/python3 "$RP/py_work.py" out.json 160 "$SEED"' out.json
	else
		skip python3 "/usr/bin/python3 not installed"
	fi
fi

# GNU sort reads its whole input into one buffer sized from the file
# (-S 1G lets it be that large), sorts the line table, writes the result.
selected sort-log && need sort-log sort &&
	run_case sort-log 32M 'sort -S 1G -o sorted.txt "$IN/log100.txt"' sorted.txt
selected sort-random && need sort-random sort &&
	run_case sort-random 24M 'sort -S 1G "$IN/text20.txt"'

# zstd --long=27: 128 MiB window buffers; compress, then decompress.
selected zstd && need zstd zstd &&
	run_case zstd 32M 'zstd -q -T1 --long=27 -3 -c "$IN/text100.txt" >t.zst && zstd -q -d --long=27 -c t.zst | md5sum' t.zst

# xz with a 64 MiB dictionary: the encoder's match finder (hash table and
# chains) and the decoder's dictionary are large malloc'd buffers.
selected xz && need xz xz &&
	run_case xz 16M 'xz -T1 --lzma2=preset=0,dict=64MiB -c "$IN/log12.txt" >l.xz && xz -d -c l.xz | md5sum' l.xz

selected perl && need perl perl &&
	run_case perl 16M 'perl "$RP/pl_work.pl" "$IN/text8.txt"'

AWK=
for a in mawk gawk awk; do
	command -v $a >/dev/null 2>&1 && AWK=$a && break
done
if selected awk || { [ -n "$AWK" ] && selected "$AWK"; }; then
	if [ -n "$AWK" ]; then
		run_case "$AWK" 16M "$AWK -f \"\$RP/awk_work.awk\" \"\$IN/text12.txt\""
	else
		skip awk "no awk installed"
	fi
fi

# gcc: cc1's own memory is mostly its garbage-collected heap (mmap, not
# malloc, so not SBMA's); the large initializer's vectors are malloc'd.
selected gcc && need gcc gcc &&
	run_case gcc 4M 'gcc -O2 -o prog "$IN/gen.c" && ./prog' prog

selected sqlite3 && need sqlite3 sqlite3 &&
	run_case sqlite3 8M 'sqlite3 :memory: <"$IN/work.sql"'

# GNU diff reads both files whole and hashes every line; exit status 1.
selected diff && need diff diff &&
	run_case diff 24M 'diff "$IN/d20a.txt" "$IN/d20b.txt"'

# tar with 2 MiB records (its record buffer is SBMA memory, written to and
# read from pipes), two zstd, sha256sum: several SBMA processes at once.
PIPE='tar -b 4096 -cf - -C "$IN" log100.txt text20.txt | zstd -q -T1 --long=27 -3 | zstd -q -d --long=27 | tar -b 4096 -B -xOf - | sha256sum'
selected pipeline && need pipeline tar zstd sha256sum &&
	run_case pipeline 32M "$PIPE"
# The same pipeline with one budget for all its processes (SBMA_JOB): the
# kernel's sum of RssShmem over the pipeline must stay within it. Both zstd
# keep faulting, so each evicts its own pages and the other gets budget.
if selected pipeline-shared && need pipeline-shared tar zstd sha256sum; then
	CASE_JOB=rp-$$-pipe
	run_case pipeline-shared 32M "$PIPE"
fi
# A shared budget where a process sleeps in a pipe call: sort holds
# (nearly) the whole budget and blocks writing to the pipe; zstd, which has
# nothing of its own to evict, needs budget that only sort can release.
# The kernel-access wrappers make a process that would sleep in a pipe
# read or write "blocked" in the node, answering release requests
# (src/kernel_access.c, "blocking calls"). Before that, zstd waited
# SBMA_NODE_TIMEOUT per stall, then loaded past the budget and said so on
# stderr (docs/realprogs.md, finding 3). The bound: all processes together
# wait less than half of one SBMA_NODE_TIMEOUT (30 s here) for node budget;
# a single stall costs a whole one.
if selected sort-pipe-shared && need sort-pipe-shared sort zstd md5sum; then
	CASE_JOB=rp-$$-sortpipe CASE_ENV=SBMA_NODE_TIMEOUT=30 CASE_MAX_WAIT=15
	run_case sort-pipe-shared 32M 'sort -S 1G "$IN/log60.txt" | zstd -q -T1 --long=27 -3 | zstd -q -d --long=27 | md5sum'
fi

echo
echo "SBMA_DIR=$W/store; slack over the budget: $(size "$(slack)") (kernel: + 1M)"
cat "$table"
echo
echo "test_realprogs: $passes passed, $fails failed, $xfails known failures, $skips skipped"
[ $fails -gt 0 ] && exit 1
[ $passes -eq 0 ] && [ $xfails -eq 0 ] && exit 77
exit 0
