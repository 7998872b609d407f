/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What a test program of the rvhost conformance suite includes: the
 * kselftest harness, the helpers of vhost_util.h (compiled once, in
 * vhost_util.o), and the assertions and fixtures built on both.
 *
 * The helpers that assert take the test's struct __test_metadata and stay
 * here, static inline, because kselftest_harness.h can be part of only one
 * translation unit of a program: it defines an external object
 * (_fixture_global, so a second copy does not link) and the test runner as
 * static functions (unused, and so an error under -Werror, in a file
 * without tests). The helper objects never include it; nothing in them
 * asserts.
 */
#ifndef RVHOST_VHOST_TEST_H
#define RVHOST_VHOST_TEST_H

#include "vhost_util.h"

#include "kselftest_harness.h"

/*
 * Assertions on one ioctl. They print the request's name and the errno's
 * name on failure.
 */
#define IOCTL_OK(fd, req, arg) do {					\
	long __r;							\
	errno = 0;							\
	__r = ioctl((fd), (req), (arg));				\
	ASSERT_EQ(0, __r) TH_LOG("%s: %s", #req, strerrorname_np(errno)); \
} while (0)

#define IOCTL_ERR(fd, req, arg, err) do {				\
	long __r;							\
	int __e;							\
	errno = 0;							\
	__r = ioctl((fd), (req), (arg));				\
	__e = errno;							\
	ASSERT_EQ(-1, __r) TH_LOG("%s returned %ld, expected %s",	\
				  #req, __r, strerrorname_np(err));	\
	ASSERT_EQ((err), __e) TH_LOG("%s: %s, expected %s", #req,	\
				     strerrorname_np(__e),		\
				     strerrorname_np(err));		\
} while (0)

#define ASSERT_ERRNO(expected, seen) do {				\
	int __s = (seen);						\
	ASSERT_EQ((expected), __s) TH_LOG("got %s, expected %s",	\
					  strerrorname_np(__s) ?: "0",	\
					  strerrorname_np(expected) ?: "0"); \
} while (0)

/* Open a device of kind for a test; SKIP when its module is not loaded. */
static inline void vdev_open(struct __test_metadata *_metadata,
			     struct vdev *d, enum vdev_kind kind)
{
	memset(d, 0, sizeof(*d));
	d->kind = kind;
	d->path = vdev_path(kind);
	d->sock[0] = d->sock[1] = -1;
	d->fd = open(d->path, O_RDWR);
	if (d->fd < 0 && (errno == ENOENT || errno == ENODEV || errno == ENXIO))
		SKIP(return, "%s: %s (module not loaded?)", d->path,
		     strerror(errno));
	ASSERT_LE(0, d->fd) TH_LOG("open %s: %s", d->path, strerror(errno));
	d->mem = mmap(NULL, VDEV_MEM_SIZE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, d->mem);
}

/* The memory table and rings of VDEV_NUM entries on every vq (an owner's). */
static inline void vdev_setup_rings(struct __test_metadata *_metadata,
				    struct vdev *d)
{
	int vq;

	ASSERT_ERRNO(0, vdev_set_mem(d));
	for (vq = 0; vq < VDEV_NVQS; vq++) {
		ASSERT_ERRNO(0, set_num(d->fd, vq, VDEV_NUM));
		ASSERT_ERRNO(0, vdev_set_addr(d, vq));
	}
}

/* SET_OWNER, the memory table, and rings of VDEV_NUM entries on every vq. */
static inline void vdev_ready(struct __test_metadata *_metadata,
			      struct vdev *d)
{
	IOCTL_OK(d->fd, VHOST_SET_OWNER, NULL);
	vdev_setup_rings(_metadata, d);
}

/*
 * The standard fixture: one device, as a variant for each of vhost-net and
 * vhost-vsock (tests of what vhost.c does for both).
 */
#define VHOST_FIXTURE(name)						\
	FIXTURE(name) { struct vdev d; };				\
	FIXTURE_VARIANT(name) { enum vdev_kind kind; };		\
	FIXTURE_VARIANT_ADD(name, net) { .kind = VDEV_NET };		\
	FIXTURE_VARIANT_ADD(name, vsock) { .kind = VDEV_VSOCK };	\
	FIXTURE_SETUP(name) { vdev_open(_metadata, &self->d, variant->kind); } \
	FIXTURE_TEARDOWN(name) { vdev_close(&self->d); }

/* A fixture for one kind of device only. */
#define VDEV_FIXTURE(name, KIND)					\
	FIXTURE(name) { struct vdev d; };				\
	FIXTURE_SETUP(name) { vdev_open(_metadata, &self->d, KIND); }	\
	FIXTURE_TEARDOWN(name) { vdev_close(&self->d); }

#endif /* RVHOST_VHOST_TEST_H */
