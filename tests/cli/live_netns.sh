#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# live_netns.sh - the mirror-port scenario: two network namespaces talk through a bridge in a third, and a capture there records their connections exactly.
#
#     namespace A                 namespace C                  namespace B
#   10.N.M.1/24 [va] ---veth--- [ca]-+ br0 +-[cb] ---veth--- [vb] 10.N.M.2/24
#                                    |
#                        tapedeck capture -i br0
#
# The bridge forwards A's and B's frames between its ports; the capture puts
# br0 in promiscuous mode, so it sees them as a SPAN port would: a third
# vantage point that is neither endpoint.  Addresses exist only inside the
# namespaces this test creates, and they are removed however it ends.
# Needs root (or the capture capabilities) and network namespaces; skipped
# otherwise.
TD_TIMEOUT=${TD_TIMEOUT:-60}
. "${TOP_SRCDIR:-$(dirname "$0")/../..}/tests/cli/lib.sh"
. "$TOP_SRCDIR/tests/cli/live_lib.sh"

need_live
command -v ip >/dev/null 2>&1 || skip "no ip(8) (Debian: iproute2)"
cd "$TMP" || fail "cannot enter $TMP"

ID=$$
A=tdA$ID
B=tdB$ID
C=tdC$ID
ip netns add "$A" 2>netns.err || skip "cannot create network namespaces: $(cat netns.err)"
NETNS="$A"
ip netns add "$B" || fail "ip netns add $B"
NETNS="$NETNS $B"
ip netns add "$C" || fail "ip netns add $C"
NETNS="$NETNS $C"
# 10.N.M.0/24, varying with the process id so concurrent runs differ.
NET=10.$((ID / 250 % 250 + 1)).$((ID % 250 + 1))

in_ns() {
	_ns=$1
	shift
	ip netns exec "$_ns" "$@" || fail "in $_ns: $*"
}
ip link add va netns "$A" type veth peer name ca netns "$C" || fail "veth A-C"
ip link add vb netns "$B" type veth peer name cb netns "$C" || fail "veth B-C"
in_ns "$C" ip link add br0 type bridge
in_ns "$C" ip link set ca master br0
in_ns "$C" ip link set cb master br0
for l in ca cb br0 lo; do
	in_ns "$C" ip link set "$l" up
done
in_ns "$A" ip addr add "$NET.1/24" dev va
in_ns "$B" ip addr add "$NET.2/24" dev vb
in_ns "$A" ip link set va up
in_ns "$A" ip link set lo up
in_ns "$B" ip link set vb up
in_ns "$B" ip link set lo up
# The bridge forwards once its ports are up (no STP: forwarding at once).
# B answers a connection to a closed port with a reset: then it is reached.
i=0
until ip netns exec "$A" python3 -c '
import socket, sys
try:
    socket.create_connection((sys.argv[1], 9), timeout=1).close()
except ConnectionRefusedError:
    pass
' "$NET.2" >/dev/null 2>&1; do
	i=$((i + 1))
	[ "$i" -le 10 ] || fail "A cannot reach B through the bridge"
	sleep 0.5
done

SRV_NS=$B
peer_server srv --bind "$NET.2"
P=$PORT
FILTER="tcp port $P"
HTTP_ARGS=
if command -v curl >/dev/null 2>&1; then
	mkdir www
	head -c 200000 /dev/urandom >www/blob.bin
	http_server "$TMP/www" "$NET.2"
	FILTER="$FILTER or tcp port $HTTP_PORT"
	HTTP_ARGS="--http-body www/blob.bin --http-port $HTTP_PORT --http-count 2"
else
	note "no curl: the standard client and server are not tested"
fi
SRV_NS=

CAP_NS=$C
cap_start mirror.log -i br0 -w mirror.tape $FILTER
CAP_NS=
CLI_NS=$A
peer_client --host "$NET.2" --port "$P" --conns 6 --rounds 4 --max-size 80000 --seed 71 --log mirror.peers
CLI_NS=
if [ -n "$HTTP_ARGS" ]; then
	for i in 1 2; do
		run ip netns exec "$A" curl -sS --http1.1 -o "got$i.bin" "http://$NET.2:$HTTP_PORT/blob.bin"
		[ "$STATUS" -eq 0 ] || { cat "$ERR" >&2; fail "curl from A failed"; }
		assert_same_file www/blob.bin "got$i.bin"
	done
fi
sleep 0.3
cap_stop "$CAP_PID" mirror.log INT
assert_contains mirror.log "packets dropped by the kernel: 0"
run_expect_status 0 "$TAPEDECK" describe mirror.tape
assert_empty "$ERR"
tsv_of mirror.tape
assert_contains mirror.tape.tsv "# linktype: EN10MB"
# shellcheck disable=SC2086 # HTTP_ARGS is a list of options
peer_check --log mirror.peers $HTTP_ARGS mirror.tape.tsv

exit 0
