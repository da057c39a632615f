#!/bin/sh
# test_fuzz_corpus.sh - the fuzz corpus of the SBMA_* option parser, replayed
# in make check. tests/fuzz/replay_options (the libFuzzer harness
# tests/fuzz/fuzz_options.c with a plain main, built by the ordinary
# compiler) first checks that its error-line check refuses bad lines, then
# runs every file of tests/fuzz/corpus/options through the real parser and
# the harness's checks (ranges, documented values, error lines naming the
# variable, the first bad variable named, repeatability); each input runs
# in its own process and a failed check names its file. The corpus must
# reach every variable that docs/environment.md documents, with at least
# one value accepted and one refused, so that a variable added to the
# table without seeds fails here.
# Needs: top_builddir, top_srcdir (set by make check; default ".").

top_builddir=${top_builddir:-.}
top_srcdir=${top_srcdir:-.}
prog=$top_builddir/tests/fuzz/replay_options
corpus=$top_srcdir/tests/fuzz/corpus/options
doc=$top_srcdir/docs/environment.md

if [ ! -x "$prog" ]; then
	echo "test_fuzz_corpus: $prog not built" >&2
	exit 99
fi
if [ ! -d "$corpus" ] || [ ! -f "$doc" ]; then
	echo "test_fuzz_corpus: $corpus or $doc missing" >&2
	exit 99
fi

tmp=$(mktemp "${TMPDIR:-/tmp}/sbma-fuzz-corpus.XXXXXX") || exit 99
trap 'rm -f "$tmp"' EXIT

fails=0
timeout_cmd=
command -v timeout >/dev/null && timeout_cmd="timeout -s KILL 120"
FUZZ_OPTIONS_VERDICT=1 $timeout_cmd "$prog" "$corpus" >"$tmp"
rc=$?
grep -v '^verdict:' "$tmp"
if [ $rc -ne 0 ]; then
	echo "FAIL: replay_options exit $rc"
	fails=$((fails + 1))
fi

names=$(sed -n 's/^## \(SBMA_[A-Z_]*\)$/\1/p' "$doc")
if [ -z "$names" ]; then
	echo "FAIL: no SBMA_* sections found in $doc"
	fails=$((fails + 1))
fi
for n in $names; do
	if ! grep -q "^verdict: accepted.* $n\( \|\$\)" "$tmp"; then
		echo "FAIL: no corpus file sets $n to a value that is accepted"
		fails=$((fails + 1))
	fi
	if ! grep -q "^verdict: refused $n\$" "$tmp"; then
		echo "FAIL: no corpus file has $n refused"
		fails=$((fails + 1))
	fi
done
echo "test_fuzz_corpus: $fails failed"
[ $fails -eq 0 ]
