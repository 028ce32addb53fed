#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# proxy_redis.sh - `tapedeck proxy` in front of a real redis-server on 127.0.0.1: redis-cli sessions recorded, then replayed and verified against a fresh server.
. "${TOP_SRCDIR:-$(dirname "$0")/../..}/tests/cli/lib.sh"

command -v redis-server >/dev/null 2>&1 || skip "no redis-server (Debian: apt-get install redis-server)"
command -v redis-cli >/dev/null 2>&1 || skip "no redis-cli"
command -v python3 >/dev/null 2>&1 || skip "python3 is needed to pick free ports"
cd "$TMP" || exit 1

# start_redis NAME: a throw-away redis-server; its port in $PORT.
start_redis() {
	redis_start "$1" || skip "redis-server would not start: $(tail -n 5 "$1.log")"
	PORT=$REDIS_PORT
}

start_redis a
td_start proxy proxy --listen 127.0.0.1:0 --target "127.0.0.1:$PORT" -w redis.tape --flush

run redis-cli -p "$LPORT" set greeting hello
assert_contains "$OUT" "OK"
run redis-cli -p "$LPORT" incr counter
run redis-cli -p "$LPORT" incr counter
assert_contains "$OUT" "2"
run redis-cli -p "$LPORT" get greeting
assert_contains "$OUT" "hello"
td_stop proxy

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
