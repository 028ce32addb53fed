#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# proxy.sh - `tapedeck proxy` between python peers on 127.0.0.1: concurrent clients on one tape, half-close, len:8 framing, oversized frames, SIGINT, environment.
. "${TOP_SRCDIR:-$(dirname "$0")/../..}/tests/cli/lib.sh"

command -v python3 >/dev/null 2>&1 || skip "python3 is needed for the peers"
PEER="python3 $TOP_SRCDIR/tests/peers/proxy_peer.py"
cd "$TMP" || exit 1

# start_server NAME MODE: a peer server (echo, len8 or http); its port in
# $SPORT.
start_server() {
	peer_start "$1" $PEER serve "$2" "$1.port"
	SPORT=$PEER_PORT
}

# tsv FILE EXPR...: each Python expression holds over ev, the list of the
# tape's events (each a list of TSV fields), and conns, a dict of
# connection id -> its events.
tsv() {
	_f=$1
	shift
	python3 - "$_f" "$@" <<'PYEOF' || fail "tape check failed on $_f"
import sys
ev = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if not l.startswith("#")]
conns = {}
for e in ev:
    conns.setdefault(e[1], []).append(e[2:])
def data(c, d):
    return b"".join(bytes.fromhex(e[1]) for e in conns[c] if e[0] == d)
def msgs(c, d):
    return [bytes.fromhex(e[1]) for e in conns[c] if e[0] == d]
for x in sys.argv[2:]:
    if not eval(x):
        sys.stderr.write("not true: %s\n" % x)
        sys.stderr.write(open(sys.argv[1]).read()[:4000])
        sys.exit(1)
PYEOF
}

# ---- usage errors
run_expect_status 2 "$TAPEDECK" proxy --target 127.0.0.1:1
assert_contains "$ERR" "--listen ADDR:PORT is required"
run_expect_status 2 "$TAPEDECK" proxy --listen 127.0.0.1:0
assert_contains "$ERR" "--target HOST:PORT is required"
run_expect_status 2 "$TAPEDECK" proxy --listen 127.0.0.1:0 --target 127.0.0.1:1 --framing len:17
assert_contains "$ERR" "header length must be 1 to 16"
run_expect_status 2 "$TAPEDECK" proxy --listen 127.0.0.1:0 --target 127.0.0.1:1 --framing http2
assert_contains "$ERR" "unknown framing 'http2'"
run_expect_status 2 "$TAPEDECK" proxy --listen 127.0.0.1:0 --target 127.0.0.1:1 --max-payload 0
run_expect_status 2 "$TAPEDECK" proxy --listen nonsense --target 127.0.0.1:1
run_expect_status 2 "$TAPEDECK" proxy --listen 127.0.0.1:0 --target 127.0.0.1:1 extra

# ---- many concurrent clients, one tape, exact bytes, half-close both ways
start_server echo echo
ECHO=$SPORT
td_start p1 proxy --listen 127.0.0.1:0 --target "127.0.0.1:$ECHO" -w conc.tape
run $PEER client "$LPORT" echo 8 c
[ "$STATUS" -eq 0 ] || fail "clients failed: $(cat "$ERR")"
[ "$(grep -c '^re:c-[0-7]$' "$OUT")" -eq 8 ] || { cat "$OUT" >&2; fail "echo answers"; }
[ "$(grep -c '^bye$' "$OUT")" -eq 8 ] || fail "the server's bytes after the client's FIN were lost"
td_stop p1
td describe --json conc.tape
assert_contains "$OUT" '"finalised":true'
td convert conc.tape conc.tsv
tsv conc.tsv 'len(conns) == 8' \
	'sorted(data(c, "c2s") for c in conns) == [b"c-%d\n" % i for i in range(8)]' \
	'all(data(c, "s2c") == b"re:" + data(c, "c2s") + b"bye\n" for c in conns)' \
	'all(conns[c][0][0] == "open" and conns[c][-1] == ["close", "fin"] for c in conns)' \
	'all(["fin", "c2s"] in conns[c] and ["fin", "s2c"] in conns[c] for c in conns)' \
	'all(conns[c].index(["fin", "c2s"]) < [i for i, e in enumerate(conns[c]) if e[0] == "s2c"][-1] for c in conns)' \
	'len({e[1] for e in ev if e[2] == "open"}) == 8'
# The connections overlapped: a second one opened before the first closed.
tsv conc.tsv '[e[2] for e in ev].index("close") > [e[2] for e in ev].index("open") + 1'

# ---- len:8 framing: events are payloads, headers regenerated
start_server len8 len8
FR=$SPORT
td_start p2 proxy --listen 127.0.0.1:0 --target "127.0.0.1:$FR" --framing len:8 -w framed.tsv --flush
run $PEER client "$LPORT" len8 3 message
[ "$STATUS" -eq 0 ] || fail "framed clients failed: $(cat "$ERR")"
[ "$(grep -c '^echo: 1_message|echo: 2_message|eof$' "$OUT")" -eq 3 ] || { cat "$OUT" >&2; fail "framed answers"; }
# --flush: the events are in the file before the proxy stops.
tsv framed.tsv 'len(conns) == 3' 'all(msgs(c, "c2s") == [b"1_message", b"2_message"] for c in conns)' \
	'all(msgs(c, "s2c") == [b"echo: 1_message", b"echo: 2_message"] for c in conns)'
td_stop p2
assert_contains framed.tsv "# framing: len:8"
tsv framed.tsv 'all(conns[c][-1] == ["close", "fin"] for c in conns)'

# ---- http1 framing: keep-alive requests, chunked and HEAD responses
if command -v curl >/dev/null 2>&1; then
	start_server http http
	td_start ph proxy --listen 127.0.0.1:0 --target "127.0.0.1:$SPORT" --framing http1 -w http.tsv
	U=http://127.0.0.1:$LPORT
	run curl -sS "$U/a" "$U/chunked" --next -sS -I "$U/h" --next -sS "$U/b"
	[ "$STATUS" -eq 0 ] || fail "curl through the proxy failed: $(cat "$ERR")"
	assert_contains "$OUT" "body of /a"
	assert_contains "$OUT" "body of /b"
	td_stop ph
	tsv http.tsv 'len(conns) == 1' 'len(msgs("1", "c2s")) == 4' 'len(msgs("1", "s2c")) == 4' \
		'msgs("1", "s2c")[1].endswith(b"0\r\nX-T: 1\r\n\r\n")' \
		'msgs("1", "s2c")[2].endswith(b"Content-Length: 10\r\n\r\n")' \
		'msgs("1", "s2c")[3].endswith(b"body of /b")'
fi

# ---- an oversized frame closes only its connection
td_start p3 proxy --listen 127.0.0.1:0 --target "127.0.0.1:$FR" --framing len:8 --max-payload 16 -w over.tsv
run $PEER client "$LPORT" oversize 1 17
[ "$STATUS" -eq 0 ] || fail "oversize client failed: $(cat "$ERR")"
grep -q -x -e reset -e closed "$OUT" || fail "the oversized client was not cut off: $(cat "$OUT")"
assert_contains p3.err "c2s: len:8 frame announces 17 payload bytes, over the cap of 16; closing the connection"
# The proxy goes on serving (the 16-byte answers are at the cap, allowed).
run $PEER client "$LPORT" len8 2 abcdefgh
grep -c 'echo: 1_abcdefgh|echo: 2_abcdefgh|eof' "$OUT" | grep -q -x 2 || fail "not served after the oversized frame: $(cat "$OUT")"
td_stop p3
tsv over.tsv 'len(conns) == 3' 'conns["1"][-1] == ["close", "error"]' 'msgs("1", "c2s") == []' \
	'conns["2"][-1] == ["close", "fin"] and conns["3"][-1] == ["close", "fin"]'
assert_contains p3.err "1 closed for errors"

# ---- SIGINT with a connection open: closed as end, tape finalised
td_start p4 proxy --listen 127.0.0.1:0 --target "127.0.0.1:$ECHO" -w held.tape
$PEER client "$LPORT" hold 1 h >hold.out 2>hold.err &
HOLD=$!
bg_register "$HOLD"
poll grep -q holding hold.out || fail "held client did not get its answer: $(cat hold.err)"
td_stop p4
wait "$HOLD" || fail "held client failed: $(cat hold.err)"
td describe --json held.tape
assert_contains "$OUT" '"finalised":true'
assert_contains "$OUT" '"close":"end"'
assert_contains "$OUT" '"c2s_bytes":5,"s2c_bytes":8'

# ---- SIGTERM too, and no -w: a plain proxy
td_start p5 proxy --listen 127.0.0.1:0 --target "127.0.0.1:$ECHO" -q
run $PEER client "$LPORT" echo 2 plain
[ "$(grep -c '^re:plain-[01]$' "$OUT")" -eq 2 ] || fail "plain proxy answers: $(cat "$OUT")"
td_stop p5 0 TERM
assert_not_contains p5.err "conn 1"

# ---- the environment, and flags winning over it
TAPEDECK_LISTEN=127.0.0.1:0 TAPEDECK_TARGET="127.0.0.1:$FR" TAPEDECK_FRAMING=len:8 \
	TAPEDECK_WRITE=env.tsv TAPEDECK_FLUSH_INTERVAL=10 TAPEDECK_MAX_PAYLOAD=100 \
	td_start p6 proxy
run $PEER client "$LPORT" len8 1 env
assert_contains "$OUT" "echo: 1_env|echo: 2_env|eof"
td_stop p6
assert_contains p6.err "(framing len:8), recording to env.tsv"
tsv env.tsv 'msgs("1", "c2s") == [b"1_env", b"2_env"]'
# Flags win: the environment's target is wrong, framing raw from the flag.
TAPEDECK_LISTEN=127.0.0.1:1 TAPEDECK_TARGET=127.0.0.1:1 TAPEDECK_FRAMING=len:8 \
	TAPEDECK_WRITE=notthis.tsv td_start p7 proxy --listen 127.0.0.1:0 \
	--target "127.0.0.1:$ECHO" --framing raw -w flags.tsv
run $PEER client "$LPORT" echo 1 flag
assert_contains "$OUT" "re:flag-0"
td_stop p7
[ ! -e notthis.tsv ] || fail "TAPEDECK_WRITE was used over -w"
assert_contains flags.tsv "# framing: raw"
tsv flags.tsv 'data("1", "c2s") == b"flag-0\n"'
TAPEDECK_FRAMING=bogus run_expect_status 2 "$TAPEDECK" proxy --listen 127.0.0.1:0 --target 127.0.0.1:1
assert_contains "$ERR" "unknown framing 'bogus'"

# ---- a target that refuses: the client is reset, nothing recorded
td_start p8 proxy --listen 127.0.0.1:0 --target 127.0.0.1:1 -w refused.tsv
run $PEER client "$LPORT" oversize 1 1
td_stop p8
assert_contains p8.err "cannot connect to 127.0.0.1:1"
tsv refused.tsv 'len(ev) == 0'

exit 0
