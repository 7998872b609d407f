#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make vmtest`: the kernel's own tools/testing/selftests/vsock/vmtest.sh,
# its vm_* tests, against rvhost_vsock (VMTEST_C=1: against the C
# vhost_vsock first), in one boot of the default test kernel
# (tools/testing/e2e/run_both.sh --vmtest, tools/testing/e2e/vsock_vmtest.sh).
# Not part of make check: vmtest.sh boots a virtme-ng guest under nested
# TCG and logs in over ssh, which takes longer than make check may
# (Documentation/testing.rst, "The kernel's vsock vmtest.sh").
#
# Provisions what it needs first (openssh-server and virtme-ng, which make
# check does not install). VMTEST_TIMEOUT: seconds vmtest.sh may take per
# implementation (default 1500). The last line is "N passed, N failed, N
# skipped".

set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/verdicts.sh"
cd "$RVHOST_TOP"

trap 'rc=$?; [ -n "${totalled:-}" ] || { echo "make vmtest stopped early (exit $rc)"; echo "0 passed, 1 failed, 0 skipped"; }' EXIT
RVHOST_VMTEST=1 scripts/provision.sh default
rvhost_toolchain_env
kdef=$(rvhost_kdir default)
make -s KDIR="$kdef" modules >/dev/null
make -s -C tools/testing/vsock_test KSRC="$(readlink -f "$kdef/source")" \
	KHDR="$kdef/rvhost-headers/include" OUTPUT="$RVHOST_TOP/build/vsock_test" >/dev/null

mkdir -p build
verdicts_init build/vmtest-verdicts.txt
arg=--vmtest
impls=(rvhost)
[ "${VMTEST_C:-0}" = 1 ] && arg=--vmtest=c impls=(c rvhost)
out=build/vm/vmtest
rm -rf "$out"
t0=$(date +%s)
vmrc=0
# vmtest.sh's own limit per implementation (tools/testing/e2e/vsock_vmtest.sh).
limit=${VMTEST_TIMEOUT:-1500}
scripts/vm-run.sh --quiet --out "$out" --timeout $((${#impls[@]} * (limit + 300))) -- \
	env VMTEST_TIMEOUT="$limit" tools/testing/e2e/run_both.sh "$arg" || vmrc=$?
for impl in "${impls[@]}"; do
	judge tap "vmtest-$impl" "$out/vmtest-$impl.tap"
done
[ "$vmrc" = 0 ] || result "vmtest VM (exit $vmrc; see $out/console.log)" fail
say "make vmtest took $(($(date +%s) - t0)) s"
totalled=1
verdicts_total
