#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make check`: provision, build, and run every test rvhost has.
#
#   1. host tests: `cargo test` of the pure-Rust parts (tools/host);
#   2. the conformance suite in one boot of the debug kernel, first against
#      the C vhost modules (every test must pass: the tests describe the real
#      ABI), then against rvhost (failures must be exactly those on the
#      expected-failures list);
#   3. the runner's own tests: a module that WARNs must fail a run, and a
#      nested guest on the C vhost_net must ping this VM.
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

# 2. Conformance, C oracle then rvhost, in one boot of the debug kernel.
say "conformance suite: C oracle, then rvhost (debug kernel)"
out=build/vm/check-conformance
rm -rf "$out"
vmrc=0
scripts/vm-run.sh --debug --quiet --out "$out" --timeout 1500 -- \
	tools/testing/selftests/rvhost/run_both.sh build/selftests || vmrc=$?
for impl in c rvhost; do
	xf=()
	[ $impl = rvhost ] && xf=(--xfail tools/testing/selftests/rvhost/rvhost.xfail)
	if [ -f "$out/$impl.tap" ]; then
		line=$(scripts/tap-summary.py "${xf[@]}" "conformance-$impl" "$out/$impl.tap" | tee /dev/stderr | tail -n1) || true
		count "$line"
	else
		result "conformance-$impl (no results)" fail
	fi
done
# The suite's verdicts are in the TAP logs; a failed boot or kernel report
# is a failure of its own.
[ "$vmrc" = 0 ] || result "conformance VM (exit $vmrc; see $out/console.log)" fail

# 3. The runner's own tests.
say "runner: a WARN in the guest must fail the run (debug kernel)"
rc=0
scripts/vm-run.sh --debug --quiet --out build/vm/check-warn -- \
	insmod "build/runner/$(basename "$kdbg")/rvhost_warn_test.ko" >/dev/null 2>&1 || rc=$?
if [ "$rc" = 100 ]; then result runner-catches-warn ok; else result "runner-catches-warn (exit $rc)" fail; fi

say "runner: nested guest on the C vhost_net pings the VM"
rc=0
scripts/vm-run.sh --load c --out build/vm/check-nested -- scripts/vm/nested.sh ping || rc=$?
if [ "$rc" = 0 ]; then result nested-ping-c ok; else result "nested-ping-c (exit $rc)" fail; fi

# QEMU fails to start when vhost=on cannot set the device up, so a ping is
# QEMU's own vhost client and the guest's packets going through rvhost_net.
say "nested guest on rvhost_net (-netdev tap,vhost=on) pings the VM"
rc=0
scripts/vm-run.sh --load rvhost --out build/vm/check-nested-rvhost -- scripts/vm/nested.sh ping || rc=$?
if [ "$rc" = 0 ]; then result nested-ping-rvhost ok; else result "nested-ping-rvhost (exit $rc)" fail; fi

say "make check took $(($(date +%s) - t0)) s"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
