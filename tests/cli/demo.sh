#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# demo.sh - the Quick start demo (tools/demo.sh, `make demo`) passes on every bundled capture and fails loudly on a broken one.
. "${TOP_SRCDIR:-$(dirname "$0")/../..}/tests/cli/lib.sh"

cd "$TMP" || exit 1
DEMO=$TOP_SRCDIR/tools/demo.sh

# demo PCAP WANT_CONNS: the demo on PCAP succeeds and its summary says so.
demo() {
	run sh "$DEMO" "$TAPEDECK" "$TOP_SRCDIR/pcaps/$1.pcap" "out-$1"
	[ "$STATUS" -eq 0 ] || { cat "$OUT" "$ERR" >&2; fail "demo on $1 exited $STATUS"; }
	assert_contains "$OUT" "demo ok"
	assert_contains "$OUT" "replayed  $2 of $2 connections with every answer identical"
	assert_contains "$OUT" "served    $2 connections, $2 matched, 0 mismatched"
	assert_contains "$OUT" "captured  $2 TCP connections"
	[ -s "out-$1/$1.tsv" ] || fail "demo on $1 left no TSV"
}

demo http-session 3
demo rst-session 1
demo ipv6-session 1

# A capture that is not one: the first step fails and so does the demo.
printf 'not a capture\n' >bogus.pcap
run sh "$DEMO" "$TAPEDECK" bogus.pcap out-bogus
[ "$STATUS" -ne 0 ] || fail "the demo succeeded on a bogus capture"
assert_contains "$ERR" "demo: failed"
exit 0
