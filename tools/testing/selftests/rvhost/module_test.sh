#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Module-level conformance, in TAP (run as a section, tools/testing/lib/tap.sh): what the device files and modules do
# beyond the ioctls. Runs in the test VM with IMPL's modules loaded and leaves
# them loaded.
#
# Usage: module_test.sh c|rvhost

impl=${1:?usage: $0 c|rvhost}
if [ "$impl" = c ]; then
	mods=(vhost_net vhost_vsock)
else
	mods=(rvhost_net rvhost_vsock)
fi
devs=(vhost-net vhost-vsock)
minors=(238 241)
n=0 rc=0
echo "1..16"
ok() { n=$((n + 1)); echo "ok $n $1"; }
notok() { n=$((n + 1)); rc=1; echo "not ok $n $1"; }
check() { # name command...
	local name=$1
	shift
	if "$@"; then ok "$name"; else notok "$name"; fi
}

# A module to load on demand has to come from a module tree that modprobe can
# find; build one in tmpfs with just this implementation's modules.
autoload_tree() {
	local root=/tmp/modroot-$impl rel
	rel=$(uname -r)
	rm -rf "$root"
	mkdir -p "$root/lib/modules/$rel"
	if [ "$impl" = c ]; then
		cp -r "$RVHOST_KDIR/rvhost-modroot/lib/modules/$rel/kernel" "$root/lib/modules/$rel/"
	else
		mkdir -p "$root/lib/modules/$rel/extra"
		cp "$RVHOST_MODDIR"/rvhost_*.ko "$root/lib/modules/$rel/extra/"
	fi
	depmod -b "$root" "$rel" 2>/dev/null
	printf '#!/bin/sh\nexec /sbin/modprobe -d %s "$@"\n' "$root" >/tmp/modprobe-$impl
	chmod +x /tmp/modprobe-$impl
	echo /tmp/modprobe-$impl >/proc/sys/kernel/modprobe
}

# The C vhost core's parameters and their defaults (drivers/vhost/vhost.c),
# as constants: the tests expect these values (vhost_util.h), so each module
# must be loaded with them. C keeps them in vhost.ko, rvhost in each module.
params=(max_mem_regions=64 max_iotlb_entries=2048 fork_from_owner_default=Y)

for i in 0 1; do
	dev=/dev/${devs[$i]} mod=${mods[$i]} minor=${minors[$i]}
	name=${devs[$i]//-/_}
	check "module.$name.minor" test "$(stat -c '%t:%T' "$dev" 2>/dev/null)" = "a:$(printf %x "$minor")"
	pmod=$mod
	[ "$impl" = c ] && pmod=vhost
	for p in "${params[@]}"; do
		check "module.$name.param_${p%%=*}" test "$(cat "/sys/module/$pmod/parameters/${p%%=*}" 2>/dev/null)" = "${p#*=}"
	done

	# An open file holds a module reference: rmmod must be refused.
	exec 3<>"$dev"
	if rmmod "$mod" 2>/dev/null; then
		notok "module.$name.rmmod_refused_while_open"
		exec 3>&-
	else
		ok "module.$name.rmmod_refused_while_open"
		exec 3>&-
	fi

	# Closed, it unloads; opening the char device node then loads it
	# again through the char-major-10-<minor> alias.
	rmmod "$mod" 2>/dev/null
	check "module.$name.unloads_when_closed" test ! -e "/sys/module/$mod"
	autoload_tree
	mknod /tmp/node-$name c 10 "$minor"
	# Only counts if the open is what loaded it.
	if [ ! -e "/sys/module/$mod" ] && { exec 3<>/tmp/node-$name; } 2>/dev/null &&
		[ -e "/sys/module/$mod" ]; then
		ok "module.$name.autoload_by_minor"
	else
		notok "module.$name.autoload_by_minor"
	fi
	exec 3>&-
	rm -f /tmp/node-$name
	echo /sbin/modprobe >/proc/sys/kernel/modprobe
	# Leave the module loaded, as we found it.
	if [ ! -e "/sys/module/$mod" ]; then
		if [ "$impl" = c ]; then
			modprobe -d "$RVHOST_KDIR/rvhost-modroot" "$mod"
		else
			insmod "$RVHOST_MODDIR/$mod.ko"
		fi
	fi
done

# vhost-vsock is the vsock core's one host-to-guest transport: its object is
# in /proc/kallsyms under C's name (vsock_test looks it up), and the other
# implementation cannot register a second one while this one is loaded.
mod=${mods[1]}
check "module.vhost_vsock.transport_in_kallsyms" \
	grep -Eq "^[0-9a-f]+ [dDbB] vhost_transport\s+\[$mod\]" /proc/kallsyms
if [ "$impl" = c ]; then
	other() { insmod "$RVHOST_MODDIR/rvhost_vsock.ko"; }
	other_mod=rvhost_vsock
else
	other() { modprobe -d "$RVHOST_KDIR/rvhost-modroot" vhost_vsock; }
	other_mod=vhost_vsock
fi
msg=$(other 2>&1)
if [ ! -e "/sys/module/$other_mod" ] && [[ $msg == *"resource busy"* ]] &&
	{ exec 3<>/dev/vhost-vsock; } 2>/dev/null; then
	ok "module.vhost_vsock.second_h2g_transport_ebusy"
else
	notok "module.vhost_vsock.second_h2g_transport_ebusy"
	echo "# $msg"
fi
exec 3>&-
[ -e "/sys/module/$other_mod" ] && rmmod "$other_mod"
# What modprobe loaded for vhost_vsock and left behind.
if [ "$impl" = rvhost ]; then
	modprobe -d "$RVHOST_KDIR/rvhost-modroot" -r vhost vhost_iotlb 2>/dev/null
fi
exit $rc
