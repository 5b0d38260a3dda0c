# SPDX-License-Identifier: BSD-3-Clause
"""Issue 9, out-of-band resolution, DNS over TCP and HTTPS/SVCB answers.

A real dnsmasq answers OFF the client's path: in a namespace of its own that only the root
namespace (where chokepointd runs) reaches over a veth pair; the client never sends a DNS
query for the name through the appliance (curl --resolve). chokepointd resolves the exact
names of the bind = "dns" rules through it (dns.resolver) and pushes the answers to the
dataplane's resolved table. Then:
  (a) curl to api.openai.com at the address the resolver gives (IPv4 and IPv6) is allowed,
      "bound": "resolved"; toward another address it is reset as sni_dst_mismatch; no DNS
      flow crossed the appliance;
  (b) DNS over TCP on the path: a name the off-path resolver does not know is bound once
      the client asks a second dnsmasq (on the path) over TCP 53: "bound": "dns";
  (c) an HTTPS record (type 65) with an ech SvcParam, asked over UDP through the
      appliance: the client receives it without ech (other params intact; the kernel
      accepted the rewritten UDP checksum), counted in status; asked over TCP (where it
      cannot be rewritten) the connection is reset before the answer is whole;
  (d) a new policy that caps the names resolved (dns.resolve_max_names) drops the name
      over the cap from the resolved table at once: sni_dst_mismatch again;
  (e) the trail verifies; status shows the resolver's and the table's counters.
"""

import json
import os
import struct
import subprocess
import time

import pytest

import harness
from harness import SERVER4, SERVER6, CLIENT6, expect_decision, expect_ok, expect_reset

OTHER4 = "10.77.1.40"                   # served too, but never an answer for the name
PY = "/usr/bin/python3"


def wait_for(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError("%s: not within %s s" % (what, timeout))
        time.sleep(0.1)


def res_net():
    """The resolver's /30, root side first (unique per run, outside the harness's 10.77/16)."""
    third = os.getpid() % 250
    return "10.251.%d.1" % third, "10.251.%d.2" % third


def policy(max_names=None):
    rules = [
        {"id": "dns", "action": "allow", "dport": [53]},
        {"id": "llm", "action": "allow", "sni": ["api.anthropic.com", "api.openai.com"],
         "bind": "dns"},
        {"id": "slack", "action": "allow", "sni": ["hooks.slack.com"], "bind": "dns"},
        {"id": "docs", "action": "allow", "host": ["docs.example.com"]},
    ]
    dns = {"resolver": res_net()[1], "resolve_interval": 5, "resolve_timeout_ms": 500}
    if max_names is not None:
        dns["resolve_max_names"] = max_names
    return harness.render_config(mode="enforce", default="deny", rules=rules,
                                 extra={"dns": dns})


def svc_param(key, value):
    return struct.pack(">HH", key, len(value)) + value


# HTTPS RR (RFC 9460): priority 1, target ".", alpn h2,h3, ipv4hint, ech, ipv6hint
ECH = bytes.fromhex("0012fe0d000e0100") + bytes(range(10, 20))
HTTPS_RDATA = (struct.pack(">H", 1) + b"\0" + svc_param(1, b"\x02h2\x02h3") +
               svc_param(4, bytes([10, 77, 1, 20])) + svc_param(5, ECH) +
               svc_param(6, bytes.fromhex("fd770001000000000000000000000020")))

# asked from the client netns: one query, the answer's SvcParams per HTTPS record as JSON
QUERY_SCRIPT = r'''
import json, socket, struct, sys
server, name, qtype, tcp = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "tcp"
q = struct.pack(">HHHHHH", 0x5151, 0x0100, 1, 0, 0, 0)
q += b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0"
q += struct.pack(">HH", qtype, 1)
if tcp:
    s = socket.create_connection((server, 53), timeout=3)
    s.sendall(struct.pack(">H", len(q)) + q)
    buf = b""
    while len(buf) < 2 or len(buf) < 2 + struct.unpack(">H", buf[:2])[0]:
        d = s.recv(4096)
        if not d:
            break
        buf += d
    m = buf[2:]
else:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(3)
    s.sendto(q, (server, 53))
    m = s.recv(4096)
def skip(m, o):
    while True:
        if m[o] & 0xc0 == 0xc0:
            return o + 2
        if m[o] == 0:
            return o + 1
        o += 1 + m[o]
an = struct.unpack(">H", m[6:8])[0]
o = skip(m, 12) + 4
out = {"rcode": m[3] & 15, "len": len(m), "answers": []}
for i in range(an):
    o = skip(m, o)
    t, c, ttl, rl = struct.unpack(">HHIH", m[o:o + 10])
    rd = m[o + 10:o + 10 + rl]
    a = {"type": t, "ttl": ttl}
    if t == 1:
        a["addr"] = socket.inet_ntoa(rd)
    if t == 65:
        p = 3 if rd[2] == 0 else None
        a["params"] = []
        while p is not None and p < len(rd):
            k, l = struct.unpack(">HH", rd[p:p + 4])
            a["params"].append([k, rd[p + 4:p + 4 + l].hex()])
            p += 4 + l
    out["answers"].append(a)
    o += 10 + rl
print(json.dumps(out))
'''


@pytest.fixture(scope="module")
def env(request):
    failed = request.session.testsfailed
    root_ip, res_ip = res_net()
    with harness.Env(config_text=policy(), prefix="rv") as e:
        t = e.topo
        ns_res, if_root, if_res = "rvrs%d" % t.pid, "rvr%d" % t.pid, "rvq%d" % t.pid
        try:
            # the off-path resolver: root netns <-> its own netns, nothing of it on the path
            t.add_netns(ns_res)
            harness.sh(["ip", "link", "add", if_root, "type", "veth", "peer", "name", if_res,
                        "netns", ns_res])
            for ns, ifn, ip in ((None, if_root, root_ip), (ns_res, if_res, res_ip)):
                pre = ["ip", "netns", "exec", ns] if ns else []
                harness.sh(pre + ["ethtool", "-K", ifn, "tx", "off", "tso", "off", "gso", "off",
                                  "gro", "off"])
                harness.sh(pre + ["ip", "addr", "add", ip + "/30", "dev", ifn])
                harness.sh(pre + ["ip", "link", "set", ifn, "up"])
            e.resolver = t.spawn("dnsmasq-offpath", ns_res, [
                "/usr/sbin/dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null",
                "--no-resolv", "--no-hosts", "--user=root", "--log-facility=-",
                "--log-queries", "--bind-interfaces", "--listen-address=" + res_ip,
                "--port=53", "--pid-file=" + os.path.join(t.workdir, "dnsmasq-off.pid"),
                "--local-ttl=60", "--host-record=api.openai.com,%s,%s" % (SERVER4, SERVER6)])
            # a second one on the path (server netns), for DNS over TCP and HTTPS records
            t.run(t.ns_server, ["ip", "addr", "add", OTHER4 + "/24", "dev", t.if_server],
                  check=True)
            e.onpath = t.spawn("dnsmasq-onpath", t.ns_server, [
                "/usr/sbin/dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null",
                "--no-resolv", "--no-hosts", "--user=root", "--log-facility=-",
                "--log-queries", "--bind-interfaces", "--listen-address=" + SERVER4,
                "--port=53", "--pid-file=" + os.path.join(t.workdir, "dnsmasq-on.pid"),
                "--local-ttl=60", "--host-record=hooks.slack.com," + SERVER4,
                "--dns-rr=https.example.test,65," + HTTPS_RDATA.hex(":")])
            for d in (e.resolver, e.onpath):
                wait_for(lambda: "started" in d.output() or not d.alive(), 10,
                                 "dnsmasq start")
                assert d.alive(), d.tail()
            yield e
            if request.session.testsfailed > failed:
                print("\n" + e.logs(), flush=True)
        finally:
            # the netns goes with the topology (after dnsmasq stops); the root end with it
            harness.sh(["ip", "link", "del", if_root], check=False, stderr=subprocess.DEVNULL)


def dns_query(env, name, qtype, tcp=False, fails=False):
    t = env.topo
    p = t.run(t.ns_client, [PY, "-c", QUERY_SCRIPT, SERVER4, name, str(qtype),
                            "tcp" if tcp else "udp"], timeout=15)
    if fails:
        assert p.returncode != 0, "DNS query %s/%d got an answer: %s" % (name, qtype, p.stdout)
        harness.log("dns %s/%d over %s -> failed as it should: %s" % (
            name, qtype, "tcp" if tcp else "udp", p.stderr.strip().splitlines()[-1:]))
        return p.stderr
    assert p.returncode == 0, "DNS query %s/%d (%s): %s" % (name, qtype, "tcp" if tcp else "udp",
                                                            p.stderr[-500:])
    res = json.loads(p.stdout.strip().splitlines()[-1])
    harness.log("dns %s/%d over %s -> %s" % (name, qtype, "tcp" if tcp else "udp", res))
    return res


def status(env):
    return env.appliance.status_json()


def test_a_resolved_out_of_band(env):
    app, c = env.appliance, env.clients
    # the first round went out when the policy was set, and again when the dataplane said HELLO
    wait_for(lambda: (status(env).get("dns_resolver") or {}).get("pushed", 0) >= 1 and
                     status(env)["dataplane"]["dns"]["resolved"]["entries"] >= 2, 10,
                     "the resolver's answers in the dataplane's resolved table")
    st = status(env)
    r = st["dns_resolver"]
    assert r["server"] == res_net()[1] and r["names"] == 3 and r["names_capped"] == 0, r
    # api.anthropic.com and hooks.slack.com are NXDOMAIN there: failed, not pushed
    assert r["failed"] >= 2 and r["timeouts"] == 0, r
    mark = app.mark()
    res = c.curl("api.openai.com", SERVER4)
    expect_ok(res, "api.openai.com")
    expect_decision(app.decision_for(res["sport"]), sni="api.openai.com", rule="llm",
                    verdict="allow", reason="rule", bound="resolved", dst=SERVER4)
    res = c.curl("api.openai.com", SERVER6)
    expect_ok(res, "api.openai.com", "over IPv6 (the AAAA answer)")
    expect_decision(app.decision_for(res["sport"], src=CLIENT6), sni="api.openai.com",
                    rule="llm", verdict="allow", bound="resolved", dst=SERVER6)
    # OTHER4 serves: an unbound name reaches it, api.openai.com does not
    expect_ok(c.curl("docs.example.com", OTHER4, scheme="http"), "docs.example.com")
    res = c.curl("api.openai.com", OTHER4, timeout=10)
    expect_reset(res, "api.openai.com toward %s" % OTHER4)
    expect_decision(app.decision_for(res["sport"]), sni="api.openai.com", verdict="deny",
                    reason="sni_dst_mismatch", anomalies=["sni_dst_mismatch"], bound="none",
                    dst=OTHER4)
    # no DNS crossed the appliance: the binding came from out of band
    assert not app.decisions_since(mark, lambda r: r["dport"] == 53), "a DNS flow was seen"
    assert status(env)["dataplane"]["dns"]["responses"] == 0


def test_b_dns_over_tcp_on_the_path(env):
    app, c = env.appliance, env.clients
    res = c.curl("hooks.slack.com", SERVER4, timeout=10)
    expect_reset(res, "hooks.slack.com before any answer")
    ans = dns_query(env, "hooks.slack.com", 1, tcp=True)
    assert ans["rcode"] == 0 and [a.get("addr") for a in ans["answers"]] == [SERVER4], ans
    res = c.curl("hooks.slack.com", SERVER4)
    expect_ok(res, "hooks.slack.com", "after the answer over TCP")
    expect_decision(app.decision_for(res["sport"]), sni="hooks.slack.com", rule="slack",
                    verdict="allow", bound="dns")
    d = status(env)["dataplane"]["dns"]
    assert d["tcp_messages"] >= 1 and d["tcp_skipped"] == 0 and d["recorded"] >= 1, d


def test_c_https_record_loses_ech(env):
    before = status(env)["dataplane"]["dns"]["https_rr"]
    ans = dns_query(env, "https.example.test", 65)
    assert ans["rcode"] == 0 and len(ans["answers"]) == 1, ans
    params = ans["answers"][0]["params"]
    assert [k for k, _ in params] == [1, 4, 6], "SvcParams after the appliance: %s" % params
    assert params[0][1] == b"\x02h2\x02h3".hex(), params
    assert params[1][1] == bytes([10, 77, 1, 20]).hex(), params
    assert params[2][1] == "fd770001000000000000000000000020", params
    after = status(env)["dataplane"]["dns"]["https_rr"]
    assert after["stripped"] == before["stripped"] + 1 and after["refused"] == 0, (before, after)
    # over TCP it cannot be rewritten: the answer never arrives whole, the connection is reset
    err = dns_query(env, "https.example.test", 65, tcp=True, fails=True)
    assert "reset" in err.lower() or "Connection" in err, err[-300:]
    last = status(env)["dataplane"]["dns"]["https_rr"]
    assert last["unstrippable"] == after["unstrippable"] + 1, (after, last)


def test_d_new_policy_drops_names_over_the_cap(env):
    app, c = env.appliance, env.clients
    before = status(env)["dataplane"]["dns"]["resolved"]["removes"]
    # config order: api.anthropic.com is resolved, api.openai.com is over the cap of 1
    app.reload(policy(max_names=1))
    app.wait_ready(generation=2)
    wait_for(lambda: status(env)["dataplane"]["dns"]["resolved"]["removes"] > before,
                     5, "api.openai.com removed from the resolved table")
    r = status(env)["dns_resolver"]
    assert r["names"] == 1 and r["names_capped"] == 2 and r["max_names"] == 1, r
    res = c.curl("api.openai.com", SERVER4, timeout=10)
    expect_reset(res, "api.openai.com once it is no longer resolved")
    expect_decision(app.decision_for(res["sport"]), sni="api.openai.com", verdict="deny",
                    reason="sni_dst_mismatch", bound="none", dst=SERVER4)


def test_e_audit_and_status(env):
    app = env.appliance
    recs, cnt = harness.check_trail(env)
    dec = [r for r in recs if r.get("type") == "flow.decision"]
    assert any(r.get("bound") == "resolved" for r in dec), "no decision bound out of band"
    harness.expect_counter(cnt, "dataplane.dns.resolved.updates", 1)
    harness.expect_counter(cnt, "dataplane.dns.resolved.removes", 1)
    harness.expect_counter(cnt, "dataplane.dns.tcp_messages", 1)
    harness.expect_counter(cnt, "dataplane.dns.https_rr.stripped", 1)
    harness.expect_counter(cnt, "dns_resolver.rounds", 1)
    txt = app.ctl("status").stdout
    assert "dns resolver: %s, every 5 s" % res_net()[1] in txt, txt
    assert "dns resolved table: " in txt and "dns https_rr: " in txt, txt
