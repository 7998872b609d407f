# SPDX-License-Identifier: GPL-2.0
# How scripts/check.sh turns each part's results into its last line.
# Sourced. Every part appends one summary line
#   NAME: P passed, F failed, S skipped, X xfail
# to $verdicts; a judge (scripts/verdict.py) that crashes, or whose exit
# status and summary disagree, adds a failure instead of its counts.

RVHOST_VERDICT=${RVHOST_VERDICT:-$(dirname "${BASH_SOURCE[0]}")/verdict.py}

verdicts_init() { # file
	verdicts=$1
	: >"$verdicts"
}

# A part that is one pass or one failure.
result() { # name ok|fail
	echo "$1: $2"
	if [ "$2" = ok ]; then
		echo "$1: 1 passed, 0 failed, 0 skipped, 0 xfail" >>"$verdicts"
	else
		echo "$1: 0 passed, 1 failed, 0 skipped, 0 xfail" >>"$verdicts"
	fi
}

# Run a judge: verdict.py tap|cargo NAME ARGS...
judge() { # tap|cargo name args...
	local name=$2 out rc=0 last f
	out=$("$RVHOST_VERDICT" "$@" 2>&1) || rc=$?
	echo "$out"
	last=$(tail -n 1 <<<"$out")
	if [[ "$last" =~ ^"$name: "[0-9]+" passed, "([0-9]+)" failed, "[0-9]+" skipped, "[0-9]+" xfail"$ ]]; then
		f=${BASH_REMATCH[1]}
		if { [ "$rc" = 0 ] && [ "$f" = 0 ]; } || { [ "$rc" = 1 ] && [ "$f" != 0 ]; }; then
			echo "$last" >>"$verdicts"
			return
		fi
	fi
	result "$name (the judge broke: exit $rc)" fail
}

# The last two lines of make check, TEXT at the end of the first; exit 1
# unless nothing failed.
verdicts_total() { # [TEXT]
	local out rc=0 f=x
	out=$("$RVHOST_VERDICT" total "$verdicts" ${1:+--also "$1"} 2>&1) || rc=$?
	echo "$out"
	[[ "$(tail -n 1 <<<"$out")" =~ ^[0-9]+\ passed,\ ([0-9]+)\ failed,\ [0-9]+\ skipped$ ]] &&
		f=${BASH_REMATCH[1]}
	if [ "$rc" = 0 ] && [ "$f" = 0 ]; then
		return 0
	elif [ "$rc" = 1 ] && [ "$f" != x ] && [ "$f" != 0 ]; then
		return 1
	fi
	echo "the verdict total broke (exit $rc)"
	echo "0 passed, 1 failed, 0 skipped"
	return 1
}
