// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-net data path: a fake guest (net_guest.h) sends and receives
 * frames through a tap, as QEMU sets it up, in every ring and header
 * configuration: who handles the virtio-net header (vhost with
 * VHOST_NET_F_VIRTIO_NET_HDR, or the tap with IFF_VNET_HDR), its size
 * (10, 12 with MRG_RXBUF or VERSION_1, 24 with the UDP tunnel features),
 * mergeable receive buffers, indirect descriptors, event index, in-order,
 * ring sizes 1 to 32768, split and packed rings (the packed variants skip
 * when the device does not offer VIRTIO_F_RING_PACKED, as the C driver
 * does not).
 *
 * tx/rx: frames of 60 bytes to 64 KiB, plain, TCP, checksum offload and
 * TSO (a GSO header), in several buffer layouts; every byte, the offload
 * state, used lengths and num_buffers are checked.
 * tx_bulk/rx_bulk: hundreds of frames, the ring wrapping several times and
 * the 16-bit indices wrapping at 65535, with the call eventfd as the only
 * sign of progress (a lost wakeup is a failure).
 */
#include "net_test.h"

FIXTURE(net_traffic) {
	struct nctx n;
};

FIXTURE_VARIANT(net_traffic) {
	struct ncfg c;
};

#define NT_VARIANT(name, ...)						\
	FIXTURE_VARIANT_ADD(net_traffic, name) { .c = { __VA_ARGS__ } }

/* vhost adds and strips the header; the tap has no IFF_VNET_HDR */
NT_VARIANT(vhdr, .vhost_hdr = true, .num = 256);
NT_VARIANT(vhdr_mrg, .vhost_hdr = true, .mrg = true, .num = 256);
NT_VARIANT(vhdr_v1, .vhost_hdr = true, .v1 = true, .num = 256);
NT_VARIANT(vhdr_tunnel, .vhost_hdr = true, .v1 = true, .mrg = true,
	   .tunnel = true, .num = 256);
/* the tap handles the header (IFF_VNET_HDR, TUNSETVNETHDRSZ) */
NT_VARIANT(tap, .num = 256);
NT_VARIANT(tap_mrg, .mrg = true, .num = 256);
NT_VARIANT(tap_v1, .v1 = true, .num = 256);
NT_VARIANT(tap_v1_indirect, .v1 = true, .indirect = true, .num = 256);
NT_VARIANT(v1_mrg, .v1 = true, .mrg = true, .num = 256);
NT_VARIANT(indirect, .v1 = true, .mrg = true, .indirect = true, .num = 256);
NT_VARIANT(event_idx, .v1 = true, .mrg = true, .event_idx = true, .num = 256);
NT_VARIANT(in_order, .v1 = true, .mrg = true, .in_order = true, .num = 256);
NT_VARIANT(in_order_nomrg, .v1 = true, .in_order = true, .num = 256);
NT_VARIANT(qemu, .v1 = true, .mrg = true, .indirect = true, .event_idx = true,
	   .in_order = true, .num = 256);
/* busy polling: the worker spins up to 50 us for more work */
NT_VARIANT(busy_poll, .v1 = true, .mrg = true, .event_idx = true,
	   .busyloop = 50, .num = 256);
/* a tap with a limited send buffer: TX one sendmsg per frame, MSG_MORE */
NT_VARIANT(sndbuf, .v1 = true, .mrg = true, .sndbuf = 1 << 22, .num = 256);
NT_VARIANT(vhdr_sndbuf, .vhost_hdr = true, .sndbuf = 1 << 22, .num = 256);
NT_VARIANT(ring1, .v1 = true, .mrg = true, .num = 1);
NT_VARIANT(ring1_indirect, .v1 = true, .indirect = true, .event_idx = true,
	   .num = 1);
NT_VARIANT(ring2, .v1 = true, .mrg = true, .event_idx = true, .num = 2);
NT_VARIANT(ring32768, .v1 = true, .mrg = true, .indirect = true,
	   .event_idx = true, .num = 32768);
/* packed rings */
NT_VARIANT(packed, .v1 = true, .mrg = true, .packed = true, .num = 256);
NT_VARIANT(packed_indirect_event_idx, .v1 = true, .mrg = true,
	   .indirect = true, .event_idx = true, .packed = true, .num = 256);
NT_VARIANT(packed_in_order, .v1 = true, .mrg = true, .in_order = true,
	   .event_idx = true, .packed = true, .num = 256);
NT_VARIANT(packed_nomrg, .v1 = true, .packed = true, .num = 256);
NT_VARIANT(packed_ring1, .v1 = true, .mrg = true, .packed = true, .num = 1);
NT_VARIANT(packed_ring2, .v1 = true, .indirect = true, .event_idx = true,
	   .packed = true, .num = 2);
NT_VARIANT(packed_ring32768, .v1 = true, .mrg = true, .event_idx = true,
	   .packed = true, .num = 32768);

FIXTURE_SETUP(net_traffic)
{
	net_open(_metadata, &self->n, &variant->c, 1);
}

FIXTURE_TEARDOWN(net_traffic)
{
	nctx_free(&self->n);
}

/* ---- frame sequences ------------------------------------------------------- */

/* 60 bytes to 64 KiB; around the 2 KiB receive buffer; offloads. */
static const struct fsize sizes[] = {
	{ F_PLAIN, 64 }, { F_PLAIN, 60 }, { F_TCP, 65 }, { F_PLAIN, 127 },
	{ F_TCP, 128 }, { F_PLAIN, 1514 }, { F_CSUM, 1514 }, { F_TCP, 1515 },
	{ F_PLAIN, 2035 }, { F_PLAIN, 2036 }, { F_PLAIN, 2037 },
	{ F_PLAIN, 2038 }, { F_PLAIN, 2060 }, { F_GSO, 3000 }, { F_PLAIN, 4084 },
	{ F_PLAIN, 4096 }, { F_CSUM, 9014 }, { F_PLAIN, 9014 },
	{ F_GSO, 20000 }, { F_PLAIN, 32768 }, { F_GSO, 64054 },
	{ F_PLAIN, 65535 }, { F_PLAIN, FRAME_MAX },
};

#define NSIZES	ARRAY_SIZE(sizes)

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

/* Mostly small frames of random sizes and kinds, now and then a big one. */
static void gen_tx_bulk(struct nctx *n, unsigned int seq, uint32_t *len,
			enum fkind *k)
{
	gen_mixed(n, seq, 1000, 61, len, k, false);
}

static void gen_rx_bulk(struct nctx *n, unsigned int seq, uint32_t *len,
			enum fkind *k)
{
	gen_mixed(n, seq, 1000, 61, len, k, true);
}

#define BULK_MAX	(20000 + 32)

static unsigned int bulk_count(const struct nctx *n)
{
	return n->cfg.num == 256 ? 1000 : 300;
}

/* A base just before the 16-bit indices (split) or the ring (packed) wrap. */
static void bulk_base(struct nctx *n)
{
	int vq;

	for (vq = 0; vq < VDEV_NVQS; vq++) {
		if (n->cfg.packed)
			n->base[vq] = n->cfg.num > 4 ? n->cfg.num - 3 : 0;
		else
			n->base[vq] = 0x10000 - 150;
	}
}

static unsigned int min_u(unsigned int a, unsigned int b)
{
	return a < b ? a : b;
}

/* ---- tests ------------------------------------------------------------------ */

TEST_F_TIMEOUT(net_traffic, tx, 60)
{
	struct nctx *n = &self->n;
	struct txspec s = {
		.count = NSIZES, .depth = min_u(n->cfg.num, 8),
		.gen = gen_tx_sizes, .tap = 0,
	};
	char why[512];

	ASSERT_TRUE(net_tx_slots(n, s.depth, FRAME_MAX + n->hlen));
	net_configure(_metadata, n);
	ASSERT_EQ(0, tx_run(n, &s, why, sizeof(why))) TH_LOG("%s", why);
	net_stop_check_base(_metadata, n);
}

TEST_F_TIMEOUT(net_traffic, rx, 60)
{
	struct nctx *n = &self->n;
	struct rxspec s = { .count = NSIZES, .window = 16, .gen = gen_rx_sizes };
	char why[512];

	ASSERT_TRUE(net_rx_slots(n));
	net_configure(_metadata, n);
	ASSERT_LT(0, rx_fill(n));
	ASSERT_EQ(0, rx_run(n, &s, why, sizeof(why))) TH_LOG("%s", why);
	net_stop_check_base(_metadata, n);
}

TEST_F_TIMEOUT(net_traffic, tx_bulk, 120)
{
	struct nctx *n = &self->n;
	struct txspec s = {
		.count = bulk_count(n), .depth = min_u(n->cfg.num, 64),
		.gen = gen_tx_bulk, .tap = 0,
	};
	char why[512];

	ASSERT_TRUE(net_tx_slots(n, s.depth, BULK_MAX));
	bulk_base(n);
	net_configure(_metadata, n);
	ASSERT_EQ(0, tx_run(n, &s, why, sizeof(why))) TH_LOG("%s", why);
	net_stop_check_base(_metadata, n);
}

TEST_F_TIMEOUT(net_traffic, rx_bulk, 120)
{
	struct nctx *n = &self->n;
	struct rxspec s = {
		.count = bulk_count(n), .window = 64, .gen = gen_rx_bulk,
	};
	char why[512];

	ASSERT_TRUE(net_rx_slots(n));
	bulk_base(n);
	net_configure(_metadata, n);
	ASSERT_LT(0, rx_fill(n));
	ASSERT_EQ(0, rx_run(n, &s, why, sizeof(why))) TH_LOG("%s", why);
	net_stop_check_base(_metadata, n);
}

TEST_HARNESS_MAIN
