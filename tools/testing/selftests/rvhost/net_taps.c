// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-net's data path with the other backends QEMU and libvirt use: a
 * macvtap (/dev/tapN, drivers/net/tap.c) and a multiqueue tap
 * (IFF_MULTI_QUEUE, one vhost-net device per queue, as QEMU does with
 * queues=N).
 *
 * macvtap: a veth pair, a macvtap in VEPA mode on one end with the guest's
 * MAC address; the guest's frames come out of the other end (an observer
 * packet socket there), frames sent out of the other end reach the guest.
 * Sizes from 60 bytes to 64 KiB, checksum offload and TSO, with the
 * macvtap handling the virtio-net header and with vhost adding it.
 *
 * Multiqueue tap: two vhost-net devices send at the same time, each on its
 * queue; the frames of each (told apart by their length's parity) arrive
 * intact and in order. Frames for the guests go to the queue the tap picks
 * (tun's flow table: the queue that last sent the flow), so the device
 * that sent last gets all of them. Detaching a queue (TUNSETQUEUE with
 * IFF_DETACH_QUEUE) under traffic: the other queue keeps working, the tap
 * picks no frame for the detached one (its device still sends: tun lets a
 * detached queue write), and after IFF_ATTACH_QUEUE it gets frames again.
 *
 * The network devices are removed in the parent's teardown (also after a
 * timeout); the taps go away with the test's process.
 */
#include "net_test.h"

/* ---- frames ---------------------------------------------------------------- */

static const struct fsize sizes[] = {
	{ F_PLAIN, 64 }, { F_PLAIN, 60 }, { F_TCP, 65 }, { F_PLAIN, 127 },
	{ F_PLAIN, 1514 }, { F_CSUM, 1514 }, { F_TCP, 1515 },
	{ F_PLAIN, 2036 }, { F_PLAIN, 2037 }, { F_GSO, 3000 },
	{ F_PLAIN, 4096 }, { F_CSUM, 9014 }, { F_PLAIN, 9014 },
	{ F_GSO, 20000 }, { F_PLAIN, 32768 }, { F_GSO, 64054 },
	{ F_PLAIN, 65535 },
};

#define NSIZES	ARRAY_SIZE(sizes)

static void gen_tx_sizes(struct nctx *n, unsigned int seq, uint32_t *len,
			 enum fkind *k)
{
	gen_table(sizes, NSIZES, n, seq, len, k, false);
}

static void gen_rx_sizes(struct nctx *n, unsigned int seq, uint32_t *len,
			 enum fkind *k)
{
	gen_table(sizes, NSIZES, n, seq, len, k, true);
}

static void gen_tx_bulk(struct nctx *n, unsigned int seq, uint32_t *len,
			enum fkind *k)
{
	gen_mixed(n, seq, 31, 29, len, k, false);
}

static void gen_rx_bulk(struct nctx *n, unsigned int seq, uint32_t *len,
			enum fkind *k)
{
	gen_mixed(n, seq, 31, 29, len, k, true);
}

#define BULK_MAX	(20000 + 32)

/* ---- network devices ---------------------------------------------------------- */

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int run(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	int r;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	r = system(cmd);
	return WIFEXITED(r) ? WEXITSTATUS(r) : -1;
}

/*
 * The virtio-net header on a tap or macvtap queue file, as QEMU sets it:
 * the file handles it (TUNSETVNETHDRSZ, offloads) unless vhost does.
 */
static int vnet_hdr_setup(int fd, const struct ncfg *c, bool macvtap,
			  const char **what)
{
	unsigned int off = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
	int hlen = ncfg_hlen(c);

	if (c->vhost_hdr) {
		struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI };

		/* a macvtap queue starts with IFF_VNET_HDR */
		*what = "TUNSETIFF (no IFF_VNET_HDR)";
		if (macvtap && ioctl(fd, TUNSETIFF, &ifr))
			return -errno;
		return 0;
	}
	*what = "TUNSETVNETHDRSZ";
	if (ioctl(fd, TUNSETVNETHDRSZ, &hlen))
		return -errno;
	*what = "TUNSETOFFLOAD";
	if (ioctl(fd, TUNSETOFFLOAD, off))
		return -errno;
	return 0;
}

/* ---- macvtap ---------------------------------------------------------------------- */

#define GUEST_MAC	"02:00:00:00:00:02"	/* frame_build()'s destination */

FIXTURE(macvtap) {
	struct nctx n;
	char lower[IFNAMSIZ], peer[IFNAMSIZ], mvt[IFNAMSIZ];
	bool made;
};

FIXTURE_VARIANT(macvtap) {
	struct ncfg c;
};

/* the macvtap handles the header, as QEMU has it */
FIXTURE_VARIANT_ADD(macvtap, qemu) {
	.c = { .v1 = true, .mrg = true, .indirect = true, .event_idx = true,
	       .num = 256 },
};

/* vhost adds and strips it; the macvtap queue has no IFF_VNET_HDR */
FIXTURE_VARIANT_ADD(macvtap, vhdr) {
	.c = { .vhost_hdr = true, .num = 256 },
};

FIXTURE_SETUP(macvtap)
{
	struct nctx *n = &self->n;
	char path[64], buf[32];
	const char *what = "";
	int idx = 0, fd = -1, i, r;

	snprintf(self->lower, IFNAMSIZ, "rvta%d", getpid());
	snprintf(self->peer, IFNAMSIZ, "rvtb%d", getpid());
	snprintf(self->mvt, IFNAMSIZ, "rvtm%d", getpid());
	if (!net_open(_metadata, n, &variant->c, 0))
		return;
	self->made = true;
	ASSERT_EQ(0, run("ip link add %s mtu %d type veth peer name %s mtu %d",
			 self->lower, NET_MTU, self->peer, NET_MTU))
		TH_LOG("cannot make a veth pair with ip(8)");
	ASSERT_EQ(0, run("ip link add link %s name %s mtu %d address %s type macvtap mode vepa",
			 self->lower, self->mvt, NET_MTU, GUEST_MAC))
		TH_LOG("cannot make a macvtap with ip(8)");
	ASSERT_EQ(0, if_up(self->peer));
	ASSERT_EQ(0, if_up(self->lower));
	ASSERT_EQ(0, if_up(self->mvt));
	/* /dev/tapN, N its ifindex; udev-less: devtmpfs makes the node */
	snprintf(path, sizeof(path), "/sys/class/net/%s/ifindex", self->mvt);
	ASSERT_TRUE(read_small_file(path, buf, sizeof(buf)));
	idx = atoi(buf);
	ASSERT_LT(0, idx);
	snprintf(path, sizeof(path), "/dev/tap%d", idx);
	for (i = 0; i < 500 && fd < 0; i++) {
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			usleep(10000);
	}
	ASSERT_LE(0, fd) TH_LOG("open %s: %s", path, strerror(errno));
	n->tap[0].fd = fd;
	n->ntaps = 1;
	r = vnet_hdr_setup(fd, &variant->c, true, &what);
	ASSERT_EQ(0, r) TH_LOG("%s: %s", what, strerror(-r));
	r = ntap_sockets(&n->tap[0], self->peer, &what);
	ASSERT_EQ(0, r) TH_LOG("%s: %s", what, strerror(-r));
}

FIXTURE_TEARDOWN_PARENT(macvtap)
{
	/* the peer and the macvtap go with it */
	if (self->made)
		run("ip link del %s >/dev/null 2>&1", self->lower);
}

TEST_F_TIMEOUT(macvtap, traffic, 120)
{
	struct nctx *n = &self->n;
	struct txspec tx = { .count = NSIZES, .depth = 8, .gen = gen_tx_sizes,
			     .tap = 0 };
	struct rxspec rx = { .count = NSIZES, .window = 16, .gen = gen_rx_sizes };
	char why[512];

	ASSERT_TRUE(net_tx_slots(n, tx.depth, FRAME_MAX + n->hlen));
	ASSERT_TRUE(net_rx_slots(n));
	net_configure(_metadata, n);
	ASSERT_EQ(0, tx_run(n, &tx, why, sizeof(why))) TH_LOG("%s", why);
	ASSERT_LT(0, rx_fill(n));
	ASSERT_EQ(0, rx_run(n, &rx, why, sizeof(why))) TH_LOG("%s", why);
	ASSERT_EQ(0, eventfd_take(n->err[VQ_TX]));
	ASSERT_EQ(0, eventfd_take(n->err[VQ_RX]));
	net_stop_check_base(_metadata, n);
}

TEST_F_TIMEOUT(macvtap, bulk, 120)
{
	struct nctx *n = &self->n;
	struct txspec tx = { .count = 400, .depth = 64, .gen = gen_tx_bulk,
			     .tap = 0 };
	struct rxspec rx = { .count = 400, .window = 64, .gen = gen_rx_bulk };
	char why[512];
	int vq;

	ASSERT_TRUE(net_tx_slots(n, tx.depth, BULK_MAX));
	ASSERT_TRUE(net_rx_slots(n));
	for (vq = 0; vq < VDEV_NVQS; vq++)
		n->base[vq] = 0x10000 - 150;
	net_configure(_metadata, n);
	ASSERT_EQ(0, tx_run(n, &tx, why, sizeof(why))) TH_LOG("%s", why);
	ASSERT_LT(0, rx_fill(n));
	ASSERT_EQ(0, rx_run(n, &rx, why, sizeof(why))) TH_LOG("%s", why);
	ASSERT_EQ(0, eventfd_take(n->err[VQ_TX]));
	ASSERT_EQ(0, eventfd_take(n->err[VQ_RX]));
	net_stop_check_base(_metadata, n);
}

/* ---- multiqueue tap ------------------------------------------------------------- */

FIXTURE(mq_tap) {
	struct nctx a, b;	/* queue 0 and queue 1 */
	char name[IFNAMSIZ];
};

static const struct ncfg mq_cfg = {
	.v1 = true, .mrg = true, .indirect = true, .event_idx = true,
	.num = 256,
};

#define MQ_FLAGS	(IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_MULTI_QUEUE)

/* Another queue of the multiqueue tap name. */
static int tap_queue_open(const char *name)
{
	struct ifreq ifr = { .ifr_flags = MQ_FLAGS };
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr)) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

static int tap_queue_set(int fd, short flags)
{
	struct ifreq ifr = { .ifr_flags = flags };

	return ioctl(fd, TUNSETQUEUE, &ifr) ? errno : 0;
}

/* The frames of device b have odd lengths, a's even ones. */
static struct nctx *mq_b;

static void gen_mq(struct nctx *n, unsigned int seq, uint32_t *len,
		   enum fkind *k)
{
	gen_tx_bulk(n, seq, len, k);
	*len = (*len & ~1u) | (n == mq_b);
}

/* For the guests: TCP frames only, all of one flow (frame_build()'s). */
static void gen_rx_flow(struct nctx *n, unsigned int seq, uint32_t *len,
			enum fkind *k)
{
	unsigned int r = seq_hash(seq + 5);

	*k = r % 3 == 0 ? F_TCP : r % 3 == 1 ? F_CSUM : F_GSO;
	*len = *k == F_GSO ? 2000 + (r >> 4) % 12000 :
	       FRAME_MIN_TCP + (r >> 4) % (1514 - FRAME_MIN_TCP + 1);
}

/* One TCP frame of that flow, from the guest: the tap's flow goes to its queue. */
static void gen_flow_one(struct nctx *n, unsigned int seq, uint32_t *len,
			 enum fkind *k)
{
	*k = F_TCP;
	*len = 200;
}

FIXTURE_SETUP(mq_tap)
{
	struct nctx *a = &self->a, *b = &self->b;
	const char *what = "";
	int q0, q1, r;

	nctx_init(a);
	nctx_init(b);
	if (!net_open(_metadata, a, &mq_cfg, 0) ||
	    !net_open(_metadata, b, &mq_cfg, 0))
		return;
	mq_b = b;
	q0 = tap_open(self->name, MQ_FLAGS);
	if (q0 == -ENOENT || q0 == -ENODEV)
		SKIP(return, "no /dev/net/tun");
	ASSERT_LE(0, q0) TH_LOG("TUNSETIFF: %s", strerror(-q0));
	a->tap[0].fd = q0;
	a->ntaps = 1;
	q1 = tap_queue_open(self->name);
	ASSERT_LE(0, q1) TH_LOG("TUNSETIFF, second queue: %s", strerror(-q1));
	b->tap[0].fd = q1;
	b->ntaps = 1;
	r = vnet_hdr_setup(q0, &mq_cfg, false, &what);
	ASSERT_EQ(0, r) TH_LOG("%s: %s", what, strerror(-r));
	ASSERT_EQ(0, if_set_mtu(self->name, NET_MTU));
	ASSERT_EQ(0, if_up(self->name));
	r = ntap_sockets(&a->tap[0], self->name, &what);
	ASSERT_EQ(0, r) TH_LOG("%s: %s", what, strerror(-r));
	/* a's observer sees both queues' frames; b needs its injector only */
	r = ntap_sockets(&b->tap[0], self->name, &what);
	ASSERT_EQ(0, r) TH_LOG("%s: %s", what, strerror(-r));
	close(b->tap[0].obs);
	b->tap[0].obs = -1;
}

FIXTURE_TEARDOWN(mq_tap)
{
	nctx_free(&self->b);
	nctx_free(&self->a);
}

struct tx_thread {
	struct nctx *n;
	struct txspec s;
	pthread_t th;
	int ret;
	char why[512];
};

static void *tx_thread_fn(void *arg)
{
	struct tx_thread *t = arg;

	t->ret = tx_run(t->n, &t->s, t->why, sizeof(t->why));
	return NULL;
}

static int tx_thread_start(struct tx_thread *t, struct nctx *n,
			   unsigned int count)
{
	memset(t, 0, sizeof(*t));
	t->n = n;
	t->s = (struct txspec){ .count = count, .depth = 32, .gen = gen_mq,
				.tap = -1 };
	t->ret = -1;
	return pthread_create(&t->th, NULL, tx_thread_fn, t);
}

/*
 * The frames of both devices at the tap: na of a's and nb of b's, each
 * device's in order and intact, nothing else.
 */
static int mq_check_tx(struct nctx *a, struct nctx *b, unsigned int na,
		       unsigned int nb, char *why, size_t whylen)
{
	unsigned char *buf = malloc(FRAME_MAX + 128);
	unsigned char *want = malloc(FRAME_MAX + 128);
	unsigned int next[2] = { 0, 0 }, want_n[2] = { na, nb };
	struct virtio_net_hdr h;
	int ret = -1, s;
	ssize_t r;

	if (!buf || !want) {
		snprintf(why, whylen, "out of memory");
		goto out;
	}
	while (next[0] < na || next[1] < nb) {
		r = obs_recv(a->tap[0].obs, &h, buf, TIMEOUT_MS);
		if (r <= 0) {
			snprintf(why, whylen, "frames missing at the tap: %u of %u from queue 0, %u of %u from queue 1",
				 next[0], na, next[1], nb);
			goto out;
		}
		s = r & 1;
		if (next[s] >= want_n[s]) {
			snprintf(why, whylen, "an extra frame of %zd bytes from queue %d",
				 r, s);
			goto out;
		}
		if (tx_check(s ? b : a, gen_mq, next[s], &h, buf, r, want, why,
			     whylen)) {
			size_t l = strlen(why);

			snprintf(why + l, whylen - l, " (queue %d)", s);
			goto out;
		}
		next[s]++;
	}
	if (obs_recv(a->tap[0].obs, &h, buf, 0) > 0) {
		snprintf(why, whylen, "an extra frame at the tap");
		goto out;
	}
	ret = 0;
out:
	free(buf);
	free(want);
	return ret;
}

/* Send the flow's frame from n: the tap's frames of that flow go to n's queue. */
static void steer_to(struct __test_metadata *_metadata, struct nctx *n,
		     struct nctx *a)
{
	struct txspec s = { .count = 1, .depth = 1, .gen = gen_flow_one,
			    .tap = -1 };
	unsigned char *buf = malloc(FRAME_MAX + 128);
	struct virtio_net_hdr h;
	char why[512];
	ssize_t r;

	ASSERT_NE(NULL, buf);
	ASSERT_EQ(0, tx_run(n, &s, why, sizeof(why))) TH_LOG("%s", why);
	r = obs_recv(a->tap[0].obs, &h, buf, TIMEOUT_MS);
	free(buf);
	ASSERT_EQ(200, r) TH_LOG("the flow's frame did not reach the tap");
}

/*
 * count frames of the flow for the guests: all of them to `to`, none to
 * `other` (whose RX used index must not move).
 */
static void rx_to(struct __test_metadata *_metadata, struct nctx *to,
		  struct nctx *other, unsigned int count)
{
	struct rxspec s = { .count = count, .window = count, .gen = gen_rx_flow };
	uint16_t other_used = load16(&other->q[VQ_RX].used->idx);
	char why[512];

	ASSERT_EQ(0, rx_run(to, &s, why, sizeof(why))) TH_LOG("%s", why);
	net_flush(other);
	ASSERT_EQ(other_used, load16(&other->q[VQ_RX].used->idx))
		TH_LOG("the other queue got frames");
}

static void mq_configure(struct __test_metadata *_metadata, struct nctx *a,
			 struct nctx *b)
{
	ASSERT_TRUE(net_tx_slots(a, 32, BULK_MAX));
	ASSERT_TRUE(net_rx_slots(a));
	ASSERT_TRUE(net_tx_slots(b, 32, BULK_MAX));
	ASSERT_TRUE(net_rx_slots(b));
	net_configure(_metadata, a);
	net_configure(_metadata, b);
	ASSERT_LT(0, rx_fill(a));
	ASSERT_LT(0, rx_fill(b));
}

/*
 * Both devices send at once; then the tap's frames go to the queue that
 * sent the flow last, a's, then b's.
 */
TEST_F_TIMEOUT(mq_tap, traffic, 120)
{
	struct nctx *a = &self->a, *b = &self->b;
	struct tx_thread ta, tb;
	char why[512];

	mq_configure(_metadata, a, b);
	ASSERT_EQ(0, tx_thread_start(&ta, a, 300));
	ASSERT_EQ(0, tx_thread_start(&tb, b, 300));
	pthread_join(ta.th, NULL);
	pthread_join(tb.th, NULL);
	ASSERT_EQ(0, ta.ret) TH_LOG("queue 0: %s", ta.why);
	ASSERT_EQ(0, tb.ret) TH_LOG("queue 1: %s", tb.why);
	ASSERT_EQ(0, mq_check_tx(a, b, 300, 300, why, sizeof(why)))
		TH_LOG("%s", why);
	steer_to(_metadata, a, a);
	rx_to(_metadata, a, b, 40);
	steer_to(_metadata, b, a);
	rx_to(_metadata, b, a, 40);
	steer_to(_metadata, a, a);
	rx_to(_metadata, a, b, 40);
	ASSERT_EQ(0, eventfd_take(a->err[VQ_TX]));
	ASSERT_EQ(0, eventfd_take(a->err[VQ_RX]));
	ASSERT_EQ(0, eventfd_take(b->err[VQ_TX]));
	ASSERT_EQ(0, eventfd_take(b->err[VQ_RX]));
	net_stop_check_base(_metadata, a);
	net_stop_check_base(_metadata, b);
}

/*
 * b's queue detached while both devices send: every frame of both still
 * arrives (a detached tun queue may write); then the tap picks a's queue
 * for every frame, b's flow or not.
 */
TEST_F_TIMEOUT(mq_tap, detach_under_traffic, 120)
{
	struct nctx *a = &self->a, *b = &self->b;
	struct tx_thread ta, tb;
	char why[512];
	int i;

	mq_configure(_metadata, a, b);
	ASSERT_EQ(0, tx_thread_start(&ta, a, 400));
	ASSERT_EQ(0, tx_thread_start(&tb, b, 400));
	for (i = 0; i < 2 * TIMEOUT_MS &&
	     (__atomic_load_n(&tb.s.done, __ATOMIC_RELAXED) < 100 ||
	      __atomic_load_n(&ta.s.done, __ATOMIC_RELAXED) < 100); i++)
		usleep(1000);
	ASSERT_EQ(0, tap_queue_set(b->tap[0].fd, IFF_DETACH_QUEUE));
	pthread_join(ta.th, NULL);
	pthread_join(tb.th, NULL);
	ASSERT_EQ(0, ta.ret) TH_LOG("queue 0: %s", ta.why);
	ASSERT_EQ(0, tb.ret) TH_LOG("queue 1 (detached): %s", tb.why);
	ASSERT_EQ(0, mq_check_tx(a, b, 400, 400, why, sizeof(why)))
		TH_LOG("%s", why);
	rx_to(_metadata, a, b, 40);
	/* b sent the flow last: still a's, the only queue */
	steer_to(_metadata, b, a);
	rx_to(_metadata, a, b, 40);
	ASSERT_EQ(0, eventfd_take(a->err[VQ_TX]));
	ASSERT_EQ(0, eventfd_take(a->err[VQ_RX]));
	ASSERT_EQ(0, eventfd_take(b->err[VQ_TX]));
	ASSERT_EQ(0, eventfd_take(b->err[VQ_RX]));
	net_stop_check_base(_metadata, a);
	net_stop_check_base(_metadata, b);
}

/* Attached again, b's queue gets the frames of the flow it sends. */
TEST_F_TIMEOUT(mq_tap, reattach, 120)
{
	struct nctx *a = &self->a, *b = &self->b;

	mq_configure(_metadata, a, b);
	ASSERT_EQ(0, tap_queue_set(b->tap[0].fd, IFF_DETACH_QUEUE));
	steer_to(_metadata, b, a);
	rx_to(_metadata, a, b, 20);
	ASSERT_EQ(0, tap_queue_set(b->tap[0].fd, IFF_ATTACH_QUEUE));
	steer_to(_metadata, b, a);
	rx_to(_metadata, b, a, 20);
	steer_to(_metadata, a, a);
	rx_to(_metadata, a, b, 20);
	ASSERT_EQ(0, eventfd_take(a->err[VQ_RX]));
	ASSERT_EQ(0, eventfd_take(b->err[VQ_RX]));
	net_stop_check_base(_metadata, a);
	net_stop_check_base(_metadata, b);
}

TEST_HARNESS_MAIN
