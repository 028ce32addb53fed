#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# describe.sh - `tapedeck describe`: the listing, --summary, --json, and tapes cut off mid-write.
. "${TOP_SRCDIR:-$(dirname "$0")/../..}/tests/cli/lib.sh"

cd "$TMP" || exit 1

# Event lines of a listing: they start with the event number.
count_events() {
	grep -c -E '^ *[0-9]+  ' "$1" || :
}

# Three connections: one finished, one reset with a gap and flags (IPv6),
# one still open at the end; notes on the tape and on a connection.
printf '%s\n' \
	'# tapedeck tsv v1' \
	'# start: 2026-11-21T10:00:00.000000000Z' \
	'# source: describe test' \
	'0	0	note	capture started' \
	'0	1	open	192.0.2.1:40000	192.0.2.2:80' \
	'10	1	c2s	474554202f20485454502f312e310d0a0d0a' \
	'12.345	2	open	[2001:db8::1]:5555	[2001:db8::2]:443	midstream,inferred' \
	'20	1	s2c	485454502f312e3120323030204f4b0d0a' \
	'21	2	gap	c2s	1400' \
	'22	2	s2c	00ff' \
	'23	2	c2s	41' \
	'30	1	fin	c2s' \
	'31	1	fin	s2c' \
	'31	1	close	fin' \
	'40	2	note	tab\there' \
	'41	2	rst	s2c' \
	'41	2	close	rst' \
	'1500000	3	open	198.51.100.7:1	203.0.113.9:25	reused' \
	'2500000	3	c2s	0102030405' \
	'2600000	0	note	drops: 0' >s.tsv
td convert s.tsv s.tape

# ---- the listing
for f in s.tsv s.tape; do
	td describe "$f"
	cp "$OUT" "list.$f"
	assert_empty "$ERR"
	fmt=${f#s.}
	assert_eq "$(sed -n 1p "$OUT")" "# $f ($fmt)" "first line of the listing"
	assert_contains "$OUT" "# start: 2026-11-21T10:00:00.000000000Z"
	assert_contains "$OUT" "# source: describe test"
	assert_contains "$OUT" "     #          time s   conn  event"
	assert_eq "$(count_events "$OUT")" 17 "event lines in the listing of $f"
	# Numbered from 0, in order.
	assert_eq "$(grep -E '^ *[0-9]' "$OUT" | awk '{ print $1 }' | tr '\n' ' ')" \
		"0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 " "event numbers"
	assert_contains "$OUT" "     0        0.000000      0  note   capture started"
	assert_contains "$OUT" "     1        0.000000      1  open   192.0.2.1:40000 -> 192.0.2.2:80"
	assert_contains "$OUT" "     2        0.000010      1  c2s    18 bytes"
	assert_contains "$OUT" "     3        0.000012      2  open   [2001:db8::1]:5555 -> [2001:db8::2]:443  midstream,inferred"
	assert_contains "$OUT" "     5        0.000021      2  gap    c2s 1400 bytes never seen"
	assert_contains "$OUT" "     7        0.000023      2  c2s    1 byte"
	assert_contains "$OUT" "     8        0.000030      1  fin    c2s"
	assert_contains "$OUT" "    10        0.000031      1  close  fin"
	assert_contains "$OUT" "    11        0.000040      2  note   tab\\there"
	assert_contains "$OUT" "    12        0.000041      2  rst    s2c"
	assert_contains "$OUT" "    13        0.000041      2  close  rst"
	assert_contains "$OUT" "    14        1.500000      3  open   198.51.100.7:1 -> 203.0.113.9:25  reused"
	assert_contains "$OUT" "    16        2.600000      0  note   drops: 0"
done
# Both formats list the same events.
sed 1d list.s.tsv >a
sed 1d list.s.tape >b
assert_same_file a b
# Standard input.
td describe - <s.tape
assert_eq "$(sed -n 1p "$OUT")" "# - (tape)" "first line for standard input"
sed 1d "$OUT" >c
assert_same_file a c

# ---- --summary: one row per connection under a heading.
for opt in --summary -s; do
	td describe "$opt" s.tape
	assert_empty "$ERR"
	head -n 1 "$OUT" >heading
	for col in conn client server "c2s bytes" "s2c bytes" "duration s" gaps end; do
		assert_contains heading "$col"
	done
	assert_eq "$(sed 1d "$OUT" | wc -l | tr -d ' ')" 3 "summary rows"
	# conn client server c2s s2c duration gaps end ...
	assert_eq "$(awk '$1 == 1 { print $2, $3, $4, $5, $6, $7, $8 }' "$OUT")" \
		"192.0.2.1:40000 192.0.2.2:80 18 17 0.000031 0 fin" "summary of connection 1"
	assert_eq "$(awk '$1 == 2 { print $2, $3, $4, $5, $6, $7, $8 }' "$OUT")" \
		"[2001:db8::1]:5555 [2001:db8::2]:443 1 2 0.000028 1 rst" "summary of connection 2"
	assert_eq "$(awk '$1 == 3 { print $2, $3, $4, $5, $6, $7, $8 }' "$OUT")" \
		"198.51.100.7:1 203.0.113.9:25 5 0 1.000000 0 open" "summary of connection 3"
	assert_contains "$OUT" "rst (1400 bytes missing) [midstream,inferred]"
	assert_contains "$OUT" "open [reused]"
done
td describe --summary s.tsv
cp "$OUT" sum.tsv.out
td describe --summary s.tape
assert_same_file sum.tsv.out "$OUT"

# ---- --json: one object whose "connections" array holds the rows.
if command -v python3 >/dev/null 2>&1; then
	have_python=1
else
	have_python=0
	note "no python3: JSON output is checked for its shape only"
fi

# json_check FILE PYTHON-EXPRESSIONS...: each expression, with the parsed
# document as d, must be true.
json_check() {
	_f=$1
	shift
	if [ "$have_python" = 0 ]; then
		assert_contains "$_f" '"connections":['
		return 0
	fi
	python3 - "$_f" "$@" <<'EOF' || fail "JSON check failed on $_f (after: $LAST_CMD)"
import json, sys
raw = open(sys.argv[1], "rb").read()
try:
    d = json.loads(raw.decode("utf-8"))
except (UnicodeDecodeError, ValueError) as e:
    sys.stderr.write("not valid JSON: %s\n%r\n" % (e, raw[:300]))
    sys.exit(1)
c = {row["conn"]: row for row in d.get("connections", [])}
ok = True
for expr in sys.argv[2:]:
    try:
        good = eval(expr, {"d": d, "c": c})
    except Exception as e:
        good = False
        sys.stderr.write("%s: %s\n" % (expr, e))
    if not good:
        sys.stderr.write("false: %s\n" % expr)
        ok = False
sys.exit(0 if ok else 1)
EOF
}

for args in "--json" "-j" "--summary --json"; do
	# shellcheck disable=SC2086 # options, split on purpose
	td describe $args s.tape
	assert_empty "$ERR"
	assert_eq "$(wc -l <"$OUT" | tr -d ' ')" 1 "lines of JSON output"
	json_check "$OUT" \
		'isinstance(d["connections"], list) and len(d["connections"]) == 3' \
		'd["file"] == "s.tape" and d["format"] == "tape"' \
		'd["start"] == "2026-11-21T10:00:00.000000000Z"' \
		'd["start_ns"] == 1795255200000000000' \
		'd["meta"] == {"source": "describe test"}' \
		'd["events"] == 17 and d["duration_ns"] == 2600000000' \
		'd["finalised"] is True and d["dropped_bytes"] == 0 and d["error"] is None' \
		'[r["conn"] for r in d["connections"]] == [1, 2, 3]' \
		'c[1]["c2s_bytes"] == 18 and c[1]["s2c_bytes"] == 17' \
		'c[1]["client"] == "192.0.2.1:40000" and c[1]["server"] == "192.0.2.2:80"' \
		'c[1]["fin"] == ["c2s", "s2c"] and c[1]["rst"] == [] and c[1]["close"] == "fin"' \
		'c[1]["duration_ns"] == 31000 and c[1]["gaps"] == 0' \
		'c[2]["c2s_bytes"] == 1 and c[2]["s2c_bytes"] == 2' \
		'c[2]["c2s_chunks"] == 1 and c[2]["s2c_chunks"] == 1' \
		'c[2]["gaps"] == 1 and c[2]["c2s_gap_bytes"] == 1400 and c[2]["s2c_gap_bytes"] == 0' \
		'c[2]["flags"] == "midstream,inferred" and c[2]["notes"] == 1' \
		'c[2]["rst"] == ["s2c"] and c[2]["close"] == "rst"' \
		'c[2]["client"] == "[2001:db8::1]:5555"' \
		'c[3]["c2s_bytes"] == 5 and c[3]["s2c_bytes"] == 0' \
		'c[3]["close"] is None and c[3]["flags"] == "reused"' \
		'c[3]["open_ns"] == 1500000000 and c[3]["last_ns"] == 2500000000'
done
# Text and binary give the same numbers.
td describe --json s.tsv
json_check "$OUT" 'd["format"] == "tsv" and len(d["connections"]) == 3' \
	'c[1]["c2s_bytes"] == 18 and c[1]["s2c_bytes"] == 17'
# Awkward metadata is still valid JSON (escapes, non-ASCII, invalid UTF-8).
printf '# tapedeck tsv v1\n# note: quote " backslash \\\\ tab \\t nl \\n ctl \\x01 del \\x7f\n# utf8: caf\303\251\n# latin1: caf\351\n0\t1\topen\t192.0.2.1:1\t192.0.2.2:2\n' >meta.tsv
td describe --json meta.tsv
json_check "$OUT" \
	'd["meta"]["note"] == "quote \" backslash \\ tab \t nl \n ctl \x01 del \x7f"' \
	'd["meta"]["utf8"] == "caf\u00e9"' \
	'd["meta"]["latin1"].startswith("caf")'

# ---- an empty tape: header only.
printf '# tapedeck tsv v1\n' >empty.tsv
td describe empty.tsv
assert_eq "$(count_events "$OUT")" 0 "event lines of an empty tape"
td describe --summary empty.tsv
assert_eq "$(wc -l <"$OUT" | tr -d ' ')" 1 "summary lines of an empty tape"
td describe --json empty.tsv
json_check "$OUT" 'd["connections"] == [] and d["events"] == 0'

# ---- malformed input: exit 2, the events before the error still shown.
cp s.tsv bad.tsv
printf '2700000\t7\ts2c\t41\n' >>bad.tsv
run_expect_status 2 "$TAPEDECK" describe bad.tsv
assert_contains "$ERR" "bad.tsv:21:"
assert_eq "$(count_events "$OUT")" 17 "events listed before the error"
run_expect_status 2 "$TAPEDECK" describe --json bad.tsv
json_check "$OUT" 'd["error"] is not None and "bad.tsv:21:" in d["error"]' \
	'len(d["connections"]) == 3 and d["events"] == 17'
run_expect_status 2 "$TAPEDECK" describe --summary bad.tsv
assert_eq "$(sed 1d "$OUT" | wc -l | tr -d ' ')" 3 "summary rows before the error"

# ---- a text tape cut mid-line: described up to its last full line.
head -c $(($(wc -c <s.tsv) - 3)) s.tsv >cut.tsv
run_expect_status 0 "$TAPEDECK" describe cut.tsv
assert_contains "$ERR" "warning"
assert_contains "$ERR" "cut.tsv"
assert_eq "$(count_events "$OUT")" 16 "events of a tsv cut in its last line"

# ---- a binary tape cut mid-write: exit 0, the complete blocks listed, a
# warning about the dropped bytes.
if [ -x "$GEN_TAPE" ]; then
	run_expect_status 0 "$GEN_TAPE" --seed 7 --events 5000 --max-data 4000 multi.tape
	size=$(wc -c <multi.tape | tr -d ' ')
	[ "$size" -gt 200000 ] || fail "gen_tape wrote only $size bytes; wanted several blocks"
	td describe multi.tape
	sed 1d "$OUT" >full.list
	full_events=$(count_events full.list)
	for cut in $((size / 3)) $((size / 2)) $((size - 1)) $((size - 20)); do
		head -c "$cut" multi.tape >cut.tape
		run_expect_status 0 "$TAPEDECK" describe cut.tape
		assert_contains "$ERR" "warning"
		assert_contains "$ERR" "cut.tape"
		assert_contains "$ERR" "dropped"
		sed 1d "$OUT" >cut.list
		n=$(count_events cut.list)
		[ "$n" -lt "$full_events" ] || [ "$cut" -ge $((size - 20)) ] ||
			fail "cut at $cut of $size: $n events listed, the whole tape has $full_events"
		[ "$n" -gt 0 ] || fail "cut at $cut of $size: no events listed"
		# What is listed is exactly the beginning of the full listing.
		lines=$(wc -l <cut.list | tr -d ' ')
		head -n "$lines" full.list >prefix.list
		assert_same_file prefix.list cut.list
		run_expect_status 0 "$TAPEDECK" describe --json cut.tape
		json_check "$OUT" 'd["dropped_bytes"] > 0 and d["finalised"] is False' \
			'd["error"] is None' "d[\"events\"] == $n"
		run_expect_status 0 "$TAPEDECK" describe --summary cut.tape
		assert_contains "$ERR" "dropped"
	done
else
	note "no tests/gen_tape: skipping the cut binary tape checks"
fi

# ---- usage errors
run_expect_status 2 "$TAPEDECK" describe
assert_contains "$ERR" "Try 'tapedeck describe --help'"
run_expect_status 2 "$TAPEDECK" describe s.tape s.tsv
run_expect_status 2 "$TAPEDECK" describe --no-such-option s.tape
assert_contains "$ERR" "Try 'tapedeck describe --help'"
run_expect_status 2 "$TAPEDECK" describe missing.tape
assert_contains "$ERR" "missing.tape"

exit 0
