#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# convert.sh - `tapedeck convert`: round trips, '-', --from/--to, ts_proxy, errors, bounded memory.
. "${TOP_SRCDIR:-$(dirname "$0")/../..}/tests/cli/lib.sh"

# A canonical text tape with every kind of event, IPv4 and IPv6, open flags,
# escapes in notes and metadata, sub-microsecond times and tape-level notes.
sample_tsv() {
	printf '%s\n' \
		'# tapedeck tsv v1' \
		'# start: 2026-11-21T10:00:00.000000001Z' \
		'# source: cli test' \
		'# tool: convert.sh\twith a tab' \
		'0	0	note	capture started' \
		'0	1	open	192.0.2.1:40000	192.0.2.2:80' \
		'10	1	c2s	474554202f20485454502f312e310d0a0d0a' \
		'12.345	2	open	[2001:db8::1]:5555	[2001:db8::2]:443	midstream,inferred' \
		'20	1	s2c	485454502f312e3120323030204f4b0d0a' \
		'21	2	gap	c2s	1400' \
		'22	2	s2c	00ff' \
		'30	1	fin	c2s' \
		'31	1	fin	s2c' \
		'31	1	close	fin' \
		'40	2	note	odd \x01 byte\nnewline \\ backslash' \
		'41	2	rst	s2c' \
		'41	2	close	rst' \
		'50	3	open	198.51.100.7:1	203.0.113.9:25	reused' \
		'50.001	0	note	drops: 0' \
		'60	3	close	timeout'
}

event_lines() {
	grep -v '^#' "$1" | wc -l | tr -d ' '
}

cd "$TMP" || exit 1
TAB=$(printf '\t')
sample_tsv >s.tsv

# ---- tsv -> tape -> tsv is the same text; tape -> tsv -> tape the same bytes.
td convert s.tsv s.tape
assert_empty "$ERR"
td convert s.tape s2.tsv
assert_empty "$ERR"
assert_same_file s.tsv s2.tsv
td convert s2.tsv s2.tape
assert_same_file s.tape s2.tape
# Binary tape has the magic at the front.
[ "$(head -c 5 s.tape | tail -c 4)" = TAPE ] || fail "s.tape does not start with the tape magic"

# ---- tsv -> tsv and tape -> tape copy.
td convert s.tsv copy.tsv
assert_same_file s.tsv copy.tsv
td convert s.tape copy.tape
assert_same_file s.tape copy.tape

# ---- hand-written, non-canonical text keeps every event line.
printf '# tapedeck tsv v1\r\n0\t1\topen\t192.0.2.1:40000\t192.0.2.2:80\r\n1.5\t1\tc2s\t48454C4C4F\r\n2\t1\tclose\tend\r\n' >hand.tsv
td convert hand.tsv hand.tape
td convert hand.tape canon.tsv
assert_eq "$(event_lines canon.tsv)" 3 "event lines after canonicalising"
assert_contains canon.tsv "$(printf '1.500\t1\tc2s\t48454c4c4f')"
td convert canon.tsv canon.tape
assert_same_file hand.tape canon.tape

# ---- '-' for standard input and output.
td convert - in.tape <s.tsv
assert_same_file s.tape in.tape
td convert s.tape -
assert_same_file s.tsv "$OUT"
td convert - - <s.tape
assert_same_file s.tsv "$OUT"
td convert --to tape - - <s.tsv
assert_same_file s.tape "$OUT"
# Through a pipe, so nothing can seek.
cat s.tape | "$TAPEDECK" convert - - >piped.tsv || fail "convert from a pipe failed"
assert_same_file s.tsv piped.tsv

# ---- --from and --to.
td convert --to tsv s.tape text.out
assert_same_file s.tsv text.out
td convert -t tape s.tsv bin.out
assert_same_file s.tape bin.out
td convert --from tape s.tape f.tsv
assert_same_file s.tsv f.tsv
td convert -f tsv s.tsv f2.tape
assert_same_file s.tape f2.tape
# --to beats the extension.
td convert --to tsv s.tape looks-binary.tape
assert_same_file s.tsv looks-binary.tape
# The input's name does not matter: its content does.
cp s.tape misnamed.tsv
td convert misnamed.tsv m.tsv
assert_same_file s.tsv m.tsv
# --from that does not match the content is an error naming the file.
run_expect_status 2 "$TAPEDECK" convert --from tsv s.tape wrong.tape
assert_contains "$ERR" "s.tape"
assert_contains "$ERR" "s.tape:1:"
[ ! -e wrong.tape ] || fail "output created although the input header was rejected"
run_expect_status 2 "$TAPEDECK" convert --from tape s.tsv wrong.tsv
assert_contains "$ERR" "s.tsv"
assert_contains "$ERR" "offset"

# ---- usage errors: exit 2, a message, the hint, and no output file.
run_expect_status 2 "$TAPEDECK" convert s.tape out.foo
assert_contains "$ERR" "out.foo"
assert_contains "$ERR" "extension"
assert_contains "$ERR" "Try 'tapedeck convert --help'"
[ ! -e out.foo ] || fail "out.foo was created"
run_expect_status 2 "$TAPEDECK" convert s.tape noextension
assert_contains "$ERR" "noextension"
[ ! -e noextension ] || fail "noextension was created"
run_expect_status 2 "$TAPEDECK" convert --from nosuchfmt s.tape x.tsv
assert_contains "$ERR" "nosuchfmt"
run_expect_status 2 "$TAPEDECK" convert --to nosuchfmt s.tape x.tsv
assert_contains "$ERR" "nosuchfmt"
[ ! -e x.tsv ] || fail "x.tsv was created"
run_expect_status 2 "$TAPEDECK" convert s.tape
assert_contains "$ERR" "Try 'tapedeck convert --help'"
run_expect_status 2 "$TAPEDECK" convert
run_expect_status 2 "$TAPEDECK" convert a.tape b.tsv c.tsv
run_expect_status 2 "$TAPEDECK" convert --no-such-option s.tape x.tsv
assert_contains "$ERR" "Try 'tapedeck convert --help'"
run_expect_status 2 "$TAPEDECK" convert --from
run_expect_status 2 "$TAPEDECK" convert missing.tape x.tsv
assert_contains "$ERR" "missing.tape"
[ ! -e x.tsv ] || fail "x.tsv was created for a missing input"
# An output that cannot be created is exit 4 and names it.
run_expect_status 4 "$TAPEDECK" convert s.tape "$TMP/no/such/dir/x.tsv"
assert_contains "$ERR" "no/such/dir/x.tsv"

# ---- the ts_proxy example from the issue.
printf '# ts_proxy recording v1\n123\tc2s\t68656c6c6f\n456\ts2c\t776f726c64\n' >rec.tsp
td convert rec.tsp rec.tsv
assert_contains rec.tsv "$(printf '123\t1\tc2s\t68656c6c6f')"
assert_contains rec.tsv "$(printf '456\t1\ts2c\t776f726c64')"
assert_eq "$(grep -c -E "$TAB(c2s|s2c)$TAB" rec.tsv)" 2 "data events from the ts_proxy recording"
td convert rec.tsv back.tsp
assert_same_file rec.tsp back.tsp
td convert rec.tsp rec.tape
td convert rec.tape back2.tsp
assert_same_file rec.tsp back2.tsp
# Standard input, and --to for a name without an extension.
td convert --to tsp - recording <rec.tsv
assert_same_file rec.tsp recording
td convert --from tsp recording rec2.tsv
assert_same_file rec.tsv rec2.tsv
# What ts_proxy cannot hold: fin and notes are dropped with a warning...
printf '# tapedeck tsv v1\n0\t1\topen\t192.0.2.1:1\t192.0.2.2:2\n5\t1\tc2s\t41\n6\t0\tnote\thi\n7\t1\tfin\tc2s\n8\t1\tclose\tfin\n' >fin.tsv
td convert fin.tsv fin.tsp
assert_contains "$ERR" "warning"
assert_contains "$ERR" "fin.tsp"
assert_contains fin.tsp "$(printf '5\tc2s\t41')"
# ... and a second connection is refused.
run_expect_status 2 "$TAPEDECK" convert s.tsv multi.tsp
assert_contains "$ERR" "multi.tsp"

# ---- malformed input: exit 2 naming the place; the good part is written
# and the output finalised.
{
	sample_tsv
	printf '70\t9\tc2s\t41\n'
} >bad.tsv
run_expect_status 2 "$TAPEDECK" convert bad.tsv partial.tape
assert_contains "$ERR" "bad.tsv:21:"
td describe partial.tape
assert_not_contains "$ERR" "warning"
td convert partial.tape partial.tsv
assert_same_file s.tsv partial.tsv

# ---- bounded memory: a 300 MB tape converts in a few MB.
if [ -x "$GEN_TAPE" ] && /usr/bin/time -f %M -o rss.probe true 2>/dev/null; then
	big=${TD_BIG_BYTES:-300000000}
	small=$((big / 10))
	run_expect_status 0 "$GEN_TAPE" --big "$small" small.tape
	run_expect_status 0 "$GEN_TAPE" --big "$big" big.tape
	# tape -> tsv -> tape through a pipe, each side measured, the result
	# compared with the original without storing the text.
	rss_roundtrip() {
		{
			/usr/bin/time -f %M -o "$1.rss1" "$TAPEDECK" convert "$1" - 2>"$1.err1"
			echo $? >"$1.st1"
		} | {
			/usr/bin/time -f %M -o "$1.rss2" "$TAPEDECK" convert --to tape - - 2>"$1.err2"
			echo $? >"$1.st2"
		} | cmp - "$1" >"$1.cmp" 2>&1 && echo 0 >"$1.st3" || echo 1 >"$1.st3"
		for i in 1 2; do
			if grep -E 'Sanitizer|runtime error' "$1.err$i" >/dev/null; then
				sed -n '1,20p' "$1.err$i" >&2
				fail "sanitizer report converting $1"
			fi
			[ "$(cat "$1.st$i")" = 0 ] || { cat "$1.err$i" >&2; fail "converting $1 failed (stage $i)"; }
		done
		[ "$(cat "$1.st3")" = 0 ] || { cat "$1.cmp" >&2; fail "$1 -> tsv -> tape is not identical"; }
	}
	rss_roundtrip small.tape
	rss_roundtrip big.tape
	# The last line of the -o file is the number (GNU time may add a
	# "Command exited" line first).
	s1=$(tail -n 1 small.tape.rss1) s2=$(tail -n 1 small.tape.rss2)
	b1=$(tail -n 1 big.tape.rss1) b2=$(tail -n 1 big.tape.rss2)
	note "peak RSS (KiB): $small-byte tape $s1 + $s2, $big-byte tape $b1 + $b2"
	# Ten times the input may not cost more than 32 MiB extra (sanitizer
	# builds have a large fixed overhead, the same for both), and an
	# uninstrumented build stays under 100 MiB outright.
	for pair in "$s1 $b1" "$s2 $b2"; do
		# shellcheck disable=SC2086 # two numbers, split on purpose
		set -- $pair
		[ "$2" -le $(($1 + 32768)) ] ||
			fail "peak RSS grows with the tape: $1 KiB for $small bytes, $2 KiB for $big bytes"
	done
	if ! grep -a -q __asan_init "$TAPEDECK" 2>/dev/null; then
		if [ "$b1" -gt 102400 ] || [ "$b2" -gt 102400 ]; then
			fail "peak RSS over 100 MiB converting $big bytes: $b1 / $b2 KiB"
		fi
	fi
	rm -f big.tape small.tape
else
	note "skipping the bounded-memory check (no tests/gen_tape or no GNU /usr/bin/time)"
fi

exit 0
