// SPDX-License-Identifier: GPL-2.0
/*
 * C wrappers ("helpers") for the static inline functions and macros of the
 * kernel that rvhost calls from Rust, one file per concept as the kernel's
 * rust/helpers/. Their declarations are in include/rvhost_helpers.h, which
 * bindgen reads.
 *
 * Included by helpers_net.c and helpers_vsock.c, so that each module has
 * its own copy (an object in two modules is a kbuild error).
 *
 * Sorted alphabetically.
 */

#include "busy.c"
#include "poll.c"
#include "socket.c"
#include "uaccess.c"
#include "worker.c"
