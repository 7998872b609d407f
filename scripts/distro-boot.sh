#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# What `scripts/vm-run.sh --kernel distro` boots: a Debian 7.2 kernel as
# Debian ships it, with an initramfs that reaches the runner's 9p root.
#
#   scripts/distro-boot.sh [KERNELRELEASE]     default $RVHOST_DISTRO_KREL
#
# Debian's kernel has as modules what the test kernels build in: 9p and its
# virtio transport (the root), tun, tap, macvlan, macvtap, veth, bridge,
# vsock and its transports. Out of linux-binary-<release> (vmlinuz) and
# linux-modules-<release> (.ko.xz, without modules.dep) this makes, in
# $RVHOST_CACHE/distro/boot-<release>-<key> (the key hashes both packages'
# sha256s, busybox, this script and the initramfs's init):
#
#   vmlinuz         Debian's kernel image;
#   modroot/        lib/modules/<release>/ with the modules above, the C vhost
#                   modules, overlay and every module they depend on,
#                   decompressed, and depmod's files: `modprobe -d` takes
#                   them in the VM (scripts/vm/modules.sh) and busybox
#                   insmod in the initramfs;
#   initramfs.cpio  busybox-static, scripts/vm/distro-init.sh as /init and
#                   the modules that stand for the test kernels' built-in
#                   ones, which it loads in dependency order
#                   (/lib/modules/load) before it mounts the root.
#
# The directory is printed last on stdout.

set -euo pipefail
. "$(dirname "$0")/lib.sh"

krel=${1:-$RVHOST_DISTRO_KREL}
distro=$RVHOST_CACHE/distro
# Loaded by the initramfs, in this order (each after its dependencies):
# the root file system, then what the test kernels have built in
# (scripts/kernel/rvhost.config).
BOOT_MODULES=(9pnet_virtio 9p tun tap macvlan macvtap veth bridge vsock vsock_loopback
	vmw_vsock_virtio_transport virtio_rng)
# In the module tree only: the C oracle, which tests load and unload, and
# overlay, for tools/testing/distro/real_host_test.sh's writable /etc and
# /usr/lib over the read-only root.
TREE_MODULES=(vhost_net vhost_vsock overlay)

bpkg=linux-binary-$krel mpkg=linux-modules-$krel
ver=$(rvhost_apt_candidate "$mpkg")
if [ -z "$ver" ]; then
	rvhost_apt_update
	ver=$(rvhost_apt_candidate "$mpkg")
fi
[ -n "$ver" ] || die "no $mpkg in $RVHOST_SUITES: is $krel a Debian 7.2 kernel?"
init=$RVHOST_TOP/scripts/vm/distro-init.sh
key=$({
	echo "$krel"
	rvhost_apt_field "$bpkg" "$ver" SHA256
	rvhost_apt_field "$mpkg" "$ver" SHA256
	sha256sum /bin/busybox "$0" "$init" | cut -d' ' -f1
} | sha256sum | cut -c1-12)
boot=$distro/boot-$krel-$key
if [ -f "$boot/.rvhost-built" ]; then
	echo "$boot"
	exit 0
fi

say "making $krel's kernel, modules and initramfs in $boot"
rm -rf "$boot" && mkdir -p "$boot"
bdeb=$(rvhost_apt_fetch "$bpkg" "$ver" "$distro/debs")
mdeb=$(rvhost_apt_fetch "$mpkg" "$ver" "$distro/debs")
dpkg-deb --fsys-tarfile "$bdeb" | tar -xO "./usr/lib/modules/$krel/vmlinuz" >"$boot/vmlinuz"

# depmod of a module tree; the package has no modules.order, modules.builtin
# or modules.builtin.modinfo, which depmod only warns about.
depmod_tree() {
	{ depmod -b "$1" "$krel" 2>&1 >&3 | { grep -v 'could not open modules\.\(order\|builtin\)' || true; } >&2; } 3>&1
}

# Every module of the package, for depmod to see the dependencies.
all=$boot/all
mkdir -p "$all/lib"
dpkg-deb --fsys-tarfile "$mdeb" | tar -x -C "$all/lib" --strip-components=3 "./usr/lib/modules/$krel"
depmod_tree "$all"

# modules.dep lists each module's dependencies, all of them, by path.
declare -A path deps done_
while IFS=: read -r m d; do
	n=${m##*/}
	n=${n%%.ko*}
	n=${n//-/_}
	path[$n]=$m
	deps[$n]=$d
done <"$all/lib/modules/$krel/modules.dep"
order=()
# Append module $1 to order after the modules it depends on.
visit() {
	local n=$1 d
	[ -z "${done_[$n]:-}" ] || return 0
	[ -n "${path[$n]:-}" ] || die "$mpkg has no module $n"
	done_[$n]=1
	for d in ${deps[$n]}; do
		d=${d##*/}
		d=${d%%.ko*}
		visit "${d//-/_}"
	done
	order+=("$n")
}
for n in "${BOOT_MODULES[@]}"; do visit "$n"; done
nboot=${#order[@]}
for n in "${TREE_MODULES[@]}"; do visit "$n"; done

mods=$boot/modroot/lib/modules/$krel
for n in "${order[@]}"; do
	m=${path[$n]%.xz}
	mkdir -p "$mods/$(dirname "$m")"
	xz -dc "$all/lib/modules/$krel/${path[$n]}" >"$mods/$m"
done
rm -rf "$all"
rm -f "$bdeb" "$mdeb"
depmod_tree "$boot/modroot"
printf '%s\n' "${order[@]:0:nboot}" >"$boot/load"
spec=("dir /lib/modules 0755 0 0" "file /lib/modules/load $boot/load 0644 0 0"
	"dir /root 0755 0 0" "file /init $init 0755 0 0")
for n in "${order[@]:0:nboot}"; do
	spec+=("file /lib/modules/$n.ko $mods/${path[$n]%.xz} 0644 0 0")
done
printf '%s\n' "${spec[@]}" | rvhost_initramfs "$boot/initramfs.cpio"

say "$krel: initramfs with ${order[*]:0:nboot}; module tree with ${order[*]:nboot}"
touch "$boot/.rvhost-built"
echo "$boot"
