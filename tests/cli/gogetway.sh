#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# gogetway.sh - reading gogetway recordings: convert to tsv exactly, probing, cut-off and damaged files.
. "${TOP_SRCDIR:-$(dirname "$0")/../..}/tests/cli/lib.sh"

SAMPLE=$TOP_SRCDIR/tests/data/gogetway/sample.gogetway
[ -f "$SAMPLE" ] || fail "no $SAMPLE"
cd "$TMP" || exit 1

# The sample (made by the generator in tests/test_gogetway.c): two
# interleaved connections, IPv4 and IPv6, a body holding "\n\n" before a
# 't' (escaped in the file), binary bytes, an HTTP-typed record.
printf '%s\n' \
	'# tapedeck tsv v1' \
	'# start: 2026-11-21T10:00:00.000000000Z' \
	'# source: gogetway recording' \
	'0	1	open	192.0.2.1:40000	192.0.2.2:80' \
	'0	1	c2s	474554202f20485454502f312e310d0a486f73743a20610d0a0d0a' \
	'1.500	2	open	[2001:db8::1]:50000	[2001:db8::2]:443' \
	'1.500	2	c2s	160301000568656c6c6f' \
	'2	1	s2c	485454502f312e3120323030204f4b0d0a0d0a6c696e650a74776f0a0a74687265650a' \
	'2.500	2	s2c	000a7400' \
	'3	1	c2s	6279650a' \
	'3	1	close	end' \
	'3	2	close	end' \
	'3	0	note	gogetway: 5 records; 1 of type 2 (HTTP), read as TCP' >want.tsv

# ---- --from gogetway, and probed from the record marker.
td convert --from gogetway "$SAMPLE" got.tsv
assert_empty "$ERR"
assert_same_file want.tsv got.tsv
td convert "$SAMPLE" probed.tsv
assert_same_file want.tsv probed.tsv
td convert -f gogetway - - <"$SAMPLE"
assert_same_file want.tsv "$OUT"
# To the binary form and back loses nothing more.
td convert --from gogetway "$SAMPLE" s.tape
td convert s.tape back.tsv
assert_same_file want.tsv back.tsv
td describe --summary "$SAMPLE"
assert_contains "$OUT" "[2001:db8::1]:50000"

# ---- the escaped body: "line\ntwo\n\nthree" was written as "line\n\ntwo\n\n\nthree".
tr '\n' '~' <"$SAMPLE" | grep -a -q 'line~~two~~~three~' ||
	fail "the sample does not hold the escaped body"

# ---- a recording cut off mid-record: the complete records, and a warning.
size=$(wc -c <"$SAMPLE")
head -c $((size - 3)) "$SAMPLE" >cut.gogetway
td convert --from gogetway cut.gogetway cut.tsv
assert_contains "$ERR" "warning"
assert_contains "$ERR" "incomplete last record at offset 341 (62 bytes)"
assert_not_contains cut.tsv "$(printf '3\t1\tc2s')"
assert_contains cut.tsv "$(printf '2.500\t2\ts2c\t000a7400')"

# ---- damage: exit 2 naming the offset; the records before are written.
cp "$SAMPLE" bad.gogetway
printf 'X' | dd of=bad.gogetway bs=1 seek=341 conv=notrunc 2>/dev/null
run_expect_status 2 "$TAPEDECK" convert --from gogetway bad.gogetway bad.tsv
assert_contains "$ERR" "bad.gogetway: offset 341: no record marker"
assert_contains bad.tsv "$(printf '2.500\t2\ts2c\t000a7400')"

# ---- read only.
run_expect_status 2 "$TAPEDECK" convert --to gogetway want.tsv out.gogetway
assert_contains "$ERR" "cannot write format 'gogetway'"

exit 0
