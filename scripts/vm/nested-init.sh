#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0
#
# /init of the nested guest's initramfs (scripts/mkinitramfs.sh). Settings
# come from the kernel command line as rvhost.KEY=VALUE:
#   rvhost.addr=A/N   address of eth0
#   rvhost.peer=A     the first VM's tap address, pinged
#   rvhost.test=T,..  what to do, in order: ping, tcp, vsock_client,
#                     vsock_server (see below)
#   rvhost.port=P     tcp: the peer serves data on P and takes data on P+1
#   rvhost.size=N     tcp: bytes each way (a multiple of 64 KiB)
#   rvhost.vport=P    vsock_*: vsock_test's control port when the VM is the
#                     server; P+1 when this guest is
# Every line for scripts/vm/nested.sh starts with "RVHOST-NESTED:"; the
# result of each test is "RVHOST-NESTED: <test> ok|failed". First come the
# virtio-net device's negotiated features (one 0/1 character per bit, as in
# sysfs) and, for tcp, the checksums that nested.sh compares with the peer's;
# for vsock_*, every line vsock_test prints ("RVHOST-NESTED: <test>| ...",
# its exit status last as "rvhost-exit N"), which nested.sh matches with
# the VM's.

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
# The interrupts of the virtio-net receive queue (one vCPU: one count).
rx_irqs() {
	awk '/virtio[0-9]*-input/ { n += $2 } END { print n + 0 }' /proc/interrupts
}
tcp_test() {
	# Into a file first, so that the time is the network's and not sha256's.
	t0=$(date +%s) i0=$(rx_irqs)
	timeout 300 nc -w 30 "$rv_peer" "$rv_port" </dev/null >/tmp/rx || return 1
	t1=$(date +%s) i1=$(rx_irqs)
	say "rx $(stat -c %s /tmp/rx) bytes in $((t1 - t0)) s"
	say "rx-irqs $((i1 - i0))"
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

# vsock_client, vsock_server: the kernel's vsock_test (/bin/vsock_test) in
# that mode, against the one the VM runs (nested.sh), over the vhost-vsock
# device; its control connection goes over eth0. The VM is CID 2. Not every
# step of vsock_test has a timeout of its own: 240 s for a run that takes
# about 30 keeps a stuck test from holding the boot up until QEMU's timeout.
#
# A run that fails is followed by at most two more (vsock_test_rerun.sh),
# each with 120 s, and 30 tries to connect its control connection.
. /lib/vsock_test_rerun.sh
vsock_test_once() { # test, vsock_test's time limit
	rm -f /tmp/vsock_test.rc
	# The blank line ends a test line that a kill cut short.
	{
		timeout "$2" vsock_test --mode=$mode $ctl --peer-cid=2 2>&1
		echo $? >/tmp/vsock_test.rc
		echo
		echo "rvhost-exit $(cat /tmp/vsock_test.rc)"
	} | tee /tmp/vsock_test.run | while IFS= read -r line || [ -n "$line" ]; do
		[ -n "$line" ] && say "$1| $line"
	done
	[ "$(cat /tmp/vsock_test.rc 2>/dev/null)" = 0 ]
}
vsock_test_run() { # vsock_client|vsock_server
	mode=${1#vsock_}
	if [ "$mode" = client ]; then
		ctl="--control-host=$rv_peer --control-port=$rv_vport"
	else
		# Every address: the VM connects to eth0's.
		ctl="--control-host=0.0.0.0 --control-port=$((rv_vport + 1))"
	fi
	last=$(vsock_test --list 2>/dev/null | grep -c '^[0-9]')
	last=$((last - 1))
	vt_retried=" "
	vsock_test_once "$1" 240 && return 0
	runs=1
	while [ $runs -lt $vt_runs ] && vt_next /tmp/vsock_test.run $last; do
		runs=$((runs + 1))
		say "$1| rvhost-rerun"
		tries=0
		while :; do
			tries=$((tries + 1))
			vsock_test_once "$1" 120 && return 0
			# A client whose VM end is not listening yet tries again.
			[ "$mode" = client ] && [ $tries -lt 30 ] &&
				! grep -q 'Control socket connected' /tmp/vsock_test.run || break
			sleep 1
		done
	done
	return 1
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
	vsock_client | vsock_server)
		if vsock_test_run "$t"; then
			say "$t ok"
		else
			say "$t failed"
		fi
		;;
	*)
		say "$t unknown"
		;;
	esac
done
reboot -f
