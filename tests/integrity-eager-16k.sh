#!/bin/sh
# Runs tests/test_integrity with SBMA_READ=eager SBMA_PAGE=16K SBMA_BUDGET=16M (SBMA reads its settings once per process,
# so each combination is its own run). See docs/testing.md.
SBMA_READ=eager
SBMA_PAGE=16K
SBMA_BUDGET=16M
export SBMA_READ SBMA_PAGE SBMA_BUDGET
exec "${top_builddir:-.}/tests/test_integrity"
