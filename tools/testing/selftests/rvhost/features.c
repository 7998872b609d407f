// SPDX-License-Identifier: GPL-2.0
/*
 * VHOST_GET/SET_FEATURES, VHOST_GET/SET_FEATURES_ARRAY (vhost-net only)
 * and VHOST_GET/SET_BACKEND_FEATURES.
 *
 * None of them is owner-checked. GET returns what the device offers, not
 * what was acked; the acked set is observed through its effects: with
 * VIRTIO_RING_F_EVENT_IDX the avail ring is 2 bytes longer
 * (vhost_get_avail_size()), which decides whether a ring ending exactly at
 * the top of the user address space passes the access check.
 */
#include "vhost_test.h"

VHOST_FIXTURE(features);

/*
 * Place virtqueue 0's avail ring (1 entry) so that it ends exactly at the
 * top of the user address space without the event index, and 2 bytes past
 * it with. Returns the probe result.
 */
static int event_idx_probe(struct __test_metadata *_metadata, struct vdev *d)
{
	uint64_t avail = user_ptr_max() - (4 + 2 * 1);

	if (set_num(d->fd, 0, 1) ||
	    set_addr(d->fd, 0, 0, uptr(vq_desc(d, 0)), avail,
		     uptr(vq_used(d, 0)), 0))
		return -1;
	return vdev_probe(d);
}

TEST_F(features, get_features)
{
	uint64_t f = 0;

	IOCTL_OK(self->d.fd, VHOST_GET_FEATURES, &f);
	ASSERT_EQ(vdev_features(variant->kind), f);
	/* the same after SET_OWNER and after acking some */
	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	ASSERT_ERRNO(0, set_features(self->d.fd, BIT_ULL(VIRTIO_F_VERSION_1)));
	f = 0;
	IOCTL_OK(self->d.fd, VHOST_GET_FEATURES, &f);
	ASSERT_EQ(vdev_features(variant->kind), f);
}

TEST_F(features, get_features_efault)
{
	IOCTL_ERR(self->d.fd, VHOST_GET_FEATURES, NULL, EFAULT);
	IOCTL_ERR(self->d.fd, VHOST_GET_FEATURES, (void *)KERNEL_ADDR, EFAULT);
}

TEST_F(features, set_features_supported)
{
	uint64_t all = vdev_features(variant->kind);
	int bit;

	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	ASSERT_ERRNO(0, set_features(self->d.fd, all));
	ASSERT_ERRNO(0, set_features(self->d.fd, 0));
	for (bit = 0; bit < 64; bit++) {
		int r;

		if (!(all & BIT_ULL(bit)))
			continue;
		r = set_features(self->d.fd, BIT_ULL(bit));
		ASSERT_EQ(0, r) TH_LOG("bit %d: %s", bit, strerrorname_np(r));
	}
}

TEST_F(features, set_features_unsupported_eopnotsupp)
{
	uint64_t all = vdev_features(variant->kind);
	int bit;

	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	for (bit = 0; bit < 64; bit++) {
		int r;

		if (all & BIT_ULL(bit))
			continue;
		r = set_features(self->d.fd, BIT_ULL(bit));
		ASSERT_EQ(EOPNOTSUPP, r) TH_LOG("bit %d: %s", bit,
						strerrorname_np(r) ?: "0");
		r = set_features(self->d.fd, all | BIT_ULL(bit));
		ASSERT_EQ(EOPNOTSUPP, r) TH_LOG("all | bit %d: %s", bit,
						strerrorname_np(r) ?: "0");
	}
	ASSERT_ERRNO(EOPNOTSUPP, set_features(self->d.fd, ~0ULL));
}

TEST_F(features, set_features_efault)
{
	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	IOCTL_ERR(self->d.fd, VHOST_SET_FEATURES, NULL, EFAULT);
	IOCTL_ERR(self->d.fd, VHOST_SET_FEATURES, (void *)KERNEL_ADDR, EFAULT);
}

/*
 * Acked while running, features take effect at once: vhost_net_set_features()
 * and vhost_vsock_set_features() copy them into every virtqueue, running or
 * not. Seen on the TX queue: when its handler runs out of buffers it asks
 * for the next kick through the used flags (VRING_USED_F_NO_NOTIFY
 * written, then cleared), or with VIRTIO_RING_F_EVENT_IDX through the avail
 * event (used->ring[num], vhost_update_avail_event()) and not the flags.
 */
static void tx_one_more(struct __test_metadata *_metadata, struct vdev *d,
			struct vdev_ring *r, int kick, uint16_t n)
{
	vdev_tx_post(d, r, n - 1, n % 8);
	eventfd_kick(kick);
	ASSERT_TRUE(vdev_ring_wait_used(r, n, 5000)) TH_LOG("buffer %u not used", n);
	vdev_flush(d);
}

TEST_F(features, set_features_while_running)
{
	struct vdev_ring r = vdev_ring_of(&self->d, VDEV_TX_VQ);
	uint16_t *avail_event = (uint16_t *)&r.used->ring[VDEV_NUM];
	int kick = new_eventfd(), call = new_eventfd(), err = new_eventfd();

	ASSERT_LE(0, kick);
	ASSERT_LE(0, call);
	ASSERT_LE(0, err);
	vdev_ready(_metadata, &self->d);
	ASSERT_ERRNO(0, vdev_set_files(&self->d, VDEV_TX_VQ, kick, call, err));
	ASSERT_ERRNO(0, vdev_start(&self->d));
	ASSERT_ERRNO(0, set_features(self->d.fd, BIT_ULL(VIRTIO_F_VERSION_1)));
	ASSERT_ERRNO(0, set_features(self->d.fd, 0));
	vdev_flush(&self->d);
	/* no event index: the used flags */
	*avail_event = 0xbeef;
	r.used->flags = 0x8000;
	tx_one_more(_metadata, &self->d, &r, kick, 1);
	ASSERT_EQ(0, r.used->flags) TH_LOG("used flags not written");
	ASSERT_EQ(0xbeef, *avail_event);
	/* the event index, acked while running: the avail event */
	ASSERT_ERRNO(0, set_features(self->d.fd, BIT_ULL(VIRTIO_RING_F_EVENT_IDX)));
	r.used->flags = 0x8000;
	tx_one_more(_metadata, &self->d, &r, kick, 2);
	ASSERT_EQ(2, *avail_event)
		TH_LOG("avail event not written: the event index acked while running was not used");
	ASSERT_EQ(0x8000, r.used->flags);
	/* and not any more */
	ASSERT_ERRNO(0, set_features(self->d.fd, 0));
	*avail_event = 0xbeef;
	tx_one_more(_metadata, &self->d, &r, kick, 3);
	ASSERT_EQ(0, r.used->flags) TH_LOG("used flags not written");
	ASSERT_EQ(0xbeef, *avail_event);
	ASSERT_EQ(0, eventfd_take(err));
	ASSERT_ERRNO(0, vdev_stop(&self->d));
	ASSERT_EQ(3, get_base(self->d.fd, VDEV_TX_VQ));
}

/* The acked features take effect; a rejected set leaves them alone. */
TEST_F(features, acked_features_take_effect)
{
	vdev_ready(_metadata, &self->d);
	ASSERT_ERRNO(0, event_idx_probe(_metadata, &self->d));
	ASSERT_ERRNO(0, set_features(self->d.fd,
				     BIT_ULL(VIRTIO_RING_F_EVENT_IDX)));
	ASSERT_ERRNO(EFAULT, event_idx_probe(_metadata, &self->d));
	ASSERT_ERRNO(EOPNOTSUPP, set_features(self->d.fd, BIT_ULL(63)));
	ASSERT_ERRNO(EFAULT, event_idx_probe(_metadata, &self->d));
	ASSERT_ERRNO(0, set_features(self->d.fd, BIT_ULL(VIRTIO_F_VERSION_1)));
	ASSERT_ERRNO(0, event_idx_probe(_metadata, &self->d));
}

/* Features acked before SET_OWNER stick. */
TEST_F(features, set_features_before_owner_sticks)
{
	ASSERT_ERRNO(0, set_features(self->d.fd,
				     BIT_ULL(VIRTIO_RING_F_EVENT_IDX)));
	vdev_ready(_metadata, &self->d);
	ASSERT_ERRNO(EFAULT, event_idx_probe(_metadata, &self->d));
}

TEST_F(features, get_backend_features)
{
	uint64_t f = 0;

	IOCTL_OK(self->d.fd, VHOST_GET_BACKEND_FEATURES, &f);
	ASSERT_EQ(BACKEND_FEATURES, f);
	IOCTL_ERR(self->d.fd, VHOST_GET_BACKEND_FEATURES, NULL, EFAULT);
}

TEST_F(features, set_backend_features)
{
	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	ASSERT_ERRNO(0, set_backend_features(self->d.fd, BACKEND_FEATURES));
	ASSERT_ERRNO(0, set_backend_features(self->d.fd, 0));
	ASSERT_ERRNO(0, set_backend_features(self->d.fd, BACKEND_FEATURES));
	IOCTL_ERR(self->d.fd, VHOST_SET_BACKEND_FEATURES, NULL, EFAULT);
}

/*
 * Only VHOST_BACKEND_F_IOTLB_MSG_V2 is offered: no batching, no ASID, no
 * suspend/resume (those are vDPA's).
 */
TEST_F(features, set_backend_features_unsupported_eopnotsupp)
{
	int bit;

	for (bit = 0; bit < 64; bit++) {
		int r;

		if (bit == VHOST_BACKEND_F_IOTLB_MSG_V2)
			continue;
		r = set_backend_features(self->d.fd, BIT_ULL(bit));
		ASSERT_EQ(EOPNOTSUPP, r) TH_LOG("bit %d: %s", bit,
						strerrorname_np(r) ?: "0");
		r = set_backend_features(self->d.fd,
					 BACKEND_FEATURES | BIT_ULL(bit));
		ASSERT_EQ(EOPNOTSUPP, r) TH_LOG("v2 | bit %d: %s", bit,
						strerrorname_np(r) ?: "0");
	}
}

/* ---- VHOST_GET/SET_FEATURES_ARRAY: vhost-net ----------------------------- */

VDEV_FIXTURE(net_features, VDEV_NET);

#define SENTINEL 0x5a5a5a5a5a5a5a5aULL

TEST_F(net_features, get_features_array)
{
	uint64_t a[3] = { 2, SENTINEL, SENTINEL };

	IOCTL_OK(self->d.fd, VHOST_GET_FEATURES_ARRAY, a);
	ASSERT_EQ(2, a[0]);
	ASSERT_EQ(vdev_features(VDEV_NET), a[1]);
	ASSERT_EQ(NET_FEATURES_HI, a[2]);
}

TEST_F(net_features, get_features_array_short)
{
	uint64_t a[3] = { 1, SENTINEL, SENTINEL };

	IOCTL_OK(self->d.fd, VHOST_GET_FEATURES_ARRAY, a);
	ASSERT_EQ(1, a[0]);
	ASSERT_EQ(vdev_features(VDEV_NET), a[1]);
	ASSERT_EQ(SENTINEL, a[2]);
	a[0] = 0;
	a[1] = SENTINEL;
	IOCTL_OK(self->d.fd, VHOST_GET_FEATURES_ARRAY, a);
	ASSERT_EQ(SENTINEL, a[1]);
}

/* Entries past the ones the kernel knows are zeroed. */
TEST_F(net_features, get_features_array_long)
{
	uint64_t a[6] = { 4, SENTINEL, SENTINEL, SENTINEL, SENTINEL, SENTINEL };

	IOCTL_OK(self->d.fd, VHOST_GET_FEATURES_ARRAY, a);
	ASSERT_EQ(4, a[0]);
	ASSERT_EQ(vdev_features(VDEV_NET), a[1]);
	ASSERT_EQ(NET_FEATURES_HI, a[2]);
	ASSERT_EQ(0, a[3]);
	ASSERT_EQ(0, a[4]);
	ASSERT_EQ(SENTINEL, a[5]);
}

TEST_F(net_features, get_features_array_efault)
{
	unsigned char *page = guarded_page();
	uint64_t *a;

	ASSERT_NE(NULL, page);
	IOCTL_ERR(self->d.fd, VHOST_GET_FEATURES_ARRAY, NULL, EFAULT);
	/* count readable, the entries not */
	a = (uint64_t *)(page + 4096 - 8);
	a[0] = 2;
	IOCTL_ERR(self->d.fd, VHOST_GET_FEATURES_ARRAY, a, EFAULT);
	/* the known entries fit, the zeroed tail does not */
	a = (uint64_t *)(page + 4096 - 8 * 4);
	a[0] = 100;
	a[1] = a[2] = a[3] = SENTINEL;
	IOCTL_ERR(self->d.fd, VHOST_GET_FEATURES_ARRAY, a, EFAULT);
	ASSERT_EQ(vdev_features(VDEV_NET), a[1]);
	ASSERT_EQ(NET_FEATURES_HI, a[2]);
	/* a tail too large for the address space faults, too */
	a[0] = 1ULL << 61;
	a[1] = a[2] = SENTINEL;
	IOCTL_ERR(self->d.fd, VHOST_GET_FEATURES_ARRAY, a, EFAULT);
	ASSERT_EQ(vdev_features(VDEV_NET), a[1]);
}

TEST_F(net_features, set_features_array)
{
	uint64_t a[4];

	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	a[0] = 2, a[1] = vdev_features(VDEV_NET), a[2] = NET_FEATURES_HI;
	IOCTL_OK(self->d.fd, VHOST_SET_FEATURES_ARRAY, a);
	a[0] = 1, a[1] = vdev_features(VDEV_NET);
	IOCTL_OK(self->d.fd, VHOST_SET_FEATURES_ARRAY, a);
	a[0] = 0;
	IOCTL_OK(self->d.fd, VHOST_SET_FEATURES_ARRAY, a);
	/* zero entries past the known ones are fine */
	a[0] = 3, a[1] = 0, a[2] = NET_FEATURES_HI, a[3] = 0;
	IOCTL_OK(self->d.fd, VHOST_SET_FEATURES_ARRAY, a);
}

TEST_F(net_features, set_features_array_unsupported_eopnotsupp)
{
	uint64_t a[5];
	int bit;

	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	for (bit = 0; bit < 128; bit++) {
		uint64_t lo = bit < 64 ? BIT_ULL(bit) : 0;
		uint64_t hi = bit >= 64 ? BIT_ULL(bit - 64) : 0;
		bool ok = (lo & vdev_features(VDEV_NET)) || (hi & NET_FEATURES_HI);
		int r;

		a[0] = 2, a[1] = lo, a[2] = hi;
		r = ioctl_errno(self->d.fd, VHOST_SET_FEATURES_ARRAY, a);
		ASSERT_EQ(ok ? 0 : EOPNOTSUPP, r)
			TH_LOG("bit %d: %s", bit, strerrorname_np(r) ?: "0");
	}
	/* anything set past the known entries */
	a[0] = 3, a[1] = 0, a[2] = 0, a[3] = 1;
	IOCTL_ERR(self->d.fd, VHOST_SET_FEATURES_ARRAY, a, EOPNOTSUPP);
	a[0] = 4, a[3] = 0, a[4] = BIT_ULL(63);
	IOCTL_ERR(self->d.fd, VHOST_SET_FEATURES_ARRAY, a, EOPNOTSUPP);
	/* count 1 cannot reach the second word */
	a[0] = 1, a[1] = vdev_features(VDEV_NET), a[2] = ~0ULL;
	IOCTL_OK(self->d.fd, VHOST_SET_FEATURES_ARRAY, a);
}

TEST_F(net_features, set_features_array_efault)
{
	unsigned char *page = guarded_page();
	uint64_t *a;

	ASSERT_NE(NULL, page);
	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	IOCTL_ERR(self->d.fd, VHOST_SET_FEATURES_ARRAY, NULL, EFAULT);
	a = (uint64_t *)(page + 4096 - 16);
	a[0] = 2, a[1] = 0;
	IOCTL_ERR(self->d.fd, VHOST_SET_FEATURES_ARRAY, a, EFAULT);
	/* entries past the known ones are read one by one */
	a = (uint64_t *)(page + 4096 - 8 * 4);
	a[0] = 100, a[1] = a[2] = a[3] = 0;
	IOCTL_ERR(self->d.fd, VHOST_SET_FEATURES_ARRAY, a, EFAULT);
	/* an unsupported bit in an entry read before the fault wins */
	a[3] = 1;
	IOCTL_ERR(self->d.fd, VHOST_SET_FEATURES_ARRAY, a, EOPNOTSUPP);
}

/* The array form acks, too; count 0 acks nothing. */
TEST_F(net_features, features_array_takes_effect)
{
	uint64_t a[3];

	vdev_ready(_metadata, &self->d);
	a[0] = 2, a[1] = BIT_ULL(VIRTIO_RING_F_EVENT_IDX), a[2] = 0;
	IOCTL_OK(self->d.fd, VHOST_SET_FEATURES_ARRAY, a);
	ASSERT_ERRNO(EFAULT, event_idx_probe(_metadata, &self->d));
	a[0] = 0;
	IOCTL_OK(self->d.fd, VHOST_SET_FEATURES_ARRAY, a);
	ASSERT_ERRNO(0, event_idx_probe(_metadata, &self->d));
	a[0] = 1, a[1] = BIT_ULL(VIRTIO_RING_F_EVENT_IDX);
	IOCTL_OK(self->d.fd, VHOST_SET_FEATURES_ARRAY, a);
	ASSERT_ERRNO(EFAULT, event_idx_probe(_metadata, &self->d));
	/* and SET_FEATURES replaces what the array acked */
	ASSERT_ERRNO(0, set_features(self->d.fd, 0));
	ASSERT_ERRNO(0, event_idx_probe(_metadata, &self->d));
}

/* ---- vhost-vsock has no FEATURES_ARRAY ----------------------------------- */

VDEV_FIXTURE(vsock_features, VDEV_VSOCK);

/*
 * Unknown to vhost_vsock_dev_ioctl(), so they end in vhost_vring_ioctl(),
 * which takes the low 32 bits of count for a virtqueue index: EPERM before
 * SET_OWNER, ENOBUFS for count >= 2, ENOTTY otherwise.
 */
TEST_F(vsock_features, features_array_unsupported)
{
	uint64_t a[3] = { 0, 0, 0 };

	IOCTL_ERR(self->d.fd, VHOST_GET_FEATURES_ARRAY, a, EPERM);
	IOCTL_ERR(self->d.fd, VHOST_SET_FEATURES_ARRAY, a, EPERM);
	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	IOCTL_ERR(self->d.fd, VHOST_GET_FEATURES_ARRAY, a, ENOTTY);
	IOCTL_ERR(self->d.fd, VHOST_SET_FEATURES_ARRAY, a, ENOTTY);
	a[0] = 1;
	IOCTL_ERR(self->d.fd, VHOST_GET_FEATURES_ARRAY, a, ENOTTY);
	ASSERT_EQ(0, a[1]);
	a[0] = 2;
	IOCTL_ERR(self->d.fd, VHOST_GET_FEATURES_ARRAY, a, ENOBUFS);
	IOCTL_ERR(self->d.fd, VHOST_SET_FEATURES_ARRAY, a, ENOBUFS);
	ASSERT_EQ(0, a[1]);
	IOCTL_ERR(self->d.fd, VHOST_GET_FEATURES_ARRAY, NULL, EFAULT);
}

TEST_HARNESS_MAIN
