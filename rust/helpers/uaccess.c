// SPDX-License-Identifier: GPL-2.0

#include <linux/uaccess.h>

#include "rvhost_helpers.h"

/* clear_user() checks access_ok() for the whole range before writing. */
unsigned long rvhost_clear_user(void __user *to, unsigned long n)
{
	return clear_user(to, n);
}

/*
 * One 16-bit load or store (get_user()/put_user()), as vhost_get_user()
 * and vhost_put_user() do for ring indices and flags: the guest reads and
 * writes them concurrently, and a copy may go byte by byte.
 */
int rvhost_get_user_u16(unsigned long addr, u16 *val)
{
	return get_user(*val, (u16 __user *)addr);
}

int rvhost_put_user_u16(unsigned long addr, u16 val)
{
	return put_user(val, (u16 __user *)addr);
}

/* access_ok(): whether [addr, addr + size) is a user range at all. */
bool rvhost_access_ok(unsigned long addr, unsigned long size)
{
	return access_ok((void __user *)addr, size);
}
