// SPDX-License-Identifier: GPL-2.0
/*
 * Worker threads: VHOST_SET/GET_FORK_FROM_OWNER, and the worker ioctls
 * VHOST_NEW_WORKER / FREE_WORKER / ATTACH_VRING_WORKER / GET_VRING_WORKER.
 *
 * vhost_worker_ioctl() is only called by vhost-scsi: vhost-net and
 * vhost-vsock pass the worker ioctls to vhost_dev_ioctl() (owner check)
 * and vhost_vring_ioctl(), which reads the first u32 of the argument as a
 * virtqueue index (EFAULT, ENOBUFS) and then knows nothing to do (ENOTTY).
 *
 * SET/GET_FORK_FROM_OWNER (CONFIG_VHOST_ENABLE_FORK_OWNER_CONTROL) come
 * before the owner check: anyone may read the mode, anyone may set it
 * while the device has no owner, nobody after (EBUSY). In task mode
 * (VHOST_FORK_OWNER_TASK, the default) SET_OWNER creates the worker as a
 * thread "vhost-<pid>" of the owner; in kthread mode as a kernel thread.
 */
#include "vhost_test.h"

VHOST_FIXTURE(worker);

static const unsigned long worker_reqs[] = {
	VHOST_NEW_WORKER, VHOST_FREE_WORKER, VHOST_ATTACH_VRING_WORKER,
	VHOST_GET_VRING_WORKER,
};

TEST_F(worker, worker_ioctls_before_owner_eperm)
{
	struct vhost_vring_worker w = { 0 };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(worker_reqs); i++)
		ASSERT_ERRNO(EPERM, ioctl_errno(self->d.fd, worker_reqs[i], &w));
}

TEST_F(worker, worker_ioctls_enotty)
{
	struct vhost_vring_worker w = { 0 };
	size_t i;

	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	for (i = 0; i < ARRAY_SIZE(worker_reqs); i++) {
		memset(&w, 0, sizeof(w));
		ASSERT_ERRNO(ENOTTY, ioctl_errno(self->d.fd, worker_reqs[i], &w));
		/* nothing written back */
		ASSERT_EQ(0, w.index);
		ASSERT_EQ(0, w.worker_id);
		w.index = 1;
		ASSERT_ERRNO(ENOTTY, ioctl_errno(self->d.fd, worker_reqs[i], &w));
	}
}

/* The first u32 is taken for a virtqueue index on the way to ENOTTY. */
TEST_F(worker, worker_ioctls_read_index)
{
	struct vhost_vring_worker w = { .index = 2, .worker_id = 0 };
	size_t i;

	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	for (i = 0; i < ARRAY_SIZE(worker_reqs); i++) {
		ASSERT_ERRNO(ENOBUFS, ioctl_errno(self->d.fd, worker_reqs[i], &w));
		ASSERT_ERRNO(EFAULT, ioctl_errno(self->d.fd, worker_reqs[i], NULL));
	}
	ASSERT_ERRNO(EPERM, child_ioctl(self->d.fd, VHOST_NEW_WORKER, &w));
}

TEST_F(worker, fork_owner_default)
{
	uint8_t v = 0xaa;

	IOCTL_OK(self->d.fd, VHOST_GET_FORK_FROM_OWNER, &v);
	ASSERT_EQ(fork_owner_default(variant->kind), v);
}

TEST_F(worker, fork_owner_set_get)
{
	uint8_t v;

	v = VHOST_FORK_OWNER_KTHREAD;
	IOCTL_OK(self->d.fd, VHOST_SET_FORK_FROM_OWNER, &v);
	v = 0xaa;
	IOCTL_OK(self->d.fd, VHOST_GET_FORK_FROM_OWNER, &v);
	ASSERT_EQ(VHOST_FORK_OWNER_KTHREAD, v);
	v = VHOST_FORK_OWNER_TASK;
	IOCTL_OK(self->d.fd, VHOST_SET_FORK_FROM_OWNER, &v);
	v = 0xaa;
	IOCTL_OK(self->d.fd, VHOST_GET_FORK_FROM_OWNER, &v);
	ASSERT_EQ(VHOST_FORK_OWNER_TASK, v);
}

TEST_F(worker, fork_owner_invalid_einval)
{
	uint8_t v = VHOST_FORK_OWNER_KTHREAD;
	unsigned int bad;

	IOCTL_OK(self->d.fd, VHOST_SET_FORK_FROM_OWNER, &v);
	for (bad = 2; bad < 256; bad++) {
		v = bad;
		ASSERT_ERRNO(EINVAL, ioctl_errno(self->d.fd,
					 VHOST_SET_FORK_FROM_OWNER, &v));
	}
	v = 0xaa;
	IOCTL_OK(self->d.fd, VHOST_GET_FORK_FROM_OWNER, &v);
	ASSERT_EQ(VHOST_FORK_OWNER_KTHREAD, v);
}

/* The argument is a single byte: the bytes after it are not read. */
TEST_F(worker, fork_owner_is_one_byte)
{
	unsigned char *page = guarded_page();

	ASSERT_NE(NULL, page);
	page[4095] = VHOST_FORK_OWNER_KTHREAD;
	IOCTL_OK(self->d.fd, VHOST_SET_FORK_FROM_OWNER, page + 4095);
	page[4095] = 0xaa;
	IOCTL_OK(self->d.fd, VHOST_GET_FORK_FROM_OWNER, page + 4095);
	ASSERT_EQ(VHOST_FORK_OWNER_KTHREAD, page[4095]);
	/* GET writes a single byte too */
	page[4094] = 0;
	page[4095] = 1;
	IOCTL_OK(self->d.fd, VHOST_SET_FORK_FROM_OWNER, page + 4095);
	IOCTL_OK(self->d.fd, VHOST_GET_FORK_FROM_OWNER, page + 4094);
	ASSERT_EQ(VHOST_FORK_OWNER_TASK, page[4094]);
	ASSERT_EQ(1, page[4095]);
}

TEST_F(worker, fork_owner_efault)
{
	IOCTL_ERR(self->d.fd, VHOST_SET_FORK_FROM_OWNER, NULL, EFAULT);
	IOCTL_ERR(self->d.fd, VHOST_GET_FORK_FROM_OWNER, NULL, EFAULT);
	IOCTL_ERR(self->d.fd, VHOST_GET_FORK_FROM_OWNER, (void *)KERNEL_ADDR,
		  EFAULT);
}

TEST_F(worker, fork_owner_after_owner_ebusy)
{
	uint8_t v = VHOST_FORK_OWNER_KTHREAD;

	IOCTL_OK(self->d.fd, VHOST_SET_FORK_FROM_OWNER, &v);
	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	v = VHOST_FORK_OWNER_TASK;
	IOCTL_ERR(self->d.fd, VHOST_SET_FORK_FROM_OWNER, &v, EBUSY);
	v = VHOST_FORK_OWNER_KTHREAD;
	IOCTL_ERR(self->d.fd, VHOST_SET_FORK_FROM_OWNER, &v, EBUSY);
	/* EBUSY comes before the argument is read */
	IOCTL_ERR(self->d.fd, VHOST_SET_FORK_FROM_OWNER, NULL, EBUSY);
	v = 7;
	IOCTL_ERR(self->d.fd, VHOST_SET_FORK_FROM_OWNER, &v, EBUSY);
	v = 0xaa;
	IOCTL_OK(self->d.fd, VHOST_GET_FORK_FROM_OWNER, &v);
	ASSERT_EQ(VHOST_FORK_OWNER_KTHREAD, v);
}

/* Not owner-checked: another process may read it, and set it if unowned. */
TEST_F(worker, fork_owner_from_other_process)
{
	uint8_t *v = shared_alloc(4096);

	ASSERT_NE(NULL, v);
	*v = VHOST_FORK_OWNER_KTHREAD;
	ASSERT_ERRNO(0, child_ioctl(self->d.fd, VHOST_SET_FORK_FROM_OWNER, v));
	*v = 0xaa;
	IOCTL_OK(self->d.fd, VHOST_GET_FORK_FROM_OWNER, v);
	ASSERT_EQ(VHOST_FORK_OWNER_KTHREAD, *v);
	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	*v = 0xaa;
	ASSERT_ERRNO(0, child_ioctl(self->d.fd, VHOST_GET_FORK_FROM_OWNER, v));
	ASSERT_EQ(VHOST_FORK_OWNER_KTHREAD, *v);
	*v = VHOST_FORK_OWNER_TASK;
	ASSERT_ERRNO(EBUSY, child_ioctl(self->d.fd, VHOST_SET_FORK_FROM_OWNER, v));
}

/* Task mode: the worker is a thread of the owner named vhost-<pid>. */
TEST_F(worker, task_mode_worker_thread)
{
	uint8_t v = VHOST_FORK_OWNER_TASK;
	char name[32];
	int before, fd2;

	snprintf(name, sizeof(name), "vhost-%d", getpid());
	IOCTL_OK(self->d.fd, VHOST_SET_FORK_FROM_OWNER, &v);
	before = count_threads(NULL);
	ASSERT_EQ(0, count_threads(name));
	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	ASSERT_EQ(before + 1, count_threads(NULL));
	ASSERT_EQ(1, count_threads(name));
	/* one per device */
	fd2 = vdev_open_fd(variant->kind);
	ASSERT_LE(0, fd2);
	IOCTL_OK(fd2, VHOST_SET_OWNER, NULL);
	ASSERT_EQ(2, count_threads(name));
	close(fd2);
	ASSERT_EQ(1, wait_threads(name, 1, 5000));
	/* it goes with the device */
	close(self->d.fd);
	self->d.fd = -1;
	ASSERT_EQ(0, wait_threads(name, 0, 5000));
	ASSERT_EQ(before, count_threads(NULL));
}

/* Kthread mode: no thread in the owner. */
TEST_F(worker, kthread_mode_no_worker_thread)
{
	uint8_t v = VHOST_FORK_OWNER_KTHREAD;
	int before, kick = new_eventfd(), err = new_eventfd();

	ASSERT_LE(0, kick);
	ASSERT_LE(0, err);
	IOCTL_OK(self->d.fd, VHOST_SET_FORK_FROM_OWNER, &v);
	before = count_threads(NULL);
	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	ASSERT_EQ(before, count_threads(NULL));
	/* and it works: a started device runs its handlers */
	ASSERT_ERRNO(0, vdev_set_mem(&self->d));
	ASSERT_ERRNO(0, set_num(self->d.fd, 0, VDEV_NUM));
	ASSERT_ERRNO(0, set_num(self->d.fd, 1, VDEV_NUM));
	ASSERT_ERRNO(0, vdev_set_addr(&self->d, 0));
	ASSERT_ERRNO(0, vdev_set_addr(&self->d, 1));
	ASSERT_ERRNO(0, vdev_start(&self->d));
	ASSERT_ERRNO(0, set_vring_file(self->d.fd, VHOST_SET_VRING_KICK, 1, kick));
	ASSERT_ERRNO(0, set_vring_file(self->d.fd, VHOST_SET_VRING_ERR, 1, err));
	vdev_flush(&self->d);
	vq_avail(&self->d, 1)->idx = VDEV_NUM + 1;
	eventfd_kick(kick);
	ASSERT_TRUE(wait_readable(err, 5000));
}

/* vhost-net: RESET_OWNER ends the worker and restores the default mode. */
VDEV_FIXTURE(net_worker, VDEV_NET);

TEST_F(net_worker, reset_owner_resets_fork_owner)
{
	uint8_t v = !fork_owner_default(VDEV_NET);

	IOCTL_OK(self->d.fd, VHOST_SET_FORK_FROM_OWNER, &v);
	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	IOCTL_OK(self->d.fd, VHOST_RESET_OWNER, NULL);
	v = 0xaa;
	IOCTL_OK(self->d.fd, VHOST_GET_FORK_FROM_OWNER, &v);
	ASSERT_EQ(fork_owner_default(VDEV_NET), v);
	/* settable again, with no owner */
	v = VHOST_FORK_OWNER_KTHREAD;
	IOCTL_OK(self->d.fd, VHOST_SET_FORK_FROM_OWNER, &v);
}

TEST_F(net_worker, reset_owner_ends_worker_thread)
{
	uint8_t v = VHOST_FORK_OWNER_TASK;
	char name[32];

	snprintf(name, sizeof(name), "vhost-%d", getpid());
	IOCTL_OK(self->d.fd, VHOST_SET_FORK_FROM_OWNER, &v);
	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	ASSERT_EQ(1, count_threads(name));
	IOCTL_OK(self->d.fd, VHOST_RESET_OWNER, NULL);
	ASSERT_EQ(0, wait_threads(name, 0, 5000));
	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	ASSERT_EQ(1, count_threads(name));
}

/* SET_OWNER from a thread names the worker after that thread's id. */
static void *set_owner_thread(void *p)
{
	int *fd = p;

	*fd = ioctl(*fd, VHOST_SET_OWNER, NULL) ? -errno : (int)gettid();
	return NULL;
}

TEST_F(worker, worker_named_after_caller)
{
	uint8_t v = VHOST_FORK_OWNER_TASK;
	int arg = self->d.fd;
	char name[32];
	pthread_t th;

	IOCTL_OK(self->d.fd, VHOST_SET_FORK_FROM_OWNER, &v);
	ASSERT_EQ(0, pthread_create(&th, NULL, set_owner_thread, &arg));
	ASSERT_EQ(0, pthread_join(th, NULL));
	ASSERT_LT(0, arg);
	snprintf(name, sizeof(name), "vhost-%d", arg);
	ASSERT_EQ(1, count_threads(name));
}

TEST_HARNESS_MAIN
