#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# run-libfuzzer.sh: build one harness with clang -fsanitize=fuzzer (+ASan,
# UBSan) outside meson and run it for N seconds over a scratch copy of its
# seed corpus. Crashes land in the scratch dir (printed at the end); the
# committed corpus is only touched with --merge (new coverage-adding inputs,
# minimised by libFuzzer's -merge=1).
#
# usage: tests/fuzz/run-libfuzzer.sh HARNESS [SECONDS] [--merge]
#   HARNESS: tls | http | stream (the file tests/fuzz/fuzz_HARNESS.c; its sources are
#            listed below)
set -eu
h=${1:?usage: $0 HARNESS [SECONDS] [--merge]}
secs=${2:-60}
merge=${3:-}
root=$(cd "$(dirname "$0")/../.." && pwd)
case $h in
tls)  srcs="$root/dataplane/parse/tls.c $root/dataplane/parse/ja4.c -lcrypto" ;;
http) srcs="$root/dataplane/parse/http.c" ;;
stream) srcs="$root/dataplane/dp_stream.c" ;;
*)    echo "unknown harness $h" >&2; exit 2 ;;
esac
command -v clang >/dev/null || { echo "clang missing: apt-get install -y clang" >&2; exit 2; }
out=$(mktemp -d /tmp/libfuzzer-$h.XXXXXX)
clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	-I"$root/dataplane" -I"$root/dataplane/parse" \
	"$root/tests/fuzz/fuzz_$h.c" $srcs -o "$out/fuzz_$h"
mkdir -p "$out/corpus" "$out/artifacts"
cp "$root/tests/fuzz/corpus/$h"/* "$out/corpus/"
rc=0
"$out/fuzz_$h" -max_total_time="$secs" -max_len=20000 -print_final_stats=1 \
	-artifact_prefix="$out/artifacts/" "$out/corpus" 2>"$out/log" || rc=$?
grep -E "^(#[0-9]+.*(DONE|pulse)|stat::|SUMMARY|==[0-9]+==ERROR)" "$out/log" | tail -15
if [ -n "$(ls -A "$out/artifacts")" ]; then
	echo "FINDINGS in $out/artifacts:"; ls -la "$out/artifacts"
fi
if [ "$merge" = --merge ] && [ $rc -eq 0 ]; then
	"$out/fuzz_$h" -merge=1 "$root/tests/fuzz/corpus/$h" "$out/corpus" 2>/dev/null
	echo "merged into tests/fuzz/corpus/$h"
fi
echo "scratch: $out (exit $rc)"
exit $rc
