#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# make-samples.sh - regenerate pcaps/http-session.pcap from real loopback traffic (needs root, tcpdump, curl, python3).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
port=${PORT:-18080}
work=$(mktemp -d)
trap 'kill $srv $dump 2>/dev/null || true; rm -rf "$work"' EXIT

printf 'hello from tapedeck\n' > "$work/hello.txt"
printf '{"name": "tapedeck", "kind": "sample"}\n' > "$work/info.json"
(cd "$work" && exec python3 -m http.server --bind 127.0.0.1 "$port") >/dev/null 2>&1 &
srv=$!
tcpdump -i lo -s 0 -U -w "$work/cap.pcap" "tcp port $port" 2>/dev/null &
dump=$!
sleep 1
# Two connections: a keep-alive session with two requests, then a 404.
curl -s -o /dev/null -o /dev/null "http://127.0.0.1:$port/hello.txt" "http://127.0.0.1:$port/info.json"
sleep 0.2
curl -s -o /dev/null "http://127.0.0.1:$port/missing"
sleep 1
kill $dump
wait $dump 2>/dev/null || true
cp "$work/cap.pcap" "$here/http-session.pcap"
echo "wrote $here/http-session.pcap"
