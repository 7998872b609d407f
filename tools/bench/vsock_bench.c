// SPDX-License-Identifier: GPL-2.0
/*
 * One vhost-vsock measurement: a fake guest (the conformance suite's,
 * tools/testing/selftests/rvhost/vsock_guest.h) on whichever
 * /dev/vhost-vsock is loaded, one stream connection to a real AF_VSOCK
 * socket of this process on the host side, traffic for a while, and one
 * line of JSON: the throughput, the vhost worker's CPU time per unit, and
 * the packets the guest received and sent and the kicks it gave.
 *
 *   vsock_bench stream-h2g|stream-g2h|rr SIZE [--rx-buf BYTES] [--seconds S]
 *
 * stream-h2g  a host thread send()s SIZE bytes at a time, blocking, as fast
 *             as the credit lets it; the guest consumes what arrives.
 *             Figures: bytes the guest received per second, worker CPU
 *             time per KiB.
 * stream-g2h  the guest sends SIZE bytes at a time (one packet of SIZE up
 *             to 64 KiB), as fast as the host's credit and its TX buffers
 *             let it; a host thread recv()s 64 KiB at a time. Figures:
 *             bytes the host received per second, worker CPU per KiB.
 * rr          a host thread sends SIZE bytes (1 in `make bench`) and waits
 *             for SIZE bytes back; the guest echoes what it gets.
 *             Figures: transactions per second, worker CPU per transaction.
 *
 * The device is set up as QEMU does (VERSION_1, EVENT_IDX, SEQPACKET,
 * 256-entry rings), the guest connects from its port to a host listener,
 * and both ends advertise a 1 MiB receive buffer (the host's through
 * SO_VM_SOCKETS_BUFFER_SIZE; Linux's default is 256 KiB) so the window is
 * not what bounds a stream. The guest keeps RX buffers of VG_HDR_LEN +
 * BYTES posted (--rx-buf, 64 KiB by default: a host write of up to 64 KiB
 * then reaches the guest as one packet; Linux's virtio-vsock driver posts
 * 4 KiB buffers, over which vhost splits larger packets), as many as fit in
 * 4 MiB up to the ring's size, and 128 TX buffers of 64 KiB (a packet is
 * two descriptors: the ring's 256 are its limit). It consumes
 * what arrives at once and sends a CREDIT_UPDATE once half its buffer was
 * consumed unannounced (every packet it sends carries its credit too). It
 * copies no payload (vg_cfg.no_copy): for the guest a packet costs only the
 * ring and its header, and the host's own send() and recv() do the copies
 * a host application would.
 *
 * What bounds each figure: the machine has two CPUs for three busy threads
 * (the vhost worker, the host thread, the guest). For a stream the worker
 * copies every byte once (guest buffer to or from an skb) and, guest to
 * host, delivers the packets into the host socket (the vsock core's code,
 * the same with either driver); the host thread copies every byte once.
 * Bytes per second is bounded by the slower of the two, and by their
 * sharing the CPUs; the worker's CPU time per KiB is vhost's own (with that
 * vsock core delivery). rr is bound by latency: a transaction is two
 * wake-ups of the worker (the host's send queues work for it; the guest's
 * kick) and two of the threads, so transactions per second measures the
 * round trip, and the worker's CPU time per transaction what vhost spends
 * in it (the host also sends a CREDIT_UPDATE whenever its reader empties
 * the queue: two packets to the guest per transaction).
 *
 * The worker's CPU time is the utime + stime of this process's vhost-PID
 * thread (a vhost_task, with both drivers), in clock ticks: coarse, so the
 * runs last seconds. The connection is closed cleanly at the end (the host
 * closes, the guest answers the SHUTDOWN with RST), so nothing is left to
 * the vsock close timeout and the module unloads at once.
 */
#include <time.h>

#include "vsock_guest.h"

#define GUEST_PORT	5000
#define TIMEOUT_MS	5000
#define BUF_ALLOC	(1U << 20)
#define RX_MEMORY	(4U << 20)

enum mode { H2G, G2H, RR };

static struct bench {
	const char *what;
	enum mode mode;
	uint32_t size, rx_buf;
	double seconds;
} b;

/* The host side: a thread on the accepted socket. */
struct host {
	pthread_t t;
	int s, efd;		/* the socket; efd signalled when the thread ends */
	unsigned char *buf;
	bool stop, done;	/* atomics */
	unsigned long long count;	/* bytes (g2h) or transactions (rr); atomic */
	const char *what;	/* the call that failed, or NULL */
	int err;
};

static void die(const char *what, const char *why)
{
	fprintf(stderr, "vsock_bench: %s: %s\n", what, why);
	exit(1);
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static bool flag(bool *f)
{
	return __atomic_load_n(f, __ATOMIC_ACQUIRE);
}

static void host_fail(struct host *h, const char *what, ssize_t n)
{
	if (flag(&h->stop))
		return;
	h->what = what;
	h->err = n < 0 ? errno : 0;
}

static void *host_run(void *arg)
{
	struct host *h = arg;
	ssize_t n;
	uint32_t got;

	while (!flag(&h->stop)) {
		switch (b.mode) {
		case H2G:
			n = send(h->s, h->buf, b.size, 0);
			if (n < 0) {
				host_fail(h, "send", n);
				goto out;
			}
			break;
		case G2H:
			n = recv(h->s, h->buf, VG_MAX_PKT, 0);
			if (n <= 0) {
				host_fail(h, "recv", n);
				goto out;
			}
			__atomic_fetch_add(&h->count, n, __ATOMIC_RELAXED);
			break;
		case RR:
			n = send(h->s, h->buf, b.size, 0);
			if (n != (ssize_t)b.size) {
				host_fail(h, "send", n);
				goto out;
			}
			for (got = 0; got < b.size; got += n) {
				n = recv(h->s, h->buf, b.size - got, 0);
				if (n <= 0) {
					host_fail(h, "recv", n);
					goto out;
				}
			}
			__atomic_fetch_add(&h->count, 1, __ATOMIC_RELAXED);
			break;
		}
	}
out:
	__atomic_store_n(&h->done, true, __ATOMIC_RELEASE);
	eventfd_kick(h->efd);
	return NULL;
}

static bool readable(int s)
{
	struct pollfd p = { .fd = s, .events = POLLIN };

	return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

/* The device as QEMU sets it up, running, with RX buffers posted. */
static void setup_guest(struct vguest *v)
{
	const char *what = "";
	struct vg_cfg cfg;
	int r;

	vg_cfg_default(&cfg, test_cid(0));
	cfg.event_idx = true;
	cfg.no_copy = true;
	cfg.buf_alloc = BUF_ALLOC;
	cfg.tx_nslots = cfg.num / 2;
	cfg.rx_buf_size = VG_HDR_LEN + b.rx_buf;
	cfg.rx_nbufs = RX_MEMORY / cfg.rx_buf_size;
	if (cfg.rx_nbufs > cfg.num)
		cfg.rx_nbufs = cfg.num;
	r = vg_open(v, &cfg);
	if (r)
		die(VHOST_VSOCK_PATH, strerror(-r));
	r = vg_setup(v, &what);
	if (r)
		die(what, strerror(-r));
	if (vg_start(v))
		die("VHOST_VSOCK_SET_RUNNING", strerror(errno));
}

/*
 * The guest connects to a host listener with a 1 MiB buffer; returns the
 * connection, *s the accepted (blocking) host socket.
 */
static struct vg_conn *connect_guest(struct vguest *v, int *s)
{
	unsigned long long size = BUF_ALLOC;
	struct sockaddr_vm a = {
		.svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY,
		.svm_port = VMADDR_PORT_ANY,
	};
	struct timeval tv = { .tv_sec = TIMEOUT_MS / 1000 };
	socklen_t len = sizeof(a);
	struct vg_conn *c;
	int l = vg_host_socket(SOCK_STREAM, TIMEOUT_MS);

	if (l < 0)
		die("host socket", strerror(errno));
	if (setsockopt(l, AF_VSOCK, SO_VM_SOCKETS_BUFFER_MAX_SIZE, &size, sizeof(size)) ||
	    setsockopt(l, AF_VSOCK, SO_VM_SOCKETS_BUFFER_SIZE, &size, sizeof(size)))
		die("SO_VM_SOCKETS_BUFFER_SIZE", strerror(errno));
	if (bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 1) ||
	    getsockname(l, (struct sockaddr *)&a, &len))
		die("host listener", strerror(errno));
	c = vg_connect(v, GUEST_PORT, a.svm_port, VIRTIO_VSOCK_TYPE_STREAM);
	if (!c)
		die("connect", v->err);
	if (!VG_PUMP_UNTIL(v, c->state != VG_CONNECTING && readable(l), l,
			   POLLIN, TIMEOUT_MS))
		die("connect", v->err[0] ? v->err : "no connection within the timeout");
	if (c->state != VG_ESTABLISHED)
		die("connect", "refused");
	len = sizeof(a);
	*s = accept4(l, (struct sockaddr *)&a, &len, SOCK_CLOEXEC);
	if (*s < 0)
		die("accept", strerror(errno));
	/* a blocked host thread gives up rather than hang the benchmark */
	if (setsockopt(*s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) ||
	    setsockopt(*s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)))
		die("SO_SNDTIMEO", strerror(errno));
	close(l);
	return c;
}

/*
 * The guest's side of the traffic, once: consume what arrived, send what
 * the mode wants (rr: *owed is what was received and not yet echoed).
 * Returns the bytes consumed, or -1.
 */
static ssize_t guest_work(struct vguest *v, struct vg_conn *c,
			  const unsigned char *buf, size_t *owed)
{
	ssize_t got = 0, n;

	if (b.mode != G2H) {
		got = vg_recv(v, c, NULL, SIZE_MAX);
		if (got < 0)
			return -1;
	}
	if (b.mode == RR) {
		*owed += got;
		while (*owed) {
			n = vg_send(v, c, buf, *owed);
			if (n <= 0)
				return n < 0 ? -1 : got;
			*owed -= n;
		}
	}
	/*
	 * g2h: writes of b.size until the credit or the TX buffers run out
	 * (*owed: what the write cut short has sent; it goes on later).
	 */
	while (b.mode == G2H) {
		n = vg_send(v, c, buf, b.size - *owed);
		if (n <= 0)
			return n < 0 ? -1 : 0;
		*owed = (*owed + n) % b.size;
	}
	return got;
}

/* Close: the host closes, the guest answers its SHUTDOWN with RST. */
static int close_conn(struct vguest *v, struct vg_conn *c, int s)
{
	close(s);
	if (!VG_PUMP_UNTIL(v, c->state == VG_CLOSED, -1, 0, TIMEOUT_MS)) {
		fprintf(stderr, "vsock_bench: no SHUTDOWN after the host's close: %s\n",
			v->err);
		return 1;
	}
	if (!VG_PUMP_UNTIL(v, !gvq_outstanding(&v->q[VG_VQ_TX]), -1, 0, TIMEOUT_MS)) {
		fprintf(stderr, "vsock_bench: %u TX buffers not used: %s\n",
			gvq_outstanding(&v->q[VG_VQ_TX]), v->err);
		return 1;
	}
	return 0;
}

static int run(struct vguest *v)
{
	static unsigned char buf[VG_MAX_PKT];
	unsigned long long bytes = 0, count = 0;
	unsigned long rx_pkts = 0, tx_pkts = 0, kicks = 0;
	long ticks0, ticks = -1;
	int workers0, workers = 0, vq, r = 0;
	struct host h = { .s = -1 };
	double start, end, secs = 0;
	struct vg_conn *c;
	size_t owed = 0;
	bool measured = false;
	ssize_t n;

	h.buf = malloc(VG_MAX_PKT);
	h.efd = new_eventfd();
	if (!h.buf || h.efd < 0)
		die("host thread", strerror(ENOMEM));
	memset(h.buf, 0x5a, VG_MAX_PKT);
	c = connect_guest(v, &h.s);

	ticks0 = worker_ticks(&workers0);
	rx_pkts = v->rx_pkts;
	tx_pkts = v->tx_pkts;
	kicks = v->q[VG_VQ_RX].kicks + v->q[VG_VQ_TX].kicks;
	start = now();
	end = start + b.seconds;
	if (pthread_create(&h.t, NULL, host_run, &h))
		die("host thread", strerror(EAGAIN));
	/* After the clock, traffic goes on until the host thread is done. */
	while (!flag(&h.done)) {
		if (!measured && now() >= end) {
			secs = now() - start;
			ticks = worker_ticks(&workers);
			count = __atomic_load_n(&h.count, __ATOMIC_RELAXED);
			rx_pkts = v->rx_pkts - rx_pkts;
			tx_pkts = v->tx_pkts - tx_pkts;
			kicks = v->q[VG_VQ_RX].kicks + v->q[VG_VQ_TX].kicks - kicks;
			measured = true;
			__atomic_store_n(&h.stop, true, __ATOMIC_RELEASE);
		}
		n = guest_work(v, c, buf, &owed);
		if (n < 0 || vg_wait(v, h.efd, POLLIN, 100) < 0) {
			fprintf(stderr, "vsock_bench: guest: %s\n", v->err);
			r = 1;
			__atomic_store_n(&h.stop, true, __ATOMIC_RELEASE);
			shutdown(h.s, SHUT_RDWR);
			break;
		}
		if (!measured)
			bytes += n;
	}
	pthread_join(h.t, NULL);
	if (h.what) {
		fprintf(stderr, "vsock_bench: host %s: %s\n", h.what,
			h.err ? strerror(h.err) : "end of stream");
		r = 1;
	}
	if (!r && !measured) {
		fprintf(stderr, "vsock_bench: the host thread ended early\n");
		r = 1;
	}
	if (!r && (ticks0 < 0 || ticks < 0 || workers0 != 1 || workers != 1)) {
		fprintf(stderr, "vsock_bench: %d vhost worker threads, want 1\n", workers);
		r = 1;
	}
	for (vq = 0; vq < VDEV_NVQS; vq++)
		if (eventfd_take(v->errfd[vq])) {
			fprintf(stderr, "vsock_bench: the device signalled an error on vq %d\n", vq);
			r = 1;
		}
	if (!r && close_conn(v, c, h.s))
		r = 1;
	else if (r)
		close(h.s);
	if (!r) {
		double ns = (ticks - ticks0) * 1e9 / sysconf(_SC_CLK_TCK);

		if (b.mode == G2H)
			bytes = count;
		if (b.mode == RR)
			printf("{\"workload\": \"%s\", \"transactions\": %llu, \"seconds\": %.3f, \"tps\": %.1f, \"worker_ns_per_transaction\": %.1f",
			       b.what, count, secs, count / secs, ns / (count ? count : 1));
		else
			printf("{\"workload\": \"%s\", \"bytes\": %llu, \"seconds\": %.3f, \"bytes_per_s\": %.1f, \"worker_ns_per_kib\": %.1f",
			       b.what, bytes, secs, bytes / secs,
			       ns * 1024 / (bytes ? bytes : 1));
		printf(", \"worker_ticks\": %ld, \"guest_rx_pkts\": %lu, \"guest_tx_pkts\": %lu, \"guest_kicks\": %lu}\n",
		       ticks - ticks0, rx_pkts, tx_pkts, kicks);
	}
	close(h.efd);
	free(h.buf);
	return r;
}

static uint32_t size_arg(const char *s, uint32_t max)
{
	char *end;
	unsigned long v = strtoul(s, &end, 0);

	if (*end == 'k' || *end == 'K') {
		v *= 1024;
		end++;
	}
	if (*end || !v || v > max) {
		fprintf(stderr, "vsock_bench: size %s: 1 to %u\n", s, max);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	static char what[64];
	struct vguest v;
	int i, r;

	if (argc < 3 || (strcmp(argv[1], "stream-h2g") &&
			 strcmp(argv[1], "stream-g2h") && strcmp(argv[1], "rr"))) {
		fprintf(stderr, "usage: vsock_bench stream-h2g|stream-g2h|rr SIZE [--rx-buf BYTES] [--seconds S]\n");
		return 2;
	}
	b.mode = !strcmp(argv[1], "rr") ? RR :
		 !strcmp(argv[1], "stream-h2g") ? H2G : G2H;
	/* an rr request and its echo must fit the guest's TX buffers at once */
	b.size = size_arg(argv[2], b.mode == RR ? 4096 : 1U << 24);
	b.rx_buf = VG_MAX_PKT;
	b.seconds = 3;
	for (i = 3; i < argc; i++) {
		if (!strcmp(argv[i], "--rx-buf") && i + 1 < argc)
			b.rx_buf = size_arg(argv[++i], VG_MAX_PKT);
		else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
			b.seconds = atof(argv[++i]);
		else {
			fprintf(stderr, "vsock_bench: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	if (b.rx_buf < 64) {
		fprintf(stderr, "vsock_bench: --rx-buf: at least 64\n");
		return 2;
	}
	snprintf(what, sizeof(what), "vsock-%s-%s%s", argv[1], argv[2],
		 b.rx_buf != VG_MAX_PKT ? "-rxbuf" : "");
	if (b.rx_buf != VG_MAX_PKT)
		snprintf(what + strlen(what), sizeof(what) - strlen(what), "%u",
			 b.rx_buf);
	b.what = what;
	setup_guest(&v);
	r = run(&v);
	vg_free(&v);
	return r;
}
