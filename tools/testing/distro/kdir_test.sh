#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# scripts/distro-kdir.sh refuses a Debian kernel whose toolchain it cannot
# provide, before any tree or module is made, and says which tool differs:
# Debian's 7.2.12+deb13-amd64 (trixie's) was built with gcc-14 14.2,
# rustc 1.85.1 and bindgen 0.71.1, which neither this machine nor a sid
# chroot has. A module built with another rustc would not load (Rust
# metadata is not stable across compilers): the refusal is the point.
# TAP on stdout (tools/testing/lib/tap.sh).
#
# Usage: kdir_test.sh [KERNELRELEASE]     default 7.2.12+deb13-amd64

set -uo pipefail
top=$(cd "$(dirname "$0")/../../.." && pwd)
. "$top/tools/testing/lib/tap.sh"
. "$top/scripts/lib.sh"

krel=${1:-7.2.12+deb13-amd64}

refused() {
	local out rc=0 tool trees
	out=$("$top/scripts/distro-kdir.sh" "$krel" 2>&1) || rc=$?
	grep -v '^\(Get\|Preparing\|Unpacking\|Setting up\|Selecting\|(Reading\)' <<<"$out" | tail -n 8
	[ "$rc" != 0 ] || { echo "distro-kdir.sh $krel exited 0"; return 1; }
	grep -q "error: cannot provide $krel's toolchain" <<<"$out" ||
		{ echo "no \"cannot provide $krel's toolchain\" error"; return 1; }
	# Each tool that differs is named, with what the kernel was built with
	# and what is there.
	for tool in gcc rustc bindgen; do
		grep -q "^.*$tool[^:]*: $krel was built with \".*\"; .* has \".*\"$" <<<"$out" ||
			{ echo "$tool: not named with both versions"; return 1; }
	done
	trees=$(find "$RVHOST_CACHE/distro" -maxdepth 1 -name "$krel-*" -type d 2>/dev/null)
	[ -z "$trees" ] || { echo "a tree was made: $trees"; return 1; }
}

tap_plan 1
tap_case kdir.refuses_unmatched_toolchain refused
tap_status
