#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
# tshark2tsv.py - independent reference transcription of a clean capture into a tapedeck TSV, via tshark.
"""Usage: tshark2tsv.py CAPTURE > OUT.tsv

Only for clean captures (handshake present, no loss or reordering): each TCP
segment with payload becomes a data event, FIN/RST become fin/rst events and a
connection closes with "fin" when both sides sent FIN.  Used to make golden
tapes that do not depend on tapedeck's own reassembly.
"""
import subprocess
import sys


def main():
    fields = ["frame.time_epoch", "tcp.stream", "ip.src", "ipv6.src", "tcp.srcport",
              "ip.dst", "ipv6.dst", "tcp.dstport", "tcp.flags", "tcp.payload"]
    cmd = ["tshark", "-r", sys.argv[1], "-Y", "tcp", "-T", "fields", "-E", "separator=\t",
           "-o", "tcp.desegment_tcp_streams:FALSE"]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    rows = [line.split("\t") for line in out.splitlines()]
    start = None
    conns = {}
    lines = []
    for r in rows:
        t, stream, s4, s6, sp, d4, d6, dp, flags, payload = r
        sec, _, frac = t.partition(".")
        ns = int(sec) * 1000000000 + int((frac + "000000000")[:9])
        if start is None:
            start = ns - ns % 1000  # whole microseconds
        rel = ns - start
        us, rem = divmod(rel, 1000)
        tstr = f"{us}.{rem:03d}" if rem else f"{us}"
        src = f"{s4 or '[' + s6 + ']'}:{sp}"
        dst = f"{d4 or '[' + d6 + ']'}:{dp}"
        flags = int(flags, 16)
        cid = int(stream) + 1
        c = conns.get(cid)
        if c is None:
            c = conns[cid] = {"client": src, "fins": set(), "closed": False}
            lines.append(f"{tstr}\t{cid}\topen\t{src}\t{dst}")
        if c["closed"]:
            continue
        d = "c2s" if src == c["client"] else "s2c"
        if payload:
            lines.append(f"{tstr}\t{cid}\t{d}\t{payload.replace(':', '').lower()}")
        if flags & 0x01 and d not in c["fins"]:
            c["fins"].add(d)
            lines.append(f"{tstr}\t{cid}\tfin\t{d}")
            if len(c["fins"]) == 2:
                c["closed"] = True
                lines.append(f"{tstr}\t{cid}\tclose\tfin")
        if flags & 0x04:
            lines.append(f"{tstr}\t{cid}\trst\t{d}")
            lines.append(f"{tstr}\t{cid}\tclose\trst")
            c["closed"] = True
    sec, rem = divmod(start, 1000000000)
    import time
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) + f".{rem:09d}Z"
    print("# tapedeck tsv v1")
    print(f"# start: {stamp}")
    print(f"# source: {sys.argv[1].rsplit('/', 1)[-1]}")
    for line in lines:
        print(line)


if __name__ == "__main__":
    main()
