#!/bin/sh
# Runs tests/test_cache with SBMA_CHECK=1: the free-extent cache must then
# keep nothing (a bad pointer is easier to find when freed memory is gone
# at once). See docs/testing.md.
SBMA_CHECK=1
export SBMA_CHECK
exec "${top_builddir:-.}/tests/test_cache"
