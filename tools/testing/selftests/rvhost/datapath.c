// SPDX-License-Identifier: GPL-2.0
/*
 * The state the ioctls set up, seen through the data path: descriptors
 * are guest physical addresses translated through the memory table, the
 * kick eventfd runs the virtqueue handler, used buffers are returned in
 * the used ring and signalled on the call eventfd, translation failures
 * on the error eventfd, and the last avail index shows in
 * VHOST_GET_VRING_BASE.
 *
 * Rings are legacy split rings (no VERSION_1, no EVENT_IDX), little
 * endian on x86. Guest physical address = offset in d->mem.
 */
#include "vhost_test.h"

#define BUF_SIZE	0x1000
#define TX_VQ		1
#define RX_VQ		0

static uint64_t buf_gpa(int vq, int i)
{
	return VDEV_DATA_OFF + (vq * 16 + i) * BUF_SIZE;
}

static unsigned char *buf_ptr(struct vdev *d, int vq, int i)
{
	return d->mem + buf_gpa(vq, i);
}

/* Make n one-descriptor buffers available on vq. */
static void post_bufs(struct vdev *d, int vq, int n, uint16_t flags,
		      uint32_t len)
{
	struct vring_desc *desc = (struct vring_desc *)vq_desc(d, vq);
	struct vring_avail *avail = vq_avail(d, vq);
	int i;

	for (i = 0; i < n; i++) {
		desc[i].addr = buf_gpa(vq, i);
		desc[i].len = len;
		desc[i].flags = flags;
		desc[i].next = 0;
		avail->ring[(avail->idx + i) % VDEV_NUM] = i;
	}
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	avail->idx += n;
}

struct dp {
	int kick[VDEV_NVQS], call[VDEV_NVQS], err[VDEV_NVQS];
};

/* Ready with kick/call/err eventfds on both virtqueues. */
static void dp_ready(struct __test_metadata *_metadata, struct vdev *d,
		     struct dp *e)
{
	int vq;

	vdev_ready(_metadata, d);
	for (vq = 0; vq < VDEV_NVQS; vq++) {
		e->kick[vq] = new_eventfd();
		e->call[vq] = new_eventfd();
		e->err[vq] = new_eventfd();
		ASSERT_LE(0, e->kick[vq]);
		ASSERT_LE(0, e->call[vq]);
		ASSERT_LE(0, e->err[vq]);
		ASSERT_ERRNO(0, set_vring_file(d->fd, VHOST_SET_VRING_KICK, vq, e->kick[vq]));
		ASSERT_ERRNO(0, set_vring_file(d->fd, VHOST_SET_VRING_CALL, vq, e->call[vq]));
		ASSERT_ERRNO(0, set_vring_file(d->fd, VHOST_SET_VRING_ERR, vq, e->err[vq]));
	}
}

/* ---- vhost-vsock ----------------------------------------------------------- */

VDEV_FIXTURE(vsock_dp, VDEV_VSOCK);

static void vsock_hdr(void *p, uint64_t src, uint64_t dst, uint16_t op)
{
	struct virtio_vsock_hdr h = {
		.src_cid = src, .dst_cid = dst, .src_port = 1, .dst_port = 2,
		.type = VIRTIO_VSOCK_TYPE_STREAM, .op = op,
	};

	memcpy(p, &h, sizeof(h));
}

/*
 * A TX packet that is not addressed from the guest's CID to the host is
 * dropped, but its buffer is used (length 0) and the call eventfd fires.
 */
TEST_F(vsock_dp, tx_buffer_used_and_signalled)
{
	struct dp e;

	dp_ready(_metadata, &self->d, &e);
	ASSERT_ERRNO(0, vsock_set_cid(self->d.fd, test_cid(0)));
	ASSERT_ERRNO(0, vsock_set_running(self->d.fd, 1));
	vsock_hdr(buf_ptr(&self->d, TX_VQ, 0), 99999, 2, VIRTIO_VSOCK_OP_RST);
	post_bufs(&self->d, TX_VQ, 1, 0, sizeof(struct virtio_vsock_hdr));
	ASSERT_EQ(0, eventfd_take(e.call[TX_VQ]));
	eventfd_kick(e.kick[TX_VQ]);
	ASSERT_TRUE(wait_readable(e.call[TX_VQ], 5000));
	ASSERT_TRUE(vdev_wait_used(&self->d, TX_VQ, 1, 1000));
	ASSERT_EQ(0, vq_used(&self->d, TX_VQ)->ring[0].id);
	ASSERT_EQ(0, vq_used(&self->d, TX_VQ)->ring[0].len);
	ASSERT_EQ(0, eventfd_take(e.err[TX_VQ]));
	ASSERT_ERRNO(0, vsock_set_running(self->d.fd, 0));
	ASSERT_EQ(1, get_base(self->d.fd, TX_VQ));
	ASSERT_EQ(0, get_base(self->d.fd, RX_VQ));
}

/* Send one dropped packet on TX and wait until its buffer is used. */
static bool tx_one(struct vdev *d, struct dp *e, uint16_t n)
{
	vsock_hdr(buf_ptr(d, TX_VQ, 0), 99999, 2, VIRTIO_VSOCK_OP_RST);
	post_bufs(d, TX_VQ, 1, 0, sizeof(struct virtio_vsock_hdr));
	eventfd_kick(e->kick[TX_VQ]);
	if (!vdev_wait_used(d, TX_VQ, n, 5000))
		return false;
	vdev_flush(d);
	return true;
}

/*
 * The call eventfd: replaced, kept on a failed set, unbound; and the
 * guest's VRING_AVAIL_F_NO_INTERRUPT suppresses it.
 */
TEST_F(vsock_dp, call_eventfd)
{
	int call2 = new_eventfd();
	struct dp e;

	ASSERT_LE(0, call2);
	dp_ready(_metadata, &self->d, &e);
	ASSERT_ERRNO(0, vsock_set_running(self->d.fd, 1));
	ASSERT_ERRNO(0, set_vring_file(self->d.fd, VHOST_SET_VRING_CALL, TX_VQ, call2));
	ASSERT_TRUE(tx_one(&self->d, &e, 1));
	ASSERT_EQ(0, eventfd_take(e.call[TX_VQ]));
	ASSERT_EQ(1, eventfd_take(call2));
	ASSERT_ERRNO(EBADF, set_vring_file(self->d.fd, VHOST_SET_VRING_CALL, TX_VQ, closed_fd()));
	ASSERT_ERRNO(EINVAL, set_vring_file(self->d.fd, VHOST_SET_VRING_CALL, TX_VQ, self->d.fd));
	ASSERT_TRUE(tx_one(&self->d, &e, 2));
	ASSERT_EQ(1, eventfd_take(call2));
	vq_avail(&self->d, TX_VQ)->flags = VRING_AVAIL_F_NO_INTERRUPT;
	ASSERT_TRUE(tx_one(&self->d, &e, 3));
	ASSERT_EQ(0, eventfd_take(call2));
	vq_avail(&self->d, TX_VQ)->flags = 0;
	ASSERT_ERRNO(0, set_vring_file(self->d.fd, VHOST_SET_VRING_CALL, TX_VQ, -1));
	ASSERT_TRUE(tx_one(&self->d, &e, 4));
	ASSERT_EQ(0, eventfd_take(call2));
	ASSERT_EQ(0, eventfd_take(e.call[TX_VQ]));
	ASSERT_EQ(0, eventfd_take(e.err[TX_VQ]));
}

/* VHOST_SET_VRING_BASE sets where the handler looks next. */
TEST_F(vsock_dp, tx_starts_at_vring_base)
{
	struct dp e;

	dp_ready(_metadata, &self->d, &e);
	ASSERT_ERRNO(0, set_base(self->d.fd, TX_VQ, 5));
	vq_avail(&self->d, TX_VQ)->idx = 5;
	vq_used(&self->d, TX_VQ)->idx = 5;
	ASSERT_ERRNO(0, vsock_set_running(self->d.fd, 1));
	vsock_hdr(buf_ptr(&self->d, TX_VQ, 0), 99999, 2, VIRTIO_VSOCK_OP_RST);
	post_bufs(&self->d, TX_VQ, 1, 0, sizeof(struct virtio_vsock_hdr));
	eventfd_kick(e.kick[TX_VQ]);
	ASSERT_TRUE(wait_readable(e.call[TX_VQ], 5000));
	ASSERT_TRUE(vdev_wait_used(&self->d, TX_VQ, 6, 1000));
	ASSERT_EQ(0, vq_used(&self->d, TX_VQ)->ring[5].id);
	ASSERT_ERRNO(0, vsock_set_running(self->d.fd, 0));
	ASSERT_EQ(6, get_base(self->d.fd, TX_VQ));
}

/* A descriptor outside the memory table is a translation failure. */
TEST_F(vsock_dp, tx_descriptor_outside_mem_table)
{
	struct dp e;

	dp_ready(_metadata, &self->d, &e);
	ASSERT_ERRNO(0, set_mem_one(self->d.fd, 0, VDEV_DATA_OFF,
				    uptr(self->d.mem)));
	ASSERT_ERRNO(0, vsock_set_running(self->d.fd, 1));
	vsock_hdr(buf_ptr(&self->d, TX_VQ, 0), 99999, 2, VIRTIO_VSOCK_OP_RST);
	post_bufs(&self->d, TX_VQ, 1, 0, sizeof(struct virtio_vsock_hdr));
	eventfd_kick(e.kick[TX_VQ]);
	ASSERT_TRUE(wait_readable(e.err[TX_VQ], 5000));
	vdev_flush(&self->d);
	ASSERT_EQ(0, vdev_used_idx(&self->d, TX_VQ));
	ASSERT_EQ(0, eventfd_take(e.call[TX_VQ]));
	/* the table maps it now: the next kick gets through */
	ASSERT_ERRNO(0, vdev_set_mem(&self->d));
	eventfd_kick(e.kick[TX_VQ]);
	ASSERT_TRUE(wait_readable(e.call[TX_VQ], 5000));
	ASSERT_TRUE(vdev_wait_used(&self->d, TX_VQ, 1, 1000));
}

/* A host connect() to the guest's CID lands in the RX ring as a REQUEST. */
TEST_F(vsock_dp, rx_connect_request)
{
	unsigned int cid = test_cid(0);
	struct sockaddr_vm addr = {
		.svm_family = AF_VSOCK, .svm_cid = cid, .svm_port = 4321,
	};
	struct virtio_vsock_hdr h;
	struct dp e;
	int s;

	dp_ready(_metadata, &self->d, &e);
	ASSERT_ERRNO(0, vsock_set_cid(self->d.fd, cid));
	post_bufs(&self->d, RX_VQ, 4, VRING_DESC_F_WRITE, BUF_SIZE);
	ASSERT_ERRNO(0, vsock_set_running(self->d.fd, 1));
	s = socket(AF_VSOCK, SOCK_STREAM | SOCK_NONBLOCK, 0);
	ASSERT_LE(0, s);
	ASSERT_EQ(-1, connect(s, (struct sockaddr *)&addr, sizeof(addr)));
	ASSERT_EQ(EINPROGRESS, errno);
	ASSERT_TRUE(wait_readable(e.call[RX_VQ], 5000));
	ASSERT_TRUE(vdev_wait_used(&self->d, RX_VQ, 1, 1000));
	ASSERT_EQ(0, vq_used(&self->d, RX_VQ)->ring[0].id);
	ASSERT_EQ(sizeof(h), vq_used(&self->d, RX_VQ)->ring[0].len);
	memcpy(&h, buf_ptr(&self->d, RX_VQ, 0), sizeof(h));
	ASSERT_EQ(VMADDR_CID_HOST, h.src_cid);
	ASSERT_EQ(cid, h.dst_cid);
	ASSERT_EQ(4321, h.dst_port);
	ASSERT_EQ(0, h.len);
	ASSERT_EQ(VIRTIO_VSOCK_TYPE_STREAM, h.type);
	ASSERT_EQ(VIRTIO_VSOCK_OP_REQUEST, h.op);
	close(s);
}

/* ---- vhost-net -------------------------------------------------------------- */

VDEV_FIXTURE(net_dp, VDEV_NET);

#define TEST_ETHERTYPE	0x88b5	/* IEEE local experimental */
#define FRAME_LEN	64

struct tap_env {
	char name[IFNAMSIZ];
	int tap, pkt, ifindex;
};

/*
 * A tap interface (no packet information, no vnet header: vhost adds and
 * strips the virtio-net header itself with VHOST_NET_F_VIRTIO_NET_HDR),
 * up, and a packet socket on it for the test ethertype.
 */
static int tap_env(struct __test_metadata *_metadata, struct tap_env *t)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET };

	t->tap = tap_open(t->name, IFF_TAP | IFF_NO_PI);
	if (t->tap == -ENOENT || t->tap == -ENODEV)
		SKIP(return -1, "no /dev/net/tun");
	ASSERT_LE(0, t->tap) TH_LOG("TUNSETIFF: %s", strerror(-t->tap));
	ASSERT_EQ(0, if_up(t->name));
	t->ifindex = if_index(t->name);
	ASSERT_LT(0, t->ifindex);
	t->pkt = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK,
			htons(TEST_ETHERTYPE));
	ASSERT_LE(0, t->pkt);
	sll.sll_protocol = htons(TEST_ETHERTYPE);
	sll.sll_ifindex = t->ifindex;
	ASSERT_EQ(0, bind(t->pkt, (struct sockaddr *)&sll, sizeof(sll)));
	return 0;
}

static void make_frame(unsigned char *f, unsigned char tag)
{
	int i;

	memset(f, 0xff, 6);				/* broadcast */
	memcpy(f + 6, "\x02\x00\x00\x00\x00\x01", 6);	/* local MAC */
	f[12] = TEST_ETHERTYPE >> 8;
	f[13] = TEST_ETHERTYPE & 0xff;
	for (i = 14; i < FRAME_LEN; i++)
		f[i] = tag + i;
}

/* The guest's TX frame comes out of the tap into the host's stack. */
TEST_F(net_dp, tx_frame_reaches_tap)
{
	unsigned char *b, frame[FRAME_LEN], got[256];
	struct tap_env t;
	struct dp e;
	ssize_t n;

	if (tap_env(_metadata, &t))
		return;
	dp_ready(_metadata, &self->d, &e);
	ASSERT_ERRNO(0, set_features(self->d.fd, BIT_ULL(VHOST_NET_F_VIRTIO_NET_HDR)));
	ASSERT_ERRNO(0, net_set_backend(self->d.fd, TX_VQ, t.tap));
	vdev_flush(&self->d);
	b = buf_ptr(&self->d, TX_VQ, 0);
	memset(b, 0, sizeof(struct virtio_net_hdr));
	make_frame(frame, 0x40);
	memcpy(b + sizeof(struct virtio_net_hdr), frame, FRAME_LEN);
	post_bufs(&self->d, TX_VQ, 1, 0, sizeof(struct virtio_net_hdr) + FRAME_LEN);
	eventfd_kick(e.kick[TX_VQ]);
	ASSERT_TRUE(wait_readable(e.call[TX_VQ], 5000));
	ASSERT_TRUE(vdev_wait_used(&self->d, TX_VQ, 1, 1000));
	ASSERT_EQ(0, vq_used(&self->d, TX_VQ)->ring[0].id);
	ASSERT_TRUE(wait_readable(t.pkt, 5000));
	n = recv(t.pkt, got, sizeof(got), 0);
	ASSERT_EQ(FRAME_LEN, n);
	ASSERT_EQ(0, memcmp(frame, got, FRAME_LEN));
	ASSERT_ERRNO(0, net_set_backend(self->d.fd, TX_VQ, -1));
	ASSERT_EQ(1, get_base(self->d.fd, TX_VQ));
}

/* A frame sent out of the tap lands in an RX buffer behind a zeroed header. */
TEST_F(net_dp, rx_frame_from_tap)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET };
	unsigned char frame[FRAME_LEN], *b = NULL;
	const size_t hlen = sizeof(struct virtio_net_hdr);
	struct vring_used_elem *u;
	struct tap_env t;
	struct dp e;
	size_t i;

	if (tap_env(_metadata, &t))
		return;
	dp_ready(_metadata, &self->d, &e);
	ASSERT_ERRNO(0, set_features(self->d.fd, BIT_ULL(VHOST_NET_F_VIRTIO_NET_HDR)));
	for (i = 0; i < 8; i++)
		memset(buf_ptr(&self->d, RX_VQ, i), 0xcc, BUF_SIZE);
	post_bufs(&self->d, RX_VQ, 8, VRING_DESC_F_WRITE, 2048);
	ASSERT_ERRNO(0, net_set_backend(self->d.fd, RX_VQ, t.tap));
	make_frame(frame, 0x80);
	sll.sll_ifindex = t.ifindex;
	sll.sll_halen = 6;
	memset(sll.sll_addr, 0xff, 6);
	ASSERT_EQ(FRAME_LEN, sendto(t.pkt, frame, FRAME_LEN, 0,
				    (struct sockaddr *)&sll, sizeof(sll)));
	ASSERT_TRUE(wait_readable(e.call[RX_VQ], 5000));
	ASSERT_TRUE(vdev_used_idx(&self->d, RX_VQ) >= 1);
	/* other traffic may come first: find ours */
	for (i = 0; i < vdev_used_idx(&self->d, RX_VQ); i++) {
		u = &vq_used(&self->d, RX_VQ)->ring[i];
		b = buf_ptr(&self->d, RX_VQ, u->id);
		if (u->len == hlen + FRAME_LEN &&
		    !memcmp(b + hlen, frame, FRAME_LEN))
			break;
	}
	ASSERT_GT(vdev_used_idx(&self->d, RX_VQ), i) TH_LOG("frame not received");
	for (size_t j = 0; j < hlen; j++) {
		ASSERT_EQ(0, b[j]) TH_LOG("header byte %zu", j);
	}
	/* nothing written past the frame */
	ASSERT_EQ(0xcc, b[hlen + FRAME_LEN]);
}

/* A TX descriptor outside the memory table: error eventfd, no used entry. */
TEST_F(net_dp, tx_descriptor_outside_mem_table)
{
	struct dp e;
	int s = packet_socket();

	ASSERT_LE(0, s);
	dp_ready(_metadata, &self->d, &e);
	ASSERT_ERRNO(0, set_mem_one(self->d.fd, 0, VDEV_DATA_OFF,
				    uptr(self->d.mem)));
	ASSERT_ERRNO(0, net_set_backend(self->d.fd, TX_VQ, s));
	vdev_flush(&self->d);
	memset(buf_ptr(&self->d, TX_VQ, 0), 0, 128);
	post_bufs(&self->d, TX_VQ, 1, 0, 100);
	eventfd_kick(e.kick[TX_VQ]);
	ASSERT_TRUE(wait_readable(e.err[TX_VQ], 5000));
	vdev_flush(&self->d);
	ASSERT_EQ(0, vdev_used_idx(&self->d, TX_VQ));
}

TEST_HARNESS_MAIN
