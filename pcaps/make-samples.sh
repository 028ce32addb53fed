#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# make-samples.sh - regenerate the bundled captures from real loopback traffic (needs root, tcpdump, curl, python3).
#
# http-session.pcap  three HTTP/1.0 connections to python3 -m http.server on 127.0.0.1
# ipv6-session.pcap  one HTTP connection over ::1
# rst-session.pcap   a client that sends a request, reads the reply and aborts with RST
# The .tsv next to each is its reference transcription by tshark2tsv.py (tshark,
# not tapedeck), used by tests/cli/golden.sh.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
port=${PORT:-18080}
work=$(mktemp -d)
srv=; dump=
trap 'kill $srv $dump 2>/dev/null || true; rm -rf "$work"' EXIT

printf 'hello from tapedeck\n' > "$work/hello.txt"
printf '{"name": "tapedeck", "kind": "sample"}\n' > "$work/info.json"

start_dump() {
	tcpdump -i lo -s 0 -U -w "$work/cap.pcap" "tcp port $port" 2>/dev/null &
	dump=$!
	sleep 1
}
stop_dump() {
	sleep 1
	kill $dump
	wait $dump 2>/dev/null || true
	cp "$work/cap.pcap" "$here/$1.pcap"
	python3 "$here/tshark2tsv.py" "$here/$1.pcap" > "$here/$1.tsv"
	echo "wrote $here/$1.pcap and $1.tsv"
}

(cd "$work" && exec python3 -m http.server --bind 127.0.0.1 "$port") >/dev/null 2>&1 &
srv=$!
start_dump
curl -s -o /dev/null -o /dev/null "http://127.0.0.1:$port/hello.txt" "http://127.0.0.1:$port/info.json"
sleep 0.2
curl -s -o /dev/null "http://127.0.0.1:$port/missing"
stop_dump http-session

start_dump
python3 - "$port" <<'PY'
import socket, struct, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /hello.txt HTTP/1.0\r\nHost: sample\r\n\r\n")
data = b""
while b"\r\n\r\n" not in data:
    data += s.recv(4096)
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
s.close()
PY
stop_dump rst-session
kill $srv; wait $srv 2>/dev/null || true

(cd "$work" && exec python3 -m http.server --bind ::1 "$port") >/dev/null 2>&1 &
srv=$!
start_dump
curl -s -o /dev/null -g "http://[::1]:$port/info.json"
stop_dump ipv6-session
