# SPDX-License-Identifier: BSD-3-Clause
"""GENEVE one-arm mode behind AWS Gateway Load Balancer (issue 8), with gwlb.py (a
userspace GWLB: Scapy's GENEVE layer, the three AWS TLVs) between real clients and
servers (curl, nginx) and chokepoint-dp --mode geneve on the pcap PMD (jumbo frames).
See tests/integration/vpc.py for the topology."""

import hashlib
import json
import os
import time

import pytest

import harness
import vpc
from vpc import APP_IP, ATTACHMENT, ENDPOINT, G_CLIENT4, G_CLIENT6, G_SERVER4, G_SERVER6, PY

NO_TLV_PORT = 4443


def policy():
    return harness.render_config(mode="enforce", default="deny", rules=[
        {"id": "llm", "action": "allow", "sni": ["api.openai.com", "api.anthropic.com"]},
        {"id": "no-evil", "action": "deny", "sni": ["evil.example.net"]},
    ])


@pytest.fixture(scope="module")
def env(request):
    failed = request.session.testsfailed
    with vpc.VpcEnv("geneve", policy(), gwlb_args=["--no-tlv-port", str(NO_TLV_PORT)]) as e:
        yield e
        if request.session.testsfailed > failed:
            print("\n" + e.logs(), flush=True)


def stats_after(env, settle=0.5):
    time.sleep(settle)          # gwlb.py writes its stats every 0.2 s
    return env.gwlb_stats()


def decision(env, sport, src=G_CLIENT4):
    return env.appliance.decision_for(sport, src=src)


def expect_gwlb(rec):
    assert rec.get("gwlb") == {"endpoint": ENDPOINT, "attachment": ATTACHMENT}, \
        "record lacks the GWLB ids: %s" % json.dumps(rec)


def test_allowed_flows_come_back_in_the_same_geneve_header(env):
    before = env.gwlb_stats()
    for name, ip, src in (("api.openai.com", G_SERVER4, G_CLIENT4),
                          ("api.anthropic.com", G_SERVER6, G_CLIENT6)):
        r = env.curl(name, ip)
        assert (r["rc"], r["code"], r["body"]) == (0, "200", ("ok %s\n" % name).encode()), r
        rec = decision(env, r["sport"], src=src)
        harness.expect_decision(rec, verdict="allow", rule="llm", sni=name, src=src)
        expect_gwlb(rec)
    st = stats_after(env)
    # every packet of both connections went through GWLB and came back byte-identical in
    # its GENEVE header, from the appliance's address and our port to 6081
    assert st["same"] - before["same"] >= 20, st
    assert st["header_mismatch"] == 0 and st["outer_bad"] == 0, st
    assert st["no_neighbour"] == 0, st
    c = env.appliance.counters()
    assert c["geneve_rx"] >= st["sent"] - st["sent_no_tlv"] - 5, (c, st)


def test_jumbo_inner_packets(env):
    """8500-byte inner packets (client and server links at MTU 8500) through the pcap PMD."""
    data = os.urandom(3 << 20)
    env.nginx.write_file("jumbo.bin", data)
    r = env.curl("api.openai.com", G_SERVER4, path="/files/jumbo.bin", timeout=30)
    assert r["rc"] == 0 and r["code"] == "200", r
    assert hashlib.sha256(r["body"]).digest() == hashlib.sha256(data).digest(), \
        "the 3 MiB body changed on the way"
    st = stats_after(env)
    assert st["max_inner_returned"] == 8500, st
    assert st["header_mismatch"] == 0, st


def test_denied_flow_is_not_returned(env):
    before = env.gwlb_stats()
    r = env.curl("evil.example.net", G_SERVER4, timeout=3)
    assert r["rc"] == 28, "denied flow: want a timeout (nothing returned), got %s" % r
    rec = decision(env, r["sport"])
    harness.expect_decision(rec, verdict="deny", rule="no-evil", sni="evil.example.net")
    expect_gwlb(rec)
    st = stats_after(env)
    assert st["returned_rst"] == before["returned_rst"], "an RST without --geneve-rst: %s" % st
    assert st["header_mismatch"] == 0, st


def test_packets_without_the_tlvs_are_counted_and_audited(env):
    before = env.appliance.counters()
    mark = env.appliance.mark()
    r = env.curl("api.openai.com", G_SERVER4, timeout=3,
                 extra=["--connect-to", "api.openai.com:443:%s:%d" % (G_SERVER4, NO_TLV_PORT)])
    assert r["rc"] == 28, r
    after = env.appliance.counters()
    assert after["an_geneve_tlv_missing"] - before["an_geneve_tlv_missing"] >= 2, after
    rec = env.appliance.wait_decision_since(
        mark, lambda x: x.get("sport") == r["sport"] and "geneve_tlv_missing" in x["anomalies"],
        what="geneve_tlv_missing record")
    harness.expect_decision(rec, verdict="deny", enforced=True, src=G_CLIENT4, dport=NO_TLV_PORT)
    assert "gwlb" not in rec, rec       # none of the ids came
    # a packet with the endpoint and attachment ids but no flow cookie: the ids are named
    time.sleep(1.1)                     # one record per second per worker
    mark = env.appliance.mark()
    assert send_crafted(env, att=0x42, cookie=False, sport=5001) == "none"
    rec = env.appliance.wait_decision_since(
        mark, lambda x: x.get("sport") == 5001, what="record of the cookie-less packet")
    assert rec["anomalies"] == ["geneve_tlv_missing"], rec
    assert rec["gwlb"] == {"endpoint": ENDPOINT, "attachment": "%016x" % 0x42}, rec


# One GENEVE SYN crafted with Scapy from GW_CRAFT (gwlb.py never sees its return):
# prints "returned" when the appliance sends it back with the same GENEVE header to our
# port 6081 from the port we sent from, "none" when nothing comes within 1 s.
CRAFT = r"""
import socket, sys
from scapy.all import IP, TCP, raw
from scapy.contrib.geneve import GENEVE, GeneveOptions
att, cookie, sport, seq = int(sys.argv[1]), sys.argv[2] == "1", int(sys.argv[3]), int(sys.argv[4])
ep, server, me, app = sys.argv[5:9]
o = [GeneveOptions(classid=0x0108, type=1, data=bytes.fromhex(ep)),
     GeneveOptions(classid=0x0108, type=2, data=att.to_bytes(8, "big"))]
if cookie:
    o.append(GeneveOptions(classid=0x0108, type=3, data=b"\x00\x00\x00\x07"))
inner = raw(IP(src="10.99.0.5", dst=server) / TCP(sport=sport, dport=443, flags="S", seq=seq))
hdr = raw(GENEVE(proto=0x0800, options=o))
rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
rx.bind((me, 6081))
rx.settimeout(1)
tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
tx.bind((me, 0))
tx.sendto(hdr + inner, (app, 6081))
try:
    data, src = rx.recvfrom(65535)
except socket.timeout:
    print("none")
    sys.exit(0)
ok = src == (app, tx.getsockname()[1]) and data == hdr + inner
print("returned" if ok else "returned-different %s %s" % (src, data.hex()))
"""


def send_crafted(env, att, cookie, sport, seq=1000):
    """One GENEVE SYN crafted with Scapy; "returned" or "none"."""
    p = env.run(env.topo.ns_gw, [PY, "-c", CRAFT, str(att), "1" if cookie else "0", str(sport),
                                 str(seq), ENDPOINT, G_SERVER4, vpc.GW_CRAFT, APP_IP])
    assert p.returncode == 0, p.stderr
    return p.stdout.strip()


def test_attachments_never_share_a_flow(env):
    """The same inner 5-tuple from two attachments (two VPCs reusing 10/8) is two flows:
    keyed without the attachment id, the second SYN (another ISN) would evict the first."""
    before = env.appliance.counters()
    mark = env.appliance.mark()
    # each SYN is forwarded (returned unchanged) while its flow waits for a name
    assert send_crafted(env, att=0xa1, cookie=True, sport=5555, seq=1000) == "returned"
    assert send_crafted(env, att=0xa2, cookie=True, sport=5555, seq=9000) == "returned"
    time.sleep(0.5)
    after = env.appliance.counters()
    assert after["flows_created"] - before["flows_created"] == 2, (before, after)
    # only these two flows are looked at: flows of earlier tests may end meanwhile
    ended = [r for r in env.appliance.records() if r.get("seq", 0) > mark and
             r.get("type") == "flow.end" and r.get("sport") == 5555]
    assert not ended, "a flow of the shared 5-tuple ended after the second SYN: %s" % ended


def test_exception_path_and_echo(env):
    """A kernel service on the appliance's address (through the TAP exception port) and
    ping of the appliance (answered by the dataplane)."""
    t = env.topo
    srv = t.spawn("kernel-svc", t.ns_kern, [PY, "-c", vpc.KERNEL_SERVICE, APP_IP, str(vpc.EXC_PORT)])
    t.wait_listen(t.ns_kern, vpc.EXC_PORT, proc=srv)
    before = env.appliance.counters()
    p = env.run(t.ns_gw, [PY, "-c", vpc.KERNEL_CLIENT, APP_IP, str(vpc.EXC_PORT)])
    assert p.returncode == 0 and p.stdout.strip() == "kernel: hello from %s" % vpc.GW_UNDERLAY, \
        (p.stdout, p.stderr)
    p = env.run(t.ns_gw, ["ping", "-c", "2", "-W", "1", APP_IP])
    assert p.returncode == 0, p.stdout
    after = env.appliance.counters()
    assert after["exc_to_kernel"] > before["exc_to_kernel"], after
    assert after["exc_from_kernel"] > before["exc_from_kernel"], after
    assert after["local_icmp"] - before["local_icmp"] >= 2, after
    # the health check arrives un-encapsulated at the same address
    assert env.health(t.ns_gw) == (0, "200", "ok\n")


def test_geneve_rst_resets_denied_clients(env):
    """--geneve-rst: a denied client gets an RST built inside its flow's GENEVE context."""
    env.appliance.stop_dp()
    env.appliance.start_dp(["--geneve-rst"])
    env.appliance.wait_ready()
    before = env.gwlb_stats()
    r = env.curl("evil.example.net", G_SERVER4, timeout=5)
    harness.expect_reset(r, "denied with --geneve-rst")
    st = stats_after(env)
    assert st["returned_rst"] > before["returned_rst"], st
    # the RST came back in the GENEVE header of the client's flow, byte for byte
    assert st["made_same"] > before["made_same"], st
    assert st["header_mismatch"] == 0 and st["outer_bad"] == 0, st
    r = env.curl("api.openai.com", G_SERVER4)
    assert r["rc"] == 0 and r["code"] == "200", r


def test_geneve_pairs_full_gets_table_full(env):
    """--geneve-pairs 2: flows from two (endpoint, attachment) pairs get the pair ids a
    worker has; a SYN from a third pair finds none left and gets the policy's
    table_full verdict (deny here: dropped), counted (zone_full, table_full) and audited
    with its GENEVE ids; a further flow of a pair already interned still gets through.
    One of the two pairs is the one gwlb.py uses: the last packets of the previous test's
    connections may reach the restarted dataplane as midstream flows of that pair."""
    env.appliance.stop_dp()
    env.appliance.start_dp(["--geneve-pairs", "2"])
    env.appliance.wait_ready()
    before = env.appliance.counters()
    mark = env.appliance.mark()
    assert send_crafted(env, att=int(ATTACHMENT, 16), cookie=True, sport=6001) == "returned"
    assert send_crafted(env, att=0xc2, cookie=True, sport=6002) == "returned"
    assert send_crafted(env, att=0xc3, cookie=True, sport=6003) == "none"
    assert send_crafted(env, att=0xc2, cookie=True, sport=6004) == "returned"
    rec = env.appliance.wait_record(
        lambda r: r.get("seq", 0) > mark and r.get("type") == "flow.decision" and
        r.get("reason") == "table_full", what="the table_full decision")
    assert rec["verdict"] == "deny" and rec["sport"] == 6003, rec
    assert rec.get("gwlb") == {"endpoint": ENDPOINT, "attachment": "%016x" % 0xc3}, rec
    after = env.appliance.counters()
    assert after["zone_full"] - before["zone_full"] == 1, (before, after)
    assert after["table_full"] - before["table_full"] == 1, (before, after)
    assert after["flows_created"] - before["flows_created"] >= 3, (before, after)
    env.appliance.stop_dp()
    env.appliance.start_dp([])
    env.appliance.wait_ready()
    r = env.curl("api.openai.com", G_SERVER4)
    assert r["rc"] == 0 and r["code"] == "200", r


def test_trail(env):
    out, n = env.appliance.verify()
    assert n > 0
    st = env.gwlb_stats()
    assert st["header_mismatch"] == 0 and st["outer_bad"] == 0, st
