// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-net's data path through the device IOTLB, as QEMU drives it with a
 * vIOMMU: VIRTIO_F_ACCESS_PLATFORM and VHOST_BACKEND_F_IOTLB_MSG_V2 acked,
 * an empty memory table, rings and buffers at I/O virtual addresses (the
 * fake guest's addresses, nothing like the process's own), translations
 * given with VHOST_IOTLB_UPDATE messages written to the device, misses
 * read from it (drivers/vhost/vhost.c: vq_meta_prefetch(),
 * iotlb_access_ok(), translate_desc(), vhost_iotlb_miss(),
 * vhost_process_iotlb_msg(), vhost_iotlb_notify_vq()).
 *
 * What C does, and these tests check:
 * - a handler that finds a ring (vq_meta_prefetch(): desc and avail need
 *   read, used needs write permission) or a buffer (translate_desc(): a
 *   readable descriptor needs read, a writable one write permission) not
 *   mapped queues one VHOST_IOTLB_MISS message for the first address that
 *   misses, with the permission it needs, and stops without touching the
 *   ring (no used entry, the frame stays where it is, no error signalled);
 * - an UPDATE that covers the address of a miss userspace has read queues
 *   the handler of its virtqueue again: the queue resumes with no kick
 *   (a miss not read yet is not waited for: its update resumes nothing);
 * - INVALIDATE removes translations, cached ring translations included:
 *   the next access misses again, and the answer may map the same I/O
 *   virtual address elsewhere;
 * - a mapping without the permission needed is no miss: a buffer's is an
 *   error (translate_desc() -EPERM, the error eventfd), a ring's stops the
 *   handler silently; either way nothing is used until the mapping is
 *   fixed and the queue kicked. Once the queue runs, a used ring mapped
 *   write-only in one translation is all the handler needs (the used ring
 *   is written through the translation vq_meta_prefetch() checked).
 *
 * iotlb_miss: one step at a time, every message checked byte for byte.
 * iotlb_traffic: whole frame sequences (60 bytes to 64 KiB) both ways with
 * everything mapped beforehand (whole regions, or 4 KiB pages so that
 * buffers and rings span many translations), with a thread answering
 * misses a page at a time, and with another thread invalidating
 * translations all along.
 */
#include "net_test.h"

#define AP		BIT_ULL(VIRTIO_F_ACCESS_PLATFORM)
#define PG		4096ULL
#define TLB_MAX_ENTRIES	VHOST_C_MAX_IOTLB_ENTRIES

/* ---- IOTLB messages ---------------------------------------------------- */

/*
 * Map [iova, iova + len) of the guest's memory to where it is in ours, one
 * translation per guest memory region it touches.
 */
static int tlb_map_gm(struct nctx *n, uint64_t iova, uint64_t len,
		      uint8_t perm)
{
	while (len) {
		int r = gm_region(&n->g, iova), e;
		uint64_t room, l;

		if (r < 0)
			return -EINVAL;
		room = n->g.gpa[r] + n->g.size[r] - iova;
		l = len < room ? len : room;
		e = iotlb_map(n->fd, iova, l, n->g.host[r] + (iova - n->g.gpa[r]),
			       perm);
		if (e)
			return e;
		iova += l;
		len -= l;
	}
	return 0;
}

/*
 * Map the 4 KiB page of iova, as far as its guest memory region goes (a
 * page across a region boundary takes two). Returns the end of what was
 * mapped, 0 on failure.
 */
static uint64_t tlb_map_page(struct nctx *n, uint64_t iova, uint8_t perm)
{
	int r = gm_region(&n->g, iova);
	uint64_t s = iova & ~(PG - 1), e = s + PG, rend;

	if (r < 0)
		return 0;
	rend = n->g.gpa[r] + n->g.size[r];
	if (s < n->g.gpa[r])
		s = n->g.gpa[r];
	if (e > rend)
		e = rend;
	return tlb_map_gm(n, s, e - s, perm) ? 0 : e;
}

/* Read one message, waiting up to timeout_ms: 1, 0 if none, -errno. */
static int tlb_read(int fd, struct vhost_msg_v2 *m, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t r;
	int pr;

	pr = poll(&p, 1, timeout_ms);
	if (pr < 0)
		return -errno;
	if (pr == 0)
		return 0;
	memset(m, 0xee, sizeof(*m));
	r = read(fd, m, sizeof(*m));	/* fd is O_NONBLOCK */
	if (r < 0)
		return errno == EAGAIN ? 0 : -errno;
	return r == IOTLB_MSG_SIZE ? 1 : -EIO;
}

/* Whether m is exactly the v2 miss message for iova and perm. */
static bool miss_is(const struct vhost_msg_v2 *m, uint64_t iova, uint8_t perm)
{
	struct vhost_msg_v2 e;

	memset(&e, 0, sizeof(e));
	e.type = VHOST_IOTLB_MSG_V2;
	e.iotlb.type = VHOST_IOTLB_MISS;
	e.iotlb.iova = iova;
	e.iotlb.perm = perm;
	return !memcmp(&e, m, sizeof(e));
}

static const char *miss_str(const struct vhost_msg_v2 *m, char *buf,
			    size_t len)
{
	snprintf(buf, len, "type %u asid %u iotlb.type %u iova %#llx size %#llx uaddr %#llx perm %u",
		 m->type, m->asid, m->iotlb.type,
		 (unsigned long long)m->iotlb.iova,
		 (unsigned long long)m->iotlb.size,
		 (unsigned long long)m->iotlb.uaddr, m->iotlb.perm);
	return buf;
}

/* The next message must be the miss for iova/perm, within TIMEOUT_MS. */
#define EXPECT_MISS(n, iova, perm) do {					\
	struct vhost_msg_v2 __m;					\
	char __b[200];							\
	int __r = tlb_read((n)->fd, &__m, TIMEOUT_MS);			\
									\
	ASSERT_EQ(1, __r) TH_LOG("no miss message for %#llx within %d ms (%d)", \
				 (unsigned long long)(iova), TIMEOUT_MS, __r); \
	ASSERT_TRUE(miss_is(&__m, (iova), (perm)))			\
		TH_LOG("got %s; expected a v2 miss for %#llx perm %u",	\
		       miss_str(&__m, __b, sizeof(__b)),		\
		       (unsigned long long)(iova), (perm));		\
} while (0)

/* No message to read, now. */
#define EXPECT_NO_MISS(n) do {						\
	struct vhost_msg_v2 __m;					\
	char __b[200];							\
	int __r = tlb_read((n)->fd, &__m, 0);				\
									\
	ASSERT_EQ(0, __r) TH_LOG("unexpected message: %s",		\
				 __r > 0 ? miss_str(&__m, __b, sizeof(__b)) : \
				 strerror(-__r));			\
} while (0)

/* ---- device set-up ------------------------------------------------------- */

static bool iotlb_open(struct __test_metadata *_metadata, struct nctx *n,
		       const struct ncfg *c)
{
	if (!net_open(_metadata, n, c, 1))
		return false;
	if (fcntl(n->fd, F_SETFL, fcntl(n->fd, F_GETFL) | O_NONBLOCK))
		return false;
	return true;
}

static uint64_t ring_size(const struct gvq *q, int which)
{
	if (q->packed)
		return which ? 4 : 16ULL * q->num;
	switch (which) {
	case 0:
		return 16ULL * q->num;
	case 1:
		return 6 + 2ULL * q->num;
	default:
		return 6 + 8ULL * q->num;
	}
}

/*
 * QEMU's set-up with a vIOMMU: owner, v2 messages, features with
 * ACCESS_PLATFORM (which makes the IOTLB), an empty memory table (the
 * IOTLB translates everything), rings at their I/O virtual addresses,
 * eventfds. No backend yet.
 */
static void iotlb_configure(struct __test_metadata *_metadata, struct nctx *n)
{
	int vq;

	IOCTL_OK(n->fd, VHOST_SET_OWNER, NULL);
	ASSERT_ERRNO(0, set_backend_features(n->fd, BACKEND_FEATURES));
	ASSERT_ERRNO(0, set_features(n->fd, ncfg_features(&n->cfg) | AP));
	ASSERT_ERRNO(0, set_mem_empty(n->fd));
	for (vq = 0; vq < VDEV_NVQS; vq++) {
		struct gvq *q = &n->q[vq];

		gvq_reset(q, n->cfg.event_idx, n->cfg.in_order, n->base[vq]);
		q->kick = n->kick[vq];
		q->call = n->call[vq];
		ASSERT_ERRNO(0, set_num(n->fd, vq, n->cfg.num));
		ASSERT_ERRNO(0, set_base(n->fd, vq,
					 gvq_vring_base(q, n->base[vq])));
		ASSERT_ERRNO(0, set_addr(n->fd, vq, 0, q->ring_gpa[0],
					 q->ring_gpa[1], q->ring_gpa[2], 0));
		ASSERT_ERRNO(0, vdev_set_files(&(struct vdev){ .fd = n->fd }, vq,
					       n->kick[vq], n->call[vq],
					       n->err[vq]));
		eventfd_take(n->call[vq]);
		eventfd_take(n->err[vq]);
	}
}

/* The tap as the backend of both queues. */
static void iotlb_start(struct __test_metadata *_metadata, struct nctx *n)
{
	int vq;

	for (vq = 0; vq < VDEV_NVQS; vq++)
		ASSERT_EQ(0, net_set_backend(n->fd, vq, n->tap[0].fd))
			TH_LOG("VHOST_NET_SET_BACKEND of vq %d", vq);
	net_flush(n);
}

/* Map every ring of both queues, each as one translation. */
static int map_rings(struct nctx *n, uint8_t perm)
{
	int vq, k, r;

	for (vq = 0; vq < VDEV_NVQS; vq++)
		for (k = 0; k < 3; k++) {
			r = tlb_map_gm(n, n->q[vq].ring_gpa[k],
				       ring_size(&n->q[vq], k), perm);
			if (r)
				return r;
		}
	return 0;
}

/* Map [iova, iova + len) in 4 KiB pages; returns how many translations. */
static int map_pages_of(struct nctx *n, uint64_t iova, uint64_t len,
			uint8_t perm)
{
	uint64_t end = iova + len, next;
	int count = 0;

	while (iova < end) {
		next = tlb_map_page(n, iova, perm);
		if (!next)
			return -1;
		iova = next;
		count++;
	}
	return count;
}

/*
 * Map the rings and buffers in 4 KiB pages (a page two of them share is
 * mapped twice, with the same translation); returns how many translations.
 */
static int map_pages(struct nctx *n, uint8_t perm)
{
	uint64_t r[4][2] = {
		{ n->tx_slots, (uint64_t)n->tx_nslots * n->tx_slot_size },
		{ n->tx_ind, 16ULL * TX_MAXSEG * n->tx_nslots },
		{ n->rx_slots, (uint64_t)n->rx_nslots * n->rx_slot_size },
		{ n->rx_ind, 16ULL * RX_MAXSEG * n->rx_nslots },
	};
	int vq, k, i, c, count = 0;

	for (vq = 0; vq < VDEV_NVQS; vq++)
		for (k = 0; k < 3; k++) {
			c = map_pages_of(n, n->q[vq].ring_gpa[k],
					 ring_size(&n->q[vq], k), perm);
			if (c < 0)
				return c;
			count += c;
		}
	for (i = 0; i < 4; i++) {
		c = map_pages_of(n, r[i][0], r[i][1], perm);
		if (c < 0)
			return c;
		count += c;
	}
	return count;
}

static uint16_t used_idx(struct nctx *n, int vq)
{
	return load16(&n->q[vq].used->idx);
}

/* ---- threads: a miss handler, and translations going away ---------------- */

/*
 * What QEMU's vIOMMU does with the misses: map the page (as far as the
 * guest memory region goes), read and write, whatever was asked.
 */
struct tlb_server {
	struct nctx *n;
	pthread_t th;
	bool running;
	bool stop;
	unsigned long misses, ro, wo;
	char err[256];
};

static void *tlb_server_fn(void *arg)
{
	struct tlb_server *s = arg;
	struct vhost_msg_v2 m;
	char b[200];
	int r;

	while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
		r = tlb_read(s->n->fd, &m, 20);
		if (r == 0)
			continue;
		if (r < 0) {
			snprintf(s->err, sizeof(s->err), "read: %s", strerror(-r));
			break;
		}
		if (m.iotlb.perm != VHOST_ACCESS_RO &&
		    m.iotlb.perm != VHOST_ACCESS_WO) {
			snprintf(s->err, sizeof(s->err), "miss %lu: bad permission: %s",
				 s->misses, miss_str(&m, b, sizeof(b)));
			break;
		}
		if (!miss_is(&m, m.iotlb.iova, m.iotlb.perm) ||
		    gm_region(&s->n->g, m.iotlb.iova) < 0) {
			snprintf(s->err, sizeof(s->err), "miss %lu: not a miss for guest memory: %s",
				 s->misses, miss_str(&m, b, sizeof(b)));
			break;
		}
		s->misses++;
		if (m.iotlb.perm == VHOST_ACCESS_RO)
			s->ro++;
		else
			s->wo++;
		if (!tlb_map_page(s->n, m.iotlb.iova, VHOST_ACCESS_RW)) {
			snprintf(s->err, sizeof(s->err), "UPDATE for %s failed",
				 miss_str(&m, b, sizeof(b)));
			break;
		}
	}
	return NULL;
}

static int tlb_server_start(struct tlb_server *s, struct nctx *n)
{
	memset(s, 0, sizeof(*s));
	s->n = n;
	if (pthread_create(&s->th, NULL, tlb_server_fn, s))
		return -1;
	s->running = true;
	return 0;
}

static void tlb_server_stop(struct tlb_server *s)
{
	if (!s->running)
		return;
	__atomic_store_n(&s->stop, true, __ATOMIC_RELEASE);
	pthread_join(s->th, NULL);
	s->running = false;
}

/*
 * Invalidations at random times (every 1 to 3 ms): a few pages of what the
 * guest allocated, now and then everything.
 */
struct tlb_churn {
	struct nctx *n;
	pthread_t th;
	bool running;
	bool stop;
	unsigned long count, all;
	char err[128];
};

static void *tlb_churn_fn(void *arg)
{
	struct tlb_churn *c = arg;
	uint64_t lo = GM_GPA_BASE, pages = (c->n->g.next - lo) / PG + 1;
	unsigned int i = 0, h;
	int r;

	while (!__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE)) {
		h = seq_hash(i++ + 4242);
		usleep(1000 + h % 2000);
		h >>= 11;
		if (h % 20 == 0) {
			r = iotlb_unmap(c->n->fd, 0, ~0ULL);
			c->all++;
		} else {
			r = iotlb_unmap(c->n->fd, lo + (h >> 5) % pages * PG,
					   (1 + h % 8) * PG);
		}
		if (r) {
			snprintf(c->err, sizeof(c->err), "INVALIDATE: %s",
				 strerror(-r));
			break;
		}
		c->count++;
	}
	return NULL;
}

static int tlb_churn_start(struct tlb_churn *c, struct nctx *n)
{
	memset(c, 0, sizeof(*c));
	c->n = n;
	if (pthread_create(&c->th, NULL, tlb_churn_fn, c))
		return -1;
	c->running = true;
	return 0;
}

static void tlb_churn_stop(struct tlb_churn *c)
{
	if (!c->running)
		return;
	__atomic_store_n(&c->stop, true, __ATOMIC_RELEASE);
	pthread_join(c->th, NULL);
	c->running = false;
}

/* ---- frames ------------------------------------------------------------------ */

/* 60 bytes to 64 KiB, around the 2 KiB receive buffer and 4 KiB pages. */
static const struct fsize sizes[] = {
	{ F_PLAIN, 64 }, { F_PLAIN, 60 }, { F_TCP, 65 }, { F_PLAIN, 1514 },
	{ F_CSUM, 1514 }, { F_PLAIN, 2036 }, { F_PLAIN, 2037 },
	{ F_GSO, 3000 }, { F_PLAIN, 4084 }, { F_PLAIN, 4096 },
	{ F_PLAIN, 4097 }, { F_CSUM, 9014 }, { F_GSO, 20000 },
	{ F_PLAIN, 32768 }, { F_GSO, 64054 }, { F_PLAIN, 65535 },
	{ F_PLAIN, FRAME_MAX },
};

#define NSIZES	ARRAY_SIZE(sizes)

/* As net_traffic's: no offloads to the guest without a vnet header. */
static void gen_tx_sizes(struct nctx *n, unsigned int seq, uint32_t *len,
			 enum fkind *k)
{
	gen_table(sizes, NSIZES, n, seq, len, k, false);
}

static void gen_rx_sizes(struct nctx *n, unsigned int seq, uint32_t *len,
			 enum fkind *k)
{
	gen_table(sizes, NSIZES, n, seq, len, k, true);
}

/* Mostly small frames, some of 9 KiB, TSO up to 20 KB. */
static void gen_tx_bulk(struct nctx *n, unsigned int seq, uint32_t *len,
			enum fkind *k)
{
	gen_mixed(n, seq, 77, 23, len, k, false);
}

static void gen_rx_bulk(struct nctx *n, unsigned int seq, uint32_t *len,
			enum fkind *k)
{
	gen_mixed(n, seq, 77, 23, len, k, true);
}

#define BULK_MAX	(20000 + 32)

/* ---- iotlb_traffic: frame sequences ---------------------------------------- */

FIXTURE(iotlb_traffic) {
	struct nctx n;
	struct tlb_server srv;
	struct tlb_churn churn;
};

FIXTURE_VARIANT(iotlb_traffic) {
	struct ncfg c;
};

#define IT_VARIANT(name, ...)						\
	FIXTURE_VARIANT_ADD(iotlb_traffic, name) { .c = { __VA_ARGS__ } }

/* what QEMU acks for a Linux guest, without in-order */
IT_VARIANT(split, .v1 = true, .mrg = true, .indirect = true,
	   .event_idx = true, .num = 256);
/* vhost's own 10-byte header, big receive buffers, no event index */
IT_VARIANT(vhdr, .vhost_hdr = true, .num = 256);
IT_VARIANT(in_order, .v1 = true, .mrg = true, .in_order = true,
	   .event_idx = true, .num = 256);
/* busy polling: each queue's handler looks at the other queue too */
IT_VARIANT(busy_poll, .v1 = true, .mrg = true, .event_idx = true,
	   .busyloop = 50, .num = 256);
/* a limited send buffer: TX sends frame by frame, no batching */
IT_VARIANT(sndbuf, .v1 = true, .mrg = true, .sndbuf = 1 << 22, .num = 256);
/* rvhost only: the C driver does not offer VIRTIO_F_RING_PACKED */
IT_VARIANT(packed, .v1 = true, .mrg = true, .indirect = true,
	   .event_idx = true, .packed = true, .num = 256);

FIXTURE_SETUP(iotlb_traffic)
{
	iotlb_open(_metadata, &self->n, &variant->c);
}

FIXTURE_TEARDOWN(iotlb_traffic)
{
	tlb_churn_stop(&self->churn);
	tlb_server_stop(&self->srv);
	nctx_free(&self->n);
}

static unsigned int min_u(unsigned int a, unsigned int b)
{
	return a < b ? a : b;
}

/* TX then RX of a sequence, every frame checked, no error signalled. */
static void both_ways(struct __test_metadata *_metadata, struct nctx *n,
		      unsigned int count, unsigned int depth, frame_gen txg,
		      frame_gen rxg, bool fill)
{
	struct txspec tx = { .count = count, .depth = depth, .gen = txg,
			     .tap = 0 };
	struct rxspec rx = { .count = count, .window = 16, .gen = rxg };
	char why[512];

	ASSERT_EQ(0, tx_run(n, &tx, why, sizeof(why))) TH_LOG("%s", why);
	if (fill)
		ASSERT_LT(0, rx_fill(n));
	ASSERT_EQ(0, rx_run(n, &rx, why, sizeof(why))) TH_LOG("%s", why);
	ASSERT_EQ(0, eventfd_take(n->err[VQ_TX])) TH_LOG("TX error eventfd");
	ASSERT_EQ(0, eventfd_take(n->err[VQ_RX])) TH_LOG("RX error eventfd");
}

/* Everything mapped beforehand, one translation per region: no miss. */
TEST_F_TIMEOUT(iotlb_traffic, premapped, 90)
{
	struct nctx *n = &self->n;
	unsigned int depth = min_u(n->cfg.num, 8);

	ASSERT_TRUE(net_tx_slots(n, depth, FRAME_MAX + n->hlen));
	ASSERT_TRUE(net_rx_slots(n));
	iotlb_configure(_metadata, n);
	ASSERT_EQ(0, gm_iotlb_map(&n->g, n->fd, VHOST_ACCESS_RW));
	iotlb_start(_metadata, n);
	EXPECT_NO_MISS(n);
	both_ways(_metadata, n, NSIZES, depth, gen_tx_sizes, gen_rx_sizes, true);
	net_flush(n);
	EXPECT_NO_MISS(n);
	net_stop_check_base(_metadata, n);
}

/*
 * Everything mapped beforehand in 4 KiB pages: a 64 KiB frame takes 17
 * translations or more, rings fall across two (and are not cached as one).
 */
TEST_F_TIMEOUT(iotlb_traffic, premapped_pages, 90)
{
	struct nctx *n = &self->n;
	unsigned int depth = min_u(n->cfg.num, 8);
	int pages;

	ASSERT_TRUE(net_tx_slots(n, depth, FRAME_MAX + n->hlen));
	ASSERT_TRUE(net_rx_slots(n));
	iotlb_configure(_metadata, n);
	pages = map_pages(n, VHOST_ACCESS_RW);
	ASSERT_LT(0, pages);
	ASSERT_GT(TLB_MAX_ENTRIES, pages);
	iotlb_start(_metadata, n);
	EXPECT_NO_MISS(n);
	both_ways(_metadata, n, NSIZES, depth, gen_tx_sizes, gen_rx_sizes, true);
	net_flush(n);
	EXPECT_NO_MISS(n);
	net_stop_check_base(_metadata, n);
}

/*
 * Only the rings are mapped: every buffer page misses the first time, and
 * a thread answers each miss with its page; both ways resume on the
 * answers alone.
 */
TEST_F_TIMEOUT(iotlb_traffic, misses_answered, 120)
{
	struct nctx *n = &self->n;
	unsigned int depth = min_u(n->cfg.num, 8);

	ASSERT_TRUE(net_tx_slots(n, depth, FRAME_MAX + n->hlen));
	ASSERT_TRUE(net_rx_slots(n));
	iotlb_configure(_metadata, n);
	ASSERT_EQ(0, map_rings(n, VHOST_ACCESS_RW));
	ASSERT_EQ(0, tlb_server_start(&self->srv, n));
	iotlb_start(_metadata, n);
	both_ways(_metadata, n, NSIZES, depth, gen_tx_sizes, gen_rx_sizes, true);
	net_flush(n);
	tlb_server_stop(&self->srv);
	ASSERT_EQ(0, self->srv.err[0]) TH_LOG("miss handler: %s", self->srv.err);
	/* TX buffers are read, RX buffers written */
	ASSERT_LT(0, self->srv.ro);
	ASSERT_LT(0, self->srv.wo);
	EXPECT_NO_MISS(n);
	if (getenv("RVHOST_VERBOSE"))
		printf("# %lu misses (%lu read, %lu write)\n", self->srv.misses,
		       self->srv.ro, self->srv.wo);
	net_stop_check_base(_metadata, n);
}

/*
 * Translations (buffers' and rings') invalidated all along while frames
 * flow both ways; the misses that follow are answered as they come: every
 * frame arrives intact, nothing is signalled as an error.
 */
TEST_F_TIMEOUT(iotlb_traffic, invalidate_under_traffic, 150)
{
	struct nctx *n = &self->n;
	unsigned int depth = min_u(n->cfg.num, 32), count = 300;

	ASSERT_TRUE(net_tx_slots(n, depth, BULK_MAX));
	ASSERT_TRUE(net_rx_slots(n));
	iotlb_configure(_metadata, n);
	ASSERT_EQ(0, map_rings(n, VHOST_ACCESS_RW));
	ASSERT_EQ(0, tlb_server_start(&self->srv, n));
	iotlb_start(_metadata, n);
	ASSERT_EQ(0, tlb_churn_start(&self->churn, n));
	both_ways(_metadata, n, count, depth, gen_tx_bulk, gen_rx_bulk, true);
	tlb_churn_stop(&self->churn);
	net_flush(n);
	tlb_server_stop(&self->srv);
	ASSERT_EQ(0, self->churn.err[0]) TH_LOG("%s", self->churn.err);
	ASSERT_EQ(0, self->srv.err[0]) TH_LOG("miss handler: %s", self->srv.err);
	ASSERT_LT(0, self->churn.count);
	ASSERT_LT(0, self->srv.misses);
	if (getenv("RVHOST_VERBOSE"))
		printf("# %lu invalidations (%lu of everything), %lu misses\n",
		       self->churn.count, self->churn.all, self->srv.misses);
	EXPECT_NO_MISS(n);
	/* everything mapped again: the queues still work */
	ASSERT_EQ(0, gm_iotlb_map(&n->g, n->fd, VHOST_ACCESS_RW));
	/* the RX buffers are still posted */
	both_ways(_metadata, n, 20, depth, gen_tx_bulk, gen_rx_bulk, false);
	EXPECT_NO_MISS(n);
	net_stop_check_base(_metadata, n);
}

/* ---- iotlb_miss: one step at a time ------------------------------------------ */

FIXTURE(iotlb_miss) {
	struct nctx n;
	void *other;		/* memory of ours the guest's is remapped to */
};

FIXTURE_VARIANT(iotlb_miss) {
	struct ncfg c;
};

FIXTURE_VARIANT_ADD(iotlb_miss, v1_mrg) {
	.c = { .v1 = true, .mrg = true, .indirect = true, .num = 256 },
};

FIXTURE_VARIANT_ADD(iotlb_miss, vhdr) {
	.c = { .vhost_hdr = true, .indirect = true, .num = 256 },
};

#define OTHER_SIZE	0x20000UL

FIXTURE_SETUP(iotlb_miss)
{
	self->other = MAP_FAILED;
	if (!iotlb_open(_metadata, &self->n, &variant->c))
		return;
	self->other = mmap(NULL, OTHER_SIZE, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->other);
	ASSERT_TRUE(net_tx_slots(&self->n, 4, 256));
	ASSERT_TRUE(net_rx_slots(&self->n));
}

FIXTURE_TEARDOWN(iotlb_miss)
{
	nctx_free(&self->n);
	if (self->other != MAP_FAILED)
		munmap(self->other, OTHER_SIZE);
}

/* Post a one-descriptor buffer; publish and kick, whatever the device asked. */
static int post_kick(struct nctx *n, int vq, uint64_t iova, uint32_t len,
		     uint32_t cookie)
{
	struct gseg sg = { iova, len };
	struct gvq *q = &n->q[vq];
	int head = vq == VQ_TX ? gvq_add(q, &sg, 1, 0, 0, cookie) :
				 gvq_add(q, &sg, 0, 1, 0, cookie);

	if (head < 0)
		return head;
	gvq_publish(q);
	eventfd_kick(q->kick);
	return head;
}

/* Frame seq of gen_small, with its header, in TX slot s; its size. */
static uint32_t tx_frame(struct nctx *n, unsigned int seq, unsigned int s)
{
	unsigned char buf[256];

	return tx_fill(n, gen_small, seq, s, buf);
}

/* Wait for one used buffer of vq; its length, or -1. */
static int64_t wait_used(struct nctx *n, int vq)
{
	uint32_t cookie, len;

	if (gvq_poll_used(&n->q[vq], 1, TIMEOUT_MS, &cookie, &len) != 1)
		return -1;
	return len;
}

/* Post RX slot s (poisoned) as one writable descriptor, kick, and flush. */
static int rx_post_kick(struct nctx *n, unsigned int s)
{
	int r;

	gm_fill(&n->g, rx_slot(n, s), RX_POISON, n->rx_slot_size);
	r = post_kick(n, VQ_RX, rx_slot(n, s), n->rx_slot_size, s);
	/*
	 * The kick's handler is over before a frame comes: else it could run
	 * after the frame's, and miss a second time.
	 */
	net_flush(n);
	return r;
}

static bool rx_slot_poisoned(struct nctx *n, unsigned int s)
{
	unsigned char *b = malloc(n->rx_slot_size);
	uint32_t i;
	bool ok = b != NULL;

	if (b)
		gm_read(&n->g, rx_slot(n, s), b, n->rx_slot_size);
	for (i = 0; ok && i < n->rx_slot_size; i++)
		ok = b[i] == RX_POISON;
	free(b);
	return ok;
}

/* Send frame seq of gen_small to the guest. */
static int rx_inject(struct nctx *n, unsigned int seq)
{
	unsigned char buf[256];

	return rx_send(n, gen_small, seq, 0, buf);
}

/* Received frame seq of gen_small in RX slot s, used with length len. */
static void rx_check_slot(struct __test_metadata *_metadata, struct nctx *n,
			  unsigned int seq, unsigned int s, int64_t len)
{
	unsigned char *got = malloc(FRAME_MAX + 128);
	unsigned char *want = malloc(FRAME_MAX + 128);
	struct rxpkt p = { .nb = 1, .slot = { s }, .len = { (uint32_t)len } };
	char why[512];
	int r;

	ASSERT_NE(NULL, got);
	ASSERT_NE(NULL, want);
	ASSERT_LE(0, len) TH_LOG("RX frame %u not delivered", seq);
	r = rx_check(n, gen_small, seq, &p, got, want, why, sizeof(why));
	free(got);
	free(want);
	ASSERT_EQ(0, r) TH_LOG("%s", why);
}

static void expect_tap_frame(struct __test_metadata *_metadata, struct nctx *n,
			     unsigned int seq)
{
	char why[512];

	ASSERT_EQ(0, tap_expect(n, 0, gen_small, seq, 1, why, sizeof(why)))
		TH_LOG("%s", why);
}

/* Nothing happened on vq since: no used entry, no frame, no message. */
static void expect_stalled(struct __test_metadata *_metadata, struct nctx *n,
			   int vq, uint16_t used_before)
{
	net_flush(n);
	ASSERT_EQ(used_before, used_idx(n, vq)) TH_LOG("vq %d used a buffer", vq);
	if (vq == VQ_TX)
		ASSERT_FALSE(tap_has_frame(n, 0, 0)) TH_LOG("a frame reached the tap");
	EXPECT_NO_MISS(n);
}

static void miss_setup(struct __test_metadata *_metadata, struct nctx *n)
{
	iotlb_configure(_metadata, n);
	ASSERT_EQ(0, map_rings(n, VHOST_ACCESS_RW));
	iotlb_start(_metadata, n);
	EXPECT_NO_MISS(n);
}

/*
 * A TX buffer not mapped: one miss for its address, asking for read
 * access; the frame waits. The answer alone (no kick) sends it.
 */
TEST_F(iotlb_miss, tx_buffer)
{
	struct nctx *n = &self->n;
	uint32_t len = tx_frame(n, 0, 0);
	uint16_t used;

	miss_setup(_metadata, n);
	used = used_idx(n, VQ_TX);
	ASSERT_LE(0, post_kick(n, VQ_TX, tx_slot(n, 0), len, 0));
	EXPECT_MISS(n, tx_slot(n, 0), VHOST_ACCESS_RO);
	expect_stalled(_metadata, n, VQ_TX, used);
	ASSERT_EQ(0, eventfd_take(n->err[VQ_TX]));
	ASSERT_EQ(0, tlb_map_gm(n, tx_slot(n, 0), len, VHOST_ACCESS_RO));
	ASSERT_EQ(0, wait_used(n, VQ_TX));
	expect_tap_frame(_metadata, n, 0);
	net_flush(n);
	EXPECT_NO_MISS(n);
	ASSERT_EQ(0, eventfd_take(n->err[VQ_TX]));
}

/* Mapped in part: the miss is for the first byte not mapped. */
TEST_F(iotlb_miss, tx_buffer_in_part)
{
	struct nctx *n = &self->n;
	uint32_t len = tx_frame(n, 0, 1);
	uint64_t iova = tx_slot(n, 1);

	miss_setup(_metadata, n);
	ASSERT_EQ(0, tlb_map_gm(n, iova, 24, VHOST_ACCESS_RO));
	ASSERT_EQ(0, tlb_map_gm(n, iova + 24, 8, VHOST_ACCESS_RW));
	ASSERT_LE(0, post_kick(n, VQ_TX, iova, len, 1));
	EXPECT_MISS(n, iova + 32, VHOST_ACCESS_RO);
	expect_stalled(_metadata, n, VQ_TX, 0);
	/* a translation short of the miss's address resumes nothing */
	ASSERT_EQ(0, tlb_map_gm(n, iova + 40, len - 40, VHOST_ACCESS_RO));
	expect_stalled(_metadata, n, VQ_TX, 0);
	ASSERT_EQ(0, tlb_map_gm(n, iova + 32, 8, VHOST_ACCESS_RO));
	ASSERT_EQ(0, wait_used(n, VQ_TX));
	expect_tap_frame(_metadata, n, 0);
	net_flush(n);
	EXPECT_NO_MISS(n);
}

/*
 * An RX buffer not mapped: the frame reaching the tap makes one miss for
 * its address, asking for write access; the buffer stays as it was. The
 * answer delivers the frame.
 */
TEST_F(iotlb_miss, rx_buffer)
{
	struct nctx *n = &self->n;
	uint64_t iova = rx_slot(n, 0);

	miss_setup(_metadata, n);
	ASSERT_LE(0, rx_post_kick(n, 0));
	net_flush(n);
	EXPECT_NO_MISS(n);
	ASSERT_EQ(0, rx_inject(n, 0));
	EXPECT_MISS(n, iova, VHOST_ACCESS_WO);
	expect_stalled(_metadata, n, VQ_RX, 0);
	ASSERT_TRUE(rx_slot_poisoned(n, 0));
	ASSERT_EQ(0, eventfd_take(n->err[VQ_RX]));
	ASSERT_EQ(0, tlb_map_gm(n, iova, n->rx_slot_size, VHOST_ACCESS_WO));
	rx_check_slot(_metadata, n, 0, 0, wait_used(n, VQ_RX));
	net_flush(n);
	EXPECT_NO_MISS(n);
	ASSERT_EQ(0, eventfd_take(n->err[VQ_RX]));
}

TEST_F(iotlb_miss, rx_buffer_in_part)
{
	struct nctx *n = &self->n;
	uint64_t iova = rx_slot(n, 1);

	miss_setup(_metadata, n);
	ASSERT_EQ(0, tlb_map_gm(n, iova, 6, VHOST_ACCESS_WO));
	ASSERT_LE(0, rx_post_kick(n, 1));
	ASSERT_EQ(0, rx_inject(n, 0));
	EXPECT_MISS(n, iova + 6, VHOST_ACCESS_WO);
	expect_stalled(_metadata, n, VQ_RX, 0);
	ASSERT_TRUE(rx_slot_poisoned(n, 1));
	ASSERT_EQ(0, tlb_map_gm(n, iova + 6, n->rx_slot_size - 6,
				VHOST_ACCESS_RW));
	rx_check_slot(_metadata, n, 0, 1, wait_used(n, VQ_RX));
	net_flush(n);
	EXPECT_NO_MISS(n);
}

/*
 * No ring mapped but the used rings (starting a queue writes its used
 * flags): starting TX runs its handler, which misses the descriptor table,
 * then, answered, the avail ring; RX misses the same way on a kick. Then
 * frames flow with no more misses.
 */
TEST_F(iotlb_miss, rings_at_start)
{
	struct nctx *n = &self->n;
	struct gvq *tx = &n->q[VQ_TX], *rx = &n->q[VQ_RX];
	uint32_t len = tx_frame(n, 0, 0);

	iotlb_configure(_metadata, n);
	ASSERT_EQ(0, tlb_map_gm(n, tx->ring_gpa[2], ring_size(tx, 2),
				VHOST_ACCESS_RW));
	ASSERT_EQ(0, tlb_map_gm(n, rx->ring_gpa[2], ring_size(rx, 2),
				VHOST_ACCESS_RW));
	ASSERT_EQ(0, tlb_map_gm(n, tx_slot(n, 0), len, VHOST_ACCESS_RO));
	ASSERT_EQ(0, tlb_map_gm(n, rx_slot(n, 0), n->rx_slot_size,
				VHOST_ACCESS_WO));
	iotlb_start(_metadata, n);
	EXPECT_MISS(n, tx->ring_gpa[0], VHOST_ACCESS_RO);
	EXPECT_NO_MISS(n);
	ASSERT_EQ(0, tlb_map_gm(n, tx->ring_gpa[0], ring_size(tx, 0),
				VHOST_ACCESS_RO));
	EXPECT_MISS(n, tx->ring_gpa[1], VHOST_ACCESS_RO);
	ASSERT_EQ(0, tlb_map_gm(n, tx->ring_gpa[1], ring_size(tx, 1),
				VHOST_ACCESS_RO));
	net_flush(n);
	EXPECT_NO_MISS(n);
	ASSERT_LE(0, post_kick(n, VQ_TX, tx_slot(n, 0), len, 0));
	ASSERT_EQ(0, wait_used(n, VQ_TX));
	expect_tap_frame(_metadata, n, 0);
	/* RX */
	eventfd_kick(rx->kick);
	EXPECT_MISS(n, rx->ring_gpa[0], VHOST_ACCESS_RO);
	ASSERT_EQ(0, tlb_map_gm(n, rx->ring_gpa[0], ring_size(rx, 0),
				VHOST_ACCESS_RO));
	EXPECT_MISS(n, rx->ring_gpa[1], VHOST_ACCESS_RO);
	ASSERT_EQ(0, tlb_map_gm(n, rx->ring_gpa[1], ring_size(rx, 1),
				VHOST_ACCESS_RO));
	net_flush(n);
	EXPECT_NO_MISS(n);
	ASSERT_LE(0, rx_post_kick(n, 0));
	ASSERT_EQ(0, rx_inject(n, 5));
	rx_check_slot(_metadata, n, 5, 0, wait_used(n, VQ_RX));
	net_flush(n);
	EXPECT_NO_MISS(n);
	ASSERT_EQ(0, eventfd_take(n->err[VQ_TX]));
	ASSERT_EQ(0, eventfd_take(n->err[VQ_RX]));
}

/*
 * A TX buffer's translation invalidated after use: the same I/O virtual
 * address misses again, and the answer maps it to other memory, whose
 * frame is the one sent (the old memory holds another frame).
 */
TEST_F(iotlb_miss, tx_invalidate_remap)
{
	struct nctx *n = &self->n;
	uint64_t iova = tx_slot(n, 0);
	unsigned char buf[256];
	uint32_t len0, len1;

	miss_setup(_metadata, n);
	len0 = tx_frame(n, 0, 0);
	ASSERT_EQ(0, tlb_map_gm(n, iova, n->tx_slot_size, VHOST_ACCESS_RO));
	ASSERT_LE(0, post_kick(n, VQ_TX, iova, len0, 0));
	ASSERT_EQ(0, wait_used(n, VQ_TX));
	expect_tap_frame(_metadata, n, 0);
	ASSERT_EQ(0, iotlb_unmap(n->fd, iova, 1));
	/* frame 1 in the other memory, frame 2 where the buffer was */
	len1 = tx_fill(n, gen_small, 1, 0, buf);
	memcpy(self->other, buf, len1);
	tx_frame(n, 2, 0);
	ASSERT_LE(0, post_kick(n, VQ_TX, iova, len1, 0));
	EXPECT_MISS(n, iova, VHOST_ACCESS_RO);
	expect_stalled(_metadata, n, VQ_TX, 1);
	ASSERT_EQ(0, iotlb_map(n->fd, iova, len1, self->other,
				VHOST_ACCESS_RO));
	ASSERT_EQ(0, wait_used(n, VQ_TX));
	expect_tap_frame(_metadata, n, 1);
	net_flush(n);
	EXPECT_NO_MISS(n);
	ASSERT_EQ(0, eventfd_take(n->err[VQ_TX]));
}

/* The same for an RX buffer: the frame lands in the new memory only. */
TEST_F(iotlb_miss, rx_invalidate_remap)
{
	struct nctx *n = &self->n;
	uint64_t iova = rx_slot(n, 0);
	unsigned char want[256], eh[32];
	unsigned char *o = self->other;
	uint32_t flen;
	enum fkind k;
	int64_t len;

	miss_setup(_metadata, n);
	ASSERT_EQ(0, tlb_map_gm(n, iova, n->rx_slot_size, VHOST_ACCESS_WO));
	ASSERT_LE(0, rx_post_kick(n, 0));
	ASSERT_EQ(0, rx_inject(n, 0));
	rx_check_slot(_metadata, n, 0, 0, wait_used(n, VQ_RX));
	ASSERT_EQ(0, iotlb_unmap(n->fd, iova + n->rx_slot_size - 1, 1));
	memset(o, RX_POISON, n->rx_slot_size);
	ASSERT_LE(0, rx_post_kick(n, 0));
	ASSERT_EQ(0, rx_inject(n, 1));
	EXPECT_MISS(n, iova, VHOST_ACCESS_WO);
	expect_stalled(_metadata, n, VQ_RX, 1);
	ASSERT_EQ(0, iotlb_map(n->fd, iova, n->rx_slot_size, o,
				VHOST_ACCESS_WO));
	len = wait_used(n, VQ_RX);
	gen_small(n, 1, &flen, &k);
	ASSERT_EQ(n->hlen + flen, len);
	rx_expected_hdr(n, eh, flen, k, 1);
	ASSERT_EQ(0, memcmp(o, eh, n->hlen)) TH_LOG("header in the new memory");
	frame_build(want, flen, 1, k);
	ASSERT_EQ(0, memcmp(o + n->hlen, want, flen)) TH_LOG("frame in the new memory");
	ASSERT_EQ(RX_POISON, o[n->hlen + flen]);
	/* the old memory was left alone */
	ASSERT_TRUE(rx_slot_poisoned(n, 0));
	net_flush(n);
	EXPECT_NO_MISS(n);
	ASSERT_EQ(0, eventfd_take(n->err[VQ_RX]));
}

/*
 * The descriptor table's translation invalidated after use, and mapped
 * again elsewhere: a copy whose descriptor points at another buffer. The
 * device must read the table through the new translation (no cached
 * one), so the other buffer's frame is sent.
 */
TEST_F(iotlb_miss, desc_ring_invalidate_remap)
{
	struct nctx *n = &self->n;
	struct gvq *q = &n->q[VQ_TX];
	struct vring_desc *copy = self->other;
	uint32_t len0, len1, len2;
	unsigned char buf[256];
	struct gseg sg;
	int head;

	miss_setup(_metadata, n);
	ASSERT_EQ(0, tlb_map_gm(n, tx_slot(n, 0), 4 * n->tx_slot_size,
				VHOST_ACCESS_RO));
	len0 = tx_frame(n, 0, 0);
	ASSERT_LE(0, post_kick(n, VQ_TX, tx_slot(n, 0), len0, 0));
	ASSERT_EQ(0, wait_used(n, VQ_TX));
	expect_tap_frame(_metadata, n, 0);
	ASSERT_EQ(0, iotlb_unmap(n->fd, q->ring_gpa[0], 16));
	len1 = tx_fill(n, gen_small, 1, 1, buf);
	len2 = tx_fill(n, gen_small, 2, 2, buf);
	sg = (struct gseg){ tx_slot(n, 1), len1 };
	head = gvq_add(q, &sg, 1, 0, 0, 1);
	ASSERT_LE(0, head);
	memcpy(copy, q->desc, ring_size(q, 0));
	copy[head].addr = tx_slot(n, 2);
	copy[head].len = len2;
	gvq_publish(q);
	eventfd_kick(q->kick);
	EXPECT_MISS(n, q->ring_gpa[0], VHOST_ACCESS_RO);
	expect_stalled(_metadata, n, VQ_TX, 1);
	ASSERT_EQ(0, iotlb_map(n->fd, q->ring_gpa[0], ring_size(q, 0), copy,
				VHOST_ACCESS_RO));
	ASSERT_EQ(0, wait_used(n, VQ_TX));
	expect_tap_frame(_metadata, n, 2);
	net_flush(n);
	EXPECT_NO_MISS(n);
}

/*
 * A TX buffer mapped write-only: no miss (a translation exists), an
 * error (translate_desc() -EPERM), nothing used or sent. Mapped
 * read-only instead, a kick sends it.
 */
TEST_F(iotlb_miss, tx_buffer_write_only)
{
	struct nctx *n = &self->n;
	uint32_t len = tx_frame(n, 0, 0);
	uint64_t iova = tx_slot(n, 0);

	miss_setup(_metadata, n);
	ASSERT_EQ(0, tlb_map_gm(n, iova, len, VHOST_ACCESS_WO));
	ASSERT_LE(0, post_kick(n, VQ_TX, iova, len, 0));
	expect_stalled(_metadata, n, VQ_TX, 0);
	ASSERT_LE(1, eventfd_take(n->err[VQ_TX]));
	ASSERT_EQ(0, iotlb_unmap(n->fd, iova, len));
	ASSERT_EQ(0, tlb_map_gm(n, iova, len, VHOST_ACCESS_RO));
	expect_stalled(_metadata, n, VQ_TX, 0);
	eventfd_kick(n->kick[VQ_TX]);
	ASSERT_EQ(0, wait_used(n, VQ_TX));
	expect_tap_frame(_metadata, n, 0);
	net_flush(n);
	EXPECT_NO_MISS(n);
	ASSERT_EQ(0, eventfd_take(n->err[VQ_TX]));
}

/* An RX buffer mapped read-only: the same, with the frame kept for later. */
TEST_F(iotlb_miss, rx_buffer_read_only)
{
	struct nctx *n = &self->n;
	uint64_t iova = rx_slot(n, 0);

	miss_setup(_metadata, n);
	ASSERT_EQ(0, tlb_map_gm(n, iova, n->rx_slot_size, VHOST_ACCESS_RO));
	ASSERT_LE(0, rx_post_kick(n, 0));
	ASSERT_EQ(0, rx_inject(n, 0));
	ASSERT_TRUE(wait_readable(n->err[VQ_RX], TIMEOUT_MS))
		TH_LOG("no error signalled");
	ASSERT_LE(1, eventfd_take(n->err[VQ_RX]));
	expect_stalled(_metadata, n, VQ_RX, 0);
	ASSERT_TRUE(rx_slot_poisoned(n, 0));
	ASSERT_EQ(0, iotlb_unmap(n->fd, iova, 1));
	ASSERT_EQ(0, tlb_map_gm(n, iova, n->rx_slot_size, VHOST_ACCESS_WO));
	expect_stalled(_metadata, n, VQ_RX, 0);
	eventfd_kick(n->kick[VQ_RX]);
	rx_check_slot(_metadata, n, 0, 0, wait_used(n, VQ_RX));
	net_flush(n);
	EXPECT_NO_MISS(n);
	ASSERT_EQ(0, eventfd_take(n->err[VQ_RX]));
}

/*
 * The TX used ring mapped read-only: starting the queue works (its used
 * flags are written through a translation made for reading), but the
 * handler needs the used ring writable and stops at once: no miss, no
 * error, nothing used or sent. Mapped read-write, a kick sends the frame.
 */
TEST_F(iotlb_miss, used_ring_read_only)
{
	struct nctx *n = &self->n;
	struct gvq *q = &n->q[VQ_TX];
	uint32_t len = tx_frame(n, 0, 0);

	iotlb_configure(_metadata, n);
	ASSERT_EQ(0, map_rings(n, VHOST_ACCESS_RW));
	ASSERT_EQ(0, iotlb_unmap(n->fd, q->ring_gpa[2], 1));
	ASSERT_EQ(0, tlb_map_gm(n, q->ring_gpa[2], ring_size(q, 2),
				VHOST_ACCESS_RO));
	ASSERT_EQ(0, tlb_map_gm(n, tx_slot(n, 0), len, VHOST_ACCESS_RO));
	iotlb_start(_metadata, n);
	EXPECT_NO_MISS(n);
	ASSERT_LE(0, post_kick(n, VQ_TX, tx_slot(n, 0), len, 0));
	expect_stalled(_metadata, n, VQ_TX, 0);
	ASSERT_EQ(0, eventfd_take(n->err[VQ_TX]));
	ASSERT_EQ(0, iotlb_unmap(n->fd, q->ring_gpa[2], 1));
	ASSERT_EQ(0, tlb_map_gm(n, q->ring_gpa[2], ring_size(q, 2),
				VHOST_ACCESS_RW));
	eventfd_kick(n->kick[VQ_TX]);
	ASSERT_EQ(0, wait_used(n, VQ_TX));
	expect_tap_frame(_metadata, n, 0);
	net_flush(n);
	EXPECT_NO_MISS(n);
	ASSERT_EQ(0, eventfd_take(n->err[VQ_TX]));
}

/* The TX descriptor table mapped write-only: the same silent stop. */
TEST_F(iotlb_miss, desc_ring_write_only)
{
	struct nctx *n = &self->n;
	struct gvq *q = &n->q[VQ_TX];
	uint32_t len = tx_frame(n, 0, 0);

	iotlb_configure(_metadata, n);
	ASSERT_EQ(0, map_rings(n, VHOST_ACCESS_RW));
	ASSERT_EQ(0, iotlb_unmap(n->fd, q->ring_gpa[0], 1));
	ASSERT_EQ(0, tlb_map_gm(n, q->ring_gpa[0], ring_size(q, 0),
				VHOST_ACCESS_WO));
	ASSERT_EQ(0, tlb_map_gm(n, tx_slot(n, 0), len, VHOST_ACCESS_RO));
	iotlb_start(_metadata, n);
	EXPECT_NO_MISS(n);
	ASSERT_LE(0, post_kick(n, VQ_TX, tx_slot(n, 0), len, 0));
	expect_stalled(_metadata, n, VQ_TX, 0);
	ASSERT_EQ(0, eventfd_take(n->err[VQ_TX]));
	ASSERT_EQ(0, iotlb_unmap(n->fd, q->ring_gpa[0], 1));
	ASSERT_EQ(0, tlb_map_gm(n, q->ring_gpa[0], ring_size(q, 0),
				VHOST_ACCESS_RO));
	eventfd_kick(n->kick[VQ_TX]);
	ASSERT_EQ(0, wait_used(n, VQ_TX));
	expect_tap_frame(_metadata, n, 0);
	net_flush(n);
	EXPECT_NO_MISS(n);
	ASSERT_EQ(0, eventfd_take(n->err[VQ_TX]));
}

/*
 * Through an indirect table: the table misses first (read access, its
 * address), then, mapped, the buffer it points at.
 */
TEST_F(iotlb_miss, tx_indirect)
{
	struct nctx *n = &self->n;
	struct gvq *q = &n->q[VQ_TX];
	uint32_t len = tx_frame(n, 0, 0);
	uint64_t ind = tx_slot_ind(n, 0);
	struct gseg sg[2] = {
		{ tx_slot(n, 0), n->hlen },
		{ tx_slot(n, 0) + n->hlen, len - n->hlen },
	};

	miss_setup(_metadata, n);
	ASSERT_LE(0, gvq_add(q, sg, 2, 0, ind, 0));
	gvq_publish(q);
	eventfd_kick(q->kick);
	EXPECT_MISS(n, ind, VHOST_ACCESS_RO);
	expect_stalled(_metadata, n, VQ_TX, 0);
	ASSERT_EQ(0, tlb_map_gm(n, ind, 2 * 16, VHOST_ACCESS_RO));
	EXPECT_MISS(n, tx_slot(n, 0), VHOST_ACCESS_RO);
	expect_stalled(_metadata, n, VQ_TX, 0);
	ASSERT_EQ(0, tlb_map_gm(n, tx_slot(n, 0), len, VHOST_ACCESS_RO));
	ASSERT_EQ(0, wait_used(n, VQ_TX));
	expect_tap_frame(_metadata, n, 0);
	net_flush(n);
	EXPECT_NO_MISS(n);
	ASSERT_EQ(0, eventfd_take(n->err[VQ_TX]));
}

static void gen_3000(struct nctx *n, unsigned int seq, uint32_t *len,
		     enum fkind *k)
{
	*len = 3000;
	*k = F_PLAIN;
}

/*
 * A frame that takes two pieces of guest memory, the second not mapped:
 * with mergeable buffers, two 2 KiB buffers (the first, mapped, is put
 * back); without, one buffer in two descriptors. One miss, for the
 * second piece; the frame waits, and then arrives whole.
 */
TEST_F(iotlb_miss, rx_second_piece)
{
	struct nctx *n = &self->n;
	struct gvq *q = &n->q[VQ_RX];
	unsigned char *got = malloc(FRAME_MAX + 128);
	unsigned char *want = malloc(FRAME_MAX + 128);
	struct rxpkt p = { 0 };
	unsigned char buf[3100];
	uint64_t second;
	uint32_t cookie, len;
	char why[512];
	bool impl;
	int r;

	ASSERT_NE(NULL, got);
	ASSERT_NE(NULL, want);
	miss_setup(_metadata, n);
	gm_fill(&n->g, rx_slot(n, 0), RX_POISON, n->rx_slot_size);
	gm_fill(&n->g, rx_slot(n, 1), RX_POISON, n->rx_slot_size);
	if (n->cfg.mrg) {
		struct gseg a = { rx_slot(n, 0), n->rx_slot_size };
		struct gseg b = { rx_slot(n, 1), n->rx_slot_size };

		ASSERT_LE(0, gvq_add(q, &a, 0, 1, 0, 0));
		ASSERT_LE(0, gvq_add(q, &b, 0, 1, 0, 1));
		second = rx_slot(n, 1);
		ASSERT_EQ(0, tlb_map_gm(n, rx_slot(n, 0), n->rx_slot_size,
					VHOST_ACCESS_WO));
	} else {
		struct gseg ab[2] = {
			{ rx_slot(n, 0), n->hlen },
			{ rx_slot(n, 0) + n->hlen, n->rx_slot_size - n->hlen },
		};

		ASSERT_LE(0, gvq_add(q, ab, 0, 2, 0, 0));
		second = rx_slot(n, 0) + n->hlen;
		ASSERT_EQ(0, tlb_map_gm(n, rx_slot(n, 0), n->hlen,
					VHOST_ACCESS_WO));
	}
	gvq_publish(q);
	eventfd_kick(q->kick);
	net_flush(n);
	EXPECT_NO_MISS(n);
	ASSERT_EQ(0, rx_send(n, gen_3000, 0, 0, buf));
	EXPECT_MISS(n, second, VHOST_ACCESS_WO);
	expect_stalled(_metadata, n, VQ_RX, 0);
	ASSERT_TRUE(rx_slot_poisoned(n, 0));
	ASSERT_EQ(0, tlb_map_gm(n, second, n->cfg.mrg ? n->rx_slot_size :
				n->rx_slot_size - n->hlen, VHOST_ACCESS_WO));
	ASSERT_EQ(n->cfg.mrg ? 2 : 1,
		  gvq_poll_used(q, n->cfg.mrg ? 2 : 1, TIMEOUT_MS, p.slot, p.len));
	p.nb = n->cfg.mrg ? 2 : 1;
	/* gvq_poll_used gave cookies: the slots */
	r = rx_check(n, gen_3000, 0, &p, got, want, why, sizeof(why));
	free(got);
	free(want);
	ASSERT_EQ(0, r) TH_LOG("%s", why);
	ASSERT_EQ(0, gvq_get_used(q, &cookie, &len, &impl));
	net_flush(n);
	EXPECT_NO_MISS(n);
	ASSERT_EQ(0, eventfd_take(n->err[VQ_RX]));
}

/*
 * Two RX buffers, the second through an indirect table that is not
 * mapped. A frame fills the first. A device that reads chains ahead
 * (rvhost does) may ask for the table now: that miss is answered at once,
 * as QEMU would. Either way the second frame, with the table mapped, fills
 * the second buffer: a miss met reading ahead must not stay with the ring
 * and stall the queue when the chain is reached.
 */
TEST_F(iotlb_miss, rx_indirect_read_ahead)
{
	struct nctx *n = &self->n;
	struct gvq *q = &n->q[VQ_RX];
	uint64_t ind = tx_slot_ind(n, 3);	/* guest memory nobody else uses */
	struct gseg a = { rx_slot(n, 0), n->rx_slot_size };
	struct gseg b = { rx_slot(n, 1), n->rx_slot_size };
	struct vhost_msg_v2 m;
	char why[200];
	unsigned int s;
	int r;

	miss_setup(_metadata, n);
	for (s = 0; s < 2; s++) {
		gm_fill(&n->g, rx_slot(n, s), RX_POISON, n->rx_slot_size);
		ASSERT_EQ(0, tlb_map_gm(n, rx_slot(n, s), n->rx_slot_size,
					VHOST_ACCESS_WO));
	}
	ASSERT_LE(0, gvq_add(q, &a, 0, 1, 0, 0));
	ASSERT_LE(0, gvq_add(q, &b, 0, 1, ind, 1));
	gvq_publish(q);
	eventfd_kick(q->kick);
	net_flush(n);
	ASSERT_EQ(0, rx_inject(n, 0));
	rx_check_slot(_metadata, n, 0, 0, wait_used(n, VQ_RX));
	net_flush(n);
	r = tlb_read(n->fd, &m, 0);
	ASSERT_LE(0, r) TH_LOG("reading the device: %s", strerror(-r));
	if (r) {
		ASSERT_TRUE(miss_is(&m, ind, VHOST_ACCESS_RO))
			TH_LOG("got %s", miss_str(&m, why, sizeof(why)));
		ASSERT_EQ(0, tlb_map_gm(n, ind, 16, VHOST_ACCESS_RO));
		net_flush(n);
	}
	ASSERT_EQ(0, rx_inject(n, 1));
	if (!r) {
		EXPECT_MISS(n, ind, VHOST_ACCESS_RO);
		ASSERT_EQ(0, tlb_map_gm(n, ind, 16, VHOST_ACCESS_RO));
	}
	rx_check_slot(_metadata, n, 1, 1, wait_used(n, VQ_RX));
	net_flush(n);
	EXPECT_NO_MISS(n);
	ASSERT_EQ(0, eventfd_take(n->err[VQ_RX]));
}

/*
 * Two TX chains: the first's buffer not mapped yet, the second's indirect
 * table at an I/O address the guest never maps. The miss userspace hears
 * of first is the first chain's (C reaches the second only after it; a
 * device that reads ahead must not let the second's miss hide it), and
 * its answer sends the frame. Then the second chain's table is asked for.
 */
TEST_F(iotlb_miss, tx_read_ahead_miss_not_first)
{
	struct nctx *n = &self->n;
	struct gvq *q = &n->q[VQ_TX];
	uint32_t len = tx_frame(n, 0, 0);
	uint64_t bogus = 1ULL << 42;
	struct gseg a = { tx_slot(n, 0), len };
	struct gseg b[2] = {
		{ tx_slot(n, 1), n->hlen },
		{ tx_slot(n, 1) + n->hlen, 60 },
	};
	int h;

	miss_setup(_metadata, n);
	ASSERT_LE(0, gvq_add(q, &a, 1, 0, 0, 0));
	h = gvq_add(q, b, 2, 0, tx_slot_ind(n, 1), 1);
	ASSERT_LE(0, h);
	q->desc[h].addr = bogus;	/* split: the fixture's rings */
	gvq_publish(q);
	eventfd_kick(q->kick);
	EXPECT_MISS(n, tx_slot(n, 0), VHOST_ACCESS_RO);
	ASSERT_EQ(0, tlb_map_gm(n, tx_slot(n, 0), len, VHOST_ACCESS_RO));
	ASSERT_EQ(0, wait_used(n, VQ_TX));
	expect_tap_frame(_metadata, n, 0);
	EXPECT_MISS(n, bogus, VHOST_ACCESS_RO);
}

/*
 * RX busy polls the TX queue, whose driver area's translation went away
 * after both queues started. Reading TX's avail index misses: the device
 * asks for it, and (C's __vhost_get_user_slow() and vhost_get_avail_idx())
 * signals TX's error eventfd too. C asks again on every spin iteration:
 * the messages are only drained.
 */
TEST_F(iotlb_miss, busy_poll_other_ring_miss)
{
	struct nctx *n = &self->n;
	struct gvq *tq = &n->q[VQ_TX];
	struct vhost_vring_state s = { VQ_RX, 50000 };
	uint64_t avail = tq->ring_gpa[1], size = ring_size(tq, 1);
	struct vhost_msg_v2 m;
	bool asked = false;
	char why[200];
	int r;

	miss_setup(_metadata, n);
	ASSERT_EQ(0, tlb_map_gm(n, rx_slot(n, 0), n->rx_slot_size,
				VHOST_ACCESS_WO));
	IOCTL_OK(n->fd, VHOST_SET_VRING_BUSYLOOP_TIMEOUT, &s);
	ASSERT_LE(0, rx_post_kick(n, 0));
	ASSERT_EQ(0, iotlb_unmap(n->fd, avail, size));
	net_flush(n);
	ASSERT_EQ(0, eventfd_take(n->err[VQ_TX]));
	ASSERT_EQ(0, rx_inject(n, 0));
	rx_check_slot(_metadata, n, 0, 0, wait_used(n, VQ_RX));
	net_flush(n);
	while ((r = tlb_read(n->fd, &m, asked ? 0 : TIMEOUT_MS)) == 1) {
		ASSERT_TRUE(m.iotlb.type == VHOST_IOTLB_MISS &&
			    m.iotlb.iova >= avail && m.iotlb.iova < avail + size &&
			    m.iotlb.perm == VHOST_ACCESS_RO)
			TH_LOG("got %s; expected misses in TX's driver area",
			       miss_str(&m, why, sizeof(why)));
		asked = true;
	}
	ASSERT_LE(0, r);
	ASSERT_TRUE(asked) TH_LOG("no miss for TX's driver area");
	ASSERT_LT(0, eventfd_take(n->err[VQ_TX]))
		TH_LOG("TX's error eventfd not signalled");
	ASSERT_EQ(0, eventfd_take(n->err[VQ_RX]));
}

/*
 * A miss answered without the permission it asked for: the queue runs
 * again, finds the mapping wrong (an error, no second miss) and stops.
 */
TEST_F(iotlb_miss, tx_miss_answered_write_only)
{
	struct nctx *n = &self->n;
	uint32_t len = tx_frame(n, 0, 0);
	uint64_t iova = tx_slot(n, 0);

	miss_setup(_metadata, n);
	ASSERT_LE(0, post_kick(n, VQ_TX, iova, len, 0));
	EXPECT_MISS(n, iova, VHOST_ACCESS_RO);
	ASSERT_EQ(0, tlb_map_gm(n, iova, len, VHOST_ACCESS_WO));
	ASSERT_TRUE(wait_readable(n->err[VQ_TX], TIMEOUT_MS))
		TH_LOG("no error signalled");
	ASSERT_LE(1, eventfd_take(n->err[VQ_TX]));
	expect_stalled(_metadata, n, VQ_TX, 0);
	ASSERT_EQ(0, iotlb_unmap(n->fd, iova, len));
	ASSERT_EQ(0, tlb_map_gm(n, iova, len, VHOST_ACCESS_RO));
	eventfd_kick(n->kick[VQ_TX]);
	ASSERT_EQ(0, wait_used(n, VQ_TX));
	expect_tap_frame(_metadata, n, 0);
	net_flush(n);
	EXPECT_NO_MISS(n);
	ASSERT_EQ(0, eventfd_take(n->err[VQ_TX]));
}

/*
 * The used ring's translation gone while the queue runs: the handler
 * misses it, asking for write access.
 */
TEST_F(iotlb_miss, used_ring_miss)
{
	struct nctx *n = &self->n;
	struct gvq *q = &n->q[VQ_TX];
	uint32_t len = tx_frame(n, 0, 0);

	miss_setup(_metadata, n);
	ASSERT_EQ(0, tlb_map_gm(n, tx_slot(n, 0), len, VHOST_ACCESS_RO));
	ASSERT_EQ(0, iotlb_unmap(n->fd, q->ring_gpa[2], 1));
	ASSERT_LE(0, post_kick(n, VQ_TX, tx_slot(n, 0), len, 0));
	EXPECT_MISS(n, q->ring_gpa[2], VHOST_ACCESS_WO);
	expect_stalled(_metadata, n, VQ_TX, 0);
	ASSERT_EQ(0, tlb_map_gm(n, q->ring_gpa[2], ring_size(q, 2),
				VHOST_ACCESS_RW));
	ASSERT_EQ(0, wait_used(n, VQ_TX));
	expect_tap_frame(_metadata, n, 0);
	net_flush(n);
	EXPECT_NO_MISS(n);
	ASSERT_EQ(0, eventfd_take(n->err[VQ_TX]));
}

/*
 * The used ring mapped write-only (one translation) once the queue runs:
 * what the handler needs (vq_meta_prefetch() checks write access, and the
 * used ring is then written through that translation), so frames go.
 */
TEST_F(iotlb_miss, used_ring_write_only)
{
	struct nctx *n = &self->n;
	struct gvq *q = &n->q[VQ_TX];
	uint32_t len = tx_frame(n, 0, 0);

	miss_setup(_metadata, n);
	ASSERT_EQ(0, tlb_map_gm(n, tx_slot(n, 0), n->tx_slot_size,
				VHOST_ACCESS_RO));
	ASSERT_EQ(0, iotlb_unmap(n->fd, q->ring_gpa[2], 1));
	ASSERT_EQ(0, tlb_map_gm(n, q->ring_gpa[2], ring_size(q, 2),
				VHOST_ACCESS_WO));
	ASSERT_LE(0, post_kick(n, VQ_TX, tx_slot(n, 0), len, 0));
	ASSERT_EQ(0, wait_used(n, VQ_TX))
		TH_LOG("not used; error eventfd %lu, frame at the tap: %d",
		       (unsigned long)eventfd_take(n->err[VQ_TX]),
		       tap_has_frame(n, 0, 0));
	expect_tap_frame(_metadata, n, 0);
	len = tx_frame(n, 1, 0);
	ASSERT_LE(0, post_kick(n, VQ_TX, tx_slot(n, 0), len, 0));
	ASSERT_EQ(0, wait_used(n, VQ_TX));
	expect_tap_frame(_metadata, n, 1);
	net_flush(n);
	EXPECT_NO_MISS(n);
	ASSERT_EQ(0, eventfd_take(n->err[VQ_TX]));
}

/*
 * Only a miss userspace has read is waited for (vhost_chr_read_iter()
 * moves it to the pending list, which an update looks at): an update
 * written before the miss is read resumes nothing, and neither does
 * reading the miss afterwards; a kick does.
 */
TEST_F(iotlb_miss, update_before_read)
{
	struct nctx *n = &self->n;
	uint32_t len = tx_frame(n, 0, 0);
	uint64_t iova = tx_slot(n, 0);

	miss_setup(_metadata, n);
	ASSERT_LE(0, post_kick(n, VQ_TX, iova, len, 0));
	ASSERT_TRUE(wait_readable(n->fd, TIMEOUT_MS)) TH_LOG("no miss");
	ASSERT_EQ(0, tlb_map_gm(n, iova, len, VHOST_ACCESS_RO));
	net_flush(n);
	ASSERT_EQ(0, used_idx(n, VQ_TX)) TH_LOG("resumed by an update of a miss not read");
	ASSERT_FALSE(tap_has_frame(n, 0, 0));
	EXPECT_MISS(n, iova, VHOST_ACCESS_RO);
	net_flush(n);
	ASSERT_EQ(0, used_idx(n, VQ_TX)) TH_LOG("resumed by reading the miss");
	ASSERT_FALSE(tap_has_frame(n, 0, 0));
	eventfd_kick(n->kick[VQ_TX]);
	ASSERT_EQ(0, wait_used(n, VQ_TX));
	expect_tap_frame(_metadata, n, 0);
	net_flush(n);
	EXPECT_NO_MISS(n);
	ASSERT_EQ(0, eventfd_take(n->err[VQ_TX]));
}

static uint64_t elapsed_us(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000000ULL +
	       (t.tv_nsec - t0->tv_nsec) / 1000;
}

#define SPIN_US		4000000	/* the TX handler's busy poll */
#define SPIN_WAIT_US	500000	/* for the handler to be spinning */
#define FD_ANSWER_US	1000000	/* C: at once; a locked IOTLB: the spin */

/*
 * While a handler busy polls (an empty TX ring, a busyloop timeout of
 * 4 s), the device fd answers read() and poll() at once: C's handlers
 * hold their queue mutexes, not the lock of the IOTLB messages
 * (dev->iotlb_lock), which QEMU's main loop reaches through poll() with a
 * vIOMMU.
 */
TEST_F_TIMEOUT(iotlb_miss, fd_answers_during_busy_poll, 60)
{
	struct nctx *n = &self->n;
	struct vhost_vring_state s = { VQ_TX, SPIN_US };
	struct pollfd p = { .fd = n->fd, .events = POLLIN };
	struct vhost_msg_v2 m;
	struct timespec t0;
	uint64_t read_us, poll_us;
	ssize_t r;
	int e;

	miss_setup(_metadata, n);
	IOCTL_OK(n->fd, VHOST_SET_VRING_BUSYLOOP_TIMEOUT, &s);
	eventfd_kick(n->kick[VQ_TX]);
	usleep(SPIN_WAIT_US);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = read(n->fd, &m, sizeof(m));
	e = errno;
	read_us = elapsed_us(&t0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ASSERT_EQ(0, poll(&p, 1, 0));
	poll_us = elapsed_us(&t0);
	ASSERT_EQ(-1, r);
	ASSERT_EQ(EAGAIN, e);
	EXPECT_GT(FD_ANSWER_US, read_us)
		TH_LOG("read() took %llu ms", (unsigned long long)read_us / 1000);
	EXPECT_GT(FD_ANSWER_US, poll_us)
		TH_LOG("poll() took %llu ms", (unsigned long long)poll_us / 1000);
	s.num = 0;
	IOCTL_OK(n->fd, VHOST_SET_VRING_BUSYLOOP_TIMEOUT, &s);
	net_flush(n);
	EXPECT_NO_MISS(n);
	ASSERT_EQ(0, eventfd_take(n->err[VQ_TX]));
}

TEST_HARNESS_MAIN
