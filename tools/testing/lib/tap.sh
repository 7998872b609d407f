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
