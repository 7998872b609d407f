// SPDX-License-Identifier: GPL-2.0
/*
 * What a real VMM client (QEMU) does to a running vhost-net device, seen by
 * a fake guest (net_guest.h) in QEMU's configuration (VERSION_1, MRG_RXBUF,
 * EVENT_IDX, INDIRECT_DESC, rings of 256):
 *
 * dirty_log_*: live migration. VHOST_SET_LOG_BASE, VHOST_F_LOG_ALL and
 *   VRING_F_LOG with the used ring's guest address, set as QEMU's
 *   vhost_dev_set_log() does while the device runs. The bitmap is checked
 *   page by page: every page the device wrote (the bytes of each RX buffer
 *   up to its used length, C's vhost_log_write(); the used ring entries and
 *   index, C's log_used() at log_guest_addr) has its bit, and no page the
 *   device did not write (TX buffers, which it only reads, descriptor
 *   tables, avail rings, the unused part of an RX buffer, unused memory).
 * mrg_rx_frame_waits_for_buffers: a frame bigger than the mergeable
 *   buffers posted stays in the socket, nothing taken or written, until the
 *   guest posts enough; then it arrives whole, and the next one after it.
 * mem_table_replaced_under_traffic: VHOST_SET_MEM_TABLE while frames flow
 *   both ways (QEMU's memory hotplug): the same memory split into more
 *   regions, a region added, the buffers moved into it, the region removed.
 * call_fd_*: VHOST_SET_VRING_CALL with another eventfd, or none, and back
 *   (QEMU's MSI-X mask and unmask): calls go to the new eventfd only.
 */
#include "net_test.h"

#define AP		BIT_ULL(VIRTIO_F_ACCESS_PLATFORM)

FIXTURE(net_client) {
	struct nctx n;
};

FIXTURE_VARIANT(net_client) {
	struct ncfg c;
};

/* QEMU's virtio-net-pci with vhost=on. */
FIXTURE_VARIANT_ADD(net_client, net) {
	.c = { .v1 = true, .mrg = true, .event_idx = true, .indirect = true,
	       .num = 256 },
};

FIXTURE_SETUP(net_client)
{
	net_open(_metadata, &self->n, &variant->c, 1);
}

FIXTURE_TEARDOWN(net_client)
{
	nctx_free(&self->n);
}

/*
 * The same client on a packed ring (rvhost only: skipped unless the device
 * offers VIRTIO_F_RING_PACKED, which C does not). The device writes used
 * descriptors into the descriptor ring, and the device area.
 */
FIXTURE(net_client_packed) {
	struct nctx n;
};

FIXTURE_SETUP(net_client_packed)
{
	static const struct ncfg c = {
		.v1 = true, .mrg = true, .event_idx = true, .indirect = true,
		.packed = true, .num = 256,
	};

	net_open(_metadata, &self->n, &c, 1);
}

FIXTURE_TEARDOWN(net_client_packed)
{
	nctx_free(&self->n);
}

/* ---- helpers ------------------------------------------------------------------ */

/* Plain and checksum-offload frames of 62 to 1514 bytes. */
static void gen_live(struct nctx *n, unsigned int seq, uint32_t *len,
		     enum fkind *k)
{
	unsigned int r = seq_hash(seq + 7000);

	*k = r % 3 ? F_PLAIN : F_CSUM;
	*len = FRAME_MIN_TCP + (r >> 4) % (1514 - FRAME_MIN_TCP + 1);
}

/* RX buffers of our own geometry: nslots of size bytes. */
static bool rx_slots_custom(struct nctx *n, unsigned int nslots, uint32_t size)
{
	n->rx_nslots = nslots;
	n->rx_slot_size = size;
	n->rx_slots = gm_alloc_across(&n->g, nslots, size);
	n->rx_ind = gm_alloc(&n->g, 16ULL * RX_MAXSEG * nslots, 16, false);
	return n->rx_slots && n->rx_ind;
}

/*
 * Wait (polling, up to timeout_ms) for the buffers of RX frame seq of gen
 * and check it; its buffers in *p. Returns 0 or -1 with why set.
 */
static int rx_take_frame(struct nctx *n, frame_gen gen, unsigned int seq,
			 struct rxpkt *p, int timeout_ms, char *why,
			 size_t whylen)
{
	struct gvq *q = &n->q[VQ_RX];
	unsigned char *got = malloc(FRAME_MAX + 128);
	unsigned char *want = malloc(FRAME_MAX + 128);
	uint32_t flen, cookie, len;
	unsigned int need;
	bool implicit;
	enum fkind k;
	int r, ret = -1;

	p->nb = 0;
	if (!got || !want) {
		snprintf(why, whylen, "out of memory");
		goto out;
	}
	gen(n, seq, &flen, &k);
	need = rx_need(n, flen);
	while (p->nb < need) {
		r = gvq_get_used(q, &cookie, &len, &implicit);
		if (r < 0) {
			snprintf(why, whylen, "RX used ring: %s", q->err);
			goto out;
		}
		if (!r) {
			if (timeout_ms-- <= 0) {
				snprintf(why, whylen, "RX frame %u (%u bytes, %u buffers) not delivered (%u of its buffers used, %u posted)",
					 seq, flen, need, p->nb, gvq_outstanding(q));
				goto out;
			}
			usleep(1000);
			continue;
		}
		p->slot[p->nb] = cookie;
		p->len[p->nb] = len;
		p->nb++;
	}
	ret = rx_check(n, gen, seq, p, got, want, why, whylen);
out:
	free(got);
	free(want);
	return ret;
}

/*
 * Take back every RX buffer posted: small frames fill one each (checked),
 * and they are not posted again. *seq numbers the frames.
 */
static int rx_drain(struct nctx *n, unsigned int *seq, char *why, size_t whylen)
{
	struct gvq *q = &n->q[VQ_RX];
	unsigned char buf[256];
	struct rxpkt p;
	unsigned int i, k;
	int r;

	while ((k = gvq_outstanding(q)) > 0) {
		if (k > 16)
			k = 16;
		for (i = 0; i < k; i++) {
			r = rx_send(n, gen_small, *seq + i, 0, buf);
			if (r) {
				snprintf(why, whylen, "sending frame %u: %s",
					 *seq + i, strerror(-r));
				return -1;
			}
		}
		for (i = 0; i < k; i++)
			if (rx_take_frame(n, gen_small, *seq + i, &p, TIMEOUT_MS,
					  why, whylen))
				return -1;
		*seq += k;
	}
	return 0;
}

/* TX frames are checked at the tap's observer, in order. */
static int runner_start(struct runner *r, struct nctx *n, bool is_rx,
			unsigned int count)
{
	memset(r, 0, sizeof(*r));
	r->n = n;
	r->is_rx = is_rx;
	r->tx = (struct txspec){
		.count = count, .depth = 32, .gen = gen_live, .tap = 0,
	};
	r->rx = (struct rxspec){ .count = count, .window = 32, .gen = gen_live };
	return runner_launch(r) ? -1 : 0;
}

static void runner_join(struct runner *r, bool stop)
{
	if (!r->started)
		return;
	if (stop)
		runner_stop(r);
	pthread_join(r->th, NULL);
	r->started = false;
}

/* Wait until both have moved some frames. */
static bool both_flowing(struct runner *tx, struct runner *rx)
{
	int i;

	for (i = 0; i < 1000; i++) {
		if (runner_done(tx) > 20 && runner_done(rx) > 20)
			return true;
		if (!runner_busy(tx) || !runner_busy(rx))
			return false;
		usleep(10000);
	}
	return false;
}

/* ---- dirty log ---------------------------------------------------------------- */

#define VPAGE	4096ULL		/* VHOST_PAGE_SIZE: one bit of the log */

struct dlog {
	unsigned char *bm;	/* the bitmap VHOST_SET_LOG_BASE points at */
	size_t len;		/* its bytes, all checked */
	uint64_t npages;	/* guest pages up to the end of guest memory */
	unsigned char *must;	/* pages the device wrote: bit set */
	unsigned char *may;	/* pages it may have written: else bit clear */
	int efd;		/* VHOST_SET_LOG_FD */
	/*
	 * With an IOTLB: the rings and buffers are at I/O virtual addresses
	 * (the guest's n->g.gpa), and guest memory is at shift above them.
	 */
	bool iotlb;
	uint64_t shift;
};

static bool dlog_init(struct dlog *l, const struct nctx *n, bool iotlb)
{
	memset(l, 0, sizeof(*l));
	l->iotlb = iotlb;
	/* far enough that no page is both an I/O and a guest address */
	l->shift = iotlb ? round_up64(gm_end(&n->g), 1 << 20) : 0;
	l->npages = (gm_end(&n->g) + l->shift) / VPAGE + 1;
	/* one more page than the memory needs: nothing may be set there */
	l->len = round_up64((l->npages + 7) / 8, VPAGE) + VPAGE;
	l->bm = mmap(NULL, l->len, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	l->must = calloc(l->npages, 1);
	l->may = calloc(l->npages, 1);
	l->efd = new_eventfd();
	return l->bm != MAP_FAILED && l->must && l->may && l->efd >= 0;
}

static void dlog_free(struct dlog *l)
{
	if (l->bm && l->bm != MAP_FAILED)
		munmap(l->bm, l->len);
	free(l->must);
	free(l->may);
	if (l->efd >= 0)
		close(l->efd);
	memset(l, 0, sizeof(*l));
	l->efd = -1;
}

static void mark_pages(unsigned char *set, uint64_t gpa, uint64_t len)
{
	uint64_t p;

	if (!len)
		return;
	for (p = gpa / VPAGE; p <= (gpa + len - 1) / VPAGE; p++)
		set[p] = 1;
}

/* The device may have written these bytes (at the guest's address). */
static void dlog_may(struct dlog *l, uint64_t gpa, uint64_t len)
{
	mark_pages(l->may, gpa + l->shift, len);
}

/* The device wrote these bytes. */
static void dlog_wrote(struct dlog *l, uint64_t gpa, uint64_t len)
{
	mark_pages(l->must, gpa + l->shift, len);
	dlog_may(l, gpa, len);
}

static uint64_t used_size(const struct gvq *q)
{
	return 6 + 8ULL * q->num;
}

/*
 * The used ring: the device may write any of it (flags, the avail event
 * index, entries); it must have logged the index and the entries from
 * used index from to used index to, if it used any buffer.
 */
static void dlog_used(struct dlog *l, const struct gvq *q, uint16_t from,
		      uint16_t to)
{
	uint64_t used = q->ring_gpa[2];
	uint16_t i;

	dlog_may(l, used, used_size(q));
	if (from == to)
		return;
	dlog_wrote(l, used + 2, 2);
	for (i = from; i != to; i++)
		dlog_wrote(l, used + 4 + 8ULL * (i & (q->num - 1)), 8);
}

/* Where a queue's used entries were when the log went on. */
struct umark {
	uint16_t last_used;
	unsigned long entries;
};

static struct umark umark_of(const struct gvq *q)
{
	return (struct umark){ q->last_used, q->used_entries };
}

/*
 * The rings the device wrote since mark m. Split: the used ring
 * (dlog_used()). Packed: it may write the descriptor ring and the device
 * area; if it used anything, it must have logged the page of the last
 * used descriptor it wrote (just before the driver's used position).
 */
static void dlog_rings(struct dlog *l, const struct gvq *q, struct umark m)
{
	uint64_t last;

	if (!q->packed) {
		dlog_used(l, q, m.last_used, q->last_used);
		return;
	}
	dlog_may(l, q->ring_gpa[0], 16ULL * q->num);
	dlog_may(l, q->ring_gpa[2], 4);
	if (m.entries == q->used_entries)
		return;
	last = (q->pused + q->num - 1) % q->num;
	dlog_wrote(l, q->ring_gpa[0] + 16 * last, 16);
}

static bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return alen && blen && a < b + blen && b < a + alen;
}

/* What guest page p holds, for the messages. */
static const char *page_what(const struct nctx *n, uint64_t p, char *buf,
			     size_t len)
{
	static const char *const ring[] = { "desc", "avail", "used" };
	uint64_t a = p * VPAGE;
	size_t off = 0;
	int vq, i;

#define WHAT(cond, ...) do {						\
	if ((cond) && off < len)					\
		off += snprintf(buf + off, len - off, __VA_ARGS__);	\
} while (0)
	buf[0] = 0;
	for (vq = 0; vq < VDEV_NVQS; vq++) {
		const struct gvq *q = &n->q[vq];
		uint64_t sz[3] = { 16ULL * q->num, 6 + 2ULL * q->num,
				   used_size(q) };

		for (i = 0; i < 3; i++)
			WHAT(overlaps(a, VPAGE, q->ring_gpa[i], sz[i]),
			     " %s %s ring", vq == VQ_RX ? "RX" : "TX", ring[i]);
	}
	WHAT(overlaps(a, VPAGE, n->rx_slots,
		      (uint64_t)n->rx_nslots * n->rx_slot_size),
	     " RX buffers");
	WHAT(overlaps(a, VPAGE, n->rx_ind, 16ULL * RX_MAXSEG * n->rx_nslots),
	     " RX indirect tables");
	WHAT(overlaps(a, VPAGE, n->tx_slots,
		      (uint64_t)n->tx_nslots * n->tx_slot_size),
	     " TX buffers");
	WHAT(overlaps(a, VPAGE, n->tx_ind, 16ULL * TX_MAXSEG * n->tx_nslots),
	     " TX indirect tables");
	WHAT(!off && gm_region(&n->g, a) >= 0, " unused guest memory");
	WHAT(!off, " no guest memory");
#undef WHAT
	return buf;
}

/*
 * Every page the device wrote is set in the bitmap, and no page it did
 * not write.
 */
static void dlog_check(struct __test_metadata *_metadata, struct nctx *n,
		       struct dlog *l)
{
	uint64_t p, nbits = l->len * 8, first_missing = 0, first_extra = 0;
	unsigned int missing = 0, extra = 0, set = 0;
	uint64_t shift = l->shift / VPAGE;
	char what[160];

	for (p = 0; p < nbits; p++) {
		bool bit = l->bm[p / 8] >> (p % 8) & 1;
		bool must = p < l->npages && l->must[p];
		bool may = p < l->npages && l->may[p];

		set += bit;
		if (must && !bit && !missing++)
			first_missing = p;
		if (bit && !may && !extra++)
			first_extra = p;
	}
	if (getenv("RVHOST_VERBOSE"))
		printf("# dirty log: %u pages set, %u missing, %u extra\n",
		       set, missing, extra);
	EXPECT_EQ(0, missing)
		TH_LOG("%u pages the device wrote are not in the log, the first at guest address %#llx (%s)",
		       missing, (unsigned long long)(first_missing * VPAGE),
		       page_what(n, first_missing - shift, what, sizeof(what)));
	EXPECT_EQ(0, extra)
		TH_LOG("%u pages the device never wrote are in the log (%u set), the first at guest address %#llx (%s%s)",
		       extra, set, (unsigned long long)(first_extra * VPAGE),
		       first_extra < shift ? "an I/O virtual address:" : "",
		       page_what(n, first_extra < shift ? first_extra :
				 first_extra - shift, what, sizeof(what)));
	ASSERT_LT(0, set);
}

/*
 * What QEMU's vhost_dev_set_log(dev, true) does when migration starts,
 * after vhost_dev_log_resize(): the log base, VHOST_F_LOG_ALL, and every
 * ring again with VRING_F_LOG and the used ring's guest address.
 */
static void log_enable(struct __test_metadata *_metadata, struct nctx *n,
		       struct dlog *l)
{
	int vq;

	ASSERT_ERRNO(0, set_log_base(n->fd, uptr(l->bm)));
	ASSERT_ERRNO(0, set_log_fd(n->fd, l->efd));
	ASSERT_ERRNO(0, set_features(n->fd, ncfg_features(&n->cfg) |
					    BIT_ULL(VHOST_F_LOG_ALL) |
					    (l->iotlb ? AP : 0)));
	for (vq = 0; vq < VDEV_NVQS; vq++) {
		struct gvq *q = &n->q[vq];
		int k;
		uint64_t a[3];

		for (k = 0; k < 3; k++)
			a[k] = l->iotlb ? q->ring_gpa[k] : gvq_uaddr(q, k);
		ASSERT_ERRNO(0, set_addr(n->fd, vq, 1 << VHOST_VRING_F_LOG,
					 a[0], a[1], a[2],
					 q->ring_gpa[2] + l->shift));
	}
	/*
	 * SET_FEATURES with ACCESS_PLATFORM made a new, empty IOTLB
	 * (vhost_init_device_iotlb()): QEMU answers the misses; map
	 * everything again instead.
	 */
	if (l->iotlb)
		ASSERT_EQ(0, gm_iotlb_map(&n->g, n->fd, VHOST_ACCESS_RW));
}

/*
 * QEMU's set-up with a vIOMMU: ACCESS_PLATFORM, the memory table at the
 * guest-physical addresses of l, the rings at their I/O virtual addresses
 * (the guest's), and every region mapped whole by the IOTLB.
 */
static void iotlb_log_configure(struct __test_metadata *_metadata,
				struct nctx *n, const struct dlog *l)
{
	int vq;

	IOCTL_OK(n->fd, VHOST_SET_OWNER, NULL);
	ASSERT_ERRNO(0, set_backend_features(n->fd, BACKEND_FEATURES));
	ASSERT_ERRNO(0, set_features(n->fd, ncfg_features(&n->cfg) | AP));
	ASSERT_ERRNO(0, gm_set_mem_table_at(&n->g, n->fd, l->shift));
	ASSERT_EQ(0, gm_iotlb_map(&n->g, n->fd, VHOST_ACCESS_RW));
	for (vq = 0; vq < VDEV_NVQS; vq++) {
		struct gvq *q = &n->q[vq];

		net_setup_vq(_metadata, n, vq);
		ASSERT_ERRNO(0, set_addr(n->fd, vq, 0, q->ring_gpa[0],
					 q->ring_gpa[1], q->ring_gpa[2], 0));
	}
	for (vq = 0; vq < VDEV_NVQS; vq++)
		ASSERT_ERRNO(0, net_set_backend(n->fd, vq, n->tap[0].fd));
	net_flush(n);
}

/* Frames of 60 bytes to 64 KiB: up to 5 RX buffers of 16 KiB. */
static void gen_dirty(struct nctx *n, unsigned int seq, uint32_t *len,
		      enum fkind *k)
{
	static const uint32_t lens[] = {
		60, 1514, 4084, 16372, 9014, 200, 20000, 65535, 3000, 40000,
		4096, 128,
	};

	*len = lens[seq % ARRAY_SIZE(lens)];
	*k = F_PLAIN;
}

#define DIRTY_RX_SLOTS		48
#define DIRTY_RX_SLOT_SIZE	16384
#define DIRTY_RX_ROUND		5	/* frames: at most 25 buffers */

/*
 * Send frames first..first+count-1 of gen to the guest, take and check
 * them, and post their buffers again; with l, the bytes written are
 * recorded.
 */
static int rx_round(struct nctx *n, frame_gen gen, unsigned int first,
		    unsigned int count, struct dlog *l, char *why,
		    size_t whylen)
{
	unsigned char *buf = malloc(FRAME_MAX + 128);
	unsigned int i, j;
	struct rxpkt p;
	int r, ret = -1;

	if (!buf) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	for (i = first; i < first + count; i++) {
		r = rx_send(n, gen, i, 0, buf);
		if (r) {
			snprintf(why, whylen, "sending frame %u: %s", i,
				 strerror(-r));
			goto out;
		}
	}
	for (i = first; i < first + count; i++) {
		if (rx_take_frame(n, gen, i, &p, TIMEOUT_MS, why, whylen))
			goto out;
		for (j = 0; j < p.nb; j++) {
			if (l)
				dlog_wrote(l, rx_slot(n, p.slot[j]), p.len[j]);
			/*
			 * With an IOTLB, C logs each buffer whole, not just
			 * what it wrote (vhost_log_write() ignores len then).
			 */
			if (l && l->iotlb)
				dlog_may(l, rx_slot(n, p.slot[j]),
					 n->rx_slot_size);
			if (rx_post(n, p.slot[j])) {
				snprintf(why, whylen, "cannot post RX buffer %u again",
					 p.slot[j]);
				goto out;
			}
		}
	}
	gvq_kick(&n->q[VQ_RX]);
	ret = 0;
out:
	free(buf);
	return ret;
}

/*
 * RX with the log on: the pages of every RX buffer up to its used length
 * and of the used ring are logged; the rest of the buffers (16 KiB, most
 * frames fill less), the TX side, the other rings, the frames received
 * before the log was on, and unused memory are not.
 */
static void dirty_log_rx_pages(struct __test_metadata *_metadata,
			       struct nctx *n, bool iotlb)
{
	struct gvq *rxq = &n->q[VQ_RX], *txq = &n->q[VQ_TX];
	unsigned int seq = 0, round;
	struct umark u0, t0;
	struct dlog l;
	char why[512];

	ASSERT_TRUE(rx_slots_custom(n, DIRTY_RX_SLOTS, DIRTY_RX_SLOT_SIZE));
	ASSERT_TRUE(net_tx_slots(n, 16, 2048));
	ASSERT_TRUE(dlog_init(&l, n, iotlb));
	if (iotlb)
		iotlb_log_configure(_metadata, n, &l);
	else
		net_configure(_metadata, n);
	ASSERT_LT(0, rx_fill(n));
	/* traffic before migration starts: not logged */
	ASSERT_EQ(0, rx_round(n, gen_dirty, seq, DIRTY_RX_ROUND, NULL, why,
			      sizeof(why))) TH_LOG("%s", why);
	seq += DIRTY_RX_ROUND;
	net_flush(n);
	log_enable(_metadata, n, &l);
	u0 = umark_of(rxq);
	t0 = umark_of(txq);
	for (round = 0; round < 8; round++) {
		ASSERT_EQ(0, rx_round(n, gen_dirty, seq, DIRTY_RX_ROUND, &l, why,
				      sizeof(why))) TH_LOG("%s", why);
		seq += DIRTY_RX_ROUND;
	}
	net_flush(n);
	dlog_rings(&l, rxq, u0);
	dlog_rings(&l, txq, t0);
	dlog_check(_metadata, n, &l);
	ASSERT_LE(1, eventfd_take(l.efd)) TH_LOG("log eventfd not signalled");
	ASSERT_EQ(0, eventfd_take(n->err[VQ_RX]));
	net_stop_check_base(_metadata, n);
	dlog_free(&l);
}

TEST_F_TIMEOUT(net_client, dirty_log_rx_pages, 60)
{
	dirty_log_rx_pages(_metadata, &self->n, false);
}

TEST_F_TIMEOUT(net_client_packed, dirty_log_rx_pages, 60)
{
	dirty_log_rx_pages(_metadata, &self->n, false);
}

/*
 * The same with a vIOMMU: the pages are logged at their guest-physical
 * addresses, found through the memory table, none at an I/O virtual
 * address.
 */
TEST_F_TIMEOUT(net_client, dirty_log_iotlb_rx_pages, 60)
{
	dirty_log_rx_pages(_metadata, &self->n, true);
}

TEST_F_TIMEOUT(net_client_packed, dirty_log_iotlb_rx_pages, 60)
{
	dirty_log_rx_pages(_metadata, &self->n, true);
}

/* Frames of 60 bytes to 9 KiB. */
static void gen_dirty_tx(struct nctx *n, unsigned int seq, uint32_t *len,
			 enum fkind *k)
{
	static const uint32_t lens[] = { 60, 1514, 9014, 4096, 200, 7000, 3000 };

	*len = lens[seq % ARRAY_SIZE(lens)];
	*k = seq % 4 == 3 ? F_CSUM : F_PLAIN;
	if (*k == F_CSUM && *len < FRAME_MIN_TCP)
		*len = FRAME_MIN_TCP;
}

/*
 * TX with the log on: the device only reads TX buffers, so only the used
 * ring is logged.
 */
static void dirty_log_tx_pages(struct __test_metadata *_metadata,
			       struct nctx *n)
{
	struct gvq *rxq = &n->q[VQ_RX], *txq = &n->q[VQ_TX];
	struct txspec s = { .count = 20, .depth = 16, .gen = gen_dirty_tx,
			    .tap = 0 };
	struct umark u0, r0;
	struct dlog l;
	char why[512];
	int round;

	ASSERT_TRUE(net_tx_slots(n, 16, 9014 + n->hlen));
	ASSERT_TRUE(net_rx_slots(n));
	ASSERT_TRUE(dlog_init(&l, n, false));
	net_configure(_metadata, n);
	/* before migration starts */
	ASSERT_EQ(0, tx_run(n, &s, why, sizeof(why))) TH_LOG("%s", why);
	net_flush(n);
	log_enable(_metadata, n, &l);
	u0 = umark_of(txq);
	r0 = umark_of(rxq);
	for (round = 0; round < 4; round++) {
		s.count = 60;
		ASSERT_EQ(0, tx_run(n, &s, why, sizeof(why))) TH_LOG("%s", why);
	}
	net_flush(n);
	dlog_rings(&l, txq, u0);
	dlog_rings(&l, rxq, r0);
	dlog_check(_metadata, n, &l);
	ASSERT_LE(1, eventfd_take(l.efd)) TH_LOG("log eventfd not signalled");
	ASSERT_EQ(0, eventfd_take(n->err[VQ_TX]));
	net_stop_check_base(_metadata, n);
	dlog_free(&l);
}

TEST_F_TIMEOUT(net_client, dirty_log_tx_pages, 60)
{
	dirty_log_tx_pages(_metadata, &self->n);
}

TEST_F_TIMEOUT(net_client_packed, dirty_log_tx_pages, 60)
{
	dirty_log_tx_pages(_metadata, &self->n);
}

/*
 * Migration starts while frames flow both ways (QEMU does not stop the
 * device for it). Every RX buffer in rotation is used several times after
 * that: the page each starts in must be logged, and both used rings;
 * nothing of the TX buffers, the indirect tables, the descriptor tables or
 * avail rings.
 */
TEST_F_TIMEOUT(net_client, dirty_log_enabled_under_traffic, 120)
{
	struct nctx *n = &self->n;
	struct runner tx, rx;
	unsigned int s, rx_at;
	struct gvq *rxq;
	struct dlog l;
	int vq;

	ASSERT_TRUE(net_tx_slots(n, 64, 2048));
	ASSERT_TRUE(net_rx_slots(n));
	ASSERT_TRUE(dlog_init(&l, n, false));
	net_configure(_metadata, n);
	ASSERT_LT(0, rx_fill(n));
	ASSERT_EQ(0, runner_start(&tx, n, false, 1200));
	ASSERT_EQ(0, runner_start(&rx, n, true, 1200));
	if (!both_flowing(&tx, &rx)) {
		runner_join(&tx, true);
		runner_join(&rx, true);
		ASSERT_TRUE(false) TH_LOG("no traffic: %s %s", tx.why, rx.why);
	}
	log_enable(_metadata, n, &l);
	rx_at = runner_done(&rx);
	runner_join(&tx, false);
	runner_join(&rx, false);
	ASSERT_EQ(0, tx.ret) TH_LOG("%s", tx.why);
	ASSERT_EQ(0, rx.ret) TH_LOG("%s", rx.why);
	/* every buffer used after the log was on, twice */
	ASSERT_LE(rx_at + 32 + 2 * n->rx_nslots, rx.rx.received)
		TH_LOG("the log went on too late (after %u frames)", rx_at);
	net_flush(n);
	/* the slots in rotation: the ones posted now (not all fit the ring) */
	rxq = &n->q[VQ_RX];
	ASSERT_LT(n->rx_nslots / 2, gvq_outstanding(rxq));
	for (s = 0; s < gvq_outstanding(rxq); s++)
		mark_pages(l.must, rx_slot(n, rxq->st[fifo_at(rxq, s)].cookie), 1);
	mark_pages(l.may, n->rx_slots, (uint64_t)n->rx_nslots * n->rx_slot_size);
	for (vq = 0; vq < VDEV_NVQS; vq++) {
		struct gvq *q = &n->q[vq];

		mark_pages(l.must, q->ring_gpa[2] + 2, 2);
		mark_pages(l.may, q->ring_gpa[2], used_size(q));
	}
	dlog_check(_metadata, n, &l);
	ASSERT_LE(1, eventfd_take(l.efd)) TH_LOG("log eventfd not signalled");
	net_stop_check_base(_metadata, n);
	dlog_free(&l);
}

/* ---- a mergeable frame bigger than the buffers posted ---------------------- */

/* 200 bytes (1 buffer of 2 KiB), 9014 (5), 3000 (2), 200 (1). */
static void gen_mrg(struct nctx *n, unsigned int seq, uint32_t *len,
		    enum fkind *k)
{
	static const uint32_t lens[] = { 200, 9014, 3000, 200 };

	*len = lens[seq % ARRAY_SIZE(lens)];
	*k = F_PLAIN;
}

/*
 * A device ioctl in a thread: C flushes the worker before it returns
 * (vhost_net_ioctl() -> vhost_net_flush()), so it comes back only once the
 * worker is idle; GET_FORK_FROM_OWNER changes nothing.
 */
struct flusher {
	pthread_t th;
	int fd;
	bool done;
};

static void *flusher_fn(void *p)
{
	struct flusher *f = p;
	uint8_t v;

	ioctl(f->fd, VHOST_GET_FORK_FROM_OWNER, &v);
	__atomic_store_n(&f->done, true, __ATOMIC_RELEASE);
	return NULL;
}

/* Whether the flusher came back within timeout_ms (then it is joined). */
static bool flusher_wait(struct flusher *f, int timeout_ms)
{
	while (!__atomic_load_n(&f->done, __ATOMIC_ACQUIRE) && timeout_ms > 0) {
		usleep(1000);
		timeout_ms--;
	}
	if (!__atomic_load_n(&f->done, __ATOMIC_ACQUIRE))
		return false;
	pthread_join(f->th, NULL);
	return true;
}

static bool flusher_start(struct flusher *f, int fd)
{
	f->fd = fd;
	f->done = false;
	return !pthread_create(&f->th, NULL, flusher_fn, f);
}

/*
 * Nothing of the waiting frame was taken: no used entry, the buffers
 * posted (slots first.. first+count-1) untouched, the device idle (a
 * device ioctl comes back) and its avail position where it was.
 *
 * A device that instead keeps working on the frame holds the queue, and
 * could not even be closed: before the test fails, the guest posts the
 * buffers up to slot rescue - 1, as many as the frames need.
 */
static void assert_rx_untaken(struct __test_metadata *_metadata,
			      struct nctx *n, unsigned int first,
			      unsigned int count, unsigned int rescue)
{
	struct gvq *q = &n->q[VQ_RX];
	unsigned char *buf = malloc(n->rx_slot_size);
	unsigned int s, i, bad_slot = 0, bad_byte = 0;
	bool used_ok, poison_ok = true, idle, went_on = false;
	struct flusher f;

	ASSERT_NE(NULL, buf);
	usleep(200000);
	used_ok = q->last_used == load16(&q->used->idx);
	for (s = first; s < first + count && poison_ok; s++) {
		gm_read(&n->g, rx_slot(n, s), buf, n->rx_slot_size);
		for (i = 0; i < n->rx_slot_size && poison_ok; i++) {
			if (buf[i] != RX_POISON) {
				poison_ok = false;
				bad_slot = s;
				bad_byte = i;
			}
		}
	}
	free(buf);
	ASSERT_TRUE(flusher_start(&f, n->fd));
	idle = flusher_wait(&f, 3000);
	if (!idle) {
		for (s = first + count; s < rescue; s++)
			rx_post(n, s);
		gvq_publish(q);
		eventfd_kick(q->kick);
		went_on = flusher_wait(&f, TIMEOUT_MS);
	}
	ASSERT_TRUE(idle)
		TH_LOG("a device ioctl does not come back while a frame waits for more RX buffers than posted; %s",
		       went_on ? "it did once the guest posted more: the worker keeps retrying the frame, holding the queue" :
				 "nor after the guest posted more");
	ASSERT_TRUE(used_ok)
		TH_LOG("the device used buffers for a frame that does not fit");
	ASSERT_TRUE(poison_ok)
		TH_LOG("buffer %u written at byte %u", bad_slot, bad_byte);
	ASSERT_EQ((uint16_t)(q->avail_idx - count), get_base(n->fd, VQ_RX))
		TH_LOG("the device kept buffers it did not use");
	ASSERT_EQ(0, eventfd_take(n->err[VQ_RX]));
}

/*
 * C's handle_rx(): get_rx_bufs() runs out of buffers for the frame,
 * vhost_discard_vq_desc() puts back the ones it took, and
 * vhost_enable_notify() asks for a kick (the avail event index is the
 * avail index it read) and sees nothing new since: the handler stops with
 * the frame left in the socket, until the guest's kick.
 */
TEST_F(net_client, mrg_rx_frame_waits_for_buffers)
{
	struct nctx *n = &self->n;
	struct gvq *q = &n->q[VQ_RX];
	unsigned char buf[10000];
	struct rxpkt p;
	unsigned int s;
	char why[512];

	ASSERT_TRUE(net_rx_slots(n));
	ASSERT_EQ(2048, n->rx_slot_size);
	ASSERT_EQ(5, rx_need(n, 9014));
	net_configure(_metadata, n);
	/* 3 buffers; a first frame takes one */
	for (s = 0; s < 3; s++) {
		ASSERT_EQ(0, rx_post(n, s));
	}
	gvq_kick(q);
	ASSERT_EQ(0, rx_send(n, gen_mrg, 0, 0, buf));
	ASSERT_EQ(0, rx_take_frame(n, gen_mrg, 0, &p, TIMEOUT_MS, why,
				   sizeof(why))) TH_LOG("%s", why);
	ASSERT_EQ(0, p.slot[0]);
	/* a frame of 5 buffers, 2 posted; another frame behind it */
	ASSERT_EQ(0, rx_send(n, gen_mrg, 1, 0, buf));
	ASSERT_EQ(0, rx_send(n, gen_mrg, 2, 0, buf));
	assert_rx_untaken(_metadata, n, 1, 2, 9);
	/* one more buffer and a kick: still too few */
	ASSERT_EQ(0, rx_post(n, 3));
	q->kicks = 0;
	gvq_kick(q);
	assert_rx_untaken(_metadata, n, 1, 3, 9);
	ASSERT_EQ(1, q->kicks) TH_LOG("the device did not ask for a kick");
	/* enough for both frames and one more */
	for (s = 4; s < 9; s++) {
		ASSERT_EQ(0, rx_post(n, s));
	}
	q->kicks = 0;
	gvq_kick(q);
	ASSERT_EQ(1, q->kicks) TH_LOG("the device did not ask for a kick");
	ASSERT_EQ(0, rx_take_frame(n, gen_mrg, 1, &p, TIMEOUT_MS, why,
				   sizeof(why))) TH_LOG("%s", why);
	ASSERT_EQ(5, p.nb);
	for (s = 0; s < 5; s++) {
		ASSERT_EQ(1 + s, p.slot[s]);
	}
	ASSERT_EQ(0, rx_take_frame(n, gen_mrg, 2, &p, TIMEOUT_MS, why,
				   sizeof(why))) TH_LOG("%s", why);
	ASSERT_EQ(2, p.nb);
	ASSERT_EQ(6, p.slot[0]);
	ASSERT_EQ(7, p.slot[1]);
	/* and the queue goes on */
	ASSERT_EQ(1, gvq_outstanding(q));
	ASSERT_EQ(0, rx_send(n, gen_mrg, 3, 0, buf));
	ASSERT_EQ(0, rx_take_frame(n, gen_mrg, 3, &p, TIMEOUT_MS, why,
				   sizeof(why))) TH_LOG("%s", why);
	ASSERT_EQ(8, p.slot[0]);
	ASSERT_EQ(0, gvq_poll_used(q, 1, 50, NULL, NULL));
	net_stop_check_base(_metadata, n);
}

/* ---- the memory table replaced under traffic ------------------------------- */

/*
 * VHOST_SET_MEM_TABLE with the arena's regions, the last one (after the
 * hole) only if with_last; split: every region cut in two at an odd place,
 * and the regions holding buffers also through the buffers, so that some
 * of them straddle two regions of the table.
 */
static int set_table(struct nctx *n, bool split, bool with_last)
{
	struct {
		struct vhost_memory hdr;
		struct vhost_memory_region r[4 * GM_NREGIONS];
	} t;
	const struct gmem *g = &n->g;
	uint64_t cuts[3];
	unsigned int i, j, k = 0;

	cuts[0] = n->rx_slots + (uint64_t)(n->rx_nslots / 3) * n->rx_slot_size + 0x1a8;
	cuts[1] = n->tx_slots + (uint64_t)(n->tx_nslots / 3) * n->tx_slot_size + 0x2c8;
	memset(&t, 0, sizeof(t));
	for (i = 0; i < GM_NREGIONS; i++) {
		uint64_t start = g->gpa[i], end = start + g->size[i], at = start;

		if (i == GM_NREGIONS - 1 && !with_last)
			continue;
		cuts[2] = start + g->size[i] / 2 + 0x1a8;
		for (;;) {
			uint64_t next = end;

			for (j = 0; split && j < 3; j++)
				if (cuts[j] > at && cuts[j] < next)
					next = cuts[j];
			t.r[k].guest_phys_addr = at;
			t.r[k].memory_size = next - at;
			t.r[k].userspace_addr = uptr(g->host[i]) + (at - start);
			k++;
			if (next == end)
				break;
			at = next;
		}
	}
	t.hdr.nregions = k;
	return ioctl_errno(n->fd, VHOST_SET_MEM_TABLE, &t);
}

/*
 * Frames both ways in threads while the table changes every few ms among
 * the tables of tabs[] (bit 0: split, bit 1: with the last region). A
 * round of traffic that ended before three tables were set is followed by
 * another, so that the test does not depend on how fast the device is.
 */
static void traffic_with_tables(struct __test_metadata *_metadata,
				struct nctx *n, unsigned int count,
				const unsigned int *tabs, unsigned int ntabs)
{
	struct runner tx, rx;
	unsigned int i = 0, round;
	int e = 0;

	for (round = 0; i < 3 && round < 10 && !e; round++) {
		ASSERT_EQ(0, runner_start(&tx, n, false, count));
		ASSERT_EQ(0, runner_start(&rx, n, true, count));
		while (runner_busy(&tx) || runner_busy(&rx)) {
			unsigned int t = tabs[i % ntabs];

			e = set_table(n, t & 1, t & 2);
			if (e)
				break;
			i++;
			usleep(1000 + seq_hash(i) % 4000);
		}
		runner_join(&tx, e != 0);
		runner_join(&rx, e != 0);
		ASSERT_EQ(0, e) TH_LOG("VHOST_SET_MEM_TABLE %u: %s", i, strerrorname_np(e));
		ASSERT_EQ(0, tx.ret) TH_LOG("after %u tables: %s", i, tx.why);
		ASSERT_EQ(0, rx.ret) TH_LOG("after %u tables: %s", i, rx.why);
	}
	ASSERT_LE(3, i) TH_LOG("too few tables while the frames flowed");
	if (getenv("RVHOST_VERBOSE"))
		printf("# %u memory tables under traffic in %u rounds\n", i, round);
	ASSERT_EQ(0, eventfd_take(n->err[VQ_TX]));
	ASSERT_EQ(0, eventfd_take(n->err[VQ_RX]));
}

struct slots {
	uint64_t tx, tx_ind, rx, rx_ind;
};

static void slots_save(const struct nctx *n, struct slots *s)
{
	*s = (struct slots){ n->tx_slots, n->tx_ind, n->rx_slots, n->rx_ind };
}

static void slots_use(struct nctx *n, const struct slots *s)
{
	n->tx_slots = s->tx;
	n->tx_ind = s->tx_ind;
	n->rx_slots = s->rx;
	n->rx_ind = s->rx_ind;
}

TEST_F_TIMEOUT(net_client, mem_table_replaced_under_traffic, 180)
{
	/* split | with_last */
	static const unsigned int tabs1[] = { 1, 2, 0, 3 };
	static const unsigned int tabs2[] = { 3, 2 };
	static const unsigned int tabs3[] = { 1, 0 };
	struct nctx *n = &self->n;
	struct slots low, last;
	unsigned int seq = 0;
	char why[512];

	ASSERT_TRUE(net_tx_slots(n, 64, 2048));
	ASSERT_TRUE(rx_slots_custom(n, 64, 2048));
	slots_save(n, &low);
	/* buffers for later, in the last region */
	ASSERT_GT(n->g.gpa[GM_NREGIONS - 1], n->g.next);
	n->g.next = n->g.gpa[GM_NREGIONS - 1];
	ASSERT_TRUE(net_tx_slots(n, 64, 2048));
	ASSERT_TRUE(rx_slots_custom(n, 64, 2048));
	slots_save(n, &last);
	ASSERT_EQ(GM_NREGIONS - 1, gm_region(&n->g, last.rx));
	ASSERT_EQ(GM_NREGIONS - 1, gm_region(&n->g, last.tx));
	slots_use(n, &low);
	/* QEMU's first table: the memory of the first three regions */
	net_configure(_metadata, n);
	ASSERT_ERRNO(0, set_table(n, false, false));
	ASSERT_LT(0, rx_fill(n));
	traffic_with_tables(_metadata, n, 500, tabs1, ARRAY_SIZE(tabs1));
	/* a region plugged in; the guest moves its buffers there */
	ASSERT_ERRNO(0, set_table(n, false, true));
	ASSERT_EQ(0, rx_drain(n, &seq, why, sizeof(why))) TH_LOG("%s", why);
	slots_use(n, &last);
	ASSERT_LT(0, rx_fill(n));
	traffic_with_tables(_metadata, n, 500, tabs2, ARRAY_SIZE(tabs2));
	/* ... and back, and the region unplugged */
	ASSERT_EQ(0, rx_drain(n, &seq, why, sizeof(why))) TH_LOG("%s", why);
	slots_use(n, &low);
	ASSERT_LT(0, rx_fill(n));
	ASSERT_ERRNO(0, set_table(n, false, false));
	traffic_with_tables(_metadata, n, 300, tabs3, ARRAY_SIZE(tabs3));
	net_stop_check_base(_metadata, n);
}

/* ---- the call eventfd swapped ---------------------------------------------- */

/*
 * count frames through queue vq, all used buffers polled for (not waited
 * for on the call eventfd), after the guest asked for a call
 * (EVENT_IDX: at the next used buffer). With swap_to >= -1, the call
 * eventfd is set to it right after the frames went in, while the device
 * works on them. Returns 0 or -1 with why set.
 */
static int burst(struct nctx *n, int vq, unsigned int *seq, unsigned int count,
		 int swap_to, char *why, size_t whylen)
{
	struct gvq *q = &n->q[vq];
	unsigned char buf[256];
	struct rxpkt p;
	unsigned int i, j;
	int r;

	gvq_enable_cb(q);
	for (i = 0; i < count; i++) {
		r = vq == VQ_TX ? tx_post(n, *seq + i, i) :
				  rx_send(n, gen_small, *seq + i, 0, buf);
		if (r) {
			snprintf(why, whylen, "posting frame %u", *seq + i);
			return -1;
		}
	}
	if (vq == VQ_TX)
		gvq_kick(q);
	if (swap_to >= -1) {
		r = set_vring_file(n->fd, VHOST_SET_VRING_CALL, vq, swap_to);
		if (r) {
			snprintf(why, whylen, "VHOST_SET_VRING_CALL: %s",
				 strerrorname_np(r));
			return -1;
		}
	}
	if (vq == VQ_TX) {
		if (gvq_poll_used(q, count, TIMEOUT_MS, NULL, NULL) != count) {
			snprintf(why, whylen, "TX frames %u.. not all used", *seq);
			return -1;
		}
		if (tap_expect(n, 0, gen_small, *seq, count, why, whylen))
			return -1;
	} else {
		for (i = 0; i < count; i++) {
			if (rx_take_frame(n, gen_small, *seq + i, &p, TIMEOUT_MS,
					  why, whylen))
				return -1;
			for (j = 0; j < p.nb; j++)
				rx_post(n, p.slot[j]);
		}
		gvq_kick(q);
	}
	*seq += count;
	net_flush(n);
	return 0;
}

#define NO_SWAP	(-2)

static void call_swap_test(struct __test_metadata *_metadata, struct nctx *n,
			   int vq)
{
	int a = n->call[vq], b = new_eventfd();
	unsigned int seq = 0;
	char why[512];

	ASSERT_LE(0, b);
	ASSERT_EQ(0, burst(n, vq, &seq, 8, NO_SWAP, why, sizeof(why)))
		TH_LOG("%s", why);
	ASSERT_LE(1, eventfd_take(a));
	/* swapped while the device works on a burst: a call to either */
	ASSERT_EQ(0, burst(n, vq, &seq, 32, b, why, sizeof(why)))
		TH_LOG("%s", why);
	ASSERT_LE(1, eventfd_take(a) + eventfd_take(b))
		TH_LOG("no call for the burst the eventfd was swapped under");
	/* from then on, the new eventfd only */
	ASSERT_EQ(0, burst(n, vq, &seq, 8, NO_SWAP, why, sizeof(why)))
		TH_LOG("%s", why);
	ASSERT_LE(1, eventfd_take(b)) TH_LOG("no call on the new eventfd");
	ASSERT_EQ(0, eventfd_take(a)) TH_LOG("a call on the old eventfd");
	/* none (-1): no call anywhere, the buffers still come */
	ASSERT_ERRNO(0, set_vring_file(n->fd, VHOST_SET_VRING_CALL, vq, -1));
	ASSERT_EQ(0, burst(n, vq, &seq, 8, NO_SWAP, why, sizeof(why)))
		TH_LOG("%s", why);
	ASSERT_EQ(0, eventfd_take(a)) TH_LOG("a call on an eventfd no longer set");
	ASSERT_EQ(0, eventfd_take(b)) TH_LOG("a call on an eventfd no longer set");
	/* and back to the first */
	ASSERT_ERRNO(0, set_vring_file(n->fd, VHOST_SET_VRING_CALL, vq, a));
	ASSERT_EQ(0, burst(n, vq, &seq, 8, NO_SWAP, why, sizeof(why)))
		TH_LOG("%s", why);
	ASSERT_LE(1, eventfd_take(a)) TH_LOG("no call after the eventfd came back");
	ASSERT_EQ(0, eventfd_take(b)) TH_LOG("a call on the swapped-out eventfd");
	/* the one swapped out is closed: nothing refers to it */
	close(b);
	ASSERT_EQ(0, burst(n, vq, &seq, 8, NO_SWAP, why, sizeof(why)))
		TH_LOG("%s", why);
	ASSERT_LE(1, eventfd_take(a));
	ASSERT_EQ(0, eventfd_take(n->err[vq]));
}

TEST_F(net_client, call_fd_swap_tx)
{
	struct nctx *n = &self->n;

	ASSERT_TRUE(net_tx_slots(n, 32, 256));
	ASSERT_TRUE(net_rx_slots(n));
	net_configure(_metadata, n);
	call_swap_test(_metadata, n, VQ_TX);
	net_stop_check_base(_metadata, n);
}

TEST_F(net_client, call_fd_swap_rx)
{
	struct nctx *n = &self->n;

	ASSERT_TRUE(net_tx_slots(n, 32, 256));
	ASSERT_TRUE(net_rx_slots(n));
	net_configure(_metadata, n);
	ASSERT_LT(0, rx_fill(n));
	call_swap_test(_metadata, n, VQ_RX);
	net_stop_check_base(_metadata, n);
}

/*
 * QEMU's MSI-X masking while frames flow both ways: the call eventfd of a
 * queue is swapped for another one (masked), or none, and back (unmasked);
 * QEMU then forwards a call the masked eventfd got (after -1: a call in
 * any case). The guest waits for calls on the first eventfd only: a call
 * that went anywhere else after the swap back is a lost wakeup, and the
 * traffic stalls.
 */
TEST_F_TIMEOUT(net_client, call_fd_swap_under_traffic, 120)
{
	struct nctx *n = &self->n;
	struct runner tx, rx;
	unsigned int i = 0;
	int e = 0;

	ASSERT_TRUE(net_tx_slots(n, 64, 2048));
	ASSERT_TRUE(net_rx_slots(n));
	net_configure(_metadata, n);
	ASSERT_LT(0, rx_fill(n));
	ASSERT_EQ(0, runner_start(&tx, n, false, 600));
	ASSERT_EQ(0, runner_start(&rx, n, true, 600));
	while (runner_busy(&tx) || runner_busy(&rx)) {
		int vq = i % 2, a = n->call[vq];
		bool none = i % 4 >= 2;
		int b = none ? -1 : new_eventfd();

		if (!none && b < 0) {
			e = errno;
			break;
		}
		e = set_vring_file(n->fd, VHOST_SET_VRING_CALL, vq, b);
		if (!e) {
			usleep(500 + seq_hash(i) % 4000);
			e = set_vring_file(n->fd, VHOST_SET_VRING_CALL, vq, a);
		}
		if (none || (b >= 0 && eventfd_take(b)))
			eventfd_kick(a);
		if (b >= 0)
			close(b);
		if (e)
			break;
		usleep(seq_hash(i + 1000) % 3000);
		i++;
	}
	runner_join(&tx, e != 0);
	runner_join(&rx, e != 0);
	ASSERT_EQ(0, e) TH_LOG("VHOST_SET_VRING_CALL %u: %s", i, strerrorname_np(e));
	ASSERT_EQ(0, tx.ret) TH_LOG("after %u swaps: %s", i, tx.why);
	ASSERT_EQ(0, rx.ret) TH_LOG("after %u swaps: %s", i, rx.why);
	ASSERT_LE(4, i) TH_LOG("too few swaps while the frames flowed");
	if (getenv("RVHOST_VERBOSE"))
		printf("# %u call eventfd swaps under traffic\n", i);
	net_stop_check_base(_metadata, n);
}

TEST_HARNESS_MAIN
