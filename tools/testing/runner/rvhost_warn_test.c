// SPDX-License-Identifier: GPL-2.0
/*
 * A module whose only job is to WARN when loaded. `make check` loads it in
 * a VM and expects scripts/vm-run.sh to fail the run, which proves that a
 * kernel report fails a test even when the test program itself succeeds.
 */
#include <linux/bug.h>
#include <linux/module.h>

static int __init rvhost_warn_test_init(void)
{
	WARN_ON(1);
	return 0;
}

static void __exit rvhost_warn_test_exit(void)
{
}

module_init(rvhost_warn_test_init);
module_exit(rvhost_warn_test_exit);
MODULE_DESCRIPTION("rvhost: proves that the VM runner catches kernel warnings");
MODULE_LICENSE("GPL");
