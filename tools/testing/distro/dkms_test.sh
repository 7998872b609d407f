#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# DKMS builds, installs and removes rvhost for a Debian kernel, as on a
# distribution user's machine when a kernel is installed, but in trees of
# its own under build/ (dkms's --dkmstree, --sourcetree, --installtree): the
# machine's /var/lib/dkms, /usr/src and /lib/modules are not written, and a
# case checks that. TAP on stdout (tools/testing/lib/tap.sh).
#
# Usage: dkms_test.sh TREE     the tree scripts/distro-kdir.sh printed
#
# The kernel need not be installed here: dkms gets --kernelsourcedir (it
# only checks that the directory has include/; `make dkms` builds against
# distro-kdir.sh's tree whatever it is), an install tree holding a
# directory for the release (dkms refuses to install into a kernel it does
# not find), and --no-depmod (dkms's depmod would work on /lib/modules;
# depmod -b on the test's own tree stands in for it). DKMS signs only when
# it finds Debian's sign-file (/usr/lib/linux-kbuild-7.2/scripts/), which a
# machine without that kernel's headers lacks.

set -uo pipefail
top=$(cd "$(dirname "$0")/../../.." && pwd)
. "$top/tools/testing/lib/tap.sh"

tree=$(realpath "${1:?usage: $0 TREE}")
kver=$(cat "$tree/include/config/kernel.release")
arch=$(uname -m)
# distro-kdir.sh made sure that a module built against the tree has the
# vermagic of Debian's own modules of the release.
want=$(modinfo -F vermagic "$tree/rvhost-check/rust_minimal.ko")
tmp=$top/build/distro-test/dkms
root=$tmp/root
dkms_opts=(--dkmstree "$tmp/var/lib/dkms" --sourcetree "$tmp/usr/src"
	--installtree "$root/lib/modules" --no-depmod)
modules=(rvhost_net rvhost_vsock)
host_dirs=(/var/lib/dkms /usr/src /lib/modules)

# What the machine's directories hold; one that does not exist lists
# nothing, and appears if something makes it.
host_state() {
	{ find "${host_dirs[@]}" -printf '%p %y %s %T@\n' 2>/dev/null || true; } | sort
}

rm -rf "$tmp"
mkdir -p "$tmp/var/lib/dkms" "$tmp/usr/src" "$root/lib/modules/$kver"
host_state >"$tmp/host-before"
src=$("$top/scripts/dkms-source.sh" "$tmp/usr/src" 2>/dev/null)
ver=${src##*/rvhost-}

added() {
	dkms add "rvhost/$ver" "${dkms_opts[@]}" &&
		[ -L "$tmp/var/lib/dkms/rvhost/$ver/source" ]
}
built() {
	local log
	if ! dkms build "rvhost/$ver" -k "$kver/$arch" --kernelsourcedir "$tree" "${dkms_opts[@]}"; then
		for log in "$tmp/var/lib/dkms/rvhost/$ver/build/make.log"; do
			[ -f "$log" ] && tail -n 40 "$log"
		done
		return 1
	fi
}
installed() {
	local m
	dkms install "rvhost/$ver" -k "$kver/$arch" --kernelsourcedir "$tree" "${dkms_opts[@]}" || return
	for m in "${modules[@]}"; do
		ls -l "$root/lib/modules/$kver/updates/dkms/$m.ko" || return
	done
}
# What a machine running the kernel would load: Debian's vermagic.
vermagic() {
	local m got rc=0
	for m in "${modules[@]}"; do
		got=$(modinfo -F vermagic "$root/lib/modules/$kver/updates/dkms/$m.ko") || return
		echo "$m: \"$got\""
		[ "$got" = "$want" ] || { echo "$m: want \"$want\""; rc=1; }
	done
	return $rc
}
status_installed() {
	local out
	out=$(dkms status rvhost "${dkms_opts[@]}") || return
	echo "$out"
	[ "$out" = "rvhost/$ver, $kver, $arch: installed" ]
}
# depmod over the install tree, as dkms does over /lib/modules: both
# modules in modules.dep, where Debian's depmod.d looks first (updates/).
depmod_finds() {
	local m
	depmod -b "$root" "$kver" || return
	for m in "${modules[@]}"; do
		grep "^updates/dkms/$m.ko:" "$root/lib/modules/$kver/modules.dep" || return
	done
}
removed() {
	local left
	dkms remove "rvhost/$ver" --all "${dkms_opts[@]}" || return
	rm -f "$root/lib/modules/$kver"/modules.*
	left=$(find "$tmp/var/lib/dkms" "$root" -mindepth 1 ! -type d)
	[ -z "$left" ] || { echo "left behind: $left"; return 1; }
	[ ! -e "$tmp/var/lib/dkms/rvhost" ] || { echo "left behind: $tmp/var/lib/dkms/rvhost"; return 1; }
}
host_untouched() {
	host_state | diff "$tmp/host-before" -
}

tap_plan 8
tap_case dkms.add added
tap_case dkms.build built
tap_case dkms.install installed
tap_case dkms.vermagic vermagic
tap_case dkms.status status_installed
tap_case dkms.depmod depmod_finds
tap_case dkms.remove removed
tap_case dkms.host_untouched host_untouched
tap_status
