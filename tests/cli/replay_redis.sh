#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# replay_redis.sh - `tapedeck replay` against a real redis-server on 127.0.0.1: a stateful RESP session verified against fresh and pre-loaded servers.
. "${TOP_SRCDIR:-$(dirname "$0")/../..}/tests/cli/lib.sh"

# CI runs as root on Debian and installs redis-server (.ci/run); elsewhere
# the test skips when there is none.
command -v redis-server >/dev/null 2>&1 || skip "no redis-server (Debian: apt-get install redis-server)"
command -v python3 >/dev/null 2>&1 || skip "python3 is needed to read the JSON reports"
cd "$TMP" || exit 1

# start_redis NAME: a throw-away redis-server on 127.0.0.1 (no persistence);
# its port in $PORT once it answers PING.
start_redis() {
	redis_start "$1" --protected-mode yes || skip "redis-server would not start: $(tail -n 5 "$1.log")"
	PORT=$REDIS_PORT
}

# resp CMD...: a RESP array of bulk strings, as hex.
resp() {
	python3 - "$@" <<'EOF'
import sys
a = sys.argv[1:]
out = b"*%d\r\n" % len(a) + b"".join(b"$%d\r\n%s\r\n" % (len(x.encode()), x.encode()) for x in a)
print(out.hex())
EOF
}

# A stateful session as redis 7 answers it: a counter, a list, a hash; the
# second connection reads what the first wrote.  Times in microseconds, 0.6 s
# in all.
T=$(printf '\t')
cat >redis.tsv <<EOF
# tapedeck tsv v1
# source: hand-written RESP session
0${T}1${T}open${T}192.0.2.10:51000${T}192.0.2.20:6379
1000${T}1${T}c2s${T}$(resp GET visits)
1200${T}1${T}s2c${T}$(hex_esc '$-1\r\n')
100000${T}1${T}c2s${T}$(resp INCR visits)
100200${T}1${T}s2c${T}$(hex_esc ':1\r\n')
200000${T}1${T}c2s${T}$(resp INCRBY visits 41)
200200${T}1${T}s2c${T}$(hex_esc ':42\r\n')
250000${T}1${T}c2s${T}$(resp RPUSH log a b c)
250200${T}1${T}s2c${T}$(hex_esc ':3\r\n')
300000${T}2${T}open${T}192.0.2.10:51001${T}192.0.2.20:6379
310000${T}2${T}c2s${T}$(resp GET visits)
310200${T}2${T}s2c${T}$(hex_esc '$2\r\n42\r\n')
400000${T}2${T}c2s${T}$(resp LRANGE log 0 -1)
400200${T}2${T}s2c${T}$(hex_esc '*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n')
450000${T}1${T}c2s${T}$(resp HSET user:1 name ada)
450200${T}1${T}s2c${T}$(hex_esc ':1\r\n')
500000${T}2${T}c2s${T}$(resp HGET user:1 name)
500200${T}2${T}s2c${T}$(hex_esc '$3\r\nada\r\n')
550000${T}1${T}c2s${T}$(resp QUIT)
550200${T}1${T}s2c${T}$(hex_esc '+OK\r\n')
550300${T}1${T}fin${T}s2c
550400${T}1${T}fin${T}c2s
550400${T}1${T}close${T}fin
600000${T}2${T}fin${T}c2s
600200${T}2${T}fin${T}s2c
600200${T}2${T}close${T}fin
EOF

# ---- a fresh server answers exactly as recorded, at the recorded pace
start_redis fresh
td replay redis.tsv --target "127.0.0.1:$PORT" --verify --report r.json
json r.json 'd["exit"] == 0' 'd["stats"]["ok"] == 2' 'd["stats"]["mismatches"] == 0' \
	'd["stats"]["bytes_received"] == d["stats"]["bytes_expected"]' \
	'd["stats"]["recorded_ns"] == 600200000' '0.42e9 < d["stats"]["duration_ns"] < 0.78e9'

# The same state again: the replay is exact only on a fresh server.
run_expect_status 1 "$TAPEDECK" replay redis.tsv --target "127.0.0.1:$PORT" --verify --timing none

# ---- a server in another state: exit 1, and where
start_redis loaded
redis_set() {
	python3 - "$PORT" "$@" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2)
a = sys.argv[2:]
s.sendall(b"*%d\r\n" % len(a) + b"".join(b"$%d\r\n%s\r\n" % (len(x), x.encode()) for x in a))
s.recv(64)
EOF
}
redis_set SET visits 100
run_expect_status 1 "$TAPEDECK" replay redis.tsv --target "127.0.0.1:$PORT" --verify --timing none \
	--report r.json
assert_contains "$ERR" "mismatch: connection 1, s2c offset 1 (received offset 1)"
assert_contains "$ERR" "mismatch: connection 2, s2c offset 1"
json r.json 'd["exit"] == 1' 'd["stats"]["failed"] == 0' 'd["stats"]["ok"] == 2' \
	'bytes.fromhex(d["mismatches"][0]["expected_hex"]) == b"$-1\r\n"' \
	'bytes.fromhex(d["mismatches"][0]["received_hex"]) == b"$3\r\n100\r\n"' \
	'any(bytes.fromhex(m["received_hex"]).endswith(b":101\r\n") for m in d["mismatches"])'

# ---- the exchange recorded from a replay replays cleanly against a fresh server
start_redis again
td replay redis.tsv --target "127.0.0.1:$PORT" --verify --timing none --record actual.tsv
start_redis again2
td replay actual.tsv --target "127.0.0.1:$PORT" --verify --timing none

exit 0
