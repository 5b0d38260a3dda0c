# SPDX-License-Identifier: BSD-3-Clause
"""QUIC peers for the integration tests: Debian's ngtcp2 example server and client
(packages ngtcp2-server / ngtcp2-client, binaries gtlsserver / gtlsclient, QUIC v1,
HTTP/3), headless chromium, and a small reader of the UDP datagrams of a capture."""

import os
import shutil
import struct
import time

import harness

GTLS_SERVER = shutil.which("gtlsserver") or "/usr/sbin/gtlsserver"
GTLS_CLIENT = shutil.which("gtlsclient") or "/usr/bin/gtlsclient"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def have_ngtcp2():
    return os.access(GTLS_SERVER, os.X_OK) and os.access(GTLS_CLIENT, os.X_OK)


class H3Server:
    """gtlsserver in the server netns on addr:port (UDP), serving htdocs over HTTP/3 with
    the test certificate. validate=True: every new connection gets a Retry first (-V)."""

    def __init__(self, env, port=443, addr=harness.SERVER4, validate=False, name=None):
        self.env, self.port, self.addr, self.validate = env, port, addr, validate
        self.name = name or "gtlsserver-%d" % port
        self.htdocs = os.path.join(env.workdir, self.name + "-htdocs")
        self.proc = None

    def start(self):
        os.makedirs(self.htdocs, exist_ok=True)
        argv = [GTLS_SERVER, "-q", "-d", self.htdocs]
        if self.validate:
            argv.append("-V")
        argv += [self.addr, str(self.port), self.env.pki.key, self.env.pki.cert]
        t = self.env.topo
        self.proc = t.spawn(self.name, t.ns_server, argv)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            out = harness.sh(harness.nsx(t.ns_server, ["ss", "-Hunl", "sport = :%d" % self.port]),
                             check=False).stdout
            if out.strip():
                return self
            if not self.proc.alive():
                raise harness.HarnessError("%s exited:\n%s" % (self.name, self.proc.tail()))
            time.sleep(0.05)
        raise harness.HarnessError("%s does not listen on UDP %d" % (self.name, self.port))

    def put(self, rel, data):
        with open(os.path.join(self.htdocs, rel), "wb") as f:
            f.write(data)


class NetnsHosts:
    """/etc/netns/<client netns>/hosts naming every test name at addr: `ip netns exec`
    bind-mounts it over /etc/hosts, and gtlsclient sends the name it resolved as its SNI
    (given an IP address it sends "localhost", whatever --sni says, in 0.12.1).
    Removed by close()."""

    def __init__(self, env, addr=harness.SERVER4, names=harness.CERT_NAMES):
        self.dir = os.path.join("/etc/netns", env.topo.ns_client)
        os.makedirs(self.dir, exist_ok=True)
        with open(os.path.join(self.dir, "hosts"), "w") as f:
            f.write("127.0.0.1 localhost\n")
            for n in names:
                f.write("%s %s\n" % (addr, n))

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def h3_get(env, name, path, port=443, timeout=15, extra=()):
    """gtlsclient in the client netns: GET https://name/path over HTTP/3, name resolved by
    NetnsHosts (so it is the SNI). Returns dict(rc, body (bytes or None), ms, out)."""
    t = env.topo
    ddir = os.path.join(env.workdir, "h3dl-%d" % int(time.monotonic() * 1e6))
    os.makedirs(ddir)
    argv = ["timeout", str(timeout), GTLS_CLIENT, "-q", "--exit-on-all-streams-close",
            "--download=" + ddir] + list(extra) + \
        [name, str(port), "https://%s:%d%s" % (name, port, path)]
    t0 = time.monotonic()
    p = t.run(t.ns_client, argv, timeout=timeout + 10)
    ms = (time.monotonic() - t0) * 1000
    body = None
    fn = os.path.join(ddir, os.path.basename(path) or "index.html")
    if os.path.exists(fn):
        with open(fn, "rb") as f:
            body = f.read()
    shutil.rmtree(ddir, ignore_errors=True)
    harness.log("gtlsclient %s:%d %s -> rc %d, %s bytes, %.0f ms %s" % (
        name, port, path, p.returncode, None if body is None else len(body), ms,
        (p.stdout + p.stderr).strip()[-300:]))
    return {"rc": p.returncode, "body": body, "ms": ms, "out": p.stdout + p.stderr}


def udp_datagrams(pcap):
    """(src, sport, dst, dport, payload, ts) of every IPv4/UDP packet of an Ethernet pcap."""
    out = []
    if len(pcap) < 24:
        return out
    magic = struct.unpack("<I", pcap[:4])[0]
    endian = "<" if magic in (0xa1b2c3d4, 0xa1b23c4d) else ">"
    linktype = struct.unpack(endian + "I", pcap[20:24])[0]
    off = 24
    while off + 16 <= len(pcap):
        sec, usec, caplen = struct.unpack(endian + "III", pcap[off:off + 12])
        pkt = pcap[off + 16:off + 16 + caplen]
        off += 16 + caplen
        if linktype != 1 or len(pkt) < 14 + 20 + 8 or pkt[12:14] != b"\x08\x00":
            continue
        ip = pkt[14:]
        ihl = (ip[0] & 15) * 4
        if ip[9] != 17 or len(ip) < ihl + 8:
            continue
        src = ".".join(str(b) for b in ip[12:16])
        dst = ".".join(str(b) for b in ip[16:20])
        sport, dport, ulen = struct.unpack("!HHH", ip[ihl:ihl + 6])
        out.append((src, sport, dst, dport, bytes(ip[ihl + 8:ihl + ulen]), sec + usec / 1e6))
    return out


def is_long_initial_v1(payload):
    """A QUIC v1 long-header Initial (first byte 11 00 xxxx, version 1)."""
    return len(payload) >= 5 and payload[0] & 0xf0 == 0xc0 and payload[1:5] == b"\0\0\0\1"


def cert_spki_b64(cert_pem):
    """base64(sha256(SubjectPublicKeyInfo DER)) of a certificate: chromium's
    --ignore-certificate-errors-spki-list value."""
    p = harness.sh(["sh", "-c", "openssl x509 -in '%s' -pubkey -noout | openssl pkey -pubin "
                    "-outform der | openssl dgst -sha256 -binary | openssl base64 -A" % cert_pem])
    return p.stdout.strip()
