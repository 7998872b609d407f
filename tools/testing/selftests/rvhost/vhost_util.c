// SPDX-License-Identifier: GPL-2.0
/*
 * Shared helpers for the rvhost ioctl conformance suite: see vhost_util.h.
 */
#include "vhost_util.h"

bool vdev_is_rvhost(enum vdev_kind kind)
{
	return access(kind == VDEV_NET ? "/sys/module/rvhost_net" :
			"/sys/module/rvhost_vsock", F_OK) == 0;
}

uint64_t vdev_features(enum vdev_kind kind)
{
	if (kind == VDEV_NET)
		return NET_FEATURES | (vdev_is_rvhost(kind) ?
				       BIT_ULL(VIRTIO_F_RING_PACKED) : 0);
	return VSOCK_FEATURES | (vdev_is_rvhost(kind) ?
				 BIT_ULL(VIRTIO_F_RING_PACKED) |
				 BIT_ULL(VIRTIO_F_IN_ORDER) : 0);
}

int ioctl_errno(int fd, unsigned long req, const void *arg)
{
	return ioctl(fd, req, arg) ? errno : 0;
}

void vdev_close(struct vdev *d)
{
	int i;

	for (i = 0; i < VDEV_NVQS; i++)
		if (d->sock[i] >= 0)
			close(d->sock[i]);
	if (d->fd >= 0)
		close(d->fd);
	if (d->mem && d->mem != MAP_FAILED)
		munmap(d->mem, VDEV_MEM_SIZE);
	d->fd = -1;
	d->mem = NULL;
}

int vdev_open_fd(enum vdev_kind kind)
{
	return open(vdev_path(kind), O_RDWR);
}

struct mem_table *mem_table_alloc(unsigned int nregions)
{
	struct mem_table *t = calloc(1, sizeof(*t) +
				     nregions * sizeof(struct vhost_memory_region));

	if (t)
		t->hdr.nregions = nregions;
	return t;
}

int set_mem_one(int fd, uint64_t gpa, uint64_t size, uint64_t uaddr)
{
	struct {
		struct vhost_memory hdr;
		struct vhost_memory_region r[1];
	} t = {
		.hdr.nregions = 1,
		.r[0] = { .guest_phys_addr = gpa, .memory_size = size,
			  .userspace_addr = uaddr },
	};

	return ioctl_errno(fd, VHOST_SET_MEM_TABLE, &t);
}

int set_mem_empty(int fd)
{
	struct vhost_memory m = { .nregions = 0 };

	return ioctl_errno(fd, VHOST_SET_MEM_TABLE, &m);
}

int vdev_set_mem(struct vdev *d)
{
	return set_mem_one(d->fd, 0, VDEV_MEM_SIZE, uptr(d->mem));
}

int set_num(int fd, unsigned int vq, unsigned int num)
{
	struct vhost_vring_state s = { .index = vq, .num = num };

	return ioctl_errno(fd, VHOST_SET_VRING_NUM, &s);
}

int set_base(int fd, unsigned int vq, unsigned int num)
{
	struct vhost_vring_state s = { .index = vq, .num = num };

	return ioctl_errno(fd, VHOST_SET_VRING_BASE, &s);
}

long get_base(int fd, unsigned int vq)
{
	struct vhost_vring_state s = { .index = vq, .num = 0xdeadbeef };

	if (ioctl(fd, VHOST_GET_VRING_BASE, &s))
		return -errno;
	return s.num;
}

int set_addr(int fd, unsigned int vq, unsigned int flags, uint64_t desc,
	     uint64_t avail, uint64_t used, uint64_t log)
{
	struct vhost_vring_addr a = {
		.index = vq, .flags = flags, .desc_user_addr = desc,
		.avail_user_addr = avail, .used_user_addr = used,
		.log_guest_addr = log,
	};

	return ioctl_errno(fd, VHOST_SET_VRING_ADDR, &a);
}

int vdev_set_addr(struct vdev *d, int vq)
{
	return set_addr(d->fd, vq, 0, uptr(vq_desc(d, vq)),
			uptr(vq_avail(d, vq)), uptr(vq_used(d, vq)), 0);
}

int set_vring_file(int fd, unsigned long req, unsigned int vq, int file)
{
	struct vhost_vring_file f = { .index = vq, .fd = file };

	return ioctl_errno(fd, req, &f);
}

int set_features(int fd, uint64_t features)
{
	return ioctl_errno(fd, VHOST_SET_FEATURES, &features);
}

int set_backend_features(int fd, uint64_t features)
{
	return ioctl_errno(fd, VHOST_SET_BACKEND_FEATURES, &features);
}

int set_log_base(int fd, uint64_t base)
{
	return ioctl_errno(fd, VHOST_SET_LOG_BASE, &base);
}

int set_log_fd(int fd, int efd)
{
	return ioctl_errno(fd, VHOST_SET_LOG_FD, &efd);
}

int net_set_backend(int fd, unsigned int vq, int sock)
{
	struct vhost_vring_file f = { .index = vq, .fd = sock };

	return ioctl_errno(fd, VHOST_NET_SET_BACKEND, &f);
}

int vsock_set_running(int fd, int start)
{
	return ioctl_errno(fd, VHOST_VSOCK_SET_RUNNING, &start);
}

int vsock_set_cid(int fd, uint64_t cid)
{
	return ioctl_errno(fd, VHOST_VSOCK_SET_GUEST_CID, &cid);
}

int packet_socket(void)
{
	return socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
}

int vdev_start(struct vdev *d)
{
	int vq, r;

	if (d->kind == VDEV_VSOCK)
		return vsock_set_running(d->fd, 1);
	for (vq = 0; vq < VDEV_NVQS; vq++) {
		if (d->sock[vq] < 0)
			d->sock[vq] = packet_socket();
		if (d->sock[vq] < 0)
			return errno;
		r = net_set_backend(d->fd, vq, d->sock[vq]);
		if (r)
			return r;
	}
	return 0;
}

int vdev_stop(struct vdev *d)
{
	int vq, r;

	if (d->kind == VDEV_VSOCK)
		return vsock_set_running(d->fd, 0);
	for (vq = 0; vq < VDEV_NVQS; vq++) {
		r = net_set_backend(d->fd, vq, -1);
		if (r)
			return r;
	}
	return 0;
}

int vdev_probe(struct vdev *d)
{
	int vq, r;

	if (d->kind == VDEV_VSOCK) {
		r = vsock_set_running(d->fd, 1);
		if (!r)
			vsock_set_running(d->fd, 0);
		return r;
	}
	for (vq = 0; vq < VDEV_NVQS; vq++) {
		r = net_set_backend(d->fd, vq, -1);
		if (r)
			return r;
	}
	return 0;
}

void vdev_flush(struct vdev *d)
{
	uint8_t v;

	ioctl(d->fd, VHOST_GET_FORK_FROM_OWNER, &v);
	usleep(20000);
}

int vdev_flush_barrier(int fd)
{
	uint8_t v;

	return ioctl_errno(fd, VHOST_GET_FORK_FROM_OWNER, &v);
}

int new_eventfd(void)
{
	return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

uint64_t eventfd_take(int efd)
{
	uint64_t v = 0;

	if (read(efd, &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}

bool wait_readable(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN);
}

void eventfd_kick(int efd)
{
	uint64_t one = 1;

	if (write(efd, &one, sizeof(one)) != sizeof(one))
		abort();
}

int closed_fd(void)
{
	int fd = dup(0);

	if (fd >= 0)
		close(fd);
	return fd >= 0 ? fd : 1000;
}

uint64_t user_ptr_max(void)
{
	void *p = mmap((void *)(1UL << 47), 4096, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
		       -1, 0);

	if (p == MAP_FAILED)
		return (1ULL << 47) - 4096;
	munmap(p, 4096);
	return (1ULL << 56) - 4096;
}

bool read_small_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return false;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = 0;
	return true;
}

void *shared_alloc(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

int child_ioctl(int fd, unsigned long req, void *arg)
{
	struct child_result *res = shared_alloc(sizeof(*res));
	int status, ret;
	pid_t pid;

	if (!res)
		return -1;
	res->ret = -2;
	pid = fork();
	if (pid == 0) {
		res->ret = ioctl(fd, req, arg);
		res->err = errno;
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    res->ret == -2) {
		munmap(res, sizeof(*res));
		return -1;
	}
	ret = res->ret ? res->err : 0;
	if (res->ret && res->ret != -1)
		ret = -1;
	munmap(res, sizeof(*res));
	return ret;
}

static void *thread_ioctl_fn(void *p)
{
	struct thread_ioctl *t = p;

	t->ret = ioctl(t->fd, t->req, t->arg) ? errno : 0;
	return NULL;
}

int thread_ioctl(int fd, unsigned long req, void *arg)
{
	struct thread_ioctl t = { .fd = fd, .req = req, .arg = arg, .ret = -1 };
	pthread_t th;

	if (pthread_create(&th, NULL, thread_ioctl_fn, &t))
		return -1;
	pthread_join(th, NULL);
	return t.ret;
}

int threads_named(const char *name, pid_t *tid, int max)
{
	char path[300], comm[64];
	struct dirent *e;
	int n = 0, fd;
	ssize_t len;
	DIR *dir;

	dir = opendir("/proc/self/task");
	if (!dir)
		return -1;
	while ((e = readdir(dir))) {
		if (e->d_name[0] == '.')
			continue;
		if (name) {
			snprintf(path, sizeof(path), "/proc/self/task/%s/comm",
				 e->d_name);
			fd = open(path, O_RDONLY);
			if (fd < 0)
				continue;
			len = read(fd, comm, sizeof(comm) - 1);
			close(fd);
			if (len <= 0)
				continue;
			comm[len] = 0;
			if (comm[len - 1] == '\n')
				comm[len - 1] = 0;
			if (strcmp(comm, name))
				continue;
		}
		if (n < max)
			tid[n] = atoi(e->d_name);
		n++;
	}
	closedir(dir);
	return n;
}

int count_threads(const char *name)
{
	int n = threads_named(name, NULL, 0), m, tries;

	for (tries = 0; tries < 20; tries++) {
		m = threads_named(name, NULL, 0);
		if (m == n)
			return n;
		n = m;
		usleep(10000);
	}
	return n;
}

int wait_threads(const char *name, int n, int timeout_ms)
{
	int c = count_threads(name);

	while (c != n && timeout_ms > 0) {
		usleep(10000);
		timeout_ms -= 10;
		c = count_threads(name);
	}
	return c;
}

unsigned char *guarded_page(void)
{
	unsigned char *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	if (mprotect(p + 4096, 4096, PROT_NONE))
		return NULL;
	return p;
}

void *unmapped_addr(void)
{
	void *p = mmap(NULL, 0x10000, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	munmap(p, 0x10000);
	return p;
}

int tap_open(char *name, short flags)
{
	struct ifreq ifr = { 0 };
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	ifr.ifr_flags = flags;
	if (ioctl(fd, TUNSETIFF, &ifr)) {
		int e = errno;

		close(fd);
		return -e;
	}
	if (name)
		memcpy(name, ifr.ifr_name, IFNAMSIZ);
	return fd;
}

int if_index(const char *name)
{
	struct ifreq ifr = { 0 };
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), r;

	if (s < 0)
		return -1;
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	r = ioctl(s, SIOCGIFINDEX, &ifr);
	close(s);
	return r ? 0 : ifr.ifr_ifindex;
}

bool if_exists(const char *name)
{
	return if_index(name) > 0;
}

int if_up(const char *name)
{
	struct ifreq ifr = { 0 };
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), r;
	char path[128];
	int fd;

	if (s < 0)
		return -1;
	/* No IPv6 autoconfiguration traffic on the test interface. */
	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6",
		 name);
	fd = open(path, O_WRONLY);
	if (fd >= 0) {
		r = write(fd, "1", 1);
		close(fd);
	}
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	r = ioctl(s, SIOCGIFFLAGS, &ifr);
	if (!r) {
		ifr.ifr_flags |= IFF_UP;
		r = ioctl(s, SIOCSIFFLAGS, &ifr);
	}
	close(s);
	return r;
}

bool wait_if(const char *name, bool exists, int timeout_ms)
{
	while (if_exists(name) != exists && timeout_ms > 0) {
		usleep(10000);
		timeout_ms -= 10;
	}
	return if_exists(name) == exists;
}

int vsock_try_connect(int type, unsigned int cid, unsigned int port)
{
	struct sockaddr_vm addr = {
		.svm_family = AF_VSOCK, .svm_cid = cid, .svm_port = port,
	};
	int s = socket(AF_VSOCK, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int r;

	if (s < 0)
		return -errno;
	r = connect(s, (struct sockaddr *)&addr, sizeof(addr)) ? errno : 0;
	close(s);
	return r;
}

unsigned int test_cid(int n)
{
	return 1000 + (getpid() % 100000) * 4 + n;
}

struct vdev_ring vdev_ring_at(struct vdev *d, unsigned long off)
{
	struct vdev_ring r = {
		.desc = (struct vring_desc *)(d->mem + off),
		.avail = (struct vring_avail *)(d->mem + off + VDEV_AVAIL_OFF),
		.used = (struct vring_used *)(d->mem + off + VDEV_USED_OFF),
		.num = VDEV_NUM,
	};

	return r;
}

struct vdev_ring vdev_ring_of(struct vdev *d, int vq)
{
	return vdev_ring_at(d, vq * VDEV_VQ_STRIDE);
}

int vdev_ring_set_addr(struct vdev *d, int vq, const struct vdev_ring *r)
{
	return set_addr(d->fd, vq, 0, uptr(r->desc), uptr(r->avail),
			uptr(r->used), 0);
}

void vdev_ring_add(struct vdev_ring *r, uint16_t head, uint64_t gpa,
		   uint32_t len, uint16_t flags)
{
	uint16_t idx = r->avail->idx;

	r->desc[head] = (struct vring_desc){ gpa, len, flags, 0 };
	r->avail->ring[idx % r->num] = head;
	__atomic_store_n(&r->avail->idx, (uint16_t)(idx + 1), __ATOMIC_RELEASE);
}

bool vdev_ring_wait_used(const struct vdev_ring *r, uint16_t n, int timeout_ms)
{
	while (vdev_ring_used_idx(r) != n && timeout_ms > 0) {
		usleep(2000);
		timeout_ms -= 2;
	}
	return vdev_ring_used_idx(r) == n;
}

bool vdev_wait_used(struct vdev *d, int vq, uint16_t n, int timeout_ms)
{
	struct vdev_ring r = vdev_ring_of(d, vq);

	return vdev_ring_wait_used(&r, n, timeout_ms);
}

/*
 * Write a TX buffer in slot `slot` that a started device takes and uses
 * with length 0, and return its guest address (its length in *len):
 * vhost-net sends it on the backend (vdev_start()'s packet socket is not
 * bound, so the send fails with ENXIO and the buffer is dropped, as any
 * frame a socket refuses); vhost-vsock drops a packet that does not come
 * from the guest's CID.
 */
static uint64_t vdev_tx_fill(struct vdev *d, unsigned int slot, uint32_t *len)
{
	uint64_t gpa = VDEV_TX_BUF_OFF + slot * VDEV_TX_SLOT;
	unsigned char *p = d->mem + gpa;

	memset(p, 0, VDEV_TX_SLOT);
	if (d->kind == VDEV_VSOCK) {
		struct virtio_vsock_hdr h = {
			.src_cid = 99999, .dst_cid = VMADDR_CID_HOST,
			.src_port = 1, .dst_port = 2,
			.type = VIRTIO_VSOCK_TYPE_STREAM,
			.op = VIRTIO_VSOCK_OP_RST,
		};

		memcpy(p, &h, sizeof(h));
		*len = sizeof(h);
	} else {
		memset(p, 0x5a, 64);
		*len = 64;
	}
	return gpa;
}

void vdev_tx_post(struct vdev *d, struct vdev_ring *r, uint16_t head,
		  unsigned int slot)
{
	uint32_t len;
	uint64_t gpa = vdev_tx_fill(d, slot, &len);

	vdev_ring_add(r, head, gpa, len, 0);
}

int vdev_set_files(struct vdev *d, int vq, int kick, int call, int err)
{
	int r = 0;

	if (!r && kick >= 0)
		r = set_vring_file(d->fd, VHOST_SET_VRING_KICK, vq, kick);
	if (!r && call >= 0)
		r = set_vring_file(d->fd, VHOST_SET_VRING_CALL, vq, call);
	if (!r && err >= 0)
		r = set_vring_file(d->fd, VHOST_SET_VRING_ERR, vq, err);
	return r;
}

/*
 * write() one IOTLB message, struct vhost_msg (ver 1) or vhost_msg_v2
 * (ver 2; another number is written as the v1 type), len bytes of it (0:
 * all 72); returns what write() returned, or -errno.
 */
ssize_t iotlb_msg(int fd, int ver, uint8_t type, uint64_t iova,
			 uint64_t size, uint64_t uaddr, uint8_t perm,
			 uint32_t asid, size_t len)
{
	union {
		struct vhost_msg v1;
		struct vhost_msg_v2 v2;
		unsigned char raw[256];
	} m;
	struct vhost_iotlb_msg *msg;
	ssize_t r;

	memset(&m, 0, sizeof(m));
	if (ver == 2) {
		m.v2.type = VHOST_IOTLB_MSG_V2;
		m.v2.asid = asid;
		msg = &m.v2.iotlb;
	} else {
		m.v1.type = ver;
		msg = &m.v1.iotlb;
	}
	msg->type = type;
	msg->iova = iova;
	msg->size = size;
	msg->uaddr = uaddr;
	msg->perm = perm;
	r = write(fd, &m, len ? len : sizeof(m.v1));
	return r < 0 ? -errno : r;
}

/* VHOST_IOTLB_UPDATE of [iova, iova + size) to host, a v2 message: 0 or -errno. */
int iotlb_map(int fd, uint64_t iova, uint64_t size, const void *host,
	      uint8_t perm)
{
	ssize_t r = iotlb_msg(fd, 2, VHOST_IOTLB_UPDATE, iova, size, uptr(host),
			      perm, 0, 0);

	return r == IOTLB_MSG_SIZE ? 0 : r < 0 ? (int)r : -EIO;
}

/* VHOST_IOTLB_INVALIDATE of [iova, iova + size), a v2 message: 0 or -errno. */
int iotlb_unmap(int fd, uint64_t iova, uint64_t size)
{
	ssize_t r = iotlb_msg(fd, 2, VHOST_IOTLB_INVALIDATE, iova, size, 0, 0,
			      0, 0);

	return r == IOTLB_MSG_SIZE ? 0 : r < 0 ? (int)r : -EIO;
}

long worker_ticks(int *nworkers)
{
	char path[300], comm[32], buf[512];
	struct dirent *e;
	long sum = 0, n = 0;
	DIR *dir;

	dir = opendir("/proc/self/task");
	if (!dir)
		return -1;
	while ((e = readdir(dir))) {
		unsigned long ut, st;
		char *p;
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (!fgets(comm, sizeof(comm), f))
			comm[0] = 0;
		fclose(f);
		if (strncmp(comm, "vhost-", 6))
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/stat", e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
		fclose(f);
		/* after the comm: state and 10 fields, then utime and stime */
		if (p && sscanf(p + 2, "%*c %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %lu %lu",
				&ut, &st) == 2) {
			sum += ut + st;
			n++;
		}
	}
	closedir(dir);
	if (nworkers)
		*nworkers = n;
	return sum;
}
