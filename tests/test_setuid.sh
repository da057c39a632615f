#!/bin/sh
# test_setuid.sh - a secure-execution (setuid) program ignores the SBMA_*
# environment its caller gives it. As root, a copy of tests/prog_setuid
# (the engine linked in statically) is made setuid to nobody in a
# directory only root can enter, so that root running it has ruid 0, euid
# 65534 and AT_SECURE set. Its caller's environment is hostile: SBMA_DIR
# and TMPDIR point to a directory of the caller's that anyone may write
# to, SBMA_BUDGET, SBMA_PAGE and others are garbage, SBMA_VERBOSE asks for
# output, SBMA_JOB and PMIX_NAMESPACE name a node segment, and (in a
# fault-injection build) SBMA_FAULT_INJECT is garbage too. The setuid run
# must exit 0 with AT_SECURE, print no message at all, resolve exactly the
# settings of a run with an empty environment, keep its backing file
# outside the caller's directory, create nothing there and no node
# segment. The same environment without setuid must be refused naming a
# variable, and without its garbage it must obey SBMA_DIR, TMPDIR and
# SBMA_JOB: so each check could fail. Root only (skip 77 otherwise).
# Needs: top_builddir (set by make check; default ".").

top_builddir=${top_builddir:-.}
PROG="$top_builddir/tests/prog_setuid"
if [ "$(id -u)" -ne 0 ] || ! id nobody >/dev/null 2>&1; then
	echo "test_setuid: needs root and the user nobody; skipped"
	exit 77
fi
if [ ! -x "$PROG" ]; then
	echo "test_setuid: $PROG not built" >&2
	exit 99
fi
for v in $(env | sed -n 's/^\(SBMA_[A-Z_]*\)=.*/\1/p'); do
	unset "$v"
done
TIMEOUT=
command -v timeout >/dev/null && TIMEOUT="timeout -s KILL 120"

# /tmp: nobody can write there, which the setuid run's default needs.
priv=$(mktemp -d /tmp/sbma-setuid.XXXXXX) || exit 99
chmod 700 "$priv"
caller=$(mktemp -d /tmp/sbma-setuid-caller.XXXXXX) || exit 99
chmod 1777 "$caller"
job=hostile-$$
host=$(hostname | cut -d. -f1 | tr -c 'A-Za-z0-9._\n-' '_')
cleanup() {
	rm -rf "$priv" "$caller"
	rm -f /dev/shm/sbma-*-"$job"-* /dev/shm/sbma-*-"$job"x-*
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

fails=0
fail() {
	fails=$((fails + 1))
	echo "FAIL: $*"
	sed 's/^/    out: /' "$priv/out" | head -3
	sed 's/^/    err: /' "$priv/err" | head -5
}
field() {
	tr ' ' '\n' <"$priv/out" | sed -n "s/^$1=//p"
}

cp "$PROG" "$priv/plain"
cp "$PROG" "$priv/suid"
chown nobody "$priv/suid"
chmod 4755 "$priv/suid"

hostile() {
	env SBMA_DIR="$caller" TMPDIR="$caller" SBMA_BUDGET=lots SBMA_PAGE=3 SBMA_MIN_ALLOC=-1 \
		SBMA_ARENA=0 SBMA_READ=sometimes SBMA_DIRECT=maybe SBMA_VERBOSE=1 SBMA_STATS=1 \
		SBMA_MAX_MAPS=x SBMA_NODE_TIMEOUT=never SBMA_JOB="$job" PMIX_NAMESPACE="${job}x" \
		SBMA_FAULT_INJECT=often "$@"
}

# The defaults, from an empty environment (PATH only), as root.
env -i PATH="$PATH" $TIMEOUT "$priv/plain" >"$priv/out" 2>"$priv/err"
if [ $? -ne 0 ]; then
	fail "the program in an empty environment"
	exit 1
fi
want=$(sed 's/ store=.*//; s/^secure=0 euid=0 //' "$priv/out")

# 1. setuid, hostile environment: everything ignored.
hostile $TIMEOUT "$priv/suid" >"$priv/out" 2>"$priv/err"
rc=$?
got=$(sed 's/ store=.*//; s/^secure=[01] euid=[0-9]* //' "$priv/out")
if [ $rc -ne 0 ]; then
	fail "setuid run with a hostile environment: exit $rc"
elif [ "$(field secure)" != 1 ] || [ "$(field euid)" != 65534 ]; then
	fail "the setuid copy did not run in secure-execution mode as nobody (a nosuid mount?)"
elif [ -s "$priv/err" ]; then
	fail "setuid run: a message about the ignored environment"
elif [ "$got" != "$want" ]; then
	fail "setuid run: settings '$got', expected the defaults '$want'"
else
	echo "PASS: setuid: hostile SBMA_*, TMPDIR, job ignored: $got"
fi
case $(field store) in
"$caller"/*) fail "setuid run: its backing file was in the caller's SBMA_DIR" ;;
/tmp/*) echo "PASS: setuid: backing file $(field store)" ;;
*) fail "setuid run: backing file '$(field store)', expected one in /tmp" ;;
esac
if [ "$(field node)" != 0 ] || ls /dev/shm | grep -q -- "-${job}x*-"; then
	fail "setuid run: joined or created a node segment for the caller's job"
fi
if [ -n "$(ls -A "$caller")" ]; then
	fail "setuid run: created '$(ls -A "$caller")' in the caller's directory"
fi

# 2. The same environment without setuid: refused, naming a variable.
hostile $TIMEOUT "$priv/plain" >"$priv/out" 2>"$priv/err"
rc=$?
if [ $rc -ne 1 ] || ! grep -q 'SBMA_[A-Z_]*=' "$priv/err"; then
	fail "without setuid the hostile environment was not refused (exit $rc)"
else
	echo "PASS: without setuid: refused: $(head -1 "$priv/err")"
fi

# 3. Without setuid, the caller's directory and job are obeyed.
env SBMA_DIR="$caller" SBMA_JOB="$job" $TIMEOUT "$priv/plain" >"$priv/out" 2>"$priv/err"
rc=$?
case $rc:$(field dir):$(field store):$(field node) in
0:"$caller":"$caller"/*:1) echo "PASS: without setuid: SBMA_DIR and SBMA_JOB obeyed" ;;
*) fail "without setuid: SBMA_DIR=$caller SBMA_JOB=$job not obeyed" ;;
esac
env TMPDIR="$caller" PMIX_NAMESPACE="${job}x" $TIMEOUT "$priv/plain" >"$priv/out" 2>"$priv/err"
rc=$?
case $rc:$(field dir):$(field node) in
0:"$caller":1) echo "PASS: without setuid: TMPDIR and PMIX_NAMESPACE obeyed" ;;
*) fail "without setuid: TMPDIR=$caller PMIX_NAMESPACE=${job}x not obeyed" ;;
esac

[ $fails -eq 0 ] || exit 1
echo "PASS"
