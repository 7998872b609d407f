// SPDX-License-Identifier: GPL-2.0
/*
 * VHOST_SET_OWNER / VHOST_RESET_OWNER and who may issue which ioctl.
 *
 * The owner is an address space, not a task: vhost_dev_check_owner()
 * compares dev->mm with current->mm (drivers/vhost/vhost.c). Before
 * SET_OWNER dev->mm is NULL, so every owner-checked ioctl fails with EPERM.
 * The feature ioctls, VHOST_VSOCK_SET_GUEST_CID and the fork-owner ioctls
 * are not owner-checked at all.
 */
#include "vhost_test.h"

VHOST_FIXTURE(owner);

/* Every owner-checked ioctl with a harmless, valid argument. */
struct owner_ioctl {
	unsigned long req;
	const char *name;
};

#define OI(r) { r, #r }
static const struct owner_ioctl owner_ioctls[] = {
	OI(VHOST_SET_MEM_TABLE),
	OI(VHOST_SET_LOG_BASE),
	OI(VHOST_SET_LOG_FD),
	OI(VHOST_SET_VRING_NUM),
	OI(VHOST_SET_VRING_ADDR),
	OI(VHOST_SET_VRING_BASE),
	OI(VHOST_GET_VRING_BASE),
	OI(VHOST_SET_VRING_KICK),
	OI(VHOST_SET_VRING_CALL),
	OI(VHOST_SET_VRING_ERR),
	OI(VHOST_SET_VRING_BUSYLOOP_TIMEOUT),
	OI(VHOST_GET_VRING_BUSYLOOP_TIMEOUT),
	OI(VHOST_SET_VRING_ENDIAN),
	OI(VHOST_GET_VRING_ENDIAN),
};

/*
 * An argument that every request above accepts from the owner: index 0 and
 * zeroes (an empty memory table, log base 0, fd -1 for the file ioctls,
 * ring size 1) -- so EPERM can only come from the owner check.
 */
static void *owner_arg(unsigned long req, void *buf)
{
	memset(buf, 0, 64);
	switch (req) {
	case VHOST_SET_LOG_FD:
		*(int *)buf = -1;
		break;
	case VHOST_SET_VRING_KICK:
	case VHOST_SET_VRING_CALL:
	case VHOST_SET_VRING_ERR:
		((struct vhost_vring_file *)buf)->fd = -1;
		break;
	case VHOST_SET_VRING_NUM:
		((struct vhost_vring_state *)buf)->num = 1;
		break;
	}
	return buf;
}

/*
 * SET_OWNER makes the caller's mm the owner and starts the worker
 * (vhost_dev_set_owner() -> vhost_worker_create()): in task mode, the
 * default, a thread "vhost-<pid>" of the owner; in kthread mode a kernel
 * thread. Then the worker runs the handlers: a kick on a started device
 * gets a TX buffer used and signalled.
 */
TEST_F(owner, set_owner)
{
	struct vdev_ring r = vdev_ring_of(&self->d, VDEV_TX_VQ);
	int kick = new_eventfd(), call = new_eventfd(), err = new_eventfd();
	int before = count_threads(NULL);
	char name[32];

	ASSERT_LE(0, kick);
	ASSERT_LE(0, call);
	ASSERT_LE(0, err);
	snprintf(name, sizeof(name), "vhost-%d", getpid());
	ASSERT_EQ(0, count_threads(name));
	ASSERT_ERRNO(EPERM, set_num(self->d.fd, 0, 4));
	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	/* the worker */
	if (fork_owner_default(variant->kind) == VHOST_FORK_OWNER_TASK) {
		ASSERT_EQ(1, count_threads(name));
		ASSERT_EQ(before + 1, count_threads(NULL));
	} else {
		ASSERT_EQ(before, count_threads(NULL));
	}
	/* the owner's ioctls work now */
	vdev_setup_rings(_metadata, &self->d);
	ASSERT_ERRNO(0, vdev_set_files(&self->d, VDEV_TX_VQ, kick, call, err));
	ASSERT_ERRNO(0, vdev_start(&self->d));
	vdev_flush(&self->d);
	ASSERT_EQ(0, eventfd_take(call));
	/* and the worker runs the handler a kick queues */
	vdev_tx_post(&self->d, &r, 0, 0);
	eventfd_kick(kick);
	ASSERT_TRUE(wait_readable(call, 5000)) TH_LOG("no call after the kick");
	ASSERT_TRUE(vdev_ring_wait_used(&r, 1, 1000));
	ASSERT_EQ(0, r.used->ring[0].id);
	ASSERT_EQ(0, r.used->ring[0].len);
	ASSERT_EQ(0, eventfd_take(err));
	ASSERT_ERRNO(0, vdev_stop(&self->d));
	ASSERT_EQ(1, get_base(self->d.fd, VDEV_TX_VQ));
}

TEST_F(owner, set_owner_twice_ebusy)
{
	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	IOCTL_ERR(self->d.fd, VHOST_SET_OWNER, NULL, EBUSY);
	/* still the owner */
	ASSERT_ERRNO(0, set_num(self->d.fd, 0, 4));
}

TEST_F(owner, ioctls_before_set_owner_eperm)
{
	unsigned char buf[64];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(owner_ioctls); i++) {
		int r = ioctl_errno(self->d.fd, owner_ioctls[i].req,
				    owner_arg(owner_ioctls[i].req, buf));

		ASSERT_EQ(EPERM, r) TH_LOG("%s: %s", owner_ioctls[i].name,
					   strerrorname_np(r) ?: "0");
	}
}

/* The owner check comes before the argument is even read. */
TEST_F(owner, owner_check_precedes_argument_checks)
{
	struct vhost_vring_state s = { .index = 99, .num = 3 };
	size_t i;

	IOCTL_ERR(self->d.fd, VHOST_SET_VRING_NUM, &s, EPERM);
	IOCTL_ERR(self->d.fd, VHOST_GET_VRING_BASE, &s, EPERM);
	for (i = 0; i < ARRAY_SIZE(owner_ioctls); i++) {
		int r = ioctl_errno(self->d.fd, owner_ioctls[i].req, NULL);

		ASSERT_EQ(EPERM, r) TH_LOG("%s(NULL): %s", owner_ioctls[i].name,
					   strerrorname_np(r) ?: "0");
	}
}

TEST_F(owner, features_need_no_owner)
{
	uint64_t f = 0;

	IOCTL_OK(self->d.fd, VHOST_GET_FEATURES, &f);
	ASSERT_EQ(vdev_features(variant->kind), f);
	f = BIT_ULL(VIRTIO_F_VERSION_1);
	IOCTL_OK(self->d.fd, VHOST_SET_FEATURES, &f);
	IOCTL_OK(self->d.fd, VHOST_GET_BACKEND_FEATURES, &f);
	ASSERT_EQ(BACKEND_FEATURES, f);
	IOCTL_OK(self->d.fd, VHOST_SET_BACKEND_FEATURES, &f);
	/* and none of it made us the owner */
	ASSERT_ERRNO(EPERM, set_num(self->d.fd, 0, 4));
	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
}

TEST_F(owner, child_process_eperm)
{
	unsigned char *buf = shared_alloc(4096);
	size_t i;

	ASSERT_NE(NULL, buf);
	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	ASSERT_ERRNO(0, set_mem_empty(self->d.fd));
	for (i = 0; i < ARRAY_SIZE(owner_ioctls); i++) {
		int r = child_ioctl(self->d.fd, owner_ioctls[i].req,
				    owner_arg(owner_ioctls[i].req, buf));

		ASSERT_EQ(EPERM, r) TH_LOG("%s: %s", owner_ioctls[i].name,
					   strerrorname_np(r) ?: "0");
	}
	/* A bad index from a non-owner is still EPERM. */
	((struct vhost_vring_state *)buf)->index = 99;
	ASSERT_ERRNO(EPERM, child_ioctl(self->d.fd, VHOST_GET_VRING_BASE, buf));
	/* The parent is still the owner. */
	ASSERT_ERRNO(0, set_num(self->d.fd, 0, 4));
}

TEST_F(owner, child_set_owner_ebusy)
{
	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	ASSERT_ERRNO(EBUSY, child_ioctl(self->d.fd, VHOST_SET_OWNER, NULL));
}

TEST_F(owner, child_may_use_feature_ioctls)
{
	uint64_t *f = shared_alloc(4096);

	ASSERT_NE(NULL, f);
	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	ASSERT_ERRNO(0, child_ioctl(self->d.fd, VHOST_GET_FEATURES, f));
	ASSERT_EQ(vdev_features(variant->kind), *f);
	*f = BIT_ULL(VIRTIO_F_VERSION_1);
	ASSERT_ERRNO(0, child_ioctl(self->d.fd, VHOST_SET_FEATURES, f));
	*f = 0;
	ASSERT_ERRNO(0, child_ioctl(self->d.fd, VHOST_GET_BACKEND_FEATURES, f));
	ASSERT_EQ(BACKEND_FEATURES, *f);
	ASSERT_ERRNO(0, child_ioctl(self->d.fd, VHOST_SET_BACKEND_FEATURES, f));
	*f = BIT_ULL(60);
	ASSERT_ERRNO(EOPNOTSUPP, child_ioctl(self->d.fd, VHOST_SET_FEATURES, f));
}

/* Another thread shares the mm, so it is the owner too. */
TEST_F(owner, thread_is_owner)
{
	struct vhost_vring_state s = { .index = 1, .num = 42 };

	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	ASSERT_ERRNO(0, thread_ioctl(self->d.fd, VHOST_SET_VRING_BASE, &s));
	ASSERT_EQ(42, get_base(self->d.fd, 1));
	ASSERT_ERRNO(EBUSY, thread_ioctl(self->d.fd, VHOST_SET_OWNER, NULL));
}

TEST_F(owner, set_owner_from_thread)
{
	ASSERT_ERRNO(0, thread_ioctl(self->d.fd, VHOST_SET_OWNER, NULL));
	ASSERT_ERRNO(0, set_base(self->d.fd, 0, 5));
	ASSERT_EQ(5, get_base(self->d.fd, 0));
	IOCTL_ERR(self->d.fd, VHOST_SET_OWNER, NULL, EBUSY);
}

/* Whoever calls SET_OWNER first owns the device, not whoever opened it. */
TEST_F(owner, child_owner_excludes_parent)
{
	int up[2], down[2], status;
	char c = 0;
	pid_t pid;

	ASSERT_EQ(0, pipe(up));
	ASSERT_EQ(0, pipe(down));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		c = ioctl(self->d.fd, VHOST_SET_OWNER, NULL) ? 'E' : 'O';
		if (write(up[1], &c, 1) != 1)
			_exit(1);
		/* stay alive until the parent is done */
		if (read(down[0], &c, 1) < 0)
			_exit(1);
		_exit(0);
	}
	ASSERT_EQ(1, read(up[0], &c, 1));
	ASSERT_EQ('O', c);
	ASSERT_ERRNO(EPERM, set_num(self->d.fd, 0, 4));
	ASSERT_EQ(-EPERM, get_base(self->d.fd, 0));
	IOCTL_ERR(self->d.fd, VHOST_SET_OWNER, NULL, EBUSY);
	ASSERT_EQ(1, write(down[1], &c, 1));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	/* The owner has exited: its mm still owns the device. */
	ASSERT_ERRNO(EPERM, set_num(self->d.fd, 0, 4));
	IOCTL_ERR(self->d.fd, VHOST_SET_OWNER, NULL, EBUSY);
}

/* Each open file is a device of its own. */
TEST_F(owner, owner_per_open_file)
{
	int fd2 = vdev_open_fd(variant->kind);

	ASSERT_LE(0, fd2);
	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	ASSERT_ERRNO(EPERM, set_num(fd2, 0, 4));
	IOCTL_OK(fd2, VHOST_SET_OWNER, NULL);
	ASSERT_ERRNO(0, set_base(self->d.fd, 0, 11));
	ASSERT_ERRNO(0, set_base(fd2, 0, 22));
	ASSERT_EQ(11, get_base(self->d.fd, 0));
	ASSERT_EQ(22, get_base(fd2, 0));
	close(fd2);
	ASSERT_EQ(11, get_base(self->d.fd, 0));
}

/* A dup()ed descriptor is the same device. */
TEST_F(owner, dup_is_same_device)
{
	int fd2 = dup(self->d.fd);

	ASSERT_LE(0, fd2);
	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	IOCTL_ERR(fd2, VHOST_SET_OWNER, NULL, EBUSY);
	ASSERT_ERRNO(0, set_base(fd2, 1, 33));
	ASSERT_EQ(33, get_base(self->d.fd, 1));
	close(fd2);
}

/* ---- VHOST_RESET_OWNER: vhost-net only ---------------------------------- */

VDEV_FIXTURE(net_owner, VDEV_NET);

TEST_F(net_owner, reset_owner)
{
	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	IOCTL_OK(self->d.fd, VHOST_RESET_OWNER, NULL);
	/* no owner any more */
	ASSERT_ERRNO(EPERM, set_num(self->d.fd, 0, 4));
	ASSERT_EQ(-EPERM, get_base(self->d.fd, 0));
	/* and one can be set again */
	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	ASSERT_ERRNO(0, set_num(self->d.fd, 0, 4));
}

TEST_F(net_owner, reset_owner_without_owner_eperm)
{
	IOCTL_ERR(self->d.fd, VHOST_RESET_OWNER, NULL, EPERM);
	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	IOCTL_OK(self->d.fd, VHOST_RESET_OWNER, NULL);
	IOCTL_ERR(self->d.fd, VHOST_RESET_OWNER, NULL, EPERM);
}

TEST_F(net_owner, reset_owner_from_child_eperm)
{
	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	ASSERT_ERRNO(0, set_base(self->d.fd, 0, 3));
	ASSERT_ERRNO(EPERM, child_ioctl(self->d.fd, VHOST_RESET_OWNER, NULL));
	/* nothing was reset */
	ASSERT_EQ(3, get_base(self->d.fd, 0));
	IOCTL_ERR(self->d.fd, VHOST_SET_OWNER, NULL, EBUSY);
}

/* After a reset another process may take the device over. */
TEST_F(net_owner, reset_owner_then_child_takes_over)
{
	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	IOCTL_OK(self->d.fd, VHOST_RESET_OWNER, NULL);
	ASSERT_ERRNO(0, child_ioctl(self->d.fd, VHOST_SET_OWNER, NULL));
	ASSERT_ERRNO(EPERM, set_num(self->d.fd, 0, 4));
	IOCTL_ERR(self->d.fd, VHOST_SET_OWNER, NULL, EBUSY);
}

TEST_F(net_owner, reset_owner_resets_vring_state)
{
	struct vhost_vring_state s = { .index = 1, .num = 1000 };

	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	ASSERT_ERRNO(0, set_base(self->d.fd, 0, 7));
	ASSERT_ERRNO(0, set_base(self->d.fd, 1, 9));
	IOCTL_OK(self->d.fd, VHOST_SET_VRING_BUSYLOOP_TIMEOUT, &s);
	IOCTL_OK(self->d.fd, VHOST_RESET_OWNER, NULL);
	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	ASSERT_EQ(0, get_base(self->d.fd, 0));
	ASSERT_EQ(0, get_base(self->d.fd, 1));
	s.num = 1234;
	IOCTL_OK(self->d.fd, VHOST_GET_VRING_BUSYLOOP_TIMEOUT, &s);
	ASSERT_EQ(1, s.index);
	ASSERT_EQ(0, s.num);
}

/*
 * A new device has no memory table, and a virtqueue cannot be verified
 * without one (vq_memory_access_ok() fails on a NULL umem) -- not even to
 * unbind its backend. vhost_dev_reset_owner() however installs an *empty*
 * table, so after a reset the same check passes.
 */
TEST_F(net_owner, reset_owner_installs_empty_mem_table)
{
	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	ASSERT_ERRNO(EFAULT, net_set_backend(self->d.fd, 0, -1));
	IOCTL_OK(self->d.fd, VHOST_RESET_OWNER, NULL);
	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	ASSERT_ERRNO(0, net_set_backend(self->d.fd, 0, -1));
	ASSERT_ERRNO(0, net_set_backend(self->d.fd, 1, -1));
}

/* The reset drops the memory table that was set. */
TEST_F(net_owner, reset_owner_drops_mem_table)
{
	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	/* A table the access check rejects, accepted while nothing runs. */
	ASSERT_ERRNO(0, set_mem_one(self->d.fd, 0, 0x1000, KERNEL_ADDR));
	ASSERT_ERRNO(EFAULT, net_set_backend(self->d.fd, 0, -1));
	IOCTL_OK(self->d.fd, VHOST_RESET_OWNER, NULL);
	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	ASSERT_ERRNO(0, net_set_backend(self->d.fd, 0, -1));
}

/*
 * The reset clears the acked features: with VIRTIO_RING_F_EVENT_IDX the
 * avail ring is 2 bytes longer (vhost_get_avail_size()), which decides
 * whether a ring that ends exactly at the top of the user address space
 * passes access_ok().
 */
TEST_F(net_owner, reset_owner_clears_acked_features)
{
	uint64_t top = user_ptr_max();
	uint64_t avail = top - (4 + 2 * 1);	/* num 1, no event idx */

	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	ASSERT_ERRNO(0, vdev_set_mem(&self->d));
	ASSERT_ERRNO(0, set_features(self->d.fd,
				     BIT_ULL(VIRTIO_RING_F_EVENT_IDX)));
	ASSERT_ERRNO(0, set_addr(self->d.fd, 0, 0, uptr(vq_desc(&self->d, 0)),
				 avail, uptr(vq_used(&self->d, 0)), 0));
	ASSERT_ERRNO(EFAULT, net_set_backend(self->d.fd, 0, -1));
	ASSERT_ERRNO(0, set_features(self->d.fd, 0));
	ASSERT_ERRNO(0, net_set_backend(self->d.fd, 0, -1));
	ASSERT_ERRNO(0, set_features(self->d.fd,
				     BIT_ULL(VIRTIO_RING_F_EVENT_IDX)));
	ASSERT_ERRNO(EFAULT, net_set_backend(self->d.fd, 0, -1));

	IOCTL_OK(self->d.fd, VHOST_RESET_OWNER, NULL);
	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	ASSERT_ERRNO(0, vdev_set_mem(&self->d));
	ASSERT_ERRNO(0, set_addr(self->d.fd, 0, 0, uptr(vq_desc(&self->d, 0)),
				 avail, uptr(vq_used(&self->d, 0)), 0));
	ASSERT_ERRNO(0, net_set_backend(self->d.fd, 0, -1));
}

/* The reset forgets the ring addresses (they are NULL again). */
TEST_F(net_owner, reset_owner_forgets_ring_addresses)
{
	int sock = packet_socket();

	ASSERT_LE(0, sock);
	vdev_ready(_metadata, &self->d);
	ASSERT_ERRNO(0, net_set_backend(self->d.fd, 0, sock));
	ASSERT_ERRNO(0, net_set_backend(self->d.fd, 0, -1));
	IOCTL_OK(self->d.fd, VHOST_RESET_OWNER, NULL);
	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	/* used ring is NULL: vhost_vq_init_access() cannot write it */
	ASSERT_ERRNO(EFAULT, net_set_backend(self->d.fd, 0, sock));
	ASSERT_ERRNO(0, vdev_set_addr(&self->d, 0));
	ASSERT_ERRNO(0, net_set_backend(self->d.fd, 0, sock));
	close(sock);
}

/* A running backend is stopped by the reset. */
TEST_F(net_owner, reset_owner_stops_backend)
{
	vdev_ready(_metadata, &self->d);
	ASSERT_ERRNO(0, vdev_start(&self->d));
	ASSERT_ERRNO(EBUSY, set_num(self->d.fd, 0, 4));
	IOCTL_OK(self->d.fd, VHOST_RESET_OWNER, NULL);
	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	ASSERT_ERRNO(0, set_num(self->d.fd, 0, 4));
	ASSERT_ERRNO(0, set_num(self->d.fd, 1, 4));
	ASSERT_ERRNO(0, set_base(self->d.fd, 1, 4));
}

/* ---- vhost-vsock has no VHOST_RESET_OWNER ------------------------------- */

VDEV_FIXTURE(vsock_owner, VDEV_VSOCK);

/*
 * vhost_vsock_dev_ioctl() does not handle VHOST_RESET_OWNER: it falls
 * through vhost_dev_ioctl() (owner check, EPERM) into vhost_vring_ioctl(),
 * which reads a virtqueue index from the argument before it finds nothing
 * to do (ENOTTY). With the usual NULL argument that read faults.
 */
TEST_F(vsock_owner, reset_owner_unsupported)
{
	unsigned int zero = 0, two = 2;

	IOCTL_ERR(self->d.fd, VHOST_RESET_OWNER, NULL, EPERM);
	IOCTL_ERR(self->d.fd, VHOST_RESET_OWNER, &zero, EPERM);
	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	ASSERT_ERRNO(0, set_base(self->d.fd, 0, 6));
	IOCTL_ERR(self->d.fd, VHOST_RESET_OWNER, NULL, EFAULT);
	IOCTL_ERR(self->d.fd, VHOST_RESET_OWNER, &zero, ENOTTY);
	IOCTL_ERR(self->d.fd, VHOST_RESET_OWNER, &two, ENOBUFS);
	/* nothing was reset */
	IOCTL_ERR(self->d.fd, VHOST_SET_OWNER, NULL, EBUSY);
	ASSERT_EQ(6, get_base(self->d.fd, 0));
}

TEST_HARNESS_MAIN
