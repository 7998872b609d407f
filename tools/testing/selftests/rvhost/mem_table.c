// SPDX-License-Identifier: GPL-2.0
/*
 * VHOST_SET_MEM_TABLE (vhost_set_memory() in drivers/vhost/vhost.c).
 *
 * What C checks, in order: the header is readable (EFAULT), padding is 0
 * (EOPNOTSUPP), nregions <= the max_mem_regions module parameter (E2BIG),
 * the regions are readable (EFAULT), every region's last address
 * (guest_phys_addr + memory_size - 1) does not wrap below its start
 * (EFAULT; so a zero-sized region is refused unless it starts at 0).
 * Overlapping, duplicate and unaligned regions are accepted. Whether the
 * userspace addresses are valid user memory is only checked for virtqueues
 * that are running (EFAULT, old table kept), otherwise when a virtqueue
 * is started.
 */
#include "vhost_test.h"

VHOST_FIXTURE(mem_table);

TEST_F(mem_table, before_owner_eperm)
{
	ASSERT_ERRNO(EPERM, set_mem_empty(self->d.fd));
	ASSERT_ERRNO(EPERM, vdev_set_mem(&self->d));
}

TEST_F(mem_table, from_child_eperm)
{
	struct vhost_memory *m = shared_alloc(4096);

	ASSERT_NE(NULL, m);
	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	ASSERT_ERRNO(EPERM, child_ioctl(self->d.fd, VHOST_SET_MEM_TABLE, m));
}

/* Without a table no virtqueue can start; an empty table will do. */
TEST_F(mem_table, no_table_no_start)
{
	vdev_ready(_metadata, &self->d);
	ASSERT_ERRNO(0, vdev_probe(&self->d));
	vdev_close(&self->d);

	vdev_open(_metadata, &self->d, variant->kind);
	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	ASSERT_ERRNO(0, vdev_set_addr(&self->d, 0));
	ASSERT_ERRNO(0, vdev_set_addr(&self->d, 1));
	ASSERT_ERRNO(EFAULT, vdev_probe(&self->d));
	ASSERT_ERRNO(0, set_mem_empty(self->d.fd));
	ASSERT_ERRNO(0, vdev_probe(&self->d));
}

TEST_F(mem_table, one_region)
{
	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	ASSERT_ERRNO(0, vdev_set_mem(&self->d));
	/* replacing it */
	ASSERT_ERRNO(0, set_mem_one(self->d.fd, 0x100000, 0x1000,
				    uptr(self->d.mem)));
	ASSERT_ERRNO(0, set_mem_empty(self->d.fd));
	ASSERT_ERRNO(0, vdev_set_mem(&self->d));
}

TEST_F(mem_table, bad_pointer_efault)
{
	unsigned char *page = guarded_page();
	struct vhost_memory *m;

	ASSERT_NE(NULL, page);
	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	IOCTL_ERR(self->d.fd, VHOST_SET_MEM_TABLE, NULL, EFAULT);
	IOCTL_ERR(self->d.fd, VHOST_SET_MEM_TABLE, (void *)KERNEL_ADDR, EFAULT);
	/* header only partly readable */
	IOCTL_ERR(self->d.fd, VHOST_SET_MEM_TABLE, page + 4096 - 4, EFAULT);
	/* header readable, regions not */
	m = (struct vhost_memory *)(page + 4096 - 8);
	m->nregions = 1;
	m->padding = 0;
	IOCTL_ERR(self->d.fd, VHOST_SET_MEM_TABLE, m, EFAULT);
	/* and with no regions that header is all there is to read */
	m->nregions = 0;
	IOCTL_OK(self->d.fd, VHOST_SET_MEM_TABLE, m);
	/* a header claiming one region more than there is */
	m = (struct vhost_memory *)(page + 4096 - 8 -
				    2 * sizeof(struct vhost_memory_region));
	memset(m, 0, 8 + 2 * sizeof(struct vhost_memory_region));
	m->nregions = 3;
	m->regions[0].memory_size = 0x1000;
	m->regions[0].userspace_addr = uptr(self->d.mem);
	m->regions[1] = m->regions[0];
	m->regions[1].guest_phys_addr = 0x1000;
	IOCTL_ERR(self->d.fd, VHOST_SET_MEM_TABLE, m, EFAULT);
	m->nregions = 2;
	IOCTL_OK(self->d.fd, VHOST_SET_MEM_TABLE, m);
}

TEST_F(mem_table, padding_eopnotsupp)
{
	struct vhost_memory m = { .nregions = 0, .padding = 1 };

	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	IOCTL_ERR(self->d.fd, VHOST_SET_MEM_TABLE, &m, EOPNOTSUPP);
	m.padding = 0x80000000;
	IOCTL_ERR(self->d.fd, VHOST_SET_MEM_TABLE, &m, EOPNOTSUPP);
	/* padding is checked before the region count */
	m.nregions = 0xffffffff;
	IOCTL_ERR(self->d.fd, VHOST_SET_MEM_TABLE, &m, EOPNOTSUPP);
	/* nothing was installed */
	ASSERT_ERRNO(0, vdev_set_addr(&self->d, 0));
	ASSERT_ERRNO(0, vdev_set_addr(&self->d, 1));
	ASSERT_ERRNO(EFAULT, vdev_probe(&self->d));
}

TEST_F(mem_table, max_regions)
{
	unsigned int max = max_mem_regions(variant->kind), i;
	struct mem_table *t = mem_table_alloc(max + 1);

	ASSERT_NE(NULL, t);
	TH_LOG("max_mem_regions = %u", max);
	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	for (i = 0; i <= max; i++) {
		t->r[i].guest_phys_addr = i * 0x1000ULL;
		t->r[i].memory_size = 0x1000;
		t->r[i].userspace_addr = uptr(self->d.mem) + i * 0x10ULL;
	}
	t->hdr.nregions = max;
	IOCTL_OK(self->d.fd, VHOST_SET_MEM_TABLE, t);
	t->hdr.nregions = max + 1;
	IOCTL_ERR(self->d.fd, VHOST_SET_MEM_TABLE, t, E2BIG);
	free(t);
}

/* The count is checked before the regions are read. */
TEST_F(mem_table, too_many_regions_e2big)
{
	unsigned int max = max_mem_regions(variant->kind);
	struct vhost_memory m = { 0 };

	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	m.nregions = max + 1;
	IOCTL_ERR(self->d.fd, VHOST_SET_MEM_TABLE, &m, E2BIG);
	m.nregions = 0x10000;
	IOCTL_ERR(self->d.fd, VHOST_SET_MEM_TABLE, &m, E2BIG);
	m.nregions = 0xffffffff;
	IOCTL_ERR(self->d.fd, VHOST_SET_MEM_TABLE, &m, E2BIG);
}

TEST_F(mem_table, zero_size_region_efault)
{
	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	ASSERT_ERRNO(EFAULT, set_mem_one(self->d.fd, 0x1000, 0,
					 uptr(self->d.mem)));
	ASSERT_ERRNO(EFAULT, set_mem_one(self->d.fd, 0xfffffffffffff000ULL, 0,
					 uptr(self->d.mem)));
}

/*
 * A zero-sized region at guest address 0 is the one exception: its last
 * address wraps to ~0 and it covers the whole 64-bit space, which is taken
 * (vhost_iotlb_add_range() splits [0, ~0] in two) -- and then refused by
 * the access check when a virtqueue starts, as no user mapping is that big.
 */
TEST_F(mem_table, zero_size_region_at_zero)
{
	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	ASSERT_ERRNO(0, vdev_set_addr(&self->d, 0));
	ASSERT_ERRNO(0, vdev_set_addr(&self->d, 1));
	ASSERT_ERRNO(0, set_mem_one(self->d.fd, 0, 0, uptr(self->d.mem)));
	ASSERT_ERRNO(EFAULT, vdev_probe(&self->d));
}

TEST_F(mem_table, wrapping_region_efault)
{
	struct mem_table *t = mem_table_alloc(2);

	ASSERT_NE(NULL, t);
	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	ASSERT_ERRNO(EFAULT, set_mem_one(self->d.fd, 0xfffffffffffff000ULL,
					 0x2000, uptr(self->d.mem)));
	ASSERT_ERRNO(EFAULT, set_mem_one(self->d.fd, 2, ~0ULL,
					 uptr(self->d.mem)));
	/* ending exactly at ~0 is fine */
	ASSERT_ERRNO(0, set_mem_one(self->d.fd, 0xfffffffffffff000ULL,
				    0x1000, uptr(self->d.mem)));
	/* one bad region fails the whole table */
	t->r[0].guest_phys_addr = 0;
	t->r[0].memory_size = 0x1000;
	t->r[0].userspace_addr = uptr(self->d.mem);
	t->r[1] = t->r[0];
	t->r[1].guest_phys_addr = 0x2000;
	t->r[1].memory_size = 0;
	IOCTL_ERR(self->d.fd, VHOST_SET_MEM_TABLE, t, EFAULT);
	free(t);
}

/* A failed SET_MEM_TABLE keeps the table that was there. */
TEST_F(mem_table, failed_set_keeps_old_table)
{
	struct vhost_memory pad = { .padding = 1 };

	vdev_ready(_metadata, &self->d);
	/* a table the access check rejects */
	ASSERT_ERRNO(0, set_mem_one(self->d.fd, 0, 0x1000, KERNEL_ADDR));
	ASSERT_ERRNO(EFAULT, vdev_probe(&self->d));
	ASSERT_ERRNO(EFAULT, set_mem_one(self->d.fd, 0x1000, 0,
					 uptr(self->d.mem)));
	IOCTL_ERR(self->d.fd, VHOST_SET_MEM_TABLE, &pad, EOPNOTSUPP);
	ASSERT_ERRNO(EFAULT, vdev_probe(&self->d));
	ASSERT_ERRNO(0, vdev_set_mem(&self->d));
	ASSERT_ERRNO(0, vdev_probe(&self->d));
	ASSERT_ERRNO(EFAULT, set_mem_one(self->d.fd, 0x1000, 0, KERNEL_ADDR));
	ASSERT_ERRNO(0, vdev_probe(&self->d));
}

/* ---- where the device writes: RX buffers through the table ---------------- */

/*
 * The regions of a table decide where in user memory the device writes
 * what the guest receives: an RX buffer at a guest address, then a packet
 * -- vhost-net: a frame sent out of a tap that is the RX backend (vhost
 * adds a zeroed 10-byte header, VHOST_NET_F_VIRTIO_NET_HDR); vhost-vsock:
 * a host connect() to the guest's CID (a REQUEST header). The test knows
 * where the bytes must land (the user pieces) and checks them there, and
 * that nothing else in the poisoned part of d->mem changed.
 */
#define MT_RX_VQ	0
#define MT_POISON	0xcc
#define MT_WIN_OFF	0x10000UL	/* poisoned: d->mem[MT_WIN_OFF, end) */
#define MT_ETHERTYPE	0x88b5
#define MT_FRAME_LEN	64

struct mt_rx {
	struct vdev_ring r;
	int tap, pkt, ifindex;		/* vhost-net */
	unsigned int cid;		/* vhost-vsock */
	int socks[8];
	unsigned int n;			/* packets received */
	unsigned char allowed[VDEV_MEM_SIZE];	/* bytes written so far */
};

struct mt_piece {
	unsigned long off;		/* in d->mem */
	unsigned int len;
};

static void mt_rx_open(struct __test_metadata *_metadata, struct vdev *d,
		       struct mt_rx *p)
{
	char name[IFNAMSIZ];
	unsigned int i;

	memset(p, 0, sizeof(*p));
	p->tap = p->pkt = -1;
	for (i = 0; i < ARRAY_SIZE(p->socks); i++)
		p->socks[i] = -1;
	p->r = vdev_ring_of(d, MT_RX_VQ);
	memset(d->mem + MT_WIN_OFF, MT_POISON, VDEV_MEM_SIZE - MT_WIN_OFF);
	if (d->kind == VDEV_VSOCK) {
		p->cid = test_cid(1);
		ASSERT_ERRNO(0, vsock_set_cid(d->fd, p->cid));
		return;
	}
	ASSERT_ERRNO(0, set_features(d->fd, BIT_ULL(VHOST_NET_F_VIRTIO_NET_HDR)));
	p->tap = tap_open(name, IFF_TAP | IFF_NO_PI);
	if (p->tap == -ENOENT || p->tap == -ENODEV)
		SKIP(return, "no /dev/net/tun");
	ASSERT_LE(0, p->tap) TH_LOG("TUNSETIFF: %s", strerror(-p->tap));
	ASSERT_EQ(0, if_up(name));
	p->ifindex = if_index(name);
	ASSERT_LT(0, p->ifindex);
	p->pkt = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	ASSERT_LE(0, p->pkt);
}

/*
 * The host's connecting sockets hold the vhost-vsock module until their
 * connect times out (mt_rx_send() made that 1 s): wait for it, so that
 * the module can be unloaded when the test is over.
 */
static void mt_rx_close(struct mt_rx *p)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(p->socks); i++) {
		struct pollfd pf = { .fd = p->socks[i], .events = POLLOUT };

		if (pf.fd < 0)
			continue;
		poll(&pf, 1, 5000);
		close(pf.fd);
	}
	if (p->pkt >= 0)
		close(p->pkt);
	if (p->tap >= 0)
		close(p->tap);
}

/* Start the RX queue: the tap as its backend, or SET_RUNNING. */
static int mt_rx_start(struct vdev *d, struct mt_rx *p)
{
	if (d->kind == VDEV_VSOCK)
		return vsock_set_running(d->fd, 1);
	return net_set_backend(d->fd, MT_RX_VQ, p->tap);
}

static void mt_frame(unsigned char *f, unsigned int tag)
{
	unsigned int i;

	memset(f, 0xff, 6);
	memcpy(f + 6, "\x02\x00\x00\x00\x00\x01", 6);
	f[12] = MT_ETHERTYPE >> 8;
	f[13] = MT_ETHERTYPE & 0xff;
	for (i = 14; i < MT_FRAME_LEN; i++)
		f[i] = tag * 7 + i;
}

/* Make packet p->n come: a frame out of the tap, or a host connect(). */
static void mt_rx_send(struct __test_metadata *_metadata, struct vdev *d,
		       struct mt_rx *p)
{
	if (d->kind == VDEV_VSOCK) {
		struct sockaddr_vm addr = {
			.svm_family = AF_VSOCK, .svm_cid = p->cid,
			.svm_port = 4000 + p->n,
		};
		int s = socket(AF_VSOCK, SOCK_STREAM | SOCK_NONBLOCK, 0);
		struct timeval tmo = { .tv_sec = 1 };

		ASSERT_LE(0, s);
		p->socks[p->n % ARRAY_SIZE(p->socks)] = s;
		ASSERT_EQ(0, setsockopt(s, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT,
					&tmo, sizeof(tmo)));
		ASSERT_EQ(-1, connect(s, (struct sockaddr *)&addr, sizeof(addr)));
		ASSERT_EQ(EINPROGRESS, errno);
	} else {
		struct sockaddr_ll sll = {
			.sll_family = AF_PACKET, .sll_ifindex = p->ifindex,
			.sll_halen = 6,
		};
		unsigned char f[MT_FRAME_LEN];

		memset(sll.sll_addr, 0xff, 6);
		mt_frame(f, p->n);
		ASSERT_EQ(MT_FRAME_LEN, sendto(p->pkt, f, MT_FRAME_LEN, 0,
					       (struct sockaddr *)&sll,
					       sizeof(sll)));
	}
}

/*
 * Post an RX buffer of len bytes at guest address gpa, make a packet come,
 * and check that it landed in the user pieces want[] -- and nowhere else.
 */
static void mt_rx_one(struct __test_metadata *_metadata, struct vdev *d,
		      struct mt_rx *p, uint64_t gpa, uint32_t len,
		      const struct mt_piece *want, unsigned int nwant)
{
	unsigned char exp[128], got[128];
	unsigned int plen, i, k, off, seq = p->n;

	if (d->kind == VDEV_VSOCK) {
		plen = sizeof(struct virtio_vsock_hdr);
	} else {
		plen = sizeof(struct virtio_net_hdr) + MT_FRAME_LEN;
		memset(exp, 0, sizeof(struct virtio_net_hdr));
		mt_frame(exp + sizeof(struct virtio_net_hdr), seq);
	}
	vdev_ring_add(&p->r, seq, gpa, len, VRING_DESC_F_WRITE);
	mt_rx_send(_metadata, d, p);
	ASSERT_TRUE(vdev_ring_wait_used(&p->r, seq + 1, 5000))
		TH_LOG("packet %u not received", seq);
	ASSERT_EQ(seq, p->r.used->ring[seq].id);
	ASSERT_EQ(plen, p->r.used->ring[seq].len);
	p->n++;
	/* the packet, from the pieces where it must be */
	for (i = 0, off = 0; i < nwant && off < plen; i++) {
		for (k = 0; k < want[i].len && off < plen; k++, off++) {
			got[off] = d->mem[want[i].off + k];
			p->allowed[want[i].off + k] = 1;
		}
	}
	ASSERT_EQ(plen, off);
	if (d->kind == VDEV_VSOCK) {
		struct virtio_vsock_hdr h;

		memcpy(&h, got, sizeof(h));
		ASSERT_EQ(p->cid, h.dst_cid);
		ASSERT_EQ(4000 + seq, h.dst_port);
		ASSERT_EQ(VMADDR_CID_HOST, h.src_cid);
		ASSERT_EQ(VIRTIO_VSOCK_OP_REQUEST, h.op);
	} else {
		for (i = 0; i < plen; i++)
			ASSERT_EQ(exp[i], got[i])
				TH_LOG("packet %u byte %u", seq, i);
	}
	/* and nothing anywhere else */
	for (i = MT_WIN_OFF; i < VDEV_MEM_SIZE; i++)
		if (!p->allowed[i])
			ASSERT_EQ(MT_POISON, d->mem[i])
				TH_LOG("d->mem + %#x written (packet %u)", i, seq);
}

/*
 * Overlapping regions (and a duplicate) are accepted; a guest address in
 * the overlap translates through the region with the lowest guest address
 * that holds it (translate_desc(): vhost_iotlb_itree_first()), and a
 * buffer that runs past that region's end goes on in whatever region
 * holds the next byte.
 *
 *   r0, r2: guest [0x00000, 0x20000) -> d->mem + 0x00000
 *   r1:     guest [0x10000, 0x30000) -> d->mem + 0x20000
 */
TEST_F(mem_table, overlapping_regions_accepted)
{
	struct mem_table *t = mem_table_alloc(3);
	struct mt_rx *p = calloc(1, sizeof(*p));
	const struct mt_piece in_overlap[] = { { 0x18000, 0x100 } };
	const struct mt_piece past_r0[] = { { 0x38000, 0x100 } };
	const struct mt_piece across[] = { { 0x1ffe0, 0x20 }, { 0x30000, 0xe0 } };

	ASSERT_NE(NULL, t);
	ASSERT_NE(NULL, p);
	vdev_ready(_metadata, &self->d);
	t->r[0].guest_phys_addr = 0;
	t->r[0].memory_size = 0x20000;
	t->r[0].userspace_addr = uptr(self->d.mem);
	t->r[1].guest_phys_addr = 0x10000;
	t->r[1].memory_size = 0x20000;
	t->r[1].userspace_addr = uptr(self->d.mem) + 0x20000;
	/* and a duplicate */
	t->r[2] = t->r[0];
	IOCTL_OK(self->d.fd, VHOST_SET_MEM_TABLE, t);
	ASSERT_ERRNO(0, vdev_probe(&self->d));
	mt_rx_open(_metadata, &self->d, p);
	ASSERT_ERRNO(0, mt_rx_start(&self->d, p));
	mt_rx_one(_metadata, &self->d, p, 0x18000, 0x100, in_overlap, 1);
	mt_rx_one(_metadata, &self->d, p, 0x28000, 0x100, past_r0, 1);
	mt_rx_one(_metadata, &self->d, p, 0x1ffe0, 0x100, across, 2);
	mt_rx_close(p);
	free(p);
	free(t);
}

/*
 * "All region addresses and sizes must be 4K aligned" is not enforced,
 * and unaligned regions translate byte for byte:
 *
 *   r0: guest [0x10123, 0x11579) -> d->mem + 0x20789
 *   r1: guest [0x11579, 0x11f00) -> d->mem + 0x30abc
 */
TEST_F(mem_table, unaligned_regions_accepted)
{
	struct mem_table *t = mem_table_alloc(2);
	struct mt_rx *p = calloc(1, sizeof(*p));
	const struct mt_piece inside[] = { { 0x20866, 0x100 } };
	const struct mt_piece across[] = { { 0x21bbf, 0x20 }, { 0x30abc, 0xe0 } };

	ASSERT_NE(NULL, t);
	ASSERT_NE(NULL, p);
	vdev_ready(_metadata, &self->d);
	ASSERT_ERRNO(0, set_mem_one(self->d.fd, 0x123, 0x456,
				    uptr(self->d.mem) + 0x789));
	ASSERT_ERRNO(0, set_mem_one(self->d.fd, 1, 1, uptr(self->d.mem) + 1));
	t->r[0].guest_phys_addr = 0x10123;
	t->r[0].memory_size = 0x1456;
	t->r[0].userspace_addr = uptr(self->d.mem) + 0x20789;
	t->r[1].guest_phys_addr = 0x11579;
	t->r[1].memory_size = 0x987;
	t->r[1].userspace_addr = uptr(self->d.mem) + 0x30abc;
	IOCTL_OK(self->d.fd, VHOST_SET_MEM_TABLE, t);
	mt_rx_open(_metadata, &self->d, p);
	ASSERT_ERRNO(0, mt_rx_start(&self->d, p));
	mt_rx_one(_metadata, &self->d, p, 0x10200, 0x100, inside, 1);
	mt_rx_one(_metadata, &self->d, p, 0x11559, 0x100, across, 2);
	mt_rx_close(p);
	free(p);
	free(t);
}

/* The region flags_padding field is ignored. */
TEST_F(mem_table, region_flags_ignored)
{
	struct mem_table *t = mem_table_alloc(1);

	ASSERT_NE(NULL, t);
	IOCTL_OK(self->d.fd, VHOST_SET_OWNER, NULL);
	t->r[0].guest_phys_addr = 0;
	t->r[0].memory_size = VDEV_MEM_SIZE;
	t->r[0].userspace_addr = uptr(self->d.mem);
	t->r[0].flags_padding = ~0ULL;
	IOCTL_OK(self->d.fd, VHOST_SET_MEM_TABLE, t);
	free(t);
}

/*
 * Userspace addresses are checked only when a virtqueue starts (or, see
 * below, is running): kernel addresses and regions reaching past the top
 * of the user address space are taken while stopped.
 */
TEST_F(mem_table, bad_userspace_addr_checked_at_start)
{
	vdev_ready(_metadata, &self->d);
	ASSERT_ERRNO(0, set_mem_one(self->d.fd, 0, 0x1000, KERNEL_ADDR));
	ASSERT_ERRNO(EFAULT, vdev_probe(&self->d));
	ASSERT_ERRNO(0, set_mem_one(self->d.fd, 0, 0x2000,
				    user_ptr_max() - 0x1000));
	ASSERT_ERRNO(EFAULT, vdev_probe(&self->d));
	/* the upper end exactly at the top is fine */
	ASSERT_ERRNO(0, set_mem_one(self->d.fd, 0, 0x1000,
				    user_ptr_max() - 0x1000));
	ASSERT_ERRNO(0, vdev_probe(&self->d));
	/* unmapped user memory passes: only the range is checked */
	ASSERT_ERRNO(0, set_mem_one(self->d.fd, 0, 0x10000,
				    uptr(unmapped_addr())));
	ASSERT_ERRNO(0, vdev_probe(&self->d));
}

/* With a virtqueue running, a bad table is refused and the old one kept. */
TEST_F(mem_table, bad_table_while_running_efault)
{
	vdev_ready(_metadata, &self->d);
	ASSERT_ERRNO(0, vdev_start(&self->d));
	ASSERT_ERRNO(EFAULT, set_mem_one(self->d.fd, 0, 0x1000, KERNEL_ADDR));
	ASSERT_ERRNO(EFAULT, set_mem_one(self->d.fd, 0, 0x2000,
					 user_ptr_max() - 0x1000));
	/* verifying the running virtqueue again sees the old table */
	if (self->d.kind == VDEV_VSOCK)
		ASSERT_ERRNO(0, vsock_set_running(self->d.fd, 1));
	else
		ASSERT_ERRNO(0, net_set_backend(self->d.fd, 0, -1));
	/* good tables are taken while running */
	ASSERT_ERRNO(0, set_mem_one(self->d.fd, 0, 0x1000, uptr(self->d.mem)));
	ASSERT_ERRNO(0, set_mem_empty(self->d.fd));
}

/* A stopped virtqueue does not care: only running ones are checked. */
TEST_F(mem_table, bad_table_after_stop)
{
	vdev_ready(_metadata, &self->d);
	ASSERT_ERRNO(0, vdev_start(&self->d));
	ASSERT_ERRNO(0, vdev_stop(&self->d));
	ASSERT_ERRNO(0, set_mem_one(self->d.fd, 0, 0x1000, KERNEL_ADDR));
	ASSERT_ERRNO(EFAULT, vdev_start(&self->d));
}

TEST_HARNESS_MAIN
