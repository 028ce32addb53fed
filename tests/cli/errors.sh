#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# errors.sh - hostile input: every reader fails cleanly (exit 2, file and line/offset named), never crashes or hangs.
. "${TOP_SRCDIR:-$(dirname "$0")/../..}/tests/cli/lib.sh"

BAD=$TOP_SRCDIR/tests/data/bad
TAB=$(printf '\t')

# expect_input_error FILE: the last run exited 2 with one "tapedeck: FILE..."
# line on stderr.
expect_input_error() {
	[ "$STATUS" -eq 2 ] || {
		sed -n '1,10p' "$ERR" >&2
		fail "exit status $STATUS, expected 2: $LAST_CMD"
	}
	grep -F -e "tapedeck: $1" "$ERR" >/dev/null ||
		{ cat "$ERR" >&2; fail "no error naming $1: $LAST_CMD"; }
}

# expect_offset_error FILE OFFSET: exit 2, "tapedeck: FILE: offset OFFSET: ...".
expect_offset_error() {
	expect_input_error "$1"
	grep -E -e "^tapedeck: $1: offset $2: ." "$ERR" >/dev/null ||
		{ cat "$ERR" >&2; fail "error does not name offset $2 of $1: $LAST_CMD"; }
}

# ---- the corpus: every file in tests/data/bad fails as EXPECT says.
[ -f "$BAD/EXPECT" ] || fail "no $BAD/EXPECT"
mkdir "$TMP/json"
cd "$BAD" || exit 1
nexpect=0
while IFS="$TAB" read -r name code msg; do
	case $name in '' | '#'*) continue ;; esac
	[ -f "$name" ] || fail "EXPECT lists $name, which is not in $BAD"
	[ -n "$msg" ] || fail "EXPECT line for $name has no message"
	nexpect=$((nexpect + 1))
	# describe: exit 2, the exact message.
	run "$TAPEDECK" describe "$name" </dev/null
	expect_input_error "$name"
	grep -F -x -e "tapedeck: $msg" "$ERR" >/dev/null || {
		note "expected: tapedeck: $msg"
		note "got:"
		cat "$ERR" >&2
		fail "describe $name ($code): wrong message"
	}
	# The message places the fault: a line for text, an offset for binary.
	case $msg in
	"$name:"[0-9]*": "* | "$name: offset "[0-9]*": "*) ;;
	"$name: "*) note "$name: message names neither a line nor an offset: $msg" ;;
	*) fail "EXPECT message for $name does not start with the file name" ;;
	esac
	# --json reports the same error, when it gets far enough to print.
	run "$TAPEDECK" describe --json "$name" </dev/null
	expect_input_error "$name"
	if [ -s "$OUT" ]; then
		cp "$OUT" "$TMP/json/$name.json"
		printf '%s' "$msg" >"$TMP/json/$name.msg"
	fi
	# convert: exit 2, the same message, and whatever it wrote is a
	# finalised tape of the events before the error.
	rm -f "$TMP/partial.tape"
	run "$TAPEDECK" convert "$name" "$TMP/partial.tape" </dev/null
	expect_input_error "$name"
	assert_contains "$ERR" "tapedeck: $msg"
	if [ -e "$TMP/partial.tape" ]; then
		run_expect_status 0 "$TAPEDECK" describe "$TMP/partial.tape" </dev/null
		assert_empty "$ERR"
	fi
done <EXPECT
[ "$nexpect" -gt 0 ] || fail "EXPECT lists no files"
# The JSON of each, in one go: valid, with the message as its "error".
if command -v python3 >/dev/null 2>&1; then
	python3 - "$TMP/json" <<'EOF' || fail "describe --json on the corpus: see above"
import glob, json, sys
bad = 0
for path in sorted(glob.glob(sys.argv[1] + "/*.json")):
    want = open(path[:-5] + ".msg", encoding="utf-8", errors="surrogateescape").read()
    try:
        d = json.loads(open(path, "rb").read().decode("utf-8"))
        ok = d["error"] == want and isinstance(d["connections"], list)
    except (ValueError, KeyError) as e:
        ok = False
        sys.stderr.write("%s: %s\n" % (path, e))
    if not ok:
        sys.stderr.write("%s: bad JSON or error member (want %r)\n" % (path, want))
        bad += 1
sys.exit(1 if bad else 0)
EOF
fi
# Every file in the corpus is listed.
for f in *; do
	[ "$f" = EXPECT ] && continue
	grep -q -e "^$f$TAB" EXPECT || fail "$f is in $BAD but not in EXPECT"
done
cd "$TMP" || exit 1

# ---- nothing there, or nothing in it.
run "$TAPEDECK" describe missing.tape
expect_input_error missing.tape
assert_contains "$ERR" "No such file"
: >empty.tape
run "$TAPEDECK" describe empty.tape
expect_input_error empty.tape
assert_contains "$ERR" "empty"
run "$TAPEDECK" describe - </dev/null
expect_input_error "(stdin)"
mkdir adir
run "$TAPEDECK" describe adir
expect_input_error adir

# ---- random bytes.
i=0
while [ $i -lt 5 ]; do
	head -c 4096 /dev/urandom >random.bin
	run "$TAPEDECK" describe random.bin
	expect_offset_error random.bin 0
	assert_contains "$ERR" "not a tape"
	run "$TAPEDECK" convert random.bin random.tsv
	expect_offset_error random.bin 0
	[ ! -e random.tsv ] || fail "convert wrote random.tsv from random bytes"
	# Random bytes behind each format's header: rejected on line 2, or
	# at offset 16 (right after the binary file header).
	{
		printf '# tapedeck tsv v1\n'
		cat random.bin
	} >random.tsv
	run "$TAPEDECK" describe random.tsv
	expect_input_error random.tsv:2:
	{
		printf '# ts_proxy recording v1\n'
		cat random.bin
	} >random.tsp
	run "$TAPEDECK" describe random.tsp
	expect_input_error random.tsp:2:
	rm -f random.tsv random.tsp
	i=$((i + 1))
done

# ---- hand-made binary tapes, each broken in one way past the checksums.
if command -v python3 >/dev/null 2>&1; then
	mkdir made
	python3 "$TOP_SRCDIR/tests/cli/mktape.py" --all made >made/LIST || fail "mktape.py failed"
	[ "$(wc -l <made/LIST)" -gt 10 ] || fail "mktape.py made too few tapes"
	cd made || exit 1
	while read -r case off; do
		if [ "$case" = good ]; then
			run_expect_status 0 "$TAPEDECK" describe good.tape </dev/null
			assert_empty "$ERR"
			continue
		fi
		run "$TAPEDECK" describe "$case.tape" </dev/null
		expect_offset_error "$case.tape" "$off"
		run "$TAPEDECK" convert "$case.tape" "$case.tsv" </dev/null
		expect_offset_error "$case.tape" "$off"
	done <LIST
	run "$TAPEDECK" describe data-before-open.tape
	assert_contains "$ERR" "before its open"
	run "$TAPEDECK" describe data-after-close.tape
	assert_contains "$ERR" "after its close"
	cd .. || exit 1
else
	note "no python3: skipping the hand-made binary tapes"
fi

# ---- a real tape, cut at every length and with a bit flipped in every byte.
printf '%s\n' \
	'# tapedeck tsv v1' \
	'# start: 2026-11-21T10:00:00.000000000Z' \
	'# source: errors.sh' \
	'0	1	open	192.0.2.1:40000	192.0.2.2:80' \
	'10	1	c2s	474554202f20485454502f312e310d0a0d0a' \
	'12.345	2	open	[2001:db8::1]:5555	[2001:db8::2]:443	midstream' \
	'20	1	s2c	485454502f312e3120323030204f4b0d0a' \
	'21	2	gap	c2s	1400' \
	'30	1	fin	c2s' \
	'31	1	close	fin' \
	'40	0	note	a note' \
	'41	2	rst	s2c' \
	'41	2	close	rst' >s.tsv
td convert s.tsv s.tape
printf '# ts_proxy recording v1\n123\tc2s\t68656c6c6f\n456\ts2c\t776f726c64\n' >s.tsp
size=$(wc -c <s.tape | tr -d ' ')
# The metadata block ends at 16 + 13 + its little-endian u32 length at 17.
# shellcheck disable=SC2046 # four numbers, split on purpose
set -- $(od -An -tu1 -j17 -N4 s.tape)
meta_end=$((16 + 13 + $1 + ($2 << 8) + ($3 << 16) + ($4 << 24)))
[ "$meta_end" -lt "$size" ] || fail "cannot find the metadata block of s.tape"

# Each length through the header and metadata, then a sample (every length
# with TD_EXHAUSTIVE=1: slow under the sanitizers' leak check).
step() { # step POSITION DENSE-UNTIL: the next position to try
	if [ "${TD_EXHAUSTIVE:-0}" = 1 ] || [ "$1" -lt "$2" ]; then
		echo $(($1 + 1))
	else
		echo $(($1 + 7))
	fi
}
cut=1
while [ "$cut" -lt "$size" ]; do
	head -c "$cut" s.tape >cut.tape
	run "$TAPEDECK" describe cut.tape
	if [ "$cut" -lt 16 ]; then
		expect_offset_error cut.tape 0
	elif [ "$cut" -lt "$meta_end" ]; then
		expect_offset_error cut.tape 16
	else
		# Cut off mid-write: readable up to the last complete block,
		# and the user is told.
		[ "$STATUS" -eq 0 ] || { cat "$ERR" >&2; fail "describe of s.tape cut at $cut: exit $STATUS"; }
		assert_contains "$ERR" "tapedeck: warning: cut.tape:"
	fi
	cut=$(step "$cut" $((meta_end + 16)))
done

# Every byte is covered by a checksum (or is the magic), so any flipped bit
# is an error naming an offset.  Each byte of the file header with two
# different bits, then a sample of the bytes after it, one bit each.
flip() { # flip FILE OFFSET MASK OUT
	{
		head -c "$2" "$1"
		byte=$(od -An -tu1 -j"$2" -N1 "$1" | tr -d ' ')
		# shellcheck disable=SC2059
		printf "$(printf '\\%03o' $((byte ^ $3)))"
		tail -c +$(($2 + 2)) "$1"
	} >"$4"
}
pos=0
while [ "$pos" -lt "$size" ]; do
	if [ "$pos" -lt 16 ]; then masks="$((1 << (pos % 8))) $((128 >> (pos % 8)))"; else masks=$((1 << (pos % 8))); fi
	for mask in $masks; do
		flip s.tape "$pos" "$mask" flipped.tape
		cmp -s s.tape flipped.tape && fail "flip produced an identical file"
		[ "$(wc -c <flipped.tape | tr -d ' ')" = "$size" ] || fail "flip changed the size"
		run "$TAPEDECK" describe flipped.tape
		[ "$STATUS" -eq 2 ] || fail "bit 0x$(printf %02x "$mask") of byte $pos flipped: exit $STATUS"
		grep -E '^tapedeck: flipped\.tape: offset [0-9]+: ' "$ERR" >/dev/null ||
			{ cat "$ERR" >&2; fail "flipped byte $pos: no offset in the message"; }
	done
	pos=$(step "$pos" 16)
done

# The text forms cut at every length: a clean error, a warning when a line
# was cut, or a shorter tape when the cut fell between lines.
for f in s.tsv s.tsp; do
	tsize=$(wc -c <"$f" | tr -d ' ')
	cut=1
	while [ "$cut" -lt "$tsize" ]; do
		head -c "$cut" "$f" >"cut.${f#*.}"
		run "$TAPEDECK" describe "cut.${f#*.}"
		case $STATUS in
		0)
			if [ -n "$(tail -c 1 "cut.${f#*.}")" ]; then
				assert_contains "$ERR" "tapedeck: warning: cut.${f#*.}:"
			else
				assert_empty "$ERR"
			fi
			;;
		2) grep -E "^tapedeck: cut\\.${f#*.}(:[0-9]+:|: )" "$ERR" >/dev/null ||
			{ cat "$ERR" >&2; fail "$f cut at $cut: message without the file name"; } ;;
		*) fail "$f cut at $cut: exit $STATUS" ;;
		esac
		cut=$(step "$cut" 48)
	done
done

exit 0
