#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Clients (and one proxy) for the evasion tests, run in the client or server netns by
tests/integration/test_evasion*.py. Every client binds --sport so the test finds the flow's
audit records, and prints one JSON object as its last stdout line.

  tiny       a ClientHello written in --chunk-byte segments (TCP_NODELAY, --gap-ms apart)
  hello      send prepared bytes (a ClientHello, optionally inflated past 16 KiB) and wait
  rawtcp     scapy: own TCP handshake, then the hello as --pieces segments sent in --order,
             optionally (--overlap-after K) a copy of piece 1 with other bytes after the K-th
             (the kernel's RSTs for this connection are dropped by iptables, set by the test)
  requests   HTTP/1.1 requests on one connection, one after the other (keep-alive) or all in
             one write (--pipeline); each answer read by its Content-Length
  raw        send raw request bytes, then read until EOF, reset or timeout
  hrr        a ClientHello that draws a HelloRetryRequest, then a second ClientHello
             (the same name, or --name2) after a CCS, as TLS 1.3 compatibility mode sends it
  connect    CONNECT through --proxy, then TLS to --name inside the tunnel, GET /
  proxy      (server netns) a CONNECT proxy that connects every authority to --upstream
"""

import argparse
import asyncio
import errno
import json
import os
import random
import socket
import ssl
import struct
import sys
import time

HRR_RANDOM = bytes.fromhex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")


def connect(ip, port, sport, timeout=5.0, nodelay=False):
    fam = socket.AF_INET6 if ":" in ip else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if nodelay:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if sport:
        s.bind(("::" if fam == socket.AF_INET6 else "0.0.0.0", sport))
    s.settimeout(timeout)
    s.connect((ip, port))
    return s


def client_hello(name, ca=None):
    """The ClientHello Python's ssl (OpenSSL) sends for name: bytes of the first flight."""
    ctx = ssl.create_default_context(cafile=ca) if ca else ssl.create_default_context()
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname=name)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


def inflate(hello, size):
    """Add a padding extension (RFC 7685) so the handshake message is `size` bytes, split
    into TLS records of at most 16384 bytes. Returns the record stream."""
    assert hello[0] == 0x16 and hello[5] == 0x01
    body = bytearray(hello[9:5 + struct.unpack(">H", hello[3:5])[0]])
    # walk to the extensions block: version(2) random(32) sid cs comp
    p = 34
    p += 1 + body[p]
    p += 2 + struct.unpack(">H", body[p:p + 2])[0]
    p += 1 + body[p]
    ext_len_at = p
    ext_len = struct.unpack(">H", body[p:p + 2])[0]
    pad = size - 4 - len(body) - 4
    assert pad > 0
    body += struct.pack(">HH", 21, pad) + b"\0" * pad
    body[ext_len_at:ext_len_at + 2] = struct.pack(">H", ext_len + 4 + pad)
    msg = bytes([1]) + struct.pack(">I", len(body))[1:] + bytes(body)
    out = b""
    for i in range(0, len(msg), 16384):
        frag = msg[i:i + 16384]
        out += b"\x16\x03\x01" + struct.pack(">H", len(frag)) + frag
    return out


def wait_answer(s, timeout):
    """recv until data, EOF, reset or timeout: (result, bytes)."""
    s.settimeout(timeout)
    try:
        data = s.recv(65536)
        return ("data" if data else "eof"), data
    except ConnectionResetError:
        return "reset", b""
    except socket.timeout:
        return "timeout", b""
    except OSError as e:
        return "error:" + errno.errorcode.get(e.errno, str(e.errno)), b""


def cmd_tiny(a):
    """The reset is timed from the first byte sent; `sent` says how many bytes went out
    (the kernel stops sending after its initial window of unacknowledged segments)."""
    hello = client_hello(a.name, a.ca)
    s = connect(a.ip, a.port, a.sport, nodelay=True)
    t0 = time.monotonic()
    sent, res = 0, {"hello_bytes": len(hello)}
    s.setblocking(False)
    result = None
    while sent < len(hello) and result is None:
        try:
            sent += s.send(hello[sent:sent + a.chunk])
        except BlockingIOError:
            pass
        except (ConnectionResetError, BrokenPipeError):
            result = "reset"
            break
        time.sleep(a.gap_ms / 1000.0)
        try:
            data = s.recv(65536)
            result = "data" if data else "eof"
        except BlockingIOError:
            pass
        except ConnectionResetError:
            result = "reset"
    if result is None:
        s.setblocking(True)
        result, _ = wait_answer(s, a.timeout)
    res.update({"result": result, "sent": sent, "ms": (time.monotonic() - t0) * 1000.0})
    s.close()
    return res


def cmd_hello(a):
    hello = client_hello(a.name, a.ca)
    if a.inflate:
        hello = inflate(hello, a.inflate)
    s = connect(a.ip, a.port, a.sport)
    t0 = time.monotonic()
    try:
        s.sendall(hello)
        result, data = wait_answer(s, a.timeout)
    except ConnectionResetError:
        result, data = "reset", b""
    res = {"result": result, "hello_bytes": len(hello), "ms": (time.monotonic() - t0) * 1000.0,
           "server_hello": data[:1] == b"\x16" and data[5:6] == b"\x02"}
    s.close()
    return res


def cmd_rawtcp(a):
    """Own TCP with scapy (raw sockets in this netns; the test drops the kernel's RSTs for
    --sport). The hello is cut into --pieces pieces sent in --order; --overlap-after K sends,
    after the K-th piece, a copy of piece 1 whose second half differs (a conflicting
    retransmission)."""
    from scapy.all import IP, TCP, Raw, conf, sr1, send  # Debian's python3-scapy
    conf.verb = 0
    hello = client_hello(a.name, a.ca)
    n = a.pieces
    cuts = [len(hello) * i // n for i in range(n + 1)]
    pieces = [(cuts[i], hello[cuts[i]:cuts[i + 1]]) for i in range(n)]
    isn = random.randrange(1 << 32)
    ip = IP(dst=a.ip, ttl=64)
    synack = sr1(ip / TCP(sport=a.sport, dport=a.port, flags="S", seq=isn,
                          options=[("MSS", 1460)]), timeout=3)
    if synack is None or not synack.haslayer(TCP) or (synack[TCP].flags & 0x12) != 0x12:
        return {"result": "no-synack"}
    srv = synack[TCP].seq + 1
    send(ip / TCP(sport=a.sport, dport=a.port, flags="A", seq=isn + 1, ack=srv))
    order = [int(x) for x in a.order.split(",")] if a.order else list(range(n))
    t0 = time.monotonic()
    from scapy.all import AsyncSniffer
    sniff = AsyncSniffer(iface=conf.route.route(a.ip)[0], store=True,
                         filter="tcp and src host %s and dst port %d" % (a.ip, a.sport))
    sniff.start()
    time.sleep(0.2)
    for i, k in enumerate(order, 1):
        off, data = pieces[k]
        send(ip / TCP(sport=a.sport, dport=a.port, flags="PA", seq=isn + 1 + off, ack=srv) /
             Raw(data))
        time.sleep(a.gap_ms / 1000.0)
        if a.overlap_after == i:
            # piece 1 again, its second half changed: overlaps what is held, other bytes
            off, data = pieces[1]
            half = len(data) // 2
            bad = data if a.overlap_same else data[:half] + bytes(b ^ 0x5a for b in data[half:])
            send(ip / TCP(sport=a.sport, dport=a.port, flags="PA", seq=isn + 1 + off,
                          ack=srv) / Raw(bad))
            time.sleep(a.gap_ms / 1000.0)
    time.sleep(a.timeout)
    got = sniff.stop()
    res = {"hello_bytes": len(hello), "order": order, "result": "silence"}
    for p in got:
        t = p[TCP]
        if t.flags & 0x04:
            res["result"] = "reset"
            break
        if len(bytes(t.payload)) > 0:
            pl = bytes(t.payload)
            res["result"] = "data"
            res["server_hello"] = pl[:1] == b"\x16" and pl[5:6] == b"\x02"
            break
    res["ms"] = (time.monotonic() - t0) * 1000.0
    # tidy up the server side
    send(ip / TCP(sport=a.sport, dport=a.port, flags="R", seq=isn + 1 + len(hello)))
    return res


def read_response(s, buf):
    """One HTTP/1.1 response framed by Content-Length: (status, body, rest of buf)."""
    while b"\r\n\r\n" not in buf:
        d = s.recv(65536)
        if not d:
            raise ConnectionError("eof in response head")
        buf += d
    head, _, buf = buf.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    clen = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            clen = int(v.strip())
    while len(buf) < clen:
        d = s.recv(65536)
        if not d:
            raise ConnectionError("eof in response body")
        buf += d
    return status, buf[:clen], buf[clen:]


def cmd_requests(a):
    reqs = []
    for h in a.hosts.split(","):
        reqs.append(("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: evasion-test\r\n\r\n"
                     % (a.path, h)).encode())
    if a.prefix:
        reqs[0] = a.prefix.encode().decode("unicode_escape").encode("latin-1") + reqs[0]
    s = connect(a.ip, a.port, a.sport)
    out = []
    buf = b""
    t0 = t_sent = time.monotonic()
    res = {}
    try:
        if a.pipeline:
            s.sendall(b"".join(reqs))
        for i, r in enumerate(reqs):
            if not a.pipeline:
                s.sendall(r)
                t_sent = time.monotonic()
            status, body, buf = read_response(s, buf)
            out.append({"status": status, "body": body.decode("latin-1")})
            if a.pause_ms:
                time.sleep(a.pause_ms / 1000.0)
        result = "ok"
    except ConnectionResetError:
        result = "reset"
        # from the last request's send to the reset
        res["reset_ms"] = (time.monotonic() - t_sent) * 1000.0
    except (ConnectionError, socket.timeout) as e:
        result = "error: %s" % e
    s.close()
    res.update({"result": result, "responses": out, "ms": (time.monotonic() - t0) * 1000.0})
    return res


def cmd_raw(a):
    data = a.data.encode().decode("unicode_escape").encode("latin-1")
    s = connect(a.ip, a.port, a.sport)
    t0 = time.monotonic()
    got = b""
    result = "eof"
    try:
        s.sendall(data)
        s.settimeout(a.timeout)
        while True:
            d = s.recv(65536)
            if not d:
                break
            got += d
    except ConnectionResetError:
        result = "reset"
    except socket.timeout:
        result = "timeout"
    s.close()
    return {"result": result, "got": got.decode("latin-1")[:2000],
            "ms": (time.monotonic() - t0) * 1000.0}


def cmd_hrr(a):
    """First hello offers an X25519 key share only; a server that accepts P-256 only
    answers with a HelloRetryRequest. The second hello (name2) follows a CCS."""
    # OpenSSL 3.0's default hello offers a key share for X25519 only, P-256 among its groups
    h1 = client_hello(a.name, a.ca)
    h2 = client_hello(a.name2 or a.name, a.ca)
    s = connect(a.ip, a.port, a.sport)
    t0 = time.monotonic()
    res = {}
    s.sendall(h1)
    s.settimeout(a.timeout)
    buf = b""
    try:
        while len(buf) < 43:
            d = s.recv(65536)
            if not d:
                break
            buf += d
    except (ConnectionResetError, socket.timeout) as e:
        res["first"] = type(e).__name__
    res["hrr"] = len(buf) >= 43 and buf[5] == 2 and buf[11:43] == HRR_RANDOM
    if not res["hrr"]:
        res["result"] = "no-hrr"
        return res
    t1 = time.monotonic()
    try:
        s.sendall(b"\x14\x03\x03\x00\x01\x01" + h2)
        result, data = wait_answer(s, a.timeout)
    except ConnectionResetError:
        result, data = "reset", b""
    res.update({"result": result, "ms_after_second": (time.monotonic() - t1) * 1000.0,
                "answer": data[:6].hex()})
    s.close()
    return res


def cmd_connect(a):
    pip, pport = a.proxy.rsplit(":", 1)
    s = connect(pip, int(pport), a.sport)
    res = {}
    t0 = time.monotonic()
    try:
        s.sendall(("CONNECT %s:%d HTTP/1.1\r\nHost: %s:%d\r\n\r\n"
                   % (a.authority, a.port, a.authority, a.port)).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            d = s.recv(4096)
            if not d:
                raise ConnectionError("proxy closed")
            head += d
        res["proxy_status"] = int(head.split(b" ", 2)[1])
        ctx = ssl.create_default_context(cafile=a.ca)
        t = ctx.wrap_socket(s, server_hostname=a.name)
        t.sendall(("GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % a.name).encode())
        buf = b""
        while True:
            d = t.recv(65536)
            if not d:
                break
            buf += d
        hd, _, body = buf.partition(b"\r\n\r\n")
        res.update({"result": "ok", "status": int(hd.split(b" ", 2)[1]),
                    "body": body.decode("latin-1")})
    except ConnectionResetError:
        res["result"] = "reset"
    except (ssl.SSLError, ConnectionError, socket.timeout, OSError) as e:
        res["result"] = "error: %s" % e
    res["ms"] = (time.monotonic() - t0) * 1000.0
    return res


async def proxy_conn(reader, writer, upstream):
    try:
        head = await reader.readuntil(b"\r\n\r\n")
        line = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
        if line[0] != "CONNECT":
            writer.write(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
            writer.close()
            return
        port = int(line[1].rsplit(":", 1)[1])
        ur, uw = await asyncio.open_connection(upstream, port)
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()

        async def pipe(r, w):
            try:
                while True:
                    d = await r.read(65536)
                    if not d:
                        break
                    w.write(d)
                    await w.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                w.close()
        await asyncio.gather(pipe(reader, uw), pipe(ur, writer))
    except (ConnectionError, OSError, asyncio.IncompleteReadError):
        writer.close()


def cmd_proxy(a):
    async def main():
        srv = await asyncio.start_server(lambda r, w: proxy_conn(r, w, a.upstream),
                                         "0.0.0.0", a.listen)
        async with srv:
            await srv.serve_forever()
    asyncio.run(main())
    return {"result": "stopped"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ca")
    sub = ap.add_subparsers(dest="cmd", required=True)

    def common(p, port):
        p.add_argument("--ip", required=True)
        p.add_argument("--name", default="")
        p.add_argument("--port", type=int, default=port)
        p.add_argument("--sport", type=int, default=0)
        p.add_argument("--timeout", type=float, default=3.0)
    p = sub.add_parser("tiny")
    common(p, 443)
    p.add_argument("--chunk", type=int, default=1)
    p.add_argument("--gap-ms", type=float, default=2.0)
    p = sub.add_parser("hello")
    common(p, 443)
    p.add_argument("--inflate", type=int, default=0)
    p = sub.add_parser("rawtcp")
    common(p, 443)
    p.add_argument("--pieces", type=int, default=3)
    p.add_argument("--order", default="")
    p.add_argument("--gap-ms", type=float, default=20.0)
    p.add_argument("--overlap-after", type=int, default=0,
                   help="after this many pieces, a copy of piece 1 with other bytes")
    p.add_argument("--overlap-same", action="store_true", help="the copy has the same bytes")
    p = sub.add_parser("requests")
    common(p, 80)
    p.add_argument("--hosts", required=True)
    p.add_argument("--path", default="/")
    p.add_argument("--pipeline", action="store_true")
    p.add_argument("--pause-ms", type=float, default=0)
    p.add_argument("--prefix", default="")
    p = sub.add_parser("raw")
    common(p, 80)
    p.add_argument("--data", required=True)
    p = sub.add_parser("hrr")
    common(p, 4433)
    p.add_argument("--name2", default="")
    p = sub.add_parser("connect")
    common(p, 443)
    p.add_argument("--proxy", required=True)
    p.add_argument("--authority", required=True)
    p = sub.add_parser("proxy")
    p.add_argument("--listen", type=int, required=True)
    p.add_argument("--upstream", required=True)
    a = ap.parse_args()
    fn = {"tiny": cmd_tiny, "hello": cmd_hello, "rawtcp": cmd_rawtcp, "requests": cmd_requests,
          "raw": cmd_raw, "hrr": cmd_hrr, "connect": cmd_connect, "proxy": cmd_proxy}[a.cmd]
    print(json.dumps(fn(a)), flush=True)


if __name__ == "__main__":
    sys.exit(main())
