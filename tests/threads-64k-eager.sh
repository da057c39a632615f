#!/bin/sh
# Runs tests/test_threads with SBMA_PAGE=64K SBMA_BUDGET=16M SBMA_READ=eager (SBMA reads its settings once per process,
# so each combination is its own run). See docs/testing.md.
SBMA_PAGE=64K
SBMA_BUDGET=16M
SBMA_READ=eager
export SBMA_PAGE SBMA_BUDGET SBMA_READ
exec "${top_builddir:-.}/tests/test_threads"
