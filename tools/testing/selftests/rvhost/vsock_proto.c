// SPDX-License-Identifier: GPL-2.0
/*
 * The virtio-vsock protocol through /dev/vhost-vsock, between a fake guest
 * (vsock_guest.h: the driver side of the rings and of the protocol) and
 * ordinary AF_VSOCK sockets of this process on the host (CID 2):
 * connection set-up both ways, stream and seqpacket data compared byte
 * for byte, credit, shutdown, and what happens to host sockets when the
 * device stops or goes away. net/vmw_vsock/virtio_transport_common.c and
 * drivers/vhost/vsock.c of Linux 7.2 say what the host does; every test
 * passes against the C vhost_vsock.
 *
 * The ring configurations are fixture variants. The packed ring and
 * VIRTIO_F_IN_ORDER SKIP unless the device offers them (C vhost_vsock
 * offers neither).
 *
 * The guest runs in the test's thread and sleeps on its call eventfds and
 * on the host socket it waits for; a host call that must block (connect,
 * accept) runs in a helper thread that signals an eventfd when it
 * returns. Every wait gives up after TIMEOUT_MS without progress.
 */
#include "vhost_test.h"
#include "vsock_guest.h"

#define TIMEOUT_MS	5000
#define HOST_BUF_DEFAULT	(256 * 1024)	/* VSOCK_DEFAULT_BUFFER_SIZE */

#define PUMP_UNTIL(v, cond, fd, ev) VG_PUMP_UNTIL(v, cond, fd, ev, TIMEOUT_MS)

/* A port of this test process: tests run one at a time, each in a child. */
static uint32_t test_port(int n)
{
	return 0x10000 + (getpid() % 100000) * 16 + n;
}

static long first_diff(const unsigned char *a, const unsigned char *b,
		       size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (a[i] != b[i])
			return i;
	return -1;
}

/* ---- the guest -------------------------------------------------------------- */

FIXTURE(vsock_proto) {
	struct vguest v;
};

FIXTURE_VARIANT(vsock_proto) {
	bool packed, event_idx, in_order;
};

FIXTURE_VARIANT_ADD(vsock_proto, split) {};
FIXTURE_VARIANT_ADD(vsock_proto, split_event_idx) { .event_idx = true };
FIXTURE_VARIANT_ADD(vsock_proto, packed) { .packed = true };
FIXTURE_VARIANT_ADD(vsock_proto, packed_event_idx) {
	.packed = true, .event_idx = true,
};
FIXTURE_VARIANT_ADD(vsock_proto, split_in_order) { .in_order = true };

FIXTURE_SETUP(vsock_proto)
{
	vg_init(&self->v);
}

FIXTURE_TEARDOWN(vsock_proto)
{
	vg_free(&self->v);
}

static void variant_cfg(struct vg_cfg *c,
			const FIXTURE_VARIANT(vsock_proto) *variant, int n)
{
	vg_cfg_default(c, test_cid(n));
	c->packed = variant->packed;
	c->event_idx = variant->event_idx;
	c->in_order = variant->in_order;
}

/*
 * Open, set up and start a guest for c. Returns false after SKIP() when
 * it cannot run here: no device, or a ring feature the device does not
 * offer.
 */
static bool guest_up(struct __test_metadata *_metadata, struct vguest *v,
		     const struct vg_cfg *c)
{
	const char *what = "";
	int r = vg_open(v, c);

	if (r == -ENOENT || r == -ENODEV || r == -ENXIO)
		SKIP(return false, "%s: %s", VHOST_VSOCK_PATH, strerror(-r));
	ASSERT_EQ(0, r) TH_LOG("open/VHOST_GET_FEATURES: %s", strerror(-r));
	if (c->packed && !vg_offers(v, VIRTIO_F_RING_PACKED))
		SKIP(return false, "VIRTIO_F_RING_PACKED not offered");
	if (c->in_order && !vg_offers(v, VIRTIO_F_IN_ORDER))
		SKIP(return false, "VIRTIO_F_IN_ORDER not offered");
	r = vg_setup(v, &what);
	ASSERT_EQ(0, r) TH_LOG("%s: %s", what, strerror(-r));
	ASSERT_ERRNO(0, vg_start(v));
	return true;
}

/* Nothing went wrong in the guest or on the error eventfds. */
static void guest_ok(struct __test_metadata *_metadata, struct vguest *v)
{
	int vq;

	ASSERT_STREQ("", v->err);
	for (vq = 0; vq < VDEV_NVQS; vq++)
		ASSERT_EQ(0, eventfd_take(v->errfd[vq])) TH_LOG("error eventfd of vq %d", vq);
}

/* ---- the host ---------------------------------------------------------------- */

/* A host socket; the calls that block end after TIMEOUT_MS. */
static int host_socket(struct __test_metadata *_metadata, int type)
{
	int s = vg_host_socket(type, TIMEOUT_MS);

	ASSERT_LE(0, s) TH_LOG("host socket: %s", strerror(errno));
	return s;
}

/* A blocking host call in a thread, that signals efd when it returns. */
struct hop {
	pthread_t t;
	int efd;
	bool accept;
	int s;
	struct sockaddr_vm addr;
	int ret, err;
};

static void *hop_run(void *arg)
{
	struct hop *h = arg;
	socklen_t len = sizeof(h->addr);

	if (h->accept)
		h->ret = accept(h->s, (struct sockaddr *)&h->addr, &len);
	else
		h->ret = connect(h->s, (struct sockaddr *)&h->addr, len);
	h->err = h->ret < 0 ? errno : 0;
	eventfd_kick(h->efd);
	return NULL;
}

static void hop_start(struct __test_metadata *_metadata, struct hop *h,
		      bool accept, int s, uint32_t cid, uint32_t port)
{
	memset(h, 0, sizeof(*h));
	h->accept = accept;
	h->s = s;
	h->addr = (struct sockaddr_vm){
		.svm_family = AF_VSOCK, .svm_cid = cid, .svm_port = port,
	};
	h->efd = new_eventfd();
	ASSERT_LE(0, h->efd);
	ASSERT_EQ(0, pthread_create(&h->t, NULL, hop_run, h));
}

/* The thread is done (its eventfd was signalled): join it. */
static void hop_join(struct hop *h)
{
	pthread_join(h->t, NULL);
	close(h->efd);
}

static bool hop_done(struct hop *h)
{
	struct pollfd p = { .fd = h->efd, .events = POLLIN };

	return poll(&p, 1, 0) == 1;
}

static bool readable(int s)
{
	struct pollfd p = { .fd = s, .events = POLLIN };

	return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

static bool writable(int s)
{
	struct pollfd p = { .fd = s, .events = POLLOUT };

	return poll(&p, 1, 0) == 1 && (p.revents & POLLOUT);
}

/*
 * The host connects (blocking connect()) to the guest's port, where the
 * guest listens: REQUEST in the guest's RX ring, RESPONSE on its TX ring.
 * Returns the guest's connection; *hs gets the host socket.
 */
static struct vg_conn *host_connects(struct __test_metadata *_metadata,
				     struct vguest *v, int type,
				     uint32_t port, int *hs)
{
	uint16_t vtype = type == SOCK_STREAM ? VIRTIO_VSOCK_TYPE_STREAM :
					       VIRTIO_VSOCK_TYPE_SEQPACKET;
	struct vg_conn *c = NULL;
	struct sockaddr_vm me;
	socklen_t len = sizeof(me);
	struct hop h;
	int s;

	ASSERT_EQ(0, vg_listen(v, port, vtype));
	s = host_socket(_metadata, type);
	hop_start(_metadata, &h, false, s, v->cfg.cid, port);
	ASSERT_TRUE(PUMP_UNTIL(v, (c || (c = vg_accept(v, port))) &&
			       hop_done(&h), h.efd, POLLIN))
		TH_LOG("guest %s, connect %s: %s", c ? "accepted" : "saw no REQUEST",
		       hop_done(&h) ? "returned" : "did not return", v->err);
	hop_join(&h);
	ASSERT_EQ(0, h.ret) TH_LOG("connect: %s", strerror(h.err));
	ASSERT_EQ(0, getsockname(s, (struct sockaddr *)&me, &len));
	/* the REQUEST came from the host's port, with the host's credit */
	ASSERT_EQ(me.svm_port, c->pport);
	ASSERT_EQ(vtype, c->type);
	ASSERT_EQ(HOST_BUF_DEFAULT, c->peer_buf_alloc);
	ASSERT_EQ(0, c->peer_fwd_cnt);
	ASSERT_EQ(VG_ESTABLISHED, c->state);
	*hs = s;
	return c;
}

/*
 * The guest connects from lport to the host's port, where a host socket
 * listens (blocking accept()). Returns the guest's connection; *hs gets
 * the accepted host socket.
 */
static struct vg_conn *guest_connects(struct __test_metadata *_metadata,
				      struct vguest *v, int type,
				      uint32_t lport, uint32_t port, int *hs)
{
	uint16_t vtype = type == SOCK_STREAM ? VIRTIO_VSOCK_TYPE_STREAM :
					       VIRTIO_VSOCK_TYPE_SEQPACKET;
	struct sockaddr_vm addr = {
		.svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY,
		.svm_port = port,
	};
	struct vg_conn *c;
	struct hop h;
	int l = host_socket(_metadata, type);

	ASSERT_EQ(0, bind(l, (struct sockaddr *)&addr, sizeof(addr)))
		TH_LOG("bind port %u: %s", port, strerror(errno));
	ASSERT_EQ(0, listen(l, 4));
	hop_start(_metadata, &h, true, l, 0, 0);
	c = vg_connect(v, lport, port, vtype);
	ASSERT_NE(NULL, c) TH_LOG("%s", v->err);
	ASSERT_TRUE(PUMP_UNTIL(v, c->state != VG_CONNECTING && hop_done(&h),
			       h.efd, POLLIN))
		TH_LOG("guest state %d, accept %s: %s", c->state,
		       hop_done(&h) ? "returned" : "did not return", v->err);
	hop_join(&h);
	close(l);
	ASSERT_LE(0, h.ret) TH_LOG("accept: %s", strerror(h.err));
	ASSERT_EQ(VG_ESTABLISHED, c->state);
	ASSERT_EQ(v->cfg.cid, h.addr.svm_cid);
	ASSERT_EQ(lport, h.addr.svm_port);
	/* the RESPONSE carried the host's credit */
	ASSERT_EQ(HOST_BUF_DEFAULT, c->peer_buf_alloc);
	*hs = h.ret;
	return c;
}

/* ---- data -------------------------------------------------------------------- */

/* len bytes host to guest on a stream, compared. */
static void h2g(struct __test_metadata *_metadata, struct vguest *v,
		struct vg_conn *c, int s, size_t len, uint32_t seed)
{
	unsigned char *src = malloc(len), *dst = malloc(len);
	long d;

	ASSERT_TRUE(src && dst);
	vg_pattern(src, len, seed);
	ASSERT_EQ(0, vg_stream_h2g(v, c, s, src, dst, len, TIMEOUT_MS))
		TH_LOG("%s", v->err);
	d = first_diff(src, dst, len);
	ASSERT_EQ(-1, d) TH_LOG("host to guest: %zu bytes differ from byte %ld", len, d);
	ASSERT_EQ(0, c->rx_len);
	free(src);
	free(dst);
}

/* len bytes guest to host on a stream, compared. */
static void g2h(struct __test_metadata *_metadata, struct vguest *v,
		struct vg_conn *c, int s, size_t len, uint32_t seed)
{
	unsigned char *src = malloc(len), *dst = malloc(len);
	long d;

	ASSERT_TRUE(src && dst);
	vg_pattern(src, len, seed);
	ASSERT_EQ(0, vg_stream_g2h(v, c, s, src, dst, len, TIMEOUT_MS))
		TH_LOG("%s", v->err);
	d = first_diff(src, dst, len);
	ASSERT_EQ(-1, d) TH_LOG("guest to host: %zu bytes differ from byte %ld", len, d);
	free(src);
	free(dst);
}

/* A stream connection (host to guest) and len bytes each way. */
static void stream_both_ways(struct __test_metadata *_metadata,
			     struct vguest *v, struct vg_cfg *c, size_t len)
{
	struct vg_conn *vc;
	int s;

	if (!guest_up(_metadata, v, c))
		return;
	vc = host_connects(_metadata, v, SOCK_STREAM, test_port(0), &s);
	h2g(_metadata, v, vc, s, len, 1);
	g2h(_metadata, v, vc, s, len, 2);
	guest_ok(_metadata, v);
	close(s);
}

/* ---- connections ------------------------------------------------------------- */

/* connect() to the guest returns 0 once the guest answered; data both ways. */
TEST_F(vsock_proto, host_connects)
{
	struct vg_cfg c;
	struct vg_conn *vc;
	int s;

	variant_cfg(&c, variant, 0);
	if (!guest_up(_metadata, &self->v, &c))
		return;
	vc = host_connects(_metadata, &self->v, SOCK_STREAM, test_port(0), &s);
	/* one REQUEST in, one RESPONSE out, nothing else */
	ASSERT_EQ(1, self->v.rx_pkts);
	ASSERT_EQ(1, self->v.tx_pkts);
	h2g(_metadata, &self->v, vc, s, 100, 3);
	g2h(_metadata, &self->v, vc, s, 100, 4);
	guest_ok(_metadata, &self->v);
	close(s);
}

/* The guest's REQUEST reaches a listening host socket: accept() returns it. */
TEST_F(vsock_proto, guest_connects)
{
	struct vg_cfg c;
	struct vg_conn *vc;
	int s;

	variant_cfg(&c, variant, 0);
	if (!guest_up(_metadata, &self->v, &c))
		return;
	vc = guest_connects(_metadata, &self->v, SOCK_STREAM, 5000,
			    test_port(0), &s);
	g2h(_metadata, &self->v, vc, s, 100, 5);
	h2g(_metadata, &self->v, vc, s, 100, 6);
	guest_ok(_metadata, &self->v);
	close(s);
}

/* No guest listener: the guest's RST fails connect() with ECONNRESET. */
TEST_F(vsock_proto, host_connect_refused)
{
	struct vg_cfg c;
	struct hop h;
	int s;

	variant_cfg(&c, variant, 0);
	if (!guest_up(_metadata, &self->v, &c))
		return;
	s = host_socket(_metadata, SOCK_STREAM);
	hop_start(_metadata, &h, false, s, c.cid, test_port(0));
	ASSERT_TRUE(PUMP_UNTIL(&self->v, hop_done(&h), h.efd, POLLIN))
		TH_LOG("connect did not return: %s", self->v.err);
	hop_join(&h);
	ASSERT_EQ(-1, h.ret);
	ASSERT_EQ(ECONNRESET, h.err) TH_LOG("connect: %s", strerror(h.err));
	ASSERT_EQ(1, self->v.rst_tx);
	guest_ok(_metadata, &self->v);
	close(s);
}

/* No host listener: the host answers the guest's REQUEST with RST. */
TEST_F(vsock_proto, guest_connect_refused)
{
	struct vg_cfg c;
	struct vg_conn *vc;

	variant_cfg(&c, variant, 0);
	if (!guest_up(_metadata, &self->v, &c))
		return;
	vc = vg_connect(&self->v, 5000, test_port(0), VIRTIO_VSOCK_TYPE_STREAM);
	ASSERT_NE(NULL, vc);
	ASSERT_TRUE(PUMP_UNTIL(&self->v, vc->state != VG_CONNECTING, -1, 0))
		TH_LOG("no answer to the REQUEST: %s", self->v.err);
	ASSERT_EQ(VG_CLOSED, vc->state);
	ASSERT_TRUE(vc->reset);
	guest_ok(_metadata, &self->v);
}

/* ---- stream data ------------------------------------------------------------- */

TEST_F(vsock_proto, stream_1b)
{
	struct vg_cfg c;

	variant_cfg(&c, variant, 0);
	stream_both_ways(_metadata, &self->v, &c, 1);
}

TEST_F(vsock_proto, stream_4k)
{
	struct vg_cfg c;

	variant_cfg(&c, variant, 0);
	stream_both_ways(_metadata, &self->v, &c, 4096);
}

/* One byte more than the largest packet: two packets each way. */
TEST_F(vsock_proto, stream_64k_plus_1)
{
	struct vg_cfg c;

	variant_cfg(&c, variant, 0);
	stream_both_ways(_metadata, &self->v, &c, VG_MAX_PKT + 1);
}

TEST_F(vsock_proto, stream_1m)
{
	struct vg_cfg c;

	variant_cfg(&c, variant, 0);
	stream_both_ways(_metadata, &self->v, &c, 1 << 20);
}

TEST_F(vsock_proto, stream_4m)
{
	struct vg_cfg c;

	variant_cfg(&c, variant, 0);
	stream_both_ways(_metadata, &self->v, &c, 4 << 20);
}

/*
 * RX buffers of 1 KiB: vhost splits every host packet across buffers,
 * each piece with its own header.
 */
TEST_F(vsock_proto, stream_1m_small_rx_buffers)
{
	struct vg_cfg c;

	variant_cfg(&c, variant, 0);
	c.rx_buf_size = 1024;
	c.rx_nbufs = c.num;
	stream_both_ways(_metadata, &self->v, &c, 1 << 20);
	if (_metadata->exit_code == KSFT_SKIP)
		return;
	/* 1 MiB in pieces of at most 980 bytes */
	ASSERT_LE((1 << 20) / (1024 - VG_HDR_LEN), self->v.conn[0].rx_pkts);
}

/* ---- seqpacket --------------------------------------------------------------- */

static const size_t msg_sizes[] = { 1, 100, 4000, 30000, 65536, 100000 };
#define NMSG (sizeof(msg_sizes) / sizeof(msg_sizes[0]))

/* Wait until the host socket is readable, then recvmsg() without blocking. */
static ssize_t host_recvmsg(struct __test_metadata *_metadata,
			    struct vguest *v, int s, void *buf, size_t len,
			    int flags, int *msg_flags)
{
	struct iovec iov = { buf, len };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n = -1;

	/*
	 * A seqpacket socket polls readable as soon as bytes are queued, but
	 * recvmsg() waits for a whole message: EAGAIN until its EOM packet.
	 */
	if (!PUMP_UNTIL(v, readable(s) &&
			((n = recvmsg(s, &m, flags | MSG_DONTWAIT)) >= 0 ||
			 errno != EAGAIN), s, POLLIN)) {
		TH_LOG("nothing to read on the host socket: %s", v->err);
		return -2;
	}
	*msg_flags = m.msg_flags;
	return n;
}

/*
 * Messages of different sizes each way, each received whole: the guest
 * sees EOM on the last packet of each, EOR where the host sent MSG_EOR;
 * the host gets MSG_EOR where the guest set EOR.
 */
TEST_F(vsock_proto, seqpacket_boundaries)
{
	size_t max = msg_sizes[NMSG - 1];
	unsigned char *src = malloc(max), *dst = malloc(max + 1);
	struct vg_conn *vc;
	struct vg_cfg c;
	unsigned int i;
	int s;

	ASSERT_TRUE(src && dst);
	variant_cfg(&c, variant, 0);
	if (!guest_up(_metadata, &self->v, &c))
		return;
	vc = host_connects(_metadata, &self->v, SOCK_SEQPACKET, test_port(0), &s);
	/* all of them fit in the guest's 256 KiB: none waits for credit */
	for (i = 0; i < NMSG; i++) {
		vg_pattern(src, msg_sizes[i], 10 + i);
		ASSERT_EQ(msg_sizes[i], send(s, src, msg_sizes[i],
					     MSG_DONTWAIT | (i & 1 ? MSG_EOR : 0)))
			TH_LOG("message %u: %s", i, strerror(errno));
	}
	for (i = 0; i < NMSG; i++) {
		uint32_t flags = 0, want = VIRTIO_VSOCK_SEQ_EOM |
					   (i & 1 ? VIRTIO_VSOCK_SEQ_EOR : 0);
		ssize_t n = 0;

		ASSERT_TRUE(PUMP_UNTIL(&self->v,
				       (n = vg_recv_msg(&self->v, vc, dst, max + 1,
							&flags, NULL)) != 0, -1, 0))
			TH_LOG("message %u (%zu bytes) not complete: %s", i,
			       msg_sizes[i], self->v.err);
		ASSERT_EQ(msg_sizes[i], n) TH_LOG("message %u", i);
		ASSERT_EQ(want, flags) TH_LOG("message %u", i);
		vg_pattern(src, msg_sizes[i], 10 + i);
		ASSERT_EQ(-1, first_diff(src, dst, n)) TH_LOG("message %u", i);
	}
	for (i = 0; i < NMSG; i++) {
		int mf = 0;

		vg_pattern(src, msg_sizes[i], 20 + i);
		ASSERT_TRUE(PUMP_UNTIL(&self->v,
				       vg_send_msg(&self->v, vc, src, msg_sizes[i],
						   i & 1) != 0, -1, 0))
			TH_LOG("message %u not sent (credit %u): %s", i,
			       vg_peer_credit(vc), self->v.err);
		ASSERT_EQ(msg_sizes[i], host_recvmsg(_metadata, &self->v, s, dst,
						     max + 1, 0, &mf))
			TH_LOG("message %u: %s", i, strerror(errno));
		ASSERT_EQ(i & 1 ? MSG_EOR : 0, mf & (MSG_EOR | MSG_TRUNC))
			TH_LOG("message %u: flags %#x", i, mf);
		ASSERT_EQ(-1, first_diff(src, dst, msg_sizes[i])) TH_LOG("message %u", i);
	}
	guest_ok(_metadata, &self->v);
	close(s);
	free(src);
	free(dst);
}

/*
 * Messages larger than an RX buffer: vhost splits them, and only the last
 * piece has EOM (and EOR).
 */
TEST_F(vsock_proto, seqpacket_split_eom)
{
	static const size_t sizes[] = { 3000, VG_MAX_PKT + 1 };
	uint32_t piece = 1024 - VG_HDR_LEN;
	unsigned char src[VG_MAX_PKT + 1], dst[VG_MAX_PKT + 1];
	struct vg_conn *vc;
	struct vg_cfg c;
	unsigned int i, k;
	int s;

	variant_cfg(&c, variant, 0);
	c.rx_buf_size = 1024;
	c.rx_nbufs = c.num;
	if (!guest_up(_metadata, &self->v, &c))
		return;
	vc = host_connects(_metadata, &self->v, SOCK_SEQPACKET, test_port(0), &s);
	for (i = 0; i < 2; i++) {
		uint32_t want = VIRTIO_VSOCK_SEQ_EOM |
				(i == 0 ? VIRTIO_VSOCK_SEQ_EOR : 0);
		uint32_t flags = 0, total = 0;
		unsigned int npkts = 0;
		ssize_t n;

		vg_pattern(src, sizes[i], 30 + i);
		ASSERT_EQ(sizes[i], send(s, src, sizes[i],
					 MSG_DONTWAIT | (i == 0 ? MSG_EOR : 0)));
		ASSERT_TRUE(PUMP_UNTIL(&self->v, vc->rx_len == sizes[i], -1, 0))
			TH_LOG("message %u: %u of %zu bytes: %s", i, vc->rx_len,
			       sizes[i], self->v.err);
		/* the pieces as they came, before the guest takes them */
		ASSERT_LE((sizes[i] + piece - 1) / piece, vc->seg_n);
		for (k = 0; k < vc->seg_n; k++) {
			struct vg_seg *g = &vc->seg[(vc->seg_head + k) % VG_MAXSEG];

			ASSERT_LE(g->len, piece);
			ASSERT_LT(0, g->len);
			ASSERT_EQ(k + 1 == vc->seg_n ? want : 0, g->flags)
				TH_LOG("message %u piece %u of %u", i, k, vc->seg_n);
			total += g->len;
		}
		ASSERT_EQ(sizes[i], total);
		n = vg_recv_msg(&self->v, vc, dst, sizeof(dst), &flags, &npkts);
		ASSERT_EQ(sizes[i], n);
		ASSERT_EQ(want, flags);
		ASSERT_EQ(-1, first_diff(src, dst, n)) TH_LOG("message %u", i);
	}
	guest_ok(_metadata, &self->v);
	close(s);
}

/*
 * The host reads messages into a smaller buffer: the rest is dropped and
 * MSG_TRUNC set; with MSG_TRUNC in the flags recv() returns the real
 * length. The next message is whole.
 */
TEST_F(vsock_proto, seqpacket_truncation)
{
	unsigned char src[1000], dst[1000];
	struct vg_conn *vc;
	struct vg_cfg c;
	int s, mf;

	variant_cfg(&c, variant, 0);
	if (!guest_up(_metadata, &self->v, &c))
		return;
	vc = guest_connects(_metadata, &self->v, SOCK_SEQPACKET, 5000,
			    test_port(0), &s);
	vg_pattern(src, 1000, 40);
	ASSERT_EQ(1000, vg_send_msg(&self->v, vc, src, 1000, true));
	ASSERT_EQ(200, vg_send_msg(&self->v, vc, src + 100, 200, true));
	ASSERT_EQ(500, vg_send_msg(&self->v, vc, src + 300, 500, false));

	memset(dst, 0, sizeof(dst));
	ASSERT_EQ(100, host_recvmsg(_metadata, &self->v, s, dst, 100, 0, &mf))
		TH_LOG("recvmsg: %s", strerror(errno));
	ASSERT_EQ(MSG_TRUNC | MSG_EOR, mf & (MSG_TRUNC | MSG_EOR));
	ASSERT_EQ(-1, first_diff(src, dst, 100));

	ASSERT_EQ(200, host_recvmsg(_metadata, &self->v, s, dst, sizeof(dst), 0, &mf));
	ASSERT_EQ(MSG_EOR, mf & (MSG_TRUNC | MSG_EOR));
	ASSERT_EQ(-1, first_diff(src + 100, dst, 200));

	ASSERT_EQ(500, host_recvmsg(_metadata, &self->v, s, dst, 50, MSG_TRUNC, &mf));
	ASSERT_EQ(MSG_TRUNC, mf & (MSG_TRUNC | MSG_EOR));
	ASSERT_EQ(-1, first_diff(src + 300, dst, 50));
	guest_ok(_metadata, &self->v);
	close(s);
}

/* ---- credit ------------------------------------------------------------------ */

/*
 * The guest advertises 4 KiB and does not consume: the host sends 4 KiB,
 * then EAGAIN; consuming alone tells the host nothing, the CREDIT_UPDATE
 * does, and the rest arrives.
 */
TEST_F(vsock_proto, credit_small_buf_alloc)
{
	enum { ALLOC = 4096, LEN = 10000 };
	unsigned char src[LEN], dst[LEN];
	struct vg_conn *vc;
	struct vg_cfg c;
	size_t sent, got;
	ssize_t n;
	int s;

	variant_cfg(&c, variant, 0);
	c.buf_alloc = ALLOC;
	if (!guest_up(_metadata, &self->v, &c))
		return;
	vc = host_connects(_metadata, &self->v, SOCK_STREAM, test_port(0), &s);
	vc->manual_credit = true;
	vg_pattern(src, LEN, 50);
	ASSERT_EQ(ALLOC, send(s, src, LEN, MSG_DONTWAIT));
	sent = ALLOC;
	ASSERT_TRUE(PUMP_UNTIL(&self->v, vc->rx_len == ALLOC, -1, 0))
		TH_LOG("guest got %u of %d: %s", vc->rx_len, ALLOC, self->v.err);
	ASSERT_EQ(-1, send(s, src + sent, LEN - sent, MSG_DONTWAIT));
	ASSERT_EQ(EAGAIN, errno);
	ASSERT_FALSE(writable(s));

	/* consumed, but not said: the host still sees no room */
	ASSERT_EQ(ALLOC, vg_recv(&self->v, vc, dst, ALLOC));
	got = ALLOC;
	ASSERT_EQ(0, vdev_flush_barrier(self->v.fd));
	ASSERT_LE(0, vg_step(&self->v));
	ASSERT_EQ(-1, send(s, src + sent, LEN - sent, MSG_DONTWAIT));
	ASSERT_EQ(EAGAIN, errno);

	ASSERT_EQ(0, vg_credit_update(&self->v, vc));
	ASSERT_TRUE(PUMP_UNTIL(&self->v, writable(s), s, POLLOUT))
		TH_LOG("the CREDIT_UPDATE did not make room: %s", self->v.err);
	vc->manual_credit = false;
	while (got < LEN) {
		if (sent < LEN) {
			n = send(s, src + sent, LEN - sent, MSG_DONTWAIT);
			if (n < 0) {
				ASSERT_EQ(EAGAIN, errno);
			} else {
				sent += n;
			}
		}
		ASSERT_TRUE(PUMP_UNTIL(&self->v, vc->rx_len || (sent < LEN && writable(s)),
				       s, sent < LEN ? POLLOUT : 0))
			TH_LOG("stalled at %zu sent, %zu received: %s", sent, got,
			       self->v.err);
		n = vg_recv(&self->v, vc, dst + got, LEN - got);
		ASSERT_LE(0, n);
		got += n;
	}
	ASSERT_EQ(-1, first_diff(src, dst, LEN));
	/* the host never had more than 4 KiB outstanding (vg_fail otherwise) */
	guest_ok(_metadata, &self->v);
	close(s);
}

/* ---- shutdown ---------------------------------------------------------------- */

/*
 * shutdown(SHUT_WR) on the host: the guest sees SHUTDOWN with SEND only,
 * and can still send.
 */
TEST_F(vsock_proto, shutdown_host_wr)
{
	struct vg_conn *vc;
	struct vg_cfg c;
	int s;

	variant_cfg(&c, variant, 0);
	if (!guest_up(_metadata, &self->v, &c))
		return;
	vc = host_connects(_metadata, &self->v, SOCK_STREAM, test_port(0), &s);
	ASSERT_EQ(0, shutdown(s, SHUT_WR));
	ASSERT_TRUE(PUMP_UNTIL(&self->v, vc->peer_shutdown, -1, 0))
		TH_LOG("no SHUTDOWN: %s", self->v.err);
	ASSERT_EQ(VIRTIO_VSOCK_SHUTDOWN_SEND, vc->peer_shutdown);
	ASSERT_EQ(VG_ESTABLISHED, vc->state);
	g2h(_metadata, &self->v, vc, s, 5000, 60);
	ASSERT_EQ(-1, send(s, "x", 1, MSG_DONTWAIT | MSG_NOSIGNAL));
	ASSERT_EQ(EPIPE, errno);
	guest_ok(_metadata, &self->v);
	close(s);
}

/*
 * SHUTDOWN(SEND) from the guest after data: the host reads the data, then
 * end of stream, and can still send.
 */
TEST_F(vsock_proto, shutdown_guest_wr)
{
	unsigned char src[3000], dst[3001];
	struct vg_conn *vc;
	struct vg_cfg c;
	size_t got = 0;
	ssize_t n = -1;
	int s;

	variant_cfg(&c, variant, 0);
	if (!guest_up(_metadata, &self->v, &c))
		return;
	vc = host_connects(_metadata, &self->v, SOCK_STREAM, test_port(0), &s);
	vg_pattern(src, sizeof(src), 70);
	ASSERT_EQ(sizeof(src), vg_send(&self->v, vc, src, sizeof(src)));
	ASSERT_EQ(0, vg_shutdown(&self->v, vc, VIRTIO_VSOCK_SHUTDOWN_SEND));
	while (n) {
		ASSERT_TRUE(PUMP_UNTIL(&self->v, readable(s), s, POLLIN))
			TH_LOG("host read %zu bytes and no end: %s", got, self->v.err);
		n = recv(s, dst + got, sizeof(dst) - got, MSG_DONTWAIT);
		ASSERT_LE(0, n) TH_LOG("recv: %s", strerror(errno));
		got += n;
	}
	ASSERT_EQ(sizeof(src), got);
	ASSERT_EQ(-1, first_diff(src, dst, got));
	h2g(_metadata, &self->v, vc, s, 5000, 71);
	guest_ok(_metadata, &self->v);
	close(s);
}

/* close() on the host: SHUTDOWN with both flags, the guest answers RST. */
TEST_F(vsock_proto, shutdown_host_close)
{
	struct vg_conn *vc;
	struct vg_cfg c;
	int s;

	variant_cfg(&c, variant, 0);
	if (!guest_up(_metadata, &self->v, &c))
		return;
	vc = host_connects(_metadata, &self->v, SOCK_STREAM, test_port(0), &s);
	close(s);
	ASSERT_TRUE(PUMP_UNTIL(&self->v, vc->state == VG_CLOSED, -1, 0))
		TH_LOG("no SHUTDOWN: %s", self->v.err);
	ASSERT_EQ(VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND,
		  vc->peer_shutdown);
	ASSERT_FALSE(vc->reset);
	ASSERT_EQ(1, self->v.rst_tx);
	guest_ok(_metadata, &self->v);
}

/* ---- the device going away --------------------------------------------------- */

/*
 * Closing the device resets the host's connections to its CID
 * (vhost_vsock_reset_orphans()): a read fails with ECONNRESET, and so
 * does SO_ERROR, once; a send fails with EPIPE (the peer shut down).
 */
TEST_F(vsock_proto, release_resets_host_socket)
{
	struct vg_cfg c;
	char b[16];
	int s, e;
	socklen_t len = sizeof(e);

	variant_cfg(&c, variant, 0);
	if (!guest_up(_metadata, &self->v, &c))
		return;
	host_connects(_metadata, &self->v, SOCK_STREAM, test_port(0), &s);
	vg_release(&self->v);
	/* the reset is done before close() returns */
	ASSERT_EQ(-1, recv(s, b, sizeof(b), MSG_DONTWAIT));
	ASSERT_EQ(ECONNRESET, errno) TH_LOG("recv: %s", strerror(errno));
	ASSERT_EQ(0, getsockopt(s, SOL_SOCKET, SO_ERROR, &e, &len));
	ASSERT_EQ(ECONNRESET, e);
	ASSERT_EQ(-1, send(s, "x", 1, MSG_DONTWAIT | MSG_NOSIGNAL));
	ASSERT_EQ(EPIPE, errno) TH_LOG("send: %s", strerror(errno));
	close(s);
}

/*
 * VHOST_VSOCK_SET_RUNNING(0) leaves connections alone: the host's send
 * fails with EHOSTUNREACH (no RX backend) but its socket stays connected,
 * the guest's packets wait in the TX ring, and SET_RUNNING(1) carries on.
 */
TEST_F(vsock_proto, stop_keeps_connection)
{
	struct vg_conn *vc;
	struct vg_cfg c;
	unsigned char src[100], dst[100];
	int s, e;
	socklen_t len = sizeof(e);

	variant_cfg(&c, variant, 0);
	if (!guest_up(_metadata, &self->v, &c))
		return;
	vc = host_connects(_metadata, &self->v, SOCK_STREAM, test_port(0), &s);
	ASSERT_ERRNO(0, vsock_set_running(self->v.fd, 0));

	ASSERT_EQ(-1, send(s, "x", 1, MSG_DONTWAIT));
	ASSERT_EQ(EHOSTUNREACH, errno) TH_LOG("send: %s", strerror(errno));
	ASSERT_EQ(0, getsockopt(s, SOL_SOCKET, SO_ERROR, &e, &len));
	ASSERT_EQ(0, e);

	/* kicked while stopped: nothing taken */
	vg_pattern(src, sizeof(src), 80);
	ASSERT_EQ(sizeof(src), vg_send(&self->v, vc, src, sizeof(src)));
	eventfd_kick(self->v.kick[VG_VQ_TX]);
	ASSERT_EQ(0, vdev_flush_barrier(self->v.fd));
	ASSERT_EQ(0, vg_step(&self->v));
	ASSERT_EQ(1, gvq_outstanding(&self->v.q[VG_VQ_TX]));
	ASSERT_EQ(-1, recv(s, dst, sizeof(dst), MSG_DONTWAIT));
	ASSERT_EQ(EAGAIN, errno);

	ASSERT_ERRNO(0, vg_start(&self->v));
	ASSERT_TRUE(PUMP_UNTIL(&self->v, readable(s), s, POLLIN))
		TH_LOG("the packet queued while stopped did not arrive: %s",
		       self->v.err);
	ASSERT_EQ(sizeof(dst), recv(s, dst, sizeof(dst), MSG_DONTWAIT));
	ASSERT_EQ(-1, first_diff(src, dst, sizeof(dst)));
	h2g(_metadata, &self->v, vc, s, 1000, 81);
	g2h(_metadata, &self->v, vc, s, 1000, 82);
	guest_ok(_metadata, &self->v);
	close(s);
}

/* ---- several devices --------------------------------------------------------- */

/* Tests of several devices, one ring configuration. */
FIXTURE(vsock_devices) {
	int unused;
};

FIXTURE_SETUP(vsock_devices)
{
}

FIXTURE_TEARDOWN(vsock_devices)
{
}

/* Small guests, for many devices at once. */
static void small_cfg(struct vg_cfg *c, uint32_t cid)
{
	vg_cfg_default(c, cid);
	c->num = 64;
	c->rx_buf_size = 4096;
	c->rx_nbufs = 16;
	c->tx_nslots = 8;
	c->buf_alloc = 64 * 1024;
}

/*
 * Two devices with their own CIDs, the same port on both: each host
 * socket talks to its own guest.
 */
TEST_F(vsock_devices, two)
{
	struct vguest v[2];
	struct vg_conn *vc[2];
	struct vg_cfg c;
	int s[2], i;

	for (i = 0; i < 2; i++)
		vg_init(&v[i]);
	for (i = 0; i < 2; i++) {
		vg_cfg_default(&c, test_cid(i));
		if (!guest_up(_metadata, &v[i], &c))
			goto out;
	}
	for (i = 0; i < 2; i++)
		vc[i] = host_connects(_metadata, &v[i], SOCK_STREAM,
				      test_port(0), &s[i]);
	for (i = 0; i < 2; i++) {
		h2g(_metadata, &v[i], vc[i], s[i], 100000, 90 + i);
		g2h(_metadata, &v[i], vc[i], s[i], 100000, 92 + i);
	}
	/* in the other order, after both moved data */
	h2g(_metadata, &v[1], vc[1], s[1], 70000, 94);
	h2g(_metadata, &v[0], vc[0], s[0], 70000, 95);
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(170000, vc[i]->rx_bytes);
		ASSERT_EQ(0, v[i].stray_rx);
		guest_ok(_metadata, &v[i]);
		close(s[i]);
	}
out:
	for (i = 0; i < 2; i++)
		vg_free(&v[i]);
}

#define NDEV	64

/* 64 devices at once, each with its CID, each accepting one connection. */
TEST_F(vsock_devices, many)
{
	struct vguest *v = calloc(NDEV, sizeof(*v));
	struct vg_conn *vc[NDEV];
	int s[NDEV], i;
	struct vg_cfg c;
	char m[32], b[32];

	ASSERT_NE(NULL, v);
	for (i = 0; i < NDEV; i++)
		vg_init(&v[i]);
	for (i = 0; i < NDEV; i++) {
		/* CIDs of their own, apart from test_cid()'s */
		small_cfg(&c, 500000 + (getpid() % 100000) * NDEV + i);
		if (!guest_up(_metadata, &v[i], &c))
			goto out;
	}
	for (i = 0; i < NDEV; i++)
		vc[i] = host_connects(_metadata, &v[i], SOCK_STREAM,
				      test_port(0), &s[i]);
	for (i = 0; i < NDEV; i++) {
		snprintf(m, sizeof(m), "device %d", i);
		ASSERT_EQ(strlen(m), send(s[i], m, strlen(m), MSG_DONTWAIT));
	}
	for (i = NDEV - 1; i >= 0; i--) {
		ssize_t n;

		snprintf(m, sizeof(m), "device %d", i);
		ASSERT_TRUE(PUMP_UNTIL(&v[i], vc[i]->rx_len == strlen(m), -1, 0))
			TH_LOG("device %d got %u bytes: %s", i, vc[i]->rx_len, v[i].err);
		ASSERT_EQ(strlen(m), vg_recv(&v[i], vc[i], b, sizeof(b)));
		ASSERT_EQ(0, memcmp(m, b, strlen(m)));
		ASSERT_EQ(strlen(m), vg_send(&v[i], vc[i], m, strlen(m)));
		n = host_recvmsg(_metadata, &v[i], s[i], b, sizeof(b), 0, (int[]){ 0 });
		ASSERT_EQ(strlen(m), n) TH_LOG("device %d", i);
		ASSERT_EQ(0, memcmp(m, b, strlen(m)));
	}
	for (i = 0; i < NDEV; i++) {
		/* REQUEST and one data packet each, nothing from elsewhere */
		ASSERT_EQ(2, v[i].rx_pkts) TH_LOG("device %d", i);
		guest_ok(_metadata, &v[i]);
		close(s[i]);
	}
out:
	for (i = 0; i < NDEV; i++)
		vg_free(&v[i]);
	free(v);
}

/*
 * A CID is free again once its device is closed: a new device takes it,
 * and a host connect() to it reaches the new guest.
 */
TEST_F(vsock_devices, cid_reuse_after_close)
{
	struct vguest v;
	struct vg_conn *vc;
	struct vg_cfg c;
	char b[4];
	int s, s2;

	vg_init(&v);
	vg_cfg_default(&c, test_cid(0));
	if (!guest_up(_metadata, &v, &c))
		return;
	host_connects(_metadata, &v, SOCK_STREAM, test_port(0), &s);
	vg_free(&v);
	ASSERT_EQ(-1, recv(s, b, sizeof(b), MSG_DONTWAIT));
	ASSERT_EQ(ECONNRESET, errno);

	if (!guest_up(_metadata, &v, &c))
		return;
	vc = host_connects(_metadata, &v, SOCK_STREAM, test_port(1), &s2);
	h2g(_metadata, &v, vc, s2, 3000, 100);
	g2h(_metadata, &v, vc, s2, 3000, 101);
	guest_ok(_metadata, &v);
	close(s);
	close(s2);
	vg_free(&v);
}

TEST_HARNESS_MAIN
