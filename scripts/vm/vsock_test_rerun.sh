# SPDX-License-Identifier: GPL-2.0
# vsock_test stops at the first test that fails, which would leave every
# later one without a result. So a run that fails is followed by another,
# up to vt_runs in all: the VM's end (scripts/vm/nested.sh) skips the tests
# that already have a result, the nested guest's end (nested-init.sh)
# follows its SKIPs. Both ends apply this rule to their own run's output to
# agree on whether another run comes: the test a run stopped in is run once
# more, then the one after it. Sourced by both, so POSIX sh (busybox).

vt_runs=3
vt_retried=" "
vt_from=0

# A run's output (an end's lines, the VM's stamped "TIME LINE") and the
# last test's ID: true, and the next run's first test in vt_from, when
# another run comes.
vt_next() {
	vt_k=$(sed -n 's/^\([0-9.]* \)\{0,1\}\([0-9][0-9]*\) - .*/\2/p' "$1" | tail -n 1)
	[ -n "$vt_k" ] || return 1
	case "$vt_retried" in
	*" $vt_k "*) vt_k=$((vt_k + 1)) ;;
	*) vt_retried="$vt_retried$vt_k " ;;
	esac
	vt_from=$vt_k
	[ "$vt_k" -le "$2" ]
}
