#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# In the test VM: start a nested guest (QEMU TCG inside the VM) whose
# virtio-net is backed by whichever /dev/vhost-net is loaded, through
# `-netdev tap,vhost=on,vhostfd=N`, and optionally a vhost-vsock-pci device.
# The nested guest runs a test from its initramfs and reports on its console.
#
# Usage: scripts/vm/nested.sh [--vsock CID] TEST
#   TEST: ping   the nested guest pings this VM's tap address
#
# The tap network (10.23.0.0/24) exists only inside this VM.

set -eu
: "${RVHOST_KDIR:?run me inside scripts/vm-run.sh}"

cid=""
if [ "${1:-}" = --vsock ]; then
	cid=$2
	shift 2
fi
test=${1:?usage: $0 [--vsock CID] TEST}
initrd=$RVHOST_TOP/build/nested/initramfs.cpio
[ -f "$initrd" ] || { echo "no $initrd: run scripts/mkinitramfs.sh" >&2; exit 2; }
log=/tmp/nested-console.log
# A result left by an earlier nested guest must not count for this one.
rm -f "$log"

ip tuntap add dev rvtap0 mode tap
ip addr add 10.23.0.1/24 dev rvtap0
ip link set rvtap0 up

# QEMU gets /dev/vhost-net as an inherited fd, as libvirt hands it over.
exec 3<>/dev/vhost-net
args=(-cpu max -m 256 -smp 1 -nographic -no-reboot -monitor none
	-serial "file:$log"
	-kernel "$RVHOST_KDIR/arch/x86/boot/bzImage" -initrd "$initrd"
	-append "console=ttyS0 panic=-1 rvhost.test=$test rvhost.addr=10.23.0.2/24 rvhost.peer=10.23.0.1"
	-netdev "tap,id=n0,ifname=rvtap0,script=no,downscript=no,vhost=on,vhostfd=3"
	-device virtio-net-pci,netdev=n0)
[ -n "$cid" ] && args+=(-device "vhost-vsock-pci,guest-cid=$cid")

start=$(date +%s)
rc=0
timeout 300 qemu-system-x86_64 "${args[@]}" </dev/null || rc=$?
exec 3>&-
echo "nested guest ran $(($(date +%s) - start)) s (qemu exit $rc)"
result=$(tr -d '\r' <"$log" | grep -a '^RVHOST-NESTED:' || true)
echo "${result:-no result from the nested guest}"
if [ "$result" != "RVHOST-NESTED: $test ok" ]; then
	tail -n 30 "$log"
	exit 1
fi
