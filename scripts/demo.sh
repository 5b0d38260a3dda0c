#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# chokepoint demo: installs what it needs, builds, and puts chokepoint-dp inline between an
# "agent" network namespace and a "server" namespace (nginx with TLS), with chokepointd
# enforcing etc/chokepoint.conf. Sends allowed and denied traffic, prints each outcome,
# the audit trail, `chokepointctl audit verify` and `chokepointctl status`, then cleans up.
# Run as root on Debian 12:  sudo scripts/demo.sh
#   DEMO_CONFIG=FILE   policy to run (default etc/chokepoint.conf)
#   DEMO_SKIP_BUILD=1  use the existing build/ as is
#
#   agent netns ch$$           appliance netns ap$$                  server netns sv$$
#   10.77.1.10  <--veth-->  [ chokepoint-dp: port 0 | port 1 ]  <--veth-->  10.77.1.20 nginx
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD=${BUILD_DIR:-build}
CONF=${DEMO_CONFIG:-etc/chokepoint.conf}
[ "$(id -u)" -eq 0 ] || { echo "demo: run as root (sudo scripts/demo.sh)" >&2; exit 1; }

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
[ -t 1 ] || say() { printf '\n== %s\n' "$*"; }

say "dependencies"
bash scripts/install-deps.sh
if [ "${DEMO_SKIP_BUILD:-0}" != 1 ]; then
	say "build"
	[ -f "$BUILD/meson-private/coredata.dat" ] || meson setup "$BUILD"
	ninja -C "$BUILD"
fi
case $BUILD in /*) B=$BUILD ;; *) B=$ROOT/$BUILD ;; esac
DP=$B/dataplane/chokepoint-dp
CPD=$B/ctrlplane/chokepointd
CTL=$B/ctrlplane/chokepointctl

P=$$
CH=ch$P SV=sv$P AP=ap$P
T=$(mktemp -d /tmp/chokepoint-demo-$P.XXXXXX)
PIDS=()
cleanup() {
	set +e
	for pid in "${PIDS[@]}"; do kill -TERM -- "-$pid" 2>/dev/null; done
	sleep 0.5
	for pid in "${PIDS[@]}"; do kill -KILL -- "-$pid" 2>/dev/null; done
	for ns in "$CH" "$SV" "$AP"; do ip netns del "$ns" 2>/dev/null; done
	rm -rf "/etc/netns/$CH"        # the agent's resolv.conf
	rm -rf "/var/run/dpdk/cp-$P"   # EAL runtime dir of our chokepoint-dp
	if [ "${DEMO_KEEP:-0}" = 1 ]; then echo "demo: kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# start "$@" in its own process group (so cleanup can stop it and its children)
bg() { local log=$1; shift; setsid "$@" </dev/null >"$log" 2>&1 & PIDS+=($!); }
in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

say "policy: $CONF"
"$CPD" --check "$CONF"

say "topology: agent $CH -- appliance $AP -- server $SV"
for ns in "$CH" "$SV" "$AP"; do ip netns add "$ns"; in_ns "$ns" ip link set lo up; done
ip link add "c$P" netns "$CH" type veth peer name "i$P" netns "$AP"
ip link add "s$P" netns "$SV" type veth peer name "o$P" netns "$AP"
for k in all default "i$P" "o$P"; do in_ns "$AP" sysctl -qw "net.ipv6.conf.$k.disable_ipv6=1"; done
for e in "$CH:c$P" "$AP:i$P" "$AP:o$P" "$SV:s$P"; do
	ns=${e%%:*} ifn=${e#*:}
	# af_packet copies at most one frame: no GSO/GRO super-packets, no checksum offload
	in_ns "$ns" ethtool -K "$ifn" tx off tso off gso off gro off >/dev/null
	in_ns "$ns" ip link set "$ifn" up
done
in_ns "$CH" ip addr add 10.77.1.10/24 dev "c$P"
in_ns "$CH" ip -6 addr add fd77:1::10/64 dev "c$P" nodad
in_ns "$SV" ip addr add 10.77.1.20/24 dev "s$P"
# a second server address that no DNS answer ever names (the spoofed destination below)
in_ns "$SV" ip addr add 10.77.1.21/24 dev "s$P"
in_ns "$SV" ip -6 addr add fd77:1::20/64 dev "s$P" nodad

say "test CA and a server certificate for every demo name"
NAMES="api.openai.com api.anthropic.com hooks.slack.com docs.example.com evil.example.net www.example.org"
openssl req -x509 -sha256 -days 1 -subj "/CN=chokepoint demo CA" -newkey ec \
	-pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$T/ca.key" -out "$T/ca.pem" \
	-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign 2>/dev/null
openssl req -new -subj "/CN=api.openai.com" -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
	-nodes -keyout "$T/server.key" -out "$T/server.csr" 2>/dev/null
printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' \
	"$(echo $NAMES | sed 's/\([^ ]*\)/DNS:\1/g; s/ /,/g')" >"$T/ext"
openssl x509 -req -sha256 -days 1 -in "$T/server.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" \
	-CAcreateserial -out "$T/server.pem" -extfile "$T/ext" 2>/dev/null

say "nginx in $SV (HTTP :80 and TLS :443, one vhost per name)"
mkdir -p "$T/nginx"
{
	echo "daemon off; worker_processes 1; user root root; pid $T/nginx/pid;"
	echo "error_log $T/nginx/error.log; events { worker_connections 64; }"
	echo "http { access_log $T/nginx/access.log; client_body_temp_path $T/nginx;"
	echo "  proxy_temp_path $T/nginx; fastcgi_temp_path $T/nginx; uwsgi_temp_path $T/nginx;"
	echo "  scgi_temp_path $T/nginx; default_type text/plain;"
	echo "  ssl_certificate $T/server.pem; ssl_certificate_key $T/server.key;"
	for n in $NAMES; do
		echo "  server { listen 80; listen 443 ssl; listen [::]:80; listen [::]:443 ssl;"
		echo "    server_name $n; location / { return 200 \"hello from $n\\n\"; } }"
	done
	echo "}"
} >"$T/nginx/nginx.conf"
bg "$T/nginx/out.log" ip netns exec "$SV" nginx -c "$T/nginx/nginx.conf" -e "$T/nginx/error.log"

say "dnsmasq in $SV (10.77.1.20:53): the agent's resolver, its answers cross the appliance"
DNS_ARGS=()
for n in $NAMES; do DNS_ARGS+=("--host-record=$n,10.77.1.20"); done
bg "$T/dnsmasq.log" ip netns exec "$SV" dnsmasq --keep-in-foreground --conf-file=/dev/null \
	--no-resolv --no-hosts --user=root --log-facility=- --bind-interfaces \
	--listen-address=10.77.1.20 --port=53 --pid-file="$T/dnsmasq.pid" "${DNS_ARGS[@]}"
mkdir -p "/etc/netns/$CH"
printf 'nameserver 10.77.1.20\noptions timeout:1 attempts:2\n' >"/etc/netns/$CH/resolv.conf"

say "chokepointd (policy $CONF) and chokepoint-dp inline in $AP"
bg "$T/chokepointd.log" "$CPD" -c "$CONF" --dp-socket "$T/dp.sock" --ctl-socket "$T/ctl.sock" \
	--audit "$T/audit.jsonl"
for _ in $(seq 100); do [ -S "$T/ctl.sock" ] && break; sleep 0.1; done
bg "$T/chokepoint-dp.log" ip netns exec "$AP" "$DP" -l 0-1 --no-huge -m 512 --no-pci \
	--file-prefix "cp-$P" --vdev "net_af_packet0,iface=i$P,qpairs=1" \
	--vdev "net_af_packet1,iface=o$P,qpairs=1" -- --mode wire --ctl "$T/dp.sock"
ready=0
for _ in $(seq 150); do
	if "$CTL" --socket "$T/ctl.sock" status --json 2>/dev/null | /usr/bin/python3 -c '
import json, sys
sys.path.insert(0, "tests/integration")
from harness import dp_generation
g = dp_generation(json.load(sys.stdin))
sys.exit(0 if g and g >= 1 else 1)'; then ready=1; break; fi
	sleep 0.2
done
if [ "$ready" != 1 ]; then
	echo "demo: the dataplane did not load the policy; logs:" >&2
	tail -n 20 "$T/chokepointd.log" "$T/chokepoint-dp.log" >&2
	exit 1
fi
echo "dataplane running the policy"

say "traffic from the agent namespace"
fails=0
# try NAME SCHEME EXPECT(allow|deny) WHAT [ADDRESS]
# Without ADDRESS curl resolves NAME through dnsmasq (across the appliance); with it,
# curl connects there without asking (--resolve), as a spoofing client would.
try() {
	local name=$1 scheme=$2 expect=$3 what=$4 addr=${5:-} port=443 out rc t0 t1 ms
	local res=()
	[ "$scheme" = http ] && port=80
	[ -n "$addr" ] && res=(--resolve "$name:$port:$addr")
	t0=$(date +%s%N)
	set +e
	out=$(in_ns "$CH" curl -sS --max-time 5 --cacert "$T/ca.pem" \
		"${res[@]}" "$scheme://$name/" 2>&1)
	rc=$?
	set -e
	t1=$(date +%s%N)
	ms=$(( (t1 - t0) / 1000000 ))
	if [ $rc -eq 0 ]; then
		printf '  %-8s %-36s -> %s (%d ms)\n' ALLOWED "$scheme://$name/ ($what)" "$out" "$ms"
		[ "$expect" = allow ] || { fails=$((fails + 1)); echo "     ^ expected a deny"; }
	else
		printf '  %-8s %-36s -> curl exit %d: %s (%d ms)\n' DENIED "$scheme://$name/ ($what)" \
			"$rc" "${out#curl: }" "$ms"
		[ "$expect" = deny ] || { fails=$((fails + 1)); echo "     ^ expected an allow"; }
	fi
}
try api.openai.com https allow "rule llm, TLS SNI, bound dns"
try api.openai.com https deny "SNI spoofed toward 10.77.1.21" 10.77.1.21
try api.anthropic.com https allow "rule llm, TLS SNI"
try hooks.slack.com https allow "rule webhooks, .slack.com"
try evil.example.net https deny "no rule: default deny"
try docs.example.com http allow "rule docs, HTTP Host"
try www.example.org http deny "no rule: default deny"

sleep 1
say "audit trail ($T/audit.jsonl)"
[ -s "$T/audit.jsonl" ] || { echo "  no audit trail was written"; fails=$((fails + 1)); touch "$T/audit.jsonl"; }
/usr/bin/python3 - "$T/audit.jsonl" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["type"] == "flow.decision":
        name = r.get("sni") or r.get("host") or "-"
        print("  #%-3d %-13s %-5s rule=%-9s reason=%-8s bound=%-5s %s %s:%s -> %s:%s %s%s" % (
            r["seq"], r["type"], r["verdict"], r["rule"] or "-", r["reason"],
            r.get("bound") or "-", r["app"], r["src"], r["sport"], r["dst"], r["dport"], name,
            "  anomalies=" + ",".join(r["anomalies"]) if r.get("anomalies") else ""))
    elif r["type"] == "flow.end":
        print("  #%-3d %-13s %-5s close=%s pkts %d/%d bytes %d/%d %s" % (
            r["seq"], r["type"], r["verdict"], r["close"], r["pkts_c2s"], r["pkts_s2c"],
            r["bytes_c2s"], r["bytes_s2c"], r.get("sni") or r.get("host") or "-"))
    else:
        print("  #%-3d %-13s %s" % (r["seq"], r["type"], {k: v for k, v in r.items()
              if k not in ("v", "type", "seq", "prev", "hash")}))
decisions = [json.loads(l) for l in open(sys.argv[1]) if '"flow.decision"' in l]
if decisions:
    print("\n  one record in full:")
    print("  " + json.dumps(decisions[0], indent=2).replace("\n", "\n  "))
PY

say "chokepointctl audit verify"
"$CTL" audit verify "$T/audit.jsonl" || fails=$((fails + 1))
say "chokepointctl status"
"$CTL" --socket "$T/ctl.sock" status || fails=$((fails + 1))

if [ $fails -ne 0 ]; then
	say "demo: $fails unexpected outcome(s)"
	exit 1
fi
say "demo: every outcome as the policy says; cleaning up"
