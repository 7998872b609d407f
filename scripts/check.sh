#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make check`: provision, build, and run every test rvhost has.
#
#   1. host tests: `cargo test` of the pure-Rust parts (tools/host);
#   2. the conformance suite and the kernel's tools/virtio/vhost_net_test in
#      one boot of the debug kernel, first against the C vhost modules
#      (every test must pass: the tests describe the real ABI), then against
#      rvhost (failures must be exactly those on the expected-failures
#      lists);
#   3. the runner's own test: a module that WARNs must fail a run;
#   4. end to end in one boot of the default kernel: a nested guest (QEMU
#      inside the VM) on /dev/vhost-net pings the VM and moves 16 MiB each
#      way over TCP, on C and then on rvhost (with the packed ring too).
#
# The last line is "N passed, N failed, N skipped" over all of them; expected
# failures count as skipped.

set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$RVHOST_TOP"

t0=$(date +%s)
scripts/provision.sh
rvhost_toolchain_env
kdef=$(rvhost_kdir default)
kdbg=$(rvhost_kdir debug)

passed=0 failed=0 skipped=0
count() { # name: "...: P passed, F failed, S skipped[, X xfail]"
	local line=$1 p f s x
	p=$(sed -n 's/.* \([0-9]*\) passed.*/\1/p' <<<"$line")
	f=$(sed -n 's/.* \([0-9]*\) failed.*/\1/p' <<<"$line")
	s=$(sed -n 's/.* \([0-9]*\) skipped.*/\1/p' <<<"$line")
	x=$(sed -n 's/.* \([0-9]*\) xfail.*/\1/p' <<<"$line")
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-0}))
	skipped=$((skipped + ${s:-0} + ${x:-0}))
}
result() { # name ok|fail
	echo "$1: $2"
	if [ "$2" = ok ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
}

say "building rvhost for both kernels"
for k in "$kdef" "$kdbg"; do
	make -s KDIR="$k" modules >/dev/null
	make -s -C "$k" M="$RVHOST_TOP/tools/testing/runner" \
		MO="$RVHOST_TOP/build/runner/$(basename "$k")" \
		$(sed -n 's/^RVHOST_KMAKE_ARGS += //p' "$k/rvhost.mk") modules >/dev/null
done
make -s KDIR="$kdef" selftests >/dev/null
make -s -C tools/testing/vhost_net_test KSRC="$(readlink -f "$kdef/source")" \
	KHDR="$kdef/rvhost-headers/include" OUTPUT="$RVHOST_TOP/build/vhost_net_test" >/dev/null
scripts/mkinitramfs.sh build/nested/initramfs.cpio

# 1. Host tests.
if [ -f tools/host/Cargo.toml ]; then
	say "host tests (cargo test)"
	log=build/host-test.log
	if cargo test --manifest-path tools/host/Cargo.toml --workspace >"$log" 2>&1; then :; fi
	p=$(sed -n 's/^test result: .* \([0-9]*\) passed; \([0-9]*\) failed; \([0-9]*\) ignored.*/\1 \2 \3/p' "$log" |
		awk '{p+=$1; f+=$2; s+=$3} END {print p+0, f+0, s+0}')
	read -r hp hf hs <<<"$p"
	if [ "$hp" = 0 ] && [ "$hf" = 0 ]; then
		tail -n 30 "$log"
		hf=1
	fi
	[ "$hf" = 0 ] || grep -E '^test .* FAILED|panicked|^error' "$log" | head -n 20
	count "host: $hp passed, $hf failed, $hs skipped"
	echo "host: $hp passed, $hf failed, $hs skipped"
fi

# 2. Conformance and vhost_net_test, C oracle then rvhost, in one boot of the
# debug kernel.
say "conformance suite and vhost_net_test: C oracle, then rvhost (debug kernel)"
out=build/vm/check-conformance
rm -rf "$out"
vmrc=0
scripts/vm-run.sh --debug --quiet --out "$out" --timeout 1800 -- \
	'tools/testing/selftests/rvhost/run_both.sh build/selftests; rc=$?
	tools/testing/e2e/run_both.sh --vhost-net-test build/vhost_net_test/vhost_net_test || rc=1
	exit $rc' || vmrc=$?
for impl in c rvhost; do
	xf=()
	[ $impl = rvhost ] && xf=(--xfail tools/testing/selftests/rvhost/rvhost.xfail)
	if [ -f "$out/$impl.tap" ]; then
		summary=$(scripts/tap-summary.py "${xf[@]}" "conformance-$impl" "$out/$impl.tap") || true
		echo "$summary"
		count "$(tail -n1 <<<"$summary")"
	else
		result "conformance-$impl (no results)" fail
	fi
done
# The suite's verdicts are in the TAP logs; a failed boot or kernel report
# is a failure of its own.
[ "$vmrc" = 0 ] || result "conformance VM (exit $vmrc; see $out/console.log)" fail

# 3. The runner's own test.
say "runner: a WARN in the guest must fail the run (debug kernel)"
rc=0
scripts/vm-run.sh --debug --quiet --out build/vm/check-warn -- \
	insmod "build/runner/$(basename "$kdbg")/rvhost_warn_test.ko" >/dev/null 2>&1 || rc=$?
if [ "$rc" = 100 ]; then result runner-catches-warn ok; else result "runner-catches-warn (exit $rc)" fail; fi

# 4. End to end: a nested guest, C oracle then rvhost, in one boot of the
# default kernel (nested TCG under a KASAN kernel would take far longer).
say "end to end: nested guest over TCP, C oracle then rvhost (default kernel)"
e2e=build/vm/check-e2e
rm -rf "$e2e"
e2erc=0
scripts/vm-run.sh --quiet --out "$e2e" --timeout 3000 -- \
	tools/testing/e2e/run_both.sh --nested || e2erc=$?
# One log per implementation from both boots (vhost_net_test ran in the
# conformance boot), judged like the conformance suite.
for impl in c rvhost; do
	log=build/vm/e2e-$impl.tap
	: >"$log"
	for d in "$out" "$e2e"; do
		if [ -f "$d/e2e-$impl.tap" ]; then
			cat "$d/e2e-$impl.tap" >>"$log"
		else
			result "e2e-$impl (no results in $d)" fail
		fi
	done
	xf=()
	[ $impl = rvhost ] && xf=(--xfail tools/testing/e2e/rvhost.xfail)
	summary=$(scripts/tap-summary.py "${xf[@]}" "e2e-$impl" "$log") || true
	echo "$summary"
	count "$(tail -n1 <<<"$summary")"
done
[ "$e2erc" = 0 ] || result "end-to-end VM (exit $e2erc; see $e2e/console.log)" fail

say "make check took $(($(date +%s) - t0)) s"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
