#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Write the seed corpus of tests/fuzz/fuzz_quic.c into tests/fuzz/corpus/quic/.

Input format of the harness: records of op (1 byte) | len (2 bytes, big
endian) | data. op & 3: 0 client datagram, 1 server datagram, 2 plaintext
frames sealed into a client Initial by the harness (v2 if op & 4, packet
number op >> 4), 3 like 2 with data[0] = sealed length and the rest appended
raw. Sources: the RFC hex files and ngtcp2-v1.pcap of this directory.
"""
import os
import re
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, '..', '..', 'fuzz', 'corpus', 'quic')


def hexfile(name):
    text = open(os.path.join(HERE, name + '.hex')).read()
    text = re.sub(r'#[^\n]*', '', text)
    return bytes.fromhex(re.sub(r'\s', '', text))


def rec(op, data):
    return struct.pack('>BH', op, len(data)) + data


def varint(v):
    if v < 64:
        return bytes([v])
    if v < 16384:
        return struct.pack('>H', 0x4000 | v)
    return struct.pack('>I', 0x80000000 | v)


def crypto(off, data):
    return b'\x06' + varint(off) + varint(len(data)) + data


def sealed(frames, pn=0, v2=False, pad=1100):
    frames = frames + b'\x00' * max(0, pad - len(frames))
    return rec(2 | (4 if v2 else 0) | (pn << 4), frames)


def pcap_udp(path):
    """(from_client, payload) of the UDP packets of an Ethernet/IPv4 pcap."""
    raw = open(path, 'rb').read()
    assert struct.unpack('<I', raw[:4])[0] == 0xa1b2c3d4
    off, client, out = 24, None, []
    while off + 16 <= len(raw):
        incl = struct.unpack('<I', raw[off + 8:off + 12])[0]
        pkt = raw[off + 16:off + 16 + incl]
        off += 16 + incl
        if pkt[12:14] != b'\x08\x00' or pkt[23] != 17:
            continue
        ihl = (pkt[14] & 15) * 4
        src = pkt[26:30]
        udp = pkt[14 + ihl:]
        if client is None:
            client = src
        out.append((src == client, udp[8:struct.unpack('>H', udp[4:6])[0]]))
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    seeds = {}
    v1 = hexfile('rfc9001-a2-protected')
    v2 = hexfile('rfc9369-a2-protected')
    ch = hexfile('rfc9001-a2-crypto-frame')[4:]
    seeds['rfc9001-a2'] = rec(0, v1)
    seeds['rfc9369-a2'] = rec(0, v2)
    seeds['rfc9001-a2-then-retry'] = rec(0, v1) + rec(1, hexfile('rfc9001-a4-retry'))
    seeds['rfc9369-retry-only'] = rec(1, hexfile('rfc9369-a4-retry'))
    seeds['sealed-one-frame'] = sealed(crypto(0, ch))
    seeds['sealed-v2-one-frame'] = sealed(crypto(0, ch), v2=True)
    seeds['sealed-three-frames-reversed'] = sealed(
        crypto(150, ch[150:]) + crypto(7, ch[7:150]) + crypto(0, ch[:7]))
    cut = [0, 60, 120, 185, len(ch)]
    seeds['sealed-four-packets-shuffled'] = b''.join(
        sealed(crypto(cut[i], ch[cut[i]:cut[i + 1]]), pn=i) for i in (2, 0, 3, 1))
    seeds['sealed-overlap-dup'] = (sealed(crypto(0, ch[:100])) +
                                   sealed(crypto(50, ch[50:150]), pn=1) +
                                   sealed(crypto(0, ch[:100]), pn=2) +
                                   sealed(crypto(140, ch[140:]), pn=3))
    conflict = bytearray(ch)
    conflict[70] ^= 0x20
    seeds['sealed-conflict'] = (sealed(crypto(0, ch[:100])) +
                                sealed(crypto(50, bytes(conflict[50:150])), pn=1))
    seeds['sealed-frames-mix'] = sealed(
        b'\x01' + b'\x02\x09\x00\x01\x02\x01\x01' + b'\x03\x03\x40\x10\x00\x03\x01\x02\x03' +
        b'\x00\x00' + crypto(0, ch) + b'\x1c\x0a\x06\x03abc', pad=0)
    first = crypto(0, ch[:120])
    seeds['coalesced-sealed-plus-raw'] = rec(3, bytes([len(first)]) + first +
                                             b'\xe0\x00\x00\x00\x01\x00\x00\x05hello')
    seeds['too-big'] = sealed(crypto(16380, b'0123456789'))
    seeds['not-tls'] = sealed(crypto(0, b'\x16\x03\x01\x00\x10'))
    vn_client = bytearray(1200)
    vn_client[0:15] = b'\xc0\x1a\x2a\x3a\x4a\x08\x83\x94\xc8\xf0\x3e\x51\x57\x08\x04'
    vn_client[15:19] = b'\xc1\xc2\xc3\xc4'
    vn = (b'\xaa\x00\x00\x00\x00\x04\xc1\xc2\xc3\xc4\x08\x83\x94\xc8\xf0\x3e\x51\x57\x08'
          b'\x6b\x33\x43\xcf\x00\x00\x00\x01')
    seeds['version-negotiation'] = rec(0, bytes(vn_client)) + rec(1, vn) + sealed(crypto(0, ch))
    cap = pcap_udp(os.path.join(HERE, 'ngtcp2-v1.pcap'))
    seeds['ngtcp2-v1'] = b''.join(rec(0 if c else 1, p) for c, p in cap)
    for name, data in seeds.items():
        with open(os.path.join(OUT, name), 'wb') as f:
            f.write(data)
    print('%d seeds in %s' % (len(seeds), os.path.normpath(OUT)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
