#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# In the test VM: start a nested guest (QEMU TCG inside the VM) whose
# virtio-net is backed by whichever /dev/vhost-net is loaded, through
# `-netdev tap,vhost=on,vhostfd=N`, and optionally a vhost-vsock-pci device.
# The nested guest runs tests from its initramfs (scripts/vm/nested-init.sh)
# and reports on its console; this script judges them.
#
# Usage: scripts/vm/nested.sh [--vsock CID] [--packed] [--cpu] [--list] TEST...
#   TEST: ping   the nested guest pings this VM's tap address
#         tcp    the nested guest downloads $RVHOST_NESTED_SIZE bytes
#                (default 16 MiB; a multiple of 64 KiB) of pseudo-random
#                data from this VM and uploads as many of its own, over
#                TCP; the sha256 of each direction must be the same on
#                both ends
#         vsock_client, vsock_server
#                the kernel's vsock_test (build/vsock_test/vsock_test, also
#                the nested guest's /bin/vsock_test) over the vhost-vsock
#                device, the nested guest in that mode and this VM in the
#                other, the control connection over the tap network; needs
#                --vsock. The tests on tools/testing/e2e/vsock_test.skip
#                are skipped (--skip).
#   --vsock CID  a vhost-vsock-pci device with that guest CID
#   --packed     virtio-net-pci with packed=on; every test then also needs
#                VIRTIO_F_RING_PACKED (bit 34) negotiated in the nested guest
#   --cpu        tcp: the peer also prints what each direction cost, the
#                vhost worker's CPU time and QEMU's ("  peer: cpu ..."
#                lines, tools/testing/e2e/tcp_peer.py --cpu), for make
#                bench's nested-tcp (tools/bench/run.sh)
#   --list       print the names of the results the tests give, and exit
#
# The tests run one after the other in one boot of the nested guest. One line
# per result, "nested: NAME: ok[ (note)]", "nested: NAME: SKIP (why)" or
# "nested: NAME: FAILED (why)"; NAME is the test's, and for vsock_test
# vsock_test.ROLE (the whole run: both ends completed and exited 0) and
# vsock_test.ROLE.CASE for each of its tests, ROLE being this VM's
# (host_server for vsock_client, host_client for vsock_server) and CASE the
# test's name in lower case, each run of other characters an underscore.
# The exit status is 0 if all passed, 1 if a result says FAILED. The tap
# network (10.23.0.0/24) exists only inside this VM.

set -eu
: "${RVHOST_NESTED_KERNEL:?run me inside scripts/vm-run.sh}"

cid="" packed=0 list=0 cpu=()
while [ $# -gt 0 ]; do
	case "$1" in
	--vsock) cid=$2; shift ;;
	--packed) packed=1 ;;
	--cpu) cpu=(--cpu) ;;
	--list) list=1 ;;
	*) break ;;
	esac
	shift
done
[ $# -gt 0 ] || { echo "usage: $0 [--vsock CID] [--packed] [--cpu] [--list] TEST..." >&2; exit 2; }
tests=("$@")

# vsock_test: the VM runs the binary that scripts/mkinitramfs.sh put into
# the nested guest as /bin/vsock_test. Its control connection: the VM's
# server listens on vport, the nested guest's on vport + 1.
vt_bin=$RVHOST_TOP/build/vsock_test/vsock_test
vt_skip=$RVHOST_TOP/tools/testing/e2e/vsock_test.skip
vport=5002
vt_tests=()
for t in "${tests[@]}"; do
	case "$t" in vsock_client | vsock_server) vt_tests+=("$t") ;; esac
done
vt_role() { # vsock_client|vsock_server: this VM's role
	[ "$1" = vsock_client ] && echo host_server || echo host_client
}
# A test's name as a TAP name: "SOCK_STREAM poll() + SO_RCVLOWAT" is
# sock_stream_poll_so_rcvlowat.
vt_case() {
	local s=${1,,}
	s=${s//[^a-z0-9]/_}
	while [[ $s == *__* ]]; do s=${s//__/_}; done
	s=${s#_}
	echo "${s%_}"
}
vt_name=() vt_cases=()
declare -A vt_skipwhy=()
if [ ${#vt_tests[@]} -gt 0 ]; then
	[ -n "$cid" ] || { echo "${vt_tests[*]}: needs --vsock CID" >&2; exit 2; }
	[ -x "$vt_bin" ] || { echo "no $vt_bin: build tools/testing/vsock_test" >&2; exit 2; }
	# Its own list of tests, "ID<tab>NAME" after a header; --list exits 1.
	while IFS=$'\t' read -r id name; do
		[[ $id =~ ^[0-9]+$ ]] || continue
		[ "$id" = ${#vt_name[@]} ] || { echo "$vt_bin --list: test $id out of order" >&2; exit 2; }
		vt_name+=("$name")
		vt_cases+=("$(vt_case "$name")")
	done < <("$vt_bin" --list 2>/dev/null || true)
	[ ${#vt_name[@]} -gt 0 ] || { echo "$vt_bin --list: no tests" >&2; exit 2; }
	# "nested.vsock_test.ROLE.CASE  # why", as scripts/verdict.py reads it.
	while IFS= read -r line || [ -n "$line" ]; do
		name=${line%%#*}
		name=${name//[[:space:]]/}
		[[ $name == nested.vsock_test.* ]] || continue
		why=${line#*#}
		[ "$why" != "$line" ] || why="on ${vt_skip#"$RVHOST_TOP"/}"
		why=${why#"${why%%[![:space:]]*}"}
		vt_skipwhy[${name#nested.vsock_test.}]=$why
	done <"$vt_skip"
fi

if [ $list = 1 ]; then
	for t in "${tests[@]}"; do
		case "$t" in
		vsock_client | vsock_server)
			r=$(vt_role "$t")
			echo "vsock_test.$r"
			printf "vsock_test.$r.%s\n" "${vt_cases[@]}"
			;;
		*) echo "$t" ;;
		esac
	done
	exit 0
fi

initrd=$RVHOST_TOP/build/nested/initramfs.cpio
[ -f "$initrd" ] || { echo "no $initrd: run scripts/mkinitramfs.sh" >&2; exit 2; }
log=/tmp/nested-console.log
size=${RVHOST_NESTED_SIZE:-16777216}
port=5000
host=10.23.0.1
# The largest MTU a tap and virtio-net take (host_mtu): under nested TCG the
# cost is per packet. At 1500 bytes the guest sent 16 MiB in about 13000
# packets (no TSO at that rate) and the upload took 75-85 s; at 65520, in
# about 1400 packets and 17-22 s.
mtu=65520

# Nothing from an earlier run may pass for this one's result.
rm -f "$log" /tmp/nested-qemu.log /tmp/peer.out /tmp/peer.ready /tmp/vsock_test.*
ip link show rvtap0 >/dev/null 2>&1 && ip link del rvtap0
ip tuntap add dev rvtap0 mode tap
ip addr add $host/24 dev rvtap0
ip link set rvtap0 mtu $mtu up

# The other end of the tcp test.
peer_pid=""
if [[ " ${tests[*]} " == *" tcp "* ]]; then
	timeout 900 python3 "$RVHOST_TOP/tools/testing/e2e/tcp_peer.py" \
		$host $port "$size" "$$" /tmp/peer.ready "${cpu[@]}" >/tmp/peer.out 2>&1 &
	peer_pid=$!
	for _ in $(seq 100); do
		[ -f /tmp/peer.ready ] && break
		sleep 0.1
	done
fi

# This VM's end of vsock_test: for each vsock test, in the nested guest's
# order, its runs into /tmp/vsock_test.ROLE.out, each line stamped with the
# time it came (EPOCHREALTIME), each run's exit status last ("rvhost-exit
# N"). Each run needs the other end's: the VM's server listens before QEMU
# starts; its client tries until the nested guest's server takes the
# connection. A run that fails is followed by at most two more, by the rule
# the nested guest applies too (scripts/vm/vsock_test_rerun.sh): each skips
# the tests that have a result already, "rvhost-rerun" before it.
# What is still running when QEMU has exited is ended below.
vt_stamp() {
	local line
	while IFS= read -r line || [ -n "$line" ]; do
		[ -n "$line" ] && echo "$EPOCHREALTIME $line"
	done
	return 0
}
vt_host_run() { # role, first test, time limit (0: none), vsock_test options...
	local role=$1 from=$2 limit=$3 id rc=0 skip=()
	shift 3
	for id in "${!vt_cases[@]}"; do
		if [ "$id" -lt "$from" ] || [ -n "${vt_skipwhy[$role.${vt_cases[id]}]+set}" ]; then
			skip+=(--skip="$id")
		fi
	done
	# The blank line ends a test line that a kill cut short. --foreground:
	# timeout otherwise puts vsock_test into a process group of its own,
	# out of reach of the kill below, and a server left listening on
	# $host:$vport makes the next run's fail ("Control socket
	# initialization failed").
	{
		timeout --foreground "$limit" "$vt_bin" "$@" --peer-cid="$cid" "${skip[@]}" 2>&1 || rc=$?
		printf '\nrvhost-exit %s\n' $rc
	} | vt_stamp
}
. "$RVHOST_TOP/scripts/vm/vsock_test_rerun.sh"
vt_host() { # the vsock tests, in order
	local t r n runs out limit
	for t in "$@"; do
		r=$(vt_role "$t") out=/tmp/vsock_test.$r.out
		vt_retried=" " vt_from=0 limit=0 runs=0
		: >"$out"
		while :; do
			runs=$((runs + 1))
			if [ "$t" = vsock_client ]; then
				vt_host_run $r $vt_from $limit --mode=server --control-host=$host \
					--control-port=$vport >/tmp/vsock_test.run
			else
				# Refused (or no route) until the nested guest's server
				# listens.
				n=0
				while :; do
					n=$((n + 1))
					vt_host_run $r $vt_from $limit --mode=client --control-host=10.23.0.2 \
						--control-port=$((vport + 1)) >/tmp/vsock_test.run
					grep -q 'Control socket connected' /tmp/vsock_test.run && break
					[ $runs = 1 ] || [ $n -lt 30 ] || break
					sleep 1
				done
				echo "$EPOCHREALTIME control connection tries: $n" >>"$out"
			fi
			cat /tmp/vsock_test.run >>"$out"
			grep -q ' rvhost-exit 0$' /tmp/vsock_test.run && break
			[ $runs -lt $vt_runs ] && vt_next /tmp/vsock_test.run $((${#vt_cases[@]} - 1)) || break
			echo "$EPOCHREALTIME rvhost-rerun from test $vt_from" >>"$out"
			limit=120
		done
	done
}
vt_pid=""
if [ ${#vt_tests[@]} -gt 0 ]; then
	# A process group of its own, so that all of it can be ended at once.
	set -m
	vt_host "${vt_tests[@]}" </dev/null &
	vt_pid=$!
	set +m
fi

netdev_opts=netdev=n0,host_mtu=$mtu
[ $packed = 1 ] && netdev_opts+=,packed=on
# quiet: every console byte costs the nested guest a trapped port write.
# noapic: the legacy interrupts stay on the 8259 and setup_IO_APIC() never
# runs. Under nested TCG a timer interrupt once came in the middle of it and
# the guest died at 0.16 s (a NULL mp_chip_data in mask_ioapic_irq(), from
# handle_level_irq()); virtio-pci takes MSI-X, which needs no I/O APIC.
cmdline="console=ttyS0 quiet panic=-1 noapic rvhost.test=$(IFS=,; echo "${tests[*]}")"
cmdline+=" rvhost.addr=10.23.0.2/24 rvhost.peer=$host rvhost.port=$port rvhost.size=$size"
cmdline+=" rvhost.vport=$vport"
# Only for the runner's own test (nested_test.sh): a guest that dies at boot.
cmdline+=${RVHOST_NESTED_APPEND:+ $RVHOST_NESTED_APPEND}

# QEMU gets /dev/vhost-net as an inherited fd, as libvirt hands it over.
exec 3<>/dev/vhost-net
args=(-cpu max -m 256 -smp 1 -nographic -no-reboot -monitor none
	-serial "file:$log"
	-kernel "$RVHOST_NESTED_KERNEL" -initrd "$initrd"
	-append "$cmdline"
	-netdev "tap,id=n0,ifname=rvtap0,script=no,downscript=no,vhost=on,vhostfd=3"
	-device "virtio-net-pci,$netdev_opts")
[ -n "$cid" ] && args+=(-device "vhost-vsock-pci,guest-cid=$cid")

start=$(date +%s)
rc=0
# The nested guest gives each vsock_test 240 s at most, and each of its
# two reruns 120 s and 30 tries to connect.
timeout $((900 + 540 * ${#vt_tests[@]})) qemu-system-x86_64 "${args[@]}" \
	</dev/null >/tmp/nested-qemu.log 2>&1 || rc=$?
exec 3>&-
echo "nested guest ran $(($(date +%s) - start)) s (qemu exit $rc)"
if [ -n "$vt_pid" ]; then
	# Normally done already: each of the VM's runs ends with the guest's.
	# One still waiting for a guest that is gone is ended here.
	for _ in $(seq 50); do
		kill -0 "$vt_pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL -- -"$vt_pid" 2>/dev/null && echo "vsock_test in this VM: still running, ended"
	wait "$vt_pid" 2>/dev/null || true
fi
# Nothing of this run may outlive it: the next run's vsock_test binds the
# same address.
if left=$(pgrep -a -x vsock_test); then
	echo "vsock_test in this VM: left running after the run: $left"
	pkill -KILL -x vsock_test || true
	leftover=1
fi
[ $rc = 0 ] || cat /tmp/nested-qemu.log
[ -f "$log" ] || : >"$log"
ip link del rvtap0 2>/dev/null || true
# Keep the nested console for a look after the run (scripts/vm-run.sh --out).
if [ -n "${RVHOST_OUT:-}" ] && [ -d "$RVHOST_OUT" ]; then
	i=1
	while [ -e "$RVHOST_OUT/nested-console.$i.log" ]; do i=$((i + 1)); done
	cp "$log" "$RVHOST_OUT/nested-console.$i.log"
	echo "nested console: $RVHOST_OUT/nested-console.$i.log (in the VM)"
fi

# The nested guest's report: "RVHOST-NESTED: ..." lines (the first may
# follow the firmware's screen-clearing escapes on the same line).
report=$(tr -d '\r' <"$log" | sed -n 's/.*RVHOST-NESTED: //p')
field() { sed -n "s/^$1 //p" <<<"$report" | head -n1; }
[ -n "$report" ] && sed 's/^/  nested guest: /' <<<"$report"
# A guest that died says so in every result it did not give.
panic=$(tr -d '\r' <"$log" | sed -n 's/.*Kernel panic - not syncing: //p' | head -n1)
[ -n "$panic" ] && echo "nested guest: its kernel panicked: $panic"

peer=""
if [ -n "$peer_pid" ]; then
	# The peer is done once the guest has closed both connections; it gives
	# up by itself otherwise, so this only waits long if something hangs.
	for _ in $(seq 50); do
		kill -0 "$peer_pid" 2>/dev/null || break
		sleep 0.1
	done
	kill "$peer_pid" 2>/dev/null || true
	wait "$peer_pid" 2>/dev/null || true
	peer=$(cat /tmp/peer.out)
	sed 's/^/  peer: /' <<<"$peer"
fi

features=$(field features)
packed_why=""
if [ $packed = 1 ]; then
	if [ -z "$features" ]; then
		packed_why="no feature bits from the nested guest"
	elif [ "${features:34:1}" != 1 ]; then
		packed_why="VIRTIO_F_RING_PACKED (bit 34) not negotiated"
	fi
fi

fail=0
verdict() { # name ok|skip|fail text
	local kind=$2 text=$3
	if [ "$kind" = ok ]; then
		if [ -n "$packed_why" ]; then
			kind=fail text=$packed_why
		# QEMU must end cleanly too: a crash or a timeout while it tears
		# the device down (GET_VRING_BASE, close) fails every test of the
		# run.
		elif [ $rc != 0 ]; then
			kind=fail text="qemu exit $rc"
		fi
	fi
	case "$kind" in
	ok) echo "nested: $1: ok${text:+ ($text)}" ;;
	skip) echo "nested: $1: SKIP ($text)" ;;
	*) echo "nested: $1: FAILED ($text)"; fail=1 ;;
	esac
}

. "$RVHOST_TOP/scripts/vm/vsock_test_judge.sh"

for t in "${tests[@]}"; do
	case "$t" in
	vsock_client | vsock_server)
		r=$(vt_role "$t")
		[ -f /tmp/vsock_test.$r.out ] || : >/tmp/vsock_test.$r.out
		sed 's/^[^ ]* /  vsock_test in this VM ('"$r"'): /' /tmp/vsock_test.$r.out
		vt_judge "$r" /tmp/vsock_test.$r.out <(sed -n "s/^$t| /- /p" <<<"$report")
		continue
		;;
	esac
	why=""
	if ! grep -qx "$t ok" <<<"$report"; then
		why="the nested guest says: $(grep -m1 "^$t " <<<"$report" | tail -n1)"
		if ! grep -q "^$t \(ok\|failed\)" <<<"$report"; then
			why="no result from the nested guest${panic:+; its kernel panicked: $panic}"
		fi
	elif [ "$t" = tcp ]; then
		sent=$(sed -n 's/^sent \([0-9]*\) \([0-9a-f]*\) .*/\1 \2/p' <<<"$peer")
		got=$(sed -n 's/^received \([0-9]*\) \([0-9a-f]*\) .*/\1 \2/p' <<<"$peer")
		if [ "$sent" != "$size $(field rx-sha256)" ]; then
			why="download: peer sent '$sent', the guest got sha256 $(field rx-sha256)"
		elif [ "$got" != "$size $(field tx-sha256)" ]; then
			why="upload: the guest sent sha256 $(field tx-sha256), peer got '$got'"
		fi
	fi
	if [ -z "$why" ]; then
		verdict "$t" ok ""
	else
		verdict "$t" fail "$why"
	fi
done
if [ "${leftover:-0}" = 1 ]; then
	echo "nested: FAILED (a vsock_test of this VM outlived the run)"
	fail=1
fi
if [ $fail = 1 ]; then
	echo "  nested guest's console, last lines:"
	tail -n 30 "$log" | tr -d '\r' | sed 's/^/    /'
fi
exit $fail
