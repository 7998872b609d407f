#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# In the demo VM (scripts/demo.sh).

set -eu
step() { printf '\n=== %s\n' "$*"; }

step "loading rvhost"
scripts/vm/modules.sh load rvhost
lsmod
ls -l /dev/vhost-net /dev/vhost-vsock
dmesg | grep -i rvhost || true

step "asking the devices for their features (VHOST_SET_OWNER, VHOST_GET_FEATURES)"
python3 - <<'PY'
import fcntl, os, struct
VHOST_SET_OWNER = 0xAF01
VHOST_GET_FEATURES = 0x8008AF00
for dev in ("/dev/vhost-net", "/dev/vhost-vsock"):
    fd = os.open(dev, os.O_RDWR)
    fcntl.ioctl(fd, VHOST_SET_OWNER)
    (features,) = struct.unpack("Q", fcntl.ioctl(fd, VHOST_GET_FEATURES, bytes(8)))
    bits = [b for b in range(64) if features >> b & 1]
    print(f"{dev}: features {features:#018x} (bits {bits})")
    os.close(fd)
PY

step "a nested guest through rvhost's /dev/vhost-net and /dev/vhost-vsock (CID 3): ping, 16 MiB each way over TCP, then the kernel's vsock_test with this VM as its server"
scripts/vm/nested.sh --vsock 3 ping tcp vsock_client
