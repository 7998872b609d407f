// SPDX-License-Identifier: GPL-2.0
/* The C helpers, compiled into rvhost_vsock.ko. */
#include "rvhost_helpers.c"
