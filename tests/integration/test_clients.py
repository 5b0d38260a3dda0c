# SPDX-License-Identifier: BSD-3-Clause
"""Other real TLS clients than curl: openssl s_client and /usr/bin/python3's ssl module,
each allowed and denied (their ClientHellos differ: extensions, order, key shares)."""

import harness
from harness import SERVER4, expect_decision


def test_openssl_s_client_allowed(env):
    app = env.appliance
    mark = app.mark()
    r = env.clients.s_client("api.anthropic.com", SERVER4)
    assert r["rc"] == 0, r
    assert r["out"].startswith("HTTP/1.1 200") and "ok api.anthropic.com" in r["out"], r["out"][:300]
    rec = app.wait_decision_since(mark, lambda y: y.get("sni") == "api.anthropic.com")
    expect_decision(rec, sni="api.anthropic.com", rule="llm", verdict="allow", dst=SERVER4)


def test_openssl_s_client_denied(env):
    app = env.appliance
    mark = app.mark()
    r = env.clients.s_client("evil.example.net", SERVER4)
    assert r["rc"] != 0, "s_client to a denied name succeeded: %s" % r["out"][:300]
    assert "errno=104" in r["err"] or "reset" in r["err"].lower(), r["err"]
    assert r["ms"] < 2000, r
    assert "HTTP/1.1" not in r["out"], r["out"]
    rec = app.wait_decision_since(mark, lambda y: y.get("sni") == "evil.example.net")
    expect_decision(rec, sni="evil.example.net", rule="no-evil", verdict="deny")


def test_python_ssl_allowed(env):
    c = env.clients
    sport = c.port()
    g = c.py("get", "--ip", SERVER4, "--name", "hooks.slack.com", "--sport", sport)
    assert g["result"] == "ok" and g["status"] == 200 and g["body"] == "ok hooks.slack.com\n", g
    expect_decision(env.appliance.decision_for(sport), sni="hooks.slack.com", rule="hooks",
                    verdict="allow")


def test_python_ssl_denied(env):
    c = env.clients
    sport = c.port()
    g = c.py("get", "--ip", SERVER4, "--name", "unlisted.example.org", "--sport", sport)
    assert g["result"] == "reset", g
    assert g["ms"] < 2000, g
    expect_decision(env.appliance.decision_for(sport), sni="unlisted.example.org", rule=None,
                    verdict="deny", reason="default")


def test_audit_and_status(env):
    harness.check_trail(env)
