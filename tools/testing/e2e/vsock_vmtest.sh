#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# In the test VM (scripts/vm-run.sh): the kernel's own
# tools/testing/selftests/vsock/vmtest.sh, as it is in the source of the
# booted kernel, against whichever /dev/vhost-vsock is loaded. vmtest.sh
# boots a guest with vng (virtme-ng, QEMU TCG, this VM's root over 9p) with
# -device vhost-vsock-pci,guest-cid=1234, logs in over ssh and runs the
# kernel's vsock_test between this VM and the guest both ways, and inside
# the guest over the loopback transport. One TAP section
# (tools/testing/lib/tap.sh), one case per vmtest.sh test:
#   vmtest.vm_server_host_client   the guest is vsock_test's server
#   vmtest.vm_client_host_server   the guest is its client
#   vmtest.vm_loopback             both ends in the guest (vsock_loopback)
# vmtest.sh's own output and log follow as comments.
#
# Usage: vsock_vmtest.sh [TEST...]   (default: the three vm_* tests)
#   VMTEST_TIMEOUT  seconds for the whole vmtest.sh run (default 900);
#                   each missing result then fails with the reason
#
# vmtest.sh expects a kernel tree around it: it sources
# ../kselftest/ktap_helpers.sh, runs ./vsock_test beside itself, and finds
# the guest's kernel in KERNEL_CHECKOUT, four levels up (vng --run DIR
# wants DIR/arch/x86/boot/bzImage and DIR/.config). So it runs from a copy
# staged in /tmp with the booted kernel as the guest's. Nothing of it is
# changed; the environment is what it assumes from a login shell: USER
# (its guest's ssh user) and vng on PATH.

set -u
. "$(dirname "$0")/../../../scripts/lib.sh"
: "${RVHOST_KDIR:?run me inside scripts/vm-run.sh}"

tests=("$@")
[ ${#tests[@]} -gt 0 ] || tests=(vm_server_host_client vm_client_host_server vm_loopback)
limit=${VMTEST_TIMEOUT:-900}

src=$(readlink -f "$RVHOST_KDIR/source")
st=/tmp/rvhost-vmtest
rm -rf "$st"
dir=$st/tools/testing/selftests/vsock
mkdir -p "$dir" "$st/tools/testing/selftests/kselftest" "$st/arch/x86/boot"
cp "$src/tools/testing/selftests/vsock/vmtest.sh" "$dir/"
cp "$src/tools/testing/selftests/kselftest/ktap_helpers.sh" "$st/tools/testing/selftests/kselftest/"
cp "$RVHOST_TOP/build/vsock_test/vsock_test" "$dir/" 2>/dev/null
ln -s "$RVHOST_KDIR/arch/x86/boot/bzImage" "$st/arch/x86/boot/bzImage"
# No modules.order: vng then gives the guest no modules, and it needs none
# (virtio-vsock, the loopback transport, 9p and virtio-net are built in).
cp "$RVHOST_KDIR/.config" "$st/"

export PATH=$rvhost_vng/bin:$PATH USER=root HOME=$st/home

# The test kernel has no CONFIG_BLOCK (vmtest.sh's own config fragment,
# tools/testing/selftests/vsock/config, asks for it). vng gives the guest
# its root as the 9p tag "/dev/root" and no root= argument, which only a
# kernel with CONFIG_BLOCK mounts (init/do_mounts.c: mount_block_root());
# without it the guest panics at once ("9p: Bad value for 'source'"). With
# root=/dev/root it mounts. vng's configuration file adds it: its
# default_opts replace the --append that vmtest.sh passes, so the list is
# vmtest.sh's own KERNEL_CMDLINE, read from the script, plus root=.
cmdline=$(bash -c "$(sed -n '/^readonly KERNEL_CMDLINE="/,/^"$/p' "$dir/vmtest.sh")"'
	echo $KERNEL_CMDLINE')
mkdir -p "$HOME/.config/virtme-ng"
python3 -c 'import json, sys; print(json.dumps({"default_opts": {"append": [sys.argv[1]]}}))' \
	"$cmdline root=/dev/root" >"$HOME/.config/virtme-ng/virtme-ng.conf"

echo "1..${#tests[@]}"
# Each line of vmtest.sh's output and of its log (where the two ends of
# vsock_test write) is stamped with the time it came (the log's within 2 s).
stamp() { while IFS= read -r l; do printf '%(%H:%M:%S)T %s\n' -1 "$l"; done; }
monitor() { # until $st/stop exists
	local n=0 f new
	while :; do
		for f in /tmp/vsock_vmtest_????.log; do
			[ -f "$f" ] || continue
			new=$(tail -n +$((n + 1)) "$f")
			[ -n "$new" ] || continue
			stamp <<<"$new"
			n=$((n + $(wc -l <<<"$new")))
		done
		[ -e "$st/stop" ] && break
		sleep 2
	done
}
rm -f /tmp/vsock_vmtest_????.log
monitor >"$st/log" &
mon=$!
t0=$SECONDS
# timeout runs vmtest.sh in a process group of its own and signals all of
# it, vng and QEMU included; vmtest.sh's own wait for ssh gives up after
# about 200 s.
out=$(timeout -k 20 "$limit" "$dir/vmtest.sh" "${tests[@]}" 2>&1 </dev/null | stamp
	exit "${PIPESTATUS[0]}")
rc=$?
secs=$((SECONDS - t0))
touch "$st/stop"
wait $mon
why="vmtest.sh exited $rc"
[ $rc = 124 ] && why="vmtest.sh timed out after ${limit}s"
last=$(grep -v -e ' Log: ' -e '^[0-9:]* *$' <<<"$out" | tail -n 1)

n=0 frc=0
for t in "${tests[@]}"; do
	n=$((n + 1))
	line=$(grep -E -m1 "^[0-9:]+ (not )?ok [0-9]+ $t( |\$)" <<<"$out")
	line=${line#* }
	case "$line" in
	"ok "*"# SKIP"*) echo "ok $n vmtest.$t # SKIP ${line#*# SKIP}" ;;
	"ok "*) echo "ok $n vmtest.$t # vmtest.sh in ${secs}s (one vng boot)" ;;
	"not ok "*)
		r=${line#*"$t"}
		r=${r#"${r%%[! #]*}"}
		echo "not ok $n vmtest.$t # vmtest.sh: ${r:-failed} (see the log below)"
		frc=1
		;;
	*) echo "not ok $n vmtest.$t # no result: $why; last line: $last"; frc=1 ;;
	esac
done
echo "# vmtest.sh ${tests[*]}: $secs s, exit $rc"
sed 's/^/# /' <<<"$out"
echo "# ---- vmtest.sh's log"
sed 's/^/# /' "$st/log"
rm -f /tmp/vsock_vmtest_????.log
exit $frc
