#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the nested guest's initramfs: busybox-static,
# scripts/vm/nested-init.sh and the kernel's vsock_test (statically linked,
# built by tools/testing/vsock_test first), packed by rvhost_initramfs
# (scripts/lib.sh).
#
# Usage: scripts/mkinitramfs.sh OUTPUT.cpio

set -euo pipefail
. "$(dirname "$0")/lib.sh"

out=$1
vsock_test=$RVHOST_TOP/build/vsock_test/vsock_test
[ -x "$vsock_test" ] || die "no $vsock_test: build tools/testing/vsock_test first"
rvhost_initramfs "$out" <<SPEC
file /bin/vsock_test $vsock_test 0755 0 0
file /init $RVHOST_TOP/scripts/vm/nested-init.sh 0755 0 0
file /lib/vsock_test_rerun.sh $RVHOST_TOP/scripts/vm/vsock_test_rerun.sh 0644 0 0
SPEC
