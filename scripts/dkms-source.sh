#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Make a DKMS source tree of this checkout, so that DKMS rebuilds rvhost's
# modules for each Debian 7.2 kernel the machine installs:
#
#   sudo scripts/dkms-source.sh            # makes /usr/src/rvhost-VERSION
#   sudo dkms install rvhost/VERSION       # builds and installs for the running kernel
#
# SOURCETREE (default /usr/src, DKMS's) gets rvhost-VERSION: the files the
# modules' build needs (Kbuild, Makefile, drivers/, include/, rust/,
# scripts/) as the checkout has them, and a dkms.conf written here. The
# dkms.conf is generated, not committed: the top of the repository holds
# only Kbuild and Makefile besides its directories, and DKMS wants the
# version as a literal, which comes from git. The directory is printed.
#
# rvhost has no release yet, so the version is a snapshot's, in Debian's
# way: 0.0~git<commit date>.<commit>, or $RVHOST_DKMS_VERSION if set (a
# tarball without git must set it).
#
# DKMS builds with `make dkms` (see the Makefile): against the tree
# scripts/distro-kdir.sh makes for the kernel, since the headers package in
# /lib/modules/<kernel>/build cannot build Rust modules. The first build for
# a kernel release downloads Debian's kernel source and headers (and, once,
# a sid chroot: about 2 GB) and takes minutes; later ones take seconds.

set -euo pipefail
. "$(dirname "$0")/lib.sh"

srctree=${1:-/usr/src}
ver=${RVHOST_DKMS_VERSION:-$(git -C "$RVHOST_TOP" log -1 --date=format:%Y%m%d \
	--format='0.0~git%cd.%h' 2>/dev/null || true)}
[ -n "$ver" ] || die "$RVHOST_TOP is not a git checkout: set RVHOST_DKMS_VERSION"
dst=$srctree/rvhost-$ver

rm -rf "$dst" && mkdir -p "$dst"
# The checkout's files as they are, committed or not, without what git
# ignores (build/).
(cd "$RVHOST_TOP" && git ls-files -z --cached --others --exclude-standard -- \
	Kbuild Makefile drivers include rust scripts | xargs -0 cp --parents -t "$dst")

cat >"$dst/dkms.conf" <<EOF
# Written by scripts/dkms-source.sh.
PACKAGE_NAME="rvhost"
PACKAGE_VERSION="$ver"
BUILT_MODULE_NAME[0]="rvhost_net"
BUILT_MODULE_LOCATION[0]="build/dkms/"
DEST_MODULE_LOCATION[0]="/updates/dkms"
BUILT_MODULE_NAME[1]="rvhost_vsock"
BUILT_MODULE_LOCATION[1]="build/dkms/"
DEST_MODULE_LOCATION[1]="/updates/dkms"
# dkms runs it as "make -jN KERNELRELEASE=<kernel> dkms".
MAKE[0]="make dkms"
CLEAN="make clean"
# Linux 7.2 only; other kernels are skipped, not failed.
BUILD_EXCLUSIVE_KERNEL="^7\\.2\\."
AUTOINSTALL="yes"
EOF
say "DKMS source tree for rvhost $ver: $dst"
echo "$dst"
