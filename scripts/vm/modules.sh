#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# In the test VM: load or unload one implementation of /dev/vhost-net and
# /dev/vhost-vsock.
#
#   scripts/vm/modules.sh load c|rvhost [PARAM=VALUE...]
#   scripts/vm/modules.sh unload c|rvhost
#
# "c" is the kernel's own vhost_net/vhost_vsock (the oracle), from the
# booted kernel's module tree ($RVHOST_MODROOT: the one the provisioning
# installed beside the kernel build, or scripts/distro-boot.sh's); "rvhost"
# is ours, built by `make` for the booted kernel, after the modules it
# depends on (none on the test kernels, which build them in; tun, tap, vsock
# ... on a distribution's, where unloading the C modules may have taken
# them along).

set -eu
: "${RVHOST_MODROOT:?run me inside scripts/vm-run.sh}"

modprobe_c() {
	modprobe -d "$RVHOST_MODROOT" "$@"
}

# A vsock socket holds its transport's module until it is closed, which for a
# socket the guest never answered takes the close timeout (8 s); retry the
# unload that long, and a little more.
unload() { # module remove-command...
	local mod=$1 i
	shift
	for i in $(seq 40); do
		[ -d "/sys/module/$mod" ] || return 0
		"$@" "$mod" 2>/dev/null && return 0
		sleep 0.5
	done
	"$@" "$mod"
}

case "$1 $2" in
"load c")
	modprobe_c vhost_net
	modprobe_c vhost_vsock
	;;
"unload c")
	for m in vhost_net vhost_vsock vhost vhost_iotlb; do
		unload $m modprobe_c -r
	done
	;;
"load rvhost")
	# Module parameters, to both (make bench's fetch_batch).
	for m in rvhost_net rvhost_vsock; do
		deps=$(modinfo -F depends "$RVHOST_MODDIR/$m.ko")
		[ -z "$deps" ] || modprobe_c -a ${deps//,/ }
		insmod "$RVHOST_MODDIR/$m.ko" "${@:3}"
	done
	;;
"unload rvhost")
	unload rvhost_net rmmod
	unload rvhost_vsock rmmod
	;;
*)
	echo "usage: $0 load|unload c|rvhost" >&2
	exit 2
	;;
esac
