// SPDX-License-Identifier: GPL-2.0
/*
 * A fake guest's memory and virtqueues: see vring_guest.h.
 */
#include <stdarg.h>

#include "vring_guest.h"

/* Odd sizes: buffers and tables fall across the boundaries. */
static const uint64_t gm_sizes[GM_NREGIONS] = {
	0x500000 + 0x1230, 0x380000 - 0x40, 0x600000 + 0x8c0, 0x400000,
};

int gm_init(struct gmem *g)
{
	uint64_t gpa = GM_GPA_BASE;
	int i;

	memset(g, 0, sizeof(*g));
	/*
	 * Mapped last region first: neighbours in guest physical space are
	 * in the opposite order (or far apart) in ours. The user address of
	 * each region is 64-byte aligned but not page aligned.
	 */
	for (i = GM_NREGIONS - 1; i >= 0; i--) {
		size_t off = 64 * (i + 1);

		g->maplen[i] = round_up64(gm_sizes[i] + off, 4096);
		g->map[i] = mmap(NULL, g->maplen[i], PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
				 -1, 0);
		if (g->map[i] == MAP_FAILED)
			return -errno;
		g->host[i] = (unsigned char *)g->map[i] + off;
	}
	for (i = 0; i < GM_NREGIONS; i++) {
		if (i == GM_HOLE_BEFORE)
			gpa += GM_HOLE_SIZE;
		g->gpa[i] = gpa;
		g->size[i] = gm_sizes[i];
		gpa += gm_sizes[i];
	}
	g->next = GM_GPA_BASE;
	return 0;
}

void gm_free(struct gmem *g)
{
	int i;

	for (i = 0; i < GM_NREGIONS; i++)
		if (g->map[i] && g->map[i] != MAP_FAILED)
			munmap(g->map[i], g->maplen[i]);
	memset(g, 0, sizeof(*g));
}

int gm_region(const struct gmem *g, uint64_t gpa)
{
	int i;

	for (i = 0; i < GM_NREGIONS; i++)
		if (gpa >= g->gpa[i] && gpa - g->gpa[i] < g->size[i])
			return i;
	return -1;
}

/* Host pointer for gpa, and how many bytes follow it in its region. */
static unsigned char *gm_ptr(const struct gmem *g, uint64_t gpa, uint64_t *room)
{
	int r = gm_region(g, gpa);

	if (r < 0)
		abort();	/* a test bug, not a device bug */
	if (room)
		*room = g->size[r] - (gpa - g->gpa[r]);
	return g->host[r] + (gpa - g->gpa[r]);
}

/* Copies between guest memory at gpa and buf, across regions. */
static void gm_copy(const struct gmem *g, uint64_t gpa, void *buf, uint64_t len,
		    bool to_guest)
{
	unsigned char *b = buf;
	uint64_t room;

	while (len) {
		unsigned char *p = gm_ptr(g, gpa, &room);
		uint64_t n = len < room ? len : room;

		if (to_guest)
			memcpy(p, b, n);
		else
			memcpy(b, p, n);
		b += n;
		gpa += n;
		len -= n;
	}
}

void gm_write(const struct gmem *g, uint64_t gpa, const void *src, uint64_t len)
{
	gm_copy(g, gpa, (void *)src, len, true);
}

void gm_read(const struct gmem *g, uint64_t gpa, void *dst, uint64_t len)
{
	gm_copy(g, gpa, dst, len, false);
}

void gm_fill(const struct gmem *g, uint64_t gpa, int c, uint64_t len)
{
	uint64_t room;

	while (len) {
		unsigned char *p = gm_ptr(g, gpa, &room);
		uint64_t n = len < room ? len : room;

		memset(p, c, n);
		gpa += n;
		len -= n;
	}
}

uint64_t gm_alloc(struct gmem *g, uint64_t size, uint64_t align, bool contig)
{
	uint64_t hole = gm_hole(g);

	for (;;) {
		uint64_t a = round_up64(g->next, align);
		int r = gm_region(g, a);
		uint64_t rend;

		if (r < 0) {
			if (a >= hole && a < g->gpa[GM_HOLE_BEFORE]) {
				g->next = g->gpa[GM_HOLE_BEFORE];
				continue;
			}
			return 0;
		}
		rend = g->gpa[r] + g->size[r];
		if (contig && a + size > rend) {
			g->next = rend;
			continue;
		}
		if (!contig && a < hole && a + size > hole) {
			g->next = g->gpa[GM_HOLE_BEFORE];
			continue;
		}
		if (a + size > gm_end(g))
			return 0;
		g->next = a + size;
		return a;
	}
}

uint64_t gm_boundary_after(const struct gmem *g, uint64_t gpa)
{
	int i;

	for (i = 1; i < GM_HOLE_BEFORE; i++)
		if (g->gpa[i] >= gpa)
			return g->gpa[i];
	return 0;
}

int gm_set_mem_table(const struct gmem *g, int fd)
{
	return gm_set_mem_table_at(g, fd, 0);
}

int gm_set_mem_table_at(const struct gmem *g, int fd, uint64_t shift)
{
	struct {
		struct vhost_memory hdr;
		struct vhost_memory_region r[GM_NREGIONS];
	} t;
	int i;

	memset(&t, 0, sizeof(t));
	t.hdr.nregions = GM_NREGIONS;
	for (i = 0; i < GM_NREGIONS; i++) {
		t.r[i].guest_phys_addr = g->gpa[i] + shift;
		t.r[i].memory_size = g->size[i];
		t.r[i].userspace_addr = uptr(g->host[i]);
	}
	return ioctl_errno(fd, VHOST_SET_MEM_TABLE, &t);
}

int gm_iotlb_map(const struct gmem *g, int fd, uint8_t perm)
{
	int i, r;

	for (i = 0; i < GM_NREGIONS; i++) {
		r = iotlb_map(fd, g->gpa[i], g->size[i], g->host[i], perm);
		if (r)
			return r;
	}
	return 0;
}

static void gvq_fail(struct gvq *q, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void gvq_fail(struct gvq *q, const char *fmt, ...)
{
	va_list ap;

	if (q->err[0])
		return;
	va_start(ap, fmt);
	vsnprintf(q->err, sizeof(q->err), fmt, ap);
	va_end(ap);
}

int gvq_alloc(struct gvq *q, struct gmem *g, unsigned int num, bool packed)
{
	memset(q, 0, sizeof(*q));
	q->g = g;
	q->num = num;
	q->packed = packed;
	if (packed) {
		q->ring_gpa[0] = gm_alloc(g, 16ULL * num, 16, true);
		q->ring_gpa[1] = gm_alloc(g, 4, 4, true);
		q->ring_gpa[2] = gm_alloc(g, 4, 4, true);
	} else {
		q->ring_gpa[0] = gm_alloc(g, 16ULL * num, 16, true);
		q->ring_gpa[1] = gm_alloc(g, 6 + 2ULL * num, 2, true);
		q->ring_gpa[2] = gm_alloc(g, 6 + 8ULL * num, 4, true);
	}
	if (!q->ring_gpa[0] || !q->ring_gpa[1] || !q->ring_gpa[2])
		return -ENOMEM;
	q->st = calloc(num, sizeof(*q->st));
	q->fifo = calloc(num, sizeof(*q->fifo));
	q->next_free = calloc(num, sizeof(*q->next_free));
	q->free_ids = calloc(num, sizeof(*q->free_ids));
	if (!q->st || !q->fifo || !q->next_free || !q->free_ids)
		return -ENOMEM;
	if (packed) {
		q->pdesc = (void *)gm_ptr(g, q->ring_gpa[0], NULL);
		q->driver = (void *)gm_ptr(g, q->ring_gpa[1], NULL);
		q->device = (void *)gm_ptr(g, q->ring_gpa[2], NULL);
	} else {
		q->desc = (void *)gm_ptr(g, q->ring_gpa[0], NULL);
		q->avail = (void *)gm_ptr(g, q->ring_gpa[1], NULL);
		q->used = (void *)gm_ptr(g, q->ring_gpa[2], NULL);
	}
	return 0;
}

void gvq_release(struct gvq *q)
{
	free(q->st);
	free(q->fifo);
	free(q->next_free);
	free(q->free_ids);
	q->st = NULL;
	q->fifo = q->next_free = q->free_ids = NULL;
}

uint64_t gvq_uaddr(struct gvq *q, int which)
{
	return uptr(gm_ptr(q->g, q->ring_gpa[which], NULL));
}

void gvq_reset(struct gvq *q, bool event_idx, bool in_order, uint16_t base)
{
	unsigned int i, n = q->num;

	q->event_idx = event_idx;
	q->in_order = in_order;
	q->fifo_head = q->fifo_n = 0;
	q->batch_left = 0;
	q->kicks = q->calls = q->used_entries = 0;
	q->err[0] = 0;
	q->nfree = n;
	memset(q->st, 0, n * sizeof(*q->st));
	if (q->packed) {
		memset(q->pdesc, 0, 16 * n);
		/*
		 * Starting at base on lap 1 (wrap counters set), the slots
		 * before it were used on the lap before: zeroed flags would
		 * read as used on lap 0, once the driver wraps.
		 */
		for (i = 0; i < base && i < n; i++)
			q->pdesc[i].flags = (1 << VRING_PACKED_DESC_F_AVAIL) |
					    (1 << VRING_PACKED_DESC_F_USED);
		memset(q->driver, 0, 4);
		memset(q->device, 0, 4);
		q->pavail = q->pused = base;
		q->pavail_wrap = q->pused_wrap = true;
		q->added = 0;
		for (i = 0; i < n; i++)
			q->free_ids[i] = n - 1 - i;
		q->nfree_ids = n;
		return;
	}
	memset(q->desc, 0, 16 * n);
	memset(q->avail, 0, 6 + 2 * n);
	memset(q->used, 0, 6 + 8 * n);
	q->avail->idx = base;
	q->used->idx = base;
	q->avail_idx = q->published = q->kicked = q->last_used = base;
	for (i = 0; i < n; i++)
		q->next_free[i] = i + 1;
	q->free_head = 0;
	q->next_desc = base & (n - 1);
}

unsigned int gvq_vring_base(const struct gvq *q, uint16_t base)
{
	if (q->packed)
		return (base | 0x8000u) | (base | 0x8000u) << 16;
	return base;
}

unsigned int gvq_expected_base(const struct gvq *q)
{
	unsigned int pos = q->pused | (q->pused_wrap ? 0x8000u : 0);

	if (q->packed)
		return pos | pos << 16;
	return (uint16_t)(q->avail_idx - q->fifo_n);
}

static void fifo_push(struct gvq *q, uint16_t id)
{
	q->fifo[(q->fifo_head + q->fifo_n) % q->num] = id;
	q->fifo_n++;
}

static void fifo_remove(struct gvq *q, unsigned int k)
{
	unsigned int i;

	for (i = k; i > 0; i--)
		q->fifo[(q->fifo_head + i) % q->num] =
			q->fifo[(q->fifo_head + i - 1) % q->num];
	q->fifo_head = (q->fifo_head + 1) % q->num;
	q->fifo_n--;
}

static int fifo_find(const struct gvq *q, uint16_t id, unsigned int max)
{
	unsigned int k;

	for (k = 0; k < q->fifo_n && k < max; k++)
		if (fifo_at(q, k) == id)
			return k;
	return -1;
}

static void fill_indirect(struct gvq *q, uint64_t ind, const struct gseg *s,
			  unsigned int nout, unsigned int nin)
{
	unsigned int i, n = nout + nin;

	for (i = 0; i < n; i++) {
		uint16_t w = i >= nout ? VRING_DESC_F_WRITE : 0;

		if (q->packed) {
			struct vring_packed_desc d = {
				.addr = s[i].gpa, .len = s[i].len, .flags = w,
			};

			gm_write(q->g, ind + 16ULL * i, &d, sizeof(d));
		} else {
			struct vring_desc d = {
				.addr = s[i].gpa, .len = s[i].len,
				.flags = w | (i + 1 < n ? VRING_DESC_F_NEXT : 0),
				.next = i + 1 < n ? i + 1 : 0,
			};

			gm_write(q->g, ind + 16ULL * i, &d, sizeof(d));
		}
	}
}

uint16_t gvq_packed_put(struct gvq *q, uint64_t addr, uint32_t len, uint16_t id,
			uint16_t flags, bool head)
{
	struct vring_packed_desc *d = &q->pdesc[q->pavail];

	flags |= q->pavail_wrap ? 1 << VRING_PACKED_DESC_F_AVAIL :
				  1 << VRING_PACKED_DESC_F_USED;
	d->addr = addr;
	d->len = len;
	d->id = id;
	if (!head)
		store16(&d->flags, flags);
	if (++q->pavail == q->num) {
		q->pavail = 0;
		q->pavail_wrap = !q->pavail_wrap;
	}
	q->nfree--;
	return flags;
}

static int gvq_add_packed(struct gvq *q, const struct gseg *s,
			  unsigned int nout, unsigned int nin, uint64_t ind,
			  uint32_t cookie)
{
	unsigned int i, n = nout + nin, ndesc = ind ? 1 : n;
	uint16_t id, head = q->pavail, head_flags = 0, f;
	uint32_t total = 0;

	for (i = 0; i < n; i++)
		total += s[i].len;
	id = q->free_ids[--q->nfree_ids];
	if (ind) {
		fill_indirect(q, ind, s, nout, nin);
		head_flags = gvq_packed_put(q, ind, 16 * n, id,
					    VRING_DESC_F_INDIRECT, true);
	} else {
		for (i = 0; i < n; i++) {
			f = gvq_packed_put(q, s[i].gpa, s[i].len, id,
					   (i >= nout ? VRING_DESC_F_WRITE : 0) |
					   (i + 1 < n ? VRING_DESC_F_NEXT : 0),
					   i == 0);
			if (i == 0)
				head_flags = f;
		}
	}
	gvq_packed_publish(q, head, head_flags);
	q->added += ndesc;
	q->st[id] = (struct gbuf_state){ cookie, total, ndesc, true };
	fifo_push(q, id);
	return id;
}

int gvq_add(struct gvq *q, const struct gseg *s, unsigned int nout,
	    unsigned int nin, uint64_t ind, uint32_t cookie)
{
	unsigned int i, n = nout + nin, ndesc = ind ? 1 : n;
	uint16_t head, cur = 0, prev = 0;
	uint32_t total = 0;

	if (!n || !gvq_room(q, ndesc))
		return -1;
	if (q->packed)
		return gvq_add_packed(q, s, nout, nin, ind, cookie);
	for (i = 0; i < n; i++)
		total += s[i].len;
	if (ind)
		fill_indirect(q, ind, s, nout, nin);
	head = q->in_order ? q->next_desc : q->free_head;
	for (i = 0; i < ndesc; i++) {
		struct vring_desc *d;

		if (q->in_order) {
			cur = q->next_desc;
			q->next_desc = (q->next_desc + 1) & (q->num - 1);
		} else {
			cur = q->free_head;
			q->free_head = q->next_free[cur];
		}
		if (i)
			q->desc[prev].next = cur;
		d = &q->desc[cur];
		if (ind) {
			d->addr = ind;
			d->len = 16 * n;
			d->flags = VRING_DESC_F_INDIRECT;
		} else {
			d->addr = s[i].gpa;
			d->len = s[i].len;
			d->flags = (i >= nout ? VRING_DESC_F_WRITE : 0) |
				   (i + 1 < ndesc ? VRING_DESC_F_NEXT : 0);
		}
		d->next = 0;
		prev = cur;
	}
	q->nfree -= ndesc;
	q->st[head] = (struct gbuf_state){ cookie, total, ndesc, true };
	q->avail->ring[q->avail_idx & (q->num - 1)] = head;
	q->avail_idx++;
	fifo_push(q, head);
	return head;
}

void gvq_publish(struct gvq *q)
{
	if (q->packed || q->published == q->avail_idx)
		return;
	store16(&q->avail->idx, q->avail_idx);
	q->published = q->avail_idx;
}

bool gvq_kick_needed(struct gvq *q)
{
	uint16_t new, old;

	/* the buffers are published before the device's wishes are read */
	mb();
	if (q->packed) {
		uint16_t off_wrap = load16(&q->device->off_wrap);
		uint16_t flags = load16(&q->device->flags) & 3;
		uint16_t event;

		new = q->pavail;
		old = q->pavail - q->added;

		if (!q->added)
			return false;
		q->added = 0;
		if (flags != VRING_PACKED_EVENT_FLAG_DESC)
			return flags != VRING_PACKED_EVENT_FLAG_DISABLE;
		event = off_wrap & 0x7fff;
		if (!!(off_wrap >> VRING_PACKED_EVENT_F_WRAP_CTR) !=
		    q->pavail_wrap)
			event -= q->num;
		return vring_need_event(event, new, old);
	}
	new = q->published;
	old = q->kicked;
	if (new == old)
		return false;
	q->kicked = new;
	if (q->event_idx)
		return vring_need_event(load16(&q->used->ring[q->num]), new, old);
	return !(load16(&q->used->flags) & VRING_USED_F_NO_NOTIFY);
}

void gvq_kick(struct gvq *q)
{
	gvq_publish(q);
	if (gvq_kick_needed(q)) {
		eventfd_kick(q->kick);
		q->kicks++;
	}
}

bool gvq_packed_used_at(struct gvq *q, uint16_t pos, bool wrap)
{
	uint16_t f = load16(&q->pdesc[pos].flags);
	bool avail = f & (1 << VRING_PACKED_DESC_F_AVAIL);
	bool used = f & (1 << VRING_PACKED_DESC_F_USED);

	return avail == wrap && used == wrap;
}

/* Whether the device returned a buffer that gvq_get_used() has not. */
static bool gvq_used_pending(struct gvq *q)
{
	if (q->batch_left)
		return true;
	if (q->packed)
		return gvq_packed_used_at(q, q->pused, q->pused_wrap);
	return load16(&q->used->idx) != q->last_used;
}

static void gvq_free_desc(struct gvq *q, uint16_t id)
{
	struct gbuf_state *b = &q->st[id];
	unsigned int i;
	uint16_t d = id, next;

	if (q->packed) {
		q->free_ids[q->nfree_ids++] = id;
	} else if (!q->in_order) {
		/* our own chain: the device does not write the table */
		for (i = 0; i < b->ndesc; i++) {
			next = q->desc[d].next;
			q->next_free[d] = q->free_head;
			q->free_head = d;
			d = next;
		}
	}
	q->nfree += b->ndesc;
	b->busy = false;
}

static void gvq_advance_used(struct gvq *q, unsigned int slots)
{
	unsigned int p = q->pused + slots;

	if (p >= q->num) {
		p -= q->num;
		q->pused_wrap = !q->pused_wrap;
	}
	q->pused = p;
}

int gvq_get_used(struct gvq *q, uint32_t *cookie, uint32_t *len, bool *implicit)
{
	uint16_t id;
	uint32_t l;
	int k;

	if (q->err[0])
		return -1;
	if (!q->batch_left) {
		unsigned int span;

		if (q->packed) {
			struct vring_packed_desc *d = &q->pdesc[q->pused];

			if (!gvq_packed_used_at(q, q->pused, q->pused_wrap))
				return 0;
			id = d->id;
			l = d->len;
			span = q->fifo_n;
		} else {
			uint16_t uidx = load16(&q->used->idx);
			struct vring_used_elem *e;

			if (uidx == q->last_used)
				return 0;
			span = (uint16_t)(uidx - q->last_used);
			if (span > q->fifo_n) {
				gvq_fail(q, "used index %u moved %u past %u, %u outstanding",
					 uidx, span, q->last_used, q->fifo_n);
				return -1;
			}
			e = &q->used->ring[q->last_used & (q->num - 1)];
			id = e->id;
			l = e->len;
		}
		q->used_entries++;
		if (id >= q->num || !q->st[id].busy) {
			if (q->packed)
				gvq_fail(q, "used entry names id %u, not outstanding (pos %u lap %d flags %#x len %u; %u out, oldest id %u)",
					 id, q->pused, q->pused_wrap,
					 load16(&q->pdesc[q->pused].flags), l,
					 q->fifo_n, q->fifo_n ? fifo_at(q, 0) : 0);
			else
				gvq_fail(q, "used entry names id %u, not outstanding", id);
			return -1;
		}
		k = fifo_find(q, id, q->in_order ? span : q->fifo_n);
		if (k < 0) {
			gvq_fail(q, "used id %u out of order (in order)", id);
			return -1;
		}
		if (q->in_order) {
			unsigned int j, slots = 0;

			for (j = 0; j <= (unsigned int)k; j++)
				slots += q->st[fifo_at(q, j)].ndesc;
			q->batch_left = k + 1;
			q->batch_len = l;
			if (q->packed)
				gvq_advance_used(q, slots);
			else
				q->last_used += k + 1;
		} else {
			if (q->packed)
				gvq_advance_used(q, q->st[id].ndesc);
			else
				q->last_used++;
			fifo_remove(q, k);
			*cookie = q->st[id].cookie;
			*len = l;
			*implicit = false;
			gvq_free_desc(q, id);
			return 1;
		}
	}
	id = fifo_at(q, 0);
	fifo_remove(q, 0);
	*cookie = q->st[id].cookie;
	*implicit = q->batch_left > 1;
	*len = *implicit ? q->st[id].total : q->batch_len;
	q->batch_left--;
	gvq_free_desc(q, id);
	return 1;
}

void gvq_enable_cb(struct gvq *q)
{
	if (q->packed) {
		if (q->event_idx) {
			store16(&q->driver->off_wrap,
				q->pused | (q->pused_wrap ? 0x8000 : 0));
			store16(&q->driver->flags, VRING_PACKED_EVENT_FLAG_DESC);
		} else {
			store16(&q->driver->flags,
				VRING_PACKED_EVENT_FLAG_ENABLE);
		}
	} else if (q->event_idx) {
		store16(&q->avail->ring[q->num], q->last_used);
	} else {
		store16(&q->avail->flags, 0);
	}
	/* the request is visible before the guest looks at the ring again */
	mb();
}

/* ... and no calls while the guest is busy anyway. */
static void gvq_disable_cb(struct gvq *q)
{
	if (q->packed)
		store16(&q->driver->flags, VRING_PACKED_EVENT_FLAG_DISABLE);
	else if (!q->event_idx)
		store16(&q->avail->flags, VRING_AVAIL_F_NO_INTERRUPT);
}

int gvq_wait(struct gvq *q, int timeout_ms)
{
	while (!gvq_used_pending(q)) {
		gvq_enable_cb(q);
		if (gvq_used_pending(q))
			break;
		if (!wait_readable(q->call, timeout_ms))
			return -ETIMEDOUT;
		q->calls += eventfd_take(q->call);
	}
	gvq_disable_cb(q);
	return 0;
}
