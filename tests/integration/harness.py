# SPDX-License-Identifier: BSD-3-Clause
"""Integration harness: a bump-in-the-wire topology built from network
namespaces, veth pairs, real servers (nginx, python) and real clients (curl,
openssl s_client, python ssl), with chokepoint-dp + chokepointd in the middle.

    client netns ch<pid>          appliance netns ap<pid>           server netns sv<pid>
    c<pid> 10.77.1.10/24  <-veth->  i<pid>  [chokepoint-dp]  o<pid>  <-veth->  s<pid> 10.77.1.20/24
           fd77:1::10/64            (no addresses, IPv6 off)              10.77.1.30/24 (trusted)
                                                                          fd77:1::20/64 fd77:1::30/64

Client and server share one L2 segment: the appliance is transparent.
Every resource carries the pid; a marker file under /tmp/chokepoint-it/
lists what a run created, so a run killed with SIGKILL is cleaned by the next
one (only resources of dead pids, only those listed in a marker).

Binaries come from $CHOKEPOINT_BUILD (the meson build dir), sources from
$CHOKEPOINT_SRC. Used by every tests/integration/test_*.py through conftest.py.
"""

import contextlib
import hashlib
import ipaddress
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("CHOKEPOINT_SRC", os.path.abspath(os.path.join(HERE, "..", "..")))
BUILD = os.environ.get("CHOKEPOINT_BUILD", os.path.join(SRC, "build"))
PY = "/usr/bin/python3"
MARKER_DIR = "/tmp/chokepoint-it"

CLIENT4, CLIENT6 = "10.77.1.10", "fd77:1::10"
SERVER4, SERVER6 = "10.77.1.20", "fd77:1::20"
TRUSTED4, TRUSTED6 = "10.77.1.30", "fd77:1::30"

# Names the test CA signs (one server certificate, every name a SAN entry).
CERT_NAMES = [
    "api.openai.com", "api.anthropic.com", "hooks.slack.com",
    "evil.example.net", "docs.example.com", "unlisted.example.org",
    "blocked.example.com",
]

# App server ports (tests/integration/appserver.py), all TLS.
PORT_APP = 8443      # HTTP/1.1: /sse, /upload (sha256 of the body)
PORT_WS = 9443       # websocket echo
PORT_PROBE = 7443    # line echo (numbered probe stream)

OFFLOADS = {  # ethtool -k feature name -> must be "off"
    "tx-checksumming": "tx",
    "tcp-segmentation-offload": "tso",
    "generic-segmentation-offload": "gso",
    "generic-receive-offload": "gro",
}


class HarnessError(RuntimeError):
    pass


def log(*a):
    print("[harness %.3f]" % time.monotonic(), *a, file=sys.stderr, flush=True)


def sh(argv, check=True, timeout=60, **kw):
    """Run argv (a list), capture text output, raise with the output on failure."""
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    kw.setdefault("text", True)
    p = subprocess.run(argv, timeout=timeout, **kw)
    if check and p.returncode != 0:
        raise HarnessError("%s -> exit %d\nstdout: %s\nstderr: %s" % (
            " ".join(map(str, argv)), p.returncode, p.stdout, p.stderr))
    return p


def nsx(ns, argv):
    """argv wrapped to run inside netns ns."""
    return ["ip", "netns", "exec", ns] + list(argv)


def build_path(*parts):
    return os.path.join(BUILD, *parts)


def bin_dp():
    return build_path("dataplane", "chokepoint-dp")


def bin_cpd():
    return build_path("ctrlplane", "chokepointd")


def bin_ctl():
    return build_path("ctrlplane", "chokepointctl")


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# --------------------------------------------------------------------------
# processes


class Proc:
    """A background process in its own session (killed as a group), output to a log file."""

    def __init__(self, name, argv, logpath, env=None, cwd=None, stdin=subprocess.DEVNULL):
        self.name = name
        self.argv = list(argv)
        self.logpath = logpath
        self._log = open(logpath, "ab")
        # stdin=PIPE keeps a process that exits on EOF (testpmd) running until stop()
        self.p = subprocess.Popen(self.argv, stdin=stdin, stdout=self._log,
                                  stderr=subprocess.STDOUT, start_new_session=True,
                                  env=env, cwd=cwd)
        self.pid = self.p.pid
        log("started %s pid %d: %s" % (name, self.pid, " ".join(self.argv)))

    def alive(self):
        return self.p.poll() is None

    def send_signal(self, sig):
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, sig)

    def stop(self, sig=signal.SIGTERM, grace=5.0):
        """Signal the group, wait, SIGKILL what is left; return the exit code."""
        if self.alive():
            self.send_signal(sig)
            try:
                self.p.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                log("%s did not exit after %s, SIGKILL" % (self.name, sig))
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)  # stragglers of the group
        if self.p.poll() is None:
            self.p.wait(timeout=5)
        self._log.close()
        if self.p.stdin:
            self.p.stdin.close()
        return self.p.returncode

    def output(self):
        with open(self.logpath, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def tail(self, n=40):
        return "\n".join(self.output().splitlines()[-n:])


# --------------------------------------------------------------------------
# topology


class Topology:
    """Three namespaces and two veth pairs, named after pid (and prefix, when a test wants
    its names to carry one: netns, veth and the DPDK file prefix)."""

    def __init__(self, workdir, pid=None, prefix=""):
        self.pid = pid or os.getpid()
        p = self.pid
        self.prefix = prefix
        self.workdir = workdir
        self.ns_client, self.ns_server, self.ns_app = (prefix + "ch%d" % p, prefix + "sv%d" % p,
                                                       prefix + "ap%d" % p)
        self.if_client, self.if_in = prefix + "c%d" % p, prefix + "i%d" % p     # client <-> appliance inside
        self.if_server, self.if_out = prefix + "s%d" % p, prefix + "o%d" % p    # server <-> appliance outside
        self.procs = []
        self.extra_netns = []       # made by a test (add_netns): deleted with the others
        self.marker = os.path.join(MARKER_DIR, "%d.json" % p)
        self.created = False

    # -- marker / garbage collection of runs that died without teardown

    def namespaces(self):
        return [self.ns_client, self.ns_server, self.ns_app] + self.extra_netns

    def _write_marker(self):
        os.makedirs(MARKER_DIR, exist_ok=True)
        data = {"pid": self.pid,
                "netns": self.namespaces(),
                "procs": [pr.pid for pr in self.procs], "prefix": self.prefix}
        with open(self.marker + ".tmp", "w") as f:
            json.dump(data, f)
        os.replace(self.marker + ".tmp", self.marker)

    @staticmethod
    def gc_dead_runs():
        """Delete namespaces/processes recorded by harness runs whose pid is gone."""
        if not os.path.isdir(MARKER_DIR):
            return
        for fn in os.listdir(MARKER_DIR):
            m = re.fullmatch(r"(\d+)\.json", fn)
            if not m or pid_alive(int(m.group(1))):
                continue
            path = os.path.join(MARKER_DIR, fn)
            try:
                with open(path) as f:
                    data = json.load(f)
            except (OSError, ValueError):
                data = {}
            for pid in data.get("procs", []):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)
            for ns in data.get("netns", []):
                sh(["ip", "netns", "del", ns], check=False)
            for prefix in ("cp-", "it-"):
                remove_dpdk_runtime(data.get("prefix", "") + prefix + m.group(1))
            log("cleaned leftovers of dead run %s" % m.group(1))
            with contextlib.suppress(OSError):
                os.unlink(path)

    # -- build

    def up(self):
        self.gc_dead_runs()
        self.created = True
        self._write_marker()
        for ns in (self.ns_client, self.ns_server, self.ns_app):
            sh(["ip", "netns", "add", ns])
            sh(nsx(ns, ["ip", "link", "set", "lo", "up"]))
        # veth ends are created directly inside their namespaces
        sh(["ip", "link", "add", self.if_client, "netns", self.ns_client, "type", "veth",
            "peer", "name", self.if_in, "netns", self.ns_app])
        sh(["ip", "link", "add", self.if_server, "netns", self.ns_server, "type", "veth",
            "peer", "name", self.if_out, "netns", self.ns_app])
        # appliance side: IPv6 off (no link-local, no ND from the appliance), no addresses
        for key in ("all", "default", self.if_in, self.if_out):
            sh(nsx(self.ns_app, ["sysctl", "-qw", "net.ipv6.conf.%s.disable_ipv6=1" % key]))
        for ns, ifn in ((self.ns_client, self.if_client), (self.ns_server, self.if_server)):
            sh(nsx(ns, ["sysctl", "-qw", "net.ipv6.conf.%s.accept_dad=0" % ifn]))
            sh(nsx(ns, ["sysctl", "-qw", "net.ipv6.conf.default.accept_dad=0"]))
        for ns, ifn in self.veth_ends():
            sh(nsx(ns, ["ethtool", "-K", ifn, "tx", "off", "tso", "off", "gso", "off",
                        "gro", "off"]))
            sh(nsx(ns, ["ip", "link", "set", ifn, "up"]))
        sh(nsx(self.ns_client, ["ip", "addr", "add", CLIENT4 + "/24", "dev", self.if_client]))
        sh(nsx(self.ns_client, ["ip", "-6", "addr", "add", CLIENT6 + "/64", "dev",
                                self.if_client, "nodad"]))
        for a in (SERVER4, TRUSTED4):
            sh(nsx(self.ns_server, ["ip", "addr", "add", a + "/24", "dev", self.if_server]))
        for a in (SERVER6, TRUSTED6):
            sh(nsx(self.ns_server, ["ip", "-6", "addr", "add", a + "/64", "dev",
                                    self.if_server, "nodad"]))
        self.assert_hygiene()
        log("topology up: %s %s %s" % (self.ns_client, self.ns_app, self.ns_server))

    def veth_ends(self):
        return [(self.ns_client, self.if_client), (self.ns_app, self.if_in),
                (self.ns_app, self.if_out), (self.ns_server, self.if_server)]

    def assert_hygiene(self):
        """Offloads off on every veth end; appliance ends have no address and no IPv6."""
        for ns, ifn in self.veth_ends():
            out = sh(nsx(ns, ["ethtool", "-k", ifn])).stdout
            feats = dict(re.findall(r"^([a-z0-9-]+): (on|off)", out, re.M))
            for feat in OFFLOADS:
                if feats.get(feat) != "off":
                    raise HarnessError("%s/%s: %s is %s, must be off" % (ns, ifn, feat, feats.get(feat)))
        for ifn in (self.if_in, self.if_out):
            addrs = json.loads(sh(nsx(self.ns_app, ["ip", "-j", "addr", "show", "dev", ifn])).stdout)
            infos = addrs[0].get("addr_info", []) if addrs else []
            if infos:
                raise HarnessError("appliance end %s has addresses: %s" % (ifn, infos))
            v = sh(nsx(self.ns_app, ["sysctl", "-n", "net.ipv6.conf.%s.disable_ipv6" % ifn])).stdout.strip()
            if v != "1":
                raise HarnessError("appliance end %s: IPv6 not disabled" % ifn)

    # -- processes

    def spawn(self, name, ns, argv, env=None, cwd=None, stdin=subprocess.DEVNULL):
        argv = nsx(ns, argv) if ns else list(argv)
        pr = Proc(name, argv, os.path.join(self.workdir, name + ".log"), env=env, cwd=cwd,
                  stdin=stdin)
        self.procs.append(pr)
        self._write_marker()
        return pr

    def run(self, ns, argv, check=False, timeout=60, **kw):
        return sh(nsx(ns, argv), check=check, timeout=timeout, **kw)

    def tcp_counters(self, ns):
        """The netns's TCP MIB (RetransSegs, ...) from /proc/net/snmp as read inside it."""
        out = sh(nsx(ns, ["cat", "/proc/net/snmp"])).stdout
        lines = [l.split() for l in out.splitlines() if l.startswith("Tcp:")]
        return {k: int(v) for k, v in zip(lines[0][1:], lines[1][1:])}

    def wait_listen(self, ns, port, timeout=15.0, proc=None):
        """Wait until something listens on TCP port in ns."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            out = sh(nsx(ns, ["ss", "-Htln", "sport = :%d" % port]), check=False).stdout
            if out.strip():
                return
            if proc is not None and not proc.alive():
                raise HarnessError("%s exited while starting:\n%s" % (proc.name, proc.tail()))
            time.sleep(0.05)
        raise HarnessError("nothing listens on %s:%d after %ss" % (ns, port, timeout))

    @contextlib.contextmanager
    def capture(self, ns, ifname, name="capture"):
        """tcpdump on ifname inside ns for the duration of the with-block; yields a dict
        whose "data" is the raw pcap bytes after the block."""
        path = os.path.join(self.workdir, name + ".pcap")
        pr = self.spawn(name, ns, ["tcpdump", "-i", ifname, "--immediate-mode", "-U", "-n",
                                   "-s", "0", "-w", path])
        deadline = time.monotonic() + 10
        while "listening on" not in pr.output():
            if not pr.alive() or time.monotonic() > deadline:
                raise HarnessError("tcpdump did not start:\n" + pr.tail())
            time.sleep(0.05)
        res = {"path": path, "data": b""}
        try:
            yield res
        finally:
            time.sleep(0.2)
            pr.stop(signal.SIGINT)
            with open(path, "rb") as f:
                res["data"] = f.read()

    # -- teardown

    def down(self):
        errors = []
        for pr in reversed(self.procs):
            try:
                pr.stop()
            except Exception as e:  # keep tearing down
                errors.append("%s: %s" % (pr.name, e))
        if self.created:
            for ns in [self.ns_client, self.ns_server, self.ns_app] + self.extra_netns:
                sh(["ip", "netns", "del", ns], check=False)
            left = self.leftovers()
            if left:
                errors.append("namespaces left behind: %s" % left)
        with contextlib.suppress(OSError):
            os.unlink(self.marker)
        if errors:
            raise HarnessError("; ".join(errors))
        log("topology down")

    def add_netns(self, ns):
        """One more namespace for a test (its name should carry the prefix): recorded in
        the marker before it exists, deleted by down() after the processes stop."""
        self.extra_netns.append(ns)
        self._write_marker()
        sh(["ip", "netns", "add", ns])
        sh(nsx(ns, ["ip", "link", "set", "lo", "up"]))

    def leftovers(self):
        mine = {self.ns_client, self.ns_server, self.ns_app} | set(self.extra_netns)
        out = sh(["ip", "netns", "list"], check=False).stdout
        return sorted(mine & {l.split()[0] for l in out.splitlines() if l.strip()})


# --------------------------------------------------------------------------
# PKI


class Pki:
    """A throwaway CA and one server certificate carrying every test name."""

    def __init__(self, d, names=CERT_NAMES):
        self.dir = d
        os.makedirs(d, exist_ok=True)
        self.ca = os.path.join(d, "ca.pem")
        self.ca_key = os.path.join(d, "ca.key")
        self.cert = os.path.join(d, "server.pem")
        self.key = os.path.join(d, "server.key")
        self.names = list(names)

    def generate(self):
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        sh(["openssl", "req", "-x509", "-sha256", "-days", "2", "-subj", "/CN=chokepoint test CA",
            "-keyout", self.ca_key, "-out", self.ca,
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign"] + ec)
        csr = os.path.join(self.dir, "server.csr")
        sh(["openssl", "req", "-new", "-subj", "/CN=" + self.names[0], "-keyout", self.key,
            "-out", csr] + ec)
        ext = os.path.join(self.dir, "server.ext")
        with open(ext, "w") as f:
            f.write("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                    "extendedKeyUsage=serverAuth\nsubjectAltName=%s\n"
                    % ",".join("DNS:" + n for n in self.names))
        sh(["openssl", "x509", "-req", "-sha256", "-days", "2", "-in", csr, "-CA", self.ca,
            "-CAkey", self.ca_key, "-CAcreateserial", "-out", self.cert, "-extfile", ext])
        return self


# --------------------------------------------------------------------------
# servers


NGINX_CONF = """\
daemon off;
master_process on;
worker_processes 1;
user root root;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 256; }}
http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    default_type text/plain;
    ssl_certificate {cert};
    ssl_certificate_key {key};
    ssl_protocols TLSv1.2 TLSv1.3;
    client_max_body_size 128m;
    # unknown names: 421, so a test can tell "reached the right vhost" from "reached nginx"
    server {{
        listen 80 default_server; listen [::]:80 default_server;
        listen 443 ssl default_server; listen [::]:443 ssl default_server;
        server_name _;
        return 421 "no vhost\\n";
    }}
{vhosts}
}}
"""

NGINX_VHOST = """\
    server {{
        listen 80; listen [::]:80;
        listen 443 ssl; listen [::]:443 ssl;
        server_name {name};
        root {www};
        location = / {{ return 200 "ok {name}\\n"; }}
        location /files/ {{ }}
        location /upload/ {{
            dav_methods PUT;
            create_full_put_path on;
            client_body_temp_path {d}/client_body;
        }}
    }}
"""


class Nginx:
    """nginx in the server netns: one vhost per test name, HTTP on 80, TLS on 443, v4 + v6.
    GET / answers "ok NAME"; /files/ serves {www}/files; PUT /upload/X stores {www}/upload/X."""

    def __init__(self, topo, pki, names=CERT_NAMES):
        self.topo = topo
        self.dir = os.path.join(topo.workdir, "nginx")
        self.www = os.path.join(self.dir, "www")
        self.conf = os.path.join(self.dir, "nginx.conf")
        self.pki = pki
        self.names = names
        self.proc = None

    def start(self):
        for sub in ("", "client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        os.makedirs(os.path.join(self.www, "files"), exist_ok=True)
        os.makedirs(os.path.join(self.www, "upload"), exist_ok=True)
        vhosts = "".join(NGINX_VHOST.format(name=n, www=self.www, d=self.dir) for n in self.names)
        with open(self.conf, "w") as f:
            f.write(NGINX_CONF.format(d=self.dir, cert=self.pki.cert, key=self.pki.key,
                                      vhosts=vhosts))
        sh(["nginx", "-t", "-q", "-c", self.conf, "-e", os.path.join(self.dir, "error.log")])
        self.proc = self.topo.spawn("nginx", self.topo.ns_server,
                                    ["nginx", "-c", self.conf, "-e",
                                     os.path.join(self.dir, "error.log")])
        self.topo.wait_listen(self.topo.ns_server, 443, proc=self.proc)
        self.topo.wait_listen(self.topo.ns_server, 80, proc=self.proc)

    def write_file(self, rel, data):
        path = os.path.join(self.www, "files", rel)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def uploaded(self, rel):
        return os.path.join(self.www, "upload", rel)


class AppServer:
    """tests/integration/appserver.py in the server netns: SSE + upload, websocket echo,
    line echo, all TLS with the test certificate, v4 and v6."""

    def __init__(self, topo, pki):
        self.topo, self.pki, self.proc = topo, pki, None

    def start(self):
        self.proc = self.topo.spawn("appserver", self.topo.ns_server,
                                    [PY, os.path.join(HERE, "appserver.py"),
                                     "--cert", self.pki.cert, "--key", self.pki.key,
                                     "--app-port", str(PORT_APP), "--ws-port", str(PORT_WS),
                                     "--probe-port", str(PORT_PROBE)])
        for port in (PORT_APP, PORT_WS, PORT_PROBE):
            self.topo.wait_listen(self.topo.ns_server, port, proc=self.proc)


# --------------------------------------------------------------------------
# the appliance under test


def libconfig_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def libconfig_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return libconfig_str(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(libconfig_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + " ".join("%s = %s;" % (k, libconfig_value(x)) for k, x in v.items()) + " }"
    raise TypeError(v)


def render_config(mode="enforce", default="deny", rules=(), trusted=(), internal=None,
                  audit_path=None, extra=None):
    """A chokepoint libconfig policy (docs/configuration.md)."""
    out = ["# written by tests/integration/harness.py",
           "mode = %s;" % libconfig_str(mode),
           "default = %s;" % libconfig_str(default)]
    if internal is not None:
        out.append("internal = %s;" % libconfig_value(list(internal)))
    if trusted:
        out.append("trusted = %s;" % libconfig_value(list(trusted)))
    for k, v in (extra or {}).items():
        out.append("%s = %s;" % (k, libconfig_value(v)))
    out.append("rules = (")
    out.append(",\n".join("  " + libconfig_value(r) for r in rules))
    out.append(");")
    if audit_path:
        out.append("audit = { path = %s; };" % libconfig_str(audit_path))
    return "\n".join(out) + "\n"


class Appliance:
    """chokepointd (root netns) + chokepoint-dp (appliance netns), sockets and audit under workdir."""

    kind = "chokepoint"

    def __init__(self, topo, config_text, workers=1):
        self.topo = topo
        d = topo.workdir
        self.conf = os.path.join(d, "chokepoint.conf")
        self.dp_sock = os.path.join(d, "dp.sock")
        self.ctl_sock = os.path.join(d, "ctl.sock")
        self.audit = os.path.join(d, "audit.jsonl")
        self.workers = workers
        self.cpd = self.dp = None
        self.write_config(config_text)

    def write_config(self, text):
        with open(self.conf + ".tmp", "w") as f:
            f.write(text)
        os.replace(self.conf + ".tmp", self.conf)

    def check_binaries(self):
        missing = [b for b in (bin_dp(), bin_cpd(), bin_ctl()) if not os.access(b, os.X_OK)]
        if missing:
            raise HarnessError("not built: %s (CHOKEPOINT_BUILD=%s)" % (", ".join(missing), BUILD))

    def start(self):
        self.check_binaries()
        chk = sh([bin_cpd(), "--check", self.conf], check=False)
        if chk.returncode != 0:
            raise HarnessError("chokepointd --check rejects the test config:\n%s%s\n%s" % (
                chk.stdout, chk.stderr, open(self.conf).read()))
        m = re.search(r"policy (sha256:[0-9a-f]{64})", chk.stdout)
        if not m:
            raise HarnessError("chokepointd --check printed no policy hash: %r" % chk.stdout)
        self.start_policy = m.group(1)
        self.cpd = self.topo.spawn("chokepointd", None,
                                   [bin_cpd(), "-c", self.conf, "--dp-socket", self.dp_sock,
                                    "--ctl-socket", self.ctl_sock, "--audit", self.audit])
        deadline = time.monotonic() + 10
        while not (os.path.exists(self.dp_sock) and os.path.exists(self.ctl_sock)):
            if not self.cpd.alive():
                raise HarnessError("chokepointd exited:\n" + self.cpd.tail())
            if time.monotonic() > deadline:
                raise HarnessError("chokepointd made no sockets in 10 s:\n" + self.cpd.tail())
            time.sleep(0.05)
        t = self.topo
        lcores = "0-%d" % self.workers
        self.dp = t.spawn("chokepoint-dp", t.ns_app,
                          [bin_dp(), "-l", lcores, "--no-huge", "-m", "512", "--no-pci",
                           "--file-prefix", "%scp-%d" % (t.prefix, t.pid),
                           "--vdev", "net_af_packet0,iface=%s,qpairs=%d" % (t.if_in, self.workers),
                           "--vdev", "net_af_packet1,iface=%s,qpairs=%d" % (t.if_out, self.workers),
                           "--", "--mode", "wire", "--ctl", self.dp_sock])
        self.wait_ready()

    # -- control

    def ctl(self, *args, check=False, timeout=30):
        return sh([bin_ctl(), "--socket", self.ctl_sock] + list(args), check=check, timeout=timeout)

    def status_json(self):
        p = self.ctl("status", "--json")
        if p.returncode != 0:
            raise HarnessError("chokepointctl status --json -> %d: %s%s" % (p.returncode, p.stdout, p.stderr))
        return json.loads(p.stdout)

    def wait_ready(self, generation=1, timeout=30.0):
        """Until chokepointctl status says the dataplane runs policy generation >= N."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            for pr in (self.cpd, self.dp):
                if not pr.alive():
                    raise HarnessError("%s exited (%s):\n%s" % (pr.name, pr.p.returncode, pr.tail()))
            try:
                st = self.status_json()
                last = st
                gen = dp_generation(st)
                if gen is not None and gen >= generation:
                    log("appliance ready: dataplane at policy generation %d" % gen)
                    return st
            except (HarnessError, ValueError) as e:
                last = str(e)
            time.sleep(0.2)
        raise HarnessError("dataplane not at policy generation %d after %ss; last status: %s\n"
                           "chokepointd:\n%s\nchokepoint-dp:\n%s" % (
                               generation, timeout, last, self.cpd.tail(), self.dp.tail()))

    def reload(self, config_text=None, via="ctl"):
        if config_text is not None:
            self.write_config(config_text)
        if via == "ctl":
            p = self.ctl("reload")
            if p.returncode != 0:
                raise HarnessError("chokepointctl reload -> %d: %s%s" % (p.returncode, p.stdout, p.stderr))
            return p.stdout
        self.cpd.send_signal(signal.SIGHUP)
        return None

    def stop(self):
        codes = {}
        for pr in (self.dp, self.cpd):
            if pr is not None:
                codes[pr.name] = pr.stop()
        remove_dpdk_runtime("%scp-%d" % (self.topo.prefix, self.topo.pid))
        return codes

    # -- audit

    def records(self):
        return read_audit(self.audit)

    def wait_record(self, pred, timeout=5.0, what="record"):
        deadline = time.monotonic() + timeout
        while True:
            for r in self.records():
                if pred(r):
                    return r
            if time.monotonic() > deadline:
                raise AssertionError("no audit %s within %ss; trail:\n%s" % (
                    what, timeout, "\n".join(json.dumps(r) for r in self.records()[-20:])))
            time.sleep(0.1)

    def mark(self):
        """The last seq in the trail now (records after it are new)."""
        recs = self.records()
        return recs[-1]["seq"] if recs else 0

    def decisions_since(self, mark, pred=lambda r: True):
        return [r for r in self.records() if r.get("seq", 0) > mark
                and r.get("type") == "flow.decision" and pred(r)]

    def wait_decision_since(self, mark, pred, timeout=5.0, what="decision"):
        """The first flow.decision after mark (see mark()) that satisfies pred."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.decisions_since(mark, pred)
            if found:
                return found[0]
            if time.monotonic() > deadline:
                raise AssertionError("no audit %s within %ss; trail tail:\n%s" % (
                    what, timeout, "\n".join(json.dumps(r) for r in self.records()[-20:])))
            time.sleep(0.1)

    def decision_for(self, sport, src=CLIENT4, timeout=5.0):
        """The flow.decision record of the client connection from src:sport."""
        return self.wait_record(
            lambda r: r.get("type") == "flow.decision" and r.get("sport") == sport
            and same_ip(r.get("src"), src),
            timeout=timeout, what="flow.decision for %s:%d" % (src, sport))

    def verify(self):
        """chokepointctl audit verify must accept the file, and our own chain check must agree."""
        p = sh([bin_ctl(), "audit", "verify", self.audit], check=False)
        assert p.returncode == 0, "chokepointctl audit verify rejects %s: %s%s" % (self.audit, p.stdout, p.stderr)
        n = check_chain(self.audit)
        return p.stdout + p.stderr, n


class TestpmdStandIn:
    """dpdk-testpmd io-forward between the two appliance ports: a transparent bump in the wire.
    Only used to validate the topology itself (tests/integration/test_topology.py)."""

    kind = "testpmd"

    def __init__(self, topo):
        self.topo = topo
        self.proc = None

    def start(self):
        t = self.topo
        testpmd = shutil.which("dpdk-testpmd") or "/usr/bin/dpdk-testpmd"
        self.proc = t.spawn("testpmd", t.ns_app,
                            ["stdbuf", "-oL", testpmd, "-l", "0-1", "--no-huge", "-m", "1024", "--no-pci",
                             "--file-prefix", "it-%d" % t.pid,
                             "--vdev", "net_af_packet0,iface=%s" % t.if_in,
                             "--vdev", "net_af_packet1,iface=%s" % t.if_out,
                             "--", "--forward-mode=io", "--auto-start",
                             "--total-num-mbufs=4096", "--no-mlockall"],
                            stdin=subprocess.PIPE)  # testpmd exits at EOF on stdin
        deadline = time.monotonic() + 20
        while "Press enter to exit" not in self.proc.output() and \
                "Start automatic packet forwarding" not in self.proc.output():
            if not self.proc.alive():
                raise HarnessError("testpmd exited:\n" + self.proc.tail())
            if time.monotonic() > deadline:
                raise HarnessError("testpmd not forwarding after 20 s:\n" + self.proc.tail())
            time.sleep(0.1)
        time.sleep(0.3)

    def stop(self):
        code = self.proc.stop(signal.SIGINT) if self.proc else None
        remove_dpdk_runtime("it-%d" % self.topo.pid)
        return {"testpmd": code}


def remove_dpdk_runtime(prefix):
    """EAL leaves /var/run/dpdk/<file-prefix>/ (config, fbarrays) behind: remove ours."""
    shutil.rmtree(os.path.join("/var/run/dpdk", prefix), ignore_errors=True)


# --------------------------------------------------------------------------
# audit helpers


def read_audit(path):
    recs = []
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return recs
    for line in data.split(b"\n"):
        if not line.strip():
            continue
        try:
            recs.append(json.loads(line))
        except ValueError:
            pass  # a line being written; the chain check reads bytes
    return recs


def check_chain(path):
    """Independent check of the hash chain (cli.md): hash = sha256(line bytes up to ,"hash":),
    prev = previous hash, seq counts from the first seq by one. Returns the record count."""
    with open(path, "rb") as f:
        lines = [l for l in f.read().split(b"\n") if l]
    prev = None
    seq = None
    for i, line in enumerate(lines, 1):
        cut = line.rfind(b',"hash":"')
        assert cut > 0, "line %d has no hash: %r" % (i, line[:200])
        want = line[cut + len(b',"hash":"'):].rstrip(b'"}')
        got = hashlib.sha256(line[:cut]).hexdigest().encode()
        assert got == want, "line %d: hash %s != sha256 of the line %s" % (i, want, got)
        rec = json.loads(line)
        if prev is not None:
            assert rec["prev"] == prev, "line %d: prev %s != previous hash %s" % (i, rec["prev"], prev)
            assert rec["seq"] == seq + 1, "line %d: seq %s after %s" % (i, rec["seq"], seq)
        prev, seq = rec["hash"], rec["seq"]
    return len(lines)


def same_ip(a, b):
    try:
        return ipaddress.ip_address(a) == ipaddress.ip_address(b)
    except (ValueError, TypeError):
        return False


def dp_generation(st):
    """The policy generation the dataplane reports in `chokepointctl status --json`."""
    for key in ("dataplane", "dp"):
        sub = st.get(key) if isinstance(st, dict) else None
        if isinstance(sub, dict):
            if sub.get("connected") is False:
                return None
            for g in ("policy_generation", "policy_gen", "generation"):
                if isinstance(sub.get(g), int):
                    return sub[g]
            pol = sub.get("policy")
            if isinstance(pol, dict) and isinstance(pol.get("generation"), int):
                return pol["generation"]
    return None


def counters(st):
    """Every numeric leaf of a status document, as dotted-path -> value."""
    out = {}

    def walk(o, path):
        if isinstance(o, bool):
            return
        if isinstance(o, (int, float)):
            out[path] = o
        elif isinstance(o, dict):
            for k, v in o.items():
                walk(v, path + "." + k if path else k)
        elif isinstance(o, list):
            for i, v in enumerate(o):
                walk(v, "%s[%d]" % (path, i))
    walk(st, "")
    return out


# --------------------------------------------------------------------------
# clients (run inside the client netns)


class Clients:
    def __init__(self, topo, pki):
        self.topo, self.pki = topo, pki
        self._port = 30000

    def port(self):
        """A fresh client source port, so each connection's audit record is identifiable."""
        self._port += 1
        return self._port

    def curl(self, name, ip, scheme="https", path="/", port=None, sport=None, timeout=10,
             extra=()):
        """curl in the client netns. Returns dict(rc, code, body, err, ms, sport)."""
        sport = sport or self.port()
        port = port or (443 if scheme == "https" else 80)
        ipr = "[%s]" % ip if ":" in ip else ip
        body = os.path.join(self.topo.workdir, "curl-%d.body" % sport)
        argv = ["curl", "-sS", "--max-time", str(timeout), "--connect-timeout", "5",
                "--local-port", str(sport), "-o", body, "-w", "%{http_code}",
                "--resolve", "%s:%d:%s" % (name, port, ipr), "--noproxy", "*"]
        if scheme == "https":
            argv += ["--cacert", self.pki.ca]
        argv += list(extra) + ["%s://%s:%d%s" % (scheme, name, port, path)]
        t0 = time.monotonic()
        p = self.topo.run(self.topo.ns_client, argv, timeout=timeout + 10)
        ms = (time.monotonic() - t0) * 1000
        data = b""
        if os.path.exists(body):
            with open(body, "rb") as f:
                data = f.read()
            os.unlink(body)
        res = {"rc": p.returncode, "code": p.stdout.strip(), "body": data, "err": p.stderr.strip(),
               "ms": ms, "sport": sport}
        log("curl %s://%s (%s) sport %d -> rc %d code %s %.1f ms %s" % (
            scheme, name, ip, sport, p.returncode, res["code"], ms, res["err"]))
        return res

    def py(self, *args, timeout=60, background=False, name=None):
        """tests/integration/clients.py in the client netns; its JSON result."""
        argv = [PY, os.path.join(HERE, "clients.py"), "--ca", self.pki.ca] + [str(a) for a in args]
        if background:
            return self.topo.spawn(name or "client-" + args[0], self.topo.ns_client, argv)
        p = self.topo.run(self.topo.ns_client, argv, timeout=timeout)
        if p.returncode != 0:
            raise HarnessError("clients.py %s -> %d\n%s\n%s" % (args, p.returncode, p.stdout, p.stderr))
        res = json.loads(p.stdout.strip().splitlines()[-1])
        log("clients.py %s -> %s" % (" ".join(map(str, args)), json.dumps(res)[:300]))
        return res

    def s_client(self, name, ip, port=443, request=True, timeout=10):
        """openssl s_client: returns dict(rc, out, err, ms). The request asks for GET /."""
        ipr = "[%s]" % ip if ":" in ip else ip
        # s_client cannot bind a source port: its audit record is found with
        # Appliance.mark()/decisions_since() and the name instead.
        argv = ["openssl", "s_client", "-connect", "%s:%d" % (ipr, port), "-servername", name,
                "-CAfile", self.pki.ca, "-verify_return_error", "-verify_hostname", name,
                "-quiet"]  # -quiet implies -ign_eof: wait for the server to close
        stdin = ("GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % name) if request else ""
        t0 = time.monotonic()
        p = self.topo.run(self.topo.ns_client, argv, timeout=timeout, input=stdin)
        ms = (time.monotonic() - t0) * 1000
        log("s_client %s (%s) -> rc %d %.1f ms %s" % (name, ip, p.returncode, ms, p.stderr.strip()[-200:]))
        return {"rc": p.returncode, "out": p.stdout, "err": p.stderr, "ms": ms}


# --------------------------------------------------------------------------
# everything together


class Teardown:
    """What every test environment does on the way out (Env here, VpcEnv in vpc.py): stop
    the appliance, bring the topology down, delete the work dir unless kept; on SIGTERM
    (meson's timeout) kill the processes and namespaces at once. Needs self.appliance,
    self.topo (with namespaces()), self.workdir, self.keep, self._old_term and a
    start() that brings the environment up."""

    def __enter__(self):
        """Catch SIGTERM, then self.start(); a failed start is torn down before it raises."""
        self._old_term = signal.signal(signal.SIGTERM, self._on_sigterm)
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def close(self):
        try:
            try:
                codes = self.appliance.stop()
                log("appliance exit codes: %s" % codes)
            finally:
                self.topo.down()
        finally:
            if self._old_term is not None:
                signal.signal(signal.SIGTERM, self._old_term)
                self._old_term = None
            if not self.keep:
                shutil.rmtree(self.workdir, ignore_errors=True)
            else:
                log("kept %s" % self.workdir)

    def _on_sigterm(self, signum, frame):
        """meson's timeout: SIGTERM, then SIGKILL to our process group 0.5 s later. Our
        servers and DPDK processes have their own sessions, so kill them and delete the
        namespaces now, then unwind (the normal teardown finds nothing left to do)."""
        log("SIGTERM: emergency teardown")
        for pr in self.topo.procs:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pr.pid, signal.SIGKILL)
        for ns in self.topo.namespaces():
            subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL)
        raise KeyboardInterrupt("SIGTERM")


class Env(Teardown):
    """Topology + PKI + servers + appliance (or the testpmd stand-in) + clients.
    Use as a context manager: teardown runs on any exit, and on SIGTERM (meson timeout)."""

    def __init__(self, config_text=None, standin=False, workers=1, keep=None, prefix="",
                 names=CERT_NAMES):
        self.workdir = tempfile.mkdtemp(prefix="chokepoint-it-%d-" % os.getpid())
        self.topo = Topology(self.workdir, prefix=prefix)
        self.pki = Pki(os.path.join(self.workdir, "pki"), names=names)
        self.nginx = Nginx(self.topo, self.pki, names=names)
        self.app = AppServer(self.topo, self.pki)
        self.clients = Clients(self.topo, self.pki)
        self.standin = standin
        self.appliance = TestpmdStandIn(self.topo) if standin else Appliance(self.topo, config_text, workers)
        self.keep = os.environ.get("CHOKEPOINT_IT_KEEP") == "1" if keep is None else keep
        self._old_term = None

    def start(self):
        self.pki.generate()
        self.topo.up()
        self.nginx.start()
        self.app.start()
        self.appliance.start()

    def logs(self):
        """Tails of every process log (for assertion messages)."""
        return "\n".join("--- %s ---\n%s" % (p.name, p.tail(15)) for p in self.topo.procs)




def have_root():
    return os.geteuid() == 0


# --------------------------------------------------------------------------
# assertions shared by the tests


def expect_decision(rec, **want):
    """Assert fields of a flow.decision record; IPs compared as addresses."""
    assert rec.get("type") == "flow.decision", rec
    bad = {}
    for k, v in want.items():
        got = rec.get(k)
        if k in ("src", "dst"):
            if not same_ip(got, v):
                bad[k] = (got, v)
        elif got != v:
            bad[k] = (got, v)
    assert not bad, "audit record fields (got, want): %s\nrecord: %s" % (bad, json.dumps(rec))
    for k in ("v", "ts", "seq", "policy", "proto", "sport", "dport", "app", "prev", "hash"):
        assert k in rec, "record lacks %r: %s" % (k, json.dumps(rec))
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", rec["policy"]), rec["policy"]
    return rec


def expect_reset(res, what):
    """curl result of a denied flow: a reset, fast, not a timeout."""
    assert res["rc"] in (35, 56), "%s: curl exit %d (want 35/56, a reset): %s" % (what, res["rc"], res["err"])
    assert "reset" in res["err"].lower(), "%s: not a reset: %s" % (what, res["err"])
    assert res["ms"] < 2000, "%s: the reset took %.0f ms" % (what, res["ms"])


def expect_ok(res, name, what=None):
    """curl result of an allowed flow: HTTP 200 from the vhost of that name."""
    assert res["rc"] == 0, "%s: curl exit %d: %s" % (what or name, res["rc"], res["err"])
    assert res["code"] == "200", "%s: HTTP %s" % (what or name, res["code"])
    assert res["body"] == ("ok %s\n" % name).encode(), "%s: body %r" % (what or name, res["body"][:100])


def status_counters(app):
    """chokepointctl status (text and --json) both answer; returns the numeric leaves."""
    p = app.ctl("status")
    assert p.returncode == 0, "chokepointctl status -> %d: %s%s" % (p.returncode, p.stdout, p.stderr)
    assert p.stdout.strip(), "chokepointctl status printed nothing"
    return counters(app.status_json())


def expect_counter(cnt, path, minimum=1):
    """The status counter at dotted path (e.g. "dataplane.totals.allow") is >= minimum."""
    assert path in cnt, "status has no counter %s; it has: %s" % (path, sorted(cnt))
    assert cnt[path] >= minimum, "status counter %s = %d, want >= %d" % (path, cnt[path], minimum)
    return cnt[path]


def check_trail(env):
    """Every test module ends here: the trail verifies (chokepointctl and our own chain
    check), a policy.loaded record exists, and status shows traffic counters."""
    app = env.appliance
    out, n = app.verify()
    assert n > 0, "empty audit trail"
    recs = app.records()
    loaded = [r for r in recs if r.get("type") == "policy.loaded"]
    assert loaded, "no policy.loaded record"
    # the policy the trail names is the one `chokepointd --check` computed for the file
    assert loaded[0]["policy"] == app.start_policy and loaded[0]["by"] == "start", loaded[0]
    gen1 = [r for r in recs if r.get("type") == "flow.decision" and r["seq"] < loaded[1]["seq"]] \
        if len(loaded) > 1 else [r for r in recs if r.get("type") == "flow.decision"]
    for r in gen1:
        assert r["policy"] == app.start_policy, "decision under another policy: %s" % r
    cnt = status_counters(app)
    for port in (0, 1):
        expect_counter(cnt, "dataplane.ports[%d].rx_pkts" % port, 1)
        expect_counter(cnt, "dataplane.ports[%d].tx_pkts" % port, 1)
    expect_counter(cnt, "dataplane.totals.flows_created", 1)
    return recs, cnt
