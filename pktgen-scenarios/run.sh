#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Run Pktgen-DPDK scenarios against chokepoint on one host: chokepoint-dp and
# Pktgen joined by two memif pairs (README.md explains the same run on two
# real NIC ports).
#
#   PKTGEN=/path/to/pktgen pktgen-scenarios/run.sh [rfc2544|sni-mix|newflow-storm|all]
#
#   Pktgen port 0 (memif client) <-> chokepoint port 0, inside  (memif server, in.sock)
#   Pktgen port 1 (memif client) <-> chokepoint port 1, outside (memif server, out.sock)
#
# Environment (defaults in brackets):
#   PKTGEN            the pktgen binary (Pktgen-DPDK 23.03.0; build-pktgen.sh builds one)
#   CHOKEPOINT_BUILD  chokepoint's meson build directory [build]
#   OUT               CSV and log directory [pktgen-scenarios/results]
#   PCAPS             captures + policy from gen_pcaps.py [pktgen-scenarios/pcaps]
#   SIZES             rfc2544 sizes [64,imix,1518]
#   CP_LCORES         chokepoint-dp EAL cores [--lcores 0@1,1@0: its worker on CPU 0]
#   PG_LCORES         Pktgen EAL cores [-l 0,1: its rx/tx lcore on CPU 1]
#   PG_MEM            Pktgen hugepage memory, MB [1024]
#   CP_FLOWS          chokepoint flow-table entries [65536]
#   CP_TRIAL_MS, CP_CONFIRM_MS, CP_STEPS, CP_RATES: passed to the scenarios
#   TIMEOUT           seconds per Pktgen run [900]
# Needs root, hugepages for Pktgen (e.g. echo 2048 > /proc/sys/vm/nr_hugepages and
# hugetlbfs mounted); chokepoint runs with --no-huge. On a 2-core machine this is a
# functional check: both programs poll, so the figures say nothing about speed.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/.." && pwd)
: "${PKTGEN:?set PKTGEN to the pktgen binary (pktgen-scenarios/build-pktgen.sh builds one)}"
BUILD=$(cd "${CHOKEPOINT_BUILD:-$SRC/build}" && pwd)
OUT=${OUT:-$HERE/results}
PCAPS=${PCAPS:-$HERE/pcaps}
SIZES=${SIZES:-64,imix,1518}
CP_LCORES=${CP_LCORES:---lcores 0@1,1@0}
PG_LCORES=${PG_LCORES:--l 0,1}
PG_MEM=${PG_MEM:-1024}
CP_FLOWS=${CP_FLOWS:-65536}
TIMEOUT=${TIMEOUT:-900}
WHAT=${1:-all}

DP=$BUILD/dataplane/chokepoint-dp
CPD=$BUILD/ctrlplane/chokepointd
CTL=$BUILD/ctrlplane/chokepointctl
for b in "$PKTGEN" "$DP" "$CPD" "$CTL"; do
	[ -x "$b" ] || { echo "run.sh: not executable: $b" >&2; exit 2; }
done
case "$WHAT" in
rfc2544|sni-mix|newflow-storm) SCENARIOS=$WHAT ;;
all) SCENARIOS="rfc2544 sni-mix newflow-storm" ;;
*) echo "run.sh: scenario is rfc2544, sni-mix, newflow-storm or all" >&2; exit 2 ;;
esac
free=$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)
if [ "${free:-0}" -lt $((PG_MEM / 2)) ]; then
	echo "run.sh: Pktgen needs $PG_MEM MB of 2 MB hugepages, $free pages free" \
		"(echo 2048 > /proc/sys/vm/nr_hugepages; mount -t hugetlbfs nodev /dev/hugepages)" >&2
	exit 2
fi

mkdir -p "$OUT"
if [ ! -f "$PCAPS/chokepoint.conf" ]; then
	/usr/bin/python3 "$HERE/gen_pcaps.py" --out "$PCAPS"
fi
WORK=$(mktemp -d /tmp/cp-pktgen.XXXXXX)
PREFIX_CP=cppg-$$
PREFIX_PG=pgcp-$$
CPD_PID= DP_PID=

log() { echo "[run.sh $(date +%T)] $*" >&2; }

stop_pid() {  # pid: SIGTERM, wait, SIGKILL
	local pid=$1 i
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
	kill -KILL "$pid" 2>/dev/null || true
}

stop_chokepoint() {
	stop_pid "$DP_PID"
	stop_pid "$CPD_PID"
	wait 2>/dev/null || true
	DP_PID= CPD_PID=
	rm -rf "/var/run/dpdk/$PREFIX_CP"
}

cleanup() {
	stop_chokepoint
	rm -rf "/var/run/dpdk/$PREFIX_PG" "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

start_chokepoint() {  # name: a fresh chokepointd + chokepoint-dp, memif servers
	local name=$1 i gen
	rm -f "$WORK"/*.sock "$WORK/audit.jsonl"
	"$CPD" -c "$PCAPS/chokepoint.conf" --dp-socket "$WORK/dp.sock" \
		--ctl-socket "$WORK/ctl.sock" --audit "$WORK/audit.jsonl" \
		>"$OUT/$name.chokepointd.log" 2>&1 &
	CPD_PID=$!
	for i in $(seq 100); do [ -S "$WORK/dp.sock" ] && break; sleep 0.1; done
	# shellcheck disable=SC2086
	"$DP" $CP_LCORES --no-huge -m 1024 --no-pci --no-telemetry --file-prefix "$PREFIX_CP" \
		--vdev "net_memif0,role=server,socket=$WORK/in.sock,id=0" \
		--vdev "net_memif1,role=server,socket=$WORK/out.sock,id=0" \
		-- --mode wire --ctl "$WORK/dp.sock" --flows "$CP_FLOWS" \
		>"$OUT/$name.chokepoint-dp.log" 2>&1 &
	DP_PID=$!
	for i in $(seq 150); do
		gen=$("$CTL" --socket "$WORK/ctl.sock" status --json 2>/dev/null |
			/usr/bin/python3 -c 'import json,sys
try:
    d = json.load(sys.stdin)
    print(d.get("dataplane", {}).get("policy_generation", 0) or 0)
except Exception:
    print(0)' || echo 0)
		[ "${gen:-0}" -ge 1 ] && { log "chokepoint up (policy generation $gen)"; return 0; }
		kill -0 "$DP_PID" 2>/dev/null || { log "chokepoint-dp exited"; tail "$OUT/$name.chokepoint-dp.log" >&2; return 1; }
		sleep 0.2
	done
	log "chokepoint not ready after 30 s"
	return 1
}

pktgen_run() {  # name lua pcap|-: one headless Pktgen run
	local name=$1 lua=$2 pcap=$3 pcap_arg=()
	[ "$pcap" != - ] && pcap_arg=(-s "0:$pcap")
	rm -rf "/var/run/dpdk/$PREFIX_PG"
	log "pktgen: $name ($lua${pcap:+, $pcap})"
	# shellcheck disable=SC2086
	if ! CP_SCENARIOS=$HERE CP_CSV="$OUT/$name.csv" timeout "$TIMEOUT" \
		"$PKTGEN" $PG_LCORES -n 1 -m "$PG_MEM" --no-pci --file-prefix "$PREFIX_PG" \
		--vdev "net_memif0,role=client,socket=$WORK/in.sock,id=0" \
		--vdev "net_memif1,role=client,socket=$WORK/out.sock,id=0" \
		-- -T -P -m "1.[0-1]" "${pcap_arg[@]}" -f "$HERE/$lua" \
		</dev/null >"$OUT/$name.pktgen.log" 2>&1; then
		log "pktgen $name: failed or timed out (log: $OUT/$name.pktgen.log)"
	fi
	rm -rf "/var/run/dpdk/$PREFIX_PG"
	if ! grep -aq "SCENARIO DONE" "$OUT/$name.pktgen.log"; then
		grep -a "SCENARIO ERROR\|PANIC\|lua-shell" "$OUT/$name.pktgen.log" >&2 || true
		return 1
	fi
	grep -a "^RESULT" "$OUT/$name.pktgen.log" >&2 || true
	[ "$(wc -l <"$OUT/$name.csv")" -ge 2 ]
}

counters() {  # name: chokepoint's counters as JSON
	"$CTL" --socket "$WORK/ctl.sock" status --json >"$OUT/$1.status.json" 2>/dev/null || true
}

check_status() {  # name kind: chokepoint's own counters say it did what the scenario wants
	/usr/bin/python3 - "$OUT/$1.status.json" "$2" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))["dataplane"]["totals"]
kind = sys.argv[2]
g = lambda k: t.get(k, 0)
print("%s: rx %d, tx %d, tx_dropped %d (TX ring full towards Pktgen), dropped %d, flows %d, "
      "allow %d, deny %d" % (sys.argv[1].rsplit("/", 1)[-1], g("rx_pkts"), g("tx_pkts"),
                             g("tx_dropped"), g("dropped"), g("flows_created"), g("allow"),
                             g("deny")))
if kind == "allowed":
    # every packet belongs to an allowed flow: nothing dropped by a verdict
    ok = g("allow") > 0 and g("deny") == 0 and g("dropped") == 0 and g("midstream") == 0
else:
    # storm: every new flow set up and allowed until the table is full
    ok = g("flows_created") > 0 and g("allow") == g("flows_created") and g("deny") == g("table_full")
sys.exit(0 if ok else 1)
PY
}

check_sni_mix() {  # the audit trail holds the decisions the capture's names call for
	/usr/bin/python3 - "$WORK/audit.jsonl" "$PCAPS/sni-mix.expect.json" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
exp = json.load(open(sys.argv[2]))
dec = [r for r in recs if r.get("type") == "flow.decision"]
allow = {r["sni"] for r in dec if r["verdict"] == "allow"}
deny = {r["sni"] for r in dec if r["verdict"] == "deny"}
n_allow = sum(r["verdict"] == "allow" for r in dec)
n_deny = sum(r["verdict"] == "deny" for r in dec)
print("sni-mix: %d allow (%s), %d deny (%s); expected %d and %d" % (
    n_allow, ", ".join(sorted(allow)), n_deny, ", ".join(sorted(deny)),
    exp["allowed_flows"], exp["denied_flows"]))
ok = n_allow == exp["allowed_flows"] and n_deny == exp["denied_flows"] and not (allow & deny)
sys.exit(0 if ok else 1)
PY
}

rc=0
for s in $SCENARIOS; do
	case $s in
	rfc2544)
		for size in ${SIZES//,/ }; do
			start_chokepoint "rfc2544-$size" || { rc=1; continue; }
			CP_SIZE=$size pktgen_run "rfc2544-$size" rfc2544.lua "$PCAPS/allowed-$size.pcap" || rc=1
			counters "rfc2544-$size"
			stop_chokepoint
			check_status "rfc2544-$size" allowed || rc=1
		done
		;;
	sni-mix)
		start_chokepoint sni-mix || { rc=1; continue; }
		pktgen_run sni-mix sni-mix.lua "$PCAPS/sni-mix.pcap" || rc=1
		counters sni-mix
		stop_chokepoint
		check_sni_mix || rc=1
		;;
	newflow-storm)
		start_chokepoint newflow-storm || { rc=1; continue; }
		pktgen_run newflow-storm newflow-storm.lua - || rc=1
		counters newflow-storm
		stop_chokepoint
		check_status newflow-storm storm || rc=1
		;;
	esac
	if [ -f "$WORK/audit.jsonl" ]; then
		"$CTL" audit verify "$WORK/audit.jsonl" >&2 || rc=1
		cp "$WORK/audit.jsonl" "$OUT/$s.audit.jsonl"
	fi
done
for f in "$OUT"/*.csv; do
	[ -f "$f" ] && { echo "== $f"; cat "$f"; }
done
exit $rc
