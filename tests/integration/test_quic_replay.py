# SPDX-License-Identifier: BSD-3-Clause
"""QUIC flows of the dataplane (dp_quic.c) on captured and crafted bytes, through
`chokepointctl replay` (the real chokepoint-dp, replay mode, no network):

- tests/data/quic/ captures made here (README.md): ngtcp2 v1 on port 4433 (QUIC by
  content), Chromium's post-quantum hello over two Initials, Chromium whose first Initial
  was lost (the second held until the PTO resend; then a Retry, so a second decision);
- quic = "deny" on the same captures;
- datagrams built here (quicpeers.client_initial, RFC 9001 A.2 byte for byte) and
  altered: undecryptable, unknown version, an Initial in a short datagram, a short
  header first, half a hello that never completes (hold timer), not QUIC at all.
"""

import json
import os
import struct
import subprocess
import tempfile

import pytest

import harness
import quicpeers

DATA = os.path.join(harness.SRC, "tests", "data", "quic")
CLIENT, SERVER = "10.9.0.1", "10.9.0.2"


def policy(quic="inspect", **extra):
    rules = [{"id": "ngtcp2", "action": "allow", "sni": ["quic.chokepoint.test"]},
             {"id": "llm", "action": "allow", "sni": ["api.openai.com", "api.anthropic.com"]},
             {"id": "rfc", "action": "allow", "sni": ["example.com"]}]
    ex = {"quic": quic}
    ex.update(extra)
    return harness.render_config(mode="enforce", default="deny", rules=rules, extra=ex,
                                 audit_path="/nonexistent/unused.jsonl")


def replay(pcap, config):
    """Replay pcap under config; the trail's records."""
    with tempfile.TemporaryDirectory(prefix="quic-replay-") as d:
        conf, out = os.path.join(d, "c.conf"), os.path.join(d, "out.jsonl")
        with open(conf, "w") as f:
            f.write(config)
        p = subprocess.run([harness.bin_ctl(), "replay", "--config", conf, "--audit-out", out,
                            "--dp", harness.bin_dp(), pcap], capture_output=True, text=True,
                           timeout=120)
        assert p.returncode == 0, "replay of %s failed: %s" % (pcap, p.stderr[-1500:])
        v = subprocess.run([harness.bin_ctl(), "audit", "verify", out], capture_output=True,
                           text=True)
        assert v.returncode == 0, v.stdout + v.stderr
        return [json.loads(l) for l in open(out, "rb").read().decode().splitlines() if l]


def decisions(recs, proto="udp"):
    return [r for r in recs if r["type"] == "flow.decision" and r["proto"] == proto]


def write_pcap(path, packets):
    """A classic Ethernet pcap of (time s, src, sport, dst, dport, payload) UDP datagrams."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for ts, src, sport, dst, dport, payload in packets:
            udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
            ip = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64,
                                       17, 0, bytes(map(int, src.split("."))),
                                       bytes(map(int, dst.split(".")))))
            s = sum(struct.unpack("!10H", ip))
            s = (s & 0xffff) + (s >> 16)
            ip[10:12] = struct.pack("!H", ~((s & 0xffff) + (s >> 16)) & 0xffff)
            frame = b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00" + bytes(ip) + udp
            f.write(struct.pack("<IIII", int(ts), int(ts % 1 * 1e6), len(frame), len(frame)))
            f.write(frame)


def crafted(tmp, name, datagrams, dport=443):
    """A capture of client datagrams [(time, payload)] from CLIENT:40000 to SERVER:dport."""
    path = os.path.join(str(tmp), name + ".pcap")
    write_pcap(path, [(1000 + t, CLIENT, 40000, SERVER, dport, d) for t, d in datagrams])
    return path


DCID, SCID = bytes.fromhex("8394c8f03e515708"), bytes.fromhex("c1c2c3c4")


def hello_initial(pn=0, pad_to=1162, ch=None, first=0, last=None):
    ch = ch or quicpeers.rfc9001_clienthello()
    return quicpeers.client_initial(DCID, SCID, pn,
                                    quicpeers.crypto_frame(first, ch[first:last]), pad_to)


def test_builder_matches_rfc9001():
    assert quicpeers.initial_selftest()


# ---- captures made here --------------------------------------------------------------


def test_ngtcp2_by_content_on_4433():
    recs = decisions(replay(os.path.join(DATA, "ngtcp2-v1.pcap"), policy()))
    assert len(recs) == 1, recs
    r = recs[0]
    assert (r["verdict"], r["rule"], r["app"], r["sni"], r["dport"]) == \
        ("allow", "ngtcp2", "quic", "quic.chokepoint.test", 4433), r
    assert r["alpn"] == ["h3"] and r["tls_versions"] == ["1.3"] and r["anomalies"] == [], r
    assert r["ja4"] == "q13d0415h3_9caa18292e23_84684a673e38", r["ja4"]


def test_chromium_pq_hello_over_two_initials():
    recs = decisions(replay(os.path.join(DATA, "chromium-h3-pq.pcap"), policy()))
    assert len(recs) == 1, recs
    r = recs[0]
    assert (r["verdict"], r["rule"], r["sni"], r["sport"]) == \
        ("allow", "llm", "api.openai.com", 52972), r
    assert r["pqc"] is True and r["ech"] is True and r["alpn"] == ["h3"], r
    assert r["ja4"] == "q13d0312h3_55b375c5d22e_178839b6cec1", r["ja4"]


def test_chromium_lost_first_initial_then_retry():
    recs = replay(os.path.join(DATA, "chromium-h3-lost-first.pcap"), policy())
    dec = [r for r in decisions(recs) if r["sport"] == 50838]
    # the held Initial (pn 2, t=0.0509) completes with the PTO resend (pn 4, t=0.3526);
    # gtlsserver answered with a Retry: the client's restart is decided anew
    assert [(r["verdict"], r["sni"]) for r in dec] == [("allow", "api.anthropic.com")] * 2, dec
    assert dec[0]["ts"].endswith(":04.515090Z"), dec[0]["ts"]   # capture time of pn 4
    ends = [r for r in recs if r["type"] == "flow.end" and r["sport"] == 50838]
    assert [e["close"] for e in ends] == ["evicted", "shutdown"], ends
    assert ends[0]["pkts_c2s"] == 2, ends[0]          # pn 2 and pn 4, before the restart


def test_quic_deny_by_port_and_by_content():
    recs = decisions(replay(os.path.join(DATA, "chromium-h3-pq.pcap"), policy(quic="deny")))
    assert [(r["verdict"], r["reason"], r["sni"]) for r in recs] == [("deny", "quic", None)], recs
    recs = decisions(replay(os.path.join(DATA, "ngtcp2-v1.pcap"), policy(quic="deny")))
    assert [(r["verdict"], r["reason"], r["dport"]) for r in recs] == [("deny", "quic", 4433)], recs


# ---- crafted datagrams -----------------------------------------------------------------


def one(tmp, name, datagrams, config=None, dport=443):
    recs = decisions(replay(crafted(tmp, name, datagrams, dport), config or policy()))
    assert len(recs) == 1, recs
    return recs[0]


def test_crafted_hello_allowed(tmp_path):
    r = one(tmp_path, "ok", [(0, hello_initial())])
    assert (r["verdict"], r["rule"], r["sni"], r["app"]) == ("allow", "rfc", "example.com", "quic"), r


def test_crafted_hello_in_pieces_any_order(tmp_path):
    ch = quicpeers.rfc9001_clienthello()
    pieces = [hello_initial(pn=2, first=150), hello_initial(pn=1, first=60, last=150),
              hello_initial(pn=0, first=0, last=60)]
    r = one(tmp_path, "pieces", [(0, pieces[0]), (0.1, pieces[1]), (0.2, pieces[2])])
    assert (r["verdict"], r["sni"]) == ("allow", "example.com"), r
    assert len(ch) > 150


def test_crafted_undecryptable(tmp_path):
    d = bytearray(hello_initial())
    d[100] ^= 0x01                                  # inside the AEAD ciphertext
    r = one(tmp_path, "undecryptable", [(0, bytes(d))])
    assert (r["verdict"], r["reason"], r["anomalies"]) == ("deny", "default", ["quic_undecryptable"]), r


def test_crafted_unknown_version_denied_by_its_anomaly(tmp_path):
    d = bytearray(hello_initial())
    d[1:5] = bytes.fromhex("ff00001d")              # draft-29
    # default allow: without a name the flow would pass; the anomaly alone denies it
    cfg = harness.render_config(mode="enforce", default="allow",
                                rules=[{"id": "rfc", "action": "deny", "sni": ["example.com"]}],
                                extra={"quic": "inspect"}, audit_path="/nonexistent/unused.jsonl")
    r = one(tmp_path, "draft29", [(0, bytes(d))], cfg)
    assert (r["verdict"], r["reason"], r["anomalies"]) == \
        ("deny", "quic_unknown_version", ["quic_unknown_version"]), r


def test_crafted_short_datagram(tmp_path):
    r = one(tmp_path, "short", [(0, hello_initial(pad_to=300))])
    assert (r["verdict"], r["anomalies"], r["sni"]) == ("deny", ["quic_malformed"], None), r


def test_crafted_short_header_first_is_midstream(tmp_path):
    r = one(tmp_path, "midstream", [(0, b"\x43" + os.urandom(60))],
            policy(midstream="allow"))
    assert (r["verdict"], r["reason"], r["app"]) == ("allow", "midstream", "quic"), r


def half_hello(tmp, later):
    """Half a hello at t=1000 s, then another flow's datagram at 1000 + later s (which
    moves the replay clock), then the end of the capture."""
    path = os.path.join(str(tmp), "half-%s.pcap" % later)
    write_pcap(path, [(1000, CLIENT, 40000, SERVER, 443, hello_initial(first=100)),
                      (1000 + later, CLIENT, 40001, SERVER, 53, b"\x12\x34" + b"\0" * 20)])
    recs = decisions(replay(path, policy(hold={"timeout_ms": 1000})))
    r = [x for x in recs if x["sport"] == 40000]
    assert len(r) == 1 and r[0]["app"] == "quic" and r[0]["verdict"] == "deny", recs
    return r[0]


def test_crafted_half_hello_hold_timer(tmp_path):
    """The hold timer of a QUIC flow is max(hold.timeout_ms, 3 s) (a lost first Initial is
    resent after the client's PTO): with timeout_ms 1000, half a hello is still waiting
    2.5 s later (decided at the capture's end, no timer anomaly), and is decided by the
    timer once the clock passes 3 s."""
    r = half_hello(tmp_path, 2.5)
    assert r["anomalies"] == [], r
    r = half_hello(tmp_path, 3.5)
    assert r["anomalies"] == ["reassembly_timeout"], r


def test_crafted_not_quic_on_another_port(tmp_path):
    r = one(tmp_path, "notquic", [(0, b"\x12\x34" + b"\0" * 40)], dport=5000)
    assert (r["verdict"], r["reason"], r["app"], r["anomalies"]) == \
        ("deny", "default", "unknown", []), r
