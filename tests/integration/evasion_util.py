# SPDX-License-Identifier: BSD-3-Clause
"""Helpers shared by tests/integration/test_evasion*.py: run evasion_clients.py in a
namespace, collect the several flow.decision records one flow may have, extra servers."""

import json
import os
import time

import harness
from harness import HERE, PY, CLIENT4, HarnessError

EVASION = os.path.join(HERE, "evasion_clients.py")


def run(env, *args, timeout=60, ns=None):
    """evasion_clients.py in the client netns (or ns); its JSON result."""
    argv = [PY, EVASION, "--ca", env.pki.ca] + [str(a) for a in args]
    p = env.topo.run(ns or env.topo.ns_client, argv, timeout=timeout)
    if p.returncode != 0:
        raise HarnessError("evasion_clients.py %s -> %d\n%s\n%s" % (args, p.returncode,
                                                                     p.stdout, p.stderr))
    res = json.loads(p.stdout.strip().splitlines()[-1])
    harness.log("evasion_clients.py %s -> %s" % (" ".join(map(str, args)), json.dumps(res)[:400]))
    return res


def decisions(env, sport, n, src=CLIENT4, timeout=5.0, settle=0.3):
    """The flow.decision records of the connection from src:sport, in trail order, once
    at least n are there (and no more came within `settle` seconds)."""
    deadline = time.monotonic() + timeout
    while True:
        recs = [r for r in env.appliance.records()
                if r.get("type") == "flow.decision" and r.get("sport") == sport
                and harness.same_ip(r.get("src"), src)]
        if len(recs) >= n:
            time.sleep(settle)
            return [r for r in env.appliance.records()
                    if r.get("type") == "flow.decision" and r.get("sport") == sport
                    and harness.same_ip(r.get("src"), src)]
        if time.monotonic() > deadline:
            raise AssertionError("want %d flow.decision records for sport %d, have %d:\n%s" % (
                n, sport, len(recs), "\n".join(json.dumps(r) for r in recs)))
        time.sleep(0.1)


def flow_end(env, sport, src=CLIENT4, timeout=30.0):
    return env.appliance.wait_record(
        lambda r: r.get("type") == "flow.end" and r.get("sport") == sport
        and harness.same_ip(r.get("src"), src), timeout=timeout, what="flow.end of %d" % sport)


def ends_for(env, sport, src=CLIENT4):
    return [r for r in env.appliance.records()
            if r.get("type") == "flow.end" and r.get("sport") == sport
            and harness.same_ip(r.get("src"), src)]


def server(env, name, port, argv):
    """A server process in the server netns, listening on port when this returns."""
    pr = env.topo.spawn(name, env.topo.ns_server, argv)
    env.topo.wait_listen(env.topo.ns_server, port, proc=pr)
    return pr


def totals(env):
    """dataplane.totals.* counters of chokepointctl status --json."""
    cnt = harness.counters(env.appliance.status_json())
    return {k[len("dataplane.totals."):]: v for k, v in cnt.items()
            if k.startswith("dataplane.totals.")}


def sysctl(env, ns, key, value):
    env.topo.run(ns, ["sysctl", "-qw", "%s=%s" % (key, value)], check=True)
