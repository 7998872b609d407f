#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# In the test VM: QEMU end to end through whichever /dev/vhost-net (and
# /dev/vhost-vsock) is loaded (scripts/vm/nested.sh), as TAP (one section,
# tools/testing/lib/tap.sh):
#   nested.ping         the nested guest pings this VM
#   nested.tcp          16 MiB of pseudo-random data each way over TCP, the
#                       sha256 of each direction the same on both ends
#   nested.packed_tcp   the same with packed=on on the virtio-net-pci device,
#                       and VIRTIO_F_RING_PACKED negotiated (--packed only)
#   nested.vsock_test.host_server[.CASE], nested.vsock_test.host_client[.CASE]
#                       the kernel's vsock_test between this VM and the
#                       nested guest over vhost-vsock, this VM as the server
#                       and then as the client: the whole run, and each of
#                       its tests (--vsock only; the names are nested.sh's)
#   nested.runner_boot_panic
#                       the runner itself: a nested guest whose kernel
#                       panics at boot (no init) while this VM's vsock_test
#                       server waits for it; nested.sh must fail every
#                       result with the panic's message within 120 s and
#                       leave no vsock_test running (--runner only)
# ping, tcp and vsock_test share one boot of the nested guest; packed_tcp
# and runner_boot_panic have one each.
#
# Usage: nested_test.sh [--packed | --packed-only] [--vsock] [--runner]
#   --packed   also run nested.packed_tcp. The C vhost_net does not offer
#              VIRTIO_F_RING_PACKED, so QEMU masks it and the case fails
#              there by design: it is for rvhost only.
#   --packed-only
#              run nested.packed_tcp alone (one nested boot).
#   --vsock    also run vsock_test, both ways. The tests on
#              tools/testing/e2e/vsock_test.skip SKIP.
#   --runner   also run nested.runner_boot_panic, first: it tests
#              nested.sh, not vhost, so one of the two runs has it.

set -u
packed=0 vsock=0 runner=0 split=1
for a in "$@"; do
	case "$a" in
	--packed) packed=1 ;;
	--packed-only) packed=1 split=0 ;;
	--vsock) vsock=1 ;;
	--runner) runner=1 ;;
	*) echo "usage: $0 [--packed | --packed-only] [--vsock] [--runner]" >&2; exit 2 ;;
	esac
done

# The first boot's tests, and the names of their results.
first=(ping tcp) names=(ping tcp) vsock_args=() list_why=""
if [ $vsock = 1 ]; then
	vsock_args=(--vsock 3)
	first+=(vsock_client vsock_server)
	# vsock_test's own list of tests makes the cases: none is left out
	# unseen, and a program that stops early leaves some without a result.
	if list=$(scripts/vm/nested.sh "${vsock_args[@]}" --list "${first[@]}" 2>&1); then
		mapfile -t names <<<"$list"
	else
		list_why="nested.sh --list: $(tr '\n' ' ' <<<"$list")"
	fi
fi
[ $split = 1 ] || names=()
ncases=${#names[@]}
[ -n "$list_why" ] && ncases=$((ncases + 1))
[ $packed = 1 ] && ncases=$((ncases + 1))
[ $runner = 1 ] && ncases=$((ncases + 1))

echo "1..$ncases"
n=0 rc=0
out="" secs=0 nrc=0 nfailed=0
if [ -n "$list_why" ]; then
	n=$((n + 1))
	echo "not ok $n nested.vsock_test # $list_why"
	rc=1
fi
run() { # nested.sh arguments; its output stays in $out, its time in $secs
	local t0=$SECONDS
	nrc=0
	out=$(scripts/vm/nested.sh "$@" 2>&1) || nrc=$?
	secs=$((SECONDS - t0))
	nfailed=$(grep -c '^nested: [^ ]*: FAILED' <<<"$out")
	sed 's/^/# /' <<<"$out"
	echo "# nested.sh $*: $secs s, exit $nrc"
}
report() { # case name, the result's name in nested.sh's last run
	local line text
	line=$(grep -m1 "^nested: ${2//./\\.}: " <<<"$out")
	n=$((n + 1))
	# An ok line from a nested.sh that failed is no pass, unless what
	# failed is a result that says so (exit 1).
	if [ $nrc != 0 ] && [ -n "$line" ] && ! [ "$nrc $((nfailed > 0))" = "1 1" ]; then
		line="nested: $2: FAILED (nested.sh exited $nrc)"
	fi
	text=${line#"nested: $2: "}
	case "$text" in
	ok) echo "ok $n nested.$1 # time ${secs}s (one nested boot)" ;;
	"ok ("*")") echo "ok $n nested.$1 # ${text:4:-1}" ;;
	"SKIP ("*")") echo "ok $n nested.$1 # SKIP ${text:6:-1}" ;;
	"") echo "not ok $n nested.$1 # no verdict from nested.sh"; rc=1 ;;
	*) echo "not ok $n nested.$1 # $text"; rc=1 ;;
	esac
}
if [ $runner = 1 ]; then
	# Before the real run, whose vsock_test server binds the address a
	# leftover would hold.
	RVHOST_NESTED_APPEND="rdinit=/rvhost-none" run --vsock 3 ping vsock_client
	n=$((n + 1)) why=""
	if [ $nrc = 0 ]; then
		why="nested.sh exited 0"
	elif ! grep -q '^nested guest: its kernel panicked: ' <<<"$out"; then
		why="nested.sh did not report the panic"
	elif ! grep -q '^nested: ping: FAILED (no result from the nested guest; its kernel panicked: ' <<<"$out"; then
		why="ping's result does not name the panic"
	elif ! grep -q '^nested: vsock_test.host_server: FAILED' <<<"$out"; then
		why="vsock_test.host_server did not fail"
	elif grep -q 'left running' <<<"$out" || pgrep -x vsock_test >/dev/null; then
		why="a vsock_test of this VM outlived the run"
	elif [ $secs -gt 120 ]; then
		why="took $secs s"
	fi
	if [ -z "$why" ]; then
		echo "ok $n nested.runner_boot_panic # failed as it should in $secs s"
	else
		echo "not ok $n nested.runner_boot_panic # $why"
		rc=1
	fi
fi
if [ $split = 1 ]; then
	run "${vsock_args[@]}" "${first[@]}"
	for name in "${names[@]}"; do
		report "$name" "$name"
	done
fi
if [ $packed = 1 ]; then
	run --packed tcp
	report packed_tcp tcp
fi
exit $rc
