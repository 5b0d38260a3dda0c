#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Install dependencies, build, run every test (unit, fuzz replays, integration), and end
# with the plain line `N passed, N failed[, N skipped]` computed from meson's testlog.json.
# Exit non-zero if anything failed. Needs root (apt-get, network namespaces).
# Nothing needs hugepages: every DPDK process runs with --no-huge.
#   BUILD_DIR   build directory (default: build)
#   MESON_TEST_ARGS  extra arguments to `meson test` (e.g. "--suite unit")
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}

summary_fail() {  # the build itself failed: no test could run
	echo "run-tests: $1" >&2
	echo "0 passed, 1 failed"
	exit 1
}

bash scripts/install-deps.sh || summary_fail "installing dependencies failed"
if [ -f "$BUILD_DIR/meson-private/coredata.dat" ]; then
	meson setup --reconfigure "$BUILD_DIR" || summary_fail "meson setup failed"
else
	meson setup "$BUILD_DIR" || summary_fail "meson setup failed"
fi
ninja -C "$BUILD_DIR" || summary_fail "build failed"

rm -f "$BUILD_DIR/meson-logs/testlog.json"
# shellcheck disable=SC2086
meson test -C "$BUILD_DIR" --print-errorlogs --num-processes 2 ${MESON_TEST_ARGS:-}
meson_rc=$?

/usr/bin/python3 - "$BUILD_DIR/meson-logs/testlog.json" "$meson_rc" <<'PY'
import json, sys
path, meson_rc = sys.argv[1], int(sys.argv[2])
passed = failed = skipped = 0
bad = []
try:
    lines = open(path).read().splitlines()
except OSError:
    lines = []
for line in lines:
    if not line.strip():
        continue
    t = json.loads(line)
    r = t.get("result")
    if r in ("OK", "EXPECTEDFAIL"):
        passed += 1
    elif r == "SKIP":
        skipped += 1
    else:  # FAIL, TIMEOUT, ERROR, UNEXPECTEDPASS
        failed += 1
        bad.append("%s (%s)" % (t.get("name"), r))
if passed + failed + skipped == 0 or (meson_rc != 0 and failed == 0):
    # meson itself failed, or ran nothing: that is a failure, not a pass
    print("run-tests: meson test exit %d, %d results in %s" % (meson_rc, passed + failed + skipped, path),
          file=sys.stderr)
    failed += 1
for b in bad:
    print("run-tests: failed: " + b, file=sys.stderr)
sys.stderr.flush()
line = "%d passed, %d failed" % (passed, failed)
if skipped:
    line += ", %d skipped" % skipped
print(line, flush=True)
sys.exit(1 if failed else 0)
PY
