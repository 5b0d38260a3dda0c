# SPDX-License-Identifier: BSD-3-Clause
"""Plain HTTP: the Host header names the flow; allowed hosts get 200, denied ones a reset
before the request reaches the server."""

import os

import harness
from harness import SERVER4, expect_decision, expect_ok, expect_reset


def test_allowed_host_gets_200(env):
    r = env.clients.curl("docs.example.com", SERVER4, scheme="http")
    expect_ok(r, "docs.example.com")
    expect_decision(env.appliance.decision_for(r["sport"]), host="docs.example.com", sni=None,
                    rule="docs", verdict="allow", enforced=True, reason="rule", app="http",
                    dport=80)


def test_denied_host_by_rule_is_reset(env):
    r = env.clients.curl("blocked.example.com", SERVER4, scheme="http")
    expect_reset(r, "blocked.example.com")
    expect_decision(env.appliance.decision_for(r["sport"]), host="blocked.example.com",
                    rule="no-blocked", verdict="deny", reason="rule", app="http")


def test_unlisted_host_denied_by_default(env):
    r = env.clients.curl("unlisted.example.org", SERVER4, scheme="http")
    expect_reset(r, "unlisted.example.org")
    expect_decision(env.appliance.decision_for(r["sport"]), host="unlisted.example.org",
                    rule=None, verdict="deny", reason="default", app="http")


def test_denied_request_never_reaches_server(env):
    log = os.path.join(env.nginx.dir, "access.log")
    r = env.clients.curl("docs.example.com", SERVER4, scheme="http", path="/seen-by-nginx")
    assert r["rc"] == 0 and r["code"] == "404", r   # allowed: nginx answered (no such file)
    r = env.clients.curl("blocked.example.com", SERVER4, scheme="http", path="/never-seen-by-nginx")
    expect_reset(r, "blocked.example.com")
    env.appliance.decision_for(r["sport"])
    with open(log) as f:
        seen = f.read()
    assert "/seen-by-nginx" in seen, "nginx access log does not work: %r" % seen[-500:]
    assert "/never-seen-by-nginx" not in seen, "the denied request reached nginx"


def test_sni_rule_does_not_allow_http_host(env):
    # `llm` allows api.openai.com as a TLS name; as an HTTP Host it is not allowed
    r = env.clients.curl("api.openai.com", SERVER4, scheme="http")
    expect_reset(r, "http api.openai.com")
    expect_decision(env.appliance.decision_for(r["sport"]), host="api.openai.com",
                    verdict="deny", reason="default")


def test_audit_and_status(env):
    harness.check_trail(env)
