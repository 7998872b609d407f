#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make demo`: provision what is missing, build rvhost, boot a VM with it
# loaded, show the devices answering, then run a nested guest through
# rvhost's /dev/vhost-net (QEMU -netdev tap,vhost=on) and /dev/vhost-vsock
# (-device vhost-vsock-pci): TCP, and the kernel's vsock_test.

set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$RVHOST_TOP"

scripts/provision.sh default
rvhost_toolchain_env
make -s modules >/dev/null
# The nested guest's initramfs holds the kernel's vsock_test too.
kdef=$(rvhost_kdir default)
make -s -C tools/testing/vsock_test KSRC="$(readlink -f "$kdef/source")" \
	KHDR="$kdef/rvhost-headers/include" OUTPUT="$RVHOST_TOP/build/vsock_test" >/dev/null
scripts/mkinitramfs.sh build/nested/initramfs.cpio
scripts/vm-run.sh --out build/vm/demo -- scripts/vm/demo.sh
