# SPDX-License-Identifier: BSD-3-Clause
"""HTTPS request latency through three paths, one client program for all
(bench/httpsping.c), in the integration harness's namespace topology:

    client netns --veth-- appliance netns --veth-- server netns (nginx, TLS)

  kernel            a Linux bridge joins the two appliance veths
  squid             the same bridge, plus Squid (squid-openssl) listening on it:
                    the client sends CONNECT name:443, Squid peeks at the
                    ClientHello's SNI (ssl_bump peek step1) and splices the
                    allowed names (the forward-proxy setup users come from);
                    private config, pid, log and cache dirs; names from a hosts file
  chokepoint        chokepoint-dp (one worker) + chokepointd on the two veths,
                    idle back-off on (--idle-sleep-max-us 100, the default)
  chokepoint-busy   the same with the back-off off (--idle-sleep-max-us 0)

Each path: N requests with a new connection each (TCP + full TLS handshake
+ GET + response), then N on one keep-alive connection. p50/p90/p99 in
microseconds to --json. Run as root (network namespaces).
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.abspath(os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(SRC, "tests", "integration"))
import harness  # noqa: E402

NAME = "api.openai.com"       # a name of the harness PKI's certificate
PROXY_IP = "10.77.1.5"

NGINX_CONF = """\
daemon off;
master_process on;
worker_processes 1;
user root root;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    default_type text/plain;
    keepalive_requests 10000000;
    keepalive_timeout 300s;
    ssl_certificate {cert};
    ssl_certificate_key {key};
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_tickets off;
    server {{
        listen 443 ssl;
        server_name {name};
        location = / {{ return 200 "ok\\n"; }}
    }}
}}
"""

SQUID_CONF = """\
# bench/latency.py: a forward proxy with SNI peek-and-splice (no TLS termination)
http_port {ip}:3128 ssl-bump cert={cert} key={key} generate-host-certificates=off
acl step1 at_step SslBump1
acl allowed_sni ssl::server_name {name}
acl SSL_ports port 443
acl CONNECT method CONNECT
http_access deny CONNECT !SSL_ports
http_access allow all
ssl_bump peek step1
ssl_bump splice allowed_sni
ssl_bump terminate all
hosts_file {d}/hosts
dns_nameservers 127.0.0.1
cache deny all
cache_mem 8 MB
access_log none
cache_log {d}/cache.log
pid_filename {d}/squid.pid
coredump_dir {d}
cache_effective_user proxy
shutdown_lifetime 1 seconds
"""


def log(*a):
    print("[latency %s]" % time.strftime("%H:%M:%S"), *a, file=sys.stderr, flush=True)


class Bench:
    def __init__(self, args):
        self.args = args
        self.build = os.path.abspath(args.build)
        self.ping = os.path.join(self.build, "bench", "chokepoint-httpsping")
        harness.BUILD = self.build
        self.work = tempfile.mkdtemp(prefix="cplat-")
        os.chmod(self.work, 0o755)
        pid = os.getpid()
        self.topo = harness.Topology(self.work, pid)
        t = self.topo
        # our own names: bl* namespaces, b* veths (harness naming, bench prefix)
        t.ns_client, t.ns_server, t.ns_app = "blc%d" % pid, "bls%d" % pid, "bla%d" % pid
        t.if_client, t.if_in = "bc%d" % pid, "bi%d" % pid
        t.if_server, t.if_out = "bs%d" % pid, "bo%d" % pid
        self.bridge = "bb%d" % pid
        self.samples = {}

    # -- plumbing

    def sh_app(self, *argv, check=True):
        return harness.sh(harness.nsx(self.topo.ns_app, list(argv)), check=check)

    def bridge_up(self):
        self.sh_app("ip", "link", "add", self.bridge, "type", "bridge")
        self.sh_app("sysctl", "-qw", "net.ipv6.conf.%s.disable_ipv6=1" % self.bridge)
        for ifn in (self.topo.if_in, self.topo.if_out):
            self.sh_app("ip", "link", "set", ifn, "master", self.bridge)
        self.sh_app("ip", "link", "set", self.bridge, "up")

    def bridge_down(self):
        self.sh_app("ip", "link", "del", self.bridge, check=False)
        for ifn in (self.topo.if_in, self.topo.if_out):
            self.sh_app("ip", "link", "set", ifn, "up", check=False)

    def nginx(self, pki):
        d = os.path.join(self.work, "nginx")
        for sub in ("", "client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        conf = os.path.join(d, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF.format(d=d, cert=pki.cert, key=pki.key, name=NAME))
        harness.sh(["nginx", "-t", "-q", "-c", conf, "-e", os.path.join(d, "error.log")])
        p = self.topo.spawn("nginx", self.topo.ns_server,
                            ["nginx", "-c", conf, "-e", os.path.join(d, "error.log")])
        self.topo.wait_listen(self.topo.ns_server, 443, proc=p)

    def squid(self, pki):
        d = os.path.join(self.work, "squid")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "hosts"), "w") as f:
            f.write("%s %s\n" % (harness.SERVER4, NAME))
        # Squid's own certificate is one the client does not trust: had Squid bumped
        # (terminated TLS) instead of splicing, every request would fail verification
        cert, key = os.path.join(d, "bump.pem"), os.path.join(d, "bump.key")
        harness.sh(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj",
                    "/CN=squid bump (untrusted)", "-keyout", key, "-out", cert])
        conf = os.path.join(d, "squid.conf")
        with open(conf, "w") as f:
            f.write(SQUID_CONF.format(ip=PROXY_IP, cert=cert, key=key, name=NAME, d=d))
        for fn in [d] + [os.path.join(d, x) for x in os.listdir(d)]:
            shutil.chown(fn, "proxy", "proxy")
        chk = harness.sh(["squid", "-k", "parse", "-f", conf], check=False)
        if chk.returncode != 0:
            raise harness.HarnessError("squid -k parse: %s%s" % (chk.stdout, chk.stderr))
        p = self.topo.spawn("squid", self.topo.ns_app, ["squid", "-N", "-f", conf])
        self.topo.wait_listen(self.topo.ns_app, 3128, proc=p)
        return p

    def client(self, path, keepalive, n, proxy=None):
        """n requests on the path; their samples are added to the path's."""
        key = "keepalive" if keepalive else "new"
        samples = os.path.join(self.work, "samples-%s-%s.txt" % (path, key))
        argv = [self.ping, "--addr", harness.SERVER4, "--port", "443", "--sni", NAME,
                "--ca", self.pki.ca, "--requests", str(n),
                "--warmup", str(max(5, n // 100)), "--samples", samples]
        if keepalive:
            argv.append("--keepalive")
        if proxy:
            argv += ["--proxy", proxy]
        p = harness.sh(harness.nsx(self.topo.ns_client, argv), check=False,
                       timeout=600 + n // 5)
        try:
            res = json.loads(p.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            res = {"count": 0}
        if p.returncode != 0 or res.get("count", 0) < n:
            raise harness.HarnessError("%s %s: client failed (%d): %s %s" % (
                path, "keep-alive" if keepalive else "new connections", p.returncode,
                p.stdout, p.stderr))
        with open(samples) as f:
            self.samples.setdefault(path, {}).setdefault(key, []).extend(
                float(x) for x in f.read().split())
        log("%-16s %-11s %5d requests: p50 %7.0f us  p99 %7.0f us" % (
            path, "keep-alive" if keepalive else "new-conn", n, res["p50"], res["p99"]))

    def measure(self, path, n, proxy=None):
        self.client(path, False, n, proxy)
        self.client(path, True, n, proxy)

    def chokepoint(self, idle_us):
        app = IdleAppliance(self.topo, harness.render_config(
            rules=[{"id": "bench", "action": "allow", "sni": [NAME]}],
            audit_path=os.path.join(self.work, "audit.jsonl")), idle_us)
        app.start()
        return app

    # -- run

    def run(self):
        t = self.topo
        t.up()
        self.pki = harness.Pki(os.path.join(self.work, "pki")).generate()
        os.chmod(os.path.join(self.work, "pki"), 0o755)
        for fn in os.listdir(os.path.join(self.work, "pki")):
            os.chmod(os.path.join(self.work, "pki", fn), 0o644)
        self.nginx(self.pki)
        paths = self.args.paths.split(",")
        rounds = self.args.rounds
        # the paths take turns, round by round, so that the load the machine's
        # other work adds drifts over all of them alike
        for r in range(rounds):
            n = self.args.requests // rounds + (1 if r < self.args.requests % rounds else 0)
            log("round %d of %d: %d requests per path and mode" % (r + 1, rounds, n))
            if "kernel" in paths or "squid" in paths:
                self.bridge_up()
                try:
                    if "kernel" in paths:
                        self.measure("kernel", n)
                    if "squid" in paths:
                        self.sh_app("ip", "addr", "add", PROXY_IP + "/24", "dev", self.bridge)
                        sq = self.squid(self.pki)
                        try:
                            self.measure("squid", n, proxy="%s:3128" % PROXY_IP)
                        finally:
                            sq.stop(signal.SIGINT, grace=5)
                            self.topo.procs.remove(sq)
                            self.sh_app("ip", "addr", "del", PROXY_IP + "/24", "dev",
                                        self.bridge, check=False)
                finally:
                    self.bridge_down()
            for path, idle in (("chokepoint", 100), ("chokepoint-busy", 0)):
                if path in paths:
                    app = self.chokepoint(idle)
                    try:
                        self.measure(path, n)
                    finally:
                        app.stop()
                        for pr in (app.dp, app.cpd):
                            if pr in self.topo.procs:
                                self.topo.procs.remove(pr)

    def summary(self):
        out = {}
        for path, modes in self.samples.items():
            out[path] = {}
            for key, v in modes.items():
                v = sorted(v)
                n = len(v)

                def pct(p):
                    return v[min(n - 1, int(p / 100.0 * (n - 1) + 0.5))]

                out[path][key] = {"count": n, "p50": pct(50), "p90": pct(90), "p99": pct(99),
                                  "p999": pct(99.9), "mean": sum(v) / n, "max": v[-1]}
        return out

    def close(self):
        if self.topo.created:
            self.bridge_down()
        self.topo.down()
        if not self.args.keep:
            shutil.rmtree(self.work, ignore_errors=True)


class IdleAppliance(harness.Appliance):
    """harness.Appliance with the dataplane's idle back-off cap given."""

    def __init__(self, topo, config_text, idle_us):
        super().__init__(topo, config_text)
        self.idle_us = idle_us

    def start(self):
        spawn = self.topo.spawn

        def spawn_with_idle(name, ns, argv, **kw):
            if name == "chokepoint-dp":
                argv = list(argv) + ["--idle-sleep-max-us", str(self.idle_us)]
            return spawn(name, ns, argv, **kw)

        self.topo.spawn = spawn_with_idle
        try:
            super().start()
        finally:
            self.topo.spawn = spawn


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.environ.get("CHOKEPOINT_BUILD",
                                                      os.path.join(SRC, "build")))
    ap.add_argument("--requests", type=int, default=10000)
    ap.add_argument("--paths", default="kernel,squid,chokepoint,chokepoint-busy")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--json", required=True)
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    for tool in ("nginx", "squid"):
        if shutil.which(tool) is None and (tool != "squid" or "squid" in a.paths):
            print("latency: %s not installed (squid: apt-get install -y squid-openssl)" % tool,
                  file=sys.stderr)
            return 1
    b = Bench(a)
    signal.signal(signal.SIGTERM, lambda *x: sys.exit(1))
    try:
        b.run()
    except harness.HarnessError as e:
        print("latency: %s" % e, file=sys.stderr)
        for p in b.topo.procs:
            print("---- %s:\n%s" % (p.name, p.tail(20)), file=sys.stderr)
        return 1
    finally:
        b.close()
    out = {"requests": a.requests, "paths": b.summary(),
           "note": "%d requests per path and mode in %d rounds (paths take turns), each after "
                   "a 1%% warm-up; one client program (bench/httpsping.c), nginx with 1 worker, "
                   "a full TLS 1.3 handshake per new connection (no tickets); Squid 5.7 "
                   "CONNECT + SNI peek/splice; chokepoint 1 worker" % (a.requests, a.rounds)}
    with open(a.json, "w") as f:
        json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
