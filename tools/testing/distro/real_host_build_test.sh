#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The build of README.md's "On a real host", on this machine: the block
# marked <!-- real-host:build --> runs as the README has it, as root in the
# checkout, with a `uname -r` that says $RVHOST_DISTRO_KREL (Debian's
# 7.2.13+deb14-amd64; this machine runs another kernel, and the block
# builds for the running one). It must make the tree distro-kdir.sh makes
# for that release, and rvhost_net.ko and rvhost_vsock.ko where the
# README's install block takes them, with Debian's vermagic and the C
# drivers' aliases (which the README's blacklist is about). Those modules
# are what real_host_test.sh installs in a VM of that kernel, so run this
# first. TAP on stdout (tools/testing/lib/tap.sh).
#
# Usage: real_host_build_test.sh     ($RVHOST_README: another README)

set -uo pipefail
top=$(cd "$(dirname "$0")/../../.." && pwd)
. "$top/scripts/lib.sh"
. "$top/tools/testing/lib/tap.sh"
. "$top/tools/testing/lib/readme.sh"

readme=${RVHOST_README:-$top/README.md}
krel=$RVHOST_DISTRO_KREL
tmp=$top/build/distro-test/real-host-build
rm -rf "$tmp"
mkdir -p "$tmp/bin"
cat >"$tmp/bin/uname" <<EOF
#!/bin/sh
# The kernel the README's build block is tried for.
[ "\$*" = -r ] && { echo $krel; exit 0; }
exec /bin/uname "\$@"
EOF
chmod +x "$tmp/bin/uname"

# The block in a shell of its own, as a user would type it (no make of
# ours around it); the tree it names is kept for the next cases.
build() {
	local block rc=0
	block=$(readme_block "$readme" real-host:build) ||
		{ echo "$readme has no block real-host:build"; return 1; }
	printf '%s\n' "$block"
	(cd "$top" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL PATH="$tmp/bin:$PATH" \
		bash -ec "$block"$'\n''printf "%s\n" "$tree" >"$1"' - "$tmp/tree") \
		>"$tmp/build.log" 2>&1 || rc=$?
	[ $rc = 0 ] || { tail -n 40 "$tmp/build.log"; echo "exit $rc"; }
	return $rc
}
# The tree distro-kdir.sh makes for the release (warm now: the block just
# made it).
tree_is_release() {
	local got want
	got=$(cat "$tmp/tree") || return
	want=$("$top/scripts/distro-kdir.sh" "$krel" 2>/dev/null | tail -n 1)
	echo "tree: $got"
	[ "$got" = "$want" ] || { echo "distro-kdir.sh $krel: $want"; return 1; }
	[ "$(cat "$got/include/config/kernel.release")" = "$krel" ]
}
# Both modules where the install block takes them (build/modules/${tree##*/}/),
# with the vermagic of Debian's own modules (distro-kdir.sh checked its
# rust_minimal.ko against them) and the C drivers' aliases.
modules() {
	local tree dir m vermagic rc=0
	tree=$(cat "$tmp/tree") || return
	dir=$top/build/modules/${tree##*/}
	vermagic=$(modinfo -F vermagic "$tree/rvhost-check/rust_minimal.ko") || return
	for m in rvhost_net:char-major-10-238:devname:vhost-net \
		rvhost_vsock:char-major-10-241:devname:vhost-vsock; do
		local name=${m%%:*} aliases=${m#*:}
		local ko=$dir/$name.ko
		[ -f "$ko" ] || { echo "no $ko"; rc=1; continue; }
		echo "$ko: vermagic \"$(modinfo -F vermagic "$ko")\", alias $(modinfo -F alias "$ko" | paste -sd' ')"
		[ "$(modinfo -F vermagic "$ko")" = "$vermagic" ] || { echo "want vermagic \"$vermagic\""; rc=1; }
		[ "$(modinfo -F alias "$ko" | sort | paste -sd:)" = "$aliases" ] ||
			{ echo "want aliases ${aliases/:devname/ devname}"; rc=1; }
	done
	return $rc
}

tap_plan 3
tap_case real_host_build.block build
tap_case real_host_build.tree tree_is_release
tap_case real_host_build.modules modules
tap_status
