// SPDX-License-Identifier: GPL-2.0
/*
 * One vhost-net TX measurement: a fake guest (the conformance suite's,
 * tools/testing/selftests/rvhost/net_guest.h) keeps the TX ring of
 * whichever /dev/vhost-net is loaded full of frames of one size for a
 * while, and prints one line of JSON: frames, seconds, frames per second,
 * and the vhost worker's CPU time per frame.
 *
 *   net_bench tx|rx SIZE [--packed] [--in-order] [--big] [--seconds S]
 *   net_bench mem COUNT
 *     SIZE  64 and 1514: plain frames of that many bytes;
 *           64k: 65000-byte TSO frames (GSO_TCPV4, 1448-byte MSS)
 *
 * mem: the kernel memory COUNT devices hold, open and configured, per
 * device (see mem()).
 *
 * RX: a thread sends frames out of the tap through a packet socket, 64
 * per sendmmsg() (8 of the 64 KiB ones), as fast as it can, and tun
 * queues them for vhost (or drops them when its queue is full); the guest
 * keeps 256 buffers of one frame each posted and counts what comes.
 * frames/s is then bounded by whichever is slower, the sender or vhost;
 * the worker's CPU time per frame is vhost's alone. 64 KiB TSO frames go
 * to the guest whole (the tap has TSO4 on, as QEMU sets it for a guest
 * with GUEST_TSO4) into mergeable RX buffers (MRG_RXBUF), as a Linux
 * guest's virtio-net posts them for large packets: 4096 bytes each (its
 * average packet length clamped to a page), 256 posted, 16 per frame.
 * With --big, the guest does not take MRG_RXBUF and posts "big packets"
 * instead, as Linux's virtio-net does then: each buffer one indirect chain
 * of the header, the rest of its first page and 17 more pages (72 KiB),
 * 32 of them posted (the fake guest's regions are a few MiB).
 *
 * The guest writes every buffer once, before the clock starts, so the loop
 * costs the guest only the ring: posting, kicking and reaping. It has 256
 * buffers in a 256-entry ring (64 of the 64 KiB frames: the fake guest's
 * memory regions are a few MiB each), all outstanding whenever it can. The tap is
 * the sink: up, no address and no packet socket on it, so the stack drops
 * each frame right after tun hands it over. The worker's CPU time is the
 * utime + stime of this process's vhost-PID thread (a vhost_task, with both
 * drivers), in clock ticks: coarse, so the runs last seconds.
 */
#include <pthread.h>
#include <time.h>

#include "net_guest.h"

struct bench {
	const char *what;
	bool rx;
	enum fkind kind;
	uint32_t len;
	bool packed, in_order, big;
	double seconds;
};

static void die(const char *what, int err)
{
	fprintf(stderr, "net_bench: %s: %s\n", what, strerror(err));
	exit(1);
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static struct bench b;

static void gen_fixed(struct nctx *n, unsigned int seq, uint32_t *len,
		      enum fkind *k)
{
	*len = b.len;
	*k = b.kind;
}

/* Where a measurement started: the worker's CPU ticks and the clock. */
struct meter {
	long ticks;
	int workers;
	double start;
};

static void meter_start(struct meter *m)
{
	m->ticks = worker_ticks(&m->workers);
	m->start = now();
}

/*
 * Ends the measurement of done frames and prints its line of JSON (extra:
 * more fields, each ", \"NAME\": VALUE"); 1 if there was not exactly one
 * worker or the device signalled an error.
 */
static int meter_report(struct nctx *n, const struct meter *m,
			unsigned long long done, const char *extra)
{
	double secs = now() - m->start;
	int workers;
	long ticks = worker_ticks(&workers);

	if (m->ticks < 0 || ticks < 0 || m->workers != 1 || workers != 1) {
		fprintf(stderr, "net_bench: %d vhost worker threads, want 1\n", workers);
		return 1;
	}
	if (eventfd_take(n->err[VQ_TX]) || eventfd_take(n->err[VQ_RX])) {
		fprintf(stderr, "net_bench: the device signalled an error\n");
		return 1;
	}
	ticks -= m->ticks;
	printf("{\"workload\": \"%s\", \"frames\": %llu%s, \"seconds\": %.3f, \"pps\": %.1f, \"worker_ns_per_frame\": %.1f, \"worker_ticks\": %ld}\n",
	       b.what, done, extra, secs, done / secs,
	       ticks * 1e9 / sysconf(_SC_CLK_TCK) / (done ? done : 1), ticks);
	return 0;
}

/* The guest's side: its memory, rings, eventfds and tap. */
static void setup_guest(struct nctx *n)
{
	const char *what = "";
	int vq, r;

	nctx_init(n);
	n->cfg = (struct ncfg){
		.v1 = true, .mrg = !b.big, .indirect = true, .event_idx = true,
		.in_order = b.in_order, .packed = b.packed, .num = 256,
	};
	n->hlen = ncfg_hlen(&n->cfg);
	if (gm_init(&n->g))
		die("guest memory", ENOMEM);
	for (vq = 0; vq < VDEV_NVQS; vq++) {
		if (gvq_alloc(&n->q[vq], &n->g, n->cfg.num, n->cfg.packed))
			die("rings", ENOMEM);
		n->kick[vq] = new_eventfd();
		n->call[vq] = new_eventfd();
		n->err[vq] = new_eventfd();
	}
	r = ntap_open(&n->tap[0], &n->cfg, &what);
	if (r)
		die(what, -r);
	n->ntaps = 1;
	/*
	 * A packet socket on the tap would get a clone of every frame: the
	 * observer goes, and the injector too unless RX sends through it.
	 */
	close(n->tap[0].obs);
	n->tap[0].obs = -1;
	if (!b.rx) {
		close(n->tap[0].inj);
		n->tap[0].inj = -1;
	}
}

/* The device, as QEMU sets it up before the guest runs. */
static void setup_device(struct nctx *n)
{
	int vq;

	n->fd = open(VHOST_NET_PATH, O_RDWR | O_CLOEXEC);
	if (n->fd < 0)
		die(VHOST_NET_PATH, errno);
	if (ioctl_errno(n->fd, VHOST_GET_FEATURES, &n->offered))
		die("VHOST_GET_FEATURES", errno);
	if (b.packed && !(n->offered & BIT_ULL(VIRTIO_F_RING_PACKED)))
		die("VIRTIO_F_RING_PACKED not offered", EOPNOTSUPP);
	if (b.in_order && !(n->offered & BIT_ULL(VIRTIO_F_IN_ORDER)))
		die("VIRTIO_F_IN_ORDER not offered", EOPNOTSUPP);
	if (ioctl_errno(n->fd, VHOST_SET_OWNER, NULL))
		die("VHOST_SET_OWNER", errno);
	if (net_set_features(n))
		die("VHOST_SET_FEATURES", errno);
	if (gm_set_mem_table(&n->g, n->fd))
		die("VHOST_SET_MEM_TABLE", errno);
	for (vq = 0; vq < VDEV_NVQS; vq++) {
		struct gvq *q = &n->q[vq];

		gvq_reset(q, n->cfg.event_idx, n->cfg.in_order, 0);
		q->kick = n->kick[vq];
		q->call = n->call[vq];
		if (set_num(n->fd, vq, n->cfg.num) ||
		    set_base(n->fd, vq, gvq_vring_base(q, 0)) ||
		    set_addr(n->fd, vq, 0, gvq_uaddr(q, 0), gvq_uaddr(q, 1),
			     gvq_uaddr(q, 2), 0) ||
		    set_vring_file(n->fd, VHOST_SET_VRING_KICK, vq, n->kick[vq]) ||
		    set_vring_file(n->fd, VHOST_SET_VRING_CALL, vq, n->call[vq]) ||
		    set_vring_file(n->fd, VHOST_SET_VRING_ERR, vq, n->err[vq]) ||
		    net_set_backend(n->fd, vq, n->tap[0].fd))
			die("setting up the virtqueues", errno);
	}
	net_flush(n);
}

static int tx(struct nctx *n)
{
	struct gvq *q = &n->q[VQ_TX];
	unsigned int nslots = n->cfg.num, nfree = 0, i;
	unsigned long long done = 0;
	unsigned int *slots = calloc(nslots, sizeof(*slots));
	unsigned char *buf = malloc(FRAME_MAX + 128);
	uint32_t total = 0, cookie, len;
	unsigned long kicks, calls;
	char extra[96];
	struct meter m;
	bool implicit;
	double end;
	int r;

	if (!slots || !buf)
		die("buffers", ENOMEM);
	n->tx_slot_size = round_up64(n->hlen + b.len, 64);
	/* The fake guest's regions are 3.5 to 6 MiB: 64 buffers of 64 KiB. */
	if (nslots > (4U << 20) / n->tx_slot_size)
		nslots = (4U << 20) / n->tx_slot_size;
	n->tx_nslots = nslots;
	n->tx_slots = gm_alloc(&n->g, (uint64_t)nslots * n->tx_slot_size, 64, true);
	if (!n->tx_slots)
		die("TX buffers", ENOMEM);
	for (i = 0; i < nslots; i++) {
		total = tx_fill(n, gen_fixed, i, i, buf);
		slots[nfree++] = i;
	}

	kicks = q->kicks;
	calls = q->calls;
	meter_start(&m);
	end = m.start + b.seconds;
	for (;;) {
		while (nfree) {
			struct gseg s = { tx_slot(n, slots[nfree - 1]), total };

			if (gvq_add(q, &s, 1, 0, 0, slots[nfree - 1]) < 0)
				break;
			nfree--;
		}
		gvq_kick(q);
		r = gvq_get_used(q, &cookie, &len, &implicit);
		if (r == 0) {
			if (gvq_wait(q, TIMEOUT_MS))
				die("no used buffer within the timeout", ETIMEDOUT);
			r = gvq_get_used(q, &cookie, &len, &implicit);
		}
		for (; r > 0; r = gvq_get_used(q, &cookie, &len, &implicit)) {
			slots[nfree++] = cookie;
			done++;
		}
		if (r < 0) {
			fprintf(stderr, "net_bench: used ring: %s\n", q->err);
			return 1;
		}
		if (now() >= end)
			break;
	}
	/* How often each side woke the other: a cost of both. */
	snprintf(extra, sizeof(extra), ", \"kicks\": %lu, \"calls\": %lu",
		 q->kicks - kicks, q->calls - calls);
	r = meter_report(n, &m, done, extra);
	free(slots);
	free(buf);
	return r;
}

#define RX_BURST	64

struct sender {
	struct ntap *tap;
	unsigned char frame[FRAME_MAX];
	uint32_t len;
	enum fkind kind;
	volatile bool stop;
	unsigned long long sent;
};

/* Frames out of the tap, RX_BURST per sendmmsg(), until told to stop. */
static void *send_frames(void *arg)
{
	struct sender *s = arg;
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET, .sll_ifindex = s->tap->ifindex,
		.sll_halen = ETH_ALEN,
	};
	struct virtio_net_hdr h = { 0 };
	struct iovec iov[2] = { { &h, sizeof(h) }, { s->frame, s->len } };
	struct mmsghdr m[RX_BURST];
	/* 64 KiB frames: 8 per call, 512 KiB, are enough to fill tun's queue */
	int i, r, burst = s->kind == F_GSO ? 8 : RX_BURST;

	frame_hdr(&h, s->len, s->kind);
	memcpy(sll.sll_addr, s->frame, ETH_ALEN);
	for (i = 0; i < RX_BURST; i++)
		m[i].msg_hdr = (struct msghdr){
			.msg_name = &sll, .msg_namelen = sizeof(sll),
			.msg_iov = iov, .msg_iovlen = 2,
		};
	while (!s->stop) {
		r = sendmmsg(s->tap->inj, m, burst, 0);
		if (r > 0)
			s->sent += r;
		else if (errno != ENOBUFS && errno != EAGAIN)
			break;
	}
	return NULL;
}

/* Mergeable RX buffers for 64 KiB frames: a page each, as Linux's. */
#define RX_MRG_BUF	4096
/*
 * Big packets, as Linux's add_recvbuf_big() posts them with guest GSO: the
 * header, the rest of its page after the 32-byte struct padded_vnet_hdr,
 * then MAX_SKB_FRAGS (17) pages; BIG_SEGS descriptors in an indirect table.
 */
#define BIG_PAD		32
#define BIG_PAGES	17
#define BIG_SEGS	(BIG_PAGES + 2)
#define BIG_BUF		((BIG_PAGES + 1) * 4096)
#define BIG_NBUFS	32

/* Posts big-packet buffer i of those at slots (tables at ind). */
static int rx_post_big(struct nctx *n, uint64_t slots, uint64_t ind,
		       unsigned int i)
{
	uint64_t gpa = slots + (uint64_t)i * BIG_BUF;
	struct gseg g[BIG_SEGS];
	unsigned int k;

	g[0] = (struct gseg){ gpa, n->hlen };
	g[1] = (struct gseg){ gpa + BIG_PAD, 4096 - BIG_PAD };
	for (k = 0; k < BIG_PAGES; k++)
		g[k + 2] = (struct gseg){ gpa + 4096 * (k + 1), 4096 };
	return gvq_add(&n->q[VQ_RX], g, 0, BIG_SEGS,
		       ind + 16ULL * BIG_SEGS * i, i);
}

/*
 * The frame the buffer cookie of slots begins: its header's num_buffers
 * (virtio_net_hdr_mrg_rxbuf, after the 10 bytes of virtio_net_hdr).
 */
static unsigned int rx_nbufs(struct nctx *n, uint64_t slot)
{
	uint16_t nb;

	gm_read(&n->g, slot + 10, &nb, sizeof(nb));
	return nb ? nb : 1;
}

static int rx(struct nctx *n)
{
	struct gvq *q = &n->q[VQ_RX];
	unsigned int nslots = b.big ? BIG_NBUFS : n->cfg.num, i, left = 0;
	unsigned long long done = 0;
	bool mrg = b.kind == F_GSO && !b.big;
	uint32_t slot_size = b.big ? BIG_BUF :
			     mrg ? RX_MRG_BUF : round_up64(n->hlen + b.len, 64);
	uint32_t cookie, len;
	uint64_t slots = gm_alloc(&n->g, (uint64_t)nslots * slot_size, 64, true);
	uint64_t ind = b.big ? gm_alloc(&n->g, 16ULL * BIG_SEGS * nslots, 16, false) : 1;
	struct sender *s = calloc(1, sizeof(*s));
	char extra[64];
	struct meter m;
	pthread_t thread;
	bool implicit;
	double end;
	int r;

	if (!slots || !ind || !s)
		die("RX buffers", ENOMEM);
	for (i = 0; i < nslots; i++) {
		struct gseg g = { slots + (uint64_t)i * slot_size, slot_size };

		if ((b.big ? rx_post_big(n, slots, ind, i) : gvq_add(q, &g, 0, 1, 0, i)) < 0)
			die("posting RX buffers", ENOSPC);
	}
	gvq_kick(q);
	s->tap = &n->tap[0];
	s->len = b.len;
	s->kind = b.kind;
	frame_build(s->frame, b.len, 0, b.kind);

	meter_start(&m);
	end = m.start + b.seconds;
	if (pthread_create(&thread, NULL, send_frames, s))
		die("sender thread", EAGAIN);
	for (;;) {
		r = gvq_get_used(q, &cookie, &len, &implicit);
		if (r == 0) {
			if (now() >= end)
				break;
			/* The sender may be behind: a short wait, then look again. */
			gvq_wait(q, 100);
			continue;
		}
		for (; r > 0; r = gvq_get_used(q, &cookie, &len, &implicit)) {
			struct gseg g = { slots + (uint64_t)cookie * slot_size, slot_size };

			/* a frame is done with the last of its buffers */
			if (mrg && !left)
				left = rx_nbufs(n, g.gpa);
			if (b.big)
				rx_post_big(n, slots, ind, cookie);
			else
				gvq_add(q, &g, 0, 1, 0, cookie);
			if (!mrg || !--left)
				done++;
		}
		if (r < 0) {
			fprintf(stderr, "net_bench: used ring: %s\n", q->err);
			return 1;
		}
		gvq_kick(q);
		if (now() >= end)
			break;
	}
	snprintf(extra, sizeof(extra), ", \"sent\": %llu", s->sent);
	r = meter_report(n, &m, done, extra);
	s->stop = true;
	pthread_join(thread, NULL);
	free(s);
	return r;
}

/* Kernel memory in use, in KiB: slab, kernel stacks, vmalloc, per-CPU. */
static long kernel_kib(void)
{
	static const char *const keys[] = {
		"Slab:", "KernelStack:", "VmallocUsed:", "Percpu:",
	};
	char line[128];
	long sum = 0, v;
	unsigned int i;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		die("/proc/meminfo", errno);
	while (fgets(line, sizeof(line), f))
		for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (!strncmp(line, keys[i], strlen(keys[i])) &&
			    sscanf(line + strlen(keys[i]), "%ld", &v) == 1)
				sum += v;
	fclose(f);
	return sum;
}

/*
 * The kernel memory count devices hold, open and configured (256-entry
 * rings, memory table, tap backends), without traffic: what /proc/meminfo
 * counts as the kernel's grows by from before their open (the guests and
 * taps already there) to after, divided by count.
 */
static int mem(unsigned int count)
{
	struct nctx *n = calloc(count, sizeof(*n));
	long before, after;
	unsigned int i;

	if (!n)
		die("devices", ENOMEM);
	for (i = 0; i < count; i++)
		setup_guest(&n[i]);
	sleep(1);
	before = kernel_kib();
	for (i = 0; i < count; i++)
		setup_device(&n[i]);
	sleep(1);
	after = kernel_kib();
	printf("{\"workload\": \"%s\", \"devices\": %u, \"kib_per_device\": %.1f}\n",
	       b.what, count, (double)(after - before) / count);
	for (i = 0; i < count; i++)
		nctx_free(&n[i]);
	free(n);
	return 0;
}

int main(int argc, char **argv)
{
	static char what[64];
	struct nctx n;
	int i;

	if (argc >= 3 && !strcmp(argv[1], "mem")) {
		snprintf(what, sizeof(what), "mem-%s", argv[2]);
		b.what = what;
		return mem(atoi(argv[2]) > 0 ? atoi(argv[2]) : 1);
	}
	if (argc < 3 || (strcmp(argv[1], "tx") && strcmp(argv[1], "rx"))) {
		fprintf(stderr, "usage: net_bench tx|rx 64|1514|64k [--packed] [--in-order] [--big] [--seconds S]\n"
			"       net_bench mem COUNT\n");
		return 2;
	}
	b.rx = !strcmp(argv[1], "rx");
	b.seconds = 3;
	b.kind = F_PLAIN;
	if (!strcmp(argv[2], "64k")) {
		b.kind = F_GSO;
		b.len = 65000;
	} else {
		b.len = atoi(argv[2]);
		if (b.len < FRAME_MIN_PLAIN || b.len > 1514) {
			fprintf(stderr, "net_bench: size %s: 64 to 1514, or 64k\n", argv[2]);
			return 2;
		}
	}
	for (i = 3; i < argc; i++) {
		if (!strcmp(argv[i], "--packed"))
			b.packed = true;
		else if (!strcmp(argv[i], "--in-order"))
			b.in_order = true;
		else if (!strcmp(argv[i], "--big") && b.rx && b.kind == F_GSO)
			b.big = true;
		else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
			b.seconds = atof(argv[++i]);
		else {
			fprintf(stderr, "net_bench: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	snprintf(what, sizeof(what), "%s-%s-%s%s%s", argv[1], argv[2],
		 b.packed ? "packed" : "split", b.in_order ? "-inorder" : "",
		 b.big ? "-big" : "");
	b.what = what;
	setup_guest(&n);
	setup_device(&n);
	i = b.rx ? rx(&n) : tx(&n);
	nctx_free(&n);
	return i;
}
