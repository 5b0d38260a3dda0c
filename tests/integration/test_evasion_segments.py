# SPDX-License-Identifier: BSD-3-Clause
"""How a ClientHello is cut into TCP segments cannot dodge the name (issue 3): a hello
written one byte per segment, sent out of order, overlapped with other bytes, carried on
the SYN (TCP Fast Open), or declared larger than the hold bound is judged through the
appliance, with its own named, counted, audited verdict."""

import conftest
import harness
from harness import SERVER4, expect_decision
from evasion_util import decisions, run, server, sysctl, totals

# default allow: a flow denied here is denied by its rule or by its anomaly alone, and the
# record's reason says which (with default deny a name-less flow's reason would be default)
def POLICY():
    return conftest.default_policy(default="allow")


def test_one_byte_segments_decided_at_once(env):
    """A hello written 1 byte per segment (TCP_NODELAY) stalls the client after its initial
    window of ten unacknowledged segments: the held bytes are never ACKed, so waiting would
    only end at the 5 s hold timeout. From the fourth segment on the record header's
    declared length says the hello cannot arrive within that window, so the flow is
    decided at once as tiny_segments (deny by default): the client gets its reset within a
    few segments, not after the timeout."""
    sport = env.clients.port()
    res = run(env, "tiny", "--ip", SERVER4, "--name", "api.openai.com", "--sport", sport,
              "--chunk", 1, "--gap-ms", 3, "--timeout", 8)
    assert res["result"] == "reset", res
    assert res["sent"] < 12, "the client sent %d bytes before the verdict" % res["sent"]
    assert res["ms"] < 1000, "tiny-segment verdict after %.0f ms (hold timeout is 5000)" % res["ms"]
    harness.log("1-byte client: reset after %d bytes, %.1f ms from its first byte" % (
        res["sent"], res["ms"]))
    (rec,) = decisions(env, sport, 1)
    expect_decision(rec, verdict="deny", reason="tiny_segments", app="tls", sni=None, dport=443)
    assert "reassembly_timeout" not in rec["anomalies"], rec


def test_two_segment_hello_still_allowed(env):
    """The stall prediction does not touch a hello in a few large segments."""
    sport = env.clients.port()
    res = run(env, "tiny", "--ip", SERVER4, "--name", "api.openai.com", "--sport", sport,
              "--chunk", 300, "--gap-ms", 20, "--timeout", 5)
    assert res["result"] == "data", res
    (rec,) = decisions(env, sport, 1)
    expect_decision(rec, verdict="allow", sni="api.openai.com", rule="llm")
    assert "tiny_segments" not in rec["anomalies"], rec


def _drop_kernel_rsts(env, sport):
    """The client netns kernel knows nothing of scapy's connection: drop its RSTs."""
    env.topo.run(env.topo.ns_client, ["iptables", "-A", "OUTPUT", "-p", "tcp", "--sport",
                                      str(sport), "--tcp-flags", "RST", "RST", "-j", "DROP"],
                 check=True)


def test_out_of_order_segments_allowed_name(env):
    """Three segments sent last-first: reassembled, named, allowed (ooo_first_segment is
    recorded, allowed by default); the server answers with its ServerHello."""
    sport = env.clients.port()
    _drop_kernel_rsts(env, sport)
    res = run(env, "rawtcp", "--ip", SERVER4, "--name", "api.openai.com", "--sport", sport,
              "--pieces", 3, "--order", "2,1,0", "--timeout", 2)
    assert res["result"] == "data" and res.get("server_hello"), res
    (rec,) = decisions(env, sport, 1)
    expect_decision(rec, verdict="allow", sni="api.openai.com", rule="llm", app="tls")
    assert "ooo_first_segment" in rec["anomalies"], rec


def test_out_of_order_segments_denied_name(env):
    sport = env.clients.port()
    _drop_kernel_rsts(env, sport)
    res = run(env, "rawtcp", "--ip", SERVER4, "--name", "evil.example.net", "--sport", sport,
              "--pieces", 3, "--order", "1,2,0", "--timeout", 2)
    assert res["result"] == "reset", res
    (rec,) = decisions(env, sport, 1)
    expect_decision(rec, verdict="deny", sni="evil.example.net", rule="no-evil")
    assert "ooo_first_segment" in rec["anomalies"], rec


def test_overlap_with_other_bytes_denied(env):
    """A copy of the second piece with other bytes, sent before the hello is complete:
    first data wins, the difference is overlap_conflict (deny by default), decided at
    once; the server never gets a byte."""
    sport = env.clients.port()
    _drop_kernel_rsts(env, sport)
    t = env.topo
    with t.capture(t.ns_server, t.if_server, name="overlap") as cap:
        res = run(env, "rawtcp", "--ip", SERVER4, "--name", "api.openai.com", "--sport",
                  sport, "--pieces", 3, "--order", "0,1,2", "--overlap-after", 2,
                  "--timeout", 2)
    assert res["result"] == "reset", res
    (rec,) = decisions(env, sport, 1)
    expect_decision(rec, verdict="deny", rule=None, reason="overlap_conflict")
    assert b"api.openai.com" not in cap["data"], "hello bytes reached the server"


def test_overlap_with_same_bytes_allowed(env):
    """The control: the same copy with equal bytes (a plain retransmission) is no
    anomaly; the flow is named and allowed."""
    sport = env.clients.port()
    _drop_kernel_rsts(env, sport)
    res = run(env, "rawtcp", "--ip", SERVER4, "--name", "api.openai.com", "--sport", sport,
              "--pieces", 3, "--order", "0,1,2", "--overlap-after", 2, "--overlap-same",
              "--timeout", 2)
    assert res["result"] == "data" and res.get("server_hello"), res
    (rec,) = decisions(env, sport, 1)
    expect_decision(rec, verdict="allow", sni="api.openai.com", rule="llm")
    assert "overlap_conflict" not in rec["anomalies"], rec


def _tfo_passive(env):
    out = env.topo.run(env.topo.ns_server, ["nstat", "-az", "TcpExtTCPFastOpenPassive"],
                       check=True).stdout
    for line in out.splitlines():
        if line.startswith("TcpExtTCPFastOpenPassive"):
            return int(line.split()[1])
    return 0


def test_tcp_fast_open(env):
    """TFO (client 0x5: data on the SYN without a cookie; server 0x602: accepted without a
    cookie on every listener created after it, here an openssl s_server on 8444): curl's
    ClientHello rides on the SYN. The allowed name's SYN is forwarded whole (the server
    accepts its data: its TFO counter says so) and the request completes; the denied
    name's SYN is dropped and the client reset in SYN-SENT: the server never sees it."""
    t = env.topo
    sysctl(env, t.ns_client, "net.ipv4.tcp_fastopen", "0x5")
    sysctl(env, t.ns_server, "net.ipv4.tcp_fastopen", "0x602")
    server(env, "tfo-server", 8444, ["openssl", "s_server", "-quiet", "-www", "-accept", "8444",
                                     "-cert", env.pki.cert, "-key", env.pki.key])
    before = _tfo_passive(env)
    ok = env.clients.curl("api.openai.com", SERVER4, port=8444, extra=["--tcp-fastopen"])
    assert ok["rc"] == 0 and ok["code"] == "200", ok
    after_ok = _tfo_passive(env)
    assert after_ok == before + 1, "the server accepted no TFO data (%d -> %d)" % (before, after_ok)
    (rec,) = decisions(env, ok["sport"], 1)
    expect_decision(rec, verdict="allow", sni="api.openai.com", rule="llm", dport=8444)
    with t.capture(t.ns_server, t.if_server, name="tfo") as cap:
        bad = env.clients.curl("evil.example.net", SERVER4, port=8444, extra=["--tcp-fastopen"])
    assert bad["rc"] != 0, bad
    assert bad["ms"] < 1000, "TFO deny took %.0f ms" % bad["ms"]
    (rec,) = decisions(env, bad["sport"], 1)
    expect_decision(rec, verdict="deny", sni="evil.example.net", rule="no-evil")
    assert b"evil.example.net" not in cap["data"], "the denied TFO hello reached the server"
    assert b"api.openai.com" not in cap["data"]
    assert _tfo_passive(env) == after_ok
    sysctl(env, t.ns_client, "net.ipv4.tcp_fastopen", "0x1")


def test_oversize_clienthello(env):
    """A hello whose handshake header declares 20000 bytes (> the 16 KiB hold bound; a
    padding extension, records of 16384): decided from the declared length as soon as
    the first segment shows it, without waiting for bytes that could not be held."""
    sport = env.clients.port()
    res = run(env, "hello", "--ip", SERVER4, "--name", "api.openai.com", "--sport", sport,
              "--inflate", 20000, "--timeout", 3)
    assert res["result"] == "reset", res
    assert res["hello_bytes"] > 20000, res
    assert res["ms"] < 500, res
    (rec,) = decisions(env, sport, 1)
    expect_decision(rec, verdict="deny", reason="oversize_clienthello", app="tls")
    assert "oversize_clienthello" in rec["anomalies"], rec


def test_audit_and_status(env):
    recs, cnt = harness.check_trail(env)
    tot = totals(env)
    # one counter per anomaly class, counted per decision that carries it
    for c, n in (("an_tiny_segments", 1), ("an_ooo_first_segment", 2),
                 ("an_overlap_conflict", 1), ("an_oversize_clienthello", 1)):
        assert tot.get(c, 0) >= n, "status counter %s = %s, want >= %d" % (c, tot.get(c), n)
