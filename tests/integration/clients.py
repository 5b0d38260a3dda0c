#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Python clients for the integration tests (run in the client netns by harness.Clients.py).
Every subcommand binds an explicit source port (--sport) so the test can find the flow's
audit record, and prints one JSON object as its last stdout line.

  hello-reset   send a ClientHello (made by ssl over a MemoryBIO), time until the reset
  get           full TLS handshake (certificate verified against --ca), GET PATH, status + body
  streams       websocket echo + server-sent events concurrently for --duration seconds
  upload        POST --size deterministic bytes over TLS, compare sha256 with the server's
  probe         numbered lines over one TLS connection, echoed; all must come back in order;
                reports this connection's TCP retransmissions at both ends
"""

import argparse
import asyncio
import errno
import hashlib
import json
import random
import socket
import ssl
import struct
import sys
import time


def connect(ip, port, sport, timeout=5.0):
    fam = socket.AF_INET6 if ":" in ip else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if sport:
        s.bind(("::" if fam == socket.AF_INET6 else "0.0.0.0", sport))
    s.settimeout(timeout)
    s.connect((ip, port))
    return s


def ctx_for(ca):
    ctx = ssl.create_default_context(cafile=ca)
    ctx.check_hostname = True
    return ctx


def cmd_hello_reset(a):
    """The reset is timed from the moment the last byte of the ClientHello left the client
    (sendall returned) until recv() reports ECONNRESET."""
    ctx = ctx_for(a.ca)
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname=a.name)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    hello = out.read()
    s = connect(a.ip, a.port, a.sport)
    s.sendall(hello)
    t0 = time.monotonic()
    s.settimeout(a.timeout)
    res = {"hello_bytes": len(hello)}
    try:
        data = s.recv(65536)
        res["result"] = "data" if data else "eof"
        res["bytes"] = len(data)
    except ConnectionResetError:
        res["result"] = "reset"
    except socket.timeout:
        res["result"] = "timeout"
    except OSError as e:
        res["result"] = "error"
        res["errno"] = errno.errorcode.get(e.errno, str(e.errno))
    res["ms"] = (time.monotonic() - t0) * 1000.0
    s.close()
    return res


def cmd_get(a):
    ctx = ctx_for(a.ca)
    res = {}
    t0 = time.monotonic()
    try:
        raw = connect(a.ip, a.port, a.sport)
        s = ctx.wrap_socket(raw, server_hostname=a.name)
        res["tls_version"] = s.version()
        s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % (a.path, a.name)).encode())
        buf = b""
        while True:
            d = s.recv(65536)
            if not d:
                break
            buf += d
        head, _, body = buf.partition(b"\r\n\r\n")
        res["result"] = "ok"
        res["status"] = int(head.split(b" ", 2)[1]) if head else 0
        res["body"] = body.decode("latin-1")
        s.close()
    except ConnectionResetError:
        res["result"] = "reset"
    except socket.timeout:
        res["result"] = "timeout"
    except ssl.SSLError as e:
        res["result"] = "ssl_error"
        res["error"] = str(e)
    except OSError as e:
        res["result"] = "error"
        res["error"] = str(e)
    res["ms"] = (time.monotonic() - t0) * 1000.0
    return res


async def open_tcp(ip, port, sport):
    """A connected TCP socket from sport, handed to asyncio (which adds TLS)."""
    s = connect(ip, port, sport)
    s.setblocking(False)
    return s


async def ws_part(a, ctx, deadline, out):
    import websockets
    s = await open_tcp(a.ip, a.ws_port, a.sport_ws)
    uri = "wss://%s:%d/" % (a.name, a.ws_port)
    sent = got = 0
    gaps = []
    last = time.monotonic()
    async with websockets.connect(uri, sock=s, ssl=ctx, server_hostname=a.name,
                                  ping_interval=None, open_timeout=10) as ws:
        while time.monotonic() < deadline:
            sent += 1
            msg = "msg %d" % sent
            await ws.send(msg)
            echo = await asyncio.wait_for(ws.recv(), timeout=5)
            if echo != msg:
                raise RuntimeError("websocket echo %r for %r" % (echo, msg))
            got += 1
            now = time.monotonic()
            gaps.append(now - last)
            last = now
            await asyncio.sleep(a.interval)
    out["ws"] = {"sent": sent, "echoed": got, "max_gap_s": max(gaps) if gaps else None}


async def sse_part(a, ctx, deadline, out):
    s = await open_tcp(a.ip, a.app_port, a.sport_sse)
    reader, writer = await asyncio.open_connection(sock=s, ssl=ctx, server_hostname=a.name)
    n = int((deadline - time.monotonic()) / a.interval) + 20
    writer.write(("GET /sse?n=%d&interval_ms=%d HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\n\r\n"
                  % (n, int(a.interval * 1000), a.name)).encode())
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=10)
    status = int(head.split(b" ", 2)[1])
    ids = []
    gaps = []
    last = time.monotonic()
    while time.monotonic() < deadline:
        ev = await asyncio.wait_for(reader.readuntil(b"\n\n"), timeout=5)
        for line in ev.decode().splitlines():
            if line.startswith("id: "):
                ids.append(int(line[4:]))
        now = time.monotonic()
        gaps.append(now - last)
        last = now
    writer.close()
    out["sse"] = {"status": status, "events": len(ids), "in_order": ids == list(range(1, len(ids) + 1)),
                  "max_gap_s": max(gaps) if gaps else None}


def cmd_streams(a):
    ctx = ctx_for(a.ca)
    out = {}
    t0 = time.monotonic()
    deadline = t0 + a.duration

    async def both():
        await asyncio.gather(ws_part(a, ctx, deadline, out), sse_part(a, ctx, deadline, out))
    try:
        asyncio.run(both())
        out["result"] = "ok"
    except Exception as e:  # report what broke, the test asserts
        out["result"] = "error"
        out["error"] = "%s: %s" % (type(e).__name__, e)
    out["elapsed_s"] = time.monotonic() - t0
    return out


def cmd_upload(a):
    data = random.Random(a.seed).randbytes(a.size)
    want = hashlib.sha256(data).hexdigest()
    ctx = ctx_for(a.ca)
    t0 = time.monotonic()
    raw = connect(a.ip, a.port, a.sport, timeout=60)
    s = ctx.wrap_socket(raw, server_hostname=a.name)
    s.sendall(("POST /upload HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n"
               "Content-Type: application/octet-stream\r\nConnection: close\r\n\r\n"
               % (a.name, len(data))).encode())
    s.sendall(data)
    buf = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        buf += d
    s.close()
    head, _, body = buf.partition(b"\r\n\r\n")
    srv = json.loads(body)
    return {"result": "ok", "status": int(head.split(b" ", 2)[1]), "sent_sha256": want,
            "server_sha256": srv["sha256"], "server_bytes": srv["bytes"], "bytes": len(data),
            "secs": time.monotonic() - t0}


def total_retrans(sock):
    """tcpi_total_retrans of a connected TCP socket (struct tcp_info, offset 100)."""
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    return struct.unpack_from("I", info, 100)[0]


def cmd_probe(a):
    """Send numbered lines every interval for duration; each is echoed. Prints
    'established' on stdout as soon as the first echo came back."""
    ctx = ctx_for(a.ca)
    raw = connect(a.ip, a.port, a.sport)
    s = ctx.wrap_socket(raw, server_hostname=a.name)
    s.settimeout(5)
    f = s.makefile("rb")
    got = []
    sent = 0
    res = {}
    t_end = time.monotonic() + a.duration
    try:
        while time.monotonic() < t_end:
            sent += 1
            s.sendall(b"%d\n" % sent)
            line = f.readline()
            if not line:
                raise ConnectionError("server closed after %d" % len(got))
            got.append(int(line))
            if sent == 1:
                print("established", flush=True)
            time.sleep(a.interval)
        # this connection's retransmissions, both ends: any drop on the path shows here
        s.sendall(b"stats\n")
        res["server_retrans"] = int(f.readline().split()[1])
        res["client_retrans"] = total_retrans(s)
        res["result"] = "ok"
    except Exception as e:
        res["result"] = "error"
        res["error"] = "%s: %s" % (type(e).__name__, e)
    res.update({"sent": sent, "received": len(got), "in_order": got == list(range(1, len(got) + 1))})
    s.close()
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ca", required=True)
    sub = ap.add_subparsers(dest="cmd", required=True)

    def common(p, port):
        p.add_argument("--ip", required=True)
        p.add_argument("--name", required=True)
        p.add_argument("--port", type=int, default=port)
        p.add_argument("--sport", type=int, default=0)
    p = sub.add_parser("hello-reset")
    common(p, 443)
    p.add_argument("--timeout", type=float, default=3.0)
    p = sub.add_parser("get")
    common(p, 443)
    p.add_argument("--path", default="/")
    p = sub.add_parser("streams")
    common(p, 0)
    p.add_argument("--ws-port", type=int, required=True)
    p.add_argument("--app-port", type=int, required=True)
    p.add_argument("--sport-ws", type=int, default=0)
    p.add_argument("--sport-sse", type=int, default=0)
    p.add_argument("--duration", type=float, default=30.0)
    p.add_argument("--interval", type=float, default=0.5)
    p = sub.add_parser("upload")
    common(p, 8443)
    p.add_argument("--size", type=int, required=True)
    p.add_argument("--seed", type=int, default=1)
    p = sub.add_parser("probe")
    common(p, 7443)
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--interval", type=float, default=0.01)
    a = ap.parse_args()
    fn = {"hello-reset": cmd_hello_reset, "get": cmd_get, "streams": cmd_streams,
          "upload": cmd_upload, "probe": cmd_probe}[a.cmd]
    print(json.dumps(fn(a)), flush=True)


if __name__ == "__main__":
    sys.exit(main())
