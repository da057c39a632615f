#!/bin/sh
# Runs tests/test_fork with SBMA_PAGE=4K SBMA_BUDGET=8M SBMA_DIRECT=off (SBMA reads its settings once
# per process, so each combination is its own run). See docs/testing.md.
SBMA_PAGE=4K
SBMA_BUDGET=8M
SBMA_DIRECT=off
export SBMA_PAGE SBMA_BUDGET SBMA_DIRECT
exec "${top_builddir:-.}/tests/test_fork"
