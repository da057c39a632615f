#!/bin/sh
# Runs tests/test_threads with SBMA_PAGE=4K SBMA_BUDGET=16M (SBMA reads its settings once per process,
# so each combination is its own run). See docs/testing.md.
SBMA_PAGE=4K
SBMA_BUDGET=16M
export SBMA_PAGE SBMA_BUDGET
exec "${top_builddir:-.}/tests/test_threads"
