# SPDX-License-Identifier: BSD-3-Clause
"""Routed next-hop mode (issue 8): the client's default route points at chokepoint's
address; chokepoint answers ARP / neighbour discovery, resolves its next hops, forwards
by its static route table, decrements the TTL / hop limit, sends ICMP time exceeded, and
enforces the same verdicts. Its kernel (SSH & co) sits behind a TAP exception port.
See tests/integration/vpc.py for the topology."""

import re

import pytest

import harness
import vpc
from vpc import (PY, R_APP0_4, R_APP0_6, R_APP1_4, R_CLIENT4, R_CLIENT6, R_FAR4, R_SERVER4,
                 R_SERVER6)


def policy():
    return harness.render_config(mode="enforce", default="deny", rules=[
        {"id": "llm", "action": "allow", "sni": ["api.openai.com", "api.anthropic.com"]},
        {"id": "docs", "action": "allow", "host": ["docs.example.com"]},
        {"id": "no-evil", "action": "deny", "sni": ["evil.example.net"]},
        {"id": "icmp", "action": "allow", "proto": "icmp"},
    ])


@pytest.fixture(scope="module")
def env(request):
    failed = request.session.testsfailed
    with vpc.VpcEnv("routed", policy()) as e:
        yield e
        if request.session.testsfailed > failed:
            print("\n" + e.logs(), flush=True)


def test_allowed_names_through_the_next_hop(env):
    for name, ip, src, scheme in (("api.openai.com", R_SERVER4, R_CLIENT4, "https"),
                                  ("api.anthropic.com", R_SERVER6, R_CLIENT6, "https"),
                                  ("docs.example.com", R_SERVER4, R_CLIENT4, "http"),
                                  # behind a gateway: --route 10.72.3.0/24:1:10.72.2.20
                                  ("api.openai.com", R_FAR4, R_CLIENT4, "https")):
        r = env.curl(name, ip, scheme=scheme)
        harness.expect_ok(r, name, "%s via %s" % (name, ip))
        rec = env.appliance.decision_for(r["sport"], src=src)
        harness.expect_decision(rec, verdict="allow", src=src, dst=ip)
        assert "gwlb" not in rec, rec
    c = env.appliance.counters()
    assert c["arp_nd"] >= 2, c          # the client resolved chokepoint (v4 and v6)


def test_denied_names_are_reset(env):
    for ip, src in ((R_SERVER4, R_CLIENT4), (R_SERVER6, R_CLIENT6)):
        r = env.curl("evil.example.net", ip)
        harness.expect_reset(r, "evil.example.net via %s" % ip)
        rec = env.appliance.decision_for(r["sport"], src=src)
        harness.expect_decision(rec, verdict="deny", rule="no-evil", sni="evil.example.net")


def test_ping_through_decrements_the_ttl(env):
    t = env.topo
    for args, ip in ((["ping"], R_SERVER4), (["ping", "-6"], R_SERVER6)):
        p = env.run(t.ns_client, args + ["-c", "3", "-i", "0.2", "-W", "1", ip])
        assert p.returncode == 0, p.stdout + p.stderr
        # the server answers with 64; one router on the way back
        ttls = set(re.findall(r"ttl=(\d+)", p.stdout))
        assert ttls == {"63"}, "ping %s: ttl %s, want 63 (one hop)\n%s" % (ip, ttls, p.stdout)
    # the server sees the client's 64 less one, too: capture there
    with t.capture(t.ns_server, t.if_server, "ttl") as cap:
        env.run(t.ns_client, ["ping", "-c", "1", "-W", "1", "-t", "17", R_SERVER4])
    p = harness.sh(["tcpdump", "-nv", "-r", cap["path"], "icmp[icmptype] == icmp-echo"])
    assert "ttl 16," in p.stdout, p.stdout


def test_time_exceeded_and_traceroute(env):
    t = env.topo
    before = env.appliance.counters()
    p = env.run(t.ns_client, ["ping", "-c", "1", "-W", "1", "-t", "1", R_SERVER4])
    assert "From %s icmp_seq=1 Time to live exceeded" % R_APP0_4 in p.stdout, p.stdout
    p = env.run(t.ns_client, ["ping", "-6", "-c", "1", "-W", "1", "-t", "1", R_SERVER6])
    assert "From %s icmp_seq=1 Time exceeded: Hop limit" % R_APP0_6 in p.stdout, p.stdout
    for args, ip, hop1 in ((["traceroute", "-n", "-I"], R_SERVER4, R_APP0_4),
                           (["traceroute", "-6", "-n", "-I"], R_SERVER6, R_APP0_6)):
        p = env.run(t.ns_client, args + ["-w", "1", "-q", "1", "-m", "5", ip])
        hops = re.findall(r"^\s*(\d+)\s+(\S+)", p.stdout, re.M)
        assert hops[:2] == [("1", hop1), ("2", ip)], "traceroute %s:\n%s%s" % (ip, p.stdout, p.stderr)
    after = env.appliance.counters()
    assert after["ttl_exceeded"] - before["ttl_exceeded"] >= 4, after


def test_exception_path_to_the_kernel(env):
    t = env.topo
    srv = t.spawn("kernel-svc", t.ns_kern, [PY, "-c", vpc.KERNEL_SERVICE, "::", str(vpc.EXC_PORT)])
    t.wait_listen(t.ns_kern, vpc.EXC_PORT, proc=srv)
    before = env.appliance.counters()
    for ns, dst, src in ((t.ns_client, R_APP0_4, R_CLIENT4), (t.ns_client, R_APP0_6, R_CLIENT6),
                         (t.ns_server, R_APP1_4, R_SERVER4)):
        p = env.run(ns, [PY, "-c", vpc.KERNEL_CLIENT, dst, str(vpc.EXC_PORT)])
        assert p.returncode == 0 and p.stdout.strip() == "kernel: hello from %s" % src, \
            (dst, p.stdout, p.stderr)
    after = env.appliance.counters()
    assert after["exc_to_kernel"] - before["exc_to_kernel"] >= 9, after
    assert after["exc_from_kernel"] - before["exc_from_kernel"] >= 9, after
    # the appliance itself answers ping, and the health check on its address
    p = env.run(t.ns_client, ["ping", "-c", "1", "-W", "1", R_APP0_4])
    assert p.returncode == 0 and "ttl=64" in p.stdout, p.stdout
    assert env.health(t.ns_client) == (0, "200", "ok\n")
    assert env.health(t.ns_client, ip=R_APP0_6) == (0, "200", "ok\n")


def test_trail(env):
    out, n = env.appliance.verify()
    assert n > 0
    c = env.appliance.counters()
    assert c["no_route"] == 0 and c["neigh_miss"] == 0, c
