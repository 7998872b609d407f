#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot the cached test kernel under QEMU (TCG) with this machine's root file
# system shared read-only over 9p, run one command in it as root, and return
# its exit status. The run fails, whatever the command returned, when the
# guest's kernel log has an Oops, WARNING, BUG, KASAN, UBSAN or lockdep
# report, a soft lockup, an RCU stall, a hung task, or a panic; and fast,
# with a clear message, when the guest has not reached its init within the
# boot limit.
#
# Usage: scripts/vm-run.sh [options] [--] COMMAND...
#        scripts/vm-run.sh [options] [--] 'SHELL CODE' 
#   --kernel K       the kernel to boot: default, debug (KASAN, lockdep, ...,
#                    with panic_on_warn=1) or distro (Debian's own
#                    $RVHOST_DISTRO_KREL, scripts/distro-boot.sh)
#   --debug          the same as --kernel debug
#   --load c|rvhost  load the C vhost modules or rvhost's before COMMAND
#   --out DIR        keep the console log, command output and dmesg in DIR
#   --mem MB         guest memory (default 2048, 3072 with --debug)
#   --timeout S      give up after S seconds (default 900)
#   --boot-timeout S give up when init has not started after S seconds
#                    (default 120, 300 with --debug, 180 with distro)
#   --nice-after-boot N
#                    once init has started, lower QEMU's priority (every
#                    thread's) to nice N: a boot whose limit would not hold
#                    at that priority gets the CPU it needs, the rest of the
#                    run takes what others leave
#   --quiet          do not stream the command's output
#
# In the guest: the working directory is the repository, /tmp is a tmpfs,
# $RVHOST_OUT is DIR (writable, shared with the host), $RVHOST_KDIR the kernel
# tree that was booted (for distro, the tree scripts/distro-kdir.sh made for
# it), $RVHOST_MODDIR where rvhost's modules for it are, $RVHOST_MODROOT
# the tree of its own modules, for `modprobe -d`, and $RVHOST_NESTED_KERNEL
# the kernel a nested guest boots (scripts/vm/nested.sh).
# The guest has no network device: nothing it does leaves the VM.

set -euo pipefail
. "$(dirname "$0")/lib.sh"

flavour=default load="" out="" mem="" timeout=900 boot_timeout="" quiet=0 nice_after=
while [ $# -gt 0 ]; do
	case "$1" in
	--kernel) flavour=$2; shift ;;
	--debug) flavour=debug ;;
	--load) load=$2; shift ;;
	--out) out=$2; shift ;;
	--mem) mem=$2; shift ;;
	--timeout) timeout=$2; shift ;;
	--boot-timeout) boot_timeout=$2; shift ;;
	--nice-after-boot) nice_after=$2; shift ;;
	--quiet) quiet=1 ;;
	--) shift; break ;;
	-*) die "unknown option $1" ;;
	*) break ;;
	esac
	shift
done
[ $# -gt 0 ] || die "no command given"

mem_default=2048 boot_timeout_default=120
case $flavour in
default | debug)
	kdir=$(rvhost_kdir "$flavour")
	[ -n "$kdir" ] && [ -f "$kdir/arch/x86/boot/bzImage" ] ||
		die "no $flavour kernel: run scripts/provision.sh"
	kernel=(-kernel "$kdir/arch/x86/boot/bzImage")
	modroot=$kdir/rvhost-modroot
	nested=$kdir/arch/x86/boot/bzImage
	[ $flavour = default ] || mem_default=3072 boot_timeout_default=300
	;;
distro)
	# Debian's kernel: rvhost builds against the tree distro-kdir.sh makes;
	# the image, the modules and an initramfs that loads the ones the test
	# kernels have built in (the 9p root's among them) are distro-boot.sh's.
	kdir=$("$RVHOST_TOP/scripts/distro-kdir.sh" "$RVHOST_DISTRO_KREL" | tail -n 1)
	boot=$("$RVHOST_TOP/scripts/distro-boot.sh" "$RVHOST_DISTRO_KREL" | tail -n 1)
	kernel=(-kernel "$boot/vmlinuz" -initrd "$boot/initramfs.cpio")
	modroot=$boot/modroot
	# A nested guest is a guest: it runs the default test kernel, which has
	# what scripts/mkinitramfs.sh's initramfs expects built in.
	nested=$(rvhost_kdir default)/arch/x86/boot/bzImage
	boot_timeout_default=180
	;;
*) die "unknown kernel $flavour: default, debug or distro" ;;
esac
mem=${mem:-$mem_default}
boot_timeout=${boot_timeout:-$boot_timeout_default}
out=${out:-$RVHOST_TOP/build/vm/$(date +%Y%m%d-%H%M%S)-$$}
mkdir -p "$out"
out=$(cd "$out" && pwd)
rm -f "$out/status" "$out/output.log" "$out/console.log" "$out/dmesg"

# The command and its environment, for scripts/vm/init.sh.
{
	echo "export RVHOST_OUT=/tmp/rvout"
	echo "export RVHOST_KDIR=$kdir"
	echo "export RVHOST_FLAVOUR=$flavour"
	echo "export RVHOST_MODDIR=$RVHOST_TOP/build/modules/$(basename "$kdir")"
	echo "export RVHOST_MODROOT=$modroot"
	echo "export RVHOST_NESTED_KERNEL=$nested"
	echo "export RVHOST_TOP=$RVHOST_TOP"
	echo "export RVHOST_CACHE=$RVHOST_CACHE"
	[ -n "$load" ] && echo "scripts/vm/modules.sh load $load || exit 125"
	# One argument is shell code (as with ssh); several are a command line.
	if [ $# -eq 1 ]; then printf '%s\n' "$1"; else printf '%q ' "$@"; echo; fi
} >"$out/cmd"

append="console=ttyS0 panic=-1 oops=panic loglevel=7 rw"
append+=" root=rvroot rootfstype=9p rootflags=trans=virtio,version=9p2000.L,msize=512000,cache=loose"
append+=" init=$RVHOST_TOP/scripts/vm/init.sh"
[ $flavour = debug ] && append+=" panic_on_warn=1 kasan.fault=panic"
# The test kernels are built without CPU mitigations
# (scripts/kernel/rvhost.config); Debian's boots without them too, which
# under TCG only cost time (retpolines, RSB filling).
[ $flavour = distro ] && append+=" mitigations=off"
# A VM beside busier ones (make check runs several, niced) may be off the
# host's CPUs for longer than the kernel's boot-time check of the timer
# interrupt waits, and would panic with "IO-APIC + timer doesn't work"
# (seen at nice 19 beside two busy loops on 2026-12-07). KVM's guests skip
# that check for the same reason (kvm.c).
append+=" no_timer_check"
# The kernel's own hang detectors (scripts/kernel/rvhost.config), with short
# limits, and a panic when one fires: the run ends at once, and the report
# below fails it even if the test program was killed meanwhile.
append+=" softlockup_panic=1 watchdog_thresh=10 rcupdate.rcu_cpu_stall_timeout=30"
append+=" sysctl.kernel.panic_on_rcu_stall=1"
append+=" sysctl.kernel.hung_task_timeout_secs=45 sysctl.kernel.hung_task_check_interval_secs=5"
append+=" sysctl.kernel.hung_task_panic=1"

qemu=(qemu-system-x86_64 -cpu max -smp 2 -m "$mem" -nographic -no-reboot
	-nic none -monitor none -serial "file:$out/console.log"
	"${kernel[@]}" -append "$append"
	-virtfs "local,path=/,mount_tag=rvroot,security_model=none,readonly=on,multidevs=remap"
	-virtfs "local,path=$out,mount_tag=rvout,security_model=none"
	-device virtio-rng-pci)

say "booting the $flavour kernel: $*"
: >"$out/output.log"
timeout --foreground "$timeout" "${qemu[@]}" </dev/null >"$out/qemu.log" 2>&1 &
qpid=$!
if [ $quiet = 0 ]; then
	tail -n +1 -f --pid=$qpid "$out/output.log" 2>/dev/null &
	tpid=$!
fi
# scripts/vm/init.sh prints this line first; a boot that never gets there
# (a device without an interrupt, a hang in early boot) fails now rather
# than after the whole timeout.
booted=0
for ((i = 0; i < boot_timeout; i++)); do
	if grep -q 'rvhost-vm: init started' "$out/console.log" 2>/dev/null; then
		booted=1
		break
	fi
	kill -0 $qpid 2>/dev/null || break
	sleep 1
done
if [ $booted = 0 ] && kill -0 $qpid 2>/dev/null; then
	kill $qpid 2>/dev/null
	wait $qpid 2>/dev/null
	[ $quiet = 0 ] && { kill $tpid 2>/dev/null || true; wait $tpid 2>/dev/null || true; }
	say "the guest did not reach init within ${boot_timeout}s; last console lines:"
	tail -n 20 "$out/console.log" >&2
	say "console log: $out/console.log"
	exit 102
fi
# setpriority(2) sets one thread's: QEMU's vCPU threads each need it. The
# threads QEMU starts later inherit it from the main thread.
if [ $booted = 1 ] && [ -n "$nice_after" ]; then
	for t in /proc/$(pgrep -P $qpid | head -n 1)/task/*; do
		renice -n "$nice_after" -p "${t##*/}" >/dev/null 2>&1 || true
	done
fi
qrc=0
wait $qpid || qrc=$?
[ $quiet = 0 ] && { sleep 0.2; kill $tpid 2>/dev/null || true; wait $tpid 2>/dev/null || true; }

# Reports the kernel makes when something went wrong, whichever way the test
# program exited.
bad='Oops|WARNING:|BUG:|kernel BUG|Kernel panic|general protection fault|UBSAN:|KASAN:|possible circular locking|inconsistent lock state|INFO: task .* blocked|soft lockup|detected stalls|self-detected stall'
if grep -Eq "$bad" "$out/console.log"; then
	say "the guest kernel reported a problem:"
	grep -E -A25 "$bad" "$out/console.log" | head -n 60 >&2
	say "console log: $out/console.log"
	exit 100
fi
if [ "$qrc" = 124 ]; then
	say "timed out after ${timeout}s; console log: $out/console.log"
	exit 124
fi
if [ ! -f "$out/status" ]; then
	say "the guest stopped without a result (qemu exit $qrc); console log: $out/console.log"
	tail -n 20 "$out/console.log" >&2
	cat "$out/qemu.log" >&2
	exit 101
fi
exit "$(cat "$out/status")"
