# Shared by the node-budget tests (sourced). Sets up a private backing
# directory and a job name of this run, and checks what every test checks.
bin=${top_builddir:-.}/tests
export SBMA_DIR SBMA_JOB
# /dev/shm: these tests are about the budget, not the disk; on ext4 with
# `discard` the hole punches of frees are slow.
SBMA_DIR=$(mktemp -d /dev/shm/sbma-test-dir.XXXXXX) || exit 99
SBMA_JOB=test-node-$$
seg=$("$bin/prog_node_probe" name "$SBMA_JOB")
fails=0
cleanup() {
	rm -rf "$SBMA_DIR"
	rm -f "$seg"
}
trap cleanup EXIT

# A node that deadlocks must fail the test, not stall `make check`.
(
	sleep "${SBMA_TEST_TIMEOUT:-240}"
	echo "FAIL: timed out after ${SBMA_TEST_TIMEOUT:-240} s"
	pkill -KILL -P $$
	kill -KILL $$
) >&2 &
watchdog=$!
cleanup_watchdog() {
	kill "$watchdog" 2>/dev/null
	cleanup
}
trap cleanup_watchdog EXIT

fail() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}

# expect_le NAME VALUE LIMIT
expect_le() {
	if [ "$2" -le "$3" ]; then
		echo "ok: $1 = $2 <= $3"
	else
		fail "$1 = $2 > $3"
	fi
}

# field NAME "k=v k=v ..."
field() {
	echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"
}

# After the last process: no segment, no backing file.
expect_clean() {
	if [ -e "$seg" ]; then
		fail "$1: the segment $seg is still there after the last process exited"
	fi
	if [ -n "$(ls -A "$SBMA_DIR")" ]; then
		fail "$1: files left in SBMA_DIR: $(ls -A "$SBMA_DIR")"
	fi
}

# wait_for_segment PATH: until a process of the job has created it (a loaded
# machine may take seconds to get there); 1 if it never appears.
wait_for_segment() {
	for _ in $(seq 200); do
		[ -e "$1" ] && return 0
		sleep 0.05
	done
	return 1
}
