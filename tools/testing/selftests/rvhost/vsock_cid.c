// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-vsock: VHOST_VSOCK_SET_GUEST_CID and VHOST_VSOCK_SET_RUNNING
 * (drivers/vhost/vsock.c).
 *
 * SET_GUEST_CID is not owner-checked. It refuses CIDs 0, 1, 2 (host),
 * U32_MAX and anything above 32 bits (EINVAL), and a CID that the
 * guest->host transport uses or that another vhost-vsock device has in a
 * network namespace that can see this one (EADDRINUSE). A device's CID is
 * released when it gets another one or is closed.
 *
 * SET_RUNNING(nonzero) checks the owner (EPERM), then for each virtqueue
 * vhost_vq_access_ok() and, if not yet running, writes and reads the used
 * ring (EFAULT; on failure neither virtqueue runs). SET_RUNNING(0) checks
 * the owner and stops both.
 *
 * Seen from the host's AF_VSOCK sockets, a connect() to a guest CID fails
 * with ENODEV when no device has the CID, EHOSTUNREACH when the device's
 * RX virtqueue is not running, and is queued (EINPROGRESS) when it is.
 */
#include "vhost_test.h"

VDEV_FIXTURE(vsock_cid, VDEV_VSOCK);

#define PORT 1234

static int connect_errno(unsigned int cid)
{
	return vsock_try_connect(SOCK_STREAM, cid, PORT);
}

TEST_F(vsock_cid, set_cid)
{
	unsigned int cid = test_cid(0);

	ASSERT_ERRNO(ENODEV, connect_errno(cid));
	ASSERT_ERRNO(0, vsock_set_cid(self->d.fd, cid));
	ASSERT_ERRNO(EHOSTUNREACH, connect_errno(cid));
	/* the same CID again is fine */
	ASSERT_ERRNO(0, vsock_set_cid(self->d.fd, cid));
	ASSERT_ERRNO(EHOSTUNREACH, connect_errno(cid));
}

TEST_F(vsock_cid, reserved_cids_einval)
{
	uint64_t bad[] = { 0, 1, 2, 0xffffffffULL, 0x100000000ULL,
			   0x100000000ULL + 1000, ~0ULL, 1ULL << 63 };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		int r = vsock_set_cid(self->d.fd, bad[i]);

		ASSERT_EQ(EINVAL, r) TH_LOG("cid %#llx: %s",
					    (unsigned long long)bad[i],
					    strerrorname_np(r) ?: "0");
	}
	/* the smallest and largest valid ones */
	ASSERT_ERRNO(0, vsock_set_cid(self->d.fd, 3));
	ASSERT_ERRNO(0, vsock_set_cid(self->d.fd, 0xfffffffeULL));
}

TEST_F(vsock_cid, set_cid_efault)
{
	unsigned char *page = guarded_page();

	ASSERT_NE(NULL, page);
	IOCTL_ERR(self->d.fd, VHOST_VSOCK_SET_GUEST_CID, NULL, EFAULT);
	IOCTL_ERR(self->d.fd, VHOST_VSOCK_SET_GUEST_CID, page + 4096 - 4, EFAULT);
}

/* No owner needed, from any process. */
TEST_F(vsock_cid, set_cid_needs_no_owner)
{
	uint64_t *cid = shared_alloc(4096);

	ASSERT_NE(NULL, cid);
	*cid = test_cid(0);
	ASSERT_ERRNO(0, child_ioctl(self->d.fd, VHOST_VSOCK_SET_GUEST_CID, cid));
	ASSERT_ERRNO(EHOSTUNREACH, connect_errno(test_cid(0)));
	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	*cid = test_cid(1);
	ASSERT_ERRNO(0, child_ioctl(self->d.fd, VHOST_VSOCK_SET_GUEST_CID, cid));
	ASSERT_ERRNO(ENODEV, connect_errno(test_cid(0)));
	ASSERT_ERRNO(EHOSTUNREACH, connect_errno(test_cid(1)));
}

TEST_F(vsock_cid, duplicate_cid_eaddrinuse)
{
	int fd2 = vdev_open_fd(VDEV_VSOCK);
	unsigned int cid = test_cid(0);

	ASSERT_LE(0, fd2);
	ASSERT_ERRNO(0, vsock_set_cid(self->d.fd, cid));
	ASSERT_ERRNO(EADDRINUSE, vsock_set_cid(fd2, cid));
	ASSERT_ERRNO(0, vsock_set_cid(fd2, test_cid(1)));
	ASSERT_ERRNO(EADDRINUSE, vsock_set_cid(fd2, cid));
	ASSERT_ERRNO(EADDRINUSE, vsock_set_cid(self->d.fd, test_cid(1)));
	close(fd2);
}

/* Taking another CID releases the old one. */
TEST_F(vsock_cid, change_cid_releases_old)
{
	int fd2 = vdev_open_fd(VDEV_VSOCK);

	ASSERT_LE(0, fd2);
	ASSERT_ERRNO(0, vsock_set_cid(self->d.fd, test_cid(0)));
	ASSERT_ERRNO(0, vsock_set_cid(self->d.fd, test_cid(1)));
	ASSERT_ERRNO(ENODEV, connect_errno(test_cid(0)));
	ASSERT_ERRNO(EHOSTUNREACH, connect_errno(test_cid(1)));
	ASSERT_ERRNO(0, vsock_set_cid(fd2, test_cid(0)));
	close(fd2);
}

/* A refused CID leaves the old one in place. */
TEST_F(vsock_cid, failed_set_keeps_cid)
{
	int fd2 = vdev_open_fd(VDEV_VSOCK);

	ASSERT_LE(0, fd2);
	ASSERT_ERRNO(0, vsock_set_cid(self->d.fd, test_cid(0)));
	ASSERT_ERRNO(0, vsock_set_cid(fd2, test_cid(1)));
	ASSERT_ERRNO(EINVAL, vsock_set_cid(self->d.fd, 2));
	ASSERT_ERRNO(EADDRINUSE, vsock_set_cid(self->d.fd, test_cid(1)));
	ASSERT_ERRNO(EHOSTUNREACH, connect_errno(test_cid(0)));
	ASSERT_ERRNO(EADDRINUSE, vsock_set_cid(fd2, test_cid(0)));
	close(fd2);
}

TEST_F(vsock_cid, close_releases_cid)
{
	int fd2 = vdev_open_fd(VDEV_VSOCK);

	ASSERT_LE(0, fd2);
	ASSERT_ERRNO(0, vsock_set_cid(fd2, test_cid(0)));
	close(fd2);
	ASSERT_ERRNO(ENODEV, connect_errno(test_cid(0)));
	ASSERT_ERRNO(0, vsock_set_cid(self->d.fd, test_cid(0)));
}

/*
 * Network namespaces: in "global" mode (the default) every namespace sees
 * the same CIDs; a device opened in a "local" namespace only its own.
 */
static int child_in_netns_set_cid(unsigned int cid)
{
	int status, fd, r;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (unshare(CLONE_NEWNET))
			_exit(200);
		fd = vdev_open_fd(VDEV_VSOCK);
		if (fd < 0)
			_exit(201);
		r = vsock_set_cid(fd, cid);
		_exit(r);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

TEST_F(vsock_cid, cid_shared_across_global_netns)
{
	char mode[16];
	int r;

	if (!read_small_file("/proc/sys/net/vsock/child_ns_mode", mode, sizeof(mode)))
		SKIP(return, "no /proc/sys/net/vsock/child_ns_mode");
	if (strncmp(mode, "global", 6))
		SKIP(return, "child_ns_mode is %s", mode);
	ASSERT_ERRNO(0, vsock_set_cid(self->d.fd, test_cid(0)));
	r = child_in_netns_set_cid(test_cid(0));
	if (r == 200)
		SKIP(return, "unshare(CLONE_NEWNET) not permitted");
	ASSERT_EQ(EADDRINUSE, r);
	ASSERT_EQ(0, child_in_netns_set_cid(test_cid(1)));
}

TEST_F(vsock_cid, set_running_before_owner_eperm)
{
	ASSERT_ERRNO(EPERM, vsock_set_running(self->d.fd, 1));
	ASSERT_ERRNO(EPERM, vsock_set_running(self->d.fd, 0));
}

TEST_F(vsock_cid, set_running_from_child_eperm)
{
	int *v = shared_alloc(4096);

	ASSERT_NE(NULL, v);
	vdev_ready(_metadata, &self->d);
	*v = 1;
	ASSERT_ERRNO(EPERM, child_ioctl(self->d.fd, VHOST_VSOCK_SET_RUNNING, v));
	ASSERT_ERRNO(0, vsock_set_running(self->d.fd, 1));
	*v = 0;
	ASSERT_ERRNO(EPERM, child_ioctl(self->d.fd, VHOST_VSOCK_SET_RUNNING, v));
	/* still running */
	ASSERT_ERRNO(EBUSY, set_num(self->d.fd, 0, 16));
}

TEST_F(vsock_cid, set_running_efault)
{
	unsigned char *page = guarded_page();

	ASSERT_NE(NULL, page);
	vdev_ready(_metadata, &self->d);
	IOCTL_ERR(self->d.fd, VHOST_VSOCK_SET_RUNNING, NULL, EFAULT);
	IOCTL_ERR(self->d.fd, VHOST_VSOCK_SET_RUNNING, page + 4096 - 2, EFAULT);
}

TEST_F(vsock_cid, set_running)
{
	unsigned int cid = test_cid(0);

	vdev_ready(_metadata, &self->d);
	ASSERT_ERRNO(0, vsock_set_cid(self->d.fd, cid));
	ASSERT_ERRNO(EHOSTUNREACH, connect_errno(cid));
	ASSERT_ERRNO(0, vsock_set_running(self->d.fd, 1));
	ASSERT_ERRNO(EBUSY, set_num(self->d.fd, 0, 16));
	ASSERT_ERRNO(EBUSY, set_num(self->d.fd, 1, 16));
	ASSERT_ERRNO(EBUSY, set_base(self->d.fd, 0, 1));
	ASSERT_ERRNO(EINPROGRESS, connect_errno(cid));
	/* again: already running, fine */
	ASSERT_ERRNO(0, vsock_set_running(self->d.fd, 1));
	ASSERT_ERRNO(0, vsock_set_running(self->d.fd, 0));
	ASSERT_ERRNO(EHOSTUNREACH, connect_errno(cid));
	ASSERT_ERRNO(0, set_num(self->d.fd, 0, 16));
	ASSERT_ERRNO(0, set_base(self->d.fd, 1, 1));
	/* stopping a stopped device is fine */
	ASSERT_ERRNO(0, vsock_set_running(self->d.fd, 0));
}

/* Any nonzero value starts. */
TEST_F(vsock_cid, set_running_nonzero_starts)
{
	vdev_ready(_metadata, &self->d);
	ASSERT_ERRNO(0, vsock_set_running(self->d.fd, 2));
	ASSERT_ERRNO(EBUSY, set_num(self->d.fd, 0, 16));
	ASSERT_ERRNO(0, vsock_set_running(self->d.fd, 0));
	ASSERT_ERRNO(0, vsock_set_running(self->d.fd, -1));
	ASSERT_ERRNO(EBUSY, set_num(self->d.fd, 1, 16));
}

/* The device runs without a CID; a CID set later reaches it. */
TEST_F(vsock_cid, running_without_cid)
{
	vdev_ready(_metadata, &self->d);
	ASSERT_ERRNO(0, vsock_set_running(self->d.fd, 1));
	ASSERT_ERRNO(0, vsock_set_cid(self->d.fd, test_cid(0)));
	ASSERT_ERRNO(EINPROGRESS, connect_errno(test_cid(0)));
}

TEST_F(vsock_cid, start_needs_mem_table)
{
	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	ASSERT_ERRNO(0, vdev_set_addr(&self->d, 0));
	ASSERT_ERRNO(0, vdev_set_addr(&self->d, 1));
	ASSERT_ERRNO(EFAULT, vsock_set_running(self->d.fd, 1));
	ASSERT_ERRNO(0, set_mem_empty(self->d.fd));
	ASSERT_ERRNO(0, vsock_set_running(self->d.fd, 1));
}

TEST_F(vsock_cid, start_needs_rings)
{
	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	ASSERT_ERRNO(0, vdev_set_mem(&self->d));
	ASSERT_ERRNO(EFAULT, vsock_set_running(self->d.fd, 1));
	ASSERT_ERRNO(0, vdev_set_addr(&self->d, 0));
	ASSERT_ERRNO(EFAULT, vsock_set_running(self->d.fd, 1));
	/* the failure left virtqueue 0 stopped */
	ASSERT_ERRNO(0, set_num(self->d.fd, 0, 16));
	ASSERT_ERRNO(0, vdev_set_addr(&self->d, 1));
	ASSERT_ERRNO(0, vsock_set_running(self->d.fd, 1));
}

/* If the second virtqueue fails, the first is stopped again. */
TEST_F(vsock_cid, failed_start_stops_all)
{
	unsigned int cid = test_cid(0);

	vdev_ready(_metadata, &self->d);
	ASSERT_ERRNO(0, vsock_set_cid(self->d.fd, cid));
	ASSERT_ERRNO(0, set_addr(self->d.fd, 1, 0, uptr(vq_desc(&self->d, 1)),
				 uptr(vq_avail(&self->d, 1)),
				 uptr(unmapped_addr()), 0));
	ASSERT_ERRNO(EFAULT, vsock_set_running(self->d.fd, 1));
	ASSERT_ERRNO(0, set_num(self->d.fd, 0, 16));
	ASSERT_ERRNO(EHOSTUNREACH, connect_errno(cid));
	/* with both rings good it starts */
	ASSERT_ERRNO(0, set_num(self->d.fd, 0, VDEV_NUM));
	ASSERT_ERRNO(0, vdev_set_addr(&self->d, 1));
	ASSERT_ERRNO(0, vsock_set_running(self->d.fd, 1));
}

/*
 * Starting a virtqueue writes its used ring's flags, then reads its index
 * (vhost_vq_init_access()); only a failed read is a vq_err(). A used ring
 * that cannot be written (read-only, or no access) fails the start with
 * EFAULT and nothing on either error eventfd, and neither virtqueue runs.
 * Writable again, the device starts, and both virtqueues work.
 */
TEST_F(vsock_cid, start_used_ring_fault_not_signalled)
{
	const int prot[] = { PROT_READ, PROT_NONE };
	struct vdev_ring r = vdev_ring_of(&self->d, VDEV_TX_VQ);
	unsigned int cid = test_cid(0);
	int err[VDEV_NVQS], kick = new_eventfd(), vq, other;
	size_t p;

	ASSERT_LE(0, kick);
	vdev_ready(_metadata, &self->d);
	ASSERT_ERRNO(0, vsock_set_cid(self->d.fd, cid));
	for (vq = 0; vq < VDEV_NVQS; vq++) {
		err[vq] = new_eventfd();
		ASSERT_LE(0, err[vq]);
		ASSERT_ERRNO(0, vdev_set_files(&self->d, vq,
					       vq == VDEV_TX_VQ ? kick : -1,
					       -1, err[vq]));
	}
	for (vq = 0; vq < VDEV_NVQS; vq++) {
		for (p = 0; p < ARRAY_SIZE(prot); p++) {
			ASSERT_EQ(0, mprotect(vq_used(&self->d, vq), 4096, prot[p]));
			ASSERT_ERRNO(EFAULT, vsock_set_running(self->d.fd, 1));
			ASSERT_EQ(0, mprotect(vq_used(&self->d, vq), 4096,
					      PROT_READ | PROT_WRITE));
			vdev_flush(&self->d);
			for (other = 0; other < VDEV_NVQS; other++) {
				ASSERT_EQ(0, eventfd_take(err[other]))
					TH_LOG("vq %d's used ring %s: error eventfd of vq %d signalled",
					       vq, prot[p] ? "read-only" : "inaccessible",
					       other);
			}
			ASSERT_ERRNO(EHOSTUNREACH, connect_errno(cid));
			ASSERT_ERRNO(0, set_base(self->d.fd, 0, 0));
			ASSERT_ERRNO(0, set_base(self->d.fd, 1, 0));
		}
	}
	ASSERT_ERRNO(0, vsock_set_running(self->d.fd, 1));
	ASSERT_ERRNO(EINPROGRESS, connect_errno(cid));
	/* TX takes a packet (not from the guest's CID: dropped, used). */
	vdev_tx_post(&self->d, &r, 0, 0);
	eventfd_kick(kick);
	ASSERT_TRUE(vdev_ring_wait_used(&r, 1, 5000));
	ASSERT_EQ(0, eventfd_take(err[0]));
	ASSERT_EQ(0, eventfd_take(err[1]));
	for (vq = 0; vq < VDEV_NVQS; vq++)
		close(err[vq]);
	close(kick);
}

/*
 * VIRTIO_VSOCK_F_SEQPACKET: without it the host's SOCK_SEQPACKET sockets
 * cannot reach the guest (ESOCKTNOSUPPORT from the transport assignment).
 */
TEST_F(vsock_cid, seqpacket_feature)
{
	unsigned int cid = test_cid(0);

	vdev_ready(_metadata, &self->d);
	ASSERT_ERRNO(0, vsock_set_cid(self->d.fd, cid));
	ASSERT_ERRNO(ESOCKTNOSUPPORT, vsock_try_connect(SOCK_SEQPACKET, cid, PORT));
	ASSERT_ERRNO(0, set_features(self->d.fd, BIT_ULL(VIRTIO_VSOCK_F_SEQPACKET)));
	ASSERT_ERRNO(EHOSTUNREACH, vsock_try_connect(SOCK_SEQPACKET, cid, PORT));
	ASSERT_ERRNO(0, vsock_set_running(self->d.fd, 1));
	ASSERT_ERRNO(EINPROGRESS, vsock_try_connect(SOCK_SEQPACKET, cid, PORT));
	ASSERT_ERRNO(0, set_features(self->d.fd, 0));
	ASSERT_ERRNO(ESOCKTNOSUPPORT, vsock_try_connect(SOCK_SEQPACKET, cid, PORT));
	/* a rejected feature set keeps it off */
	ASSERT_ERRNO(EOPNOTSUPP, set_features(self->d.fd,
					      BIT_ULL(VIRTIO_VSOCK_F_SEQPACKET) |
					      BIT_ULL(2)));
	ASSERT_ERRNO(ESOCKTNOSUPPORT, vsock_try_connect(SOCK_SEQPACKET, cid, PORT));
}

TEST_HARNESS_MAIN
