#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# capture-rate.sh - benchmark: `tapedeck capture -i lo` and `tcpdump -w` side by side on loopback traffic of rising packet rates; kernel drops, CPU and missing payload bytes.
#
# Usage (as root, from an optimised build directory, without sanitizers):
#   sh bench/capture-rate.sh [RATE...]
# RATE is messages a second each way (default: a doubling series); every
# message is one TCP segment, and the reply one more, so the packet rate is
# about twice RATE (the ACKs mostly ride on the replies).  For each rate
# both captures run at once on the same traffic from bench/blast; then:
#   pkts/s     packets on lo a second during the traffic (all of them)
#   drops      packets the kernel dropped for that capture (its own report)
#   cpu%       user+system CPU of that capture over the traffic's duration,
#              in % of one core
#   missing    payload bytes sent that are not on the tape as data: for
#              tapedeck its tape; for tcpdump its pcap reassembled by
#              `tapedeck capture -r` afterwards
#   unreported for tapedeck: missing bytes that no gap and no drop note
#              accounts for (must be 0)
# and the highest rate each sustained without a kernel drop.  Environment:
# BUILD (build directory, default .), DURATION (5 s), CONNS (16), SIZE (100
# bytes), BUF_KIB (32768, given to both), TD_ARGS, TCPDUMP (tcpdump).
set -eu

BUILD=${BUILD:-.}
TAPEDECK=${TAPEDECK:-$BUILD/tools/tapedeck}
BLAST=${BLAST:-$BUILD/bench/blast}
TCPDUMP=${TCPDUMP:-tcpdump}
DURATION=${DURATION:-5}
CONNS=${CONNS:-16}
SIZE=${SIZE:-100}
BUF_KIB=${BUF_KIB:-32768}
TD_ARGS=${TD_ARGS:-}
RATES=${*:-2500 5000 10000 20000 40000 80000 160000}

[ "$(id -u)" = 0 ] || { echo "capture-rate: run as root" >&2; exit 2; }
[ -x "$TAPEDECK" ] || { echo "capture-rate: no $TAPEDECK (set BUILD)" >&2; exit 2; }
[ -x "$BLAST" ] || { echo "capture-rate: no $BLAST ('make bench/blast')" >&2; exit 2; }
command -v "$TCPDUMP" >/dev/null || { echo "capture-rate: no tcpdump" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "capture-rate: no /usr/bin/time (Debian: time)" >&2; exit 2; }

W=$(mktemp -d "${TMPDIR:-/tmp}/capture-rate.XXXXXX")
PIDS=
trap 'for p in $PIDS; do kill -9 "$p" 2>/dev/null || :; done; rm -rf "$W"' EXIT
PORT=$((20000 + $$ % 20000))
HZ=$(getconf CLK_TCK)

lo_packets() { cat /sys/class/net/lo/statistics/rx_packets; }

# cpu_of PID: user+system clock ticks of a running process.
cpu_of() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

wait_listening() { # LOG PID
	i=0
	until grep -q 'listening on' "$1" 2>/dev/null; do
		kill -0 "$2" 2>/dev/null || { cat "$1" >&2; exit 1; }
		i=$((i + 1)); [ $i -lt 100 ] || { echo "capture-rate: no capture started" >&2; exit 1; }
		sleep 0.1
	done
}

# sum_json JSON FIELD...: the sum of those per-connection fields.
sum_json() {
	python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(sum(c[f] for c in d["connections"] for f in sys.argv[2:]))' "$@"
}

echo "capture-rate: $(uname -r), $(nproc) CPUs, $(tcpdump --version 2>&1 | head -n 1), $("$TAPEDECK" --version)"
echo "capture-rate: $CONNS connections, $SIZE-byte messages and replies, $DURATION s per rate, -B $BUF_KIB KiB for both"
printf '%9s %9s | %8s %6s %9s %10s | %8s %6s %9s\n' msgs/s pkts/s td-drops td-cpu% td-missing unreported \
	tcpd-drops tcpd-cpu% tcpd-missing
best_td=0
best_tcpd=0
for rate in $RATES; do
	rm -f "$W"/*
	# shellcheck disable=SC2086 # TD_ARGS is a list of options
	"$TAPEDECK" capture -i lo -B "$BUF_KIB" $TD_ARGS --no-stats-note -w "$W/td.tape" "tcp port $PORT" \
		2>"$W/td.err" &
	TD=$!
	"$TCPDUMP" -i lo -B "$BUF_KIB" -s 262144 -w "$W/tcpd.pcap" "tcp port $PORT" 2>"$W/tcpd.err" &
	TCPD=$!
	PIDS="$TD $TCPD"
	wait_listening "$W/td.err" "$TD"
	wait_listening "$W/tcpd.err" "$TCPD"
	td0=$(cpu_of "$TD")
	tcpd0=$(cpu_of "$TCPD")
	p0=$(lo_packets)
	"$BLAST" -c "$CONNS" -r "$rate" -s "$SIZE" -t "$DURATION" -p "$PORT" >"$W/blast.out"
	p1=$(lo_packets)
	sleep 1 # let both drain what the kernel holds
	td1=$(cpu_of "$TD")
	tcpd1=$(cpu_of "$TCPD")
	kill -INT "$TD" "$TCPD"
	wait "$TD" || { cat "$W/td.err" >&2; exit 1; }
	wait "$TCPD" || :
	PIDS=
	secs=$(awk '/^seconds/ { print $2 }' "$W/blast.out")
	achieved=$(awk '/^rate/ { print $2 }' "$W/blast.out")
	sent=$(awk '/_bytes/ { s += $2 } END { print s }' "$W/blast.out")
	pps=$(awk -v a="$p0" -v b="$p1" -v s="$secs" 'BEGIN { printf "%.0f", (b - a) / s }')
	td_cpu=$(awk -v a="$td0" -v b="$td1" -v hz="$HZ" -v s="$secs" 'BEGIN { printf "%.0f", (b - a) / hz / s * 100 }')
	tcpd_cpu=$(awk -v a="$tcpd0" -v b="$tcpd1" -v hz="$HZ" -v s="$secs" 'BEGIN { printf "%.0f", (b - a) / hz / s * 100 }')
	td_drops=$(sed -n 's/.*packets dropped by the kernel: \([0-9]*\).*/\1/p' "$W/td.err")
	tcpd_drops=$(sed -n 's/^\([0-9]*\) packets dropped by kernel.*/\1/p' "$W/tcpd.err")
	"$TAPEDECK" describe --json "$W/td.tape" >"$W/td.json"
	td_data=$(sum_json "$W/td.json" c2s_bytes s2c_bytes)
	td_gap=$(sum_json "$W/td.json" c2s_gap_bytes s2c_gap_bytes)
	"$TAPEDECK" capture -q --no-stats-note -r "$W/tcpd.pcap" -w "$W/tcpd.tape" 2>/dev/null || :
	"$TAPEDECK" describe --json "$W/tcpd.tape" >"$W/tcpd.json"
	tcpd_data=$(sum_json "$W/tcpd.json" c2s_bytes s2c_bytes)
	td_missing=$((sent - td_data))
	tcpd_missing=$((sent - tcpd_data))
	# Missing bytes are accounted for by gaps, or by a reported kernel drop.
	unreported=$((td_missing - td_gap))
	[ "${td_drops:-0}" -eq 0 ] || unreported=0
	printf '%9s %9s | %8s %6s %9s %10s | %8s %6s %9s\n' "$achieved" "$pps" "${td_drops:-?}" "$td_cpu" \
		"$td_missing" "$unreported" "${tcpd_drops:-?}" "$tcpd_cpu" "$tcpd_missing"
	if [ "${td_drops:-1}" -eq 0 ] && [ "$td_missing" -eq 0 ] && [ "$pps" -gt "$best_td" ]; then best_td=$pps; fi
	if [ "${tcpd_drops:-1}" -eq 0 ] && [ "$pps" -gt "$best_tcpd" ]; then best_tcpd=$pps; fi
done
echo "capture-rate: highest packet rate without a kernel drop: tapedeck $best_td/s, tcpdump -w $best_tcpd/s"
