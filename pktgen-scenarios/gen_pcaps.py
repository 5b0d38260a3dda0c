# SPDX-License-Identifier: BSD-3-Clause
"""Write the captures the Pktgen-DPDK scenarios replay (pktgen-scenarios/*.lua).

    /usr/bin/python3 pktgen-scenarios/gen_pcaps.py [--out DIR] [--flows N] [--data N]

Every flow is complete, so chokepoint sees it as a client would make it:
SYN, SYN-ACK, ACK, a real captured ClientHello (tests/data/clienthello/*.bin)
with its SNI replaced, the server's ACK of it, then client data (TLS
application-data records). All packets leave Pktgen's port 0 (chokepoint's
inside port); chokepoint tells client from server by the addresses, so the
SYN-ACKs and server ACKs pass too, out of its outside port to Pktgen's port 1.
Replayed in a loop, the first pass sets every flow up and decides it; later
passes find the flows established (a repeated SYN with the same ISN is a
retransmission, a repeated hello is compared with the decided bytes).

  allowed-64.pcap    N allowed flows, then N x D data packets of 64 B (wire size,
  allowed-imix.pcap  FCS included), of IMIX (7:4:1 x 64/594/1518 B), of 1518 B,
  allowed-1518.pcap  flows interleaved (rfc2544.lua)
  sni-mix.pcap       allowed and denied names, each with the hello in one segment
                     and split in three (record header alone, the rest in two);
                     a denied flow's hello and data are dropped and both ends reset
                     (sni-mix.lua); sni-mix.expect.json says what chokepoint forwards
  chokepoint.conf    the policy they expect (allowed: every name this script uses
                     for allowed flows, and UDP to 198.18.0.0/15 port 9 for
                     newflow-storm.lua; default deny)
"""

import argparse
import json
import os
import random
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.abspath(os.path.join(HERE, ".."))

try:
    from scapy.all import Ether, IP, TCP, Raw, wrpcap
except ImportError:
    sys.exit("gen_pcaps.py: needs scapy; run it with /usr/bin/python3 (Debian's python3-scapy)")

CLIENT_MAC, SERVER_MAC = "02:00:00:00:00:01", "02:00:00:00:00:02"
HELLOS = ["curl-tls13.bin", "chromium.bin", "openssl-tls13.bin", "python-ssl.bin", "node.bin",
          "gnutls.bin"]
ALLOWED = ["api.openai.com", "api.anthropic.com", "hooks.slack.com", "files.example.com",
           "inference.bench.example"]
DENIED = ["evil.example.net", "exfil.bench.invalid", "paste.example.org"]


def find_sni(b):
    """(offset, length) of the host_name in a one-record ClientHello."""
    if b[0] != 0x16 or b[5] != 1:
        raise ValueError("not a ClientHello")
    p = 9 + 2 + 32
    p += 1 + b[p]
    p += 2 + struct.unpack(">H", b[p:p + 2])[0]
    p += 1 + b[p]
    end = p + 2 + struct.unpack(">H", b[p:p + 2])[0]
    p += 2
    while p + 4 <= end:
        t, ln = struct.unpack(">HH", b[p:p + 4])
        if t == 0:
            return p + 9, struct.unpack(">H", b[p + 7:p + 9])[0]
        p += 4 + ln
    raise ValueError("no SNI")


def hello_with(template, name):
    """The captured hello with its SNI replaced and every length covering it fixed."""
    b = bytearray(template)
    off, ln = find_sni(b)
    n = name.encode()
    d = len(n) - ln
    b[off:off + ln] = n
    struct.pack_into(">H", b, 3, struct.unpack(">H", b[3:5])[0] + d)        # record
    hs = int.from_bytes(b[6:9], "big") + d
    b[6:9] = hs.to_bytes(3, "big")                                           # handshake
    struct.pack_into(">H", b, off - 2, len(n))                               # host_name
    struct.pack_into(">H", b, off - 5, struct.unpack(">H", b[off - 5:off - 3])[0] + d)
    struct.pack_into(">H", b, off - 7, struct.unpack(">H", b[off - 7:off - 5])[0] + d)
    p = 9 + 2 + 32
    p += 1 + b[p]
    p += 2 + struct.unpack(">H", b[p:p + 2])[0]
    p += 1 + b[p]
    struct.pack_into(">H", b, p, struct.unpack(">H", b[p:p + 2])[0] + d)    # extensions
    return bytes(b)


class Flow:
    def __init__(self, i, name, template, split):
        self.cip = "10.%d.%d.%d" % (1 + (i >> 16) % 200, (i >> 8) & 255, 1 + (i & 127))
        self.sip = "198.18.%d.%d" % ((i >> 8) & 255, 1 + (i & 255) % 254)
        self.cport = 20000 + i % 40000
        self.isn = random.getrandbits(32)
        self.sisn = random.getrandbits(32)
        self.name = name
        self.hello = hello_with(template, name)
        self.split = split
        self.c_next = (self.isn + 1 + len(self.hello)) & 0xffffffff

    def c2s(self, flags, seq, ack, payload=b""):
        p = (Ether(src=CLIENT_MAC, dst=SERVER_MAC) / IP(src=self.cip, dst=self.sip, flags="DF",
             ttl=64) / TCP(sport=self.cport, dport=443, flags=flags, seq=seq & 0xffffffff,
                           ack=ack & 0xffffffff, window=65535))
        return p / Raw(payload) if payload else p

    def s2c(self, flags, seq, ack):
        return (Ether(src=SERVER_MAC, dst=CLIENT_MAC) / IP(src=self.sip, dst=self.cip, flags="DF",
                ttl=64) / TCP(sport=443, dport=self.cport, flags=flags, seq=seq & 0xffffffff,
                              ack=ack & 0xffffffff, window=65535))

    def setup(self):
        """SYN, SYN-ACK, ACK, the hello (1 or 3 segments, MSS 1460), the server's ACK."""
        out = [self.c2s("S", self.isn, 0), self.s2c("SA", self.sisn, self.isn + 1),
               self.c2s("A", self.isn + 1, self.sisn + 1)]
        h = self.hello
        if self.split:
            cuts = [0, 5, 5 + (len(h) - 5) // 2, len(h)]     # the record header alone
        else:
            cuts = list(range(0, len(h), 1460)) + [len(h)]
        for a, b in zip(cuts, cuts[1:]):
            out.append(self.c2s("PA", self.isn + 1 + a, self.sisn + 1, h[a:b]))
        self.n_hello = len(cuts) - 1
        out.append(self.s2c("A", self.sisn + 1, self.c_next))
        return out

    def data(self, wire_size):
        """The client's next data segment: one whole TLS application_data record,
        wire_size bytes on the wire (FCS included)."""
        plen = wire_size - 4 - 54
        rec = bytes([0x17, 3, 3]) + struct.pack(">H", plen - 5) + bytes(plen - 5)
        p = self.c2s("PA", self.c_next, self.sisn + 1, rec)
        self.c_next = (self.c_next + plen) & 0xffffffff
        return p


def templates():
    out = []
    for fn in HELLOS:
        with open(os.path.join(SRC, "tests", "data", "clienthello", fn), "rb") as f:
            out.append(f.read())
    return out


def imix(k):
    r = k % 12
    return 64 if r < 7 else 594 if r < 11 else 1518


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(HERE, "pcaps"))
    ap.add_argument("--flows", type=int, default=256)
    ap.add_argument("--data", type=int, default=32, help="data packets per flow")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    random.seed(a.seed)
    os.makedirs(a.out, exist_ok=True)
    tm = templates()

    for label, size in (("64", lambda k: 64), ("imix", imix), ("1518", lambda k: 1518)):
        flows = [Flow(i, ALLOWED[i % len(ALLOWED)], tm[i % len(tm)], False)
                 for i in range(a.flows)]
        pkts = [p for f in flows for p in f.setup()]
        k = 0
        for r in range(a.data):
            for f in flows:
                pkts.append(f.data(size(k)))
                k += 1
        path = os.path.join(a.out, "allowed-%s.pcap" % label)
        wrpcap(path, pkts)
        print("%s: %d flows, %d packets" % (path, len(flows), len(pkts)))

    # SNI mix: allowed and denied names, whole and split hellos, 4 data packets each
    flows, expect = [], {"allowed_flows": 0, "denied_flows": 0, "packets": 0,
                         "forwarded_first_pass": 0, "resets_first_pass": 0}
    for i in range(a.flows):
        denied = i % 4 == 3
        name = DENIED[i % len(DENIED)] if denied else ALLOWED[i % len(ALLOWED)]
        flows.append((Flow(10000 + i, name, tm[i % len(tm)], (i // 4) % 2 == 1), denied))
    pkts = []
    for f, denied in flows:
        setup = f.setup()
        data = [f.data(imix(k)) for k in range(4)]
        if denied:
            # the server's ACK of a hello it never got is left out: it never comes
            setup = setup[:-1]
        pkts += setup + data
        expect["packets"] += len(setup) + len(data)
        if denied:
            expect["denied_flows"] += 1
            # SYN, SYN-ACK and ACK pass; the hello and the data are dropped; two RSTs
            # are sent, one each way (the server's leaves by chokepoint's outside port)
            expect["forwarded_first_pass"] += 3
            expect["resets_first_pass"] += 2
        else:
            expect["allowed_flows"] += 1
            expect["forwarded_first_pass"] += len(setup) + len(data)
    path = os.path.join(a.out, "sni-mix.pcap")
    wrpcap(path, pkts)
    with open(os.path.join(a.out, "sni-mix.expect.json"), "w") as f:
        json.dump(expect, f, indent=1)
    print("%s: %d flows (%d denied, half of each kind with split hellos), %d packets" % (
        path, len(flows), expect["denied_flows"], len(pkts)))

    with open(os.path.join(a.out, "chokepoint.conf"), "w") as f:
        f.write("# pktgen-scenarios/gen_pcaps.py: the policy the scenarios expect\n"
                "mode = \"enforce\";\ndefault = \"deny\";\n"
                "rules = (\n  { id = \"allowed\"; action = \"allow\"; sni = [%s]; },\n"
                "  # newflow-storm.lua: UDP to port 9, decided at the first packet\n"
                "  { id = \"storm\"; action = \"allow\"; proto = \"udp\"; dst = [\"198.18.0.0/15\"];"
                " dport = [9]; }\n);\n" % (", ".join('"%s"' % n for n in ALLOWED)))
    print("%s/chokepoint.conf: allows %s" % (a.out, ", ".join(ALLOWED)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
