#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""chokepointd end to end, with this script standing in for the dataplane on
the real dataplane socket (dp_proto.h messages, the memfd over SCM_RIGHTS)
and the real chokepointctl on the control socket.

Covers: --check; start and the socket directories; status (text and JSON)
with and without a dataplane and with a dataplane that does not answer;
HELLO -> POLICY (sealed memfd) -> ACK -> policy.loaded; EVENTS -> records
and EVENTS_ACK; reload by ctl (accepted, refused by the compiler, rejected
by the dataplane) and by SIGHUP; a slow compile in the worker thread while
events are recorded, reloads queued behind it; garbage from the dataplane drops it and the
daemon lives on; SIGTERM; restart resumes the chain; a torn last line is
cut; `audit verify` on the result.
"""
import array
import fcntl
import hashlib
import json
import mmap
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

SRC = os.environ.get("CHOKEPOINT_SRC", os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
BUILD = os.environ.get("CHOKEPOINT_BUILD", os.path.join(SRC, "build"))
CPD = os.environ.get("CHOKEPOINTD", os.path.join(BUILD, "ctrlplane", "chokepointd"))
CTL = os.environ.get("CHOKEPOINTCTL", os.path.join(BUILD, "ctrlplane", "chokepointctl"))

MAGIC, VERSION = 0x43484b50, 1
HELLO, POLICY, ACK, NACK, EVENTS, EVENTS_ACK, STATS_REQ, STATS, DRAINED, QUIT = range(1, 11)
HDR = "<IHHII"
BOOT = bytes(range(0xb0, 0xc0))
EVENT = "<8B3H2B16s16s3QiIIH2B5Q2Q256s62s40s2x2Q"   # struct dp_event, 520 bytes
F_GET_SEALS, F_SEAL_SHRINK, F_SEAL_GROW, F_SEAL_WRITE = 1034, 2, 4, 8


def dp_counter_max():
    """DP_C_MAX, read from the contract header so the STATS layout follows it."""
    text = open(os.path.join(SRC, "dataplane", "dp_proto.h"), encoding="ascii").read()
    body = text[text.index("enum dp_counter {"):]
    body = body[:body.index("DP_C_MAX")]
    return len(re.findall(r"^\s*DP_C_[A-Z0-9_]+", body, re.M))


N_COUNTERS = dp_counter_max()
RULE_HITS_MAX = int(re.search(r"#define DP_RULE_HITS_MAX (\d+)", open(os.path.join(
    SRC, "dataplane", "dp_proto.h"), encoding="ascii").read()).group(1))
FAILS = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        FAILS.append(what)


def hdr(t, length):
    return struct.pack(HDR, MAGIC, VERSION, t, length, 0)


def hello_msg(gen=0, sha=b"\0" * 32):
    body = BOOT + struct.pack("<IHHQ", 4242, 2, 2, gen) + sha + b"\0" * 128 + b"\0" * 8
    return hdr(HELLO, 16 + len(body)) + body


def event(worker, wseq, gen, rule, sni, etype=1):
    name = sni.encode()
    return struct.pack(EVENT, etype, worker, 1, 0, 1, 6, 4, 1, 40000 + wseq, 443, 0,
                       len(name), 0, bytes([10, 77, 1, 5]) + b"\0" * 12,
                       bytes([192, 0, 2, 9]) + b"\0" * 12, wseq, 1764114684 * 10**9 + wseq,
                       gen, rule, 1, 0, 0x18, 0, 0, 0, 0, 0, 0, 0, 0, 0, name, b"", b"", 0, 0)


def events_msg(evs):
    body = struct.pack("<II", len(evs), 0) + BOOT + b"".join(evs)
    return hdr(EVENTS, 16 + len(body)) + body


def stats_msg(allow):
    head = BOOT + struct.pack("<QQ", 5 * 10**9, 1) + b"\0" * 32 + struct.pack(
        "<BBHHHQ", 0, 1, 2, 2, 0, 3)
    ports = b""
    for i in range(4):
        ports += (b"net_af_packet%d" % i).ljust(32, b"\0") + struct.pack("<8Q", *[i] * 8)
    counters = [0] * (16 * N_COUNTERS)
    counters[9] = allow             # worker 0, DP_C_ALLOW (index 9)
    counters[N_COUNTERS + 9] = 1    # worker 1
    # rule hits of generation 1 (dp_proto.h): 1 rule ("llm") hit `allow` times, 3 by no rule
    hits = struct.pack("<QIIQQ", 1, 1, 0, 3, 0) + struct.pack("<%dQ" % RULE_HITS_MAX,
                                                                *([allow] + [0] * (RULE_HITS_MAX - 1)))
    # struct dp_dns_status: responses, recorded, refreshed, evicted, reused, bad[8] (by
    # enum dns_result), tcp_messages, tcp_skipped, https_{allowed,refused,stripped,
    # unstrippable}, res_{updates,removes,entries,capacity,recorded,refreshed,evicted,reused}
    dns = struct.pack("<27Q", 7, 5, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 2, 1, 0, 0, 3, 0,
                      4, 1, 3, 65536, 3, 2, 0, 0)
    body = head + ports + struct.pack("<%dQ" % len(counters), *counters) + hits + dns
    return hdr(STATS, 16 + len(body)) + body


class FakeDp:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.s.connect(path)
        self.s.settimeout(10)

    def send(self, m):
        self.s.send(m)

    def recv(self):
        fds = array.array("i")
        msg, anc, _flags, _addr = self.s.recvmsg(65536, socket.CMSG_SPACE(4 * 4))
        for level, typ, data in anc:
            if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                fds.frombytes(data[:len(data) - len(data) % 4])
        if not msg:
            return None, b"", list(fds)
        magic, ver, typ, length, _ = struct.unpack_from(HDR, msg)
        assert magic == MAGIC and ver == VERSION and length == len(msg), msg[:16]
        return typ, msg, list(fds)

    def expect_policy(self, gen):
        typ, msg, fds = self.recv()
        check(typ == POLICY and len(msg) == 64 and len(fds) == 1,
              "dataplane gets POLICY with one descriptor (gen %d)" % gen)
        g, blob_len = struct.unpack_from("<QQ", msg, 16)
        check(g == gen, "POLICY generation %d (got %d)" % (gen, g))
        seals = fcntl.fcntl(fds[0], F_GET_SEALS)
        check(seals & (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) ==
              F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE, "memfd sealed")
        with mmap.mmap(fds[0], blob_len, prot=mmap.PROT_READ) as m:
            check(m[:4] == struct.pack("<I", 0x4d50434b), "memfd holds the policy blob")
        os.close(fds[0])
        return msg[32:64]

    def ack(self, gen):
        self.send(hdr(ACK, 24) + struct.pack("<Q", gen))

    def close(self):
        self.s.close()


def ctl(sock, *args, timeout=20):
    p = subprocess.run([CTL, "--socket", sock] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout, check=False)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def records(path):
    with open(path, encoding="ascii") as f:
        return [json.loads(line) for line in f]


def wait_for(pred, what, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.05)
    check(False, what)
    return False


def start(cfg, run, audit, log):
    """Start the daemon; wait for its own 'listening' line (a stale socket file
    left by a killed daemon exists before the new one binds)."""
    def listening():
        with open(log, encoding="utf-8", errors="replace") as f:
            return f.read().count("chokepointd: listening:") > before
    before = 0
    if os.path.exists(log):
        with open(log, encoding="utf-8", errors="replace") as f:
            before = f.read().count("chokepointd: listening:")
    p = subprocess.Popen([CPD, "-c", cfg, "--dp-socket", run + "/dp.sock",
                          "--ctl-socket", run + "/ctl.sock", "--audit", audit],
                         stderr=open(log, "ab"))
    wait_for(listening, "chokepointd listens")
    return p


def main():
    for exe in (CPD, CTL):
        if not os.access(exe, os.X_OK):
            print("%s not built" % exe)
            return 1
    tmp = tempfile.mkdtemp(prefix="test-chokepointd.")
    cfg, bad = tmp + "/a.conf", tmp + "/bad.conf"
    run, audit, log = tmp + "/run/sub", tmp + "/log/audit.jsonl", tmp + "/cpd.log"
    conf_a = ('default = "deny";\nrules = ( { id = "llm"; action = "allow"; '
              'sni = ["api.openai.com"]; } );\n')
    conf_b = conf_a.replace('"deny"', '"allow"')
    open(cfg, "w").write(conf_a)
    open(bad, "w").write('default = "maybe";\nrulez = ();\n')

    # --check
    p = subprocess.run([CPD, "--check", cfg], capture_output=True, text=True)
    check(p.returncode == 0 and re.match(
        r"[0-9a-f]{64}  " + re.escape(cfg) + "\n" + re.escape(cfg) +
        r": ok: 1 rules, policy sha256:[0-9a-f]{64}, compiled \d+ bytes, loaded \d+ bytes\n$",
        p.stdout), "--check good file: " + p.stdout.strip())
    # with a list file: the manifest (sha256sum lines, the config first), whose own
    # SHA-256 is the policy hash, then the summary (nginx -t style)
    with open(tmp + "/names.txt", "w") as f:
        f.write("# allowed\napi.openai.com\n.anthropic.com\n")
    with open(tmp + "/lists.conf", "w") as f:
        f.write('default = "deny";\nrules = ( { id = "l"; action = "allow"; '
                'sni_file = "names.txt"; }, { id = "d"; action = "deny"; sni = ["x.example"]; } );\n')
    p = subprocess.run([CPD, "--check", "lists.conf"], capture_output=True, text=True, cwd=tmp)
    lines = p.stdout.splitlines(keepends=True)
    want = ["%s  lists.conf\n" % hashlib.sha256(open(tmp + "/lists.conf", "rb").read()).hexdigest(),
            "%s  names.txt\n" % hashlib.sha256(open(tmp + "/names.txt", "rb").read()).hexdigest()]
    m = re.match(r"lists\.conf: ok: 2 rules, policy sha256:([0-9a-f]{64}), compiled (\d+) bytes, "
                 r"loaded (\d+) bytes\n$", lines[-1] if lines else "")
    check(p.returncode == 0 and lines[:-1] == want and m is not None and
          m.group(1) == hashlib.sha256("".join(want).encode()).hexdigest() and
          0 < int(m.group(2)) <= int(m.group(3)),
          "--check prints the manifest, the hash of the manifest, rules and sizes: " + p.stdout)
    p = subprocess.run([CPD, "--check", bad], capture_output=True, text=True)
    check(p.returncode == 1 and bad + ":1: default:" in p.stderr and bad + ":2:" in p.stderr,
          "--check bad file names file:line of every error: " + p.stderr.strip())

    # a bad config refuses to start
    p = subprocess.run([CPD, "-c", bad, "--dp-socket", run + "/dp.sock", "--ctl-socket",
                        run + "/ctl.sock", "--audit", audit], capture_output=True, text=True,
                       timeout=10)
    check(p.returncode == 1 and "chokepointd: error: policy " + bad in p.stderr,
          "start with a bad policy: exit 1")

    d = start(cfg, run, audit, log)
    check(oct(os.stat(run).st_mode & 0o777) == "0o750", "socket directory created 0750")
    rc, out, _ = ctl(run + "/ctl.sock", "status")
    check(rc == 0 and "dataplane: not connected" in out and "generation 1 (1 rules)" in out,
          "status without a dataplane")
    rc, out, _ = ctl(run + "/ctl.sock", "status", "--json")
    js = json.loads(out) if rc == 0 else {}
    check(js.get("dataplane", {}).get("connected") is False and
          js.get("policy", {}).get("generation") == 1, "status --json without a dataplane")
    rc, _, err = ctl(run + "/ctl.sock", "bogus")
    check(rc == 2 and "unknown command" in err, "usage error: exit 2")
    # a raw bad request gets an error reply, not a crash
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(run + "/ctl.sock")
    s.send(b"status" * 40)
    check(s.recv(4096).startswith(b"error\nrequest too long"), "oversized ctl request refused")
    s.close()

    # a client that never sends a request is closed after 5 s; others are served meanwhile
    idle = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    idle.connect(run + "/ctl.sock")
    idle.settimeout(8)
    t0 = time.time()
    rc, out, _ = ctl(run + "/ctl.sock", "status")
    check(rc == 0 and "not connected" in out, "status served while another client idles")
    check(idle.recv(64) == b"" and 4 < time.time() - t0 < 7.5, "idle ctl connection closed")
    idle.close()

    # the dataplane connects: HELLO -> POLICY -> ACK -> policy.loaded
    dp = FakeDp(run + "/dp.sock")
    dp.send(hello_msg())
    sha1 = dp.expect_policy(1)
    dp.ack(1)
    wait_for(lambda: os.path.exists(audit) and len(records(audit)) == 1, "policy.loaded written")
    r = records(audit)[0]
    check(r["type"] == "policy.loaded" and r["by"] == "start" and r["generation"] == 1 and
          r["policy"] == "sha256:" + sha1.hex(), "policy.loaded by start, generation 1")

    # events -> records + EVENTS_ACK
    dp.send(events_msg([event(0, 1, 1, 0, "api.openai.com"), event(1, 1, 1, -1, "a\"b")]))
    typ, msg, _ = dp.recv()
    acked = struct.unpack_from("<16Q", msg, 16) if typ == EVENTS_ACK else ()
    check(typ == EVENTS_ACK and acked[:3] == (1, 1, 0), "EVENTS_ACK per worker")
    recs = records(audit)
    check(len(recs) == 3 and recs[1]["rule"] == "llm" and recs[2]["sni"] == 'a"b' and
          recs[2]["rule"] is None, "events recorded with rule ids")

    # status asks the dataplane; the stand-in answers
    c = subprocess.Popen([CTL, "--socket", run + "/ctl.sock", "status"], stdout=subprocess.PIPE)
    typ, _, _ = dp.recv()
    check(typ == STATS_REQ, "status sends STATS_REQ")
    dp.send(stats_msg(41))
    out = c.communicate(timeout=10)[0].decode()
    check(c.returncode == 0 and "dataplane: connected, pid 4242" in out and
          re.search(r"allow +41 +1 +42", out) and "net_af_packet1" in out and
          re.search(r"rule hits \(policy generation 1\):\n +llm +41\n +\(no rule[^\n]*\) +3\n", out) and
          "live on the dataplane" in out, "status with the dataplane's counters")
    check("dns: responses 7, recorded 5, refreshed 1, evicted 0, reused 0; bad: truncated 0, "
          "malformed 1, not_response 0, unsupported 0; tcp: messages 2, skipped 1\n" in out and
          "dns https_rr: allowed 0, refused 0, stripped 3, unstrippable 0\n" in out and
          "dns resolved table: 3 live of 65536, updates 4, removes 1," in out and
          "dns resolver: off (no dns.resolver)" in out, "status with the DNS counters: " + "".join(l + "\n" for l in out.splitlines() if l.startswith("dns")))
    c = subprocess.Popen([CTL, "--socket", run + "/ctl.sock", "status", "--json"],
                         stdout=subprocess.PIPE)
    dp.recv()
    dp.send(stats_msg(5))
    js = json.loads(c.communicate(timeout=10)[0])
    check(js["dataplane"]["connected"] and js["dataplane"]["totals"]["allow"] == 6 and
          js["dataplane"]["per_worker"]["allow"][:2] == [5, 1] and
          js["dataplane"]["rule_hits"] == {"generation": 1, "rules": [{"rule": "llm", "hits": 5}],
                                           "other_rules": 0, "no_rule": 3} and
          js["audit"]["next_seq"] == 4, "status --json with counters")
    dj = js["dataplane"].get("dns", {})
    check(dj.get("responses") == 7 and dj.get("bad", {}).get("malformed") == 1 and
          dj.get("tcp_skipped") == 1 and dj.get("https_rr", {}).get("stripped") == 3 and
          dj.get("resolved", {}).get("entries") == 3 and js.get("dns_resolver", 0) is None,
          "status --json with the DNS counters")
    # a dataplane that does not answer: at most 2 s
    t0 = time.time()
    rc, out, _ = ctl(run + "/ctl.sock", "status")
    dp.recv()
    check(rc == 0 and "no statistics within 2 s" in out and time.time() - t0 < 4,
          "status gives up after 2 s")

    # reload by ctl: accepted
    open(cfg, "w").write(conf_b)
    c = subprocess.Popen([CTL, "--socket", run + "/ctl.sock", "reload"], stdout=subprocess.PIPE)
    sha2 = dp.expect_policy(2)
    dp.ack(2)
    out = c.communicate(timeout=10)[0].decode()
    check(c.returncode == 0 and out == "reloaded: generation 2 policy sha256:%s\n" % sha2.hex(),
          "ctl reload acknowledged: " + out.strip())
    wait_for(lambda: records(audit)[-1]["type"] == "policy.loaded", "policy.loaded gen 2")
    check(records(audit)[-1]["by"] == "ctl", "policy.loaded by ctl")
    # reload by ctl: the compiler refuses; nothing changes
    open(cfg, "w").write('default = "maybe";\n')
    rc, out, err = ctl(run + "/ctl.sock", "reload")
    check(rc == 1 and cfg + ":1: default:" in err and "current policy stays" in err,
          "ctl reload of a bad file: exit 1 with file:line")
    # reload by ctl: the dataplane rejects
    open(cfg, "w").write(conf_a)
    c = subprocess.Popen([CTL, "--socket", run + "/ctl.sock", "reload"], stderr=subprocess.PIPE)
    dp.expect_policy(3)
    dp.send(hdr(NACK, 224) + struct.pack("<Q", 3) + b"no memory for the flow table".ljust(200, b"\0"))
    err = c.communicate(timeout=10)[1].decode()
    check(c.returncode == 1 and "dataplane rejected generation 3: no memory" in err and
          "generation 2 stays current" in err, "NACK reported, old policy stays")
    # SIGHUP
    d.send_signal(signal.SIGHUP)
    dp.expect_policy(4)
    dp.ack(4)
    wait_for(lambda: records(audit)[-1].get("by") == "sighup", "policy.loaded by sighup")
    check(records(audit)[-1]["generation"] == 4, "SIGHUP reload is generation 4")

    # a reload compiles in a worker thread: a slow compile (1,000 regexes) leaves the
    # loop draining events; reloads asked for meanwhile compile once after it, the
    # latest asker named; each ctl caller is answered with its own compile's result
    rx = ", ".join('"^r%04d[a-z]+[.]dyn[0-9]*[.]example[.]net$"' % i for i in range(1000))
    open(cfg, "w").write(conf_a.replace("rules = (", 'rules = ( { id = "rx"; action = '
                                        '"allow"; sni_regex = [ %s ]; },' % rx))

    def compiles():
        with open(log, encoding="utf-8", errors="replace") as f:
            return f.read().count(": compiling " + cfg)
    n_comp = compiles()
    c1 = subprocess.Popen([CTL, "--socket", run + "/ctl.sock", "reload"], stdout=subprocess.PIPE)
    wait_for(lambda: compiles() == n_comp + 1, "the slow compile started")
    n = len(records(audit))
    t0 = time.time()
    dp.send(events_msg([event(1, 2, 4, 0, "during.compile.example")]))
    typ = dp.recv()[0]
    check(typ == EVENTS_ACK and time.time() - t0 < 0.5 and len(records(audit)) == n + 1 and
          records(audit)[-1]["sni"] == "during.compile.example" and c1.poll() is None,
          "events recorded and acknowledged while the compile runs (%.3f s)" % (time.time() - t0))
    d.send_signal(signal.SIGHUP)
    open(cfg, "w").write(conf_b)
    time.sleep(0.2)
    c2 = subprocess.Popen([CTL, "--socket", run + "/ctl.sock", "reload"], stdout=subprocess.PIPE)
    sha5 = dp.expect_policy(5)
    dp.ack(5)
    sha6 = dp.expect_policy(6)
    dp.ack(6)
    out1, out2 = c1.communicate(timeout=30)[0].decode(), c2.communicate(timeout=30)[0].decode()
    check(c1.returncode == 0 and out1 == "reloaded: generation 5 policy sha256:%s\n" % sha5.hex(),
          "first reload answered with its compile: " + out1.strip())
    check(c2.returncode == 0 and out2 == "reloaded: generation 6 policy sha256:%s\n" % sha6.hex(),
          "queued reload answered with the next compile: " + out2.strip())
    wait_for(lambda: records(audit)[-1].get("generation") == 6, "policy.loaded gen 6")
    loaded = [r for r in records(audit) if r["type"] == "policy.loaded"]
    # (generation 5 may be superseded by 6 before its ACK is read: no record of its own)
    check((loaded[-1]["generation"], loaded[-1]["by"]) == (6, "ctl") and
          (loaded[-2]["generation"], loaded[-2]["by"]) in ((5, "ctl"), (4, "sighup")) and
          compiles() == n_comp + 2, "two reloads during a compile: one more compile, by the "
          "latest: %s, %d compiles" % ([(r["generation"], r["by"]) for r in loaded[-3:]],
                                       compiles() - n_comp))
    open(cfg, "w").write(conf_a)

    # garbage from the dataplane: it is dropped, the daemon lives on
    dp.send(b"\x00" * 9)
    typ, _, _ = dp.recv()
    check(typ is None, "bad message: connection dropped")
    dp.close()
    rc, out, _ = ctl(run + "/ctl.sock", "status")
    check(rc == 0 and "dataplane: not connected" in out and "1 bad messages" in out,
          "daemon alive after garbage, counted")
    # reconnect: same boot, gen 6 live already -> no push
    dp = FakeDp(run + "/dp.sock")
    dp.send(hello_msg(6, bytes.fromhex(records(audit)[-1]["policy"][7:])))
    dp.s.settimeout(0.5)
    try:
        typ = dp.recv()[0]
    except socket.timeout:
        typ = "none"
    check(typ == "none", "reconnect with the live policy: no push")
    dp.s.settimeout(10)
    # resent events are not recorded twice
    n = len(records(audit))
    dp.send(events_msg([event(0, 1, 1, 0, "api.openai.com"), event(0, 2, 4, 0, "api.openai.com")]))
    dp.recv()
    check(len(records(audit)) == n + 1, "resent event skipped, new one recorded")
    dp.close()

    # SIGTERM: clean exit, sockets removed
    d.send_signal(signal.SIGTERM)
    check(d.wait(timeout=10) == 0, "SIGTERM: exit 0")
    check(not os.path.exists(run + "/ctl.sock") and not os.path.exists(run + "/dp.sock"),
          "sockets removed on exit")

    # restart: the chain continues; a torn last line is cut first
    seq = records(audit)[-1]["seq"]
    with open(audit, "a") as f:
        f.write('{"v":1,"type":"flow.dec')
    d = start(cfg, run, audit, log)
    # a reload without a dataplane validates now and is pushed when one connects
    rc, out, _ = ctl(run + "/ctl.sock", "reload")
    check(rc == 0 and out.startswith("reloaded: generation 2 ") and
          "dataplane not connected: applied when it connects" in out,
          "reload without a dataplane: " + out.strip())
    dp = FakeDp(run + "/dp.sock")
    dp.send(hello_msg())
    dp.expect_policy(2)
    dp.ack(2)
    wait_for(lambda: records(audit)[-1]["seq"] == seq + 2, "chain continues after restart")
    rec = records(audit)[-2]
    check(rec["type"] == "audit.recovered" and rec["seq"] == seq + 1 and
          rec["torn_bytes"] == 23 and rec["file"] == audit and
          rec["torn_sha256"] == hashlib.sha256(b'{"v":1,"type":"flow.dec').hexdigest(),
          "first record after restart: the cut torn line, recorded: %s" % rec)
    check(records(audit)[-1]["type"] == "policy.loaded" and records(audit)[-1]["by"] == "ctl"
          and records(audit)[-1]["generation"] == 2, "then the reload")
    dp.close()
    # a second daemon on the same sockets is refused; the first one is untouched
    p = subprocess.run([CPD, "-c", cfg, "--dp-socket", run + "/dp.sock", "--ctl-socket",
                        run + "/ctl.sock", "--audit", tmp + "/other.jsonl"],
                       capture_output=True, text=True, timeout=10)
    check(p.returncode == 1 and "another process is listening on it" in p.stderr,
          "second daemon on live sockets refused")
    check(ctl(run + "/ctl.sock", "status")[0] == 0, "first daemon still answers")
    d.send_signal(signal.SIGINT)
    check(d.wait(timeout=10) == 0, "SIGINT: exit 0")
    # killed hard, it leaves its socket files; the next start removes them
    d = start(cfg, run, audit, log)
    d.kill()
    d.wait(timeout=10)
    check(os.path.exists(run + "/ctl.sock"), "SIGKILL leaves a stale socket file")
    d = start(cfg, run, audit, log)
    rc, out, _ = ctl(run + "/ctl.sock", "status")
    check(rc == 0 and "chokepointd: pid %d" % d.pid in out, "stale socket replaced on start")
    d.send_signal(signal.SIGTERM)
    d.wait(timeout=10)
    logtext = open(log).read()
    check("cut a torn last line of 23 bytes" in logtext, "torn line cut and logged")
    p = subprocess.run([CTL, "audit", "verify", audit], capture_output=True, text=True)
    check(p.returncode == 0 and "ok: %d records" % (seq + 2) in p.stdout,
          "audit verify: " + p.stdout.strip().split("\n")[0])
    # a tampered trail fails verification at the right line
    lines = open(audit).read().split("\n")
    lines[2] = lines[2].replace('"sport":40001', '"sport":40002')
    open(tmp + "/t.jsonl", "w").write("\n".join(lines))
    p = subprocess.run([CTL, "audit", "verify", tmp + "/t.jsonl"], capture_output=True, text=True)
    check(p.returncode == 1 and p.stderr.startswith(tmp + "/t.jsonl:3: hash does not match"),
          "tampered line 3 found: " + p.stderr.strip())
    # a rotated trail: --with-rotated puts FILE's rotated files (FILE.<timestamp>) first
    lines = open(audit).read().split("\n")[:-1]
    rdir = tmp + "/rot"
    os.makedirs(rdir)
    parts = [(rdir + "/audit.jsonl.20261125T000000.000001Z", lines[:2]),
             (rdir + "/audit.jsonl.20261125T000001.000001Z", lines[2:4]),
             (rdir + "/audit.jsonl", lines[4:])]
    for path, part in parts:
        open(path, "w").write("".join(l + "\n" for l in part))
    p = subprocess.run([CTL, "audit", "verify", "--with-rotated", rdir + "/audit.jsonl"],
                       capture_output=True, text=True)
    check(p.returncode == 0 and "records: %d in 3 file(s)" % len(lines) in p.stdout,
          "--with-rotated: the chain across 3 files: " + p.stdout.strip().split("\n")[-1])
    p = subprocess.run([CTL, "audit", "verify", rdir + "/audit.jsonl"],
                       capture_output=True, text=True)
    check(p.returncode == 1 and "does not start at genesis" in p.stderr,
          "the live file alone: earlier records missing")
    os.unlink(parts[1][0])
    p = subprocess.run([CTL, "audit", "verify", "--with-rotated", rdir + "/audit.jsonl"],
                       capture_output=True, text=True)
    check(p.returncode == 1 and p.stderr.startswith(rdir + "/audit.jsonl:1: seq 5 where 3 belongs") and
          "a rotated file missing" in p.stderr, "a rotated file missing: " + p.stderr.strip())

    if FAILS:
        print("chokepointd log:\n" + open(log).read())
    print("chokepointd: %d checks failed" % len(FAILS))
    subprocess.run(["rm", "-rf", tmp], check=False)
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
