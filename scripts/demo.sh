#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make demo`: provision what is missing, build rvhost, boot a VM with it
# loaded, show the devices answering, then run a nested guest through
# /dev/vhost-net. The data path is not in rvhost yet, so the nested guest
# runs on the C vhost_net; it moves to rvhost_net with the vhost-net issue.

set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$RVHOST_TOP"

scripts/provision.sh default
rvhost_toolchain_env
make -s modules >/dev/null
scripts/mkinitramfs.sh build/nested/initramfs.cpio
scripts/vm-run.sh --out build/vm/demo -- scripts/vm/demo.sh
