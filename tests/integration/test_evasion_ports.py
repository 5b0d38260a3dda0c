# SPDX-License-Identifier: BSD-3-Clause
"""Decided on the name, never on the port (issue 3): TLS on 8443 and 22 and HTTP on 8080
are named like on 443 and 80; something else than TLS on 443 (or than HTTP on 80) is
recognised for what it is and the port's protocol recorded as an anomaly."""

import harness
from harness import PORT_APP, SERVER4, expect_decision
from evasion_util import decisions, run, server, totals

PORT_SSH = 22
PORT_HTTP_ALT = 8080


def _servers(env):
    if getattr(env, "_evasion_ports", False):
        return
    server(env, "tls-on-22", PORT_SSH, ["openssl", "s_server", "-quiet", "-www", "-accept",
                                        str(PORT_SSH), "-cert", env.pki.cert, "-key",
                                        env.pki.key])
    server(env, "http-on-8080", PORT_HTTP_ALT, [harness.PY, "-m", "http.server", "--bind",
                                                SERVER4, str(PORT_HTTP_ALT)])
    env._evasion_ports = True


def test_tls_on_8443(env):
    sport = env.clients.port()
    res = run(env, "hello", "--ip", SERVER4, "--port", PORT_APP, "--name", "api.openai.com",
              "--sport", sport)
    assert res["result"] == "data" and res["server_hello"], res
    (rec,) = decisions(env, sport, 1)
    expect_decision(rec, app="tls", sni="api.openai.com", rule="llm", verdict="allow",
                    dport=PORT_APP, anomalies=[])


def test_tls_on_22(env):
    _servers(env)
    ok = env.clients.curl("api.openai.com", SERVER4, port=PORT_SSH)
    assert ok["rc"] == 0 and ok["code"] == "200", ok
    (rec,) = decisions(env, ok["sport"], 1)
    expect_decision(rec, app="tls", sni="api.openai.com", rule="llm", verdict="allow",
                    dport=PORT_SSH, anomalies=[])
    bad = env.clients.curl("evil.example.net", SERVER4, port=PORT_SSH)
    harness.expect_reset(bad, "TLS on 22, denied name")
    (rec,) = decisions(env, bad["sport"], 1)
    expect_decision(rec, app="tls", sni="evil.example.net", verdict="deny", dport=PORT_SSH)


def test_http_on_8080(env):
    _servers(env)
    ok = env.clients.curl("docs.example.com", SERVER4, scheme="http", port=PORT_HTTP_ALT)
    assert ok["rc"] == 0 and ok["code"] == "200", ok
    (rec,) = decisions(env, ok["sport"], 1)
    expect_decision(rec, app="http", host="docs.example.com", rule="docs", verdict="allow",
                    dport=PORT_HTTP_ALT, anomalies=[])
    bad = env.clients.curl("blocked.example.com", SERVER4, scheme="http", port=PORT_HTTP_ALT)
    harness.expect_reset(bad, "HTTP on 8080, denied host")
    (rec,) = decisions(env, bad["sport"], 1)
    expect_decision(rec, app="http", host="blocked.example.com", verdict="deny",
                    dport=PORT_HTTP_ALT)


def test_ssh_banner_on_22_is_unknown(env):
    """A client-first protocol that is neither TLS nor HTTP: unknown_protocol, decided
    without a name (default deny)."""
    _servers(env)
    sport = env.clients.port()
    res = run(env, "raw", "--ip", SERVER4, "--port", PORT_SSH, "--sport", sport,
              "--data", "SSH-2.0-OpenSSH_9.2p1 Debian-2\\r\\n")
    assert res["result"] == "reset", res
    (rec,) = decisions(env, sport, 1)
    expect_decision(rec, app="unknown", sni=None, host=None, verdict="deny", reason="default",
                    anomalies=["unknown_protocol"])


def test_not_tls_on_443(env):
    sport = env.clients.port()
    res = run(env, "raw", "--ip", SERVER4, "--port", 443, "--sport", sport,
              "--data", "HELO chokepoint\\r\\n")
    assert res["result"] == "reset", res
    (rec,) = decisions(env, sport, 1)
    expect_decision(rec, app="unknown", verdict="deny", dport=443)
    assert set(rec["anomalies"]) == {"non_tls_on_tls_port", "unknown_protocol"}, rec


def test_http_on_443_named_by_host(env):
    """Plain HTTP to 443 is HTTP: named by its Host and allowed by the host rule; the port
    mismatch is recorded (non_tls_on_tls_port, allowed by default). nginx's TLS listener
    answers it with its 400."""
    sport = env.clients.port()
    res = run(env, "raw", "--ip", SERVER4, "--port", 443, "--sport", sport,
              "--data", "GET / HTTP/1.1\\r\\nHost: docs.example.com\\r\\nConnection: close\\r\\n\\r\\n")
    assert res["result"] == "eof" and " 400 " in res["got"].split("\r\n")[0], res
    (rec,) = decisions(env, sport, 1)
    expect_decision(rec, app="http", host="docs.example.com", rule="docs", verdict="allow",
                    anomalies=["non_tls_on_tls_port"])


def test_tls_on_80_named_by_sni(env):
    sport = env.clients.port()
    res = run(env, "hello", "--ip", SERVER4, "--port", 80, "--name", "api.openai.com",
              "--sport", sport)
    assert res["result"] in ("data", "eof"), res
    (rec,) = decisions(env, sport, 1)
    expect_decision(rec, app="tls", sni="api.openai.com", rule="llm", verdict="allow",
                    anomalies=["non_http_on_http_port"])


def test_not_http_on_80(env):
    sport = env.clients.port()
    res = run(env, "raw", "--ip", SERVER4, "--port", 80, "--sport", sport, "--data", "\\x00\\x01binary")
    assert res["result"] == "reset", res
    (rec,) = decisions(env, sport, 1)
    assert set(rec["anomalies"]) == {"non_http_on_http_port", "unknown_protocol"}, rec


def test_audit_and_status(env):
    harness.check_trail(env)
    tot = totals(env)
    assert tot.get("an_non_tls_on_tls_port", 0) >= 2, tot
    assert tot.get("an_non_http_on_http_port", 0) >= 2, tot
    assert tot.get("an_unknown_protocol", 0) >= 3, tot
