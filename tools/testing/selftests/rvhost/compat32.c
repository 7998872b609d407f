// SPDX-License-Identifier: GPL-2.0
/*
 * Built with -m32: a 32-bit process reaches the devices through
 * .compat_ioctl (compat_ptr_ioctl in both the C drivers and rvhost). Each
 * ioctl must answer as it does for a 64-bit caller.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/vhost.h>

#include "kselftest_harness.h"

/* An ioctl no vhost device knows, in the vhost ioctl space. */
#define VHOST_UNKNOWN _IOW(VHOST_VIRTIO, 0x7f, unsigned int)

FIXTURE(compat32) {
	int fd;
};

FIXTURE_VARIANT(compat32) {
	const char *path;
	int net;
};

FIXTURE_VARIANT_ADD(compat32, net) {
	.path = "/dev/vhost-net",
	.net = 1,
};

FIXTURE_VARIANT_ADD(compat32, vsock) {
	.path = "/dev/vhost-vsock",
	.net = 0,
};

FIXTURE_SETUP(compat32)
{
	ASSERT_EQ(4, sizeof(void *)) TH_LOG("this test must be built with -m32");
	self->fd = open(variant->path, O_RDWR);
	ASSERT_LE(0, self->fd) TH_LOG("open %s: %s", variant->path, strerror(errno));
}

FIXTURE_TEARDOWN(compat32)
{
	close(self->fd);
}

TEST_F(compat32, get_features)
{
	uint64_t features = 0;

	ASSERT_EQ(0, ioctl(self->fd, VHOST_GET_FEATURES, &features));
	EXPECT_TRUE(features & (1ULL << 32)) /* VIRTIO_F_VERSION_1 */
		TH_LOG("features %#llx", (unsigned long long)features);
}

TEST_F(compat32, set_owner_twice)
{
	ASSERT_EQ(0, ioctl(self->fd, VHOST_SET_OWNER));
	ASSERT_EQ(-1, ioctl(self->fd, VHOST_SET_OWNER));
	ASSERT_EQ(EBUSY, errno);
}

TEST_F(compat32, unknown_ioctl)
{
	unsigned int idx = 0, bad = 2;

	/* Not the owner yet: the ownership check comes first. */
	ASSERT_EQ(-1, ioctl(self->fd, VHOST_UNKNOWN, &idx));
	ASSERT_EQ(EPERM, errno);
	ASSERT_EQ(0, ioctl(self->fd, VHOST_SET_OWNER));
	/* Then the ring index is read and checked, then ENOTTY. */
	ASSERT_EQ(-1, ioctl(self->fd, VHOST_UNKNOWN, NULL));
	ASSERT_EQ(EFAULT, errno);
	ASSERT_EQ(-1, ioctl(self->fd, VHOST_UNKNOWN, &bad));
	ASSERT_EQ(ENOBUFS, errno);
	ASSERT_EQ(-1, ioctl(self->fd, VHOST_UNKNOWN, &idx));
	ASSERT_EQ(ENOTTY, errno);
}

/* Structures with pointers in __u64 fields pass through unchanged. */
TEST_F(compat32, vring_state)
{
	struct vhost_vring_state s = { .index = 1, .num = 300 };

	ASSERT_EQ(0, ioctl(self->fd, VHOST_SET_OWNER));
	ASSERT_EQ(0, ioctl(self->fd, VHOST_SET_VRING_BASE, &s));
	s.num = 0;
	ASSERT_EQ(0, ioctl(self->fd, VHOST_GET_VRING_BASE, &s));
	ASSERT_EQ(1, s.index);
	ASSERT_EQ(300, s.num);
	s.num = 3;
	ASSERT_EQ(-1, ioctl(self->fd, VHOST_SET_VRING_NUM, &s));
	ASSERT_EQ(EINVAL, errno);
	s.index = 2;
	ASSERT_EQ(-1, ioctl(self->fd, VHOST_GET_VRING_BASE, &s));
	ASSERT_EQ(ENOBUFS, errno);
}

/* Memory table and ring addresses from a 32-bit process, then a start. */
TEST_F(compat32, mem_table_rings_start)
{
	struct {
		struct vhost_memory hdr;
		struct vhost_memory_region r[1];
	} mem;
	unsigned char *m = mmap(NULL, 0x10000, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int vq, r;

	ASSERT_TRUE(m != MAP_FAILED);
	memset(&mem, 0, sizeof(mem));
	mem.hdr.nregions = 1;
	mem.r[0].memory_size = 0x10000;
	mem.r[0].userspace_addr = (uintptr_t)m;
	ASSERT_EQ(0, ioctl(self->fd, VHOST_SET_OWNER));
	ASSERT_EQ(0, ioctl(self->fd, VHOST_SET_MEM_TABLE, &mem));
	for (vq = 0; vq < 2; vq++) {
		struct vhost_vring_addr a = {
			.index = vq,
			.desc_user_addr = (uintptr_t)(m + vq * 0x4000),
			.avail_user_addr = (uintptr_t)(m + vq * 0x4000 + 0x1000),
			.used_user_addr = (uintptr_t)(m + vq * 0x4000 + 0x2000),
		};
		struct vhost_vring_state s = { .index = vq, .num = 64 };

		ASSERT_EQ(0, ioctl(self->fd, VHOST_SET_VRING_NUM, &s));
		ASSERT_EQ(0, ioctl(self->fd, VHOST_SET_VRING_ADDR, &a));
	}
	if (variant->net) {
		int sock = socket(AF_PACKET, SOCK_RAW, 0);
		struct vhost_vring_file f = { .index = 0, .fd = sock };

		ASSERT_LE(0, sock);
		r = ioctl(self->fd, VHOST_NET_SET_BACKEND, &f);
	} else {
		int run = 1;

		r = ioctl(self->fd, VHOST_VSOCK_SET_RUNNING, &run);
	}
	ASSERT_EQ(0, r) TH_LOG("start: %s", strerror(errno));
	/* running: the size is fixed */
	{
		struct vhost_vring_state s = { .index = 0, .num = 16 };

		ASSERT_EQ(-1, ioctl(self->fd, VHOST_SET_VRING_NUM, &s));
		ASSERT_EQ(EBUSY, errno);
	}
}

/*
 * IOTLB messages: struct vhost_msg has a hole after its int type on
 * x86-64 but not on i386 (__u64 is 4-byte aligned there), and the kernel
 * always skips 4 bytes for v1. A v1 message in the 32-bit layout is
 * misread (its iotlb type lands in padding: EFAULT); struct vhost_msg_v2
 * has the same layout in both and works.
 */
TEST_F(compat32, iotlb_message_layout)
{
	uint64_t ap = 1ULL << 33;	/* VIRTIO_F_ACCESS_PLATFORM */
	unsigned char page[4096] __attribute__((aligned(4096)));
	struct vhost_msg v1;
	struct vhost_msg_v2 v2;

	ASSERT_EQ(4, offsetof(struct vhost_msg, iotlb));
	ASSERT_EQ(8, offsetof(struct vhost_msg_v2, iotlb));
	ASSERT_EQ(0, ioctl(self->fd, VHOST_SET_FEATURES, &ap));
	memset(&v1, 0, sizeof(v1));
	v1.type = VHOST_IOTLB_MSG;
	v1.iotlb.type = VHOST_IOTLB_UPDATE;
	v1.iotlb.iova = 0x10000000;
	v1.iotlb.size = 0x1000;
	v1.iotlb.uaddr = (uintptr_t)page;
	v1.iotlb.perm = VHOST_ACCESS_RW;
	ASSERT_EQ(-1, write(self->fd, &v1, sizeof(v1)));
	ASSERT_EQ(EFAULT, errno);
	memset(&v2, 0, sizeof(v2));
	v2.type = VHOST_IOTLB_MSG_V2;
	v2.iotlb = v1.iotlb;
	ASSERT_EQ(72, write(self->fd, &v2, sizeof(v2)));
}

/* GET_FEATURES_ARRAY: vhost-net only. */
TEST_F(compat32, features_array)
{
	uint64_t a[3] = { 2, 0, 0 };
	int r = ioctl(self->fd, VHOST_GET_FEATURES_ARRAY, a);

	if (!variant->net) {
		ASSERT_EQ(-1, r);
		ASSERT_EQ(EPERM, errno);
		return;
	}
	ASSERT_EQ(0, r);
	ASSERT_EQ(2, a[0]);
	ASSERT_NE(0, a[1] & (1ULL << 32));
	/* VIRTIO_NET_F_{GUEST,HOST}_UDP_TUNNEL_GSO */
	ASSERT_EQ((1ULL << 1) | (1ULL << 3), a[2]);
}

TEST_HARNESS_MAIN
