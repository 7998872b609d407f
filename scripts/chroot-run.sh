#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Run a command inside a chroot, with the host's directories it works on
# visible at the same paths. scripts/distro-kdir.sh uses it to run a
# distribution's kernel toolchain (a Debian sid chroot: its compilers need
# sid's libc), and copies it into the kernel tree it makes, where the tree's
# rvhost.mk puts it in front of the top Makefile's `make -C $KDIR`.
#
# Usage: chroot-run.sh ROOT DIR... -- COMMAND [ARG...]
#
# Visible inside: each DIR, the current directory (where the command
# starts), and every existing directory that an argument names as /path
# or VAR=/path (make's -C, kbuild's M= and MO=). The mounts live in a mount
# namespace of the command's own, so nothing is left mounted when it ends.
# Needs root (mount namespaces, chroot). The host's toolchain settings
# (LIBCLANG_PATH, rustup's) are not passed in.

set -euo pipefail

if [ -z "${RVHOST_CHROOT_NS:-}" ]; then
	RVHOST_CHROOT_NS=1 exec unshare --mount --propagation private "$0" "$@"
fi

root=$1
shift
dirs=("$PWD")
while [ $# -gt 0 ] && [ "$1" != -- ]; do
	dirs+=("$1")
	shift
done
[ $# -gt 1 ] || { echo "usage: $0 ROOT DIR... -- COMMAND [ARG...]" >&2; exit 2; }
shift
for a in "$@"; do
	a=${a#*=}
	case "$a" in /*) [ -d "$a" ] && dirs+=("$a") ;; esac
done

mount --rbind /dev "$root/dev"
mount -t proc proc "$root/proc"
mount --rbind /sys "$root/sys"
for d in "${dirs[@]}"; do
	[ "$d" != / ] || continue # the host's / over the chroot's would undo it
	mkdir -p "$root$d"
	mount --bind "$d" "$root$d"
done

unset LIBCLANG_PATH RUSTUP_HOME RUSTUP_TOOLCHAIN CARGO_HOME
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# shellcheck disable=SC2016
exec chroot "$root" /bin/sh -c 'cd "$1" && shift && exec "$@"' - "$PWD" "$@"
