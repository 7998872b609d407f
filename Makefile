# SPDX-License-Identifier: GPL-2.0
#
# rvhost: vhost-net and vhost-vsock in Rust, as out-of-tree modules.
#
#   make                  build rvhost_net.ko and rvhost_vsock.ko against KDIR
#   make check            provision everything and run every test
#   make demo             boot a VM with rvhost loaded and run a guest through it
#   make modules_install  install the modules (INSTALL_MOD_PATH as usual)
#   make dkms             what DKMS runs: build for Debian's kernel
#                         KERNELRELEASE (scripts/dkms-source.sh)
#   make fuzz             run the ring-layer fuzz target (not part of check)
#   make stress T=...     one test program N times in one boot (not part of
#                         check; see scripts/stress.sh)
#   make vmtest           the kernel's vsock vmtest.sh against rvhost_vsock
#                         (VMTEST_C=1: against vhost_vsock too; not part of
#                         check; see scripts/vmtest.sh)
#   make bench            rvhost against the C driver, side by side (not
#                         part of check; see scripts/bench.sh)
#
# KDIR defaults to the test kernel that scripts/provision.sh built and
# cached; point it at any built Rust-enabled 7.2 tree to build for that, or
# at the one scripts/distro-kdir.sh makes for a Debian kernel.

RVHOST_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/rvhost
KDIR ?= $(shell cat $(RVHOST_CACHE)/kdir-default 2>/dev/null)
# Objects go to a directory per kernel tree, so builds for the default and
# the debug kernel do not overwrite each other.
MO ?= $(CURDIR)/build/modules/$(notdir $(abspath $(KDIR)))

# The cached trees record the compiler they were built with, and a tree made
# by scripts/distro-kdir.sh a command to run make in its toolchain's chroot.
-include $(KDIR)/rvhost.mk

kmake = $(RVHOST_KMAKE_PREFIX) $(MAKE) -C $(KDIR) M=$(CURDIR) MO=$(MO) $(RVHOST_KMAKE_ARGS)

.PHONY: all modules modules_install dkms clean provision check demo fuzz stress vmtest bench host-test selftests

all: modules

modules:
	@test -n "$(KDIR)" || { echo "No kernel tree: run 'make provision' or pass KDIR=<built 7.2 tree>" >&2; exit 1; }
	@mkdir -p $(MO)
	$(kmake) modules

modules_install: modules
	$(kmake) modules_install

# What DKMS runs (the dkms.conf that scripts/dkms-source.sh writes): the
# modules for Debian's kernel KERNELRELEASE (default: the running one), built
# against the tree scripts/distro-kdir.sh makes for it, since the headers
# package DKMS offers cannot build Rust modules; into build/dkms/, where
# dkms.conf looks. distro-kdir.sh runs its own makes, not as this one's jobs.
dkms:
	tree=$$(env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL scripts/distro-kdir.sh $(KERNELRELEASE)) && \
		$(MAKE) KDIR="$$(printf '%s\n' "$$tree" | tail -n 1)" MO=$(CURDIR)/build/dkms modules

# Every build product is under build/ (objects through MO=).
clean:
	rm -rf build

provision:
	scripts/provision.sh

check:
	scripts/check.sh

demo:
	scripts/demo.sh

fuzz:
	tools/host/fuzz.sh

stress:
	T="$(T)" N="$(N)" IMPL="$(IMPL)" DEBUG="$(DEBUG)" scripts/stress.sh

vmtest:
	VMTEST_C="$(VMTEST_C)" VMTEST_TIMEOUT="$(VMTEST_TIMEOUT)" scripts/vmtest.sh

bench:
	PAIRS="$(PAIRS)" BENCH_SECONDS="$(BENCH_SECONDS)" WORKLOADS="$(WORKLOADS)" \
		BENCH_PROFILE="$(BENCH_PROFILE)" BENCH_PROFILE_SECONDS="$(BENCH_PROFILE_SECONDS)" NESTED_PAIRS="$(NESTED_PAIRS)" scripts/bench.sh

host-test:
	cargo test --manifest-path tools/host/Cargo.toml

selftests:
	@test -n "$(KDIR)" || { echo "No kernel tree: run 'make provision'" >&2; exit 1; }
	$(MAKE) -C tools/testing/selftests/rvhost \
		KSRC=$$(readlink -f $(KDIR)/source) KHDR=$(KDIR)/rvhost-headers/include \
		OUTPUT=$(CURDIR)/build/selftests
