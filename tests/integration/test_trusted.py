# SPDX-License-Identifier: BSD-3-Clause
"""A trusted destination CIDR bypasses inspection: any name passes (even one a rule denies)
and no flow.decision (nor flow.end) record is written for it; only counters move."""

import harness
from harness import SERVER4, SERVER6, TRUSTED4, TRUSTED6, expect_ok


def test_trusted_cidr_passes_without_record(env):
    c, app = env.clients, env.appliance
    trusted = []
    for ip in (TRUSTED4, TRUSTED6):
        # evil.example.net is denied by rule `no-evil` everywhere else
        r = c.curl("evil.example.net", ip)
        expect_ok(r, "evil.example.net", "trusted %s" % ip)
        trusted.append(r["sport"])
        r = c.curl("unlisted.example.org", ip, scheme="http")
        expect_ok(r, "unlisted.example.org", "trusted http %s" % ip)
        trusted.append(r["sport"])
    # sentinels after them: once their records are written, the trusted ones would be too
    for ip in (SERVER4, SERVER6):
        r = c.curl("api.openai.com", ip)
        expect_ok(r, "api.openai.com")
        app.decision_for(r["sport"], src=harness.CLIENT6 if ":" in ip else harness.CLIENT4)
    leaked = [x for x in app.records() if x.get("sport") in trusted or
              harness.same_ip(x.get("dst"), TRUSTED4) or harness.same_ip(x.get("dst"), TRUSTED6)]
    assert not leaked, "trusted flows were audited: %s" % leaked


def test_same_name_untrusted_is_still_denied(env):
    r = env.clients.curl("evil.example.net", SERVER4)
    harness.expect_reset(r, "evil.example.net outside the trusted CIDR")


def test_audit_and_status(env):
    recs, cnt = harness.check_trail(env)
    harness.expect_counter(cnt, "dataplane.totals.trusted", 4)
