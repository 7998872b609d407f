// SPDX-License-Identifier: GPL-2.0
/* The C helpers (helpers.c), compiled into rvhost_vsock.ko. */
#include "helpers.c"
