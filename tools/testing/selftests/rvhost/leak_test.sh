#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Leaks, as TAP (two sections per program, tools/testing/lib/tap.sh). Each
# cycles program opens, configures, uses and closes a device many times,
# and checks itself that nothing it can see is left behind: net_cycles
# (vhost-net: tap interfaces, module references), then vsock_cycles
# (vhost-vsock: the CID, module references, connected sockets). Around each
# run, every slab cache's count of objects in use is taken, after shrinking
# the caches so that objects parked in per-CPU slabs do not count. A cache
# that grew by more than half the number of cycles, and again over as many
# cycles more, leaked at least one object every other cycle.
#
# Sections: net_cycles, leak_test (net_cycles.slab_no_growth),
# vsock_cycles, vsock_leak_test (vsock_cycles.slab_no_growth).
#
# Usage: leak_test.sh BUILD_DIR
#   RVHOST_CYCLES   cycles (default 100); 10 more warm the caches up first
# Exit status: 1 if a leak verdict is a failure.

set -u
bindir=${1:?usage: $0 BUILD_DIR}
cycles=${RVHOST_CYCLES:-100}
# Overridden by the verdict machinery's own tests (tools/testing/verdicts):
# the slab counts, and how long a growth is waited out (seconds, in turn).
slabinfo=${RVHOST_SLABINFO:-/proc/slabinfo}
slabdir=${RVHOST_SLABDIR:-/sys/kernel/slab}
vmallocinfo=${RVHOST_VMALLOCINFO:-/proc/vmallocinfo}
waits=${RVHOST_SLAB_WAITS:-2 5 10}
tmp=$(mktemp -d /tmp/leak_test.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT

# A snapshot that does not look like slabinfo measures nothing: it makes
# the verdict a failure rather than "no growth".
snapshots_ok=1
snapshot() { # file
	local c
	for c in "$slabdir"/*/shrink; do
		echo 1 >"$c" 2>/dev/null
	done
	# name and active objects, data lines only; and the vmalloc areas in
	# use (see grown()) as if they were a cache
	{
		awk 'NR > 2 && $2 ~ /^[0-9]+$/ { print $1, $2 }' "$slabinfo"
		[ -r "$vmallocinfo" ] &&
			echo "vmalloc_busy $(grep -vc ' unpurged vm_area$' "$vmallocinfo")"
	} | sort >"$1"
	if [ "$(wc -l <"$1")" -lt 20 ] || ! grep -q '^kmalloc-64 ' "$1"; then
		snapshots_ok=0
	fi
}

# The caches that grew by more than half a cycle's worth since the
# snapshot in $1, as "name growth" lines. debug_objects_cache is the debug
# kernel's own pool of tracking objects, refilled in batches whenever it
# runs low: its count says nothing about the code under test. RCU-deferred
# frees and workqueues land late under TCG, so a growth is looked at again
# a few times before it counts. vmap_area also counts vmalloc areas freed
# and kept (mm/vmalloc.c): on the lazy list until a purge, which waits for
# tens of megabytes of them, then in per-node pools for reuse, which each
# purge shrinks by a quarter. With CONFIG_VMAP_STACK each device's worker
# thread's stack is such an area. The areas in use are counted instead:
# vmalloc_busy, /proc/vmallocinfo's lines but the "unpurged" ones.
#
# The result goes to a file, and every snapshot is taken by this shell
# itself, never from a $(...) subshell: the processes alive make the
# counts too, and one bash more made anon_vma_chain grow by 88 (the debug
# kernel) and vm_area_struct and kmalloc-8/-32 by 60-75, a "growth" that
# cost every run 100 more cycles.
grown() { # baseline result
	local wait g
	for wait in $waits; do
		sleep "$wait"
		snapshot "$tmp/after"
		# a cache created since the baseline grew from 0
		g=$(join -a 2 -e 0 -o 0,1.2,2.2 "$1" "$tmp/after" |
			grep -Ev '^(debug_objects_cache|vmap_area) ' |
			awk -v lim=$((cycles / 2)) '$3 - $2 > lim { print $1, $3 - $2 }')
		[ -n "$g" ] || break
	done
	echo "$g" >"$2"
}

# The leak verdict on a program's runs. Slab counts say nothing about
# cycles that did not run.
verdict() { # program cycles-exit again-exit grown
	local t=$1.slab_no_growth
	echo "1..1"
	if [ "$2" != 0 ] || [ "$3" != 0 ]; then
		echo "not ok 1 $t # $1 failed (exit $2, then $3)"
		return 1
	elif [ $snapshots_ok = 0 ]; then
		echo "not ok 1 $t # $slabinfo does not look like slabinfo"
		return 1
	elif [ -z "$4" ]; then
		echo "ok 1 $t"
	else
		echo "not ok 1 $t # grew in both runs: $4"
		return 1
	fi
}

nocount() { # program
	echo "1..1"
	echo "ok 1 $1.slab_no_growth # SKIP no /proc/slabinfo (CONFIG_SLUB_DEBUG)"
}

# Run PROGRAM as a section of its own, then judge the slab counts around
# it as the section SECTION.
leak_check() { # program section
	local prog=$1 section=$2 cycles_rc again_rc=0 grown again rc t0=$SECONDS
	if [ ! -r "$slabinfo" ]; then
		tap_run "$prog" "$bindir/$prog"
		tap_run "$section" nocount "$prog"
		return 0
	fi
	snapshots_ok=1
	# Warm-up: first-use allocations (per-CPU caches, page fragments) are
	# not leaks; what it freed late lands in the first wait.
	RVHOST_CYCLES=10 "$bindir/$prog" >/dev/null 2>&1
	sleep "${waits%% *}"
	snapshot "$tmp/before"
	RVHOST_CYCLES=$cycles tap_run "$prog" "$bindir/$prog"
	cycles_rc=$?
	grown "$tmp/before" "$tmp/grown1"
	grown=$(cat "$tmp/grown1")
	if [ -n "$grown" ] && [ $cycles_rc = 0 ]; then
		# Something else in the VM may allocate a burst once; a leak
		# grows again with every run, in the same cache.
		echo "# $prog grew over $cycles cycles:" $grown "; running them again"
		cp "$tmp/after" "$tmp/mid"
		RVHOST_CYCLES=$cycles "$bindir/$prog" >/dev/null 2>&1 || again_rc=$?
		grown "$tmp/mid" "$tmp/grown2"
		sort -o "$tmp/grown1" "$tmp/grown1"
		sort -o "$tmp/grown2" "$tmp/grown2"
		grown=$(join "$tmp/grown1" "$tmp/grown2" |
			awk '{ printf "%s +%d +%d ", $1, $2, $3 }')
	fi
	tap_run "$section" verdict "$prog" $cycles_rc $again_rc "$grown"
	rc=$?
	echo "# $prog: the leak check took $((SECONDS - t0)) s"
	return $rc
}

. "$(dirname "$0")/../../lib/tap.sh"
tap_declare net_cycles leak_test vsock_cycles vsock_leak_test
rc=0
leak_check net_cycles leak_test || rc=1
leak_check vsock_cycles vsock_leak_test || rc=1
exit $rc
