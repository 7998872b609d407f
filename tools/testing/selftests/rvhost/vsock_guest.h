/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A fake virtio-vsock guest for the vhost-vsock protocol tests, on the
 * guest memory and virtqueues of vring_guest.h.
 *
 * The device is /dev/vhost-vsock set up as QEMU does it (owner, features,
 * memory table, both rings, eventfds, guest CID, SET_RUNNING); the guest
 * is the driver side of the virtio-vsock protocol (virtio spec 1.2, 5.10,
 * and Linux's net/vmw_vsock/virtio_transport_common.c): it keeps RX
 * buffers posted on queue 0, sends packets (header and payload, two
 * descriptors) on queue 1, answers REQUESTs on the ports it listens on,
 * keeps each connection's credit both ways and checks that the host keeps
 * to the credit it advertised. The host side is ordinary AF_VSOCK sockets
 * of the test process.
 *
 * Nothing here asserts or blocks longer than asked: errors are returned,
 * the first protocol violation is kept in vguest.err. The functions are
 * in vsock_guest.c.
 */
#ifndef RVHOST_VSOCK_GUEST_H
#define RVHOST_VSOCK_GUEST_H

#include "vring_guest.h"

#define VG_VQ_RX	0	/* host to guest: device-writable buffers */
#define VG_VQ_TX	1	/* guest to host: device-readable buffers */

#define VG_HDR_LEN	((uint32_t)sizeof(struct virtio_vsock_hdr))	/* 44 */
/* VIRTIO_VSOCK_MAX_PKT_BUF_SIZE: the largest payload either side sends */
#define VG_MAX_PKT	65536
#define VG_MAXCONN	8
#define VG_MAXLISTEN	4
#define VG_MAXSEG	4096	/* packets received and not consumed, per conn */

/* How a guest is configured. */
struct vg_cfg {
	bool packed, event_idx, in_order;
	bool seqpacket;		/* acknowledge VIRTIO_VSOCK_F_SEQPACKET */
	unsigned int num;	/* ring size of both queues */
	uint32_t rx_buf_size;	/* one RX buffer, header included */
	unsigned int rx_nbufs;	/* RX buffers kept posted (<= num) */
	unsigned int tx_nslots;	/* TX buffers of VG_HDR_LEN + VG_MAX_PKT */
	uint32_t buf_alloc;	/* what every connection advertises */
	uint32_t cid;
	/*
	 * Benchmarks: payloads are neither written into the TX buffers nor
	 * read out of the RX buffers, only counted (vg_recv()'s bytes are
	 * then not what the host sent).
	 */
	bool no_copy;
};

/* A default configuration: split ring of 256, 64 RX buffers of 64 KiB. */
void vg_cfg_default(struct vg_cfg *c, uint32_t cid);

enum vg_state { VG_FREE, VG_CONNECTING, VG_ESTABLISHED, VG_CLOSED };

/* One RW packet as received: its payload length and flags. */
struct vg_seg {
	uint32_t len, flags;
};

struct vg_conn {
	enum vg_state state;
	uint16_t type;		/* VIRTIO_VSOCK_TYPE_* */
	uint32_t lport, pport;	/* guest's port, host's port */
	/* the guest's receive side: what it advertises */
	uint32_t buf_alloc, fwd_cnt;
	uint32_t fwd_sent;	/* fwd_cnt in the last packet sent */
	bool manual_credit;	/* no CREDIT_UPDATE when data is consumed */
	/* the host's receive side, from its last header */
	uint32_t tx_cnt, peer_buf_alloc, peer_fwd_cnt;
	uint32_t peer_shutdown;	/* VIRTIO_VSOCK_SHUTDOWN_* received */
	bool reset;		/* RST received */
	bool accepted;		/* from a REQUEST, not yet vg_accept()ed */
	/* received, not consumed: the bytes, and the packets they came in */
	unsigned char *rx;
	uint32_t rx_cap, rx_head, rx_len;
	struct vg_seg *seg;
	uint32_t seg_head, seg_n, seg_off;
	/* statistics */
	unsigned long rx_pkts, credit_updates_rx, credit_updates_tx;
	uint64_t rx_bytes;
};

struct vg_listener {
	uint32_t port;
	uint16_t type;
};

struct vguest {
	struct vg_cfg cfg;
	int fd;
	uint64_t offered;
	struct gmem g;
	struct gvq q[VDEV_NVQS];
	int kick[VDEV_NVQS], call[VDEV_NVQS], errfd[VDEV_NVQS];
	uint64_t *rx_gpa;	/* by RX buffer index (the cookie) */
	uint64_t *tx_gpa;	/* by TX slot (the cookie) */
	uint16_t *tx_free;
	unsigned int tx_nfree;
	struct vg_listener lis[VG_MAXLISTEN];
	unsigned int nlis;
	struct vg_conn conn[VG_MAXCONN];
	/* statistics */
	unsigned long rx_pkts, tx_pkts, rst_rx, rst_tx, stray_rx;
	char err[256];		/* first protocol violation or failure */
};

/* A guest with nothing open or allocated (what vg_free() leaves). */
void vg_init(struct vguest *v);

/*
 * Open /dev/vhost-vsock and read its features (nothing set up yet).
 * Returns 0 or -errno (-ENOENT, -ENODEV, -ENXIO: no device here).
 */
int vg_open(struct vguest *v, const struct vg_cfg *c);

static inline bool vg_offers(const struct vguest *v, unsigned int bit)
{
	return v->offered & BIT_ULL(bit);
}

/* The features vg_setup() acknowledges for the configuration. */
uint64_t vg_features(const struct vg_cfg *c);

/*
 * What QEMU does before the guest runs: owner, features, memory table,
 * both rings and their eventfds, the guest CID; then the RX buffers are
 * posted. Returns 0 or -errno, with *what naming the step.
 */
int vg_setup(struct vguest *v, const char **what);

/* VHOST_VSOCK_SET_RUNNING(1) and a kick of both queues. */
int vg_start(struct vguest *v);

/* Close the device fd (its release), keeping the guest's memory. */
void vg_release(struct vguest *v);

/* vg_release() and free everything. */
void vg_free(struct vguest *v);

/*
 * Everything the device returned so far: RX packets handled and their
 * buffers posted again, TX buffers taken back. Never sleeps. Returns the
 * number of buffers handled, or -1 (v->err says why).
 */
int vg_step(struct vguest *v);

/*
 * vg_step(), and if nothing was there, ask for calls and sleep on both
 * call eventfds and, if fd >= 0, on fd for events, up to timeout_ms.
 * Returns 1 if something happened, 0 on timeout, -1 on error.
 */
int vg_wait(struct vguest *v, int fd, short events, int timeout_ms);

/* CLOCK_MONOTONIC in milliseconds, for the tests' deadlines. */
int64_t vg_now_ms(void);

/*
 * Run the guest until cond holds (evaluated once per round, its last
 * value is the result), waking also for fd's events. Gives up on a guest
 * error or after ms milliseconds.
 */
#define VG_PUMP_UNTIL(v, cond, fd, ev, ms)				\
	({								\
		int64_t __end = vg_now_ms() + (ms);			\
		bool __ok;						\
		int __r = 0;						\
		while (!(__ok = !!(cond)) && __r >= 0 &&		\
		       vg_now_ms() < __end)				\
			__r = vg_wait((v), (fd), (ev),			\
				      (int)(__end - vg_now_ms()));	\
		__ok;							\
	})

/* Bytes that differ with position and seed, with no short period. */
void vg_pattern(unsigned char *p, size_t len, uint32_t seed);

/*
 * An AF_VSOCK socket of type for the host side, its connect() and
 * blocking calls ending after timeout_ms (the default connect timeout,
 * 2 s, is short under TCG). -1 with errno on failure.
 */
int vg_host_socket(int type, int timeout_ms);

/*
 * len bytes from src to dst over stream connection c, whose host socket s
 * is used without blocking: host to guest, or guest to host. Returns 0
 * when all arrived (the caller compares them), -1 with v->err set when
 * the guest or a socket call failed, the stream ended, or nothing moved
 * for idle_ms.
 */
int vg_stream_h2g(struct vguest *v, struct vg_conn *c, int s,
		  const unsigned char *src, unsigned char *dst, size_t len,
		  int idle_ms);
int vg_stream_g2h(struct vguest *v, struct vg_conn *c, int s,
		  const unsigned char *src, unsigned char *dst, size_t len,
		  int idle_ms);

/* Answer REQUESTs of type on port with RESPONSE (others get RST). */
int vg_listen(struct vguest *v, uint32_t port, uint16_t type);

/* A connection accepted on port and not yet returned, or NULL. */
struct vg_conn *vg_accept(struct vguest *v, uint32_t port);

/* Send a REQUEST from lport to the host's pport; NULL on error. */
struct vg_conn *vg_connect(struct vguest *v, uint32_t lport, uint32_t pport,
			   uint16_t type);

/* What the host still lets the guest send on c. */
uint32_t vg_peer_credit(const struct vg_conn *c);

/*
 * Stream: send up to len bytes of buf, as far as the host's credit and
 * the free TX buffers go, in packets of at most VG_MAX_PKT. Returns the
 * bytes sent (0: no credit now) or -1.
 */
ssize_t vg_send(struct vguest *v, struct vg_conn *c, const void *buf,
		size_t len);

/*
 * Seqpacket: send one message whole, EOM on its last packet (and EOR if
 * eor), or nothing when the credit or the TX buffers do not cover it now.
 * Returns len, 0 (try again later) or -1.
 */
ssize_t vg_send_msg(struct vguest *v, struct vg_conn *c, const void *buf,
		    size_t len, bool eor);

/*
 * Stream: consume up to len received bytes (buf may be NULL to drop
 * them); fwd_cnt moves on, and unless c->manual_credit a CREDIT_UPDATE
 * goes out once half the buffer was consumed unannounced. Returns the
 * bytes consumed or -1.
 */
ssize_t vg_recv(struct vguest *v, struct vg_conn *c, void *buf, size_t len);

/*
 * Seqpacket: consume the oldest complete message (up to a packet with
 * EOM) into buf (cap bytes; the rest is dropped). *flags gets the EOM
 * packet's flags, *npkts (if not NULL) the packets it came in. Returns
 * the message's length, 0 if no message is complete, or -1.
 */
ssize_t vg_recv_msg(struct vguest *v, struct vg_conn *c, void *buf,
		    size_t cap, uint32_t *flags, unsigned int *npkts);

/* Send a CREDIT_UPDATE, SHUTDOWN (flags) or RST now. 0 or -1. */
int vg_credit_update(struct vguest *v, struct vg_conn *c);
int vg_shutdown(struct vguest *v, struct vg_conn *c, uint32_t flags);
int vg_reset(struct vguest *v, struct vg_conn *c);

#endif /* RVHOST_VSOCK_GUEST_H */
