#!/bin/sh
# A node segment that cannot be trusted is refused with a message that
# names it and the reason, and the process stops (running on a private
# budget instead would silently oversubscribe the node): wrong magic, too
# small, readable by others, another SBMA version, another owner (as root).
# A stale segment, whose processes all died, is replaced, never joined; one
# of another job is removed when a job creates its segment.
# A bad SBMA_JOB is refused before the program starts.
# See docs/testing.md.
. "${top_srcdir:-.}/tests/node_lib.sh"

# expect_refusal NAME REASON: the worker must exit 1 naming the segment and
# the reason.
expect_refusal() {
	err=$("$bin/prog_node_worker" -m 4 -s 1 2>&1 >/dev/null)
	st=$?
	if [ $st -ne 1 ]; then
		fail "$1: worker exited with $st, expected 1 (refused)"
	elif ! echo "$err" | grep -q "$seg" || ! echo "$err" | grep -q "$2"; then
		fail "$1: message does not name the segment and '$2': $err"
	else
		echo "ok: $1: $err"
	fi
	rm -f "$seg"
}

# leave_stale JOB SEGMENT ID: start a worker of JOB, kill it (SIGKILL) once
# its segment exists; 0 if it left SEGMENT behind (stale: no live process).
leave_stale() {
	SBMA_JOB=$1 "$bin/prog_node_worker" -m 16 -s 100 -i "$3" &
	p=$!
	wait_for_segment "$2"
	sleep 0.1
	kill -KILL $p
	wait $p 2>/dev/null
	[ -e "$2" ]
}

# expect_untouched WHAT FILE SUM: FILE still has the checksum SUM (the job
# neither wrote it nor removed it).
expect_untouched() {
	if [ "$(md5sum <"$2" 2>/dev/null)" != "$3" ]; then
		fail "$1: the pre-created file was changed or removed"
	fi
}

# Names pre-created by a second user, both ways (as root): user nobody
# makes root's job's name first, as a copy of a real segment (a job that
# joined it would be snooped on or steered), mode 0666, or as a symbolic
# link to a real segment of root's; then root makes the name of a job that
# nobody runs. Each job must refuse with the name and the reason, and leave
# the file as it was. Without the pre-created name the nobody job runs, so
# the refusal is not just nobody being unable to run anything.
pre_created_by_another_user() {
	as_nobody="setpriv --reuid=65534 --regid=65534 --clear-groups"
	# A real segment to copy: a process of another job, killed.
	# It is stale at once: a process of a test running beside this one
	# may sweep it before it is copied (seen once in CI). Up to 3 tries.
	real=$("$bin/prog_node_probe" name "$SBMA_JOB-real")
	got=0
	for try in 1 2 3; do
		if leave_stale "$SBMA_JOB-real" "$real" 3 && cp "$real" "$SBMA_DIR/real-copy" 2>/dev/null &&
			[ "$(head -c 8 "$SBMA_DIR/real-copy")" = SBMANODE ]; then
			got=1
			break
		fi
		rm -f "$real"
	done
	if [ $got = 0 ]; then
		fail "no segment left behind by a killed process in 3 tries (the test needs one)"
		return
	fi
	# Root reads the segment (nobody may not) and hands it over.
	$as_nobody sh -c "umask 0; cat >'$seg'" <"$SBMA_DIR/real-copy"
	sum=$(md5sum <"$seg")
	expect_refusal_keep "a copy of a real segment pre-created by nobody, mode $(stat -c %a "$seg")" \
		"belongs to another user"
	expect_untouched "copy by nobody" "$seg" "$sum"
	rm -f "$seg"

	# The link points at the copy: $real itself is a stale segment of root's,
	# which any job that creates its segment meanwhile (a test running
	# beside this one) may sweep away.
	rm -f "$real"
	$as_nobody ln -s "$SBMA_DIR/real-copy" "$seg"
	sum=$(md5sum <"$SBMA_DIR/real-copy")
	expect_refusal_keep "a symbolic link pre-created by nobody" "symbolic link"
	expect_untouched "symbolic link by nobody" "$SBMA_DIR/real-copy" "$sum"
	rm -f "$seg"
	if [ "$(head -c 8 "$SBMA_DIR/real-copy")" != SBMANODE ]; then
		fail "the copy of a real segment is not one (the test needs one)"
	fi

	# The other way: a job run as nobody, with a store it can write to
	# (when nobody can run the build's programs at all: not in a private
	# build directory, as CI's out-of-tree stages use).
	if ! $as_nobody test -x "$bin/prog_node_worker"; then
		echo "note: user nobody cannot run $bin/prog_node_worker (a private build directory); the job run as nobody is not tried"
		rm -f "$SBMA_DIR/real-copy"
		return
	fi
	nobody_dir=$(mktemp -d /dev/shm/sbma-test-nobody.XXXXXX)
	chown nobody "$nobody_dir"
	nseg=$(echo "$seg" | sed 's|/sbma-0-|/sbma-65534-|')
	run_nobody() {
		$as_nobody env SBMA_DIR="$nobody_dir" "$bin/prog_node_worker" -m 4 -s 1 2>&1 >/dev/null
	}
	err=$(run_nobody)
	if [ $? -ne 0 ] || [ -e "$nseg" ]; then
		fail "a job run as nobody without a pre-created name did not run cleanly: $err"
	else
		echo "ok: a job run as nobody runs (and removes $nseg)"
	fi
	mv "$SBMA_DIR/real-copy" "$nseg"
	chmod 666 "$nseg"
	sum=$(md5sum <"$nseg")
	err=$(run_nobody)
	st=$?
	if [ $st -ne 1 ] || ! echo "$err" | grep -q "$nseg" || ! echo "$err" | grep -q "belongs to another user"; then
		fail "root's file at the name of nobody's job: exit $st, want 1 and the name and reason: $err"
	else
		echo "ok: root's file at nobody's job's name refused: $err"
	fi
	expect_untouched "root's file" "$nseg" "$sum"
	rm -f "$nseg"
	rm -rf "$nobody_dir"
}

# expect_refusal_keep NAME REASON: as expect_refusal, leaving the file.
expect_refusal_keep() {
	err=$("$bin/prog_node_worker" -m 4 -s 1 2>&1 >/dev/null)
	st=$?
	if [ $st -ne 1 ]; then
		fail "$1: worker exited with $st, expected 1 (refused)"
	elif ! echo "$err" | grep -q "$seg" || ! echo "$err" | grep -q "$2"; then
		fail "$1: message does not name the segment and '$2': $err"
	else
		echo "ok: $1: $err"
	fi
}

head -c 200000 /dev/urandom >"$seg" && chmod 600 "$seg"
expect_refusal "random bytes" "wrong magic"

printf 'x' >"$seg" && chmod 600 "$seg"
expect_refusal "a 1-byte file" "too small"

head -c 200000 /dev/zero >"$seg" && chmod 644 "$seg"
expect_refusal "mode 0644" "mode is not 0600"

# A real segment left behind by a killed process: stale.
if ! leave_stale "$SBMA_JOB" "$seg" 3; then
	fail "no segment left behind by a killed process (the test needs one)"
else
	cp "$seg" "$SBMA_DIR/stale-copy"
	# Put back at once before the next process: a test running beside
	# this one may have swept it meanwhile (any job that creates its
	# segment removes the stale ones of the user's other jobs).
	# Even so, one started in the instant between the put-back and
	# our worker's open can win (seen once in CI): then our worker made
	# a new segment and says nothing of the stale one. Up to 3 tries; a
	# process that joins the stale segment fails every one.
	tries=0
	while :; do
		tries=$((tries + 1))
		cp "$SBMA_DIR/stale-copy" "$seg.new" && chmod 600 "$seg.new" && mv -f "$seg.new" "$seg"
		out=$(SBMA_VERBOSE=1 "$bin/prog_node_worker" -m 4 -s 1 2>&1)
		st=$?
		if [ $st -ne 0 ] || echo "$out" | grep -q "removed the stale node segment" || [ $tries -ge 3 ]; then
			break
		fi
	done
	if [ $st -ne 0 ]; then
		fail "stale segment: the next process failed: $out"
	elif ! echo "$out" | grep -q "removed the stale node segment"; then
		fail "stale segment: not reported as replaced in $tries tries: $out"
	else
		echo "ok: stale segment replaced (try $tries)"
	fi
	# The same segment with its version field (bytes 8-11) changed.
	rm -f "$seg"
	cp "$SBMA_DIR/stale-copy" "$seg" && chmod 600 "$seg"
	rm -f "$SBMA_DIR/stale-copy"
	printf '\007' | dd of="$seg" bs=1 seek=8 conv=notrunc 2>/dev/null
	expect_refusal "version 7" "another SBMA version"
fi

# A stale segment of another job (its launcher's job name will never come
# back) is removed when a job creates its segment.
other=$("$bin/prog_node_probe" name "$SBMA_JOB-other")
if ! leave_stale "$SBMA_JOB-other" "$other" 4; then
	fail "no segment left behind by a killed process of another job (the test needs one)"
else
	"$bin/prog_node_worker" -m 4 -s 1 || fail "the worker after another job's crash failed"
	if [ -e "$other" ]; then
		fail "the stale segment of another job was not removed"
		rm -f "$other"
	else
		echo "ok: stale segment of another job removed"
	fi
fi

if [ "$(id -u)" -eq 0 ] && id nobody >/dev/null 2>&1; then
	head -c 200000 /dev/zero >"$seg" && chmod 600 "$seg" && chown nobody "$seg"
	expect_refusal "owned by nobody" "belongs to another user"
	pre_created_by_another_user
else
	echo "skip: another owner, names pre-created by another user (needs root)"
fi

err=$(SBMA_JOB='a/b' "$bin/prog_node_worker" -m 4 -s 1 2>&1)
if [ $? -eq 1 ] && echo "$err" | grep -q "SBMA_JOB"; then
	echo "ok: SBMA_JOB=a/b refused: $err"
else
	fail "SBMA_JOB=a/b not refused by name: $err"
fi

[ $fails -eq 0 ] || exit 1
echo "PASS"
