# SPDX-License-Identifier: BSD-3-Clause
"""revalidate = true: a reload re-judges established flows (dataplane/dp_reval.h).

A numbered probe stream (one line every 10 ms over one TLS connection, each echoed; see
test_reload.py) to a name the first policy allows runs across a reload to a policy that
no longer allows that name:
  - with revalidate = true the connection is reset within a short time, both ends are sent
    an RST, and a flow.decision with reason "revalidated" (verdict deny, the new policy's
    hash) says so; a probe to a name both policies allow runs on untouched;
  - with revalidate = false (the default) the same reload leaves the established stream
    alone: it completes in order;
  - a UDP flow allowed by an address/port rule stops passing (no reply after the reload)
    when the new policy, revalidating, no longer allows it;
  - a QUIC flow named by its Initial's SNI stops reaching the server;
  - a keep-alive HTTP connection to a Host no longer allowed is reset between requests;
  - a trusted (bypass) flow survives while the new policy trusts its destination, and is
    reset when it no longer does;
  - per-rule hit counters of the live generation in chokepointctl status (text, --json).
"""

import json
import subprocess
import time

import harness
from conftest import default_policy
from harness import expect_decision
from test_reload import RULES_B, expect_complete, finish_probe, start_probe

RESET_WITHIN_S = 3.0


def policy_b(revalidate):
    # hooks.slack.com is no longer allowed (default deny); api.openai.com still is
    extra = {"revalidate": True} if revalidate else None
    return default_policy(rules=RULES_B, extra=extra)


def reload_to(app, config):
    gen = harness.dp_generation(app.status_json())
    app.reload(config, via="ctl")
    app.wait_ready(generation=gen + 1, timeout=10)
    return gen + 1


def totals(app):
    """dataplane.totals.* of chokepointctl status --json, by counter name."""
    cnt = harness.counters(app.status_json())
    pre = "dataplane.totals."
    return {k[len(pre):]: v for k, v in cnt.items() if k.startswith(pre)}


def test_revalidate_resets_a_denied_stream(env):
    app = env.appliance
    mark = app.mark()
    before = totals(app)
    denied, denied_sport = start_probe(env, duration=10.0, name="hooks.slack.com")
    kept, kept_sport = start_probe(env, duration=6.0, name="api.openai.com")
    first = app.decision_for(denied_sport)
    expect_decision(first, sni="hooks.slack.com", rule="hooks", verdict="allow")
    time.sleep(1.0)

    topo = app.topo
    resets = [topo.tcp_counters(ns)["EstabResets"] for ns in (topo.ns_client, topo.ns_server)]
    t0 = time.monotonic()
    rec_gen = reload_to(app, policy_b(revalidate=True))
    while denied.alive() and time.monotonic() - t0 < 10:
        time.sleep(0.02)
    took = time.monotonic() - t0
    res = finish_probe(denied, timeout=15)
    assert res["result"] == "error", "the revoked stream was not cut: %s" % res
    # both ends took an RST in ESTABLISHED (the probe's socket may report it as EOF)
    for ns, n0 in zip((topo.ns_client, topo.ns_server), resets):
        n1 = topo.tcp_counters(ns)["EstabResets"]
        assert n1 > n0, "no established connection reset in %s (%d -> %d)" % (ns, n0, n1)
    assert took < RESET_WITHIN_S, "the revoked stream lived %.2fs after the reload" % took
    assert res["in_order"], res

    rec = app.wait_decision_since(
        mark, lambda r: r.get("sport") == denied_sport and r.get("reason") == "revalidated",
        timeout=5, what="revalidated flow.decision")
    expect_decision(rec, sni="hooks.slack.com", verdict="deny", enforced=True, rule=None,
                    reason="revalidated")
    assert rec["policy"] != first["policy"], "the revalidation names the old policy: %s" % rec
    # the still-allowed stream was judged again and left alone
    expect_complete(finish_probe(kept, timeout=30), "still allowed across a revalidating reload")
    assert not app.decisions_since(mark, lambda r: r.get("sport") == kept_sport
                                   and r.get("reason") == "revalidated")
    after = totals(app)
    assert after["revoked"] - before.get("revoked", 0) >= 1, after
    assert after["revalidated"] - before.get("revalidated", 0) >= 2, after
    # both ends were sent an RST
    assert after["rst_sent"] - before["rst_sent"] >= 2, after
    # the revocation is a decision of the new generation by no rule (its default)
    hits = app.status_json()["dataplane"]["rule_hits"]
    assert hits["generation"] == rec_gen and hits["no_rule"] >= 1, hits


def test_no_revalidate_keeps_established(env):
    app = env.appliance
    reload_to(app, default_policy())           # hooks allowed again
    mark = app.mark()
    pr, sport = start_probe(env, duration=5.0, name="hooks.slack.com")
    time.sleep(1.0)
    reload_to(app, policy_b(revalidate=False))
    res = finish_probe(pr, timeout=30)
    expect_complete(res, "revalidate = false: established stream across the reload")
    assert not app.decisions_since(mark, lambda r: r.get("reason") == "revalidated")
    # a new flow to the name is denied by the new policy all the same
    r = env.clients.curl("hooks.slack.com", harness.SERVER4)
    harness.expect_reset(r, "hooks after the reload")


UDP_PORT = 9999
UDP_ECHO = """
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", %d))
while True:
    d, a = s.recvfrom(2048)
    s.sendto(d, a)
""" % UDP_PORT
UDP_CLIENT = """
import json, socket, sys, time
ip, sport, duration = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", sport))
s.settimeout(0.02)
sent = got = 0
last = None
end = time.monotonic() + duration
while time.monotonic() < end:
    sent += 1
    s.sendto(b"%%d" %% sent, (ip, %d))
    try:
        while True:
            s.recv(2048)
            got += 1
            last = time.time()
            if got == 1:
                print("established", flush=True)
    except socket.timeout:
        pass
print(json.dumps({"sent": sent, "received": got, "last_reply": last}), flush=True)
""" % UDP_PORT


def test_revalidate_stops_a_udp_flow(env):
    """A UDP flow allowed by an address/port rule stops passing at a revalidating reload
    to a policy without that rule (no RST for UDP: its packets are dropped from then on)."""
    app = env.appliance
    topo = app.topo
    udp_rule = {"id": "udp-echo", "action": "allow", "proto": "udp", "dport": [UDP_PORT]}
    reload_to(app, default_policy(rules=RULES_B + [udp_rule]))
    echo = topo.spawn("udp-echo", topo.ns_server, ["/usr/bin/python3", "-c", UDP_ECHO])
    sport = env.clients.port()
    cl = topo.spawn("udp-client", topo.ns_client, ["/usr/bin/python3", "-c", UDP_CLIENT,
                                                    harness.SERVER4, str(sport), "6"])
    try:
        deadline = time.monotonic() + 10
        while "established" not in cl.output():
            assert cl.alive() and time.monotonic() < deadline, cl.output()
            time.sleep(0.05)
        mark = app.mark()
        time.sleep(1.0)
        reload_to(app, policy_b(revalidate=True))
        t_live = time.time()
        cl.p.wait(timeout=20)
        res = json.loads(cl.output().strip().splitlines()[-1])
    finally:
        echo.stop()
        cl.stop()
    harness.log("udp-client: %s" % res)
    assert res["received"] > 20, res
    assert res["last_reply"] is not None and res["last_reply"] < t_live + 0.5, \
        "UDP replies went on %.2fs after the reload: %s" % (res["last_reply"] - t_live, res)
    assert res["sent"] - res["received"] > 50, "the flow was not cut: %s" % res
    rec = app.wait_decision_since(
        mark, lambda r: r.get("sport") == sport and r.get("reason") == "revalidated",
        timeout=5, what="revalidated flow.decision of the UDP flow")
    expect_decision(rec, proto="udp", verdict="deny", enforced=True, rule=None, sni=None,
                    dport=UDP_PORT)


HTTP_CLIENT = """
import json, socket, sys, time
ip, sport, host, duration = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
s = socket.create_connection((ip, 80), timeout=5, source_address=("0.0.0.0", sport))
f = s.makefile("rb")
n = 0
res = {}
end = time.monotonic() + duration
try:
    while time.monotonic() < end:
        s.sendall(("GET / HTTP/1.1\\r\\nHost: %s\\r\\n\\r\\n" % host).encode())
        status = f.readline()
        if not status:
            raise ConnectionError("closed after %d responses" % n)
        length = 0
        while True:
            line = f.readline()
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
            if line in (b"\\r\\n", b""):
                break
        f.read(length)
        n += 1
        if n == 1:
            print("established", flush=True)
        time.sleep(0.05)
    res["result"] = "ok"
except Exception as e:
    res["result"] = "error"
    res["error"] = "%s: %s" % (type(e).__name__, e)
res.update({"responses": n, "end": time.time()})
print(json.dumps(res), flush=True)
"""


UDP_SINK = """
import json, socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 443))
s.settimeout(0.2)
n, last, end = 0, None, time.monotonic() + float(sys.argv[2])
print("listening", flush=True)
while time.monotonic() < end:
    try:
        s.recv(4096)
    except socket.timeout:
        continue
    n += 1
    last = time.time()
print(json.dumps({"datagrams": n, "last": last}), flush=True)
"""
QUIC_SENDER = """
import socket, sys, time
sport, dst, secs = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
initial = bytes.fromhex(sys.stdin.readline().strip())
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", sport))
s.sendto(initial, (dst, 443))
end, i = time.monotonic() + secs, 0
while time.monotonic() < end:
    i += 1
    time.sleep(0.02)
    # 1-RTT (short header) packets of the same connection: 0x40 | bits, the DCID, bytes
    s.sendto(bytes([0x41]) + bytes(8) + i.to_bytes(4, "big") + bytes(40), (dst, 443))
print(i, flush=True)
"""


def test_revalidate_stops_a_quic_flow(env):
    """quic = "inspect": a QUIC flow named by its Initial's SNI (RFC 9001 A.2's hello,
    example.com) passes; a revalidating reload to a policy that no longer allows the name
    stops its datagrams at once (they never reach the server again)."""
    import quicpeers
    app = env.appliance
    topo = app.topo
    rfc = {"id": "rfc", "action": "allow", "sni": ["example.com"]}
    reload_to(app, default_policy(rules=RULES_B + [rfc], extra={"quic": "inspect"}))
    dcid, scid = bytes.fromhex("8394c8f03e515708"), bytes.fromhex("0102030405060708")
    initial = quicpeers.client_initial(dcid, scid, 0,
                                       quicpeers.crypto_frame(0, quicpeers.rfc9001_clienthello()))
    sink = topo.spawn("udp-sink", topo.ns_server, ["/usr/bin/python3", "-c", UDP_SINK,
                                                    harness.SERVER4, "9"])
    deadline = time.monotonic() + 10
    while "listening" not in sink.output():
        assert sink.alive() and time.monotonic() < deadline, sink.output()
        time.sleep(0.05)
    sport = env.clients.port()
    mark = app.mark()
    sender = topo.spawn("quic-sender", topo.ns_client,
                        ["/usr/bin/python3", "-c", QUIC_SENDER, str(sport), harness.SERVER4, "6"],
                        stdin=subprocess.PIPE)
    try:
        sender.p.stdin.write((initial.hex() + "\n").encode())
        sender.p.stdin.close()
        first = app.decision_for(sport)
        expect_decision(first, proto="udp", app="quic", sni="example.com", rule="rfc",
                        verdict="allow")
        time.sleep(1.5)
        reload_to(app, default_policy(rules=RULES_B, extra={"quic": "inspect",
                                                            "revalidate": True}))
        t_live = time.time()
        sender.p.wait(timeout=20)
        sink.p.wait(timeout=20)
        res = json.loads(sink.output().strip().splitlines()[-1])
    finally:
        sender.stop()
        sink.stop()
    harness.log("udp-sink: %s" % res)
    assert res["datagrams"] > 30, res
    assert res["last"] < t_live + 0.5, \
        "QUIC datagrams reached the server %.2fs after the reload" % (res["last"] - t_live)
    rec = app.wait_decision_since(
        mark, lambda r: r.get("sport") == sport and r.get("reason") == "revalidated",
        timeout=5, what="revalidated flow.decision of the QUIC flow")
    expect_decision(rec, proto="udp", app="quic", sni="example.com", verdict="deny", rule=None)


def test_revalidate_resets_a_keepalive_http_connection(env):
    """HTTP: a keep-alive connection to a Host the new policy no longer allows is reset
    between requests (the flow watches its next request head; revalidation judges it by
    the Host of its first)."""
    app = env.appliance
    reload_to(app, default_policy())                  # docs.example.com allowed (rule docs)
    sport = env.clients.port()
    cl = app.topo.spawn("http-ka", app.topo.ns_client, [
        "/usr/bin/python3", "-c", HTTP_CLIENT, harness.SERVER4, str(sport), "docs.example.com",
        "8"])
    try:
        deadline = time.monotonic() + 10
        while "established" not in cl.output():
            assert cl.alive() and time.monotonic() < deadline, cl.output()
            time.sleep(0.05)
        mark = app.mark()
        time.sleep(1.0)
        rules = [r for r in RULES_B if r["id"] != "docs"]
        reload_to(app, default_policy(rules=rules, extra={"revalidate": True}))
        t_live = time.time()
        cl.p.wait(timeout=20)
        res = json.loads(cl.output().strip().splitlines()[-1])
    finally:
        cl.stop()
    harness.log("http-ka: %s" % res)
    assert res["result"] == "error" and res["responses"] > 10, res
    assert res["end"] - t_live < RESET_WITHIN_S, res
    rec = app.wait_decision_since(
        mark, lambda r: r.get("sport") == sport and r.get("reason") == "revalidated",
        timeout=5, what="revalidated flow.decision of the HTTP connection")
    expect_decision(rec, host="docs.example.com", verdict="deny", rule=None, app="http")


def test_trusted_flow_kept_while_trusted(env):
    """A trusted (bypass, never inspected) flow survives a revalidating reload that still
    trusts its destination, and is judged without a name, and reset, by one that does not."""
    app = env.appliance
    topo = app.topo
    reload_to(app, default_policy())
    c = env.clients
    sport = c.port()
    pr = c.py("probe", "--ip", harness.TRUSTED4, "--name", "evil.example.net", "--port",
              harness.PORT_PROBE, "--sport", sport, "--duration", 12.0, "--interval", 0.01,
              background=True, name="probe-%d" % sport)
    deadline = time.monotonic() + 10
    while "established" not in pr.output():
        assert pr.alive() and time.monotonic() < deadline, pr.output()
        time.sleep(0.05)
    mark = app.mark()
    before = totals(app)
    reload_to(app, default_policy(extra={"revalidate": True}))
    time.sleep(1.0)
    assert pr.alive(), "a still-trusted flow was cut: %s" % pr.output()
    assert totals(app)["revalidated"] > before.get("revalidated", 0)
    assert not app.decisions_since(mark, lambda r: r.get("sport") == sport)
    # no longer trusted: judged without a name (bypass flows are never named) -> default deny
    resets = topo.tcp_counters(topo.ns_client)["EstabResets"]
    t0 = time.monotonic()
    reload_to(app, default_policy(trusted=[], extra={"revalidate": True}))
    while pr.alive() and time.monotonic() - t0 < 10:
        time.sleep(0.02)
    took = time.monotonic() - t0
    res = finish_probe(pr, timeout=15)
    assert res["result"] == "error" and took < RESET_WITHIN_S, (took, res)
    assert topo.tcp_counters(topo.ns_client)["EstabResets"] > resets
    rec = app.wait_decision_since(
        mark, lambda r: r.get("sport") == sport and r.get("reason") == "revalidated",
        timeout=5, what="revalidated flow.decision of the formerly trusted flow")
    expect_decision(rec, verdict="deny", rule=None, sni=None, dst=harness.TRUSTED4)


def test_rule_hits_in_status(env):
    """Per-rule hit counters of the live generation (chokepointctl status, text and JSON),
    counted at decision time; the records' `rule` is the same rule id."""
    app = env.appliance
    gen = reload_to(app, default_policy())
    st = app.status_json()["dataplane"]["rule_hits"]
    assert st["generation"] == gen and st["no_rule"] == 0, st
    assert [r["rule"] for r in st["rules"]] == ["llm", "hooks", "docs", "no-evil", "no-blocked"]
    assert all(r["hits"] == 0 for r in st["rules"]), st
    sports = {}
    for name in ("api.openai.com", "api.anthropic.com", "evil.example.net",
                 "unlisted.example.org"):
        r = env.clients.curl(name, harness.SERVER4)
        sports[name] = r["sport"]
    want_rule = {"api.openai.com": "llm", "api.anthropic.com": "llm",
                 "evil.example.net": "no-evil", "unlisted.example.org": None}
    for name, sport in sports.items():
        expect_decision(app.decision_for(sport), sni=name, rule=want_rule[name])
    st = app.status_json()["dataplane"]["rule_hits"]
    hits = {r["rule"]: r["hits"] for r in st["rules"]}
    assert hits == {"llm": 2, "hooks": 0, "docs": 0, "no-evil": 1, "no-blocked": 0}, st
    assert st["no_rule"] == 1 and st["other_rules"] == 0, st
    out = app.ctl("status").stdout
    assert "rule hits (policy generation %d):" % gen in out, out
    assert any(line.split() == ["llm", "2"] for line in out.splitlines()), out
    assert any(line.split()[-1:] == ["1"] and "(no rule" in line
               for line in out.splitlines()), out


def test_audit_trail_verifies(env):
    harness.check_trail(env)
