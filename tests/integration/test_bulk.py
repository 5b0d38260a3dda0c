# SPDX-License-Identifier: BSD-3-Clause
"""50 MB up and down through an allowed flow arrive byte-identical (sha256 at both ends)."""

import hashlib
import os

import harness
from harness import PORT_APP, SERVER4, expect_decision

SIZE = 50 * 1024 * 1024


def test_upload_50mb_python(env):
    c = env.clients
    sport = c.port()
    res = c.py("upload", "--ip", SERVER4, "--name", "api.openai.com", "--port", PORT_APP,
               "--sport", sport, "--size", SIZE, "--seed", 7, timeout=170)
    assert res["status"] == 200 and res["server_bytes"] == SIZE, res
    assert res["server_sha256"] == res["sent_sha256"], res
    expect_decision(env.appliance.decision_for(sport), sni="api.openai.com", rule="llm",
                    verdict="allow", dport=PORT_APP)


def test_download_50mb_curl(env):
    data = os.urandom(SIZE)
    env.nginx.write_file("blob50", data)
    r = env.clients.curl("api.openai.com", SERVER4, path="/files/blob50", timeout=150)
    assert r["rc"] == 0 and r["code"] == "200", r["err"]
    assert len(r["body"]) == SIZE, len(r["body"])
    assert hashlib.sha256(r["body"]).hexdigest() == hashlib.sha256(data).hexdigest()
    expect_decision(env.appliance.decision_for(r["sport"]), sni="api.openai.com", verdict="allow")


def test_upload_50mb_curl_put(env):
    src = os.path.join(env.workdir, "put50")
    with open(src, "wb") as f:
        f.write(os.urandom(SIZE))
    r = env.clients.curl("api.anthropic.com", SERVER4, path="/upload/put50", timeout=150,
                         extra=["-T", src])
    assert r["rc"] == 0 and r["code"] in ("201", "204"), (r["code"], r["err"])
    with open(src, "rb") as a, open(env.nginx.uploaded("put50"), "rb") as b:
        assert hashlib.sha256(a.read()).digest() == hashlib.sha256(b.read()).digest()
    expect_decision(env.appliance.decision_for(r["sport"]), sni="api.anthropic.com", verdict="allow")


def test_audit_and_status(env):
    recs, cnt = harness.check_trail(env)
    # the inside port received both 50 MB uploads, the outside one the download
    harness.expect_counter(cnt, "dataplane.ports[0].rx_bytes", 2 * SIZE)
    harness.expect_counter(cnt, "dataplane.ports[1].rx_bytes", SIZE)
