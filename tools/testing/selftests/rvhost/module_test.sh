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
echo "1..17"
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
		cp -r "$RVHOST_MODROOT/lib/modules/$rel/kernel" "$root/lib/modules/$rel/"
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
			modprobe -d "$RVHOST_MODROOT" "$mod"
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
	other() { modprobe -d "$RVHOST_MODROOT" vhost_vsock; }
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
	modprobe -d "$RVHOST_MODROOT" -r vhost vhost_iotlb 2>/dev/null
fi

# The transport goes and comes back while sockets connect through it (the
# vsock core's race class: vsock_core_unregister() against
# vsock_assign_transport() and the sockets using the transport): two
# tasks connect AF_VSOCK sockets to CIDs no device has, all the while (a
# failed connect keeps the transport, and a module reference, until the
# socket is closed; one task sometimes keeps its socket a moment), and the
# module is unloaded and loaded 10 times. net.vsock.g2h_fallback is 0
# meanwhile: with it (the default), a CID that no vhost-vsock device has
# goes to the guest-to-host transport (virtio_transport, built in), and
# the connects would not touch the module at all. Every unload and load
# must succeed (an unload is retried while a socket holds the module, as
# scripts/vm/modules.sh does), and the tasks must end; a WARN, KASAN or
# lockdep report fails the whole run (scripts/vm-run.sh). The module is
# left loaded.
vsock_load() {
	if [ "$impl" = c ]; then
		modprobe -d "$RVHOST_MODROOT" "$mod"
	else
		insmod "$RVHOST_MODDIR/$mod.ko"
	fi
}
rmmod_retries=0
vsock_unload() {
	local i
	for i in $(seq 100); do
		rmmod "$mod" 2>/dev/null && return 0
		rmmod_retries=$((rmmod_retries + 1))
		sleep 0.1
	done
	rmmod "$mod"
}
reload_while_connecting() {
	local dir=/tmp/vsock-connectors i k pids=() good=1 reloads=0 fallback
	local t0 t1 t2 tu=0 tl=0
	local sysctl=/proc/sys/net/vsock/g2h_fallback
	rm -rf "$dir"
	mkdir -p "$dir"
	fallback=$(cat $sysctl) && echo 0 >$sysctl || return 1
	for k in 1 2; do
		python3 -c '
import errno, os, random, socket, sys, time
dir, k = sys.argv[1], sys.argv[2]
rnd = random.Random(k)
tries = fails = 0
why = {}
while not os.path.exists(dir + "/stop"):
    kind = socket.SOCK_SEQPACKET if rnd.random() < 0.25 else socket.SOCK_STREAM
    s = None
    try:
        s = socket.socket(socket.AF_VSOCK, kind)
        s.settimeout(0.1)
        s.connect((rnd.randrange(3, 1 << 20), rnd.randrange(1024, 65536)))
    except OSError as e:
        fails += 1
        e = errno.errorcode.get(e.errno, type(e).__name__)
        why[e] = why.get(e, 0) + 1
    # the second sometimes keeps its socket (and the module) a while
    if s and k == "2" and rnd.random() < 0.03:
        time.sleep(0.05)
    if s:
        s.close()
    tries += 1
    if tries == 1:
        open(dir + "/ready." + k, "w").close()
print(tries, fails, *sorted(f"{e}:{n}" for e, n in why.items()))
' "$dir" $k >"$dir/out.$k" 2>&1 &
		pids+=($!)
	done
	for i in $(seq 300); do
		[ "$(ls "$dir" | grep -c '^ready\.')" = 2 ] && break
		sleep 0.1
	done
	t0=$SECONDS
	for i in $(seq 10); do
		t1=$(date +%s%N)
		if ! vsock_unload; then
			echo "# reload $i: unloading $mod failed"
			good=0
			break
		fi
		t2=$(date +%s%N)
		tu=$((tu + t2 - t1))
		if ! vsock_load; then
			echo "# reload $i: loading $mod failed"
			good=0
			break
		fi
		reloads=$i
		tl=$((tl + $(date +%s%N) - t2))
	done
	touch "$dir/stop"
	for k in "${!pids[@]}"; do
		for i in $(seq 100); do
			kill -0 "${pids[$k]}" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "${pids[$k]}" 2>/dev/null; then
			echo "# connector $((k + 1)) did not end"
			kill -9 "${pids[$k]}"
			good=0
		fi
		wait "${pids[$k]}" || good=0
		# it ran to the end: "tries failures errno:count..."
		if ! grep -Eq '^[1-9][0-9]* [0-9]+( |$)' "$dir/out.$((k + 1))"; then
			echo "# connector $((k + 1)):" $(head -c 300 "$dir/out.$((k + 1))")
			good=0
		fi
	done
	echo "# $reloads reloads in $((SECONDS - t0)) s (unloads $((tu / 1000000)) ms," \
		"loads $((tl / 1000000)) ms), $rmmod_retries rmmod retries;" \
		"connects (tries failures errno:count):" \
		$(cat "$dir"/out.* 2>/dev/null | tr '\n' ';')
	rm -rf "$dir"
	echo "$fallback" >$sysctl
	[ -e "/sys/module/$mod" ] || vsock_load || good=0
	[ $good = 1 ] && [ -e /dev/vhost-vsock ]
}
check "module.vhost_vsock.reload_while_connecting" reload_while_connecting
exit $rc
