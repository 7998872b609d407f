#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the nested guest's initramfs: busybox-static,
# scripts/vm/nested-init.sh and the kernel's vsock_test (statically linked,
# built by tools/testing/vsock_test first), packed by the kernel's own
# gen_init_cpio (so /dev/console exists without root privileges or mknod).
#
# Usage: scripts/mkinitramfs.sh OUTPUT.cpio

set -euo pipefail
. "$(dirname "$0")/lib.sh"

out=$1
kdir=$(rvhost_kdir default)
gen=$kdir/usr/gen_init_cpio
[ -x "$gen" ] || die "no $gen: run scripts/provision.sh"
[ -x /bin/busybox ] || die "no /bin/busybox: run scripts/provision.sh"
vsock_test=$RVHOST_TOP/build/vsock_test/vsock_test
[ -x "$vsock_test" ] || die "no $vsock_test: build tools/testing/vsock_test first"
mkdir -p "$(dirname "$out")"
"$gen" /dev/stdin >"$out.tmp" <<SPEC
dir /dev 0755 0 0
nod /dev/console 0600 0 0 c 5 1
dir /bin 0755 0 0
dir /lib 0755 0 0
dir /proc 0755 0 0
dir /sys 0755 0 0
dir /tmp 0755 0 0
file /bin/busybox /bin/busybox 0755 0 0
file /bin/vsock_test $vsock_test 0755 0 0
file /init $RVHOST_TOP/scripts/vm/nested-init.sh 0755 0 0
file /lib/vsock_test_rerun.sh $RVHOST_TOP/scripts/vm/vsock_test_rerun.sh 0644 0 0
SPEC
mv "$out.tmp" "$out"
