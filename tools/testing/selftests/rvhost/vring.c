// SPDX-License-Identifier: GPL-2.0
/*
 * Virtqueue ioctls (vhost_vring_ioctl() and vhost_vring_set_num_addr() in
 * drivers/vhost/vhost.c): SET_VRING_NUM/ADDR/BASE, GET_VRING_BASE,
 * SET/GET_VRING_ENDIAN, SET/GET_VRING_BUSYLOOP_TIMEOUT and the eventfd
 * ioctls SET_VRING_KICK/CALL/ERR.
 *
 * Every virtqueue ioctl first reads a u32 index from the argument (EFAULT)
 * and rejects index >= number of virtqueues with ENOBUFS.
 */
#include "vhost_test.h"

VHOST_FIXTURE(vring);

static const unsigned long vring_reqs[] = {
	VHOST_SET_VRING_NUM, VHOST_SET_VRING_ADDR, VHOST_SET_VRING_BASE,
	VHOST_GET_VRING_BASE, VHOST_SET_VRING_KICK, VHOST_SET_VRING_CALL,
	VHOST_SET_VRING_ERR, VHOST_SET_VRING_BUSYLOOP_TIMEOUT,
	VHOST_GET_VRING_BUSYLOOP_TIMEOUT, VHOST_SET_VRING_ENDIAN,
	VHOST_GET_VRING_ENDIAN,
};

TEST_F(vring, bad_index_enobufs)
{
	unsigned int idx[] = { 2, 3, 0x100, 0x80000000, 0xffffffff };
	unsigned char buf[64];
	size_t i, j;

	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	for (i = 0; i < ARRAY_SIZE(vring_reqs); i++) {
		for (j = 0; j < ARRAY_SIZE(idx); j++) {
			int r;

			memset(buf, 0, sizeof(buf));
			*(unsigned int *)buf = idx[j];
			r = ioctl_errno(self->d.fd, vring_reqs[i], buf);
			ASSERT_EQ(ENOBUFS, r)
				TH_LOG("req %#lx index %u: %s", vring_reqs[i],
				       idx[j], strerrorname_np(r) ?: "0");
		}
	}
}

TEST_F(vring, bad_pointer_efault)
{
	size_t i;

	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	for (i = 0; i < ARRAY_SIZE(vring_reqs); i++) {
		int r = ioctl_errno(self->d.fd, vring_reqs[i], NULL);

		ASSERT_EQ(EFAULT, r) TH_LOG("req %#lx: %s", vring_reqs[i],
					    strerrorname_np(r) ?: "0");
		r = ioctl_errno(self->d.fd, vring_reqs[i], (void *)KERNEL_ADDR);
		ASSERT_EQ(EFAULT, r) TH_LOG("req %#lx: %s", vring_reqs[i],
					    strerrorname_np(r) ?: "0");
	}
}

/*
 * The index is read on its own first: an argument whose first 4 bytes are
 * readable but the rest is not faults in the second copy.
 */
TEST_F(vring, partially_readable_argument_efault)
{
	unsigned char *page = guarded_page();
	struct vhost_vring_state *s;

	ASSERT_NE(NULL, page);
	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	s = (void *)(page + 4096 - 4);
	s->index = 0;
	IOCTL_ERR(self->d.fd, VHOST_SET_VRING_NUM, s, EFAULT);
	IOCTL_ERR(self->d.fd, VHOST_SET_VRING_BASE, s, EFAULT);
	IOCTL_ERR(self->d.fd, VHOST_GET_VRING_BASE, s, EFAULT);
	IOCTL_ERR(self->d.fd, VHOST_SET_VRING_ADDR, s, EFAULT);
	IOCTL_ERR(self->d.fd, VHOST_SET_VRING_KICK, s, EFAULT);
	/* and nothing changed */
	ASSERT_EQ(0, get_base(self->d.fd, 0));
}

/* ---- SET_VRING_NUM ------------------------------------------------------ */

TEST_F(vring, set_num_powers_of_two)
{
	unsigned int n;

	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	for (n = 1; n <= 0x8000; n <<= 1) {
		ASSERT_ERRNO(0, set_num(self->d.fd, 0, n));
		ASSERT_ERRNO(0, set_num(self->d.fd, 1, n));
	}
}

TEST_F(vring, set_num_invalid_einval)
{
	unsigned int bad[] = { 0, 3, 5, 6, 7, 12, 255, 257, 1000, 0x7fff,
			       0xffff, 0x10000, 0x20000, 0x80000000,
			       0xffffffff };
	size_t i;

	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	ASSERT_ERRNO(0, set_base(self->d.fd, 0, 17));
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		int r = set_num(self->d.fd, 0, bad[i]);

		ASSERT_EQ(EINVAL, r) TH_LOG("num %#x: %s", bad[i],
					    strerrorname_np(r) ?: "0");
	}
	/* the failed calls left the rest of the ring alone */
	ASSERT_EQ(17, get_base(self->d.fd, 0));
}

/*
 * vq->num sizes the rings that vhost_vq_access_ok() checks: a descriptor
 * table that ends exactly at the top of the user address space is fine
 * with 256 entries and not with 512. A failed SET_VRING_NUM keeps the old
 * size.
 */
TEST_F(vring, num_sizes_access_check)
{
	uint64_t top = user_ptr_max();
	uint64_t desc = top - 16 * 256;

	vdev_ready(_metadata, &self->d);
	ASSERT_ERRNO(0, set_addr(self->d.fd, 0, 0, desc,
				 uptr(vq_avail(&self->d, 0)),
				 uptr(vq_used(&self->d, 0)), 0));
	ASSERT_ERRNO(0, set_num(self->d.fd, 0, 256));
	ASSERT_ERRNO(0, vdev_probe(&self->d));
	ASSERT_ERRNO(0, set_num(self->d.fd, 0, 512));
	ASSERT_ERRNO(EFAULT, vdev_probe(&self->d));
	ASSERT_ERRNO(EINVAL, set_num(self->d.fd, 0, 384));
	ASSERT_ERRNO(EFAULT, vdev_probe(&self->d));
	ASSERT_ERRNO(EINVAL, set_num(self->d.fd, 0, 0));
	ASSERT_ERRNO(EFAULT, vdev_probe(&self->d));
	ASSERT_ERRNO(0, set_num(self->d.fd, 0, 128));
	ASSERT_ERRNO(0, vdev_probe(&self->d));
}

TEST_F(vring, set_num_while_running_ebusy)
{
	vdev_ready(_metadata, &self->d);
	ASSERT_ERRNO(0, vdev_start(&self->d));
	ASSERT_ERRNO(EBUSY, set_num(self->d.fd, 0, 16));
	ASSERT_ERRNO(EBUSY, set_num(self->d.fd, 1, 16));
	/* EBUSY comes before the value is even looked at */
	ASSERT_ERRNO(EBUSY, set_num(self->d.fd, 0, 3));
	ASSERT_ERRNO(0, vdev_stop(&self->d));
	ASSERT_ERRNO(0, set_num(self->d.fd, 0, 16));
	ASSERT_ERRNO(0, set_num(self->d.fd, 1, 16));
}

/* ---- SET_VRING_ADDR ----------------------------------------------------- */

/*
 * The data path uses the rings SET_VRING_ADDR names: set while stopped,
 * the started queue takes a buffer from the new rings and returns it
 * there, and never looks at the old ones (their avail index is one the
 * handler would report as an error); moved again while running, the next
 * kick goes on at the same indices in the newest rings.
 */
#define RINGS_B		0x20000UL	/* offsets in d->mem, clear of the rest */
#define RINGS_C		0x24000UL

TEST_F(vring, set_addr)
{
	struct vdev_ring a = vdev_ring_of(&self->d, VDEV_TX_VQ);
	struct vdev_ring b = vdev_ring_at(&self->d, RINGS_B);
	struct vdev_ring c = vdev_ring_at(&self->d, RINGS_C);
	int kick = new_eventfd(), call = new_eventfd(), err = new_eventfd();

	ASSERT_LE(0, kick);
	ASSERT_LE(0, call);
	ASSERT_LE(0, err);
	vdev_ready(_metadata, &self->d);
	ASSERT_ERRNO(0, vdev_set_files(&self->d, VDEV_TX_VQ, kick, call, err));
	ASSERT_ERRNO(0, vdev_ring_set_addr(&self->d, VDEV_TX_VQ, &b));
	/* the old rings: a buffer there would be an error */
	vdev_tx_post(&self->d, &a, 0, 0);
	a.avail->idx = VDEV_NUM + 1;
	ASSERT_ERRNO(0, vdev_start(&self->d));
	vdev_flush(&self->d);
	vdev_tx_post(&self->d, &b, 3, 1);
	eventfd_kick(kick);
	ASSERT_TRUE(vdev_ring_wait_used(&b, 1, 5000))
		TH_LOG("the buffer in the new rings was not used");
	ASSERT_EQ(3, b.used->ring[0].id);
	ASSERT_EQ(0, b.used->ring[0].len);
	ASSERT_TRUE(wait_readable(call, 5000));
	vdev_flush(&self->d);
	ASSERT_EQ(0, eventfd_take(err)) TH_LOG("the old avail ring was read");
	ASSERT_EQ(0, vdev_ring_used_idx(&a));
	ASSERT_EQ(0, a.used->ring[0].id);

	/* moved while running: the indices go on, in the newest rings */
	c.avail->idx = 1;
	c.used->idx = 0;
	ASSERT_ERRNO(0, vdev_ring_set_addr(&self->d, VDEV_TX_VQ, &c));
	vdev_tx_post(&self->d, &c, 5, 2);
	/* b gets one more, which the device must not see */
	vdev_tx_post(&self->d, &b, 4, 3);
	eventfd_take(call);
	eventfd_kick(kick);
	ASSERT_TRUE(vdev_ring_wait_used(&c, 2, 5000))
		TH_LOG("the buffer in the rings set while running was not used (used idx %u)",
		       vdev_ring_used_idx(&c));
	ASSERT_EQ(5, c.used->ring[1].id);
	ASSERT_EQ(0, c.used->ring[1].len);
	ASSERT_TRUE(wait_readable(call, 5000));
	vdev_flush(&self->d);
	ASSERT_EQ(1, vdev_ring_used_idx(&b));
	ASSERT_EQ(0, eventfd_take(err));
	ASSERT_ERRNO(0, vdev_stop(&self->d));
	ASSERT_EQ(2, get_base(self->d.fd, VDEV_TX_VQ));
}

TEST_F(vring, set_addr_unknown_flags_eopnotsupp)
{
	unsigned int flags[] = { 2, 4, 0x80000000, 0xfffffffe, 0xffffffff };
	size_t i;

	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	for (i = 0; i < ARRAY_SIZE(flags); i++) {
		int r = set_addr(self->d.fd, 0, flags[i],
				 uptr(vq_desc(&self->d, 0)),
				 uptr(vq_avail(&self->d, 0)),
				 uptr(vq_used(&self->d, 0)), 0);

		ASSERT_EQ(EOPNOTSUPP, r) TH_LOG("flags %#x: %s", flags[i],
						strerrorname_np(r) ?: "0");
	}
	ASSERT_ERRNO(0, set_addr(self->d.fd, 0, 1 << VHOST_VRING_F_LOG,
				 uptr(vq_desc(&self->d, 0)),
				 uptr(vq_avail(&self->d, 0)),
				 uptr(vq_used(&self->d, 0)), 0));
}

/*
 * The avail ring must be 2-byte aligned, the used ring and the log address
 * 4-byte aligned (the log address even when logging is off). The
 * descriptor table's alignment is not checked at all.
 */
TEST_F(vring, set_addr_alignment)
{
	uint64_t desc = uptr(vq_desc(&self->d, 0));
	uint64_t avail = uptr(vq_avail(&self->d, 0));
	uint64_t used = uptr(vq_used(&self->d, 0));

	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	ASSERT_ERRNO(EINVAL, set_addr(self->d.fd, 0, 0, desc, avail + 1, used, 0));
	ASSERT_ERRNO(EINVAL, set_addr(self->d.fd, 0, 0, desc, avail, used + 1, 0));
	ASSERT_ERRNO(EINVAL, set_addr(self->d.fd, 0, 0, desc, avail, used + 2, 0));
	ASSERT_ERRNO(EINVAL, set_addr(self->d.fd, 0, 0, desc, avail, used, 2));
	ASSERT_ERRNO(EINVAL, set_addr(self->d.fd, 1, 1 << VHOST_VRING_F_LOG,
				      desc, avail, used, 0x1001));
	ASSERT_ERRNO(0, set_addr(self->d.fd, 0, 0, desc, avail + 2, used + 4, 4));
	ASSERT_ERRNO(0, set_addr(self->d.fd, 0, 0, desc + 1, avail, used, 0));
	ASSERT_ERRNO(0, set_addr(self->d.fd, 0, 0, desc + 2, avail, used, 0));
}

/*
 * With the virtqueue stopped, any address is taken (the ring size may not
 * be final yet); the check comes when the virtqueue is started.
 */
TEST_F(vring, set_addr_unchecked_while_stopped)
{
	vdev_ready(_metadata, &self->d);
	ASSERT_ERRNO(0, set_addr(self->d.fd, 0, 0, KERNEL_ADDR,
				 uptr(vq_avail(&self->d, 0)),
				 uptr(vq_used(&self->d, 0)), 0));
	ASSERT_ERRNO(EFAULT, vdev_probe(&self->d));
	ASSERT_ERRNO(0, set_addr(self->d.fd, 0, 0, uptr(vq_desc(&self->d, 0)),
				 KERNEL_ADDR, uptr(vq_used(&self->d, 0)), 0));
	ASSERT_ERRNO(EFAULT, vdev_probe(&self->d));
	ASSERT_ERRNO(0, set_addr(self->d.fd, 0, 0, uptr(vq_desc(&self->d, 0)),
				 uptr(vq_avail(&self->d, 0)), KERNEL_ADDR, 0));
	ASSERT_ERRNO(EFAULT, vdev_probe(&self->d));
	/* rings reaching past the top of the user address space */
	ASSERT_ERRNO(0, set_addr(self->d.fd, 0, 0, user_ptr_max() - 16,
				 uptr(vq_avail(&self->d, 0)),
				 uptr(vq_used(&self->d, 0)), 0));
	ASSERT_ERRNO(EFAULT, vdev_probe(&self->d));
	ASSERT_ERRNO(0, vdev_set_addr(&self->d, 0));
	ASSERT_ERRNO(0, vdev_probe(&self->d));
}

/*
 * While the virtqueue runs, SET_VRING_ADDR checks the new rings at once
 * (EINVAL) and keeps the old ones on failure; good ones are taken.
 */
TEST_F(vring, set_addr_checked_while_running)
{
	unsigned char *other = self->d.mem + VDEV_DATA_OFF;

	vdev_ready(_metadata, &self->d);
	ASSERT_ERRNO(0, vdev_start(&self->d));
	ASSERT_ERRNO(EINVAL, set_addr(self->d.fd, 0, 0, KERNEL_ADDR,
				      uptr(vq_avail(&self->d, 0)),
				      uptr(vq_used(&self->d, 0)), 0));
	ASSERT_ERRNO(EINVAL, set_addr(self->d.fd, 0, 0,
				      uptr(vq_desc(&self->d, 0)), KERNEL_ADDR,
				      uptr(vq_used(&self->d, 0)), 0));
	ASSERT_ERRNO(EINVAL, set_addr(self->d.fd, 1, 0,
				      uptr(vq_desc(&self->d, 1)),
				      uptr(vq_avail(&self->d, 1)), KERNEL_ADDR,
				      0));
	/* alignment and flags are still checked first */
	ASSERT_ERRNO(EOPNOTSUPP, set_addr(self->d.fd, 0, 2, KERNEL_ADDR,
					  KERNEL_ADDR, KERNEL_ADDR, 0));
	ASSERT_ERRNO(EINVAL, set_addr(self->d.fd, 0, 0, KERNEL_ADDR,
				      KERNEL_ADDR + 1, KERNEL_ADDR, 0));
	/* the old rings were kept: restarting verifies them again */
	if (self->d.kind == VDEV_VSOCK)
		ASSERT_ERRNO(0, vsock_set_running(self->d.fd, 1));
	else
		ASSERT_ERRNO(0, net_set_backend(self->d.fd, 0, -1));
	ASSERT_ERRNO(0, vdev_start(&self->d));
	/* a valid move while running is allowed */
	ASSERT_ERRNO(0, set_addr(self->d.fd, 0, 0, uptr(other),
				 uptr(other + 0x1000), uptr(other + 0x2000),
				 0));
}

/* ---- SET/GET_VRING_BASE ------------------------------------------------- */

TEST_F(vring, get_base_initially_zero)
{
	struct vhost_vring_state s = { .index = 1, .num = 0xdead };

	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	IOCTL_OK(self->d.fd, VHOST_GET_VRING_BASE, &s);
	ASSERT_EQ(1, s.index);
	ASSERT_EQ(0, s.num);
	ASSERT_EQ(0, get_base(self->d.fd, 0));
}

TEST_F(vring, set_get_base)
{
	struct vhost_vring_state s = { .index = 1, .num = 0 };

	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	ASSERT_ERRNO(0, set_base(self->d.fd, 0, 7));
	ASSERT_ERRNO(0, set_base(self->d.fd, 1, 0xffff));
	ASSERT_EQ(7, get_base(self->d.fd, 0));
	IOCTL_OK(self->d.fd, VHOST_GET_VRING_BASE, &s);
	ASSERT_EQ(1, s.index);
	ASSERT_EQ(0xffff, s.num);
	ASSERT_ERRNO(0, set_base(self->d.fd, 1, 0));
	ASSERT_EQ(0, get_base(self->d.fd, 1));
	ASSERT_EQ(7, get_base(self->d.fd, 0));
}

/* Split rings only (no RING_PACKED offered): the base is 16 bits. */
TEST_F(vring, set_base_too_big_einval)
{
	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	ASSERT_ERRNO(0, set_base(self->d.fd, 0, 100));
	ASSERT_ERRNO(EINVAL, set_base(self->d.fd, 0, 0x10000));
	ASSERT_ERRNO(EINVAL, set_base(self->d.fd, 0, 0x12345));
	ASSERT_ERRNO(EINVAL, set_base(self->d.fd, 0, 0xffffffff));
	ASSERT_EQ(100, get_base(self->d.fd, 0));
}

/* The base is independent of the ring size. */
TEST_F(vring, set_base_beyond_num)
{
	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	ASSERT_ERRNO(0, set_num(self->d.fd, 0, 4));
	ASSERT_ERRNO(0, set_base(self->d.fd, 0, 1000));
	ASSERT_EQ(1000, get_base(self->d.fd, 0));
}

TEST_F(vring, set_base_while_running_ebusy)
{
	vdev_ready(_metadata, &self->d);
	ASSERT_ERRNO(0, set_base(self->d.fd, 0, 0));
	ASSERT_ERRNO(0, vdev_start(&self->d));
	ASSERT_ERRNO(EBUSY, set_base(self->d.fd, 0, 5));
	ASSERT_ERRNO(EBUSY, set_base(self->d.fd, 1, 5));
	/* EBUSY before the value is looked at */
	ASSERT_ERRNO(EBUSY, set_base(self->d.fd, 0, 0x10000));
	/* reading is fine */
	ASSERT_EQ(0, get_base(self->d.fd, 0));
	ASSERT_ERRNO(0, vdev_stop(&self->d));
	ASSERT_ERRNO(0, set_base(self->d.fd, 0, 5));
	ASSERT_EQ(5, get_base(self->d.fd, 0));
}

/* ---- SET/GET_VRING_ENDIAN ----------------------------------------------- */

/*
 * Only with CONFIG_VHOST_CROSS_ENDIAN_LEGACY, which the test kernels leave
 * off (scripts/kernel/rvhost.config), as x86 distributions do: C answers
 * ENOTTY to both once the owner and index checks passed, whatever the value.
 * The answer is the oracle's constant, not probed from the module under test.
 */
TEST_F(vring, vring_endian)
{
	unsigned int vals[] = { VHOST_VRING_LITTLE_ENDIAN, VHOST_VRING_BIG_ENDIAN, 2 };
	struct vhost_vring_state s = { .index = 0 };
	size_t i;

	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	for (i = 0; i < ARRAY_SIZE(vals); i++) {
		s.num = vals[i];
		IOCTL_ERR(self->d.fd, VHOST_SET_VRING_ENDIAN, &s, VHOST_C_VRING_ENDIAN_ERRNO);
	}
	for (s.index = 0; s.index < 2; s.index++)
		IOCTL_ERR(self->d.fd, VHOST_GET_VRING_ENDIAN, &s, VHOST_C_VRING_ENDIAN_ERRNO);
}

/* ---- SET/GET_VRING_BUSYLOOP_TIMEOUT ------------------------------------- */

TEST_F(vring, busyloop_timeout)
{
	struct vhost_vring_state s = { .index = 1, .num = 0x12345678 };

	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	IOCTL_OK(self->d.fd, VHOST_SET_VRING_BUSYLOOP_TIMEOUT, &s);
	s.num = 0;
	IOCTL_OK(self->d.fd, VHOST_GET_VRING_BUSYLOOP_TIMEOUT, &s);
	ASSERT_EQ(1, s.index);
	ASSERT_EQ(0x12345678, s.num);
	s.index = 0;
	s.num = 99;
	IOCTL_OK(self->d.fd, VHOST_GET_VRING_BUSYLOOP_TIMEOUT, &s);
	ASSERT_EQ(0, s.index);
	ASSERT_EQ(0, s.num);
	s.index = 0;
	s.num = 0xffffffff;
	IOCTL_OK(self->d.fd, VHOST_SET_VRING_BUSYLOOP_TIMEOUT, &s);
	s.num = 0;
	IOCTL_OK(self->d.fd, VHOST_GET_VRING_BUSYLOOP_TIMEOUT, &s);
	ASSERT_EQ(0xffffffff, s.num);
}

/* Unlike NUM and BASE, the timeout may change while running. */
TEST_F(vring, busyloop_timeout_while_running)
{
	struct vhost_vring_state s = { .index = 0, .num = 50 };

	vdev_ready(_metadata, &self->d);
	ASSERT_ERRNO(0, vdev_start(&self->d));
	IOCTL_OK(self->d.fd, VHOST_SET_VRING_BUSYLOOP_TIMEOUT, &s);
	s.num = 0;
	IOCTL_OK(self->d.fd, VHOST_GET_VRING_BUSYLOOP_TIMEOUT, &s);
	ASSERT_EQ(50, s.num);
	s.num = 0;
	IOCTL_OK(self->d.fd, VHOST_SET_VRING_BUSYLOOP_TIMEOUT, &s);
}

/* ---- SET_VRING_KICK / CALL / ERR ---------------------------------------- */

static const unsigned long file_reqs[] = {
	VHOST_SET_VRING_KICK, VHOST_SET_VRING_CALL, VHOST_SET_VRING_ERR,
};

/*
 * Set, set again, replace, unbind (twice), bind again: the eventfds bound
 * last are the ones used -- a kick on the kick eventfd runs the handler,
 * a used buffer signals the call eventfd, a bad avail index the error
 * eventfd, and none of the ones bound before hear anything. vhost holds
 * its own references: once the test closed the call and error eventfds,
 * the handler still signals them (on the debug kernel KASAN would see a
 * freed one) and the buffers are used.
 */
TEST_F(vring, vring_files_eventfd)
{
	int efd = new_eventfd(), efd2 = new_eventfd();
	struct vdev_ring r = vdev_ring_of(&self->d, VDEV_TX_VQ);
	int fin[ARRAY_SIZE(file_reqs)];
	int kick, call, err;
	size_t i;
	int vq;

	ASSERT_LE(0, efd);
	ASSERT_LE(0, efd2);
	for (i = 0; i < ARRAY_SIZE(file_reqs); i++) {
		fin[i] = new_eventfd();
		ASSERT_LE(0, fin[i]);
	}
	kick = fin[0];
	call = fin[1];
	err = fin[2];
	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	for (i = 0; i < ARRAY_SIZE(file_reqs); i++) {
		for (vq = 0; vq < VDEV_NVQS; vq++) {
			ASSERT_ERRNO(0, set_vring_file(self->d.fd, file_reqs[i], vq, efd));
			/* the same one again */
			ASSERT_ERRNO(0, set_vring_file(self->d.fd, file_reqs[i], vq, efd));
			ASSERT_ERRNO(0, set_vring_file(self->d.fd, file_reqs[i], vq, efd2));
			ASSERT_ERRNO(0, set_vring_file(self->d.fd, file_reqs[i], vq, -1));
			ASSERT_ERRNO(0, set_vring_file(self->d.fd, file_reqs[i], vq, -1));
			ASSERT_ERRNO(0, set_vring_file(self->d.fd, file_reqs[i], vq, efd));
			/* and the one the data path must use */
			ASSERT_ERRNO(0, set_vring_file(self->d.fd, file_reqs[i], vq, fin[i]));
		}
	}
	vdev_setup_rings(_metadata, &self->d);
	ASSERT_ERRNO(0, vdev_start(&self->d));
	vdev_flush(&self->d);
	eventfd_take(call);
	/* kick -> handler -> used buffer -> call */
	vdev_tx_post(&self->d, &r, 0, 0);
	eventfd_kick(kick);
	ASSERT_TRUE(wait_readable(call, 5000)) TH_LOG("no call on the call eventfd");
	ASSERT_TRUE(vdev_ring_wait_used(&r, 1, 1000));
	vdev_flush(&self->d);
	ASSERT_LE(1, eventfd_take(call));
	/* a bad avail index -> error */
	r.avail->idx = VDEV_NUM + 2;
	eventfd_kick(kick);
	ASSERT_TRUE(wait_readable(err, 5000)) TH_LOG("no signal on the error eventfd");
	vdev_flush(&self->d);
	ASSERT_LE(1, eventfd_take(err));
	ASSERT_EQ(0, eventfd_take(call));
	ASSERT_EQ(1, vdev_ring_used_idx(&r));
	/* nothing on the ones replaced (efd only ever got the test's kicks: none) */
	ASSERT_EQ(0, eventfd_take(efd));
	ASSERT_EQ(0, eventfd_take(efd2));
	/* vhost holds its own references */
	close(efd);
	close(efd2);
	close(call);
	close(err);
	r.avail->idx = 1;
	vdev_tx_post(&self->d, &r, 1, 1);
	eventfd_kick(kick);
	ASSERT_TRUE(vdev_ring_wait_used(&r, 2, 5000));
	r.avail->idx = VDEV_NUM + 3;
	eventfd_kick(kick);
	vdev_flush(&self->d);
	ASSERT_EQ(2, vdev_ring_used_idx(&r));
	ASSERT_ERRNO(0, vdev_stop(&self->d));
	ASSERT_EQ(2, get_base(self->d.fd, VDEV_TX_VQ));
}

TEST_F(vring, vring_files_bad_fd_ebadf)
{
	int bad[] = { closed_fd(), -2, -1000, 0x7fffffff };
	size_t i, j;

	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	for (i = 0; i < ARRAY_SIZE(file_reqs); i++)
		for (j = 0; j < ARRAY_SIZE(bad); j++) {
			int r = set_vring_file(self->d.fd, file_reqs[i], 0, bad[j]);

			ASSERT_EQ(EBADF, r) TH_LOG("req %#lx fd %d: %s",
						   file_reqs[i], bad[j],
						   strerrorname_np(r) ?: "0");
		}
}

TEST_F(vring, vring_files_not_eventfd_einval)
{
	int p[2], sock, devnull;
	size_t i;

	ASSERT_EQ(0, pipe(p));
	sock = socket(AF_UNIX, SOCK_STREAM, 0);
	ASSERT_LE(0, sock);
	devnull = open("/dev/null", O_RDWR);
	ASSERT_LE(0, devnull);
	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	for (i = 0; i < ARRAY_SIZE(file_reqs); i++) {
		ASSERT_ERRNO(EINVAL, set_vring_file(self->d.fd, file_reqs[i], 0, p[0]));
		ASSERT_ERRNO(EINVAL, set_vring_file(self->d.fd, file_reqs[i], 1, sock));
		ASSERT_ERRNO(EINVAL, set_vring_file(self->d.fd, file_reqs[i], 0, devnull));
		ASSERT_ERRNO(EINVAL, set_vring_file(self->d.fd, file_reqs[i], 0, self->d.fd));
	}
}

/*
 * Observe the kick and error eventfds: with an avail index that has moved
 * further than the ring size, the virtqueue handler reports "Invalid
 * available index change" through vq_err(), which signals the error
 * eventfd. The handler runs when the kick eventfd is written.
 *
 * The virtqueue used is vhost-net's TX (1), whose handler fetches
 * descriptors on a kick, and vhost-vsock's TX (1).
 */
#define KICK_VQ 1

static void arm_bad_avail(struct __test_metadata *_metadata, struct vdev *d)
{
	ASSERT_ERRNO(0, vdev_start(d));
	/* let the work queued by starting finish before the ring goes bad */
	vdev_flush(d);
	vq_avail(d, KICK_VQ)->idx = VDEV_NUM + 1;
}

TEST_F(vring, kick_runs_handler_err_signalled)
{
	int kick = new_eventfd(), err = new_eventfd();

	ASSERT_LE(0, kick);
	ASSERT_LE(0, err);
	vdev_ready(_metadata, &self->d);
	ASSERT_ERRNO(0, set_vring_file(self->d.fd, VHOST_SET_VRING_KICK, KICK_VQ, kick));
	ASSERT_ERRNO(0, set_vring_file(self->d.fd, VHOST_SET_VRING_ERR, KICK_VQ, err));
	arm_bad_avail(_metadata, &self->d);
	ASSERT_EQ(0, eventfd_take(err));
	eventfd_kick(kick);
	ASSERT_TRUE(wait_readable(err, 5000));
	ASSERT_LE(1, eventfd_take(err));
}

/*
 * All three ring addresses 0 on a running queue: vq_meta_prefetch() takes
 * that for "no rings" (vhost_vq_invalidate_access() clears the three
 * together), and the handler does nothing: no ring read at address 0, no
 * error. With its rings back, the queue runs again.
 */
TEST_F(vring, set_addr_zero_while_running)
{
	int kick = new_eventfd(), err = new_eventfd();
	struct vdev *d = &self->d;

	ASSERT_LE(0, kick);
	ASSERT_LE(0, err);
	vdev_ready(_metadata, d);
	ASSERT_ERRNO(0, set_vring_file(d->fd, VHOST_SET_VRING_KICK, KICK_VQ, kick));
	ASSERT_ERRNO(0, set_vring_file(d->fd, VHOST_SET_VRING_ERR, KICK_VQ, err));
	ASSERT_ERRNO(0, vdev_start(d));
	vdev_flush(d);
	ASSERT_ERRNO(0, set_addr(d->fd, KICK_VQ, 0, 0, 0, 0, 0));
	eventfd_kick(kick);
	vdev_flush(d);
	usleep(100000);
	vdev_flush(d);
	ASSERT_EQ(0, eventfd_take(err)) TH_LOG("a ring at address 0 was read");
	/* the rings back, with a bad avail index: the handler reads it */
	vq_avail(d, KICK_VQ)->idx = VDEV_NUM + 1;
	ASSERT_ERRNO(0, set_addr(d->fd, KICK_VQ, 0, uptr(vq_desc(d, KICK_VQ)),
				 uptr(vq_avail(d, KICK_VQ)),
				 uptr(vq_used(d, KICK_VQ)), 0));
	eventfd_kick(kick);
	ASSERT_TRUE(wait_readable(err, 5000)) TH_LOG("the rings set again were not read");
	ASSERT_LE(1, eventfd_take(err));
}

/* A kick on an eventfd that was replaced (or unbound) does nothing. */
TEST_F(vring, kick_replaced_eventfd_ignored)
{
	int kick = new_eventfd(), kick2 = new_eventfd(), err = new_eventfd();

	ASSERT_LE(0, kick);
	ASSERT_LE(0, kick2);
	ASSERT_LE(0, err);
	vdev_ready(_metadata, &self->d);
	ASSERT_ERRNO(0, set_vring_file(self->d.fd, VHOST_SET_VRING_KICK, KICK_VQ, kick));
	ASSERT_ERRNO(0, set_vring_file(self->d.fd, VHOST_SET_VRING_KICK, KICK_VQ, kick2));
	ASSERT_ERRNO(0, set_vring_file(self->d.fd, VHOST_SET_VRING_ERR, KICK_VQ, err));
	arm_bad_avail(_metadata, &self->d);
	eventfd_kick(kick);
	vdev_flush(&self->d);
	ASSERT_FALSE(wait_readable(err, 200));
	eventfd_kick(kick2);
	ASSERT_TRUE(wait_readable(err, 5000));
	eventfd_take(err);
	ASSERT_ERRNO(0, set_vring_file(self->d.fd, VHOST_SET_VRING_KICK, KICK_VQ, -1));
	eventfd_kick(kick2);
	vdev_flush(&self->d);
	ASSERT_FALSE(wait_readable(err, 200));
}

/* A failed SET_VRING_KICK keeps the old eventfd. */
TEST_F(vring, kick_failed_set_keeps_old)
{
	int kick = new_eventfd(), err = new_eventfd(), p[2];

	ASSERT_LE(0, kick);
	ASSERT_LE(0, err);
	ASSERT_EQ(0, pipe(p));
	vdev_ready(_metadata, &self->d);
	ASSERT_ERRNO(0, set_vring_file(self->d.fd, VHOST_SET_VRING_KICK, KICK_VQ, kick));
	ASSERT_ERRNO(EBADF, set_vring_file(self->d.fd, VHOST_SET_VRING_KICK, KICK_VQ, closed_fd()));
	ASSERT_ERRNO(EINVAL, set_vring_file(self->d.fd, VHOST_SET_VRING_KICK, KICK_VQ, p[1]));
	ASSERT_ERRNO(0, set_vring_file(self->d.fd, VHOST_SET_VRING_ERR, KICK_VQ, err));
	arm_bad_avail(_metadata, &self->d);
	eventfd_kick(kick);
	ASSERT_TRUE(wait_readable(err, 5000));
}

/* A pending count on the new kick eventfd starts the handler at once. */
TEST_F(vring, kick_pending_on_set)
{
	int kick = new_eventfd(), err = new_eventfd();

	ASSERT_LE(0, kick);
	ASSERT_LE(0, err);
	vdev_ready(_metadata, &self->d);
	ASSERT_ERRNO(0, set_vring_file(self->d.fd, VHOST_SET_VRING_ERR, KICK_VQ, err));
	arm_bad_avail(_metadata, &self->d);
	eventfd_kick(kick);
	ASSERT_ERRNO(0, set_vring_file(self->d.fd, VHOST_SET_VRING_KICK, KICK_VQ, kick));
	ASSERT_TRUE(wait_readable(err, 5000));
}

/* The error eventfd: replaced, unbound, and kept on a failed set. */
TEST_F(vring, err_eventfd_replaced_and_unbound)
{
	int kick = new_eventfd(), err = new_eventfd(), err2 = new_eventfd();

	ASSERT_LE(0, kick);
	ASSERT_LE(0, err);
	ASSERT_LE(0, err2);
	vdev_ready(_metadata, &self->d);
	ASSERT_ERRNO(0, set_vring_file(self->d.fd, VHOST_SET_VRING_KICK, KICK_VQ, kick));
	ASSERT_ERRNO(0, set_vring_file(self->d.fd, VHOST_SET_VRING_ERR, KICK_VQ, err));
	ASSERT_ERRNO(0, set_vring_file(self->d.fd, VHOST_SET_VRING_ERR, KICK_VQ, err2));
	ASSERT_ERRNO(EBADF, set_vring_file(self->d.fd, VHOST_SET_VRING_ERR, KICK_VQ, closed_fd()));
	arm_bad_avail(_metadata, &self->d);
	eventfd_kick(kick);
	ASSERT_TRUE(wait_readable(err2, 5000));
	ASSERT_EQ(0, eventfd_take(err));
	ASSERT_LE(1, eventfd_take(err2));
	/* the other virtqueue's error eventfd is its own */
	ASSERT_ERRNO(0, set_vring_file(self->d.fd, VHOST_SET_VRING_ERR, 1 - KICK_VQ, err));
	eventfd_kick(kick);
	ASSERT_TRUE(wait_readable(err2, 5000));
	ASSERT_EQ(0, eventfd_take(err));
	eventfd_take(err2);
	ASSERT_ERRNO(0, set_vring_file(self->d.fd, VHOST_SET_VRING_ERR, KICK_VQ, -1));
	eventfd_kick(kick);
	vdev_flush(&self->d);
	ASSERT_FALSE(wait_readable(err2, 200));
}

/*
 * The flush every "nothing happened" check relies on (vdev_flush(): C
 * flushes the worker after VHOST_GET_FORK_FROM_OWNER, like after every
 * device ioctl that is not a virtqueue one) is a barrier: a kick queues
 * the handler before write() returns, so when the flush ioctl returns the
 * buffers the kick was for are used and the call is signalled -- looked
 * at right after it, without waiting.
 */
TEST_F(vring, flush_is_barrier)
{
	struct vdev_ring r = vdev_ring_of(&self->d, VDEV_TX_VQ);
	int kick = new_eventfd(), call = new_eventfd(), err = new_eventfd();
	unsigned int i, k, burst, n = 0;
	uint16_t used;

	ASSERT_LE(0, kick);
	ASSERT_LE(0, call);
	ASSERT_LE(0, err);
	vdev_ready(_metadata, &self->d);
	ASSERT_ERRNO(0, vdev_set_files(&self->d, VDEV_TX_VQ, kick, call, err));
	ASSERT_ERRNO(0, vdev_start(&self->d));
	vdev_flush(&self->d);
	eventfd_take(call);
	for (i = 0; i < 32; i++) {
		burst = 1 + i % 4;
		for (k = 0; k < burst; k++)
			vdev_tx_post(&self->d, &r, (n + k) % VDEV_NUM, k);
		eventfd_kick(kick);
		ASSERT_ERRNO(0, vdev_flush_barrier(self->d.fd));
		used = vdev_ring_used_idx(&r);
		n += burst;
		ASSERT_EQ(n, used)
			TH_LOG("round %u: used index %u when the flush returned, %u buffers posted",
			       i, used, n);
		ASSERT_TRUE(wait_readable(call, 0))
			TH_LOG("round %u: no call when the flush returned", i);
		eventfd_take(call);
	}
	ASSERT_EQ(0, eventfd_take(err));
}

/* The file ioctls are allowed while running. */
TEST_F(vring, vring_files_while_running)
{
	int efd = new_eventfd();
	size_t i;

	ASSERT_LE(0, efd);
	vdev_ready(_metadata, &self->d);
	ASSERT_ERRNO(0, vdev_start(&self->d));
	for (i = 0; i < ARRAY_SIZE(file_reqs); i++) {
		ASSERT_ERRNO(0, set_vring_file(self->d.fd, file_reqs[i], 0, efd));
		ASSERT_ERRNO(0, set_vring_file(self->d.fd, file_reqs[i], 1, efd));
		ASSERT_ERRNO(0, set_vring_file(self->d.fd, file_reqs[i], 0, -1));
	}
}

TEST_HARNESS_MAIN
