// SPDX-License-Identifier: GPL-2.0
/*
 * A hostile guest against /dev/vhost-vsock: malformed and misaddressed
 * packets, a guest that takes no replies, packets that claim little in
 * large buffers, RX buffers of the wrong shape. The device must report
 * what it refuses on the error eventfd, never trust it, and stay usable.
 *
 * Rings are legacy split rings of VDEV_NUM entries, one descriptor per
 * buffer; guest physical address = offset in d->mem (vdev_ready()). Tests
 * of what rvhost does beyond C (a refused buffer is returned, a packet the
 * guest had no good buffer for is kept, a packet is sized from its header)
 * SKIP against C, as c.skip lists.
 */
#include "vhost_test.h"

#define TX_VQ		1
#define RX_VQ		0
#define HDR		sizeof(struct virtio_vsock_hdr)
/* Guest memory: small TX and RX slots, and one 64 KiB + header buffer. */
#define TX_SLOT_OFF	0x10000UL
#define TX_SLOT		0x80UL
#define RX_SLOT_OFF	0x18000UL
#define RX_SLOT		0x80UL
#define BIG_OFF		0x20000UL
#define BIG_LEN		(0x10000UL + HDR)
#define PORT		5000
#define GUEST_PORT	40000

FIXTURE(vsock_hostile) {
	struct vdev d;
	int kick[VDEV_NVQS], call[VDEV_NVQS], err[VDEV_NVQS];
	unsigned int cid;
	uint16_t avail[VDEV_NVQS];
};

FIXTURE_SETUP(vsock_hostile)
{
	int vq;

	vdev_open(_metadata, &self->d, VDEV_VSOCK);
	vdev_ready(_metadata, &self->d);
	for (vq = 0; vq < VDEV_NVQS; vq++) {
		self->kick[vq] = new_eventfd();
		self->call[vq] = new_eventfd();
		self->err[vq] = new_eventfd();
		ASSERT_LE(0, self->kick[vq]);
		ASSERT_LE(0, self->call[vq]);
		ASSERT_LE(0, self->err[vq]);
		ASSERT_ERRNO(0, set_vring_file(self->d.fd, VHOST_SET_VRING_KICK, vq, self->kick[vq]));
		ASSERT_ERRNO(0, set_vring_file(self->d.fd, VHOST_SET_VRING_CALL, vq, self->call[vq]));
		ASSERT_ERRNO(0, set_vring_file(self->d.fd, VHOST_SET_VRING_ERR, vq, self->err[vq]));
	}
	self->cid = test_cid(0);
	ASSERT_ERRNO(0, vsock_set_cid(self->d.fd, self->cid));
	ASSERT_ERRNO(0, vsock_set_running(self->d.fd, 1));
}

FIXTURE_TEARDOWN(vsock_hostile)
{
	vdev_close(&self->d);
}

/* Make one buffer available on vq: a descriptor at its ring slot. */
static void post(struct vdev *d, uint16_t *avail_idx, int vq, uint64_t gpa,
		 uint32_t len, uint16_t flags)
{
	struct vring_desc *desc = (struct vring_desc *)vq_desc(d, vq);
	struct vring_avail *avail = vq_avail(d, vq);
	uint16_t slot = *avail_idx % VDEV_NUM;

	desc[slot].addr = gpa;
	desc[slot].len = len;
	desc[slot].flags = flags;
	desc[slot].next = 0;
	avail->ring[slot] = slot;
	(*avail_idx)++;
}

static void publish(struct vdev *d, uint16_t avail_idx, int vq)
{
	__atomic_store_n(&vq_avail(d, vq)->idx, avail_idx, __ATOMIC_RELEASE);
}

/* Whether a used entry of vq names descriptor slot id (with length len). */
static bool used_has(struct vdev *d, int vq, uint16_t id, uint32_t *len)
{
	struct vring_used *u = vq_used(d, vq);
	uint16_t i, n = vdev_used_idx(d, vq);

	for (i = 0; i < n && i < VDEV_NUM; i++)
		if (u->ring[i].id == id) {
			if (len)
				*len = u->ring[i].len;
			return true;
		}
	return false;
}

static void hdr_at(struct vdev *d, uint64_t gpa, uint64_t src, uint64_t dst,
		   uint16_t type, uint16_t op, uint32_t len)
{
	struct virtio_vsock_hdr h = {
		.src_cid = src, .dst_cid = dst,
		.src_port = GUEST_PORT, .dst_port = PORT,
		.len = len, .type = type, .op = op,
		.buf_alloc = 256 * 1024,
	};

	memcpy(d->mem + gpa, &h, sizeof(h));
}

static uint64_t tx_slot(int i)
{
	return TX_SLOT_OFF + i * TX_SLOT;
}

static uint64_t rx_slot(int i)
{
	return RX_SLOT_OFF + i * RX_SLOT;
}

static int listener(int type)
{
	struct sockaddr_vm a = {
		.svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY,
		.svm_port = PORT,
	};
	int s = socket(AF_VSOCK, type | SOCK_NONBLOCK, 0);

	if (s < 0)
		return -1;
	if (bind(s, (struct sockaddr *)&a, sizeof(a)) || listen(s, 16)) {
		close(s);
		return -1;
	}
	return s;
}

/* A connection the guest asked for, accepted within timeout_ms, or -1. */
static int accept_within(int l, int timeout_ms)
{
	if (!wait_readable(l, timeout_ms))
		return -1;
	return accept(l, NULL, NULL);
}

/*
 * A chain that is not a packet is refused with an error on the error
 * eventfd, and the handler goes on: a good packet after four bad ones
 * reaches its listener. Bad: shorter than a header, a header whose len
 * runs past the buffer, device-writable, longer than 64 KiB + header.
 */
TEST_F(vsock_hostile, tx_malformed_reported_and_skipped)
{
	uint16_t *a = &self->avail[TX_VQ];
	int l = listener(SOCK_STREAM), c;
	uint32_t len;

	ASSERT_LE(0, l);
	post(&self->d, a, TX_VQ, tx_slot(0), HDR - 1, 0);
	hdr_at(&self->d, tx_slot(1), self->cid, 2, VIRTIO_VSOCK_TYPE_STREAM,
	       VIRTIO_VSOCK_OP_RW, 100);
	post(&self->d, a, TX_VQ, tx_slot(1), HDR + 50, 0);
	hdr_at(&self->d, tx_slot(2), self->cid, 2, VIRTIO_VSOCK_TYPE_STREAM,
	       VIRTIO_VSOCK_OP_REQUEST, 0);
	post(&self->d, a, TX_VQ, tx_slot(2), HDR, VRING_DESC_F_WRITE);
	hdr_at(&self->d, BIG_OFF, self->cid, 2, VIRTIO_VSOCK_TYPE_STREAM,
	       VIRTIO_VSOCK_OP_REQUEST, 0);
	post(&self->d, a, TX_VQ, BIG_OFF, BIG_LEN + 1, 0);
	hdr_at(&self->d, tx_slot(4), self->cid, 2, VIRTIO_VSOCK_TYPE_STREAM,
	       VIRTIO_VSOCK_OP_REQUEST, 0);
	post(&self->d, a, TX_VQ, tx_slot(4), HDR, 0);
	publish(&self->d, *a, TX_VQ);
	eventfd_kick(self->kick[TX_VQ]);
	c = accept_within(l, 5000);
	ASSERT_LE(0, c) TH_LOG("the good packet after the bad ones got nowhere");
	vdev_flush(&self->d);
	ASSERT_LE(1, eventfd_take(self->err[TX_VQ]));
	ASSERT_TRUE(used_has(&self->d, TX_VQ, 4, &len));
	ASSERT_EQ(0, len);
	close(c);
	close(l);
}

/*
 * Unlike C, which leaves them consumed and never used, rvhost returns the
 * refused buffers to the guest, with length 0.
 */
TEST_F(vsock_hostile, tx_malformed_buffers_returned)
{
	uint16_t *a = &self->avail[TX_VQ];
	uint32_t len;
	int i;

	if (!vdev_is_rvhost(VDEV_VSOCK))
		SKIP(return, "C keeps refused TX buffers");
	post(&self->d, a, TX_VQ, tx_slot(0), HDR - 1, 0);
	hdr_at(&self->d, tx_slot(1), self->cid, 2, VIRTIO_VSOCK_TYPE_STREAM,
	       VIRTIO_VSOCK_OP_RW, 100);
	post(&self->d, a, TX_VQ, tx_slot(1), HDR + 50, 0);
	post(&self->d, a, TX_VQ, tx_slot(2), HDR, VRING_DESC_F_WRITE);
	post(&self->d, a, TX_VQ, BIG_OFF, BIG_LEN + 1, 0);
	publish(&self->d, *a, TX_VQ);
	eventfd_kick(self->kick[TX_VQ]);
	ASSERT_TRUE(vdev_wait_used(&self->d, TX_VQ, 4, 5000));
	for (i = 0; i < 4; i++) {
		ASSERT_TRUE(used_has(&self->d, TX_VQ, i, &len));
		ASSERT_EQ(0, len);
	}
	ASSERT_LE(1, eventfd_take(self->err[TX_VQ]));
}

/*
 * Packets not from the guest's CID, or not to the host's, are dropped
 * without an error: no connection comes of them, their buffers are used.
 * The same packet correctly addressed connects.
 */
TEST_F(vsock_hostile, tx_misaddressed_dropped)
{
	uint16_t *a = &self->avail[TX_VQ];
	int l = listener(SOCK_STREAM), c;

	ASSERT_LE(0, l);
	hdr_at(&self->d, tx_slot(0), self->cid + 1, 2, VIRTIO_VSOCK_TYPE_STREAM,
	       VIRTIO_VSOCK_OP_REQUEST, 0);
	post(&self->d, a, TX_VQ, tx_slot(0), HDR, 0);
	hdr_at(&self->d, tx_slot(1), self->cid, 3, VIRTIO_VSOCK_TYPE_STREAM,
	       VIRTIO_VSOCK_OP_REQUEST, 0);
	post(&self->d, a, TX_VQ, tx_slot(1), HDR, 0);
	hdr_at(&self->d, tx_slot(2), self->cid | 1ULL << 32, 2,
	       VIRTIO_VSOCK_TYPE_STREAM, VIRTIO_VSOCK_OP_REQUEST, 0);
	post(&self->d, a, TX_VQ, tx_slot(2), HDR, 0);
	publish(&self->d, *a, TX_VQ);
	eventfd_kick(self->kick[TX_VQ]);
	ASSERT_TRUE(vdev_wait_used(&self->d, TX_VQ, 3, 5000));
	vdev_flush(&self->d);
	ASSERT_EQ(-1, accept(l, NULL, NULL));
	ASSERT_EQ(EAGAIN, errno);
	ASSERT_EQ(0, eventfd_take(self->err[TX_VQ]));
	hdr_at(&self->d, tx_slot(3), self->cid, 2, VIRTIO_VSOCK_TYPE_STREAM,
	       VIRTIO_VSOCK_OP_REQUEST, 0);
	post(&self->d, a, TX_VQ, tx_slot(3), HDR, 0);
	publish(&self->d, *a, TX_VQ);
	eventfd_kick(self->kick[TX_VQ]);
	c = accept_within(l, 5000);
	ASSERT_LE(0, c);
	close(c);
	close(l);
}

/*
 * An unknown type or op is the vsock core's to answer (a reset), as in
 * C: the guest gets an RST on RX, and the device goes on.
 */
TEST_F(vsock_hostile, tx_unknown_type_and_op_reset)
{
	uint16_t *a = &self->avail[TX_VQ], *r = &self->avail[RX_VQ];
	struct virtio_vsock_hdr h;
	int i;

	for (i = 0; i < 4; i++)
		post(&self->d, r, RX_VQ, rx_slot(i), RX_SLOT, VRING_DESC_F_WRITE);
	publish(&self->d, *r, RX_VQ);
	eventfd_kick(self->kick[RX_VQ]);
	hdr_at(&self->d, tx_slot(0), self->cid, 2, 99, VIRTIO_VSOCK_OP_REQUEST, 0);
	post(&self->d, a, TX_VQ, tx_slot(0), HDR, 0);
	publish(&self->d, *a, TX_VQ);
	eventfd_kick(self->kick[TX_VQ]);
	ASSERT_TRUE(vdev_wait_used(&self->d, RX_VQ, 1, 5000));
	memcpy(&h, self->d.mem + rx_slot(0), sizeof(h));
	ASSERT_EQ(VIRTIO_VSOCK_OP_RST, h.op);
	ASSERT_EQ(self->cid, h.dst_cid);
	ASSERT_EQ(GUEST_PORT, h.dst_port);
	/* An op no one knows, on a stream no one has: also a reset. */
	hdr_at(&self->d, tx_slot(1), self->cid, 2, VIRTIO_VSOCK_TYPE_STREAM,
	       0x7777, 0);
	post(&self->d, a, TX_VQ, tx_slot(1), HDR, 0);
	publish(&self->d, *a, TX_VQ);
	eventfd_kick(self->kick[TX_VQ]);
	ASSERT_TRUE(vdev_wait_used(&self->d, RX_VQ, 2, 5000));
	memcpy(&h, self->d.mem + rx_slot(1), sizeof(h));
	ASSERT_EQ(VIRTIO_VSOCK_OP_RST, h.op);
	ASSERT_TRUE(vdev_wait_used(&self->d, TX_VQ, 2, 1000));
	ASSERT_EQ(0, eventfd_take(self->err[TX_VQ]));
}

/*
 * A guest that posts no RX buffers cannot make the host queue replies
 * without bound: once as many replies wait as the TX ring holds, TX stops
 * taking packets; RX buffers let the replies out and TX goes on.
 */
TEST_F(vsock_hostile, replies_bounded_without_rx_buffers)
{
	uint16_t *a = &self->avail[TX_VQ], *r = &self->avail[RX_VQ];
	int i;

	/* REQUESTs to a port nobody listens on: each is answered with RST. */
	for (i = 0; i < VDEV_NUM; i++) {
		hdr_at(&self->d, tx_slot(i % 64), self->cid, 2,
		       VIRTIO_VSOCK_TYPE_STREAM, VIRTIO_VSOCK_OP_REQUEST, 0);
		post(&self->d, a, TX_VQ, tx_slot(i % 64), HDR, 0);
	}
	publish(&self->d, *a, TX_VQ);
	eventfd_kick(self->kick[TX_VQ]);
	ASSERT_TRUE(vdev_wait_used(&self->d, TX_VQ, VDEV_NUM, 10000));
	/* As many again: none is taken while the replies wait. */
	for (i = 0; i < VDEV_NUM; i++)
		post(&self->d, a, TX_VQ, tx_slot(i % 64), HDR, 0);
	publish(&self->d, *a, TX_VQ);
	eventfd_kick(self->kick[TX_VQ]);
	usleep(300 * 1000);
	vdev_flush(&self->d);
	ASSERT_EQ(VDEV_NUM, vdev_used_idx(&self->d, TX_VQ));
	/* A ring of RX buffers: the replies go out, and TX runs again. */
	for (i = 0; i < VDEV_NUM; i++)
		post(&self->d, r, RX_VQ, rx_slot(i % 64), HDR, VRING_DESC_F_WRITE);
	publish(&self->d, *r, RX_VQ);
	eventfd_kick(self->kick[RX_VQ]);
	ASSERT_TRUE(vdev_wait_used(&self->d, RX_VQ, VDEV_NUM, 10000));
	ASSERT_TRUE(vdev_wait_used(&self->d, TX_VQ, (uint16_t)(2 * VDEV_NUM), 10000))
		TH_LOG("TX used %u", vdev_used_idx(&self->d, TX_VQ));
	ASSERT_EQ(0, eventfd_take(self->err[TX_VQ]));
}

/* Make one buffer available on r at its ring slot (head = slot); no publish. */
static void ring_post(struct vdev_ring *r, uint16_t *avail_idx, uint64_t gpa,
		      uint32_t len, uint16_t flags)
{
	uint16_t slot = *avail_idx % r->num;

	r->desc[slot] = (struct vring_desc){ gpa, len, flags, 0 };
	r->avail->ring[slot] = slot;
	(*avail_idx)++;
}

static void ring_publish(struct vdev_ring *r, uint16_t avail_idx)
{
	__atomic_store_n(&r->avail->idx, avail_idx, __ATOMIC_RELEASE);
}

/*
 * A host socket connecting to the guest's port: its REQUEST waits in the
 * device's queue for an RX buffer, and is no reply. It waits 5 s (not the
 * default 2 s, after which the core cancels its packet; not longer: until
 * then the socket holds the transport's module, which run_both.sh unloads
 * after the test).
 */
static int host_connect(unsigned int cid, unsigned int port)
{
	struct sockaddr_vm a = {
		.svm_family = AF_VSOCK, .svm_cid = cid, .svm_port = port,
	};
	struct timeval tv = { .tv_sec = 5 };
	int s = socket(AF_VSOCK, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (s < 0)
		return -1;
	if (setsockopt(s, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT, &tv,
		       sizeof(tv)) ||
	    !connect(s, (struct sockaddr *)&a, sizeof(a)) ||
	    errno != EINPROGRESS) {
		close(s);
		return -1;
	}
	return s;
}

#define NOBODY_PORT	5999	/* a host port nobody listens on */
#define HOST_REQS	64
#define RX_NUM		128

/*
 * A reply the device put into an RX buffer is sent, even if its used entry
 * cannot be written: C's vhost_transport_do_send_pkt() ignores what
 * vhost_add_used() returns (which is vq_err() and -EFAULT), and takes the
 * reply off queued_replies. Were it still counted, TX would stop for good
 * once as many were lost so as the TX ring has entries.
 *
 * A TX ring of 1: one reply waiting stops TX. The RX used ring starts 4
 * bytes before a page: its flags and index stay writable, its entries are
 * on a page made read-only. 64 host REQUESTs (no replies), then the RST
 * that answers a guest REQUEST to a port nobody listens on (a reply), wait
 * for RX buffers; 65 come with one kick and each used entry fails (C goes
 * on after each; rvhost keeps up to 64 used entries before it writes them,
 * so the 65th packet, the reply, is the one whose add_used fails). With
 * the page writable again, a guest REQUEST to a listener goes through: the
 * host accepts, the guest gets the RESPONSE.
 */
TEST_F(vsock_hostile, reply_counted_when_used_write_fails)
{
	struct vdev *d = &self->d;
	unsigned char *page = d->mem + RX_VQ * VDEV_VQ_STRIDE + 0x3000;
	struct vdev_ring rx = vdev_ring_of(d, RX_VQ), tx = vdev_ring_of(d, TX_VQ);
	struct virtio_vsock_hdr h;
	uint16_t ra = 0, ta = 0;
	int host[HOST_REQS], l, c, i;

	rx.used = (struct vring_used *)(page - 4);
	rx.num = RX_NUM;
	tx.num = 1;
	ASSERT_ERRNO(0, vsock_set_running(d->fd, 0));
	ASSERT_ERRNO(0, set_num(d->fd, RX_VQ, rx.num));
	ASSERT_ERRNO(0, set_num(d->fd, TX_VQ, tx.num));
	ASSERT_ERRNO(0, vdev_ring_set_addr(d, RX_VQ, &rx));
	ASSERT_ERRNO(0, vsock_set_running(d->fd, 1));
	l = listener(SOCK_STREAM);
	ASSERT_LE(0, l);
	for (i = 0; i < HOST_REQS; i++) {
		host[i] = host_connect(self->cid, 6000 + i);
		ASSERT_LE(0, host[i]) TH_LOG("connect: %s", strerror(errno));
	}
	/* The RST, after them. */
	hdr_at(d, tx_slot(0), self->cid, 2, VIRTIO_VSOCK_TYPE_STREAM,
	       VIRTIO_VSOCK_OP_REQUEST, 0);
	((struct virtio_vsock_hdr *)(d->mem + tx_slot(0)))->dst_port = NOBODY_PORT;
	ring_post(&tx, &ta, tx_slot(0), HDR, 0);
	ring_publish(&tx, ta);
	eventfd_kick(self->kick[TX_VQ]);
	ASSERT_TRUE(vdev_ring_wait_used(&tx, 1, 5000));
	vdev_flush(d);
	ASSERT_EQ(0, vdev_ring_used_idx(&rx));
	/* 65 RX buffers, none of whose used entries can be written. */
	ASSERT_EQ(0, mprotect(page, 4096, PROT_READ));
	for (i = 0; i < HOST_REQS + 1; i++)
		ring_post(&rx, &ra, rx_slot(i), RX_SLOT, VRING_DESC_F_WRITE);
	ring_publish(&rx, ra);
	eventfd_kick(self->kick[RX_VQ]);
	ASSERT_TRUE(wait_readable(self->err[RX_VQ], 5000));
	vdev_flush(d);
	ASSERT_EQ(0, vdev_ring_used_idx(&rx));
	/* All 65 went into their buffers, the reply last. */
	memcpy(&h, d->mem + rx_slot(0), sizeof(h));
	ASSERT_EQ(VIRTIO_VSOCK_OP_REQUEST, h.op);
	memcpy(&h, d->mem + rx_slot(HOST_REQS), sizeof(h));
	ASSERT_EQ(VIRTIO_VSOCK_OP_RST, h.op);
	ASSERT_EQ(NOBODY_PORT, h.src_port);
	ASSERT_EQ(0, mprotect(page, 4096, PROT_READ | PROT_WRITE));
	/* A buffer for the RESPONSE, and the guest connects. */
	ring_post(&rx, &ra, rx_slot(HOST_REQS + 1), RX_SLOT, VRING_DESC_F_WRITE);
	ring_publish(&rx, ra);
	hdr_at(d, tx_slot(1), self->cid, 2, VIRTIO_VSOCK_TYPE_STREAM,
	       VIRTIO_VSOCK_OP_REQUEST, 0);
	ring_post(&tx, &ta, tx_slot(1), HDR, 0);
	ring_publish(&tx, ta);
	eventfd_kick(self->kick[TX_VQ]);
	c = accept_within(l, 5000);
	ASSERT_LE(0, c) TH_LOG("TX stopped: the reply lost with its used entry still counts (TX used %u of 2)",
			       vdev_ring_used_idx(&tx));
	ASSERT_TRUE(vdev_ring_wait_used(&rx, 1, 5000));
	ASSERT_EQ(HOST_REQS + 1, rx.used->ring[0].id);
	memcpy(&h, d->mem + rx_slot(HOST_REQS + 1), sizeof(h));
	ASSERT_EQ(VIRTIO_VSOCK_OP_RESPONSE, h.op);
	ASSERT_EQ(PORT, h.src_port);
	ASSERT_EQ(GUEST_PORT, h.dst_port);
	ASSERT_EQ(0, eventfd_take(self->err[TX_VQ]));
	close(c);
	close(l);
	for (i = 0; i < HOST_REQS; i++)
		close(host[i]);
}

static long mem_available_kib(void)
{
	char buf[4096], *p;

	if (!read_small_file("/proc/meminfo", buf, sizeof(buf)))
		return -1;
	p = strstr(buf, "MemAvailable:");
	return p ? strtol(p + strlen("MemAvailable:"), NULL, 10) : -1;
}

/*
 * Packets that carry 129 bytes (too many to be merged into the previous
 * one) in 64 KiB buffers, to a host socket that does not read, within
 * its credit (256 KiB): rvhost sizes each packet from its header, so the
 * memory the host holds stays near the payload. C sizes them from the
 * buffer, 64 KiB each (the vsock core collapses its receive queue past a
 * few hundred packets, which bounds it at tens of MiB).
 */
TEST_F(vsock_hostile, tx_packet_sized_from_header)
{
	uint16_t *a = &self->avail[TX_VQ];
	const uint32_t payload = 129;
	const unsigned int total = 1900;
	unsigned int i, n = 0;
	long before, after, got = 0;
	int l = listener(SOCK_STREAM), c;
	char rbuf[4096];

	ASSERT_LE(0, l);
	hdr_at(&self->d, tx_slot(0), self->cid, 2, VIRTIO_VSOCK_TYPE_STREAM,
	       VIRTIO_VSOCK_OP_REQUEST, 0);
	post(&self->d, a, TX_VQ, tx_slot(0), HDR, 0);
	publish(&self->d, *a, TX_VQ);
	eventfd_kick(self->kick[TX_VQ]);
	c = accept_within(l, 5000);
	ASSERT_LE(0, c);
	hdr_at(&self->d, BIG_OFF, self->cid, 2, VIRTIO_VSOCK_TYPE_STREAM,
	       VIRTIO_VSOCK_OP_RW, payload);
	memset(self->d.mem + BIG_OFF + HDR, 'x', payload);
	before = mem_available_kib();
	ASSERT_LT(0, before);
	while (n < total) {
		unsigned int batch = total - n < VDEV_NUM ? total - n : VDEV_NUM;

		for (i = 0; i < batch; i++)
			post(&self->d, a, TX_VQ, BIG_OFF, BIG_LEN, 0);
		publish(&self->d, *a, TX_VQ);
		eventfd_kick(self->kick[TX_VQ]);
		n += batch;
		ASSERT_TRUE(vdev_wait_used(&self->d, TX_VQ, (uint16_t)(n + 1), 10000))
			TH_LOG("%u of %u packets taken", vdev_used_idx(&self->d, TX_VQ) - 1, n);
	}
	vdev_flush(&self->d);
	after = mem_available_kib();
	TH_LOG("memory held for %u packets of %u bytes: %ld KiB", total,
	       payload, before - after);
	for (;;) {
		ssize_t r = recv(c, rbuf, sizeof(rbuf), MSG_DONTWAIT);

		if (r <= 0)
			break;
		for (i = 0; i < r; i++)
			ASSERT_EQ('x', rbuf[i]);
		got += r;
	}
	ASSERT_EQ((long)total * payload, got);
	ASSERT_EQ(0, eventfd_take(self->err[TX_VQ]));
	close(c);
	close(l);
	if (!vdev_is_rvhost(VDEV_VSOCK))
		SKIP(return, "C holds %ld KiB (sized from the buffers)",
		     before - after);
	ASSERT_GT(8 * 1024, before - after);
}

/*
 * An RX buffer the device cannot write into stops RX with an error, as
 * in C; unlike C, which frees it, rvhost keeps the packet for the next
 * buffer, so the host's connection request still reaches the guest.
 */
TEST_F(vsock_hostile, rx_bad_buffer_keeps_packet)
{
	struct sockaddr_vm to = {
		.svm_family = AF_VSOCK, .svm_cid = self->cid, .svm_port = PORT,
	};
	uint16_t *r = &self->avail[RX_VQ];
	struct virtio_vsock_hdr h;
	int s;

	if (!vdev_is_rvhost(VDEV_VSOCK))
		SKIP(return, "C drops the packet");
	/* device-readable: not an RX buffer */
	post(&self->d, r, RX_VQ, rx_slot(0), RX_SLOT, 0);
	publish(&self->d, *r, RX_VQ);
	s = socket(AF_VSOCK, SOCK_STREAM | SOCK_NONBLOCK, 0);
	ASSERT_LE(0, s);
	ASSERT_EQ(-1, connect(s, (struct sockaddr *)&to, sizeof(to)));
	ASSERT_EQ(EINPROGRESS, errno);
	ASSERT_TRUE(wait_readable(self->err[RX_VQ], 5000));
	vdev_flush(&self->d);
	ASSERT_EQ(0, vdev_used_idx(&self->d, RX_VQ));
	post(&self->d, r, RX_VQ, rx_slot(1), RX_SLOT, VRING_DESC_F_WRITE);
	publish(&self->d, *r, RX_VQ);
	eventfd_kick(self->kick[RX_VQ]);
	ASSERT_TRUE(vdev_wait_used(&self->d, RX_VQ, 1, 5000));
	ASSERT_EQ(1, vq_used(&self->d, RX_VQ)->ring[0].id);
	memcpy(&h, self->d.mem + rx_slot(1), sizeof(h));
	ASSERT_EQ(VIRTIO_VSOCK_OP_REQUEST, h.op);
	ASSERT_EQ(PORT, h.dst_port);
	close(s);
}

/*
 * Ring corruption: an avail index more than a ring ahead is an error,
 * and the other device (a second one, with its own CID) is unaffected.
 */
TEST_F(vsock_hostile, avail_index_jump_isolated)
{
	struct vdev d2 = { .fd = -1 };
	int l = listener(SOCK_STREAM), c, k2, i;
	uint16_t a2 = 0;

	ASSERT_LE(0, l);
	publish(&self->d, VDEV_NUM + 5, TX_VQ);
	eventfd_kick(self->kick[TX_VQ]);
	ASSERT_TRUE(wait_readable(self->err[TX_VQ], 5000));
	vdev_open(_metadata, &d2, VDEV_VSOCK);
	vdev_ready(_metadata, &d2);
	k2 = new_eventfd();
	ASSERT_LE(0, k2);
	for (i = 0; i < VDEV_NVQS; i++)
		ASSERT_ERRNO(0, set_vring_file(d2.fd, VHOST_SET_VRING_KICK, i, k2));
	ASSERT_ERRNO(0, vsock_set_cid(d2.fd, test_cid(1)));
	ASSERT_ERRNO(0, vsock_set_running(d2.fd, 1));
	hdr_at(&d2, tx_slot(0), test_cid(1), 2, VIRTIO_VSOCK_TYPE_STREAM,
	       VIRTIO_VSOCK_OP_REQUEST, 0);
	post(&d2, &a2, TX_VQ, tx_slot(0), HDR, 0);
	publish(&d2, a2, TX_VQ);
	eventfd_kick(k2);
	c = accept_within(l, 5000);
	ASSERT_LE(0, c);
	close(c);
	close(l);
	vdev_close(&d2);
	close(k2);
}

TEST_HARNESS_MAIN
