/* SPDX-License-Identifier: GPL-2.0 */
/*
 * C wrappers for static inline kernel functions that rvhost calls from Rust.
 * Each module links its own copy (include/helpers_*.c).
 */
#ifndef RVHOST_HELPERS_H
#define RVHOST_HELPERS_H

#include <linux/compiler_types.h>

unsigned long rvhost_clear_user(void __user *to, unsigned long n);

#endif
