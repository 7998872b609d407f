// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-net against a hostile guest (net_guest.h): malformed descriptor
 * chains between two good buffers, on the TX and the RX queue. Each test
 * asserts what the C driver does (Documentation/conformance.rst lists it
 * per case): whether the error eventfd is signalled, which buffers are
 * used, whether the bad chain is consumed (VHOST_GET_VRING_BASE), whether
 * the next kick gets past it. Then the same device, after
 * VHOST_RESET_OWNER and a full reconfiguration, and a second, fresh device
 * must pass traffic. Run them on the debug kernel (KASAN, lockdep).
 *
 * Split rings: G1 (frame 0), the bad chain B, G2 (frame 2), one kick.
 * What C does comes in three kinds:
 *   STOPS    B fails before it is taken: error eventfd, G1 used, B and G2
 *            not; every kick fails the same way; the base stays at B.
 *   SKIPS    B is taken and dropped without a used entry: error eventfd,
 *            G1 used; the next kick uses G2; the base is past both.
 *   ACCEPTED B is a frame like any other (frame 1): no error.
 * Packed rings (skipped unless VIRTIO_F_RING_PACKED is offered; the C
 * driver has none): each case has the outcome of its split counterpart,
 * on packed positions (packed_tx_case(), packed_rx_case()), except
 * indirect_with_next, which the packed layout forbids: it STOPS, where
 * the split case is ACCEPTED.
 */
#include "net_test.h"

enum outcome { STOPS, SKIPS, ACCEPTED };

#define BAD_DESC	128	/* descriptors of B start here (split) */

/* VERSION_1, MRG_RXBUF, vhost handles the header, indirect descriptors. */
static const struct ncfg hostile_cfg = {
	.vhost_hdr = true, .v1 = true, .mrg = true, .indirect = true,
	.num = 256,
};

/* The same without MRG_RXBUF: one buffer per frame. */
static const struct ncfg hostile_nomrg_cfg = {
	.vhost_hdr = true, .v1 = true, .indirect = true, .num = 256,
};

static const struct ncfg hostile_packed_cfg = {
	.vhost_hdr = true, .v1 = true, .mrg = true, .indirect = true,
	.packed = true, .num = 256,
};

static bool hostile_open(struct __test_metadata *_metadata, struct nctx *n,
			 const struct ncfg *c)
{
	if (!net_open(_metadata, n, c, 1))
		return false;
	ASSERT_TRUE(net_tx_slots(n, 16, 4096));
	ASSERT_TRUE(net_rx_slots(n));
	net_configure(_metadata, n);
	return true;
}

/* Frames the tap held for a queue that is gone. */
static void ntap_drain(struct ntap *t)
{
	unsigned char buf[FRAME_MAX + 64];
	int fl = fcntl(t->fd, F_GETFL);

	fcntl(t->fd, F_SETFL, fl | O_NONBLOCK);
	while (read(t->fd, buf, sizeof(buf)) > 0)
		;
	fcntl(t->fd, F_SETFL, fl);
}

/* Some frames each way, checked. */
static void traffic_ok(struct __test_metadata *_metadata, struct nctx *n)
{
	net_traffic_ok(_metadata, n, 20, 8, gen_small);
}

/*
 * After the hostile case: the same device after VHOST_RESET_OWNER and a
 * new configuration, then a fresh device, pass traffic.
 */
static void recovers(struct __test_metadata *_metadata, struct nctx *n,
		     const struct ncfg *c)
{
	struct nctx fresh;

	IOCTL_OK(n->fd, VHOST_RESET_OWNER, NULL);
	ntap_drain(&n->tap[0]);
	while (tap_has_frame(n, 0, 0))
		;
	memset(n->base, 0, sizeof(n->base));
	net_configure(_metadata, n);
	traffic_ok(_metadata, n);

	ASSERT_TRUE(net_open(_metadata, &fresh, c, 1));
	ASSERT_TRUE(net_tx_slots(&fresh, 16, 4096));
	ASSERT_TRUE(net_rx_slots(&fresh));
	net_configure(_metadata, &fresh);
	traffic_ok(_metadata, &fresh);
	nctx_free(&fresh);
}

/* ---- split rings ----------------------------------------------------------- */

FIXTURE(net_hostile) {
	struct nctx n;
};

FIXTURE_SETUP(net_hostile)
{
	hostile_open(_metadata, &self->n, &hostile_cfg);
}

FIXTURE_TEARDOWN(net_hostile)
{
	nctx_free(&self->n);
}

static void wdesc(struct gvq *q, unsigned int i, uint64_t addr, uint32_t len,
		  uint16_t flags, uint16_t next)
{
	q->desc[i] = (struct vring_desc){ addr, len, flags, next };
}

/* Make chain head available (the guest's bookkeeping does not know it). */
static void raw_avail(struct gvq *q, uint16_t head)
{
	q->avail->ring[q->avail_idx & (q->num - 1)] = head;
	q->avail_idx++;
}

/* Frames 0 and 2 (the good ones) are small, frame 1 (B) has 1000 bytes. */
static void gen_hostile(struct nctx *n, unsigned int seq, uint32_t *len,
			enum fkind *k)
{
	gen_small(n, seq, len, k);
	if (seq == 1)
		*len = 1000;
}

/* Frame 1 in TX slot 2, behind its header; returns the size. */
static uint32_t bad_frame(struct nctx *n)
{
	unsigned char buf[1200];

	return tx_fill(n, gen_hostile, 1, 2, buf);
}

static void wtable(struct nctx *n, uint64_t at, unsigned int i, uint64_t addr,
		   uint32_t len, uint16_t flags, uint16_t next)
{
	struct vring_desc d = { addr, len, flags, next };

	gm_write(&n->g, at + 16ULL * i, &d, sizeof(d));
}

static void kick_raw(struct nctx *n, int vq)
{
	gvq_publish(&n->q[vq]);
	eventfd_kick(n->kick[vq]);
}

static uint16_t used_idx_of(struct gvq *q)
{
	return load16(&q->used->idx);
}

/* Waits up to TIMEOUT_MS for the used index to reach idx. */
static bool wait_used_idx(struct gvq *q, uint16_t idx)
{
	int ms;

	for (ms = 0; ms < TIMEOUT_MS; ms++) {
		if (used_idx_of(q) == idx)
			return true;
		usleep(1000);
	}
	return used_idx_of(q) == idx;
}

/*
 * Run a TX case: bad() writes B; C does `what`. Returns after the
 * recovery checks.
 */
static void tx_case(struct __test_metadata *_metadata, struct nctx *n,
		    void (*bad)(struct nctx *n), enum outcome what)
{
	struct gvq *q = &n->q[VQ_TX];
	int err = n->err[VQ_TX];
	char why[256];

	ASSERT_EQ(0, tx_post(n, 0, 0));
	bad(n);
	ASSERT_EQ(0, tx_post(n, 2, 1));
	kick_raw(n, VQ_TX);
	if (what == ACCEPTED) {
		ASSERT_EQ(0, tap_expect(n, 0, gen_hostile, 0, 3, why, sizeof(why)))
			TH_LOG("%s", why);
		net_flush(n);
		ASSERT_EQ(3, used_idx_of(q));
		ASSERT_EQ(0, eventfd_take(err));
		ASSERT_EQ(0, q->used->ring[0].id);
		ASSERT_EQ(BAD_DESC, q->used->ring[1].id);
		ASSERT_EQ(1, q->used->ring[2].id);
		ASSERT_ERRNO(0, net_set_backend(n->fd, VQ_TX, -1));
		ASSERT_EQ(3, get_base(n->fd, VQ_TX));
	} else {
		ASSERT_TRUE(wait_readable(err, TIMEOUT_MS))
			TH_LOG("no error signalled");
		ASSERT_EQ(0, tap_expect(n, 0, gen_small, 0, 1, why, sizeof(why)))
			TH_LOG("%s", why);
		net_flush(n);
		ASSERT_LE(1, eventfd_take(err));
		ASSERT_EQ(1, used_idx_of(q));
		ASSERT_EQ(0, q->used->ring[0].id);
		ASSERT_EQ(0, q->used->ring[0].len);
		ASSERT_FALSE(tap_has_frame(n, 0, 0));
		/* the next kick */
		eventfd_kick(n->kick[VQ_TX]);
		if (what == STOPS) {
			ASSERT_TRUE(wait_readable(err, TIMEOUT_MS))
				TH_LOG("the next kick did not fail again");
			net_flush(n);
			ASSERT_EQ(1, used_idx_of(q));
			ASSERT_FALSE(tap_has_frame(n, 0, 0));
		} else {
			ASSERT_EQ(0, tap_expect(n, 0, gen_small, 2, 1, why,
						sizeof(why)))
				TH_LOG("%s", why);
			net_flush(n);
			ASSERT_EQ(2, used_idx_of(q));
			ASSERT_EQ(1, q->used->ring[1].id);
			ASSERT_EQ(0, eventfd_take(err));
		}
		ASSERT_ERRNO(0, net_set_backend(n->fd, VQ_TX, -1));
		ASSERT_EQ(what == STOPS ? 1 : 3, get_base(n->fd, VQ_TX));
	}
	recovers(_metadata, n, &hostile_cfg);
}

/* ---- TX cases ---- */

static void b_loop_self(struct nctx *n)
{
	struct gvq *q = &n->q[VQ_TX];
	uint32_t len = bad_frame(n);

	wdesc(q, BAD_DESC, tx_slot(n, 2), len, VRING_DESC_F_NEXT, BAD_DESC);
	raw_avail(q, BAD_DESC);
}

/* NEXT pointing back to the head. */
TEST_F(net_hostile, desc_loop_self)
{
	tx_case(_metadata, &self->n, b_loop_self, STOPS);
}

static void b_loop(struct nctx *n)
{
	struct gvq *q = &n->q[VQ_TX];
	uint64_t a = tx_slot(n, 2);

	bad_frame(n);
	wdesc(q, BAD_DESC, a, 20, VRING_DESC_F_NEXT, BAD_DESC + 1);
	wdesc(q, BAD_DESC + 1, a + 20, 20, VRING_DESC_F_NEXT, BAD_DESC + 2);
	wdesc(q, BAD_DESC + 2, a + 40, 20, VRING_DESC_F_NEXT, BAD_DESC + 1);
	raw_avail(q, BAD_DESC);
}

/* A chain that runs into a loop after its head. */
TEST_F(net_hostile, desc_loop)
{
	tx_case(_metadata, &self->n, b_loop, STOPS);
}

static uint16_t whole_ring_desc(struct gvq *q, unsigned int i)
{
	/* B's own descriptors: every one but G1's and G2's (0 and 1) */
	return BAD_DESC + i < q->num ? BAD_DESC + i : BAD_DESC + i - q->num + 2;
}

static void b_whole_ring(struct nctx *n, bool longer)
{
	struct gvq *q = &n->q[VQ_TX];
	unsigned int i, nd = q->num - 2;
	uint32_t len = bad_frame(n), piece = len / nd, l;

	for (i = 0; i < nd; i++) {
		l = i + 1 < nd ? piece : len - piece * (nd - 1);
		/* longer: the last one leads back to the head */
		wdesc(q, whole_ring_desc(q, i), tx_slot(n, 2) + piece * i, l,
		      i + 1 < nd || longer ? VRING_DESC_F_NEXT : 0,
		      whole_ring_desc(q, (i + 1) % nd));
	}
	raw_avail(q, BAD_DESC);
}

static void b_longest_chain(struct nctx *n)
{
	b_whole_ring(n, false);
}

/* A chain of every free descriptor of the ring (num - 2) is fine. */
TEST_F(net_hostile, longest_chain_accepted)
{
	tx_case(_metadata, &self->n, b_longest_chain, ACCEPTED);
}

static void b_longer_than_ring(struct nctx *n)
{
	b_whole_ring(n, true);
}

/* ... and one that goes round the ring longer than num descriptors is a loop. */
TEST_F(net_hostile, chain_longer_than_ring)
{
	tx_case(_metadata, &self->n, b_longer_than_ring, STOPS);
}

static void b_next_out_of_range(struct nctx *n)
{
	struct gvq *q = &n->q[VQ_TX];

	bad_frame(n);
	wdesc(q, BAD_DESC, tx_slot(n, 2), 30, VRING_DESC_F_NEXT, q->num);
	raw_avail(q, BAD_DESC);
}

TEST_F(net_hostile, next_out_of_range)
{
	tx_case(_metadata, &self->n, b_next_out_of_range, STOPS);
}

static void b_head_out_of_range(struct nctx *n)
{
	raw_avail(&n->q[VQ_TX], n->q[VQ_TX].num);
}

/* The avail ring names a head past the descriptor table. */
TEST_F(net_hostile, head_out_of_range)
{
	tx_case(_metadata, &self->n, b_head_out_of_range, STOPS);
}

static void b_len_huge(struct nctx *n)
{
	struct gvq *q = &n->q[VQ_TX];

	bad_frame(n);
	wdesc(q, BAD_DESC, tx_slot(n, 2), 0xffffffff, 0, 0);
	raw_avail(q, BAD_DESC);
}

/* len 0xffffffff: runs past the end of guest memory. */
TEST_F(net_hostile, len_huge)
{
	tx_case(_metadata, &self->n, b_len_huge, STOPS);
}

static void b_addr_wraps(struct nctx *n)
{
	struct gvq *q = &n->q[VQ_TX];

	wdesc(q, BAD_DESC, 0xfffffffffffff000ULL, 0x2000, 0, 0);
	raw_avail(q, BAD_DESC);
}

/* addr + len wraps the 64-bit address space. */
TEST_F(net_hostile, addr_len_wraps)
{
	tx_case(_metadata, &self->n, b_addr_wraps, STOPS);
}

static void b_outside(struct nctx *n)
{
	struct gvq *q = &n->q[VQ_TX];

	wdesc(q, BAD_DESC, 0x1000, 100, 0, 0);
	raw_avail(q, BAD_DESC);
}

/* A guest address no region maps. */
TEST_F(net_hostile, addr_outside_mem_table)
{
	tx_case(_metadata, &self->n, b_outside, STOPS);
}

static void b_in_hole(struct nctx *n)
{
	struct gvq *q = &n->q[VQ_TX];

	wdesc(q, BAD_DESC, gm_hole(&n->g) + 0x100, 100, 0, 0);
	raw_avail(q, BAD_DESC);
}

/* ... in the hole between two regions. */
TEST_F(net_hostile, addr_in_hole)
{
	tx_case(_metadata, &self->n, b_in_hole, STOPS);
}

static void b_across_hole(struct nctx *n)
{
	struct gvq *q = &n->q[VQ_TX];

	wdesc(q, BAD_DESC, gm_hole(&n->g) - 50, 100, 0, 0);
	raw_avail(q, BAD_DESC);
}

/* ... starting in a region, ending in the hole. */
TEST_F(net_hostile, addr_runs_into_hole)
{
	tx_case(_metadata, &self->n, b_across_hole, STOPS);
}

static void b_past_end(struct nctx *n)
{
	struct gvq *q = &n->q[VQ_TX];

	wdesc(q, BAD_DESC, gm_end(&n->g) - 50, 100, 0, 0);
	raw_avail(q, BAD_DESC);
}

/* ... starting in the last region, ending past it. */
TEST_F(net_hostile, addr_runs_past_end)
{
	tx_case(_metadata, &self->n, b_past_end, STOPS);
}

/* An indirect table of frame 1 in entries of 20 bytes, at slot 3. */
static uint64_t bad_table(struct nctx *n, unsigned int *count, uint32_t *len)
{
	uint64_t t = tx_slot(n, 3), a = tx_slot(n, 2);
	unsigned int i;

	*len = bad_frame(n);
	*count = (*len + 19) / 20;
	for (i = 0; i < *count; i++)
		wtable(n, t, i, a + 20 * i,
		       i + 1 < *count ? 20 : *len - 20 * i,
		       i + 1 < *count ? VRING_DESC_F_NEXT : 0, i + 1);
	return t;
}

static void b_indirect_nested(struct nctx *n)
{
	struct gvq *q = &n->q[VQ_TX];
	unsigned int count;
	uint32_t len;
	uint64_t t = bad_table(n, &count, &len);

	wtable(n, t, 1, t, 16 * count,
	       VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 2);
	wdesc(q, BAD_DESC, t, 16 * count, VRING_DESC_F_INDIRECT, 0);
	raw_avail(q, BAD_DESC);
}

/* An indirect descriptor inside an indirect table. */
TEST_F(net_hostile, indirect_nested)
{
	tx_case(_metadata, &self->n, b_indirect_nested, STOPS);
}

static void b_indirect_next(struct nctx *n)
{
	struct gvq *q = &n->q[VQ_TX];
	unsigned int count;
	uint32_t len;
	uint64_t t = bad_table(n, &count, &len);

	/* the table holds all but the last 20 bytes; the next descriptor those */
	wtable(n, t, count - 2, tx_slot(n, 2) + 20 * (count - 2), 20, 0, 0);
	wdesc(q, BAD_DESC, t, 16 * (count - 1),
	      VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, BAD_DESC + 1);
	wdesc(q, BAD_DESC + 1, tx_slot(n, 2) + 20 * (count - 1),
	      len - 20 * (count - 1), 0, 0);
	raw_avail(q, BAD_DESC);
}

/*
 * VRING_DESC_F_INDIRECT with VRING_DESC_F_NEXT (the specification forbids
 * it): C takes the table and then follows next.
 */
TEST_F(net_hostile, indirect_with_next)
{
	tx_case(_metadata, &self->n, b_indirect_next, ACCEPTED);
}

static void b_indirect_unaligned(struct nctx *n)
{
	struct gvq *q = &n->q[VQ_TX];
	unsigned int count;
	uint32_t len;
	uint64_t t = bad_table(n, &count, &len);

	wdesc(q, BAD_DESC, t, 16 * count - 8, VRING_DESC_F_INDIRECT, 0);
	raw_avail(q, BAD_DESC);
}

/* An indirect table whose length is not a multiple of 16. */
TEST_F(net_hostile, indirect_len_unaligned)
{
	tx_case(_metadata, &self->n, b_indirect_unaligned, STOPS);
}

static void b_indirect_empty(struct nctx *n)
{
	struct gvq *q = &n->q[VQ_TX];
	unsigned int count;
	uint32_t len;
	uint64_t t = bad_table(n, &count, &len);

	wdesc(q, BAD_DESC, t, 0, VRING_DESC_F_INDIRECT, 0);
	raw_avail(q, BAD_DESC);
}

/* ... of length 0. */
TEST_F(net_hostile, indirect_len_zero)
{
	tx_case(_metadata, &self->n, b_indirect_empty, STOPS);
}

static void b_indirect_outside(struct nctx *n)
{
	struct gvq *q = &n->q[VQ_TX];

	wdesc(q, BAD_DESC, gm_hole(&n->g), 64, VRING_DESC_F_INDIRECT, 0);
	raw_avail(q, BAD_DESC);
}

/* ... outside the memory table. */
TEST_F(net_hostile, indirect_outside_mem_table)
{
	tx_case(_metadata, &self->n, b_indirect_outside, STOPS);
}

static void b_indirect_last_next(struct nctx *n)
{
	struct gvq *q = &n->q[VQ_TX];
	unsigned int count;
	uint32_t len;
	uint64_t t = bad_table(n, &count, &len);

	wtable(n, t, count - 1, tx_slot(n, 2) + 20 * (count - 1),
	       len - 20 * (count - 1), VRING_DESC_F_NEXT, 0);
	wdesc(q, BAD_DESC, t, 16 * count, VRING_DESC_F_INDIRECT, 0);
	raw_avail(q, BAD_DESC);
}

/* ... whose last entry has VRING_DESC_F_NEXT. */
TEST_F(net_hostile, indirect_last_has_next)
{
	tx_case(_metadata, &self->n, b_indirect_last_next, STOPS);
}

static void b_indirect_short_chain(struct nctx *n)
{
	struct gvq *q = &n->q[VQ_TX];
	unsigned int count, i;
	uint32_t len;
	uint64_t t = bad_table(n, &count, &len);

	/* the chain ends at the last entry with data; four junk entries follow */
	for (i = 0; i < 4; i++)
		wtable(n, t, count + i, 0x1000, 0xffffffff,
		       VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 0);
	wdesc(q, BAD_DESC, t, 16 * (count + 4), VRING_DESC_F_INDIRECT, 0);
	raw_avail(q, BAD_DESC);
}

/*
 * An indirect table ends at its first entry without VRING_DESC_F_NEXT:
 * the entries after it are not looked at.
 */
TEST_F(net_hostile, indirect_chain_ends_early)
{
	tx_case(_metadata, &self->n, b_indirect_short_chain, ACCEPTED);
}

static void b_indirect_huge(struct nctx *n)
{
	struct gvq *q = &n->q[VQ_TX];
	uint64_t t = gm_alloc(&n->g, 16ULL * 65537, 16, false);

	wdesc(q, BAD_DESC, t, 16 * 65537, VRING_DESC_F_INDIRECT, 0);
	raw_avail(q, BAD_DESC);
}

/* ... of more than 65536 entries. */
TEST_F(net_hostile, indirect_too_big)
{
	tx_case(_metadata, &self->n, b_indirect_huge, STOPS);
}

static void b_indirect_many(struct nctx *n)
{
	struct gvq *q = &n->q[VQ_TX];
	uint64_t t = gm_alloc(&n->g, 16ULL * 1025, 16, false);
	uint32_t len = bad_frame(n);
	unsigned int i;

	/* 1025 one-byte pieces: more than UIO_MAXIOV */
	for (i = 0; i < 1025; i++)
		wtable(n, t, i, tx_slot(n, 2) + i % len, 1,
		       i < 1024 ? VRING_DESC_F_NEXT : 0, i + 1);
	wdesc(q, BAD_DESC, t, 16 * 1025, VRING_DESC_F_INDIRECT, 0);
	raw_avail(q, BAD_DESC);
}

/* ... of more pieces than vhost has iovecs (UIO_MAXIOV, 1024). */
TEST_F(net_hostile, indirect_too_many_pieces)
{
	tx_case(_metadata, &self->n, b_indirect_many, STOPS);
}

static void b_write_after_read(struct nctx *n)
{
	struct gvq *q = &n->q[VQ_TX];
	uint32_t len = bad_frame(n);

	wdesc(q, BAD_DESC, tx_slot(n, 2), len, VRING_DESC_F_NEXT, BAD_DESC + 1);
	wdesc(q, BAD_DESC + 1, tx_slot(n, 4), 100, VRING_DESC_F_WRITE, 0);
	raw_avail(q, BAD_DESC);
}

/*
 * A TX chain with a device-writable descriptor at the end: C takes the
 * chain, finds it is not a TX buffer and drops it, without a used entry.
 */
TEST_F(net_hostile, tx_writable_descriptor)
{
	tx_case(_metadata, &self->n, b_write_after_read, SKIPS);
}

static void b_empty_writable(struct nctx *n)
{
	struct gvq *q = &n->q[VQ_TX];
	uint32_t len = bad_frame(n);

	wdesc(q, BAD_DESC, tx_slot(n, 2), len, VRING_DESC_F_NEXT, BAD_DESC + 1);
	wdesc(q, BAD_DESC + 1, tx_slot(n, 4), 0, VRING_DESC_F_WRITE, 0);
	raw_avail(q, BAD_DESC);
}

/*
 * A writable descriptor of 0 bytes at the end of a TX chain: C counts the
 * pieces the buffers make, not descriptors (get_tx_bufs(): in == 0), so
 * this is a TX buffer like any other and its frame is sent.
 */
TEST_F(net_hostile, tx_empty_writable_descriptor)
{
	tx_case(_metadata, &self->n, b_empty_writable, ACCEPTED);
}

static void b_empty_writable_first(struct nctx *n)
{
	struct gvq *q = &n->q[VQ_TX];
	uint32_t len = bad_frame(n);

	wdesc(q, BAD_DESC, tx_slot(n, 4), 0, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT,
	      BAD_DESC + 1);
	wdesc(q, BAD_DESC + 1, tx_slot(n, 2), len, 0, 0);
	raw_avail(q, BAD_DESC);
}

/*
 * The same before the frame: "out after in" counts pieces too
 * (vhost_get_vq_desc()'s in_num), so a readable buffer may follow an
 * empty writable one.
 */
TEST_F(net_hostile, tx_empty_writable_before_readable)
{
	tx_case(_metadata, &self->n, b_empty_writable_first, ACCEPTED);
}

static void b_read_after_write(struct nctx *n)
{
	struct gvq *q = &n->q[VQ_TX];
	uint32_t len = bad_frame(n);

	wdesc(q, BAD_DESC, tx_slot(n, 4), 100, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT,
	      BAD_DESC + 1);
	wdesc(q, BAD_DESC + 1, tx_slot(n, 2), len, 0, 0);
	raw_avail(q, BAD_DESC);
}

/* A readable descriptor after a writable one: refused before it is taken. */
TEST_F(net_hostile, readable_after_writable)
{
	tx_case(_metadata, &self->n, b_read_after_write, STOPS);
}

static void b_header_only(struct nctx *n)
{
	struct gvq *q = &n->q[VQ_TX];

	bad_frame(n);
	wdesc(q, BAD_DESC, tx_slot(n, 2), n->hlen, 0, 0);
	raw_avail(q, BAD_DESC);
}

/*
 * A TX buffer with nothing after the virtio-net header vhost strips: taken
 * and dropped without a used entry.
 */
TEST_F(net_hostile, tx_header_only)
{
	tx_case(_metadata, &self->n, b_header_only, SKIPS);
}

/*
 * The avail index more than the ring ahead of the device (delta past the
 * one buffer it has not seen; 0xffff: one behind it):
 * nothing is taken, not even the good buffers before it; once the guest
 * puts a sane index back, the queue works.
 */
static void avail_jump_case(struct __test_metadata *_metadata, struct nctx *n,
			    int vq, uint16_t delta)
{
	struct gvq *q = &n->q[vq];
	unsigned char buf[256];
	char why[256];

	if (vq == VQ_TX) {
		ASSERT_EQ(0, tx_post(n, 0, 0));
	} else {
		ASSERT_EQ(0, rx_post(n, 0));
		ASSERT_EQ(0, rx_send(n, gen_small, 0, 0, buf));
	}
	store16(&q->avail->idx, (uint16_t)(q->avail_idx - 1 + delta));
	eventfd_kick(n->kick[vq]);
	ASSERT_TRUE(wait_readable(n->err[vq], TIMEOUT_MS))
		TH_LOG("no error signalled");
	net_flush(n);
	ASSERT_LE(1, eventfd_take(n->err[vq]));
	ASSERT_EQ(0, used_idx_of(q));
	if (vq == VQ_TX)
		ASSERT_FALSE(tap_has_frame(n, 0, 0));
	/* sane again */
	store16(&q->avail->idx, q->avail_idx);
	eventfd_kick(n->kick[vq]);
	if (vq == VQ_TX)
		ASSERT_EQ(0, tap_expect(n, 0, gen_small, 0, 1, why, sizeof(why)))
			TH_LOG("%s", why);
	ASSERT_EQ(1, gvq_poll_used(q, 1, TIMEOUT_MS, NULL, NULL));
	net_flush(n);
	ASSERT_EQ(0, eventfd_take(n->err[vq]));
	ASSERT_ERRNO(0, net_set_backend(n->fd, vq, -1));
	ASSERT_EQ(1, get_base(n->fd, vq));
	recovers(_metadata, n, &hostile_cfg);
}

TEST_F(net_hostile, avail_idx_jump)
{
	avail_jump_case(_metadata, &self->n, VQ_TX, 257);
}
TEST_F(net_hostile, avail_idx_backwards)
{
	avail_jump_case(_metadata, &self->n, VQ_TX, 0xffff);
}
TEST_F(net_hostile, rx_avail_idx_jump)
{
	avail_jump_case(_metadata, &self->n, VQ_RX, 0x8000);
}

/* ---- RX cases ---- */

/*
 * B is the first RX buffer, a good one (slot 0) follows; a frame comes.
 * STOPS: the error eventfd, nothing used, the next kick fails again.
 * SKIPS: B is dropped; the next kick puts the frame in the good buffer.
 */
static void rx_case(struct __test_metadata *_metadata, struct nctx *n,
		    void (*bad)(struct nctx *n), enum outcome what)
{
	struct gvq *q = &n->q[VQ_RX];
	int err = n->err[VQ_RX];
	unsigned char buf[256];

	bad(n);
	ASSERT_EQ(0, rx_post(n, 0));
	kick_raw(n, VQ_RX);
	net_flush(n);
	ASSERT_EQ(0, eventfd_take(err));
	ASSERT_EQ(0, rx_send(n, gen_small, 0, 0, buf));
	if (what == ACCEPTED) {
		/* B takes the frame; the good buffer stays posted */
		ASSERT_TRUE(wait_used_idx(q, 1)) TH_LOG("the frame did not come");
		net_flush(n);
		ASSERT_EQ(1, used_idx_of(q));
		ASSERT_EQ(BAD_DESC, q->used->ring[0].id);
		ASSERT_EQ(n->hlen + 60, q->used->ring[0].len);
		ASSERT_EQ(0, eventfd_take(err));
		ASSERT_ERRNO(0, net_set_backend(n->fd, VQ_RX, -1));
		ASSERT_EQ(1, get_base(n->fd, VQ_RX));
		recovers(_metadata, n, &hostile_cfg);
		return;
	}
	ASSERT_TRUE(wait_readable(err, TIMEOUT_MS)) TH_LOG("no error signalled");
	net_flush(n);
	ASSERT_LE(1, eventfd_take(err));
	ASSERT_EQ(0, used_idx_of(q));
	eventfd_kick(n->kick[VQ_RX]);
	if (what == STOPS) {
		ASSERT_TRUE(wait_readable(err, TIMEOUT_MS))
			TH_LOG("the next kick did not fail again");
		net_flush(n);
		ASSERT_EQ(0, used_idx_of(q));
	} else {
		ASSERT_EQ(1, gvq_poll_used(q, 1, TIMEOUT_MS, NULL, NULL));
		ASSERT_EQ(0, q->used->ring[0].id);
		ASSERT_EQ(n->hlen + 60, q->used->ring[0].len);
		net_flush(n);
		ASSERT_EQ(0, eventfd_take(err));
	}
	ASSERT_ERRNO(0, net_set_backend(n->fd, VQ_RX, -1));
	ASSERT_EQ(what == STOPS ? 0 : 2, get_base(n->fd, VQ_RX));
	recovers(_metadata, n, &hostile_cfg);
}

static void r_readonly(struct nctx *n)
{
	struct gvq *q = &n->q[VQ_RX];

	wdesc(q, BAD_DESC, rx_slot(n, 1), n->rx_slot_size, 0, 0);
	raw_avail(q, BAD_DESC);
}

/* An RX buffer the device may not write: taken and dropped. */
TEST_F(net_hostile, rx_readonly_descriptor)
{
	rx_case(_metadata, &self->n, r_readonly, SKIPS);
}

static void r_empty(struct nctx *n)
{
	struct gvq *q = &n->q[VQ_RX];

	wdesc(q, BAD_DESC, rx_slot(n, 1), 0, VRING_DESC_F_WRITE, 0);
	raw_avail(q, BAD_DESC);
}

/*
 * An RX buffer of 0 bytes: nothing can be received into it. C counts the
 * pieces a chain's buffers make ("unexpected descriptor format for RX",
 * in == 0 in get_rx_bufs()): the chain is taken and dropped, the error
 * eventfd signalled, the frame waits for the next buffer. Counting
 * descriptors instead finds a buffer; without MRG_RXBUF the frame never
 * fits it, and a handler that tries again without counting the try
 * against its weight never returns (rx_case()'s flush would block).
 */
TEST_F(net_hostile, rx_empty_descriptor)
{
	rx_case(_metadata, &self->n, r_empty, SKIPS);
}

TEST_F(net_hostile, rx_empty_descriptor_nomrg)
{
	nctx_free(&self->n);
	ASSERT_TRUE(hostile_open(_metadata, &self->n, &hostile_nomrg_cfg));
	rx_case(_metadata, &self->n, r_empty, SKIPS);
}

static void r_readable_empty(struct nctx *n)
{
	struct gvq *q = &n->q[VQ_RX];

	wdesc(q, BAD_DESC, rx_slot(n, 1), 0, VRING_DESC_F_NEXT, BAD_DESC + 1);
	wdesc(q, BAD_DESC + 1, rx_slot(n, 1), n->rx_slot_size, VRING_DESC_F_WRITE, 0);
	raw_avail(q, BAD_DESC);
}

/*
 * A readable descriptor of 0 bytes before the writable one: no readable
 * piece (out == 0), so C takes the chain as an RX buffer.
 */
TEST_F(net_hostile, rx_readable_empty_descriptor)
{
	rx_case(_metadata, &self->n, r_readable_empty, ACCEPTED);
}

static void r_len_huge(struct nctx *n)
{
	struct gvq *q = &n->q[VQ_RX];

	wdesc(q, BAD_DESC, rx_slot(n, 1), 0xffffffff, VRING_DESC_F_WRITE, 0);
	raw_avail(q, BAD_DESC);
}

TEST_F(net_hostile, rx_len_huge)
{
	rx_case(_metadata, &self->n, r_len_huge, STOPS);
}

static void r_outside(struct nctx *n)
{
	struct gvq *q = &n->q[VQ_RX];

	wdesc(q, BAD_DESC, gm_hole(&n->g), 2048, VRING_DESC_F_WRITE, 0);
	raw_avail(q, BAD_DESC);
}

TEST_F(net_hostile, rx_addr_outside_mem_table)
{
	rx_case(_metadata, &self->n, r_outside, STOPS);
}

static void r_loop(struct nctx *n)
{
	struct gvq *q = &n->q[VQ_RX];

	wdesc(q, BAD_DESC, rx_slot(n, 1), 1024, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT,
	      BAD_DESC + 1);
	wdesc(q, BAD_DESC + 1, rx_slot(n, 1) + 1024, 1024,
	      VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, BAD_DESC);
	raw_avail(q, BAD_DESC);
}

TEST_F(net_hostile, rx_desc_loop)
{
	rx_case(_metadata, &self->n, r_loop, STOPS);
}

static void r_indirect_nested(struct nctx *n)
{
	struct gvq *q = &n->q[VQ_RX];
	uint64_t t = n->rx_ind + 16ULL * RX_MAXSEG * 5;	/* slot 5's table */

	wtable(n, t, 0, rx_slot(n, 1), 1024, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	wtable(n, t, 1, t, 32, VRING_DESC_F_INDIRECT, 0);
	wdesc(q, BAD_DESC, t, 32, VRING_DESC_F_INDIRECT, 0);
	raw_avail(q, BAD_DESC);
}

TEST_F(net_hostile, rx_indirect_nested)
{
	rx_case(_metadata, &self->n, r_indirect_nested, STOPS);
}

/* ---- weights ---------------------------------------------------------------- */

struct flood {
	struct nctx *n;
	pthread_t th;
	bool stop;
	unsigned int sent;
};

/* Frames of 1000 bytes into the tap, as fast as it takes them. */
static void *flood_fn(void *p)
{
	struct flood *f = p;
	unsigned char buf[1200];
	unsigned int seq = 0;

	while (!__atomic_load_n(&f->stop, __ATOMIC_RELAXED)) {
		if (!rx_send(f->n, gen_hostile, 1, 0, buf))
			__atomic_add_fetch(&f->sent, 1, __ATOMIC_RELAXED);
		if (++seq % 64 == 0)
			sched_yield();
	}
	return NULL;
}

static uint64_t mono_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000ULL + t.tv_nsec / 1000;
}

#define FLOOD_BUFS	64
#define FLOOD_FLUSHES	10
#define FLOOD_FLUSH_MS	2000	/* C: a few ms; a handler that never yields: forever */

/*
 * A flood of frames into RX buffers too small for any of them (no
 * MRG_RXBUF): C drops each frame and puts the buffer back, over and over
 * (handle_rx()'s "Discarded rx packet"), counting every one toward the
 * weight (256 packets or 512 KiB a run), after which the handler gives up
 * the worker. So a flush queued during the flood returns promptly, nothing
 * is used, no error is signalled, and the device carries traffic after.
 */
TEST_F_TIMEOUT(net_hostile, rx_flood_undersized_flush_bounded, 120)
{
	struct nctx *n = &self->n;
	struct gvq *q;
	struct flood f = { 0 };
	uint64_t worst = 0, t0, dt;
	unsigned int i, sent0;

	nctx_free(n);
	ASSERT_TRUE(hostile_open(_metadata, n, &hostile_nomrg_cfg));
	q = &n->q[VQ_RX];
	/* 16 bytes: less than the header and any frame */
	for (i = 0; i < FLOOD_BUFS; i++) {
		wdesc(q, BAD_DESC + i, rx_slot(n, i), 16, VRING_DESC_F_WRITE, 0);
		raw_avail(q, BAD_DESC + i);
	}
	kick_raw(n, VQ_RX);
	net_flush(n);
	f.n = n;
	ASSERT_EQ(0, pthread_create(&f.th, NULL, flood_fn, &f));
	usleep(300000);
	sent0 = __atomic_load_n(&f.sent, __ATOMIC_RELAXED);
	for (i = 0; i < FLOOD_FLUSHES; i++) {
		t0 = mono_us();
		if (vdev_flush_barrier(n->fd))
			break;
		dt = mono_us() - t0;
		if (dt > worst)
			worst = dt;
		usleep(50000);
	}
	__atomic_store_n(&f.stop, true, __ATOMIC_RELAXED);
	pthread_join(f.th, NULL);
	ASSERT_EQ(FLOOD_FLUSHES, i) TH_LOG("a flush failed");
	ASSERT_LT(sent0, __atomic_load_n(&f.sent, __ATOMIC_RELAXED))
		TH_LOG("the flood stopped before the flushes");
	if (getenv("RVHOST_VERBOSE"))
		printf("# %u frames, slowest flush %llu us\n", f.sent,
		       (unsigned long long)worst);
	EXPECT_GT(FLOOD_FLUSH_MS * 1000ULL, worst)
		TH_LOG("a flush during the flood took %llu ms",
		       (unsigned long long)worst / 1000);
	net_flush(n);
	ASSERT_EQ(0, used_idx_of(q));
	ASSERT_EQ(0, eventfd_take(n->err[VQ_RX]));
	recovers(_metadata, n, &hostile_nomrg_cfg);
}

/* With EVENT_IDX and mergeable buffers, as QEMU sets up a modern guest. */
static const struct ncfg hostile_event_cfg = {
	.vhost_hdr = true, .v1 = true, .mrg = true, .indirect = true,
	.event_idx = true, .num = 256,
};

#define UNREAD_FRAMES	200

/*
 * The guest's used_event (the last field of the avail ring) cannot be
 * read: its page is PROT_NONE. Every interrupt decision fails; C reports
 * it on the error eventfd (vq_err()), interrupts the guest anyway, and
 * goes on receiving: every frame the tap holds reaches the guest, with no
 * kick. rvhost once stopped RX at the first failure, with the socket's
 * wakeup off.
 */
TEST_F_TIMEOUT(net_hostile, rx_used_event_unreadable, 60)
{
	size_t pg = sysconf(_SC_PAGESIZE);
	struct nctx *n = &self->n;
	struct gvq *q;
	unsigned char buf[256];
	unsigned int i, posted, got;
	int64_t errs;
	size_t off;
	char *area;

	nctx_free(n);
	ASSERT_TRUE(hostile_open(_metadata, n, &hostile_event_cfg));
	q = &n->q[VQ_RX];
	/* the avail ring again, its used_event alone on the next page */
	area = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, area);
	off = pg - (4 + 2 * q->num);
	ASSERT_ERRNO(0, net_set_backend(n->fd, VQ_RX, -1));
	memcpy(area + off, q->avail, 4 + 2 * q->num);
	q->avail = (void *)(area + off);
	ASSERT_ERRNO(0, set_addr(n->fd, VQ_RX, 0, gvq_uaddr(q, 0),
				 uptr(q->avail), gvq_uaddr(q, 2), 0));
	ASSERT_EQ(0, mprotect(area + pg, pg, PROT_NONE));
	ASSERT_ERRNO(0, net_set_backend(n->fd, VQ_RX, n->tap[0].fd));
	posted = rx_fill(n);
	ASSERT_LE(UNREAD_FRAMES, posted);
	net_flush(n);
	for (i = 0; i < UNREAD_FRAMES; i++)
		ASSERT_EQ(0, rx_send(n, gen_small, i, 0, buf));
	got = gvq_poll_used(q, UNREAD_FRAMES, TIMEOUT_MS, NULL, NULL);
	net_flush(n);
	errs = eventfd_take(n->err[VQ_RX]);
	EXPECT_EQ(UNREAD_FRAMES, got)
		TH_LOG("%u frames received with no kick; %lld errors signalled",
		       got, (long long)errs);
	EXPECT_LT(0, errs)
		TH_LOG("the failed interrupt decision was not reported (%u frames, %u calls)",
		       got, (unsigned int)q->calls);
	ASSERT_ERRNO(0, net_set_backend(n->fd, VQ_RX, -1));
	ASSERT_ERRNO(0, net_set_backend(n->fd, VQ_TX, -1));
	nctx_free(n);
	munmap(area, 2 * pg);
	/* the fixture's teardown frees it again */
	ASSERT_TRUE(hostile_open(_metadata, n, &hostile_cfg));
}

/*
 * The VMM made all but the first 8 descriptors of the TX table unreadable
 * (a guest cannot: its own memory stays mapped). C reads only the
 * descriptors it walks, and sends the two frames whose chains are
 * descriptors 0 and 1. rvhost reads neighbouring heads' descriptors in
 * one copy, and once failed the chains for the copy's sake.
 */
TEST_F_TIMEOUT(net_hostile, tx_desc_table_partly_unreadable, 60)
{
	size_t pg = sysconf(_SC_PAGESIZE);
	struct nctx *n = &self->n;
	struct gvq *q = &n->q[VQ_TX];
	size_t size = 16 * q->num, off = pg - 16 * 8;
	size_t len = (off + size + pg - 1) / pg * pg;
	char why[256];
	int64_t errs;
	char *area;

	area = mmap(NULL, len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, area);
	ASSERT_ERRNO(0, net_set_backend(n->fd, VQ_TX, -1));
	memcpy(area + off, q->desc, size);
	q->desc = (void *)(area + off);
	ASSERT_ERRNO(0, set_addr(n->fd, VQ_TX, 0, uptr(q->desc),
				 gvq_uaddr(q, 1), gvq_uaddr(q, 2), 0));
	ASSERT_EQ(0, mprotect(area + pg, len - pg, PROT_NONE));
	ASSERT_ERRNO(0, net_set_backend(n->fd, VQ_TX, n->tap[0].fd));
	ASSERT_EQ(0, tx_post(n, 0, 0));
	ASSERT_EQ(0, tx_post(n, 1, 1));
	kick_raw(n, VQ_TX);
	EXPECT_EQ(0, tap_expect(n, 0, gen_small, 0, 2, why, sizeof(why)))
		TH_LOG("%s", why);
	net_flush(n);
	errs = eventfd_take(n->err[VQ_TX]);
	EXPECT_EQ(2, used_idx_of(q));
	EXPECT_EQ(0, errs) TH_LOG("%lld errors signalled", (long long)errs);
	ASSERT_ERRNO(0, net_set_backend(n->fd, VQ_RX, -1));
	ASSERT_ERRNO(0, net_set_backend(n->fd, VQ_TX, -1));
	nctx_free(n);
	munmap(area, len);
	/* the fixture's teardown frees it again */
	ASSERT_TRUE(hostile_open(_metadata, n, &hostile_cfg));
}

/* ---- packed rings ---------------------------------------------------------- */

FIXTURE(net_hostile_packed) {
	struct nctx n;
};

FIXTURE_SETUP(net_hostile_packed)
{
	hostile_open(_metadata, &self->n, &hostile_packed_cfg);
}

FIXTURE_TEARDOWN(net_hostile_packed)
{
	nctx_free(&self->n);
}

struct pdesc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
};

/*
 * Write a chain of raw descriptors at the guest's next position, the head
 * last, with buffer id `id`; the guest's bookkeeping does not know it.
 */
static void packed_raw(struct gvq *q, const struct pdesc *d, unsigned int n,
		       uint16_t id)
{
	uint16_t head = q->pavail, hf = 0, f;
	unsigned int i;

	for (i = 0; i < n; i++) {
		f = gvq_packed_put(q, d[i].addr, d[i].len, id, d[i].flags,
				   i == 0);
		if (i == 0)
			hf = f;
	}
	gvq_packed_publish(q, head, hf);
}

/* What VHOST_GET_VRING_BASE says for a packed ring on its first lap. */
static unsigned int packed_base(uint16_t avail, uint16_t used)
{
	return (avail | 0x8000u) | (used | 0x8000u) << 16;
}

/* Whether the device wrote a used descriptor at pos (first lap). */
static bool packed_used(struct gvq *q, uint16_t pos)
{
	return gvq_packed_used_at(q, pos, true);
}

/*
 * TX: G1 (frame 0, buffer id 0) at position 0, B (id 100) after it, G2
 * (frame 2, id 1) after B if the ring has room. The outcome is the split
 * ring's (tx_case()), on the positions of the packed ring; every packed
 * TX case STOPS -- the ring layer (drivers/vhost/ring/packed.rs,
 * indirect.rs) refuses B before taking it, or the chain is put back
 * (Vring::rewind()) when one of its buffers does not translate: the error
 * eventfd, G1 used at position 0 (id 0, length 0) and its frame sent, no
 * used descriptor at position 1, nothing more on the tap; the next kick
 * fails the same way; the base stays at B (avail position 1, used
 * position 1).
 */
static void packed_tx_case(struct __test_metadata *_metadata, struct nctx *n,
			   void (*bad)(struct nctx *n))
{
	struct gvq *q = &n->q[VQ_TX];
	int err = n->err[VQ_TX];
	char why[256];

	ASSERT_EQ(0, tx_post(n, 0, 0));
	bad(n);
	if (gvq_room(q, 1))
		ASSERT_EQ(0, tx_post(n, 2, 1));
	eventfd_kick(n->kick[VQ_TX]);
	ASSERT_TRUE(wait_readable(err, TIMEOUT_MS)) TH_LOG("no error signalled");
	ASSERT_EQ(0, tap_expect(n, 0, gen_small, 0, 1, why, sizeof(why)))
		TH_LOG("%s", why);
	net_flush(n);
	ASSERT_LE(1, eventfd_take(err));
	ASSERT_TRUE(packed_used(q, 0)) TH_LOG("G1 not used");
	ASSERT_EQ(0, q->pdesc[0].id);
	ASSERT_EQ(0, q->pdesc[0].len);
	ASSERT_FALSE(packed_used(q, 1)) TH_LOG("a used descriptor after G1");
	ASSERT_FALSE(tap_has_frame(n, 0, 0));
	/* the next kick */
	eventfd_kick(n->kick[VQ_TX]);
	ASSERT_TRUE(wait_readable(err, TIMEOUT_MS))
		TH_LOG("the next kick did not fail again");
	net_flush(n);
	ASSERT_FALSE(packed_used(q, 1));
	ASSERT_FALSE(tap_has_frame(n, 0, 0));
	ASSERT_ERRNO(0, net_set_backend(n->fd, VQ_TX, -1));
	ASSERT_EQ(packed_base(1, 1), get_base(n->fd, VQ_TX));
	recovers(_metadata, n, &hostile_packed_cfg);
}

/*
 * RX: B (id 100) at position 0, a good buffer G (slot 0, id 0) at
 * position 1, then a frame, as rx_case() does for split rings.
 * STOPS: the error eventfd, nothing used, the next kick fails again; the
 * base stays at B (0, 0).
 * SKIPS: B is taken and dropped without a used descriptor (as C's
 * vhost_discard_vq_desc() leaves one chain consumed): the error eventfd,
 * nothing used; the next kick puts the frame in G, whose used descriptor
 * is the device's first, at position 0 (id 0, the frame's length); the
 * base is past both (avail 2, used 1).
 */
static void packed_rx_case(struct __test_metadata *_metadata, struct nctx *n,
			   void (*bad)(struct nctx *n), enum outcome what)
{
	struct gvq *q = &n->q[VQ_RX];
	int err = n->err[VQ_RX];
	unsigned char buf[256];
	uint32_t len;

	bad(n);
	ASSERT_EQ(0, rx_post(n, 0));
	eventfd_kick(n->kick[VQ_RX]);
	net_flush(n);
	ASSERT_EQ(0, eventfd_take(err));
	ASSERT_EQ(0, rx_send(n, gen_small, 0, 0, buf));
	ASSERT_TRUE(wait_readable(err, TIMEOUT_MS)) TH_LOG("no error signalled");
	net_flush(n);
	ASSERT_LE(1, eventfd_take(err));
	ASSERT_FALSE(packed_used(q, 0));
	eventfd_kick(n->kick[VQ_RX]);
	if (what == STOPS) {
		ASSERT_TRUE(wait_readable(err, TIMEOUT_MS))
			TH_LOG("the next kick did not fail again");
		net_flush(n);
		ASSERT_FALSE(packed_used(q, 0));
	} else {
		ASSERT_EQ(1, gvq_poll_used(q, 1, TIMEOUT_MS, NULL, &len))
			TH_LOG("%s", q->err);
		ASSERT_TRUE(packed_used(q, 0));
		ASSERT_EQ(0, q->pdesc[0].id);
		ASSERT_EQ(n->hlen + 60, len);
		ASSERT_FALSE(packed_used(q, 1));
		net_flush(n);
		ASSERT_EQ(0, eventfd_take(err));
	}
	ASSERT_ERRNO(0, net_set_backend(n->fd, VQ_RX, -1));
	ASSERT_EQ(what == STOPS ? packed_base(0, 0) : packed_base(2, 1),
		  get_base(n->fd, VQ_RX));
	recovers(_metadata, n, &hostile_packed_cfg);
}

static void p_chain_round(struct nctx *n)
{
	struct gvq *q = &n->q[VQ_TX];
	struct pdesc d[256];
	unsigned int i;

	bad_frame(n);
	/* every descriptor of the ring, NEXT on all: runs into G1's slot */
	for (i = 0; i < q->num; i++)
		d[i] = (struct pdesc){ tx_slot(n, 2), 1, VRING_DESC_F_NEXT };
	packed_raw(q, d, q->num - 1, 100);
}

/* A chain that runs round the ring (NEXT on its last descriptor). */
TEST_F(net_hostile_packed, chain_longer_than_ring)
{
	packed_tx_case(_metadata, &self->n, p_chain_round);
}

static void p_len_huge(struct nctx *n)
{
	struct pdesc d = { tx_slot(n, 2), 0xffffffff, 0 };

	packed_raw(&n->q[VQ_TX], &d, 1, 100);
}

TEST_F(net_hostile_packed, len_huge)
{
	packed_tx_case(_metadata, &self->n, p_len_huge);
}

static void p_outside(struct nctx *n)
{
	struct pdesc d = { gm_hole(&n->g), 100, 0 };

	packed_raw(&n->q[VQ_TX], &d, 1, 100);
}

TEST_F(net_hostile_packed, addr_outside_mem_table)
{
	packed_tx_case(_metadata, &self->n, p_outside);
}

/* A packed indirect table of frame 1 in entries of 20 bytes. */
static uint64_t p_table(struct nctx *n, unsigned int *count, uint32_t *len)
{
	uint64_t t = tx_slot(n, 3), a = tx_slot(n, 2);
	unsigned int i;

	*len = bad_frame(n);
	*count = (*len + 19) / 20;
	for (i = 0; i < *count; i++) {
		struct vring_packed_desc d = {
			.addr = a + 20 * i,
			.len = i + 1 < *count ? 20 : *len - 20 * i,
		};

		gm_write(&n->g, t + 16ULL * i, &d, sizeof(d));
	}
	return t;
}

static void p_indirect_nested(struct nctx *n)
{
	struct vring_packed_desc in = { .flags = VRING_DESC_F_INDIRECT };
	unsigned int count;
	uint32_t len;
	uint64_t t = p_table(n, &count, &len);
	struct pdesc d = { t, 16 * count, VRING_DESC_F_INDIRECT };

	in.addr = t;
	in.len = 16 * count;
	gm_write(&n->g, t + 16, &in, sizeof(in));
	packed_raw(&n->q[VQ_TX], &d, 1, 100);
}

TEST_F(net_hostile_packed, indirect_nested)
{
	packed_tx_case(_metadata, &self->n, p_indirect_nested);
}

static void p_indirect_next(struct nctx *n)
{
	unsigned int count;
	uint32_t len;
	uint64_t t = p_table(n, &count, &len);
	struct pdesc d[2] = {
		{ t, 16 * (count - 1), VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT },
		{ tx_slot(n, 2) + 20 * (count - 1), len - 20 * (count - 1), 0 },
	};

	packed_raw(&n->q[VQ_TX], d, 2, 100);
}

/*
 * VRING_DESC_F_INDIRECT with VRING_DESC_F_NEXT: not allowed in a packed
 * ring ("Indirect descriptor chained with others"), so unlike the split
 * case it stops.
 */
TEST_F(net_hostile_packed, indirect_with_next)
{
	packed_tx_case(_metadata, &self->n, p_indirect_next);
}

static void p_indirect_unaligned(struct nctx *n)
{
	unsigned int count;
	uint32_t len;
	uint64_t t = p_table(n, &count, &len);
	struct pdesc d = { t, 16 * count - 8, VRING_DESC_F_INDIRECT };

	packed_raw(&n->q[VQ_TX], &d, 1, 100);
}

TEST_F(net_hostile_packed, indirect_len_unaligned)
{
	packed_tx_case(_metadata, &self->n, p_indirect_unaligned);
}

static void p_indirect_empty(struct nctx *n)
{
	unsigned int count;
	uint32_t len;
	uint64_t t = p_table(n, &count, &len);
	struct pdesc d = { t, 0, VRING_DESC_F_INDIRECT };

	packed_raw(&n->q[VQ_TX], &d, 1, 100);
}

TEST_F(net_hostile_packed, indirect_len_zero)
{
	packed_tx_case(_metadata, &self->n, p_indirect_empty);
}

static void p_indirect_outside(struct nctx *n)
{
	struct pdesc d = { gm_hole(&n->g), 64, VRING_DESC_F_INDIRECT };

	packed_raw(&n->q[VQ_TX], &d, 1, 100);
}

TEST_F(net_hostile_packed, indirect_outside_mem_table)
{
	packed_tx_case(_metadata, &self->n, p_indirect_outside);
}

static void p_rx_readonly(struct nctx *n)
{
	struct pdesc d = { rx_slot(n, 1), n->rx_slot_size, 0 };

	packed_raw(&n->q[VQ_RX], &d, 1, 100);
}

TEST_F(net_hostile_packed, rx_readonly_descriptor)
{
	packed_rx_case(_metadata, &self->n, p_rx_readonly, SKIPS);
}

static void p_rx_len_huge(struct nctx *n)
{
	struct pdesc d = { rx_slot(n, 1), 0xffffffff, VRING_DESC_F_WRITE };

	packed_raw(&n->q[VQ_RX], &d, 1, 100);
}

static void p_rx_empty(struct nctx *n)
{
	struct pdesc d = { rx_slot(n, 1), 0, VRING_DESC_F_WRITE };

	packed_raw(&n->q[VQ_RX], &d, 1, 100);
}

/* As the split ring's rx_empty_descriptor. */
TEST_F(net_hostile_packed, rx_empty_descriptor)
{
	packed_rx_case(_metadata, &self->n, p_rx_empty, SKIPS);
}

/*
 * A guest takes back an RX buffer it had made available (slot 1's flags
 * cleared) and makes the slot after it available: the frame that did
 * not fit the two buffers still does not fit, and the ring no longer
 * changes. The device must wait for a kick, not spin: its worker uses
 * next to no CPU for a second.
 */
TEST_F(net_hostile_packed, rx_withdrawn_buffer)
{
	struct nctx *n = &self->n;
	struct gvq *q = &n->q[VQ_RX];
	struct pdesc small = { rx_slot(n, 0), 16, VRING_DESC_F_WRITE };
	unsigned char buf[256];
	long t0, t1;

	packed_raw(q, &small, 1, 100);
	small.addr = rx_slot(n, 1);
	packed_raw(q, &small, 1, 101);
	eventfd_kick(n->kick[VQ_RX]);
	ASSERT_EQ(0, rx_send(n, gen_small, 0, 0, buf));
	net_flush(n);
	ASSERT_FALSE(packed_used(q, 0));
	/* slot 1 taken back, slot 2 made available */
	store16(&q->pdesc[1].flags, 0);
	small.addr = rx_slot(n, 2);
	packed_raw(q, &small, 1, 102);
	t0 = worker_ticks(NULL);
	ASSERT_LE(0, t0);
	eventfd_kick(n->kick[VQ_RX]);
	sleep(1);
	net_flush(n);
	t1 = worker_ticks(NULL);
	ASSERT_LT(t1 - t0, sysconf(_SC_CLK_TCK) / 4)
		TH_LOG("the worker used %ld ticks in a second", t1 - t0);
	ASSERT_FALSE(packed_used(q, 0));
	ASSERT_EQ(0, eventfd_take(n->err[VQ_RX]));
}

TEST_F(net_hostile_packed, rx_len_huge)
{
	packed_rx_case(_metadata, &self->n, p_rx_len_huge, STOPS);
}

/* ---- frames the device drops --------------------------------------------- */

FIXTURE(net_drop) {
	struct nctx n;
};

FIXTURE_SETUP(net_drop)
{
	nctx_init(&self->n);
}

FIXTURE_TEARDOWN(net_drop)
{
	nctx_free(&self->n);
}

/* Frame 0 has 1000 bytes, the others are small. */
static void gen_drop(struct nctx *n, unsigned int seq, uint32_t *len,
		     enum fkind *k)
{
	gen_small(n, seq, len, k);
	if (seq == 0)
		*len = 1000;
}

/*
 * Without MRG_RXBUF a frame must fit in one buffer: a bigger one is
 * dropped, without an error, and the buffer waits for the next frame.
 */
TEST_F(net_drop, rx_frame_too_big)
{
	struct ncfg c = { .vhost_hdr = true, .v1 = true, .num = 256 };
	struct nctx *n = &self->n;
	struct gvq *q = &n->q[VQ_RX];
	unsigned char buf[1200], want[1200];
	uint32_t len, flen;
	struct gseg sg;
	enum fkind k;

	if (!net_open(_metadata, n, &c, 1))
		return;
	ASSERT_TRUE(net_tx_slots(n, 4, 4096));
	net_configure(_metadata, n);
	sg = (struct gseg){ tx_slot(n, 0), 200 };
	gm_fill(&n->g, sg.gpa, RX_POISON, 4096);
	ASSERT_LE(0, gvq_add(q, &sg, 0, 1, 0, 0));
	gvq_kick(q);
	ASSERT_EQ(0, rx_send(n, gen_drop, 0, 0, buf));
	net_flush(n);
	ASSERT_EQ(0, gvq_poll_used(q, 1, 0, NULL, NULL));
	ASSERT_EQ(0, rx_send(n, gen_drop, 1, 0, buf));
	ASSERT_EQ(1, gvq_poll_used(q, 1, TIMEOUT_MS, NULL, &len));
	gen_drop(n, 1, &flen, &k);
	ASSERT_EQ(n->hlen + flen, len);
	gm_read(&n->g, sg.gpa + n->hlen, buf, flen);
	frame_build(want, flen, 1, k);
	ASSERT_EQ(0, memcmp(buf, want, flen));
	net_flush(n);
	ASSERT_EQ(0, eventfd_take(n->err[VQ_RX]));
	ASSERT_ERRNO(0, net_set_backend(n->fd, VQ_RX, -1));
	ASSERT_EQ(1, get_base(n->fd, VQ_RX));
}

/*
 * A frame the tap refuses (a GSO header with gso_size 0) is dropped, and
 * its buffer comes back like any other, without an error; both through
 * vhost's batching of small frames and for a big one.
 */
TEST_F(net_drop, tx_frame_refused_by_tap)
{
	struct ncfg c = { .v1 = true, .mrg = true, .num = 256 };
	struct nctx *n = &self->n;
	struct gvq *q = &n->q[VQ_TX];
	unsigned char *buf = malloc(FRAME_MAX);
	struct virtio_net_hdr h;
	uint32_t lens[3];
	unsigned int i;
	struct gseg sg;
	char why[256];

	if (!net_open(_metadata, n, &c, 1))
		return;
	ASSERT_NE(NULL, buf);
	ASSERT_TRUE(net_tx_slots(n, 4, 24000));
	net_configure(_metadata, n);
	for (i = 0; i < 2; i++) {
		uint32_t len = i ? 20000 : 1000;

		memset(buf, 0, n->hlen);
		frame_hdr(&h, len, F_GSO);
		h.gso_size = 0;
		memcpy(buf, &h, sizeof(h));
		frame_build(buf + n->hlen, len, 100 + i, F_GSO);
		gm_write(&n->g, tx_slot(n, i), buf, n->hlen + len);
		sg = (struct gseg){ tx_slot(n, i), n->hlen + len };
		ASSERT_LE(0, gvq_add(q, &sg, 1, 0, 0, i));
	}
	ASSERT_EQ(0, tx_post(n, 2, 2));
	gvq_kick(q);
	ASSERT_EQ(3, gvq_poll_used(q, 3, TIMEOUT_MS, NULL, lens));
	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, lens[i]);
	ASSERT_EQ(0, tap_expect(n, 0, gen_small, 2, 1, why, sizeof(why)))
		TH_LOG("%s", why);
	net_flush(n);
	ASSERT_FALSE(tap_has_frame(n, 0, 0));
	ASSERT_EQ(0, eventfd_take(n->err[VQ_TX]));
	free(buf);
}

TEST_HARNESS_MAIN
