// SPDX-License-Identifier: GPL-2.0
/*
 * Built with -m32: a 32-bit process reaches the devices through
 * .compat_ioctl (compat_ptr_ioctl in both the C drivers and rvhost). Each
 * ioctl must answer as it does for a 64-bit caller.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/ioctl.h>
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
};

FIXTURE_VARIANT_ADD(compat32, net) {
	.path = "/dev/vhost-net",
};

FIXTURE_VARIANT_ADD(compat32, vsock) {
	.path = "/dev/vhost-vsock",
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

TEST_HARNESS_MAIN
