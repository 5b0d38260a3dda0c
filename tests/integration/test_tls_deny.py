# SPDX-License-Identifier: BSD-3-Clause
"""A denied TLS name gets a TCP reset within 100 ms of its ClientHello (measured at the
client from the last hello byte to ECONNRESET), the server never answers, the trail says why."""

import harness
from harness import CLIENT4, SERVER4, expect_decision, expect_reset

RESET_MS = 100.0


def hello_reset(env, name):
    c = env.clients
    sport = c.port()
    res = c.py("hello-reset", "--ip", SERVER4, "--name", name, "--sport", sport)
    assert res["result"] == "reset", "%s: wanted a reset, got %s" % (name, res)
    assert res["ms"] < RESET_MS, "%s: reset after %.1f ms (limit %.0f)" % (name, res["ms"], RESET_MS)
    return sport


def test_denied_by_rule_resets_fast(env):
    sport = hello_reset(env, "evil.example.net")
    expect_decision(env.appliance.decision_for(sport), sni="evil.example.net", rule="no-evil",
                    verdict="deny", enforced=True, reason="rule", app="tls", src=CLIENT4,
                    dst=SERVER4, dport=443)


def test_denied_by_default_resets_fast(env):
    sport = hello_reset(env, "unlisted.example.org")
    expect_decision(env.appliance.decision_for(sport), sni="unlisted.example.org", rule=None,
                    verdict="deny", enforced=True, reason="default", app="tls")


def test_curl_sees_reset_not_timeout(env):
    for name, rule, reason in (("evil.example.net", "no-evil", "rule"),
                               ("unlisted.example.org", None, "default")):
        r = env.clients.curl(name, SERVER4, timeout=10)
        expect_reset(r, name)
        expect_decision(env.appliance.decision_for(r["sport"]), sni=name, rule=rule,
                        verdict="deny", reason=reason)


def test_denied_flow_ends_denied(env):
    r = env.clients.curl("evil.example.net", SERVER4, timeout=10)
    expect_reset(r, "evil.example.net")
    end = env.appliance.wait_record(
        lambda x: x.get("type") == "flow.end" and x.get("sport") == r["sport"], timeout=30,
        what="flow.end of the denied flow")
    assert end["verdict"] == "deny", end
    assert end["close"] in ("denied", "rst"), end


def test_denied_name_never_reaches_server(env):
    """The ClientHello of a denied flow is held and dropped: a capture on the server's
    veth sees the allowed control name, never the denied one."""
    t = env.topo
    with t.capture(t.ns_server, t.if_server) as cap:
        ok = env.clients.curl("api.anthropic.com", SERVER4)
        harness.expect_ok(ok, "api.anthropic.com")
        r = env.clients.curl("evil.example.net", SERVER4, timeout=10)
        expect_reset(r, "evil.example.net")
        env.appliance.decision_for(r["sport"])
    assert b"api.anthropic.com" in cap["data"], "the capture does not work (control name missing)"
    assert b"evil.example.net" not in cap["data"], "the denied name reached the server's wire"


def test_audit_and_status(env):
    recs, cnt = harness.check_trail(env)
    harness.expect_counter(cnt, "dataplane.totals.deny", 4)
    harness.expect_counter(cnt, "dataplane.totals.rst_sent", 4)
