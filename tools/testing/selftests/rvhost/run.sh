#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run every conformance test binary in OUTPUT (as built by the Makefile)
# and print their TAP output one after the other, each as a section with
# its exit status (tools/testing/lib/tap.sh); scripts/verdict.py judges it.
#
# Usage: run.sh OUTPUT_DIR [TEST...]
#   TEST    run only these binaries (default: the run.sh lines of
#           suite.sections)
# Exit status: 0 if every binary exited 0, 1 if not.

set -u
dir=${1:?usage: $0 OUTPUT_DIR [TEST...]}
shift
. "$(dirname "$0")/../../lib/tap.sh"
if [ $# -gt 0 ]; then
	tests=("$@")
else
	# (no process substitution: the VM's /dev has no fd links)
	tests=($(sed 's/#.*//' "$(dirname "$0")/suite.sections" |
		awk '$2 == "run.sh" { print $1 }'))
fi

missing() { # test
	echo "1..1"
	echo "not ok 1 $1.built # $dir/$1 is missing"
	return 1
}

tap_declare "${tests[@]}"
rc=0
for t in "${tests[@]}"; do
	if [ -x "$dir/$t" ]; then
		tap_run "$t" "$dir/$t" || rc=1
	else
		tap_run "$t" missing "$t" || rc=1
	fi
done
exit $rc
