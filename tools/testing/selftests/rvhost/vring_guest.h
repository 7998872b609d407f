/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A fake guest's memory and virtqueues, for the vhost data path tests.
 *
 * The test process's own memory is the guest's memory: four regions, each
 * a separate mapping, at consecutive guest physical addresses from
 * GM_GPA_BASE (with a hole before the last one), mapped in reverse order
 * and at odd offsets, so guest addresses are nothing like user addresses
 * and a buffer that crosses a region boundary is two pieces in the host.
 *
 * struct gvq is the driver side of a virtqueue, split or packed (VIRTIO
 * 1.1): it lays out the rings, posts buffers as a virtio driver does (free
 * descriptor lists or in-order allocation, direct chains or indirect
 * tables), kicks only when the device asks, asks for calls only before it
 * sleeps, sleeps on the call eventfd alone, and checks every used entry
 * against what is outstanding. Nothing here asserts: errors are returned,
 * the first protocol violation is kept in gvq.err (tests may run this in
 * threads, where the harness cannot assert). The functions are in
 * vring_guest.c.
 */
#ifndef RVHOST_VRING_GUEST_H
#define RVHOST_VRING_GUEST_H

#include "vhost_util.h"

/* ---- guest memory --------------------------------------------------------- */

#define GM_NREGIONS	4
#define GM_GPA_BASE	0x40000000ULL
#define GM_HOLE_SIZE	0x10000ULL	/* unmapped, before the last region */
#define GM_HOLE_BEFORE	3

struct gmem {
	unsigned char *host[GM_NREGIONS];
	uint64_t gpa[GM_NREGIONS], size[GM_NREGIONS];
	void *map[GM_NREGIONS];
	size_t maplen[GM_NREGIONS];
	uint64_t next;		/* bump allocator */
};

static inline uint64_t round_up64(uint64_t v, uint64_t a)
{
	return (v + a - 1) / a * a;
}

int gm_init(struct gmem *g);
void gm_free(struct gmem *g);

static inline uint64_t gm_end(const struct gmem *g)
{
	return g->gpa[GM_NREGIONS - 1] + g->size[GM_NREGIONS - 1];
}

/* The first guest address of the hole between two regions. */
static inline uint64_t gm_hole(const struct gmem *g)
{
	return g->gpa[GM_HOLE_BEFORE] - GM_HOLE_SIZE;
}

int gm_region(const struct gmem *g, uint64_t gpa);
void gm_write(const struct gmem *g, uint64_t gpa, const void *src,
	      uint64_t len);
void gm_read(const struct gmem *g, uint64_t gpa, void *dst, uint64_t len);
void gm_fill(const struct gmem *g, uint64_t gpa, int c, uint64_t len);

/*
 * Allocate guest memory. contig: in one region (rings, which vhost reads
 * through their user address); otherwise the block may span regions but
 * never the hole. Returns 0 when the arena is exhausted.
 */
uint64_t gm_alloc(struct gmem *g, uint64_t size, uint64_t align, bool contig);

/* The gpa of the region boundary at or after gpa (not the hole). */
uint64_t gm_boundary_after(const struct gmem *g, uint64_t gpa);

/* VHOST_SET_MEM_TABLE with the arena's regions. */
int gm_set_mem_table(const struct gmem *g, int fd);
/*
 * The same regions at guest-physical addresses shift above the guest's own
 * (which are then I/O virtual addresses, for an IOTLB to translate).
 */
int gm_set_mem_table_at(const struct gmem *g, int fd, uint64_t shift);
/*
 * VHOST_IOTLB_UPDATE of every region whole, at the guest's address (as I/O
 * virtual address): 0 or -errno.
 */
int gm_iotlb_map(const struct gmem *g, int fd, uint8_t perm);

/* ---- virtqueues ------------------------------------------------------------ */

/*
 * The guest's side of the ring protocol runs against the device on another
 * CPU: indices and flags are read with acquire and written with release
 * semantics (what they publish is visible first), and a full barrier
 * separates "I published" from "does the other side want a notification".
 */
static inline void mb(void)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

static inline uint16_t load16(const void *p)
{
	return __atomic_load_n((const uint16_t *)p, __ATOMIC_ACQUIRE);
}

static inline void store16(void *p, uint16_t v)
{
	__atomic_store_n((uint16_t *)p, v, __ATOMIC_RELEASE);
}

/* One piece of a buffer: a guest address range. */
struct gseg {
	uint64_t gpa;
	uint32_t len;
};

struct gbuf_state {
	uint32_t cookie;
	uint32_t total;		/* bytes in the buffer */
	uint16_t ndesc;		/* ring descriptors it takes */
	bool busy;
};

struct gvq {
	struct gmem *g;
	unsigned int num;
	bool packed, event_idx, in_order;
	int kick, call;
	/* split */
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t avail_idx;	/* next avail index to publish */
	uint16_t published;	/* avail->idx as published */
	uint16_t kicked;	/* avail index at the last kick decision */
	uint16_t last_used;
	uint16_t *next_free;	/* free descriptor list (out of order) */
	uint16_t free_head;
	uint16_t next_desc;	/* allocation cursor (in order) */
	/* packed */
	struct vring_packed_desc *pdesc;
	struct vring_packed_desc_event *driver, *device;
	uint16_t pavail, pused, added;
	bool pavail_wrap, pused_wrap;
	uint16_t *free_ids;
	unsigned int nfree_ids;
	/* both */
	unsigned int nfree;	/* free descriptors */
	struct gbuf_state *st;	/* by id: split head, packed buffer id */
	uint16_t *fifo;		/* outstanding ids, oldest first */
	unsigned int fifo_head, fifo_n;
	unsigned int batch_left;	/* in order: buffers of the entry read */
	uint32_t batch_len;
	/* statistics */
	unsigned long kicks, calls, used_entries;
	char err[160];		/* first protocol violation */
	/* guest memory of the rings */
	uint64_t ring_gpa[3];
};

/*
 * Allocate the rings of a queue of num entries in guest memory (once per
 * queue; gvq_reset() clears them).
 */
int gvq_alloc(struct gvq *q, struct gmem *g, unsigned int num, bool packed);

void gvq_release(struct gvq *q);

/* The user addresses VHOST_SET_VRING_ADDR takes. */
uint64_t gvq_uaddr(struct gvq *q, int which);

/*
 * Clear the rings and start over at position base: the split avail and
 * used indices (the device reads used->idx when it starts), or the packed
 * ring position with both wrap counters set.
 */
void gvq_reset(struct gvq *q, bool event_idx, bool in_order, uint16_t base);

/* The base for VHOST_SET_VRING_BASE matching gvq_reset(q, ..., base). */
unsigned int gvq_vring_base(const struct gvq *q, uint16_t base);

/*
 * What VHOST_GET_VRING_BASE reports once the device has used everything
 * it took: the buffers still outstanding were not taken.
 */
unsigned int gvq_expected_base(const struct gvq *q);

static inline unsigned int gvq_outstanding(const struct gvq *q)
{
	return q->fifo_n;
}

static inline uint16_t fifo_at(const struct gvq *q, unsigned int k)
{
	return q->fifo[(q->fifo_head + k) % q->num];
}

static inline bool gvq_room(const struct gvq *q, unsigned int ndesc)
{
	return q->fifo_n < q->num && q->nfree >= ndesc &&
	       (!q->packed || q->nfree_ids);
}

/*
 * Writes a packed descriptor at the driver's next position, available on
 * the current lap, and moves the position on. A head's flags are not
 * written but returned: written last, with gvq_packed_publish(), they make
 * the whole chain available.
 */
uint16_t gvq_packed_put(struct gvq *q, uint64_t addr, uint32_t len, uint16_t id,
			uint16_t flags, bool head);

static inline void gvq_packed_publish(struct gvq *q, uint16_t head,
				      uint16_t head_flags)
{
	store16(&q->pdesc[head].flags, head_flags);
}

/*
 * Add a buffer of nout readable then nin writable pieces, through an
 * indirect table at ind (room for nout + nin entries) if ind != 0.
 * Split rings: the avail entry is written, the index published by
 * gvq_publish(). Packed rings: published at once. Returns the id or -1 if
 * the ring has no room.
 */
int gvq_add(struct gvq *q, const struct gseg *s, unsigned int nout,
	    unsigned int nin, uint64_t ind, uint32_t cookie);

/* Make the split avail index visible (packed: nothing to do). */
void gvq_publish(struct gvq *q);

/* Whether the device asks for a kick for what was added since the last. */
bool gvq_kick_needed(struct gvq *q);

/* Publish, and kick if the device wants it. */
void gvq_kick(struct gvq *q);

bool gvq_packed_used_at(struct gvq *q, uint16_t pos, bool wrap);

/*
 * The next buffer the device returned, oldest first. With
 * VIRTIO_F_IN_ORDER one used entry may stand for several buffers (the
 * entry names the last one); the earlier ones come back with *implicit set
 * and their whole size as length. Returns 1, 0 if there is none, -1 on a
 * protocol violation (gvq.err says which).
 */
int gvq_get_used(struct gvq *q, uint32_t *cookie, uint32_t *len,
		 bool *implicit);

/* Interrupt suppression: ask for a call at the next used buffer. */
void gvq_enable_cb(struct gvq *q);

/*
 * Wait for a used buffer the way a driver does: enable calls, look again,
 * sleep on the call eventfd. A device that returns buffers without the
 * call it was asked for makes this time out: a lost wakeup.
 */
int gvq_wait(struct gvq *q, int timeout_ms);

#endif /* RVHOST_VRING_GUEST_H */
