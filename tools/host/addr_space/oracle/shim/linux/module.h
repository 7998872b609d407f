/* SPDX-License-Identifier: GPL-2.0 */
/* What drivers/vhost/iotlb.c needs of <linux/module.h>, in userspace. */
#define EXPORT_SYMBOL_GPL(x)
#define MODULE_VERSION(x)
#define MODULE_LICENSE(x)
#define MODULE_AUTHOR(x)
#define MODULE_DESCRIPTION(x)
