#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# In the test VM (scripts/bench.sh): every workload against the C vhost_net
# and rvhost_net, alternately (C, rvhost, C, rvhost, ...), PAIRS times, so
# that the machine's drift falls on both alike. Each run is one net_bench
# line of JSON, with "impl" and "pair" added, into $RVHOST_OUT/bench.jsonl;
# a progress line per run on stdout. The modules are loaded for each run
# and unloaded after it. Workloads C cannot run (packed ring, in-order) run
# against rvhost only.
#
# With BENCH_PROFILE=1, each workload then runs once more per
# implementation under `perf record -a -g` (software clock, 2 kHz), and the
# hottest symbols go to $RVHOST_OUT/profile-WORKLOAD-IMPL.txt.
#
# Usage: run.sh BENCH_DIR PAIRS SECONDS WORKLOAD...
#   WORKLOAD  net_bench's arguments joined by commas: tx,64 or
#             tx,1514,--packed

set -u
bindir=${1:?usage: $0 BENCH_DIR PAIRS SECONDS WORKLOAD...}
pairs=${2:?} secs=${3:?}
shift 3
out=$RVHOST_OUT/bench.jsonl

profile() { # workload impl seconds net_bench-arguments...
	local w=$1 impl=$2 secs=$3 f
	shift 3
	f=$RVHOST_OUT/profile-${w//,/}-$impl.txt
	echo 0 >/proc/sys/kernel/kptr_restrict
	echo -1 >/proc/sys/kernel/perf_event_paranoid
	scripts/vm/modules.sh load $impl >/dev/null 2>&1 || return 1
	if perf record -q -e cpu-clock -F 2000 -a -g -o /tmp/bench.perf -- \
		"$bindir/net_bench" "$@" --seconds "$secs" >/dev/null 2>/tmp/bench.err; then
		{
			echo "# $w against $impl: perf record -e cpu-clock -F 2000 -a -g"
			perf report -i /tmp/bench.perf --stdio --no-children --sort dso -g none 2>/dev/null |
				grep -v '^#' | grep -v '^$' | head -n 8
			perf report -i /tmp/bench.perf --stdio --no-children --sort dso,sym -g none 2>/dev/null |
				grep -v '^#' | grep -v '^$' | head -n 60
		} >"$f"
		echo "bench: profile of $w against $impl: ${f##*/}"
	else
		echo "bench: profile of $w against $impl: FAILED: $(tr '\n' ' ' </tmp/bench.err)"
	fi
	scripts/vm/modules.sh unload $impl >/dev/null 2>&1
}
: >"$out"
rc=0
n=0 total=0
for w in "$@"; do
	case "$w" in *--packed* | *--in-order*) total=$((total + pairs)) ;; *) total=$((total + 2 * pairs)) ;; esac
done
for w in "$@"; do
	IFS=, read -r -a args <<<"$w"
	impls="c rvhost"
	case "$w" in *--packed* | *--in-order*) impls=rvhost ;; esac
	for pair in $(seq "$pairs"); do
		for impl in $impls; do
			n=$((n + 1))
			if ! scripts/vm/modules.sh load $impl >/tmp/bench.modules 2>&1; then
				echo "bench: loading $impl failed: $(tr '\n' ' ' </tmp/bench.modules)"
				rc=1
				continue
			fi
			if line=$("$bindir/net_bench" "${args[@]}" --seconds "$secs" 2>/tmp/bench.err); then
				echo "${line%\}}, \"impl\": \"$impl\", \"pair\": $pair}" >>"$out"
				echo "bench: [$n/$total] $w $impl pair $pair: $line"
			else
				echo "bench: [$n/$total] $w $impl pair $pair: FAILED: $(tr '\n' ' ' </tmp/bench.err)"
				rc=1
			fi
			scripts/vm/modules.sh unload $impl >/tmp/bench.modules 2>&1 ||
				{ echo "bench: unloading $impl failed: $(tr '\n' ' ' </tmp/bench.modules)"; rc=1; }
		done
	done
	[ "${BENCH_PROFILE:-0}" = 1 ] || continue
	for impl in $impls; do
		profile "$w" $impl "$secs" "${args[@]}" || rc=1
	done
done
exit $rc
