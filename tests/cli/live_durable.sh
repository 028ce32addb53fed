#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# live_durable.sh - live captures survive kill -9 up to the last flush, rotate into complete files (-G, -C) and account for every lost byte.
#
#   1. kill -9 after the traffic and a flush: the tape (binary and TSV)
#      reads back, unfinalised, with every connection complete;
#   2. kill -9 in the middle of the traffic: what is there is a prefix of
#      what was sent;
#   3. -G 1 with a strftime pattern, -C with the counter: every file is a
#      finalised tape, connections spanning files are closed `rotated` and
#      opened `continued`, and joined they hold exactly the traffic;
#   4. the capture is stopped (SIGSTOP) while the peers keep talking, so
#      the kernel drops packets: the drops are on standard error and on
#      the tape as notes, and each direction's data plus gap bytes add up
#      to exactly what was sent.
# Needs root (or the capture capabilities); skipped otherwise.
TD_TIMEOUT=${TD_TIMEOUT:-60}
. "${TOP_SRCDIR:-$(dirname "$0")/../..}/tests/cli/lib.sh"
. "$TOP_SRCDIR/tests/cli/live_lib.sh"

need_live
cd "$TMP" || fail "cannot enter $TMP"
peer_server srv --bind 127.0.0.1
P=$PORT

# ---- 1. kill -9 after a flush: nothing recorded is lost.
for fmt in tape tsv; do
	cap_start "k.$fmt.log" -i lo --flush-interval 200 -w "k.$fmt" tcp port "$P"
	peer_client --port "$P" --conns 4 --rounds 3 --seed 61 --log "k.$fmt.peers"
	sleep 0.6 # three flush intervals
	kill -9 "$CAP_PID"
	bg_wait "$CAP_PID" 10
	run_expect_status 0 "$TAPEDECK" describe "k.$fmt"
	[ "$fmt" = tsv ] || assert_contains "$ERR" "not finalised"
	run_expect_status 0 "$TAPEDECK" convert "k.$fmt" "k.$fmt.tsv"
	peer_check --log "k.$fmt.peers" "k.$fmt.tsv"
done

# ---- 2. kill -9 in the middle of the traffic.
cap_start mid.log -i lo --flush-interval 100 -w mid.tape tcp port "$P"
bg_start mid.client python3 "$PEER" client --port "$P" --conns 3 --rounds 20 --pace 0.1 \
	--seed 62 --log mid.peers
CLIENT=$BG_PID
sleep 1
kill -9 "$CAP_PID"
bg_wait "$CAP_PID" 10
bg_wait "$CLIENT" 30
[ "$BG_STATUS" -eq 0 ] || { cat mid.client >&2; fail "peer client failed"; }
run_expect_status 0 "$TAPEDECK" describe --summary mid.tape
assert_contains "$ERR" "not finalised"
run_expect_status 0 "$TAPEDECK" convert mid.tape mid.tsv
peer_check --partial --log mid.peers mid.tsv
grep -q '	c2s	' mid.tsv || fail "kill -9 after 1 s of traffic left no data on the tape"

# ---- 3a. -G 1 with strftime conversions.
cap_start g.log -i lo -G 1 --flush-interval 200 -w 'g-%Y%m%d-%H%M%S.tape' tcp port "$P"
peer_client --port "$P" --conns 4 --rounds 12 --pace 0.25 --seed 63 --log g.peers
sleep 0.3
cap_stop "$CAP_PID" g.log INT
set -- g-*.tape
[ "$#" -ge 3 ] || fail "-G 1 over 3 s of traffic made $# files: $*"
for f in "$@"; do
	run_expect_status 0 "$TAPEDECK" describe "$f"
	assert_empty "$ERR" # finalised, every one
	tsv_of "$f"
done
assert_contains g.log "wrote $# files"
peer_check --log g.peers g-*.tape.tsv
grep -q 'spanning files [1-9]' "$OUT" || fail "no connection spanning files with -G 1"
grep -h '	close	rotated' g-*.tape.tsv >/dev/null || fail "no 'close rotated' in the files"
grep -h '	open	.*	continued' g-*.tape.tsv >/dev/null || fail "no 'open ... continued' in the files"

# ---- 3b. -C with the counter before the extension.
cap_start c.log -i lo -C 200k -w c.tsv tcp port "$P"
peer_client --port "$P" --conns 3 --rounds 6 --max-size 60000 --seed 64 --log c.peers
sleep 0.3
cap_stop "$CAP_PID" c.log INT
[ -f c.tsv ] && [ -f c.1.tsv ] && [ -f c.2.tsv ] || fail "-C 200k did not make c.tsv, c.1.tsv, c.2.tsv: $(ls)"
for f in c.tsv c.*.tsv; do
	run_expect_status 0 "$TAPEDECK" describe "$f"
	assert_empty "$ERR"
	# A file is cut once it is over the size: by at most one event.
	size=$(wc -c <"$f")
	[ "$size" -lt $((200 * 1024 + 2 * 130000)) ] || fail "$f has $size bytes with -C 200k"
done
peer_check --log c.peers c.tsv c.*.tsv
# A restarted rotating capture never overwrites an earlier run's files: it
# takes the next free number (tcpdump would overwrite c.tsv).
n_before=$(ls c.tsv c.*.tsv | wc -l)
cksum c.tsv c.*.tsv >c.sums
cap_start c2.log -i lo -C 200k -w c.tsv tcp port "$P"
peer_client --port "$P" --conns 1 --rounds 2 --seed 66 --log c2.peers
sleep 0.3
cap_stop "$CAP_PID" c2.log INT
cksum $(cut -d' ' -f3 c.sums) | diff c.sums - >&2 ||
	fail "the restarted capture changed an earlier run's file"
[ -f "c.$n_before.tsv" ] || fail "the restarted capture did not write c.$n_before.tsv: $(ls c*.tsv)"
assert_contains c2.log "c.$n_before.tsv"
run_expect_status 0 "$TAPEDECK" describe "c.$n_before.tsv"

# ---- 4. Loss: the capture is stopped while the peers keep talking.
cap_start d.log -i lo -B 2048 -w d.tape tcp port "$P"
bg_start d.client python3 "$PEER" client --port "$P" --conns 3 --rounds 40 --max-size 40000 \
	--pace 0.05 --seed 65 --log d.peers
CLIENT=$BG_PID
sleep 0.5
kill -STOP "$CAP_PID"
sleep 1.5
kill -CONT "$CAP_PID"
bg_wait "$CLIENT" 40
[ "$BG_STATUS" -eq 0 ] || { cat d.client >&2; fail "peer client failed"; }
sleep 0.5
cap_stop "$CAP_PID" d.log INT
assert_contains d.log "dropped by the kernel"
tsv_of d.tape
grep -q 'capture drops: kernel [1-9]' d.tape.tsv || fail "no note of the kernel drops on the tape"
peer_check --lossy --log d.peers d.tape.tsv
assert_not_contains "$OUT" "kernel drops 0 packets"

exit 0
