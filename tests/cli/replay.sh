#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# replay.sh - `tapedeck replay` against the project's key/value peer on 127.0.0.1: verification, order, timing, mutation, output, exit codes.
. "${TOP_SRCDIR:-$(dirname "$0")/../..}/tests/cli/lib.sh"

KV=$TOP_BUILDDIR/tests/peers/kvserver
[ -x "$KV" ] || skip "no tests/peers/kvserver in $TOP_BUILDDIR"
command -v python3 >/dev/null 2>&1 || skip "python3 is needed to read the JSON reports"
cd "$TMP" || exit 1

# start_kv NAME [ARG...]: starts a peer logging to NAME.log; its port in
# NAME.port and in $PORT.
start_kv() {
	_name=$1
	shift
	peer_start "$_name" "$KV" --port-file "$_name.port" --log "$_name.log" "$@"
	eval "${_name}_PID=\$PEER_PID"
	PORT=$PEER_PORT
}

T=$(printf '\t')
# A stateful session on two connections: conn 2 reads what conn 1 wrote, and
# the server ends conn 2 (QUIT: BYE, then its FIN).
cat >session.tsv <<EOF
# tapedeck tsv v1
0${T}1${T}open${T}10.0.0.2:40000${T}10.0.0.1:7000
100${T}1${T}c2s${T}$(hex_esc 'GET counter\n')
200${T}1${T}s2c${T}$(hex_esc 'NIL\n')
300${T}2${T}open${T}10.0.0.2:40001${T}10.0.0.1:7000
400${T}1${T}c2s${T}$(hex_esc 'INCR counter\n')
500${T}1${T}s2c${T}$(hex_esc 'INT 1\n')
600${T}2${T}c2s${T}$(hex_esc 'GET counter\n')
700${T}2${T}s2c${T}$(hex_esc 'VALUE 1\n')
800${T}1${T}fin${T}c2s
900${T}1${T}fin${T}s2c
1000${T}1${T}close${T}fin
1100${T}2${T}c2s${T}$(hex_esc 'QUIT\n')
1200${T}2${T}s2c${T}$(hex_esc 'BYE\n')
1200${T}2${T}fin${T}s2c
1300${T}2${T}fin${T}c2s
1300${T}2${T}close${T}fin
EOF

# ---- a fresh server answers as recorded
start_kv fresh
td replay session.tsv --target "127.0.0.1:$PORT" --verify --report r.json
assert_contains "$ERR" "2 connections (of 2 on the tape, recorded server 10.0.0.1:7000)"
assert_contains "$ERR" "0 with mismatches"
json r.json 'd["exit"] == 0' 'd["stats"]["ok"] == 2' 'd["stats"]["mismatches"] == 0' \
	'd["stats"]["bytes_received"] == d["stats"]["bytes_expected"] == 22' \
	'[c["status"] for c in d["connections"]] == ["ok", "ok"]' 'd["mismatches"] == []' \
	'd["ordered"] is True' 'd["server"] == "10.0.0.1:7000"'
# The server saw both connections end with a FIN from us.
[ "$(grep -c ' eof$' fresh.log)" -eq 2 ] || fail "fresh.log: expected 2 client FINs: $(cat fresh.log)"

# ---- a server in another state: exit 1 and where it differs
start_kv other --preload counter=41
run_expect_status 1 "$TAPEDECK" replay session.tsv --target "127.0.0.1:$PORT" --verify --timing none \
	--report r.json
assert_contains "$ERR" "mismatch: connection 1, s2c offset 0 (received offset 0)"
assert_contains "$ERR" "4e 49 4c 0a" # NIL
assert_contains "$ERR" "56 41 4c 55 45 20 34 31" # VALUE 41
assert_contains "$ERR" "mismatch: connection 2, s2c offset 6"
json r.json 'd["exit"] == 1' 'd["stats"]["mismatched"] == 2' 'd["stats"]["failed"] == 0' \
	'd["mismatches"][0]["conn"] == 1 and d["mismatches"][0]["expected_offset"] == 0' \
	'bytes.fromhex(d["mismatches"][0]["received_hex"]) == b"VALUE 41\n"' \
	'bytes.fromhex(d["mismatches"][0]["expected_hex"]) == b"NIL\n"' \
	'd["mismatches"][1]["expected_offset"] == 8 and d["mismatches"][1]["received_offset"] == 13' \
	'"INT 1" in d["mismatches"][1]["report"] or "49 4e 54 20 31" in d["mismatches"][1]["report"]'
# Line diffs for text protocols.
start_kv other2 --preload counter=41
run_expect_status 1 "$TAPEDECK" replay session.tsv --target "127.0.0.1:$PORT" --verify --text-diff
assert_contains "$ERR" "+++ received"
assert_contains "$ERR" "+VALUE 41"

# ---- the order across connections is kept: conn 2's GET always follows
# conn 1's INCR and its answer, even as fast as possible
for i in 1 2 3; do
	start_kv "order$i"
	td replay session.tsv --target "127.0.0.1:$PORT" --verify --timing none -q
	assert_empty "$ERR"
done

# ---- independent connections, unordered, with a concurrency cap
{
	echo "# tapedeck tsv v1"
	for i in 1 2 3 4 5 6; do
		t=$((i * 10))
		echo "$t${T}$i${T}open${T}10.0.0.2:$((40000 + i))${T}10.0.0.1:7000"
		echo "$((t + 1))${T}$i${T}c2s${T}$(hex_esc "SET k$i v$i\nGET k$i\n")"
		echo "$((t + 2))${T}$i${T}s2c${T}$(hex_esc "OK\nVALUE v$i\n")"
		echo "$((t + 3))${T}$i${T}close${T}end"
	done
} >indep.tsv
start_kv indep
td replay indep.tsv --target "127.0.0.1:$PORT" --verify --unordered --report r.json
json r.json 'd["ordered"] is False' 'd["stats"]["ok"] == 6' 'd["stats"]["mismatches"] == 0'
td replay indep.tsv --target "127.0.0.1:$PORT" --verify --unordered --concurrency 2 --timing none \
	--loop 3 --report r.json
json r.json 'd["stats"]["connections"] == 18' 'd["stats"]["ok"] == 18' 'd["loops"] == 3'

# ---- timing: the recorded gaps are kept (1 s of PINGs), scaled by --speed
{
	echo "# tapedeck tsv v1"
	echo "0${T}1${T}open${T}10.0.0.2:40000${T}10.0.0.1:7000"
	for i in 0 1 2 3 4; do
		echo "$((i * 250000 + 10))${T}1${T}c2s${T}$(hex_esc 'PING\n')"
		echo "$((i * 250000 + 20))${T}1${T}s2c${T}$(hex_esc 'PONG\n')"
	done
	echo "1000030${T}1${T}close${T}end"
} >slow.tsv
start_kv timing
td replay slow.tsv --target "127.0.0.1:$PORT" --verify --report r.json
assert_contains "$ERR" "timing: original x1; schedule skew p50"
json r.json 'd["stats"]["recorded_ns"] == 1000030000' \
	'0.7e9 < d["stats"]["duration_ns"] < 1.3e9' 'd["stats"]["skew_samples"] == 6'
td replay slow.tsv --target "127.0.0.1:$PORT" --verify --speed 2 --report r.json
json r.json '0.35e9 < d["stats"]["duration_ns"] < 0.65e9' 'd["stats"]["scheduled_ns"] == 500015000'
td replay slow.tsv --target "127.0.0.1:$PORT" --verify --max-delay 10 --report r.json
json r.json 'd["stats"]["duration_ns"] < 0.3e9' 'd["stats"]["scheduled_ns"] <= 60000000'
td replay slow.tsv --target "127.0.0.1:$PORT" --verify --timing none --report r.json
json r.json 'd["stats"]["duration_ns"] < 0.3e9' 'd["stats"]["skew_samples"] == 0'

# ---- FIN and reset are played back
cat >ends.tsv <<EOF
# tapedeck tsv v1
0${T}1${T}open${T}10.0.0.2:40000${T}10.0.0.1:7000
1${T}1${T}c2s${T}$(hex_esc 'PING\n')
2${T}1${T}s2c${T}$(hex_esc 'PONG\n')
3${T}1${T}rst${T}c2s
3${T}1${T}close${T}rst
10${T}2${T}open${T}10.0.0.2:40001${T}10.0.0.1:7000
11${T}2${T}c2s${T}$(hex_esc 'PING\n')
12${T}2${T}s2c${T}$(hex_esc 'PONG\n')
13${T}2${T}fin${T}c2s
14${T}2${T}fin${T}s2c
14${T}2${T}close${T}fin
EOF
start_kv ends
td replay ends.tsv --target "127.0.0.1:$PORT" --verify --record ends-out.tsv
sleep 0.2
grep -q '^1 reset$' ends.log || fail "the server did not see conn 1's reset: $(cat ends.log)"
grep -q '^2 eof$' ends.log || fail "the server did not see conn 2's FIN: $(cat ends.log)"
grep -q "${T}1${T}rst${T}c2s" ends-out.tsv || fail "no rst c2s in the record: $(cat ends-out.tsv)"
grep -q "${T}2${T}fin${T}s2c" ends-out.tsv || fail "no fin s2c in the record: $(cat ends-out.tsv)"
grep -q "${T}2${T}close${T}fin" ends-out.tsv || fail "conn 2 did not close with fin: $(cat ends-out.tsv)"
# A recorded server reset is waited for, and accepted.
cat >srst.tsv <<EOF
# tapedeck tsv v1
0${T}1${T}open${T}10.0.0.2:40000${T}10.0.0.1:7000
1${T}1${T}c2s${T}$(hex_esc 'RESET\n')
2${T}1${T}rst${T}s2c
2${T}1${T}close${T}rst
EOF
td replay srst.tsv --target "127.0.0.1:$PORT" --verify
# An unexpected one fails the connection (exit 3).
cat >urst.tsv <<EOF
# tapedeck tsv v1
0${T}1${T}open${T}10.0.0.2:40000${T}10.0.0.1:7000
1${T}1${T}c2s${T}$(hex_esc 'RESET\n')
2${T}1${T}s2c${T}$(hex_esc 'OK\n')
3${T}1${T}c2s${T}$(hex_esc 'PING\n')
4${T}1${T}s2c${T}$(hex_esc 'PONG\n')
5${T}1${T}close${T}end
EOF
run_expect_status 3 "$TAPEDECK" replay urst.tsv --target "127.0.0.1:$PORT" --timing none
assert_contains "$ERR" "connection 1: "

# ---- --record writes the actual exchange; describe reads it
start_kv rec
td replay session.tsv --target "127.0.0.1:$PORT" --record out.tape --timing none
td describe --json out.tape
cp "$OUT" describe.json
json describe.json 'len(d["connections"]) == 2' \
	'[(c["conn"], c["c2s_bytes"], c["s2c_bytes"], c["close"]) for c in d["connections"]] == [(1, 25, 10, "fin"), (2, 17, 12, "fin")]' \
	'all(c["server"] == "127.0.0.1:'"$PORT"'" for c in d["connections"])'
td convert out.tape out.tsv
grep -q "${T}c2s${T}$(hex_esc 'INCR counter\n')" out.tsv || fail "INCR not in the record"
grep -q "${T}s2c${T}$(hex_esc 'INT 1\n')" out.tsv || fail "INT 1 not in the record"
grep -q "^# source: tapedeck replay of session.tsv" out.tsv || fail "no source in the record"

# ---- --replace rewrites chunks (C escapes), before --verify compares
cat >echo.tsv <<EOF
# tapedeck tsv v1
0${T}1${T}open${T}10.0.0.2:40000${T}10.0.0.1:7000
1${T}1${T}c2s${T}$(hex_esc 'hello world\n')
2${T}1${T}s2c${T}$(hex_esc 'hello world\n')
3${T}1${T}close${T}end
EOF
start_kv echo --mode echo
td replay echo.tsv --target "127.0.0.1:$PORT" --verify
run_expect_status 1 "$TAPEDECK" replay echo.tsv --target "127.0.0.1:$PORT" --verify \
	--replace 'world=there' --replace 'hello\x20=bye\t' --record rep.tsv --report r.json
grep -q "${T}c2s${T}$(hex_esc 'bye\tthere\n')" rep.tsv || fail "rewritten chunk not sent: $(cat rep.tsv)"
json r.json 'd["stats"]["chunks_rewritten"] == 1' 'bytes.fromhex(d["mismatches"][0]["received_hex"]) == b"bye\tthere\n"'
run_expect_status 2 "$TAPEDECK" replay echo.tsv --target "127.0.0.1:$PORT" --replace 'noequals'
run_expect_status 2 "$TAPEDECK" replay echo.tsv --target "127.0.0.1:$PORT" --replace '=x'
run_expect_status 2 "$TAPEDECK" replay echo.tsv --target "127.0.0.1:$PORT" --replace 'a\q=b'

# ---- --ignore masks bytes that change
cat >date.tsv <<EOF
# tapedeck tsv v1
0${T}1${T}open${T}10.0.0.2:40000${T}10.0.0.1:7000
1${T}1${T}c2s${T}$(hex_esc 'DATE\nPING\n')
2${T}1${T}s2c${T}$(hex_esc 'DATE 1795255200000000000\nPONG\n')
3${T}1${T}close${T}end
EOF
start_kv date
run_expect_status 1 "$TAPEDECK" replay date.tsv --target "127.0.0.1:$PORT" --verify
td replay date.tsv --target "127.0.0.1:$PORT" --verify --ignore 'DATE [0-9]+'
run_expect_status 2 "$TAPEDECK" replay date.tsv --target "127.0.0.1:$PORT" --verify --ignore '('

# ---- --sample is deterministic for a seed
{
	echo "# tapedeck tsv v1"
	for i in $(seq 1 20); do
		echo "$i${T}$i${T}open${T}10.0.0.2:$((40000 + i))${T}10.0.0.1:7000"
		echo "$i${T}$i${T}c2s${T}$(hex_esc 'PING\n')"
		echo "$i${T}$i${T}s2c${T}$(hex_esc 'PONG\n')"
		echo "$i${T}$i${T}close${T}end"
	done
} >many.tsv
start_kv sample
for f in s1 s2; do
	td replay many.tsv --target "127.0.0.1:$PORT" --verify --timing none --sample 0.5 --seed 7 --report "$f.json"
done
python3 - s1.json s2.json <<'EOF' || fail "--sample --seed 7 is not deterministic"
import json, sys
a, b = ([c["conn"] for c in json.load(open(f))["connections"]] for f in sys.argv[1:])
assert a == b and 0 < len(a) < 20, (a, b)
EOF
td replay many.tsv --target "127.0.0.1:$PORT" --timing none --sample 0.5 --seed 8 --report s3.json
python3 - s1.json s3.json <<'EOF' || fail "--seed does not change the sample"
import json, sys
a, b = ([c["conn"] for c in json.load(open(f))["connections"]] for f in sys.argv[1:])
assert a != b, (a, b)
EOF
run_expect_status 2 "$TAPEDECK" replay many.tsv --target "127.0.0.1:$PORT" --sample 1.5

# ---- --middleware: the line protocol
start_kv mw
td replay session.tsv --target "127.0.0.1:$PORT" --verify --timing none \
	--middleware 'while read -r cmd conn index dir hex; do echo PASS; done'
cat >mw.py <<'EOF'
import sys
for line in sys.stdin:
    cmd, conn, index, d, hexdata = line.split()
    data = bytes.fromhex(hexdata)
    assert cmd == "CHUNK" and d == "c2s"
    if data == b"PING\n":
        print("SEND " + b"ECHO mw\n".hex(), flush=True)
    elif data == b"SKIPME\n":
        print("SKIP", flush=True)
    elif data == b"ABORTME\n":
        print("ABORT asked to", flush=True)
    else:
        print("PASS", flush=True)
EOF
cat >mw.tsv <<EOF
# tapedeck tsv v1
0${T}1${T}open${T}10.0.0.2:40000${T}10.0.0.1:7000
1${T}1${T}c2s${T}$(hex_esc 'PING\n')
2${T}1${T}s2c${T}$(hex_esc 'mw\n')
3${T}1${T}c2s${T}$(hex_esc 'SKIPME\n')
4${T}1${T}s2c${T}$(hex_esc 'ERR unknown command\n')
5${T}1${T}c2s${T}$(hex_esc 'PING\n')
6${T}1${T}s2c${T}$(hex_esc 'mw\n')
7${T}1${T}close${T}end
10${T}2${T}open${T}10.0.0.2:40001${T}10.0.0.1:7000
11${T}2${T}c2s${T}$(hex_esc 'ABORTME\n')
12${T}2${T}s2c${T}$(hex_esc 'ERR unknown command\n')
13${T}2${T}close${T}end
EOF
td replay mw.tsv --target "127.0.0.1:$PORT" --verify --timing none --middleware "python3 mw.py" \
	--record mw-out.tsv --report r.json
json r.json 'd["stats"]["chunks_skipped"] == 1' 'd["stats"]["chunks_rewritten"] == 2' \
	'd["stats"]["aborted"] == 1' 'd["stats"]["mismatches"] == 0' \
	'[c["status"] for c in d["connections"] if c["conn"] == 2] == ["aborted"]' \
	'"asked to" in [c for c in d["connections"] if c["conn"] == 2][0]["detail"]'
grep -q "${T}c2s${T}$(hex_esc 'ECHO mw\n')" mw-out.tsv || fail "middleware's bytes not sent"
! grep -q "${T}c2s${T}$(hex_esc 'SKIPME\n')" mw-out.tsv || fail "skipped chunk was sent"
# A middleware that breaks the protocol or dies stops the replay: exit 4.
run_expect_status 4 "$TAPEDECK" replay mw.tsv --target "127.0.0.1:$PORT" --timing none --middleware 'echo HELLO'
assert_contains "$ERR" "middleware"
run_expect_status 4 "$TAPEDECK" replay mw.tsv --target "127.0.0.1:$PORT" --timing none --middleware 'exit 0'
assert_contains "$ERR" "without answering"

# ---- selection: the most frequent server, --server, --all with --map
cat >two.tsv <<EOF
# tapedeck tsv v1
0${T}1${T}open${T}10.0.0.2:40000${T}10.0.0.1:7000
1${T}1${T}c2s${T}$(hex_esc 'PING\n')
2${T}1${T}s2c${T}$(hex_esc 'PONG\n')
3${T}1${T}close${T}end
10${T}2${T}open${T}10.0.0.2:40001${T}10.0.0.9:8000
11${T}2${T}c2s${T}$(hex_esc 'PING\n')
12${T}2${T}s2c${T}$(hex_esc 'PONG\n')
13${T}2${T}close${T}end
20${T}3${T}open${T}10.0.0.2:40002${T}10.0.0.9:8000
21${T}3${T}c2s${T}$(hex_esc 'PING\n')
22${T}3${T}s2c${T}$(hex_esc 'PONG\n')
23${T}3${T}close${T}end
EOF
start_kv mapa
PA=$PORT
start_kv mapb
PB=$PORT
td replay two.tsv --target "127.0.0.1:$PA" --verify --timing none --report r.json
json r.json 'd["server"] == "10.0.0.9:8000"' '[c["conn"] for c in d["connections"]] == [2, 3]'
td replay two.tsv --target "127.0.0.1:$PA" --verify --timing none --server 10.0.0.1:7000 --report r.json
json r.json '[c["conn"] for c in d["connections"]] == [1]'
td replay two.tsv --all --map "10.0.0.1:7000=127.0.0.1:$PA" --map "10.0.0.9:8000=localhost:$PB" \
	--verify --timing none --report r.json
json r.json 'd["stats"]["ok"] == 3' \
	'[c["target"] for c in d["connections"]] == ["127.0.0.1:'"$PA"'", "127.0.0.1:'"$PB"'", "127.0.0.1:'"$PB"'"]'
run_expect_status 2 "$TAPEDECK" replay two.tsv --all --map "10.0.0.1:7000=127.0.0.1:$PA"
assert_contains "$ERR" "10.0.0.9:8000"
run_expect_status 2 "$TAPEDECK" replay two.tsv --target "127.0.0.1:$PA" --server 10.9.9.9:1
run_expect_status 2 "$TAPEDECK" replay two.tsv --target "127.0.0.1:$PA" --conn 4
assert_contains "$ERR" "connection 4 is not on the tape"

# ---- failures: refused (3), a silent service (3), a c2s gap (2), bad input (2)
start_kv gone
GONE=$PORT
bg_kill "$gone_PID"
run_expect_status 3 "$TAPEDECK" replay session.tsv --target "127.0.0.1:$GONE" --report r.json
assert_contains "$ERR" "connect-failed"
json r.json 'd["exit"] == 3' 'd["stats"]["connect_failures"] == 2' \
	'd["connections"][0]["error"] == "ECONNREFUSED" and d["connections"][0]["status"] == "connect-failed"'
start_kv mute --mode mute
run_expect_status 3 "$TAPEDECK" replay session.tsv --target "127.0.0.1:$PORT" --verify --timeout 300 --report r.json
assert_contains "$ERR" "nothing for 300 ms"
json r.json 'd["stats"]["timeouts"] >= 1'
run_expect_status 3 "$TAPEDECK" replay session.tsv --target "127.0.0.1:$PORT" --timeout 300
cat >gap.tsv <<EOF
# tapedeck tsv v1
0${T}1${T}open${T}10.0.0.2:40000${T}10.0.0.1:7000
1${T}1${T}gap${T}c2s${T}100
2${T}1${T}close${T}end
EOF
start_kv gapsrv
run_expect_status 2 "$TAPEDECK" replay gap.tsv --target "127.0.0.1:$PORT"
assert_contains "$ERR" "misses 100 client bytes"
printf 'not a tape\n' >bad.tsv
run_expect_status 2 "$TAPEDECK" replay bad.tsv --target "127.0.0.1:$PORT"
run_expect_status 2 "$TAPEDECK" replay missing.tsv --target "127.0.0.1:$PORT"
assert_contains "$ERR" "missing.tsv"

# ---- usage errors
run_expect_status 2 "$TAPEDECK" replay session.tsv
assert_contains "$ERR" "--target"
run_expect_status 2 "$TAPEDECK" replay --target 127.0.0.1:1
run_expect_status 2 "$TAPEDECK" replay session.tsv --target nowhere
run_expect_status 2 "$TAPEDECK" replay session.tsv --target 127.0.0.1:1 --concurrency 2
run_expect_status 2 "$TAPEDECK" replay session.tsv --target 127.0.0.1:1 --ignore x
run_expect_status 2 "$TAPEDECK" replay session.tsv --target 127.0.0.1:1 --timing fast
run_expect_status 2 "$TAPEDECK" replay session.tsv --target 127.0.0.1:1 --speed 0
run_expect_status 2 "$TAPEDECK" replay session.tsv --target 127.0.0.1:1 --conn 3-1
run_expect_status 2 "$TAPEDECK" replay session.tsv --target 127.0.0.1:1 --all --conn 1
run_expect_status 2 "$TAPEDECK" replay session.tsv --target 127.0.0.1:1 --record out.unknownext
run_expect_status 2 "$TAPEDECK" replay session.tsv --target 127.0.0.1:1 --no-such-option
assert_contains "$ERR" "Try 'tapedeck replay --help'"

exit 0
