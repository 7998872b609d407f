// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-net notifications, seen by a fake guest (net_guest.h): when the
 * device signals the call eventfd (VRING_AVAIL_F_NO_INTERRUPT, the used
 * event index, VIRTIO_F_NOTIFY_ON_EMPTY; the packed ring's driver event
 * suppression area), and when it asks for kicks (VRING_USED_F_NO_NOTIFY,
 * the avail event index; the packed device area) -- so that a guest that
 * follows the protocol never waits for a call or a kick that does not
 * come. Calls are counted after the device is flushed; used buffers are
 * polled, not waited for.
 */
#include "net_test.h"

FIXTURE(net_notify) {
	struct nctx n;
};

FIXTURE_VARIANT(net_notify) {
	bool packed;
};

FIXTURE_VARIANT_ADD(net_notify, split) { .packed = false };
FIXTURE_VARIANT_ADD(net_notify, packed) { .packed = true };

FIXTURE_SETUP(net_notify)
{
	nctx_init(&self->n);
}

FIXTURE_TEARDOWN(net_notify)
{
	nctx_free(&self->n);
}

/* A started device: VERSION_1, mergeable buffers, rings of 256. */
static bool notify_open(struct __test_metadata *_metadata, struct nctx *n,
			bool packed, bool event_idx, bool noe)
{
	struct ncfg c = {
		.v1 = true, .mrg = true, .event_idx = event_idx,
		.notify_on_empty = noe, .packed = packed, .num = 256,
	};

	if (!net_open(_metadata, n, &c, 1))
		return false;
	if (!net_tx_slots(n, 64, 256) || !net_rx_slots(n))
		return false;
	net_configure(_metadata, n);
	return true;
}

/* No calls at all: VRING_AVAIL_F_NO_INTERRUPT, or the packed DISABLE. */
static void calls_off(struct gvq *q)
{
	if (q->packed)
		store16(&q->driver->flags, VRING_PACKED_EVENT_FLAG_DISABLE);
	else
		store16(&q->avail->flags, VRING_AVAIL_F_NO_INTERRUPT);
	mb();	/* before the guest posts the buffers it is about */
}

static void calls_on(struct gvq *q)
{
	if (q->packed)
		store16(&q->driver->flags, VRING_PACKED_EVENT_FLAG_ENABLE);
	else
		store16(&q->avail->flags, 0);
	mb();	/* before the guest posts the buffers it is about */
}

/*
 * Event index: a call once the device uses the buffer at the guest's next
 * used position + d (d < 0: one behind it, already passed).
 */
static void call_at(struct gvq *q, int d)
{
	if (q->packed) {
		int pos = q->pused + d;
		bool wrap = q->pused_wrap;

		if (pos >= (int)q->num) {
			pos -= q->num;
			wrap = !wrap;
		} else if (pos < 0) {
			pos += q->num;
			wrap = !wrap;
		}
		store16(&q->driver->off_wrap, pos | (wrap ? 0x8000 : 0));
		store16(&q->driver->flags, VRING_PACKED_EVENT_FLAG_DESC);
	} else {
		store16(&q->avail->ring[q->num], (uint16_t)(q->last_used + d));
	}
	mb();	/* before the guest posts the buffers it is about */
}

/* Send count TX frames from seq first (all in one burst), poll them back. */
static unsigned int tx_burst(struct nctx *n, unsigned int first,
			     unsigned int count)
{
	struct gvq *q = &n->q[VQ_TX];
	unsigned int i;

	for (i = 0; i < count; i++)
		if (tx_post(n, first + i, i))
			return 0;
	gvq_kick(q);
	return gvq_poll_used(q, count, TIMEOUT_MS, NULL, NULL);
}

/* Send count frames to the guest, poll the buffers they take. */
static unsigned int rx_burst(struct nctx *n, unsigned int first,
			     unsigned int count)
{
	unsigned char buf[256];
	unsigned int i, got;
	uint32_t slots[64];

	for (i = 0; i < count; i++)
		if (rx_send(n, gen_small, first + i, 0, buf))
			return 0;
	got = gvq_poll_used(&n->q[VQ_RX], count, TIMEOUT_MS, slots, NULL);
	for (i = 0; i < got; i++)
		rx_post(n, slots[i]);
	gvq_kick(&n->q[VQ_RX]);
	return got;
}

/* The guest turned calls off: the device does not signal. */
TEST_F(net_notify, tx_calls_suppressed)
{
	struct nctx *n = &self->n;
	struct gvq *q = &n->q[VQ_TX];
	char why[256];

	if (!notify_open(_metadata, n, variant->packed, false, false))
		return;
	calls_off(q);
	ASSERT_EQ(8, tx_burst(n, 0, 8));
	ASSERT_EQ(0, tap_expect(n, 0, gen_small, 0, 8, why, sizeof(why)))
		TH_LOG("%s", why);
	net_flush(n);
	ASSERT_EQ(0, eventfd_take(n->call[VQ_TX]));
	calls_on(q);
	ASSERT_EQ(1, tx_burst(n, 8, 1));
	ASSERT_TRUE(wait_readable(n->call[VQ_TX], TIMEOUT_MS));
	ASSERT_EQ(0, eventfd_take(n->err[VQ_TX]));
}

TEST_F(net_notify, rx_calls_suppressed)
{
	struct nctx *n = &self->n;
	struct gvq *q = &n->q[VQ_RX];

	if (!notify_open(_metadata, n, variant->packed, false, false))
		return;
	ASSERT_LT(0, rx_fill(n));
	calls_off(q);
	ASSERT_EQ(8, rx_burst(n, 0, 8));
	net_flush(n);
	ASSERT_EQ(0, eventfd_take(n->call[VQ_RX]));
	calls_on(q);
	ASSERT_EQ(1, rx_burst(n, 8, 1));
	ASSERT_TRUE(wait_readable(n->call[VQ_RX], TIMEOUT_MS));
	ASSERT_EQ(0, eventfd_take(n->err[VQ_RX]));
}

/*
 * VIRTIO_RING_F_EVENT_IDX: the first used buffer after the queue starts
 * is signalled whatever the event index says (the device has signalled
 * nothing yet to compare with); then a call only when the used index
 * passes the event index.
 */
static void used_event_test(struct __test_metadata *_metadata,
			    struct nctx *n, int vq)
{
	struct gvq *q = &n->q[vq];
	int call = n->call[vq];
	unsigned int seq = 0;

#define BURST(k) (vq == VQ_TX ? tx_burst(n, seq, k) : rx_burst(n, seq, k))
	call_at(q, 100);
	ASSERT_EQ(1, BURST(1));
	seq += 1;
	net_flush(n);
	ASSERT_LE(1, eventfd_take(call)) TH_LOG("first used buffer not signalled");
	call_at(q, 100);
	ASSERT_EQ(10, BURST(10));
	seq += 10;
	net_flush(n);
	ASSERT_EQ(0, eventfd_take(call)) TH_LOG("signalled before the event index");
	call_at(q, 4);
	ASSERT_EQ(10, BURST(10));
	seq += 10;
	net_flush(n);
	ASSERT_LE(1, eventfd_take(call)) TH_LOG("event index passed, no call");
	call_at(q, -1);
	ASSERT_EQ(10, BURST(10));
	seq += 10;
	net_flush(n);
	ASSERT_EQ(0, eventfd_take(call)) TH_LOG("signalled for an event index behind");
	ASSERT_EQ(0, eventfd_take(n->err[vq]));
#undef BURST
}

TEST_F(net_notify, tx_used_event)
{
	if (!notify_open(_metadata, &self->n, variant->packed, true, false))
		return;
	used_event_test(_metadata, &self->n, VQ_TX);
}

TEST_F(net_notify, rx_used_event)
{
	if (!notify_open(_metadata, &self->n, variant->packed, true, false))
		return;
	ASSERT_LT(0, rx_fill(&self->n));
	used_event_test(_metadata, &self->n, VQ_RX);
}

/*
 * An idle device wants a kick for the next buffer: the used flags have no
 * VRING_USED_F_NO_NOTIFY, the avail event index is the avail index (the
 * packed device area: ENABLE, or DESC at the next position).
 */
static void assert_kick_wanted(struct __test_metadata *_metadata,
			       struct gvq *q)
{
	if (q->packed) {
		uint16_t f = load16(&q->device->flags);

		if (q->event_idx) {
			ASSERT_EQ(VRING_PACKED_EVENT_FLAG_DESC, f);
			ASSERT_EQ(q->pavail | (q->pavail_wrap ? 0x8000 : 0),
				  load16(&q->device->off_wrap));
		} else {
			ASSERT_EQ(VRING_PACKED_EVENT_FLAG_ENABLE, f);
		}
	} else if (q->event_idx) {
		ASSERT_EQ(q->published, load16(&q->used->ring[q->num]));
	} else {
		ASSERT_EQ(0, load16(&q->used->flags) & VRING_USED_F_NO_NOTIFY);
	}
}

static void tx_idle_test(struct __test_metadata *_metadata, struct nctx *n)
{
	struct gvq *q = &n->q[VQ_TX];
	unsigned int i;
	char why[256];

	for (i = 0; i < 3; i++) {
		ASSERT_EQ(8, tx_burst(n, 8 * i, 8));
		net_flush(n);
		assert_kick_wanted(_metadata, q);
	}
	ASSERT_EQ(0, tap_expect(n, 0, gen_small, 0, 24, why, sizeof(why)))
		TH_LOG("%s", why);
	ASSERT_EQ(0, eventfd_take(n->err[VQ_TX]));
}

TEST_F(net_notify, tx_idle_wants_kick)
{
	if (!notify_open(_metadata, &self->n, variant->packed, false, false))
		return;
	tx_idle_test(_metadata, &self->n);
}

TEST_F(net_notify, tx_idle_wants_kick_event_idx)
{
	if (!notify_open(_metadata, &self->n, variant->packed, true, false))
		return;
	tx_idle_test(_metadata, &self->n);
}

/*
 * RX out of buffers: the device asks for a kick, and the kick the guest
 * sends when it adds buffers gets the waiting frame through.
 */
static void rx_starved_test(struct __test_metadata *_metadata, struct nctx *n)
{
	struct gvq *q = &n->q[VQ_RX];
	unsigned char buf[256];
	uint32_t slots[4];
	unsigned int i;

	ASSERT_EQ(0, rx_post(n, 0));
	ASSERT_EQ(0, rx_post(n, 1));
	gvq_kick(q);
	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, rx_send(n, gen_small, i, 0, buf));
	ASSERT_EQ(2, gvq_poll_used(q, 2, TIMEOUT_MS, slots, NULL));
	net_flush(n);
	assert_kick_wanted(_metadata, q);
	ASSERT_EQ(0, gvq_poll_used(q, 1, 0, NULL, NULL));
	ASSERT_EQ(0, rx_post(n, 0));
	ASSERT_EQ(0, rx_post(n, 1));
	q->kicks = 0;
	gvq_kick(q);
	ASSERT_EQ(1, q->kicks) TH_LOG("the device did not ask for a kick");
	ASSERT_EQ(1, gvq_poll_used(q, 1, TIMEOUT_MS, NULL, NULL));
	ASSERT_EQ(0, eventfd_take(n->err[VQ_RX]));
}

TEST_F(net_notify, rx_starved_wants_kick)
{
	if (!notify_open(_metadata, &self->n, variant->packed, false, false))
		return;
	rx_starved_test(_metadata, &self->n);
}

TEST_F(net_notify, rx_starved_wants_kick_event_idx)
{
	if (!notify_open(_metadata, &self->n, variant->packed, true, false))
		return;
	rx_starved_test(_metadata, &self->n);
}

/* VIRTIO_F_NOTIFY_ON_EMPTY: a call when the ring runs empty, suppressed or not. */
TEST_F(net_notify, tx_notify_on_empty)
{
	struct nctx *n = &self->n;

	if (!notify_open(_metadata, n, variant->packed, false, true))
		return;
	calls_off(&n->q[VQ_TX]);
	ASSERT_EQ(4, tx_burst(n, 0, 4));
	net_flush(n);
	ASSERT_LE(1, eventfd_take(n->call[VQ_TX]));
	ASSERT_EQ(0, eventfd_take(n->err[VQ_TX]));
}

/*
 * Busy polling (VHOST_SET_VRING_BUSYLOOP_TIMEOUT): after a packet the
 * handler spins for more work, but the guest hears of the used buffers
 * first -- C signals them before it spins (vhost_tx_batch() and
 * vhost_net_rx_peek_head_len() call vhost_net_signal_used()), so the
 * call comes long before the BUSY_MS spin ends.
 *
 * And the spin is real: while it lasts, the TX queue asks for no kick
 * (notifications are off on both queues: the spinning queue's since its
 * handler started, the other one's from vhost_net_busy_poll()), and a TX
 * buffer the guest posts without a kick is seen by the spin and used at
 * once -- after the TX spin by handle_tx() itself, after the RX spin by
 * the TX handler it queues (vhost_net_busy_poll_try_queue()). A device
 * that ignores the timeout asks for that kick, and without it never uses
 * the buffer (checked by setting the timeout to 0: both assertions fail).
 *
 * The spin is a window in time, and a VM beside busy ones on its host may
 * be off the CPU for all of it: Debian's vhost_net once asked for the kick
 * "65 ms into its spin", counted from the call the test saw late, in a
 * make check with four VMs. A try that posted its buffer after half the
 * spin proves nothing and is run again, up to three tries in all.
 */
#define BUSY_MS	2000

static long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/*
 * Best effort: the worker (task mode: the thread "vhost-<pid>" of this
 * process) on the last CPU we may use, the test on the first. The spin
 * ends as soon as something else wants the worker's CPU (need_resched()),
 * which the woken test thread would be if it ran there.
 */
static void pin_worker_apart(void)
{
	int first = -1, last = -1, c, i, n;
	cpu_set_t all, one;
	pid_t tid[4];
	char name[32];

	if (sched_getaffinity(0, sizeof(all), &all))
		return;
	for (c = 0; c < CPU_SETSIZE; c++) {
		if (!CPU_ISSET(c, &all))
			continue;
		if (first < 0)
			first = c;
		last = c;
	}
	if (first == last)
		return;
	snprintf(name, sizeof(name), "vhost-%d", getpid());
	n = threads_named(name, tid, 4);
	for (i = 0; i < n && i < 4; i++) {
		CPU_ZERO(&one);
		CPU_SET(last, &one);
		sched_setaffinity(tid[i], sizeof(one), &one);
	}
	CPU_ZERO(&one);
	CPU_SET(first, &one);
	sched_setaffinity(0, sizeof(one), &one);
}

/*
 * One try, from frame *seq on. False when the try says nothing about the
 * spin: more than half of it had gone by when the TX buffer was posted
 * (the test was off its CPU meanwhile: a VM on a host busy with others),
 * and the device asked for a kick, as it may once the spin is over. The
 * buffer is then kicked and checked, and *seq moved past what was sent.
 */
static bool busy_call_try(struct __test_metadata *_metadata, struct nctx *n,
			  int vq, unsigned int *seq)
{
	struct vhost_vring_state s = { vq, BUSY_MS * 1000 };
	struct gvq *tq = &n->q[VQ_TX];
	unsigned int first = *seq;
	unsigned int post = vq == VQ_TX ? first + 1 : first;
	unsigned char buf[256];
	long t_start, t_call, t_post;
	bool kick;
	char why[256];

	pin_worker_apart();
	IOCTL_OK(n->fd, VHOST_SET_VRING_BUSYLOOP_TIMEOUT, &s);
	/* a try before this one left its calls behind */
	eventfd_take(n->call[vq]);
	t_start = now_ms();
	if (vq == VQ_TX) {
		ASSERT_EQ(0, tx_post(n, first, first));
		gvq_kick(&n->q[VQ_TX]);
	} else {
		/* the ring keeps the buffers a try before this one did not use */
		if (first == 0) {
			ASSERT_LT(0, rx_fill(n));
		}
		ASSERT_EQ(0, rx_send(n, gen_small, first, 0, buf));
	}
	ASSERT_TRUE(wait_readable(n->call[vq], BUSY_MS / 2))
		TH_LOG("no call within %d ms; the spin lasts %d ms",
		       BUSY_MS / 2, BUSY_MS);
	t_call = now_ms();
	ASSERT_EQ(1, gvq_poll_used(&n->q[vq], 1, TIMEOUT_MS, NULL, NULL));
	/*
	 * The spin: well inside it (C signals, then takes the other queue's
	 * lock and turns its notifications off), a TX buffer without a kick.
	 */
	usleep(50000);
	ASSERT_EQ(0, tx_post(n, post, post));
	gvq_publish(tq);
	t_post = now_ms();
	kick = gvq_kick_needed(tq);
	*seq = post + 1;
	if (kick && t_post - t_start > BUSY_MS / 2) {
		TH_LOG("the TX buffer went in %ld ms after the %s, %ld ms after the call; the spin lasts %d ms: again",
		       t_post - t_start, vq == VQ_TX ? "kick" : "RX frame",
		       t_post - t_call, BUSY_MS);
		/* the kick gvq_kick_needed() just said is due */
		eventfd_kick(tq->kick);
		tq->kicks++;
		ASSERT_EQ(1, gvq_poll_used(tq, 1, TIMEOUT_MS, NULL, NULL));
		ASSERT_EQ(0, tap_expect(n, 0, gen_small, first,
					post - first + 1, why, sizeof(why)))
			TH_LOG("%s", why);
		return false;
	}
	ASSERT_FALSE(kick)
		TH_LOG("the device asks for a TX kick %ld ms into its %d ms spin",
		       t_post - t_call, BUSY_MS);
	ASSERT_EQ(1, gvq_poll_used(tq, 1, BUSY_MS / 4, NULL, NULL))
		TH_LOG("a TX buffer posted %ld ms into the %d ms spin was not used within %d ms without a kick",
		       t_post - t_call, BUSY_MS, BUSY_MS / 4);
	ASSERT_EQ(0, tap_expect(n, 0, gen_small, first, post - first + 1,
				why, sizeof(why)))
		TH_LOG("%s", why);
	ASSERT_EQ(0, eventfd_take(n->err[vq]));
	ASSERT_EQ(0, eventfd_take(n->err[VQ_TX]));
	return true;
}

/* Up to three tries: a try that says nothing is not a verdict. */
static void busy_call_test(struct __test_metadata *_metadata, struct nctx *n,
			   int vq)
{
	unsigned int seq = 0;
	int tries;

	for (tries = 0; tries < 3; tries++) {
		if (busy_call_try(_metadata, n, vq, &seq))
			return;
	}
	ASSERT_TRUE(false)
		TH_LOG("3 tries, and in none was the TX buffer posted within %d ms of the %s",
		       BUSY_MS / 2, vq == VQ_TX ? "kick" : "RX frame");
}

TEST_F(net_notify, tx_busy_poll_calls_first)
{
	if (!notify_open(_metadata, &self->n, variant->packed, false, false))
		return;
	busy_call_test(_metadata, &self->n, VQ_TX);
}

TEST_F(net_notify, rx_busy_poll_calls_first)
{
	if (!notify_open(_metadata, &self->n, variant->packed, false, false))
		return;
	busy_call_test(_metadata, &self->n, VQ_RX);
}

/*
 * VIRTIO_F_IN_ORDER on a ring of 64: 64 TX buffers in one burst are one
 * used group, which the device publishes as soon as it is a ring long.
 * The guest asked for calls: it gets one (C decides on every used chain).
 */
TEST_F(net_notify, tx_in_order_ring_calls)
{
	struct ncfg c = {
		.v1 = true, .mrg = true, .in_order = true,
		.packed = variant->packed, .num = 64,
	};
	struct nctx *n = &self->n;
	struct gvq *q = &n->q[VQ_TX];

	if (!net_open(_metadata, n, &c, 1))
		return;
	ASSERT_TRUE(net_tx_slots(n, 64, 256));
	ASSERT_TRUE(net_rx_slots(n));
	net_configure(_metadata, n);
	calls_on(q);
	eventfd_take(n->call[VQ_TX]);
	ASSERT_EQ(64, tx_burst(n, 0, 64));
	net_flush(n);
	ASSERT_LT(0, eventfd_take(n->call[VQ_TX]))
		TH_LOG("64 buffers used, no call");
	net_stop_check_base(_metadata, n);
}

/*
 * net_flush() and the checks that nothing happened rely on the flush
 * ioctl being a barrier: the handler a kick queued has run when it
 * returns. Buffers posted and kicked are used, sent and signalled when
 * the flush returns -- looked at right after it, without waiting.
 */
TEST_F(net_notify, flush_is_barrier)
{
	struct nctx *n = &self->n;
	struct gvq *q = &n->q[VQ_TX];
	unsigned int i, k, burst, sent = 0, got;
	char why[256];

	if (!notify_open(_metadata, n, variant->packed, false, false))
		return;
	calls_on(q);
	eventfd_take(n->call[VQ_TX]);
	for (i = 0; i < 32; i++) {
		burst = 1 + i % 4;
		for (k = 0; k < burst; k++)
			ASSERT_EQ(0, tx_post(n, sent + k, k));
		gvq_publish(q);
		/* whether or not the device asked for it */
		eventfd_kick(n->kick[VQ_TX]);
		ASSERT_ERRNO(0, vdev_flush_barrier(n->fd));
		got = gvq_poll_used(q, burst, 0, NULL, NULL);
		ASSERT_EQ(burst, got)
			TH_LOG("round %u: %u of %u buffers used when the flush returned",
			       i, got, burst);
		ASSERT_TRUE(wait_readable(n->call[VQ_TX], 0))
			TH_LOG("round %u: no call when the flush returned", i);
		eventfd_take(n->call[VQ_TX]);
		sent += burst;
	}
	ASSERT_EQ(0, tap_expect(n, 0, gen_small, 0, sent, why, sizeof(why)))
		TH_LOG("%s", why);
	ASSERT_EQ(0, eventfd_take(n->err[VQ_TX]));
}

TEST_HARNESS_MAIN
