# SPDX-License-Identifier: GPL-2.0
# TAP framing shared by the run scripts under tools/testing/. Sourced.
#
# scripts/verdict.py judges what these print: a run declares its sections,
# each section is one program's TAP with its exit status after it, and the
# run ends with a completion line. A section that is declared and missing,
# has no exit status, or a log without the completion line as its last line
# is a failure, so a program or a VM that died leaves a verdict behind; a
# program that never started declares nothing, and the judge's --sections
# list (the committed sections of a whole run) finds it missing.

tap_declare() { # section...
	echo "# rvhost-sections: $*"
}

# Run a command (a program or a shell function) as one section.
tap_run() { # name command...
	local name=$1 rc
	shift
	echo "# rvhost-selftest: $name"
	"$@"
	rc=$?
	echo "# rvhost-selftest-exit: $name $rc"
	return $rc
}

tap_complete() {
	echo "# rvhost-run-complete"
}

# A program's own results, for a test script made of shell steps:
# tap_plan N prints the plan, each tap_case runs one command as case NAME
# (its output becomes comments; it passes when the command exits 0), and
# tap_status is the script's exit status: 1 when a case failed.
tap_plan() { # count
	tap_n=0 tap_failed=0
	echo "1..$1"
}

tap_case() { # name command...
	local name=$1 out rc=0
	shift
	tap_n=$((tap_n + 1))
	out=$("$@" 2>&1) || rc=$?
	[ -z "$out" ] || sed 's/^/# /' <<<"$out"
	if [ "$rc" = 0 ]; then
		echo "ok $tap_n $name"
	else
		echo "not ok $tap_n $name # exit $rc"
		tap_failed=1
	fi
}

tap_status() {
	return "$tap_failed"
}
