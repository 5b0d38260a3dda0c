# SPDX-License-Identifier: BSD-3-Clause
"""Headless chromium over HTTP/3 through the appliance (quic = "inspect", docs/quic.md):
--enable-quic --origin-to-force-quic-on=NAME:443 to gtlsserver serving a page only it has
(nginx answers TCP 443 with other bytes, so the page proves HTTP/3). Chromium's
post-quantum ClientHello spans two Initials; the record says pqc, ech (GREASE), alpn h3.
A denied name's Initials never reach the server. With the client's first datagram lost
(iptables drops it), the second Initial waits in the hold until chromium's PTO resends the
first (~1 s): the page still loads, and not by the hold timeout.

QUIC_CAPTURE_DIR=DIR keeps the client-side captures (tests/data/quic/README.md)."""

import os
import re
import shutil
import tempfile
import time

import pytest

import harness
import quicpeers
from harness import CLIENT4, SERVER4, expect_decision

# scripts/install-deps.sh installs both: a missing one fails the test (never a skip)
assert os.access(quicpeers.CHROMIUM, os.X_OK) and quicpeers.have_ngtcp2(), \
    "chromium / ngtcp2-server not installed"

TOKEN = b"chokepoint-h3-page-7f3a"
PAGE = b"<html><body><p id=t>" + TOKEN + b"</p></body></html>\n"


def POLICY():
    rules = [
        {"id": "llm", "action": "allow", "sni": ["api.openai.com", "api.anthropic.com"]},
        {"id": "no-evil", "action": "deny", "sni": ["evil.example.net"]},
    ]
    return harness.render_config(mode="enforce", default="deny", rules=rules,
                                 extra={"quic": "inspect", "timeouts": {"udp": 8}})


@pytest.fixture(scope="module")
def h3(env):
    srv = quicpeers.H3Server(env).start()
    srv.put("index.html", PAGE)
    return srv


def chromium(env, name, timeout=40):
    """chromium --dump-dom https://name/index.html forced over QUIC. Returns (rc, dom, s)."""
    t = env.topo
    ud = tempfile.mkdtemp(prefix="chromium-", dir=env.workdir)
    argv = ["timeout", str(timeout), quicpeers.CHROMIUM, "--headless=new", "--no-sandbox",
            "--user-data-dir=" + ud, "--disable-background-networking", "--disable-gpu",
            "--no-first-run", "--enable-quic", "--origin-to-force-quic-on=%s:443" % name,
            "--host-resolver-rules=MAP %s %s" % (name, SERVER4),
            "--ignore-certificate-errors-spki-list=" + quicpeers.cert_spki_b64(env.pki.cert),
            "--dump-dom", "https://%s/index.html" % name]
    t0 = time.monotonic()
    p = t.run(t.ns_client, argv, timeout=timeout + 15)
    s = time.monotonic() - t0
    shutil.rmtree(ud, ignore_errors=True)
    harness.log("chromium %s -> rc %d in %.1f s, dom %r" % (name, p.returncode, s,
                                                            p.stdout.strip()[:120]))
    return p.returncode, p.stdout, s


def keep_capture(cap, name):
    d = os.environ.get("QUIC_CAPTURE_DIR")
    if d:
        os.makedirs(d, exist_ok=True)
        shutil.copy(cap["path"], os.path.join(d, name))


def quic_decision(app, mark, name, timeout=10):
    return app.wait_decision_since(
        mark, lambda r: r.get("proto") == "udp" and r.get("sni") == name, timeout=timeout,
        what="QUIC decision naming %s" % name)


def test_chromium_page_over_http3(env, h3):
    app, t = env.appliance, env.topo
    mark = app.mark()
    with t.capture(t.ns_client, t.if_client, name="chromium-allow") as cap:
        rc, dom, _ = chromium(env, "api.openai.com")
    assert TOKEN.decode() in dom, "chromium did not load the HTTP/3 page (rc %d): %r" % (rc, dom[:300])
    rec = quic_decision(app, mark, "api.openai.com")
    expect_decision(rec, verdict="allow", rule="llm", reason="rule", app="quic", proto="udp",
                    src=CLIENT4, dst=SERVER4, dport=443)
    assert rec["alpn"] == ["h3"] and rec["pqc"] is True and rec["ech"] is True, rec
    assert rec["anomalies"] == [], rec      # GREASE ECH: the outer SNI is the real name
    assert rec["ja4"] and rec["ja4"].startswith("q13d"), rec["ja4"]
    # the post-quantum ClientHello took (at least) two client Initials
    inits = [d for d in quicpeers.udp_datagrams(cap["data"])
             if d[1] == rec["sport"] and quicpeers.is_long_initial_v1(d[4])]
    assert len(inits) >= 2, "chromium's hello in %d Initial datagram(s)" % len(inits)
    keep_capture(cap, "chromium-h3-allow.pcap")


def test_chromium_denied_name_never_reaches_server(env, h3):
    app, t = env.appliance, env.topo
    mark = app.mark()
    with t.capture(t.ns_server, t.if_server, name="chromium-deny-srv") as cap:
        rc, dom, _ = chromium(env, "evil.example.net", timeout=25)
        rec = quic_decision(app, mark, "evil.example.net")
    assert TOKEN.decode() not in dom, "the denied page loaded"
    expect_decision(rec, verdict="deny", rule="no-evil", reason="rule", app="quic")
    assert rec["pqc"] is True, rec
    leaked = [d for d in quicpeers.udp_datagrams(cap["data"]) if rec["sport"] in (d[1], d[3])]
    assert not leaked, "%d datagrams of the denied flow on the server's wire" % len(leaked)


def test_chromium_lost_first_initial(env, h3):
    """The first datagram of every UDP/443 flow (an Initial carrying part of the hello) is
    lost on the client's wire (nftables on the veth's egress hook, after the socket: chromium
    sees a successful send; a set remembers the flows seen): the appliance holds the second
    Initial, without a complete hello, until chromium's PTO sends the lost data again."""
    app, t = env.appliance, env.topo
    nft = [["add", "table", "netdev", "qlost"],
           ["add", "set", "netdev", "qlost", "seen",
            "{ type ipv4_addr . inet_service; flags dynamic; }"],
           ["add", "chain", "netdev", "qlost", "out",
            "{ type filter hook egress device %s priority 0; }" % t.if_client],
           ["add", "rule", "netdev", "qlost", "out", "udp", "dport", "443", "ip", "saddr", ".",
            "udp", "sport", "@seen", "accept"],
           ["add", "rule", "netdev", "qlost", "out", "udp", "dport", "443", "add", "@seen",
            "{ ip saddr . udp sport }", "counter", "drop"]]
    for cmd in nft:
        t.run(t.ns_client, ["nft"] + cmd, check=True)
    try:
        mark = app.mark()
        with t.capture(t.ns_client, t.if_client, name="chromium-lost") as cap_c, \
                t.capture(t.ns_server, t.if_server, name="chromium-lost-srv") as cap_s:
            rc, dom, _ = chromium(env, "api.anthropic.com")
        rules = t.run(t.ns_client, ["nft", "list", "chain", "netdev", "qlost", "out"],
                      check=True).stdout
    finally:
        t.run(t.ns_client, ["nft", "delete", "table", "netdev", "qlost"])
    dropped = [int(x) for x in re.findall(r"counter packets (\d+)", rules)]
    assert dropped and dropped[0] >= 1, "nftables dropped nothing:\n%s" % rules
    assert TOKEN.decode() in dom, "the page did not load after a lost first Initial: %r" % dom[:300]
    rec = quic_decision(app, mark, "api.anthropic.com")
    expect_decision(rec, verdict="allow", rule="llm", app="quic")
    assert "reassembly_timeout" not in rec["anomalies"], rec
    # on the client's wire: the flow starts with the held Initial; the server saw nothing
    # of the flow before the retransmission came (~1 s later)
    cli = [d for d in quicpeers.udp_datagrams(cap_c["data"]) if d[1] == rec["sport"]]
    srv = [d for d in quicpeers.udp_datagrams(cap_s["data"]) if d[1] == rec["sport"]]
    assert cli and srv, "captures are empty (client %d, server %d)" % (len(cli), len(srv))
    held = srv[0][5] - cli[0][5]
    harness.log("lost first Initial: first datagram held %.0f ms" % (held * 1000))
    assert 0.3 < held < 3.0, "first datagram reached the server %.3f s after the client sent it" % held
    # released in arrival order: the held (second) Initial is the first the server gets
    assert srv[0][4] == cli[0][4], "the server's first datagram is not the held one"
    keep_capture(cap_c, "chromium-h3-lost-first.pcap")


def test_audit_and_status(env, h3):
    recs, cnt = harness.check_trail(env)
    harness.expect_counter(cnt, "dataplane.totals.allow", 2)
    harness.expect_counter(cnt, "dataplane.totals.deny", 1)
    assert cnt.get("dataplane.totals.hold_timeout", 0) == 0, "a QUIC hold timed out"
    assert cnt.get("dataplane.totals.flows_pending", 0) == 0, "a QUIC flow stayed pending"
