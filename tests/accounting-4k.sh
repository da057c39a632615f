#!/bin/sh
# Runs tests/test_accounting with SBMA_PAGE=4K SBMA_BUDGET=32M (SBMA reads its settings once per process,
# so each combination is its own run). See docs/testing.md.
SBMA_PAGE=4K
SBMA_BUDGET=32M
export SBMA_PAGE SBMA_BUDGET
exec "${top_builddir:-.}/tests/test_accounting"
