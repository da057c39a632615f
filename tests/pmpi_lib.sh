# pmpi_lib.sh - sourced by the tests/pmpi-*.sh scripts: how to launch MPI
# programs with libsbma-pmpi, and the checks they share.
#
# Sets: PMPI_LIB (the built libsbma-pmpi.so), LAUNCH (mpiexec with the
# flags the MPI needs), tmp (a directory removed at exit), fails, runs.
# Open MPI refuses more ranks than cores without --oversubscribe and root
# without OMPI_ALLOW_RUN_AS_ROOT*; `-x VAR` forwards a variable to the
# ranks, and preloading through -x (not by setting LD_PRELOAD for mpiexec)
# keeps the library out of the launcher itself. MPICH's hydra needs neither
# (it runs any number of ranks, and as root) and forwards the environment
# by itself; `-genv VAR VALUE` sets LD_PRELOAD for the ranks only.
# Needs: top_builddir (set by make check; default "."), MPIEXEC (default
# mpiexec); MPI_FLAVOUR (set by make check) if the launcher is to be
# checked.

top_builddir=${top_builddir:-.}
top_srcdir=${top_srcdir:-.}
MPIEXEC=${MPIEXEC:-mpiexec}
NP=${NP:-4}
PMPI_LIB="$top_builddir/.libs/libsbma-pmpi.so"

if ! command -v "$MPIEXEC" >/dev/null 2>&1; then
	echo "SKIP: no MPI launcher ($MPIEXEC)"
	exit 77
fi
if [ ! -f "$PMPI_LIB" ]; then
	echo "$0: $PMPI_LIB not built" >&2
	exit 99
fi
case $PMPI_LIB in
/*) ;;
*) PMPI_LIB="$(pwd)/$PMPI_LIB" ;;
esac

# Start from a clean SBMA environment: each test sets what it means.
unset LD_PRELOAD
for v in $(env | sed -n 's/^\(SBMA_[A-Z_]*\)=.*/\1/p'); do
	unset "$v"
done

. "$top_srcdir/tests/mpi_launch.sh"

# forward VAR...: the launcher flags that pass the named variables (set in
# this shell) to every rank. Unset and empty ones are left out: hydra's
# -genv needs a value (an empty word would vanish from the unquoted command
# line and hydra take the next argument for it), Open MPI warns about a -x
# of a variable it cannot find. Values must not contain blanks.
forward() {
	for v in "$@"; do
		eval "[ -n \"\${$v}\" ]" || continue
		if [ "$MPI_IS_OPENMPI" = 1 ]; then
			printf ' -x %s' "$v"
		else
			eval "printf ' -genv %s %s' \"\$v\" \"\$$v\""
		fi
	done
}

# preload: the launcher flags that preload libsbma-pmpi into the ranks.
preload() {
	if [ "$MPI_IS_OPENMPI" = 1 ]; then
		printf ' -x LD_PRELOAD=%s' "$PMPI_LIB"
	else
		printf ' -genv LD_PRELOAD %s' "$PMPI_LIB"
	fi
}

TIMEOUT=
command -v timeout >/dev/null && TIMEOUT="timeout -s KILL 120"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sbma-pmpi.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM HUP
# A private TMPDIR: Open MPI's session directory (and SBMA's backing files)
# go there, so launchers started at the same time by `make -j check` do not
# race for /tmp/ompi.HOST.UID ("mkdir: File exists").
TMPDIR=$tmp
export TMPDIR

fails=0
runs=0

# mpi_run LABEL ARGS...: run $LAUNCH ARGS, stdout to $tmp/out, stderr to
# $tmp/err; sets rc and secs.
mpi_run() {
	label=$1
	shift
	runs=$((runs + 1))
	start=$(date +%s.%N)
	# shellcheck disable=SC2086
	$TIMEOUT $LAUNCH "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	end=$(date +%s.%N)
	secs=$(echo "$start $end" | awk '{ printf "%.1f", $2 - $1 }')
}

fail() {
	echo "FAIL: $label: $*"
	sed 's/^/    stdout: /' "$tmp/out" | tail -15
	# A crash's backtrace (gfortran's, SBMA's report) runs to 50 lines
	# and more before mpiexec's own closing lines: the top frames are the
	# ones that say where it happened, so keep the start as well.
	if [ "$(wc -l <"$tmp/err")" -le 120 ]; then
		sed 's/^/    stderr: /' "$tmp/err"
	else
		sed 's/^/    stderr: /' "$tmp/err" | head -60
		echo "    stderr: ..."
		sed 's/^/    stderr: /' "$tmp/err" | tail -60
	fi
	fails=$((fails + 1))
}

# check_no_efault: no transfer met a page the kernel could not access.
# Open MPI's shared-memory transport reports a failed single-copy
# (process_vm_readv) read as "Read -1, expected N, errno = 14" (EFAULT) and
# then falls back to copying, so the data may still arrive: the message is
# the only sign that a buffer was not pinned.
check_no_efault() {
	n=$(grep -c 'errno = 14\|Bad address' "$tmp/err")
	if [ "$n" -ne 0 ]; then
		fail "$n transfers failed with EFAULT (an MPI buffer was not resident)"
		return 1
	fi
	return 0
}

# check_stats_table: SBMA_STATS=1 was set: rank 0 printed one table at
# MPI_Finalize (so MPI_Finalize went through the wrapper) and no process
# printed its own report at exit. Prints the table.
check_stats_table() {
	ntables=$(grep -c 'sbma: statistics of [0-9]* MPI ranks' "$tmp/err")
	nown=$(grep -c 'sbma: statistics of process' "$tmp/err")
	if [ "$ntables" -ne 1 ] || [ "$nown" -ne 0 ]; then
		fail "SBMA_STATS=1: expected one MPI table and no per-process report, got $ntables tables and $nown reports"
		return 1
	fi
	sed -n '/statistics of [0-9]* MPI ranks/,/sbma:  *total/p' "$tmp/err" | sed 's/^/    /'
	return 0
}

# check_one_segment: SBMA_VERBOSE=1 was set: each of the $NP ranks joined a
# node segment, and all the same one: one node budget, not $NP private
# ones. Under Open MPI the name is the launcher's job (PMIX_NAMESPACE);
# MPICH's hydra names none, so the ranks agree on one in MPI_Init
# (pmpi/init.c). Prints the segment.
check_one_segment() {
	joins=$(grep -c 'node: process [0-9]* joined /dev/shm/' "$tmp/err")
	segs=$(sed -n 's|.*node: process [0-9]* joined \(/dev/shm/[^ ]*\) .*|\1|p' "$tmp/err" | sort -u)
	nsegs=$(printf '%s' "$segs" | grep -c .)
	if [ "$joins" -ne "$NP" ] || [ "$nsegs" -ne 1 ]; then
		fail "expected $NP ranks to join one node segment, got $joins joins of $nsegs segments: $(printf '%s' "$segs" | tr '\n' ' ')"
		return 1
	fi
	echo "    $NP ranks share the node segment $segs"
	return 0
}

# blocked_ms RANK: the "blocked" column of RANK in the table.
blocked_ms() {
	awk -v r="$1" '$1 == "sbma:" && $2 == r { print $6 }' "$tmp/err" | head -1
}

finish() {
	echo "$(basename "$0" .sh): $runs runs, $fails failed"
	[ $fails -eq 0 ]
}
