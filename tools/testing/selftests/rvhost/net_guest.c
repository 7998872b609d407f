// SPDX-License-Identifier: GPL-2.0
/*
 * A fake virtio-net guest for the vhost-net data path tests: see
 * net_guest.h.
 */
#include "net_guest.h"

unsigned int ncfg_hlen(const struct ncfg *c)
{
	if (c->tunnel)
		return sizeof(struct virtio_net_hdr_v1_hash_tunnel);
	return c->mrg || c->v1 ? 12 : 10;
}

uint64_t ncfg_features(const struct ncfg *c)
{
	uint64_t f = 0;

	if (c->vhost_hdr)
		f |= BIT_ULL(VHOST_NET_F_VIRTIO_NET_HDR);
	if (c->mrg)
		f |= BIT_ULL(VIRTIO_NET_F_MRG_RXBUF);
	if (c->v1)
		f |= BIT_ULL(VIRTIO_F_VERSION_1);
	if (c->indirect)
		f |= BIT_ULL(VIRTIO_RING_F_INDIRECT_DESC);
	if (c->event_idx)
		f |= BIT_ULL(VIRTIO_RING_F_EVENT_IDX);
	if (c->in_order)
		f |= BIT_ULL(VIRTIO_F_IN_ORDER);
	if (c->packed)
		f |= BIT_ULL(VIRTIO_F_RING_PACKED);
	if (c->notify_on_empty)
		f |= BIT_ULL(VIRTIO_F_NOTIFY_ON_EMPTY);
	return f;
}

static int set_sock_int(int s, int level, int opt, int v)
{
	return setsockopt(s, level, opt, &v, sizeof(v)) ? -errno : 0;
}

int if_set_mtu(const char *name, int mtu)
{
	struct ifreq ifr = { 0 };
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), r;

	if (s < 0)
		return -errno;
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	ifr.ifr_mtu = mtu;
	r = ioctl(s, SIOCSIFMTU, &ifr) ? -errno : 0;
	close(s);
	return r;
}

int ntap_sockets(struct ntap *t, const char *name, const char **what)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET };

	if (name != t->name)
		snprintf(t->name, IFNAMSIZ, "%s", name);
	t->obs = t->inj = -1;
	t->ifindex = if_index(name);
	*what = "if_index";
	if (t->ifindex <= 0)
		return -ENODEV;
	*what = "observer socket";
	t->obs = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK,
			htons(ETH_P_ALL));
	if (t->obs < 0)
		return -errno;
	if (set_sock_int(t->obs, SOL_PACKET, PACKET_VNET_HDR, 1) ||
	    set_sock_int(t->obs, SOL_PACKET, PACKET_IGNORE_OUTGOING, 1) ||
	    set_sock_int(t->obs, SOL_SOCKET, SO_RCVBUFFORCE, 64 << 20))
		return -errno;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = t->ifindex;
	if (bind(t->obs, (struct sockaddr *)&sll, sizeof(sll)))
		return -errno;
	*what = "injector socket";
	t->inj = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (t->inj < 0)
		return -errno;
	if (set_sock_int(t->inj, SOL_PACKET, PACKET_VNET_HDR, 1) ||
	    set_sock_int(t->inj, SOL_SOCKET, SO_SNDBUFFORCE, 16 << 20))
		return -errno;
	return 0;
}

int ntap_open(struct ntap *t, const struct ncfg *c, const char **what)
{
	short flags = IFF_TAP | IFF_NO_PI;
	int hlen = ncfg_hlen(c), r;

	memset(t, 0, sizeof(*t));
	t->fd = t->obs = t->inj = -1;
	if (!c->vhost_hdr)
		flags |= IFF_VNET_HDR;
	*what = "TUNSETIFF";
	t->fd = tap_open(t->name, flags);
	if (t->fd < 0)
		return t->fd == -ENODEV ? -ENOENT : t->fd;
	if (!c->vhost_hdr) {
		unsigned int off = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;

		*what = "TUNSETVNETHDRSZ";
		if (ioctl(t->fd, TUNSETVNETHDRSZ, &hlen))
			return -errno;
		*what = "TUNSETOFFLOAD";
		if (ioctl(t->fd, TUNSETOFFLOAD, off))
			return -errno;
	}
	/* vhost batches TX to a tap only while its sndbuf is unlimited */
	*what = "TUNSETSNDBUF";
	if (c->sndbuf && ioctl(t->fd, TUNSETSNDBUF, &c->sndbuf))
		return -errno;
	*what = "SIOCSIFMTU";
	r = if_set_mtu(t->name, NET_MTU);
	if (r)
		return r;
	*what = "link up";
	if (if_up(t->name))
		return -errno;
	return ntap_sockets(t, t->name, what);
}

static void ntap_close(struct ntap *t)
{
	if (t->obs >= 0)
		close(t->obs);
	if (t->inj >= 0)
		close(t->inj);
	if (t->fd >= 0)
		close(t->fd);
	t->fd = t->obs = t->inj = -1;
}

/* Send one frame out of the tap (to the guest), with its vnet header. */
static int ntap_send(struct ntap *t, const struct virtio_net_hdr *h,
		     const void *frame, size_t len)
{
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET, .sll_ifindex = t->ifindex,
		.sll_halen = ETH_ALEN,
	};
	struct iovec iov[2] = {
		{ (void *)h, sizeof(*h) }, { (void *)frame, len },
	};
	struct msghdr m = {
		.msg_name = &sll, .msg_namelen = sizeof(sll),
		.msg_iov = iov, .msg_iovlen = 2,
	};
	ssize_t n;

	memcpy(sll.sll_addr, frame, ETH_ALEN);
	n = sendmsg(t->inj, &m, 0);
	if (n < 0)
		return -errno;
	return n == (ssize_t)(sizeof(*h) + len) ? 0 : -EIO;
}

void nctx_init(struct nctx *n)
{
	int i;

	memset(n, 0, sizeof(*n));
	n->fd = -1;
	for (i = 0; i < VDEV_NVQS; i++)
		n->kick[i] = n->call[i] = n->err[i] = -1;
	for (i = 0; i < 2; i++)
		n->tap[i].fd = n->tap[i].obs = n->tap[i].inj = -1;
}

void nctx_free(struct nctx *n)
{
	int i;

	if (n->fd >= 0)
		close(n->fd);
	n->fd = -1;
	for (i = 0; i < VDEV_NVQS; i++) {
		if (n->kick[i] >= 0)
			close(n->kick[i]);
		if (n->call[i] >= 0)
			close(n->call[i]);
		if (n->err[i] >= 0)
			close(n->err[i]);
		n->kick[i] = n->call[i] = n->err[i] = -1;
		gvq_release(&n->q[i]);
	}
	for (i = 0; i < n->ntaps; i++)
		ntap_close(&n->tap[i]);
	n->ntaps = 0;
	gm_free(&n->g);
}

static uint16_t ip_csum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint32_t s = 0;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		s += b[i] << 8 | b[i + 1];
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return ~s;
}

static void put_be32(unsigned char *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

void frame_build(unsigned char *f, uint32_t len, uint32_t seq, enum fkind k)
{
	unsigned int i, off = frame_tag_off(k);

	memcpy(f, "\x02\x00\x00\x00\x00\x02", 6);	/* to the guest */
	memcpy(f + 6, "\x02\x00\x00\x00\x00\x01", 6);
	for (i = off + 8; i < len; i++)
		f[i] = (uint8_t)(i * 31 + seq * 7 + (i >> 8));
	if (k == F_PLAIN) {
		f[12] = TEST_ETHERTYPE >> 8;
		f[13] = TEST_ETHERTYPE & 0xff;
	} else {
		unsigned char *ip = f + ETH_HLEN, *tcp = ip + 20;

		f[12] = 0x08;
		f[13] = 0x00;
		memset(ip, 0, 40);
		ip[0] = 0x45;
		ip[2] = (len - ETH_HLEN) >> 8;
		ip[3] = (len - ETH_HLEN) & 0xff;
		ip[4] = seq >> 8;
		ip[5] = seq;
		ip[6] = 0x40;			/* DF */
		ip[8] = 64;
		ip[9] = IPPROTO_TCP;
		memcpy(ip + 12, "\xc6\x33\x64\x01", 4);	/* 198.51.100.1 */
		memcpy(ip + 16, "\xc0\x00\x02\x01", 4);	/* 192.0.2.1 */
		i = ip_csum(ip, 20);
		ip[10] = i >> 8;
		ip[11] = i & 0xff;
		tcp[0] = 0x9c;			/* port 40000 */
		tcp[1] = 0x40;
		tcp[2] = 0x00;			/* port 9 */
		tcp[3] = 0x09;
		put_be32(tcp + 4, seq * 100000);
		tcp[12] = 5 << 4;
		tcp[13] = 0x18;			/* PSH ACK */
		tcp[14] = 0xff;
		tcp[15] = 0xff;
	}
	put_be32(f + off, seq);
	put_be32(f + off + 4, len);
}

void frame_hdr(struct virtio_net_hdr *h, uint32_t len, enum fkind k)
{
	memset(h, 0, sizeof(*h));
	if (k == F_CSUM || k == F_GSO) {
		h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		h->csum_start = ETH_HLEN + 20;
		h->csum_offset = 16;
	}
	if (k == F_GSO) {
		h->gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
		h->gso_size = GSO_MSS;
		h->hdr_len = TCP_HDRS;
	}
}

static const char *fkind_name(enum fkind k)
{
	static const char *const names[] = { "plain", "tcp", "csum", "gso" };

	return names[k];
}

uint64_t gm_alloc_across(struct gmem *g, unsigned int nslots,
			 uint32_t slot_size)
{
	uint64_t size = (uint64_t)nslots * slot_size, b, start;

	b = gm_boundary_after(g, g->next + (nslots / 2) * (uint64_t)slot_size + 8);
	if (!b)
		return gm_alloc(g, size, 64, false);
	start = b - (nslots / 2) * (uint64_t)slot_size - 8;
	if (start < g->next || gm_region(g, start + size - 1) < 0)
		return gm_alloc(g, size, 64, false);
	g->next = start + size;
	return start;
}

bool net_tx_slots(struct nctx *n, unsigned int nslots, uint32_t slot_size)
{
	n->tx_nslots = nslots;
	n->tx_slot_size = round_up64(slot_size, 64);
	n->tx_slots = gm_alloc_across(&n->g, nslots, n->tx_slot_size);
	n->tx_ind = gm_alloc(&n->g, 16ULL * TX_MAXSEG * nslots, 16, false);
	return n->tx_slots && n->tx_ind;
}

int net_set_features(struct nctx *n)
{
	const struct ncfg *c = &n->cfg;
	struct {
		uint64_t count;
		uint64_t f[2];
	} a = { 2, { ncfg_features(c),
		     BIT_ULL(VIRTIO_NET_F_GUEST_UDP_TUNNEL_GSO - 64) |
		     BIT_ULL(VIRTIO_NET_F_HOST_UDP_TUNNEL_GSO - 64) } };
	uint64_t f = ncfg_features(c);

	if (c->tunnel)
		return ioctl_errno(n->fd, VHOST_SET_FEATURES_ARRAY, &a);
	return ioctl_errno(n->fd, VHOST_SET_FEATURES, &f);
}

void net_flush(struct nctx *n)
{
	vdev_flush_barrier(n->fd);
	usleep(20000);
	vdev_flush_barrier(n->fd);
}

/* Lay out a buffer of total bytes at gpa in pieces (descriptors). */
static unsigned int tx_layout(struct nctx *n, uint64_t gpa, uint32_t total,
			      unsigned int seq, struct gseg *s, bool direct)
{
	unsigned int h = n->hlen, nseg = 0, chunk, max;
	uint32_t off = 0;

	max = direct ? n->cfg.num : TX_MAXSEG;
	switch (seq % 4) {
	case 1:		/* header apart, as legacy drivers do */
		if (max < 2)
			break;
		s[nseg++] = (struct gseg){ gpa, h };
		off = h;
		break;
	case 2:		/* header split between two descriptors */
		if (max < 2)
			break;
		s[nseg++] = (struct gseg){ gpa, h - 3 };
		off = h - 3;
		break;
	case 3:		/* many pieces */
		chunk = total / (max < 8 ? max : 8) + 1;
		if (chunk < 100)
			chunk = 100;
		while (total - off > chunk && nseg + 1 < max) {
			s[nseg++] = (struct gseg){ gpa + off, chunk };
			off += chunk;
		}
		break;
	}
	s[nseg++] = (struct gseg){ gpa + off, total - off };
	return nseg;
}

/* What the observer must see for a frame the guest sent. */
static void tx_expected_hdr(const struct nctx *n, struct virtio_net_hdr *h,
			    uint32_t len, enum fkind k)
{
	memset(h, 0, sizeof(*h));
	if (n->cfg.vhost_hdr)
		return;		/* vhost strips the guest's header */
	frame_hdr(h, len, k);
	h->hdr_len = 0;		/* recomputed by the host */
}

static bool frame_is_ours(const unsigned char *f, size_t len)
{
	return len >= ETH_HLEN &&
	       !memcmp(f + 6, "\x02\x00\x00\x00\x00\x01", 6);
}

ssize_t obs_recv(int obs, struct virtio_net_hdr *h, unsigned char *f,
		 int timeout_ms)
{
	struct iovec iov[2] = {
		{ h, sizeof(*h) }, { f, FRAME_MAX + 64 },
	};
	struct msghdr m = { .msg_iov = iov, .msg_iovlen = 2 };
	ssize_t r;

	for (;;) {
		r = recvmsg(obs, &m, MSG_DONTWAIT | MSG_TRUNC);
		if (r < 0 && errno == EAGAIN) {
			if (!timeout_ms || !wait_readable(obs, timeout_ms))
				return 0;
			continue;
		}
		if (r < 0)
			return -errno;
		r -= sizeof(*h);
		if (r >= 0 && frame_is_ours(f, r))
			return r;
	}
}

unsigned int seq_hash(unsigned int seq)
{
	seq ^= seq >> 16;
	seq *= 0x7feb352d;
	seq ^= seq >> 15;
	seq *= 0x846ca68b;
	seq ^= seq >> 16;
	return seq;
}

/*
 * What the host can hand the guest: without a vnet header on the tap
 * (vhost handles the header) no partial checksum or GSO frame, plain TCP
 * instead; nothing longer than the tap's MTU allows.
 */
static void gen_for_rx(struct nctx *n, uint32_t *len, enum fkind *k)
{
	if (n->cfg.vhost_hdr && (*k == F_CSUM || *k == F_GSO))
		*k = F_TCP;
	if (*len > NET_MTU + ETH_HLEN)
		*len = NET_MTU + ETH_HLEN;
}

void gen_table(const struct fsize *t, size_t count, struct nctx *n,
	       unsigned int seq, uint32_t *len, enum fkind *k, bool rx)
{
	*len = t[seq % count].len;
	*k = t[seq % count].k;
	if (rx)
		gen_for_rx(n, len, k);
}

void gen_mixed(struct nctx *n, unsigned int seq, unsigned int salt,
	       unsigned int big_one_in, uint32_t *len, enum fkind *k, bool rx)
{
	unsigned int r = seq_hash(seq + salt);

	*k = r % 10 < 5 ? F_PLAIN : r % 10 < 7 ? F_TCP : r % 10 < 9 ? F_CSUM :
	     F_GSO;
	r >>= 4;
	*len = FRAME_MIN_TCP + r % (1514 - FRAME_MIN_TCP + 1);
	if (*k == F_GSO)
		*len = 2000 + r % 18000;
	else if (r % big_one_in == 0)
		*len = 9014;
	if (rx)
		gen_for_rx(n, len, k);
}

int tx_check(struct nctx *n, frame_gen gen, unsigned int seq,
	     const struct virtio_net_hdr *h, const unsigned char *got,
	     ssize_t len, unsigned char *want, char *why, size_t whylen)
{
	struct virtio_net_hdr eh, gh = *h;
	uint32_t wlen;
	enum fkind k;
	ssize_t i;

	gen(n, seq, &wlen, &k);
	frame_build(want, wlen, seq, k);
	if (len != (ssize_t)wlen) {
		snprintf(why, whylen, "TX frame %u (%s): %zd bytes at the tap, sent %u (seq there %u)",
			 seq, fkind_name(k), len, wlen,
			 len >= 22 ? get_be32(got + frame_tag_off(k)) : 0);
		return -1;
	}
	for (i = 0; i < len; i++) {
		if (got[i] != want[i]) {
			snprintf(why, whylen, "TX frame %u (%s, %u bytes): byte %zd is %#x, sent %#x",
				 seq, fkind_name(k), wlen, i, got[i], want[i]);
			return -1;
		}
	}
	tx_expected_hdr(n, &eh, wlen, k);
	gh.hdr_len = 0;
	if (memcmp(&eh, &gh, sizeof(eh))) {
		snprintf(why, whylen, "TX frame %u (%s, %u bytes): skb offload state flags %#x gso %u/%u csum %u/%u, expected flags %#x gso %u/%u csum %u/%u",
			 seq, fkind_name(k), wlen, gh.flags, gh.gso_type,
			 gh.gso_size, gh.csum_start, gh.csum_offset, eh.flags,
			 eh.gso_type, eh.gso_size, eh.csum_start,
			 eh.csum_offset);
		return -1;
	}
	return 0;
}

uint32_t tx_fill(struct nctx *n, frame_gen gen, unsigned int seq,
		 unsigned int slot, unsigned char *buf)
{
	struct virtio_net_hdr h;
	uint32_t len;
	enum fkind k;

	gen(n, seq, &len, &k);
	memset(buf, 0, n->hlen);
	frame_hdr(&h, len, k);
	memcpy(buf, &h, sizeof(h));
	frame_build(buf + n->hlen, len, seq, k);
	gm_write(&n->g, tx_slot(n, slot), buf, n->hlen + len);
	return n->hlen + len;
}

int tx_run(struct nctx *n, struct txspec *s, char *why, size_t whylen)
{
	struct gvq *q = &n->q[VQ_TX];
	unsigned char *buf = malloc(FRAME_MAX + 128);
	unsigned char *want = malloc(FRAME_MAX + 128);
	unsigned int *slots = calloc(n->tx_nslots, sizeof(*slots));
	unsigned int nfree = 0, seen = 0, i, burst, added, seq;
	struct gseg segs[TX_MAXSEG];
	struct virtio_net_hdr h;
	int obs = s->tap >= 0 ? n->tap[s->tap].obs : -1, ret = -1;
	uint32_t cookie, len;
	bool implicit;
	ssize_t r;

	why[0] = 0;
	if (!buf || !want || !slots) {
		snprintf(why, whylen, "out of memory");
		goto out;
	}
	for (i = 0; i < n->tx_nslots; i++)
		slots[nfree++] = i;
	s->posted = s->done = 0;
	while (s->done < s->count && !s->stop) {
		burst = 1 + seq_hash(s->posted + 77) % 8;
		for (added = 0; added < burst && s->posted < s->count &&
		     s->posted - s->done < s->depth && nfree; added++) {
			unsigned int slot = slots[--nfree], nseg;
			uint32_t total;
			uint64_t ind;
			bool direct;

			seq = s->posted;
			total = tx_fill(n, s->gen, seq, slot, buf);
			direct = !n->cfg.indirect || seq % 3 == 0;
			nseg = tx_layout(n, tx_slot(n, slot), total, seq, segs,
					 direct);
			ind = direct ? 0 : tx_slot_ind(n, slot);
			if (gvq_add(q, segs, nseg, 0, ind, slot) < 0) {
				slots[nfree++] = slot;
				break;
			}
			s->posted++;
		}
		gvq_kick(q);
		if (gvq_wait(q, s->timeout_ms ?: TIMEOUT_MS)) {
			snprintf(why, whylen, "TX: no used buffer within %d ms (%u posted, %u used, %lu kicks, %lu calls): lost wakeup or stall",
				 s->timeout_ms ?: TIMEOUT_MS, s->posted, s->done,
				 q->kicks, q->calls);
			goto out;
		}
		while ((r = gvq_get_used(q, &cookie, &len, &implicit)) > 0) {
			if (len && !implicit) {
				snprintf(why, whylen, "TX used entry of frame %u has length %u, expected 0",
					 s->done, len);
				goto out;
			}
			slots[nfree++] = cookie;
			s->done++;
		}
		if (r < 0) {
			snprintf(why, whylen, "TX used ring: %s", q->err);
			goto out;
		}
		while (obs >= 0 && seen < s->done) {
			r = obs_recv(obs, &h, buf, 0);
			if (r <= 0)
				break;
			if (tx_check(n, s->gen, seen, &h, buf, r, want, why, whylen))
				goto out;
			seen++;
		}
	}
	while (obs >= 0 && seen < s->done) {
		r = obs_recv(obs, &h, buf, TIMEOUT_MS);
		if (r <= 0) {
			snprintf(why, whylen, "TX frame %u (of %u used) never reached the tap",
				 seen, s->done);
			goto out;
		}
		if (tx_check(n, s->gen, seen, &h, buf, r, want, why, whylen))
			goto out;
		seen++;
	}
	if (obs >= 0 && obs_recv(obs, &h, buf, 0) > 0) {
		snprintf(why, whylen, "TX: an extra frame at the tap after %u", seen);
		goto out;
	}
	ret = 0;
	if (getenv("RVHOST_VERBOSE"))
		printf("# TX: %u frames, %lu used entries, %lu kicks, %lu calls\n",
		       s->done, q->used_entries, q->kicks, q->calls);
out:
	free(buf);
	free(want);
	free(slots);
	return ret;
}

/*
 * The guest's receive buffers for cfg, as the Linux driver makes them:
 * mergeable buffers of 2 KiB (bigger on tiny rings, so that a 64 KiB
 * frame fits in the ring), or "big" buffers of 64 KiB in 4 KiB pieces
 * without MRG_RXBUF.
 */
static void rx_geometry(const struct ncfg *c, unsigned int *nslots,
			uint32_t *size)
{
	uint32_t need = FRAME_MAX + ncfg_hlen(c);

	if (c->mrg) {
		if (c->num >= 64) {
			*size = 2048;
			*nslots = c->num < 256 ? c->num : 256;
		} else {
			*size = round_up64(need / c->num + 1, 64);
			*nslots = c->num;
		}
	} else {
		*size = round_up64(need + 1, 64);
		if (c->indirect || c->num < 64)
			*nslots = c->num < 16 ? c->num : 16;
		else
			*nslots = c->num / 18 < 16 ? c->num / 18 : 16;
	}
}

bool net_rx_slots(struct nctx *n)
{
	rx_geometry(&n->cfg, &n->rx_nslots, &n->rx_slot_size);
	n->rx_slots = gm_alloc_across(&n->g, n->rx_nslots, n->rx_slot_size);
	n->rx_ind = gm_alloc(&n->g, 16ULL * RX_MAXSEG * n->rx_nslots, 16, false);
	return n->rx_slots && n->rx_ind;
}

int rx_post(struct nctx *n, unsigned int s)
{
	struct gvq *q = &n->q[VQ_RX];
	uint32_t size = n->rx_slot_size, off = 0, piece;
	uint64_t gpa = rx_slot(n, s), ind = 0;
	struct gseg segs[RX_MAXSEG];
	unsigned int nseg = 0, max;
	bool direct = !n->cfg.indirect || s % 4 == 1;

	gm_fill(&n->g, gpa, RX_POISON, size);
	max = direct ? q->num : RX_MAXSEG;
	if (!n->cfg.mrg && max >= 18) {
		/* header, then 4 KiB pieces */
		segs[nseg++] = (struct gseg){ gpa, n->hlen };
		off = n->hlen;
		while (size - off > 4096 && nseg + 1 < RX_MAXSEG) {
			segs[nseg++] = (struct gseg){ gpa + off, 4096 };
			off += 4096;
		}
	} else if (n->cfg.mrg && max >= 2 && s % 3 == 2) {
		piece = s % 2 ? 100 : size / 2;
		segs[nseg++] = (struct gseg){ gpa, piece };
		off = piece;
	}
	segs[nseg++] = (struct gseg){ gpa + off, size - off };
	if (!direct)
		ind = n->rx_ind + 16ULL * RX_MAXSEG * s;
	return gvq_add(q, segs, 0, nseg, ind, s) < 0 ? -1 : 0;
}

unsigned int rx_fill(struct nctx *n)
{
	unsigned int s, posted = 0;

	for (s = 0; s < n->rx_nslots; s++)
		if (!rx_post(n, s))
			posted++;
	gvq_kick(&n->q[VQ_RX]);
	return posted;
}

unsigned int rx_need(const struct nctx *n, uint32_t len)
{
	if (!n->cfg.mrg)
		return 1;
	return (n->hlen + len + n->rx_slot_size - 1) / n->rx_slot_size;
}

void rx_expected_hdr(const struct nctx *n, unsigned char *eh, uint32_t len,
		     enum fkind k, uint16_t nbufs)
{
	struct virtio_net_hdr h;

	memset(eh, RX_POISON, n->hlen);
	memset(&h, 0, sizeof(h));
	if (!n->cfg.vhost_hdr)
		frame_hdr(&h, len, k);	/* the tap's, from the skb */
	memcpy(eh, &h, sizeof(h));
	if (n->cfg.mrg || n->cfg.v1) {
		eh[10] = nbufs;
		eh[11] = nbufs >> 8;
	}
}

int rx_send(struct nctx *n, frame_gen gen, unsigned int seq, int tap,
	    unsigned char *buf)
{
	struct virtio_net_hdr h;
	uint32_t len;
	enum fkind k;

	gen(n, seq, &len, &k);
	frame_build(buf, len, seq, k);
	frame_hdr(&h, len, k);
	return ntap_send(&n->tap[tap], &h, buf, len);
}

int rx_check(struct nctx *n, frame_gen gen, unsigned int seq,
	     const struct rxpkt *p, unsigned char *got, unsigned char *want,
	     char *why, size_t whylen)
{
	unsigned char hdr[32], eh[32];
	uint32_t flen, total, off = 0, B = n->rx_slot_size, l;
	unsigned int i, nb;
	enum fkind k;

	gen(n, seq, &flen, &k);
	nb = rx_need(n, flen);
	total = n->hlen + flen;
	for (i = 0; i < nb; i++) {
		l = i + 1 < nb ? B : total - (nb - 1) * B;
		if (p->len[i] != l) {
			snprintf(why, whylen, "RX frame %u (%s, %u bytes): buffer %u of %u has used length %u, expected %u",
				 seq, fkind_name(k), flen, i, nb, p->len[i], l);
			return -1;
		}
	}
	gm_read(&n->g, rx_slot(n, p->slot[0]), hdr, n->hlen);
	rx_expected_hdr(n, eh, flen, k, nb);
	if (k == F_GSO && !n->cfg.vhost_hdr) {
		eh[2] = hdr[2];		/* hdr_len: the host's business */
		eh[3] = hdr[3];
	}
	for (i = 0; i < n->hlen; i++) {
		if (hdr[i] != eh[i]) {
			snprintf(why, whylen, "RX frame %u (%s, %u bytes): header byte %u is %#x, expected %#x (header %02x %02x %02x%02x %02x%02x %02x%02x %02x%02x %02x%02x)",
				 seq, fkind_name(k), flen, i, hdr[i], eh[i],
				 hdr[0], hdr[1], hdr[3], hdr[2], hdr[5], hdr[4],
				 hdr[7], hdr[6], hdr[9], hdr[8], hdr[11], hdr[10]);
			return -1;
		}
	}
	for (i = 0; i < nb; i++) {
		uint32_t skip = i ? 0 : n->hlen;

		gm_read(&n->g, rx_slot(n, p->slot[i]) + skip, got + off,
			p->len[i] - skip);
		off += p->len[i] - skip;
	}
	frame_build(want, flen, seq, k);
	for (i = 0; i < flen; i++) {
		if (got[i] != want[i]) {
			snprintf(why, whylen, "RX frame %u (%s, %u bytes): byte %u is %#x, sent %#x",
				 seq, fkind_name(k), flen, i, got[i], want[i]);
			return -1;
		}
	}
	l = p->len[nb - 1];
	if (l < B) {
		gm_read(&n->g, rx_slot(n, p->slot[nb - 1]) + l, hdr, 1);
		if (hdr[0] != RX_POISON) {
			snprintf(why, whylen, "RX frame %u: written past its used length %u",
				 seq, l);
			return -1;
		}
	}
	return 0;
}

int rx_run(struct nctx *n, struct rxspec *s, char *why, size_t whylen)
{
	struct gvq *q = &n->q[VQ_RX];
	unsigned char *buf = malloc(FRAME_MAX + 128);
	unsigned char *want = malloc(FRAME_MAX + 128);
	unsigned int reserved = 0, need, i;
	struct rxpkt p = { 0 };
	uint32_t cookie, len, flen;
	bool implicit;
	enum fkind k;
	int r, ret = -1;

	why[0] = 0;
	if (!buf || !want) {
		snprintf(why, whylen, "out of memory");
		goto out;
	}
	s->sent = s->received = 0;
	while (s->received < s->count && !s->stop) {
		while (s->sent < s->count && s->sent - s->received < s->window) {
			s->gen(n, s->sent, &flen, &k);
			need = rx_need(n, flen);
			if (reserved + need > gvq_outstanding(q))
				break;
			r = s->send ? s->send(n, s->send_arg, s->sent) :
				      rx_send(n, s->gen, s->sent, n->backend, buf);
			if (r) {
				snprintf(why, whylen, "sending frame %u: %s",
					 s->sent, strerror(-r));
				goto out;
			}
			reserved += need;
			s->sent++;
		}
		if (s->sent == s->received) {
			snprintf(why, whylen, "RX: no room for frame %u (%u buffers posted)",
				 s->sent, gvq_outstanding(q));
			goto out;
		}
		if (gvq_wait(q, s->timeout_ms ?: TIMEOUT_MS)) {
			snprintf(why, whylen, "RX frame %u not delivered within %d ms (%u sent, %u buffers posted, %lu kicks, %lu calls)",
				 s->received, s->timeout_ms ?: TIMEOUT_MS, s->sent,
				 gvq_outstanding(q), q->kicks, q->calls);
			goto out;
		}
		while ((r = gvq_get_used(q, &cookie, &len, &implicit)) > 0) {
			p.slot[p.nb] = cookie;
			p.len[p.nb] = len;
			p.nb++;
			s->gen(n, s->received, &flen, &k);
			need = rx_need(n, flen);
			if (p.nb < need)
				continue;
			if (rx_check(n, s->gen, s->received, &p, buf, want, why,
				     whylen))
				goto out;
			for (i = 0; i < p.nb; i++) {
				if (rx_post(n, p.slot[i])) {
					snprintf(why, whylen, "RX: cannot post buffer %u again",
						 p.slot[i]);
					goto out;
				}
			}
			reserved -= need;
			p.nb = 0;
			s->received++;
		}
		if (r < 0) {
			snprintf(why, whylen, "RX used ring: %s", q->err);
			goto out;
		}
		gvq_kick(q);
	}
	ret = 0;
	if (getenv("RVHOST_VERBOSE"))
		printf("# RX: %u frames, %lu used entries, %lu kicks, %lu calls\n",
		       s->received, q->used_entries, q->kicks, q->calls);
out:
	free(buf);
	free(want);
	return ret;
}

static void *runner_fn(void *p)
{
	struct runner *r = p;

	if (r->is_rx)
		r->ret = rx_run(r->n, &r->rx, r->why, sizeof(r->why));
	else
		r->ret = tx_run(r->n, &r->tx, r->why, sizeof(r->why));
	__atomic_store_n(&r->finished, true, __ATOMIC_RELEASE);
	return NULL;
}

int runner_launch(struct runner *r)
{
	int e;

	r->ret = -1;
	e = pthread_create(&r->th, NULL, runner_fn, r);
	r->started = !e;
	return e;
}

bool runner_busy(struct runner *r)
{
	return !__atomic_load_n(&r->finished, __ATOMIC_ACQUIRE);
}

unsigned int runner_done(struct runner *r)
{
	return r->is_rx ? __atomic_load_n(&r->rx.received, __ATOMIC_RELAXED) :
			  __atomic_load_n(&r->tx.done, __ATOMIC_RELAXED);
}

void runner_stop(struct runner *r)
{
	__atomic_store_n(&r->tx.stop, true, __ATOMIC_RELAXED);
	__atomic_store_n(&r->rx.stop, true, __ATOMIC_RELAXED);
}

void gen_small(struct nctx *n, unsigned int seq, uint32_t *len, enum fkind *k)
{
	*len = 60 + seq % 100;
	*k = F_PLAIN;
}

int tx_post(struct nctx *n, unsigned int seq, unsigned int slot)
{
	unsigned char buf[256];
	struct gseg sg;

	sg.gpa = tx_slot(n, slot);
	sg.len = tx_fill(n, gen_small, seq, slot, buf);
	return gvq_add(&n->q[VQ_TX], &sg, 1, 0, 0, slot) < 0 ? -1 : 0;
}

int tap_expect(struct nctx *n, int tap, frame_gen gen, unsigned int first,
	       unsigned int count, char *why, size_t whylen)
{
	unsigned char *buf = malloc(FRAME_MAX + 128);
	unsigned char *want = malloc(FRAME_MAX + 128);
	struct virtio_net_hdr h;
	unsigned int i;
	int ret = -1;
	ssize_t r;

	for (i = first; buf && want && i < first + count; i++) {
		r = obs_recv(n->tap[tap].obs, &h, buf, TIMEOUT_MS);
		if (r <= 0) {
			snprintf(why, whylen, "frame %u never reached tap %d", i, tap);
			goto out;
		}
		if (tx_check(n, gen, i, &h, buf, r, want, why, whylen))
			goto out;
	}
	ret = 0;
out:
	free(buf);
	free(want);
	return ret;
}

bool tap_has_frame(struct nctx *n, int tap, int timeout_ms)
{
	unsigned char *buf = malloc(FRAME_MAX + 128);
	struct virtio_net_hdr h;
	bool r = buf && obs_recv(n->tap[tap].obs, &h, buf, timeout_ms) > 0;

	free(buf);
	return r;
}

unsigned int gvq_poll_used(struct gvq *q, unsigned int count, int timeout_ms,
			   uint32_t *cookies, uint32_t *lens)
{
	unsigned int got = 0;
	uint32_t c, l;
	bool impl;

	while (got < count) {
		int r = gvq_get_used(q, &c, &l, &impl);

		if (r < 0)
			break;
		if (r > 0) {
			if (cookies)
				cookies[got] = c;
			if (lens)
				lens[got] = l;
			got++;
			continue;
		}
		if (timeout_ms <= 0)
			break;
		usleep(1000);
		timeout_ms--;
	}
	return got;
}
