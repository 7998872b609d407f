#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# In the test VM: QEMU end to end through whichever /dev/vhost-net is loaded
# (scripts/vm/nested.sh), as TAP (one section, tools/testing/lib/tap.sh):
#   nested.ping         the nested guest pings this VM
#   nested.tcp          16 MiB of pseudo-random data each way over TCP, the
#                       sha256 of each direction the same on both ends
#   nested.packed_tcp   the same with packed=on on the virtio-net-pci device,
#                       and VIRTIO_F_RING_PACKED negotiated (--packed only)
# ping and tcp share one boot of the nested guest; packed_tcp has its own.
#
# Usage: nested_test.sh [--packed]
#   --packed   also run nested.packed_tcp. The C vhost_net does not offer
#              VIRTIO_F_RING_PACKED, so QEMU masks it and the case fails
#              there by design: it is for rvhost only.

set -u
packed=0
[ "${1:-}" = --packed ] && packed=1
cases=(ping tcp)
[ $packed = 1 ] && cases+=(packed_tcp)

echo "1..${#cases[@]}"
n=0 rc=0
out="" secs=0 nrc=0
run() { # nested.sh arguments; its output stays in $out, its time in $secs
	local t0=$SECONDS
	nrc=0
	out=$(scripts/vm/nested.sh "$@" 2>&1) || nrc=$?
	secs=$((SECONDS - t0))
	sed 's/^/# /' <<<"$out"
	echo "# nested.sh $*: $secs s, exit $nrc"
}
report() { # case name, the test's name in nested.sh's last run
	local line
	line=$(grep -m1 "^nested: $2: " <<<"$out")
	n=$((n + 1))
	# An ok line from a nested.sh that failed is no pass.
	[ $nrc = 0 ] || [ -z "$line" ] || line="nested: $2: FAILED (nested.sh exited $nrc)"
	case "$line" in
	*": ok") echo "ok $n nested.$1 # time ${secs}s (one nested boot)" ;;
	"") echo "not ok $n nested.$1 # no verdict from nested.sh"; rc=1 ;;
	*) echo "not ok $n nested.$1 # ${line#*: }"; rc=1 ;;
	esac
}
run ping tcp
report ping ping
report tcp tcp
if [ $packed = 1 ]; then
	run --packed tcp
	report packed_tcp tcp
fi
exit $rc
