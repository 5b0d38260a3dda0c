# SPDX-License-Identifier: BSD-3-Clause
"""Issue 9, inline binding: a name leads to its own address.

A real dnsmasq answers in the server namespace, on the path: the client namespace resolves
through it (/etc/netns/<ns>/resolv.conf), so its answers cross the appliance, which binds
them per client. Then:
  (a) curl to api.openai.com through the resolver is allowed, "bound": "dns";
  (b) the same name toward another server address it never resolved to (curl --resolve)
      is reset as sni_dst_mismatch, while an unbound name reaches that address fine;
  (c) with TTL 2 s and dns.grace 2 s, a stream opened while bound outlives the binding
      (3x TTL + grace), and a new connection after expiry without a new lookup is denied;
  (d) a pinned rule: inside its dst "bound": "pinned", outside sni_dst_mismatch (not a
      fall-through to a later rule allowing the same name);
  (e) DNS over TLS (TCP 853, to a real TLS listener), over QUIC (a UDP 853 datagram) and DNS over HTTPS (a name of the
      shipped DoH list, with a server certificate for it) are denied and audited, although
      a rule allows each.
  (f) the later request heads of a keep-alive HTTP connection are bound-checked on their own:
      a second request naming a pinned Host outside its dst is reset;
  (g) QUIC alike: an HTTP/3 download bound "dns" after a lookup completes, a QUIC SNI toward
      an address outside a pinned rule's dst is denied as sni_dst_mismatch;
"""

import json
import os
import shutil
import time

import pytest

import harness
from harness import SERVER4, expect_decision, expect_ok, expect_reset
from evasion_util import decisions, run
import quicpeers

OTHER4 = "10.77.1.40"      # a server address no answer ever named
TTL = 2                     # dnsmasq --local-ttl
GRACE = 2                   # dns.grace
DOH_NAME = "dns.google"     # on etc/doh-names.txt
NAMES = harness.CERT_NAMES + [DOH_NAME]


def policy():
    rules = [
        {"id": "dns", "action": "allow", "proto": "udp", "dport": [53]},
        {"id": "llm", "action": "allow", "sni": ["api.openai.com"], "bind": "dns"},
        {"id": "pin", "action": "allow", "sni": ["hooks.slack.com"],
         "dst": [SERVER4 + "/32"], "bind": "pinned"},
        # a pinned rule must not fall through to this one outside its dst
        {"id": "slack-any", "action": "allow", "sni": ["hooks.slack.com"]},
        # the doh / dot anomalies must override these allows
        {"id": "doh-by-rule", "action": "allow", "sni": [DOH_NAME]},
        {"id": "docs", "action": "allow", "host": ["docs.example.com"]},
        {"id": "web-pin", "action": "allow", "host": ["hooks.slack.com"],
         "dst": [SERVER4 + "/32"], "bind": "pinned"},
        {"id": "dot-by-rule", "action": "allow", "proto": "tcp", "dport": [853]},
    ]
    return harness.render_config(mode="enforce", default="deny", rules=rules,
                                 extra={"dns": {"grace": GRACE}, "quic": "inspect"})


@pytest.fixture(scope="module")
def env(request):
    failed = request.session.testsfailed
    with harness.Env(config_text=policy(), prefix="bd", names=NAMES) as e:
        t = e.topo
        etc = os.path.join("/etc/netns", t.ns_client)
        try:
            t.run(t.ns_server, ["ip", "addr", "add", OTHER4 + "/24", "dev", t.if_server],
                  check=True)
            e.dnsmasq = t.spawn("dnsmasq", t.ns_server, [
                "dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv",
                "--no-hosts", "--user=root", "--log-facility=-", "--log-queries",
                "--bind-interfaces", "--listen-address=" + SERVER4, "--port=53",
                "--pid-file=" + os.path.join(t.workdir, "dnsmasq.pid"),
                "--local-ttl=%d" % TTL, "--host-record=api.openai.com," + SERVER4])
            # DNS over TLS: a real TLS listener on 853, so only the appliance can refuse it
            e.dot = t.spawn("dot-server", t.ns_server, [
                "openssl", "s_server", "-quiet", "-accept", "853", "-cert", e.pki.cert,
                "-key", e.pki.key])
            t.wait_listen(t.ns_server, 853, proc=e.dot)
            deadline = time.monotonic() + 10
            while "started" not in e.dnsmasq.output():
                if not e.dnsmasq.alive() or time.monotonic() > deadline:
                    raise harness.HarnessError("dnsmasq did not start:\n" + e.dnsmasq.tail())
                time.sleep(0.05)
            os.makedirs(etc, exist_ok=True)
            with open(os.path.join(etc, "resolv.conf"), "w") as f:
                f.write("nameserver %s\noptions timeout:1 attempts:2\n" % SERVER4)
            yield e
            if request.session.testsfailed > failed:
                print("\n" + e.logs(), flush=True)
        finally:
            shutil.rmtree(etc, ignore_errors=True)


def lookup(env, name):
    """getaddrinfo in the client namespace (through dnsmasq, across the appliance)."""
    t = env.topo
    p = t.run(t.ns_client, ["getent", "ahostsv4", name], timeout=10)
    addrs = sorted({l.split()[0] for l in p.stdout.splitlines() if l.strip()})
    harness.log("lookup %s -> %s" % (name, addrs))
    return addrs


def curl_resolver(env, name, timeout=10):
    """curl with no --resolve: the name is resolved by the client namespace's resolver."""
    c, t = env.clients, env.topo
    sport = c.port()
    argv = ["curl", "-sS", "--max-time", str(timeout), "--connect-timeout", "5",
            "--local-port", str(sport), "-o", "/dev/null", "-w", "%{http_code} %{remote_ip}",
            "--noproxy", "*", "--cacert", env.pki.ca, "https://%s/" % name]
    p = t.run(t.ns_client, argv, timeout=timeout + 10)
    harness.log("curl (resolver) %s sport %d -> rc %d %s %s" % (
        name, sport, p.returncode, p.stdout, p.stderr.strip()))
    return p.returncode, p.stdout.split(), sport


def test_a_resolved_name_is_bound_dns(env):
    app = env.appliance
    mark = app.mark()
    rc, out, sport = curl_resolver(env, "api.openai.com")
    assert rc == 0 and out == ["200", SERVER4], "curl through the resolver: rc %d %s" % (rc, out)
    # the answer crossed the appliance on an allowed UDP 53 flow
    app.wait_decision_since(mark, lambda r: r["proto"] == "udp" and r["dport"] == 53
                            and r["verdict"] == "allow" and r["rule"] == "dns",
                            what="decision of the DNS query")
    expect_decision(app.decision_for(sport), sni="api.openai.com", rule="llm", verdict="allow",
                    reason="rule", bound="dns", anomalies=[], dst=SERVER4)


def test_b_spoofed_destination_is_sni_dst_mismatch(env):
    app, c = env.appliance, env.clients
    assert lookup(env, "api.openai.com") == [SERVER4]
    # the other address serves: an unbound name reaches it
    expect_ok(c.curl("docs.example.com", OTHER4, scheme="http"), "docs.example.com")
    r = c.curl("api.openai.com", OTHER4, timeout=10)
    expect_reset(r, "api.openai.com toward %s" % OTHER4)
    expect_decision(app.decision_for(r["sport"]), sni="api.openai.com", rule=None,
                    verdict="deny", enforced=True, reason="sni_dst_mismatch",
                    anomalies=["sni_dst_mismatch"], bound="none", dst=OTHER4)
    # the bound address still works for the same client and name
    expect_ok(c.curl("api.openai.com", SERVER4), "api.openai.com")


def test_c_binding_expiry_spares_open_streams_not_new_ones(env):
    app, c, t = env.appliance, env.clients, env.topo
    assert lookup(env, "api.openai.com") == [SERVER4]
    t0 = time.monotonic()
    duration = 3 * (TTL + GRACE)
    sport = c.port()
    probe = c.py("probe", "--ip", SERVER4, "--name", "api.openai.com", "--port",
                 harness.PORT_PROBE, "--sport", sport, "--duration", duration,
                 "--interval", 0.2, background=True, name="probe")
    deadline = time.monotonic() + 5
    while "established" not in probe.output():
        assert probe.alive() and time.monotonic() < deadline, "probe: " + probe.tail()
        time.sleep(0.05)
    expect_decision(app.decision_for(sport), sni="api.openai.com", rule="llm", verdict="allow",
                    bound="dns", dport=harness.PORT_PROBE)
    # past TTL + grace (and a second of margin for the seconds clock), no new lookup
    time.sleep(max(0.0, t0 + TTL + GRACE + 1.5 - time.monotonic()))
    r = c.curl("api.openai.com", SERVER4, timeout=10)
    expect_reset(r, "api.openai.com after the binding expired")
    expect_decision(app.decision_for(r["sport"]), sni="api.openai.com", verdict="deny",
                    reason="sni_dst_mismatch", bound="none", dst=SERVER4)
    assert probe.alive(), "the stream ended before its time: " + probe.tail()
    probe.p.wait(timeout=duration + 15)
    res = json.loads(probe.output().strip().splitlines()[-1])
    harness.log("probe -> %s" % res)
    assert res["result"] == "ok", res
    assert res["received"] == res["sent"] and res["in_order"], res
    assert res["sent"] >= duration / 0.2 * 0.5, res
    assert time.monotonic() - t0 >= duration, "the stream did not outlive the binding"
    # a new lookup binds again
    assert lookup(env, "api.openai.com") == [SERVER4]
    expect_ok(c.curl("api.openai.com", SERVER4), "api.openai.com", "after a new lookup")


def test_d_pinned_rule(env):
    app, c = env.appliance, env.clients
    r = c.curl("hooks.slack.com", SERVER4)
    expect_ok(r, "hooks.slack.com")
    expect_decision(app.decision_for(r["sport"]), sni="hooks.slack.com", rule="pin",
                    verdict="allow", reason="rule", bound="pinned")
    r = c.curl("hooks.slack.com", OTHER4, timeout=10)
    expect_reset(r, "hooks.slack.com outside its pinned dst")
    expect_decision(app.decision_for(r["sport"]), sni="hooks.slack.com", rule=None,
                    verdict="deny", reason="sni_dst_mismatch",
                    anomalies=["sni_dst_mismatch"], bound="none", dst=OTHER4)
    # chokepointctl policy test says what the dataplane did, offline
    for args, want in ((["--sni", "hooks.slack.com", "--dst", OTHER4],
                        ["deny", "rule: none", "reason: sni_dst_mismatch"]),
                       (["--sni", "hooks.slack.com", "--dst", SERVER4],
                        ["allow", "rule: pin", "reason: rule"]),
                       (["--sni", DOH_NAME, "--dst", SERVER4],
                        ["deny", "rule: none", "reason: doh"])):
        p = app.ctl("policy", "test", "--config", app.conf, *args)
        assert p.returncode == 0 and p.stdout.splitlines()[:3] == want, (args, p.stdout, p.stderr)


def test_e_dot_and_doh_denied(env):
    app, c = env.appliance, env.clients
    mark = app.mark()
    s = c.s_client(DOH_NAME, SERVER4, port=853, request=False, timeout=10)
    assert s["rc"] != 0, "DoT handshake completed through the appliance: %s" % s
    assert s["ms"] < 3000, "DoT: not refused at once (%.0f ms): %s" % (s["ms"], s["err"][-300:])
    rec = app.wait_decision_since(mark, lambda r: r["dport"] == 853,
                                  what="decision of the DoT connection")
    expect_decision(rec, verdict="deny", enforced=True, reason="dot", anomalies=["dot"],
                    bound="none", rule=None, proto="tcp", dst=SERVER4)
    # DNS over QUIC (UDP 853): refused at its first datagram too
    mark = app.mark()
    t = env.topo
    t.run(t.ns_client, [harness.PY, "-c", "import socket; s=socket.socket(socket.AF_INET, "
                        "socket.SOCK_DGRAM); s.sendto(b'\\x00' * 64, ('%s', 853))" % SERVER4],
          check=True)
    rec = app.wait_decision_since(mark, lambda r: r["dport"] == 853 and r["proto"] == "udp",
                                  what="decision of the UDP 853 datagram")
    expect_decision(rec, verdict="deny", reason="dot", anomalies=["dot"], bound="none")
    r = c.curl(DOH_NAME, SERVER4, path="/dns-query?dns=AAABAAABAAAAAAAAA3d3dwdleGFtcGxlA2NvbQAAAQAB",
               timeout=10)
    expect_reset(r, "DoH request to %s" % DOH_NAME)
    expect_decision(app.decision_for(r["sport"]), sni=DOH_NAME, rule=None, verdict="deny",
                    reason="doh", anomalies=["doh"], bound="none")


def test_f_keepalive_later_request_bound_checked(env):
    c = env.clients
    # inside the pin: both requests answered, the second bound "pinned" on its own
    sport = c.port()
    res = run(env, "requests", "--ip", SERVER4, "--sport", sport,
              "--hosts", "docs.example.com,hooks.slack.com")
    assert res["result"] == "ok" and [r["status"] for r in res["responses"]] == [200, 200], res
    first, second = decisions(env, sport, 2)
    expect_decision(first, verdict="allow", host="docs.example.com", rule="docs", bound="none")
    expect_decision(second, verdict="allow", host="hooks.slack.com", rule="web-pin",
                    bound="pinned", app="http")
    # outside it: the first request (an unbound name) is answered, the second is reset
    sport = c.port()
    res = run(env, "requests", "--ip", OTHER4, "--sport", sport,
              "--hosts", "docs.example.com,hooks.slack.com", "--pause-ms", 50)
    assert res["result"] == "reset", res
    assert [r["status"] for r in res["responses"]] == [200], res
    first, second = decisions(env, sport, 2)
    expect_decision(first, verdict="allow", host="docs.example.com", bound="none", dst=OTHER4)
    expect_decision(second, verdict="deny", host="hooks.slack.com", rule=None,
                    reason="sni_dst_mismatch", anomalies=["sni_dst_mismatch"], bound="none",
                    dst=OTHER4, enforced=True)


def test_g_quic_bound_like_tls(env):
    app, t = env.appliance, env.topo
    assert quicpeers.have_ngtcp2(), "ngtcp2-client / ngtcp2-server not installed"
    blob = b"chokepoint dns bind" * 4096
    for addr in (SERVER4, OTHER4):
        srv = quicpeers.H3Server(env, addr=addr, name="h3-" + addr).start()
        srv.put("blob.bin", blob)
    # bound by a lookup through dnsmasq first; then gtlsclient takes its addresses from a
    # hosts file (it sends the name it resolved as its SNI), asking no DNS
    assert lookup(env, "api.openai.com") == [SERVER4]
    hosts = os.path.join("/etc/netns", t.ns_client, "hosts")
    with open(hosts, "w") as f:
        f.write("127.0.0.1 localhost\n%s api.openai.com\n%s hooks.slack.com\n" % (SERVER4, OTHER4))
    try:
        mark = app.mark()
        r = quicpeers.h3_get(env, "api.openai.com", "/blob.bin")
        assert r["body"] == blob, "HTTP/3 download of a bound name: " + r["out"][-400:]
        rec = app.wait_decision_since(mark, lambda x: x["proto"] == "udp" and
                                      x.get("sni") == "api.openai.com", what="QUIC decision")
        expect_decision(rec, verdict="allow", rule="llm", app="quic", bound="dns", dst=SERVER4)
        mark = app.mark()
        r = quicpeers.h3_get(env, "hooks.slack.com", "/blob.bin", timeout=8,
                             extra=["--handshake-timeout=4s"])
        assert r["body"] is None, "QUIC to hooks.slack.com outside its pinned dst completed"
        rec = app.wait_decision_since(mark, lambda x: x["proto"] == "udp" and
                                      x.get("sni") == "hooks.slack.com", what="QUIC decision")
        expect_decision(rec, verdict="deny", rule=None, app="quic", reason="sni_dst_mismatch",
                        anomalies=["sni_dst_mismatch"], bound="none", dst=OTHER4)
    finally:
        os.unlink(hosts)


def test_h_audit_and_status(env):
    recs, cnt = harness.check_trail(env)
    dec = [r for r in recs if r.get("type") == "flow.decision"]
    assert dec and all(r.get("bound") in ("dns", "resolved", "pinned", "none") for r in dec), \
        [r for r in dec if r.get("bound") not in ("dns", "resolved", "pinned", "none")]
    harness.expect_counter(cnt, "dataplane.totals.an_sni_dst_mismatch", 5)
    harness.expect_counter(cnt, "dataplane.totals.an_dot", 2)
    harness.expect_counter(cnt, "dataplane.totals.an_doh", 1)
