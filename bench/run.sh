#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Run every benchmark of docs/performance.md in one go, print the table and
# rewrite the generated results section of docs/performance.md:
#   bench/run.sh                 full run (needs root, ~4 GB of RAM, ~15 min)
#   bench/run.sh --smoke         small sizes, figures checked for sanity only
#   bench/run.sh --only fastpath,newflow,flowtable,latency,match
# Options are bench/bench.py's (bench/run.sh --help).
#   CHOKEPOINT_BUILD  meson build directory (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
exec /usr/bin/python3 bench/bench.py "$@"
