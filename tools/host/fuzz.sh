#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Runs the ring-layer fuzz target (make fuzz). Not part of make check.
#
#   tools/host/fuzz.sh [SECONDS]     default 600
#
# cargo-fuzz needs a nightly compiler: a nightly toolchain if rustup has
# one, otherwise the stable compiler with RUSTC_BOOTSTRAP=1.
set -eu

secs=${1:-600}
cd "$(dirname "$0")/fuzz"

if ! cargo fuzz --version >/dev/null 2>&1; then
	cargo install cargo-fuzz --locked
fi
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
	set -- cargo +nightly fuzz
else
	export RUSTC_BOOTSTRAP=1
	set -- cargo fuzz
fi

mkdir -p corpus/ring
"$@" build -O ring
exec "$@" run -O ring corpus/ring -- -max_total_time="$secs" -print_final_stats=1
