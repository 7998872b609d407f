#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# In the test VM: start a nested guest (QEMU TCG inside the VM) whose
# virtio-net is backed by whichever /dev/vhost-net is loaded, through
# `-netdev tap,vhost=on,vhostfd=N`, and optionally a vhost-vsock-pci device.
# The nested guest runs tests from its initramfs (scripts/vm/nested-init.sh)
# and reports on its console; this script judges them.
#
# Usage: scripts/vm/nested.sh [--vsock CID] [--packed] [--list] TEST...
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
: "${RVHOST_KDIR:?run me inside scripts/vm-run.sh}"

cid="" packed=0 list=0
while [ $# -gt 0 ]; do
	case "$1" in
	--vsock) cid=$2; shift ;;
	--packed) packed=1 ;;
	--list) list=1 ;;
	*) break ;;
	esac
	shift
done
[ $# -gt 0 ] || { echo "usage: $0 [--vsock CID] [--packed] [--list] TEST..." >&2; exit 2; }
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
		$host $port "$size" "$$" /tmp/peer.ready >/tmp/peer.out 2>&1 &
	peer_pid=$!
	for _ in $(seq 100); do
		[ -f /tmp/peer.ready ] && break
		sleep 0.1
	done
fi

# This VM's end of vsock_test: one run per vsock test, in the nested guest's
# order, into /tmp/vsock_test.ROLE.out, each line stamped with the time it
# came (EPOCHREALTIME), the exit status last ("rvhost-exit N"). Each run
# needs the other end's: the VM's server listens before QEMU starts; its
# client tries until the nested guest's server takes the connection. What
# is still running when QEMU has exited is ended below.
vt_stamp() {
	local line
	while IFS= read -r line || [ -n "$line" ]; do
		[ -n "$line" ] && echo "$EPOCHREALTIME $line"
	done
	return 0
}
vt_host_run() { # role, vsock_test options...
	local role=$1 id rc=0 skip=()
	shift
	for id in "${!vt_cases[@]}"; do
		[ -n "${vt_skipwhy[$role.${vt_cases[id]}]+set}" ] && skip+=(--skip="$id")
	done
	# The blank line ends a test line that a kill cut short.
	{
		"$vt_bin" "$@" --peer-cid="$cid" "${skip[@]}" 2>&1 || rc=$?
		printf '\nrvhost-exit %s\n' $rc
	} | vt_stamp
}
vt_host() { # the vsock tests, in order
	local t n
	for t in "$@"; do
		if [ "$t" = vsock_client ]; then
			vt_host_run host_server --mode=server --control-host=$host \
				--control-port=$vport >/tmp/vsock_test.host_server.out
			continue
		fi
		# Refused (or no route) until the nested guest's server listens.
		n=0
		while :; do
			n=$((n + 1))
			vt_host_run host_client --mode=client --control-host=10.23.0.2 \
				--control-port=$((vport + 1)) >/tmp/vsock_test.try
			grep -q 'Control socket connected' /tmp/vsock_test.try && break
			sleep 1
		done
		{ echo "$EPOCHREALTIME connected at try $n"; cat /tmp/vsock_test.try; } \
			>/tmp/vsock_test.host_client.out
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
cmdline="console=ttyS0 quiet panic=-1 rvhost.test=$(IFS=,; echo "${tests[*]}")"
cmdline+=" rvhost.addr=10.23.0.2/24 rvhost.peer=$host rvhost.port=$port rvhost.size=$size"
cmdline+=" rvhost.vport=$vport"

# QEMU gets /dev/vhost-net as an inherited fd, as libvirt hands it over.
exec 3<>/dev/vhost-net
args=(-cpu max -m 256 -smp 1 -nographic -no-reboot -monitor none
	-serial "file:$log"
	-kernel "$RVHOST_KDIR/arch/x86/boot/bzImage" -initrd "$initrd"
	-append "$cmdline"
	-netdev "tap,id=n0,ifname=rvtap0,script=no,downscript=no,vhost=on,vhostfd=3"
	-device "virtio-net-pci,$netdev_opts")
[ -n "$cid" ] && args+=(-device "vhost-vsock-pci,guest-cid=$cid")

start=$(date +%s)
rc=0
# The nested guest gives each vsock_test run 240 s at most.
timeout $((900 + 240 * ${#vt_tests[@]})) qemu-system-x86_64 "${args[@]}" \
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

# vsock_test's output, "TIME LINE" per line (TIME "-" when not known), as
# results: vt_out[SIDE.ID] ok|skipped|failed, vt_text[SIDE.ID] what else
# the test printed, vt_secs[SIDE.ID] its time; vt_done[SIDE] 1 when the
# last barrier passed, vt_exit[SIDE] the exit status ("none": no status),
# vt_secs[SIDE] the time from the first test's start to the last barrier.
# A test's line is "ID - NAME..." and what its run printed; "ok" (or
# "skipped") ends it, but lands only when the next test's line is flushed.
declare -A vt_out vt_text vt_secs vt_done vt_exit
vt_time() { # key t0 t1: the time between two stamps, into vt_secs[key]
	local us
	[[ $2 == *.* && $3 == *.* ]] || return 0
	us=$((${3/./} - ${2/./}))
	vt_secs[$1]=$((us / 1000000)).$((us % 1000000 / 100000))
}
vt_close() { # side id text t0 t1
	local key=$1.$2 l lines=() last out
	while IFS= read -r l; do
		[ -n "$l" ] && lines+=("$l")
	done <<<"$3"
	last=""
	[ ${#lines[@]} = 0 ] || last=${lines[-1]}
	case "$last" in
	ok | skipped) out=$last; unset 'lines[-1]' ;;
	*) out=failed ;;
	esac
	vt_out[$key]=$out
	vt_text[$key]=""
	for l in "${lines[@]}"; do
		vt_text[$key]+="${vt_text[$key]:+; }$l"
	done
	vt_time "$key" "$4" "$5"
}
vt_parse() { # side, its lines on stdin
	local side=$1 ts line cur=-1 n=${#vt_name[@]} text="" t0="" t1="" prev="-" start first=""
	local final="All tests have been executed. Waiting other peer..."
	vt_done[$side]=0 vt_exit[$side]=none
	while read -r ts line; do
		start="$((cur + 1)) - ${vt_name[cur + 1]-}..."
		if [[ $line == "rvhost-exit "* ]]; then
			vt_exit[$side]=${line#rvhost-exit }
		elif [ $((cur + 1)) -lt $n ] && [[ $line == "$start"* ]]; then
			[ $cur -ge 0 ] && vt_close "$side" $cur "$text" "$t0" "$t1"
			cur=$((cur + 1)) text=${line#"$start"} t0=$prev t1=$ts
			[ -n "$first" ] || first=$prev
		elif [[ $line == "$final"* ]]; then
			[ $cur -ge 0 ] && [ $cur -lt $n ] && vt_close "$side" $cur "$text" "$t0" "$t1"
			cur=$n
			[ "${line#"$final"}" = ok ] && vt_done[$side]=1 && vt_time "$side" "$first" "$ts"
		elif [ $cur -ge 0 ] && [ $cur -lt $n ]; then
			text+=$'\n'$line t1=$ts
		fi
		prev=$ts
	done
	if [ $cur -ge 0 ] && [ $cur -lt $n ]; then
		vt_close "$side" $cur "$text" "$t0" "$t1"
	fi
	return 0
}
vt_say() { # side id: what that end did in that test
	local key=$1.$2
	case "${vt_out[$key]-}" in
	"") echo "did not get to it" ;;
	failed) echo "failed: ${vt_text[$key]:-no message}" ;;
	*) echo "${vt_out[$key]}${vt_text[$key]:+ (${vt_text[$key]})}" ;;
	esac
}
vt_ended() { # side
	if [ "${vt_done[$1]}" = 1 ] && [ "${vt_exit[$1]}" = 0 ]; then
		echo ok
	elif [ "${vt_exit[$1]}" = none ]; then
		echo "no exit status"
	else
		echo "exit ${vt_exit[$1]}$([ "${vt_done[$1]}" = 1 ] || echo ", last barrier not passed")"
	fi
}

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

# Both ends must have passed a test (each checks its own half); a listed
# test must have been skipped by both.
vt_judge() { # vsock_client|vsock_server
	local t=$1 r id key h g note
	r=$(vt_role "$t")
	vt_out=() vt_text=() vt_secs=() vt_done=() vt_exit=()
	[ -f /tmp/vsock_test.$r.out ] || : >/tmp/vsock_test.$r.out
	sed 's/^[^ ]* /  vsock_test in this VM ('"$r"'): /' /tmp/vsock_test.$r.out
	vt_parse host </tmp/vsock_test.$r.out
	vt_parse guest < <(sed -n "s/^$t| /- /p" <<<"$report")
	h=$(vt_ended host) g=$(vt_ended guest)
	if [ "$h $g" = "ok ok" ]; then
		verdict "vsock_test.$r" ok "time ${vt_secs[host]-?} s"
	else
		verdict "vsock_test.$r" fail "this VM's vsock_test: $h; the nested guest's: $g"
	fi
	for id in "${!vt_name[@]}"; do
		key=$r.${vt_cases[id]}
		h=${vt_out[host.$id]-} g=${vt_out[guest.$id]-}
		if [ -n "${vt_skipwhy[$key]+set}" ]; then
			if [ "$h $g" = "skipped skipped" ]; then
				verdict "vsock_test.$key" skip "${vt_skipwhy[$key]}"
				continue
			fi
		elif [ "$h $g" = "ok ok" ]; then
			note="time ${vt_secs[host.$id]-?} s"
			[ -n "${vt_text[host.$id]}" ] && note+="; this VM's said: ${vt_text[host.$id]}"
			[ -n "${vt_text[guest.$id]}" ] && note+="; the nested guest's said: ${vt_text[guest.$id]}"
			verdict "vsock_test.$key" ok "$note"
			continue
		fi
		note=""
		[ -n "${vt_skipwhy[$key]+set}" ] && note="on vsock_test.skip, but "
		verdict "vsock_test.$key" fail "${note}this VM's vsock_test: $(vt_say host "$id"); the nested guest's: $(vt_say guest "$id")"
	done
}

for t in "${tests[@]}"; do
	case "$t" in
	vsock_client | vsock_server)
		vt_judge "$t"
		continue
		;;
	esac
	why=""
	if ! grep -qx "$t ok" <<<"$report"; then
		why="the nested guest says: $(grep -m1 "^$t " <<<"$report" | tail -n1)"
		grep -q "^$t \(ok\|failed\)" <<<"$report" || why="no result from the nested guest"
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
if [ $fail = 1 ]; then
	echo "  nested guest's console, last lines:"
	tail -n 30 "$log" | tr -d '\r' | sed 's/^/    /'
fi
exit $fail
