#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""chokepointctl replay, the command itself: pcapng input (converted for the
pcap PMD), several captures in one dataplane run (one chain, argument order),
records on stdout (nothing else there) and in --audit-out, inputs that are
missing / truncated / not captures (refused before anything starts, naming
the file), a dataplane that fails or is killed (exit 1 with its status),
more captures than ports, usage errors (exit 2).
"""
import json
import os
import subprocess
import sys
import tempfile

SRC = os.environ.get("CHOKEPOINT_SRC", os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
BUILD = os.environ.get("CHOKEPOINT_BUILD", os.path.join(SRC, "build"))
CTL = os.environ.get("CHOKEPOINTCTL", os.path.join(BUILD, "ctrlplane", "chokepointctl"))
DP = os.environ.get("CHOKEPOINT_DP", os.path.join(BUILD, "dataplane", "chokepoint-dp"))
PCAPS = os.path.normpath(os.path.join(SRC, "..", "shared", "corpus", "external", "pcap"))
A = os.path.join(PCAPS, "arkime-curl-enabled-tls13.pcap")      # sni enabled.tls13.com
B = os.path.join(PCAPS, "arkime-tls13.pcap")                    # sni blog.cloudflare.com
FAILS = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        FAILS.append(what)


def replay(*args, dp=DP):
    p = subprocess.run([CTL, "replay", "--dp", dp] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=120, check=False)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def verify(path):
    return subprocess.run([CTL, "audit", "verify", path], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, check=False).returncode == 0


def snis(lines):
    return [r["sni"] for r in lines if r["type"] == "flow.decision" and r["sni"]]


def main():
    for path in (CTL, DP, A, B):
        if not os.path.exists(path):
            # a missing input is a broken setup, never a pass or a skip
            print("%s missing: FAIL" % path)
            return 1
    tmp = tempfile.mkdtemp(prefix="test-replay-cli.")
    cfg = tmp + "/allow.conf"
    with open(cfg, "w", encoding="ascii") as f:
        f.write('default = "allow";\nrules = ( { id = "n"; action = "allow"; '
                'sni = ["never.invalid"]; } );\n')

    def runtime_dirs():
        base = "/var/run/dpdk" if os.getuid() == 0 else os.path.join(
            os.environ.get("XDG_RUNTIME_DIR") or "/tmp", "dpdk")
        return {d for d in (os.listdir(base) if os.path.isdir(base) else [])
                if d.startswith("cpreplay-")}

    # stdout carries records and nothing else; the chain verifies
    before = runtime_dirs()
    rc, out, err = replay("--config", cfg, A)
    check(runtime_dirs() <= before, "no DPDK runtime directory left behind")
    lines = [json.loads(l) for l in out.splitlines()]
    check(rc == 0 and lines[0]["type"] == "policy.loaded" and
          snis(lines) == ["enabled.tls13.com"], "replay to stdout: " + err.strip()[-120:])
    with open(tmp + "/stdout.jsonl", "w", encoding="ascii") as f:
        f.write(out)
    check(verify(tmp + "/stdout.jsonl"), "stdout records verify")

    # pcapng is converted for the pcap PMD; same records as the classic file
    ng = tmp + "/a.pcapng"
    subprocess.run(["editcap", "-F", "pcapng", A, ng], check=True)
    rc, _, err = replay("--config", cfg, "--audit-out", tmp + "/ng.jsonl", ng)
    recs = [json.loads(l) for l in open(tmp + "/ng.jsonl", encoding="ascii")]
    check(rc == 0 and "converted to a classic pcap" in err and
          snis(recs) == ["enabled.tls13.com"] and verify(tmp + "/ng.jsonl"),
          "pcapng input converted and replayed")

    # several captures: one run, one chain, argument order
    rc, out, err = replay("--config", cfg, "--audit-out", tmp + "/two.jsonl", B, ng)
    recs = [json.loads(l) for l in open(tmp + "/two.jsonl", encoding="ascii")]
    check(rc == 0 and snis(recs) == ["blog.cloudflare.com", "enabled.tls13.com"] and
          len({r.get("boot") for r in recs if "boot" in r}) == 1 and
          verify(tmp + "/two.jsonl") and out == "", "two captures in one dataplane run")

    # with audit.signing_key the replay trail is chained and signed as chokepointd's is:
    # checkpoints by count and a closing one, verified with the pinned public key
    subprocess.run([CTL, "audit", "keygen", "--out", tmp + "/k"], check=True,
                   capture_output=True)
    scfg = tmp + "/signed.conf"
    with open(scfg, "w", encoding="ascii") as f:
        f.write(open(cfg, encoding="ascii").read() +
                'audit = { signing_key = "%s/k.key"; checkpoint_records = 2; };\n' % tmp)
    rc, out, err = replay("--config", scfg, "--audit-out", tmp + "/signed.jsonl", B, ng)
    recs = [json.loads(l) for l in open(tmp + "/signed.jsonl", encoding="ascii")]
    ck = [r for r in recs if r["type"] == "audit.checkpoint"]
    p = subprocess.run([CTL, "audit", "verify", "--pubkey", tmp + "/k.pub", "--strict",
                        tmp + "/signed.jsonl"], capture_output=True, text=True, check=False)
    # (the trail ends signed: by the closing checkpoint, or by a count checkpoint that
    # happened to come right after the last record)
    check(rc == 0 and len(ck) >= 2 and recs[-1]["type"] == "audit.checkpoint" and
          recs[-1]["cause"] in ("shutdown", "records") and p.returncode == 0 and
          "chain and signatures verified\n" in p.stdout and
          snis(recs) == ["blog.cloudflare.com", "enabled.tls13.com"],
          "replay with a signing key: signed trail (%d checkpoints) verifies with --pubkey: %s"
          % (len(ck), p.stdout.strip().split("\n")[-1]))

    # bad inputs are refused before the dataplane starts
    marker = tmp + "/dp-ran"
    fake = tmp + "/fake-dp"
    with open(fake, "w", encoding="ascii") as f:
        f.write("#!/bin/sh\ntouch %s\nexit 0\n" % marker)
    os.chmod(fake, 0o755)
    with open(tmp + "/junk.pcap", "w", encoding="ascii") as f:
        f.write("not a capture\n")
    with open(B, "rb") as f, open(tmp + "/cut.pcap", "wb") as g:
        g.write(f.read()[:1500])
    for name, path, want in (("missing", tmp + "/nope.pcap", "No such file"),
                             ("not a capture", tmp + "/junk.pcap", "unknown file format"),
                             ("truncated", tmp + "/cut.pcap", "corrupt capture after 5 packets")):
        rc, out, err = replay("--config", cfg, A, path, dp=fake)
        check(rc == 1 and path + ": " in err and want in err and out == "" and
              not os.path.exists(marker), "%s capture refused, naming it" % name)
    rc, _, err = replay("--config", tmp + "/none.conf", A, dp=fake)
    check(rc == 1 and tmp + "/none.conf" in err and not os.path.exists(marker),
          "missing config refused")

    # a dataplane that fails, or dies, makes the replay fail with its status
    rc, _, err = replay("--config", cfg, A, dp="/bin/false")
    check(rc == 1 and "exit status 1" in err, "dataplane exit 1 -> exit 1")
    with open(fake, "w", encoding="ascii") as f:
        f.write("#!/bin/sh\nkill -9 $$\n")
    rc, _, err = replay("--config", cfg, A, dp=fake)
    check(rc == 1 and "killed by signal 9" in err, "dataplane killed -> exit 1")
    rc, _, err = replay("--config", cfg, A, dp=tmp + "/no-such-dp")
    check(rc == 1 and "cannot execute" in err, "dataplane not found -> exit 1")
    # rotated captures: one flow split across files still meets one flow table;
    # runs of one link type share a port, so the file count is not limited
    parts = tmp + "/rot"
    os.makedirs(parts)
    subprocess.run(["editcap", "-c", "1", A, parts + "/a.pcap"], check=True)
    rot = sorted(os.path.join(parts, n) for n in os.listdir(parts))
    C = os.path.join(PCAPS, "mercury-geneve-inner-rawip.pcap")   # raw IP link type
    rc, _, err = replay("--config", cfg, "--audit-out", tmp + "/rot.jsonl", *(rot + [C, B]))
    recs = [json.loads(l) for l in open(tmp + "/rot.jsonl", encoding="ascii")]
    names = snis(recs)
    check(rc == 0 and len(rot) > 4 and names[0] == "enabled.tls13.com" and
          names[-1] == "blog.cloudflare.com" and
          "page.cdnbasket.net" in names and verify(tmp + "/rot.jsonl") and
          "%d capture(s)" % (len(rot) + 2) in err,
          "%d rotated files + 2 link-type changes in one run, one flow table" % len(rot))
    rc, _, err = replay("--config", cfg, A, C, A, C, A, dp=fake)
    check(rc == 1 and "change link type more than 3 times" in err and
          not os.path.exists(marker), "more link-type changes than ports refused")

    # usage
    for args in (["replay", A], ["replay", "--config", cfg], ["replay", "--bogus"],
                 ["policy"], ["audit"], ["nope"], ["policy", "test", "--config", cfg]):
        p = subprocess.run([CTL] + args, capture_output=True, check=False)
        check(p.returncode == 2 and b"usage:" in p.stderr, "usage error exit 2: %s" % args)

    subprocess.run(["rm", "-rf", tmp], check=False)
    print("replay cli: %d checks failed" % len(FAILS))
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
