// SPDX-License-Identifier: GPL-2.0
/* The C helpers (helpers.c), and vhost-vsock's own, compiled into rvhost_vsock.ko. */
#include "helpers.c"
#include "vsock.c"
