# SPDX-License-Identifier: BSD-2-Clause
# lib.sh - helpers sourced by the CLI tests: environment, a scratch directory, assertions.
#
# The tests run under `make check` with TAPEDECK (the binary), TOP_SRCDIR and
# TOP_BUILDDIR set; run by hand from a build directory they find them
# themselves.  Exit codes follow automake: 0 pass, 1 fail, 77 skip.
#
# Every command under test runs through run(), which captures its status,
# standard output ($OUT) and standard error ($ERR), kills it after
# TD_TIMEOUT seconds (so a hang is a failure, not a stuck build) and fails the
# test when a sanitizer complained, whatever the exit status.

ME=$(basename "$0" .sh)
TD_TIMEOUT=${TD_TIMEOUT:-20}

if [ -z "${TOP_SRCDIR:-}" ]; then
	TOP_SRCDIR=$(cd "$(dirname "$0")/../.." && pwd)
fi
TOP_BUILDDIR=${TOP_BUILDDIR:-$(pwd)}
TAPEDECK=${TAPEDECK:-$TOP_BUILDDIR/tools/tapedeck}
GEN_TAPE=$TOP_BUILDDIR/tests/gen_tape
export TOP_SRCDIR TOP_BUILDDIR TAPEDECK

# Messages go to stderr, which the test driver keeps in the .log file.
note() {
	printf '%s: %s\n' "$ME" "$*" >&2
}

fail() {
	printf 'FAIL: %s: %s\n' "$ME" "$*" >&2
	exit 1
}

skip() {
	printf 'SKIP: %s: %s\n' "$ME" "$*" >&2
	exit 77
}

[ -x "$TAPEDECK" ] || fail "no tapedeck binary at $TAPEDECK (set TAPEDECK)"

# Scratch directory, removed however the test ends.
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tapedeck-$ME.XXXXXX") || fail "mktemp failed"
trap 'rm -rf "$TMP"' EXIT
trap 'exit 1' HUP INT TERM
OUT=$TMP/stdout
ERR=$TMP/stderr

if command -v timeout >/dev/null 2>&1; then
	TIMEOUT="timeout $TD_TIMEOUT"
else
	TIMEOUT=
fi

# Fails when the last run's stderr shows a sanitizer report.
check_sanitizers() {
	if grep -E 'Sanitizer|runtime error' "$ERR" >/dev/null 2>&1; then
		sed -n '1,40p' "$ERR" >&2
		fail "sanitizer report from: $LAST_CMD"
	fi
}

# run CMD [ARG...]: runs CMD (standard input inherited) with a time limit;
# sets STATUS, leaves standard output in $OUT and standard error in $ERR.
run() {
	LAST_CMD="$*"
	set +e
	$TIMEOUT "$@" >"$OUT" 2>"$ERR"
	STATUS=$?
	set -e
	if [ -n "$TIMEOUT" ] && [ "$STATUS" -eq 124 ]; then
		fail "timed out after ${TD_TIMEOUT}s: $LAST_CMD"
	fi
	check_sanitizers
	return 0
}

# run_expect_status CODE CMD [ARG...]: run, and fail unless it exited CODE.
run_expect_status() {
	_want=$1
	shift
	run "$@"
	if [ "$STATUS" -ne "$_want" ]; then
		note "stderr of the failed command:"
		sed -n '1,20p' "$ERR" >&2
		fail "exit status $STATUS, expected $_want: $LAST_CMD"
	fi
}

# td ARG...: tapedeck, expected to succeed.
td() {
	run_expect_status 0 "$TAPEDECK" "$@"
}

# assert_contains FILE STRING: FILE has STRING (fixed string) somewhere.
assert_contains() {
	if ! grep -F -e "$2" "$1" >/dev/null 2>&1; then
		note "$1 is:"
		sed -n '1,20p' "$1" >&2
		fail "$(basename "$1") does not contain \"$2\" (after: $LAST_CMD)"
	fi
}

assert_not_contains() {
	if grep -F -e "$2" "$1" >/dev/null 2>&1; then
		note "$1 is:"
		sed -n '1,20p' "$1" >&2
		fail "$(basename "$1") contains \"$2\" (after: $LAST_CMD)"
	fi
}

# assert_empty FILE / assert_nonempty FILE
assert_empty() {
	if [ -s "$1" ]; then
		sed -n '1,20p' "$1" >&2
		fail "$(basename "$1") is not empty (after: $LAST_CMD)"
	fi
}

assert_nonempty() {
	[ -s "$1" ] || fail "$(basename "$1") is empty (after: $LAST_CMD)"
}

# assert_same_file A B: byte-identical, with a diff of text files on failure.
assert_same_file() {
	if ! cmp "$1" "$2" >/dev/null 2>&1; then
		cmp "$1" "$2" >&2 || :
		diff "$1" "$2" 2>/dev/null | sed -n '1,20p' >&2 || :
		fail "$1 and $2 differ"
	fi
}

# assert_eq GOT WANT WHAT
assert_eq() {
	[ "$1" = "$2" ] || fail "$3: got '$1', expected '$2'"
}

# need_gen_tape: skips the test when the random tape generator was not built.
need_gen_tape() {
	[ -x "$GEN_TAPE" ] || skip "no tests/gen_tape in $TOP_BUILDDIR"
}

# Shell quoting is not needed for names under $TMP: mktemp makes them safe.
set -e
