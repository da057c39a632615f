#!/bin/sh
# Runs tests/test_threads_io and tests/test_threads with SBMA_UNLOCKED_IO=off:
# the older behaviour (all I/O under the engine lock) stays selectable, so
# it stays tested. See docs/testing.md.
SBMA_UNLOCKED_IO=off
SBMA_BUDGET=16M
export SBMA_UNLOCKED_IO SBMA_BUDGET
"${top_builddir:-.}/tests/test_threads_io" || exit 1
exec "${top_builddir:-.}/tests/test_threads"
