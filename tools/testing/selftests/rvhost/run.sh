#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run every conformance test binary in OUTPUT (as built by the Makefile)
# and print their TAP output one after the other. Each binary's own
# "ok N fixture.variant.test" lines are passed through untouched.
#
# Usage: run.sh OUTPUT_DIR [TEST...]
#   TEST    run only these binaries (default: all of them)
# Exit status: 0 if every binary passed (skips count as passes), 1 if not.

set -u
dir=${1:?usage: $0 OUTPUT_DIR [TEST...]}
shift
tests=(owner features vring mem_table log worker dispatch iotlb net_backend
	vsock_cid datapath net_traffic net_notify net_hostile net_lifecycle
	compat32_test)
[ $# -gt 0 ] && tests=("$@")

rc=0
for t in "${tests[@]}"; do
	bin=$dir/$t
	if [ ! -x "$bin" ]; then
		echo "# rvhost-selftest: $t: not built"
		echo "not ok 1 $t # missing binary"
		rc=1
		continue
	fi
	echo "# rvhost-selftest: $t"
	"$bin" || rc=1
done
exit $rc
