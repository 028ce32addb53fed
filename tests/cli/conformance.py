#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
# conformance.py - compares tapedeck's reassembled streams with tshark's "follow,tcp,raw" and classifies each difference.
"""
Usage: conformance.py [--tshark PATH] [--max-streams N] [--describe JSON] [--name NAME] CAPTURE TAPE.tsv

CAPTURE is the pcap/pcapng file, TAPE.tsv what `tapedeck capture` made of it.
tshark's own TCP follow (`-z follow,tcp,raw,N`, all streams of one capture
in one tshark run) gives, per TCP stream, the bytes each side sent; the tape
gives the same per connection and direction.  Streams and connections are
paired by their endpoints, in order of appearance (either side may split a
reused 4-tuple into several streams).

Every (stream, direction) is one of
  identical   the same bytes;
  explained   different, and the difference is one of the defined cases of
              doc/conformance.md, each checked against the captured segments
              (tshark -T fields), not just assumed:
                gap-marked, gap-omitted     a tape `gap` where tshark writes its
                    "[N bytes missing in capture file]" marker, or nothing
                    (no captured segment holds those bytes);
                after-unfilled-hole         tshark prints nothing after a hole
                    it never filled, the tape a gap and the rest;
                after-fin, after-rst        tshark's bytes beyond the sender's
                    FIN, or captured after a RST (tapedeck stops there);
                conflict                    tapedeck noted a conflicting
                    retransmission there and kept the first copy;
                start-point                 the two start a direction at
                    different sequence numbers (no SYN seen);
                late-bytes-tape-gap, late-bytes-tshark-marker   bytes captured
                    only after an ACK covering them: one side had given up;
                rejected-frame              frames tapedeck's decoder rejects
                    (IPv4 Total Length 0, as with TSO) and tshark takes;
  unexplained anything else, printed with the first differing offset and the
              bytes around it on both sides.

One line per direction compared goes to standard output ("STREAM ..."), then
"SUMMARY NAME TSHARK PAIRS DIRECTIONS IDENTICAL EXPLAINED UNEXPLAINED
REASONS [capped=N]": TSHARK counts tshark's TCP streams, PAIRS the
stream/connection pairs compared (streams without payload that tapedeck
opened no connection for are not), the next four count directions (a
stream/connection pairing that fails counts one unexplained), REASONS is
"class=count,..." or "-".  Exit status: 0 no
unexplained difference, 1 some, 2 usage error, tshark failed or the tape
disagrees with `tapedeck describe`, 3 tshark too old (tcp.seq_raw,
tcp.payload and `-z follow,tcp,raw` are needed: tshark 3.0 or later).
"""

import argparse
import ipaddress
import json
import re
import subprocess
import sys

CTX = 16            # bytes of context shown either side of a difference
BATCH = 50          # follow taps per tshark run
MISSING = re.compile(rb"\[(\d+) bytes missing in capture file\]\x00")
CONFLICT = re.compile(r"^(c2s|s2c) retransmission at stream offset (\d+) differs from the \w+ bytes "
                      r"\((\d+) of (\d+) bytes\)")


def die(msg):
    sys.stderr.write("conformance.py: %s\n" % msg)
    sys.exit(2)


def fmt_ep(ep):
    return ("[%s]:%d" if ep[0].version == 6 else "%s:%d") % (ep[0], ep[1])


def norm_ep(s):
    """'1.2.3.4:80' or '[::1]:80' -> (ip_address, port)."""
    host, _, port = s.rpartition(":")
    host = host.strip("[]")
    return (ipaddress.ip_address(host), int(port))


# ---- the tape ----------------------------------------------------------------

class Conn:
    def __init__(self, cid, client, server, flags, t):
        self.id = cid
        self.ep = (client, server)           # [0] client (c2s sender), [1] server
        self.flags = flags
        self.open_t = t
        self.items = ([], [])                # per direction: ("data", bytes) / ("gap", n)
        self.fin = [None, None]              # tape time of the FIN per direction
        self.rst = None                      # (direction, time) of the first RST
        self.close = None
        self.conflicts = ([], [])            # (stream offset, length of the compared range)
        self.notes = []


def read_tape(path):
    conns = []
    byid = {}
    with open(path, "rb") as f:
        for raw in f:
            line = raw.rstrip(b"\n").decode("utf-8", "replace")
            if not line or line.startswith("#"):
                continue
            col = line.split("\t")
            t, cid, ev = col[0], int(col[1]), col[2]
            if cid == 0:
                continue
            if ev == "open":
                c = Conn(cid, norm_ep(col[3]), norm_ep(col[4]), col[5] if len(col) > 5 else "", t)
                conns.append(c)
                byid[cid] = c
                continue
            c = byid[cid]
            if ev in ("c2s", "s2c"):
                c.items[ev == "s2c"].append(("data", bytes.fromhex(col[3])))
            elif ev == "gap":
                c.items[col[3] == "s2c"].append(("gap", int(col[4])))
            elif ev == "fin":
                c.fin[col[3] == "s2c"] = t
            elif ev == "rst":
                if c.rst is None:
                    c.rst = (int(col[3] == "s2c"), t)
            elif ev == "close":
                c.close = col[3]
            elif ev == "note":
                c.notes.append(col[3])
                m = CONFLICT.match(col[3])
                if m:
                    c.conflicts[m.group(1) == "s2c"].append((int(m.group(2)), int(m.group(4))))
    return conns


# ---- tshark ---------------------------------------------------------------------

def tshark_run(tshark, args):
    p = subprocess.run([tshark] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    err = p.stderr.decode("utf-8", "replace")
    if p.returncode != 0 and ("aren't valid" in err or "nvalid -z argument" in err):
        sys.stderr.write("conformance.py: this tshark lacks what the comparison needs: %s\n" % err.strip()[:300])
        sys.exit(3)
    if p.returncode != 0:
        die("%s %s: exit %d: %s" % (tshark, " ".join(args[:4]), p.returncode,
                                    p.stderr.decode("utf-8", "replace").strip()[:300]))
    return p.stdout.decode("utf-8", "replace")


class Frame:
    pass


def tshark_frames(tshark, capture):
    """Every TCP segment tshark dissects: stream, endpoints, seq, flags, payload."""
    fields = ["frame.number", "tcp.stream", "ip.src", "ipv6.src", "tcp.srcport", "ip.dst", "ipv6.dst",
              "tcp.dstport", "tcp.seq_raw", "tcp.ack_raw", "tcp.len", "tcp.flags", "tcp.payload"]
    # ICMP errors quoting a TCP header are left out: tshark files the quoted
    # header under a stream, but it is no segment of it.
    args = ["-r", capture, "-n", "-Y", "tcp && !icmp && !icmpv6", "-T", "fields", "-E", "separator=/t",
            "-E", "occurrence=l"]
    for f in fields:
        args += ["-e", f]
    streams = {}
    for line in tshark_run(tshark, args).splitlines():
        col = line.split("\t")
        if len(col) != len(fields) or not col[1]:
            continue
        fr = Frame()
        fr.num = int(col[0])
        fr.stream = int(col[1])
        src = col[2] or col[3]
        dst = col[5] or col[6]
        fr.src = (ipaddress.ip_address(src), int(col[4]))
        fr.dst = (ipaddress.ip_address(dst), int(col[7]))
        fr.seq = int(col[8]) if col[8] else 0
        fl = int(col[11], 16) if col[11] else 0
        fr.ack = int(col[9]) if col[9] and fl & 0x10 else None
        fr.len = int(col[10]) if col[10] else 0
        fr.syn, fr.fin, fr.rst = bool(fl & 2), bool(fl & 1), bool(fl & 4)
        fr.payload = bytes.fromhex(col[12].replace(":", "")) if col[12] else b""
        streams.setdefault(fr.stream, []).append(fr)
    return streams


def rejected_frames(tshark, capture, nums):
    """Which of these frames tapedeck's decoder rejects as malformed although
    tshark takes them (doc/design/decode.md): an IPv4 Total Length of 0, as
    captures on a host doing TCP segmentation offload show; tshark presumes
    the length from the frame.  Read from tshark's raw field bytes."""
    if not nums:
        return set()
    args = ["-r", capture, "-n", "-T", "json", "-x", "-J", "frame ip",
            "-Y", " || ".join("frame.number == %d" % n for n in nums)]
    out = set()
    for pkt in json.loads(tshark_run(tshark, args) or "[]"):
        layers = pkt.get("_source", {}).get("layers", {})
        ip = layers.get("ip")
        num = None
        fr = layers.get("frame")
        if isinstance(fr, dict):
            num = int(fr.get("frame.number", "0"))
        if isinstance(ip, list):
            ip = ip[-1]
        if not isinstance(ip, dict) or num is None:
            continue
        raw = ip.get("ip.len_raw")
        if raw and int(raw[0], 16) == 0:
            out.add(num)
    return out


class Stream:
    pass


def tshark_follow(tshark, capture, ids):
    """{stream: Stream} with .node (endpoints of node 0 and 1) and .data[node]."""
    out = {}
    for i in range(0, len(ids), BATCH):
        args = ["-r", capture, "-n", "-q"]
        for n in ids[i:i + BATCH]:
            args += ["-z", "follow,tcp,raw,%d" % n]
        cur = None
        for line in tshark_run(tshark, args).splitlines():
            if line.startswith("Filter: tcp.stream eq "):
                cur = Stream()
                cur.id = int(line.split()[-1])
                cur.node = [None, None]
                cur.data = [bytearray(), bytearray()]
                out[cur.id] = cur
            elif cur is None or line.startswith("====") or line.startswith("Follow:"):
                continue
            elif line.startswith("Node 0: ") or line.startswith("Node 1: "):
                v = line[8:]
                cur.node[int(line[5])] = None if v == ":0" else norm_ep(v)
            elif line.startswith("\t"):
                cur.data[1] += bytes.fromhex(line[1:])
            elif line:
                cur.data[0] += bytes.fromhex(line)
    return out


# ---- comparing one direction ---------------------------------------------------------

def hexctx(b, at):
    lo = max(0, at - CTX)
    return "%s|%s" % (b[lo:at].hex(), b[at:at + CTX].hex())


def covered(conflicts, off):
    return any(o <= off < o + n for o, n in conflicts)


def seq_lt(a, b):
    return ((a - b) & 0xffffffff) >= 0x80000000


def data_frames(frames, src):
    """(first sequence number, frame) of the frames src sent with payload."""
    out = []
    for f in frames:
        if f.src == src and f.payload:
            out.append(((f.seq + (1 if f.syn else 0)) & 0xffffffff, f))
    return out


def pieces_of(buf, frames):
    """The frames whose payloads, laid end to end, make up buf exactly (in
    any order of capture), or None."""
    out, p = [], 0
    while p < len(buf):
        f = next((f for _, f in frames if f.payload and buf[p:p + len(f.payload)] == f.payload
                  and len(f.payload) <= len(buf) - p), None)
        if f is None:
            return None
        out.append(f)
        p += len(f.payload)
    return out


class Ctx:
    """What the explanations of one direction need besides the bytes."""
    def __init__(self, conn, d, frames, rejected):
        self.conn = conn
        self.d = d
        self.frames = frames
        self.src = conn.ep[d]
        self.dfr = data_frames(frames, self.src)
        self.rejected = rejected     # callable: frame numbers -> set of those tapedeck's decoder rejects
        self.map = None              # seq_map(dfr), when needed


def seq_map(frames):
    """{sequence number: byte} of these (first seq, frame) pairs; the first
    copy of a byte in capture order wins."""
    m = {}
    for s, f in frames:
        for j, byte in enumerate(f.payload):
            m.setdefault((s + j) & 0xffffffff, byte)
    return m


def span(m, s, n):
    """The n bytes at sequence numbers [s, s + n) of map m, or None."""
    out = bytearray()
    for j in range(n):
        byte = m.get((s + j) & 0xffffffff)
        if byte is None:
            return None
        out.append(byte)
    return bytes(out)


def explain_tail(tail, ctx):
    """tshark has tail after the last byte of the tape: the bytes the sender
    sent at or beyond its FIN's sequence number, bytes from segments captured
    after the connection's first RST, or frames tapedeck's decoder rejects?
    Returns the reason or None."""
    conn, d = ctx.conn, ctx.d
    fin = next((f for f in ctx.frames if f.src == ctx.src and f.fin), None)
    if conn.fin[d] is not None and fin is not None:
        fin_seq = (fin.seq + fin.len + (1 if fin.syn else 0)) & 0xffffffff
        if span(seq_map(ctx.dfr), fin_seq, len(tail)) == tail:
            return "after-fin"
    rst = next((f for f in ctx.frames if f.rst), None)
    if conn.rst is not None and rst is not None:
        late = [(s, f) for s, f in ctx.dfr if f.num > rst.num]
        m = seq_map(late)
        if any(span(m, s, len(tail)) == tail for s, _ in late):
            return "after-rst"
    # Frames tapedeck's decoder rejects, after the last one it took (no gap:
    # the tape cannot know how many bytes followed).
    parts = pieces_of(tail, ctx.dfr)
    nums = [f.num for f in parts] if parts else []
    if parts and ctx.rejected(nums) == set(nums):
        return "rejected-frame"
    return None


def explain_head(extra, ctx, tshark_has):
    """One side has a prefix the other lacks: the two start the direction at
    different sequence numbers, and the prefix is exactly the captured bytes
    between the two starts.  tshark starts a direction at the first segment
    it sees from that side (with or without payload) and never goes back;
    tapedeck starts it after the SYN, else at the sequence number the
    segment that opened the connection gives (its own, or for the other
    direction its ACK), and drops bytes before.  Returns the reason or None."""
    if not extra:
        return None
    if tshark_has:
        first = next((f for f in ctx.frames if (f.syn or f.payload) and not f.rst), None)
        if first is None:
            return None
        if first.src == ctx.src:
            start = (first.seq + (1 if first.syn else 0)) & 0xffffffff
        elif first.ack is not None:
            start = first.ack
        else:
            return None
    else:
        first = next((f for f in ctx.frames if f.src == ctx.src), None)
        if first is None:
            return None
        start = (first.seq + (1 if first.syn else 0)) & 0xffffffff
    m = seq_map(ctx.dfr)
    if tshark_has:
        # tshark's prefix runs right up to where the tape starts.
        ok = span(m, (start - len(extra)) & 0xffffffff, len(extra)) == extra
    else:
        # The tape's prefix ends at or before tshark's start (which may lie
        # past a FIN, whose sequence number carries no byte).
        ok = any(span(m, s, len(extra)) == extra and not seq_lt(start, (s + len(extra)) & 0xffffffff)
                 for s, _ in ctx.dfr)
    return "start-point" if ok else None


def late_after_ack(s, n, ctx):
    """Was every one of the n bytes at sequence number s first captured only
    after a segment of the peer had acknowledged it?  (Checked at both ends
    of the range.)  Then one side gave up waiting for bytes the ACK proved
    sent, and the bytes turned up later: the capture reordered them."""
    for q in (s, (s + n - 1) & 0xffffffff):
        carriers = [f.num for st, f in ctx.dfr if ((q - st) & 0xffffffff) < len(f.payload)]
        if not carriers:
            return False
        first = min(carriers)
        if not any(g.src != ctx.src and g.ack is not None and g.num < first and seq_lt(q, g.ack)
                   for g in ctx.frames):
            return False
    return True


def uncaptured(s, n, ctx):
    """No captured payload byte lies in the n sequence numbers from s."""
    if ctx.map is None:
        ctx.map = seq_map(ctx.dfr)
    return all(((s + k) & 0xffffffff) not in ctx.map for k in range(n))


def uncaptured_before_fin(n, ctx):
    """The n sequence numbers just before the sender's FIN hold no captured byte."""
    fin = next((f for f in ctx.frames if f.src == ctx.src and f.fin), None)
    if fin is None or ctx.conn.fin[ctx.d] is None:
        return False
    fin_seq = (fin.seq + fin.len + (1 if fin.syn else 0)) & 0xffffffff
    return uncaptured((fin_seq - n) & 0xffffffff, n, ctx)


def locate(buf, ctx):
    """The sequence numbers at which the captured bytes are exactly buf."""
    if ctx.map is None:
        ctx.map = seq_map(ctx.dfr)
    probe = buf[:16]
    out = []
    for st, f in ctx.dfr:
        p = f.payload.find(probe)
        while p >= 0:
            s = (st + p) & 0xffffffff
            if s not in out and span(ctx.map, s, len(buf)) == buf:
                out.append(s)
            p = f.payload.find(probe, p + 1)
    return out


def compare_dir(T, ctx):
    """Returns (verdict, reasons, detail): verdict 'identical', 'explained' or
    'unexplained'; reasons the set of explanation classes used; detail the
    message for an unexplained difference."""
    conn, d = ctx.conn, ctx.d
    T = bytes(T)
    tape = bytearray()
    gaps = []                      # (position in the tape's data, gap bytes)
    for kind, v in conn.items[d]:
        if kind == "data":
            tape += v
        else:
            gaps.append((len(tape), v))
    tape = bytes(tape)
    if tape == T and not gaps:
        return "identical", set(), ""
    reasons = set()

    # A prefix one side has and the other has not.
    if not gaps:
        r = None
        if len(tape) > len(T) and tape.endswith(T):
            r = explain_head(tape[:len(tape) - len(T)], ctx, False)
        elif len(T) > len(tape) and T.endswith(tape):
            r = explain_head(T[:len(T) - len(tape)], ctx, True)
        if r:
            return "explained", {r}, ""

    i = 0          # position in T
    j = 0          # position in the tape's data
    gi = 0         # next gap
    gapped = 0     # gap bytes before j: stream offset = j + gapped

    def ctx_t(at):
        return hexctx(T, at)

    def ctx_d(at):
        return hexctx(tape, at)

    while True:
        if gi < len(gaps) and gaps[gi][0] == j:
            v = gaps[gi][1]
            gi += 1
            lim = gaps[gi][0] if gi < len(gaps) else len(tape)
            nxt = tape[j:min(lim, j + 64)]
            m = MISSING.match(T, i)
            if m:
                # tshark's marker for bytes the receiver acknowledged but the
                # capture lacks; its count is tshark's own guess.
                reasons.add("gap-marked")
                i = m.end()
            elif i == len(T):
                if j < len(tape):
                    # tshark keeps the segments after a hole it never filled
                    # queued, and prints none of them.
                    reasons.add("after-unfilled-hole")
                    return "explained", reasons, ""
                # A hole before the FIN, nothing after it: nothing to print.
                if not uncaptured_before_fin(v, ctx):
                    return "unexplained", reasons, (
                        "the tape ends with a gap of %d bytes at stream offset %d that is not a hole "
                        "before the FIN in the capture" % (v, j + gapped))
                reasons.add("gap-omitted")
            elif nxt and T[i:i + len(nxt)] == nxt:
                # tshark skips the bytes silently: a snaplen cut them.
                if not any(uncaptured(s - v, v, ctx) for s in locate(nxt, ctx)):
                    return "unexplained", reasons, (
                        "the tape has a gap of %d bytes at stream offset %d that tshark skips, but the "
                        "capture holds some of those bytes: tape %s" % (v, j + gapped, ctx_d(j)))
                reasons.add("gap-omitted")
            else:
                # tshark has bytes where the tape says none were captured:
                # fine if tapedeck's decoder rejected their frames, or if
                # they were captured only after an ACK had proved them sent
                # (tapedeck gave the hole up, e.g. on the ACK of a FIN, which
                # tshark ignores, and drops late bytes).
                lost = T[i:i + v]
                ok = len(lost) == v and (not nxt or T[i + v:i + v + len(nxt)] == nxt)
                if ok:
                    parts = pieces_of(lost, ctx.dfr)
                    nums = [f.num for f in parts] if parts else []
                    if parts and ctx.rejected(nums) == set(nums):
                        reasons.add("rejected-frame")
                    elif any(late_after_ack(s, v, ctx) for s in locate(lost, ctx)):
                        reasons.add("late-bytes-tape-gap")
                    else:
                        return "unexplained", reasons, (
                            "the tape has a gap of %d bytes at stream offset %d where tshark has bytes "
                            "(tshark offset %d): tshark %s" % (v, j + gapped, i, ctx_t(i)))
                    i += v
                else:
                    return "unexplained", reasons, (
                        "around the gap of %d bytes at stream offset %d the streams differ (tshark offset "
                        "%d): tshark %s, tape %s" % (v, j + gapped, i, ctx_t(i), ctx_d(j)))
            gapped += v
            continue
        if j == len(tape):
            break
        lim = gaps[gi][0] if gi < len(gaps) else len(tape)
        while j < lim:
            # whole blocks first, then byte by byte
            blk = min(4096, lim - j)
            if T[i:i + blk] == tape[j:j + blk]:
                i += blk
                j += blk
                continue
            if i >= len(T):
                return "unexplained", reasons, (
                    "tshark's stream ends at offset %d; the tape has %d more bytes from stream offset %d: "
                    "tape %s" % (len(T), len(tape) - j, j + gapped, ctx_d(j)))
            if T[i] == tape[j]:
                i += 1
                j += 1
                continue
            if covered(conn.conflicts[d], j + gapped):
                # tapedeck kept the first copy, tshark another one.
                reasons.add("conflict")
                i += 1
                j += 1
                continue
            m = MISSING.match(T, i)
            if m:
                # tshark gave up on bytes the tape has: where does it resume?
                after = T[m.end():m.end() + 32]
                k = tape.find(after, j) if after else len(tape)
                if k < 0 or k > lim:
                    return "unexplained", reasons, (
                        "tshark marks bytes missing at stream offset %d (tshark offset %d) and never "
                        "resumes on the tape's bytes: tshark %s, tape %s" % (j + gapped, i, ctx_t(i), ctx_d(j)))
                skipped = tape[j:k]
                if not skipped or not any(late_after_ack(s, len(skipped), ctx) for s in locate(skipped, ctx)):
                    return "unexplained", reasons, (
                        "tshark marks %d bytes missing at stream offset %d (tshark offset %d) that the tape "
                        "has: tshark %s, tape %s" % (len(skipped), j + gapped, i, ctx_t(i), ctx_d(j)))
                reasons.add("late-bytes-tshark-marker")
                i = m.end()
                j = k
                continue
            return "unexplained", reasons, (
                "first difference at stream offset %d (tshark offset %d): tshark %s, tape %s"
                % (j + gapped, i, ctx_t(i), ctx_d(j)))
    if i == len(T):
        return ("explained" if reasons else "identical"), reasons, ""
    r = explain_tail(T[i:], ctx)
    if r:
        reasons.add(r)
        return "explained", reasons, ""
    return "unexplained", reasons, (
        "tshark has %d more bytes after stream offset %d, where the tape ends%s: tshark %s"
        % (len(T) - i, j + gapped, " with a fin" if conn.fin[d] else "", ctx_t(i)))


# ---- pairing streams with connections ---------------------------------------------------

def tuple_key(a, b):
    return tuple(sorted([a, b], key=lambda e: (e[0].version, int(e[0]), e[1])))


def check_describe(path, conns):
    """The tape as `tapedeck describe --json` sums it up must agree with the
    tape as read here, connection by connection."""
    with open(path, "rb") as f:
        d = json.loads(f.read().decode("utf-8", "replace"))
    rows = {r["conn"]: r for r in d.get("connections", [])}
    if d.get("error"):
        die("tapedeck describe: %s" % d["error"])
    if sorted(rows) != sorted(c.id for c in conns):
        die("tapedeck describe lists connections %s, the tape has %s" % (sorted(rows), [c.id for c in conns]))
    for c in conns:
        r = rows[c.id]
        for d_, dn in ((0, "c2s"), (1, "s2c")):
            nb = sum(len(b) for k, b in c.items[d_] if k == "data")
            ng = sum(b for k, b in c.items[d_] if k == "gap")
            if r.get(dn + "_bytes") != nb or r.get(dn + "_gap_bytes") != ng:
                die("conn %d %s: tapedeck describe says %s bytes and %s gap bytes, the tape has %d and %d"
                    % (c.id, dn, r.get(dn + "_bytes"), r.get(dn + "_gap_bytes"), nb, ng))


def main():
    ap = argparse.ArgumentParser(description="Compare a tape's streams with tshark's follow,tcp,raw.")
    ap.add_argument("--tshark", default="tshark", help="the tshark to run")
    ap.add_argument("--max-streams", type=int, default=200, help="compare the first N tshark streams only")
    ap.add_argument("--describe", help="output of `tapedeck describe --json TAPE`, cross-checked")
    ap.add_argument("--name", help="the capture's name in the output")
    ap.add_argument("capture")
    ap.add_argument("tape")
    o = ap.parse_args()
    name = o.name or o.capture

    conns = read_tape(o.tape)
    if o.describe:
        check_describe(o.describe, conns)
    frames = tshark_frames(o.tshark, o.capture)
    ids = sorted(frames)
    capped = len(ids) > o.max_streams
    ids = ids[:o.max_streams]
    follow = tshark_follow(o.tshark, o.capture, ids)

    def rejected(nums):
        return rejected_frames(o.tshark, o.capture, nums)

    # Per unordered 4-tuple, in order of appearance: tshark streams, tape connections.
    by_tuple_s = {}
    for sid in ids:
        if sid not in follow:
            die("tshark printed no follow output for stream %d" % sid)
        fr = frames[sid]
        by_tuple_s.setdefault(tuple_key(fr[0].src, fr[0].dst), []).append(sid)
    by_tuple_c = {}
    for c in conns:
        by_tuple_c.setdefault(tuple_key(*c.ep), []).append(c)

    counts = {"identical": 0, "explained": 0, "unexplained": 0}
    reasons_all = {}
    pairs = 0
    for key, sids in by_tuple_s.items():
        cs = by_tuple_c.get(key, [])
        # tshark makes a stream of any segment; tapedeck opens a connection
        # only for a SYN or a segment with payload (a stray ACK, FIN or RST
        # opens nothing).  Streams without data either way may have none.
        if len(sids) != len(cs):
            sids = [s for s in sids if follow[s].data[0] or follow[s].data[1]]
        if len(sids) != len(cs) and not (capped and len(sids) < len(cs)):
            desc = ", ".join("stream %d (%d+%d bytes)" % (s, len(follow[s].data[0]), len(follow[s].data[1]))
                             for s in by_tuple_s[key])
            descc = ", ".join("conn %d (%s)" % (c.id, c.flags or "-") for c in cs)
            print("STREAM %s - unexplained: on %s <-> %s tshark has %d streams with data [%s], the tape "
                  "%d connections [%s]" % (name, fmt_ep(key[0]), fmt_ep(key[1]), len(sids), desc, len(cs), descc))
            counts["unexplained"] += 1
            continue
        for sid, c in zip(sids, cs):
            st = follow[sid]
            fr = frames[sid]
            node0 = fr[0].src
            if st.node[0] is not None and st.node[0] != node0:
                die("stream %d: node 0 is %s, its first frame comes from %s" % (sid, st.node[0], node0))
            pairs += 1
            for d, dn in ((0, "c2s"), (1, "s2c")):
                T = st.data[0 if (c.ep[d] == node0) else 1]
                verdict, rs, detail = compare_dir(T, Ctx(c, d, fr, rejected))
                counts[verdict] += 1
                for r in rs:
                    reasons_all[r] = reasons_all.get(r, 0) + 1
                line = "STREAM %s %d conn %d %s %s tshark=%d tape=%d" % (
                    name, sid, c.id, dn, verdict, len(T),
                    sum(len(b) for k, b in c.items[d] if k == "data"))
                if rs:
                    line += " [%s]" % ",".join(sorted(rs))
                if detail:
                    line += ": " + detail
                print(line)
    # Tape connections with data on a tuple where tshark has no stream.
    for key, cs in by_tuple_c.items():
        if key in by_tuple_s or capped:
            continue
        for c in cs:
            nbytes = sum(len(b) for d in (0, 1) for k, b in c.items[d] if k == "data")
            if nbytes:
                print("STREAM %s - conn %d unexplained: %d bytes on %s <-> %s, where tshark has no stream"
                      % (name, c.id, nbytes, fmt_ep(c.ep[0]), fmt_ep(c.ep[1])))
                counts["unexplained"] += 1
    print("SUMMARY %s %d %d %d %d %d %d %s%s" % (
        name, len(frames), pairs, sum(counts.values()), counts["identical"], counts["explained"], counts["unexplained"],
        ",".join("%s=%d" % kv for kv in sorted(reasons_all.items())) or "-",
        " capped=%d" % o.max_streams if capped else ""))
    return 1 if counts["unexplained"] else 0


if __name__ == "__main__":
    sys.exit(main())
