#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make demo`: provision what is missing, build rvhost, boot a VM with it
# loaded, show the devices answering, then run a nested guest through
# rvhost's /dev/vhost-net (QEMU -netdev tap,vhost=on).

set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$RVHOST_TOP"

scripts/provision.sh default
rvhost_toolchain_env
make -s modules >/dev/null
scripts/mkinitramfs.sh build/nested/initramfs.cpio
scripts/vm-run.sh --out build/vm/demo -- scripts/vm/demo.sh
