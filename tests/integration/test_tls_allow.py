# SPDX-License-Identifier: BSD-3-Clause
"""An allowed TLS name (SNI) gets its HTTP 200 through chokepoint-dp, end to end
(curl, certificate verified against the test CA), and the trail records why."""

import re

import harness
from harness import CLIENT4, SERVER4, expect_decision, expect_ok


def test_allowed_sni_gets_200(env):
    c, app = env.clients, env.appliance
    for name in ("api.openai.com", "api.anthropic.com"):
        r = c.curl(name, SERVER4)
        expect_ok(r, name)
        rec = app.decision_for(r["sport"])
        expect_decision(rec, sni=name, host=None, rule="llm", verdict="allow", enforced=True,
                        reason="rule", app="tls", proto="tcp", src=CLIENT4, dst=SERVER4,
                        dport=443)


def test_second_rule_and_tls_fields(env):
    c, app = env.clients, env.appliance
    r = c.curl("hooks.slack.com", SERVER4, extra=["--http1.1"])
    expect_ok(r, "hooks.slack.com")
    rec = expect_decision(app.decision_for(r["sport"]), sni="hooks.slack.com", rule="hooks",
                          verdict="allow", reason="rule")
    # what curl offered, as the ClientHello said it
    assert rec.get("alpn") == ["http/1.1"], rec.get("alpn")
    assert "1.3" in (rec.get("tls_versions") or []), rec.get("tls_versions")
    # JA4 (FoxIO): TCP, TLS 1.3, SNI present, 2+2 digit counts, ALPN first+last char "h1"
    assert re.fullmatch(r"t13d\d{4}h1_[0-9a-f]{12}_[0-9a-f]{12}", rec.get("ja4") or ""), rec.get("ja4")


def test_allowed_flow_ends_with_counts(env):
    c, app = env.clients, env.appliance
    r = c.curl("api.openai.com", SERVER4)
    expect_ok(r, "api.openai.com")
    end = app.wait_record(lambda x: x.get("type") == "flow.end" and x.get("sport") == r["sport"],
                          timeout=30, what="flow.end for sport %d" % r["sport"])
    assert end["verdict"] == "allow" and end["sni"] == "api.openai.com", end
    assert end["pkts_c2s"] > 0 and end["pkts_s2c"] > 0, end
    assert end["bytes_s2c"] > 500, end   # at least the server's certificate came back
    assert end["close"] in ("fin", "rst"), end


def test_audit_and_status(env):
    recs, cnt = harness.check_trail(env)
    harness.expect_counter(cnt, "dataplane.totals.allow", 3)
