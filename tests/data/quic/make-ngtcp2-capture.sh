#!/bin/bash
# Capture one ngtcp2 v1 handshake between two namespaces (run as root).
set -eu
S=quic$$s; C=quic$$c
OUT=${1:?usage: $0 OUT.pcap}
W=$(mktemp -d)
cleanup() {
  [ -n "${TD:-}" ] && kill $TD 2>/dev/null || true
  [ -n "${SV:-}" ] && kill $SV 2>/dev/null || true
  ip netns del $S 2>/dev/null || true
  ip netns del $C 2>/dev/null || true
  rm -rf "$W" /etc/netns/$C
}
trap cleanup EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
  -subj /CN=quic.chokepoint.test -addext subjectAltName=DNS:quic.chokepoint.test \
  -keyout $W/key.pem -out $W/cert.pem 2>/dev/null
mkdir $W/htdocs; echo hello > $W/htdocs/index.html
ip netns add $S; ip netns add $C
mkdir -p /etc/netns/$C; echo "10.199.77.2 quic.chokepoint.test" > /etc/netns/$C/hosts
ip link add qc$$a type veth peer name qc$$b
ip link set qc$$a netns $C; ip link set qc$$b netns $S
ip -n $C addr add 10.199.77.1/24 dev qc$$a; ip -n $S addr add 10.199.77.2/24 dev qc$$b
for ns in $C $S; do ip -n $ns link set lo up; done
ip -n $C link set qc$$a up; ip -n $S link set qc$$b up
ip netns exec $C ethtool -K qc$$a tx off tso off gso off gro off >/dev/null 2>&1 || true
ip netns exec $S ethtool -K qc$$b tx off tso off gso off gro off >/dev/null 2>&1 || true
ip netns exec $S gtlsserver -q -d $W/htdocs 10.199.77.2 4433 $W/key.pem $W/cert.pem >$W/server.log 2>&1 &
SV=$!
ip netns exec $C tcpdump -i qc$$a -U -w $OUT udp port 4433 >$W/tcpdump.log 2>&1 &
TD=$!
sleep 1.5
ip netns exec $C timeout 10 gtlsclient -q --exit-on-all-streams-close \
  quic.chokepoint.test 4433 https://quic.chokepoint.test/index.html >$W/client.log 2>&1 || echo "client rc=$?"
sleep 0.5
kill $TD; wait $TD 2>/dev/null || true; TD=
cat $W/client.log | head -5
