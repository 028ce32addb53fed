#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
# proxy_peer.py - scriptable TCP peers on 127.0.0.1 for tests/cli/proxy.sh: echo servers (plain, framed) and concurrent clients.
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
                    if path == b"/chunked":
                        c.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                  b"4\r\nab\r\n\r\n3;x=y\r\ncde\r\n0\r\nX-T: 1\r\n\r\n")
                    else:
                        body = b"body of " + path
                        r = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body)
                        c.sendall(r if method == b"HEAD" else r + body)
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


def client(port, mode, count, tag):
    """count concurrent clients; prints one result line per client."""
    barrier = threading.Barrier(count)
    out = [None] * count

    def one(i):
        s = socket.create_connection(("127.0.0.1", port))
        barrier.wait()
        try:
            if mode == "echo":
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
