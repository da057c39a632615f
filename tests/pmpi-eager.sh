#!/bin/sh
# pmpi-eager.sh - tests/prog_pmpi in eager mode: see tests/pmpi_prog.sh.
PMPI_MODE=eager
. "${top_srcdir:-.}/tests/pmpi_prog.sh"
