// SPDX-License-Identifier: GPL-2.0
/*
 * A module that hangs the kernel in one of the ways its own detectors see,
 * chosen with mode=: "spin" keeps a kthread on its CPU with preemption off
 * (the soft-lockup detector; the test kernels are preemptible, so a spin
 * that can be preempted is not a soft lockup), "sleep" blocks insmod
 * uninterruptibly (the hung-task detector, which is what sees a task
 * waiting forever on a vhost worker that never finishes its work). `make check` loads it in a VM and expects
 * scripts/vm-run.sh to fail the run soon after, well before the run's own
 * timeout: a vhost worker stuck this way must fail a test even when the
 * test program has been killed.
 */
#include <linux/delay.h>
#include <linux/jiffies.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/preempt.h>
#include <linux/sched.h>
#include <linux/string.h>

static char *mode = "spin";
module_param(mode, charp, 0444);
MODULE_PARM_DESC(mode, "spin (soft lockup) or sleep (hung task)");

/* Long enough for any detector, short enough to end on its own. */
#define HANG_SECS 240

static int spin(void *unused)
{
	unsigned long end = jiffies + HANG_SECS * HZ;

	preempt_disable();
	while (time_before(jiffies, end))
		cpu_relax();
	preempt_enable();
	return 0;
}

static int __init rvhost_hang_test_init(void)
{
	struct task_struct *t;

	if (!strcmp(mode, "sleep")) {
		schedule_timeout_uninterruptible(HANG_SECS * HZ);
		return 0;
	}
	if (strcmp(mode, "spin"))
		return -EINVAL;
	t = kthread_run(spin, NULL, "rvhost-spin");
	return PTR_ERR_OR_ZERO(t);
}

static void __exit rvhost_hang_test_exit(void)
{
}

module_init(rvhost_hang_test_init);
module_exit(rvhost_hang_test_exit);
MODULE_DESCRIPTION("rvhost: proves that the VM runner catches lockups and hung tasks");
MODULE_LICENSE("GPL");
