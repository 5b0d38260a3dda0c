# SPDX-License-Identifier: BSD-3-Clause
"""IPv6 variants: allow and deny by TLS name and by HTTP Host over fd77:1::/64."""

import harness
from harness import CLIENT6, SERVER6, expect_decision, expect_ok, expect_reset


def test_v6_allowed_sni(env):
    r = env.clients.curl("api.openai.com", SERVER6)
    expect_ok(r, "api.openai.com")
    expect_decision(env.appliance.decision_for(r["sport"], src=CLIENT6), sni="api.openai.com",
                    rule="llm", verdict="allow", reason="rule", src=CLIENT6, dst=SERVER6,
                    proto="tcp", app="tls")


def test_v6_denied_sni_resets_fast(env):
    c = env.clients
    sport = c.port()
    res = c.py("hello-reset", "--ip", SERVER6, "--name", "evil.example.net", "--sport", sport)
    assert res["result"] == "reset" and res["ms"] < 100.0, res
    expect_decision(env.appliance.decision_for(sport, src=CLIENT6), sni="evil.example.net",
                    rule="no-evil", verdict="deny", reason="rule", dst=SERVER6)
    r = c.curl("unlisted.example.org", SERVER6)
    expect_reset(r, "v6 unlisted")
    expect_decision(env.appliance.decision_for(r["sport"], src=CLIENT6),
                    sni="unlisted.example.org", rule=None, verdict="deny", reason="default")


def test_v6_http_host(env):
    r = env.clients.curl("docs.example.com", SERVER6, scheme="http")
    expect_ok(r, "docs.example.com")
    expect_decision(env.appliance.decision_for(r["sport"], src=CLIENT6), host="docs.example.com",
                    rule="docs", verdict="allow", app="http")
    r = env.clients.curl("blocked.example.com", SERVER6, scheme="http")
    expect_reset(r, "v6 blocked host")
    expect_decision(env.appliance.decision_for(r["sport"], src=CLIENT6),
                    host="blocked.example.com", rule="no-blocked", verdict="deny")


def test_audit_and_status(env):
    harness.check_trail(env)
