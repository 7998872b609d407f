#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# In the test VM: load or unload one implementation of /dev/vhost-net and
# /dev/vhost-vsock.
#
#   scripts/vm/modules.sh load c|rvhost
#   scripts/vm/modules.sh unload c|rvhost
#
# "c" is the kernel's own vhost_net/vhost_vsock (the oracle), from the
# modules the provisioning installed beside the kernel build; "rvhost" is
# ours, built by `make` for the booted kernel.

set -eu
: "${RVHOST_KDIR:?run me inside scripts/vm-run.sh}"

modprobe_c() {
	modprobe -d "$RVHOST_KDIR/rvhost-modroot" "$@"
}

case "$1 $2" in
"load c")
	modprobe_c vhost_net
	modprobe_c vhost_vsock
	;;
"unload c")
	modprobe_c -r vhost_net vhost_vsock vhost vhost_iotlb
	;;
"load rvhost")
	insmod "$RVHOST_MODDIR/rvhost_net.ko"
	insmod "$RVHOST_MODDIR/rvhost_vsock.ko"
	;;
"unload rvhost")
	rmmod rvhost_net rvhost_vsock
	;;
*)
	echo "usage: $0 load|unload c|rvhost" >&2
	exit 2
	;;
esac
