# SPDX-License-Identifier: BSD-2-Clause
# live_lib.sh - helpers the live-capture tests source after lib.sh: the root check, background captures and peers, cleanup.
#
# Background processes are started through bg_start so that they are killed
# (by process id) and network namespaces removed however the test ends.

PEER="$TOP_SRCDIR/tests/cli/live_peer.py"
BG_PIDS=
NETNS=

live_cleanup() {
	for _p in $BG_PIDS; do
		kill -9 "$_p" 2>/dev/null || :
	done
	for _n in $NETNS; do
		ip netns del "$_n" 2>/dev/null || :
	done
}
trap 'live_cleanup; rm -rf "$TMP"' EXIT

# need_live: skips unless this process may capture on lo (root, or the
# capabilities); fails when a tool the tests need is missing.
need_live() {
	command -v python3 >/dev/null 2>&1 || fail "python3 is needed for the live-capture peers"
	run "$TAPEDECK" capture -q -i lo --duration 0.1 -w "$TMP/probe.tape"
	if [ "$STATUS" -ne 0 ]; then
		if grep -q 'permission' "$ERR"; then
			skip "no permission to capture on lo: $(head -n 1 "$ERR")"
		fi
		sed -n '1,10p' "$ERR" >&2
		fail "a capture on lo failed (exit $STATUS)"
	fi
}

# bg_start LOG CMD [ARG...]: CMD in the background, standard output and error
# in LOG; BG_PID is its process id.
bg_start() {
	_log=$1
	shift
	"$@" >"$_log" 2>&1 &
	BG_PID=$!
	BG_PIDS="$BG_PIDS $BG_PID"
}

# bg_wait PID SECONDS: waits for PID to exit; BG_STATUS is its exit status.
# Fails when it is still running after SECONDS (and kills it).
bg_wait() {
	_i=0
	while kill -0 "$1" 2>/dev/null; do
		_i=$((_i + 1))
		if [ "$_i" -gt $(($2 * 10)) ]; then
			kill -9 "$1" 2>/dev/null || :
			fail "process $1 still running after $2 s"
		fi
		sleep 0.1
	done
	set +e
	wait "$1"
	BG_STATUS=$?
	set -e
}

# wait_for FILE PATTERN SECONDS [PID]: waits until FILE has PATTERN; fails on
# timeout or when PID exits first.
wait_for() {
	_i=0
	until grep -q -e "$2" "$1" 2>/dev/null; do
		if [ -n "${4:-}" ] && ! kill -0 "$4" 2>/dev/null; then
			sed -n '1,20p' "$1" >&2
			fail "process $4 exited before '$2' appeared in $(basename "$1")"
		fi
		_i=$((_i + 1))
		[ "$_i" -le $(($3 * 10)) ] || { sed -n '1,20p' "$1" >&2; fail "no '$2' in $(basename "$1") after $3 s"; }
		sleep 0.1
	done
}

# cap_start LOG ARG...: `tapedeck capture ARG...` in the background, waiting
# until it listens; CAP_PID is its process id.  Run it through `ip netns exec
# NS` by setting CAP_NS.
cap_start() {
	_log=$1
	shift
	if [ -n "${CAP_NS:-}" ]; then
		bg_start "$_log" ip netns exec "$CAP_NS" "$TAPEDECK" capture "$@"
	else
		bg_start "$_log" "$TAPEDECK" capture "$@"
	fi
	CAP_PID=$BG_PID
	wait_for "$_log" 'listening on' 15 "$CAP_PID"
}

# cap_stop PID LOG [SIGNAL]: signals the capture (INT by default), waits for
# it and fails unless it exits 0 without a sanitizer report.
cap_stop() {
	kill -"${3:-INT}" "$1"
	bg_wait "$1" 30
	check_log "$2"
	if [ "$BG_STATUS" -ne 0 ]; then
		sed -n '1,30p' "$2" >&2
		fail "capture exited $BG_STATUS after SIG${3:-INT}"
	fi
}

# check_log LOG: fails when LOG shows a sanitizer report.
check_log() {
	if grep -E 'Sanitizer|runtime error' "$1" >/dev/null 2>&1; then
		sed -n '1,40p' "$1" >&2
		fail "sanitizer report in $(basename "$1")"
	fi
}

# peer_server NAME [ARG...]: a live_peer.py server (ARG: --bind ADDR); sets
# PORT.  Run in a namespace with SRV_NS.
peer_server() {
	_name=$1
	shift
	if [ -n "${SRV_NS:-}" ]; then
		bg_start "$TMP/$_name.log" ip netns exec "$SRV_NS" python3 "$PEER" server --port-file "$TMP/$_name.port" "$@"
	else
		bg_start "$TMP/$_name.log" python3 "$PEER" server --port-file "$TMP/$_name.port" "$@"
	fi
	_i=0
	until [ -s "$TMP/$_name.port" ]; do
		_i=$((_i + 1))
		[ "$_i" -le 100 ] || { cat "$TMP/$_name.log" >&2; fail "peer server $_name did not start"; }
		kill -0 "$BG_PID" 2>/dev/null || { cat "$TMP/$_name.log" >&2; fail "peer server $_name exited"; }
		sleep 0.1
	done
	PORT=$(cat "$TMP/$_name.port")
}

# peer_client ARG...: a live_peer.py client run to completion (appends to its
# --log); fails when it does.  Run in a namespace with CLI_NS.
peer_client() {
	if [ -n "${CLI_NS:-}" ]; then
		run ip netns exec "$CLI_NS" python3 "$PEER" client "$@"
	else
		run python3 "$PEER" client "$@"
	fi
	if [ "$STATUS" -ne 0 ]; then
		sed -n '1,20p' "$ERR" >&2
		fail "peer client failed: $LAST_CMD"
	fi
}

# http_server DIR: python3's http.server (a standard server from Debian) on
# 127.0.0.1 serving DIR, in a namespace with SRV_NS; sets HTTP_PORT.
http_server() {
	_bind=${2:-127.0.0.1}
	if [ -n "${SRV_NS:-}" ]; then
		bg_start "$TMP/http.log" ip netns exec "$SRV_NS" python3 -u -m http.server 0 --bind "$_bind" --directory "$1"
	else
		bg_start "$TMP/http.log" python3 -u -m http.server 0 --bind "$_bind" --directory "$1"
	fi
	wait_for "$TMP/http.log" ' port [0-9]' 15 "$BG_PID"
	HTTP_PORT=$(sed -n 's/.* port \([0-9][0-9]*\).*/\1/p' "$TMP/http.log" | head -n 1)
	[ -n "$HTTP_PORT" ] || fail "cannot tell the port of http.server"
}

# tsv_of TAPE: converts TAPE to TAPE.tsv, failing on any error or warning
# (a finalised tape reads back cleanly).
tsv_of() {
	run_expect_status 0 "$TAPEDECK" convert "$1" "$1.tsv"
	assert_empty "$ERR"
}

# peer_check ARG...: live_peer.py check; fails with its report unless it
# finds everything as expected.
peer_check() {
	run python3 "$PEER" check "$@"
	if [ "$STATUS" -ne 0 ]; then
		sed -n '1,40p' "$OUT" >&2
		sed -n '1,10p' "$ERR" >&2
		fail "the tape does not hold what the peers sent: check $*"
	fi
	note "$(head -n 1 "$OUT")"
}
