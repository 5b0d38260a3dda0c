# SPDX-License-Identifier: BSD-3-Clause
"""Run chokepoint's benchmarks and their baselines, print one table, and
rewrite the generated results section of docs/performance.md.

Every figure is measured beside its baseline in the same invocation, on the
same vdevs and core; runs alternate (baseline, chokepoint, baseline, ...)
and the median of --reps runs is reported, so the ratios hold on a machine
other work shares. Nothing here is a test of speed: --smoke only checks
that every figure is there, non-zero and sane.

  a. fastpath   chokepoint-dpbench fastpath (the real worker loop, N
                established flows) vs dpdk-testpmd io and 5tswap, pcap PMD
                (infinite_rx) -> null PMD, one core, 64 B and IMIX; with --ring-rx
                also fastpath --ring-rx (port 0 a ring ethdev fed by a generator
                lcore: a NIC's small recycled set of mbufs instead of the pcap
                PMD's copy out of its preload; --ring-variants) and io-forward
                on that ring port, in the same reps as the pcap runs
  b. newflow    chokepoint-dpbench newflow (fresh tuple per flow, full
                ClientHello / HTTP extraction, 10,000-name policy, audit
                events) vs ndpiReader over the same flows' capture
  b2. newflow-scale  the same new flows against policies of 100, 10,000,
                100,000 and 1,000,000 names (+ 1,000 regex names), sizes
                alternating; each size's rate and its ratio to 100 names
  c. flowtable  chokepoint-dpbench flowtable: bytes per flow, inserts,
                lookups and aging at 10M flows
  d. latency    bench/latency.py: HTTPS request latency over the kernel
                bridge, chokepoint inline, Squid (CONNECT, SNI peek+splice)
  e. reload     compile + push + swap of a 1,000,000-name policy through
                chokepointd -> chokepoint-dp (chokepointctl reload until the
                dataplane acknowledged), its memory; and chokepoint-dpbench
                reload: K reloads (revalidate = true) while the real worker
                forwards established flows, packets lost must be 0
"""

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.abspath(os.path.join(HERE, ".."))
DOC = os.path.join(SRC, "docs", "performance.md")
BEGIN = "<!-- bench/run.sh: results begin (generated, do not edit by hand) -->"
END = "<!-- bench/run.sh: results end -->"

GOALS = {
    "own_cycles": 80,          # cycles/packet of chokepoint's own processing
    "io_ratio": 0.65,          # of testpmd io-forward's rate
    "new_flows": 400000,       # new flows/s per core
    "bytes_per_flow": 128,
}


def log(*a):
    print("[bench %s]" % time.strftime("%H:%M:%S"), *a, file=sys.stderr, flush=True)


class BenchError(RuntimeError):
    pass


class Runner:
    def __init__(self, args):
        self.args = args
        self.build = os.path.abspath(args.build)
        self.dpbench = os.path.join(self.build, "bench", "chokepoint-dpbench")
        self.bench = os.path.join(self.build, "bench", "chokepoint-bench")
        if not os.access(self.dpbench, os.X_OK):
            raise BenchError("not built: %s (CHOKEPOINT_BUILD=%s)" % (self.dpbench, self.build))
        self.work = tempfile.mkdtemp(prefix="cpbench-", dir=args.tmp)
        self.seq = 0
        self.env = dict(os.environ, CHOKEPOINT_SRC=SRC)
        self.rows = []       # (section, what, value, unit, baseline, base_value, ratio, goal)
        self.notes = []
        self.failed = []

    def close(self):
        if not self.args.keep:
            shutil.rmtree(self.work, ignore_errors=True)
        else:
            log("kept", self.work)

    # -- processes

    def prefix(self):
        self.seq += 1
        return "cpbench-%d-%d" % (os.getpid(), self.seq)

    def run(self, argv, timeout, what):
        log("run:", " ".join(argv))
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=timeout, env=self.env, stdin=subprocess.DEVNULL)
        if p.returncode != 0:
            raise BenchError("%s: exit %d\n%s%s" % (what, p.returncode, p.stdout[-3000:],
                                                     p.stderr[-3000:]))
        return p

    def eal(self, prefix, mem, vdevs, lcores="1", huge=False):
        # huge: DPDK memory in 2 MiB hugepages from the hugetlbfs at --huge
        mm = ["--huge-dir", self.args.huge, "--huge-unlink"] if huge else ["--no-huge"]
        a = ["-l", lcores] + mm + ["-m", str(mem), "--no-pci", "--no-telemetry",
                                   "--file-prefix", prefix, "--log-level", "*:warning"]
        for v in vdevs:
            a += ["--vdev", v]
        return a

    def dpb(self, mode, eal, opts, timeout=1800):
        argv = [self.dpbench] + (eal + ["--"] if eal is not None else []) + [mode] + opts
        prefix = None
        if eal is not None:
            prefix = eal[eal.index("--file-prefix") + 1]
        try:
            p = self.run(argv, timeout, "chokepoint-dpbench " + mode)
        finally:
            if prefix:
                shutil.rmtree("/var/run/dpdk/" + prefix, ignore_errors=True)
        for line in reversed(p.stdout.splitlines()):
            if line.startswith("{"):
                return json.loads(line)
        raise BenchError("chokepoint-dpbench %s printed no figures:\n%s" % (mode, p.stderr[-2000:]))

    # -- inputs

    def policy(self):
        d = os.path.join(self.work, "policy")
        if not os.path.exists(os.path.join(d, "chokepoint.conf")):
            self.dpb("gen-policy", None, ["--names", str(self.args.names), "--out", d])
        return os.path.join(d, "chokepoint.conf"), os.path.join(d, "names.txt")

    # -- rows

    def row(self, section, what, value, unit, baseline=None, base_value=None, goal=None,
            higher=True, fmt="%.2f"):
        ratio = None
        if base_value:
            ratio = value / base_value
        self.rows.append(dict(section=section, what=what, value=value, unit=unit,
                              baseline=baseline, base_value=base_value, ratio=ratio, goal=goal,
                              higher=higher, fmt=fmt))

    def sane(self, what, v, lo, hi):
        if not (v == v and lo <= v <= hi):   # NaN fails too
            self.failed.append("%s = %r outside [%g, %g]" % (what, v, lo, hi))


def median(v):
    return statistics.median(v) if v else float("nan")


# ---------------------------------------------------------------------------
# a. fast path


CLK_TCK = os.sysconf("SC_CLK_TCK")
TSC_HZ = 2.6e9      # replaced by chokepoint-dpbench's tsc_hz once known


def lcore_cpu_s(pid):
    """CPU seconds of the DPDK forwarding lcore thread (rte-worker-N) of pid."""
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                if not f.read().startswith("rte-worker"):
                    continue
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                st = f.read().rsplit(")", 1)[1].split()
            return (int(st[11]) + int(st[12])) / CLK_TCK
        except OSError:
            continue
    raise BenchError("testpmd: no rte-worker thread in pid %d" % pid)


def testpmd(r, pcap, mode, mbufs, mbuf_size, mem, warm, secs, huge=False):
    """dpdk-testpmd on the same vdevs and core; returns (Mpps per CPU-second of its
    forwarding lcore, cycles/packet from it, wall-clock Mpps)."""
    prefix = r.prefix()
    argv = ["stdbuf", "-oL", "dpdk-testpmd"] + r.eal(prefix, mem, [
        "net_pcap0,rx_pcap=%s,infinite_rx=1" % pcap, "net_null0,no-rx=1"], lcores="0,1",
        huge=huge) + [
        "--", "-i", "--forward-mode=%s" % mode, "--nb-cores=1",
        "--total-num-mbufs=%d" % mbufs, "--mbuf-size=%d" % mbuf_size,
        "--record-core-cycles", "--no-mlockall"]
    log("run:", " ".join(argv))
    p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    buf = bytearray()
    reader = threading.Thread(target=lambda: [buf.extend(c) for c in iter(
        lambda: p.stdout.read1(65536), b"")], daemon=True)
    reader.start()

    def wait_for(text, n, timeout):
        deadline = time.monotonic() + timeout
        while buf.count(text) < n:
            if p.poll() is not None or time.monotonic() > deadline:
                raise BenchError("testpmd %s: no %r:\n%s" % (
                    mode, text, buf.decode("utf-8", "replace")[-3000:]))
            time.sleep(0.05)

    def cmd(c):
        p.stdin.write(c.encode() + b"\n")
        p.stdin.flush()

    def rx_and_cpu():
        # port 0's RX counter just shown, and the forwarding lcore's CPU time
        rx = [int(x) for x in re.findall(rb"RX-packets:\s+(\d+)", bytes(buf))]
        return rx[-1], lcore_cpu_s(p.pid)

    try:
        wait_for(b"testpmd> ", 1, 600)      # the capture is loaded
        cmd("start")
        time.sleep(warm)
        cmd("show port stats 0")
        wait_for(b"Throughput (since last show)", 1, 30)
        rx0, cpu0 = rx_and_cpu()
        time.sleep(secs)
        cmd("show port stats 0")
        wait_for(b"Throughput (since last show)", 2, 30)
        rx1, cpu1 = rx_and_cpu()
        cmd("stop")
        wait_for(b"CPU cycles/packet", 1, 30)
        cmd("quit")
        p.stdin.close()
        p.wait(timeout=120)
        reader.join(timeout=10)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        shutil.rmtree("/var/run/dpdk/" + prefix, ignore_errors=True)
    out = buf.decode("utf-8", "replace")
    pps = [int(x) for x in re.findall(r"Rx-pps:\s+(\d+)", out)]
    if len(pps) < 2 or pps[-1] == 0 or cpu1 <= cpu0:
        raise BenchError("testpmd %s: no rate in its output:\n%s" % (mode, out[-3000:]))
    # per CPU-second of the forwarding lcore, as chokepoint-dpbench counts
    mpps = (rx1 - rx0) / (cpu1 - cpu0) / 1e6
    return mpps, TSC_HZ / (mpps * 1e6), pps[-1] / 1e6


def bench_fastpath(r):
    global TSC_HZ
    a = r.args
    conf, names = r.policy()
    for size in a.sizes.split(","):
        pcap = os.path.join(r.work, "fast-%s.pcap" % size)
        v6 = ["--ipv6"] if a.ipv6 else []
        g = r.dpb("gen-fast", None, ["--flows", str(a.flows), "--size", size,
                                      "--names-file", names, "--out", pcap] + v6)
        # data room: headroom (128) + the largest frame, the same for both programs
        mbuf_size = 1664 if size != "64" else 256
        mbufs = a.flows + 16384
        # mbufs (+ mempool headers) + flow table, slots, names, QUIC state per entry
        mem = int((mbufs * (mbuf_size + 256) + a.flows * 1000) / 1e6) + 384
        # --no-huge always; with --huge DIR also every run again in 2 MiB hugepages,
        # chokepoint and its baselines alike, reported as separate rows
        for huge in [False] + ([True] if a.huge else []):
            res = {k: [] for k in ("io", "5tswap", "cp", "own", "cp_cyc", "io_cyc", "sw_cyc",
                                   "cp_wall", "io_wall", "sw_wall", "share")}
            ring = {}
            for rep in range(a.reps):
                mpps, cyc, wall = testpmd(r, pcap, "io", mbufs, mbuf_size, mem, a.warmup,
                                          a.seconds, huge)
                res["io"].append(mpps)
                res["io_cyc"].append(cyc)
                res["io_wall"].append(wall)
                eal = r.eal(r.prefix(), mem, ["net_pcap0,rx_pcap=%s,infinite_rx=1" % pcap,
                                              "net_null0,no-rx=1"], huge=huge)
                j = r.dpb("fastpath", eal, ["--flows", str(a.flows), "--size", size,
                                            "--policy", conf, "--names-file", names,
                                            "--seconds", str(a.seconds), "--warmup", str(a.warmup)]
                          + v6)
                TSC_HZ = float(j["tsc_hz"])
                res["cp"].append(j["mpps"])
                res["own"].append(j["own_cycles_per_pkt"])
                res["cp_cyc"].append(j["cycles_per_pkt"])
                res["cp_wall"].append(j["mpps_wall"])
                res["share"].append(j["cpu_share"])
                if a.ring_rx:
                    for var in a.ring_variants.split(","):
                        ring_rep(r, ring, pcap, size, mbuf_size, conf, names, huge, var, v6)
                mpps, cyc, wall = testpmd(r, pcap, "5tswap", mbufs, mbuf_size, mem, a.warmup,
                                          a.seconds, huge)
                res["5tswap"].append(mpps)
                res["sw_cyc"].append(cyc)
                res["sw_wall"].append(wall)
                log("fastpath %s%s rep %d: chokepoint %.2f Mpps/CPU-s (%.0f own cycles, %.0f%% of "
                    "the CPU), io %.2f, 5tswap %.2f" % (size, " huge" if huge else "",
                                                        rep + 1, j["mpps"],
                                                        j["own_cycles_per_pkt"], 100 * j["cpu_share"],
                                                        res["io"][-1], res["5tswap"][-1]))
            cp, io, sw = median(res["cp"]), median(res["io"]), median(res["5tswap"])
            label = "64 B" if size == "64" else size.upper()
            if a.ipv6:
                label += ", IPv6 (frames 20 B longer)"
            if huge:
                label += ", 2 MiB hugepages"
            sec = "a. fast path, %s, %s established flows" % (label, "{:,}".format(a.flows))
            r.row(sec, "Mpps per CPU-second", cp, "Mpps", "testpmd io", io, goal=GOALS["io_ratio"])
            r.row(sec, "Mpps per CPU-second", cp, "Mpps", "testpmd 5tswap", sw)
            r.row(sec, "cycles/packet, total", median(res["cp_cyc"]), "cycles", "testpmd io",
                  median(res["io_cyc"]), higher=False, fmt="%.0f")
            r.row(sec, "cycles/packet, own processing", median(res["own"]), "cycles",
                  goal=GOALS["own_cycles"], higher=False, fmt="%.0f")
            r.row(sec, "Mpps, wall clock", median(res["cp_wall"]), "Mpps", "testpmd io",
                  median(res["io_wall"]))
            r.notes.append("fast path %s: %d reps, Mpps per CPU-second: chokepoint %s, io %s, "
                           "5tswap %s; wall clock: chokepoint %s, io %s, 5tswap %s; the worker "
                           "thread had %s%% of its CPU" % (
                               label, a.reps, fmt_list(res["cp"]), fmt_list(res["io"]),
                               fmt_list(res["5tswap"]), fmt_list(res["cp_wall"]),
                               fmt_list(res["io_wall"]), fmt_list(res["sw_wall"]),
                               "/".join("%.0f" % (100 * x) for x in res["share"])))
            r.sane("fastpath %s Mpps" % size, cp, 0.001, 1000)
            r.sane("fastpath %s own cycles" % size, median(res["own"]), 1, 1e7)
            r.sane("testpmd io %s Mpps" % size, io, 0.001, 1000)
            if a.ring_rx:
                for var in a.ring_variants.split(","):
                    ring_rows(r, ring[var], res, label, var)
        os.unlink(pcap)


RING_VARIANTS = {
    # name: (chokepoint-dpbench flags, what the row says)
    "plain": ([], "generator lcore"),
    "demote": (["--ring-demote"], "generator lcore, lines cldemoted to the LLC"),
    "touch": (["--ring-touch"], "generator lcore, RX reads each mbuf's lines outside own cycles"),
    "touchw": (["--ring-touch-write"], "generator lcore, RX reads and writes back each mbuf's "
               "lines outside own cycles"),
}


def ring_rep(r, ring, pcap, size, mbuf_size, conf, names, huge, var, v6):
    """One run of fastpath --ring-rx (the worker on CPU 1, the generator on CPU 0),
    its io-forward baseline in the same process; figures appended to ring[var]."""
    a = r.args
    mem = int((8192 * (mbuf_size + 256) + a.flows * 1000) / 1e6) + 384
    eal = r.eal(r.prefix(), mem, [], lcores="0,1", huge=huge) + ["--main-lcore", "1"]
    j = r.dpb("fastpath", eal, ["--ring-rx", "--pcap", pcap, "--flows", str(a.flows),
                                "--size", size, "--policy", conf, "--names-file", names,
                                "--seconds", str(a.seconds), "--warmup", str(a.warmup)]
              + RING_VARIANTS[var][0] + v6)
    for k in ("mpps", "own_cycles_per_pkt", "busy_cycles_per_pkt", "empty_polls", "io_mpps",
              "io_busy_cycles_per_pkt", "io_empty_polls", "burst", "gen_mpps_cpu", "cpu_share"):
        ring.setdefault(var, {}).setdefault(k, []).append(j[k])
    log("fastpath --ring-rx %s %s: %.2f Mpps/CPU-s, %.0f own cycles, %.0f in non-empty polls "
        "(%.1f packets each), %.1f%% polls empty; io-forward %.2f Mpps, %.0f cycles, %.1f%% "
        "empty" % (var, size, j["mpps"], j["own_cycles_per_pkt"],
                   j["busy_cycles_per_pkt"], j["burst"], 100 * j["empty_polls"], j["io_mpps"],
                   j["io_busy_cycles_per_pkt"], 100 * j["io_empty_polls"]))


def ring_rows(r, x, res, label, var):
    """The --ring-rx row group: own cycles beside the pcap RX runs of the same reps."""
    a = r.args
    sec = "a2. fast path, ring RX (%s), %s, %s established flows" % (
        RING_VARIANTS[var][1], label, "{:,}".format(a.flows))
    empty = median(x["empty_polls"])
    r.row(sec, "cycles/packet, own processing", median(x["own_cycles_per_pkt"]), "cycles",
          "pcap RX, same reps", median(res["own"]), goal=GOALS["own_cycles"], higher=False,
          fmt="%.0f")
    r.row(sec, "cycles/packet in polls that found packets", median(x["busy_cycles_per_pkt"]),
          "cycles", "io-forward, same ring port", median(x["io_busy_cycles_per_pkt"]),
          higher=False, fmt="%.0f")
    r.row(sec, "Mpps per CPU-second%s" % (
        " (generator-bound: %.0f%% of polls empty)" % (100 * empty) if empty > 0.01 else ""),
        median(x["mpps"]), "Mpps", "io-forward, same ring port", median(x["io_mpps"]))
    r.row(sec, "share of io-forward's rate, from cycles/packet in polls that found packets",
          median(x["io_busy_cycles_per_pkt"]) / median(x["busy_cycles_per_pkt"]), "")
    r.notes.append("fast path %s, ring RX %s: %d reps, own cycles/packet %s (pcap RX %s), "
                   "cycles/packet in polls with packets %s (io-forward %s), packets per such "
                   "poll %s, polls empty %s (io-forward %s), Mpps per CPU-second %s "
                   "(io-forward %s), generator Mpps per its CPU-second %s" % (
                       label, var, len(x["mpps"]),
                       fmt_list(x["own_cycles_per_pkt"]), fmt_list(res["own"]),
                       fmt_list(x["busy_cycles_per_pkt"]), fmt_list(x["io_busy_cycles_per_pkt"]),
                       fmt_list(x["burst"]), fmt_list(x["empty_polls"]),
                       fmt_list(x["io_empty_polls"]), fmt_list(x["mpps"]),
                       fmt_list(x["io_mpps"]), fmt_list(x["gen_mpps_cpu"])))
    r.sane("ring RX own cycles", median(x["own_cycles_per_pkt"]), 1, 1e7)
    r.sane("ring RX Mpps", median(x["mpps"]), 0.001, 1000)
    r.sane("ring RX io-forward Mpps", median(x["io_mpps"]), 0.001, 1000)


def fmt_list(v):
    return "/".join("%.2f" % x for x in v)


# ---------------------------------------------------------------------------
# b. new flows


def ndpi(r, pcap, flows):
    """ndpiReader over the capture on CPU 1: flows per CPU-second of the process
    (reading the capture included), and per second of its own processing clock."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    p = r.run(["taskset", "-c", "1", "ndpiReader", "-i", pcap], 1800, "ndpiReader")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = p.stdout + p.stderr
    m = re.search(r"Packet Processing Time:\s+([\d.]+)\s+(msec|sec|usec)", out)
    u = re.search(r"Unique flows:\s+(\d+)", out)
    if not m or not u:
        raise BenchError("ndpiReader: no processing time / flow count:\n" + out[-2000:])
    t = float(m.group(1)) * {"msec": 1e-3, "sec": 1.0, "usec": 1e-6}[m.group(2)]
    if int(u.group(1)) != flows:
        raise BenchError("ndpiReader saw %s flows, the capture has %d" % (u.group(1), flows))
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return flows / cpu, flows / t


def bench_newflow(r):
    a = r.args
    conf, names = r.policy()
    pcap = os.path.join(r.work, "newflow.pcap")
    r.dpb("gen-newflow", None, ["--flows", str(a.newflows), "--names-file", names,
                                "--out", pcap])
    cp, nd, ndw, cyc, cpw, st, stc = [], [], [], [], [], [], []
    have_ndpi = shutil.which("ndpiReader") is not None

    def newflow(extra):
        eal = r.eal(r.prefix(), 1024 + a.newflows // 1000, ["net_null0,no-rx=1",
                                                            "net_null1,no-rx=1"])
        return r.dpb("newflow", eal, ["--flows", str(a.newflows), "--policy", conf,
                                      "--names-file", names] + extra)

    for rep in range(a.reps):
        j = newflow([])
        cp.append(j["flows_per_s"])
        cpw.append(j["flows_per_s_tsc"])
        cyc.append(j["cycles_per_flow"])
        if a.newflow_stacks:
            # the same flows, each hello's cipher order flow i's stack's (i mod N): the
            # JA4 memo (keyed by the wire order) misses as for N distinct client stacks
            js = newflow(["--stacks", str(a.newflow_stacks)])
            st.append(js["flows_per_s"])
            stc.append(js["cycles_per_flow"])
        if have_ndpi:
            cpu_rate, wall_rate = ndpi(r, pcap, a.newflows)
            nd.append(cpu_rate)
            ndw.append(wall_rate)
        log("newflow rep %d: chokepoint %.0f flows/s, nDPI %s" % (
            rep + 1, cp[-1], "%.0f" % nd[-1] if nd else "-"))
    sec = "b. new flows, %s flows, %d names, audit events on" % ("{:,}".format(a.newflows),
                                                                 a.names)
    r.row(sec, "new flows per CPU-second", median(cp), "flows/s", "ndpiReader" if nd else None,
          median(nd) if nd else None, goal=GOALS["new_flows"], fmt="%.0f")
    r.row(sec, "new flows/s, wall clock", median(cpw), "flows/s",
          "ndpiReader (its processing time)" if nd else None, median(ndw) if nd else None,
          fmt="%.0f")
    r.row(sec, "cycles per new flow", median(cyc), "cycles", higher=False, fmt="%.0f")
    if st:
        what = "%s distinct cipher orders (--stacks)" % "{:,}".format(a.newflow_stacks)
        r.row(sec, "new flows per CPU-second, " + what, median(st), "flows/s",
              goal=GOALS["new_flows"], fmt="%.0f")
        r.row(sec, "cycles per new flow, " + what, median(stc), "cycles", higher=False,
              fmt="%.0f")
        r.notes.append("new flows with --stacks %d: per CPU-second %s flows/s, %s cycles/flow "
                       "(each rep right after the stock run)" % (
                           a.newflow_stacks, "/".join("%.0f" % x for x in st),
                           "/".join("%.0f" % x for x in stc)))
        r.sane("newflow --stacks flows/s", median(st), 100, 1e9)
    r.notes.append("new flows: %d reps, per CPU-second chokepoint %s flows/s, ndpiReader %s "
                   "(its whole process, reading the capture included); %s packets, "
                   "%s HTTP, %s unlisted names, %s allowed/%s denied decisions" % (
                       a.reps, "/".join("%.0f" % x for x in cp),
                       "/".join("%.0f" % x for x in nd) or "not installed",
                       j["packets"], j["http"], j["unlisted"], j["allow"], j["deny"]))
    r.sane("newflow flows/s", median(cp), 100, 1e9)
    if nd:
        r.sane("ndpiReader flows/s", median(nd), 10, 1e9)
    elif not a.smoke:
        r.failed.append("ndpiReader not installed (apt-get install -y libndpi-bin)")
    os.unlink(pcap)


def bench_newflow_scale(r):
    """b2. the new-flow path by policy size: the same capture (flows, names, verdicts)
    against policies of every size, sizes alternating within each repetition."""
    a = r.args
    sizes = [int(x) for x in a.scale_sizes.split(",")]
    pol = {}
    for n in sizes:
        d = os.path.join(r.work, "scale-%d" % n)
        r.dpb("gen-policy", None, ["--names", str(n), "--regex", str(a.scale_regex), "--out", d])
        pol[n] = (os.path.join(d, "chokepoint.conf"), os.path.join(d, "names.txt"))
    # gen-policy's name k is a function of k alone, so the smallest list is the head of
    # every other: its names are listed in every policy and the flows' verdicts agree.
    small, big = min(sizes), max(sizes)
    # (key, size, names file the flows' listed names come from, extra options, label)
    runs = [(n, n, pol[small][1], [], "{:,} names".format(n)) for n in sizes]
    if a.scale_spread and big != small:
        # and the biggest policy once more with its listed names drawn from all its names
        runs.append(("spread", big, pol[big][1], [],
                     "{:,} names, listed names spread over all".format(big)))
    if a.scale_thp and big != small:
        # and once more from a copy of the blob in transparent huge pages
        runs.append(("thp", big, pol[small][1], ["--policy-thp"],
                     "{:,} names, blob copied into huge pages (--policy-thp)".format(big)))
    opts = ["--flows", str(a.newflows), "--regex", str(a.scale_regex), "--regex-pct",
            str(a.scale_regex_pct), "--deny-pct", str(a.scale_deny_pct)]
    res = {x[0]: [] for x in runs}
    for rep in range(a.reps):
        order = runs[rep % len(runs):] + runs[:rep % len(runs)]
        for key, n, names, extra, label in order:
            eal = r.eal(r.prefix(), 1024 + a.newflows // 1000, ["net_null0,no-rx=1",
                                                                "net_null1,no-rx=1"])
            j = r.dpb("newflow", eal, opts + extra + ["--policy", pol[n][0],
                                                     "--names-file", names])
            res[key].append(j)
            log("newflow-scale rep %d: %s: %.0f flows/s (%.0f cycles/flow), policy "
                "compile %.0f ms, load %.0f ms, %.1f MB, %d kB in huge pages" % (
                    rep + 1, label, j["flows_per_s"], j["cycles_per_flow"],
                    j["policy_compile_ms"], j["policy_load_ms"], j["policy_loaded"] / 1e6,
                    j.get("anon_huge_kb", 0)))

    def fps(n):
        return [x["flows_per_s"] for x in res[n]]

    base = median(fps(small))
    sec = "b2. new flows by policy size (+ %s regex names), %s flows, same capture" % (
        "{:,}".format(a.scale_regex), "{:,}".format(a.newflows))
    for n, _, _, _, label in runs:
        v = median(fps(n))
        # each repetition's ratio against the smallest policy's run of the same repetition
        per_rep = [x / y for x, y in zip(fps(n), fps(small))]
        r.row(sec, "new flows per CPU-second, %s" % label, v, "flows/s",
              "%s names" % "{:,}".format(small) if n != small else None,
              base if n != small else None,
              goal=0.9 if n == big and small <= 100 else None, fmt="%.0f")
        if n == "thp":
            j = res[n][-1]
            r.row(sec, "policy blob in transparent huge pages, %s" % label,
                  j.get("anon_huge_kb", 0) / 1e3, "MB", fmt="%.1f")
        j = res[n][-1]
        r.notes.append("new flows by policy size, %s: %s flows/s per CPU-second (per rep: %s; "
                       "ratio to %s names per rep: %s); %.0f cycles/flow; policy blob %.1f MB, "
                       "loaded %.1f MB, compile %s ms, dataplane load %s ms; %.1f MB in huge "
                       "pages; %d decisions, "
                       "%d allow / %d deny" % (
                           label, "{:,.0f}".format(v), "/".join("%.0f" % x for x in fps(n)),
                           small, "/".join("%.3f" % x for x in per_rep),
                           median([x["cycles_per_flow"] for x in res[n]]),
                           j["policy_blob"] / 1e6, j["policy_loaded"] / 1e6,
                           "/".join("%.0f" % x["policy_compile_ms"] for x in res[n]),
                           "/".join("%.0f" % x["policy_load_ms"] for x in res[n]),
                           j.get("anon_huge_kb", 0) / 1e3, j["decisions"], j["allow"], j["deny"]))
        r.sane("newflow-scale %s flows/s" % n, v, 100, 1e9)
        r.sane("newflow-scale %s loaded bytes" % n, j["policy_loaded"], 1000, 1e10)
        # the same capture must get the same verdicts from every policy (chokepoint-dpbench
        # already failed the run if a verdict differs from the flow's expected one)
        for x in res[n]:
            if (x["allow"], x["deny"]) != (res[small][0]["allow"], res[small][0]["deny"]):
                r.failed.append("newflow-scale %s: %d allow / %d deny, %d names: %d / %d"
                                % (n, x["allow"], x["deny"], small, res[small][0]["allow"],
                                   res[small][0]["deny"]))


# ---------------------------------------------------------------------------
# c. flow table


def bench_flowtable(r):
    a = r.args
    mem = int(a.table_flows * 700 / 1e6) + 256
    res = []
    for rep in range(a.reps):
        eal = r.eal(r.prefix(), mem, [])
        res.append(r.dpb("flowtable", eal, ["--flows", str(a.table_flows),
                                            "--lookups", str(a.lookups)]))
    j = res[-1]
    sec = "c. flow table, %s flows" % "{:,}".format(a.table_flows)
    r.row(sec, "bytes per flow (table + index)", j["bytes_per_flow"], "B",
          goal=GOALS["bytes_per_flow"], higher=False, fmt="%.0f")
    r.row(sec, "inserts/s", median([x["inserts_per_s"] for x in res]), "/s", fmt="%.3g")
    r.row(sec, "lookups/s (bulk of 32, random)", median([x["lookups_per_s"] for x in res]),
          "/s", fmt="%.3g")
    r.row(sec, "aged/s (bounded sweep)", median([x["aged_per_s"] for x in res]), "/s",
          fmt="%.3g")
    r.notes.append("flow table: struct dp_flow %d B, %d lookups per rep, %d misses" % (
        j["sizeof_flow"], j["lookups"], j["misses"]))
    r.sane("flowtable bytes/flow", j["bytes_per_flow"], 16, 4096)
    r.sane("flowtable lookups/s", j["lookups_per_s"], 1000, 1e11)


# ---------------------------------------------------------------------------
# d. latency


def bench_latency(r):
    a = r.args
    argv = ["/usr/bin/python3", os.path.join(HERE, "latency.py"), "--build", r.build,
            "--requests", str(a.requests), "--json", os.path.join(r.work, "latency.json")]
    p = r.run(argv, 3600, "bench/latency.py")
    sys.stderr.write(p.stderr[-4000:])
    with open(os.path.join(r.work, "latency.json")) as f:
        lat = json.load(f)
    for mode in ("new connection per request", "keep-alive"):
        sec = "d. HTTPS latency, %s, %d requests" % (mode, lat["requests"])
        k = "new" if mode.startswith("new") else "keepalive"
        base = lat["paths"]["kernel"][k]
        for path, label in (("chokepoint", "chokepoint inline, back-off on"),
                            ("chokepoint-busy", "chokepoint inline, back-off off"),
                            ("squid", "Squid CONNECT + peek/splice")):
            if path not in lat["paths"]:
                continue
            v = lat["paths"][path][k]
            for q in ("p50", "p99"):
                r.row(sec, "%s %s" % (label, q), v[q], "us", "kernel bridge %s" % q, base[q],
                      higher=False, fmt="%.0f")
                r.sane("latency %s %s %s" % (path, k, q), v[q], 1, 1e7)
    r.notes.append("latency: " + lat.get("note", ""))


# ---------------------------------------------------------------------------
# e. reload


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        m = re.search(r"VmRSS:\s+(\d+) kB", f.read())
    return int(m.group(1)) if m else 0


def ctl_json(r, sock):
    p = subprocess.run([os.path.join(r.build, "ctrlplane", "chokepointctl"), "--socket", sock,
                        "status", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=30)
    return json.loads(p.stdout) if p.returncode == 0 else {}


def bench_reload_e2e(r):
    """compile + push + swap of an N-name policy through the real daemons: chokepointd
    compiles, sends the sealed memfd, chokepoint-dp builds it aside in its loader thread
    and swaps; `chokepointctl reload` returns when the dataplane acknowledged it."""
    a = r.args
    d = os.path.join(r.work, "e2e")
    big = os.path.join(r.work, "e2e-big")
    r.dpb("gen-policy", None, ["--names", "100", "--out", d])
    r.dpb("gen-policy", None, ["--names", str(a.reload_names), "--out", big])
    conf = os.path.join(d, "chokepoint.conf")
    cpd = os.path.join(r.build, "ctrlplane", "chokepointd")
    ctl = os.path.join(r.build, "ctrlplane", "chokepointctl")
    dpb = os.path.join(r.build, "dataplane", "chokepoint-dp")
    # the compile alone, in one process (chokepointd --check): its sizes too
    t0 = time.monotonic()
    p = r.run([cpd, "--check", os.path.join(big, "chokepoint.conf")], 600, "chokepointd --check")
    check_s = time.monotonic() - t0
    m = re.search(r"ok: (\d+) rules, policy sha256:[0-9a-f]{64}, compiled (\d+) bytes, "
                  r"loaded (\d+) bytes", p.stdout)
    if not m:
        raise BenchError("chokepointd --check: no summary line:\n" + p.stdout[-2000:])
    compiled, loaded = int(m.group(2)), int(m.group(3))
    sock, csock = os.path.join(d, "dp.sock"), os.path.join(d, "ctl.sock")
    prefix = r.prefix()
    procs = []
    dplog = open(os.path.join(d, "dp.log"), "w+")
    try:
        procs.append(subprocess.Popen([cpd, "-c", conf, "--dp-socket", sock, "--ctl-socket", csock,
                                       "--audit", os.path.join(d, "audit.jsonl")],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                      stdin=subprocess.DEVNULL))
        deadline = time.monotonic() + 10
        while not os.path.exists(sock) and time.monotonic() < deadline:
            time.sleep(0.05)
        procs.append(subprocess.Popen(
            [dpb] + r.eal(prefix, 512, ["net_null0,no-rx=1", "net_null1,no-rx=1"],
                          lcores="0-1") + ["--log-level", "chokepoint.dp.policy:info",
                                           "--", "--mode", "wire", "--ctl", sock],
            stdout=dplog, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL))
        deadline = time.monotonic() + 30
        while (ctl_json(r, csock).get("dataplane", {}).get("policy_generation") != 1):
            if time.monotonic() > deadline or any(x.poll() is not None for x in procs):
                raise BenchError("the daemons did not come up with the small policy")
            time.sleep(0.1)
        rss0 = rss_kb(procs[1].pid)
        # the same config path, its list now the big one
        shutil.copyfile(os.path.join(big, "names.txt"), os.path.join(d, "names.txt"))
        t0 = time.monotonic()
        p = subprocess.run([ctl, "--socket", csock, "reload"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=600)
        e2e_s = time.monotonic() - t0
        if p.returncode != 0 or "generation 2" not in p.stdout:
            raise BenchError("chokepointctl reload: %s" % p.stdout)
        st = ctl_json(r, csock)
        if st.get("dataplane", {}).get("policy_generation") != 2:
            raise BenchError("the dataplane does not run generation 2 after the reload")
        time.sleep(0.5)        # the old generation freed (RCU), the new one's pages touched
        rss1 = rss_kb(procs[1].pid)
    finally:
        for x in reversed(procs):
            if x.poll() is None:
                x.terminate()
                try:
                    x.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    x.kill()
                    x.wait()
        shutil.rmtree("/var/run/dpdk/" + prefix, ignore_errors=True)
    dplog.seek(0)
    m = re.search(r"policy generation 2 built in ([\d.]+) ms", dplog.read())
    build_ms = float(m.group(1)) if m else float("nan")
    n = a.reload_names
    sec = "e. reload, %s names, chokepointd -> chokepoint-dp" % "{:,}".format(n)
    r.row(sec, "compile + push + swap (chokepointctl reload until acknowledged)", e2e_s, "s",
          goal=10.0, higher=False, fmt="%.2f")
    r.row(sec, "compile alone (chokepointd --check)", check_s, "s", fmt="%.2f")
    r.row(sec, "dataplane build aside (loader thread)", build_ms, "ms", fmt="%.0f")
    r.row(sec, "compiled policy (the blob)", compiled / 1e6, "MB", fmt="%.1f")
    r.row(sec, "loaded policy in the dataplane", loaded / 1e6, "MB", fmt="%.1f")
    r.row(sec, "loaded bytes per name", loaded / n, "B", fmt="%.0f")
    r.row(sec, "chokepoint-dp RSS growth", (rss1 - rss0) / 1e3, "MB", fmt="%.1f")
    r.notes.append("reload e2e: %d names in one sni_file/host_file rule; chokepoint-dp on two "
                   "null vdevs, 1 worker; RSS %d -> %d kB" % (n, rss0, rss1))
    r.sane("reload e2e seconds", e2e_s, 0.001, 600)
    r.sane("reload compiled bytes", compiled, 100, 1e10)
    r.sane("reload loaded bytes", loaded, compiled, 1e10)
    r.sane("reload dataplane build ms", build_ms, 0.001, 600000)


def bench_reload_load(r):
    """packets lost during reloads under steady load: chokepoint-dpbench reload."""
    a = r.args
    conf, names = r.policy()
    reconf = os.path.join(os.path.dirname(conf), "reload.conf")
    with open(conf) as f, open(reconf, "w") as g:
        g.write(f.read() + "revalidate = true;\n")
    pcap = os.path.join(r.work, "reload-64.pcap")
    r.dpb("gen-fast", None, ["--flows", str(a.flows), "--size", "64", "--names-file", names,
                             "--out", pcap])
    mbufs = a.flows + 16384
    # a name slot per flow (chokepoint-dp --names): every flow's name is kept, so every
    # flow can be judged again
    mem = int((mbufs * (256 + 256) + a.flows * (1000 + 300)) / 1e6) + 384
    eal = r.eal(r.prefix(), mem, ["net_pcap0,rx_pcap=%s,infinite_rx=1" % pcap,
                                  "net_null0,no-rx=1"])
    j = r.dpb("reload", eal, ["--flows", str(a.flows), "--size", "64", "--policy", conf,
                              "--name-slots", str(a.flows),
                              "--names-file", names, "--reload-policy", reconf,
                              "--reloads", str(a.reloads), "--seconds", str(a.reload_seconds),
                              "--warmup", str(a.warmup)])
    sec = "e. reload under load, %s established flows, %d reloads (revalidate = true)" % (
        "{:,}".format(a.flows), j["reloads"])
    r.row(sec, "packets lost (received - forwarded)", j["lost"], "packets", goal=0,
          higher=False, fmt="%d")
    r.row(sec, "packets through the worker meanwhile", j["rx"], "packets", fmt="%d")
    r.row(sec, "Mpps per CPU-second during the reloads", j["mpps_cpu"], "Mpps",
          "without reloads", j["mpps_cpu_no_reload"])
    r.row(sec, "POLICY to live (loader thread + publish), max", j["live_ms_max"], "ms",
          higher=False, fmt="%.1f")
    r.row(sec, "flows judged again", j["revalidated"], "flows", fmt="%d")
    r.row(sec, "longest worker loop during reloads", j["longest_loop_us"], "us",
          "without reloads", j["longest_loop_us_no_reload"], higher=False, fmt="%.0f")
    r.notes.append("reload under load: %d reloads in %.1f s, %d packets received, %d forwarded, "
                   "%d dropped, %d lost; %d flows judged again, %d revoked, %d not judged (name "
                   "not kept); the longest worker loop includes preemption on this shared "
                   "machine" % (j["reloads"], j["seconds"], j["rx"], j["tx"], j["dropped"],
                                j["lost"], j["revalidated"], j["revoked"], j["reval_no_name"]))
    # a correctness check, not a speed threshold
    if (j["lost"] != 0 or j["dropped"] != 0 or j["revoked"] != 0 or j["failed"] != 0 or
            j["reval_no_name"] != 0):
        r.failed.append("reload under load: %d lost, %d dropped, %d revoked, %d failed, %d not "
                        "judged" % (j["lost"], j["dropped"], j["revoked"], j["failed"],
                                    j["reval_no_name"]))
    r.sane("reload packets", j["rx"], 1, 1e12)
    os.unlink(pcap)


def bench_reload(r):
    bench_reload_e2e(r)
    bench_reload_load(r)


# ---------------------------------------------------------------------------
# output


def fmt(row, key):
    v = row[key]
    if v is None:
        return "-"
    return row["fmt"] % v


def table(r):
    lines = ["| benchmark | figure | chokepoint | baseline | baseline value | ratio | goal |",
             "|---|---|---|---|---|---|---|"]
    for x in r.rows:
        goal = "-"
        if x["goal"] is not None:
            if x["baseline"] and x["ratio"] is not None and x["goal"] < 10:
                met = x["ratio"] >= x["goal"]
                goal = "%s %.0f%% of it: %s" % (">=", x["goal"] * 100, "met" if met else "not met")
            else:
                met = x["value"] >= x["goal"] if x["higher"] else x["value"] <= x["goal"]
                goal = "%s %s: %s" % (">=" if x["higher"] else "<=", "{:,}".format(x["goal"]),
                                      "met" if met else "not met")
        ratio = "-" if x["ratio"] is None else "%.2f" % x["ratio"]
        lines.append("| %s | %s | %s %s | %s | %s | %s | %s |" % (
            x["section"], x["what"], fmt(x, "value"), x["unit"], x["baseline"] or "-",
            fmt(x, "base_value"), ratio, goal))
    return "\n".join(lines)


def machine():
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"model name\s*:\s*(.*)", f.read())
            cpu = m.group(1).strip() if m else cpu
    except OSError:
        pass
    load = os.getloadavg()
    return "%s, %d CPUs, load average %.1f at the end" % (cpu, os.cpu_count() or 0, load[0])


def write_doc(r, text):
    section = "%s\n%s\n%s" % (BEGIN, text, END)
    doc = open(DOC).read() if os.path.exists(DOC) else ""
    if BEGIN in doc and END in doc:
        doc = doc[:doc.index(BEGIN)] + section + doc[doc.index(END) + len(END):]
    else:
        if not doc:
            doc = "# Performance\n"
        doc = doc.rstrip("\n") + "\n\n## Results (bench/run.sh)\n\n" + section + "\n"
    tmp = DOC + ".tmp.%d" % os.getpid()
    with open(tmp, "w") as f:
        f.write(doc)
    os.replace(tmp, DOC)
    log("wrote the results section of", DOC)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.environ.get("CHOKEPOINT_BUILD",
                                                      os.path.join(SRC, "build")))
    ap.add_argument("--only", default="fastpath,newflow,newflow-scale,flowtable,latency,reload")
    ap.add_argument("--smoke", action="store_true",
                    help="small sizes; figures checked for sanity, the doc is not written")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--flows", type=int, default=1000000, help="fast path: established flows")
    ap.add_argument("--sizes", default="64,imix")
    ap.add_argument("--ipv6", action="store_true",
                    help="fastpath: the flows over IPv6 (chokepoint-dpbench --ipv6)")
    ap.add_argument("--ring-rx", action="store_true",
                    help="fastpath: also the ring-RX rows (a generator lcore feeding a ring "
                         "ethdev, and io-forward on it), in the same reps")
    ap.add_argument("--ring-variants", default="plain,demote,touch",
                    help="--ring-rx: plain (the generator's lines read from its cache), demote "
                         "(cldemoted to the LLC first), touch (an RX callback reads each mbuf's "
                         "lines, outside the own cycles, as the pcap PMD's copy does), touchw "
                         "(the same, storing them back: owned as after a copy; not by default)")
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--warmup", type=float, default=1.0)
    ap.add_argument("--names", type=int, default=10000)
    ap.add_argument("--newflows", type=int, default=200000)
    ap.add_argument("--newflow-stacks", type=int, default=100000,
                    help="newflow: also run the flows with N distinct cipher orders "
                    "(dpbench --stacks N, defeats the JA4 memo); 0: skip")
    ap.add_argument("--scale-sizes", default="100,10000,100000,1000000",
                    help="newflow-scale: policy sizes (names), the smallest the base")
    ap.add_argument("--scale-regex", type=int, default=1000,
                    help="newflow-scale: regex names in every policy")
    ap.add_argument("--scale-regex-pct", type=int, default=5,
                    help="newflow-scale: flows named by a regex")
    ap.add_argument("--scale-deny-pct", type=int, default=50,
                    help="newflow-scale: flows with a name on no list")
    ap.add_argument("--no-scale-spread", dest="scale_spread", action="store_false",
                    help="newflow-scale: skip the biggest policy's run with listed names "
                         "drawn from all its names")
    ap.add_argument("--no-scale-thp", dest="scale_thp", action="store_false",
                    help="newflow-scale: skip the biggest policy's run with its blob copied "
                         "into transparent huge pages (--policy-thp)")
    ap.add_argument("--table-flows", type=int, default=10000000)
    ap.add_argument("--lookups", type=int, default=50000000)
    ap.add_argument("--requests", type=int, default=10000)
    ap.add_argument("--reload-names", type=int, default=1000000,
                    help="reload: names of the policy compiled, pushed and swapped")
    ap.add_argument("--reloads", type=int, default=20, help="reload: reloads under load")
    ap.add_argument("--reload-seconds", type=float, default=10.0)
    ap.add_argument("--no-doc", action="store_true")
    ap.add_argument("--huge", metavar="DIR", default=None,
                    help="fast path: also run everything in 2 MiB hugepages from the "
                         "hugetlbfs mounted at DIR (reported as separate rows; as root: "
                         "echo 1800 > /proc/sys/vm/nr_hugepages; mount -t hugetlbfs nodev DIR)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--tmp", default=os.environ.get("TMPDIR", "/tmp"))
    a = ap.parse_args()
    if a.smoke:
        a.reps, a.flows, a.seconds, a.warmup = 1, 20000, 1.0, 0.3
        a.newflows, a.table_flows, a.lookups, a.requests = 20000, 100000, 2000000, 200
        a.reload_names, a.reloads, a.reload_seconds = 20000, 5, 2.0
        a.scale_sizes, a.scale_regex = "100,30000", 50
        a.no_doc = True
    only = set(a.only.split(","))
    r = Runner(a)
    t0 = time.monotonic()
    try:
        for name, fn in (("fastpath", bench_fastpath), ("newflow", bench_newflow),
                         ("newflow-scale", bench_newflow_scale),
                         ("flowtable", bench_flowtable), ("latency", bench_latency),
                         ("reload", bench_reload)):
            if name in only:
                log("== %s" % name)
                fn(r)
    except (BenchError, subprocess.TimeoutExpired) as e:
        print("bench: %s" % e, file=sys.stderr)
        r.close()
        return 1
    r.close()
    text = table(r)
    print(text)
    for n in r.notes:
        print("  " + n)
    for f in r.failed:
        print("bench: not sane: " + f, file=sys.stderr)
    if r.failed:
        return 1
    if not a.no_doc:
        stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        body = ("Generated by `bench/run.sh` on %s (%s), %.0f s. Each chokepoint figure is "
                "the median of %d runs, each beside its baseline run in the same invocation "
                "(alternating); ratios are chokepoint / baseline. The machine is shared: "
                "compare ratios, not absolute figures.\n\n%s\n\n%s\n" % (
                    stamp, machine(), time.monotonic() - t0, a.reps, text,
                    "\n".join("- " + n for n in r.notes)))
        write_doc(r, body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
