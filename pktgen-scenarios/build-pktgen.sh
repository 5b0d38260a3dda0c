#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Build Pktgen-DPDK 23.03.0 against Debian 12's DPDK 22.11 (Pktgen is not in Debian;
# nothing of it is kept in this repository).
#
#   pktgen-scenarios/build-pktgen.sh SRC_DIR [BUILD_DIR]
#
# SRC_DIR: a Pktgen-DPDK tree at tag pktgen-23.03.0, e.g.
#   git clone --branch pktgen-23.03.0 --depth 1 https://github.com/pktgen/Pktgen-DPDK
# Needs: apt-get install -y meson ninja-build libdpdk-dev liblua5.3-dev libnuma-dev libpcap-dev
# Then: PKTGEN=BUILD_DIR/app/pktgen pktgen-scenarios/run.sh
#
# Three adjustments, none in Pktgen's logic:
#  - its C arguments name Debian's DPDK include directories;
#  - -Werror is relaxed (DPDK 22.11's headers draw warnings from Pktgen's flags);
#  - memif: DPDK 22.11's memif PMD has no MTU setter and Pktgen 23.03.0 panics when
#    rte_eth_dev_set_mtu() fails; the edit below lets -ENOTSUP through, so Pktgen
#    runs on the memif ports run.sh uses (real NICs and af_packet are unaffected).
set -euo pipefail
SRC=${1:?usage: build-pktgen.sh SRC_DIR [BUILD_DIR]}
BUILD=${2:-$SRC/build-chokepoint}
[ "$(cat "$SRC/VERSION" 2>/dev/null)" = 23.03.0 ] ||
	echo "build-pktgen.sh: $SRC is not Pktgen-DPDK 23.03.0 (VERSION: $(cat "$SRC/VERSION" 2>/dev/null))" >&2
cfg=$SRC/app/pktgen-port-cfg.c
if grep -q 'rte_eth_dev_set_mtu(pid, pktgen.eth_mtu)) < 0)' "$cfg"; then
	sed -i 's/rte_eth_dev_set_mtu(pid, pktgen.eth_mtu)) < 0)/rte_eth_dev_set_mtu(pid, pktgen.eth_mtu)) < 0 \&\& ret != -ENOTSUP)/' "$cfg"
	echo "build-pktgen.sh: $cfg: a port without an MTU setter no longer panics"
fi
inc="-I/usr/include/dpdk -I/usr/include/$(gcc -dumpmachine)/dpdk"
meson setup "$BUILD" "$SRC" -Denable_lua=true -Dwerror=false -Dc_args="$inc -Wno-error"
ninja -C "$BUILD"
echo "build-pktgen.sh: built $BUILD/app/pktgen"
