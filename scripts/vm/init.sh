#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# PID 1 of the test VM (scripts/vm-run.sh): make the read-only 9p root
# usable, run the command the host left in /tmp/rvout/cmd, record its status
# and the kernel log there, and power off.

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/tmp TERM=dumb LANG=C.UTF-8

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
# scripts/vm-run.sh waits for this line on the console to know the boot is
# done.
echo "rvhost-vm: init started" >/dev/kmsg
mkdir -p /dev/pts /dev/shm
# What udev makes on a real system; bash's process substitution needs it.
ln -sf /proc/self/fd /dev/fd
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /run
# The host's /tmp stays reachable under /run: the repository or the cache
# may live there, and the guest's own /tmp hides it.
mkdir -p /run/host-tmp
mount --bind /tmp /run/host-tmp
mount -t tmpfs tmpfs /tmp
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mkdir -p /tmp/rvout
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 rvout /tmp/rvout
# Programs that want a writable /var/tmp get /tmp (HOME is /tmp too).
mount --bind /tmp /var/tmp 2>/dev/null
ip link set lo up 2>/dev/null
hostname rvhost-vm

finish() {
	echo "$1" >/tmp/rvout/status.tmp
	dmesg >/tmp/rvout/dmesg 2>/dev/null
	mv /tmp/rvout/status.tmp /tmp/rvout/status
	sync
	umount /tmp/rvout 2>/dev/null
	echo o >/proc/sysrq-trigger
	sleep 10
}

top=$(sed -n 's/^export RVHOST_TOP=//p' /tmp/rvout/cmd)
cache=$(sed -n 's/^export RVHOST_CACHE=//p' /tmp/rvout/cmd)
for p in "$top" "$cache"; do
	case "$p" in
	/tmp/?*)
		mkdir -p "$p"
		mount --bind "/run/host-tmp/${p#/tmp/}" "$p"
		;;
	esac
done
cd "$top" || finish 126
bash /tmp/rvout/cmd >/tmp/rvout/output.log 2>&1 </dev/null
finish $?
