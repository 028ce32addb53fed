#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# serve_codecs.sh - record through `tapedeck proxy --framing F` then `tapedeck serve --framing F` for line, http1 and iso8583 (python peers, nginx + curl): byte-identical answers, mismatches, oversized frames.
. "${TOP_SRCDIR:-$(dirname "$0")/../..}/tests/cli/lib.sh"

command -v python3 >/dev/null 2>&1 || skip "python3 is needed for the peers"
PEER="python3 $TOP_SRCDIR/tests/peers/proxy_peer.py"
cd "$TMP" || exit 1

# ---- (a) every codec: record 3 clients through the proxy, serve the tape
# to 6 concurrent clients that split their writes oddly, byte-identical
# answers; a different second message is reported and closes only that
# connection.
for F in line http1 iso8583; do
	case $F in
	http1) MODE=http ;;
	*) MODE=$F ;;
	esac
	peer_start "srv-$F" $PEER serve "$MODE" "srv-$F.port"
	SRV=$PEER_PID
	td_start "px-$F" proxy --listen 127.0.0.1:0 --target "127.0.0.1:$PEER_PORT" --framing "$F" -w "$F.tape"
	run $PEER client "$LPORT" "$F" 3 t
	[ "$STATUS" -eq 0 ] || fail "$F clients through the proxy failed: $(cat "$ERR")"
	cp "$OUT" "rec.$F"
	[ "$(grep -c '|eof$' "rec.$F")" -eq 3 ] || { cat "rec.$F" >&2; fail "$F answers through the proxy"; }
	[ "$(sort -u "rec.$F" | wc -l)" -eq 1 ] || { cat "rec.$F" >&2; fail "$F answers differ between clients"; }
	td_stop "px-$F"
	bg_kill "$SRV"
	td describe --json "$F.tape"
	assert_contains "$OUT" '"finalised":true'
	td convert "$F.tape" "$F.tsv"
	assert_contains "$F.tsv" "# framing: $F"
	# One event per message: 3 requests and 3 answers per connection.
	[ "$(grep -c '	c2s	' "$F.tsv")" -eq 9 ] || { cat "$F.tsv" >&2; fail "$F: c2s events"; }
	[ "$(grep -c '	s2c	' "$F.tsv")" -eq 9 ] || { cat "$F.tsv" >&2; fail "$F: s2c events"; }

	# The peer is gone: the answers come from the tape.
	td_start "sv-$F" serve "$F.tape" --listen 127.0.0.1:0 --framing "$F"
	run $PEER client "$LPORT" "$F" 6 t
	[ "$STATUS" -eq 0 ] || fail "$F clients of serve failed: $(cat "$ERR")"
	head -n 1 "rec.$F" >want
	for i in 1 2 3 4 5 6; do cat want; done >want6
	assert_same_file "$OUT" want6
	# A mismatch in the second message: the first answer, then closed.
	run $PEER client "$LPORT" "$F" 1 u
	assert_eq "$(cat "$OUT")" "$(cut -d'|' -f1 want)|closed" "$F mismatching client"
	sleep 0.2
	assert_contains "sv-$F.err" "c2s mismatch"
	assert_contains "sv-$F.err" "75" # the 'u' in the report's hex
	# Served on after it.
	run $PEER client "$LPORT" "$F" 2 t
	assert_eq "$(sort -u "$OUT")" "$(cat want)" "$F served after a mismatch"
	td_stop "sv-$F"
	assert_contains "sv-$F.err" "9 connections, 8 matched, 1 mismatched"

	# Exit codes: --once 0 then 1, --abort 3.
	td_start "so-$F" serve "$F.tape" --listen 127.0.0.1:0 --framing "$F" --once -q
	run $PEER client "$LPORT" "$F" 1 t
	assert_same_file "$OUT" want
	td_wait "so-$F" 0
	td_start "sm-$F" serve "$F.tape" --listen 127.0.0.1:0 --framing "$F" --once -q
	run $PEER client "$LPORT" "$F" 1 u
	td_wait "sm-$F" 1
	assert_contains "sm-$F.err" "c2s mismatch"
	td_start "sa-$F" serve "$F.tape" --listen 127.0.0.1:0 --framing "$F" --abort -q
	run $PEER client "$LPORT" "$F" 1 u
	td_wait "sa-$F" 3
done

# ---- (b) an oversized frame closes only its connection, with a log line
td_start ov serve iso8583.tape --listen 127.0.0.1:0 --framing iso8583 --max-payload 16
$PEER client "$LPORT" iso8583 4 t >ov.good 2>ov.goode &
GOOD=$!
bg_register "$GOOD"
# A length header announcing 17 bytes, over the cap of 16.
run python3 -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"\x00\x11x")
try:
    print("closed" if s.recv(10) == b"" else "data")
except ConnectionResetError:
    print("reset")
' "$LPORT"
grep -q -x -e reset -e closed "$OUT" || fail "the oversized client was not cut off: $(cat "$OUT")"
wait "$GOOD" || fail "clients beside the oversized one failed: $(cat ov.goode)"
assert_eq "$(sort -u ov.good)" "$(head -n 1 rec.iso8583)" "answers beside the oversized frame"
sleep 0.2
assert_contains ov.err "c2s: iso8583 frame announces 17 payload bytes, over the cap of 16; closing the connection"
run $PEER client "$LPORT" iso8583 1 t
assert_same_file "$OUT" want
td_stop ov
# The same with line framing: a line longer than the cap.
td_start ovl serve line.tape --listen 127.0.0.1:0 --framing line --max-payload 12
run python3 -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"hello\n")
print(s.recv(100).decode().strip())
s.sendall(b"x" * 40)
try:
    print("closed" if s.recv(10) == b"" else "data")
except ConnectionResetError:
    print("reset")
' "$LPORT"
assert_eq "$(sed -n 1p "$OUT")" "re:hello" "line answer before the long line"
sed -n 2p "$OUT" | grep -q -x -e reset -e closed || fail "the long line was not cut off: $(cat "$OUT")"
run $PEER client "$LPORT" line 1 t
assert_same_file "$OUT" "$(head -n 1 rec.line >wantl && echo wantl)"
sleep 0.1
assert_contains ovl.err "closing the connection"
assert_contains ovl.err "12"
td_stop ovl

# ---- (c) nginx recorded through the proxy, served to the same curl
# requests: byte-identical status lines, headers (Date included, replayed
# from the tape) and bodies.
nginx_part() {
	command -v nginx >/dev/null 2>&1 || { note "no nginx: the nginx part is skipped"; return 0; }
	command -v curl >/dev/null 2>&1 || { note "no curl: the nginx part is skipped"; return 0; }
	NG=$TMP/ng
	mkdir -p "$NG/www/sub" "$NG/tmp" "$NG/logs"
	printf 'hello from nginx\n' >"$NG/www/a.txt"
	python3 -c 'import sys; sys.stdout.write("".join("line %06d of a larger body\n" % i for i in range(4000)))' \
		>"$NG/www/sub/big.txt"
	NPORT=$(free_port)
	# One process (no master, no user switch), everything under $NG.
	cat >"$NG/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $NG/nginx.pid;
error_log $NG/logs/error.log;
events { worker_connections 64; }
http {
	access_log $NG/logs/access.log;
	client_body_temp_path $NG/tmp/body;
	proxy_temp_path $NG/tmp/proxy;
	fastcgi_temp_path $NG/tmp/fastcgi;
	uwsgi_temp_path $NG/tmp/uwsgi;
	scgi_temp_path $NG/tmp/scgi;
	default_type text/plain;
	keepalive_requests 100;
	server {
		listen 127.0.0.1:$NPORT;
		root $NG/www;
	}
}
EOF
	nginx -p "$NG" -c "$NG/nginx.conf" -e "$NG/logs/error.log" >"$NG/logs/stdout" 2>&1 &
	NGX=$!
	bg_register "$NGX"
	_i=0
	until curl -s -o /dev/null "http://127.0.0.1:$NPORT/a.txt"; do
		_i=$((_i + 1))
		if [ "$_i" -ge 300 ] || ! kill -0 "$NGX" 2>/dev/null; then
			note "nginx would not start, the nginx part is skipped: $(tail -n 3 "$NG/logs/error.log" 2>/dev/null)"
			kill "$NGX" 2>/dev/null || :
			return 0
		fi
		sleep 0.02
	done
	td_start px-ng proxy --listen 127.0.0.1:0 --target "127.0.0.1:$NPORT" --framing http1 -w ng.tape
	# Keep-alive: one connection for the first group, HEAD and 404 included;
	# the Host header fixed so that the requests are the same for serve.
	ngcurl() {
		U=http://127.0.0.1:$1
		run curl -sS -i -H 'Host: tapedeck.test' "$U/a.txt" "$U/sub/big.txt" "$U/missing" \
			--next -sS -i -I -H 'Host: tapedeck.test' "$U/a.txt" \
			--next -sS -i -H 'Host: tapedeck.test' "$U/sub/big.txt"
		[ "$STATUS" -eq 0 ] || fail "curl against $2 failed: $(cat "$ERR")"
		cp "$OUT" "$2.out"
	}
	ngcurl "$LPORT" ng-rec
	assert_contains ng-rec.out "HTTP/1.1 404 Not Found"
	assert_contains ng-rec.out "hello from nginx"
	assert_contains ng-rec.out "line 003999 of a larger body"
	td_stop px-ng
	bg_kill "$NGX"
	td convert ng.tape ng.tsv
	[ "$(grep -c '	open	' ng.tsv)" -eq 1 ] || { sed -n '1,20p' ng.tsv >&2; fail "curl did not keep its connection alive"; }
	[ "$(grep -c '	c2s	' ng.tsv)" -eq 5 ] || fail "nginx: 5 requests expected in the tape"
	[ "$(grep -c '	s2c	' ng.tsv)" -eq 5 ] || fail "nginx: 5 responses expected in the tape"
	td_start sv-ng serve ng.tape --listen 127.0.0.1:0 --framing http1
	ngcurl "$LPORT" ng-got
	assert_same_file ng-rec.out ng-got.out
	# A different request on the same connection: reported, closed (curl
	# may retry it on a new connection, a mismatch too).
	run curl -sS -i -H 'Host: tapedeck.test' "http://127.0.0.1:$LPORT/a.txt" "http://127.0.0.1:$LPORT/other"
	[ "$STATUS" -ne 0 ] || fail "curl got an answer to an unrecorded request"
	td_stop sv-ng
	assert_contains sv-ng.err "c2s mismatch"
	grep -E -q 'stopped: [23] connections, 1 matched, [12] mismatched' sv-ng.err ||
		fail "serve counts: $(grep stopped: sv-ng.err)"
	note "nginx part: passed"
}
nginx_part

exit 0
