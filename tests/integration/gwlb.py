#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""A userspace stand-in for AWS Gateway Load Balancer, for the GENEVE tests.

The kernel of this machine has no GENEVE device, so this process plays GWLB: it reads
the client's and the server's IP packets from their veths (AF_PACKET; the namespace
does not forward), sends each one to the appliance in IPv4/UDP to port 6081 inside a
GENEVE header carrying the three AWS TLVs (class 0x0108: endpoint id, attachment id,
flow cookie), takes back what the appliance returns on UDP 6081, checks it, and writes
the inner packet to the veth of its destination. So the client and the server are
real TCP stacks that talk only through the appliance.

Checked on every returned packet, counted in the stats file (JSON):
  - it comes from the appliance's address, from the UDP port we sent from, to 6081
    (outer addresses swapped, ports kept), with a valid UDP checksum or none (the
    kernel drops others before we see them);
  - its GENEVE header (options included) is byte for byte the one we sent with the
    same inner packet ("same"), or, for a packet the appliance made (an RST), the one
    we sent last for that flow ("made_same"); anything else is "header_mismatch".
GENEVE packets are built with Scapy's GENEVE layer (an implementation that is not the
appliance's), returned ones parsed with it too.

--no-tlv-port P: packets to or from TCP/UDP port P go without the AWS TLVs.
--attachment-for-port P=HEX: packets of flows on port P carry another attachment id.
"""
import argparse
import hashlib
import json
import os
import select
import signal
import socket
import struct
import sys
import time
import zlib

from scapy.contrib.geneve import GENEVE, GeneveOptions

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
IP_PKTINFO = 8

stats = {"sent": 0, "sent_no_tlv": 0, "returned": 0, "same": 0, "made_same": 0,
         "header_mismatch": 0, "outer_bad": 0, "no_neighbour": 0, "returned_rst": 0,
         "max_inner_sent": 0, "max_inner_returned": 0, "mismatches": []}
quit_flag = False


def on_term(sig, frm):
    global quit_flag
    quit_flag = True


def parse_ip(pkt):
    """(family, src, dst, proto, sport, dport, tcp_flags) of a bare IP packet, or None."""
    if not pkt:
        return None
    v = pkt[0] >> 4
    if v == 4 and len(pkt) >= 20:
        ihl = (pkt[0] & 15) * 4
        proto, src, dst, l4 = pkt[9], pkt[12:16], pkt[16:20], pkt[ihl:]
    elif v == 6 and len(pkt) >= 40:
        proto, src, dst, l4 = pkt[6], pkt[8:24], pkt[24:40], pkt[40:]
    else:
        return None
    sport = dport = flags = 0
    if proto in (6, 17) and len(l4) >= 4:
        sport, dport = struct.unpack("!HH", l4[:4])
        if proto == 6 and len(l4) >= 14:
            flags = l4[13]
    return (v, src, dst, proto, sport, dport, flags)


def flow_id(t):
    a, b = (t[1], t[4]), (t[2], t[5])
    return (t[0], t[3]) + (min(a, b), max(a, b))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--underlay", required=True, help="our IPv4 address toward the appliance")
    ap.add_argument("--appliance", required=True)
    ap.add_argument("--sport", type=int, default=51234)
    ap.add_argument("--ifaces", required=True, help="comma-separated client/server veths")
    ap.add_argument("--own", default="", help="comma-separated addresses of this namespace")
    ap.add_argument("--endpoint", default="0123456789abcdef")
    ap.add_argument("--attachment", default="1122334455667788")
    ap.add_argument("--no-tlv-port", type=int, action="append", default=[])
    ap.add_argument("--attachment-for-port", action="append", default=[])
    ap.add_argument("--host", action="append", default=[],
                    help="IP=IFACE=MAC: a host behind GWLB (its neighbour entry)")
    ap.add_argument("--stats", required=True)
    a = ap.parse_args()
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    ep = int(a.endpoint, 16)
    att = int(a.attachment, 16)
    att_for = {int(k): int(v, 16) for k, v in (x.split("=") for x in a.attachment_for_port)}
    own = {socket.inet_pton(socket.AF_INET6 if ":" in x else socket.AF_INET, x)
           for x in a.own.split(",") if x}

    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tx.bind((a.underlay, a.sport))
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    rx.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
    rx.bind((a.underlay, 6081))
    raws, macs = {}, {}
    for ifn in a.ifaces.split(","):
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        s.bind((ifn, 0))
        raws[s.fileno()] = (s, ifn)
        with open("/sys/class/net/%s/address" % ifn) as f:
            macs[ifn] = bytes.fromhex(f.read().strip().replace(":", ""))
    neigh = {}          # ip bytes -> (ifname, mac)
    for h in a.host:
        ip, ifn, mac = h.split("=")
        neigh[socket.inet_pton(socket.AF_INET6 if ":" in ip else socket.AF_INET, ip)] = (
            ifn, bytes.fromhex(mac.replace(":", "")))
    sent_hdr = {}       # sha1(inner) -> GENEVE header bytes
    flow_hdr = {}       # flow id -> last GENEVE header sent
    last_write = 0.0

    def write_stats(force=False):
        nonlocal last_write
        now = time.monotonic()
        if not force and now - last_write < 0.2:
            return
        last_write = now
        with open(a.stats + ".tmp", "w") as f:
            json.dump(stats, f)
        os.replace(a.stats + ".tmp", a.stats)

    write_stats(True)
    print("gwlb: ready", flush=True)
    poller = select.poll()
    poller.register(rx.fileno(), select.POLLIN)
    for fd in raws:
        poller.register(fd, select.POLLIN)
    while not quit_flag:
        for fd, _ in poller.poll(200):
            if fd == rx.fileno():
                data, anc, _, src = rx.recvmsg(65535, 256)
                dst = None
                for lvl, typ, val in anc:
                    if lvl == socket.IPPROTO_IP and typ == IP_PKTINFO:
                        dst = socket.inet_ntoa(val[8:12])
                stats["returned"] += 1
                if src != (a.appliance, a.sport) or dst != a.underlay:
                    stats["outer_bad"] += 1
                g = GENEVE(data)
                hlen = 8 + g.optionlen * 4
                hdr, inner = data[:hlen], data[hlen:]
                t = parse_ip(inner)
                if t is None:
                    continue
                stats["max_inner_returned"] = max(stats["max_inner_returned"], len(inner))
                want = sent_hdr.pop(hashlib.sha1(inner).digest(), None)
                if want is not None:
                    if want == hdr:
                        stats["same"] += 1
                    else:
                        stats["header_mismatch"] += 1
                        stats["mismatches"].append([want.hex(), hdr.hex()])
                else:
                    if t[3] == 6 and t[6] & 0x04:
                        stats["returned_rst"] += 1
                    if flow_hdr.get(flow_id(t)) == hdr:
                        stats["made_same"] += 1
                    else:
                        stats["header_mismatch"] += 1
                        stats["mismatches"].append([(flow_hdr.get(flow_id(t)) or b"").hex(),
                                                    hdr.hex()])
                nb = neigh.get(t[2])
                if nb is None:
                    stats["no_neighbour"] += 1
                    continue
                ifn, mac = nb
                et = b"\x08\x00" if t[0] == 4 else b"\x86\xdd"
                s = next(x for x, n in raws.values() if n == ifn)
                s.send(mac + macs[ifn] + et + inner)
                continue
            s, ifn = raws[fd]
            frame, addr = s.recvfrom(65535)
            if addr[2] == PACKET_OUTGOING or len(frame) < 14:
                continue
            et = struct.unpack("!H", frame[12:14])[0]
            if et not in (0x0800, 0x86dd):
                continue
            pkt = frame[14:]
            t = parse_ip(pkt)
            if t is None or t[2] in own or t[2][0] in (0xff, 224, 225, 226, 239) or \
                    (t[0] == 6 and t[2][:2] == b"\xfe\x80"):
                continue        # for this namespace itself, multicast, link-local
            # the IP length, not the frame's (padding)
            ln = (struct.unpack("!H", pkt[2:4])[0] if t[0] == 4 else
                  40 + struct.unpack("!H", pkt[4:6])[0])
            pkt = pkt[:ln]
            neigh[t[1]] = (ifn, frame[6:12])
            fid = flow_id(t)
            opts = []
            if t[4] not in a.no_tlv_port and t[5] not in a.no_tlv_port:
                this_att = att_for.get(t[4], att_for.get(t[5], att))
                cookie = zlib.crc32(repr(fid).encode()) & 0xffffffff
                opts = [GeneveOptions(classid=0x0108, type=1, data=ep.to_bytes(8, "big")),
                        GeneveOptions(classid=0x0108, type=2, data=this_att.to_bytes(8, "big")),
                        GeneveOptions(classid=0x0108, type=3, data=cookie.to_bytes(4, "big"))]
            else:
                stats["sent_no_tlv"] += 1
            hdr = bytes(GENEVE(proto=0x0800 if t[0] == 4 else 0x86dd, vni=0, options=opts))
            sent_hdr[hashlib.sha1(pkt).digest()] = hdr
            flow_hdr[fid] = hdr
            stats["max_inner_sent"] = max(stats["max_inner_sent"], len(pkt))
            tx.sendto(hdr + pkt, (a.appliance, 6081))
            stats["sent"] += 1
        write_stats()
    write_stats(True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
