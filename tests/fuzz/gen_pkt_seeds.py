#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Seed corpora for fuzz_decode and fuzz_reasm.

decode: every Scapy frame of tests/data/pkt (frames.tsv) and a few packets
of each link type from the external capture corpus, each prefixed with the
selector byte fuzz_decode.c maps to its link type.
reasm: hand-written scripts (in order, reverse, overlap, conflict, wrap,
overflow) in the format fuzz_reasm.c reads.

Run: /usr/bin/python3 tests/fuzz/gen_pkt_seeds.py
"""
import os
import struct
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(ROOT, "tests", "data", "pkt")
OUT_D = os.path.join(ROOT, "tests", "fuzz", "corpus", "decode")
OUT_R = os.path.join(ROOT, "tests", "fuzz", "corpus", "reasm")
EXT = os.path.join(ROOT, "..", "shared", "corpus", "external", "pcap")

# selector (low 4 bits) of fuzz_decode.c's links[] table
SEL = {1: 0, 0: 1, 108: 2, 101: 3, 9: 4, 113: 5, 276: 6, 228: 7, 229: 8}


def write(d, name, blob):
    with open(os.path.join(d, name), "wb") as f:
        f.write(blob)


def decode_seeds():
    n = 0
    with open(os.path.join(DATA, "frames.tsv")) as f:
        next(f)
        for line in f:
            name, link = line.split("\t")[:2]
            with open(os.path.join(DATA, name + ".bin"), "rb") as b:
                write(OUT_D, "scapy-" + name, bytes([SEL[int(link)]]) + b.read())
            n += 1
    # real packets: a few from captures of every link type (classic pcap)
    picks = ["arkime-twovlan.pcap", "zeek-vlan-qinqinq.pcap",
             "zeek-pppoe-over-qinq.pcap", "arkime-v6-http.pcap",
             "mercury-geneve-inner-rawip.pcap", "ndpi-quic-v2.pcap",
             "zeek-tls-openjdk-25.0.2-zeek.org.pcap", "sv-http-ipv6.pcap",
             "zeek-quic-go-handshake.pcap", "sv-tcp-fastopen-10-syn-data-ignore.pcap",
             "ndpi-dns_fragmented.pcap", "sv-community-id-ipv6.pcap"]
    for pc in picks:
        path = os.path.join(EXT, pc)
        if not os.path.exists(path):
            print("skip (absent): " + path, file=sys.stderr)
            continue
        with open(path, "rb") as f:
            blob = f.read()
        magic = blob[:4]
        end = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
        link = struct.unpack(end + "I", blob[20:24])[0] & 0xffff
        off, k = 24, 0
        while off + 16 <= len(blob) and k < 6:
            incl = struct.unpack(end + "I", blob[off + 8:off + 12])[0]
            pkt = blob[off + 16:off + 16 + incl]
            off += 16 + incl
            write(OUT_D, "pcap-%s-%d" % (pc[:-5], k),
                  bytes([SEL[link] | 0x80]) + pkt)
            k += 1
            n += 1
    # a pcap file header, for dp_pcap_linktype
    write(OUT_D, "pcap-header", bytes([0]) + b"\xd4\xc3\xb2\xa1" + bytes(16) +
          b"\x01\x00\x00\x10" + bytes(40))
    return n + 1


def script(cap, base, ops):
    b = struct.pack(">HI", cap - 1, base)
    for op in ops:
        if op[0] == "rel":        # ("rel", offset from base, len, flip)
            _, off, ln, flip = op
            b += bytes([0x40 if flip else 0]) + struct.pack(">H", off + 64) + bytes([ln])
        else:                     # ("abs", seq, len)
            _, seq, ln = op
            b += bytes([0x80]) + struct.pack(">I", seq & 0xffffffff) + bytes([ln])
    return b


def reasm_seeds():
    seeds = {
        "in-order": script(300, 1000, [("rel", 0, 100, 0), ("rel", 100, 100, 0),
                                       ("rel", 200, 100, 0)]),
        "reverse": script(300, 1000, [("rel", 200, 100, 0), ("rel", 100, 100, 0),
                                      ("rel", 0, 100, 0)]),
        "overlap-dup": script(256, 7, [("rel", 10, 50, 0), ("rel", 0, 80, 0),
                                       ("rel", 0, 80, 0)]),
        "conflict": script(256, 7, [("rel", 0, 64, 0), ("rel", 8, 64, 1)]),
        "wrap": script(200, 0xfffffff0, [("abs", 0xfffffff0, 40), ("abs", 4, 30),
                                         ("abs", 0xffffffe0, 20)]),
        "overflow": script(64, 5, [("rel", 40, 60, 0), ("rel", 0, 40, 0),
                                   ("rel", 100, 10, 0)]),
        "before-base": script(64, 100, [("rel", -20, 40, 0), ("abs", 100 + (1 << 31), 10)]),
        "odd-cap": script(13, 42, [("rel", 8, 4, 0), ("rel", 0, 8, 0), ("rel", 12, 5, 0)]),
    }
    for name, blob in seeds.items():
        write(OUT_R, name, blob)
    return len(seeds)


if __name__ == "__main__":
    os.makedirs(OUT_D, exist_ok=True)
    os.makedirs(OUT_R, exist_ok=True)
    print("decode seeds: %d, reasm seeds: %d" % (decode_seeds(), reasm_seeds()),
          file=sys.stderr)
