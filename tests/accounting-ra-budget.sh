#!/bin/sh
# Runs tests/test_accounting with SBMA_BUDGET=4M SBMA_READAHEAD=4M: a readahead window as large
# as the budget (the library caps it at a quarter), for the straddle case. See docs/testing.md.
SBMA_BUDGET=4M
SBMA_READAHEAD=4M
export SBMA_BUDGET SBMA_READAHEAD
exec "${top_builddir:-.}/tests/test_accounting"
