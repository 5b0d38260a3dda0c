# SPDX-License-Identifier: BSD-3-Clause
"""The harness itself, with dpdk-testpmd (io forward) as a transparent stand-in for the
appliance: if this fails, the topology is broken and no chokepoint result means anything."""

import harness
from harness import SERVER4, SERVER6


def test_topology_with_testpmd_standin():
    e = harness.Env(standin=True)
    names = (e.topo.ns_client, e.topo.ns_server, e.topo.ns_app)
    with e:
        c = e.clients
        # every veth end was asserted offload-free by Topology.up(); assert again, live
        e.topo.assert_hygiene()
        r = c.curl("api.openai.com", SERVER4)
        assert (r["rc"], r["code"], r["body"]) == (0, "200", b"ok api.openai.com\n"), r
        r = c.curl("docs.example.com", SERVER4, scheme="http")
        assert (r["rc"], r["code"], r["body"]) == (0, "200", b"ok docs.example.com\n"), r
        r = c.curl("api.anthropic.com", SERVER6)
        assert (r["rc"], r["code"], r["body"]) == (0, "200", b"ok api.anthropic.com\n"), r
        # a name nginx has no vhost for proves the answer comes from the right vhost
        r = c.curl("www.example.invalid", SERVER4, scheme="http")
        assert r["code"] == "421", r
        g = c.py("get", "--ip", SERVER4, "--name", "hooks.slack.com", "--sport", c.port())
        assert g["result"] == "ok" and g["status"] == 200 and g["body"] == "ok hooks.slack.com\n", g
        # without a bump in the wire there is no path: the appliance really is in the middle
        e.appliance.stop()
        r = c.curl("api.openai.com", SERVER4, timeout=3)
        assert r["rc"] != 0, "traffic passed with the stand-in stopped: the topology has a bypass"
    left = harness.sh(["ip", "netns", "list"]).stdout.split()
    assert not set(names) & set(left), "teardown left namespaces: %s" % (set(names) & set(left))
