#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# demo.sh - the Quick start demo (`make demo`): capture -> tape -> describe -> serve -> replay --verify, on the bundled capture, loopback only.
#
# Usage: sh tools/demo.sh TAPEDECK PCAP OUTDIR
#
# The whole main job on a capture the project made from real traffic
# (pcaps/make-samples.sh: three HTTP exchanges with python3's http.server
# on loopback):
#   1. reassemble the pcap's TCP streams onto a tape;
#   2. describe the tape's connections;
#   3. stand in for the recorded HTTP server with `tapedeck serve`;
#   4. play the recorded clients against it with `tapedeck replay --verify`,
#      at the recorded pace, comparing every answer with the recording;
#   5. show that the tape's text form converts back to the same tape.
# Then a short summary.  Exit status 0 when everything matched; any failing
# step stops the demo with its own status.  Nothing leaves 127.0.0.1.

set -u
TD=${1:?usage: demo.sh TAPEDECK PCAP OUTDIR}
PCAP=${2:?usage: demo.sh TAPEDECK PCAP OUTDIR}
OUT=${3:?usage: demo.sh TAPEDECK PCAP OUTDIR}
NAME=$(basename "$PCAP" .pcap)
TAPE=$OUT/$NAME.tape
SV=

mkdir -p "$OUT" || exit 1
cleanup() {
	[ -n "$SV" ] && kill "$SV" 2>/dev/null
	:
}
trap cleanup EXIT
trap 'exit 1' INT TERM

die() {
	printf 'demo: %s\n' "$*" >&2
	exit 1
}

step() {
	printf '\n== %s\n' "$*"
}

# run CMD...: shows the command, runs it, stops the demo when it fails.
run() {
	printf '$ %s\n' "$*"
	"$@" || die "failed (exit $?): $*"
}

step "1. capture: reassemble $PCAP onto a tape"
run "$TD" capture -r "$PCAP" -w "$TAPE"

step "2. describe: the tape's connections"
run "$TD" describe --summary "$TAPE"

step "3. serve: stand in for the recorded server on 127.0.0.1 (any free port)"
printf '$ %s serve %s --listen 127.0.0.1:0 &\n' "$TD" "$TAPE"
"$TD" serve "$TAPE" --listen 127.0.0.1:0 2>"$OUT/serve.log" &
SV=$!
i=0
until grep -q 'listening on' "$OUT/serve.log" 2>/dev/null; do
	kill -0 "$SV" 2>/dev/null || { cat "$OUT/serve.log" >&2; die "serve did not start"; }
	i=$((i + 1))
	[ $i -lt 500 ] || die "serve did not start within 5 s"
	sleep 0.01
done
PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\),.*/\1/p' "$OUT/serve.log")
[ -n "$PORT" ] || die "no port in: $(cat "$OUT/serve.log")"
cat "$OUT/serve.log"

step "4. replay: the recorded clients against it, at the recorded pace, answers verified"
printf '$ %s replay %s --target 127.0.0.1:%s --verify\n' "$TD" "$TAPE" "$PORT"
"$TD" replay "$TAPE" --target "127.0.0.1:$PORT" --verify 2>"$OUT/replay.log"
st=$?
cat "$OUT/replay.log"
[ $st -eq 0 ] || die "replay --verify exited $st"
# The replay is done when its side is; serve may still be taking the last
# FIN or reset: wait until it has closed as many connections as were played.
played=$(sed -n 's/^tapedeck replay: \([0-9]*\) connections .*/\1/p' "$OUT/replay.log")
i=0
until [ "$(grep -c ' closed (' "$OUT/serve.log")" -ge "${played:-0}" ]; do
	i=$((i + 1))
	[ $i -lt 500 ] || die "serve did not close the $played connections within 5 s"
	sleep 0.01
done
kill -INT "$SV"
wait "$SV"
st=$?
SV=
[ $st -eq 0 ] || die "serve exited $st"
sed -n '/plays recorded\|closed (\|stopped:/p' "$OUT/serve.log"

step "5. formats: tape -> text (TSV) -> tape gives the same bytes"
run "$TD" convert "$TAPE" "$OUT/$NAME.tsv"
run "$TD" convert "$OUT/$NAME.tsv" "$OUT/$NAME.again.tape"
run cmp "$TAPE" "$OUT/$NAME.again.tape"

# The summary, from the tools' own reports.
ok=$(sed -n 's/^  connections: [0-9]* done, \([0-9]*\) ok, .*/\1/p' "$OUT/replay.log")
mism=$(sed -n 's/.* \([0-9]*\) with mismatches .*/\1/p' "$OUT/replay.log")
bytes=$(sed -n 's/.*bytes: \([0-9]*\) sent, \([0-9]*\) received.*/\1 bytes sent, \2 received/p' "$OUT/replay.log")
served=$(sed -n 's/^tapedeck serve: stopped: //p' "$OUT/serve.log")
total=$("$TD" describe --summary "$TAPE" | awk 'NR > 1 { n++ } END { print n + 0 }')
[ -n "$ok" ] && [ "$ok" = "$total" ] && [ "${mism:-x}" = 0 ] ||
	die "replay summary not understood or not clean: $(cat "$OUT/replay.log")"

step "summary"
printf '%s\n' \
	"captured  $total TCP connections from $PCAP into $TAPE" \
	"served    $served" \
	"replayed  $ok of $total connections with every answer identical to the recording ($bytes)" \
	"converted $TAPE -> $OUT/$NAME.tsv -> $OUT/$NAME.again.tape, byte-identical" \
	"demo ok"
exit 0
