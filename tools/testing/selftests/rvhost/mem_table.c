// SPDX-License-Identifier: GPL-2.0
/*
 * VHOST_SET_MEM_TABLE (vhost_set_memory() in drivers/vhost/vhost.c).
 *
 * What C checks, in order: the header is readable (EFAULT), padding is 0
 * (EOPNOTSUPP), nregions <= the max_mem_regions module parameter (E2BIG),
 * the regions are readable (EFAULT), every region's last address
 * (guest_phys_addr + memory_size - 1) does not wrap below its start
 * (EFAULT; so a zero-sized region is refused unless it starts at 0).
 * Overlapping, duplicate and unaligned regions are accepted. Whether the
 * userspace addresses are valid user memory is only checked for virtqueues
 * that are running (EFAULT, old table kept), otherwise when a virtqueue
 * is started.
 */
#include "vhost_util.h"

VHOST_FIXTURE(mem_table);

TEST_F(mem_table, before_owner_eperm)
{
	ASSERT_ERRNO(EPERM, set_mem_empty(self->d.fd));
	ASSERT_ERRNO(EPERM, vdev_set_mem(&self->d));
}

TEST_F(mem_table, from_child_eperm)
{
	struct vhost_memory *m = shared_alloc(4096);

	ASSERT_NE(NULL, m);
	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	ASSERT_ERRNO(EPERM, child_ioctl(self->d.fd, VHOST_SET_MEM_TABLE, m));
}

/* Without a table no virtqueue can start; an empty table will do. */
TEST_F(mem_table, no_table_no_start)
{
	vdev_ready(_metadata, &self->d);
	ASSERT_ERRNO(0, vdev_probe(&self->d));
	vdev_close(&self->d);

	vdev_open(_metadata, &self->d, variant->kind);
	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	ASSERT_ERRNO(0, vdev_set_addr(&self->d, 0));
	ASSERT_ERRNO(0, vdev_set_addr(&self->d, 1));
	ASSERT_ERRNO(EFAULT, vdev_probe(&self->d));
	ASSERT_ERRNO(0, set_mem_empty(self->d.fd));
	ASSERT_ERRNO(0, vdev_probe(&self->d));
}

TEST_F(mem_table, one_region)
{
	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	ASSERT_ERRNO(0, vdev_set_mem(&self->d));
	/* replacing it */
	ASSERT_ERRNO(0, set_mem_one(self->d.fd, 0x100000, 0x1000,
				    uptr(self->d.mem)));
	ASSERT_ERRNO(0, set_mem_empty(self->d.fd));
	ASSERT_ERRNO(0, vdev_set_mem(&self->d));
}

TEST_F(mem_table, bad_pointer_efault)
{
	unsigned char *page = guarded_page();
	struct vhost_memory *m;

	ASSERT_NE(NULL, page);
	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	IOCTL_ERR(self->d.fd, VHOST_SET_MEM_TABLE, NULL, EFAULT);
	IOCTL_ERR(self->d.fd, VHOST_SET_MEM_TABLE, (void *)KERNEL_ADDR, EFAULT);
	/* header only partly readable */
	IOCTL_ERR(self->d.fd, VHOST_SET_MEM_TABLE, page + 4096 - 4, EFAULT);
	/* header readable, regions not */
	m = (struct vhost_memory *)(page + 4096 - 8);
	m->nregions = 1;
	m->padding = 0;
	IOCTL_ERR(self->d.fd, VHOST_SET_MEM_TABLE, m, EFAULT);
	/* and with no regions that header is all there is to read */
	m->nregions = 0;
	IOCTL_OK(self->d.fd, VHOST_SET_MEM_TABLE, m);
	/* a header claiming one region more than there is */
	m = (struct vhost_memory *)(page + 4096 - 8 -
				    2 * sizeof(struct vhost_memory_region));
	memset(m, 0, 8 + 2 * sizeof(struct vhost_memory_region));
	m->nregions = 3;
	m->regions[0].memory_size = 0x1000;
	m->regions[0].userspace_addr = uptr(self->d.mem);
	m->regions[1] = m->regions[0];
	m->regions[1].guest_phys_addr = 0x1000;
	IOCTL_ERR(self->d.fd, VHOST_SET_MEM_TABLE, m, EFAULT);
	m->nregions = 2;
	IOCTL_OK(self->d.fd, VHOST_SET_MEM_TABLE, m);
}

TEST_F(mem_table, padding_eopnotsupp)
{
	struct vhost_memory m = { .nregions = 0, .padding = 1 };

	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	IOCTL_ERR(self->d.fd, VHOST_SET_MEM_TABLE, &m, EOPNOTSUPP);
	m.padding = 0x80000000;
	IOCTL_ERR(self->d.fd, VHOST_SET_MEM_TABLE, &m, EOPNOTSUPP);
	/* padding is checked before the region count */
	m.nregions = 0xffffffff;
	IOCTL_ERR(self->d.fd, VHOST_SET_MEM_TABLE, &m, EOPNOTSUPP);
	/* nothing was installed */
	ASSERT_ERRNO(0, vdev_set_addr(&self->d, 0));
	ASSERT_ERRNO(0, vdev_set_addr(&self->d, 1));
	ASSERT_ERRNO(EFAULT, vdev_probe(&self->d));
}

TEST_F(mem_table, max_regions)
{
	unsigned int max = max_mem_regions(variant->kind), i;
	struct mem_table *t = mem_table_alloc(max + 1);

	ASSERT_NE(NULL, t);
	TH_LOG("max_mem_regions = %u", max);
	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	for (i = 0; i <= max; i++) {
		t->r[i].guest_phys_addr = i * 0x1000ULL;
		t->r[i].memory_size = 0x1000;
		t->r[i].userspace_addr = uptr(self->d.mem) + i * 0x10ULL;
	}
	t->hdr.nregions = max;
	IOCTL_OK(self->d.fd, VHOST_SET_MEM_TABLE, t);
	t->hdr.nregions = max + 1;
	IOCTL_ERR(self->d.fd, VHOST_SET_MEM_TABLE, t, E2BIG);
	free(t);
}

/* The count is checked before the regions are read. */
TEST_F(mem_table, too_many_regions_e2big)
{
	unsigned int max = max_mem_regions(variant->kind);
	struct vhost_memory m = { 0 };

	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	m.nregions = max + 1;
	IOCTL_ERR(self->d.fd, VHOST_SET_MEM_TABLE, &m, E2BIG);
	m.nregions = 0x10000;
	IOCTL_ERR(self->d.fd, VHOST_SET_MEM_TABLE, &m, E2BIG);
	m.nregions = 0xffffffff;
	IOCTL_ERR(self->d.fd, VHOST_SET_MEM_TABLE, &m, E2BIG);
}

TEST_F(mem_table, zero_size_region_efault)
{
	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	ASSERT_ERRNO(EFAULT, set_mem_one(self->d.fd, 0x1000, 0,
					 uptr(self->d.mem)));
	ASSERT_ERRNO(EFAULT, set_mem_one(self->d.fd, 0xfffffffffffff000ULL, 0,
					 uptr(self->d.mem)));
}

/*
 * A zero-sized region at guest address 0 is the one exception: its last
 * address wraps to ~0 and it covers the whole 64-bit space, which is taken
 * (vhost_iotlb_add_range() splits [0, ~0] in two) -- and then refused by
 * the access check when a virtqueue starts, as no user mapping is that big.
 */
TEST_F(mem_table, zero_size_region_at_zero)
{
	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	ASSERT_ERRNO(0, vdev_set_addr(&self->d, 0));
	ASSERT_ERRNO(0, vdev_set_addr(&self->d, 1));
	ASSERT_ERRNO(0, set_mem_one(self->d.fd, 0, 0, uptr(self->d.mem)));
	ASSERT_ERRNO(EFAULT, vdev_probe(&self->d));
}

TEST_F(mem_table, wrapping_region_efault)
{
	struct mem_table *t = mem_table_alloc(2);

	ASSERT_NE(NULL, t);
	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	ASSERT_ERRNO(EFAULT, set_mem_one(self->d.fd, 0xfffffffffffff000ULL,
					 0x2000, uptr(self->d.mem)));
	ASSERT_ERRNO(EFAULT, set_mem_one(self->d.fd, 2, ~0ULL,
					 uptr(self->d.mem)));
	/* ending exactly at ~0 is fine */
	ASSERT_ERRNO(0, set_mem_one(self->d.fd, 0xfffffffffffff000ULL,
				    0x1000, uptr(self->d.mem)));
	/* one bad region fails the whole table */
	t->r[0].guest_phys_addr = 0;
	t->r[0].memory_size = 0x1000;
	t->r[0].userspace_addr = uptr(self->d.mem);
	t->r[1] = t->r[0];
	t->r[1].guest_phys_addr = 0x2000;
	t->r[1].memory_size = 0;
	IOCTL_ERR(self->d.fd, VHOST_SET_MEM_TABLE, t, EFAULT);
	free(t);
}

/* A failed SET_MEM_TABLE keeps the table that was there. */
TEST_F(mem_table, failed_set_keeps_old_table)
{
	struct vhost_memory pad = { .padding = 1 };

	vdev_ready(_metadata, &self->d);
	/* a table the access check rejects */
	ASSERT_ERRNO(0, set_mem_one(self->d.fd, 0, 0x1000, KERNEL_ADDR));
	ASSERT_ERRNO(EFAULT, vdev_probe(&self->d));
	ASSERT_ERRNO(EFAULT, set_mem_one(self->d.fd, 0x1000, 0,
					 uptr(self->d.mem)));
	IOCTL_ERR(self->d.fd, VHOST_SET_MEM_TABLE, &pad, EOPNOTSUPP);
	ASSERT_ERRNO(EFAULT, vdev_probe(&self->d));
	ASSERT_ERRNO(0, vdev_set_mem(&self->d));
	ASSERT_ERRNO(0, vdev_probe(&self->d));
	ASSERT_ERRNO(EFAULT, set_mem_one(self->d.fd, 0x1000, 0, KERNEL_ADDR));
	ASSERT_ERRNO(0, vdev_probe(&self->d));
}

TEST_F(mem_table, overlapping_regions_accepted)
{
	struct mem_table *t = mem_table_alloc(3);

	ASSERT_NE(NULL, t);
	vdev_ready(_metadata, &self->d);
	t->r[0].guest_phys_addr = 0;
	t->r[0].memory_size = 0x20000;
	t->r[0].userspace_addr = uptr(self->d.mem);
	t->r[1].guest_phys_addr = 0x10000;
	t->r[1].memory_size = 0x20000;
	t->r[1].userspace_addr = uptr(self->d.mem) + 0x10000;
	/* and a duplicate */
	t->r[2] = t->r[0];
	IOCTL_OK(self->d.fd, VHOST_SET_MEM_TABLE, t);
	ASSERT_ERRNO(0, vdev_probe(&self->d));
	free(t);
}

/* "All region addresses and sizes must be 4K aligned" is not enforced. */
TEST_F(mem_table, unaligned_regions_accepted)
{
	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	ASSERT_ERRNO(0, set_mem_one(self->d.fd, 0x123, 0x456,
				    uptr(self->d.mem) + 0x789));
	ASSERT_ERRNO(0, set_mem_one(self->d.fd, 1, 1, uptr(self->d.mem) + 1));
}

/* The region flags_padding field is ignored. */
TEST_F(mem_table, region_flags_ignored)
{
	struct mem_table *t = mem_table_alloc(1);

	ASSERT_NE(NULL, t);
	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	t->r[0].guest_phys_addr = 0;
	t->r[0].memory_size = VDEV_MEM_SIZE;
	t->r[0].userspace_addr = uptr(self->d.mem);
	t->r[0].flags_padding = ~0ULL;
	IOCTL_OK(self->d.fd, VHOST_SET_MEM_TABLE, t);
	free(t);
}

/*
 * Userspace addresses are checked only when a virtqueue starts (or, see
 * below, is running): kernel addresses and regions reaching past the top
 * of the user address space are taken while stopped.
 */
TEST_F(mem_table, bad_userspace_addr_checked_at_start)
{
	vdev_ready(_metadata, &self->d);
	ASSERT_ERRNO(0, set_mem_one(self->d.fd, 0, 0x1000, KERNEL_ADDR));
	ASSERT_ERRNO(EFAULT, vdev_probe(&self->d));
	ASSERT_ERRNO(0, set_mem_one(self->d.fd, 0, 0x2000,
				    user_ptr_max() - 0x1000));
	ASSERT_ERRNO(EFAULT, vdev_probe(&self->d));
	/* the upper end exactly at the top is fine */
	ASSERT_ERRNO(0, set_mem_one(self->d.fd, 0, 0x1000,
				    user_ptr_max() - 0x1000));
	ASSERT_ERRNO(0, vdev_probe(&self->d));
	/* unmapped user memory passes: only the range is checked */
	ASSERT_ERRNO(0, set_mem_one(self->d.fd, 0, 0x10000,
				    uptr(unmapped_addr())));
	ASSERT_ERRNO(0, vdev_probe(&self->d));
}

/* With a virtqueue running, a bad table is refused and the old one kept. */
TEST_F(mem_table, bad_table_while_running_efault)
{
	vdev_ready(_metadata, &self->d);
	ASSERT_ERRNO(0, vdev_start(&self->d));
	ASSERT_ERRNO(EFAULT, set_mem_one(self->d.fd, 0, 0x1000, KERNEL_ADDR));
	ASSERT_ERRNO(EFAULT, set_mem_one(self->d.fd, 0, 0x2000,
					 user_ptr_max() - 0x1000));
	/* verifying the running virtqueue again sees the old table */
	if (self->d.kind == VDEV_VSOCK)
		ASSERT_ERRNO(0, vsock_set_running(self->d.fd, 1));
	else
		ASSERT_ERRNO(0, net_set_backend(self->d.fd, 0, -1));
	/* good tables are taken while running */
	ASSERT_ERRNO(0, set_mem_one(self->d.fd, 0, 0x1000, uptr(self->d.mem)));
	ASSERT_ERRNO(0, set_mem_empty(self->d.fd));
}

/* A stopped virtqueue does not care: only running ones are checked. */
TEST_F(mem_table, bad_table_after_stop)
{
	vdev_ready(_metadata, &self->d);
	ASSERT_ERRNO(0, vdev_start(&self->d));
	ASSERT_ERRNO(0, vdev_stop(&self->d));
	ASSERT_ERRNO(0, set_mem_one(self->d.fd, 0, 0x1000, KERNEL_ADDR));
	ASSERT_ERRNO(EFAULT, vdev_start(&self->d));
}

TEST_HARNESS_MAIN
