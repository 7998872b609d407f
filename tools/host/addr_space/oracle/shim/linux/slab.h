/* SPDX-License-Identifier: GPL-2.0 */
/* What drivers/vhost/iotlb.c needs of <linux/slab.h>, in userspace. */
#include <stdlib.h>
#define GFP_ATOMIC 0
#define kmalloc_obj(x, f) malloc(sizeof(x))
#define kzalloc_obj(x) calloc(1, sizeof(x))
#define kfree free
