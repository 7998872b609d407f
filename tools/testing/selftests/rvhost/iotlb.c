// SPDX-License-Identifier: GPL-2.0
/*
 * The device IOTLB: write()/read()/poll() on the vhost file
 * (vhost_chr_write_iter(), vhost_chr_read_iter(), vhost_chr_poll() and
 * vhost_process_iotlb_msg() in drivers/vhost/vhost.c).
 *
 * Acking VIRTIO_F_ACCESS_PLATFORM (both devices offer it) creates the
 * IOTLB; ring addresses are then I/O virtual addresses that userspace maps
 * with VHOST_IOTLB_UPDATE messages. A translation that misses queues a
 * VHOST_IOTLB_MISS message for read(). Neither write nor read is
 * owner-checked.
 *
 * A message is 72 bytes: struct vhost_msg (int type = VHOST_IOTLB_MSG, a
 * 4-byte hole, struct vhost_iotlb_msg) or struct vhost_msg_v2 (type =
 * VHOST_IOTLB_MSG_V2, asid, struct vhost_iotlb_msg). write() accepts any
 * length that holds type, hole/asid and a whole vhost_iotlb_msg (40 bytes)
 * and returns 72. Misses are v2 messages once VHOST_BACKEND_F_IOTLB_MSG_V2
 * is acked. Errors from the message handler all become EFAULT.
 */
#include "vhost_test.h"

VHOST_FIXTURE(iotlb);

#define IOVA_BASE	0x10000000ULL
#define AP		BIT_ULL(VIRTIO_F_ACCESS_PLATFORM)

static uint64_t giova(struct vdev *d, void *p)
{
	return IOVA_BASE + ((unsigned char *)p - d->mem);
}

static int set_ring_giova(struct vdev *d, int vq)
{
	return set_addr(d->fd, vq, 0, giova(d, vq_desc(d, vq)),
			giova(d, vq_avail(d, vq)), giova(d, vq_used(d, vq)), 0);
}

static ssize_t update(int fd, uint64_t iova, uint64_t size, void *uaddr,
		      uint8_t perm)
{
	return iotlb_msg(fd, 1, VHOST_IOTLB_UPDATE, iova, size, uptr(uaddr),
			 perm, 0, 0);
}

static ssize_t invalidate(int fd, uint64_t iova, uint64_t size)
{
	return iotlb_msg(fd, 1, VHOST_IOTLB_INVALIDATE, iova, size, 0, 0, 0, 0);
}

/* Map all of d->mem at IOVA_BASE. */
static ssize_t map_all(struct vdev *d)
{
	return update(d->fd, IOVA_BASE, VDEV_MEM_SIZE, d->mem, VHOST_ACCESS_RW);
}

/*
 * Owner, memory table (a virtqueue cannot start without one, IOTLB or
 * not), the IOTLB, rings at their I/O virtual addresses. Acking
 * ACCESS_PLATFORM first, as it forgets the ring addresses.
 */
static void iotlb_ready(struct __test_metadata *_metadata, struct vdev *d)
{
	int vq;

	IOCTL_OK(d->fd, VHOST_SET_OWNER, NULL);
	ASSERT_ERRNO(0, vdev_set_mem(d));
	ASSERT_ERRNO(0, set_features(d->fd, AP));
	for (vq = 0; vq < VDEV_NVQS; vq++) {
		ASSERT_ERRNO(0, set_num(d->fd, vq, VDEV_NUM));
		ASSERT_ERRNO(0, set_ring_giova(d, vq));
	}
}

/*
 * Start virtqueue 0 (vhost-net: RX with a packet socket, whose handler
 * stays idle; vhost-vsock: the whole device). Its first access is the
 * write of vq 0's used flags, through the IOTLB.
 */
static int start0(struct vdev *d)
{
	if (d->kind == VDEV_VSOCK)
		return vsock_set_running(d->fd, 1);
	if (d->sock[0] < 0)
		d->sock[0] = packet_socket();
	return net_set_backend(d->fd, 0, d->sock[0]);
}

static int stop0(struct vdev *d)
{
	if (d->kind == VDEV_VSOCK)
		return vsock_set_running(d->fd, 0);
	return net_set_backend(d->fd, 0, -1);
}

static void set_nonblock(int fd, bool on)
{
	int fl = fcntl(fd, F_GETFL);

	fcntl(fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK);
}

/* Non-blocking read of one message into buf; returns read()'s result or -errno. */
static ssize_t read_msg(int fd, void *buf, size_t len)
{
	ssize_t r;

	set_nonblock(fd, true);
	r = read(fd, buf, len);
	if (r < 0)
		r = -errno;
	set_nonblock(fd, false);
	return r;
}

/* poll() for everything (so that any event shows) plus events. */
static short poll_events(int fd, short events, int timeout)
{
	struct pollfd p = {
		.fd = fd,
		.events = events | POLLIN | POLLRDNORM | POLLOUT | POLLWRNORM |
			  POLLPRI | POLLRDBAND | POLLWRBAND,
	};

	if (poll(&p, 1, timeout) != 1)
		return 0;
	return p.revents;
}

/* Check a miss message read from the device, byte for byte. */
static void check_miss(struct __test_metadata *_metadata,
		       const unsigned char *buf, int ver, uint64_t iova,
		       uint8_t perm)
{
	union {
		struct vhost_msg v1;
		struct vhost_msg_v2 v2;
	} e;
	size_t i;

	memset(&e, 0, sizeof(e));
	if (ver == 2) {
		e.v2.type = VHOST_IOTLB_MSG_V2;
		e.v2.iotlb.type = VHOST_IOTLB_MISS;
		e.v2.iotlb.iova = iova;
		e.v2.iotlb.perm = perm;
	} else {
		e.v1.type = VHOST_IOTLB_MSG;
		e.v1.iotlb.type = VHOST_IOTLB_MISS;
		e.v1.iotlb.iova = iova;
		e.v1.iotlb.perm = perm;
	}
	for (i = 0; i < sizeof(e); i++) {
		ASSERT_EQ(((unsigned char *)&e)[i], buf[i])
			TH_LOG("byte %zu of the miss message", i);
	}
}

/* ---- write() ------------------------------------------------------------ */

TEST_F(iotlb, update_without_iotlb_efault)
{
	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	ASSERT_EQ(-EFAULT, map_all(&self->d));
	ASSERT_EQ(-EFAULT, invalidate(self->d.fd, IOVA_BASE, 0x1000));
	/* not with other features either */
	ASSERT_ERRNO(0, set_features(self->d.fd, vdev_features(variant->kind) & ~AP));
	ASSERT_EQ(-EFAULT, map_all(&self->d));
}

TEST_F(iotlb, update_and_invalidate)
{
	ASSERT_ERRNO(0, set_features(self->d.fd, AP));
	ASSERT_EQ(IOTLB_MSG_SIZE, map_all(&self->d));
	ASSERT_EQ(IOTLB_MSG_SIZE, update(self->d.fd, 0, 1, self->d.mem,
					 VHOST_ACCESS_RO));
	ASSERT_EQ(IOTLB_MSG_SIZE, update(self->d.fd, 0x1000, 0x1000,
					 self->d.mem, VHOST_ACCESS_WO));
	ASSERT_EQ(IOTLB_MSG_SIZE, invalidate(self->d.fd, IOVA_BASE, 0x1000));
	/* nothing mapped there, and size 0: still fine */
	ASSERT_EQ(IOTLB_MSG_SIZE, invalidate(self->d.fd, 0x7770000, 0x1000));
	ASSERT_EQ(IOTLB_MSG_SIZE, invalidate(self->d.fd, 0x7770000, 0));
	ASSERT_EQ(IOTLB_MSG_SIZE, invalidate(self->d.fd, 0, ~0ULL));
}

/* Without VHOST_BACKEND_F_IOTLB_ASID the asid field is skipped. */
TEST_F(iotlb, update_v2)
{
	ASSERT_ERRNO(0, set_features(self->d.fd, AP));
	ASSERT_EQ(IOTLB_MSG_SIZE, iotlb_msg(self->d.fd, 2, VHOST_IOTLB_UPDATE,
					    IOVA_BASE, 0x1000, uptr(self->d.mem),
					    VHOST_ACCESS_RW, 0, 0));
	ASSERT_EQ(IOTLB_MSG_SIZE, iotlb_msg(self->d.fd, 2, VHOST_IOTLB_UPDATE,
					    IOVA_BASE, 0x1000, uptr(self->d.mem),
					    VHOST_ACCESS_RW, 5, 0));
	ASSERT_EQ(IOTLB_MSG_SIZE, iotlb_msg(self->d.fd, 2,
					    VHOST_IOTLB_INVALIDATE, IOVA_BASE,
					    0x1000, 0, 0, 0xffffffff, 0));
	/* and v2 messages need no v2 backend feature */
	ASSERT_ERRNO(0, set_backend_features(self->d.fd, BACKEND_FEATURES));
	ASSERT_EQ(IOTLB_MSG_SIZE, iotlb_msg(self->d.fd, 1, VHOST_IOTLB_UPDATE,
					    IOVA_BASE, 0x1000, uptr(self->d.mem),
					    VHOST_ACCESS_RW, 0, 0));
}

/* Anyone holding the file may write, owner or not. */
TEST_F(iotlb, write_needs_no_owner)
{
	int status;
	pid_t pid;

	ASSERT_ERRNO(0, set_features(self->d.fd, AP));
	ASSERT_EQ(IOTLB_MSG_SIZE, map_all(&self->d));
	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(map_all(&self->d) == IOTLB_MSG_SIZE ? 0 : 1);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
}

TEST_F(iotlb, short_write_einval)
{
	struct vhost_msg m = { .type = VHOST_IOTLB_MSG };
	size_t len;

	ASSERT_ERRNO(0, set_features(self->d.fd, AP));
	ASSERT_EQ(-1, write(self->d.fd, &m, 0));
	ASSERT_EQ(EINVAL, errno);
	for (len = 1; len < IOTLB_MSG_MIN; len++) {
		ssize_t r = iotlb_msg(self->d.fd, 1, VHOST_IOTLB_UPDATE,
				      IOVA_BASE, 0x1000, uptr(self->d.mem),
				      VHOST_ACCESS_RW, 0, len);

		ASSERT_EQ(-EINVAL, r) TH_LOG("v1, %zu bytes", len);
		r = iotlb_msg(self->d.fd, 2, VHOST_IOTLB_UPDATE, IOVA_BASE,
			      0x1000, uptr(self->d.mem), VHOST_ACCESS_RW, 0,
			      len);
		ASSERT_EQ(-EINVAL, r) TH_LOG("v2, %zu bytes", len);
	}
}

/*
 * 40 bytes are a whole message, and write() then returns 72: more than
 * it was given. Longer writes return 72 as well.
 */
TEST_F(iotlb, write_returns_message_size)
{
	size_t lens[] = { IOTLB_MSG_MIN, IOTLB_MSG_MIN + 1, 64, 71, 72, 73,
			  100, 256 };
	size_t i;

	ASSERT_ERRNO(0, set_features(self->d.fd, AP));
	for (i = 0; i < ARRAY_SIZE(lens); i++) {
		ASSERT_EQ(IOTLB_MSG_SIZE,
			  iotlb_msg(self->d.fd, 1, VHOST_IOTLB_UPDATE,
				    IOVA_BASE, 0x1000, uptr(self->d.mem),
				    VHOST_ACCESS_RW, 0, lens[i]))
			TH_LOG("v1, %zu bytes", lens[i]);
		ASSERT_EQ(IOTLB_MSG_SIZE,
			  iotlb_msg(self->d.fd, 2, VHOST_IOTLB_UPDATE,
				    IOVA_BASE, 0x1000, uptr(self->d.mem),
				    VHOST_ACCESS_RW, 0, lens[i]))
			TH_LOG("v2, %zu bytes", lens[i]);
	}
}

TEST_F(iotlb, write_bad_buffer)
{
	ASSERT_ERRNO(0, set_features(self->d.fd, AP));
	/* a user address that faults: nothing copied, EINVAL */
	ASSERT_EQ(-1, write(self->d.fd, unmapped_addr(), IOTLB_MSG_SIZE));
	ASSERT_EQ(EINVAL, errno);
	/* not a user address at all: the VFS refuses it */
	ASSERT_EQ(-1, write(self->d.fd, (void *)KERNEL_ADDR, IOTLB_MSG_SIZE));
	ASSERT_EQ(EFAULT, errno);
}

TEST_F(iotlb, bad_message_type_einval)
{
	int types[] = { 0, 3, 4, -1, 0x100 };
	size_t i;

	ASSERT_ERRNO(0, set_features(self->d.fd, AP));
	for (i = 0; i < ARRAY_SIZE(types); i++) {
		int t = types[i];

		ASSERT_EQ(-EINVAL, iotlb_msg(self->d.fd, t, VHOST_IOTLB_UPDATE,
					     IOVA_BASE, 0x1000,
					     uptr(self->d.mem),
					     VHOST_ACCESS_RW, 0, 0))
			TH_LOG("type %d", t);
	}
}

/* Checked before the message is handled: EINVAL even without an IOTLB. */
TEST_F(iotlb, update_size_zero_einval)
{
	ASSERT_EQ(-EINVAL, update(self->d.fd, IOVA_BASE, 0, self->d.mem,
				  VHOST_ACCESS_RW));
	ASSERT_ERRNO(0, set_features(self->d.fd, AP));
	ASSERT_EQ(-EINVAL, update(self->d.fd, IOVA_BASE, 0, self->d.mem,
				  VHOST_ACCESS_RW));
	ASSERT_EQ(-EINVAL, iotlb_msg(self->d.fd, 2, VHOST_IOTLB_UPDATE,
				     IOVA_BASE, 0, uptr(self->d.mem),
				     VHOST_ACCESS_RW, 0, 0));
}

/*
 * Only UPDATE and INVALIDATE are handled: MISS and ACCESS_FAIL go the other
 * way, and the generic handler has no batching (no
 * VHOST_BACKEND_F_IOTLB_BATCH), so BATCH_BEGIN/END fail too -- as EFAULT.
 */
TEST_F(iotlb, other_iotlb_types_efault)
{
	uint8_t types[] = { 0, VHOST_IOTLB_MISS, VHOST_IOTLB_ACCESS_FAIL,
			    VHOST_IOTLB_BATCH_BEGIN, VHOST_IOTLB_BATCH_END, 7,
			    255 };
	size_t i;

	ASSERT_ERRNO(0, set_features(self->d.fd, AP));
	for (i = 0; i < ARRAY_SIZE(types); i++) {
		ASSERT_EQ(-EFAULT, iotlb_msg(self->d.fd, 1, types[i], IOVA_BASE,
					     0x1000, uptr(self->d.mem),
					     VHOST_ACCESS_RW, 0, 0))
			TH_LOG("v1 type %u", types[i]);
		ASSERT_EQ(-EFAULT, iotlb_msg(self->d.fd, 2, types[i], IOVA_BASE,
					     0x1000, uptr(self->d.mem),
					     VHOST_ACCESS_RW, 0, 0))
			TH_LOG("v2 type %u", types[i]);
	}
}

/*
 * The user address range is checked for the permissions asked: with no
 * permission at all it is not checked.
 */
TEST_F(iotlb, update_bad_uaddr_efault)
{
	void *k = (void *)KERNEL_ADDR;
	void *top = (void *)(user_ptr_max() - 0x1000);

	ASSERT_ERRNO(0, set_features(self->d.fd, AP));
	ASSERT_EQ(-EFAULT, update(self->d.fd, IOVA_BASE, 0x1000, k, VHOST_ACCESS_RW));
	ASSERT_EQ(-EFAULT, update(self->d.fd, IOVA_BASE, 0x1000, k, VHOST_ACCESS_RO));
	ASSERT_EQ(-EFAULT, update(self->d.fd, IOVA_BASE, 0x1000, k, VHOST_ACCESS_WO));
	ASSERT_EQ(IOTLB_MSG_SIZE, update(self->d.fd, IOVA_BASE, 0x1000, k, 0));
	ASSERT_EQ(-EFAULT, update(self->d.fd, IOVA_BASE, 0x2000, top, VHOST_ACCESS_RW));
	ASSERT_EQ(IOTLB_MSG_SIZE, update(self->d.fd, IOVA_BASE, 0x1000, top,
					 VHOST_ACCESS_RW));
	/* unmapped user memory is fine: only the range is checked */
	ASSERT_EQ(IOTLB_MSG_SIZE, update(self->d.fd, IOVA_BASE, 0x1000,
					 unmapped_addr(), VHOST_ACCESS_RW));
}

TEST_F(iotlb, update_wrapping_range_efault)
{
	ASSERT_ERRNO(0, set_features(self->d.fd, AP));
	ASSERT_EQ(-EFAULT, update(self->d.fd, 0xfffffffffffff000ULL, 0x2000,
				  self->d.mem, VHOST_ACCESS_RW));
	ASSERT_EQ(IOTLB_MSG_SIZE, update(self->d.fd, 0xfffffffffffff000ULL,
					 0x1000, self->d.mem, VHOST_ACCESS_RW));
}

/* ---- read() and poll() --------------------------------------------------- */

TEST_F(iotlb, read_short_buffer_returns_zero)
{
	unsigned char buf[IOTLB_MSG_SIZE];

	ASSERT_EQ(0, read(self->d.fd, buf, IOTLB_MSG_SIZE - 1));
	ASSERT_EQ(0, read(self->d.fd, buf, 0));
	ASSERT_ERRNO(0, set_features(self->d.fd, AP));
	ASSERT_EQ(0, read(self->d.fd, buf, 1));
}

TEST_F(iotlb, read_nonblocking_empty_eagain)
{
	unsigned char buf[IOTLB_MSG_SIZE];

	ASSERT_EQ(-EAGAIN, read_msg(self->d.fd, buf, sizeof(buf)));
	ASSERT_ERRNO(0, set_features(self->d.fd, AP));
	ASSERT_EQ(-EAGAIN, read_msg(self->d.fd, buf, sizeof(buf)));
}

TEST_F(iotlb, read_blocking_without_iotlb_ebadfd)
{
	unsigned char buf[IOTLB_MSG_SIZE];

	ASSERT_EQ(-1, read(self->d.fd, buf, sizeof(buf)));
	ASSERT_EQ(EBADFD, errno);
	ASSERT_ERRNO(0, set_features(self->d.fd, AP));
	ASSERT_ERRNO(0, set_features(self->d.fd, 0));
	ASSERT_EQ(-1, read(self->d.fd, buf, sizeof(buf)));
	ASSERT_EQ(EBADFD, errno);
}

/* Nothing to read: no event, and never POLLOUT. */
TEST_F(iotlb, poll_empty)
{
	ASSERT_EQ(0, poll_events(self->d.fd, POLLIN | POLLOUT | POLLPRI |
				 POLLRDNORM | POLLWRNORM, 0));
	ASSERT_ERRNO(0, set_features(self->d.fd, AP));
	ASSERT_EQ(0, poll_events(self->d.fd, POLLIN | POLLOUT | POLLPRI |
				 POLLRDNORM | POLLWRNORM, 0));
}

/*
 * Starting a virtqueue whose used ring is not mapped fails with EFAULT and
 * queues a miss for the used ring's address, asking for read access (the
 * used flags are written through a translation made for reading).
 */
TEST_F(iotlb, miss_on_start)
{
	unsigned char buf[IOTLB_MSG_SIZE];

	iotlb_ready(_metadata, &self->d);
	ASSERT_EQ(0, poll_events(self->d.fd, POLLIN, 0));
	ASSERT_ERRNO(EFAULT, start0(&self->d));
	ASSERT_EQ(POLLIN | POLLRDNORM, poll_events(self->d.fd, POLLIN |
						   POLLRDNORM | POLLOUT, 0));
	memset(buf, 0xee, sizeof(buf));
	ASSERT_EQ(IOTLB_MSG_SIZE, read_msg(self->d.fd, buf, sizeof(buf)));
	check_miss(_metadata, buf, 1, giova(&self->d, vq_used(&self->d, 0)),
		   VHOST_ACCESS_RO);
	ASSERT_EQ(0, poll_events(self->d.fd, POLLIN, 0));
	ASSERT_EQ(-EAGAIN, read_msg(self->d.fd, buf, sizeof(buf)));
	/* nothing was started */
	ASSERT_ERRNO(0, set_num(self->d.fd, 0, VDEV_NUM));
}

TEST_F(iotlb, miss_v2)
{
	unsigned char buf[IOTLB_MSG_SIZE];

	iotlb_ready(_metadata, &self->d);
	ASSERT_ERRNO(0, set_backend_features(self->d.fd, BACKEND_FEATURES));
	ASSERT_ERRNO(EFAULT, start0(&self->d));
	memset(buf, 0xee, sizeof(buf));
	ASSERT_EQ(IOTLB_MSG_SIZE, read_msg(self->d.fd, buf, sizeof(buf)));
	check_miss(_metadata, buf, 2, giova(&self->d, vq_used(&self->d, 0)),
		   VHOST_ACCESS_RO);
	/* and back to v1 */
	ASSERT_ERRNO(0, set_backend_features(self->d.fd, 0));
	ASSERT_ERRNO(EFAULT, start0(&self->d));
	ASSERT_EQ(IOTLB_MSG_SIZE, read_msg(self->d.fd, buf, sizeof(buf)));
	check_miss(_metadata, buf, 1, giova(&self->d, vq_used(&self->d, 0)),
		   VHOST_ACCESS_RO);
}

/* One message per read, in order; a big buffer still gets one. */
TEST_F(iotlb, misses_queue_in_order)
{
	unsigned char buf[4096];

	iotlb_ready(_metadata, &self->d);
	ASSERT_ERRNO(EFAULT, start0(&self->d));
	ASSERT_ERRNO(0, set_addr(self->d.fd, 0, 0, IOVA_BASE + 0x100000,
				 IOVA_BASE + 0x101000, IOVA_BASE + 0x102000, 0));
	ASSERT_ERRNO(EFAULT, start0(&self->d));
	ASSERT_EQ(IOTLB_MSG_SIZE, read_msg(self->d.fd, buf, sizeof(buf)));
	check_miss(_metadata, buf, 1, giova(&self->d, vq_used(&self->d, 0)),
		   VHOST_ACCESS_RO);
	ASSERT_EQ(IOTLB_MSG_SIZE, read_msg(self->d.fd, buf, sizeof(buf)));
	check_miss(_metadata, buf, 1, IOVA_BASE + 0x102000, VHOST_ACCESS_RO);
	ASSERT_EQ(-EAGAIN, read_msg(self->d.fd, buf, sizeof(buf)));
}

/* A short read does not consume the message. */
TEST_F(iotlb, short_read_keeps_message)
{
	unsigned char buf[IOTLB_MSG_SIZE];

	iotlb_ready(_metadata, &self->d);
	ASSERT_ERRNO(EFAULT, start0(&self->d));
	ASSERT_EQ(0, read(self->d.fd, buf, IOTLB_MSG_SIZE - 1));
	ASSERT_EQ(POLLIN | POLLRDNORM, poll_events(self->d.fd, POLLIN, 0));
	ASSERT_EQ(IOTLB_MSG_SIZE, read_msg(self->d.fd, buf, sizeof(buf)));
}

TEST_F(iotlb, update_resolves_miss)
{
	unsigned char buf[IOTLB_MSG_SIZE];

	iotlb_ready(_metadata, &self->d);
	ASSERT_ERRNO(EFAULT, start0(&self->d));
	ASSERT_EQ(IOTLB_MSG_SIZE, read_msg(self->d.fd, buf, sizeof(buf)));
	ASSERT_EQ(IOTLB_MSG_SIZE, map_all(&self->d));
	ASSERT_ERRNO(0, start0(&self->d));
	vdev_flush(&self->d);
	/* everything is mapped: no more misses */
	ASSERT_EQ(0, poll_events(self->d.fd, POLLIN, 0));
	/* the used flags were written through the mapping */
	ASSERT_EQ(0, vq_used(&self->d, 0)->flags & ~VRING_USED_F_NO_NOTIFY);
	ASSERT_ERRNO(EBUSY, set_num(self->d.fd, 0, 4));
	ASSERT_ERRNO(0, stop0(&self->d));
}

/*
 * The used ring's flags are written through a translation that asks for
 * read permission: a write-only mapping fails (no miss message, since a
 * mapping exists), a read-only one works.
 */
TEST_F(iotlb, used_ring_translated_for_reading)
{
	unsigned char buf[IOTLB_MSG_SIZE];
	struct vring_used *used = vq_used(&self->d, 0);

	iotlb_ready(_metadata, &self->d);
	/* vsock starts both virtqueues: map vq 1 fully */
	ASSERT_EQ(IOTLB_MSG_SIZE, update(self->d.fd,
					 giova(&self->d, vq_desc(&self->d, 1)),
					 VDEV_VQ_STRIDE, vq_desc(&self->d, 1),
					 VHOST_ACCESS_RW));
	ASSERT_EQ(IOTLB_MSG_SIZE, update(self->d.fd, giova(&self->d, used),
					 0x1000, used, VHOST_ACCESS_WO));
	used->flags = 0x5555;
	ASSERT_ERRNO(EFAULT, start0(&self->d));
	ASSERT_EQ(0x5555, used->flags);
	ASSERT_EQ(-EAGAIN, read_msg(self->d.fd, buf, sizeof(buf)));
	ASSERT_EQ(IOTLB_MSG_SIZE, invalidate(self->d.fd, giova(&self->d, used),
					     0x1000));
	ASSERT_EQ(IOTLB_MSG_SIZE, update(self->d.fd, giova(&self->d, used),
					 0x1000, used, VHOST_ACCESS_RO));
	ASSERT_ERRNO(0, start0(&self->d));
	ASSERT_EQ(0, used->flags);
	ASSERT_ERRNO(0, stop0(&self->d));
}

/* INVALIDATE removes every mapping it overlaps, whole. */
TEST_F(iotlb, invalidate_removes_whole_mappings)
{
	unsigned char buf[IOTLB_MSG_SIZE];

	iotlb_ready(_metadata, &self->d);
	ASSERT_EQ(IOTLB_MSG_SIZE, map_all(&self->d));
	ASSERT_EQ(IOTLB_MSG_SIZE, invalidate(self->d.fd, IOVA_BASE +
					     VDEV_MEM_SIZE - 1, 1));
	ASSERT_ERRNO(EFAULT, start0(&self->d));
	ASSERT_EQ(IOTLB_MSG_SIZE, read_msg(self->d.fd, buf, sizeof(buf)));
	check_miss(_metadata, buf, 1, giova(&self->d, vq_used(&self->d, 0)),
		   VHOST_ACCESS_RO);
}

/* Acking ACCESS_PLATFORM again starts a new, empty IOTLB. */
TEST_F(iotlb, reack_drops_mappings)
{
	unsigned char buf[IOTLB_MSG_SIZE];

	iotlb_ready(_metadata, &self->d);
	ASSERT_EQ(IOTLB_MSG_SIZE, map_all(&self->d));
	ASSERT_ERRNO(0, set_features(self->d.fd, AP));
	ASSERT_ERRNO(EFAULT, start0(&self->d));
	ASSERT_EQ(IOTLB_MSG_SIZE, read_msg(self->d.fd, buf, sizeof(buf)));
	/* the ring addresses survived (the IOTLB was replaced, not created) */
	check_miss(_metadata, buf, 1, giova(&self->d, vq_used(&self->d, 0)),
		   VHOST_ACCESS_RO);
}

/*
 * Creating the IOTLB (first ACCESS_PLATFORM) and destroying it (acking
 * features without it) both forget the ring addresses: the next start
 * accesses a used ring at address 0.
 */
TEST_F(iotlb, iotlb_switch_forgets_rings)
{
	unsigned char buf[IOTLB_MSG_SIZE];
	int vq;

	vdev_ready(_metadata, &self->d);
	/* the control: acking features without the IOTLB keeps the rings */
	ASSERT_ERRNO(0, set_features(self->d.fd, BIT_ULL(VIRTIO_F_VERSION_1)));
	ASSERT_ERRNO(0, start0(&self->d));
	ASSERT_ERRNO(0, stop0(&self->d));
	/* creating the IOTLB */
	ASSERT_ERRNO(0, set_features(self->d.fd, AP));
	ASSERT_ERRNO(EFAULT, start0(&self->d));
	ASSERT_EQ(IOTLB_MSG_SIZE, read_msg(self->d.fd, buf, sizeof(buf)));
	check_miss(_metadata, buf, 1, 0, VHOST_ACCESS_RO);
	for (vq = 0; vq < VDEV_NVQS; vq++)
		ASSERT_ERRNO(0, set_ring_giova(&self->d, vq));
	ASSERT_ERRNO(EFAULT, start0(&self->d));
	ASSERT_EQ(IOTLB_MSG_SIZE, read_msg(self->d.fd, buf, sizeof(buf)));
	check_miss(_metadata, buf, 1, giova(&self->d, vq_used(&self->d, 0)),
		   VHOST_ACCESS_RO);
	/* destroying it: no IOTLB, used ring at NULL */
	ASSERT_ERRNO(0, set_features(self->d.fd, 0));
	ASSERT_ERRNO(EFAULT, start0(&self->d));
	ASSERT_EQ(-EAGAIN, read_msg(self->d.fd, buf, sizeof(buf)));
	ASSERT_ERRNO(0, vdev_set_addr(&self->d, 0));
	ASSERT_ERRNO(0, vdev_set_addr(&self->d, 1));
	ASSERT_ERRNO(0, start0(&self->d));
	ASSERT_ERRNO(0, stop0(&self->d));
}

/* Destroying the IOTLB drops the queued messages. */
TEST_F(iotlb, iotlb_teardown_drops_messages)
{
	unsigned char buf[IOTLB_MSG_SIZE];

	iotlb_ready(_metadata, &self->d);
	ASSERT_ERRNO(EFAULT, start0(&self->d));
	ASSERT_EQ(POLLIN | POLLRDNORM, poll_events(self->d.fd, POLLIN, 0));
	ASSERT_ERRNO(0, set_features(self->d.fd, 0));
	ASSERT_EQ(0, poll_events(self->d.fd, POLLIN, 0));
	ASSERT_EQ(-EAGAIN, read_msg(self->d.fd, buf, sizeof(buf)));
}

/* A translation failure is also reported on the error eventfd. */
TEST_F(iotlb, miss_signals_err_eventfd)
{
	int err = new_eventfd();

	ASSERT_LE(0, err);
	iotlb_ready(_metadata, &self->d);
	ASSERT_ERRNO(0, set_vring_file(self->d.fd, VHOST_SET_VRING_ERR, 0, err));
	ASSERT_ERRNO(EFAULT, start0(&self->d));
	ASSERT_LE(1, eventfd_take(err));
}

struct reader {
	int fd;
	ssize_t ret;
	int err;
	unsigned char buf[IOTLB_MSG_SIZE];
};

static void *reader_fn(void *p)
{
	struct reader *r = p;

	r->ret = read(r->fd, r->buf, sizeof(r->buf));
	r->err = errno;
	return NULL;
}

static bool join_within(pthread_t th, int ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return pthread_timedjoin_np(th, NULL, &ts) == 0;
}

/* A blocking read waits for a miss. */
TEST_F(iotlb, blocking_read_waits_for_miss)
{
	struct reader r = { .fd = self->d.fd };
	pthread_t th;

	iotlb_ready(_metadata, &self->d);
	ASSERT_EQ(0, pthread_create(&th, NULL, reader_fn, &r));
	usleep(200000);
	ASSERT_ERRNO(EFAULT, start0(&self->d));
	ASSERT_TRUE(join_within(th, 5000));
	ASSERT_EQ(IOTLB_MSG_SIZE, r.ret);
	check_miss(_metadata, r.buf, 1, giova(&self->d, vq_used(&self->d, 0)),
		   VHOST_ACCESS_RO);
}

/* ... and ends with EBADFD when the IOTLB goes away. */
TEST_F(iotlb, blocking_read_ends_on_teardown)
{
	struct reader r = { .fd = self->d.fd };
	pthread_t th;

	iotlb_ready(_metadata, &self->d);
	ASSERT_EQ(0, pthread_create(&th, NULL, reader_fn, &r));
	usleep(200000);
	ASSERT_ERRNO(0, set_features(self->d.fd, 0));
	ASSERT_TRUE(join_within(th, 5000));
	ASSERT_EQ(-1, r.ret);
	ASSERT_EQ(EBADFD, r.err);
}

/* poll() sleeps until a miss arrives (here in another process). */
TEST_F(iotlb, poll_wakes_on_miss)
{
	int status;
	pid_t pid;

	iotlb_ready(_metadata, &self->d);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		short ev = poll_events(self->d.fd, POLLIN, 5000);

		_exit(ev == (POLLIN | POLLRDNORM) ? 0 : 1);
	}
	usleep(200000);
	ASSERT_ERRNO(EFAULT, start0(&self->d));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
}

/* A read into memory that faults returns 0, and the message is gone. */
TEST_F(iotlb, read_fault_drops_message)
{
	unsigned char buf[IOTLB_MSG_SIZE];
	void *bad = unmapped_addr();

	iotlb_ready(_metadata, &self->d);
	ASSERT_ERRNO(EFAULT, start0(&self->d));
	ASSERT_EQ(POLLIN | POLLRDNORM, poll_events(self->d.fd, POLLIN, 0));
	ASSERT_EQ(0, read(self->d.fd, bad, IOTLB_MSG_SIZE));
	ASSERT_EQ(0, poll_events(self->d.fd, POLLIN, 0));
	ASSERT_EQ(-EAGAIN, read_msg(self->d.fd, buf, sizeof(buf)));
	/* a buffer outside the user address space is refused by the VFS */
	ASSERT_ERRNO(EFAULT, start0(&self->d));
	ASSERT_EQ(-1, read(self->d.fd, (void *)KERNEL_ADDR, IOTLB_MSG_SIZE));
	ASSERT_EQ(EFAULT, errno);
	ASSERT_EQ(IOTLB_MSG_SIZE, read_msg(self->d.fd, buf, sizeof(buf)));
}

/*
 * The IOTLB holds max_iotlb_entries mappings (C's default, 2048; the
 * module_test.sh checks that both modules are loaded with it); one more
 * retires the oldest.
 */
TEST_F(iotlb, entry_limit_retires_oldest)
{
	unsigned int limit = VHOST_C_MAX_IOTLB_ENTRIES, i;
	unsigned char buf[IOTLB_MSG_SIZE];

	iotlb_ready(_metadata, &self->d);
	ASSERT_EQ(IOTLB_MSG_SIZE, map_all(&self->d));
	for (i = 1; i < limit; i++) {
		ASSERT_EQ(IOTLB_MSG_SIZE, update(self->d.fd,
						 0x100000000ULL + i * 0x1000ULL,
						 0x1000, self->d.mem,
						 VHOST_ACCESS_RW));
	}
	ASSERT_ERRNO(0, start0(&self->d));
	ASSERT_ERRNO(0, stop0(&self->d));
	ASSERT_EQ(IOTLB_MSG_SIZE, update(self->d.fd, 0x100000000ULL,
					 0x1000, self->d.mem,
					 VHOST_ACCESS_RW));
	ASSERT_ERRNO(EFAULT, start0(&self->d));
	ASSERT_EQ(IOTLB_MSG_SIZE, read_msg(self->d.fd, buf, sizeof(buf)));
	check_miss(_metadata, buf, 1, giova(&self->d, vq_used(&self->d, 0)),
		   VHOST_ACCESS_RO);
}

/* ---- vhost-net specifics -------------------------------------------------- */

VDEV_FIXTURE(net_iotlb, VDEV_NET);

/* Unbinding a backend (fd -1) drops the queued messages. */
TEST_F(net_iotlb, unbind_drops_messages)
{
	unsigned char buf[IOTLB_MSG_SIZE];

	iotlb_ready(_metadata, &self->d);
	ASSERT_ERRNO(EFAULT, start0(&self->d));
	ASSERT_EQ(POLLIN | POLLRDNORM, poll_events(self->d.fd, POLLIN, 0));
	ASSERT_ERRNO(0, net_set_backend(self->d.fd, 1, -1));
	ASSERT_EQ(0, poll_events(self->d.fd, POLLIN, 0));
	ASSERT_EQ(-EAGAIN, read_msg(self->d.fd, buf, sizeof(buf)));
}

TEST_F(net_iotlb, reset_owner_drops_iotlb)
{
	unsigned char buf[IOTLB_MSG_SIZE];

	iotlb_ready(_metadata, &self->d);
	ASSERT_EQ(IOTLB_MSG_SIZE, map_all(&self->d));
	ASSERT_ERRNO(0, set_backend_features(self->d.fd, BACKEND_FEATURES));
	IOCTL_OK(self->d.fd, VHOST_RESET_OWNER, NULL);
	ASSERT_EQ(-EFAULT, map_all(&self->d));
	ASSERT_EQ(-1, read(self->d.fd, buf, sizeof(buf)));
	ASSERT_EQ(EBADFD, errno);
	/* and the backend features are gone: misses are v1 again */
	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	ASSERT_ERRNO(0, set_features(self->d.fd, AP));
	ASSERT_ERRNO(0, set_ring_giova(&self->d, 0));
	ASSERT_ERRNO(EFAULT, start0(&self->d));
	ASSERT_EQ(IOTLB_MSG_SIZE, read_msg(self->d.fd, buf, sizeof(buf)));
	check_miss(_metadata, buf, 1, giova(&self->d, vq_used(&self->d, 0)),
		   VHOST_ACCESS_RO);
}

TEST_HARNESS_MAIN
