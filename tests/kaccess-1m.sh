#!/bin/sh
# Runs tests/test_kernel_access with SBMA_PAGE=1M SBMA_BUDGET=16M (SBMA reads its
# settings once per process, so each page size is its own run). See
# docs/testing.md and docs/preload.md.
SBMA_PAGE=1M
SBMA_BUDGET=16M
export SBMA_PAGE SBMA_BUDGET
exec "${top_builddir:-.}/tests/test_kernel_access"
