// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-net reconfigured under traffic (net_guest.h): a guest thread sends
 * or receives frames while the test moves the backend to a second tap and
 * back (and away, fd -1, and back), resets the owner or closes the device.
 * Nothing may be lost: every TX buffer comes back in the used ring and its
 * frame comes out of exactly one tap, in order; every frame sent to the
 * first tap reaches the guest, in order, even those that waited in the tap
 * while another backend was attached (vhost takes frames from the tap in
 * batches and must give back the ones it did not use).
 */
#include "net_test.h"

FIXTURE(net_live) {
	struct nctx n;
};

/* QEMU's configuration: VERSION_1, MRG_RXBUF, EVENT_IDX, INDIRECT. */
static const struct ncfg live_cfg = {
	.v1 = true, .mrg = true, .event_idx = true, .indirect = true,
	.num = 256,
};

FIXTURE_SETUP(net_live)
{
	if (!net_open(_metadata, &self->n, &live_cfg, 2))
		return;
	ASSERT_TRUE(net_tx_slots(&self->n, 64, 2048));
	ASSERT_TRUE(net_rx_slots(&self->n));
	net_configure(_metadata, &self->n);
}

FIXTURE_TEARDOWN(net_live)
{
	nctx_free(&self->n);
}

/* Plain and TCP frames of 60 to 1514 bytes. */
static void gen_live(struct nctx *n, unsigned int seq, uint32_t *len,
		     enum fkind *k)
{
	unsigned int r = seq_hash(seq + 5000);

	*k = r % 3 ? F_PLAIN : F_CSUM;
	*len = FRAME_MIN_TCP + (r >> 4) % (1514 - FRAME_MIN_TCP + 1);
}

static int send_to_tap0(struct nctx *n, void *arg, unsigned int seq);

static int runner_start(struct runner *r, struct nctx *n, bool is_rx,
			unsigned int count, int timeout_ms, void *buf)
{
	memset(r, 0, sizeof(*r));
	r->n = n;
	r->is_rx = is_rx;
	r->tx = (struct txspec){
		.count = count, .depth = 64, .gen = gen_live, .tap = -1,
		.timeout_ms = timeout_ms,
	};
	r->rx = (struct rxspec){
		.count = count, .window = 32, .gen = gen_live,
		.timeout_ms = timeout_ms, .send = send_to_tap0, .send_arg = buf,
	};
	return runner_launch(r);
}

/* Frames sent to the guest always go to the first tap. */
static int send_to_tap0(struct nctx *n, void *arg, unsigned int seq)
{
	return rx_send(n, gen_live, seq, 0, arg);
}

/* The backends the queue goes through, round and round. */
static int swap_fd(struct nctx *n, unsigned int i)
{
	static const int order[] = { 1, 0, -1, 1, -1, 0 };
	int t = order[i % 6];

	return t < 0 ? -1 : n->tap[t].fd;
}

/*
 * The TX frames, wherever they went: each exactly once, in order on each
 * tap.
 */
static void tx_frames_once(struct __test_metadata *_metadata, struct nctx *n,
			   unsigned int count)
{
	unsigned char *buf = malloc(FRAME_MAX + 128);
	unsigned char *want = malloc(FRAME_MAX + 128);
	unsigned char *seen = calloc(count, 1);
	struct virtio_net_hdr h;
	unsigned int got = 0, t, per0 = 0;
	char why[512];
	ssize_t r;

	ASSERT_TRUE(buf && want && seen);
	for (t = 0; t < 2; t++) {
		long last = -1;

		while ((r = obs_recv(n->tap[t].obs, &h, buf, 500)) > 0) {
			unsigned int seq = get_be32(buf + frame_tag_off(
				buf[12] == 0x08 ? F_CSUM : F_PLAIN));

			ASSERT_GT(count, seq) TH_LOG("tap %u: frame %u", t, seq);
			ASSERT_EQ(0, seen[seq]) TH_LOG("frame %u twice", seq);
			ASSERT_LT(last, (long)seq) TH_LOG("tap %u: frame %u after %ld", t, seq, last);
			ASSERT_EQ(0, tx_check(n, gen_live, seq, &h, buf, r, want,
					      why, sizeof(why))) TH_LOG("%s", why);
			seen[seq] = 1;
			last = seq;
			got++;
		}
		if (!t)
			per0 = got;
	}
	ASSERT_EQ(count, got) TH_LOG("frames lost");
	if (getenv("RVHOST_VERBOSE"))
		printf("# %u frames, %u on the second tap\n", got, got - per0);
	free(buf);
	free(want);
	free(seen);
}

/* SET_BACKEND of the TX queue to another tap, to none, and back. */
TEST_F_TIMEOUT(net_live, tx_backend_swap, 120)
{
	struct nctx *n = &self->n;
	struct runner r;
	unsigned int i = 0;

	ASSERT_EQ(0, runner_start(&r, n, false, 1500, 0, NULL));
	while (runner_busy(&r)) {
		usleep(1000 + seq_hash(i) % 10000);
		ASSERT_ERRNO(0, net_set_backend(n->fd, VQ_TX, swap_fd(n, i)));
		i++;
	}
	ASSERT_ERRNO(0, net_set_backend(n->fd, VQ_TX, n->tap[0].fd));
	pthread_join(r.th, NULL);
	ASSERT_EQ(0, r.ret) TH_LOG("after %u swaps: %s", i, r.why);
	ASSERT_LT(2, i) TH_LOG("too few swaps while the frames flowed");
	if (getenv("RVHOST_VERBOSE"))
		printf("# %u backend changes\n", i);
	tx_frames_once(_metadata, n, r.tx.count);
	net_stop_check_base(_metadata, n);
}

/* The same for the RX queue, with every frame sent to the first tap. */
TEST_F_TIMEOUT(net_live, rx_backend_swap, 120)
{
	struct nctx *n = &self->n;
	unsigned char buf[2048];
	struct runner r;
	unsigned int i = 0;

	ASSERT_LT(0, rx_fill(n));
	ASSERT_EQ(0, runner_start(&r, n, true, 1500, 0, buf));
	while (runner_busy(&r)) {
		usleep(1000 + seq_hash(i) % 10000);
		ASSERT_ERRNO(0, net_set_backend(n->fd, VQ_RX, swap_fd(n, i)));
		i++;
		if (swap_fd(n, i - 1) != n->tap[0].fd) {
			/* frames wait in the first tap meanwhile */
			usleep(10000);
			ASSERT_ERRNO(0, net_set_backend(n->fd, VQ_RX, n->tap[0].fd));
		}
	}
	ASSERT_ERRNO(0, net_set_backend(n->fd, VQ_RX, n->tap[0].fd));
	pthread_join(r.th, NULL);
	ASSERT_EQ(0, r.ret) TH_LOG("after %u swaps: %s", i, r.why);
	ASSERT_LT(2, i) TH_LOG("too few swaps while the frames flowed");
	if (getenv("RVHOST_VERBOSE"))
		printf("# %u backend changes\n", i);
	net_stop_check_base(_metadata, n);
}

/* Some frames each way, checked. */
static void traffic_ok(struct __test_metadata *_metadata, struct nctx *n)
{
	net_traffic_ok(_metadata, n, 50, 16, gen_live);
}

static void drain_taps(struct nctx *n)
{
	unsigned char buf[FRAME_MAX + 64];
	int t, fl;

	for (t = 0; t < n->ntaps; t++) {
		fl = fcntl(n->tap[t].fd, F_GETFL);
		fcntl(n->tap[t].fd, F_SETFL, fl | O_NONBLOCK);
		while (read(n->tap[t].fd, buf, sizeof(buf)) > 0)
			;
		fcntl(n->tap[t].fd, F_SETFL, fl);
		while (tap_has_frame(n, t, 0))
			;
	}
}

/* Both queues busy, then the reset or the close. */
static void start_both(struct __test_metadata *_metadata, struct nctx *n,
		       struct runner *tx, struct runner *rx, unsigned char *buf)
{
	ASSERT_LT(0, rx_fill(n));
	ASSERT_EQ(0, runner_start(tx, n, false, 100000, 1000, NULL));
	ASSERT_EQ(0, runner_start(rx, n, true, 100000, 1000, buf));
}

/* Wait until both have moved some frames. */
static bool both_flowing(struct runner *tx, struct runner *rx)
{
	int i;

	for (i = 0; i < 500; i++) {
		if (runner_done(tx) > 20 && runner_done(rx) > 20)
			return true;
		if (!runner_busy(tx) || !runner_busy(rx))
			return false;
		usleep(10000);
	}
	return false;
}

static void stop_both(struct runner *tx, struct runner *rx)
{
	runner_stop(tx);
	runner_stop(rx);
	pthread_join(tx->th, NULL);
	pthread_join(rx->th, NULL);
}

/*
 * VHOST_RESET_OWNER while frames flow both ways; then QEMU's whole
 * configuration again, and traffic.
 */
TEST_F_TIMEOUT(net_live, reset_owner_under_traffic, 60)
{
	struct nctx *n = &self->n;
	unsigned char buf[2048];
	struct runner tx, rx;

	start_both(_metadata, n, &tx, &rx, buf);
	ASSERT_TRUE(both_flowing(&tx, &rx)) TH_LOG("%s %s", tx.why, rx.why);
	IOCTL_OK(n->fd, VHOST_RESET_OWNER, NULL);
	stop_both(&tx, &rx);
	drain_taps(n);
	net_configure(_metadata, n);
	traffic_ok(_metadata, n);
}

/* Writes s to the file at path; 0 or -errno. */
static int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY), err = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, s, strlen(s)) != (ssize_t)strlen(s))
		err = -errno;
	close(fd);
	return err;
}

#define FAILSLAB "/sys/kernel/debug/failslab/"

/*
 * failslab (CONFIG_FAILSLAB), armed so that the next slab allocation of
 * this thread, sleeping ones included, fails. The files that arm it stay
 * open, so that arming and disarming allocate nothing after the fact.
 */
struct failslab {
	int times;	/* failslab/times */
	int task;	/* /proc/thread-self/make-it-fail */
};

/* 0, or -errno if the kernel has no failslab. */
static int failslab_open(struct failslab *f)
{
	static const char *const knobs[][2] = {
		{ "task-filter", "Y" }, { "ignore-gfp-wait", "N" },
		{ "probability", "100" }, { "interval", "1" },
		{ "space", "0" }, { "verbose", "0" }, { "times", "0" },
	};
	char path[128];
	unsigned int i;
	int err;

	f->times = f->task = -1;
	for (i = 0; i < sizeof(knobs) / sizeof(knobs[0]); i++) {
		snprintf(path, sizeof(path), FAILSLAB "%s", knobs[i][0]);
		err = write_str(path, knobs[i][1]);
		if (err)
			return err;
	}
	f->times = open(FAILSLAB "times", O_WRONLY);
	f->task = open("/proc/thread-self/make-it-fail", O_WRONLY);
	return f->times < 0 || f->task < 0 ? -errno : 0;
}

/* Arms (one failure) or disarms; 0 or -errno. */
static int failslab_set(struct failslab *f, bool on)
{
	const char *v = on ? "1" : "0";

	/* the thread first, and only then a failure to inject */
	if (on && write(f->task, v, 1) != 1)
		return -errno;
	if (write(f->times, v, 1) != 1)
		return -errno;
	if (!on && write(f->task, v, 1) != 1)
		return -errno;
	return 0;
}

static void failslab_close(struct failslab *f)
{
	if (f->task >= 0)
		failslab_set(f, false);
	if (f->times >= 0)
		close(f->times);
	if (f->task >= 0)
		close(f->task);
	write_str(FAILSLAB "probability", "0");
}

/*
 * VHOST_RESET_OWNER whose one allocation (C: the empty memory table of
 * vhost_dev_reset_owner_prepare()) fails answers ENOMEM and leaves the
 * device as it was: owned, configured, its queues running.
 *
 * A debug kernel's own bookkeeping (debug objects refilling their pool)
 * may take the one failure instead, and RESET_OWNER then succeeds: the
 * device is set up again (disarmed: a new worker would inherit the
 * thread's flag) and the ioctl tried again.
 */
TEST_F_TIMEOUT(net_live, reset_owner_enomem_keeps_device, 120)
{
	struct nctx *n = &self->n;
	int err = 0, r = 0, tries;
	struct failslab f;

	traffic_ok(_metadata, n);
	err = failslab_open(&f);
	if (err) {
		failslab_close(&f);
		SKIP(return, "no failslab: %s", strerror(-err));
	}
	for (tries = 1; tries <= 20; tries++) {
		ASSERT_EQ(0, failslab_set(&f, true));
		r = ioctl(n->fd, VHOST_RESET_OWNER, NULL);
		err = errno;
		ASSERT_EQ(0, failslab_set(&f, false));
		if (r)
			break;
		net_configure(_metadata, n);
		traffic_ok(_metadata, n);
	}
	failslab_close(&f);
	ASSERT_EQ(-1, r) TH_LOG("RESET_OWNER never met the failure in %d tries",
				tries - 1);
	ASSERT_EQ(ENOMEM, err) TH_LOG("errno %d after %d tries", err, tries);
	/* still owned by us, and nothing to set again */
	IOCTL_ERR(n->fd, VHOST_SET_OWNER, NULL, EBUSY);
	traffic_ok(_metadata, n);
	ASSERT_EQ(0, eventfd_take(n->err[VQ_TX]));
	ASSERT_EQ(0, eventfd_take(n->err[VQ_RX]));
	net_stop_check_base(_metadata, n);
}

/* Closing the device while frames flow; a new device works. */
TEST_F_TIMEOUT(net_live, close_under_traffic, 60)
{
	struct nctx *n = &self->n, fresh;
	unsigned char buf[2048];
	struct runner tx, rx;

	start_both(_metadata, n, &tx, &rx, buf);
	ASSERT_TRUE(both_flowing(&tx, &rx)) TH_LOG("%s %s", tx.why, rx.why);
	ASSERT_EQ(0, close(n->fd));
	n->fd = -1;
	stop_both(&tx, &rx);
	ASSERT_TRUE(net_open(_metadata, &fresh, &live_cfg, 1));
	ASSERT_TRUE(net_tx_slots(&fresh, 16, 2048));
	ASSERT_TRUE(net_rx_slots(&fresh));
	net_configure(_metadata, &fresh);
	traffic_ok(_metadata, &fresh);
	nctx_free(&fresh);
}

/*
 * A TX queue stopped (backend -1) with buffers in it sends them when it
 * starts again, without another kick.
 */
TEST_F(net_live, tx_restart_sends_pending)
{
	struct nctx *n = &self->n;
	struct gvq *q = &n->q[VQ_TX];
	unsigned int i;
	char why[512];

	ASSERT_ERRNO(0, net_set_backend(n->fd, VQ_TX, -1));
	for (i = 0; i < 8; i++)
		ASSERT_EQ(0, tx_post(n, i, i));
	gvq_kick(q);
	net_flush(n);
	ASSERT_EQ(0, gvq_poll_used(q, 1, 0, NULL, NULL));
	ASSERT_FALSE(tap_has_frame(n, 0, 0));
	ASSERT_EQ(0, get_base(n->fd, VQ_TX));
	ASSERT_ERRNO(0, net_set_backend(n->fd, VQ_TX, n->tap[0].fd));
	ASSERT_EQ(8, gvq_poll_used(q, 8, TIMEOUT_MS, NULL, NULL));
	ASSERT_EQ(0, tap_expect(n, 0, gen_small, 0, 8, why, sizeof(why)))
		TH_LOG("%s", why);
	net_stop_check_base(_metadata, n);
}

/*
 * Frames that arrive at the tap while the RX queue is stopped reach the
 * guest when it starts again.
 */
TEST_F(net_live, rx_restart_delivers_pending)
{
	struct nctx *n = &self->n;
	struct gvq *q = &n->q[VQ_RX];
	unsigned char buf[256];
	unsigned int i;

	ASSERT_LT(0, rx_fill(n));
	net_flush(n);
	ASSERT_ERRNO(0, net_set_backend(n->fd, VQ_RX, -1));
	for (i = 0; i < 8; i++)
		ASSERT_EQ(0, rx_send(n, gen_small, i, 0, buf));
	net_flush(n);
	ASSERT_EQ(0, gvq_poll_used(q, 1, 0, NULL, NULL));
	ASSERT_ERRNO(0, net_set_backend(n->fd, VQ_RX, n->tap[0].fd));
	ASSERT_EQ(8, gvq_poll_used(q, 8, TIMEOUT_MS, NULL, NULL));
	ASSERT_EQ(0, eventfd_take(n->err[VQ_RX]));
}

TEST_HARNESS_MAIN
