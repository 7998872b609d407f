/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A fake virtio-net guest for the vhost-net data path tests, on the guest
 * memory and virtqueues of vring_guest.h.
 *
 * The backend is a tap device, as QEMU sets it up: with IFF_VNET_HDR and
 * TUNSETVNETHDRSZ when the tap handles the virtio-net header, without when
 * vhost adds and strips it (VHOST_NET_F_VIRTIO_NET_HDR). The other side of
 * the tap is the host's network stack: frames the guest sends are read
 * from a packet socket on the interface ("observer", with PACKET_VNET_HDR
 * to see the offload state of the skb), frames for the guest are sent out
 * of the interface through another packet socket ("injector", also with a
 * virtio-net header, so it can send GSO frames). The tap's own file
 * descriptor cannot be used for either: vhost reads and writes the same
 * queue.
 *
 * The functions are in net_guest.c: the engines (tx_run(), rx_run()) and
 * the small helpers return errors and may run in threads. The set-up
 * helpers that assert (net_open(), net_configure(), ...) belong to the
 * test's main thread and are in net_test.h.
 */
#ifndef RVHOST_NET_GUEST_H
#define RVHOST_NET_GUEST_H

#include <netinet/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <linux/sockios.h>

#include "vring_guest.h"

#define VQ_RX		0
#define VQ_TX		1

/* ---- the device ------------------------------------------------------------ */

/* How a test device is configured. */
struct ncfg {
	bool vhost_hdr;		/* VHOST_NET_F_VIRTIO_NET_HDR: vhost adds/strips */
	bool mrg, v1, indirect, event_idx, in_order, packed, tunnel;
	bool notify_on_empty;
	unsigned int num;	/* ring size */
	unsigned int busyloop;	/* VHOST_SET_VRING_BUSYLOOP_TIMEOUT, us */
	int sndbuf;		/* TUNSETSNDBUF if not 0: TX without batching */
};

unsigned int ncfg_hlen(const struct ncfg *c);
uint64_t ncfg_features(const struct ncfg *c);

struct ntap {
	char name[IFNAMSIZ];
	int fd, ifindex;
	int obs;		/* packet socket: what the guest sent */
	int inj;		/* packet socket: what to send to the guest */
};

struct nctx {
	struct ncfg cfg;
	unsigned int hlen;
	int fd;
	struct gmem g;
	struct gvq q[VDEV_NVQS];
	int kick[VDEV_NVQS], call[VDEV_NVQS], err[VDEV_NVQS];
	uint16_t base[VDEV_NVQS];
	struct ntap tap[2];
	int ntaps;
	int backend;		/* index of the tap vhost uses */
	/* guest memory for buffers */
	uint64_t tx_slots, rx_slots, tx_ind, rx_ind;
	unsigned int tx_nslots, rx_nslots;
	uint32_t tx_slot_size, rx_slot_size;
	uint64_t offered;
};

#define NET_MTU		65521	/* tun's maximum: frames up to 65535 */
#define TEST_ETHERTYPE	0x88b5
#define TIMEOUT_MS	5000

int if_set_mtu(const char *name, int mtu);

/*
 * The observer and injector packet sockets on interface name, which exists
 * and is up (a tap, or the far end of a macvtap). t->fd is left alone.
 */
int ntap_sockets(struct ntap *t, const char *name, const char **what);

/*
 * A tap as QEMU sets it up for cfg, up, with its two packet sockets.
 * Returns 0, -ENOENT without /dev/net/tun, or -errno with *what set.
 */
int ntap_open(struct ntap *t, const struct ncfg *c, const char **what);

void nctx_init(struct nctx *n);
void nctx_free(struct nctx *n);

/* ---- frames ---------------------------------------------------------------- */

enum fkind {
	F_PLAIN,	/* test ethertype */
	F_TCP,		/* IPv4 TCP, no offload */
	F_CSUM,		/* IPv4 TCP, checksum offload (NEEDS_CSUM) */
	F_GSO,		/* IPv4 TCP, TSO (GSO_TCPV4 + NEEDS_CSUM) */
};

#define GSO_MSS		1448
#define TCP_HDRS	(ETH_HLEN + 20 + 20)	/* 54 */
#define FRAME_MIN_PLAIN	(ETH_HLEN + 8)
#define FRAME_MIN_TCP	(TCP_HDRS + 8)
#define FRAME_MAX	65536

static inline uint32_t get_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
}

/* Offset of the sequence number and length in a frame of this kind. */
static inline unsigned int frame_tag_off(enum fkind k)
{
	return k == F_PLAIN ? ETH_HLEN : TCP_HDRS;
}

/*
 * Frame seq of len bytes: addresses, headers, then seq, len and a
 * pattern derived from both.
 */
void frame_build(unsigned char *f, uint32_t len, uint32_t seq, enum fkind k);

/* The virtio-net header that goes with it (what the sender fills in). */
void frame_hdr(struct virtio_net_hdr *h, uint32_t len, enum fkind k);

/* ---- device set-up ---------------------------------------------------------- */

#define TX_MAXSEG	64	/* pieces of a TX buffer, and indirect entries */

/*
 * Allocate a block of guest memory that spans a region boundary: the
 * boundary falls 8 bytes into slot nslots / 2 (through the header of the
 * buffer that slot holds).
 */
uint64_t gm_alloc_across(struct gmem *g, unsigned int nslots,
			 uint32_t slot_size);

/*
 * Buffer slots: nslots TX buffers of slot_size bytes (plus an indirect
 * table each), and the RX buffers (see rx_geometry()).
 */
bool net_tx_slots(struct nctx *n, unsigned int nslots, uint32_t slot_size);

static inline uint64_t tx_slot(const struct nctx *n, unsigned int s)
{
	return n->tx_slots + (uint64_t)s * n->tx_slot_size;
}

static inline uint64_t tx_slot_ind(const struct nctx *n, unsigned int s)
{
	return n->tx_ind + 16ULL * TX_MAXSEG * s;
}

/* The features word(s) of cfg, as VHOST_SET_FEATURES(_ARRAY) takes them. */
int net_set_features(struct nctx *n);

/*
 * Wait for the work the device has queued: C flushes its worker after
 * every device ioctl that is not a virtqueue one (GET_FORK_FROM_OWNER
 * changes nothing); the sleep covers implementations that do not. The
 * ioctl alone is a barrier (vdev_flush_barrier(); net_notify's
 * flush_is_barrier checks it): what a kick written before it queued has
 * run when it returns. Work that comes from elsewhere (a frame reaching
 * the tap from another CPU) may still be on its way: the second flush,
 * after the sleep, is for that.
 */
void net_flush(struct nctx *n);

/* ---- TX: guest to tap ----------------------------------------------------- */

typedef void (*frame_gen)(struct nctx *n, unsigned int seq, uint32_t *len,
			  enum fkind *kind);

struct txspec {
	unsigned int count;	/* frames */
	unsigned int depth;	/* outstanding at most */
	frame_gen gen;
	int tap;		/* whose observer sees them; -1: not checked */
	bool stop;		/* set by another thread: end early */
	int timeout_ms;		/* for a used buffer; 0: TIMEOUT_MS */
	unsigned int posted, done;
};

/*
 * Read the next frame of ours from an observer socket (vnet header in
 * h). Returns its length, 0 if there is none within timeout_ms, -errno.
 */
ssize_t obs_recv(int obs, struct virtio_net_hdr *h, unsigned char *f,
		 int timeout_ms);

/* A hash of seq, for frame generators (pure functions of seq). */
unsigned int seq_hash(unsigned int seq);

/* A frame's kind and length, in a table of sizes a test walks. */
struct fsize {
	enum fkind k;
	uint32_t len;
};

/* Frame seq of a table of sizes, walked round. */
void gen_table(const struct fsize *t, size_t count, struct nctx *n,
	       unsigned int seq, uint32_t *len, enum fkind *k, bool rx);

/*
 * Frame seq of a random mix (salt picks the sequence): half plain, 20 %
 * TCP, 20 % with checksum offload, 10 % TSO of 2 to 20 KB; the others of
 * 62 to 1514 bytes, one in big_one_in of them 9014.
 */
void gen_mixed(struct nctx *n, unsigned int seq, unsigned int salt,
	       unsigned int big_one_in, uint32_t *len, enum fkind *k, bool rx);

/* Check frame seq as it came out of the tap. */
int tx_check(struct nctx *n, frame_gen gen, unsigned int seq,
	     const struct virtio_net_hdr *h, const unsigned char *got,
	     ssize_t len, unsigned char *want, char *why, size_t whylen);

/* Write frame seq, behind its header, into TX slot s; returns its size. */
uint32_t tx_fill(struct nctx *n, frame_gen gen, unsigned int seq,
		 unsigned int slot, unsigned char *buf);

/*
 * Run s->count frames from the guest through the TX queue, at most
 * s->depth outstanding, posted in bursts of 1 to 8 with a kick decision
 * after each burst, and check every used entry (length 0) and every frame
 * at the tap (bytes and offload state, in order). Returns 0 or -1 with
 * why set.
 */
int tx_run(struct nctx *n, struct txspec *s, char *why, size_t whylen);

/* ---- RX: tap to guest ----------------------------------------------------- */

#define RX_POISON	0xa5
#define RX_MAXSEG	24

bool net_rx_slots(struct nctx *n);

static inline uint64_t rx_slot(const struct nctx *n, unsigned int s)
{
	return n->rx_slots + (uint64_t)s * n->rx_slot_size;
}

/* Post RX slot s: poisoned, in pieces, maybe through an indirect table. */
int rx_post(struct nctx *n, unsigned int s);

/* Post every RX slot that fits, and kick. */
unsigned int rx_fill(struct nctx *n);

/* Buffers a frame of len bytes takes. */
unsigned int rx_need(const struct nctx *n, uint32_t len);

/* What the guest must find in the header of a received frame. */
void rx_expected_hdr(const struct nctx *n, unsigned char *eh, uint32_t len,
		     enum fkind k, uint16_t nbufs);

struct rxspec {
	unsigned int count;	/* frames */
	unsigned int window;	/* in flight at most */
	frame_gen gen;
	bool stop;
	int timeout_ms;		/* for a used buffer; 0: TIMEOUT_MS */
	unsigned int sent, received;
	int (*send)(struct nctx *n, void *arg, unsigned int seq);	/* optional */
	void *send_arg;
};

/* Send frame seq to the guest through the injector of the backend tap. */
int rx_send(struct nctx *n, frame_gen gen, unsigned int seq, int tap,
	    unsigned char *buf);

#define RXPKT_MAX	64

/* The buffers of the frame being received. */
struct rxpkt {
	unsigned int nb;
	unsigned int slot[RXPKT_MAX];
	uint32_t len[RXPKT_MAX];
};

/* Check received frame seq in the buffers of p. */
int rx_check(struct nctx *n, frame_gen gen, unsigned int seq,
	     const struct rxpkt *p, unsigned char *got, unsigned char *want,
	     char *why, size_t whylen);

/*
 * Send s->count frames to the guest (at most s->window in flight, and
 * never more than the posted buffers hold), receive them, check each one
 * (used lengths, num_buffers, header, bytes, nothing written past them)
 * and post the buffers again. Returns 0 or -1 with why set.
 */
int rx_run(struct nctx *n, struct rxspec *s, char *why, size_t whylen);

/*
 * A TX or RX engine (tx_run()/rx_run()) in a thread, so that a test can
 * change the device under traffic. Fill n, is_rx and the spec, then
 * runner_launch().
 */
struct runner {
	pthread_t th;
	struct nctx *n;
	struct txspec tx;
	struct rxspec rx;
	bool is_rx, started, finished;
	int ret;
	char why[512];
};

/* Returns 0 or pthread_create()'s error. */
int runner_launch(struct runner *r);

bool runner_busy(struct runner *r);

/* Frames done so far. */
unsigned int runner_done(struct runner *r);

/* Ask the engine to stop after the frame it is at. */
void runner_stop(struct runner *r);

/* ---- small helpers for the protocol tests ---------------------------------- */

/* Plain frames of 60 to 159 bytes. */
void gen_small(struct nctx *n, unsigned int seq, uint32_t *len, enum fkind *k);

/* Post frame seq of gen_small from TX slot, in one descriptor; no kick. */
int tx_post(struct nctx *n, unsigned int seq, unsigned int slot);

/* Frames first..first+count-1 of gen must come out of tap, in order. */
int tap_expect(struct nctx *n, int tap, frame_gen gen, unsigned int first,
	       unsigned int count, char *why, size_t whylen);

/* Whether tap has a frame of ours to read (waiting up to timeout_ms). */
bool tap_has_frame(struct nctx *n, int tap, int timeout_ms);

/*
 * Collect count used buffers without the call eventfd, polling (for tests
 * of call suppression). Returns how many came within timeout_ms.
 */
unsigned int gvq_poll_used(struct gvq *q, unsigned int count, int timeout_ms,
			   uint32_t *cookies, uint32_t *lens);

#endif /* RVHOST_NET_GUEST_H */
