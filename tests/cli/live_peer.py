#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
# live_peer.py - TCP peers that log exactly what each side sent, and a checker that compares live-capture tapes with those logs.
"""Peers and checker for the live-capture tests (tests/cli/live*.sh).

  live_peer.py server --port-file F [--bind ADDR]
      Listens (port 0: the kernel picks; written to F once listening) and
      serves every connection until killed: it reads requests of the form
      u32 payload length, u32 reply length (big-endian), payload, and answers
      each with reply-length bytes, until the client half-closes; then it
      closes too.

  live_peer.py client --host H --port P --conns N --seed S --log L
                      [--rounds R] [--max-size B] [--pace SEC]
      Runs N connections at once, each R request/reply rounds of random
      sizes up to B (both directions), and writes one line per connection
      to L: client-endpoint server-endpoint c2s-bytes c2s-sha256 s2c-bytes
      s2c-sha256.  The bytes are random (seeded), so every stream differs.

  live_peer.py check --log L [--partial | --lossy] [--http-body FILE
                      --http-port P --http-count K] TSV...
      Reads the tapes (TSV; the files of one rotated capture are put in
      order by their "part" metadata) and checks that every logged
      connection is on them with exactly the logged bytes each way and no
      gap.  --partial: a prefix of them, for a tape cut off by kill -9.
      --lossy: the capture lost packets, so each direction's data bytes plus
      gap bytes must add up to what was sent, and there must be gaps.
      Connections closed `rotated` must reopen `continued` in the next file
      with the same id and endpoints.  The --http options check K
      connections to port P whose reply body is FILE.  Prints what it
      found; exit status 0 when all is as expected.
"""

import hashlib
import os
import random
import socket
import struct
import sys
import threading
import time


def die(msg):
    print("live_peer: " + msg, file=sys.stderr)
    sys.exit(1)


def recv_exact(s, n):
    out = bytearray()
    while len(out) < n:
        b = s.recv(min(n - len(out), 1 << 20))
        if not b:
            return bytes(out)
        out += b
    return bytes(out)


# ---- server -------------------------------------------------------------------

def serve_conn(c):
    rnd = random.Random(c.fileno() * 7919 + int(time.time() * 1000))
    try:
        while True:
            hdr = recv_exact(c, 8)
            if len(hdr) < 8:
                break
            plen, rlen = struct.unpack(">II", hdr)
            if len(recv_exact(c, plen)) < plen:
                break
            c.sendall(rnd.randbytes(rlen))
    except OSError:
        pass
    finally:
        c.close()


def server(args):
    bind = opt(args, "--bind", "127.0.0.1")
    port_file = opt(args, "--port-file")
    fam = socket.AF_INET6 if ":" in bind else socket.AF_INET
    ls = socket.socket(fam, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((bind, 0))
    ls.listen(128)
    with open(port_file + ".tmp", "w") as f:
        f.write("%d\n" % ls.getsockname()[1])
    os.rename(port_file + ".tmp", port_file)
    while True:
        c, _ = ls.accept()
        threading.Thread(target=serve_conn, args=(c,), daemon=True).start()


# ---- client -------------------------------------------------------------------

def ep(addr):
    host, port = addr[0], addr[1]
    return ("[%s]:%d" % (host, port)) if ":" in host else ("%s:%d" % (host, port))


def run_conn(host, port, rounds, max_size, seed, pace, results, i):
    rnd = random.Random(seed)
    sent, got = hashlib.sha256(), hashlib.sha256()
    nsent = ngot = 0
    s = socket.create_connection((host, port), timeout=60)
    ends = "%s %s" % (ep(s.getsockname()), ep(s.getpeername()))
    try:
        for _ in range(rounds):
            payload = rnd.randbytes(rnd.randint(1, max_size))
            rlen = rnd.randint(1, max_size)
            msg = struct.pack(">II", len(payload), rlen) + payload
            s.sendall(msg)
            sent.update(msg)
            nsent += len(msg)
            reply = recv_exact(s, rlen)
            got.update(reply)
            ngot += len(reply)
            if len(reply) < rlen:
                raise OSError("short reply")
            if pace:
                time.sleep(pace)
        s.shutdown(socket.SHUT_WR)
        rest = recv_exact(s, 1 << 30)  # until the server's FIN
        got.update(rest)
        ngot += len(rest)
        results[i] = "%s %d %s %d %s" % (ends, nsent, sent.hexdigest(), ngot, got.hexdigest())
    finally:
        s.close()


def client(args):
    host = opt(args, "--host", "127.0.0.1")
    port = int(opt(args, "--port"))
    conns = int(opt(args, "--conns", "4"))
    rounds = int(opt(args, "--rounds", "3"))
    max_size = int(opt(args, "--max-size", "65536"))
    seed = int(opt(args, "--seed", "1"))
    pace = float(opt(args, "--pace", "0"))
    log = opt(args, "--log")
    results = [None] * conns
    threads = [threading.Thread(target=run_conn,
                                args=(host, port, rounds, max_size, seed * 1000 + i, pace, results, i))
               for i in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if any(r is None for r in results):
        die("%d of %d connections failed" % (sum(r is None for r in results), conns))
    with open(log, "a") as f:
        for r in results:
            f.write(r + "\n")


# ---- check --------------------------------------------------------------------

class Conn:
    def __init__(self, cid, client, server, flags):
        self.id, self.client, self.server, self.flags = cid, client, server, flags
        self.data = [bytearray(), bytearray()]
        self.gaps = [0, 0]
        self.closes = []  # reasons, one per file it was closed in
        self.files = 0


def unescape(s):
    out, i = bytearray(), 0
    while i < len(s):
        if s[i] == "\\" and i + 1 < len(s):
            c = s[i + 1]
            if c == "x":
                out.append(int(s[i + 2:i + 4], 16))
                i += 4
                continue
            out += {"\\": b"\\", "t": b"\t", "n": b"\n", "r": b"\r"}[c]
            i += 2
            continue
        out += s[i].encode()
        i += 1
    return bytes(out)


def part_of(path):
    with open(path) as f:
        for line in f:
            if not line.startswith("#"):
                break
            if line.startswith("# part: "):
                return int(line.split()[2])
    return 0


def read_tapes(paths):
    """Connections of one capture spread over files, joined across rotations."""
    paths = sorted(paths, key=part_of)
    conns, order, notes, problems = {}, [], [], []
    carried = {}  # id -> Conn closed `rotated` in the previous file
    for n, path in enumerate(paths):
        live = {}
        with open(path) as f:
            for line in f:
                line = line.rstrip("\n")
                if not line or line.startswith("#"):
                    continue
                col = line.split("\t")
                cid, ev = int(col[1]), col[2]
                if ev == "note":
                    notes.append(unescape(col[3]).decode(errors="replace"))
                    continue
                if ev == "open":
                    flags = col[5].split(",") if len(col) > 5 else []
                    if "continued" in flags:
                        c = carried.pop(cid, None)
                        if c is None:
                            problems.append("%s: connection %d opened 'continued' but was not closed "
                                            "'rotated' in the previous file" % (path, cid))
                            c = Conn(cid, col[3], col[4], flags)
                            conns[cid] = c
                            order.append(c)
                        elif (c.client, c.server) != (col[3], col[4]):
                            problems.append("%s: continued connection %d changed endpoints" % (path, cid))
                    else:
                        if cid in conns:
                            problems.append("%s: connection id %d used twice" % (path, cid))
                        c = Conn(cid, col[3], col[4], flags)
                        conns[cid] = c
                        order.append(c)
                    c.files += 1
                    live[cid] = c
                    continue
                c = live.get(cid)
                if c is None:
                    problems.append("%s: %s on connection %d, not open in this file" % (path, ev, cid))
                    continue
                if ev in ("c2s", "s2c"):
                    c.data[ev == "s2c"] += bytes.fromhex(col[3])
                elif ev == "gap":
                    c.gaps[col[3] == "s2c"] += int(col[4])
                elif ev == "close":
                    c.closes.append(col[3])
                    del live[cid]
                    if col[3] == "rotated":
                        carried[cid] = c
        if n + 1 < len(paths):
            for cid, c in live.items():
                problems.append("%s: connection %d still open at the end of a rotated file" % (path, cid))
        elif carried:
            problems.append("%s: connections %s closed 'rotated' in the last file" %
                            (path, sorted(carried)))
    return order, notes, problems


def check(args):
    log = opt(args, "--log", None)
    partial = "--partial" in args
    lossy = "--lossy" in args
    http_body = opt(args, "--http-body", None)
    paths, i = [], 0
    while i < len(args):
        if args[i] in ("--log", "--http-body", "--http-port", "--http-count"):
            i += 2
            continue
        if not args[i].startswith("--"):
            paths.append(args[i])
        i += 1
    if not paths:
        die("check: no tape")
    order, notes, problems = read_tapes(paths)
    by_ends = {}
    for c in order:
        by_ends.setdefault((c.client, c.server), []).append(c)
    expected = []
    if log:
        with open(log) as f:
            expected = [l.split() for l in f if l.strip()]
    found = 0
    for cl, sv, n0, h0, n1, h1 in expected:
        cs = by_ends.get((cl, sv))
        if not cs:
            if not partial:
                problems.append("connection %s -> %s is not on the tape" % (cl, sv))
            continue
        if len(cs) > 1:
            problems.append("connection %s -> %s is on the tape %d times" % (cl, sv, len(cs)))
        c = cs[0]
        found += 1
        for d, (n, h) in enumerate(((int(n0), h0), (int(n1), h1))):
            name = ("c2s", "s2c")[d]
            got = bytes(c.data[d])
            if lossy:
                if len(got) + c.gaps[d] != n:
                    problems.append("conn %d %s: %d data + %d gap bytes on the tape, %d sent" %
                                    (c.id, name, len(got), c.gaps[d], n))
                continue
            if c.gaps[d]:
                problems.append("conn %d %s: %d gap bytes" % (c.id, name, c.gaps[d]))
            if partial:
                if len(got) > n:
                    problems.append("conn %d %s: %d bytes, more than the %d sent" % (c.id, name, len(got), n))
                continue
            if len(got) != n or hashlib.sha256(got).hexdigest() != h:
                problems.append("conn %d %s: %d bytes on the tape, %d sent%s" %
                                (c.id, name, len(got), n, "" if len(got) != n else " (content differs)"))
        if not partial and c.closes[-1:] != ["fin"]:
            problems.append("conn %d ends %s, not fin" % (c.id, c.closes[-1:] or "open"))
    if http_body:
        port = opt(args, "--http-port")
        count = int(opt(args, "--http-count", "1"))
        body = open(http_body, "rb").read()
        hc = [c for c in order if c.server.endswith(":" + port)]
        good = 0
        for c in hc:
            req, resp = bytes(c.data[0]), bytes(c.data[1])
            head, sep, rbody = resp.partition(b"\r\n\r\n")
            if (req.startswith(b"GET ") and req.endswith(b"\r\n\r\n") and sep and
                    head.startswith(b"HTTP/1.") and rbody == body and not any(c.gaps) and
                    c.closes[-1:] == ["fin"]):
                good += 1
            else:
                problems.append("http conn %d: request %d bytes, reply %d bytes, body %s" %
                                (c.id, len(req), len(resp), "matches" if rbody == body else "differs"))
        if good != count:
            problems.append("%d good HTTP connections to port %s, expected %d" % (good, port, count))
        found += good
    if lossy and not any(c.gaps[0] or c.gaps[1] for c in order):
        problems.append("no gap on the tape, though packets were to be lost")
    rotated = sum(1 for c in order if c.files > 1)
    print("connections %d, matched %d, spanning files %d, notes %d" % (len(order), found, rotated, len(notes)))
    for n in notes:
        print("note: " + n)
    for p in problems:
        print("PROBLEM: " + p)
    sys.exit(1 if problems else 0)


def opt(args, name, default=Ellipsis):
    if name in args:
        i = args.index(name)
        if i + 1 < len(args):
            return args[i + 1]
    if default is Ellipsis:
        die("missing " + name)
    return default


def main():
    if len(sys.argv) < 2:
        die("usage: live_peer.py server|client|check ...")
    cmd, args = sys.argv[1], sys.argv[2:]
    {"server": server, "client": client, "check": check}.get(cmd, lambda a: die("unknown " + cmd))(args)


if __name__ == "__main__":
    main()
