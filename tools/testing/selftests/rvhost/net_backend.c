// SPDX-License-Identifier: GPL-2.0
/*
 * VHOST_NET_SET_BACKEND (vhost_net_set_backend() in drivers/vhost/net.c).
 *
 * Order of checks: the argument is readable (EFAULT), the caller is the
 * owner (EPERM), index < 2 (ENOBUFS), the virtqueue passes
 * vhost_vq_access_ok() (EFAULT; needs a memory table, even for fd -1),
 * the fd is -1, a raw AF_PACKET socket, a tun/tap or a macvtap file
 * (anything else: ENOTSOCK), then for a new backend the used ring is
 * written and read (vhost_vq_init_access(): EFAULT) and polling the file
 * starts (EINVAL if it reports EPOLLERR, e.g. a tun fd not attached to a
 * device). vhost holds a reference to the backend's file until it is
 * replaced, unbound, the owner is reset or the device is closed.
 */
#include "vhost_test.h"

VDEV_FIXTURE(net_backend, VDEV_NET);

TEST_F(net_backend, before_owner_eperm)
{
	int s = packet_socket();

	ASSERT_LE(0, s);
	ASSERT_ERRNO(EPERM, net_set_backend(self->d.fd, 0, -1));
	ASSERT_ERRNO(EPERM, net_set_backend(self->d.fd, 0, s));
	/* owner check before the index check */
	ASSERT_ERRNO(EPERM, net_set_backend(self->d.fd, 2, s));
	/* but the argument is read first */
	IOCTL_ERR(self->d.fd, VHOST_NET_SET_BACKEND, NULL, EFAULT);
}

TEST_F(net_backend, from_child_eperm)
{
	struct vhost_vring_file *f = shared_alloc(4096);

	ASSERT_NE(NULL, f);
	vdev_ready(_metadata, &self->d);
	f->index = 0;
	f->fd = -1;
	ASSERT_ERRNO(EPERM, child_ioctl(self->d.fd, VHOST_NET_SET_BACKEND, f));
	f->index = 5;
	ASSERT_ERRNO(EPERM, child_ioctl(self->d.fd, VHOST_NET_SET_BACKEND, f));
}

TEST_F(net_backend, bad_index_enobufs)
{
	unsigned int idx[] = { 2, 3, 256, 0x80000000, 0xffffffff };
	int s = packet_socket();
	size_t i;

	ASSERT_LE(0, s);
	vdev_ready(_metadata, &self->d);
	for (i = 0; i < ARRAY_SIZE(idx); i++) {
		ASSERT_ERRNO(ENOBUFS, net_set_backend(self->d.fd, idx[i], -1));
		ASSERT_ERRNO(ENOBUFS, net_set_backend(self->d.fd, idx[i], s));
	}
}

TEST_F(net_backend, bad_pointer_efault)
{
	unsigned char *page = guarded_page();

	ASSERT_NE(NULL, page);
	vdev_ready(_metadata, &self->d);
	IOCTL_ERR(self->d.fd, VHOST_NET_SET_BACKEND, NULL, EFAULT);
	IOCTL_ERR(self->d.fd, VHOST_NET_SET_BACKEND, page + 4096 - 4, EFAULT);
}

/* No memory table: no virtqueue passes the check, not even to unbind. */
TEST_F(net_backend, needs_mem_table)
{
	int s = packet_socket(), p[2];

	ASSERT_LE(0, s);
	ASSERT_EQ(0, pipe(p));
	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	ASSERT_ERRNO(0, vdev_set_addr(&self->d, 0));
	ASSERT_ERRNO(EFAULT, net_set_backend(self->d.fd, 0, -1));
	ASSERT_ERRNO(EFAULT, net_set_backend(self->d.fd, 0, s));
	/* the ring check comes before the fd check */
	ASSERT_ERRNO(EFAULT, net_set_backend(self->d.fd, 0, p[0]));
	ASSERT_ERRNO(0, set_mem_empty(self->d.fd));
	ASSERT_ERRNO(0, net_set_backend(self->d.fd, 0, -1));
	ASSERT_ERRNO(ENOTSOCK, net_set_backend(self->d.fd, 0, p[0]));
	ASSERT_ERRNO(0, net_set_backend(self->d.fd, 0, s));
}

TEST_F(net_backend, unbind_when_unbound)
{
	vdev_ready(_metadata, &self->d);
	ASSERT_ERRNO(0, net_set_backend(self->d.fd, 0, -1));
	ASSERT_ERRNO(0, net_set_backend(self->d.fd, 1, -1));
	ASSERT_ERRNO(0, set_num(self->d.fd, 0, 16));
}

TEST_F(net_backend, not_a_socket_enotsock)
{
	int p[2], efd = new_eventfd(), devnull = open("/dev/null", O_RDWR);
	int memfd = memfd_create("rvhost", MFD_CLOEXEC);
	int vfd = vdev_open_fd(VDEV_NET);

	ASSERT_EQ(0, pipe(p));
	ASSERT_LE(0, efd);
	ASSERT_LE(0, devnull);
	ASSERT_LE(0, memfd);
	ASSERT_LE(0, vfd);
	vdev_ready(_metadata, &self->d);
	ASSERT_ERRNO(ENOTSOCK, net_set_backend(self->d.fd, 0, p[0]));
	ASSERT_ERRNO(ENOTSOCK, net_set_backend(self->d.fd, 0, p[1]));
	ASSERT_ERRNO(ENOTSOCK, net_set_backend(self->d.fd, 1, efd));
	ASSERT_ERRNO(ENOTSOCK, net_set_backend(self->d.fd, 1, devnull));
	ASSERT_ERRNO(ENOTSOCK, net_set_backend(self->d.fd, 0, memfd));
	ASSERT_ERRNO(ENOTSOCK, net_set_backend(self->d.fd, 0, vfd));
	ASSERT_ERRNO(ENOTSOCK, net_set_backend(self->d.fd, 0, self->d.fd));
	/* nothing was bound */
	ASSERT_ERRNO(0, set_num(self->d.fd, 0, 16));
	ASSERT_ERRNO(0, set_num(self->d.fd, 1, 16));
}

/* A bad fd is not EBADF: whatever get_socket() fails with is ENOTSOCK. */
TEST_F(net_backend, bad_fd_enotsock)
{
	int bad[] = { closed_fd(), -2, -1000, 0x7fffffff };
	size_t i;

	vdev_ready(_metadata, &self->d);
	for (i = 0; i < ARRAY_SIZE(bad); i++)
		ASSERT_ERRNO(ENOTSOCK, net_set_backend(self->d.fd, 0, bad[i]));
}

/* Only raw packet sockets among sockets. */
TEST_F(net_backend, other_sockets_enotsock)
{
	struct { int domain, type, proto; } socks[] = {
		{ AF_UNIX, SOCK_STREAM, 0 },
		{ AF_UNIX, SOCK_DGRAM, 0 },
		{ AF_INET, SOCK_DGRAM, 0 },
		{ AF_INET, SOCK_STREAM, 0 },
		{ AF_INET, SOCK_RAW, IPPROTO_UDP },
		{ AF_INET6, SOCK_DGRAM, 0 },
		{ AF_PACKET, SOCK_DGRAM, 0 },
		{ AF_VSOCK, SOCK_STREAM, 0 },
		{ AF_NETLINK, SOCK_RAW, 0 },
	};
	size_t i;

	vdev_ready(_metadata, &self->d);
	for (i = 0; i < ARRAY_SIZE(socks); i++) {
		int s = socket(socks[i].domain, socks[i].type, socks[i].proto);
		int r;

		if (s < 0) {
			TH_LOG("no socket(%d, %d, %d): %s", socks[i].domain,
			       socks[i].type, socks[i].proto, strerror(errno));
			continue;
		}
		r = net_set_backend(self->d.fd, i & 1, s);
		ASSERT_EQ(ENOTSOCK, r) TH_LOG("socket(%d, %d, %d): %s",
					      socks[i].domain, socks[i].type,
					      socks[i].proto,
					      strerrorname_np(r) ?: "0");
		close(s);
	}
}

TEST_F(net_backend, packet_socket)
{
	int s = packet_socket(), s2;

	ASSERT_LE(0, s);
	s2 = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
	ASSERT_LE(0, s2);
	vdev_ready(_metadata, &self->d);
	ASSERT_ERRNO(0, net_set_backend(self->d.fd, 0, s));
	ASSERT_ERRNO(0, net_set_backend(self->d.fd, 1, s2));
	/* running now */
	ASSERT_ERRNO(EBUSY, set_num(self->d.fd, 0, 16));
	ASSERT_ERRNO(EBUSY, set_base(self->d.fd, 1, 0));
	/* the same socket again is a no-op; one socket on both is fine */
	ASSERT_ERRNO(0, net_set_backend(self->d.fd, 0, s));
	ASSERT_ERRNO(0, net_set_backend(self->d.fd, 1, s));
	ASSERT_ERRNO(0, net_set_backend(self->d.fd, 0, -1));
	ASSERT_ERRNO(0, set_num(self->d.fd, 0, 16));
	ASSERT_ERRNO(EBUSY, set_num(self->d.fd, 1, 16));
	ASSERT_ERRNO(0, net_set_backend(self->d.fd, 1, -1));
	ASSERT_ERRNO(0, set_num(self->d.fd, 1, 16));
}

/* A backend fd may be closed: vhost holds its own reference. */
TEST_F(net_backend, backend_fd_closed_after_set)
{
	int s = packet_socket();

	ASSERT_LE(0, s);
	vdev_ready(_metadata, &self->d);
	ASSERT_ERRNO(0, net_set_backend(self->d.fd, 0, s));
	close(s);
	ASSERT_ERRNO(EBUSY, set_num(self->d.fd, 0, 16));
	ASSERT_ERRNO(0, net_set_backend(self->d.fd, 0, -1));
}

/*
 * A new backend writes the used ring's flags and reads its index: a used
 * ring in unmapped or read-only memory fails with EFAULT (and nothing is
 * bound). Unbinding needs no ring memory at all.
 */
TEST_F(net_backend, used_ring_must_be_writable)
{
	int s = packet_socket();
	void *ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS,
			-1, 0);

	ASSERT_LE(0, s);
	ASSERT_NE(MAP_FAILED, ro);
	vdev_ready(_metadata, &self->d);
	ASSERT_ERRNO(0, set_addr(self->d.fd, 0, 0, uptr(vq_desc(&self->d, 0)),
				 uptr(vq_avail(&self->d, 0)),
				 uptr(unmapped_addr()), 0));
	ASSERT_ERRNO(0, net_set_backend(self->d.fd, 0, -1));
	ASSERT_ERRNO(EFAULT, net_set_backend(self->d.fd, 0, s));
	ASSERT_ERRNO(0, set_num(self->d.fd, 0, 16));
	ASSERT_ERRNO(0, set_addr(self->d.fd, 0, 0, uptr(vq_desc(&self->d, 0)),
				 uptr(vq_avail(&self->d, 0)), uptr(ro), 0));
	ASSERT_ERRNO(EFAULT, net_set_backend(self->d.fd, 0, s));
	ASSERT_ERRNO(0, set_num(self->d.fd, 0, 16));
	/* the desc table and avail ring are not touched: unmapped is fine */
	ASSERT_ERRNO(0, set_addr(self->d.fd, 0, 0, uptr(unmapped_addr()),
				 uptr(unmapped_addr()),
				 uptr(vq_used(&self->d, 0)), 0));
	ASSERT_ERRNO(0, net_set_backend(self->d.fd, 0, s));
}

/*
 * vhost_vq_init_access() failing to write the used ring's flags is no
 * vq_err(): EFAULT, and nothing on the error eventfd (only a failed read
 * of the used index, after the write, signals it). Nothing is bound.
 */
TEST_F(net_backend, used_ring_fault_not_signalled)
{
	const int prot[] = { PROT_READ, PROT_NONE };
	int s = packet_socket(), err[VDEV_NVQS], vq;
	size_t p;

	ASSERT_LE(0, s);
	vdev_ready(_metadata, &self->d);
	for (vq = 0; vq < VDEV_NVQS; vq++) {
		err[vq] = new_eventfd();
		ASSERT_LE(0, err[vq]);
		ASSERT_ERRNO(0, vdev_set_files(&self->d, vq, -1, -1, err[vq]));
	}
	for (vq = 0; vq < VDEV_NVQS; vq++) {
		for (p = 0; p < ARRAY_SIZE(prot); p++) {
			ASSERT_EQ(0, mprotect(vq_used(&self->d, vq), 4096, prot[p]));
			ASSERT_ERRNO(EFAULT, net_set_backend(self->d.fd, vq, s));
			ASSERT_EQ(0, mprotect(vq_used(&self->d, vq), 4096,
					      PROT_READ | PROT_WRITE));
			vdev_flush(&self->d);
			ASSERT_EQ(0, eventfd_take(err[vq]))
				TH_LOG("vq %d's used ring %s: error eventfd signalled",
				       vq, prot[p] ? "read-only" : "inaccessible");
			ASSERT_ERRNO(0, set_base(self->d.fd, vq, 0));
		}
	}
	ASSERT_ERRNO(0, net_set_backend(self->d.fd, 0, s));
	ASSERT_ERRNO(0, net_set_backend(self->d.fd, 1, s));
	vdev_flush(&self->d);
	ASSERT_EQ(0, eventfd_take(err[0]));
	ASSERT_EQ(0, eventfd_take(err[1]));
	for (vq = 0; vq < VDEV_NVQS; vq++)
		close(err[vq]);
}

/*
 * A replacement that fails in vhost_vq_init_access() puts the old backend
 * back with its ring as it was, running: C never stopped it. Shown on RX
 * with a packet socket that receives nothing (protocol 0): nothing runs
 * until a kick, whose handler turns notifications off in the used ring's
 * flags. No vq_err() on the way.
 */
TEST_F(net_backend, failed_replace_keeps_ring_running)
{
	struct vring_used *used = vq_used(&self->d, 0);
	int s = packet_socket(), s2 = packet_socket();
	int kick = new_eventfd(), err = new_eventfd();

	ASSERT_LE(0, s);
	ASSERT_LE(0, s2);
	ASSERT_LE(0, kick);
	ASSERT_LE(0, err);
	vdev_ready(_metadata, &self->d);
	ASSERT_ERRNO(0, vdev_set_files(&self->d, 0, kick, -1, err));
	ASSERT_ERRNO(0, net_set_backend(self->d.fd, 0, s));
	ASSERT_EQ(0, mprotect(used, 4096, PROT_READ));
	ASSERT_ERRNO(EFAULT, net_set_backend(self->d.fd, 0, s2));
	ASSERT_EQ(0, mprotect(used, 4096, PROT_READ | PROT_WRITE));
	ASSERT_ERRNO(EBUSY, set_num(self->d.fd, 0, 16));
	vdev_flush(&self->d);
	ASSERT_EQ(0, used->flags);
	eventfd_kick(kick);
	vdev_flush(&self->d);
	ASSERT_EQ(VRING_USED_F_NO_NOTIFY, used->flags)
		TH_LOG("the old backend's ring does not run");
	ASSERT_EQ(0, eventfd_take(err));
	close(kick);
	close(err);
}

/* Ring addresses never set: the used ring is at NULL. */
TEST_F(net_backend, rings_not_set_efault)
{
	int s = packet_socket();

	ASSERT_LE(0, s);
	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	ASSERT_ERRNO(0, vdev_set_mem(&self->d));
	ASSERT_ERRNO(0, net_set_backend(self->d.fd, 0, -1));
	ASSERT_ERRNO(EFAULT, net_set_backend(self->d.fd, 0, s));
	ASSERT_ERRNO(0, vdev_set_addr(&self->d, 0));
	ASSERT_ERRNO(0, net_set_backend(self->d.fd, 0, s));
}

/* Starting a virtqueue reads the used index as its last used index. */
TEST_F(net_backend, start_writes_used_flags)
{
	int s = packet_socket();
	struct vring_used *used = vq_used(&self->d, 0);

	ASSERT_LE(0, s);
	vdev_ready(_metadata, &self->d);
	used->flags = 0x5555;
	used->idx = 0x1234;
	ASSERT_ERRNO(0, net_set_backend(self->d.fd, 0, s));
	/* RX with no data: nothing else touches the ring */
	vdev_flush(&self->d);
	ASSERT_EQ(0, used->flags);
	ASSERT_EQ(0x1234, used->idx);
}

static int tap_or_skip(struct __test_metadata *_metadata, char *name,
		       short flags)
{
	int fd = tap_open(name, flags);

	if (fd == -ENOENT || fd == -ENODEV)
		SKIP(return -1, "no /dev/net/tun: %s", strerror(-fd));
	ASSERT_LE(0, fd) TH_LOG("TUNSETIFF: %s", strerror(-fd));
	return fd;
}

TEST_F(net_backend, tap_and_tun)
{
	char name[IFNAMSIZ];
	int tap, tun;

	tap = tap_or_skip(_metadata, name, IFF_TAP | IFF_NO_PI);
	if (tap < 0)
		return;
	tun = tap_or_skip(_metadata, name, IFF_TUN | IFF_NO_PI);
	if (tun < 0)
		return;
	vdev_ready(_metadata, &self->d);
	ASSERT_ERRNO(0, net_set_backend(self->d.fd, 0, tap));
	ASSERT_ERRNO(0, net_set_backend(self->d.fd, 1, tap));
	ASSERT_ERRNO(EBUSY, set_num(self->d.fd, 0, 16));
	ASSERT_ERRNO(0, net_set_backend(self->d.fd, 0, tun));
	ASSERT_ERRNO(0, net_set_backend(self->d.fd, 1, tun));
	ASSERT_ERRNO(0, net_set_backend(self->d.fd, 0, -1));
	ASSERT_ERRNO(0, net_set_backend(self->d.fd, 1, -1));
	/* tap with a virtio-net header and multiqueue, as QEMU opens it */
	close(tap);
	tap = tap_or_skip(_metadata, name, IFF_TAP | IFF_NO_PI | IFF_VNET_HDR |
			  IFF_MULTI_QUEUE);
	if (tap < 0)
		return;
	ASSERT_ERRNO(0, net_set_backend(self->d.fd, 0, tap));
}

/* A tun file not attached to a device polls EPOLLERR: EINVAL. */
TEST_F(net_backend, detached_tun_einval)
{
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		SKIP(return, "no /dev/net/tun: %s", strerror(errno));
	vdev_ready(_metadata, &self->d);
	ASSERT_ERRNO(EINVAL, net_set_backend(self->d.fd, 0, fd));
	ASSERT_ERRNO(EINVAL, net_set_backend(self->d.fd, 1, fd));
	/* nothing was bound */
	ASSERT_ERRNO(0, set_num(self->d.fd, 0, 16));
	ASSERT_ERRNO(0, set_num(self->d.fd, 1, 16));
}

/*
 * The tap interface of a non-persistent tap lives as long as a reference
 * to its file: vhost's reference keeps it after we close ours, until vhost
 * drops it (unbind, replace, reset, close).
 */
TEST_F(net_backend, backend_reference_unbind)
{
	char name[IFNAMSIZ];
	int tap = tap_or_skip(_metadata, name, IFF_TAP | IFF_NO_PI);

	if (tap < 0)
		return;
	vdev_ready(_metadata, &self->d);
	ASSERT_ERRNO(0, net_set_backend(self->d.fd, 0, tap));
	close(tap);
	ASSERT_TRUE(if_exists(name));
	ASSERT_ERRNO(0, net_set_backend(self->d.fd, 0, -1));
	ASSERT_TRUE(wait_if(name, false, 5000));
}

TEST_F(net_backend, backend_reference_replace)
{
	char name[IFNAMSIZ];
	int tap = tap_or_skip(_metadata, name, IFF_TAP | IFF_NO_PI);
	int s = packet_socket();

	if (tap < 0)
		return;
	ASSERT_LE(0, s);
	vdev_ready(_metadata, &self->d);
	ASSERT_ERRNO(0, net_set_backend(self->d.fd, 1, tap));
	close(tap);
	ASSERT_ERRNO(0, net_set_backend(self->d.fd, 1, s));
	ASSERT_TRUE(wait_if(name, false, 5000));
}

/* A failed replacement keeps the old backend. */
TEST_F(net_backend, failed_replace_keeps_backend)
{
	char name[IFNAMSIZ];
	int tap = tap_or_skip(_metadata, name, IFF_TAP | IFF_NO_PI);
	int p[2];

	if (tap < 0)
		return;
	ASSERT_EQ(0, pipe(p));
	vdev_ready(_metadata, &self->d);
	ASSERT_ERRNO(0, net_set_backend(self->d.fd, 0, tap));
	close(tap);
	ASSERT_ERRNO(ENOTSOCK, net_set_backend(self->d.fd, 0, p[0]));
	ASSERT_ERRNO(ENOBUFS, net_set_backend(self->d.fd, 2, -1));
	ASSERT_TRUE(if_exists(name));
	ASSERT_ERRNO(EBUSY, set_num(self->d.fd, 0, 16));
}

TEST_F(net_backend, backend_reference_reset_owner)
{
	char name[IFNAMSIZ];
	int tap = tap_or_skip(_metadata, name, IFF_TAP | IFF_NO_PI);

	if (tap < 0)
		return;
	vdev_ready(_metadata, &self->d);
	ASSERT_ERRNO(0, net_set_backend(self->d.fd, 0, tap));
	ASSERT_ERRNO(0, net_set_backend(self->d.fd, 1, tap));
	close(tap);
	IOCTL_OK(self->d.fd, VHOST_RESET_OWNER, NULL);
	ASSERT_TRUE(wait_if(name, false, 5000));
}

TEST_F(net_backend, backend_reference_close)
{
	char name[IFNAMSIZ];
	int tap = tap_or_skip(_metadata, name, IFF_TAP | IFF_NO_PI);

	if (tap < 0)
		return;
	vdev_ready(_metadata, &self->d);
	ASSERT_ERRNO(0, net_set_backend(self->d.fd, 1, tap));
	close(tap);
	ASSERT_TRUE(if_exists(name));
	close(self->d.fd);
	self->d.fd = -1;
	ASSERT_TRUE(wait_if(name, false, 5000));
}

/* macvtap: /dev/tapN of a macvtap interface on a veth. */
static int run(const char *cmd)
{
	int r = system(cmd);

	return WIFEXITED(r) ? WEXITSTATUS(r) : -1;
}

TEST_F(net_backend, macvtap)
{
	char path[64], cmd[256], name[IFNAMSIZ];
	int idx, fd;

	snprintf(name, sizeof(name), "rvmvt%d", getpid() % 100000);
	snprintf(cmd, sizeof(cmd),
		 "ip link add %sv type veth peer name %sp >/dev/null 2>&1 && "
		 "ip link add link %sv name %s type macvtap mode bridge "
		 ">/dev/null 2>&1 && ip link set %s up >/dev/null 2>&1",
		 name, name, name, name, name);
	if (run(cmd)) {
		snprintf(cmd, sizeof(cmd), "ip link del %sv >/dev/null 2>&1",
			 name);
		run(cmd);
		SKIP(return, "cannot create a macvtap interface with ip(8)");
	}
	idx = if_index(name);
	ASSERT_LT(0, idx);
	snprintf(path, sizeof(path), "/dev/tap%d", idx);
	fd = -1;
	for (int i = 0; i < 200 && fd < 0; i++) {
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			usleep(10000);
	}
	ASSERT_LE(0, fd) TH_LOG("open %s: %s", path, strerror(errno));
	vdev_ready(_metadata, &self->d);
	ASSERT_ERRNO(0, net_set_backend(self->d.fd, 0, fd));
	ASSERT_ERRNO(0, net_set_backend(self->d.fd, 1, fd));
	ASSERT_ERRNO(EBUSY, set_num(self->d.fd, 1, 16));
	ASSERT_ERRNO(0, net_set_backend(self->d.fd, 0, -1));
	ASSERT_ERRNO(0, net_set_backend(self->d.fd, 1, -1));
	close(fd);
	snprintf(cmd, sizeof(cmd), "ip link del %sv >/dev/null 2>&1", name);
	run(cmd);
}

TEST_HARNESS_MAIN
