#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# In the test VM (scripts/vm-run.sh): run the conformance suite against the C
# vhost modules, then against rvhost, in the same boot. TAP logs go to
# $RVHOST_OUT/c.tap and $RVHOST_OUT/rvhost.tap, framed as
# tools/testing/lib/tap.sh says; scripts/verdict.py judges them.
#
# Usage: run_both.sh [--impl c|rvhost] BUILD_DIR [TEST...]
#   --impl     run against that one only (make check's debug boot runs C
#              only where Debian's kernel cannot: distro.skip)
#   BUILD_DIR  where `make selftests` put the binaries
#   TEST       run only these binaries (see run.sh), and not the leak and
#              module tests
# Exit status: 1 if loading or unloading the modules failed; the tests'
# verdicts are in the logs (a failing test is not a failed run: rvhost's
# expected failures are judged from the log).

set -u
impls="c rvhost"
if [ "${1:-}" = --impl ]; then
	impls=${2:?usage: $0 [--impl c|rvhost] BUILD_DIR [TEST...]}
	shift 2
fi
bindir=${1:?usage: $0 [--impl c|rvhost] BUILD_DIR [TEST...]}
shift
here=$(dirname "$0")
. "$here/../../lib/tap.sh"
rc=0
for impl in $impls; do
	log=$RVHOST_OUT/$impl.tap
	t0=$(date +%s)
	echo "== conformance: $impl"
	if ! scripts/vm/modules.sh load $impl >"$log" 2>&1; then
		echo "loading the $impl modules failed" | tee -a "$log"
		rc=1
		continue
	fi
	{
		"$here/run.sh" "$bindir" "$@"
		if [ $# = 0 ]; then
			"$here/leak_test.sh" "$bindir"
			tap_declare module_test
			tap_run module_test "$here/module_test.sh" $impl
		fi
	} >>"$log" 2>&1
	if scripts/vm/modules.sh unload $impl >>"$log" 2>&1; then
		tap_complete >>"$log"
	else
		echo "unloading the $impl modules failed" | tee -a "$log"
		rc=1
	fi
	grep -E '^(not )?ok ' "$log" | awk '{print $1}' | sort | uniq -c
	echo "== conformance: $impl took $(($(date +%s) - t0)) s"
done
exit $rc
