// SPDX-License-Identifier: GPL-2.0
/*
 * Dirty logging: VHOST_SET_LOG_BASE, VHOST_SET_LOG_FD, VHOST_F_LOG_ALL and
 * the VHOST_VRING_F_LOG flag of VHOST_SET_VRING_ADDR.
 *
 * The log base is only checked for running virtqueues (log_access_ok():
 * the bitmap covering every memory region with LOG_ALL, the used ring's
 * log address with VRING_F_LOG), else when a virtqueue starts. Starting a
 * virtqueue writes its used flags, which with VRING_F_LOG sets the bit of
 * log_guest_addr's page in the bitmap and signals the log eventfd.
 */
#include "vhost_test.h"

VHOST_FIXTURE(log);

static unsigned char *log_buffer(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static int set_addr_log(struct vdev *d, int vq, uint64_t log_addr)
{
	return set_addr(d->fd, vq, 1 << VHOST_VRING_F_LOG,
			uptr(vq_desc(d, vq)), uptr(vq_avail(d, vq)),
			uptr(vq_used(d, vq)), log_addr);
}

TEST_F(log, before_owner_eperm)
{
	ASSERT_ERRNO(EPERM, set_log_base(self->d.fd, 0));
	ASSERT_ERRNO(EPERM, set_log_fd(self->d.fd, -1));
}

TEST_F(log, set_log_base_unchecked_while_stopped)
{
	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	ASSERT_ERRNO(0, set_log_base(self->d.fd, 0));
	ASSERT_ERRNO(0, set_log_base(self->d.fd, KERNEL_ADDR));
	ASSERT_ERRNO(0, set_log_base(self->d.fd, ~0ULL));
	ASSERT_ERRNO(0, set_log_base(self->d.fd, uptr(self->d.mem)));
}

TEST_F(log, set_log_base_efault)
{
	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	IOCTL_ERR(self->d.fd, VHOST_SET_LOG_BASE, NULL, EFAULT);
	IOCTL_ERR(self->d.fd, VHOST_SET_LOG_BASE, (void *)KERNEL_ADDR, EFAULT);
}

TEST_F(log, set_log_fd)
{
	int efd = new_eventfd(), p[2];

	ASSERT_LE(0, efd);
	ASSERT_EQ(0, pipe(p));
	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	ASSERT_ERRNO(0, set_log_fd(self->d.fd, efd));
	ASSERT_ERRNO(0, set_log_fd(self->d.fd, efd));
	ASSERT_ERRNO(0, set_log_fd(self->d.fd, -1));
	ASSERT_ERRNO(0, set_log_fd(self->d.fd, -1));
	ASSERT_ERRNO(EBADF, set_log_fd(self->d.fd, closed_fd()));
	ASSERT_ERRNO(EBADF, set_log_fd(self->d.fd, -2));
	ASSERT_ERRNO(EINVAL, set_log_fd(self->d.fd, p[0]));
	ASSERT_ERRNO(EINVAL, set_log_fd(self->d.fd, self->d.fd));
	IOCTL_ERR(self->d.fd, VHOST_SET_LOG_FD, NULL, EFAULT);
}

/* With LOG_ALL acked, starting a virtqueue checks the log bitmap. */
TEST_F(log, log_all_checks_log_base_at_start)
{
	unsigned char *log = log_buffer();

	ASSERT_NE(NULL, log);
	vdev_ready(_metadata, &self->d);
	ASSERT_ERRNO(0, set_log_base(self->d.fd, KERNEL_ADDR));
	ASSERT_ERRNO(0, vdev_probe(&self->d));
	/* acking LOG_ALL is fine while nothing runs */
	ASSERT_ERRNO(0, set_features(self->d.fd, BIT_ULL(VHOST_F_LOG_ALL)));
	ASSERT_ERRNO(EFAULT, vdev_probe(&self->d));
	/* a bitmap reaching past the top of the user address space */
	ASSERT_ERRNO(0, set_log_base(self->d.fd, user_ptr_max() - 4));
	ASSERT_ERRNO(EFAULT, vdev_probe(&self->d));
	ASSERT_ERRNO(0, set_log_base(self->d.fd, uptr(log)));
	ASSERT_ERRNO(0, vdev_probe(&self->d));
	ASSERT_ERRNO(0, set_log_base(self->d.fd, KERNEL_ADDR));
	ASSERT_ERRNO(0, set_features(self->d.fd, 0));
	ASSERT_ERRNO(0, vdev_probe(&self->d));
}

/* While running, LOG_ALL and the log base are checked against each other. */
TEST_F(log, log_all_checked_while_running)
{
	unsigned char *log = log_buffer();

	ASSERT_NE(NULL, log);
	vdev_ready(_metadata, &self->d);
	ASSERT_ERRNO(0, vdev_start(&self->d));
	/* no LOG_ALL, no VRING_F_LOG: any base */
	ASSERT_ERRNO(0, set_log_base(self->d.fd, KERNEL_ADDR));
	ASSERT_ERRNO(EFAULT, set_features(self->d.fd, BIT_ULL(VHOST_F_LOG_ALL)));
	ASSERT_ERRNO(0, set_log_base(self->d.fd, uptr(log)));
	ASSERT_ERRNO(0, set_features(self->d.fd, BIT_ULL(VHOST_F_LOG_ALL)));
	ASSERT_ERRNO(EFAULT, set_log_base(self->d.fd, KERNEL_ADDR));
	/* the good base was kept */
	ASSERT_ERRNO(0, set_features(self->d.fd, BIT_ULL(VHOST_F_LOG_ALL)));
	/* and the memory table must be loggable too */
	ASSERT_ERRNO(0, set_mem_one(self->d.fd, 0, VDEV_MEM_SIZE,
				    uptr(self->d.mem)));
	ASSERT_ERRNO(0, set_features(self->d.fd, 0));
	ASSERT_ERRNO(0, set_log_base(self->d.fd, KERNEL_ADDR));
}

/* A failed LOG_ALL keeps the features that were acked before. */
TEST_F(log, failed_log_all_keeps_features)
{
	vdev_ready(_metadata, &self->d);
	ASSERT_ERRNO(0, vdev_start(&self->d));
	ASSERT_ERRNO(0, set_log_base(self->d.fd, KERNEL_ADDR));
	ASSERT_ERRNO(0, set_features(self->d.fd, BIT_ULL(VIRTIO_F_VERSION_1)));
	ASSERT_ERRNO(EFAULT, set_features(self->d.fd,
					  BIT_ULL(VHOST_F_LOG_ALL) |
					  BIT_ULL(VIRTIO_F_VERSION_1)));
	/* LOG_ALL was not acked: the bad base is still accepted */
	ASSERT_ERRNO(0, set_log_base(self->d.fd, KERNEL_ADDR));
}

/* VRING_F_LOG makes the start check the used ring's log. */
TEST_F(log, vring_log_checked_at_start)
{
	unsigned char *log = log_buffer();

	ASSERT_NE(NULL, log);
	vdev_ready(_metadata, &self->d);
	ASSERT_ERRNO(0, set_log_base(self->d.fd, KERNEL_ADDR));
	ASSERT_ERRNO(0, set_addr_log(&self->d, 0, 0x1000));
	ASSERT_ERRNO(EFAULT, vdev_probe(&self->d));
	ASSERT_ERRNO(0, set_log_base(self->d.fd, uptr(log)));
	ASSERT_ERRNO(0, vdev_probe(&self->d));
	ASSERT_ERRNO(0, set_log_base(self->d.fd, KERNEL_ADDR));
	ASSERT_ERRNO(EFAULT, vdev_probe(&self->d));
	ASSERT_ERRNO(0, vdev_set_addr(&self->d, 0));
	ASSERT_ERRNO(0, vdev_probe(&self->d));
}

TEST_F(log, vring_log_checked_while_running)
{
	unsigned char *log = log_buffer();

	ASSERT_NE(NULL, log);
	vdev_ready(_metadata, &self->d);
	ASSERT_ERRNO(0, vdev_start(&self->d));
	ASSERT_ERRNO(0, set_log_base(self->d.fd, KERNEL_ADDR));
	ASSERT_ERRNO(EINVAL, set_addr_log(&self->d, 0, 0x1000));
	ASSERT_ERRNO(0, vdev_set_addr(&self->d, 0));
	ASSERT_ERRNO(0, set_log_base(self->d.fd, uptr(log)));
	ASSERT_ERRNO(0, set_addr_log(&self->d, 0, 0x1000));
	/* with VRING_F_LOG on, the base is checked against it */
	ASSERT_ERRNO(EFAULT, set_log_base(self->d.fd, KERNEL_ADDR));
	/* a log address whose bitmap byte is past the top */
	ASSERT_ERRNO(0, set_log_base(self->d.fd, user_ptr_max() - 1));
	ASSERT_ERRNO(EINVAL, set_addr_log(&self->d, 1, 8 * 4096 * 8));
	ASSERT_ERRNO(0, set_addr_log(&self->d, 1, 0));
}

/*
 * Starting with VRING_F_LOG writes the used flags, logs that write in the
 * bitmap (bit = log_guest_addr / 4096) and signals the log eventfd.
 */
TEST_F(log, vring_log_writes_bitmap_and_signals)
{
	unsigned char *log = log_buffer();
	int efd = new_eventfd(), i;

	ASSERT_NE(NULL, log);
	ASSERT_LE(0, efd);
	vdev_ready(_metadata, &self->d);
	ASSERT_ERRNO(0, set_log_base(self->d.fd, uptr(log)));
	ASSERT_ERRNO(0, set_log_fd(self->d.fd, efd));
	ASSERT_ERRNO(0, set_addr_log(&self->d, 0, 5 * 4096));
	ASSERT_ERRNO(0, set_addr_log(&self->d, 1, 10 * 4096 + 0x100));
	ASSERT_ERRNO(0, vdev_start(&self->d));
	vdev_flush(&self->d);
	ASSERT_EQ(0x20, log[0]);
	ASSERT_EQ(0x04, log[1]);
	for (i = 2; i < 4096; i++) {
		ASSERT_EQ(0, log[i]) TH_LOG("byte %d", i);
	}
	ASSERT_LE(1, eventfd_take(efd));
}

/*
 * A log bit that cannot be set (the bitmap in memory the process cannot
 * write: PROT_NONE passes SET_LOG_BASE's access_ok()) does not fail the
 * ring write it logs: C looks at no result of log_used(), so the queue
 * starts (vhost_vq_init_access() writes the used flags) and its used ring
 * is written.
 */
TEST_F(log, log_write_fault_ignored)
{
	void *log = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ASSERT_NE(MAP_FAILED, log);
	vdev_ready(_metadata, &self->d);
	ASSERT_ERRNO(0, set_log_base(self->d.fd, uptr(log)));
	ASSERT_ERRNO(0, set_addr_log(&self->d, 0, 5 * 4096));
	ASSERT_ERRNO(0, set_addr_log(&self->d, 1, 10 * 4096));
	ASSERT_ERRNO(0, vdev_start(&self->d));
	vdev_flush(&self->d);
	ASSERT_ERRNO(0, vdev_stop(&self->d));
}

TEST_F(log, no_vring_log_no_bitmap)
{
	unsigned char *log = log_buffer();
	int efd = new_eventfd(), i;

	ASSERT_NE(NULL, log);
	ASSERT_LE(0, efd);
	vdev_ready(_metadata, &self->d);
	ASSERT_ERRNO(0, set_log_base(self->d.fd, uptr(log)));
	ASSERT_ERRNO(0, set_log_fd(self->d.fd, efd));
	ASSERT_ERRNO(0, vdev_start(&self->d));
	vdev_flush(&self->d);
	for (i = 0; i < 4096; i++) {
		ASSERT_EQ(0, log[i]) TH_LOG("byte %d", i);
	}
	ASSERT_EQ(0, eventfd_take(efd));
}

/* The log eventfd: replaced, kept on a failed set, unbound. */
TEST_F(log, log_fd_replaced)
{
	unsigned char *log = log_buffer();
	int a = new_eventfd(), b = new_eventfd(), p[2];

	ASSERT_NE(NULL, log);
	ASSERT_LE(0, a);
	ASSERT_LE(0, b);
	ASSERT_EQ(0, pipe(p));
	vdev_ready(_metadata, &self->d);
	ASSERT_ERRNO(0, set_log_base(self->d.fd, uptr(log)));
	ASSERT_ERRNO(0, set_addr_log(&self->d, 0, 0));
	ASSERT_ERRNO(0, set_log_fd(self->d.fd, a));
	ASSERT_ERRNO(0, set_log_fd(self->d.fd, b));
	ASSERT_ERRNO(EBADF, set_log_fd(self->d.fd, closed_fd()));
	ASSERT_ERRNO(EINVAL, set_log_fd(self->d.fd, p[1]));
	ASSERT_ERRNO(0, vdev_start(&self->d));
	vdev_flush(&self->d);
	ASSERT_EQ(0, eventfd_take(a));
	ASSERT_LE(1, eventfd_take(b));
	ASSERT_EQ(0x01, log[0]);
	/* restart with the log eventfd unbound: the bitmap is still written */
	ASSERT_ERRNO(0, vdev_stop(&self->d));
	log[0] = 0;
	ASSERT_ERRNO(0, set_log_fd(self->d.fd, -1));
	ASSERT_ERRNO(0, vdev_start(&self->d));
	vdev_flush(&self->d);
	ASSERT_EQ(0x01, log[0]);
	ASSERT_EQ(0, eventfd_take(a));
	ASSERT_EQ(0, eventfd_take(b));
}

TEST_HARNESS_MAIN
