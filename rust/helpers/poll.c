// SPDX-License-Identifier: GPL-2.0

#include <linux/eventfd.h>
#include <linux/poll.h>
#include <linux/wait.h>

#include "rvhost_helpers.h"

void rvhost_init_poll_funcptr(poll_table *pt, poll_queue_proc qproc)
{
	init_poll_funcptr(pt, qproc);
}

void rvhost_init_waitqueue_func_entry(struct wait_queue_entry *wq_entry,
				      wait_queue_func_t func)
{
	init_waitqueue_func_entry(wq_entry, func);
}

__poll_t rvhost_vfs_poll(struct file *file, poll_table *pt)
{
	return vfs_poll(file, pt);
}

void rvhost_eventfd_signal(struct eventfd_ctx *ctx)
{
	eventfd_signal(ctx);
}
