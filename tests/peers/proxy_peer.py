#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
# proxy_peer.py - scriptable TCP peers on 127.0.0.1 for tests/cli/proxy.sh and serve_codecs.sh: echo servers (plain, framed) and concurrent clients.
import socket
import struct
import sys
import threading


def recv_exact(s, n):
    b = b""
    while len(b) < n:
        k = s.recv(n - len(b))
        if not k:
            return None
        b += k
    return b


def serve(mode, port_file):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(64)
    with open(port_file + ".tmp", "w") as f:
        f.write(str(ls.getsockname()[1]))
    import os
    os.rename(port_file + ".tmp", port_file)

    def handle(c):
        try:
            if mode == "echo":
                # Echo "re:" + each chunk; after the client's FIN, a last
                # line, then our own FIN: the half-close in both directions.
                while True:
                    b = c.recv(65536)
                    if not b:
                        break
                    c.sendall(b"re:" + b)
                c.sendall(b"bye\n")
                c.shutdown(socket.SHUT_WR)
            elif mode == "http":
                # Keep-alive HTTP/1.1: HEAD gets headers only, /chunked a
                # chunked body with a trailer, the rest a Content-Length body.
                buf = b""
                while True:
                    while b"\r\n\r\n" not in buf:
                        b = c.recv(65536)
                        if not b:
                            return
                        buf += b
                    head, buf = buf.split(b"\r\n\r\n", 1)
                    method, path = head.split(b" ")[:2]
                    # A Content-Length request body is read and echoed.
                    clen = 0
                    for h in head.split(b"\r\n")[1:]:
                        k, _, v = h.partition(b":")
                        if k.strip().lower() == b"content-length":
                            clen = int(v)
                    while len(buf) < clen:
                        b = c.recv(65536)
                        if not b:
                            return
                        buf += b
                    reqbody, buf = buf[:clen], buf[clen:]
                    if path == b"/chunked":
                        c.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                  b"4\r\nab\r\n\r\n3;x=y\r\ncde\r\n0\r\nX-T: 1\r\n\r\n")
                    else:
                        body = b"body of " + path + (b" " + reqbody if reqbody else b"")
                        r = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body)
                        c.sendall(r if method == b"HEAD" else r + body)
            elif mode == "line":
                # Each line answered "re:" + line, in two writes.
                f = c.makefile("rb")
                for line in f:
                    r = b"re:" + line
                    c.sendall(r[:2])
                    c.sendall(r[2:])
                c.shutdown(socket.SHUT_WR)
            elif mode == "iso8583":
                # <2-byte length><MTI><rest>: answered with MTI + 10 and
                # "ok:" + rest, split inside the length header.
                while True:
                    h = recv_exact(c, 2)
                    if h is None:
                        break
                    m = recv_exact(c, struct.unpack(">H", h)[0])
                    r = b"%04d" % (int(m[:4]) + 10) + b"ok:" + m[4:]
                    w = struct.pack(">H", len(r)) + r
                    c.sendall(w[:1])
                    c.sendall(w[1:])
                c.shutdown(socket.SHUT_WR)
            elif mode == "len8":
                while True:
                    h = recv_exact(c, 8)
                    if h is None:
                        break
                    (n,) = struct.unpack(">Q", h)
                    p = recv_exact(c, n)
                    r = b"echo: " + p
                    # The answer in two writes, split inside the header.
                    w = struct.pack(">Q", len(r)) + r
                    c.sendall(w[:3])
                    c.sendall(w[3:])
                c.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        finally:
            c.close()

    while True:
        c, _ = ls.accept()
        threading.Thread(target=handle, args=(c,), daemon=True).start()


def framed_messages(mode, tag):
    """The three requests of a framed client (line, iso8583, http1); the
    second one carries tag, so a different tag is a mismatch there."""
    t = tag.encode()
    if mode == "line":
        return [b"hello\n", b"second " + t + b"\r\n", b"third\n"]
    if mode == "iso8583":
        ms = [b"0800hello", b"0200second " + t, b"0400third"]
        return [struct.pack(">H", len(m)) + m for m in ms]
    body = b"posted " + t
    return [b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n",
            b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body,
            b"HEAD /third HTTP/1.1\r\nHost: x\r\n\r\n"]


class Closed(Exception):
    pass


def read_answer(s, mode, buf, head_only):
    """One whole answer of the framing from s; buf[0] holds bytes read
    ahead.  Raises Closed at EOF or reset."""
    def more():
        try:
            b = s.recv(65536)
        except ConnectionResetError:
            b = b""
        if not b:
            raise Closed()
        buf[0] += b

    def take(n):
        while len(buf[0]) < n:
            more()
        r, buf[0] = buf[0][:n], buf[0][n:]
        return r

    def until(sep):
        while sep not in buf[0]:
            more()
        return take(buf[0].index(sep) + len(sep))

    if mode == "line":
        return until(b"\n")
    if mode == "iso8583":
        h = take(2)
        return h + take(struct.unpack(">H", h)[0])
    head = until(b"\r\n\r\n")
    if head_only:
        return head
    clen = None
    for h in head.split(b"\r\n")[1:]:
        k, _, v = h.partition(b":")
        if k.strip().lower() == b"content-length":
            clen = int(v)
        if k.strip().lower() == b"transfer-encoding" and b"chunked" in v.lower():
            r = head
            while True:
                line = until(b"\r\n")
                r += line
                n = int(line.split(b";")[0], 16)
                if n == 0:
                    while True:
                        t = until(b"\r\n")
                        r += t
                        if t == b"\r\n":
                            return r
                r += take(n + 2)
    return head + take(clen or 0)


def framed_client(s, mode, tag):
    """Sends the requests in odd pieces (a first byte alone, a cut inside
    the length header or the head, the next request's first byte with the
    end of this one) and reads each answer; returns the answers in hex,
    then eof, or closed when the peer ended the connection early."""
    import time
    ms = framed_messages(mode, tag)
    buf = [b""]
    res = []
    carry = b""
    try:
        for k, m in enumerate(ms):
            m = m[len(carry):]
            mid = max(3, len(m) // 2)
            pieces = [m[:1], m[1:3], m[3:mid], m[mid:]]
            if k + 1 < len(ms):
                carry = ms[k + 1][:1]
                pieces[-1] += carry
            for p in pieces:
                if p:
                    s.sendall(p)
                    time.sleep(0.003)
            res.append(read_answer(s, mode, buf, mode == "http1" and k == 2).hex())
        s.shutdown(socket.SHUT_WR)
        try:
            end = s.recv(1)
        except ConnectionResetError:
            end = b""
        res.append("eof" if buf[0] == b"" and end == b"" else "more")
    except (Closed, BrokenPipeError, ConnectionResetError):
        res.append("closed")
    return "|".join(res)


def client(port, mode, count, tag):
    """count concurrent clients; prints one result line per client."""
    barrier = threading.Barrier(count)
    out = [None] * count

    def one(i):
        s = socket.create_connection(("127.0.0.1", port))
        barrier.wait()
        try:
            if mode in ("line", "iso8583", "http1"):
                out[i] = framed_client(s, mode, tag)
            elif mode == "echo":
                msg = ("%s-%d\n" % (tag, i)).encode()
                s.sendall(msg)
                got = recv_exact(s, 3 + len(msg))
                s.shutdown(socket.SHUT_WR)
                rest = b""
                while True:
                    b = s.recv(65536)
                    if not b:
                        break
                    rest += b
                out[i] = (got + rest).decode()
            elif mode == "len8":
                res = []
                for k in range(2):
                    p = ("%d_%s" % (k + 1, tag)).encode()
                    w = struct.pack(">Q", len(p)) + p
                    for j in range(len(w)):  # byte by byte: short reads on the proxy
                        s.send(w[j:j + 1])
                    (n,) = struct.unpack(">Q", recv_exact(s, 8))
                    res.append(recv_exact(s, n).decode())
                s.shutdown(socket.SHUT_WR)
                out[i] = "|".join(res) + ("|eof" if s.recv(1) == b"" else "|more")
            elif mode == "oversize":
                # A header announcing more than the cap: the proxy resets us.
                s.sendall(struct.pack(">Q", int(tag)) + b"x")
                try:
                    b = s.recv(10)
                    out[i] = "closed" if b == b"" else "data"
                except ConnectionResetError:
                    out[i] = "reset"
            elif mode == "hold":
                # Connect, send a line, and wait to be cut off.
                s.sendall(b"held\n")
                recv_exact(s, 8)
                print("holding", flush=True)
                try:
                    s.recv(10)
                except OSError:
                    pass
                out[i] = "ended"
        finally:
            s.close()

    ts = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    for o in out:
        print(o if o is not None else "FAILED")


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(sys.argv[2], sys.argv[3])
    else:
        client(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5])
