#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# live.sh - `tapedeck capture -i` on loopback: every byte both ways of real connections, clean stops (SIGINT, SIGTERM, -c, --duration), -i any, -Z, errors.
#
# The traffic is real: tests/cli/live_peer.py peers (IPv4 and IPv6, several
# connections at once, random sizes both ways) and, when curl is installed,
# curl fetching a file from python3's http.server.  The tape must hold
# exactly the bytes each side sent, for every connection, closed `fin`.
# Needs root (or the capture capabilities); skipped otherwise.
TD_TIMEOUT=${TD_TIMEOUT:-60}
. "${TOP_SRCDIR:-$(dirname "$0")/../..}/tests/cli/lib.sh"
. "$TOP_SRCDIR/tests/cli/live_lib.sh"

need_live
cd "$TMP" || fail "cannot enter $TMP"

# ---- errors: no such interface, conflicting options, no permission.
run_expect_status 2 "$TAPEDECK" capture -i no-such-if0 -w x.tape
assert_contains "$ERR" "no such interface"
assert_contains "$ERR" "capture -D"
run_expect_status 2 "$TAPEDECK" capture -i lo -r x.pcap
run_expect_status 2 "$TAPEDECK" capture -r x.pcap -G 1
assert_contains "$ERR" "live captures"
run_expect_status 2 "$TAPEDECK" capture -i lo -G 1 -w -
run_expect_status 2 "$TAPEDECK" capture -i lo -C 0
run_expect_status 2 "$TAPEDECK" capture -i lo --duration -1
run_expect_status 2 "$TAPEDECK" capture -i lo -w x.unknown
run_expect_status 2 "$TAPEDECK" capture -i lo -Z no-such-user-td --duration 0.1 -w z.tape
assert_contains "$ERR" "no such user"
run_expect_status 2 "$TAPEDECK" capture -i lo -w x.tape "tcp port"
assert_contains "$ERR" "bad filter"
td capture -D
assert_contains "$OUT" ".lo"
if command -v setpriv >/dev/null 2>&1; then
	run setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
		"$TAPEDECK" capture -i lo --duration 0.1 -w x.tape
	[ "$STATUS" -eq 2 ] || fail "capture as nobody: exit $STATUS, expected 2"
	assert_contains "$ERR" "no permission"
	assert_contains "$ERR" "CAP_NET_RAW"
else
	note "no setpriv: the no-permission message is not checked"
fi

# ---- real traffic on loopback: our peers (IPv4, IPv6) and curl + http.server.
peer_server srv4 --bind 127.0.0.1
P4=$PORT
FILTER="tcp port $P4"
if [ -e /proc/net/if_inet6 ] && ip -6 addr show dev lo 2>/dev/null | grep -q '::1'; then
	peer_server srv6 --bind ::1
	P6=$PORT
	FILTER="$FILTER or tcp port $P6"
else
	P6=
	note "no IPv6 on lo: IPv6 connections are not tested"
fi
if command -v curl >/dev/null 2>&1; then
	mkdir www
	head -c 300000 /dev/urandom >www/blob.bin
	http_server "$TMP/www"
	FILTER="$FILTER or tcp port $HTTP_PORT"
else
	HTTP_PORT=
	note "no curl: the standard client and server are not tested"
fi

cap_start cap.log -i lo -w lo.tape $FILTER
peer_client --port "$P4" --conns 8 --rounds 4 --max-size 100000 --seed 11 --log peers.log
if [ -n "$P6" ]; then
	peer_client --host ::1 --port "$P6" --conns 4 --rounds 3 --seed 12 --log peers.log
fi
HTTP_ARGS=
if [ -n "$HTTP_PORT" ]; then
	for i in 1 2 3; do
		run curl -sS --http1.1 -o "got$i.bin" "http://127.0.0.1:$HTTP_PORT/blob.bin"
		[ "$STATUS" -eq 0 ] || { cat "$ERR" >&2; fail "curl failed"; }
		assert_same_file www/blob.bin "got$i.bin"
	done
	HTTP_ARGS="--http-body www/blob.bin --http-port $HTTP_PORT --http-count 3"
fi
sleep 0.3
cap_stop "$CAP_PID" cap.log INT
assert_contains cap.log "wrote lo.tape"
assert_contains cap.log "packets dropped by the kernel: 0"
# Finalised: it reads back without a warning.
run_expect_status 0 "$TAPEDECK" describe lo.tape
assert_empty "$ERR"
tsv_of lo.tape
assert_contains lo.tape.tsv "# source: interface lo"
# shellcheck disable=SC2086 # HTTP_ARGS is a list of options
peer_check --log peers.log $HTTP_ARGS lo.tape.tsv
assert_contains "$OUT" "kernel drops 0 packets"

# ---- SIGTERM stops as cleanly; TSV straight to a file.
cap_start term.log -i lo -w term.tsv tcp port "$P4"
peer_client --port "$P4" --conns 2 --rounds 2 --seed 21 --log term.peers
sleep 0.3
cap_stop "$CAP_PID" term.log TERM
run_expect_status 0 "$TAPEDECK" describe term.tsv
assert_empty "$ERR"
peer_check --log term.peers term.tsv

# ---- -i any (Linux cooked capture) and -c: it stops by itself.
cap_start any.log -i any -c 12 -w any.tsv tcp port "$P4"
peer_client --port "$P4" --conns 2 --rounds 3 --seed 31 --log any.peers
bg_wait "$CAP_PID" 20
check_log any.log
[ "$BG_STATUS" -eq 0 ] || { cat any.log >&2; fail "-c 12: exit $BG_STATUS"; }
assert_contains any.tsv "# linktype: LINUX_SLL"
assert_contains any.tsv "capture statistics: packets 12,"
run_expect_status 0 "$TAPEDECK" describe any.tsv
assert_empty "$ERR"
# Every connection on it is closed: those -c cut short with reason end.
run_expect_status 0 "$TAPEDECK" describe --json any.tsv
assert_not_contains "$OUT" '"close":null'

# ---- -i any sees loopback traffic once: the full exchange, exactly.
cap_start any2.log -i any -w any2.tape tcp port "$P4"
peer_client --port "$P4" --conns 3 --rounds 3 --seed 32 --log any2.peers
sleep 0.3
cap_stop "$CAP_PID" any2.log INT
tsv_of any2.tape
peer_check --log any2.peers any2.tape.tsv

# ---- --duration: it stops by itself, finalised, with what it saw.
cap_start dur.log -i lo --duration 1.5 -w dur.tape tcp port "$P4"
peer_client --port "$P4" --conns 2 --rounds 2 --seed 41 --log dur.peers
bg_wait "$CAP_PID" 20
check_log dur.log
[ "$BG_STATUS" -eq 0 ] || { cat dur.log >&2; fail "--duration: exit $BG_STATUS"; }
tsv_of dur.tape
peer_check --log dur.peers dur.tape.tsv

# ---- -Z: the files are created as that user, after the device is open.
# (LeakSanitizer cannot inspect a process that changed its user id.)
chmod 0711 "$TMP"
mkdir -m 0777 zdir
SAVED_ASAN=${ASAN_OPTIONS:-}
ASAN_OPTIONS="$SAVED_ASAN:detect_leaks=0"
export ASAN_OPTIONS
cap_start z.log -i lo -Z nobody -w zdir/z.tape tcp port "$P4"
ASAN_OPTIONS=$SAVED_ASAN
peer_client --port "$P4" --conns 1 --rounds 2 --seed 51 --log z.peers
sleep 0.3
cap_stop "$CAP_PID" z.log INT
[ "$(stat -c %U zdir/z.tape)" = nobody ] || fail "-Z nobody: z.tape belongs to $(stat -c %U zdir/z.tape)"
tsv_of zdir/z.tape
peer_check --log z.peers zdir/z.tape.tsv

exit 0
