// SPDX-License-Identifier: GPL-2.0

#include <linux/jiffies.h>
#include <linux/sched.h>
#include <linux/sched/clock.h>
#include <linux/sched/signal.h>

#include "rvhost_helpers.h"

/* Busy polling (vhost_net_busy_poll()): about a microsecond per unit. */
unsigned long rvhost_busy_clock(void)
{
	return local_clock() >> 10;
}

/* vhost_can_busy_poll() */
bool rvhost_can_busy_poll(unsigned long endtime)
{
	return likely(!need_resched()) &&
	       likely(!time_after(rvhost_busy_clock(), endtime)) &&
	       likely(!signal_pending(current));
}

void rvhost_migrate_disable(void)
{
	migrate_disable();
}

void rvhost_migrate_enable(void)
{
	migrate_enable();
}
