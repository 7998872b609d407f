#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0
#
# /init of the nested guest's initramfs (scripts/mkinitramfs.sh). Settings
# come from the kernel command line as rvhost.KEY=VALUE:
#   rvhost.addr=A/N   address of eth0
#   rvhost.peer=A     the first VM's tap address, pinged
#   rvhost.test=T,..  what to do, in order: ping, tcp (see below)
#   rvhost.port=P     tcp: the peer serves data on P and takes data on P+1
#   rvhost.size=N     tcp: bytes each way (a multiple of 64 KiB)
# Every line for scripts/vm/nested.sh starts with "RVHOST-NESTED:"; the
# result of each test is "RVHOST-NESTED: <test> ok|failed". First come the
# virtio-net device's negotiated features (one 0/1 character per bit, as in
# sysfs) and, for tcp, the checksums that nested.sh compares with the peer's.

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

say() { echo "RVHOST-NESTED: $*"; }

# The virtio-net device's negotiated feature bits.
for d in /sys/bus/virtio/devices/*; do
	[ "$(cat "$d/device")" = 0x0001 ] && say "features $(cat "$d/features")"
done

# tcp: download SIZE bytes from the peer, then upload SIZE bytes of our own
# pseudo-random data; print the checksums of both and the time each took.
# Each nc gives up after 30 s without a connection and 300 s in all, so a
# stalled data path still ends in a verdict.
tcp_test() {
	# Into a file first, so that the time is the network's and not sha256's.
	t0=$(date +%s)
	timeout 300 nc -w 30 "$rv_peer" "$rv_port" </dev/null >/tmp/rx || return 1
	t1=$(date +%s)
	say "rx $(stat -c %s /tmp/rx) bytes in $((t1 - t0)) s"
	say "rx-sha256 $(sha256sum </tmp/rx | cut -d' ' -f1)"
	rm /tmp/rx
	dd if=/dev/urandom of=/tmp/tx bs=65536 count=$((rv_size / 65536)) 2>/dev/null || return 1
	say "tx-sha256 $(sha256sum </tmp/tx | cut -d' ' -f1)"
	t2=$(date +%s)
	timeout 300 nc -w 30 "$rv_peer" $((rv_port + 1)) </tmp/tx >/dev/null || return 1
	t3=$(date +%s)
	say "tx $(stat -c %s /tmp/tx) bytes in $((t3 - t2)) s (urandom and sha256s took $((t2 - t1)) s)"
	rm /tmp/tx
}

say "up $(cut -d' ' -f1 /proc/uptime) s, mtu $(cat /sys/class/net/eth0/mtu)"
for t in $(echo "$rv_test" | tr , ' '); do
	case "$t" in
	ping)
		# The first packets may go while the host side is still settling.
		if ping -c 3 -W 10 "$rv_peer"; then
			say "ping ok"
		else
			say "ping failed"
		fi
		;;
	tcp)
		if tcp_test; then
			say "tcp ok"
		else
			say "tcp failed"
		fi
		;;
	*)
		say "$t unknown"
		;;
	esac
done
reboot -f
