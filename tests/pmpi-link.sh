#!/bin/sh
# pmpi-link.sh - tests/prog_pmpi in link mode: see tests/pmpi_prog.sh.
PMPI_MODE=link
. "${top_srcdir:-.}/tests/pmpi_prog.sh"
