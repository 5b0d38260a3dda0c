#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Install every Debian 12 package the build, the tests and the demo need.
# Runs apt-get update (once) only when something is missing. Needs root.
set -euo pipefail

PKGS=(
	# build
	meson ninja-build pkg-config gcc libc6-dev
	dpdk dpdk-dev libdpdk-dev librte-net-af-packet23 librte-net-pcap23 librte-mempool-ring23 libhyperscan-dev libconfig-dev libcmocka-dev
	libssl-dev libpcap-dev libpsl-dev publicsuffix
	# tests and demo: namespaces, servers, clients
	python3 python3-scapy python3-pytest python3-websockets
	nginx-light curl openssl gnutls-bin iproute2 ethtool procps coreutils
	tcpdump tshark chromium ngtcp2-client ngtcp2-server traceroute dnsmasq
	rsyslog rsyslog-openssl
	# benchmark baselines (bench/run.sh, the CI smoke in suite 'bench')
	libndpi-bin squid-openssl libcmph-dev
)

missing=()
for p in "${PKGS[@]}"; do
	if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]; then
		missing+=("$p")
	fi
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "install-deps: all ${#PKGS[@]} packages present"
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing ${missing[*]}; run as root" >&2
	exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Packages such as nginx start their service from postinst; nothing here needs them
# running system-wide (the tests start private instances in network namespaces).
created_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod 755 /usr/sbin/policy-rc.d
	created_policy=1
fi
cleanup() { [ "$created_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d; true; }
trap cleanup EXIT
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
apt-get update -q
apt-get install -y -q "${missing[@]}"
