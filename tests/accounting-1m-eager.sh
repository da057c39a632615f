#!/bin/sh
# Runs tests/test_accounting with SBMA_PAGE=1M SBMA_BUDGET=32M SBMA_READ=eager (SBMA reads its settings once per process,
# so each combination is its own run). See docs/testing.md.
SBMA_PAGE=1M
SBMA_BUDGET=32M
SBMA_READ=eager
export SBMA_PAGE SBMA_BUDGET SBMA_READ
exec "${top_builddir:-.}/tests/test_accounting"
