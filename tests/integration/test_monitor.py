# SPDX-License-Identifier: BSD-3-Clause
"""Monitor mode computes and records every verdict but enforces none: a denied name still
gets its 200, and its record says verdict deny, enforced false."""

import harness
from conftest import default_policy
from harness import SERVER4, SERVER6, expect_decision, expect_ok

POLICY = lambda: default_policy(mode="monitor")  # noqa: E731


def test_monitor_records_deny_without_enforcing(env):
    c, app = env.clients, env.appliance
    for name, rule, reason in (("evil.example.net", "no-evil", "rule"),
                               ("unlisted.example.org", None, "default")):
        r = c.curl(name, SERVER4)
        expect_ok(r, name, "monitor mode, denied name %s" % name)
        expect_decision(app.decision_for(r["sport"]), sni=name, rule=rule, verdict="deny",
                        reason=reason, enforced=False)


def test_monitor_http_and_v6(env):
    c, app = env.clients, env.appliance
    r = c.curl("blocked.example.com", SERVER4, scheme="http")
    expect_ok(r, "blocked.example.com")
    expect_decision(app.decision_for(r["sport"]), host="blocked.example.com", verdict="deny",
                    enforced=False)
    r = c.curl("evil.example.net", SERVER6)
    expect_ok(r, "evil.example.net")
    expect_decision(app.decision_for(r["sport"], src=harness.CLIENT6), sni="evil.example.net",
                    verdict="deny", enforced=False)


def test_monitor_allow_still_recorded(env):
    r = env.clients.curl("api.openai.com", SERVER4)
    expect_ok(r, "api.openai.com")
    expect_decision(env.appliance.decision_for(r["sport"]), sni="api.openai.com",
                    verdict="allow", rule="llm")


def test_audit_and_status(env):
    recs, cnt = harness.check_trail(env)
    harness.expect_counter(cnt, "dataplane.totals.monitor_would_deny", 4)
    st = env.appliance.status_json()
    assert st["dataplane"]["enforcing"] is False, st["dataplane"]
