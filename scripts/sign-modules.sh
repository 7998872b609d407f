#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Sign rvhost's modules for a kernel that checks module signatures (Secure
# Boot: a lockdown kernel loads only signed modules; Debian's kernels have
# CONFIG_MODULE_SIG), with a key of the user's own, enrolled as a MOK
# (Documentation/architecture.rst, "Signing the modules").
#
#   scripts/sign-modules.sh KDIR KEY CERT MODULE...
#
# KDIR is the tree the modules were built against (the one
# scripts/distro-kdir.sh prints, or any built tree): its scripts/sign-file
# (made by `make modules_prepare`) signs, with the hash its .config names
# (CONFIG_MODULE_SIG_HASH), and with the tree's toolchain chroot when its
# rvhost.mk has one (sign-file is linked against that chroot's libraries).
# KEY is the private key (PEM, or a "pkcs11:" URI), CERT its X.509
# certificate (DER or PEM). Each MODULE (an uncompressed .ko) is signed in
# place; one that is signed already is refused, since a second signature
# would be appended after the first.

set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ $# -ge 4 ] || die "usage: $0 KDIR KEY CERT MODULE..."
kdir=$(realpath "$1")
key=$2
cert=$(realpath "$3")
shift 3

sign_file=$kdir/scripts/sign-file
[ -x "$sign_file" ] ||
	die "$kdir has no scripts/sign-file: it is made by 'make modules_prepare' in a tree with CONFIG_MODULE_SIG"
hash=$(sed -n 's/^CONFIG_MODULE_SIG_HASH="\(.*\)"$/\1/p' "$kdir/.config")
[ -n "$hash" ] || die "$kdir/.config has no CONFIG_MODULE_SIG_HASH: its kernel does not check module signatures"
[[ "$key" == pkcs11:* ]] || key=$(realpath "$key")
[ -f "$cert" ] || die "$cert: no such certificate"

# Every file is named by its absolute path, and a chroot sees the
# directories that hold them.
modules=() dirs=("$(dirname "$cert")")
[[ "$key" == pkcs11:* ]] || dirs+=("$(dirname "$key")")
for m in "$@"; do
	[[ "$m" == *.ko ]] || die "$m: not an uncompressed module (.ko)"
	m=$(realpath "$m")
	! tail -c 28 "$m" | cmp -s - <(printf '~Module signature appended~\n') ||
		die "$m is signed already"
	modules+=("$m")
	dirs+=("$(dirname "$m")")
done

# RVHOST_KMAKE_PREFIX is "CHROOT-RUN ROOT DIR... --" (scripts/chroot-run.sh);
# the files' directories go before its "--".
run=()
prefix=$(sed -n 's/^RVHOST_KMAKE_PREFIX := //p' "$kdir/rvhost.mk" 2>/dev/null || true)
if [ -n "$prefix" ]; then
	read -ra run <<<"$prefix"
	[ "${run[-1]}" = -- ] || die "$kdir/rvhost.mk: RVHOST_KMAKE_PREFIX does not end in --: $prefix"
	run=("${run[@]:0:${#run[@]}-1}" "${dirs[@]}" --)
fi

for m in "${modules[@]}"; do
	"${run[@]}" "$sign_file" "$hash" "$key" "$cert" "$m" ||
		die "sign-file could not sign $m"
	say "signed $m ($hash)"
done
