#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# golden.sh - capture each bundled pcap and compare the tape with its independent (tshark) transcription.
. "${TOP_SRCDIR:?}/tests/cli/lib.sh"

list="$TOP_SRCDIR/tests/golden/TESTLIST"
n=0
grep -v '^#' "$list" > "$TMP/list"
while read -r name pcap expected opts; do
	[ -n "$name" ] || continue
	n=$((n + 1))
	eval "set -- $opts"
	if ! "$TAPEDECK" capture -q "$@" -r "$TOP_SRCDIR/pcaps/$pcap" -w "$TMP/$name.tsv" 2> "$TMP/$name.err"; then
		cat "$TMP/$name.err" >&2
		fail "$name: capture failed"
	fi
	grep -v '^#' "$TMP/$name.tsv" | grep -v '	note	' > "$TMP/$name.got" || true
	grep -v '^#' "$TOP_SRCDIR/pcaps/$expected" > "$TMP/$name.want"
	if ! diff -u "$TMP/$name.want" "$TMP/$name.got" >&2; then
		fail "$name: tape differs from $expected"
	fi
	echo "ok $name"
done < "$TMP/list"
[ "$n" -gt 0 ] || fail "no golden tests listed"
