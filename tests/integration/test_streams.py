# SPDX-License-Identifier: BSD-3-Clause
"""Long-lived flows through an allowed name keep streaming: a websocket (echo, a message
every 0.5 s) and a server-sent-events stream (an event every 0.5 s), concurrently for 30 s."""

import harness
from harness import PORT_APP, PORT_WS, SERVER4, expect_decision

DURATION = 30.0
INTERVAL = 0.5


def test_websocket_and_sse_stream_30s(env):
    c, app = env.clients, env.appliance
    sws, ssse = c.port(), c.port()
    res = c.py("streams", "--ip", SERVER4, "--name", "api.anthropic.com", "--ws-port", PORT_WS,
               "--app-port", PORT_APP, "--sport-ws", sws, "--sport-sse", ssse,
               "--duration", DURATION, "--interval", INTERVAL, timeout=DURATION + 30)
    assert res["result"] == "ok", res
    want = int(DURATION / INTERVAL * 0.8)
    ws, sse = res["ws"], res["sse"]
    assert ws["echoed"] == ws["sent"] and ws["echoed"] >= want, ws
    assert ws["max_gap_s"] < 3.0, ws
    assert sse["status"] == 200 and sse["in_order"] and sse["events"] >= want, sse
    assert sse["max_gap_s"] < 3.0, sse
    for sport, port in ((sws, PORT_WS), (ssse, PORT_APP)):
        expect_decision(app.decision_for(sport), sni="api.anthropic.com", rule="llm",
                        verdict="allow", reason="rule", dport=port)


def test_audit_and_status(env):
    harness.check_trail(env)
