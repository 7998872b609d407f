// SPDX-License-Identifier: GPL-2.0
/*
 * Open /dev/vhost-vsock, set it up as QEMU does (the fake guest of
 * vsock_guest.h: owner, features, memory table, both rings, the guest CID,
 * SET_RUNNING(1)), connect both ways and move data both ways, close: many
 * times. Whatever a device holds must go with it: its CID (every cycle
 * takes the same one again), and the module references, its own and those
 * of the host sockets that used its transport. leak_test.sh runs this
 * between two slab snapshots for the memory itself.
 *
 * Every cycle: the guest connects to a host listener (stream), data both
 * ways, the guest shuts down and the host answers RST; the host connects
 * to the guest's listener (stream), data both ways, the host closes and
 * the guest answers RST; the host connects again (seqpacket), a message
 * each way, the host closes. Every connection is over, both sides agreeing,
 * before the device is closed: nothing is left to the close timeout.
 *
 * Usage: vsock_cycles [harness options]; RVHOST_CYCLES sets the count
 * (default 100).
 */
#include "vhost_test.h"
#include "vsock_guest.h"

#define TIMEOUT_MS	5000
/* Two packets each way on a stream (the largest is VG_MAX_PKT). */
#define DATA_LEN	(VG_MAX_PKT + 1000)
#define MSG_LEN		3000
#define GUEST_PORT	5000	/* the guest's port when it connects */
#define GUEST_STREAM	6000	/* where the guest listens */
#define GUEST_SEQPACKET	6001

static int cycle;	/* the cycle running, for the messages */

#define PUMP_UNTIL(v, cond, fd, ev) VG_PUMP_UNTIL(v, cond, fd, ev, TIMEOUT_MS)

static bool poll_now(int s, short ev)
{
	struct pollfd p = { .fd = s, .events = ev };

	return poll(&p, 1, 0) == 1 && (p.revents & ev);
}

/* A host port of this process, taken again by every cycle. */
static uint32_t host_port(void)
{
	return 0x20000 + getpid() % 100000;
}

static int module_refcnt(void)
{
	const char *m = vdev_is_rvhost(VDEV_VSOCK) ?
		"/sys/module/rvhost_vsock/refcnt" :
		"/sys/module/vhost_vsock/refcnt";
	char buf[32];

	if (!read_small_file(m, buf, sizeof(buf)))
		return -1;
	return atoi(buf);
}

FIXTURE(vsock_cycles) {
	struct vguest v;
	int l, s[3];
	unsigned char *src, *dst;
};

FIXTURE_SETUP(vsock_cycles)
{
	vg_init(&self->v);
	self->l = self->s[0] = self->s[1] = self->s[2] = -1;
	self->src = malloc(DATA_LEN);
	self->dst = malloc(DATA_LEN);
	ASSERT_TRUE(self->src && self->dst);
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

FIXTURE_TEARDOWN(vsock_cycles)
{
	int i;

	close_fd(&self->l);
	for (i = 0; i < 3; i++)
		close_fd(&self->s[i]);
	vg_free(&self->v);
	free(self->src);
	free(self->dst);
}

/* A host socket; the calls that block end after TIMEOUT_MS. */
static int host_socket(struct __test_metadata *_metadata, int type)
{
	int s = vg_host_socket(type, TIMEOUT_MS);

	ASSERT_LE(0, s) TH_LOG("host socket: %s", strerror(errno));
	return s;
}

/* The guest connects from GUEST_PORT to a host listener; *hs: accepted. */
static struct vg_conn *guest_connects(struct __test_metadata *_metadata,
				      FIXTURE_DATA(vsock_cycles) *self,
				      int *hs)
{
	struct vguest *v = &self->v;
	struct sockaddr_vm a = {
		.svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY,
		.svm_port = host_port(),
	};
	socklen_t len = sizeof(a);
	struct vg_conn *c;

	self->l = host_socket(_metadata, SOCK_STREAM);
	ASSERT_EQ(0, bind(self->l, (struct sockaddr *)&a, sizeof(a)))
		TH_LOG("cycle %d: bind port %u: %s", cycle, a.svm_port, strerror(errno));
	ASSERT_EQ(0, listen(self->l, 1));
	c = vg_connect(v, GUEST_PORT, a.svm_port, VIRTIO_VSOCK_TYPE_STREAM);
	ASSERT_NE(NULL, c) TH_LOG("cycle %d: %s", cycle, v->err);
	ASSERT_TRUE(PUMP_UNTIL(v, c->state != VG_CONNECTING &&
			       poll_now(self->l, POLLIN), self->l, POLLIN))
		TH_LOG("cycle %d: guest connection state %d, listener %s: %s",
		       cycle, c->state, poll_now(self->l, POLLIN) ?
		       "readable" : "not readable", v->err);
	ASSERT_EQ(VG_ESTABLISHED, c->state) TH_LOG("cycle %d", cycle);
	*hs = accept4(self->l, (struct sockaddr *)&a, &len,
		      SOCK_NONBLOCK | SOCK_CLOEXEC);
	ASSERT_LE(0, *hs) TH_LOG("cycle %d: accept: %s", cycle, strerror(errno));
	ASSERT_EQ(v->cfg.cid, a.svm_cid);
	ASSERT_EQ(GUEST_PORT, a.svm_port);
	close_fd(&self->l);
	return c;
}

/* A blocking connect() in a thread, which signals efd when it returns. */
struct hop {
	pthread_t t;
	int efd, s, ret, err;
	struct sockaddr_vm addr;
};

static void *hop_run(void *arg)
{
	struct hop *h = arg;

	h->ret = connect(h->s, (struct sockaddr *)&h->addr, sizeof(h->addr));
	h->err = h->ret < 0 ? errno : 0;
	eventfd_kick(h->efd);
	return NULL;
}

/*
 * The host connects to the guest's port; *hs: its socket. The connect()
 * blocks (in a thread): a non-blocking one would keep the socket, and so
 * a module reference, until its connect timeout ran out.
 */
static struct vg_conn *host_connects(struct __test_metadata *_metadata,
				     struct vguest *v, int type,
				     uint32_t port, int *hs)
{
	struct vg_conn *c = NULL;
	struct hop h = {
		.addr = {
			.svm_family = AF_VSOCK, .svm_cid = v->cfg.cid,
			.svm_port = port,
		},
	};
	bool done;

	*hs = h.s = host_socket(_metadata, type);
	h.efd = new_eventfd();
	ASSERT_LE(0, h.efd);
	ASSERT_EQ(0, pthread_create(&h.t, NULL, hop_run, &h));
	done = PUMP_UNTIL(v, (c || (c = vg_accept(v, port))) &&
			  poll_now(h.efd, POLLIN), h.efd, POLLIN);
	if (!done)
		/* the connect timeout ends it */
		PUMP_UNTIL(v, poll_now(h.efd, POLLIN), h.efd, POLLIN);
	pthread_join(h.t, NULL);
	close(h.efd);
	ASSERT_TRUE(done) TH_LOG("cycle %d: guest %s, connect %s: %s", cycle,
				 c ? "accepted" : "saw no REQUEST",
				 h.ret ? strerror(h.err) : "returned", v->err);
	ASSERT_EQ(0, h.ret) TH_LOG("cycle %d: connect: %s", cycle, strerror(h.err));
	ASSERT_EQ(VG_ESTABLISHED, c->state);
	return c;
}

/* DATA_LEN bytes host to guest on a stream, compared. */
static void h2g(struct __test_metadata *_metadata,
		FIXTURE_DATA(vsock_cycles) *self, struct vg_conn *c, int s,
		uint32_t seed)
{
	struct vguest *v = &self->v;

	vg_pattern(self->src, DATA_LEN, seed);
	ASSERT_EQ(0, vg_stream_h2g(v, c, s, self->src, self->dst, DATA_LEN,
				   TIMEOUT_MS))
		TH_LOG("cycle %d: %s", cycle, v->err);
	ASSERT_EQ(0, memcmp(self->src, self->dst, DATA_LEN))
		TH_LOG("cycle %d: host to guest: the bytes differ", cycle);
}

/* DATA_LEN bytes guest to host on a stream, compared. */
static void g2h(struct __test_metadata *_metadata,
		FIXTURE_DATA(vsock_cycles) *self, struct vg_conn *c, int s,
		uint32_t seed)
{
	struct vguest *v = &self->v;

	vg_pattern(self->src, DATA_LEN, seed);
	ASSERT_EQ(0, vg_stream_g2h(v, c, s, self->src, self->dst, DATA_LEN,
				   TIMEOUT_MS))
		TH_LOG("cycle %d: %s", cycle, v->err);
	ASSERT_EQ(0, memcmp(self->src, self->dst, DATA_LEN))
		TH_LOG("cycle %d: guest to host: the bytes differ", cycle);
}

/* One seqpacket message each way, whole and compared. */
static void messages(struct __test_metadata *_metadata,
		     FIXTURE_DATA(vsock_cycles) *self, struct vg_conn *c, int s)
{
	struct vguest *v = &self->v;
	uint32_t flags = 0;
	ssize_t n = 0;

	vg_pattern(self->src, MSG_LEN, cycle);
	ASSERT_EQ(MSG_LEN, send(s, self->src, MSG_LEN, MSG_DONTWAIT | MSG_EOR))
		TH_LOG("cycle %d: send: %s", cycle, strerror(errno));
	ASSERT_TRUE(PUMP_UNTIL(v, (n = vg_recv_msg(v, c, self->dst, DATA_LEN,
						   &flags, NULL)) != 0, -1, 0))
		TH_LOG("cycle %d: no message: %s", cycle, v->err);
	ASSERT_EQ(MSG_LEN, n);
	ASSERT_EQ(VIRTIO_VSOCK_SEQ_EOM | VIRTIO_VSOCK_SEQ_EOR, flags);
	ASSERT_EQ(0, memcmp(self->src, self->dst, MSG_LEN));

	vg_pattern(self->src, MSG_LEN, cycle + 1);
	ASSERT_TRUE(PUMP_UNTIL(v, (n = vg_send_msg(v, c, self->src, MSG_LEN,
						   true)) != 0, -1, 0))
		TH_LOG("cycle %d: message not sent: %s", cycle, v->err);
	ASSERT_EQ(MSG_LEN, n) TH_LOG("cycle %d: %s", cycle, v->err);
	n = -1;
	ASSERT_TRUE(PUMP_UNTIL(v, poll_now(s, POLLIN) &&
			       ((n = recv(s, self->dst, DATA_LEN, MSG_DONTWAIT)) >= 0 ||
				errno != EAGAIN), s, POLLIN))
		TH_LOG("cycle %d: nothing to read on the host: %s", cycle, v->err);
	ASSERT_EQ(MSG_LEN, n) TH_LOG("cycle %d: recv: %s", cycle, strerror(errno));
	ASSERT_EQ(0, memcmp(self->src, self->dst, MSG_LEN));
}

/* The host closes s: SHUTDOWN to the guest, which answers RST. */
static void host_closes(struct __test_metadata *_metadata, struct vguest *v,
			struct vg_conn *c, int *s)
{
	close_fd(s);
	ASSERT_TRUE(PUMP_UNTIL(v, c->state == VG_CLOSED, -1, 0))
		TH_LOG("cycle %d: no SHUTDOWN after close: %s", cycle, v->err);
	ASSERT_EQ(VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND,
		  c->peer_shutdown);
}

static void one_cycle(struct __test_metadata *_metadata,
		      FIXTURE_DATA(vsock_cycles) *self, uint32_t cid)
{
	struct vguest *v = &self->v;
	struct vg_conn *c;
	const char *what = "";
	struct vg_cfg cfg;
	char b;
	int r, vq;

	vg_cfg_default(&cfg, cid);
	r = vg_open(v, &cfg);
	ASSERT_EQ(0, r) TH_LOG("cycle %d: open: %s", cycle, strerror(-r));
	r = vg_setup(v, &what);
	ASSERT_EQ(0, r) TH_LOG("cycle %d: %s: %s", cycle, what, strerror(-r));
	ASSERT_ERRNO(0, vg_start(v));
	ASSERT_EQ(0, vg_listen(v, GUEST_STREAM, VIRTIO_VSOCK_TYPE_STREAM));
	ASSERT_EQ(0, vg_listen(v, GUEST_SEQPACKET, VIRTIO_VSOCK_TYPE_SEQPACKET));

	/* the guest connects; it ends the connection, the host resets it */
	c = guest_connects(_metadata, self, &self->s[0]);
	g2h(_metadata, self, c, self->s[0], 2 * cycle);
	h2g(_metadata, self, c, self->s[0], 2 * cycle + 1);
	ASSERT_EQ(0, vg_shutdown(v, c, VIRTIO_VSOCK_SHUTDOWN_RCV |
					VIRTIO_VSOCK_SHUTDOWN_SEND));
	ASSERT_TRUE(PUMP_UNTIL(v, c->state == VG_CLOSED, -1, 0))
		TH_LOG("cycle %d: no RST after the guest's SHUTDOWN: %s", cycle, v->err);
	ASSERT_TRUE(c->reset);
	ASSERT_EQ(0, recv(self->s[0], &b, 1, MSG_DONTWAIT))
		TH_LOG("cycle %d: no end of stream: %s", cycle, strerror(errno));
	close_fd(&self->s[0]);

	/* the host connects; it closes, the guest resets */
	c = host_connects(_metadata, v, SOCK_STREAM, GUEST_STREAM, &self->s[1]);
	h2g(_metadata, self, c, self->s[1], 3 * cycle);
	g2h(_metadata, self, c, self->s[1], 3 * cycle + 1);
	host_closes(_metadata, v, c, &self->s[1]);

	c = host_connects(_metadata, v, SOCK_SEQPACKET, GUEST_SEQPACKET,
			  &self->s[2]);
	messages(_metadata, self, c, self->s[2]);
	host_closes(_metadata, v, c, &self->s[2]);

	/* every buffer back: the guest's RSTs reached the host */
	ASSERT_TRUE(PUMP_UNTIL(v, !gvq_outstanding(&v->q[VG_VQ_TX]), -1, 0))
		TH_LOG("cycle %d: %u TX buffers not used: %s", cycle,
		       gvq_outstanding(&v->q[VG_VQ_TX]), v->err);
	ASSERT_STREQ("", v->err) TH_LOG("cycle %d", cycle);
	for (vq = 0; vq < VDEV_NVQS; vq++)
		ASSERT_EQ(0, eventfd_take(v->errfd[vq]))
			TH_LOG("cycle %d: error eventfd of vq %d", cycle, vq);
	vg_free(v);
	vg_init(v);
}

TEST_F_TIMEOUT(vsock_cycles, open_traffic_close, 900)
{
	const char *env = getenv("RVHOST_CYCLES");
	int cycles = env ? atoi(env) : 100;
	uint32_t cid = test_cid(0);
	int refs, fd, i;

	if (access(VHOST_VSOCK_PATH, F_OK))
		SKIP(return, "%s: %s", VHOST_VSOCK_PATH, strerror(errno));
	/*
	 * Sockets of a program run before this one may still be closing
	 * (vsock's close timeout is 8 s) and hold the module: start once
	 * they are gone, or from what is left after 20 s.
	 */
	for (i = 0; i < 200 && (refs = module_refcnt()) > 0; i++)
		usleep(100000);
	ASSERT_LE(0, refs);
	for (cycle = 0; cycle < cycles; cycle++)
		one_cycle(_metadata, self, cid);

	/* The last device's CID is free again. */
	fd = open(VHOST_VSOCK_PATH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_ERRNO(0, vsock_set_cid(fd, cid));
	close(fd);
	/* A socket goes when its last reference does (RCU, work items). */
	for (i = 0; i < 50 && module_refcnt() != refs; i++)
		usleep(100000);
	ASSERT_EQ(refs, module_refcnt());
}

TEST_HARNESS_MAIN
