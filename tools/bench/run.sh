#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# In the test VM (scripts/bench.sh): every workload against the C drivers
# (vhost_net, vhost_vsock) and rvhost's (rvhost_net, rvhost_vsock),
# alternately (C, rvhost, C, rvhost, ...), PAIRS times, so that the
# machine's drift falls on both alike. Each run is one line of JSON from
# net_bench or vsock_bench, with "impl" and "pair" added, into
# $RVHOST_OUT/bench.jsonl; a progress line per run on stdout. The modules
# are loaded for each run and unloaded after it. Workloads C cannot run
# (the packed ring, another fetch_batch) run against rvhost only.
#
# With BENCH_PROFILE=1, each workload then runs once more per
# implementation under `perf record -a -g` (software clock, 2 kHz; for
# nested-tcp a whole boot of the nested guest and its transfers), and the
# hottest symbols go to $RVHOST_OUT/profile-WORKLOAD-IMPL.txt; that run lasts
# BENCH_PROFILE_SECONDS if set (more samples), else SECONDS.
#
# Usage: run.sh BENCH_DIR PAIRS SECONDS WORKLOAD...
#   WORKLOAD  net_bench's arguments joined by commas: tx,64,
#             tx,1514,--packed or mem,64; vsock_bench's with "vsock-"
#             before the first: vsock-stream-h2g,4k or vsock-rr,1; a
#             field batch=N loads rvhost with fetch_batch=N (rvhost only,
#             "-batchN" added to the name); or modsize or nested-tcp
#             (below)
#
# nested-tcp runs PAIRS pairs, but at most $BENCH_NESTED_PAIRS (default 3):
# each run boots a nested guest, a minute and a half or more.

set -u
bindir=${1:?usage: $0 BENCH_DIR PAIRS SECONDS WORKLOAD...}
pairs=${2:?} secs=${3:?}
shift 3
out=$RVHOST_OUT/bench.jsonl

# The samples of a `perf record -a` in $1 by kernel symbol and module,
# resolved against $2, a copy of /proc/kallsyms taken while the modules
# were loaded: the shares of the 60 hottest, and per module. perf's own
# resolution files a module's samples under another one: its module maps
# are /proc/modules' address of the text and size of all of a module's
# memory (text, data and rodata are apart since Linux 6.4), so a map
# overlaps the text of the module loaded after it (rvhost_vsock's under
# rvhost_net, vhost_vsock's under vhost_net or vhost_iotlb).
kallsyms_report() { # perf.data kallsyms worker-tids
	{
		awk '$2 ~ /^[tT]$/ { print $1, 0, $3, ($4 == "" ? "[kernel]" : $4) }' "$2"
		perf script -i "$1" -F tid,ip -G 2>/dev/null |
			awk '{ s = $NF; while (length(s) < 16) s = "0" s; print s, 1, $1 }'
	} | LC_ALL=C sort -k1,1 -k2,2n | awk -v workers=" $(cat "$3" 2>/dev/null | tr '\n' ' ') " '
		function hex(s,  i, n) {
			n = 0
			for (i = 1; i <= length(s); i++)
				n = n * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
			return n
		}
		$2 == 0 { cur = $3 " " $4; mod = $4; base = hex(substr($1, 9)); next }
		{
			n++
			if (cur == "") { sym["[user] [user]"]++; dso["[user]"]++; next }
			sym[cur]++; dso[mod]++
			if (index(workers, " " $3 " ")) { nw++; wsym[cur]++ }
			if (mod ~ /vhost/) { off[cur "+" sprintf("%x", hex(substr($1, 9)) - base)]++ }
		}
		END {
			printf "# kallsyms: %d samples, %d of them in vhost-* threads\n", n, nw
			for (m in dso) printf "%7.2f%%  %s\n", 100 * dso[m] / n, m | "sort -rn"
			close("sort -rn")
			for (s in sym) printf "%7.2f%%  %s\n", 100 * sym[s] / n, s | "sort -rn | head -n 60"
			close("sort -rn | head -n 60")
			print "# the vhost worker thread only: share of its samples, samples"
			if (nw) for (s in wsym) printf "%7.2f%% %5d  %s\n", 100 * wsym[s] / nw, wsym[s], s | "sort -rn | head -n 50"
			close("sort -rn | head -n 50")
			print "# samples in the vhost modules by symbol+offset (for addr2line)"
			for (s in off) printf "%5d  %s\n", off[s], s | "sort -rn | head -n 80"
		}'
}

# The vhost worker's samples (the threads in $3) by their leaf and its
# four callers, resolved against $2 as kallsyms_report does: under TCG a
# sample waits for interrupts to be enabled, so what the worker did with
# them off lands where they come back on, and only the callers say what.
worker_chains() { # perf.data kallsyms worker-tids
	{
		awk '$2 ~ /^[tT]$/ { print $1, 0, $3 }' "$2"
		perf script -i "$1" -F tid,ip 2>/dev/null |
			awk -v workers=" $(cat "$3" 2>/dev/null | tr '\n' ' ') " '
				NF == 0 { in_w = 0; next }
				$0 !~ /^\t/ { n++; d = 0; in_w = index(workers, " " $1 " ") > 0; next }
				in_w { s = $1; while (length(s) < 16) s = "0" s; print s, 1, n, d++ }'
	} | LC_ALL=C sort -k1,1 -k2,2n | awk '
		$2 == 0 { cur = $3; next }
		{ print $3, $4, (cur == "" ? "[user]" : cur) }' |
		sort -k1,1n -k2,2n | awk '
		function flush() { if (chain != "") { c[chain]++; n++ } chain = "" }
		$1 != last { flush(); last = $1 }
		$2 < 5 { chain = chain (chain == "" ? "" : " <- ") $3 }
		END {
			flush()
			printf "# the worker'"'"'s %d samples by leaf and callers\n", n
			for (k in c) printf "%5d  %s\n", c[k], k | "sort -rn | head -n 60"
		}'
}

# Unloads an implementation's modules after a run, saying so if it fails.
unload_impl() { # impl
	scripts/vm/modules.sh unload "$1" >/tmp/bench.modules 2>&1 && return 0
	echo "bench: unloading $1 failed: $(tr '\n' ' ' </tmp/bench.modules)"
	return 1
}

# Runs COMMAND with the modules of IMPL loaded under perf record, and
# writes what it found to $RVHOST_OUT/profile-WORKLOAD-IMPL.txt; FIGURES,
# a command reading COMMAND's output, gives the run's figures, or fails if
# the run did.
profile() { # workload impl figures command...
	local w=$1 impl=$2 figures=$3 f poller
	shift 3
	f=$RVHOST_OUT/profile-${w//,/}-$impl.txt
	echo 0 >/proc/sys/kernel/kptr_restrict
	echo -1 >/proc/sys/kernel/perf_event_paranoid
	# shellcheck disable=SC2086 # mp: the module parameters, a list
	scripts/vm/modules.sh load $impl ${mp:-} >/dev/null 2>&1 || return 1
	# The worker's thread ids, for as long as the command runs (the nested
	# guest's QEMU starts late): perf knows a worker by its owner's name
	# (a vhost_task is named without a COMM event).
	: >/tmp/bench.workers
	(while ! [ -s /tmp/bench.workers ]; do
		sleep 1
		ps -e -L -o tid=,comm= | awk '$2 ~ /^vhost-/ { print $1 }' >/tmp/bench.workers
	done) &
	poller=$!
	if perf record -q -e cpu-clock -F "$PERF_HZ" -a -g -o /tmp/bench.perf -- \
		"$@" >/tmp/bench.out 2>/tmp/bench.err; then
		kill $poller 2>/dev/null
		wait $poller 2>/dev/null
		if ! figs=$($figures </tmp/bench.out 2>/tmp/bench.err); then
			echo "bench: profile of $w against $impl: FAILED: the run failed: $(tr '\n' ' ' </tmp/bench.err | tail -c 400)"
			scripts/vm/modules.sh unload $impl >/dev/null 2>&1
			return 1
		fi
		cp /proc/kallsyms /tmp/bench.kallsyms
		cp /proc/modules /tmp/bench.modules
		for m in $(awk '/vhost/ { print $1 }' /proc/modules); do
			cat /sys/module/$m/sections/.text /sys/module/$m/sections/.data 2>/dev/null | tr '\n' ' ' >/tmp/bench.sections.$m
		done
		{
			echo "# $w against $impl: perf record -e cpu-clock -F $PERF_HZ -a -g"
			# The run's figures and the sample count: a symbol's
			# share times samples / $PERF_HZ / frames is its time
			# per frame, comparable between the implementations.
			echo "# $(tr '\n' ' ' <<<"$figs")"
			perf report -i /tmp/bench.perf --stdio --no-children --sort dso -g none 2>/dev/null |
				grep -E '^# (Samples|Event count)'
			perf report -i /tmp/bench.perf --stdio --no-children --sort dso -g none 2>/dev/null |
				grep -v '^#' | grep -v '^$' | head -n 8
			perf report -i /tmp/bench.perf --stdio --no-children --sort dso,sym -g none 2>/dev/null |
				grep -v '^#' | grep -v '^$' | head -n 150
			echo "# by symbol and module from /proc/kallsyms (perf puts a module's samples under its neighbour's)"
			echo "# module, /proc/modules address and size (perf's map), .text and .data addresses:"
			awk '/vhost/ { print $1, $6, $2 }' /tmp/bench.modules | while read -r m a z; do
				echo "# $m $a $z $(cat /tmp/bench.sections.$m 2>/dev/null)"
			done
			kallsyms_report /tmp/bench.perf /tmp/bench.kallsyms /tmp/bench.workers
			worker_chains /tmp/bench.perf /tmp/bench.kallsyms /tmp/bench.workers
			# Who calls the hottest non-idle symbols (under TCG a
			# sample waits for interrupts to be enabled, so what
			# ran with them off lands where they come back on).
			for sym in $(perf report -i /tmp/bench.perf --stdio --no-children --sort sym -g none 2>/dev/null |
				awk '$1 ~ /%$/ && $3 != "__cpuidle_text_start" { print $3 }' | head -n 2); do
				echo "# callers of $sym"
				perf report -i /tmp/bench.perf --stdio --no-children -S "$sym" -G 2>/dev/null |
					grep -v '^#' | grep -v '^$' | head -n 60
			done
		} >"$f"
		echo "bench: profile of $w against $impl: ${f##*/}"
	else
		kill $poller 2>/dev/null
		wait $poller 2>/dev/null
		echo "bench: profile of $w against $impl: FAILED: $(tr '\n' ' ' </tmp/bench.err | tail -c 400)"
	fi
	scripts/vm/modules.sh unload $impl >/dev/null 2>&1
}
: >"$out"
rc=0
n=0 total=0
# modsize: each implementation's modules' size in memory (coresize, text
# and data), per device type: C's vhost_net or vhost_vsock with the vhost
# and vhost_iotlb modules they need, against rvhost_net or rvhost_vsock.
modsize() {
	local impl kind mods m bytes
	for impl in c rvhost; do
		scripts/vm/modules.sh load $impl >/dev/null 2>&1 || { echo "bench: loading $impl failed"; return 1; }
		for kind in net vsock; do
			mods="rvhost_$kind"
			[ $impl = c ] && mods="vhost_$kind vhost vhost_iotlb"
			bytes=0
			for m in $mods; do
				bytes=$((bytes + $(cat /sys/module/$m/coresize)))
			done
			echo "{\"workload\": \"modsize-$kind\", \"bytes\": $bytes, \"impl\": \"$impl\", \"pair\": 1}" >>"$out"
			echo "bench: module size, $kind, $impl: $bytes bytes ($mods)"
		done
		scripts/vm/modules.sh unload $impl >/dev/null 2>&1
	done
}

# nested-tcp: the end-to-end test's nested guest (scripts/vm/nested.sh tcp:
# QEMU with -netdev tap,vhost=on on the loaded /dev/vhost-net) downloads 16
# MiB from this VM over TCP, then uploads as many. Per run, a JSON line per
# direction, from the guest's side: nested-tcp-rx (this VM to the guest,
# vhost's RX) and nested-tcp-tx (the guest to this VM, vhost's TX), each
# timed by the VM's end from the connection's accept to its end
# (tcp_peer.py --cpu), with the vhost worker's CPU time over the same span
# (se.sum_exec_runtime of QEMU's vhost-PID thread, and its utime + stime),
# the share of QEMU's CPU time that was the worker's, how often the
# worker went to sleep (its runs), the frames the tap passed and, on RX,
# the nested guest's receive interrupts and what held this VM's TCP sender
# back (tcp_info). nested.sh's own
# output goes to $RVHOST_OUT/nested-tcp-IMPL-PAIR.log.
nested_pairs() {
	local max=${BENCH_NESTED_PAIRS:-3}
	[ "$pairs" -lt "$max" ] && echo "$pairs" || echo "$max"
}
nested_json() { # impl pair < nested.sh's output
	awk -v impl="$1" -v pair="$2" -v hz="$(getconf CLK_TCK)" '
	/^  peer: sent [0-9]+ / { size["rx"] = $3 }
	/^  nested guest: rx-irqs [0-9]+$/ { irqs["rx"] = $4 }
	/^  peer: tcp sent [0-9]+ / { tcp["rx"] = sprintf(", \"tcp_busy_us\": %d, \"tcp_rwnd_limited_us\": %d, \"tcp_sndbuf_limited_us\": %d, \"tcp_cwnd\": %d, \"tcp_snd_wnd\": %d, \"tcp_segs\": %d", $4, $5, $6, $7, $8, $9) }
	/^  peer: received [0-9]+ / { size["tx"] = $3 }
	/^  peer: cpu (sent|received) / {
		d = $3 == "sent" ? "rx" : "tx"
		secs[d] = $4; wns[d] = $5; wt[d] = $6; pt[d] = $7; nw[d] = $8; sl[d] = $9; fr[d] = $10
	}
	END {
		bad = 0
		split("tx rx", dirs, " ")
		for (i = 1; i <= 2; i++) {
			d = dirs[i]
			if (!(d in secs) || secs[d] <= 0 || !(d in size)) {
				print "no time for nested-tcp-" d > "/dev/stderr"
				bad = 1
				continue
			}
			line = sprintf("{\"workload\": \"nested-tcp-%s\", \"size\": %d, \"seconds\": %.3f, \"bytes_per_s\": %.1f", d, size[d], secs[d], size[d] / secs[d])
			if (nw[d] == "1/1" && pt[d] > 0) {
				line = line sprintf(", \"worker_ns_per_byte\": %.6g, \"worker_ns\": %d, \"worker_ticks\": %d, \"qemu_ticks\": %d, \"worker_share\": %.4g", wns[d] / size[d], wns[d], wt[d], pt[d], wns[d] / 1e9 / (pt[d] / hz))
				if (sl[d] ~ /^[0-9]+$/)
					line = line sprintf(", \"worker_sleeps\": %d", sl[d])
			}
			else {
				line = line sprintf(", \"worker_ns_per_byte\": null, \"workers\": \"%s\"", nw[d])
				print "nested-tcp-" d ": vhost worker threads " nw[d] ", want 1/1" > "/dev/stderr"
				bad = 1
			}
			if (fr[d] ~ /^[0-9]+$/ && fr[d] > 0)
				line = line sprintf(", \"frames\": %d", fr[d])
			if (d in irqs)
				line = line sprintf(", \"guest_irqs\": %d", irqs[d])
			if (d in tcp)
				line = line tcp[d]
			print line sprintf(", \"impl\": \"%s\", \"pair\": %d}", impl, pair)
		}
		exit bad
	}'
}
nested_tcp() {
	local pair impl log nrc lines line why
	for pair in $(seq "$(nested_pairs)"); do
		for impl in c rvhost; do
			n=$((n + 1))
			if ! scripts/vm/modules.sh load $impl >/tmp/bench.modules 2>&1; then
				echo "bench: [$n/$total] nested-tcp $impl pair $pair: FAILED: loading $impl: $(tr '\n' ' ' </tmp/bench.modules)"
				rc=1
				continue
			fi
			log=$RVHOST_OUT/nested-tcp-$impl-$pair.log
			nrc=0
			scripts/vm/nested.sh --cpu tcp >"$log" 2>&1 || nrc=$?
			why=""
			if [ $nrc != 0 ] || ! grep -q '^nested: tcp: ok' "$log"; then
				why="$(grep -m1 '^nested: tcp: ' "$log" || echo "no verdict"), nested.sh exit $nrc"
			elif ! lines=$(nested_json $impl "$pair" <"$log" 2>/tmp/bench.err); then
				why=$(tr '\n' ' ' </tmp/bench.err)
				# Times without the worker's CPU time are kept.
				[ -z "$lines" ] || echo "$lines" >>"$out"
			else
				echo "$lines" >>"$out"
			fi
			if [ -z "$why" ]; then
				while IFS= read -r line; do
					echo "bench: [$n/$total] nested-tcp $impl pair $pair: $line"
				done <<<"$lines"
			else
				echo "bench: [$n/$total] nested-tcp $impl pair $pair: FAILED: $why (see ${log##*/})"
				rc=1
			fi
			unload_impl $impl || rc=1
		done
	done
}

# A nested run's figures, if its verdict is ok.
nested_figures() { # impl < nested.sh's output
	local log
	log=$(cat)
	grep -q '^nested: tcp: ok' <<<"$log" || {
		grep -m1 '^nested: tcp: ' <<<"$log" >&2 || echo "no verdict" >&2
		return 1
	}
	nested_json "$1" 0 <<<"$log"
}

rvhost_only() { # workload
	case "$1" in *--packed* | *batch=*) return 0 ;; esac
	return 1
}
for w in "$@"; do
	[ "$w" = modsize ] && continue
	[ "$w" = nested-tcp ] && { total=$((total + 2 * $(nested_pairs))); continue; }
	if rvhost_only "$w"; then total=$((total + pairs)); else total=$((total + 2 * pairs)); fi
done
for w in "$@"; do
	if [ "$w" = modsize ]; then
		modsize || rc=1
		continue
	fi
	if [ "$w" = nested-tcp ]; then
		nested_tcp
		[ "${BENCH_PROFILE:-0}" = 1 ] || continue
		# A whole boot of the nested guest and its transfers: the
		# worker is busy for a second of it, so the rate stays high.
		for impl in c rvhost; do
			PERF_HZ=2000 profile nested-tcp $impl "nested_figures $impl" \
				scripts/vm/nested.sh --cpu tcp || rc=1
		done
		continue
	fi
	IFS=, read -r -a fields <<<"$w"
	args=() mparams=() suffix="" prog=net_bench
	for f in "${fields[@]}"; do
		case "$f" in
		batch=*) mparams+=(fetch_batch=${f#batch=}) suffix=-batch${f#batch=} ;;
		*) args+=("$f") ;;
		esac
	done
	case "${args[0]}" in
	vsock-*) prog=vsock_bench args[0]=${args[0]#vsock-} ;;
	esac
	impls="c rvhost"
	rvhost_only "$w" && impls=rvhost
	for pair in $(seq "$pairs"); do
		for impl in $impls; do
			n=$((n + 1))
			if ! scripts/vm/modules.sh load $impl "${mparams[@]}" >/tmp/bench.modules 2>&1; then
				echo "bench: loading $impl failed: $(tr '\n' ' ' </tmp/bench.modules)"
				rc=1
				continue
			fi
			if line=$("$bindir/$prog" "${args[@]}" --seconds "$secs" 2>/tmp/bench.err); then
				# The batch goes into the workload's name.
				[ -z "$suffix" ] || line=$(sed "s/\"workload\": \"\([^\"]*\)\"/\"workload\": \"\1$suffix\"/" <<<"$line")
				echo "${line%\}}, \"impl\": \"$impl\", \"pair\": $pair}" >>"$out"
				echo "bench: [$n/$total] $w $impl pair $pair: $line"
			else
				echo "bench: [$n/$total] $w $impl pair $pair: FAILED: $(tr '\n' ' ' </tmp/bench.err)"
				rc=1
			fi
			unload_impl $impl || rc=1
		done
	done
	[ "${BENCH_PROFILE:-0}" = 1 ] || continue
	for impl in $impls; do
		mp="${mparams[*]}" PERF_HZ=2000 profile "$w" $impl cat \
			"$bindir/$prog" "${args[@]}" --seconds "${BENCH_PROFILE_SECONDS:-$secs}" || rc=1
	done
done
exit $rc
