#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# proxy_redis.sh - `tapedeck proxy` in front of a real redis-server on 127.0.0.1: redis-cli sessions recorded, then replayed and verified against a fresh server.
. "${TOP_SRCDIR:-$(dirname "$0")/../..}/tests/cli/lib.sh"

command -v redis-server >/dev/null 2>&1 || skip "no redis-server (Debian: apt-get install redis-server)"
command -v redis-cli >/dev/null 2>&1 || skip "no redis-cli"
command -v python3 >/dev/null 2>&1 || skip "python3 is needed to pick free ports"
cd "$TMP" || exit 1

PIDS=
trap 'for p in $PIDS; do kill "$p" 2>/dev/null || :; done; rm -rf "$TMP"' EXIT

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_redis NAME: a throw-away redis-server; its port in $PORT.
start_redis() {
	PORT=$(free_port)
	redis-server --bind 127.0.0.1 --port "$PORT" --save '' --appendonly no --daemonize no \
		--dir "$TMP" --dbfilename "$1.rdb" >"$1.log" 2>&1 &
	PIDS="$PIDS $!"
	_i=0
	until redis-cli -p "$PORT" ping >/dev/null 2>&1; do
		_i=$((_i + 1))
		[ "$_i" -lt 500 ] || skip "redis-server would not start: $(tail -n 5 "$1.log")"
		sleep 0.01
	done
}

start_redis a
"$TAPEDECK" proxy --listen 127.0.0.1:0 --target "127.0.0.1:$PORT" -w redis.tape --flush 2>proxy.err &
PX=$!
PIDS="$PIDS $PX"
_i=0
until grep -q 'listening on' proxy.err 2>/dev/null; do
	_i=$((_i + 1))
	[ "$_i" -lt 500 ] || fail "proxy did not start: $(cat proxy.err)"
	sleep 0.01
done
LPORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\),.*/\1/p' proxy.err)

run redis-cli -p "$LPORT" set greeting hello
assert_contains "$OUT" "OK"
run redis-cli -p "$LPORT" incr counter
run redis-cli -p "$LPORT" incr counter
assert_contains "$OUT" "2"
run redis-cli -p "$LPORT" get greeting
assert_contains "$OUT" "hello"
kill -INT "$PX"
wait "$PX" || fail "proxy exited $? after SIGINT: $(cat proxy.err)"
if grep -E 'Sanitizer|runtime error' proxy.err >/dev/null; then
	cat proxy.err >&2
	fail "sanitizer report from the proxy"
fi

td describe --json redis.tape
assert_contains "$OUT" '"finalised":true'
[ "$(grep -o '"close":"fin"' "$OUT" | wc -l)" -eq 4 ] || fail "4 connections closed with fin expected: $(cat "$OUT")"
td convert redis.tape redis.tsv
grep -q "$(printf 'greeting' | od -An -tx1 | tr -d ' \n')" redis.tsv || fail "SET greeting not on the tape"
grep -q "$(printf '+OK\r\n' | od -An -tx1 | tr -d ' \n')" redis.tsv || fail "+OK not on the tape"

# The recording replays, verified, against a fresh server.
start_redis b
td replay redis.tape --target "127.0.0.1:$PORT" --all --verify
assert_contains "$ERR" "0 with mismatches"
exit 0
