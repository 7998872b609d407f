#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make bench`: rvhost against the C vhost drivers, side by side in one boot
# of the default test kernel (tools/bench/run.sh), then the table, JSON and
# plot (tools/bench/report.py) in build/bench/. Not part of `make check`.
#
#   make bench [PAIRS=5] [BENCH_SECONDS=3] [WORKLOADS="tx,64 vsock-rr,1 ..."]
#              [BENCH_PROFILE=1] [BENCH_PROFILE_SECONDS=S] [NESTED_PAIRS=3]
#
# WORKLOADS=nested-tcp (not among the defaults: a nested guest's boot per
# run) times the end-to-end test's nested guest moving 16 MiB each way over
# TCP, PAIRS pairs but at most NESTED_PAIRS.
#
# Under TCG the absolute figures mean little; the ratios are the result.
# See Documentation/benchmarks.rst.

set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$RVHOST_TOP"

PAIRS=${PAIRS:-5}
BENCH_SECONDS=${BENCH_SECONDS:-3}
WORKLOADS=${WORKLOADS:-tx,64 tx,1514 tx,64k tx,64,--packed tx,64,--in-order tx,1514,--packed rx,64 rx,1514 rx,64k rx,64k,--big rx,64,--packed vsock-stream-h2g,4k vsock-stream-h2g,64k vsock-stream-g2h,4k vsock-stream-g2h,64k vsock-rr,1 mem,64 modsize}

RVHOST_BENCH=1 scripts/provision.sh default
rvhost_toolchain_env
kdef=$(rvhost_kdir default)
make -s KDIR="$kdef" modules >/dev/null
make -s -C tools/bench KHDR="$kdef/rvhost-headers/include" OUTPUT="$RVHOST_TOP/build/bench" >/dev/null
if [[ " $WORKLOADS " == *" nested-tcp "* ]]; then
	# The nested guest's initramfs, as make check builds it (it holds
	# vsock_test too).
	make -s -C tools/testing/vsock_test KSRC="$(readlink -f "$kdef/source")" \
		KHDR="$kdef/rvhost-headers/include" OUTPUT="$RVHOST_TOP/build/vsock_test" >/dev/null
	scripts/mkinitramfs.sh build/nested/initramfs.cpio
fi
out=build/vm/bench
rm -rf "$out"
rc=0
# shellcheck disable=SC2086 # WORKLOADS is a list
scripts/vm-run.sh --quiet --out "$out" --timeout 7200 -- \
	env BENCH_PROFILE="${BENCH_PROFILE:-0}" BENCH_PROFILE_SECONDS="${BENCH_PROFILE_SECONDS:-}" BENCH_NESTED_PAIRS="${NESTED_PAIRS:-3}" tools/bench/run.sh build/bench "$PAIRS" "$BENCH_SECONDS" $WORKLOADS || rc=$?
grep '^bench: ' "$out/output.log" || true
[ -s "$out/bench.jsonl" ] || { echo "bench: no results (VM exit $rc; see $out/console.log)"; exit 1; }
cp "$out/bench.jsonl" build/bench/
rm -f build/bench/profile-*.txt build/bench/straddle.txt
if cp "$out"/profile-*.txt build/bench/ 2>/dev/null; then
	# How much of each profile's module samples are on instructions that
	# cross a page: an artefact of TCG.
	python3 tools/bench/straddle.py "build/modules/$(basename "$(readlink -f "$kdef")")" \
		"$kdef/drivers/vhost" -- build/bench/profile-*.txt >build/bench/straddle.txt &&
		echo "bench: page-crossing samples: build/bench/straddle.txt" ||
		echo "bench: tools/bench/straddle.py failed"
fi
"$rvhost_bench_venv/bin/python3" tools/bench/report.py build/bench/bench.jsonl build/bench
[ "$rc" = 0 ] || echo "bench: some runs failed (VM exit $rc; see $out/output.log)"
exit "$rc"
