#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# conformance.sh - optional: `tapedeck capture` on the public captures in ../shared must not crash, and its streams must match tshark's.
#
# The captures come from other projects' test suites (../shared/pcaps/public,
# see PROVENANCE.md there; TAPEDECK_PUBLIC_PCAPS overrides the folder).  The
# project's own tests never need them: without the folder this test skips.
#
# For every capture:
#  1. `tapedeck capture -q -r F -w out.tsv` within 120 s exits 0, or 2 with
#     a message, and no sanitizer reports anything;
#  2. `tapedeck describe --json out.tsv` reads the tape back;
#  3. where tshark and python3 are installed, tests/cli/conformance.py
#     compares every TCP stream, each direction, with tshark's own
#     `-z follow,tcp,raw,N` (the first TAPEDECK_CONFORMANCE_MAX_STREAMS
#     streams of a capture, default 200) and classifies each difference as
#     identical, explained (a defined case, doc/conformance.md) or
#     unexplained.  Any unexplained difference fails the test, with the
#     capture, stream, direction, offset and the bytes on both sides.
# The table of results at the end of the log is the one in doc/conformance.md.
# shellcheck disable=SC2034 # read by lib.sh's run()
TD_TIMEOUT=120
. "${TOP_SRCDIR:-$(dirname "$0")/../..}/tests/cli/lib.sh"

PUB=${TAPEDECK_PUBLIC_PCAPS:-$TOP_SRCDIR/../shared/pcaps/public}
MAX_STREAMS=${TAPEDECK_CONFORMANCE_MAX_STREAMS:-200}
HELPER=$TOP_SRCDIR/tests/cli/conformance.py

[ -d "$PUB" ] || skip "no public captures at $PUB"
: >"$TMP/list"
for f in "$PUB"/*.pcap "$PUB"/*.pcapng "$PUB"/*.cap; do
	if [ -f "$f" ]; then
		basename "$f" >>"$TMP/list"
	fi
done
[ -s "$TMP/list" ] || skip "no captures in $PUB"

compare=1
if ! command -v python3 >/dev/null 2>&1; then
	note "no python3: crash checks only, no comparison with tshark"
	compare=0
elif ! command -v tshark >/dev/null 2>&1; then
	note "no tshark: crash checks only, no comparison with tshark"
	compare=0
fi

failed=0
printf '| capture | exit | connections | tshark streams | pairs compared | directions | identical | explained | unexplained | explanations |\n' >"$TMP/table"
printf '|---|---|---|---|---|---|---|---|---|---|\n' >>"$TMP/table"

while IFS= read -r name; do
	f=$PUB/$name
	out=$TMP/out.tsv
	rm -f "$out"
	# 1. No crash: lib.sh's run() fails on a timeout or a sanitizer report.
	run "$TAPEDECK" capture -q -r "$f" -w "$out"
	case $STATUS in
	0) ;;
	2)
		[ -s "$ERR" ] || fail "$name: exit 2 without a message"
		note "$name: exit 2: $(sed -n 1p "$ERR")"
		;;
	*)
		sed -n '1,20p' "$ERR" >&2
		fail "$name: tapedeck capture exited $STATUS (0 or 2 expected; above 128 is a signal)"
		;;
	esac
	exit_status=$STATUS
	[ -f "$out" ] || fail "$name: no tape written"
	# 2. The tape reads back.
	run "$TAPEDECK" describe --json "$out"
	if [ "$STATUS" -ne 0 ]; then
		sed -n '1,10p' "$ERR" >&2
		fail "$name: tapedeck describe of the tape it wrote exited $STATUS"
	fi
	cp "$OUT" "$TMP/describe.json"
	conns=$(grep -c '	open	' "$out" || :)
	if [ "$compare" = 0 ] || [ "$exit_status" -ne 0 ]; then
		[ "$exit_status" -ne 0 ] && note "$name: not compared (the capture did not read to its end)"
		printf '| %s | %s | %s | - | - | - | - | - | - | not compared |\n' "$name" "$exit_status" "$conns" >>"$TMP/table"
		continue
	fi
	# 3. Stream by stream against tshark.
	set +e
	python3 "$HELPER" --max-streams "$MAX_STREAMS" --describe "$TMP/describe.json" \
		--name "$name" "$f" "$out" >"$TMP/cmp" 2>"$TMP/cmp.err"
	rc=$?
	set -e
	grep -v ' identical ' "$TMP/cmp" | grep -v '^SUMMARY ' >&2 || :
	if [ "$rc" -eq 3 ]; then
		cat "$TMP/cmp.err" >&2
		note "tshark is too old for the comparison: crash checks only"
		compare=0
		printf '| %s | %s | %s | - | - | - | - | - | - | not compared |\n' "$name" "$exit_status" "$conns" >>"$TMP/table"
		continue
	fi
	if [ "$rc" -eq 2 ] || ! grep '^SUMMARY ' "$TMP/cmp" >/dev/null; then
		cat "$TMP/cmp.err" >&2
		fail "$name: the comparison with tshark could not run (exit $rc)"
	fi
	[ "$rc" -eq 0 ] || failed=$((failed + 1))
	# SUMMARY NAME TSHARK PAIRS DIRECTIONS IDENTICAL EXPLAINED UNEXPLAINED REASONS [capped=N]
	awk -v ex="$exit_status" -v conns="$conns" '$1 == "SUMMARY" {
		r = $9; gsub(",", ", ", r); if ($10 != "") r = r " (" $10 ")";
		printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", $2, ex, conns, $3, $4, $5, $6, $7, $8, r
	}' "$TMP/cmp" >>"$TMP/table"
done <"$TMP/list"

note "results (pairs: tshark stream with tape connection; directions: one per pair and direction):"
cat "$TMP/table" >&2
[ "$failed" -eq 0 ] || fail "$failed capture(s) with unexplained differences from tshark (see above)"
exit 0
