#!/bin/sh
# pmpi-preload.sh - tests/prog_pmpi in preload mode: see tests/pmpi_prog.sh.
PMPI_MODE=preload
. "${top_srcdir:-.}/tests/pmpi_prog.sh"
