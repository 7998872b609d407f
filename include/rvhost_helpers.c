// SPDX-License-Identifier: GPL-2.0
/*
 * Included by include/helpers_net.c and include/helpers_vsock.c, so each
 * module has its own copy (an object in two modules is a kbuild error).
 */
#include <linux/uaccess.h>

#include "rvhost_helpers.h"

/* clear_user() checks access_ok() for the whole range before writing. */
unsigned long rvhost_clear_user(void __user *to, unsigned long n)
{
	return clear_user(to, n);
}
