#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make stress`: one conformance test program, many times in one boot,
# against one implementation: for failures too rare for one `make check`
# run to show. Not part of `make check`.
#
#   make stress T="<selftest> [harness options]" [N=100] [IMPL=rvhost|c] [DEBUG=1]
#
# e.g. T="net_iotlb -v split -t invalidate_under_traffic". The last line is
# "stress: F failed of N (...)"; the output of each failed run is in
# build/vm/stress/output.log. Exits non-zero if a run failed.

set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$RVHOST_TOP"

: "${T:?usage: make stress T=\"<selftest> [harness options]\" [N=100] [IMPL=rvhost|c] [DEBUG=1]}"
N=${N:-100}
IMPL=${IMPL:-rvhost}
kernel=default
[ -z "${DEBUG:-}" ] || kernel=debug

scripts/provision.sh
rvhost_toolchain_env
make -s KDIR="$(rvhost_kdir "$kernel")" modules >/dev/null
make -s KDIR="$(rvhost_kdir default)" selftests >/dev/null
rc=0
# shellcheck disable=SC2086 # T is a command line
scripts/vm-run.sh ${DEBUG:+--debug} --quiet --out build/vm/stress --timeout 7200 -- \
	tools/testing/selftests/rvhost/repeat.sh "$IMPL" "$N" $T || rc=$?
grep '^stress: ' build/vm/stress/output.log || echo "stress: the VM run failed (exit $rc)"
exit "$rc"
