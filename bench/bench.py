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
                (infinite_rx) -> null PMD, one core, 64 B and IMIX
  b. newflow    chokepoint-dpbench newflow (fresh tuple per flow, full
                ClientHello / HTTP extraction, 10,000-name policy, audit
                events) vs ndpiReader over the same flows' capture
  c. flowtable  chokepoint-dpbench flowtable: bytes per flow, inserts,
                lookups and aging at 10M flows
  d. latency    bench/latency.py: HTTPS request latency over the kernel
                bridge, chokepoint inline, Squid (CONNECT, SNI peek+splice)
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
        g = r.dpb("gen-fast", None, ["--flows", str(a.flows), "--size", size,
                                      "--names-file", names, "--out", pcap])
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
                                            "--seconds", str(a.seconds), "--warmup", str(a.warmup)])
                TSC_HZ = float(j["tsc_hz"])
                res["cp"].append(j["mpps"])
                res["own"].append(j["own_cycles_per_pkt"])
                res["cp_cyc"].append(j["cycles_per_pkt"])
                res["cp_wall"].append(j["mpps_wall"])
                res["share"].append(j["cpu_share"])
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
        os.unlink(pcap)


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
    cp, nd, ndw, cyc, cpw = [], [], [], [], []
    have_ndpi = shutil.which("ndpiReader") is not None
    for rep in range(a.reps):
        eal = r.eal(r.prefix(), 1024 + a.newflows // 1000, ["net_null0,no-rx=1",
                                                            "net_null1,no-rx=1"])
        j = r.dpb("newflow", eal, ["--flows", str(a.newflows), "--policy", conf,
                                   "--names-file", names])
        cp.append(j["flows_per_s"])
        cpw.append(j["flows_per_s_tsc"])
        cyc.append(j["cycles_per_flow"])
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
    ap.add_argument("--only", default="fastpath,newflow,flowtable,latency")
    ap.add_argument("--smoke", action="store_true",
                    help="small sizes; figures checked for sanity, the doc is not written")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--flows", type=int, default=1000000, help="fast path: established flows")
    ap.add_argument("--sizes", default="64,imix")
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--warmup", type=float, default=1.0)
    ap.add_argument("--names", type=int, default=10000)
    ap.add_argument("--newflows", type=int, default=200000)
    ap.add_argument("--table-flows", type=int, default=10000000)
    ap.add_argument("--lookups", type=int, default=50000000)
    ap.add_argument("--requests", type=int, default=10000)
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
        a.no_doc = True
    only = set(a.only.split(","))
    r = Runner(a)
    t0 = time.monotonic()
    try:
        for name, fn in (("fastpath", bench_fastpath), ("newflow", bench_newflow),
                         ("flowtable", bench_flowtable), ("latency", bench_latency)):
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
