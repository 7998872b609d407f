#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0
#
# /init of the nested guest's initramfs (scripts/mkinitramfs.sh). Settings
# come from the kernel command line as rvhost.KEY=VALUE:
#   rvhost.addr=A/N   address of eth0
#   rvhost.peer=A     the first VM's tap address, pinged
#   rvhost.test=ping  what to do (only ping so far)
# The result is one line "RVHOST-NESTED: <test> ok|failed" on the console.

/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null

for arg in $(cat /proc/cmdline); do
	case "$arg" in
	rvhost.*=*)
		kv=${arg#rvhost.}
		eval "rv_${kv%%=*}=\"${kv#*=}\""
		;;
	esac
done

ip link set lo up
ip link set eth0 up
ip addr add "$rv_addr" dev eth0

case "$rv_test" in
ping)
	# The first packets may go while the host side is still settling.
	if ping -c 3 -W 10 "$rv_peer"; then
		echo "RVHOST-NESTED: ping ok"
	else
		echo "RVHOST-NESTED: ping failed"
	fi
	;;
*)
	echo "RVHOST-NESTED: unknown test '$rv_test'"
	;;
esac
reboot -f
