#!/bin/sh
# Runs tests/test_threads_io with SBMA_PAGE=4K (many more pages, faults and
# busy-page waits than the 64K default). See docs/testing.md.
SBMA_PAGE=4K
SBMA_BUDGET=16M
export SBMA_PAGE SBMA_BUDGET
exec "${top_builddir:-.}/tests/test_threads_io"
