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
#
# Servers and peers run in the background through td_start (tapedeck serve,
# proxy), peer_start and redis_start; they are registered with bg_register
# and killed, by process id, when the test ends, however it ends.

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

# Background processes still registered when the test ends are killed.  The
# tests set no EXIT trap of their own: they register their processes.
# (live_lib.sh, sourced after this file, sets its own.)
TD_BG_PIDS=

# bg_register PID...: the processes are killed when the test ends.
bg_register() {
	TD_BG_PIDS="$TD_BG_PIDS $*"
}

# bg_forget PID: PID has been waited for; by the end its number may be
# another process's.
bg_forget() {
	_bl=
	for _bp in $TD_BG_PIDS; do
		[ "$_bp" = "$1" ] || _bl="$_bl $_bp"
	done
	TD_BG_PIDS=$_bl
}

td_cleanup() {
	for _bp in $TD_BG_PIDS; do
		kill "$_bp" 2>/dev/null || :
	done
	rm -rf "$TMP"
}
trap td_cleanup EXIT
trap 'exit 1' HUP INT TERM
OUT=$TMP/stdout
ERR=$TMP/stderr

if command -v timeout >/dev/null 2>&1; then
	TIMEOUT="timeout $TD_TIMEOUT"
else
	TIMEOUT=
fi

# check_sanitizers [FILE WHAT]: fails when FILE (the last run's stderr)
# shows a sanitizer report from WHAT (the last run's command).
check_sanitizers() {
	if grep -E 'Sanitizer|runtime error' "${1:-$ERR}" >/dev/null 2>&1; then
		sed -n '1,40p' "${1:-$ERR}" >&2
		fail "sanitizer report from: ${2:-$LAST_CMD}"
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

# ---- servers and peers in the background ------------------------------------
#
# Their logs and port files (NAME.err, NAME.port, NAME.log) are in the
# current directory: the tests cd to $TMP.

# poll [-p PID] CMD [ARG...]: runs CMD (its output discarded) every 10 ms
# until it succeeds: returns 0 then, 1 after 500 tries (some 5 s) or once
# process PID has ended (CMD is tried a last time then).
poll() {
	_pp=
	if [ "$1" = -p ]; then
		_pp=$2
		shift 2
	fi
	_pi=0
	until "$@" >/dev/null 2>&1; do
		_pi=$((_pi + 1))
		[ "$_pi" -lt 500 ] || return 1
		if [ -n "$_pp" ] && ! kill -0 "$_pp" 2>/dev/null; then
			"$@" >/dev/null 2>&1 && return 0
			return 1
		fi
		sleep 0.01
	done
}

# free_port: a TCP port on 127.0.0.1 that nothing listens on now (python3).
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# td_start NAME CMD [ARG...]: `tapedeck CMD ARG...` in the background, its
# standard error in NAME.err; not under timeout(1), which would change the
# status a signal leaves.  Waits for its "listening on" line, and fails with
# the log when the process ends first or says nothing in some 5 s.  Sets
# TD_PID and LPORT, the port it listens on (127.0.0.1:PORT or [::1]:PORT).
# td_stop or td_wait NAME ends it; the EXIT trap kills it otherwise.
td_start() {
	_tn=$1
	shift
	"$TAPEDECK" "$@" 2>"$_tn.err" &
	TD_PID=$!
	bg_register "$TD_PID"
	eval "$(td_pidvar "$_tn")=\$TD_PID"
	if ! poll -p "$TD_PID" grep -q 'listening on' "$_tn.err"; then
		cat "$_tn.err" >&2
		fail "tapedeck $1 ($_tn) did not start"
	fi
	LPORT=$(sed -n -e 's/.*listening on [0-9.]*:\([0-9][0-9]*\),.*/\1/p' \
		-e 's/.*listening on \[[0-9A-Fa-f:.]*\]:\([0-9][0-9]*\),.*/\1/p' "$_tn.err")
	[ -n "$LPORT" ] || fail "no port in: $(cat "$_tn.err")"
}

# td_pidvar NAME: the name of the variable holding td_start NAME's pid.
td_pidvar() {
	printf 'TD_PID_%s\n' "$1" | sed 's/[^A-Za-z0-9_]/_/g'
}

# td_wait NAME WANT: waits for td_start NAME's process to end by itself (as
# with --once); fails on a sanitizer report in NAME.err, and unless its exit
# status is WANT.
td_wait() {
	eval "_tp=\${$(td_pidvar "$1"):-}"
	[ -n "$_tp" ] || fail "td_wait: nothing started as $1"
	_ts=0
	wait "$_tp" || _ts=$?
	bg_forget "$_tp"
	check_sanitizers "$1.err" "$1"
	[ "$_ts" -eq "$2" ] || { cat "$1.err" >&2; fail "$1 exited $_ts, expected $2"; }
}

# serve_settled LOG: every connection serve logged as taken is logged closed.
serve_settled() {
	[ "$(grep -c ' closed (' "$1")" -ge "$(grep -c ' plays recorded conn ' "$1")" ]
}

# td_stop NAME [WANT [SIGNAL]]: SIGNAL (INT) to td_start NAME's process,
# then td_wait NAME WANT (0), and it must have said "stopped:".  With WANT 0
# it must still have been running; otherwise it may have ended by itself
# already (as serve --abort on a mismatch).
td_stop() {
	eval "_tp=\${$(td_pidvar "$1"):-}"
	[ -n "$_tp" ] || fail "td_stop: nothing started as $1"
	# A serve whose clients are done may still be reading their last FIN
	# or reset: give it until every connection it took is closed (at most
	# some 5 s; after that the stop line's "still open" shows the rest).
	if grep -q '^tapedeck serve: listening' "$1.err" 2>/dev/null; then
		poll serve_settled "$1.err" || :
	fi
	_tk=0
	kill -"${3:-INT}" "$_tp" 2>/dev/null || _tk=1
	td_wait "$1" "${2:-0}"
	if [ "$_tk" -ne 0 ] && [ "${2:-0}" -eq 0 ]; then
		cat "$1.err" >&2
		fail "$1 had ended before SIG${3:-INT}"
	fi
	assert_contains "$1.err" "stopped:"
}

# peer_start NAME CMD [ARG...]: a peer (not tapedeck) in the background, its
# standard error in NAME.err; CMD is to write the port it listens on to
# NAME.port (named in ARG).  Waits for that, failing with the log when the
# process ends first or after some 5 s.  Sets PEER_PID and PEER_PORT.
peer_start() {
	_pn=$1
	shift
	rm -f "$_pn.port"
	"$@" 2>"$_pn.err" &
	PEER_PID=$!
	bg_register "$PEER_PID"
	poll -p "$PEER_PID" test -s "$_pn.port" || fail "$_pn did not start: $(cat "$_pn.err")"
	# shellcheck disable=SC2034 # read by the tests
	PEER_PORT=$(cat "$_pn.port")
}

# bg_kill PID: ends a background process with SIGTERM and waits for it,
# whatever its status.
bg_kill() {
	kill "$1" 2>/dev/null || fail "process $1 had already ended"
	wait "$1" 2>/dev/null || :
	bg_forget "$1"
}

# redis_ping PORT: 0 when a redis answers PING on 127.0.0.1:PORT (python3,
# no redis-cli needed).
redis_ping() {
	python3 - "$1" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1)
s.sendall(b"*1\r\n$4\r\nPING\r\n")
sys.exit(0 if s.recv(64) == b"+PONG\r\n" else 1)
EOF
}

# redis_start NAME [ARG...]: a throw-away redis-server on 127.0.0.1 (no
# persistence, NAME.rdb in $TMP, its log in NAME.log, ARGs added to its
# options).  Returns 0 once it answers PING, with REDIS_PORT its port and
# REDIS_PID its pid; 1 when it does not in some 5 s (for the caller to skip
# or fail, showing NAME.log).
redis_start() {
	_rn=$1
	shift
	REDIS_PORT=$(free_port)
	redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no --daemonize no \
		--dir "$TMP" --dbfilename "$_rn.rdb" "$@" >"$_rn.log" 2>&1 &
	REDIS_PID=$!
	bg_register "$REDIS_PID"
	poll -p "$REDIS_PID" redis_ping "$REDIS_PORT"
}

# Shell quoting is not needed for names under $TMP: mktemp makes them safe.
set -e

# hex TEXT: the bytes of TEXT, as is, in lower-case hex (the TSV payload form).
hex() {
	printf '%s' "$1" | od -An -tx1 | tr -d ' \n'
}

# hex_esc TEXT: the same with printf escapes in TEXT interpreted ("\r\n").
hex_esc() {
	# shellcheck disable=SC2059 # the escapes are the point
	printf "$1" | od -An -tx1 | tr -d ' \n'
}

# json FILE EXPR...: each Python expression over d (the parsed file) holds.
json() {
	_f=$1
	shift
	python3 - "$_f" "$@" <<'EOF' || fail "JSON check failed on $_f (after: $LAST_CMD)"
import json, sys
d = json.load(open(sys.argv[1]))
for e in sys.argv[2:]:
    if not eval(e):
        sys.stderr.write("not true: %s\n%s\n" % (e, json.dumps(d, indent=1)[:3000]))
        sys.exit(1)
EOF
}
