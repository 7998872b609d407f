#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# In a test VM of Debian's own kernel (scripts/vm-run.sh --kernel distro):
# the kernel booted is the release rvhost was built for, and Debian's
# vhost_net and vhost_vsock (the oracle) and then rvhost's modules load,
# give /dev/vhost-net (10:238) and /dev/vhost-vsock (10:241) that open, and
# unload. TAP on stdout (tools/testing/lib/tap.sh).
#
# Usage: boot_test.sh

set -uo pipefail
top=$(cd "$(dirname "$0")/../../.." && pwd)
. "$top/tools/testing/lib/tap.sh"
: "${RVHOST_KDIR:?run me inside scripts/vm-run.sh --kernel distro}"

release() {
	local want
	want=$(cat "$RVHOST_KDIR/include/config/kernel.release")
	echo "booted $(uname -r), built for $want"
	[ "$(uname -r)" = "$want" ]
}
# Both devices, with the C drivers' numbers, open for reading and writing.
devices() { # the modules that must be loaded
	local m node want
	for m in "$@"; do
		[ -d "/sys/module/$m" ] || { echo "$m is not loaded"; return 1; }
	done
	for node in vhost-net:a,ee vhost-vsock:a,f1; do
		want=${node#*:} node=/dev/${node%%:*}
		[ "$(stat -c %t,%T "$node" 2>/dev/null)" = "$want" ] ||
			{ echo "$node: $(stat -c '%F %t,%T' "$node" 2>&1), want char $want"; return 1; }
		(exec 3<>"$node") || { echo "$node does not open"; return 1; }
	done
}
gone() { # modules that must be unloaded
	local m
	for m in "$@"; do
		[ ! -d "/sys/module/$m" ] || { echo "$m is still loaded"; return 1; }
	done
}
load() { "$top/scripts/vm/modules.sh" load "$1"; }
unload() { "$top/scripts/vm/modules.sh" unload "$1"; }

tap_plan 7
tap_case distro_boot.release release
tap_case distro_boot.c_load load c
tap_case distro_boot.c_devices devices vhost_net vhost_vsock
tap_case distro_boot.c_unload eval 'unload c && gone vhost_net vhost_vsock'
tap_case distro_boot.rvhost_load load rvhost
tap_case distro_boot.rvhost_devices devices rvhost_net rvhost_vsock
tap_case distro_boot.rvhost_unload eval 'unload rvhost && gone rvhost_net rvhost_vsock'
tap_status
