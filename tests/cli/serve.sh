#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# serve.sh - `tapedeck serve` driven by python clients on 127.0.0.1: answers, choice of connection, greetings, mismatches, --abort, --once, concurrency, ts_proxy len:8 framing.
. "${TOP_SRCDIR:-$(dirname "$0")/../..}/tests/cli/lib.sh"

command -v python3 >/dev/null 2>&1 || skip "python3 is needed for the clients"
cd "$TMP" || exit 1

PIDS=
trap 'for p in $PIDS; do kill "$p" 2>/dev/null || :; done; rm -rf "$TMP"' EXIT

# A client: cl.py PORT OP...; ops: s:HEX sends, r:N reads N bytes and
# prints them as hex, all reads to EOF and prints hex, shut half-closes,
# f:HEX sends a len:8 frame, fr reads one len:8 frame and prints it, rst
# resets the connection and stops, sleep:S waits S seconds.
cat >cl.py <<'PYEOF'
import socket, struct, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
def rx(n):
    b = b""
    while len(b) < n:
        k = s.recv(n - len(b))
        if not k:
            break
        b += k
    return b
for op in sys.argv[2:]:
    if op.startswith("s:"):
        s.sendall(bytes.fromhex(op[2:]))
    elif op.startswith("f:"):
        p = bytes.fromhex(op[2:])
        s.sendall(struct.pack(">Q", len(p)) + p)
    elif op == "fr":
        h = rx(8)
        print("frame", rx(struct.unpack(">Q", h)[0]).hex() if len(h) == 8 else "eof")
    elif op.startswith("r:"):
        print(rx(int(op[2:])).hex())
    elif op == "shut":
        s.shutdown(socket.SHUT_WR)
    elif op == "rst":
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
        break
    elif op.startswith("sleep:"):
        time.sleep(float(op[6:]))
    elif op == "all":
        b = b""
        try:
            while True:
                k = s.recv(65536)
                if not k:
                    break
                b += k
        except ConnectionResetError:
            print("reset")
        print("all", b.hex())
PYEOF
CL="python3 cl.py"
hex() { printf '%s' "$1" | od -An -tx1 | tr -d ' \n'; }

# start_serve NAME ARG...: tapedeck serve in the background logging to
# NAME.err; its pid in $SV, its port in $LPORT.
start_serve() {
	_n=$1
	shift
	"$TAPEDECK" serve "$@" 2>"$_n.err" &
	SV=$!
	PIDS="$PIDS $SV"
	_i=0
	while ! grep -q 'listening on' "$_n.err" 2>/dev/null; do
		_i=$((_i + 1))
		if [ "$_i" -ge 500 ] || ! kill -0 "$SV" 2>/dev/null; then
			cat "$_n.err" >&2
			fail "serve $_n did not start"
		fi
		sleep 0.01
	done
	LPORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\),.*/\1/p' "$_n.err")
	[ -n "$LPORT" ] || fail "no port in: $(cat "$_n.err")"
}

# wait_serve NAME WANT: waits for the server to exit with status WANT.
wait_serve() {
	set +e
	wait "$SV"
	_st=$?
	set -e
	if grep -E 'Sanitizer|runtime error' "$1.err" >/dev/null; then
		sed -n '1,40p' "$1.err" >&2
		fail "sanitizer report from serve $1"
	fi
	[ "$_st" -eq "$2" ] || { cat "$1.err" >&2; fail "serve $1 exited $_st, expected $2"; }
}

stop_serve() {
	kill -INT "$SV"
	wait_serve "$1" 0
	assert_contains "$1.err" "stopped:"
}

# ---- a tape of two request/response connections, and a greeting one
cat >two.tsv <<EOF
# tapedeck tsv v1
0	1	open	127.0.0.1:40000	127.0.0.1:7000
10	1	c2s	$(hex 'GET a
')
20	1	s2c	$(hex 'answer a
')
30	1	c2s	$(hex 'GET a2
')
40	1	s2c	$(hex 'part1 ')
41	1	s2c	$(hex 'part2
')
50	1	fin	c2s
51	1	fin	s2c
52	1	close	fin
100	2	open	127.0.0.1:40001	127.0.0.1:7000
110	2	c2s	$(hex 'GET b
')
120	2	s2c	$(hex 'answer b
')
150	2	close	fin
EOF

start_serve s1 two.tsv --listen 127.0.0.1:0
# Connection 2 is chosen by its first bytes although 1 is unused.
run $CL "$LPORT" s:"$(hex 'GET b
')" r:9 shut all
[ "$STATUS" -eq 0 ] || fail "client failed: $(cat "$ERR")"
assert_eq "$(sed -n 1p "$OUT")" "$(hex 'answer b
')" "answer of conn 2"
assert_eq "$(sed -n 2p "$OUT")" "all " "end of conn 2"
# Connection 1, with two exchanges and a split answer.
run $CL "$LPORT" s:"$(hex 'GET a
')" r:9 s:"$(hex 'GET a2
')" r:12 shut all
assert_eq "$(sed -n 1p "$OUT")" "$(hex 'answer a
')" "first answer of conn 1"
assert_eq "$(sed -n 2p "$OUT")" "$(hex 'part1 part2
')" "second answer of conn 1"
# All used: available again.  Client bytes in pieces.
run $CL "$LPORT" s:"$(hex 'GE')" s:"$(hex 'T b
')" r:9 shut all
assert_eq "$(sed -n 1p "$OUT")" "$(hex 'answer b
')" "conn 2 again"
# A mismatch: reported with the offset and hex, the connection closed,
# serving goes on.
run $CL "$LPORT" s:"$(hex 'GET a
')" r:9 s:"$(hex 'GET XY
')" all
assert_contains "$OUT" "all"
sleep 0.2
assert_contains s1.err "c2s mismatch"
assert_contains s1.err "offset 10"
assert_contains s1.err "54 20 58 59 0a"
run $CL "$LPORT" s:"$(hex 'GET b
')" r:9 shut all
assert_eq "$(sed -n 1p "$OUT")" "$(hex 'answer b
')" "served after a mismatch"

# ---- several clients at once, on a tape of one connection (reused by all)
stop_serve s1
assert_contains s1.err "mismatched"
grep -v '	2	' two.tsv >one.tsv
start_serve s1b one.tsv --listen 127.0.0.1:0 -q
for i in 1 2 3 4 5 6; do
	$CL "$LPORT" s:"$(hex 'GET a
')" r:9 s:"$(hex 'GET a2
')" r:12 shut all >"conc.$i" 2>&1 &
	PIDS="$PIDS $!"
	eval "CP$i=\$!"
done
for i in 1 2 3 4 5 6; do
	eval "wait \$CP$i" || fail "concurrent client $i failed: $(cat "conc.$i")"
	assert_eq "$(sed -n 2p "conc.$i")" "$(hex 'part1 part2
')" "concurrent client $i"
done
stop_serve s1b
assert_contains s1b.err "6 connections, 6 matched, 0 mismatched"

# ---- --once: 0 when matched, 1 when not (the message has offset and hex)
start_serve s2 two.tsv --listen 127.0.0.1:0 --once
run $CL "$LPORT" s:"$(hex 'GET b
')" r:9 shut all
wait_serve s2 0
start_serve s3 two.tsv --listen 127.0.0.1:0 --once -q
run $CL "$LPORT" s:"$(hex 'GET b
')" r:9 s:"$(hex 'oops
')" all
wait_serve s3 1
assert_contains s3.err "first difference at offset 6"
assert_contains s3.err "70 73 0a"
# Client ends early: a mismatch too.
start_serve s3b two.tsv --listen 127.0.0.1:0 --once -q
run $CL "$LPORT" s:"$(hex 'GET a
')" r:9 shut all
wait_serve s3b 1
assert_contains s3b.err "ended its sending early"

# ---- --abort: 3 on the first mismatch
start_serve s4 two.tsv --listen 127.0.0.1:0 --abort -q
run $CL "$LPORT" s:"$(hex 'GET b
')" r:9 shut all
kill -0 "$SV" || fail "--abort server exited after a match"
run $CL "$LPORT" s:"$(hex 'GET a
')" r:9 s:"$(hex 'GET zz
')" all
wait_serve s4 3

# ---- --ignore masks, --no-assert counts only
start_serve s5 two.tsv --listen 127.0.0.1:0 --once --ignore 'a[0-9]'
run $CL "$LPORT" s:"$(hex 'GET a
')" r:9 s:"$(hex 'GET a7
')" r:12 shut all
wait_serve s5 0
start_serve s6 two.tsv --listen 127.0.0.1:0 --once --no-assert
run $CL "$LPORT" s:"$(hex 'xxxxxx')" r:9 s:"$(hex 'yyyyyyy')" r:12 shut all
assert_eq "$(sed -n 1p "$OUT")" "$(hex 'answer a
')" "--no-assert answer"
wait_serve s6 0
# It still counts: a client that ends early is a mismatch.
start_serve s6b two.tsv --listen 127.0.0.1:0 --once --no-assert
run $CL "$LPORT" s:"$(hex 'xxxxxx')" r:9 shut all
wait_serve s6b 1

# Masked fields may change length: "Host: h:8081" recorded, "Host: h:43211"
# sent, raw and framed, the request whole or cut inside the masked field.
cat >host.tsv <<EOF
# tapedeck tsv v1
0	1	open	127.0.0.1:40000	127.0.0.1:8081
1	1	c2s	$(hex 'GET /a
Host: h:8081
')
2	1	s2c	$(hex 'A
')
3	1	c2s	$(hex 'GET /b
Host: h:8081
')
4	1	s2c	$(hex 'B
')
5	1	close	end
10	2	open	127.0.0.1:40001	127.0.0.1:8081
11	2	c2s	$(hex 'GET /c
Host: h:8081
')
12	2	s2c	$(hex 'C
')
13	2	close	end
EOF
start_serve s5b host.tsv --listen 127.0.0.1:0 --ignore 'Host: [^
]*'
run $CL "$LPORT" s:"$(hex 'GET /c
Host: h:43211
')" r:2 shut all
assert_eq "$(sed -n 1p "$OUT")" "$(hex 'C
')" "masked field of another length chooses and matches"
run $CL "$LPORT" s:"$(hex 'GET /a
Ho')" sleep:0.02 s:"$(hex 'st: h:1
GET /b
Host: h:999999
')" r:4 shut all
assert_eq "$(sed -n 1p "$OUT")" "$(hex 'A
B
')" "masked requests back to back, the first cut inside its field"
# A real difference is still one, reported once the client goes quiet.
run $CL "$LPORT" s:"$(hex 'GET /a
Host: h:1
GET /x
')" r:2 sleep:0.5 shut all
sleep 0.2
assert_contains s5b.err "c2s mismatch"
stop_serve s5b
assert_contains s5b.err "3 connections, 2 matched, 1 mismatched"
# Framed: whole messages compared under the mask, whatever their lengths.
cat >hostl.tsv <<EOF
# tapedeck tsv v1
0	1	open	127.0.0.1:40000	127.0.0.1:8081
1	1	c2s	$(hex 'Host: k:8081
')
2	1	s2c	$(hex 'K
')
3	1	close	end
10	2	open	127.0.0.1:40001	127.0.0.1:8081
11	2	c2s	$(hex 'Host: h:8081
')
12	2	s2c	$(hex 'H
')
13	2	close	end
EOF
start_serve s5c hostl.tsv --listen 127.0.0.1:0 --framing line --once --ignore 'h:[0-9]+'
run $CL "$LPORT" s:"$(hex 'Host: h:43211
')" r:2 shut all
assert_eq "$(sed -n 1p "$OUT")" "$(hex 'H
')" "framed: the masked message of another length chooses its recording"
wait_serve s5c 0

# ---- server speaks first: the greeting at once
cat >greet.tsv <<EOF
# tapedeck tsv v1
0	1	open	127.0.0.1:40000	127.0.0.1:25
5	1	s2c	$(hex '220 hello
')
10	1	c2s	$(hex 'QUIT
')
20	1	s2c	$(hex '221 bye
')
30	1	close	fin
EOF
start_serve s7 greet.tsv --listen 127.0.0.1:0 --once --delay
run $CL "$LPORT" r:10 s:"$(hex 'QUIT
')" all
assert_eq "$(sed -n 1p "$OUT")" "$(hex '220 hello
')" "greeting"
assert_eq "$(sed -n 2p "$OUT")" "all $(hex '221 bye
')" "answer after the greeting"
wait_serve s7 0

# ---- a ts_proxy recording served to len:8-framed clients
printf '# ts_proxy recording v1\n123\tc2s\t68656c6c6f\n456\ts2c\t776f726c64\n' >rec.tsp
start_serve s8 rec.tsp --listen 127.0.0.1:0 --framing len:8
run $CL "$LPORT" f:68656c6c6f fr
assert_eq "$(cat "$OUT")" "frame 776f726c64" "framed answer"
# The framing compares messages: a different one is a mismatch.
run $CL "$LPORT" f:68656c6c6e all
stop_serve s8
assert_contains s8.err "c2s mismatch"

# ---- recorded FINs, resets and gaps are played, not only the data
# conn 1: the server half-closes after "A1" while the client still sends "b".
# conn 2: the server resets after its answer.
# conn 3: the client resets after its request.
# conn 4: 3 client bytes the recorder missed, taken unseen.
# conn 5: the server's bytes after "r1" were missed: the client gets "r1",
#         then the end.
# conn 6: the server answers only after the client's FIN.
cat >ends.tsv <<EOF
# tapedeck tsv v1
0	1	open	127.0.0.1:40000	127.0.0.1:7000
1	1	c2s	$(hex 'A1')
2	1	fin	s2c
3	1	c2s	$(hex 'b')
4	1	fin	c2s
5	1	close	fin
10	2	open	127.0.0.1:40001	127.0.0.1:7000
11	2	c2s	$(hex 'B2')
12	2	s2c	$(hex 'y')
13	2	rst	s2c
14	2	close	rst
20	3	open	127.0.0.1:40002	127.0.0.1:7000
21	3	c2s	$(hex 'C3')
22	3	rst	c2s
23	3	close	rst
30	4	open	127.0.0.1:40003	127.0.0.1:7000
31	4	c2s	$(hex 'D4')
32	4	gap	c2s	3
33	4	c2s	$(hex 'cd')
34	4	s2c	$(hex 'ok')
35	4	fin	c2s
36	4	fin	s2c
37	4	close	fin
40	5	open	127.0.0.1:40004	127.0.0.1:7000
41	5	c2s	$(hex 'E5')
42	5	s2c	$(hex 'r1')
43	5	gap	s2c	5
44	5	s2c	$(hex 'r2')
45	5	close	end
50	6	open	127.0.0.1:40005	127.0.0.1:7000
51	6	c2s	$(hex 'F6')
52	6	fin	c2s
53	6	s2c	$(hex 'late')
54	6	fin	s2c
55	6	close	fin
EOF
start_serve se ends.tsv --listen 127.0.0.1:0
# The server's FIN comes before the client sends "b": the client sees EOF
# without half-closing first.
run $CL "$LPORT" s:"$(hex 'A1')" all s:"$(hex 'b')" shut
assert_eq "$(cat "$OUT")" "all " "server FIN played before the client's last bytes"
run $CL "$LPORT" s:"$(hex 'B2')" all
assert_eq "$(cat "$OUT")" "reset
all 79" "server reset played after its answer"
run $CL "$LPORT" s:"$(hex 'C3')" sleep:0.1 rst
run $CL "$LPORT" s:"$(hex 'D4XYZcd')" r:2 shut all
assert_eq "$(sed -n 1p "$OUT")" "$(hex 'ok')" "client bytes the recorder missed taken unseen"
run $CL "$LPORT" s:"$(hex 'E5')" all
assert_eq "$(cat "$OUT")" "all $(hex 'r1')" "served up to the server's gap"
run $CL "$LPORT" s:"$(hex 'F6')" shut all
assert_eq "$(cat "$OUT")" "all $(hex 'late')" "answer after the client's FIN"
sleep 0.2
assert_contains se.err "matched, the client reset"
assert_contains se.err "the recorder missed 5 s2c bytes here"
assert_contains se.err "misses 5 s2c bytes the recorder never saw"
# Bytes where the client's FIN was recorded are a mismatch.
run $CL "$LPORT" s:"$(hex 'F6')" s:"$(hex 'more')" shut all
sleep 0.2
assert_contains se.err "bytes after the client's recorded end"
# A client reset where the recording goes on is a mismatch.
run $CL "$LPORT" s:"$(hex 'D4')" sleep:0.1 rst
sleep 0.2
assert_contains se.err "before the recorded conversation ended"
stop_serve se
assert_contains se.err "8 connections, 5 matched, 2 mismatched, 1 stopped at a recorded gap"
# --once on a connection that stops at a gap: status 2 (as replay's for
# recordings missing client bytes).
grep -v '	[12346]	' ends.tsv >gap.tsv
start_serve sg gap.tsv --listen 127.0.0.1:0 --once
run $CL "$LPORT" s:"$(hex 'E5')" all
wait_serve sg 2
# Framed: client bytes the recorder missed cannot be taken unseen (where
# do the messages end?).
cat >cgap.tsv <<EOF
# tapedeck tsv v1
0	1	open	127.0.0.1:40000	127.0.0.1:7000
1	1	c2s	$(hex 'D4
')
2	1	gap	c2s	3
3	1	s2c	$(hex 'ok
')
4	1	close	end
EOF
start_serve sgf cgap.tsv --listen 127.0.0.1:0 --framing line --once
run $CL "$LPORT" s:"$(hex 'D4
')" all
wait_serve sgf 2
assert_contains sgf.err "message bounds unknown"

# ---- the same first request twice, recorded once: the used recording that
# matches is played again rather than an unused one that cannot match.
cat >same.tsv <<EOF
# tapedeck tsv v1
0	1	open	127.0.0.1:40000	127.0.0.1:7000
1	1	c2s	$(hex 'GET x')
2	1	s2c	$(hex 'X1')
3	1	close	end
10	2	open	127.0.0.1:40001	127.0.0.1:7000
11	2	c2s	$(hex 'GET y')
12	2	s2c	$(hex 'Y2')
13	2	close	end
EOF
start_serve ss same.tsv --listen 127.0.0.1:0
for i in 1 2; do
	run $CL "$LPORT" s:"$(hex 'GET x')" r:2 shut all
	assert_eq "$(sed -n 1p "$OUT")" "$(hex 'X1')" "GET x, client $i"
done
run $CL "$LPORT" s:"$(hex 'GET y')" r:2 shut all
assert_eq "$(sed -n 1p "$OUT")" "$(hex 'Y2')" "GET y still unused"
stop_serve ss
assert_contains ss.err "3 connections, 3 matched, 0 mismatched"

# ---- the environment, flags winning; usage errors
TAPEDECK_LISTEN=127.0.0.1:0 TAPEDECK_FRAMING=len:8 TAPEDECK_ONCE=1 start_serve s9 rec.tsp
run $CL "$LPORT" f:68656c6c6f fr
assert_eq "$(cat "$OUT")" "frame 776f726c64" "framed answer from the environment"
wait_serve s9 0
TAPEDECK_FRAMING=bogus run_expect_status 2 "$TAPEDECK" serve rec.tsp --listen 127.0.0.1:0
assert_contains "$ERR" "unknown framing 'bogus'"
run_expect_status 2 "$TAPEDECK" serve --listen 127.0.0.1:0
run_expect_status 2 "$TAPEDECK" serve nonexistent.tsv --listen 127.0.0.1:0

# ---- a real service: redis-server recorded through `tapedeck proxy`, then
# served to redis-cli (skipped quietly without redis).
if command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1; then
	RPORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	redis-server --bind 127.0.0.1 --port "$RPORT" --save '' --appendonly no --daemonize no \
		--dir "$TMP" >redis.log 2>&1 &
	PIDS="$PIDS $!"
	_i=0
	until redis-cli -p "$RPORT" ping >/dev/null 2>&1; do
		_i=$((_i + 1))
		[ "$_i" -lt 500 ] || fail "redis-server would not start: $(tail -n 5 redis.log)"
		sleep 0.01
	done
	"$TAPEDECK" proxy --listen 127.0.0.1:0 --target "127.0.0.1:$RPORT" -w redis.tape --flush \
		2>proxy.err &
	PX=$!
	PIDS="$PIDS $PX"
	_i=0
	until grep -q 'listening on' proxy.err 2>/dev/null; do
		_i=$((_i + 1))
		[ "$_i" -lt 500 ] || fail "proxy did not start: $(cat proxy.err)"
		sleep 0.01
	done
	PPORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\),.*/\1/p' proxy.err)
	redis-cli -p "$PPORT" set greeting 'hello tape' >rec.1
	redis-cli -p "$PPORT" get greeting >rec.2
	redis-cli -p "$PPORT" incrby counter 41 >rec.3
	kill -INT "$PX"
	wait "$PX" || fail "proxy exited $? after SIGINT"
	start_serve sr redis.tape --listen 127.0.0.1:0
	# In another order: each request finds its recorded connection.
	redis-cli -p "$LPORT" get greeting >got.2
	redis-cli -p "$LPORT" incrby counter 41 >got.3
	redis-cli -p "$LPORT" set greeting 'hello tape' >got.1
	for i in 1 2 3; do
		assert_same_file "rec.$i" "got.$i"
	done
	assert_eq "$(cat got.2)" "hello tape" "redis-cli answer from the tape"
	stop_serve sr
	assert_contains sr.err "3 connections, 3 matched, 0 mismatched"
else
	note "no redis-server/redis-cli: the redis part is skipped"
fi

exit 0
