# SPDX-License-Identifier: BSD-3-Clause
"""Headless chromium (TLS over TCP, QUIC off) fetching an allowed and a denied name
through the appliance (issue 3). Chromium's ClientHello carries a post-quantum key share
(X25519MLKEM768, ~1.2 KB), so at MTU 1500 it spans two TCP segments: a capture on the
client's veth proves the split, the record says pqc true and names the flow, and the
GREASE ECH extension Chromium always sends does not raise the ech anomaly."""

import base64
import hashlib
import os
import shutil
import subprocess
import tempfile
import time

import pytest

import conftest
import harness
from harness import CLIENT4, SERVER4, expect_decision

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

# scripts/install-deps.sh installs chromium: a missing browser fails the test (never a skip)
assert os.access(CHROMIUM, os.X_OK), "chromium not installed (scripts/install-deps.sh)"


def spki_b64(cert):
    pub = subprocess.run(["openssl", "x509", "-in", cert, "-pubkey", "-noout"],
                         capture_output=True, check=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"], input=pub,
                         capture_output=True, check=True).stdout
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


def chromium(env, name, timeout=45):
    """chromium --dump-dom https://name/ over TCP. Returns (rc, dom, seconds)."""
    t = env.topo
    ud = tempfile.mkdtemp(prefix="chromium-", dir=env.workdir)
    argv = ["timeout", str(timeout), CHROMIUM, "--headless=new", "--no-sandbox",
            "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--user-data-dir=" + ud, "--host-resolver-rules=MAP %s %s" % (name, SERVER4),
            "--ignore-certificate-errors-spki-list=" + spki_b64(env.pki.cert),
            "--dump-dom", "https://%s/" % name]
    t0 = time.monotonic()
    p = t.run(t.ns_client, argv, timeout=timeout + 15)
    s = time.monotonic() - t0
    shutil.rmtree(ud, ignore_errors=True)
    harness.log("chromium %s -> rc %d in %.1f s, dom %r, err %r" % (
        name, p.returncode, s, p.stdout.strip()[:120], p.stderr.strip()[-300:]))
    return p.returncode, p.stdout, s


def first_flight_segments(path, sport):
    """Payload lengths of the client's data segments of the flow from sport, before the
    server's first data (scapy over the capture), and the TLS record's declared length."""
    from scapy.all import IP, TCP, rdpcap  # Debian's python3-scapy
    segs, seen = [], set()
    for pkt in rdpcap(path):
        if not pkt.haslayer(TCP) or not pkt.haslayer(IP):
            continue
        t = pkt[TCP]
        data = bytes(t.payload)
        if pkt[IP].dst == SERVER4 and t.sport == sport and data and t.seq not in seen:
            seen.add(t.seq)
            segs.append((t.seq, data))
        elif pkt[IP].src == SERVER4 and t.dport == sport and data:
            break
    segs.sort()
    stream = b"".join(d for _, d in segs)
    rec_len = int.from_bytes(stream[3:5], "big") + 5 if len(stream) >= 5 else 0
    return [len(d) for _, d in segs], rec_len


def test_chromium_allowed_name(env):
    app = env.appliance
    t = env.topo
    mark = app.mark()
    with t.capture(t.ns_client, t.if_client, name="chromium") as cap:
        rc, dom, _ = chromium(env, "api.openai.com")
    assert rc == 0 and "ok api.openai.com" in dom, (rc, dom[:300])
    rec = app.wait_decision_since(mark, lambda r: r.get("sni") == "api.openai.com",
                                  what="chromium's decision")
    expect_decision(rec, verdict="allow", rule="llm", app="tls", src=CLIENT4, dport=443,
                    pqc=True, ech=True)
    assert "ech" not in rec["anomalies"], "GREASE ECH raised the ech anomaly: %s" % rec
    assert "h2" in rec["alpn"], rec
    assert rec["ja4"] and rec["ja4"].startswith("t13d"), rec
    sizes, rec_len = first_flight_segments(cap["path"], rec["sport"])
    harness.log("chromium ClientHello: record of %d bytes in segments %s" % (rec_len, sizes))
    assert len(sizes) >= 2 and sizes[0] < rec_len, \
        "the hello did not span segments: %s (record %d)" % (sizes, rec_len)


def test_chromium_denied_name(env):
    app = env.appliance
    t = env.topo
    mark = app.mark()
    with t.capture(t.ns_server, t.if_server, name="chromium-deny") as cap:
        rc, dom, s = chromium(env, "evil.example.net")
    assert "ok evil.example.net" not in dom, dom[:300]
    rec = app.wait_decision_since(mark, lambda r: r.get("sni") == "evil.example.net",
                                  what="chromium's denied decision")
    expect_decision(rec, verdict="deny", rule="no-evil", app="tls", pqc=True)
    assert b"evil.example.net" not in cap["data"], "the denied name reached the server's wire"


def test_ech_raised_for_a_configured_public_name(env):
    """The ech anomaly is the public name's, not the extension's: with hooks.slack.com
    listed in ech_public_names (and ech = "deny"), chromium's hello to it (ECH extension,
    outer SNI hooks.slack.com) raises ech and is denied, although the rule allows it."""
    app = env.appliance
    app.reload(conftest.default_policy(extra={"ech_public_names": ["hooks.slack.com"],
                                              "anomalies": {"ech": "deny"}}))
    app.wait_ready(generation=2)
    mark = app.mark()
    rc, dom, _ = chromium(env, "hooks.slack.com")
    assert "ok hooks.slack.com" not in dom, dom[:300]
    rec = app.wait_decision_since(mark, lambda r: r.get("sni") == "hooks.slack.com",
                                  what="chromium's decision for the public name")
    expect_decision(rec, verdict="deny", reason="ech", ech=True, rule=None)
    assert rec["anomalies"] == ["ech"], rec


def test_audit_and_status(env):
    harness.check_trail(env)
