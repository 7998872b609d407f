#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Runs a fuzz target (make fuzz: the ring layer's). Not part of make check.
#
#   tools/host/fuzz.sh [SECONDS] [TARGET]     default 600, ring (or addr_space)
#
# cargo-fuzz needs a nightly compiler: a nightly toolchain if rustup has
# one, otherwise the stable compiler with RUSTC_BOOTSTRAP=1.
set -eu

secs=${1:-600}
target=${2:-ring}
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

mkdir -p "corpus/$target"
"$@" build -O "$target"
exec "$@" run -O "$target" "corpus/$target" -- -max_total_time="$secs" -print_final_stats=1
