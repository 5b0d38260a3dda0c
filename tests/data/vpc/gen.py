#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Test frames for tests/unit/test_geneve.c and test_routed.c, built by Scapy (its
GENEVE layer, its checksums): every input frame and the frame the dataplane must
produce from it. Writes tests/unit/vpc_frames.h; run with /usr/bin/python3 (Debian's
python3-scapy) from the repository root after changing a frame."""
import sys

from scapy.all import ARP, Ether, ICMP, IP, IPv6, Raw, TCP, UDP, raw
from scapy.contrib.geneve import GENEVE, GeneveOptions
from scapy.layers.inet6 import (ICMPv6EchoReply, ICMPv6EchoRequest, ICMPv6ND_NA, ICMPv6ND_NS,
                                ICMPv6NDOptDstLLAddr, ICMPv6NDOptSrcLLAddr, ICMPv6TimeExceeded)

GWLB_MAC, APP_MAC = "02:00:00:00:0a:01", "02:00:00:00:0a:02"
GWLB, APP = "10.9.0.1", "10.9.0.2"
EP, ATT, COOKIE = 0x0123456789abcdef, 0x1122334455667788, 0xcafef00d
OUT = []


def opts(ep=True, att=True, cookie=True, extra=()):
    o = list(extra)
    if ep:
        o.append(GeneveOptions(classid=0x0108, type=1, data=EP.to_bytes(8, "big")))
    if att:
        o.append(GeneveOptions(classid=0x0108, type=2, data=ATT.to_bytes(8, "big")))
    if cookie:
        o.append(GeneveOptions(classid=0x0108, type=3, data=COOKIE.to_bytes(4, "big")))
    return o


def outer(payload_gnv, sport=51234, ipid=777, ttl=253, udp_cksum=None):
    return (Ether(src=GWLB_MAC, dst=APP_MAC) /
            IP(src=GWLB, dst=APP, id=ipid, ttl=ttl, flags="DF") /
            UDP(sport=sport, dport=6081, chksum=udp_cksum) / payload_gnv)


def returned(payload_gnv, sport=51234, ipid=777, ttl=253):
    return (Ether(src=APP_MAC, dst=GWLB_MAC) /
            IP(src=APP, dst=GWLB, id=ipid, ttl=ttl, flags="DF") /
            UDP(sport=sport, dport=6081) / payload_gnv)


def emit(name, pkt):
    b = raw(pkt)
    OUT.append("static const uint8_t %s[] = {\n%s\n};" % (
        name, ",\n".join("\t" + ", ".join("0x%02x" % x for x in b[i:i + 12])
                         for i in range(0, len(b), 12))))


inner4 = IP(src="10.1.0.5", dst="93.184.216.34", ttl=63) / TCP(sport=40000, dport=443, flags="PA",
                                                                 seq=1000, ack=5000) / Raw(b"\x16\x03\x01hello")
inner6 = IPv6(src="fd00:1::5", dst="2001:db8::22", hlim=63) / TCP(sport=40001, dport=443, flags="S", seq=77)
innereth = Ether(src="02:00:00:00:01:05", dst="02:00:00:00:01:01") / IP(src="10.1.0.6", dst="10.2.0.7") / \
    TCP(sport=40002, dport=80, flags="A", seq=9, ack=10)

g4 = GENEVE(proto=0x0800, vni=0, options=opts()) / inner4
emit("gnv_v4", outer(g4))
emit("gnv_v4_ret", returned(g4))
g6 = GENEVE(proto=0x86dd, vni=0, options=opts(extra=[GeneveOptions(classid=0x0101, type=0x07, data=b"\0" * 4)])) / inner6
emit("gnv_v6", outer(g6, sport=40000))
emit("gnv_v6_ret", returned(g6, sport=40000))
ge = GENEVE(proto=0x6558, vni=0x123456, options=opts()) / innereth
emit("gnv_eth", outer(ge))
emit("gnv_no_cookie", outer(GENEVE(proto=0x0800, options=opts(cookie=False)) / inner4))
emit("gnv_no_tlv", outer(GENEVE(proto=0x0800) / inner4))
emit("gnv_crit", outer(GENEVE(proto=0x0800, options=opts(extra=[GeneveOptions(classid=0x0101, type=0x85, data=b"\0" * 4)])) / inner4))
emit("gnv_oam", outer(GENEVE(proto=0x0800, oam=1, options=opts()) / inner4))
emit("gnv_dup", outer(GENEVE(proto=0x0800, options=opts() + opts(att=False, cookie=False)) / inner4))
emit("gnv_proto", outer(GENEVE(proto=0x0806, options=opts()) / inner4))

# the RST toward the client inside the GENEVE context of gnv_v4 / gnv_v6 / gnv_eth
rst4 = IP(src="93.184.216.34", dst="10.1.0.5", ttl=64, id=0, flags="DF") / \
    TCP(sport=443, dport=40000, flags="RA", seq=5000, ack=1010, window=0)
emit("gnv_v4_rst", outer(GENEVE(proto=0x0800, vni=0, options=opts()) / rst4, udp_cksum=0))
rst6 = IPv6(src="2001:db8::22", dst="fd00:1::5", hlim=64) / \
    TCP(sport=443, dport=40001, flags="RA", seq=0, ack=78, window=0)
emit("gnv_v6_rst", outer(GENEVE(proto=0x86dd, vni=0, options=opts(extra=[GeneveOptions(classid=0x0101, type=0x07, data=b"\0" * 4)])) / rst6, sport=40000, udp_cksum=0))
rste = Ether(src="02:00:00:00:01:01", dst="02:00:00:00:01:05") / \
    IP(src="10.2.0.7", dst="10.1.0.6", ttl=64, id=0, flags="DF") / \
    TCP(sport=80, dport=40002, flags="RA", seq=10, ack=9, window=0)
emit("gnv_eth_rst", outer(GENEVE(proto=0x6558, vni=0x123456, options=opts()) / rste, udp_cksum=0))

# ---- routed: ARP, ND, ICMP
HOST_MAC, R_MAC = "02:00:00:00:01:10", "02:00:00:00:01:01"
emit("arp_req", Ether(src=HOST_MAC, dst="ff:ff:ff:ff:ff:ff") /
     ARP(op=1, hwsrc=HOST_MAC, psrc="10.72.1.10", hwdst="00:00:00:00:00:00", pdst="10.72.1.1"))
emit("arp_rep", Ether(src=R_MAC, dst=HOST_MAC) /
     ARP(op=2, hwsrc=R_MAC, psrc="10.72.1.1", hwdst=HOST_MAC, pdst="10.72.1.10") / Raw(b"\0" * 18))
emit("arp_who", Ether(src=R_MAC, dst="ff:ff:ff:ff:ff:ff") /
     ARP(op=1, hwsrc=R_MAC, psrc="10.72.1.1", hwdst="00:00:00:00:00:00", pdst="10.72.1.20") / Raw(b"\0" * 18))
emit("nd_ns", Ether(src=HOST_MAC, dst="33:33:ff:00:00:01") /
     IPv6(src="fd72:1::10", dst="ff02::1:ff00:1", hlim=255) /
     ICMPv6ND_NS(tgt="fd72:1::1") / ICMPv6NDOptSrcLLAddr(lladdr=HOST_MAC))
emit("nd_na", Ether(src=R_MAC, dst=HOST_MAC) /
     IPv6(src="fd72:1::1", dst="fd72:1::10", hlim=255) /
     ICMPv6ND_NA(tgt="fd72:1::1", R=1, S=1, O=1) / ICMPv6NDOptDstLLAddr(lladdr=R_MAC))
emit("nd_ns_hlim", Ether(src=HOST_MAC, dst="33:33:ff:00:00:01") /
     IPv6(src="fd72:1::10", dst="ff02::1:ff00:1", hlim=64) /
     ICMPv6ND_NS(tgt="fd72:1::1") / ICMPv6NDOptSrcLLAddr(lladdr=HOST_MAC))
emit("nd_who", Ether(src=R_MAC, dst="33:33:ff:00:00:20") /
     IPv6(src="fd72:1::1", dst="ff02::1:ff00:20", hlim=255) /
     ICMPv6ND_NS(tgt="fd72:1::20") / ICMPv6NDOptSrcLLAddr(lladdr=R_MAC))

ttl1 = Ether(src=HOST_MAC, dst=R_MAC) / IP(src="10.72.1.10", dst="10.72.2.20", ttl=1, id=4242) / \
    UDP(sport=33434, dport=33435) / Raw(b"traceroute probe payload")
emit("ttl1_v4", ttl1)
emit("ttl1_v4_te", Ether(src=R_MAC, dst=HOST_MAC) / IP(src="10.72.1.1", dst="10.72.1.10", ttl=64, id=0) /
     ICMP(type=11, code=0) / Raw(raw(ttl1[IP])))
ttl1v6 = Ether(src=HOST_MAC, dst=R_MAC) / IPv6(src="fd72:1::10", dst="fd72:2::20", hlim=1) / \
    UDP(sport=33434, dport=33435) / Raw(b"probe6")
emit("ttl1_v6", ttl1v6)
emit("ttl1_v6_te", Ether(src=R_MAC, dst=HOST_MAC) / IPv6(src="fd72:1::1", dst="fd72:1::10", hlim=64) /
     ICMPv6TimeExceeded(code=0) / Raw(raw(ttl1v6[IPv6])))
echo4 = Ether(src=HOST_MAC, dst=R_MAC) / IP(src="10.72.1.10", dst="10.72.1.1", ttl=64, id=9) / \
    ICMP(type=8, id=0x1234, seq=7) / Raw(b"0123456789abcdef")
emit("echo_v4", echo4)
emit("echo_v4_rep", Ether(src=R_MAC, dst=HOST_MAC) / IP(src="10.72.1.1", dst="10.72.1.10", ttl=64, id=0) /
     ICMP(type=0, id=0x1234, seq=7) / Raw(b"0123456789abcdef"))
echo6 = Ether(src=HOST_MAC, dst=R_MAC) / IPv6(src="fd72:1::10", dst="fd72:1::1", hlim=64) / \
    ICMPv6EchoRequest(id=0x4321, seq=3, data=b"ping6 data")
emit("echo_v6", echo6)
emit("echo_v6_rep", Ether(src=R_MAC, dst=HOST_MAC) / IPv6(src="fd72:1::1", dst="fd72:1::10", hlim=64) /
     ICMPv6EchoReply(id=0x4321, seq=3, data=b"ping6 data"))

hdr = ("/* SPDX-License-Identifier: BSD-3-Clause */\n"
       "/* Generated by tests/data/vpc/gen.py (Scapy %s): do not edit. */\n"
       "#ifndef VPC_FRAMES_H\n#define VPC_FRAMES_H\n\n#include <stdint.h>\n\n"
       "#define GNV_EP 0x%016xull\n#define GNV_ATT 0x%016xull\n#define GNV_COOKIE 0x%08xu\n\n"
       % (__import__("scapy").__version__, EP, ATT, COOKIE))
sys.stdout.write(hdr + "\n\n".join(OUT) + "\n\n#endif\n")
