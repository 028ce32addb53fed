#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# diff.sh - `tapedeck diff`: same and different tapes, masks, gaps, endings, pairing, JSON and errors.
. "${TOP_SRCDIR:-$(dirname "$0")/../..}/tests/cli/lib.sh"

cd "$TMP" || exit 1

# Two connections: an HTTP exchange with a Date header, and one with a gap.
printf '%s\n' \
	'# tapedeck tsv v1' \
	'# start: 2026-11-21T10:00:00.000000000Z' \
	'0	1	open	192.0.2.1:40000	192.0.2.2:80' \
	'1	1	c2s	474554202f20485454502f312e310d0a0d0a' \
	'2	1	s2c	485454502f312e3120323030204f4b0d0a446174653a204d6f6e0d0a0d0a6869' \
	'3	1	fin	c2s' \
	'3	1	fin	s2c' \
	'3	1	close	fin' \
	'4	2	open	192.0.2.1:40001	192.0.2.2:80' \
	'5	2	c2s	41424344' \
	'6	2	gap	s2c	10' \
	'7	2	s2c	58595a' \
	'8	2	close	end' >a.tsv

# ---- identical tapes, in two formats and split differently: 0.
td convert a.tsv a.tape
td diff a.tsv a.tape
assert_contains "$OUT" "a.tsv and a.tape are the same: 2 connections"
# The gap is listed, but does not make a difference.
assert_contains "$OUT" "conn 2 / 2: s2c: 10 bytes not compared (gaps): offsets 0-9 in A and B"
# Other event boundaries and times, the same bytes.
sed -e 's/^1	1	c2s	474554202f20485454502f312e310d0a0d0a$/1	1	c2s	4745542f/' a.tsv >split.tsv
sed -i -e 's/^3	1	fin	c2s$/2.5	1	c2s	202f20485454502f312e310d0a0d0a\n3	1	fin	c2s/' split.tsv
sed -i -e 's/4745542f$/474554/' split.tsv
td diff a.tsv split.tsv
assert_contains "$OUT" "are the same"
td diff --quiet a.tsv split.tsv
assert_empty "$OUT"

# ---- one byte changed: 1, naming the direction and the offset.
sed -e 's/485454502f312e3120323030/485454502f312e3120343030/' a.tsv >b.tsv
run_expect_status 1 "$TAPEDECK" diff a.tsv b.tsv
assert_contains "$OUT" "conn 1 / 1: s2c differs at offset 9"
assert_contains "$OUT" "A, offset 9 (0x9): byte 0x32 '2'"
assert_contains "$OUT" "B, offset 9 (0x9): byte 0x34 '4'"
assert_contains "$OUT" "    00000000  48 54 54 50 2f 31 2e 31  20 34 30 30 20 4f 4b 0d  |HTTP/1.1 400 OK.|"
assert_contains "$OUT" "a.tsv and b.tsv differ: 2 connections in A, 2 in B; 1 of 2 pairs differ; 0 only in A, 0 only in B"
assert_not_contains "$OUT" "c2s differs"
run_expect_status 1 "$TAPEDECK" diff --quiet a.tsv b.tsv
assert_empty "$OUT"
# As a line diff.
run_expect_status 1 "$TAPEDECK" diff --text-diff a.tsv b.tsv
assert_contains "$OUT" "  -HTTP/1.1 200 OK\\r"
assert_contains "$OUT" "  +HTTP/1.1 400 OK\\r"

# ---- masked differences: 0, whatever the lengths.
sed -e 's/446174653a204d6f6e/446174653a2054756573646179/' a.tsv >date.tsv
run_expect_status 1 "$TAPEDECK" diff a.tsv date.tsv
assert_contains "$OUT" "s2c differs at offset 23"
td diff --ignore 'Date: [^\r]*' a.tsv date.tsv
assert_contains "$OUT" "are the same"
td diff -I 'Date: .*' a.tsv date.tsv
# A difference after a masked one is at its offset in each tape.
sed -e 's/0d0a0d0a6869$/0d0a0d0a4869/' date.tsv >date2.tsv
run_expect_status 1 "$TAPEDECK" diff --ignore 'Date: [^\r]*' a.tsv date2.tsv
assert_contains "$OUT" "conn 1 / 1: s2c differs at offset 30 of A, 34 of B"
# Several masks.
run_expect_status 1 "$TAPEDECK" diff -I 'Date: [^\r]*' b.tsv date.tsv
td diff -I 'Date: [^\r]*' -I ' [0-9]{3} ' b.tsv date.tsv

# ---- an extra connection: 1, listed.
{
	cat a.tsv
	printf '9\t3\topen\t192.0.2.1:40002\t192.0.2.2:80\n10\t3\tc2s\t51\n'
} >extra.tsv
run_expect_status 1 "$TAPEDECK" diff a.tsv extra.tsv
assert_contains "$OUT" "conn - / 3: only in B: 192.0.2.1:40002 -> 192.0.2.2:80"
assert_contains "$OUT" "0 of 2 pairs differ; 0 only in A, 1 only in B"
run_expect_status 1 "$TAPEDECK" diff extra.tsv a.tsv
assert_contains "$OUT" "conn 3 / -: only in A: 192.0.2.1:40002 -> 192.0.2.2:80"

# ---- endings and lengths.
sed -e 's/^3	1	fin	s2c$/3	1	rst	s2c/' -e 's/^3	1	close	fin$/3	1	close	rst/' a.tsv >rst.tsv
run_expect_status 1 "$TAPEDECK" diff a.tsv rst.tsv
assert_contains "$OUT" "conn 1 / 1: ending differs: A fin c2s, fin s2c, close fin; B fin c2s, rst s2c, close rst"
sed -e 's/^1	1	c2s	474554202f20485454502f312e310d0a0d0a$/1	1	c2s	474554202f20485454502f312e310d0a/' a.tsv >short.tsv
run_expect_status 1 "$TAPEDECK" diff a.tsv short.tsv
assert_contains "$OUT" "conn 1 / 1: c2s differs at offset 16"
assert_contains "$OUT" "B, offset 16 (0x10): end of data"
# A gap in one tape only: those bytes are not compared.
sed -e 's/^5	2	c2s	41424344$/5	2	gap	c2s	2\n5	2	c2s	4344/' a.tsv >gap.tsv
td diff a.tsv gap.tsv
assert_contains "$OUT" "conn 2 / 2: c2s: 2 bytes not compared (gaps): offsets 0-1 in B"

# ---- pairing by endpoints.
{
	sed -n '1,2p' a.tsv
	printf '0\t1\topen\t192.0.2.1:40001\t192.0.2.2:80\n1\t1\tc2s\t41424344\n1\t1\tgap\ts2c\t10\n1\t1\ts2c\t58595a\n1\t1\tclose\tend\n'
	printf '2\t2\topen\t192.0.2.1:40000\t192.0.2.2:80\n'
	printf '3\t2\tc2s\t474554202f20485454502f312e310d0a0d0a\n'
	printf '3\t2\ts2c\t485454502f312e3120323030204f4b0d0a446174653a204d6f6e0d0a0d0a6869\n'
	printf '4\t2\tfin\tc2s\n4\t2\tfin\ts2c\n4\t2\tclose\tfin\n'
} >swapped.tsv
run_expect_status 1 "$TAPEDECK" diff a.tsv swapped.tsv
td diff --by-endpoints a.tsv swapped.tsv
assert_contains "$OUT" "are the same: 2 connections"
run_expect_status 1 "$TAPEDECK" diff -e a.tsv extra.tsv
assert_contains "$OUT" "only in B: 192.0.2.1:40002 -> 192.0.2.2:80"

# ---- JSON.
run_expect_status 1 "$TAPEDECK" diff --json a.tsv b.tsv
assert_contains "$OUT" '{"a":"a.tsv","b":"b.tsv","paired_by":"order","same":false,'
assert_contains "$OUT" '"s2c":{"same":false,"a_bytes":32,"b_bytes":32,"a_offset":9,"b_offset":9,"not_compared":[],"report":"A 32 bytes, B 32 bytes; first difference at offset 9\n'
assert_contains "$OUT" '"not_compared":[{"from":0,"to":10,"gap_in":"both"}]'
[ "$(wc -l <"$OUT")" -eq 1 ] || fail "--json output is not one line"
if command -v python3 >/dev/null 2>&1; then
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["pairs_differ"] == 1' "$OUT" ||
		fail "--json output is not the expected JSON"
fi
td diff --json a.tsv a.tape
assert_contains "$OUT" '"same":true'

# ---- standard input.
td diff - a.tape <a.tsv
assert_contains "$OUT" "(stdin) and a.tape are the same"

# ---- bad input and usage: 2, nothing on standard output.
printf 'not a tape\n' >junk.txt
run_expect_status 2 "$TAPEDECK" diff a.tsv junk.txt
assert_contains "$ERR" "junk.txt"
assert_empty "$OUT"
run_expect_status 2 "$TAPEDECK" diff a.tsv missing.tsv
assert_contains "$ERR" "missing.tsv"
{
	cat a.tsv
	printf '9\t7\tc2s\t41\n'
} >bad.tsv
run_expect_status 2 "$TAPEDECK" diff a.tsv bad.tsv
assert_contains "$ERR" "bad.tsv:14: data on connection 7 before its open"
assert_empty "$OUT"
run_expect_status 2 "$TAPEDECK" diff --ignore 'a(' a.tsv a.tsv
assert_contains "$ERR" "invalid regular expression"
assert_contains "$ERR" "Try 'tapedeck diff --help'"
run_expect_status 2 "$TAPEDECK" diff --ignore 'x*' a.tsv a.tsv
assert_contains "$ERR" "matches the empty string"
run_expect_status 2 "$TAPEDECK" diff --ignore
assert_contains "$ERR" "needs a REGEX"
run_expect_status 2 "$TAPEDECK" diff a.tsv
run_expect_status 2 "$TAPEDECK" diff a.tsv b.tsv c.tsv
run_expect_status 2 "$TAPEDECK" diff - -
assert_contains "$ERR" "standard input"

exit 0
