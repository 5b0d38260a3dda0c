#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Test application server (runs in the server netns, TLS with the test certificate,
every address v4 + v6):

  --app-port    HTTP/1.1: GET /sse?n=N&interval_ms=MS   text/event-stream, "id: i / data: tick i"
                          POST /upload                   answers {"sha256": HEX, "bytes": N}
  --ws-port     websocket echo (python3-websockets)
  --probe-port  line echo: every line received is written back (numbered probe streams);
                "stats" answers "retrans N" (this connection's TCP retransmissions, server side)
"""

import argparse
import asyncio
import hashlib
import json
import socket
import ssl
import struct
import sys
import urllib.parse

import websockets


async def read_head(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    hdrs = {}
    for l in lines[1:]:
        if ":" in l:
            k, v = l.split(":", 1)
            hdrs[k.strip().lower()] = v.strip()
    return method, target, hdrs


async def respond(writer, status, body, ctype="application/json"):
    writer.write(("HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n"
                  "Connection: close\r\n\r\n" % (status, ctype, len(body))).encode() + body)
    await writer.drain()


async def app(reader, writer):
    try:
        method, target, hdrs = await read_head(reader)
        url = urllib.parse.urlsplit(target)
        q = dict(urllib.parse.parse_qsl(url.query))
        if method == "GET" and url.path == "/sse":
            n, iv = int(q.get("n", "100")), int(q.get("interval_ms", "500")) / 1000.0
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                         b"Cache-Control: no-cache\r\nConnection: close\r\n\r\n")
            for i in range(1, n + 1):
                writer.write(b"id: %d\ndata: tick %d\n\n" % (i, i))
                await writer.drain()
                await asyncio.sleep(iv)
        elif method in ("POST", "PUT") and url.path == "/upload":
            left = int(hdrs.get("content-length", "0"))
            h, total = hashlib.sha256(), 0
            while left > 0:
                chunk = await reader.read(min(left, 1 << 16))
                if not chunk:
                    break
                h.update(chunk)
                total += len(chunk)
                left -= len(chunk)
            await respond(writer, "200 OK", json.dumps({"sha256": h.hexdigest(), "bytes": total}).encode())
        else:
            await respond(writer, "404 Not Found", b"{}")
    except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError, ValueError):
        pass
    finally:
        writer.close()


def total_retrans(sock):
    """tcpi_total_retrans of a connected TCP socket (struct tcp_info, offset 100)."""
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    return struct.unpack_from("I", info, 100)[0]


async def probe(reader, writer):
    """Echo every line; "stats" answers this connection's TCP retransmission count."""
    try:
        while True:
            line = await reader.readline()
            if not line:
                break
            if line == b"stats\n":
                line = b"retrans %d\n" % total_retrans(writer.get_extra_info("socket"))
            writer.write(line)
            await writer.drain()
    except (ConnectionError, ssl.SSLError):
        pass
    finally:
        writer.close()


async def ws_echo(ws, path=None):
    try:
        async for msg in ws:
            await ws.send(msg)
    except websockets.ConnectionClosed:
        pass


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--app-port", type=int, default=8443)
    ap.add_argument("--ws-port", type=int, default=9443)
    ap.add_argument("--probe-port", type=int, default=7443)
    a = ap.parse_args()
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(a.cert, a.key)
    s1 = await asyncio.start_server(app, None, a.app_port, ssl=ctx, reuse_address=True)
    s2 = await asyncio.start_server(probe, None, a.probe_port, ssl=ctx, reuse_address=True)
    s3 = await websockets.serve(ws_echo, None, a.ws_port, ssl=ctx, ping_interval=None)
    print("appserver listening on %d %d %d" % (a.app_port, a.ws_port, a.probe_port), flush=True)
    await asyncio.gather(s1.serve_forever(), s2.serve_forever(), s3.wait_closed())


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
