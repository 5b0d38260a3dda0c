# SPDX-License-Identifier: BSD-3-Clause
"""The load balancer's health check (issue 8), answered by the workers on
--health-port of the appliance's address (routed topology, 2 workers): 503 (HTTP) or a
refused connection (TCP) while the dataplane has no policy, while a worker is stuck
(one worker thread stopped with ptrace), and while the control plane that owns the
policy is away past --health-ctl-grace-ms; 200 otherwise."""

import time

import pytest

import harness
import vpc
from vpc import HEALTH_PORT, R_APP0_4


def policy():
    return harness.render_config(mode="enforce", default="deny", rules=[
        {"id": "llm", "action": "allow", "sni": ["api.openai.com"]}])


@pytest.fixture(scope="module")
def env(request):
    failed = request.session.testsfailed
    with vpc.VpcEnv("routed", policy(), workers=2, autostart=False) as e:
        yield e
        if request.session.testsfailed > failed:
            print("\n" + e.logs(), flush=True)


def wait_health(env, want_code, want_body, timeout=5.0):
    deadline = time.monotonic() + timeout
    while True:
        got = env.health(env.topo.ns_client, timeout=1)
        if got == (0, want_code, want_body):
            return
        if time.monotonic() > deadline:
            raise AssertionError("health: %s, want %s %r" % (got, want_code, want_body))
        time.sleep(0.1)


def test_no_policy_is_unhealthy(env):
    # the dataplane first, its control plane not there yet: no policy
    env.appliance.start_dp(["--health-ctl-grace-ms", "1500"])
    wait_health(env, "503", "unhealthy: no policy loaded\n")
    env.appliance.start_cpd()
    env.appliance.wait_ready()
    wait_health(env, "200", "ok\n")


def test_stuck_worker_is_unhealthy(env):
    tids = vpc.worker_threads(env.appliance.dp.pid)
    assert sorted(tids) == [0, 1], tids
    fr = vpc.freeze_thread(env.topo, tids[1], 4)
    time.sleep(1.5)                     # past the 1000 ms stall bound
    seen = []
    t0 = time.monotonic()
    while time.monotonic() - t0 < 2.0:
        seen.append(env.health(env.topo.ns_client, timeout=0.5))
    fr.p.wait(timeout=10)
    # checks the stuck worker receives are never answered; the other worker says why
    assert all(s[1] != "200" for s in seen), seen
    assert (0, "503", "unhealthy: worker 1 stuck\n") in seen, seen
    wait_health(env, "200", "ok\n")


def test_control_plane_gone_is_unhealthy(env):
    env.appliance.stop_cpd()
    t0 = time.monotonic()
    wait_health(env, "503", "unhealthy: control plane unreachable\n")
    assert time.monotonic() - t0 >= 1.0, "unhealthy before the 1.5 s grace"
    env.appliance.start_cpd()
    env.appliance.wait_ready()
    wait_health(env, "200", "ok\n")


def test_tcp_check_is_refused_without_policy(env):
    """--health-proto tcp (GWLB's TCP health check): unhealthy refuses the connection."""
    env.appliance.stop_cpd()
    env.appliance.stop_dp()
    env.appliance.start_dp(["--health-proto", "tcp"])
    t = env.topo
    probe = [vpc.PY, "-c", "import socket,sys\ntry:\n socket.create_connection(('%s',%d),timeout=2)"
             "\n print('open')\nexcept ConnectionRefusedError:\n print('refused')" % (R_APP0_4, HEALTH_PORT)]
    p = env.run(t.ns_client, probe)
    assert p.stdout.strip() == "refused", p.stdout + p.stderr
    env.appliance.start_cpd()
    env.appliance.wait_ready()
    deadline = time.monotonic() + 5
    while env.run(t.ns_client, probe).stdout.strip() != "open":
        assert time.monotonic() < deadline, "the TCP check never opened"
        time.sleep(0.1)
    wait_health(env, "200", "ok\n")
    c = env.appliance.counters()
    assert c["health"] > 0, c
