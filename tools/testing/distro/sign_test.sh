#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# scripts/sign-modules.sh signs freshly built rvhost modules for a Debian
# kernel with a throwaway key: each signed module names the certificate's
# subject as its signer and the tree's CONFIG_MODULE_SIG_HASH as its hash,
# its signature verifies with the certificate over the module as built, and
# the unsigned build shows no signer. TAP on stdout
# (tools/testing/lib/tap.sh).
#
# Usage: sign_test.sh TREE     the tree scripts/distro-kdir.sh printed

set -uo pipefail
top=$(cd "$(dirname "$0")/../../.." && pwd)
. "$top/tools/testing/lib/tap.sh"

tree=$(realpath "${1:?usage: $0 TREE}")
hash=$(sed -n 's/^CONFIG_MODULE_SIG_HASH="\(.*\)"$/\1/p' "$tree/.config")
tmp=$top/build/distro-test/sign
cn="rvhost sign test $$"
modules=(rvhost_net rvhost_vsock)
magic="~Module signature appended~"

rm -rf "$tmp"
mkdir -p "$tmp/mo" "$tmp/signed"

build() {
	make -s -C "$top" KDIR="$tree" MO="$tmp/mo" modules
}
keygen() {
	local out
	out=$(openssl req -new -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=$cn" \
		-keyout "$tmp/key.pem" -outform DER -out "$tmp/cert.der" 2>&1) || { echo "$out"; return 1; }
}
sign() {
	local m
	for m in "${modules[@]}"; do
		cp "$tmp/mo/$m.ko" "$tmp/signed/" || return
	done
	"$top/scripts/sign-modules.sh" "$tree" "$tmp/key.pem" "$tmp/cert.der" "$tmp/signed/"*.ko
}
modinfo_says() { # field want
	local m got rc=0
	for m in "${modules[@]}"; do
		got=$(modinfo -F "$1" "$tmp/signed/$m.ko") || return
		echo "$m: $1 \"$got\""
		[ "$got" = "$2" ] || { echo "$m: want \"$2\""; rc=1; }
	done
	return $rc
}
# The kernel's format (scripts/sign-file.c): the module, a detached CMS
# signature, struct module_signature (12 bytes, the signature's length big
# endian in its last 4) and the magic string with a newline.
verifies() {
	local m f size siglen
	for m in "${modules[@]}"; do
		f=$tmp/signed/$m.ko
		tail -c 28 "$f" | cmp -s - <(printf '%s\n' "$magic") || { echo "$m: no signature magic"; return 1; }
		size=$(stat -c %s "$f")
		siglen=$(tail -c 32 "$f" | head -c 4 | od -An -tu1 | awk '{ print $1 * 16777216 + $2 * 65536 + $3 * 256 + $4 }')
		head -c $((size - 40 - siglen)) "$f" >"$tmp/$m.content"
		cmp "$tmp/$m.content" "$tmp/mo/$m.ko" || { echo "$m: the signed part is not the module as built"; return 1; }
		tail -c $((siglen + 40)) "$f" | head -c "$siglen" >"$tmp/$m.p7s"
		openssl cms -verify -binary -inform DER -in "$tmp/$m.p7s" -content "$tmp/$m.content" \
			-certfile "$tmp/cert.der" -nointern -noverify -out /dev/null || return
	done
}
unsigned_has_no_signer() {
	local m got
	for m in "${modules[@]}"; do
		got=$(modinfo -F signer "$tmp/mo/$m.ko") || return
		echo "$m (unsigned): signer \"$got\""
		[ -z "$got" ] || return
	done
}
# A second signature would land after the first: refused, the module left
# as it was.
resign_refused() {
	local f=$tmp/signed/rvhost_net.ko out
	cp "$f" "$tmp/before.ko" || return
	out=$("$top/scripts/sign-modules.sh" "$tree" "$tmp/key.pem" "$tmp/cert.der" "$f" 2>&1) && return 1
	echo "$out"
	grep -q 'is signed already' <<<"$out" && cmp "$tmp/before.ko" "$f"
}

tap_plan 8
tap_case sign.build build
tap_case sign.keygen keygen
tap_case sign.sign sign
tap_case sign.signer modinfo_says signer "$cn"
tap_case sign.hashalgo modinfo_says sig_hashalgo "${hash:-(no CONFIG_MODULE_SIG_HASH)}"
tap_case sign.verifies verifies
tap_case sign.unsigned_has_no_signer unsigned_has_no_signer
tap_case sign.resign_refused resign_refused
tap_status
