#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# In the test VM: start a nested guest (QEMU TCG inside the VM) whose
# virtio-net is backed by whichever /dev/vhost-net is loaded, through
# `-netdev tap,vhost=on,vhostfd=N`, and optionally a vhost-vsock-pci device.
# The nested guest runs tests from its initramfs (scripts/vm/nested-init.sh)
# and reports on its console; this script judges them.
#
# Usage: scripts/vm/nested.sh [--vsock CID] [--packed] TEST...
#   TEST: ping   the nested guest pings this VM's tap address
#         tcp    the nested guest downloads $RVHOST_NESTED_SIZE bytes
#                (default 16 MiB; a multiple of 64 KiB) of pseudo-random
#                data from this VM and uploads as many of its own, over
#                TCP; the sha256 of each direction must be the same on
#                both ends
#   --packed     virtio-net-pci with packed=on; every test then also needs
#                VIRTIO_F_RING_PACKED (bit 34) negotiated in the nested guest
#
# The tests run one after the other in one boot of the nested guest. One line
# per test, "nested: TEST: ok" or "nested: TEST: FAILED (why)"; the exit
# status is 0 only if all passed. The tap network (10.23.0.0/24) exists only
# inside this VM.

set -eu
: "${RVHOST_KDIR:?run me inside scripts/vm-run.sh}"

cid="" packed=0
while [ $# -gt 0 ]; do
	case "$1" in
	--vsock) cid=$2; shift ;;
	--packed) packed=1 ;;
	*) break ;;
	esac
	shift
done
[ $# -gt 0 ] || { echo "usage: $0 [--vsock CID] [--packed] TEST..." >&2; exit 2; }
tests=("$@")
initrd=$RVHOST_TOP/build/nested/initramfs.cpio
[ -f "$initrd" ] || { echo "no $initrd: run scripts/mkinitramfs.sh" >&2; exit 2; }
log=/tmp/nested-console.log
size=${RVHOST_NESTED_SIZE:-16777216}
port=5000
host=10.23.0.1
# The largest MTU a tap and virtio-net take (host_mtu): under nested TCG the
# cost is per packet. At 1500 bytes the guest sent 16 MiB in about 13000
# packets (no TSO at that rate) and the upload took 75-85 s; at 65520, in
# about 1400 packets and 17-22 s.
mtu=65520

# Nothing from an earlier run may pass for this one's result.
rm -f "$log" /tmp/nested-qemu.log /tmp/peer.out /tmp/peer.ready
ip link show rvtap0 >/dev/null 2>&1 && ip link del rvtap0
ip tuntap add dev rvtap0 mode tap
ip addr add $host/24 dev rvtap0
ip link set rvtap0 mtu $mtu up

# The other end of the tcp test.
peer_pid=""
if [[ " ${tests[*]} " == *" tcp "* ]]; then
	timeout 900 python3 "$RVHOST_TOP/tools/testing/e2e/tcp_peer.py" \
		$host $port "$size" "$$" /tmp/peer.ready >/tmp/peer.out 2>&1 &
	peer_pid=$!
	for _ in $(seq 100); do
		[ -f /tmp/peer.ready ] && break
		sleep 0.1
	done
fi

netdev_opts=netdev=n0,host_mtu=$mtu
[ $packed = 1 ] && netdev_opts+=,packed=on
# quiet: every console byte costs the nested guest a trapped port write.
cmdline="console=ttyS0 quiet panic=-1 rvhost.test=$(IFS=,; echo "${tests[*]}")"
cmdline+=" rvhost.addr=10.23.0.2/24 rvhost.peer=$host rvhost.port=$port rvhost.size=$size"

# QEMU gets /dev/vhost-net as an inherited fd, as libvirt hands it over.
exec 3<>/dev/vhost-net
args=(-cpu max -m 256 -smp 1 -nographic -no-reboot -monitor none
	-serial "file:$log"
	-kernel "$RVHOST_KDIR/arch/x86/boot/bzImage" -initrd "$initrd"
	-append "$cmdline"
	-netdev "tap,id=n0,ifname=rvtap0,script=no,downscript=no,vhost=on,vhostfd=3"
	-device "virtio-net-pci,$netdev_opts")
[ -n "$cid" ] && args+=(-device "vhost-vsock-pci,guest-cid=$cid")

start=$(date +%s)
rc=0
timeout 900 qemu-system-x86_64 "${args[@]}" </dev/null >/tmp/nested-qemu.log 2>&1 || rc=$?
exec 3>&-
echo "nested guest ran $(($(date +%s) - start)) s (qemu exit $rc)"
[ $rc = 0 ] || cat /tmp/nested-qemu.log
[ -f "$log" ] || : >"$log"
ip link del rvtap0 2>/dev/null || true
# Keep the nested console for a look after the run (scripts/vm-run.sh --out).
if [ -n "${RVHOST_OUT:-}" ] && [ -d "$RVHOST_OUT" ]; then
	i=1
	while [ -e "$RVHOST_OUT/nested-console.$i.log" ]; do i=$((i + 1)); done
	cp "$log" "$RVHOST_OUT/nested-console.$i.log"
	echo "nested console: $RVHOST_OUT/nested-console.$i.log (in the VM)"
fi

# The nested guest's report: "RVHOST-NESTED: ..." lines (the first may
# follow the firmware's screen-clearing escapes on the same line).
report=$(tr -d '\r' <"$log" | sed -n 's/.*RVHOST-NESTED: //p')
field() { sed -n "s/^$1 //p" <<<"$report" | head -n1; }
[ -n "$report" ] && sed 's/^/  nested guest: /' <<<"$report"

peer=""
if [ -n "$peer_pid" ]; then
	# The peer is done once the guest has closed both connections; it gives
	# up by itself otherwise, so this only waits long if something hangs.
	for _ in $(seq 50); do
		kill -0 "$peer_pid" 2>/dev/null || break
		sleep 0.1
	done
	kill "$peer_pid" 2>/dev/null || true
	wait "$peer_pid" 2>/dev/null || true
	peer=$(cat /tmp/peer.out)
	sed 's/^/  peer: /' <<<"$peer"
fi

features=$(field features)
packed_why=""
if [ $packed = 1 ]; then
	if [ -z "$features" ]; then
		packed_why="no feature bits from the nested guest"
	elif [ "${features:34:1}" != 1 ]; then
		packed_why="VIRTIO_F_RING_PACKED (bit 34) not negotiated"
	fi
fi

fail=0
for t in "${tests[@]}"; do
	why=""
	if ! grep -qx "$t ok" <<<"$report"; then
		why="the nested guest says: $(grep -m1 "^$t " <<<"$report" | tail -n1)"
		grep -q "^$t \(ok\|failed\)" <<<"$report" || why="no result from the nested guest"
	elif [ "$t" = tcp ]; then
		sent=$(sed -n 's/^sent \([0-9]*\) \([0-9a-f]*\) .*/\1 \2/p' <<<"$peer")
		got=$(sed -n 's/^received \([0-9]*\) \([0-9a-f]*\) .*/\1 \2/p' <<<"$peer")
		if [ "$sent" != "$size $(field rx-sha256)" ]; then
			why="download: peer sent '$sent', the guest got sha256 $(field rx-sha256)"
		elif [ "$got" != "$size $(field tx-sha256)" ]; then
			why="upload: the guest sent sha256 $(field tx-sha256), peer got '$got'"
		fi
	fi
	[ -z "$why" ] && why=$packed_why
	# QEMU must end cleanly too: a crash or a timeout while it tears the
	# device down (GET_VRING_BASE, close) fails every test of the run.
	[ -z "$why" ] && [ $rc != 0 ] && why="qemu exit $rc"
	if [ -z "$why" ]; then
		echo "nested: $t: ok"
	else
		echo "nested: $t: FAILED ($why)"
		fail=1
	fi
done
if [ $fail = 1 ]; then
	echo "  nested guest's console, last lines:"
	tail -n 30 "$log" | tr -d '\r' | sed 's/^/    /'
fi
exit $fail
