// SPDX-License-Identifier: GPL-2.0

#include <linux/cgroup.h>
#include <linux/kthread.h>
#include <linux/sched.h>

#include "rvhost_helpers.h"

void rvhost_set_current_running(void)
{
	__set_current_state(TASK_RUNNING);
}

/* With the barrier that pairs with the waker's test of the work bits. */
void rvhost_set_current_interruptible(void)
{
	set_current_state(TASK_INTERRUPTIBLE);
}

void rvhost_cond_resched(void)
{
	cond_resched();
}

/* kthread_create() is a variadic macro; the name is never a format. */
struct task_struct *rvhost_kthread_create(int (*fn)(void *), void *data,
					  const char *name)
{
	return kthread_create(fn, data, "%s", name);
}

/* A static inline returning 0 without CONFIG_CGROUPS. */
int rvhost_cgroup_attach_task_all(struct task_struct *from,
				  struct task_struct *to)
{
	return cgroup_attach_task_all(from, to);
}
