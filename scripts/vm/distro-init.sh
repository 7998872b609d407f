#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0
#
# /init of the initramfs that scripts/distro-boot.sh makes for a
# distribution's kernel: load the modules that the test kernels have built
# in (/lib/modules/load, each after its dependencies), then do what those
# kernels do without an initramfs: mount the root the command line names
# (root=, rootfstype=, rootflags=, as scripts/vm-run.sh passes them) and run
# its init= there. A step that fails says so on the console and powers the
# guest off, so scripts/vm-run.sh reports it at once.

/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

fail() {
	echo "rvhost-initramfs: $*; powering off" >/dev/console
	poweroff -f
}

for m in $(cat /lib/modules/load); do
	insmod "/lib/modules/$m.ko" || fail "insmod $m failed"
done

root="" fstype="" flags="" init=""
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	root=*) root=${arg#*=} ;;
	rootfstype=*) fstype=${arg#*=} ;;
	rootflags=*) flags=${arg#*=} ;;
	init=*) init=${arg#*=} ;;
	esac
done
[ -n "$root" ] && [ -n "$fstype" ] && [ -n "$init" ] ||
	fail "the command line names no root=, rootfstype= or init="
mount -t "$fstype" -o "$flags" "$root" /root || fail "mounting $root ($fstype) failed"
[ -x "/root$init" ] || fail "no $init in $root"

# The new init mounts its own.
umount /proc /sys /dev
exec switch_root /root "$init"
