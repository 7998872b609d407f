#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# In the test VM (scripts/vm-run.sh, from scripts/stress.sh): one test
# program N times against one implementation.
#
#   repeat.sh c|rvhost N <program> [harness options]

set -u
impl=$1
n=$2
prog=$3
shift 3
top=${RVHOST_TOP:?run me inside scripts/vm-run.sh}
out=$(mktemp)

"$top/scripts/vm/modules.sh" load "$impl" || exit 1
fail=0
for i in $(seq 1 "$n"); do
	if ! "$top/build/selftests/$prog" "$@" >"$out" 2>&1; then
		fail=$((fail + 1))
		echo "# run $i failed:"
		grep -v '^ok \|^#  RUN\|^#  *OK ' "$out" | head -20
	fi
done
"$top/scripts/vm/modules.sh" unload "$impl"
rm -f "$out"
echo "stress: $fail failed of $n ($impl: $prog $*)"
[ "$fail" = 0 ]
