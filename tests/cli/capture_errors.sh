#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# capture_errors.sh - hostile captures: truncated, garbage, impossible lengths; clear errors, never a crash or hang.
. "${TOP_SRCDIR:?}/tests/cli/lib.sh"

pcap=$TOP_SRCDIR/pcaps/http-session.pcap
size=$(wc -c < "$pcap")

# A capture cut anywhere: a cut inside the 24-byte file header is an error;
# after it, everything before the cut is kept (exit 0) with a warning when a
# record was cut.  Every offset is tried with TD_EXHAUSTIVE=1, else a sample.
step=${TD_EXHAUSTIVE:+1}
step=${step:-13}
off=0
while [ "$off" -lt "$size" ]; do
	head -c "$off" "$pcap" > "$TMP/cut.pcap"
	run "$TAPEDECK" capture -q -r "$TMP/cut.pcap" -w "$TMP/cut.tsv"
	if [ "$off" -lt 24 ]; then
		[ "$STATUS" -eq 2 ] || fail "cut at $off: exit $STATUS, expected 2"
		assert_contains "$ERR" "cut.pcap"
	else
		[ "$STATUS" -eq 0 ] || { cat "$ERR" >&2; fail "cut at $off: exit $STATUS, expected 0"; }
		run_expect_status 0 "$TAPEDECK" describe "$TMP/cut.tsv"
	fi
	off=$((off + step))
done
# A cut inside a record says how many bytes it dropped.
head -c $((size - 5)) "$pcap" > "$TMP/cut.pcap"
run_expect_status 0 "$TAPEDECK" capture -q -r "$TMP/cut.pcap" -w "$TMP/cut.tsv"
assert_contains "$ERR" "dropped"
assert_contains "$ERR" "trailing bytes"
# ... and keeps the data before it: the first two connections are complete.
run_expect_status 0 "$TAPEDECK" describe --json "$TMP/cut.tsv"
assert_contains "$OUT" '"close":"fin"'

# Garbage.
head -c 4096 /dev/urandom > "$TMP/random.pcap"
run_expect_status 2 "$TAPEDECK" capture -q -r "$TMP/random.pcap" -w "$TMP/r.tsv"
assert_contains "$ERR" "random.pcap"
: > "$TMP/empty.pcap"
run_expect_status 2 "$TAPEDECK" capture -q -r "$TMP/empty.pcap" -w "$TMP/r.tsv"
assert_contains "$ERR" "empty.pcap"
run_expect_status 2 "$TAPEDECK" capture -q -r "$TMP/missing.pcap" -w "$TMP/r.tsv"
assert_contains "$ERR" "missing.pcap"

# Impossible lengths: a record claiming 200 MB, and one claiming more bytes
# captured than on the wire, after a valid first packet.  libpcap refuses
# them; the packets before them are kept and the error names the offset.
python3 - "$pcap" "$TMP" <<'PY' || skip "python3 needed to forge records"
import struct, sys
src, tmp = sys.argv[1], sys.argv[2]
data = open(src, "rb").read()
hdr, first = data[:24], data[24:]
end = struct.unpack("<I", first[8:12])[0] + 16
rec = first[:end]
huge = struct.pack("<IIII", 1, 0, 200 * 1024 * 1024, 200 * 1024 * 1024)
open(tmp + "/huge.pcap", "wb").write(hdr + rec + huge + b"x" * 64)
bad_snap = bytearray(hdr)
bad_snap[16:20] = struct.pack("<I", 0)
open(tmp + "/snap0.pcap", "wb").write(bytes(bad_snap) + rec)
PY
run "$TAPEDECK" capture -q -r "$TMP/huge.pcap" -w "$TMP/h.tsv"
[ "$STATUS" -eq 2 ] || [ "$STATUS" -eq 0 ] || fail "huge record: exit $STATUS"
[ "$STATUS" -eq 0 ] || assert_contains "$ERR" "offset 114"
# The connection the bad record interrupted is still closed on the tape.
assert_contains "$TMP/h.tsv" "	close	end"
run "$TAPEDECK" capture -q -r "$TMP/snap0.pcap" -w "$TMP/s.tsv"
[ "$STATUS" -eq 0 ] || [ "$STATUS" -eq 2 ] || fail "snaplen 0: exit $STATUS"

# A pcapng section whose block length is absurd.
printf '\n\r\r\n\377\377\377\177M<+\032\001\000\000\000\377\377\377\377\377\377\377\377' > "$TMP/bad.pcapng"
run_expect_status 2 "$TAPEDECK" capture -q -r "$TMP/bad.pcapng" -w "$TMP/b.tsv"
assert_contains "$ERR" "bad.pcapng"

# Bad filters and options are usage errors.
run_expect_status 2 "$TAPEDECK" capture -q -r "$pcap" -w "$TMP/f.tsv" "tcp port"
assert_contains "$ERR" "bad filter"
run_expect_status 2 "$TAPEDECK" capture -q -r "$pcap" -w "$TMP/f.tsv" --max-conns 0
run_expect_status 2 "$TAPEDECK" capture -q -w "$TMP/f.tsv"
echo "ok"
