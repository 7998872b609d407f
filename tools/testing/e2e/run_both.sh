#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# In the test VM (scripts/vm-run.sh): run end-to-end tests against the C
# vhost_net and vhost_vsock, then against rvhost's, in the same boot. TAP
# goes to $RVHOST_OUT/e2e-c.tap and $RVHOST_OUT/e2e-rvhost.tap;
# scripts/check.sh judges the rvhost log against
# tools/testing/e2e/rvhost.xfail.
#
# Usage: run_both.sh [--vhost-net-test BINARY] [--nested] [--vmtest[=c]]
#   --vhost-net-test BINARY  the kernel's tools/virtio/vhost_net_test
#                            (vhost_net_test.sh)
#   --nested                 a nested guest over TCP and the kernel's
#                            vsock_test with it both ways (nested_test.sh);
#                            against rvhost also the runner's test of a
#                            nested guest that panics at boot
#   --vmtest                 the kernel's own vsock vmtest.sh, its vm_*
#                            tests (vsock_vmtest.sh), against rvhost only,
#                            TAP in $RVHOST_OUT/vmtest-rvhost.tap; with
#                            --vmtest=c against the C vhost_vsock too
#                            (vmtest-c.tap); make vmtest (scripts/vmtest.sh),
#                            not make check: a run takes 15-20 minutes
#                            under nested TCG.
# The exit status is 1 only if switching modules failed: the verdicts are in
# the TAP logs, framed as tools/testing/lib/tap.sh says.

set -u
here=$(dirname "$0")
. "$here/../lib/tap.sh"
vnt="" nested=0 vmtest=""
while [ $# -gt 0 ]; do
	case "$1" in
	--vhost-net-test) vnt=$2; shift ;;
	--nested) nested=1 ;;
	--vmtest) vmtest="rvhost" ;;
	--vmtest=c) vmtest="c rvhost" ;;
	*) echo "usage: $0 [--vhost-net-test BINARY] [--nested] [--vmtest[=c]]" >&2; exit 2 ;;
	esac
	shift
done

rc=0
for impl in c rvhost; do
	log=$RVHOST_OUT/e2e-$impl.tap
	echo "== end to end: $impl"
	: >"$log"
	if ! scripts/vm/modules.sh load $impl >>"$log" 2>&1; then
		echo "loading the $impl modules failed" | tee -a "$log"
		rc=1
		continue
	fi
	{
		if [ -n "$vnt" ]; then
			tap_declare vhost_net_test
			tap_run vhost_net_test "$here/vhost_net_test.sh" "$vnt"
		fi
		if [ $nested = 1 ]; then
			extra=()
			# The runner's own test needs only one run. The packed ring's
			# nested guest (rvhost only: the C vhost_net has none) runs in
			# make check's boot of Debian's kernel (nested_test.sh
			# --packed-only).
			[ $impl = rvhost ] && extra=(--runner)
			tap_declare nested
			tap_run nested "$here/nested_test.sh" --vsock "${extra[@]}"
		fi
	} >>"$log" 2>&1
	# vmtest.sh has a log of its own, judged on its own (make vmtest).
	vlog=$RVHOST_OUT/vmtest-$impl.tap
	logs=("$log")
	if [[ " $vmtest " == *" $impl "* ]]; then
		logs+=("$vlog")
		{
			tap_declare vmtest
			tap_run vmtest "$here/vsock_vmtest.sh"
		} >"$vlog" 2>&1
	fi
	if scripts/vm/modules.sh unload $impl >>"$log" 2>&1; then
		for l in "${logs[@]}"; do tap_complete >>"$l"; done
	else
		echo "unloading the $impl modules failed" | tee -a "$log"
		rc=1
	fi
	grep -h -E '^(not )?ok ' "${logs[@]}" | sed 's/ # .*//' | sed "s/^/  $impl: /"
done
exit $rc
