# SPDX-License-Identifier: BSD-3-Clause
"""QUIC through the appliance with quic = "inspect" (docs/quic.md): Debian's ngtcp2 client
and server (gtlsclient / gtlsserver, QUIC v1, HTTP/3). An allowed name's download completes
over HTTP/3 byte for byte; a denied name's Initials never reach the server (tcpdump on the
server's veth); a Retry makes the client start a second connection, decided again; QUIC is
recognised by content on another port; an unknown version is an anomaly; the records say
app quic, sni, alpn h3, q-JA4."""

import hashlib
import os
import re
import time

import pytest

import harness
import quicpeers
from harness import CLIENT4, SERVER4, expect_decision

# scripts/install-deps.sh installs the ngtcp2 peers: missing ones fail (never a skip)
assert quicpeers.have_ngtcp2(), "ngtcp2-client / ngtcp2-server not installed"

PORT_RETRY = 4433     # a second server that answers every new connection with a Retry


def POLICY():
    rules = [
        {"id": "llm", "action": "allow", "sni": ["api.openai.com"]},
        {"id": "h3-hooks", "action": "allow", "proto": "udp", "sni": ["hooks.slack.com"]},
        {"id": "no-evil", "action": "deny", "sni": ["evil.example.net"]},
        {"id": "rfc", "action": "allow", "sni": ["example.com"]},   # RFC 9001 A.2's hello
    ]
    # UDP flows end after 8 s of silence, so their flow.end records come quickly
    return harness.render_config(mode="enforce", default="deny", rules=rules,
                                 extra={"quic": "inspect", "timeouts": {"udp": 8}})


BLOB = hashlib.sha256(b"chokepoint quic").digest() * 8192   # 256 KiB


@pytest.fixture(scope="module")
def h3(env):
    hosts = quicpeers.NetnsHosts(env)
    srv = quicpeers.H3Server(env).start()
    srv.put("blob.bin", BLOB)
    retry = quicpeers.H3Server(env, port=PORT_RETRY, validate=True).start()
    retry.put("blob.bin", BLOB)
    yield srv, retry
    hosts.close()


def got_blob(r):
    """The download completed byte for byte (rc alone says little: gtlsclient exits 0 on a
    handshake timeout)."""
    return r["body"] is not None and r["body"] == BLOB


def quic_decision(app, mark, name, timeout=10):
    return app.wait_decision_since(
        mark, lambda r: r.get("proto") == "udp" and r.get("sni") == name, timeout=timeout,
        what="QUIC decision naming %s" % name)


def test_allowed_name_completes_over_http3(env, h3):
    app = env.appliance
    mark = app.mark()
    r = quicpeers.h3_get(env, "api.openai.com", "/blob.bin")
    assert got_blob(r), "no HTTP/3 download through the appliance (%s bytes): %s" % (
        None if r["body"] is None else len(r["body"]), r["out"][-500:])
    rec = quic_decision(app, mark, "api.openai.com")
    expect_decision(rec, verdict="allow", rule="llm", reason="rule", enforced=True, app="quic",
                    proto="udp", src=CLIENT4, dst=SERVER4, dport=443, host=None)
    assert rec["alpn"] == ["h3"], rec
    assert rec["tls_versions"] == ["1.3"], rec
    assert rec["anomalies"] == [], rec
    # JA4 of a QUIC ClientHello: 'q', TLS 1.3, SNI present, ALPN "h3"
    assert re.fullmatch(r"q13d\d{4}h3_[0-9a-f]{12}_[0-9a-f]{12}", rec["ja4"] or ""), rec["ja4"]
    end = app.wait_record(lambda x: x.get("type") == "flow.end" and x.get("sport") == rec["sport"]
                          and x.get("proto") == "udp", timeout=90,
                          what="flow.end of the allowed QUIC flow")
    assert end["app"] == "quic" and end["sni"] == "api.openai.com", end
    assert end["bytes_s2c"] > len(BLOB), end


def test_udp_rule_names_quic(env, h3):
    """A rule that says proto udp with an sni list matches a QUIC flow."""
    app = env.appliance
    mark = app.mark()
    r = quicpeers.h3_get(env, "hooks.slack.com", "/blob.bin")
    assert got_blob(r), r["out"][-500:]
    expect_decision(quic_decision(app, mark, "hooks.slack.com"), verdict="allow",
                    rule="h3-hooks", app="quic")


def test_denied_name_never_reaches_server(env, h3):
    app, t = env.appliance, env.topo
    with t.capture(t.ns_server, t.if_server, name="quic-deny") as cap:
        mark = app.mark()
        ok = quicpeers.h3_get(env, "api.openai.com", "/blob.bin")
        assert got_blob(ok), ok["out"][-500:]
        allowed = quic_decision(app, mark, "api.openai.com")
        mark = app.mark()
        for name, rule, reason in (("evil.example.net", "no-evil", "rule"),
                                   ("unlisted.example.org", None, "default")):
            r = quicpeers.h3_get(env, name, "/blob.bin", timeout=8,
                                 extra=["--handshake-timeout=4s"])
            assert r["body"] is None, "%s: the denied download completed" % name
            rec = quic_decision(app, mark, name)
            expect_decision(rec, verdict="deny", rule=rule, reason=reason, enforced=True,
                            app="quic", dport=443)
            if name == "evil.example.net":
                denied = rec
    dgrams = quicpeers.udp_datagrams(cap["data"])
    to_server = [d for d in dgrams if d[2] == SERVER4 and d[3] == 443]
    assert any(d[1] == allowed["sport"] for d in to_server), \
        "the capture does not work: no datagram of the allowed flow reached the server"
    assert not [d for d in dgrams if d[1] == denied["sport"] or d[3] == denied["sport"]], \
        "datagrams of the denied flow (port %d) reached the server's wire" % denied["sport"]
    # the denied client kept retransmitting: its flow ended as denied, every datagram dropped
    end = app.wait_record(lambda x: x.get("type") == "flow.end" and x.get("proto") == "udp"
                          and x.get("sport") == denied["sport"], timeout=90,
                          what="flow.end of the denied QUIC flow")
    assert end["verdict"] == "deny" and end["close"] == "denied" and end["pkts_c2s"] >= 2, end
    assert end["pkts_s2c"] == 0, end


def test_retry_restarts_and_decides_again(env, h3):
    """gtlsserver -V answers the first Initial with a Retry: the client starts over with a
    new DCID (new keys), which the flow's keys do not open, so the flow is decided again;
    port 4433 is not 443: the flow is QUIC by content."""
    app = env.appliance
    mark = app.mark()
    r = quicpeers.h3_get(env, "api.openai.com", "/blob.bin", port=PORT_RETRY)
    assert got_blob(r), r["out"][-500:]
    recs = app.decisions_since(mark, lambda x: x.get("proto") == "udp" and
                               x.get("dport") == PORT_RETRY)
    assert len(recs) == 2, "want 2 decisions (before and after the Retry): %s" % recs
    assert recs[0]["sport"] == recs[1]["sport"], recs
    for rec in recs:
        expect_decision(rec, verdict="allow", rule="llm", app="quic", sni="api.openai.com")
    end = app.wait_record(lambda x: x.get("type") == "flow.end" and x.get("seq") > mark
                          and x.get("dport") == PORT_RETRY and x.get("close") == "evicted",
                          timeout=10, what="flow.end (evicted) of the pre-Retry connection")
    assert end["sni"] == "api.openai.com", end


def test_unknown_version_is_an_anomaly(env, h3):
    """ngtcp2's pre-RFC "v2draft" (0x709a50c4) is not decoded here: quic_unknown_version,
    denied by default, nothing reaches the server."""
    app = env.appliance
    mark = app.mark()
    r = quicpeers.h3_get(env, "api.openai.com", "/blob.bin", timeout=6,
                         extra=["--handshake-timeout=3s", "-v", "0x709a50c4"])
    assert r["body"] is None, "v2draft completed through the appliance"
    rec = app.wait_decision_since(mark, lambda x: x.get("proto") == "udp" and x.get("dport") == 443,
                                  timeout=10, what="decision of the v2draft flow")
    # no name: the default (deny) decides first; the anomaly is recorded
    expect_decision(rec, verdict="deny", reason="default", app="quic", sni=None, rule=None)
    assert rec["anomalies"] == ["quic_unknown_version"], rec


def test_unknown_version_denied_by_its_anomaly(env, h3):
    """With the anomaly set to deny and a rule that would allow any UDP 443 flow without a
    name, the anomaly alone denies (the reason names it): checked over a reload."""
    app = env.appliance
    rules = [{"id": "llm", "action": "allow", "sni": ["api.openai.com"]},
             {"id": "any-udp", "action": "allow", "proto": "udp"}]
    app.reload(harness.render_config(mode="enforce", default="deny", rules=rules, extra={
        "quic": "inspect", "timeouts": {"udp": 8},
        "anomalies": {"quic_unknown_version": "deny"}}))
    app.wait_ready(generation=2)
    try:
        mark = app.mark()
        r = quicpeers.h3_get(env, "api.openai.com", "/blob.bin", timeout=6,
                             extra=["--handshake-timeout=3s", "-v", "0x709a50c4"])
        assert r["body"] is None, "v2draft completed through the appliance"
        rec = app.wait_decision_since(mark, lambda x: x.get("proto") == "udp",
                                      timeout=10, what="decision of the v2draft flow")
        expect_decision(rec, verdict="deny", reason="quic_unknown_version", app="quic",
                        sni=None, rule=None)
        assert rec["anomalies"] == ["quic_unknown_version"], rec
        # and v1 still gets its name and its rule under this policy
        mark = app.mark()
        r = quicpeers.h3_get(env, "api.openai.com", "/blob.bin")
        assert got_blob(r), r["out"][-500:]
        expect_decision(quic_decision(app, mark, "api.openai.com"), verdict="allow", rule="llm")
    finally:
        app.reload(POLICY())
        app.wait_ready(generation=3)


def lose_first_at_server(env):
    """nftables on the server veth's ingress: the first datagram of every UDP/443 flow is
    lost after the appliance forwarded it (tcpdump there still sees it)."""
    t = env.topo
    for cmd in (["add", "table", "netdev", "qsrv"],
                ["add", "set", "netdev", "qsrv", "seen",
                 "{ type ipv4_addr . inet_service; flags dynamic; }"],
                ["add", "chain", "netdev", "qsrv", "in",
                 "{ type filter hook ingress device %s priority 0; }" % t.if_server],
                ["add", "rule", "netdev", "qsrv", "in", "udp", "dport", "443", "ip", "saddr", ".",
                 "udp", "sport", "@seen", "accept"],
                ["add", "rule", "netdev", "qsrv", "in", "udp", "dport", "443", "add", "@seen",
                 "{ ip saddr . udp sport }", "counter", "drop"]):
        t.run(t.ns_server, ["nft"] + cmd, check=True)


def test_second_hello_on_same_keys(env, h3):
    """PITFALLS 5b for QUIC: a first Initial naming an allowed name is allowed and lost after
    the appliance (nftables at the server); a second Initial on the same DCID (same keys)
    naming another name is not "the same connection": overlap_conflict, decided anew,
    denied, never on the server's wire. A true retransmission of the first hello passes.
    The Initials are built here (quicpeers.client_initial, checked against RFC 9001 A.2)."""
    app, t = env.appliance, env.topo
    assert quicpeers.initial_selftest(), "the test's Initial builder breaks RFC 9001 A.2"
    ch = quicpeers.rfc9001_clienthello()
    other = ch.replace(b"example.com", b"exampl3.com")
    assert other != ch and len(other) == len(ch)
    dcid, scid = os.urandom(8), os.urandom(4)
    first = quicpeers.client_initial(dcid, scid, 0, quicpeers.crypto_frame(0, ch))
    second = quicpeers.client_initial(dcid, scid, 1, quicpeers.crypto_frame(0, other))
    again = quicpeers.client_initial(dcid, scid, 1, quicpeers.crypto_frame(0, ch))
    lose_first_at_server(env)
    try:
        with t.capture(t.ns_server, t.if_server, name="quic-rehello") as cap:
            mark = app.mark()
            quicpeers.send_datagrams(env, 41001, [first, second])
            quicpeers.send_datagrams(env, 41002, [first, again])
            time.sleep(0.5)
        drops = t.run(t.ns_server, ["nft", "list", "chain", "netdev", "qsrv", "in"]).stdout
    finally:
        t.run(t.ns_server, ["nft", "delete", "table", "netdev", "qsrv"])
    assert "counter packets 2 " in drops, "nftables did not drop both first Initials:\n" + drops
    recs = app.decisions_since(mark, lambda r: r.get("sport") == 41001)
    assert len(recs) == 2, "want the allow and the new decision: %s" % recs
    expect_decision(recs[0], verdict="allow", rule="rfc", sni="example.com", app="quic")
    expect_decision(recs[1], verdict="deny", sni="exampl3.com", app="quic", enforced=True)
    assert "overlap_conflict" in recs[1]["anomalies"], recs[1]
    end = app.wait_record(lambda r: r.get("type") == "flow.end" and r.get("sport") == 41001
                          and r.get("close") == "evicted", what="flow.end of the first hello")
    assert end["sni"] == "example.com", end
    seen = [d for d in quicpeers.udp_datagrams(cap["data"]) if d[1] == 41001]
    assert [d[4] for d in seen] == [first], \
        "the server's wire saw %d datagrams of the conflicting flow" % len(seen)
    # the retransmission of the allowed hello on the same keys is the same connection
    recs = app.decisions_since(mark, lambda r: r.get("sport") == 41002)
    assert len(recs) == 1 and recs[0]["verdict"] == "allow", recs
    seen = [d[4] for d in quicpeers.udp_datagrams(cap["data"]) if d[1] == 41002]
    assert seen == [first, again], "the retransmission did not reach the server"


def test_audit_and_status(env, h3):
    recs, cnt = harness.check_trail(env)
    harness.expect_counter(cnt, "dataplane.totals.allow", 5)
    harness.expect_counter(cnt, "dataplane.totals.deny", 4)
    assert cnt.get("dataplane.totals.flows_pending", 0) == 0, "a QUIC flow stayed pending"
    assert cnt.get("dataplane.totals.held_segs", 0) == 0, "held datagrams leaked"
