// SPDX-License-Identifier: GPL-2.0
/*
 * A fake virtio-vsock guest: see vsock_guest.h.
 */
#include <stdarg.h>

#include "vsock_guest.h"

static void vg_fail(struct vguest *v, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void vg_fail(struct vguest *v, const char *fmt, ...)
{
	va_list ap;

	if (v->err[0])
		return;
	va_start(ap, fmt);
	vsnprintf(v->err, sizeof(v->err), fmt, ap);
	va_end(ap);
}

void vg_cfg_default(struct vg_cfg *c, uint32_t cid)
{
	memset(c, 0, sizeof(*c));
	c->seqpacket = true;
	c->num = 256;
	c->rx_buf_size = VG_HDR_LEN + VG_MAX_PKT;
	c->rx_nbufs = 64;
	c->tx_nslots = 32;
	/* Linux's default (VIRTIO_VSOCK_DEFAULT_BUF_SIZE): 256 KiB */
	c->buf_alloc = 256 * 1024;
	c->cid = cid;
}

uint64_t vg_features(const struct vg_cfg *c)
{
	uint64_t f = BIT_ULL(VIRTIO_F_VERSION_1);

	if (c->seqpacket)
		f |= BIT_ULL(VIRTIO_VSOCK_F_SEQPACKET);
	if (c->event_idx)
		f |= BIT_ULL(VIRTIO_RING_F_EVENT_IDX);
	if (c->packed)
		f |= BIT_ULL(VIRTIO_F_RING_PACKED);
	if (c->in_order)
		f |= BIT_ULL(VIRTIO_F_IN_ORDER);
	return f;
}

void vg_init(struct vguest *v)
{
	int i;

	memset(v, 0, sizeof(*v));
	v->fd = -1;
	for (i = 0; i < VDEV_NVQS; i++)
		v->kick[i] = v->call[i] = v->errfd[i] = -1;
}

int vg_open(struct vguest *v, const struct vg_cfg *c)
{
	vg_init(v);
	v->cfg = *c;
	v->fd = open(VHOST_VSOCK_PATH, O_RDWR | O_CLOEXEC);
	if (v->fd < 0)
		return -errno;
	return -ioctl_errno(v->fd, VHOST_GET_FEATURES, &v->offered);
}

/* Post RX buffer i (one device-writable descriptor). */
static int rx_post(struct vguest *v, unsigned int i)
{
	struct gseg s = { v->rx_gpa[i], v->cfg.rx_buf_size };

	if (gvq_add(&v->q[VG_VQ_RX], &s, 0, 1, 0, i) < 0) {
		vg_fail(v, "RX ring full posting buffer %u", i);
		return -1;
	}
	return 0;
}

int vg_setup(struct vguest *v, const char **what)
{
	const struct vg_cfg *c = &v->cfg;
	uint64_t f = vg_features(c), cid = c->cid;
	unsigned int i;
	int vq, r;

#define STEP(name, expr) do {						\
		*what = name;						\
		r = (expr);						\
		if (r)							\
			return r > 0 ? -r : r;				\
	} while (0)

	STEP("gm_init", gm_init(&v->g));
	for (vq = 0; vq < VDEV_NVQS; vq++) {
		STEP("gvq_alloc", gvq_alloc(&v->q[vq], &v->g, c->num, c->packed));
		v->kick[vq] = new_eventfd();
		v->call[vq] = new_eventfd();
		v->errfd[vq] = new_eventfd();
		STEP("eventfd", v->kick[vq] < 0 || v->call[vq] < 0 ||
				v->errfd[vq] < 0 ? -EMFILE : 0);
	}
	v->rx_gpa = calloc(c->rx_nbufs, sizeof(*v->rx_gpa));
	v->tx_gpa = calloc(c->tx_nslots, sizeof(*v->tx_gpa));
	v->tx_free = calloc(c->tx_nslots, sizeof(*v->tx_free));
	STEP("calloc", !v->rx_gpa || !v->tx_gpa || !v->tx_free ? -ENOMEM : 0);
	/* buffers may span the regions' boundaries, as any guest's do */
	for (i = 0; i < c->rx_nbufs; i++) {
		v->rx_gpa[i] = gm_alloc(&v->g, c->rx_buf_size, 64, false);
		STEP("RX buffers", v->rx_gpa[i] ? 0 : -ENOMEM);
	}
	for (i = 0; i < c->tx_nslots; i++) {
		v->tx_gpa[i] = gm_alloc(&v->g, VG_HDR_LEN + VG_MAX_PKT, 64, false);
		STEP("TX buffers", v->tx_gpa[i] ? 0 : -ENOMEM);
		v->tx_free[v->tx_nfree++] = c->tx_nslots - 1 - i;
	}

	STEP("VHOST_SET_OWNER", ioctl_errno(v->fd, VHOST_SET_OWNER, NULL));
	STEP("VHOST_SET_FEATURES", set_features(v->fd, f));
	STEP("VHOST_SET_MEM_TABLE", gm_set_mem_table(&v->g, v->fd));
	for (vq = 0; vq < VDEV_NVQS; vq++) {
		struct gvq *q = &v->q[vq];

		gvq_reset(q, c->event_idx, c->in_order, 0);
		q->kick = v->kick[vq];
		q->call = v->call[vq];
		STEP("VHOST_SET_VRING_NUM", set_num(v->fd, vq, c->num));
		STEP("VHOST_SET_VRING_BASE", set_base(v->fd, vq, gvq_vring_base(q, 0)));
		STEP("VHOST_SET_VRING_ADDR",
		     set_addr(v->fd, vq, 0, gvq_uaddr(q, 0), gvq_uaddr(q, 1),
			      gvq_uaddr(q, 2), 0));
		STEP("VHOST_SET_VRING_KICK",
		     set_vring_file(v->fd, VHOST_SET_VRING_KICK, vq, v->kick[vq]));
		STEP("VHOST_SET_VRING_CALL",
		     set_vring_file(v->fd, VHOST_SET_VRING_CALL, vq, v->call[vq]));
		STEP("VHOST_SET_VRING_ERR",
		     set_vring_file(v->fd, VHOST_SET_VRING_ERR, vq, v->errfd[vq]));
	}
	STEP("VHOST_VSOCK_SET_GUEST_CID", vsock_set_cid(v->fd, cid));
	*what = "posting RX buffers";
	for (i = 0; i < c->rx_nbufs; i++)
		if (rx_post(v, i))
			return -ENOSPC;
	gvq_publish(&v->q[VG_VQ_RX]);
	*what = "";
	return 0;
#undef STEP
}

int vg_start(struct vguest *v)
{
	int r = vsock_set_running(v->fd, 1);

	if (r)
		return r;
	/* what a driver does at DRIVER_OK: the buffers are there */
	eventfd_kick(v->kick[VG_VQ_RX]);
	eventfd_kick(v->kick[VG_VQ_TX]);
	return 0;
}

void vg_release(struct vguest *v)
{
	if (v->fd >= 0)
		close(v->fd);
	v->fd = -1;
}

void vg_free(struct vguest *v)
{
	int i;

	vg_release(v);
	for (i = 0; i < VDEV_NVQS; i++) {
		if (v->kick[i] >= 0)
			close(v->kick[i]);
		if (v->call[i] >= 0)
			close(v->call[i]);
		if (v->errfd[i] >= 0)
			close(v->errfd[i]);
		v->kick[i] = v->call[i] = v->errfd[i] = -1;
		gvq_release(&v->q[i]);
	}
	for (i = 0; i < VG_MAXCONN; i++) {
		free(v->conn[i].rx);
		free(v->conn[i].seg);
	}
	free(v->rx_gpa);
	free(v->tx_gpa);
	free(v->tx_free);
	v->rx_gpa = v->tx_gpa = NULL;
	v->tx_free = NULL;
	memset(v->conn, 0, sizeof(v->conn));
	gm_free(&v->g);
}

/* ---- TX ---------------------------------------------------------------------- */

/* Take back the TX buffers the device used. */
static int tx_reclaim(struct vguest *v)
{
	struct gvq *q = &v->q[VG_VQ_TX];
	uint32_t cookie, len;
	bool implicit;
	int r, n = 0;

	while ((r = gvq_get_used(q, &cookie, &len, &implicit)) == 1) {
		if (cookie >= v->cfg.tx_nslots) {
			vg_fail(v, "TX used entry with cookie %u", cookie);
			return -1;
		}
		v->tx_free[v->tx_nfree++] = cookie;
		n++;
	}
	if (r < 0) {
		vg_fail(v, "TX ring: %s", q->err);
		return -1;
	}
	return n;
}

/*
 * A free TX slot, waiting up to a few seconds for the device to use one:
 * control packets must go out even when data filled the ring.
 */
static int tx_slot(struct vguest *v)
{
	struct gvq *q = &v->q[VG_VQ_TX];

	while (!v->tx_nfree || !gvq_room(q, 2)) {
		if (tx_reclaim(v) < 0)
			return -1;
		if (v->tx_nfree && gvq_room(q, 2))
			break;
		if (gvq_wait(q, 5000)) {
			vg_fail(v, "no TX buffer came back in 5 s (%u outstanding)",
				gvq_outstanding(q));
			return -1;
		}
	}
	return v->tx_free[--v->tx_nfree];
}

static uint32_t tx_room(struct vguest *v)
{
	tx_reclaim(v);
	return v->tx_nfree;
}

/*
 * Send one packet: header and payload in one slot, as two descriptors
 * (one without payload). c may be NULL for a reply without a connection.
 */
static int tx_pkt(struct vguest *v, struct vg_conn *c, uint16_t type,
		  uint32_t lport, uint32_t pport, uint16_t op, uint32_t flags,
		  const void *payload, uint32_t len)
{
	struct virtio_vsock_hdr h = {
		.src_cid = v->cfg.cid, .dst_cid = VMADDR_CID_HOST,
		.src_port = lport, .dst_port = pport,
		.len = len, .type = type, .op = op, .flags = flags,
	};
	struct gseg s[2];
	int slot = tx_slot(v);

	if (slot < 0)
		return -1;
	if (c) {
		h.buf_alloc = c->buf_alloc;
		h.fwd_cnt = c->fwd_cnt;
		c->fwd_sent = c->fwd_cnt;
		if (op == VIRTIO_VSOCK_OP_RW)
			c->tx_cnt += len;
		if (op == VIRTIO_VSOCK_OP_CREDIT_UPDATE)
			c->credit_updates_tx++;
	}
	gm_write(&v->g, v->tx_gpa[slot], &h, sizeof(h));
	s[0] = (struct gseg){ v->tx_gpa[slot], VG_HDR_LEN };
	if (len) {
		if (!v->cfg.no_copy)
			gm_write(&v->g, v->tx_gpa[slot] + VG_HDR_LEN, payload, len);
		s[1] = (struct gseg){ v->tx_gpa[slot] + VG_HDR_LEN, len };
	}
	if (gvq_add(&v->q[VG_VQ_TX], s, len ? 2 : 1, 0, 0, slot) < 0) {
		vg_fail(v, "TX ring full");
		return -1;
	}
	gvq_kick(&v->q[VG_VQ_TX]);
	v->tx_pkts++;
	if (op == VIRTIO_VSOCK_OP_RST)
		v->rst_tx++;
	return 0;
}

static int conn_pkt(struct vguest *v, struct vg_conn *c, uint16_t op,
		    uint32_t flags, const void *payload, uint32_t len)
{
	return tx_pkt(v, c, c->type, c->lport, c->pport, op, flags, payload,
		      len);
}

int vg_credit_update(struct vguest *v, struct vg_conn *c)
{
	return conn_pkt(v, c, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
}

int vg_shutdown(struct vguest *v, struct vg_conn *c, uint32_t flags)
{
	return conn_pkt(v, c, VIRTIO_VSOCK_OP_SHUTDOWN, flags, NULL, 0);
}

int vg_reset(struct vguest *v, struct vg_conn *c)
{
	c->state = VG_CLOSED;
	return conn_pkt(v, c, VIRTIO_VSOCK_OP_RST, 0, NULL, 0);
}

uint32_t vg_peer_credit(const struct vg_conn *c)
{
	int64_t room = (int64_t)c->peer_buf_alloc -
		       (uint32_t)(c->tx_cnt - c->peer_fwd_cnt);

	return room > 0 ? room : 0;
}

ssize_t vg_send(struct vguest *v, struct vg_conn *c, const void *buf,
		size_t len)
{
	const unsigned char *p = buf;
	size_t sent = 0;

	if (c->state != VG_ESTABLISHED) {
		vg_fail(v, "send on port %u: not connected", c->lport);
		return -1;
	}
	/* two slots stay free for control packets */
	while (sent < len && vg_peer_credit(c) && tx_room(v) > 2) {
		uint32_t n = len - sent;

		if (n > vg_peer_credit(c))
			n = vg_peer_credit(c);
		if (n > VG_MAX_PKT)
			n = VG_MAX_PKT;
		if (conn_pkt(v, c, VIRTIO_VSOCK_OP_RW, 0, p + sent, n))
			return -1;
		sent += n;
	}
	return sent;
}

ssize_t vg_send_msg(struct vguest *v, struct vg_conn *c, const void *buf,
		    size_t len, bool eor)
{
	const unsigned char *p = buf;
	size_t sent = 0, npkt = len ? (len + VG_MAX_PKT - 1) / VG_MAX_PKT : 1;

	if (c->state != VG_ESTABLISHED) {
		vg_fail(v, "send on port %u: not connected", c->lport);
		return -1;
	}
	if (vg_peer_credit(c) < len || tx_room(v) < npkt + 2)
		return 0;
	do {
		uint32_t n = len - sent > VG_MAX_PKT ? VG_MAX_PKT : len - sent;
		uint32_t f = 0;

		if (sent + n == len)
			f = VIRTIO_VSOCK_SEQ_EOM | (eor ? VIRTIO_VSOCK_SEQ_EOR : 0);
		if (conn_pkt(v, c, VIRTIO_VSOCK_OP_RW, f, p + sent, n))
			return -1;
		sent += n;
	} while (sent < len);
	return len;
}

/* ---- connections ------------------------------------------------------------- */

static struct vg_conn *conn_find(struct vguest *v, uint32_t lport,
				 uint32_t pport)
{
	int i;

	for (i = 0; i < VG_MAXCONN; i++) {
		struct vg_conn *c = &v->conn[i];

		if (c->state != VG_FREE && c->lport == lport &&
		    c->pport == pport)
			return c;
	}
	return NULL;
}

/*
 * A new connection. A closed one on the same ports is taken over, as a
 * reset connection's ports may be used again.
 */
static struct vg_conn *conn_new(struct vguest *v, uint32_t lport,
				uint32_t pport, uint16_t type)
{
	struct vg_conn *c = conn_find(v, lport, pport);
	int i;

	if (c && c->state != VG_CLOSED) {
		vg_fail(v, "connection %u:%u exists", lport, pport);
		return NULL;
	}
	for (i = 0; !c && i < VG_MAXCONN; i++)
		if (v->conn[i].state == VG_FREE)
			c = &v->conn[i];
	if (!c) {
		vg_fail(v, "more than %d connections", VG_MAXCONN);
		return NULL;
	}
	free(c->rx);
	free(c->seg);
	memset(c, 0, sizeof(*c));
	c->type = type;
	c->lport = lport;
	c->pport = pport;
	c->buf_alloc = v->cfg.buf_alloc;
	c->rx_cap = v->cfg.buf_alloc;
	c->rx = malloc(c->rx_cap);
	c->seg = calloc(VG_MAXSEG, sizeof(*c->seg));
	if (!c->rx || !c->seg) {
		vg_fail(v, "out of memory");
		return NULL;
	}
	return c;
}

int vg_listen(struct vguest *v, uint32_t port, uint16_t type)
{
	if (v->nlis == VG_MAXLISTEN)
		return -1;
	v->lis[v->nlis++] = (struct vg_listener){ port, type };
	return 0;
}

struct vg_conn *vg_accept(struct vguest *v, uint32_t port)
{
	int i;

	for (i = 0; i < VG_MAXCONN; i++) {
		struct vg_conn *c = &v->conn[i];

		if (c->state != VG_FREE && c->accepted && c->lport == port) {
			c->accepted = false;
			return c;
		}
	}
	return NULL;
}

struct vg_conn *vg_connect(struct vguest *v, uint32_t lport, uint32_t pport,
			   uint16_t type)
{
	struct vg_conn *c = conn_new(v, lport, pport, type);

	if (!c)
		return NULL;
	c->state = VG_CONNECTING;
	if (conn_pkt(v, c, VIRTIO_VSOCK_OP_REQUEST, 0, NULL, 0))
		return NULL;
	return c;
}

/* After consuming: tell the host, once half the buffer went unannounced. */
static int maybe_credit_update(struct vguest *v, struct vg_conn *c)
{
	if (c->manual_credit || c->state != VG_ESTABLISHED)
		return 0;
	if (c->fwd_cnt - c->fwd_sent >= c->buf_alloc / 2)
		return vg_credit_update(v, c);
	return 0;
}

/* Take n bytes off the receive ring into buf (or nowhere). */
static void rx_take(struct vg_conn *c, unsigned char *buf, uint32_t n)
{
	uint32_t first = c->rx_cap - c->rx_head;

	if (first > n)
		first = n;
	if (buf) {
		memcpy(buf, c->rx + c->rx_head, first);
		memcpy(buf + first, c->rx, n - first);
	}
	c->rx_head = (c->rx_head + n) % c->rx_cap;
	c->rx_len -= n;
	c->fwd_cnt += n;
}

ssize_t vg_recv(struct vguest *v, struct vg_conn *c, void *buf, size_t len)
{
	unsigned char *p = buf;
	size_t got = 0;

	while (got < len && c->seg_n) {
		struct vg_seg *s = &c->seg[c->seg_head];
		uint32_t n = s->len - c->seg_off;

		if (n > len - got)
			n = len - got;
		rx_take(c, p ? p + got : NULL, n);
		got += n;
		c->seg_off += n;
		if (c->seg_off == s->len) {
			c->seg_head = (c->seg_head + 1) % VG_MAXSEG;
			c->seg_n--;
			c->seg_off = 0;
		}
	}
	if (got && maybe_credit_update(v, c))
		return -1;
	return got;
}

ssize_t vg_recv_msg(struct vguest *v, struct vg_conn *c, void *buf,
		    size_t cap, uint32_t *flags, unsigned int *npkts)
{
	unsigned char *p = buf;
	uint32_t i, k, total = 0;

	for (k = 0; k < c->seg_n; k++)
		if (c->seg[(c->seg_head + k) % VG_MAXSEG].flags &
		    VIRTIO_VSOCK_SEQ_EOM)
			break;
	if (k == c->seg_n)
		return 0;
	for (i = 0; i <= k; i++) {
		struct vg_seg *s = &c->seg[c->seg_head];
		uint32_t n = s->len, keep = 0;

		if (total < cap)
			keep = cap - total < n ? cap - total : n;
		rx_take(c, p ? p + total : NULL, keep);
		rx_take(c, NULL, n - keep);
		total += n;
		*flags = s->flags;
		c->seg_head = (c->seg_head + 1) % VG_MAXSEG;
		c->seg_n--;
	}
	if (npkts)
		*npkts = k + 1;
	if (maybe_credit_update(v, c))
		return -1;
	return total;
}

/* ---- RX ---------------------------------------------------------------------- */

static int rx_rw(struct vguest *v, struct vg_conn *c,
		 const struct virtio_vsock_hdr *h, uint64_t gpa)
{
	uint32_t len = h->len, tail, first;

	if (c->rx_len + len > c->buf_alloc) {
		vg_fail(v, "port %u: host sent %u bytes with %u of %u buffered: over the credit",
			c->lport, len, c->rx_len, c->buf_alloc);
		return -1;
	}
	if (c->seg_n == VG_MAXSEG) {
		vg_fail(v, "port %u: more than %u packets buffered", c->lport,
			VG_MAXSEG);
		return -1;
	}
	if (c->type == VIRTIO_VSOCK_TYPE_STREAM && h->flags) {
		vg_fail(v, "port %u: stream RW packet with flags %#x",
			c->lport, h->flags);
		return -1;
	}
	tail = (c->rx_head + c->rx_len) % c->rx_cap;
	first = c->rx_cap - tail < len ? c->rx_cap - tail : len;
	if (!v->cfg.no_copy) {
		gm_read(&v->g, gpa + VG_HDR_LEN, c->rx + tail, first);
		gm_read(&v->g, gpa + VG_HDR_LEN + first, c->rx, len - first);
	}
	c->rx_len += len;
	c->seg[(c->seg_head + c->seg_n) % VG_MAXSEG] =
		(struct vg_seg){ len, h->flags };
	c->seg_n++;
	c->rx_pkts++;
	c->rx_bytes += len;
	return 0;
}

static int rx_request(struct vguest *v, const struct virtio_vsock_hdr *h)
{
	struct vg_conn *c;
	unsigned int i;

	for (i = 0; i < v->nlis; i++)
		if (v->lis[i].port == h->dst_port && v->lis[i].type == h->type)
			break;
	if (i == v->nlis)
		/* nobody listens: refused, as a Linux guest does */
		return tx_pkt(v, NULL, h->type, h->dst_port, h->src_port,
			      VIRTIO_VSOCK_OP_RST, 0, NULL, 0);
	c = conn_new(v, h->dst_port, h->src_port, h->type);
	if (!c)
		return -1;
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	c->state = VG_ESTABLISHED;
	c->accepted = true;
	return conn_pkt(v, c, VIRTIO_VSOCK_OP_RESPONSE, 0, NULL, 0);
}

/* One packet from the host, its header h, in the RX buffer at gpa. */
static int rx_pkt(struct vguest *v, const struct virtio_vsock_hdr *h,
		  uint64_t gpa)
{
	struct vg_conn *c;

	v->rx_pkts++;
	if (h->src_cid != VMADDR_CID_HOST || h->dst_cid != v->cfg.cid) {
		vg_fail(v, "packet from cid %llu to %llu (guest is %u)",
			(unsigned long long)h->src_cid,
			(unsigned long long)h->dst_cid, v->cfg.cid);
		return -1;
	}
	if (h->type != VIRTIO_VSOCK_TYPE_STREAM &&
	    h->type != VIRTIO_VSOCK_TYPE_SEQPACKET) {
		vg_fail(v, "packet of type %u", h->type);
		return -1;
	}
	if (h->op != VIRTIO_VSOCK_OP_RW && h->len) {
		vg_fail(v, "op %u with %u bytes of payload", h->op, h->len);
		return -1;
	}
	if (h->op == VIRTIO_VSOCK_OP_RST)
		v->rst_rx++;
	c = conn_find(v, h->dst_port, h->src_port);
	if (h->op == VIRTIO_VSOCK_OP_REQUEST &&
	    (!c || c->state == VG_CLOSED))
		return rx_request(v, h);
	if (!c || c->state == VG_CLOSED) {
		v->stray_rx++;
		if (h->op == VIRTIO_VSOCK_OP_RST)
			return 0;
		return tx_pkt(v, NULL, h->type, h->dst_port, h->src_port,
			      VIRTIO_VSOCK_OP_RST, 0, NULL, 0);
	}
	if (h->type != c->type) {
		vg_fail(v, "port %u: packet of type %u on a connection of type %u",
			c->lport, h->type, c->type);
		return -1;
	}
	/* every header carries the sender's credit */
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	if (c->state == VG_CONNECTING) {
		if (h->op == VIRTIO_VSOCK_OP_RESPONSE) {
			c->state = VG_ESTABLISHED;
			return 0;
		}
		if (h->op == VIRTIO_VSOCK_OP_RST) {
			c->state = VG_CLOSED;
			c->reset = true;
			return 0;
		}
		vg_fail(v, "port %u: op %u while connecting", c->lport, h->op);
		return -1;
	}
	switch (h->op) {
	case VIRTIO_VSOCK_OP_RW:
		if (c->peer_shutdown & VIRTIO_VSOCK_SHUTDOWN_SEND) {
			vg_fail(v, "port %u: data after SHUTDOWN(SEND)", c->lport);
			return -1;
		}
		return rx_rw(v, c, h, gpa);
	case VIRTIO_VSOCK_OP_CREDIT_UPDATE:
		c->credit_updates_rx++;
		return 0;
	case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
		return vg_credit_update(v, c);
	case VIRTIO_VSOCK_OP_SHUTDOWN:
		c->peer_shutdown |= h->flags;
		/* the host closed: the connection is over (data stays readable) */
		if ((c->peer_shutdown & 3) == 3)
			return vg_reset(v, c);
		return 0;
	case VIRTIO_VSOCK_OP_RST:
		c->state = VG_CLOSED;
		c->reset = true;
		return 0;
	default:
		vg_fail(v, "port %u: op %u on an established connection",
			c->lport, h->op);
		return -1;
	}
}

static int rx_reap(struct vguest *v)
{
	struct gvq *q = &v->q[VG_VQ_RX];
	struct virtio_vsock_hdr h;
	uint32_t cookie, len;
	bool implicit;
	int r, n = 0;

	while ((r = gvq_get_used(q, &cookie, &len, &implicit)) == 1) {
		if (cookie >= v->cfg.rx_nbufs) {
			vg_fail(v, "RX used entry with cookie %u", cookie);
			return -1;
		}
		n++;
		if (!implicit && len < VG_HDR_LEN) {
			vg_fail(v, "RX buffer used with %u bytes, no header", len);
			return -1;
		}
		gm_read(&v->g, v->rx_gpa[cookie], &h, sizeof(h));
		/* vhost writes the header and exactly h.len bytes after it */
		if (h.len > v->cfg.rx_buf_size - VG_HDR_LEN ||
		    (!implicit && len != VG_HDR_LEN + h.len)) {
			vg_fail(v, "RX buffer used with %u bytes, header says %u + %u (op %u, buffer %u)",
				len, VG_HDR_LEN, h.len, h.op, v->cfg.rx_buf_size);
			return -1;
		}
		if (rx_pkt(v, &h, v->rx_gpa[cookie]))
			return -1;
		if (rx_post(v, cookie))
			return -1;
	}
	if (r < 0) {
		vg_fail(v, "RX ring: %s", q->err);
		return -1;
	}
	if (n)
		gvq_kick(q);
	return n;
}

int vg_step(struct vguest *v)
{
	int a, b;

	if (v->err[0])
		return -1;
	a = rx_reap(v);
	if (a < 0)
		return -1;
	b = tx_reclaim(v);
	if (b < 0)
		return -1;
	return a + b;
}

int vg_wait(struct vguest *v, int fd, short events, int timeout_ms)
{
	struct pollfd p[3] = {
		{ .fd = v->call[VG_VQ_RX], .events = POLLIN },
		{ .fd = v->call[VG_VQ_TX], .events = POLLIN },
		{ .fd = fd, .events = events },
	};
	int r = vg_step(v);

	if (r)
		return r < 0 ? -1 : 1;
	if (fd >= 0 && events) {
		p[2].events = events;
		if (poll(&p[2], 1, 0) > 0)
			return 1;
	}
	/* ask for calls, then look again: a buffer used meanwhile sends none */
	gvq_enable_cb(&v->q[VG_VQ_RX]);
	gvq_enable_cb(&v->q[VG_VQ_TX]);
	r = vg_step(v);
	if (r)
		return r < 0 ? -1 : 1;
	r = poll(p, fd >= 0 && events ? 3 : 2, timeout_ms);
	if (r < 0) {
		vg_fail(v, "poll: %s", strerror(errno));
		return -1;
	}
	eventfd_take(v->call[VG_VQ_RX]);
	eventfd_take(v->call[VG_VQ_TX]);
	return r > 0;
}

int64_t vg_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

void vg_pattern(unsigned char *p, size_t len, uint32_t seed)
{
	uint32_t x = seed * 2654435761u + 1;
	size_t i;

	for (i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = x >> 24;
	}
}

int vg_stream_h2g(struct vguest *v, struct vg_conn *c, int s,
		  const unsigned char *src, unsigned char *dst, size_t len,
		  int idle_ms)
{
	int64_t idle_end = vg_now_ms() + idle_ms;
	size_t sent = 0, got = 0;
	ssize_t n;

	while (got < len) {
		bool progress = false;

		if (sent < len) {
			n = send(s, src + sent, len - sent, MSG_DONTWAIT);
			if (n < 0 && errno != EAGAIN) {
				vg_fail(v, "send: %s", strerror(errno));
				return -1;
			}
			if (n > 0) {
				sent += n;
				progress = true;
			}
		}
		n = vg_recv(v, c, dst + got, len - got);
		if (n < 0)
			return -1;
		got += n;
		if (n || progress)
			idle_end = vg_now_ms() + idle_ms;
		if (got == len)
			break;
		if (vg_now_ms() >= idle_end) {
			vg_fail(v, "stalled: host sent %zu, guest got %zu of %zu (fwd_cnt %u)",
				sent, got, len, c->fwd_cnt);
			return -1;
		}
		if (vg_wait(v, s, sent < len ? POLLOUT : 0, 200) < 0)
			return -1;
	}
	return 0;
}

int vg_stream_g2h(struct vguest *v, struct vg_conn *c, int s,
		  const unsigned char *src, unsigned char *dst, size_t len,
		  int idle_ms)
{
	int64_t idle_end = vg_now_ms() + idle_ms;
	size_t sent = 0, got = 0;
	ssize_t n;

	while (got < len) {
		bool progress = false;

		if (sent < len) {
			n = vg_send(v, c, src + sent, len - sent);
			if (n < 0)
				return -1;
			sent += n;
			progress = n > 0;
		}
		n = recv(s, dst + got, len - got, MSG_DONTWAIT);
		if (n < 0 && errno != EAGAIN) {
			vg_fail(v, "recv: %s", strerror(errno));
			return -1;
		}
		if (n == 0) {
			vg_fail(v, "host read end of stream after %zu of %zu",
				got, len);
			return -1;
		}
		if (n > 0) {
			got += n;
			progress = true;
		}
		if (progress)
			idle_end = vg_now_ms() + idle_ms;
		if (got == len)
			break;
		if (vg_now_ms() >= idle_end) {
			vg_fail(v, "stalled: guest sent %zu, host got %zu of %zu (host credit %u)",
				sent, got, len, vg_peer_credit(c));
			return -1;
		}
		if (vg_wait(v, s, POLLIN, 200) < 0)
			return -1;
	}
	return 0;
}

int vg_host_socket(int type, int timeout_ms)
{
	struct timeval tv = {
		.tv_sec = timeout_ms / 1000,
		.tv_usec = timeout_ms % 1000 * 1000,
	};
	int s = socket(AF_VSOCK, type | SOCK_CLOEXEC, 0);

	if (s < 0)
		return -1;
	if (setsockopt(s, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT, &tv, sizeof(tv)) ||
	    setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) ||
	    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv))) {
		int e = errno;

		close(s);
		errno = e;
		return -1;
	}
	return s;
}
