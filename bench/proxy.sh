#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# proxy.sh - benchmark: `tapedeck proxy` (recording) against socat for bulk throughput and added latency, `tapedeck serve` exchanges a second, and the len:8 framed send path.
#
# Usage, from an optimised build directory without sanitizers (the figures
# in doc/performance.md come from one):
#   mkdir -p /tmp/build-bench6 && cd /tmp/build-bench6
#   /path/to/configure -q && make -j2 && make bench/rr bench/framed
#   sh /path/to/bench/proxy.sh
# All traffic is on 127.0.0.1; the load tools are bench/rr and bench/framed.
#   bulk     BULK_MB MB on one connection into `rr sink` (which checks the
#            count): direct, through `tapedeck proxy -w x.tape` and through
#            `socat TCP-LISTEN:P,fork,reuseaddr TCP:127.0.0.1:Q`; median of
#            REPS runs, each with a fresh proxy and tape.  MB/s, ratio.
#   latency  LAT_N 64-byte request/response exchanges at LAT_RATE a second on
#            one connection to `rr echo`: direct, through the recording proxy
#            and through socat, the three interleaved, REPS rounds; medians
#            of round trip p50/p99/p99.9 and the p50/p99 added to the direct
#            path.
#   serve    a tape recorded through the proxy (64 connections of 1000
#            64-byte exchanges with `rr echo`), served by `tapedeck serve`
#            (which compares every request) to SERVE_CONNS concurrent
#            clients running the same exchanges for SERVE_SECS s each;
#            `rr echo` under the same load as the reference.
#   framed   FRAMED_N messages of 10 KiB with len:8 framing: encoder and
#            decoder in memory (bench/framed mem), over a loopback socket
#            (encoder -> writev -> read -> decoder), and through
#            `tapedeck proxy --framing len:8 -w f.tape`.
# Environment: BUILD (default .), BULK_MB (1000), REPS (3), LAT_N (50000),
# LAT_RATE (10000), SERVE_CONNS ("64 256"), SERVE_SECS (5), FRAMED_N
# (100000).  Installs socat with apt-get when missing and run as root.  Not
# a test: numbers depend on the machine and its load.
set -eu

BUILD=$(cd "${BUILD:-.}" && pwd)
TAPEDECK=${TAPEDECK:-$BUILD/tools/tapedeck}
RR=$BUILD/bench/rr
FRAMED=$BUILD/bench/framed
BULK_MB=${BULK_MB:-1000}
REPS=${REPS:-3}
LAT_N=${LAT_N:-50000}
LAT_RATE=${LAT_RATE:-10000}
SERVE_CONNS=${SERVE_CONNS:-64 256}
SERVE_SECS=${SERVE_SECS:-5}
FRAMED_N=${FRAMED_N:-100000}

for p in "$TAPEDECK" "$RR" "$FRAMED"; do
	[ -x "$p" ] || { echo "proxy bench: no $p (set BUILD; 'make bench/rr bench/framed')" >&2; exit 2; }
done
if ! command -v socat >/dev/null; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq socat >/dev/null
	else
		echo "proxy bench: no socat (Debian: apt-get install socat)" >&2
		exit 2
	fi
fi
if nm "$TAPEDECK" 2>/dev/null | grep -q __asan_init; then
	echo "proxy bench: $TAPEDECK is built with sanitizers; figures would mean little" >&2
fi

W=$(mktemp -d "${TMPDIR:-/tmp}/tapedeck-bench-proxy.XXXXXX")
PIDS=
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null || :; done
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
P=$((21000 + $$ % 20000))

# key FILE KEY: the value of a "key value" line.
key() { awk -v k="$2" '$1 == k { print $2 }' "$1"; }
wait_port() { # PORT: until something accepts on it
	i=0
	until (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null ||
		python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', $1), 1)" 2>/dev/null; do
		i=$((i + 1)); [ $i -lt 100 ] || { echo "proxy bench: nothing on port $1" >&2; exit 1; }
		sleep 0.05
	done
}
wait_log() { # LOG PID
	i=0
	until grep -q 'listening on' "$1" 2>/dev/null; do
		kill -0 "$2" 2>/dev/null || { cat "$1" >&2; exit 1; }
		i=$((i + 1)); [ $i -lt 200 ] || { echo "proxy bench: no listener" >&2; exit 1; }
		sleep 0.05
	done
}
# start_proxy LISTEN TARGET ARGS...: sets PX.
start_proxy() {
	l=$1 t=$2
	shift 2
	"$TAPEDECK" proxy -q --listen "127.0.0.1:$l" --target "127.0.0.1:$t" "$@" 2>"$W/px.err" &
	PX=$!
	PIDS="$PIDS $PX"
	wait_log "$W/px.err" "$PX"
}
stop() { # PID
	kill -INT "$1" 2>/dev/null || :
	wait "$1" 2>/dev/null || :
}
start_socat() { # LISTEN TARGET: sets SO
	socat "TCP-LISTEN:$1,bind=127.0.0.1,fork,reuseaddr" "TCP:127.0.0.1:$2" 2>/dev/null &
	SO=$!
	PIDS="$PIDS $SO"
	sleep 0.3
}
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

echo "proxy bench: $(uname -r), $(nproc) CPUs, $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1)," \
	"$("$TAPEDECK" --version), $(socat -V 2>/dev/null | sed -n 's/^socat version \([^ ]*\).*/socat \1/p')"
echo "proxy bench: load average $(cut -d' ' -f1-3 /proc/loadavg)"

# ---- 1. bulk throughput ------------------------------------------------------
SINK=$P
"$RR" sink -p "$SINK" &
PIDS="$PIDS $!"
wait_port "$SINK"
BYTES=$((BULK_MB * 1000000))
: >"$W/direct" ; : >"$W/proxy" ; : >"$W/socat"
r=0
while [ $r -lt "$REPS" ]; do
	r=$((r + 1))
	"$RR" bulk -p "$SINK" -n "$BYTES" >"$W/out"
	key "$W/out" MBps >>"$W/direct"
	start_proxy $((P + 1)) "$SINK" -w "$W/x.tape"
	"$RR" bulk -p $((P + 1)) -n "$BYTES" >"$W/out"
	key "$W/out" MBps >>"$W/proxy"
	stop "$PX"
	tape_bytes=$(stat -c %s "$W/x.tape")
	rm -f "$W/x.tape"
	start_socat $((P + 2)) "$SINK"
	"$RR" bulk -p $((P + 2)) -n "$BYTES" >"$W/out"
	key "$W/out" MBps >>"$W/socat"
	stop "$SO"
done
d=$(median <"$W/direct") px=$(median <"$W/proxy") so=$(median <"$W/socat")
echo
echo "== 1. bulk: $BULK_MB MB on one connection, median of $REPS (MB/s; runs: direct $(tr '\n' ' ' <"$W/direct")| proxy $(tr '\n' ' ' <"$W/proxy")| socat $(tr '\n' ' ' <"$W/socat"))"
printf '%-34s %10s\n' path MB/s
printf '%-34s %10s\n' direct "$d" "tapedeck proxy -w x.tape" "$px" "socat fork,reuseaddr" "$so"
echo "proxy/socat $(ratio "$px" "$so"); tape of the last run: $tape_bytes bytes"

# ---- 2. added latency --------------------------------------------------------
ECHO=$((P + 3))
"$RR" echo -p "$ECHO" &
PIDS="$PIDS $!"
wait_port "$ECHO"
start_proxy $((P + 4)) "$ECHO" -w "$W/lat.tape"
start_socat $((P + 5)) "$ECHO"
# REPS rounds, the three paths interleaved in each, so that a burst of
# other work on the machine lands on all of them; the table shows the
# median of each percentile over the rounds.
r=0
while [ $r -lt "$REPS" ]; do
	r=$((r + 1))
	"$RR" lat -p "$ECHO" -n "$LAT_N" -r "$LAT_RATE" -s 64 >"$W/lat.direct.$r"
	"$RR" lat -p $((P + 4)) -n "$LAT_N" -r "$LAT_RATE" -s 64 >"$W/lat.proxy.$r"
	"$RR" lat -p $((P + 5)) -n "$LAT_N" -r "$LAT_RATE" -s 64 >"$W/lat.socat.$r"
done
stop "$PX"
stop "$SO"
for k in direct proxy socat; do
	for q in rate p50_us p90_us p99_us p999_us; do
		v=$(for f in "$W/lat.$k".*; do key "$f" "$q"; done | median)
		echo "$q $v"
	done >"$W/lat.$k"
	runs=$(for f in "$W/lat.$k".*; do key "$f" p99_us; done | tr '\n' ' ')
	echo "$k $runs" >>"$W/lat.runs"
done
echo
echo "== 2. latency: $LAT_N exchanges of 64 bytes at $LAT_RATE/s on one connection, median of $REPS rounds (round trip, us; first 10 % dropped)"
printf '%-26s %8s %8s %8s %8s %8s %10s %10s\n' path rate p50 p90 p99 p99.9 +p50 +p99
for k in direct proxy socat; do
	f=$W/lat.$k
	case $k in proxy) name="tapedeck proxy -w";; socat) name="socat";; *) name=direct;; esac
	printf '%-26s %8s %8s %8s %8s %8s %10s %10s\n' "$name" "$(key "$f" rate)" "$(key "$f" p50_us)" \
		"$(key "$f" p90_us)" "$(key "$f" p99_us)" "$(key "$f" p999_us)" \
		"$(awk -v a="$(key "$f" p50_us)" -v b="$(key "$W/lat.direct" p50_us)" 'BEGIN { printf "%+.1f", a - b }')" \
		"$(awk -v a="$(key "$f" p99_us)" -v b="$(key "$W/lat.direct" p99_us)" 'BEGIN { printf "%+.1f", a - b }')"
done
echo "p99 of each round: $(tr '\n' ';' <"$W/lat.runs")"

# ---- 3. mock server ----------------------------------------------------------
start_proxy $((P + 6)) "$ECHO" -w "$W/serve.tape"
"$RR" load -p $((P + 6)) -c 64 -x 1000 -N 64 -s 64 >/dev/null
stop "$PX"
"$TAPEDECK" serve "$W/serve.tape" -q --listen "127.0.0.1:$((P + 7))" 2>"$W/serve.err" &
SV=$!
PIDS="$PIDS $SV"
wait_log "$W/serve.err" "$SV"
echo
echo "== 3. tapedeck serve: a tape of 64 recorded connections x 1000 exchanges of 64 bytes; clients repeat them for $SERVE_SECS s"
printf '%-8s %-28s %12s %12s\n' clients server exchanges/s connections
for c in $SERVE_CONNS; do
	"$RR" load -p $((P + 7)) -c "$c" -x 1000 -t "$SERVE_SECS" -s 64 >"$W/sv.out"
	printf '%-8s %-28s %12s %12s\n' "$c" "tapedeck serve (comparing)" "$(key "$W/sv.out" rate)" \
		"$(key "$W/sv.out" connections)"
	"$RR" load -p "$ECHO" -c "$c" -x 1000 -t "$SERVE_SECS" -s 64 >"$W/echo.out"
	printf '%-8s %-28s %12s %12s\n' "$c" "rr echo (reference)" "$(key "$W/echo.out" rate)" \
		"$(key "$W/echo.out" connections)"
done
stop "$SV"
echo "serve: $(sed -n 's/^tapedeck serve: stopped: //p' "$W/serve.err") (each run ends with its clients' connections cut mid-conversation: those count as mismatched)"

# ---- 4. framed send path -----------------------------------------------------
echo
echo "== 4. len:8 framing, $FRAMED_N messages of 10240 bytes (msgs/s)"
"$FRAMED" mem "$FRAMED_N" 10240 len:8 >"$W/fm"
"$FRAMED" tcp $((P + 8)) $((P + 8)) "$FRAMED_N" 10240 len:8 >"$W/ft"
start_proxy $((P + 9)) $((P + 8)) --framing len:8 -w "$W/f.tape"
"$FRAMED" tcp $((P + 8)) $((P + 9)) "$FRAMED_N" 10240 len:8 >"$W/fp"
stop "$PX"
fmsgs=$("$TAPEDECK" describe --json "$W/f.tape" | python3 -c '
import json, sys
print(sum(c["c2s_chunks"] for c in json.load(sys.stdin)["connections"]))' 2>/dev/null || echo "?")
printf '%-48s %12s %8s\n' path msgs/s MB/s
printf '%-48s %12s %8s\n' "in memory: encoder only" "$(key "$W/fm" encode_msgs_per_s)" "$(key "$W/fm" encode_MBps)"
printf '%-48s %12s %8s\n' "in memory: decoder only" "$(key "$W/fm" decode_msgs_per_s)" "$(key "$W/fm" decode_MBps)"
printf '%-48s %12s %8s\n' "in memory: encode then decode (round trip)" "$(key "$W/fm" roundtrip_msgs_per_s)" "$(key "$W/fm" roundtrip_MBps)"
printf '%-48s %12s %8s\n' "loopback TCP: encoder -> socket -> decoder" "$(key "$W/ft" msgs_per_s)" "$(key "$W/ft" MBps)"
printf '%-48s %12s %8s\n' "same through tapedeck proxy --framing len:8 -w" "$(key "$W/fp" msgs_per_s)" "$(key "$W/fp" MBps)"
echo "framed proxy tape: $(stat -c %s "$W/f.tape") bytes, $fmsgs c2s messages recorded"
