/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What a vhost-net data path test includes: vhost_test.h, the fake guest
 * of net_guest.h, and the set-up helpers that assert. Those are static
 * inline here, as in vhost_test.h (which says why), and belong to the
 * test's main thread.
 */
#ifndef RVHOST_NET_TEST_H
#define RVHOST_NET_TEST_H

#include "vhost_test.h"
#include "net_guest.h"

/*
 * Open /dev/vhost-net for cfg with ntaps taps and guest memory. Returns
 * false after SKIP() when the test cannot run here (no device, no tun,
 * packed ring not offered).
 */
static inline bool net_open(struct __test_metadata *_metadata, struct nctx *n,
			    const struct ncfg *c, int ntaps)
{
	const char *what = "";
	int i, r;

	nctx_init(n);
	n->cfg = *c;
	n->hlen = ncfg_hlen(c);
	n->fd = open(VHOST_NET_PATH, O_RDWR | O_CLOEXEC);
	if (n->fd < 0 && (errno == ENOENT || errno == ENODEV || errno == ENXIO))
		SKIP(return false, "%s: %s", VHOST_NET_PATH, strerror(errno));
	ASSERT_LE(0, n->fd);
	ASSERT_ERRNO(0, ioctl_errno(n->fd, VHOST_GET_FEATURES, &n->offered));
	if (c->packed && !(n->offered & BIT_ULL(VIRTIO_F_RING_PACKED)))
		SKIP(return false, "VIRTIO_F_RING_PACKED not offered");
	ASSERT_EQ(0, gm_init(&n->g));
	for (i = 0; i < VDEV_NVQS; i++) {
		ASSERT_EQ(0, gvq_alloc(&n->q[i], &n->g, c->num, c->packed));
		n->kick[i] = new_eventfd();
		n->call[i] = new_eventfd();
		n->err[i] = new_eventfd();
		ASSERT_LE(0, n->kick[i]);
		ASSERT_LE(0, n->call[i]);
		ASSERT_LE(0, n->err[i]);
	}
	for (i = 0; i < ntaps; i++) {
		r = ntap_open(&n->tap[i], c, &what);
		n->ntaps = i + 1;
		if (r == -ENOENT)
			SKIP(return false, "no /dev/net/tun");
		ASSERT_EQ(0, r) TH_LOG("tap %d: %s: %s", i, what, strerror(-r));
	}
	return true;
}

/* Set up one virtqueue's rings, base and eventfds (not the backend). */
static inline void net_setup_vq(struct __test_metadata *_metadata,
				struct nctx *n, int vq)
{
	struct gvq *q = &n->q[vq];

	gvq_reset(q, n->cfg.event_idx, n->cfg.in_order, n->base[vq]);
	q->kick = n->kick[vq];
	q->call = n->call[vq];
	ASSERT_ERRNO(0, set_num(n->fd, vq, n->cfg.num));
	ASSERT_ERRNO(0, set_base(n->fd, vq, gvq_vring_base(q, n->base[vq])));
	ASSERT_ERRNO(0, set_addr(n->fd, vq, 0, gvq_uaddr(q, 0), gvq_uaddr(q, 1),
				 gvq_uaddr(q, 2), 0));
	ASSERT_ERRNO(0, set_vring_file(n->fd, VHOST_SET_VRING_KICK, vq, n->kick[vq]));
	ASSERT_ERRNO(0, set_vring_file(n->fd, VHOST_SET_VRING_CALL, vq, n->call[vq]));
	ASSERT_ERRNO(0, set_vring_file(n->fd, VHOST_SET_VRING_ERR, vq, n->err[vq]));
	if (n->cfg.busyloop) {
		struct vhost_vring_state s = { vq, n->cfg.busyloop };

		IOCTL_OK(n->fd, VHOST_SET_VRING_BUSYLOOP_TIMEOUT, &s);
	}
	eventfd_take(n->call[vq]);
	eventfd_take(n->err[vq]);
}

/*
 * Everything QEMU does before the guest runs: owner, features, memory
 * table, both rings at n->base[], eventfds, and the tap as the backend of
 * both queues. Also what it does again after VHOST_RESET_OWNER.
 */
static inline void net_configure(struct __test_metadata *_metadata,
				 struct nctx *n)
{
	int vq;

	IOCTL_OK(n->fd, VHOST_SET_OWNER, NULL);
	ASSERT_ERRNO(0, net_set_features(n));
	ASSERT_ERRNO(0, gm_set_mem_table(&n->g, n->fd));
	for (vq = 0; vq < VDEV_NVQS; vq++)
		net_setup_vq(_metadata, n, vq);
	for (vq = 0; vq < VDEV_NVQS; vq++)
		ASSERT_ERRNO(0, net_set_backend(n->fd, vq,
						n->tap[n->backend].fd));
	/* the handler runs that starting the queues queued are over */
	net_flush(n);
}

/* Stop both queues; their bases must be where the guest is. */
static inline void net_stop_check_base(struct __test_metadata *_metadata,
				       struct nctx *n)
{
	int vq;

	for (vq = 0; vq < VDEV_NVQS; vq++) {
		ASSERT_ERRNO(0, net_set_backend(n->fd, vq, -1));
		ASSERT_EQ(gvq_expected_base(&n->q[vq]), get_base(n->fd, vq))
			TH_LOG("vq %d", vq);
		ASSERT_EQ(0, eventfd_take(n->err[vq])) TH_LOG("error eventfd of vq %d", vq);
	}
}

/*
 * count frames of gen each way, at most depth outstanding, all checked,
 * and no error signalled.
 */
static inline void net_traffic_ok(struct __test_metadata *_metadata,
				  struct nctx *n, unsigned int count,
				  unsigned int depth, frame_gen gen)
{
	struct txspec tx = { .count = count, .depth = depth, .gen = gen };
	struct rxspec rx = { .count = count, .window = depth, .gen = gen };
	char why[512];

	tx.tap = 0;
	ASSERT_EQ(0, tx_run(n, &tx, why, sizeof(why))) TH_LOG("%s", why);
	/* every RX slot posted (an earlier run's may still be) */
	rx_fill(n);
	ASSERT_EQ(0, rx_run(n, &rx, why, sizeof(why))) TH_LOG("%s", why);
	ASSERT_EQ(0, eventfd_take(n->err[VQ_TX]));
	ASSERT_EQ(0, eventfd_take(n->err[VQ_RX]));
}

#endif /* RVHOST_NET_TEST_H */
