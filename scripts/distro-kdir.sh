#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Make a kernel tree to build rvhost against a Debian 7.2 kernel as Debian
# ships it, in one command:
#
#   scripts/distro-kdir.sh [KERNELRELEASE]     e.g. 7.2.13+deb14-amd64
#   make KDIR=<the path it prints last>
#
# Why: out-of-tree Rust modules need the tree's Rust metadata (rust/*.rmeta),
# which no headers package carries, and a module only loads if the symbol
# names it imports carry the crate hashes of the running kernel's Rust
# crates, which depend on the exact rustc and source. So the tree is rebuilt
# as Debian built it: Debian's linux-source at the headers' version, the
# headers' .config, the toolchain that .config names (the host's when it is
# exactly that, else a Debian sid chroot), `make modules_prepare`, and the
# headers' Module.symvers and vmlinux (BTF). Before the tree is used, its Rust exports are
# compared with Debian's Module.symvers and its release with Debian's, and
# the kernel's own samples/rust/rust_minimal.rs is built against it: modpost
# must not warn and its vermagic must equal that of a module from Debian's
# linux-modules package. A kernel whose toolchain cannot be matched is
# refused with the tool, the version wanted and the version found.
#
# KERNELRELEASE defaults to the running kernel's when it is a Debian 7.2 one.
# The tree is cached as $RVHOST_CACHE/distro/<KERNELRELEASE>-<key>, the key a
# hash of the packages' sha256s and the toolchain's versions; the sid chroot
# is $RVHOST_CACHE/distro/sid-root, made once (mmdebstrap, ~2 GB). The tree's
# rvhost.mk tells the top Makefile how to build against it: kbuild's ARCH,
# CROSS_COMPILE, CC and KERNELRELEASE as Debian's headers set them and, with
# the chroot, a command that runs make in it (scripts/chroot-run.sh, copied
# into the tree). Needs root. The tree's path is printed last on stdout.

set -euo pipefail
. "$(dirname "$0")/lib.sh"

distro=$RVHOST_CACHE/distro
sidroot=$distro/sid-root
# What the sid chroot holds besides the compiler that a .config names.
# openssl: Kconfig asks it whether it can make ML-DSA keys
# (CONFIG_OPENSSL_SUPPORTS_ML_DSA), and Debian's answer was yes. rustfmt:
# bindgen formats the bindings with it, and says so when it cannot.
SID_PACKAGES=(rustc rust-src rustfmt bindgen make flex bison bc libelf-dev libssl-dev openssl python3
	cpio kmod libclang-dev clang xz-utils zstd pahole binutils)

if [ $# -gt 0 ]; then
	krel=$1
else
	krel=$(uname -r)
	[[ "$krel" == 7.2.*+deb* ]] ||
		die "the running kernel, $krel, is not a Debian 7.2 kernel: pass the KERNELRELEASE to build for (scripts/distro-kdir.sh 7.2.13+deb14-amd64)"
fi
mkdir -p "$distro/debs"

# 1. Debian's headers package: .config, Module.symvers, the release, and
# vmlinux (only its BTF, the base of the modules' own BTF). The source at
# the same version is fetched once the toolchain is known.
hpkg=linux-headers-$krel
ver=$(rvhost_apt_candidate "$hpkg")
if [ -z "$ver" ]; then
	rvhost_apt_update
	ver=$(rvhost_apt_candidate "$hpkg")
fi
[ -n "$ver" ] || die "no $hpkg in $RVHOST_SUITES: is $krel a Debian 7.2 kernel?"
hdeb=$(rvhost_apt_fetch "$hpkg" "$ver" "$distro/debs")
deb=$distro/debs/$krel-$ver
if [ ! -f "$deb/.unpacked" ]; then
	rm -rf "$deb" && mkdir -p "$deb"
	dpkg-deb --fsys-tarfile "$hdeb" | tar -x -C "$deb" --strip-components=4 \
		"./usr/src/$hpkg/.config" "./usr/src/$hpkg/.kernelvariables" \
		"./usr/src/$hpkg/Module.symvers" "./usr/src/$hpkg/include/generated/utsrelease.h" \
		"./usr/src/$hpkg/vmlinux"
	touch "$deb/.unpacked"
fi

# 2. The toolchain the .config names.
config_text() { sed -n "s/^CONFIG_$1=\"\(.*\)\"\$/\1/p" "$deb/.config"; }
want_cc=$(config_text CC_VERSION_TEXT)
want_rustc=$(config_text RUSTC_VERSION_TEXT)
want_bindgen=$(config_text BINDGEN_VERSION_TEXT)
[ -n "$want_rustc" ] || die "$krel's .config has no Rust (CONFIG_RUST)"
cc=${want_cc%% *}
cross=$(sed -n 's/^override CROSS_COMPILE = //p' "$deb/.kernelvariables")
# kbuild's settings as Debian's headers record them (ARCH, CROSS_COMPILE,
# KERNELRELEASE), and the compiler of CC_VERSION_TEXT.
mapfile -t kargs < <(sed -n 's/^override \([A-Z_]*\) = \(.*\)$/\1=\2/p' "$deb/.kernelvariables")
kargs+=("CC=$cc")
[[ " ${kargs[*]} " == *" KERNELRELEASE=$krel "* ]] ||
	die "$hpkg's .kernelvariables do not name KERNELRELEASE $krel"

# Print the compiler's, rustc's and bindgen's version as kbuild reads them.
toolchain_versions() {
	"$@" sh -c 'LC_ALL=C "$1" --version 2>/dev/null | head -n1 | tr -d "#"
		rustc --version 2>/dev/null; bindgen --version 2>/dev/null' - "$cc" || true
}
# Compare what the toolchain run by "$@" reports with what the .config names;
# with "report", each mismatch is said, naming the tool, and is fatal.
toolchain_matches() {
	local mode=$1 where=$2 tool got i=0 ok=1
	local want=("$want_cc" "$want_rustc" "$want_bindgen")
	shift 2
	mapfile -t got < <(toolchain_versions "$@")
	for tool in "$cc" rustc bindgen; do
		if [ "${got[$i]:-}" != "${want[$i]}" ]; then
			ok=0
			[ "$mode" = quiet ] ||
				say "$tool: $krel was built with \"${want[$i]}\"; $where has \"${got[$i]:-none}\""
		fi
		i=$((i + 1))
	done
	[ $ok = 1 ] || [ "$mode" = quiet ] || die "cannot provide $krel's toolchain (above)"
	[ $ok = 1 ]
}

rvhost_toolchain_env
if toolchain_matches quiet "the host" env; then
	say "the host's toolchain is $krel's"
	run=()
else
	say "the host's toolchain is not $krel's: using a Debian sid chroot"
	pkgs=("${SID_PACKAGES[@]}" "${cc#"$cross"}")
	if [ ! -x "$sidroot/usr/bin/apt-get" ]; then
		say "making a Debian sid chroot for $krel's toolchain in $sidroot (about a minute, 2 GB)"
		rm -rf "$sidroot.tmp"
		mmdebstrap --quiet --variant=apt --aptopt='Acquire::Check-Valid-Until "false"' \
			--include="$(IFS=,; echo "${pkgs[*]}")" \
			sid "$sidroot.tmp" "$RVHOST_MIRROR" >&2 || die "mmdebstrap failed"
		mv "$sidroot.tmp" "$sidroot"
	fi
	run=("$RVHOST_TOP/scripts/chroot-run.sh" "$sidroot" "$RVHOST_CACHE" --)
	# A chroot made for another release, or by an older list, may lack some.
	installed=$("${run[@]}" dpkg-query -W -f='${db:Status-Abbrev}\n' "${pkgs[@]}" 2>/dev/null | grep -c '^ii' || true)
	if [ "$installed" -ne ${#pkgs[@]} ]; then
		say "installing into the sid chroot: ${pkgs[*]}"
		"${run[@]}" sh -c 'apt-get update -q && apt-get install -y -q --no-install-recommends "$@"' - \
			"${pkgs[@]}" >&2 || say "some could not be installed"
	fi
	toolchain_matches report "the sid chroot ($sidroot)" "${run[@]}"
fi

src=$(rvhost_kernel_source "$ver")
key=$({
	echo "$krel"
	rvhost_apt_field "$hpkg" "$ver" SHA256
	rvhost_apt_field "$RVHOST_KPKG" "$ver" SHA256
	toolchain_versions "${run[@]}" env
	[ ${#run[@]} -eq 0 ] || "${run[@]}" dpkg-query -W "${pkgs[@]}"
} | sha256sum | cut -c1-12)
tree=$distro/$krel-$key
if [ -f "$tree/.rvhost-built" ]; then
	echo "$tree"
	exit 0
fi

# 3. The tree: Debian's .config unchanged, the Rust metadata, Debian's
# Module.symvers and BTF.
log=$tree.log
mk=("${run[@]}" make -C "$src" O="$tree" "${kargs[@]}")
say "building $krel's tree in $tree (1-2 min; log: $log)"
rm -rf "$tree" && mkdir -p "$tree"
cp "$deb/.config" "$tree/.config"
"${mk[@]}" olddefconfig >"$log" 2>&1 || die "olddefconfig failed; see $log"
cmp -s "$deb/.config" "$tree/.config" ||
	die "olddefconfig changed $krel's .config (diff $deb/.config $tree/.config): not the source or toolchain Debian built it with"
"${mk[@]}" -j"$RVHOST_JOBS" modules_prepare >>"$log" 2>&1 || {
	tail -n 30 "$log" >&2
	die "modules_prepare failed; see $log"
}
cp "$deb/Module.symvers" "$deb/vmlinux" "$tree/"

# 4. Before any module is built: the release, and the Rust crates' hashes
# (the names of their exports, which modules import).
for f in "$tree" "$deb"; do
	f=$f/include/generated/utsrelease.h
	[ "$(cat "$f")" = "#define UTS_RELEASE \"$krel\"" ] ||
		die "$f: $(cat "$f"), not $krel"
done
sort -u "$tree"/rust/exports_*_generated.h | sed -n 's/^EXPORT_SYMBOL_RUST_GPL(\(_R.*\));$/\1/p' >"$tree/rvhost-rust-exports"
awk '$3 == "vmlinux" && $2 ~ /^_R/ { print $2 }' "$deb/Module.symvers" | sort -u >"$tree/rvhost-debian-rust-exports"
if ! cmp -s "$tree/rvhost-rust-exports" "$tree/rvhost-debian-rust-exports"; then
	diff "$tree/rvhost-rust-exports" "$tree/rvhost-debian-rust-exports" | head -n 6 >&2
	die "the Rust exports of $tree ($(wc -l <"$tree/rvhost-rust-exports")) differ from Debian's ($(wc -l <"$tree/rvhost-debian-rust-exports")): other crate hashes, so modules would not load"
fi
say "$(wc -l <"$tree/rvhost-rust-exports") Rust exports, all Debian's"

# The tree carries its own copy of chroot-run.sh: it serves every checkout.
printf 'RVHOST_KMAKE_ARGS += %s\n' "${kargs[@]}" >"$tree/rvhost.mk"
if [ ${#run[@]} -gt 0 ]; then
	cp "$RVHOST_TOP/scripts/chroot-run.sh" "$tree/rvhost-chroot"
	echo "RVHOST_KMAKE_PREFIX := $tree/rvhost-chroot $sidroot $RVHOST_CACHE --" >>"$tree/rvhost.mk"
fi

# The self-check: the kernel's minimal Rust sample against the tree, as
# rvhost's Makefile builds a module (modpost quiet), then vermagic against
# a module of Debian's own build of the release.
mpkg=linux-modules-$krel
if [ ! -f "$deb/vhost_net.ko.xz" ]; then
	mdeb=$(rvhost_apt_fetch "$mpkg" "$ver" "$distro/debs")
	dpkg-deb --fsys-tarfile "$mdeb" | tar -xO --wildcards '*/drivers/vhost/vhost_net.ko.xz' >"$deb/vhost_net.ko.xz.tmp"
	mv "$deb/vhost_net.ko.xz.tmp" "$deb/vhost_net.ko.xz"
	rm -f "$mdeb"
fi
check=$tree/rvhost-check
mkdir -p "$check"
cp "$src/samples/rust/rust_minimal.rs" "$check/"
echo 'obj-m := rust_minimal.o' >"$check/Kbuild"
"${run[@]}" make -C "$tree" M="$check" "${kargs[@]}" modules >"$check/build.log" 2>&1 || {
	tail -n 30 "$check/build.log" >&2
	die "the kernel's rust_minimal sample does not build against $tree; see $check/build.log"
}
! grep -i 'warning' "$check/build.log" >&2 ||
	die "building a module against $tree warns (above; $check/build.log)"
want=$(modinfo -F vermagic "$deb/vhost_net.ko.xz")
got=$(modinfo -F vermagic "$check/rust_minimal.ko")
[ "$want" = "$got" ] ||
	die "a module built against $tree has vermagic \"$got\", Debian's $mpkg \"$want\""
say "a module built against it has Debian's vermagic: $got"

touch "$tree/.rvhost-built"
say "$krel's tree is ready; build with: make KDIR=$tree"
echo "$tree"
