#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Regenerate the HTTPS/SVCB answer fixtures (dnsmasq-https-*.bin, dnsmasq-svcb-*.bin).

dnsmasq 2.90 (Debian 12) serves the records with --dns-rr (RDATA given in hex,
built below per RFC 9460) in a network namespace of its own; this script asks
it over UDP from inside that namespace and saves each answer exactly as the
socket received it. Run as root from tests/data/dns: /usr/bin/python3 make_https.py
"""
import os
import socket
import struct
import subprocess
import sys
import time

NS = "rv-fx%d" % os.getpid()
PORT = 5353


def name(n):
    out = b""
    for lab in n.rstrip(".").split("."):
        if lab:
            out += bytes([len(lab)]) + lab.encode()
    return out + b"\0"


def param(key, value):
    return struct.pack(">HH", key, len(value)) + value


def alpn(*ids):
    return b"".join(bytes([len(i)]) + i.encode() for i in ids)


# an ECHConfigList shaped like a real one (version 0xfe0d, public name ech.example.test)
ECH1 = bytes.fromhex("0045fe0d0041aa00200020") + bytes(range(32)) + \
    bytes.fromhex("0004000100010012") + b"\x10" + b"ech.example.test"[:16] + b"\x00\x00"
ECH1 = struct.pack(">H", len(ECH1) - 2) + ECH1[2:]
ECH2 = bytes.fromhex("0012fe0d000e0100") + bytes(range(10, 20))

RRS = {
    # two HTTPS records (ServiceMode): each with an ech SvcParam between others
    "https.example.test": [
        (65, struct.pack(">H", 1) + name(".") + param(1, alpn("h2", "h3")) +
         param(4, bytes([192, 0, 2, 1])) + param(5, ECH1) +
         param(6, bytes.fromhex("20010db8000000000000000000000001"))),
        (65, struct.pack(">H", 2) + name("alt.example.test") + param(1, alpn("h2")) +
         param(5, ECH2)),
    ],
    # ech listed as mandatory: cannot be removed without breaking the record
    "mandatory.example.test": [
        (65, struct.pack(">H", 1) + name(".") + param(0, struct.pack(">H", 5)) +
         param(1, alpn("h2")) + param(5, ECH2)),
    ],
    # no ech at all
    "noech.example.test": [
        (65, struct.pack(">H", 1) + name(".") + param(1, alpn("h2", "http/1.1"))),
    ],
    # AliasMode (priority 0, no params)
    "alias-mode.example.test": [
        (65, struct.pack(">H", 0) + name("https.example.test")),
    ],
    # SVCB (type 64), ech last
    "svcb.example.test": [
        (64, struct.pack(">H", 1) + name("svc.example.test") + param(3, struct.pack(">H", 8443)) +
         param(5, ECH2)),
    ],
}
QUERIES = [
    ("https.example.test", 65, "dnsmasq-https-two-ech"),
    ("mandatory.example.test", 65, "dnsmasq-https-ech-mandatory"),
    ("noech.example.test", 65, "dnsmasq-https-no-ech"),
    ("alias-mode.example.test", 65, "dnsmasq-https-alias-mode"),
    ("svcb.example.test", 64, "dnsmasq-svcb-ech"),
    ("chain.example.test", 65, "dnsmasq-https-cname-ech"),
]


def query(qname, qtype, qid):
    return struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + name(qname) + struct.pack(">HH", qtype, 1)


def child():
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    args = ["/usr/sbin/dnsmasq", "--no-daemon", "--no-resolv", "--no-hosts", "--bind-interfaces",
            "--listen-address=127.0.0.1", "--port=%d" % PORT, "--local-ttl=300",
            "--pid-file=", "--user=root", "--cname=chain.example.test,https.example.test"]
    for n, rrs in RRS.items():
        for t, rd in rrs:
            args.append("--dns-rr=%s,%d,%s" % (n, t, rd.hex(":")))
    d = subprocess.Popen(args, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(2)
        for i, (q, t, out) in enumerate(QUERIES):
            s.sendto(query(q, t, 0x4200 + i), ("127.0.0.1", PORT))
            data = s.recv(4096)
            with open(out + ".bin", "wb") as f:
                f.write(data)
            print(out, len(data))
    finally:
        d.terminate()
        d.wait()


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child()
        sys.exit(0)
    subprocess.run(["ip", "netns", "add", NS], check=True)
    try:
        subprocess.run(["ip", "netns", "exec", NS, "/usr/bin/python3", os.path.abspath(__file__),
                        "--child"], check=True)
    finally:
        subprocess.run(["ip", "netns", "del", NS])
