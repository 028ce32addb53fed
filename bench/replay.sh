#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# replay.sh - benchmark: `tapedeck replay` against a local sink (connections/s, MB/s, ratios to socat) and its timing accuracy at the recorded pace.
#
# Usage, from an optimised build directory without sanitizers (the figures
# in doc/performance.md come from one):
#   mkdir -p /tmp/build-bench-replay && cd /tmp/build-bench-replay
#   /path/to/configure -q CFLAGS='-O2 -g' && make -j2 && make tests/peers/kvserver
#   sh /path/to/bench/replay.sh
# Three runs, all on 127.0.0.1 against tests/peers/kvserver --mode sink
# (reads and discards; closes after the client's FIN):
#   conns     a tape of CONNS connections (each: open, 1 KiB, FIN both ways,
#             close), recorded 100 us apart and 10 ms long, so about 100
#             overlap; replayed with --timing none in recorded order and
#             --unordered --concurrency 64.  Versus socat: one
#             `socat -u FILE TCP:...` per connection for SOCAT_CONNS of them.
#   bulk      one connection carrying BULK_MB MiB in 64 KiB chunks, --timing
#             none, versus `socat -u FILE TCP:...` copying the same bytes.
#   timing    ACC_CONNS connections, each sending 20 chunks 10 ms apart, the
#             starts spread over 5 s; replayed at 1x: total duration versus
#             the recorded one, and the per-chunk schedule skew p50/p99/max.
# Environment: BUILD (default .), CONNS (10000), SOCAT_CONNS (500), BULK_MB
# (256), ACC_CONNS (100).  It installs socat with apt-get when missing and
# run as root.  Not a test: numbers depend on the machine and its load.
set -eu

BUILD=$(cd "${BUILD:-.}" && pwd)
TAPEDECK=${TAPEDECK:-$BUILD/tools/tapedeck}
KV=${KV:-$BUILD/tests/peers/kvserver}
CONNS=${CONNS:-10000}
SOCAT_CONNS=${SOCAT_CONNS:-500}
BULK_MB=${BULK_MB:-256}
ACC_CONNS=${ACC_CONNS:-100}

[ -x "$TAPEDECK" ] || { echo "replay bench: no $TAPEDECK (set BUILD)" >&2; exit 2; }
[ -x "$KV" ] || { echo "replay bench: no $KV ('make tests/peers/kvserver')" >&2; exit 2; }
command -v python3 >/dev/null || { echo "replay bench: python3 is needed" >&2; exit 2; }
if ! command -v socat >/dev/null; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq socat >/dev/null
	else
		echo "replay bench: no socat (Debian: apt-get install socat)" >&2
		exit 2
	fi
fi
if "$TAPEDECK" --version >/dev/null 2>&1 && nm -D "$TAPEDECK" 2>/dev/null | grep -q __asan_init; then
	echo "replay bench: $TAPEDECK is built with sanitizers; figures would mean little" >&2
fi

W=$(mktemp -d "${TMPDIR:-/tmp}/tapedeck-bench-replay.XXXXXX")
KVPID=
trap '[ -z "$KVPID" ] || kill "$KVPID" 2>/dev/null || :; rm -rf "$W"' EXIT
cd "$W"

"$KV" --mode sink --port-file sink.port 2>/dev/null &
KVPID=$!
i=0
while [ ! -s sink.port ]; do
	i=$((i + 1))
	[ "$i" -lt 500 ] || { echo "replay bench: the sink did not start" >&2; exit 1; }
	sleep 0.01
done
PORT=$(cat sink.port)
TARGET=127.0.0.1:$PORT
echo "replay bench: sink on $TARGET; $(nproc) CPUs; load $(cut -d' ' -f1-3 /proc/loadavg)"

# now_ns: monotonic-ish wall time in ns, for the socat runs.
now_ns() {
	python3 -c 'import time; print(time.monotonic_ns())'
}

# Tapes, written as TSV by Python and converted to the binary form.
python3 - "$CONNS" "$BULK_MB" "$ACC_CONNS" <<'EOF'
import sys
conns, bulk_mb, acc = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
payload = (b"x" * 1023 + b"\n").hex()
with open("conns.tsv", "w") as f:
    f.write("# tapedeck tsv v1\n")
    ev = []
    for i in range(1, conns + 1):
        t = i * 100  # microseconds
        c = "10.0.%d.%d:%d" % ((i >> 8) & 255, i & 255, 20000 + i % 40000)
        ev.append((t, i, 0, "open\t%s\t192.0.2.1:80" % c))
        ev.append((t + 10, i, 1, "c2s\t" + payload))
        ev.append((t + 9000, i, 2, "fin\tc2s"))
        ev.append((t + 10000, i, 3, "fin\ts2c"))
        ev.append((t + 10000, i, 4, "close\tfin"))
    ev.sort()
    for t, i, _, rest in ev:
        f.write("%d\t%d\t%s\n" % (t, i, rest))
    open("conns.raw", "wb").write(b"x" * 1023 + b"\n")
chunk = bytes(range(256)) * 256  # 64 KiB
n = bulk_mb * 16
with open("bulk.tsv", "w") as f:
    f.write("# tapedeck tsv v1\n0\t1\topen\t10.0.0.1:40000\t192.0.2.1:80\n")
    h = chunk.hex()
    for k in range(n):
        f.write("%d\t1\tc2s\t%s\n" % (k + 1, h))
    f.write("%d\t1\tfin\tc2s\n%d\t1\tfin\ts2c\n%d\t1\tclose\tfin\n" % (n + 1, n + 2, n + 2))
with open("bulk.raw", "wb") as f:
    for k in range(n):
        f.write(chunk)
with open("timing.tsv", "w") as f:
    f.write("# tapedeck tsv v1\n")
    ev = []
    for i in range(1, acc + 1):
        t0 = 1000 + (i - 1) * 5000000 // acc
        ev.append((t0, i, 0, "open\t10.0.0.1:%d\t192.0.2.1:80" % (30000 + i)))
        for k in range(20):
            ev.append((t0 + 100 + k * 10000, i, 1 + k, "c2s\t" + (b"tick %d\n" % k).hex()))
        ev.append((t0 + 200100, i, 30, "fin\tc2s"))
        ev.append((t0 + 200100, i, 31, "close\tend"))
    ev.sort()
    for t, i, _, rest in ev:
        f.write("%d\t%d\t%s\n" % (t, i, rest))
EOF
"$TAPEDECK" convert conns.tsv conns.tape
"$TAPEDECK" convert bulk.tsv bulk.tape
rm -f bulk.tsv

# field REPORT KEY: a number from a --report file's stats.
field() {
	python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["stats"][sys.argv[2]])' "$1" "$2"
}

rate() { # rate COUNT NS -> per second
	python3 -c 'import sys; print("%.0f" % (float(sys.argv[1]) * 1e9 / float(sys.argv[2])))' "$1" "$2"
}
mbps() { # mbps BYTES NS -> MB/s (10^6)
	python3 -c 'import sys; print("%.1f" % (float(sys.argv[1]) * 1e3 / float(sys.argv[2])))' "$1" "$2"
}
ratio() {
	python3 -c 'import sys; print("%.1f" % (float(sys.argv[1]) / float(sys.argv[2])))' "$1" "$2"
}

echo
echo "== $CONNS connections, --timing none"
"$TAPEDECK" replay conns.tape --target "$TARGET" --timing none -q --report c1.json
d1=$(field c1.json duration_ns)
ok1=$(field c1.json ok)
b1=$(field c1.json bytes_sent)
"$TAPEDECK" replay conns.tape --target "$TARGET" --timing none --unordered --concurrency 64 -q --report c2.json
d2=$(field c2.json duration_ns)
ok2=$(field c2.json ok)
b2=$(field c2.json bytes_sent)
t0=$(now_ns)
i=0
while [ "$i" -lt "$SOCAT_CONNS" ]; do
	socat -u FILE:conns.raw "TCP:$TARGET" 2>/dev/null
	i=$((i + 1))
done
t1=$(now_ns)
ds=$((t1 - t0))
r1=$(rate "$ok1" "$d1")
r2=$(rate "$ok2" "$d2")
rs=$(rate "$SOCAT_CONNS" "$ds")
echo "  recorded order:          $ok1 ok, $(python3 -c "print('%.2f' % ($d1 / 1e9))") s, $r1 conn/s, $(mbps "$b1" "$d1") MB/s sent"
echo "  unordered, 64 at once:   $ok2 ok, $(python3 -c "print('%.2f' % ($d2 / 1e9))") s, $r2 conn/s, $(mbps "$b2" "$d2") MB/s sent"
echo "  socat, one per process:  $SOCAT_CONNS in $(python3 -c "print('%.2f' % ($ds / 1e9))") s, $rs conn/s"
echo "  ratio to socat:          recorded order x$(ratio "$r1" "$rs"), unordered x$(ratio "$r2" "$rs")"

echo
echo "== bulk: $BULK_MB MiB on one connection, --timing none"
"$TAPEDECK" replay bulk.tape --target "$TARGET" --timing none -q --report b.json
db=$(field b.json duration_ns)
bb=$(field b.json bytes_sent)
t0=$(now_ns)
socat -u FILE:bulk.raw "TCP:$TARGET"
t1=$(now_ns)
dsb=$((t1 - t0))
mb=$(mbps "$bb" "$db")
ms=$(mbps "$(wc -c <bulk.raw)" "$dsb")
echo "  tapedeck replay: $mb MB/s ($(python3 -c "print('%.3f' % ($db / 1e9))") s, from a loaded tape)"
echo "  socat file copy: $ms MB/s ($(python3 -c "print('%.3f' % ($dsb / 1e9))") s, process start included)"
echo "  ratio to socat:  x$(ratio "$mb" "$ms")"

echo
echo "== timing accuracy at 1x: $ACC_CONNS connections x 20 chunks, 10 ms apart, over 5 s"
"$TAPEDECK" replay timing.tsv --target "$TARGET" --all -q --report t.json
python3 - t.json <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))["stats"]
err = (s["duration_ns"] - s["scheduled_ns"]) / s["scheduled_ns"] * 100
print("  duration %.4f s, recorded %.4f s: error %+.3f%% (target: within 1%%)" %
      (s["duration_ns"] / 1e9, s["scheduled_ns"] / 1e9, err))
print("  schedule skew over %d connects and chunks: p50 %.1f us, p99 %.1f us (target: under 200 us), max %.1f us" %
      (s["skew_samples"], s["skew_p50_ns"] / 1e3, s["skew_p99_ns"] / 1e3, s["skew_max_ns"] / 1e3))
print("  %d ok, %d failed" % (s["ok"], s["failed"]))
EOF
