#!/bin/sh
# pmpi-fortran.sh - the Fortran bindings of libsbma-pmpi: tests/prog_pmpi_f
# (`use mpi`) and tests/prog_pmpi_f08 (`use mpi_f08`; see their headers) on
# 4 ranks under a 16 MiB node budget with SBMA_STATS=1, each linked with
# libsbma-pmpi and, plain, under LD_PRELOAD=libsbma-pmpi.so. Each run must
# print "<program>: PASS" and exit 0; rank 0 must print one statistics table
# at MPI_FINALIZE (so the Fortran MPI_Finalize went through the wrapper) in
# which rank 1, which waits about 0.3 s in MPI_RECV, shows at least 100 ms
# blocked (so the Fortran receive went through the blocking engine). Skips
# (77) when no MPI Fortran compiler was found; the f08 runs are skipped
# when the MPI has no mpi_f08 module.

. "${top_srcdir:-.}/tests/pmpi_lib.sh"

if [ ! -x "$top_builddir/tests/prog_pmpi_f" ]; then
	echo "SKIP: tests/prog_pmpi_f not built (no MPI Fortran compiler)"
	exit 77
fi
SBMA_BUDGET=16M
SBMA_STATS=1
export SBMA_BUDGET SBMA_STATS

for prog in prog_pmpi_f prog_pmpi_f08; do
	for mode in link preload; do
		if [ $mode = link ]; then
			PROG="$top_builddir/tests/$prog"
			flags=$(forward SBMA_BUDGET SBMA_STATS)
		else
			PROG="$top_builddir/tests/${prog}_plain"
			flags="$(forward SBMA_BUDGET SBMA_STATS)$(preload)"
		fi
		# shellcheck disable=SC2086
		mpi_run "$prog ($mode)" $flags "$PROG"
		if [ $rc -eq 77 ]; then
			echo "SKIP: $label: $(head -1 "$tmp/out")"
			continue
		fi
		if [ $rc -ne 0 ] || ! grep -q "^$prog: PASS\$" "$tmp/out"; then
			fail "exit $rc, no PASS"
			continue
		fi
		echo "ok: $label: PASS (${secs} s)"
		check_no_efault
		check_stats_table || continue
		b=$(blocked_ms 1)
		if [ -z "$b" ] || [ "$b" -lt 100 ]; then
			fail "rank 1 waited ~300 ms in MPI_RECV but shows '$b' ms blocked"
		fi
	done
done
finish
