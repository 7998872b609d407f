#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# README.md's "On a real host" as written, on Debian's own kernel (in
# scripts/vm-run.sh --kernel distro). The blocks marked
# <!-- real-host:NAME --> are read from the README itself and run in order,
# each in a shell of its own as root in the checkout, and what a Debian
# host does around them is done by the host's own programs: at boot, kmod's
# static nodes through systemd-tmpfiles, systemd-modules-load, udevd and its
# trigger; on opening a node whose driver is not loaded, the kernel's own
# `modprobe char-major-10-N`. Checked, in one boot: a host as it is today
# (opening the nodes loads vhost_net and vhost_vsock, udev sets their
# permissions); after the README's install, blacklist and switch, and after
# a boot, rvhost is loaded and the C drivers are not; an open with neither
# loaded loads rvhost alone (the blacklist's point: both have the aliases);
# the nodes' owner, group and mode, and the udev rules that set them, are
# what udev gave the C drivers in this boot (nothing is hard-coded), and
# the rule lines the README quotes are udev's; a user of group kvm opens
# the nodes and another user cannot; `modprobe vhost_net` by name fails
# while rvhost is loaded (why the README adds no install line); going back
# gives the C drivers, with the same permissions, loaded again on open.
# TAP on stdout (tools/testing/lib/tap.sh).
#
# Usage: real_host_test.sh     ($RVHOST_README: another README, e.g. a
#                               broken one, which must fail)
#
# The VM's root is this machine's, read-only: /etc and /usr/lib (so
# /lib/modules, which this machine need not have) get a writable overlay,
# and /lib/modules/$(uname -r) is Debian's module tree that the VM uses
# ($RVHOST_MODROOT), so that modprobe, depmod, systemd-modules-load and
# udevd work on them as on a host. The build block runs on the host
# (real_host_build_test.sh): here `tree`, which it sets and the install
# block uses, is the tree of the booted kernel, $RVHOST_KDIR.

set -uo pipefail
top=$(cd "$(dirname "$0")/../../.." && pwd)
. "$top/tools/testing/lib/tap.sh"
. "$top/tools/testing/lib/readme.sh"
: "${RVHOST_MODROOT:?run me inside scripts/vm-run.sh --kernel distro}"

readme=${RVHOST_README:-$top/README.md}
krel=$(uname -r)
st=/tmp/real-host
nodes=(/dev/vhost-net /dev/vhost-vsock)
rules=/usr/lib/udev/rules.d/50-udev-default.rules
mkdir -p "$st"

# Run the README's block NAME, traced, stopping at the first error.
block() {
	local text
	text=$(readme_block "$readme" "real-host:$1") ||
		{ echo "$readme: no block real-host:$1"; return 1; }
	(cd "$top" && tree=$RVHOST_KDIR bash -exc "$text")
}
loaded() {
	local m
	for m; do [ -d "/sys/module/$m" ] || { echo "$m is not loaded"; return 1; }; done
}
unloaded() {
	local m
	for m; do [ ! -d "/sys/module/$m" ] || { echo "$m is loaded"; return 1; }; done
}
# Which vhost modules are loaded.
lsmod_vhost() {
	echo "loaded:" $(lsmod | awk '$1 ~ /vhost/ { print $1 }')
}

# The nodes as users see them, and the rules udev applies to their devices.
perms() {
	local n
	stat -c '%n %F %t:%T %U:%G %a' "${nodes[@]}" || return
	for n in "${nodes[@]}"; do
		udevadm test --action=add "/sys/class/misc/${n#/dev/}" 2>&1 |
			grep -E '^[^ ]+: /[^ ]+\.rules:[0-9]+ (OWNER|GROUP|MODE)' || return
	done
}
# The same as the C drivers had.
same_as_c() {
	local now
	udevadm settle --timeout=30
	now=$(perms) || { echo "$now"; return 1; }
	echo "$now"
	diff -u "$st/c.perms" - <<<"$now"
}

# Open both nodes for reading and writing as a user of GROUP (as QEMU run by
# a member of kvm); a node whose driver is not loaded makes the kernel load
# it first, by its char-major alias.
open_as() { # group
	setpriv --reuid=nobody --regid="$1" --clear-groups -- \
		sh -c 'for n; do (exec 3<>"$n") || exit; done' - "${nodes[@]}"
}

# What a boot does about these modules and nodes: kmod-static-nodes and
# systemd-tmpfiles-setup-dev make the nodes of modules.devname,
# systemd-modules-load loads what /etc/modules-load.d names, systemd-udevd
# applies the rules (static_node= ones to those nodes when it starts), and
# systemd-udev-trigger replays the add events (of misc devices: the VM's
# others are not this test's).
boot() {
	mkdir -p /run/tmpfiles.d &&
		kmod static-nodes --format=tmpfiles --output=/run/tmpfiles.d/static-nodes.conf &&
		systemd-tmpfiles --prefix=/dev --create --boot /run/tmpfiles.d/static-nodes.conf &&
		SYSTEMD_LOG_TARGET=console /lib/systemd/systemd-modules-load &&
		/lib/systemd/systemd-udevd --daemon </dev/null >>"$st/udevd.log" 2>&1 &&
		udevadm trigger --action=add --subsystem-match=misc &&
		udevadm settle --timeout=30
}
# What a reboot forgets: udevd and its database, the modules, the nodes.
forget() {
	udevadm control --exit
	rm -rf /run/udev /run/tmpfiles.d/static-nodes.conf
	modprobe -r rvhost_net rvhost_vsock vhost_net vhost_vsock &&
		rm -f "${nodes[@]}"
}

readme_has() {
	local want=(real-host:build real-host:install real-host:blacklist real-host:modules-load
		real-host:switch real-host:check real-host:udev-rules real-host:back) got
	got=$(readme_markers "$readme" real-host:)
	echo "$readme:" $got
	[ "$got" = "$(printf '%s\n' "${want[@]}")" ] || { echo "want:" "${want[@]}"; return 1; }
}
# The rule lines the README quotes, as they are in the rules udev applies.
udev_rules() {
	local text line
	text=$(readme_block "$readme" real-host:udev-rules) || return
	while IFS= read -r line; do
		grep -Fxn "$line" "$rules" || { echo "$rules has no line $line"; return 1; }
	done <<<"$text"
}
# A writable host: the host's /etc and /usr/lib with a tmpfs over them, and
# Debian's modules for the booted kernel in /lib/modules/$(uname -r).
host() {
	local d
	modprobe -d "$RVHOST_MODROOT" overlay || return
	for d in /etc /usr/lib; do
		mkdir -p "$st/upper$d" "$st/work$d"
		mount -t overlay overlay -o "lowerdir=$d,upperdir=$st/upper$d,workdir=$st/work$d" "$d" ||
			return
	done
	mkdir -p /lib/modules && cp -a "$RVHOST_MODROOT/lib/modules/$krel" /lib/modules/ || return
	# Files of Debian's package that distro-boot.sh's tree lacks: depmod
	# would say so.
	(cd "/lib/modules/$krel" && touch modules.order modules.builtin modules.builtin.modinfo) &&
		depmod || return
	ls "/lib/modules/$krel"
	unloaded vhost_net vhost_vsock vhost rvhost_net rvhost_vsock
}
# The host before the README: opening the nodes loads the C drivers, and
# udev sets the permissions that rvhost's nodes must have too.
c_host() {
	boot || return
	open_as kvm || return
	loaded vhost_net vhost_vsock || return
	udevadm settle --timeout=30
	perms >"$st/c.perms" || { cat "$st/c.perms"; echo "udevadm test applied no rule"; return 1; }
	cat "$st/c.perms"
}
install_() {
	block install || return
	ls -l "/lib/modules/$krel/updates"
	grep -E 'char-major-10-(238|241)' "/lib/modules/$krel/modules.alias"
	grep -Eq '^alias char-major-10-238 rvhost_net$' "/lib/modules/$krel/modules.alias"
}
blacklist_() {
	block blacklist && block modules-load &&
		tail -n +1 /etc/modprobe.d/rvhost.conf /etc/modules-load.d/rvhost.conf
}
switch_() {
	block switch && block check || return
	loaded rvhost_net rvhost_vsock && unloaded vhost_net vhost_vsock && same_as_c
}
# A reboot: systemd-modules-load loads rvhost, and nothing the C drivers.
reboot_() {
	forget && boot || return
	loaded rvhost_net rvhost_vsock && unloaded vhost_net vhost_vsock vhost && same_as_c
}
# With neither loaded, the kernel's modprobe of the char-major alias on open
# loads rvhost alone.
autoload() {
	modprobe -r rvhost_net rvhost_vsock && unloaded rvhost_net rvhost_vsock || return
	open_as kvm
	lsmod_vhost
	loaded rvhost_net rvhost_vsock && unloaded vhost_net vhost_vsock vhost && same_as_c
}
# Members of kvm may open the nodes, others not.
access() {
	open_as kvm || return
	! open_as nogroup
}
# `modprobe vhost_net` by name, unlike the alias, is not blacklisted: with
# rvhost loaded it fails and changes nothing else.
by_name() {
	local m
	for m in vhost_net vhost_vsock; do
		! modprobe "$m" || { echo "modprobe $m succeeded"; return 1; }
	done
	loaded rvhost_net rvhost_vsock && unloaded vhost_net vhost_vsock && open_as kvm
}
back() {
	block back || return
	loaded vhost_net vhost_vsock && unloaded rvhost_net rvhost_vsock || return
	! grep rvhost "/lib/modules/$krel/modules.alias" || return
	same_as_c
}
# Back to what it was: an open loads the C drivers.
back_autoload() {
	modprobe -r vhost_net vhost_vsock && unloaded vhost_net vhost_vsock || return
	open_as kvm
	lsmod_vhost
	loaded vhost_net vhost_vsock && unloaded rvhost_net rvhost_vsock && same_as_c
}

trap 'udevadm control --exit 2>/dev/null' EXIT
tap_plan 13
tap_case real_host.readme readme_has
tap_case real_host.udev_rules udev_rules
tap_case real_host.host host
tap_case real_host.c_host c_host
tap_case real_host.install install_
tap_case real_host.blacklist blacklist_
tap_case real_host.switch switch_
tap_case real_host.reboot reboot_
tap_case real_host.autoload autoload
tap_case real_host.access access
tap_case real_host.by_name by_name
tap_case real_host.back back
tap_case real_host.back_autoload back_autoload
tap_status
