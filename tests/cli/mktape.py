#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
# mktape.py - writes hand-made binary tapes, valid or broken in one chosen way, for errors.sh.
"""Usage: mktape.py CASE OUT
       mktape.py --all DIR

Writes the binary tape CASE to OUT (doc/tape-format.md, src/fmt_tape.c) with
correct checksums, so that the reader gets past them to the fault under test.
Prints "OFFSET" on standard output: the byte offset the reader's error message
must name (-1 for the valid case "good").  With --all, writes every case to
DIR/CASE.tape and prints "CASE OFFSET" lines.
"""
import struct
import sys

MAGIC = b"\x89TAPE\r\n\x1a"
KIND_OPEN, KIND_DATA_C2S, KIND_CLOSE = 1, 2, 10


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283


def varint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def file_header(version=1, flags=0):
    h = MAGIC + struct.pack("<HH", version, flags)
    return h + struct.pack("<I", crc32c(h))


def block(btype, payload, length=None):
    if length is None:
        length = len(payload)
    h = struct.pack("<BII", btype, length, crc32c(payload))
    return h + struct.pack("<I", crc32c(h)) + payload


def meta_payload(pairs=(("source", "mktape.py"),), start=0, count=None):
    p = varint(start) + varint(len(pairs) if count is None else count)
    for k, v in pairs:
        p += varint(len(k)) + k.encode() + varint(len(v)) + v.encode()
    return p


def rec_open(delta, conn):
    return (bytes([KIND_OPEN]) + varint(delta) + varint(conn) + bytes([4]) +
            bytes([192, 0, 2, 1]) + struct.pack(">H", 40000) +
            bytes([192, 0, 2, 2]) + struct.pack(">H", 80) + varint(0))


def rec_data(delta, conn, data, length=None):
    n = len(data) if length is None else length
    return bytes([KIND_DATA_C2S]) + varint(delta) + varint(conn) + varint(n) + data


def rec_close(delta, conn, reason=0):
    return bytes([KIND_CLOSE]) + varint(delta) + varint(conn) + varint(reason)


CASES = (
    "good", "absurd-block-length", "absurd-meta-length", "absurd-data-length",
    "data-past-block", "absurd-meta-count", "unknown-event-kind", "data-before-open",
    "data-after-close", "base-time-mismatch", "time-past-limit", "overlong-varint",
    "end-count-mismatch", "bytes-after-end", "second-meta-block", "events-before-meta",
    "unknown-block-type", "header-flags", "future-version", "meta-key-nul",
    "close-reason-range",
)


def make(case):
    """Returns (bytes, offset) of CASE."""
    hdr = file_header()
    meta = block(ord("M"), meta_payload())
    ev_at = len(hdr) + len(meta)         # offset of the first events block
    rec_at = ev_at + 13 + 1              # first record (after base time 0)
    recs = rec_open(0, 1) + rec_data(5, 1, b"hello")
    good_events = block(ord("E"), varint(0) + recs + rec_close(1, 1))
    end = block(ord("Z"), varint(3))
    off = -1

    if case == "good":
        body = hdr + meta + good_events + end
    elif case == "absurd-block-length":
        body = hdr + meta + block(ord("E"), varint(0) + recs, length=0xFFFFFFF0)
        off = ev_at
    elif case == "absurd-meta-length":
        body = hdr + block(ord("M"), meta_payload(), length=0x7FFFFFFF)
        off = 16
    elif case == "absurd-data-length":
        bad = rec_data(1, 1, b"", length=1 << 40)
        body = hdr + meta + block(ord("E"), varint(0) + rec_open(0, 1) + bad)
        off = rec_at + len(rec_open(0, 1)) + 3     # kind, delta, conn
    elif case == "data-past-block":
        bad = rec_data(1, 1, b"abc", length=100)
        body = hdr + meta + block(ord("E"), varint(0) + rec_open(0, 1) + bad) + end
        off = rec_at + len(rec_open(0, 1)) + 3
    elif case == "absurd-meta-count":
        body = hdr + block(ord("M"), meta_payload(pairs=(), count=1 << 32))
        off = 29 + 1                                # start varint, then the count
    elif case == "unknown-event-kind":
        body = hdr + meta + block(ord("E"), varint(0) + rec_open(0, 1) + b"\x63\x00\x01")
        off = rec_at + len(rec_open(0, 1))
    elif case == "data-before-open":
        body = hdr + meta + block(ord("E"), varint(0) + rec_data(0, 5, b"x")) + end
        off = rec_at
    elif case == "data-after-close":
        payload = varint(0) + rec_open(0, 1) + rec_close(1, 1) + rec_data(1, 1, b"x")
        body = hdr + meta + block(ord("E"), payload)
        off = rec_at + len(rec_open(0, 1)) + len(rec_close(1, 1))
    elif case == "base-time-mismatch":
        # Block two says the previous event was at 99 ns; it was at 6 ns.
        second = block(ord("E"), varint(99) + rec_close(0, 1))
        body = hdr + meta + block(ord("E"), varint(0) + recs) + second
        off = ev_at + 13 + len(varint(0) + recs) + 13
    elif case == "time-past-limit":
        payload = varint(0) + rec_open(0, 1) + rec_data((1 << 62) + 1, 1, b"x")
        body = hdr + meta + block(ord("E"), payload)
        off = rec_at + len(rec_open(0, 1)) + 1
    elif case == "overlong-varint":
        payload = varint(0) + rec_open(0, 1) + bytes([KIND_DATA_C2S]) + b"\xff" * 11 + b"\x00"
        body = hdr + meta + block(ord("E"), payload)
        off = rec_at + len(rec_open(0, 1)) + 1
    elif case == "end-count-mismatch":
        body = hdr + meta + good_events + block(ord("Z"), varint(7))
        off = ev_at + len(good_events)
    elif case == "bytes-after-end":
        body = hdr + meta + good_events + end + b"trailing"
        off = ev_at + len(good_events) + len(end)
    elif case == "second-meta-block":
        body = hdr + meta + meta + good_events + end
        off = ev_at
    elif case == "events-before-meta":
        body = hdr + good_events + end
        off = 16
    elif case == "unknown-block-type":
        body = hdr + meta + block(ord("Q"), b"??") + good_events + end
        off = ev_at
    elif case == "header-flags":
        body = file_header(flags=0x8000) + meta + good_events + end
        off = 10
    elif case == "future-version":
        body = file_header(version=2) + meta + good_events + end
        off = 8
    elif case == "meta-key-nul":
        body = hdr + block(ord("M"), meta_payload(pairs=(("a\0b", "v"),))) + good_events + end
        off = 29 + 2
    elif case == "close-reason-range":
        payload = varint(0) + rec_open(0, 1) + rec_close(1, 1, reason=200)
        body = hdr + meta + block(ord("E"), payload)
        off = rec_at + len(rec_open(0, 1)) + 3
    else:
        sys.exit("mktape.py: unknown case " + case)
    return body, off


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--all":
        for case in CASES:
            body, off = make(case)
            with open("%s/%s.tape" % (sys.argv[2], case), "wb") as f:
                f.write(body)
            print(case, off)
    elif len(sys.argv) == 3:
        body, off = make(sys.argv[1])
        with open(sys.argv[2], "wb") as f:
            f.write(body)
        print(off)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
