# SPDX-License-Identifier: BSD-3-Clause
"""Every unit of a client stream is judged, not only the first (issue 3): each request
head on a keep-alive or pipelined HTTP/1.1 connection (framing by Content-Length and
chunked; both at once is http_smuggling), the ClientHello inside a CONNECT tunnel, and a
second ClientHello after a HelloRetryRequest. A flow has one flow.decision per unit and
one flow.end."""

import os

import conftest
import harness
from harness import SERVER4, expect_decision
from evasion_util import decisions, ends_for, flow_end, run, server, totals

# default allow: a flow denied here is denied by its rule or by its anomaly alone, and the
# record's reason says which (with default deny a name-less flow's reason would be default)
def POLICY():
    return conftest.default_policy(default="allow")

PROXY_PORT = 3128
HRR_PORT = 4433


def nginx_log(env):
    with open(os.path.join(env.nginx.dir, "access.log")) as f:
        return f.read()


def test_keepalive_switch_to_denied_host(env):
    """Two requests on one connection: the second switches Host to a denied name. The first
    is answered; the second is refused (dropped, both ends reset) and never reaches nginx."""
    sport = env.clients.port()
    res = run(env, "requests", "--ip", SERVER4, "--sport", sport, "--path", "/?ka=" + str(sport),
              "--hosts", "docs.example.com,blocked.example.com", "--pause-ms", 50)
    assert res["result"] == "reset", res
    assert [r["status"] for r in res["responses"]] == [200], res
    assert res["responses"][0]["body"] == "ok docs.example.com\n", res
    harness.log("keep-alive: the refused request was reset %.1f ms after it was sent"
                % res["reset_ms"])
    assert res["reset_ms"] < 100, res
    first, second = decisions(env, sport, 2)
    expect_decision(first, verdict="allow", host="docs.example.com", rule="docs", app="http")
    expect_decision(second, verdict="deny", host="blocked.example.com", rule="no-blocked",
                    reason="rule", app="http", enforced=True)
    end = flow_end(env, sport)
    assert end["close"] == "denied" and end["verdict"] == "deny", end
    assert end["host"] == "blocked.example.com", end
    assert len(ends_for(env, sport)) == 1
    log = nginx_log(env)
    assert "/?ka=%d" % sport in log, "the first request did not reach nginx"
    assert log.count("/?ka=%d" % sport) == 1, "the refused request reached nginx:\n" + log[-800:]


def test_keepalive_allowed_hosts_each_decided(env):
    """Three allowed requests on one connection: three decisions, three answers."""
    sport = env.clients.port()
    res = run(env, "requests", "--ip", SERVER4, "--sport", sport,
              "--hosts", "docs.example.com,docs.example.com,docs.example.com")
    assert res["result"] == "ok" and [r["status"] for r in res["responses"]] == [200] * 3, res
    recs = decisions(env, sport, 3)
    assert len(recs) == 3, recs
    for r in recs:
        expect_decision(r, verdict="allow", host="docs.example.com")


def test_pipelined_denied_second_request(env):
    """Both requests in one segment: the second is judged before anything is released;
    the segment holding it is dropped, so neither reaches nginx."""
    sport = env.clients.port()
    res = run(env, "requests", "--ip", SERVER4, "--sport", sport, "--pipeline",
              "--path", "/?pipe=" + str(sport), "--hosts", "docs.example.com,blocked.example.com")
    assert res["result"] == "reset" and res["responses"] == [], res
    first, second = decisions(env, sport, 2)
    expect_decision(first, verdict="allow", host="docs.example.com")
    expect_decision(second, verdict="deny", host="blocked.example.com")
    assert "/?pipe=%d" % sport not in nginx_log(env)


def test_pipelined_allowed_requests(env):
    sport = env.clients.port()
    res = run(env, "requests", "--ip", SERVER4, "--sport", sport, "--pipeline",
              "--hosts", "docs.example.com,docs.example.com")
    assert res["result"] == "ok" and [r["status"] for r in res["responses"]] == [200, 200], res
    assert len(decisions(env, sport, 2)) == 2


def test_chunked_body_framing(env):
    """A chunked POST whose chunk data looks like a request head (for a denied name): data,
    not judged. The real next request (denied) is found after the last chunk."""
    sport = env.clients.port()
    fake = "GET /fake HTTP/1.1\r\nHost: blocked.example.com\r\n\r\n"
    data = ("POST / HTTP/1.1\r\nHost: docs.example.com\r\nTransfer-Encoding: chunked\r\n\r\n"
            "%x\r\n%s\r\n0\r\n\r\n"
            "GET /?chunked=%d HTTP/1.1\r\nHost: blocked.example.com\r\n\r\n"
            % (len(fake), fake, sport))
    res = run(env, "raw", "--ip", SERVER4, "--sport", sport, "--data", data)
    assert res["result"] == "reset", res
    first, second = decisions(env, sport, 2)
    expect_decision(first, verdict="allow", host="docs.example.com")
    expect_decision(second, verdict="deny", host="blocked.example.com")
    assert len(decisions(env, sport, 2)) == 2, "the chunk data was judged as a request"


def test_content_length_body_framing(env):
    """A Content-Length body holding a request head is data; the allowed request after it
    is judged and answered."""
    sport = env.clients.port()
    body = "GET /inner HTTP/1.1\r\nHost: blocked.example.com\r\n\r\n"
    data = ("POST / HTTP/1.1\r\nHost: docs.example.com\r\nContent-Length: %d\r\n\r\n%s"
            "GET / HTTP/1.1\r\nHost: docs.example.com\r\nConnection: close\r\n\r\n"
            % (len(body), body))
    res = run(env, "raw", "--ip", SERVER4, "--sport", sport, "--data", data)
    assert res["result"] == "eof" and res["got"].count("HTTP/1.1 200") == 2, res
    recs = decisions(env, sport, 2)
    assert [r["host"] for r in recs] == ["docs.example.com", "docs.example.com"], recs


def test_content_length_and_chunked_is_smuggling(env):
    """Content-Length and Transfer-Encoding together: http_smuggling (deny by default), on
    the first request and on a later one."""
    sport = env.clients.port()
    smuggle = ("POST / HTTP/1.1\r\nHost: docs.example.com\r\nContent-Length: 4\r\n"
               "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
    res = run(env, "raw", "--ip", SERVER4, "--sport", sport, "--data", smuggle)
    assert res["result"] == "reset", res
    (rec,) = decisions(env, sport, 1)
    expect_decision(rec, verdict="deny", host="docs.example.com", reason="http_smuggling")
    sport = env.clients.port()
    res = run(env, "raw", "--ip", SERVER4, "--sport", sport,
              "--data", "GET / HTTP/1.1\r\nHost: docs.example.com\r\n\r\n" + smuggle)
    assert res["result"] == "reset", res
    first, second = decisions(env, sport, 2)
    expect_decision(first, verdict="allow")
    expect_decision(second, verdict="deny", reason="http_smuggling")


def test_broken_chunked_framing(env):
    """A chunk-size line ended by a bare LF: the framing cannot be followed the way every
    server would, so the request is denied as http_smuggling."""
    sport = env.clients.port()
    data = ("POST / HTTP/1.1\r\nHost: docs.example.com\r\nTransfer-Encoding: chunked\r\n\r\n"
            "5\nhello\r\n0\r\n\r\n")
    res = run(env, "raw", "--ip", SERVER4, "--sport", sport, "--data", data)
    assert res["result"] == "reset", res
    first, second = decisions(env, sport, 2)
    expect_decision(first, verdict="allow", host="docs.example.com")
    expect_decision(second, verdict="deny", reason="http_smuggling", host=None)


def _proxy(env):
    if not getattr(env, "_evasion_proxy", None):
        env._evasion_proxy = server(env, "connect-proxy", PROXY_PORT, [
            harness.PY, os.path.join(harness.HERE, "evasion_clients.py"), "proxy",
            "--listen", str(PROXY_PORT), "--upstream", SERVER4])
    return "%s:%d" % (SERVER4, PROXY_PORT)


def test_connect_tunnel_allowed(env):
    """CONNECT docs.example.com:443 (host rule) through a proxy, then TLS with SNI
    api.openai.com inside the tunnel (sni rule): two decisions, the GET answered."""
    proxy = _proxy(env)
    sport = env.clients.port()
    res = run(env, "connect", "--ip", SERVER4, "--proxy", proxy, "--sport", sport,
              "--authority", "docs.example.com", "--name", "api.openai.com", "--port", 443)
    assert res["result"] == "ok" and res["status"] == 200, res
    assert res["body"] == "ok api.openai.com\n", res
    first, second = decisions(env, sport, 2)
    expect_decision(first, verdict="allow", app="http", host="docs.example.com", rule="docs",
                    dport=PROXY_PORT)
    expect_decision(second, verdict="allow", app="tls", sni="api.openai.com", rule="llm",
                    dport=PROXY_PORT)
    assert "sni_changed" not in second["anomalies"], second


def test_connect_tunnel_denied_inner_name(env):
    """The same tunnel carrying a ClientHello for a denied name: the tunnelled hello is
    judged and the connection reset; the proxy's upstream never sees the name."""
    proxy = _proxy(env)
    sport = env.clients.port()
    res = run(env, "connect", "--ip", SERVER4, "--proxy", proxy, "--sport", sport,
              "--authority", "docs.example.com", "--name", "evil.example.net", "--port", 443)
    assert res.get("proxy_status") == 200 and res["result"] == "reset", res
    first, second = decisions(env, sport, 2)
    expect_decision(first, verdict="allow", host="docs.example.com")
    expect_decision(second, verdict="deny", app="tls", sni="evil.example.net", rule="no-evil")


def test_connect_denied_authority(env):
    proxy = _proxy(env)
    sport = env.clients.port()
    res = run(env, "connect", "--ip", SERVER4, "--proxy", proxy, "--sport", sport,
              "--authority", "blocked.example.com", "--name", "api.openai.com", "--port", 443)
    assert res["result"] == "reset", res
    (rec,) = decisions(env, sport, 1)
    expect_decision(rec, verdict="deny", app="http", host="blocked.example.com", rule="no-blocked")


def _hrr_server(env):
    if not getattr(env, "_evasion_hrr", None):
        env._evasion_hrr = server(env, "hrr-server", HRR_PORT, [
            "openssl", "s_server", "-quiet", "-www", "-tls1_3", "-groups", "P-256",
            "-accept", str(HRR_PORT), "-cert", env.pki.cert, "-key", env.pki.key])


def test_hrr_second_hello_judged(env):
    """openssl s_client offering an X25519 key share to a server that only takes P-256:
    the server answers with a HelloRetryRequest and the client sends a second ClientHello
    (after a CCS). Both hellos are judged (two decisions, same name, no sni_changed) and
    the handshake completes."""
    _hrr_server(env)
    app = env.appliance
    mark = app.mark()
    p = env.topo.run(env.topo.ns_client, [
        "openssl", "s_client", "-connect", "%s:%d" % (SERVER4, HRR_PORT), "-servername",
        "api.openai.com", "-groups", "X25519:P-256", "-tls1_3", "-CAfile", env.pki.ca,
        "-verify_return_error", "-quiet"], timeout=20, input="GET / HTTP/1.0\r\n\r\n")
    assert p.returncode == 0 and "HTTP/1.0 200" in p.stdout, (p.returncode, p.stderr[-500:])
    rec = app.wait_decision_since(mark, lambda r: r.get("dport") == HRR_PORT)
    recs = decisions(env, rec["sport"], 2)
    assert len(recs) == 2, recs
    for r in recs:
        expect_decision(r, verdict="allow", sni="api.openai.com", rule="llm", app="tls")
        assert "sni_changed" not in r["anomalies"], r


def test_hrr_second_hello_with_other_name_denied(env):
    """After the HRR the second ClientHello names another (also allowed) server: the change
    itself is the anomaly sni_changed (deny by default); the second hello never reaches
    the server and the client is reset."""
    _hrr_server(env)
    sport = env.clients.port()
    res = run(env, "hrr", "--ip", SERVER4, "--port", HRR_PORT, "--sport", sport,
              "--name", "api.openai.com", "--name2", "api.anthropic.com")
    assert res["hrr"], res
    assert res["result"] == "reset", res
    first, second = decisions(env, sport, 2)
    expect_decision(first, verdict="allow", sni="api.openai.com")
    expect_decision(second, verdict="deny", sni="api.anthropic.com", reason="sni_changed")
    assert second["anomalies"] == ["sni_changed"], second
    # control: the same name again passes (the server then fails the handshake itself)
    sport = env.clients.port()
    res = run(env, "hrr", "--ip", SERVER4, "--port", HRR_PORT, "--sport", sport,
              "--name", "api.openai.com")
    assert res["hrr"] and res["result"] != "reset", res
    first, second = decisions(env, sport, 2)
    expect_decision(second, verdict="allow", sni="api.openai.com")


def test_tls_flow_has_one_decision(env):
    """Without HRR a TLS flow is judged once: the walk ends at the server's ServerHello."""
    r = env.clients.curl("api.openai.com", SERVER4)
    harness.expect_ok(r, "api.openai.com")
    assert len(decisions(env, r["sport"], 1, settle=0.5)) == 1


def test_monitor_records_later_units(env):
    """Monitor mode (reloaded): the refused Host of a keep-alive connection is recorded as
    a deny that is not enforced, and the request is answered."""
    app = env.appliance
    app.reload(conftest.default_policy(default="allow", mode="monitor"))
    app.wait_ready(generation=2)
    sport = env.clients.port()
    res = run(env, "requests", "--ip", SERVER4, "--sport", sport,
              "--hosts", "docs.example.com,blocked.example.com,docs.example.com")
    assert res["result"] == "ok", res
    assert [r["body"] for r in res["responses"]] == [
        "ok docs.example.com\n", "ok blocked.example.com\n", "ok docs.example.com\n"], res
    recs = decisions(env, sport, 3)
    assert [(r["host"], r["verdict"], r["enforced"]) for r in recs] == [
        ("docs.example.com", "allow", False), ("blocked.example.com", "deny", False),
        ("docs.example.com", "allow", False)], recs


def test_audit_and_status(env):
    recs, cnt = harness.check_trail(env)
    tot = totals(env)
    # every held unit was decided and released or dropped
    assert tot.get("flows_pending") == 0 and tot.get("held_segs") == 0, tot
    assert tot.get("stream_decisions", 0) >= 12, tot.get("stream_decisions")
    assert tot.get("an_http_smuggling", 0) >= 3, tot.get("an_http_smuggling")
    assert tot.get("an_sni_changed", 0) >= 1, tot.get("an_sni_changed")
