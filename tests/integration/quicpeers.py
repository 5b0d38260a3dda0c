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


# --------------------------------------------------------------------------
# a QUIC v1 client Initial built here (RFC 9001 5.2-5.4), for the datagrams no real client
# sends on purpose; checked against RFC 9001 Appendix A.2 by initial_selftest()

V1_SALT = bytes.fromhex("38762cf7f55934b34d179ae6a4c80cadccbb7f0a")


def _hkdf_label(secret, label, length):
    import hashlib
    import hmac
    full = b"tls13 " + label
    info = struct.pack("!HB", length, len(full)) + full + b"\0" + b"\1"
    return hmac.new(secret, info, hashlib.sha256).digest()[:length]


def client_initial_keys(dcid):
    import hashlib
    import hmac
    initial = hmac.new(V1_SALT, dcid, hashlib.sha256).digest()
    secret = _hkdf_label(initial, b"client in", 32)
    return (_hkdf_label(secret, b"quic key", 16), _hkdf_label(secret, b"quic iv", 12),
            _hkdf_label(secret, b"quic hp", 16))


def _varint(v):
    if v < 64:
        return bytes([v])
    if v < 16384:
        return struct.pack("!H", 0x4000 | v)
    return struct.pack("!I", 0x80000000 | v)


def crypto_frame(offset, data):
    return b"\x06" + _varint(offset) + _varint(len(data)) + data


def client_initial(dcid, scid, pn, frames, pad_to=1162):
    """A protected v1 client Initial (4-byte packet number) carrying frames, padded with
    PADDING frames to pad_to bytes of payload (1162: a 1200-byte datagram for 8/0-byte
    CIDs and an empty token, as in RFC 9001 A.2)."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    key, iv, hp = client_initial_keys(dcid)
    payload = frames + b"\0" * max(0, pad_to - len(frames))
    length = 4 + len(payload) + 16
    hdr = bytes([0xc3]) + struct.pack("!I", 1) + bytes([len(dcid)]) + dcid + \
        bytes([len(scid)]) + scid + b"\0" + struct.pack("!H", 0x4000 | length)
    pn_off = len(hdr)
    hdr += struct.pack("!I", pn)
    nonce = (int.from_bytes(iv, "big") ^ pn).to_bytes(12, "big")
    ct = AESGCM(key).encrypt(nonce, payload, hdr)
    pkt = bytearray(hdr + ct)
    enc = Cipher(algorithms.AES(hp), modes.ECB()).encryptor()
    mask = enc.update(bytes(pkt[pn_off + 4:pn_off + 20])) + enc.finalize()
    pkt[0] ^= mask[0] & 0x0f
    for i in range(4):
        pkt[pn_off + i] ^= mask[1 + i]
    return bytes(pkt)


def _hexfile(name):
    path = os.path.join(harness.SRC, "tests", "data", "quic", name)
    with open(path) as f:
        text = "".join(l for l in f if not l.lstrip().startswith("#"))
    return bytes.fromhex("".join(text.split()))


def rfc9001_clienthello():
    """The ClientHello of RFC 9001 A.2 (SNI example.com), from its CRYPTO frame."""
    fr = _hexfile("rfc9001-a2-crypto-frame.hex")
    assert fr[:4] == bytes.fromhex("060040f1"), fr[:4].hex()
    return fr[4:]


def initial_selftest():
    """client_initial() reproduces RFC 9001 A.2's protected packet byte for byte
    (packet number 2, 8-byte DCID, no SCID)."""
    dcid = bytes.fromhex("8394c8f03e515708")
    pkt = client_initial(dcid, b"", 2, crypto_frame(0, rfc9001_clienthello()))
    want = _hexfile("rfc9001-a2-protected.hex")
    return pkt == want


SENDER = r"""
import socket, sys, time
sport, dst, dport, gap = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", sport))
for i, line in enumerate(sys.stdin):
    if i:
        time.sleep(gap)
    s.sendto(bytes.fromhex(line.strip()), (dst, dport))
"""


def send_datagrams(env, sport, datagrams, dst=harness.SERVER4, dport=443, gap=0.3):
    """Send datagrams (bytes) from the client netns, source port sport, gap s apart."""
    t = env.topo
    p = t.run(t.ns_client, [harness.PY, "-c", SENDER, str(sport), dst, str(dport), str(gap)],
              input="".join(d.hex() + "\n" for d in datagrams), timeout=30)
    if p.returncode != 0:
        raise harness.HarnessError("sender failed: %s" % p.stderr)
