#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Leaks, as TAP (two sections, tools/testing/lib/tap.sh): net_cycles
# opens, configures, uses and closes a vhost-net device many times (it checks itself that no tap interface and no module
# reference is left behind); around it, every slab cache's count of
# objects in use is taken, after shrinking the caches so that objects
# parked in per-CPU slabs do not count. A cache that grew by more than half
# the number of cycles, and again over as many cycles more, leaked at least
# one object every other cycle.
#
# Usage: leak_test.sh BUILD_DIR
#   RVHOST_CYCLES   cycles (default 100); 10 more warm the caches up first

set -u
bindir=${1:?usage: $0 BUILD_DIR}
cycles=${RVHOST_CYCLES:-100}
# Overridden by the verdict machinery's own tests (tools/testing/verdicts).
slabinfo=${RVHOST_SLABINFO:-/proc/slabinfo}
slabdir=${RVHOST_SLABDIR:-/sys/kernel/slab}

# A snapshot that does not look like slabinfo measures nothing: it makes
# the verdict a failure rather than "no growth".
snapshots_ok=1
snapshot() { # file
	local c
	for c in "$slabdir"/*/shrink; do
		echo 1 >"$c" 2>/dev/null
	done
	# name and active objects, data lines only
	awk 'NR > 2 && $2 ~ /^[0-9]+$/ { print $1, $2 }' "$slabinfo" | sort >"$1"
	if [ "$(wc -l <"$1")" -lt 20 ] || ! grep -q '^kmalloc-64 ' "$1"; then
		snapshots_ok=0
	fi
}

. "$(dirname "$0")/../../lib/tap.sh"
tap_declare net_cycles leak_test

if [ ! -r "$slabinfo" ]; then
	nocount() {
		echo "1..1"
		echo "ok 1 net_cycles.slab_no_growth # SKIP no /proc/slabinfo (CONFIG_SLUB_DEBUG)"
	}
	tap_run net_cycles "$bindir/net_cycles"
	tap_run leak_test nocount
	exit 0
fi

# Warm-up: first-use allocations (per-CPU caches, page fragments) are not
# leaks.
RVHOST_CYCLES=10 "$bindir/net_cycles" >/dev/null 2>&1
sleep 1
snapshot /tmp/slab.before
RVHOST_CYCLES=$cycles tap_run net_cycles "$bindir/net_cycles"
cycles_rc=$?
# The caches that grew by more than half a cycle's worth since the
# snapshot in $1, as "name growth" lines. debug_objects_cache is the debug
# kernel's own pool of tracking objects, refilled in batches whenever it
# runs low: its count says nothing about the code under test. RCU-deferred
# frees and workqueues land late under TCG, so a growth is looked at again
# a few times before it counts.
grown() { # baseline
	local wait g
	for wait in 2 5 10; do
		sleep $wait
		snapshot /tmp/slab.after
		# a cache created since the baseline grew from 0
		g=$(join -a 2 -e 0 -o 0,1.2,2.2 "$1" /tmp/slab.after |
			grep -v '^debug_objects_cache ' |
			awk -v lim=$((cycles / 2)) '$3 - $2 > lim { print $1, $3 - $2 }')
		[ -n "$g" ] || break
	done
	echo "$g"
}
grown=$(grown /tmp/slab.before)
again_rc=0
if [ -n "$grown" ] && [ $cycles_rc = 0 ]; then
	# Something else in the VM may allocate a burst once; a leak grows
	# again with every run, in the same cache.
	echo "# grew over $cycles cycles:" $grown "; running them again"
	cp /tmp/slab.after /tmp/slab.mid
	RVHOST_CYCLES=$cycles "$bindir/net_cycles" >/dev/null 2>&1 || again_rc=$?
	again=$(grown /tmp/slab.mid)
	sort <<<"$grown" >/tmp/slab.grown1
	sort <<<"$again" >/tmp/slab.grown2
	grown=$(join /tmp/slab.grown1 /tmp/slab.grown2 |
		awk '{ printf "%s +%d +%d ", $1, $2, $3 }')
fi
# Slab counts say nothing about cycles that did not run.
verdict() {
	echo "1..1"
	if [ $cycles_rc != 0 ] || [ $again_rc != 0 ]; then
		echo "not ok 1 net_cycles.slab_no_growth # net_cycles failed (exit $cycles_rc, then $again_rc)"
		return 1
	elif [ $snapshots_ok = 0 ]; then
		echo "not ok 1 net_cycles.slab_no_growth # $slabinfo does not look like slabinfo"
		return 1
	elif [ -z "$grown" ]; then
		echo "ok 1 net_cycles.slab_no_growth"
	else
		echo "not ok 1 net_cycles.slab_no_growth # grew in both runs: $grown"
		return 1
	fi
}
tap_run leak_test verdict
