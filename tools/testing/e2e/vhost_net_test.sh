#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# In the test VM: run the kernel's own tools/virtio/vhost_net_test (built by
# tools/testing/vhost_net_test/Makefile) against whichever /dev/vhost-net is
# loaded, once per option set, and print TAP: one case per option set, named
# vhost_net_test.<set>, with the time it took (one section,
# tools/testing/lib/tap.sh).
#
# Usage: vhost_net_test.sh BINARY
#   VHOST_NET_TEST_BUFS     --buf-num for each run: default 16384 (2.3-2.6 s
#                           a run under TCG), 4096 on the debug kernel
#                           (3.4-3.9 s: KASAN makes each buffer about 6
#                           times slower); the program's own default,
#                           1048576, would take minutes
#   VHOST_NET_TEST_TIMEOUT  seconds before a run counts as hung (default 120)
#
# Each run moves BUFS 256-byte frames through the RX queue (written to the
# tap by an AF_PACKET socket) and then BUFS through the TX queue (read back
# from the same socket), checking every byte. The option sets are those that
# work against the C vhost_net in 7.2 (Documentation/testing.rst says why
# --no-virtio-1 and --batch are not among them).

set -u
bin=${1:?usage: $0 BINARY}
bufs=16384
[ "${RVHOST_FLAVOUR:-}" = debug ] && bufs=4096
bufs=${VHOST_NET_TEST_BUFS:-$bufs}
limit=${VHOST_NET_TEST_TIMEOUT:-120}

sets=(
	"default:"
	"no_indirect:--no-indirect"
	"no_event_idx:--no-event-idx"
	"delayed_interrupt:--delayed-interrupt"
	"no_event_idx_no_indirect_delayed:--no-event-idx --no-indirect --delayed-interrupt"
)

echo "1..${#sets[@]}"
if [ ! -x "$bin" ]; then
	echo "# $bin: not built"
fi
n=0 rc=0
for s in "${sets[@]}"; do
	n=$((n + 1))
	name=vhost_net_test.${s%%:*}
	opts=${s#*:}
	t0=$(date +%s.%N)
	out=$(timeout "$limit" "$bin" --buf-num="$bufs" $opts 2>&1)
	status=$?
	secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
	sed 's/^/# /' <<<"$out"
	if [ $status = 0 ]; then
		echo "ok $n $name # time ${secs}s ($bufs buffers each way)"
	else
		[ $status = 124 ] && echo "# hung: stopped after ${limit}s"
		echo "not ok $n $name # time ${secs}s, exit $status"
		rc=1
	fi
done
exit $rc
