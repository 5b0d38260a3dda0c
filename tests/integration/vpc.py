# SPDX-License-Identifier: BSD-3-Clause
"""Topologies for the VPC deployment modes (issue 8), built on harness.py's pieces.

GENEVE (AWS Gateway Load Balancer target), gwlb.py standing in for GWLB:

    client ns gc<pid>            GWLB ns gw<pid> (no forwarding)          appliance ns ga<pid>
    c<pid> 10.71.1.10/24  <-veth->  k<pid> 10.71.1.1           u<pid> 10.71.0.1/24 <-veth-> a<pid>
           fd71:1::10/64            fd71:1::1    [gwlb.py]                           [chokepoint-dp
    server ns gs<pid>                                                                  --mode geneve,
    s<pid> 10.71.2.20/24  <-veth->  v<pid> 10.71.2.1                                  pcap PMD, appliance
           fd71:2::20/64            fd71:2::1                                          10.71.0.2]
    MTU 8500 on the client and server links, 9000 on the underlay (jumbo inner packets).

Routed (the subnets' next hop):

    client ns rc<pid>              appliance ns ra<pid>                   server ns rs<pid>
    c<pid> 10.72.1.10/24 <-veth-> i<pid> port 0 [chokepoint-dp] port 1 o<pid> <-veth-> s<pid> 10.72.2.20/24
           fd72:1::10/64   10.72.1.1 fd72:1::1  --mode routed  10.72.2.1 fd72:2::1    fd72:2::20/64
           default via 10.72.1.1                                                    10.72.3.20/32 (lo)
                                    x<pid>: TAP exception port, the kernel's side   default via 10.72.2.1

Every name carries the pid; harness.Topology's marker/garbage collection covers them.
"""

import contextlib
import json
import os
import re
import time

import harness
from harness import HarnessError, PY, nsx, sh

HERE = os.path.dirname(os.path.abspath(__file__))

GW_UNDERLAY, APP_IP = "10.71.0.1", "10.71.0.2"
GW_CRAFT = "10.71.0.3"           # the GWLB namespace's address for Scapy-crafted GENEVE
G_CLIENT4, G_CLIENT6 = "10.71.1.10", "fd71:1::10"
G_SERVER4, G_SERVER6 = "10.71.2.20", "fd71:2::20"
R_CLIENT4, R_CLIENT6 = "10.72.1.10", "fd72:1::10"
R_SERVER4, R_SERVER6 = "10.72.2.20", "fd72:2::20"
R_FAR4 = "10.72.3.20"            # behind the server, reached through --route ... via it
R_APP0_4, R_APP0_6, R_APP1_4, R_APP1_6 = "10.72.1.1", "fd72:1::1", "10.72.2.1", "fd72:2::1"
ENDPOINT, ATTACHMENT = "0123456789abcdef", "1122334455667788"
HEALTH_PORT = 8080
EXC_PORT = 2222                  # the kernel's own service (an "SSH") behind the exception port


class VpcTopology(harness.Topology):
    """harness.Topology's processes, markers and teardown with other namespaces and links."""

    def __init__(self, workdir, kind):
        super().__init__(workdir)
        p = self.pid
        self.kind = kind
        if kind == "geneve":
            self.ns_client, self.ns_gw, self.ns_app, self.ns_server = (
                "gc%d" % p, "gw%d" % p, "ga%d" % p, "gs%d" % p)
            self.if_client, self.if_gwc = "c%d" % p, "k%d" % p
            self.if_server, self.if_gws = "s%d" % p, "v%d" % p
            self.if_under, self.if_app = "u%d" % p, "a%d" % p
        else:
            self.ns_client, self.ns_app, self.ns_server = "rc%d" % p, "ra%d" % p, "rs%d" % p
            self.ns_gw = None
            self.if_client, self.if_in = "c%d" % p, "i%d" % p
            self.if_server, self.if_out = "s%d" % p, "o%d" % p
        self.if_exc = "x%d" % p
        # the kernel side of the exception port: a namespace of its own, as on a real
        # appliance the kernel never sees the data ports (here they are veths it would see)
        self.ns_kern = ("gk%d" if kind == "geneve" else "rk%d") % p

    def namespaces(self):
        return [n for n in (self.ns_client, self.ns_gw, self.ns_app, self.ns_server, self.ns_kern)
                if n]

    def _write_marker(self):
        os.makedirs(harness.MARKER_DIR, exist_ok=True)
        data = {"pid": self.pid, "netns": self.namespaces(), "procs": [pr.pid for pr in self.procs]}
        with open(self.marker + ".tmp", "w") as f:
            json.dump(data, f)
        os.replace(self.marker + ".tmp", self.marker)

    def veth_ends(self):
        if self.kind == "geneve":
            return [(self.ns_client, self.if_client), (self.ns_gw, self.if_gwc),
                    (self.ns_server, self.if_server), (self.ns_gw, self.if_gws),
                    (self.ns_gw, self.if_under), (self.ns_app, self.if_app)]
        return [(self.ns_client, self.if_client), (self.ns_app, self.if_in),
                (self.ns_app, self.if_out), (self.ns_server, self.if_server)]

    def app_ends(self):
        return [self.if_app] if self.kind == "geneve" else [self.if_in, self.if_out]

    def up(self):
        self.gc_dead_runs()
        self.created = True
        self._write_marker()
        for ns in self.namespaces():
            sh(["ip", "netns", "add", ns])
            sh(nsx(ns, ["ip", "link", "set", "lo", "up"]))
        if self.kind == "geneve":
            self._up_geneve()
        else:
            self._up_routed()
        for ns, ifn in self.veth_ends():
            sh(nsx(ns, ["ethtool", "-K", ifn, "tx", "off", "tso", "off", "gso", "off", "gro", "off"]))
            sh(nsx(ns, ["ip", "link", "set", ifn, "up"]))
        self.assert_hygiene()
        harness.log("%s topology up: %s" % (self.kind, " ".join(self.namespaces())))

    def _veth(self, a, ns_a, b, ns_b, mtu=None):
        sh(["ip", "link", "add", a, "netns", ns_a, "type", "veth", "peer", "name", b, "netns", ns_b])
        if mtu:
            sh(nsx(ns_a, ["ip", "link", "set", a, "mtu", str(mtu)]))
            sh(nsx(ns_b, ["ip", "link", "set", b, "mtu", str(mtu)]))

    def _addr(self, ns, ifn, *addrs):
        for a in addrs:
            if ":" in a:
                sh(nsx(ns, ["ip", "-6", "addr", "add", a, "dev", ifn, "nodad"]))
            else:
                sh(nsx(ns, ["ip", "addr", "add", a, "dev", ifn]))

    def _no_dad(self, ns):
        for k in ("all", "default"):
            sh(nsx(ns, ["sysctl", "-qw", "net.ipv6.conf.%s.accept_dad=0" % k]))

    def _app_ns_quiet(self):
        for key in ["all", "default"] + self.app_ends():
            sh(nsx(self.ns_app, ["sysctl", "-qw", "net.ipv6.conf.%s.disable_ipv6=1" % key]))

    def _up_geneve(self):
        self._veth(self.if_client, self.ns_client, self.if_gwc, self.ns_gw, 8500)
        self._veth(self.if_server, self.ns_server, self.if_gws, self.ns_gw, 8500)
        self._veth(self.if_under, self.ns_gw, self.if_app, self.ns_app, 9000)
        self._app_ns_quiet()
        for ns in (self.ns_client, self.ns_server, self.ns_gw):
            self._no_dad(ns)
        for k in ("net.ipv4.ip_forward=0", "net.ipv6.conf.all.forwarding=0"):
            sh(nsx(self.ns_gw, ["sysctl", "-qw", k]))
        self._addr(self.ns_gw, self.if_gwc, "10.71.1.1/24", "fd71:1::1/64")
        self._addr(self.ns_gw, self.if_gws, "10.71.2.1/24", "fd71:2::1/64")
        self._addr(self.ns_gw, self.if_under, GW_UNDERLAY + "/24", GW_CRAFT + "/24")
        self._addr(self.ns_client, self.if_client, G_CLIENT4 + "/24", G_CLIENT6 + "/64")
        self._addr(self.ns_server, self.if_server, G_SERVER4 + "/24", G_SERVER6 + "/64")
        for ns, ifn in ((self.ns_client, self.if_client), (self.ns_server, self.if_server)):
            sh(nsx(ns, ["ip", "link", "set", ifn, "up"]))
        sh(nsx(self.ns_client, ["ip", "route", "add", "default", "via", "10.71.1.1"]))
        sh(nsx(self.ns_client, ["ip", "-6", "route", "add", "default", "via", "fd71:1::1"]))
        sh(nsx(self.ns_server, ["ip", "route", "add", "default", "via", "10.71.2.1"]))
        sh(nsx(self.ns_server, ["ip", "-6", "route", "add", "default", "via", "fd71:2::1"]))

    def _up_routed(self):
        self._veth(self.if_client, self.ns_client, self.if_in, self.ns_app)
        self._veth(self.if_server, self.ns_server, self.if_out, self.ns_app)
        self._app_ns_quiet()
        for ns in (self.ns_client, self.ns_server):
            self._no_dad(ns)
        self._addr(self.ns_client, self.if_client, R_CLIENT4 + "/24", R_CLIENT6 + "/64")
        self._addr(self.ns_server, self.if_server, R_SERVER4 + "/24", R_SERVER6 + "/64")
        self._addr(self.ns_server, "lo", R_FAR4 + "/32")
        for ns, ifn in ((self.ns_client, self.if_client), (self.ns_server, self.if_server)):
            sh(nsx(ns, ["ip", "link", "set", ifn, "up"]))
        sh(nsx(self.ns_client, ["ip", "route", "add", "default", "via", R_APP0_4]))
        sh(nsx(self.ns_client, ["ip", "-6", "route", "add", "default", "via", R_APP0_6]))
        sh(nsx(self.ns_server, ["ip", "route", "add", "default", "via", R_APP1_4]))
        sh(nsx(self.ns_server, ["ip", "-6", "route", "add", "default", "via", R_APP1_6]))

    def assert_hygiene(self):
        for ns, ifn in self.veth_ends():
            out = sh(nsx(ns, ["ethtool", "-k", ifn])).stdout
            feats = dict(re.findall(r"^([a-z0-9-]+): (on|off)", out, re.M))
            for feat in harness.OFFLOADS:
                if feats.get(feat) != "off":
                    raise HarnessError("%s/%s: %s is %s, must be off" % (ns, ifn, feat, feats.get(feat)))
        for ifn in self.app_ends():
            addrs = json.loads(sh(nsx(self.ns_app, ["ip", "-j", "addr", "show", "dev", ifn])).stdout)
            if addrs and addrs[0].get("addr_info"):
                raise HarnessError("appliance end %s has addresses" % ifn)

    def down(self):
        errors = []
        for pr in reversed(self.procs):
            try:
                pr.stop()
            except Exception as e:
                errors.append("%s: %s" % (pr.name, e))
        if self.created:
            for ns in self.namespaces():
                sh(["ip", "netns", "del", ns], check=False)
            out = sh(["ip", "netns", "list"], check=False).stdout
            left = set(self.namespaces()) & {l.split()[0] for l in out.splitlines() if l.strip()}
            if left:
                errors.append("namespaces left behind: %s" % sorted(left))
        with contextlib.suppress(OSError):
            os.unlink(self.marker)
        if errors:
            raise HarnessError("; ".join(errors))
        harness.log("topology down")


def log_size(topo, name):
    """Characters already in a process log (Proc appends when a process is started again)."""
    try:
        with open(os.path.join(topo.workdir, name + ".log"), "rb") as f:
            return len(f.read().decode("utf-8", "replace"))
    except FileNotFoundError:
        return 0


class VpcAppliance(harness.Appliance):
    """chokepointd + chokepoint-dp in geneve or routed mode; either can start first."""

    def __init__(self, topo, config_text, workers=1):
        super().__init__(topo, config_text, workers)
        self.dp_args = []

    def start_cpd(self):
        self.check_binaries()
        chk = sh([harness.bin_cpd(), "--check", self.conf], check=False)
        if chk.returncode != 0:
            raise HarnessError("chokepointd --check: %s%s" % (chk.stdout, chk.stderr))
        self.start_policy = re.search(r"policy (sha256:[0-9a-f]{64})", chk.stdout).group(1)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.dp_sock)
        skip = log_size(self.topo, "chokepointd")
        self.cpd = self.topo.spawn("chokepointd", None,
                                   [harness.bin_cpd(), "-c", self.conf, "--dp-socket", self.dp_sock,
                                    "--ctl-socket", self.ctl_sock, "--audit", self.audit])
        deadline = time.monotonic() + 10
        while "listening" not in self.cpd.output()[skip:]:
            if not self.cpd.alive() or time.monotonic() > deadline:
                raise HarnessError("chokepointd did not start:\n" + self.cpd.tail())
            time.sleep(0.05)

    def stop_cpd(self):
        code = self.cpd.stop()
        self.cpd = None
        return code

    def dp_argv(self, extra=()):
        t = self.topo
        # lcore i on CPU i % ncpu: more workers than CPUs is fine with the idle back-off
        ncpu = os.cpu_count() or 1
        lcores = ",".join("%d@%d" % (i, i % ncpu) for i in range(self.workers + 1))
        argv = [harness.bin_dp(), "--lcores", lcores, "--no-huge", "-m", "512",
                "--no-pci", "--file-prefix", "cp-%d" % t.pid]
        if t.kind == "geneve":
            # pcap PMD on the live veth: jumbo frames (af_packet in 22.11 stops at 1518)
            argv += ["--vdev", "net_pcap0,rx_iface_in=%s,tx_iface=%s" % (t.if_app, t.if_app),
                     "--vdev", "net_tap0,iface=%s" % t.if_exc,
                     "--", "--mode", "geneve", "--addr", "0:%s/24" % APP_IP,
                     "--route", "0.0.0.0/0:0:%s" % GW_UNDERLAY]
        else:
            q = self.workers
            argv += ["--vdev", "net_af_packet0,iface=%s,qpairs=%d" % (t.if_in, q),
                     "--vdev", "net_af_packet1,iface=%s,qpairs=%d" % (t.if_out, q),
                     "--vdev", "net_tap0,iface=%s" % t.if_exc,
                     "--", "--mode", "routed",
                     "--addr", "0:%s/24" % R_APP0_4, "--addr", "0:%s/64" % R_APP0_6,
                     "--addr", "1:%s/24" % R_APP1_4, "--addr", "1:%s/64" % R_APP1_6,
                     "--route", "10.72.3.0/24:1:%s" % R_SERVER4]
        argv += ["--exception-port", "1" if t.kind == "geneve" else "2",
                 "--health-port", str(HEALTH_PORT), "--ctl", self.dp_sock]
        return argv + list(extra)

    def start_dp(self, extra=()):
        t = self.topo
        skip = log_size(t, "chokepoint-dp")       # a restart appends to the same log
        self.dp = t.spawn("chokepoint-dp", t.ns_app, self.dp_argv(extra))
        deadline = time.monotonic() + 20
        while "running: mode" not in self.dp.output()[skip:]:
            if not self.dp.alive() or time.monotonic() > deadline:
                raise HarnessError("chokepoint-dp did not start:\n" + self.dp.tail(30))
            time.sleep(0.05)
        self.kernel_side()

    def kernel_side(self):
        """The exception port's kernel interface, moved to its own namespace: the
        appliance's addresses, up."""
        t = self.topo
        sh(nsx(t.ns_app, ["ip", "link", "set", t.if_exc, "netns", t.ns_kern]))
        if t.kind == "geneve":
            addrs = [APP_IP + "/24"]
        else:
            addrs = [R_APP0_4 + "/24", R_APP1_4 + "/24"]
        for a in addrs:
            sh(nsx(t.ns_kern, ["ip", "addr", "replace", a, "dev", t.if_exc]))
        if t.kind == "routed":
            for a in (R_APP0_6 + "/64", R_APP1_6 + "/64"):
                sh(nsx(t.ns_kern, ["ip", "-6", "addr", "replace", a, "dev", t.if_exc, "nodad"]))
        sh(nsx(t.ns_kern, ["ip", "link", "set", t.if_exc, "up"]))
        if t.kind == "geneve":
            sh(nsx(t.ns_kern, ["ip", "route", "replace", "default", "via", GW_UNDERLAY]))

    def stop_dp(self):
        code = self.dp.stop()
        self.dp = None
        harness.remove_dpdk_runtime("cp-%d" % self.topo.pid)
        return code

    def start(self, extra=()):
        self.start_cpd()
        self.start_dp(extra)
        self.wait_ready()

    def stop(self):
        codes = {}
        for pr in (self.dp, self.cpd):
            if pr is not None:
                codes[pr.name] = pr.stop()
        harness.remove_dpdk_runtime("cp-%d" % self.topo.pid)
        return codes

    def counters(self):
        """The dataplane's totals from chokepointctl status --json."""
        st = self.status_json()
        return {k.split(".", 2)[2]: v for k, v in harness.counters(st).items()
                if k.startswith("dataplane.totals.")}


class VpcEnv(harness.Teardown):
    """Topology + PKI + nginx + appliance (+ gwlb.py); a context manager that always tears down."""

    def __init__(self, kind, config_text, workers=1, dp_extra=(), gwlb_args=(), autostart=True):
        import tempfile
        self.kind = kind
        self.workdir = tempfile.mkdtemp(prefix="chokepoint-vpc-%d-" % os.getpid())
        self.topo = VpcTopology(self.workdir, kind)
        self.pki = harness.Pki(os.path.join(self.workdir, "pki"))
        self.nginx = harness.Nginx(self.topo, self.pki)
        self.appliance = VpcAppliance(self.topo, config_text, workers)
        self.dp_extra = list(dp_extra)
        self.gwlb_args = list(gwlb_args)
        self.autostart = autostart
        self.gwlb = None
        self.stats_path = os.path.join(self.workdir, "gwlb.json")
        self.keep = os.environ.get("CHOKEPOINT_IT_KEEP") == "1"
        self._old_term = None
        self._port = 31000

    def port(self):
        self._port += 1
        return self._port

    def start(self):
        self.pki.generate()
        self.topo.up()
        self.nginx.start()
        if self.kind == "geneve":
            self.start_gwlb()
        if self.autostart:
            self.appliance.start(self.dp_extra)

    def start_gwlb(self, extra=()):
        t = self.topo
        args = [PY, os.path.join(HERE, "gwlb.py"), "--underlay", GW_UNDERLAY,
                "--appliance", APP_IP, "--ifaces", "%s,%s" % (t.if_gwc, t.if_gws),
                "--own", "10.71.1.1,10.71.2.1,fd71:1::1,fd71:2::1,%s" % GW_UNDERLAY,
                "--endpoint", ENDPOINT, "--attachment", ATTACHMENT,
                "--stats", self.stats_path] + self.gwlb_args + list(extra)
        for ns, ifn, gw_if, ips in ((t.ns_client, t.if_client, t.if_gwc, (G_CLIENT4, G_CLIENT6)),
                                    (t.ns_server, t.if_server, t.if_gws, (G_SERVER4, G_SERVER6))):
            mac = json.loads(sh(nsx(ns, ["ip", "-j", "link", "show", ifn])).stdout)[0]["address"]
            args += ["--host=%s=%s=%s" % (ip, gw_if, mac) for ip in ips]
        self.gwlb = t.spawn("gwlb", t.ns_gw, args)
        deadline = time.monotonic() + 20
        while "gwlb: ready" not in self.gwlb.output():
            if not self.gwlb.alive() or time.monotonic() > deadline:
                raise HarnessError("gwlb.py did not start:\n" + self.gwlb.tail())
            time.sleep(0.05)

    def gwlb_stats(self):
        with open(self.stats_path) as f:
            return json.load(f)

    def logs(self):
        return "\n".join("--- %s ---\n%s" % (p.name, p.tail(20)) for p in self.topo.procs)

    # -- clients

    def run(self, ns, argv, timeout=60, **kw):
        return sh(nsx(ns, argv), check=False, timeout=timeout, **kw)

    def curl(self, name, ip, scheme="https", path="/", sport=None, timeout=10, extra=(), ns=None):
        sport = sport or self.port()
        port = 443 if scheme == "https" else 80
        ipr = "[%s]" % ip if ":" in ip else ip
        body = os.path.join(self.workdir, "curl-%d.body" % sport)
        argv = ["curl", "-sS", "--max-time", str(timeout), "--connect-timeout", "5",
                "--local-port", str(sport), "-o", body, "-w", "%{http_code}",
                "--resolve", "%s:%d:%s" % (name, port, ipr), "--noproxy", "*"]
        if scheme == "https":
            argv += ["--cacert", self.pki.ca]
        argv += list(extra) + ["%s://%s:%d%s" % (scheme, name, port, path)]
        t0 = time.monotonic()
        p = self.run(ns or self.topo.ns_client, argv, timeout=timeout + 10)
        ms = (time.monotonic() - t0) * 1000
        data = b""
        if os.path.exists(body):
            with open(body, "rb") as f:
                data = f.read()
            os.unlink(body)
        res = {"rc": p.returncode, "code": p.stdout.strip(), "body": data,
               "err": p.stderr.strip(), "ms": ms, "sport": sport}
        harness.log("curl %s://%s (%s) sport %d -> rc %d code %s %.0f ms %s" % (
            scheme, name, ip, sport, p.returncode, res["code"], ms, res["err"]))
        return res

    def health(self, ns, ip=None, path="/healthz", timeout=3):
        """GET the health endpoint from ns: (rc, http code, body)."""
        ip = ip or (APP_IP if self.kind == "geneve" else R_APP0_4)
        ipr = "[%s]" % ip if ":" in ip else ip
        p = self.run(ns, ["curl", "-sS", "--max-time", str(timeout), "-w", "\n%{http_code}",
                          "http://%s:%d%s" % (ipr, HEALTH_PORT, path)], timeout=timeout + 5)
        body, _, code = p.stdout.rpartition("\n")
        return p.returncode, code.strip(), body


# A service of the appliance's kernel (behind the exception port): "kernel: DATA from PEER".
KERNEL_SERVICE = r"""
import socket, sys
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(fam)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
if fam == socket.AF_INET6:
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(8)
while True:
    c, peer = s.accept()
    d = c.recv(100)
    c.sendall(b"kernel: " + d + b" from " + peer[0].replace("::ffff:", "").encode())
    c.close()
"""
KERNEL_CLIENT = r"""
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
s.sendall(b"hello")
print(s.recv(200).decode())
"""

FREEZER = r"""
import ctypes, os, sys, time
PTRACE_SEIZE, PTRACE_INTERRUPT = 0x4206, 0x4207
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
tid, secs = int(sys.argv[1]), float(sys.argv[2])
if libc.ptrace(PTRACE_SEIZE, tid, None, None) != 0 or libc.ptrace(PTRACE_INTERRUPT, tid, None, None) != 0:
    sys.exit("ptrace: %s" % os.strerror(ctypes.get_errno()))
os.waitpid(tid, 0x40000000)          # __WALL: the thread is in a ptrace stop
print("frozen", tid, flush=True)
time.sleep(secs)                     # exiting detaches: the thread runs again
"""


def worker_threads(pid):
    """{worker index: tid} of a chokepoint-dp process (EAL 22.11 names lcore N rte-worker-N)."""
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
            m = re.fullmatch(r"(?:lcore|rte)-worker-(\d+)", f.read().strip())
        if m:
            out[int(m.group(1)) - 1] = int(tid)
    return out


def freeze_thread(topo, tid, seconds):
    """Stop one thread (not its process) for seconds with ptrace; returns the Proc."""
    pr = topo.spawn("freeze-%d" % tid, None, [PY, "-c", FREEZER, str(tid), str(seconds)])
    deadline = time.monotonic() + 5
    while "frozen" not in pr.output():
        if not pr.alive() or time.monotonic() > deadline:
            raise HarnessError("cannot freeze thread %d:\n%s" % (tid, pr.tail()))
        time.sleep(0.02)
    return pr
