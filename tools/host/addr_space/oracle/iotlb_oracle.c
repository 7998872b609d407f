// SPDX-License-Identifier: GPL-2.0
/*
 * The kernel's own drivers/vhost/iotlb.c, with the kernel's interval tree
 * (tools/lib/rbtree.c), run in userspace as the oracle of
 * tools/host/addr_space/tests/oracle.rs. Reads "LIMIT FLAGS" and then commands:
 *
 *   add START LAST ADDR PERM   prints the return value
 *   del START LAST             prints "ok"
 *   first START LAST           prints "START LAST ADDR PERM" or "none"
 *   list                       prints the list, "START LAST ADDR PERM;" each
 *
 * Built with -I shim -I $KSRC/tools/include -idirafter $KSRC/include
 * -DIOTLB_C='"$KSRC/drivers/vhost/iotlb.c"'.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <linux/types.h>
#include <linux/kernel.h>
#include <linux/list.h>
#include IOTLB_C

static void print_map(const struct vhost_iotlb_map *m, const char *end)
{
	printf("%llu %llu %llu %u%s", (unsigned long long)m->start,
	       (unsigned long long)m->last, (unsigned long long)m->addr,
	       m->perm, end);
}

int main(void)
{
	unsigned long long s, l, a;
	unsigned int p, limit, flags;
	struct vhost_iotlb_map *m;
	struct vhost_iotlb t;
	char op[16];

	if (scanf("%u %u", &limit, &flags) != 2)
		return 1;
	vhost_iotlb_init(&t, limit, flags);
	while (scanf("%15s", op) == 1) {
		if (!strcmp(op, "add")) {
			if (scanf("%llu %llu %llu %u", &s, &l, &a, &p) != 4)
				return 1;
			printf("%d\n", vhost_iotlb_add_range(&t, s, l, a, p));
		} else if (!strcmp(op, "del")) {
			if (scanf("%llu %llu", &s, &l) != 2)
				return 1;
			vhost_iotlb_del_range(&t, s, l);
			printf("ok\n");
		} else if (!strcmp(op, "first")) {
			if (scanf("%llu %llu", &s, &l) != 2)
				return 1;
			m = vhost_iotlb_itree_first(&t, s, l);
			if (m)
				print_map(m, "\n");
			else
				printf("none\n");
		} else if (!strcmp(op, "list")) {
			list_for_each_entry(m, &t.list, link)
				print_map(m, ";");
			printf("\n");
		} else {
			return 1;
		}
	}
	vhost_iotlb_reset(&t);
	return 0;
}
