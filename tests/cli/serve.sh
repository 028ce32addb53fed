#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# serve.sh - `tapedeck serve` driven by python clients on 127.0.0.1: answers, choice of connection, greetings, mismatches, --abort, --once, concurrency, ts_proxy len:8 framing.
. "${TOP_SRCDIR:-$(dirname "$0")/../..}/tests/cli/lib.sh"

command -v python3 >/dev/null 2>&1 || skip "python3 is needed for the clients"
cd "$TMP" || exit 1

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

td_start s1 serve two.tsv --listen 127.0.0.1:0
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
td_stop s1
assert_contains s1.err "mismatched"
grep -v '	2	' two.tsv >one.tsv
td_start s1b serve one.tsv --listen 127.0.0.1:0 -q
for i in 1 2 3 4 5 6; do
	$CL "$LPORT" s:"$(hex 'GET a
')" r:9 s:"$(hex 'GET a2
')" r:12 shut all >"conc.$i" 2>&1 &
	bg_register "$!"
	eval "CP$i=\$!"
done
for i in 1 2 3 4 5 6; do
	eval "wait \$CP$i" || fail "concurrent client $i failed: $(cat "conc.$i")"
	assert_eq "$(sed -n 2p "conc.$i")" "$(hex 'part1 part2
')" "concurrent client $i"
done
td_stop s1b
assert_contains s1b.err "6 connections, 6 matched, 0 mismatched"

# ---- --once: 0 when matched, 1 when not (the message has offset and hex)
td_start s2 serve two.tsv --listen 127.0.0.1:0 --once
run $CL "$LPORT" s:"$(hex 'GET b
')" r:9 shut all
td_wait s2 0
td_start s3 serve two.tsv --listen 127.0.0.1:0 --once -q
run $CL "$LPORT" s:"$(hex 'GET b
')" r:9 s:"$(hex 'oops
')" all
td_wait s3 1
assert_contains s3.err "first difference at offset 6"
assert_contains s3.err "70 73 0a"
# Client ends early: a mismatch too.
td_start s3b serve two.tsv --listen 127.0.0.1:0 --once -q
run $CL "$LPORT" s:"$(hex 'GET a
')" r:9 shut all
td_wait s3b 1
assert_contains s3b.err "ended its sending early"

# ---- --abort: 3 on the first mismatch
td_start s4 serve two.tsv --listen 127.0.0.1:0 --abort -q
run $CL "$LPORT" s:"$(hex 'GET b
')" r:9 shut all
kill -0 "$TD_PID" || fail "--abort server exited after a match"
run $CL "$LPORT" s:"$(hex 'GET a
')" r:9 s:"$(hex 'GET zz
')" all
td_wait s4 3

# ---- --ignore masks, --no-assert counts only
td_start s5 serve two.tsv --listen 127.0.0.1:0 --once --ignore 'a[0-9]'
run $CL "$LPORT" s:"$(hex 'GET a
')" r:9 s:"$(hex 'GET a7
')" r:12 shut all
td_wait s5 0
td_start s6 serve two.tsv --listen 127.0.0.1:0 --once --no-assert
run $CL "$LPORT" s:"$(hex 'xxxxxx')" r:9 s:"$(hex 'yyyyyyy')" r:12 shut all
assert_eq "$(sed -n 1p "$OUT")" "$(hex 'answer a
')" "--no-assert answer"
td_wait s6 0
# It still counts: a client that ends early is a mismatch.
td_start s6b serve two.tsv --listen 127.0.0.1:0 --once --no-assert
run $CL "$LPORT" s:"$(hex 'xxxxxx')" r:9 shut all
td_wait s6b 1

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
td_start s5b serve host.tsv --listen 127.0.0.1:0 --ignore 'Host: [^
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
td_stop s5b
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
td_start s5c serve hostl.tsv --listen 127.0.0.1:0 --framing line --once --ignore 'h:[0-9]+'
run $CL "$LPORT" s:"$(hex 'Host: h:43211
')" r:2 shut all
assert_eq "$(sed -n 1p "$OUT")" "$(hex 'H
')" "framed: the masked message of another length chooses its recording"
td_wait s5c 0

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
td_start s7 serve greet.tsv --listen 127.0.0.1:0 --once --delay
run $CL "$LPORT" r:10 s:"$(hex 'QUIT
')" all
assert_eq "$(sed -n 1p "$OUT")" "$(hex '220 hello
')" "greeting"
assert_eq "$(sed -n 2p "$OUT")" "all $(hex '221 bye
')" "answer after the greeting"
td_wait s7 0

# ---- a ts_proxy recording served to len:8-framed clients
printf '# ts_proxy recording v1\n123\tc2s\t68656c6c6f\n456\ts2c\t776f726c64\n' >rec.tsp
td_start s8 serve rec.tsp --listen 127.0.0.1:0 --framing len:8
run $CL "$LPORT" f:68656c6c6f fr
assert_eq "$(cat "$OUT")" "frame 776f726c64" "framed answer"
# The framing compares messages: a different one is a mismatch.
run $CL "$LPORT" f:68656c6c6e all
td_stop s8
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
td_start se serve ends.tsv --listen 127.0.0.1:0
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
td_stop se
assert_contains se.err "8 connections, 5 matched, 2 mismatched, 1 stopped at a recorded gap"
# --once on a connection that stops at a gap: status 2 (as replay's for
# recordings missing client bytes).
grep -v '	[12346]	' ends.tsv >gap.tsv
td_start sg serve gap.tsv --listen 127.0.0.1:0 --once
run $CL "$LPORT" s:"$(hex 'E5')" all
td_wait sg 2
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
td_start sgf serve cgap.tsv --listen 127.0.0.1:0 --framing line --once
run $CL "$LPORT" s:"$(hex 'D4
')" all
td_wait sgf 2
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
td_start ss serve same.tsv --listen 127.0.0.1:0
run $CL "$LPORT" s:"$(hex 'GET x')" r:2 shut all
assert_eq "$(sed -n 1p "$OUT")" "$(hex 'X1')" "GET x, client 1"
# In pieces: "GE" starts both the unused "GET y" and the used "GET x", so
# the choice waits for the rest.
run $CL "$LPORT" s:"$(hex 'GE')" sleep:0.1 s:"$(hex 'T x')" r:2 shut all
assert_eq "$(sed -n 1p "$OUT")" "$(hex 'X1')" "GET x in pieces, client 2"
run $CL "$LPORT" s:"$(hex 'GET y')" r:2 shut all
assert_eq "$(sed -n 1p "$OUT")" "$(hex 'Y2')" "GET y still unused"
td_stop ss
assert_contains ss.err "3 connections, 3 matched, 0 mismatched"

# ---- the environment, flags winning; usage errors
TAPEDECK_LISTEN=127.0.0.1:0 TAPEDECK_FRAMING=len:8 TAPEDECK_ONCE=1 td_start s9 serve rec.tsp
run $CL "$LPORT" f:68656c6c6f fr
assert_eq "$(cat "$OUT")" "frame 776f726c64" "framed answer from the environment"
td_wait s9 0
TAPEDECK_FRAMING=bogus run_expect_status 2 "$TAPEDECK" serve rec.tsp --listen 127.0.0.1:0
assert_contains "$ERR" "unknown framing 'bogus'"
run_expect_status 2 "$TAPEDECK" serve --listen 127.0.0.1:0
run_expect_status 2 "$TAPEDECK" serve nonexistent.tsv --listen 127.0.0.1:0

# ---- a real service: redis-server recorded through `tapedeck proxy`, then
# served to redis-cli (skipped quietly without redis).
if command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1; then
	redis_start redis || fail "redis-server would not start: $(tail -n 5 redis.log)"
	td_start proxy proxy --listen 127.0.0.1:0 --target "127.0.0.1:$REDIS_PORT" -w redis.tape --flush
	PPORT=$LPORT
	redis-cli -p "$PPORT" set greeting 'hello tape' >rec.1
	redis-cli -p "$PPORT" get greeting >rec.2
	redis-cli -p "$PPORT" incrby counter 41 >rec.3
	td_stop proxy
	td_start sr serve redis.tape --listen 127.0.0.1:0
	# In another order: each request finds its recorded connection.
	redis-cli -p "$LPORT" get greeting >got.2
	redis-cli -p "$LPORT" incrby counter 41 >got.3
	redis-cli -p "$LPORT" set greeting 'hello tape' >got.1
	for i in 1 2 3; do
		assert_same_file "rec.$i" "got.$i"
	done
	assert_eq "$(cat got.2)" "hello tape" "redis-cli answer from the tape"
	td_stop sr
	assert_contains sr.err "3 connections, 3 matched, 0 mismatched"
else
	note "no redis-server/redis-cli: the redis part is skipped"
fi

exit 0
