// SPDX-License-Identifier: GPL-2.0
/*
 * Requests a device does not implement, and the file operations around
 * the ioctls.
 *
 * vhost_net_ioctl() and vhost_vsock_dev_ioctl() hand every request they do
 * not handle themselves to vhost_dev_ioctl(), which checks the owner
 * (EPERM) and then to vhost_vring_ioctl(), which reads a u32 virtqueue
 * index from the argument (EFAULT, ENOBUFS for index >= 2) before it
 * returns -ENOIOCTLCMD, which the VFS turns into ENOTTY. So an unknown
 * request fails with EPERM, EFAULT, ENOBUFS or ENOTTY depending on who
 * asks and what the argument points to.
 */
#include "vhost_test.h"

VHOST_FIXTURE(dispatch);

static const unsigned long unknown_reqs[] = {
	_IO(VHOST_VIRTIO, 0x0f),
	_IOW(VHOST_VIRTIO, 0x17, __u64),
	_IOR(VHOST_VIRTIO, 0x2f, __u64),
	_IOWR(VHOST_VIRTIO, 0x50, struct vhost_vring_state),
	_IOW(VHOST_VIRTIO, 0x86, __u8),
	_IO(VHOST_VIRTIO, 0xff),
	/* an existing request number with the wrong size or direction */
	_IOW(VHOST_VIRTIO, 0x10, __u32),
	_IOR(VHOST_VIRTIO, 0x01, int),
	_IO(VHOST_VIRTIO, 0x00),
	/* other drivers' requests */
	0x5401,		/* TCGETS */
	_IOR('X', 1, int),
};

/* Requests of vhost-scsi and vhost-vdpa. */
static const unsigned long other_vhost_reqs[] = {
	VHOST_SCSI_SET_ENDPOINT, VHOST_SCSI_CLEAR_ENDPOINT,
	VHOST_SCSI_GET_ABI_VERSION, VHOST_SCSI_SET_EVENTS_MISSED,
	VHOST_SCSI_GET_EVENTS_MISSED, VHOST_VDPA_GET_DEVICE_ID,
	VHOST_VDPA_GET_STATUS, VHOST_VDPA_SET_STATUS, VHOST_VDPA_GET_CONFIG,
	VHOST_VDPA_SET_CONFIG, VHOST_VDPA_SET_VRING_ENABLE,
	VHOST_VDPA_GET_VRING_NUM, VHOST_VDPA_SET_CONFIG_CALL,
	VHOST_VDPA_GET_IOVA_RANGE, VHOST_VDPA_GET_CONFIG_SIZE,
	VHOST_VDPA_GET_AS_NUM, VHOST_VDPA_GET_VRING_GROUP,
	VHOST_VDPA_SET_GROUP_ASID, VHOST_VDPA_SUSPEND, VHOST_VDPA_RESUME,
	VHOST_VDPA_GET_VRING_DESC_GROUP, VHOST_VDPA_GET_VQS_COUNT,
	VHOST_VDPA_GET_GROUP_NUM, VHOST_VDPA_GET_VRING_SIZE,
};

static void check_reqs(struct __test_metadata *_metadata, int fd,
		       const unsigned long *reqs, size_t n, unsigned int idx,
		       int expect)
{
	unsigned char buf[512];
	size_t i;

	for (i = 0; i < n; i++) {
		int r;

		memset(buf, 0, sizeof(buf));
		*(unsigned int *)buf = idx;
		r = ioctl_errno(fd, reqs[i], buf);
		ASSERT_EQ(expect, r) TH_LOG("request %#lx: %s, expected %s",
					    reqs[i], strerrorname_np(r) ?: "0",
					    strerrorname_np(expect));
		/* nothing was written */
		ASSERT_EQ(idx, *(unsigned int *)buf);
		ASSERT_EQ(0, buf[4]);
	}
}

TEST_F(dispatch, unknown_before_owner_eperm)
{
	check_reqs(_metadata, self->d.fd, unknown_reqs,
		   ARRAY_SIZE(unknown_reqs), 0, EPERM);
	check_reqs(_metadata, self->d.fd, unknown_reqs,
		   ARRAY_SIZE(unknown_reqs), 99, EPERM);
}

TEST_F(dispatch, unknown_enotty)
{
	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	check_reqs(_metadata, self->d.fd, unknown_reqs,
		   ARRAY_SIZE(unknown_reqs), 0, ENOTTY);
	check_reqs(_metadata, self->d.fd, unknown_reqs,
		   ARRAY_SIZE(unknown_reqs), 1, ENOTTY);
}

TEST_F(dispatch, unknown_reads_vq_index)
{
	size_t i;

	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	check_reqs(_metadata, self->d.fd, unknown_reqs,
		   ARRAY_SIZE(unknown_reqs), 2, ENOBUFS);
	check_reqs(_metadata, self->d.fd, unknown_reqs,
		   ARRAY_SIZE(unknown_reqs), 0xffffffff, ENOBUFS);
	for (i = 0; i < ARRAY_SIZE(unknown_reqs); i++) {
		int r = ioctl_errno(self->d.fd, unknown_reqs[i], NULL);

		ASSERT_EQ(EFAULT, r) TH_LOG("request %#lx: %s", unknown_reqs[i],
					    strerrorname_np(r) ?: "0");
	}
}

TEST_F(dispatch, unknown_from_child_eperm)
{
	unsigned int *idx = shared_alloc(4096);
	size_t i;

	ASSERT_NE(NULL, idx);
	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	for (i = 0; i < ARRAY_SIZE(unknown_reqs); i++)
		ASSERT_ERRNO(EPERM, child_ioctl(self->d.fd, unknown_reqs[i], idx));
}

TEST_F(dispatch, other_vhost_drivers_requests)
{
	check_reqs(_metadata, self->d.fd, other_vhost_reqs,
		   ARRAY_SIZE(other_vhost_reqs), 0, EPERM);
	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	check_reqs(_metadata, self->d.fd, other_vhost_reqs,
		   ARRAY_SIZE(other_vhost_reqs), 0, ENOTTY);
	check_reqs(_metadata, self->d.fd, other_vhost_reqs,
		   ARRAY_SIZE(other_vhost_reqs), 5, ENOBUFS);
}

/* No mmap; lseek is a no-op that reports position 0. */
TEST_F(dispatch, file_operations)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED,
		       self->d.fd, 0);

	ASSERT_EQ(MAP_FAILED, p);
	ASSERT_EQ(ENODEV, errno);
	ASSERT_EQ(0, lseek(self->d.fd, 100, SEEK_SET));
	ASSERT_EQ(0, lseek(self->d.fd, 0, SEEK_END));
}

/* ---- one device's requests on the other ---------------------------------- */

VDEV_FIXTURE(dispatch_net, VDEV_NET);

TEST_F(dispatch_net, vsock_requests_unsupported)
{
	uint64_t cid = 0;
	int run = 1;

	ASSERT_ERRNO(EPERM, ioctl_errno(self->d.fd, VHOST_VSOCK_SET_GUEST_CID, &cid));
	ASSERT_ERRNO(EPERM, ioctl_errno(self->d.fd, VHOST_VSOCK_SET_RUNNING, &run));
	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	ASSERT_ERRNO(ENOTTY, ioctl_errno(self->d.fd, VHOST_VSOCK_SET_GUEST_CID, &cid));
	ASSERT_ERRNO(ENOTTY, ioctl_errno(self->d.fd, VHOST_VSOCK_SET_RUNNING, &run));
	run = 0;
	ASSERT_ERRNO(ENOTTY, ioctl_errno(self->d.fd, VHOST_VSOCK_SET_RUNNING, &run));
	/* a real CID is a virtqueue index out of range */
	cid = 3;
	ASSERT_ERRNO(ENOBUFS, ioctl_errno(self->d.fd, VHOST_VSOCK_SET_GUEST_CID, &cid));
}

VDEV_FIXTURE(dispatch_vsock, VDEV_VSOCK);

TEST_F(dispatch_vsock, net_requests_unsupported)
{
	int p[2];

	ASSERT_EQ(0, pipe(p));
	ASSERT_ERRNO(EPERM, net_set_backend(self->d.fd, 0, -1));
	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	ASSERT_ERRNO(0, vdev_set_mem(&self->d));
	ASSERT_ERRNO(ENOTTY, net_set_backend(self->d.fd, 0, -1));
	ASSERT_ERRNO(ENOTTY, net_set_backend(self->d.fd, 1, p[0]));
	ASSERT_ERRNO(ENOBUFS, net_set_backend(self->d.fd, 2, -1));
	IOCTL_ERR(self->d.fd, VHOST_NET_SET_BACKEND, NULL, EFAULT);
}

TEST_HARNESS_MAIN
