# SPDX-License-Identifier: GPL-2.0
# Sourced by scripts/vm/nested.sh: its verdicts on a vsock_test role from
# both ends' output. The caller has vt_name[ID] and vt_cases[ID] (the tests
# and their TAP names), vt_skipwhy[ROLE.CASE] (vsock_test.skip) and
# verdict NAME ok|skip|fail TEXT. tools/testing/verdicts/test_verdicts.py
# runs it on synthetic output.

# vsock_test's output, "TIME LINE" per line (TIME "-" when not known), as
# results: vt_out[SIDE.ID] ok|skipped|failed, vt_text[SIDE.ID] what else
# the test printed, vt_secs[SIDE.ID] its time; vt_done[SIDE] 1 when the
# last barrier passed, vt_exit[SIDE] the exit status ("none": no status),
# vt_secs[SIDE] the time from the first test's start to the last barrier,
# all of the last run; vt_runs[SIDE] the runs. A test's line is "ID -
# NAME..." and what its run printed; "ok" (or "skipped") ends it, but lands
# only when the next test's line is flushed. A rerun's "skipped" leaves the
# result of the run before; vt_first[SIDE.ID] is what a rerun replaced.
declare -A vt_out vt_text vt_secs vt_done vt_exit vt_runs vt_first
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
	if [ -n "${vt_out[$key]-}" ]; then
		[ "$out" = skipped ] && return 0
		vt_first[$key]=$(vt_say "$1" "$2")
	fi
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
	vt_done[$side]=0 vt_exit[$side]=none vt_runs[$side]=1
	while read -r ts line; do
		start="$((cur + 1)) - ${vt_name[cur + 1]-}..."
		if [[ $line == "rvhost-exit "* ]]; then
			vt_exit[$side]=${line#rvhost-exit }
		elif [[ $line == "rvhost-rerun"* ]]; then
			[ $cur -ge 0 ] && [ $cur -lt $n ] && vt_close "$side" $cur "$text" "$t0" "$t1"
			cur=-1 text="" first="" vt_done[$side]=0 vt_exit[$side]=none
			vt_runs[$side]=$((vt_runs[$side] + 1))
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

# Both ends must have passed a test (each checks its own half); a listed
# test must have been skipped by both.
vt_judge() { # role, this VM's lines, the nested guest's
	local r=$1 id key h g note
	vt_out=() vt_text=() vt_secs=() vt_done=() vt_exit=() vt_runs=() vt_first=()
	vt_parse host <"$2"
	vt_parse guest <"$3"
	h=$(vt_ended host) g=$(vt_ended guest)
	note=""
	[ "${vt_runs[host]} ${vt_runs[guest]}" = "1 1" ] ||
		note="; runs: ${vt_runs[host]} in this VM, ${vt_runs[guest]} in the nested guest"
	if [ "$h $g" = "ok ok" ]; then
		verdict "vsock_test.$r" ok "time of the last run ${vt_secs[host]-?} s$note"
	else
		verdict "vsock_test.$r" fail "this VM's vsock_test: $h; the nested guest's: $g$note"
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
			# Counted by scripts/check.sh: keep the words.
			[ -n "${vt_first[host.$id]-}${vt_first[guest.$id]-}" ] &&
				note+="; passed on a rerun, the first run: this VM's ${vt_first[host.$id]-did not get to it}, the nested guest's ${vt_first[guest.$id]-did not get to it}"
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

