#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""The flow table's IPv6 address pool, end to end (chokepointctl replay, the real
dataplane): with --v6-flows 64, 64 IPv6 TCP flows get a record each; the next IPv6
SYNs find the pool empty and get the policy's table_full verdict, audited as
flow.decision records (reason table_full, one per second at most) and counted
(v6_full, table_full); IPv4 flows after them are unaffected (no pool); the full
IPv6 addresses come back in every record (the flow keeps a digest only).
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

SRC = os.environ.get("CHOKEPOINT_SRC", os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
BUILD = os.environ.get("CHOKEPOINT_BUILD", os.path.join(SRC, "build"))
CTL = os.environ.get("CHOKEPOINTCTL", os.path.join(BUILD, "ctrlplane", "chokepointctl"))
DP = os.environ.get("CHOKEPOINT_DP", os.path.join(BUILD, "dataplane", "chokepoint-dp"))
V6, EXTRA, V4 = 64, 3, 5
FAILS = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        FAILS.append(what)


def capture(path):
    """64 + EXTRA IPv6 SYNs (the extra ones 1.5 s apart: each is audited), then IPv4 SYNs."""
    from scapy.all import Ether, IPv6, IP, TCP, wrpcap   # Debian python3-scapy
    pkts = []
    t = 1700000000.0
    for i in range(V6 + EXTRA):
        p = (Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") /
             IPv6(src="fd00:77::%x:1" % (i + 1), dst="fd00:99::1:%x" % (i + 1)) /
             TCP(sport=20000 + i, dport=443, flags="S", seq=1000 + i))
        t += 1.5 if i >= V6 else 0.001
        p.time = t
        pkts.append(p)
    for i in range(V4):
        p = (Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") /
             IP(src="10.77.0.%d" % (i + 1), dst="192.0.2.10") /
             TCP(sport=30000 + i, dport=443, flags="S", seq=5000 + i))
        t += 0.001
        p.time = t
        pkts.append(p)
    wrpcap(path, pkts)


def main():
    for path in (CTL, DP):
        if not os.path.exists(path):
            print("%s missing: FAIL" % path)
            return 1
    tmp = tempfile.mkdtemp(prefix="test-flow-pools.")
    cap = tmp + "/v6.pcap"
    capture(cap)
    cfg = tmp + "/p.conf"
    with open(cfg, "w", encoding="ascii") as f:
        f.write('default = "allow";\ntable_full = "deny";\n'
                'rules = ( { id = "n"; action = "allow"; sni = ["never.invalid"]; } );\n')
    # the dataplane as chokepointctl starts it, with the pool's size appended
    dp = tmp + "/dp-v6-64"
    with open(dp, "w", encoding="ascii") as f:
        f.write('#!/bin/sh\nexec "%s" "$@" --v6-flows %d\n' % (DP, V6))
    os.chmod(dp, 0o755)
    p = subprocess.run([CTL, "replay", "--dp", dp, "--config", cfg, "--audit-out",
                        tmp + "/out.jsonl", cap], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=120, check=False, text=True)
    check(p.returncode == 0, "replay ran: " + p.stderr.strip()[-200:])
    recs = [json.loads(l) for l in open(tmp + "/out.jsonl", encoding="ascii")]
    full = [r for r in recs if r["type"] == "flow.decision" and r.get("reason") == "table_full"]
    want = ["fd00:77::%x:1" % (i + 1) for i in range(V6, V6 + EXTRA)]
    check([r["src"] for r in full] == want,
          "the IPv6 SYNs past the pool got table_full, audited: %s" % [r["src"] for r in full])
    check(all(r["verdict"] == "deny" and r["dport"] == 443 and
              r["dst"] == "fd00:99::1:%x" % (V6 + 1 + k) for k, r in enumerate(full)),
          "their records: deny, full IPv6 addresses and ports")
    ends = [r for r in recs if r["type"] == "flow.end"]
    srcs = {r["src"] for r in ends}
    check(all("fd00:77::%x:1" % (i + 1) in srcs for i in range(V6)) and
          all("10.77.0.%d" % (i + 1) in srcs for i in range(V4)) and
          not any(s in srcs for s in want),
          "every pooled IPv6 flow and every IPv4 flow ended as a flow (%d flow.end)" % len(ends))
    check(all(r["dst"] == "fd00:99::1:%x" % (int(r["src"].split(":")[-2], 16))
              for r in ends if r["src"].startswith("fd00:77")),
          "the flow.end records carry each flow's own IPv6 addresses")
    ctr = p.stderr[p.stderr.rfind("final counters:"):]
    check(" v6_full=%d" % EXTRA in ctr and " table_full=%d" % EXTRA in ctr,
          "counted: v6_full and table_full = %d (%s)" % (EXTRA, ctr.strip()[:160]))
    shutil.rmtree(tmp, ignore_errors=True)
    if FAILS:
        print("FAILED: %d check(s)" % len(FAILS))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
