#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# capture_gen.sh - `tapedeck capture -r` of generated captures gives exactly the expected tapes, and a .pcap round trip keeps their connections and bytes.
#
# For every scenario of tests/gen_pcap (--list):
#   1. gen_pcap writes X.pcap, the tape reassembly must make of it
#      (EXPECTED.tsv) and the statistics it must count;
#   2. `tapedeck capture -q --no-stats-note -r X.pcap -w got.tsv` must give
#      EXPECTED.tsv exactly, metadata lines (`# ...`) aside;
#   3. the statistics the library counts must equal the expected ones;
#   4. `tapedeck convert got.tsv back.pcap` and a capture of back.pcap (with
#      default options) must give the same connections with the same data
#      and gap bytes each way (compared from `tapedeck describe --json`, with
#      python3);
#   5. if tshark is installed, it must find no error and no malformed
#      packet in back.pcap.
# A failing scenario prints a unified diff; the others still run, and the
# test fails at the end naming them all.  GEN_SCENARIOS="a b" limits the run.
TD_TIMEOUT=${TD_TIMEOUT:-120}
. "${TOP_SRCDIR:-$(dirname "$0")/../..}/tests/cli/lib.sh"

GEN_PCAP=$TOP_BUILDDIR/tests/gen_pcap
[ -x "$GEN_PCAP" ] || fail "no tests/gen_pcap in $TOP_BUILDDIR (make check builds it)"
cd "$TMP" || fail "cannot enter $TMP"

run_expect_status 0 "$GEN_PCAP" --list
SCENARIOS=${GEN_SCENARIOS:-$(awk '{ print $1 }' "$OUT")}
[ -n "$SCENARIOS" ] || fail "gen_pcap --list named no scenario"

if command -v python3 >/dev/null 2>&1; then
	HAVE_PY=1
else
	HAVE_PY=0
	note "no python3: the round-trip comparison of connections and bytes is skipped"
fi
if command -v tshark >/dev/null 2>&1; then
	HAVE_TSHARK=1
else
	HAVE_TSHARK=0
	note "no tshark: back.pcap is not checked for malformed packets"
fi

FAILED=
# bad SCENARIO WHAT: records a failure and carries on with the next check.
bad() {
	printf 'FAIL: %s: %s: %s\n' "$ME" "$1" "$2" >&2
	case " $FAILED " in
	*" $1 "*) ;;
	*) FAILED="$FAILED $1" ;;
	esac
}

# events FILE: the event lines of a tsv tape (no header, no metadata).
events() {
	grep -v '^#' "$1" || :
}

# show_diff A B: a unified diff, long hex lines shortened, at most 80 lines.
show_diff() {
	diff -u "$1" "$2" | cut -c1-200 | sed -n '1,80p' >&2 || :
}

# conns TSV OUT: one line per connection of TSV, in order: client, server,
# data and gap bytes each way, from `tapedeck describe --json`.
conns() {
	run "$TAPEDECK" describe --json "$1"
	if [ "$STATUS" -ne 0 ]; then
		sed -n '1,10p' "$ERR" >&2
		return 1
	fi
	python3 -c '
import json, sys
for c in json.load(sys.stdin)["connections"]:
    print(c["client"], c["server"], "c2s", c["c2s_bytes"], "s2c", c["s2c_bytes"],
          "gaps", c["c2s_gap_bytes"], c["s2c_gap_bytes"])
' <"$OUT" >"$2"
}

for s in $SCENARIOS; do
	run "$GEN_PCAP" "$s" "$s.pcap" "$s.exp.tsv" "$s.exp.stats"
	if [ "$STATUS" -ne 0 ]; then
		sed -n '1,10p' "$ERR" >&2
		bad "$s" "gen_pcap exited $STATUS"
		continue
	fi
	run_expect_status 0 "$GEN_PCAP" --args "$s"
	args=$(cat "$OUT")

	# ---- the capture gives the expected tape, event for event.
	# shellcheck disable=SC2086 # args is a list of options
	run "$TAPEDECK" capture -q --no-stats-note $args -r "$s.pcap" -w "$s.got.tsv"
	if [ "$STATUS" -ne 0 ]; then
		sed -n '1,10p' "$ERR" >&2
		bad "$s" "capture exited $STATUS"
		continue
	fi
	events "$s.exp.tsv" >"$s.exp.ev"
	events "$s.got.tsv" >"$s.got.ev"
	if ! cmp -s "$s.exp.ev" "$s.got.ev"; then
		note "$s: expected (-) and captured (+) events differ:"
		show_diff "$s.exp.ev" "$s.got.ev"
		bad "$s" "captured tape differs from the expected one"
	fi

	# ---- and counts what it should.
	run "$GEN_PCAP" --stats "$s" "$s.pcap"
	if [ "$STATUS" -ne 0 ]; then
		sed -n '1,10p' "$ERR" >&2
		bad "$s" "gen_pcap --stats exited $STATUS"
	elif ! cmp -s "$s.exp.stats" "$OUT"; then
		note "$s: expected (-) and counted (+) statistics differ:"
		show_diff "$s.exp.stats" "$OUT"
		bad "$s" "capture statistics differ"
	fi

	# ---- round trip: tape -> pcap -> tape keeps connections and bytes.
	run "$TAPEDECK" convert "$s.got.tsv" "$s.back.pcap"
	if [ "$STATUS" -ne 0 ]; then
		sed -n '1,10p' "$ERR" >&2
		bad "$s" "convert to .pcap exited $STATUS"
		continue
	fi
	# With the default options: a cap that forced evictions in the first
	# capture need not pick the same victims in the synthesised one (the
	# bytes an eviction flushed are packets of that moment there).
	run "$TAPEDECK" capture -q --no-stats-note -r "$s.back.pcap" -w "$s.back.tsv"
	if [ "$STATUS" -ne 0 ]; then
		sed -n '1,10p' "$ERR" >&2
		bad "$s" "capture of back.pcap exited $STATUS"
		continue
	fi
	if [ "$HAVE_PY" = 1 ]; then
		if ! conns "$s.got.tsv" "$s.got.conns" || ! conns "$s.back.tsv" "$s.back.conns"; then
			bad "$s" "describe --json failed"
		elif ! cmp -s "$s.got.conns" "$s.back.conns"; then
			note "$s: connections of the capture (-) and of its .pcap round trip (+):"
			show_diff "$s.got.conns" "$s.back.conns"
			bad "$s" "round trip through .pcap changed connections or bytes"
		fi
	fi
	if [ "$HAVE_TSHARK" = 1 ]; then
		$TIMEOUT tshark -n -r "$s.back.pcap" -q -z expert >"$s.expert" 2>"$s.expert.err" || {
			sed -n '1,10p' "$s.expert.err" >&2
			bad "$s" "tshark could not read back.pcap"
		}
		if grep -E '^Errors|Malformed' "$s.expert" >/dev/null 2>&1; then
			sed -n '1,40p' "$s.expert" >&2
			bad "$s" "tshark finds errors in back.pcap"
		fi
	fi
	case " $FAILED " in
	*" $s "*) ;;
	*) note "$s: ok" ;;
	esac
done

[ -z "$FAILED" ] || fail "scenarios failing:$FAILED"
exit 0
