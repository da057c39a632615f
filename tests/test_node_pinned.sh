#!/bin/sh
# A process's pins are in its node slot as soon as it pins or unpins
# (tests/prog_node_pin.c says why: other processes ask a blocked one to
# release what its slot says is not pinned). See docs/testing.md.
. "${top_srcdir:-.}/tests/node_lib.sh"

export SBMA_BUDGET=32M
"$bin/prog_node_pin" "$bin/prog_node_probe"
st=$?
[ $st -eq 99 ] && exit 99
[ $st -eq 0 ] || fail "prog_node_pin exited with status $st"
expect_clean "prog_node_pin"
[ $fails -eq 0 ] || exit 1
echo "PASS"
