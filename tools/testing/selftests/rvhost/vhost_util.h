/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared helpers for the rvhost ioctl conformance suite.
 *
 * Every test describes what the C vhost_net / vhost_vsock drivers of Linux
 * 7.2 do (drivers/vhost/{vhost,net,vsock}.c are the specification); the same
 * binaries then run against rvhost's drop-in modules.
 *
 * Memory layout of a test device (struct vdev):
 *
 *   d->mem                      VDEV_MEM_SIZE bytes, page aligned, zeroed
 *   + vq * VDEV_VQ_STRIDE       desc table of virtqueue vq   (16 * num)
 *   + ... + VDEV_AVAIL_OFF      avail ring                   (4 + 2 * num + 2)
 *   + ... + VDEV_USED_OFF       used ring                    (4 + 8 * num + 2)
 *   + VDEV_DATA_OFF             buffers for the data path tests
 *
 * The memory table set by vdev_set_mem() maps guest physical address 0 to
 * d->mem, so a buffer's guest address is its offset in d->mem. Ring
 * addresses are user virtual addresses (no IOTLB) as vhost expects.
 */
#ifndef RVHOST_VHOST_UTIL_H
#define RVHOST_VHOST_UTIL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <linux/if.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <linux/vhost.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>
#include <linux/virtio_vsock.h>
#include <linux/vm_sockets.h>

#include "kselftest_harness.h"

#ifndef VHOST_SET_FORK_FROM_OWNER
#error "needs the Linux 7.2 uapi headers (KHDR=...), not the host's"
#endif

#define BIT_ULL(n) (1ULL << (n))

enum vdev_kind { VDEV_NET, VDEV_VSOCK };

#define VHOST_NET_PATH		"/dev/vhost-net"
#define VHOST_VSOCK_PATH	"/dev/vhost-vsock"
#define VDEV_NVQS		2	/* both devices have two virtqueues */

/* VHOST_FEATURES in drivers/vhost/vhost.h */
#define VHOST_COMMON_FEATURES					\
	(BIT_ULL(VIRTIO_F_NOTIFY_ON_EMPTY) |			\
	 BIT_ULL(VIRTIO_RING_F_INDIRECT_DESC) |			\
	 BIT_ULL(VIRTIO_RING_F_EVENT_IDX) |			\
	 BIT_ULL(VHOST_F_LOG_ALL) |				\
	 BIT_ULL(VIRTIO_F_ANY_LAYOUT) |				\
	 BIT_ULL(VIRTIO_F_VERSION_1))

/* vhost_net_bits[] in drivers/vhost/net.c, first and second u64 */
#define NET_FEATURES						\
	(VHOST_COMMON_FEATURES |				\
	 BIT_ULL(VHOST_NET_F_VIRTIO_NET_HDR) |			\
	 BIT_ULL(VIRTIO_NET_F_MRG_RXBUF) |			\
	 BIT_ULL(VIRTIO_F_ACCESS_PLATFORM) |			\
	 BIT_ULL(VIRTIO_F_RING_RESET) |				\
	 BIT_ULL(VIRTIO_F_IN_ORDER))
#define NET_FEATURES_HI						\
	(BIT_ULL(VIRTIO_NET_F_GUEST_UDP_TUNNEL_GSO - 64) |	\
	 BIT_ULL(VIRTIO_NET_F_HOST_UDP_TUNNEL_GSO - 64))

/* vhost_vsock_bits[] in drivers/vhost/vsock.c */
#define VSOCK_FEATURES						\
	(VHOST_COMMON_FEATURES |				\
	 BIT_ULL(VIRTIO_F_ACCESS_PLATFORM) |			\
	 BIT_ULL(VIRTIO_VSOCK_F_SEQPACKET))

/* VHOST_NET_BACKEND_FEATURES / VHOST_VSOCK_BACKEND_FEATURES */
#define BACKEND_FEATURES	BIT_ULL(VHOST_BACKEND_F_IOTLB_MSG_V2)

/* An address no user pointer can have: the start of the kernel half. */
#define KERNEL_ADDR		0xffff800000000000ULL

#define VDEV_MEM_SIZE		0x40000UL
#define VDEV_VQ_STRIDE		0x4000UL
#define VDEV_AVAIL_OFF		0x1000UL
#define VDEV_USED_OFF		0x2000UL
#define VDEV_DATA_OFF		0x10000UL
#define VDEV_NUM		256	/* default ring size */

/* sizeof(struct vhost_msg) == sizeof(struct vhost_msg_v2) == 72 */
#define IOTLB_MSG_SIZE		((ssize_t)sizeof(struct vhost_msg))
/* type + hole (v1) or asid (v2), then a whole struct vhost_iotlb_msg */
#define IOTLB_MSG_MIN		(8 + (ssize_t)sizeof(struct vhost_iotlb_msg))

struct vdev {
	int fd;
	enum vdev_kind kind;
	const char *path;
	unsigned char *mem;
	int sock[VDEV_NVQS];	/* net: backends bound by vdev_start() */
};

static inline const char *vdev_path(enum vdev_kind kind)
{
	return kind == VDEV_NET ? VHOST_NET_PATH : VHOST_VSOCK_PATH;
}

/*
 * The one answer rvhost gives on purpose that C does not: rvhost_net
 * offers the packed ring, which no C vhost device has.
 */
static inline bool vdev_is_rvhost(enum vdev_kind kind)
{
	return access(kind == VDEV_NET ? "/sys/module/rvhost_net" :
			"/sys/module/rvhost_vsock", F_OK) == 0;
}

static inline uint64_t vdev_features(enum vdev_kind kind)
{
	if (kind == VDEV_NET)
		return NET_FEATURES | (vdev_is_rvhost(kind) ?
				       BIT_ULL(VIRTIO_F_RING_PACKED) : 0);
	return VSOCK_FEATURES;
}

static inline unsigned char *vq_desc(struct vdev *d, int vq)
{
	return d->mem + vq * VDEV_VQ_STRIDE;
}

static inline struct vring_avail *vq_avail(struct vdev *d, int vq)
{
	return (struct vring_avail *)(d->mem + vq * VDEV_VQ_STRIDE +
				      VDEV_AVAIL_OFF);
}

static inline struct vring_used *vq_used(struct vdev *d, int vq)
{
	return (struct vring_used *)(d->mem + vq * VDEV_VQ_STRIDE +
				     VDEV_USED_OFF);
}

static inline uint64_t uptr(const void *p)
{
	return (uint64_t)(uintptr_t)p;
}

/*
 * Assertions on one ioctl. They print the request's name and the errno's
 * name on failure.
 */
#define IOCTL_OK(fd, req, arg) do {					\
	long __r;							\
	errno = 0;							\
	__r = ioctl((fd), (req), (arg));				\
	ASSERT_EQ(0, __r) TH_LOG("%s: %s", #req, strerrorname_np(errno)); \
} while (0)

#define IOCTL_ERR(fd, req, arg, err) do {				\
	long __r;							\
	int __e;							\
	errno = 0;							\
	__r = ioctl((fd), (req), (arg));				\
	__e = errno;							\
	ASSERT_EQ(-1, __r) TH_LOG("%s returned %ld, expected %s",	\
				  #req, __r, strerrorname_np(err));	\
	ASSERT_EQ((err), __e) TH_LOG("%s: %s, expected %s", #req,	\
				     strerrorname_np(__e),		\
				     strerrorname_np(err));		\
} while (0)

/* An errno-or-zero result, for helpers. */
static inline int ioctl_errno(int fd, unsigned long req, const void *arg)
{
	return ioctl(fd, req, arg) ? errno : 0;
}

#define ASSERT_ERRNO(expected, seen) do {				\
	int __s = (seen);						\
	ASSERT_EQ((expected), __s) TH_LOG("got %s, expected %s",	\
					  strerrorname_np(__s) ?: "0",	\
					  strerrorname_np(expected) ?: "0"); \
} while (0)

static inline void vdev_open(struct __test_metadata *_metadata,
			     struct vdev *d, enum vdev_kind kind)
{
	memset(d, 0, sizeof(*d));
	d->kind = kind;
	d->path = vdev_path(kind);
	d->sock[0] = d->sock[1] = -1;
	d->fd = open(d->path, O_RDWR);
	if (d->fd < 0 && (errno == ENOENT || errno == ENODEV || errno == ENXIO))
		SKIP(return, "%s: %s (module not loaded?)", d->path,
		     strerror(errno));
	ASSERT_LE(0, d->fd) TH_LOG("open %s: %s", d->path, strerror(errno));
	d->mem = mmap(NULL, VDEV_MEM_SIZE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, d->mem);
}

static inline void vdev_close(struct vdev *d)
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

static inline int vdev_open_fd(enum vdev_kind kind)
{
	return open(vdev_path(kind), O_RDWR);
}

/* VHOST_SET_MEM_TABLE with nregions regions */
struct mem_table {
	struct vhost_memory hdr;
	struct vhost_memory_region r[];
};

static inline struct mem_table *mem_table_alloc(unsigned int nregions)
{
	struct mem_table *t = calloc(1, sizeof(*t) +
				     nregions * sizeof(struct vhost_memory_region));

	if (t)
		t->hdr.nregions = nregions;
	return t;
}

static inline int set_mem_one(int fd, uint64_t gpa, uint64_t size,
			      uint64_t uaddr)
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

static inline int set_mem_empty(int fd)
{
	struct vhost_memory m = { .nregions = 0 };

	return ioctl_errno(fd, VHOST_SET_MEM_TABLE, &m);
}

/* The whole of d->mem at guest physical address 0. */
static inline int vdev_set_mem(struct vdev *d)
{
	return set_mem_one(d->fd, 0, VDEV_MEM_SIZE, uptr(d->mem));
}

static inline int set_num(int fd, unsigned int vq, unsigned int num)
{
	struct vhost_vring_state s = { .index = vq, .num = num };

	return ioctl_errno(fd, VHOST_SET_VRING_NUM, &s);
}

static inline int set_base(int fd, unsigned int vq, unsigned int num)
{
	struct vhost_vring_state s = { .index = vq, .num = num };

	return ioctl_errno(fd, VHOST_SET_VRING_BASE, &s);
}

/* Returns the base, or -errno. */
static inline long get_base(int fd, unsigned int vq)
{
	struct vhost_vring_state s = { .index = vq, .num = 0xdeadbeef };

	if (ioctl(fd, VHOST_GET_VRING_BASE, &s))
		return -errno;
	return s.num;
}

static inline int set_addr(int fd, unsigned int vq, unsigned int flags,
			   uint64_t desc, uint64_t avail, uint64_t used,
			   uint64_t log)
{
	struct vhost_vring_addr a = {
		.index = vq, .flags = flags, .desc_user_addr = desc,
		.avail_user_addr = avail, .used_user_addr = used,
		.log_guest_addr = log,
	};

	return ioctl_errno(fd, VHOST_SET_VRING_ADDR, &a);
}

/* Point virtqueue vq at its rings in d->mem. */
static inline int vdev_set_addr(struct vdev *d, int vq)
{
	return set_addr(d->fd, vq, 0, uptr(vq_desc(d, vq)),
			uptr(vq_avail(d, vq)), uptr(vq_used(d, vq)), 0);
}

static inline int set_vring_file(int fd, unsigned long req, unsigned int vq,
				 int file)
{
	struct vhost_vring_file f = { .index = vq, .fd = file };

	return ioctl_errno(fd, req, &f);
}

static inline int set_features(int fd, uint64_t features)
{
	return ioctl_errno(fd, VHOST_SET_FEATURES, &features);
}

static inline int set_backend_features(int fd, uint64_t features)
{
	return ioctl_errno(fd, VHOST_SET_BACKEND_FEATURES, &features);
}

static inline int set_log_base(int fd, uint64_t base)
{
	return ioctl_errno(fd, VHOST_SET_LOG_BASE, &base);
}

static inline int set_log_fd(int fd, int efd)
{
	return ioctl_errno(fd, VHOST_SET_LOG_FD, &efd);
}

static inline int net_set_backend(int fd, unsigned int vq, int sock)
{
	struct vhost_vring_file f = { .index = vq, .fd = sock };

	return ioctl_errno(fd, VHOST_NET_SET_BACKEND, &f);
}

static inline int vsock_set_running(int fd, int start)
{
	return ioctl_errno(fd, VHOST_VSOCK_SET_RUNNING, &start);
}

static inline int vsock_set_cid(int fd, uint64_t cid)
{
	return ioctl_errno(fd, VHOST_VSOCK_SET_GUEST_CID, &cid);
}

/* The memory table and rings of VDEV_NUM entries on every vq (an owner's). */
static inline void vdev_setup_rings(struct __test_metadata *_metadata,
				    struct vdev *d)
{
	int vq;

	ASSERT_ERRNO(0, vdev_set_mem(d));
	for (vq = 0; vq < VDEV_NVQS; vq++) {
		ASSERT_ERRNO(0, set_num(d->fd, vq, VDEV_NUM));
		ASSERT_ERRNO(0, vdev_set_addr(d, vq));
	}
}

/* SET_OWNER, the memory table, and rings of VDEV_NUM entries on every vq. */
static inline void vdev_ready(struct __test_metadata *_metadata,
			      struct vdev *d)
{
	IOCTL_OK(d->fd, VHOST_SET_OWNER, NULL);
	vdev_setup_rings(_metadata, d);
}

/* A raw packet socket: the simplest backend vhost-net accepts. */
static inline int packet_socket(void)
{
	return socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
}

/*
 * Start the device: vhost-net gets a packet socket on every virtqueue,
 * vhost-vsock VHOST_VSOCK_SET_RUNNING(1). Returns 0 or the errno of the
 * first failure.
 */
static inline int vdev_start(struct vdev *d)
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

static inline int vdev_stop(struct vdev *d)
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

/*
 * The check vhost does before it starts a virtqueue (vhost_vq_access_ok():
 * memory table present and inside the user address range, rings inside
 * it, log area): vhost-net runs it for VHOST_NET_SET_BACKEND even with fd
 * -1, which starts nothing and touches no ring memory; vhost-vsock runs it
 * for SET_RUNNING(1), which also writes the used rings, and is stopped
 * again. Returns 0 or the errno.
 */
static inline int vdev_probe(struct vdev *d)
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

/*
 * Wait for the work vhost queued so far to finish. The C drivers flush
 * their workers after every device ioctl that is not a virtqueue ioctl
 * (vhost_net_ioctl / vhost_vsock_dev_ioctl call vhost_net_flush /
 * vhost_vsock_flush); VHOST_GET_FORK_FROM_OWNER is one with no effect.
 * A short sleep covers implementations that do not flush there.
 */
static inline void vdev_flush(struct vdev *d)
{
	uint8_t v;

	ioctl(d->fd, VHOST_GET_FORK_FROM_OWNER, &v);
	usleep(20000);
}

/*
 * The flush alone, without the sleep: returns when the worker has run
 * everything queued before the call (vhost_dev_flush()). A kick queues
 * the handler before write() on the kick eventfd returns, so what that
 * handler does is visible when this returns (vring.flush_is_barrier and
 * net_notify.flush_is_barrier check it). Returns 0 or the errno.
 */
static inline int vdev_flush_barrier(int fd)
{
	uint8_t v;

	return ioctl_errno(fd, VHOST_GET_FORK_FROM_OWNER, &v);
}

static inline int new_eventfd(void)
{
	return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

/* The eventfd's count (reading resets it), 0 if it was not signalled. */
static inline uint64_t eventfd_take(int efd)
{
	uint64_t v = 0;

	if (read(efd, &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}

static inline bool wait_readable(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN);
}

static inline void eventfd_kick(int efd)
{
	uint64_t one = 1;

	if (write(efd, &one, sizeof(one)) != sizeof(one))
		abort();
}

/* A closed file descriptor number. */
static inline int closed_fd(void)
{
	int fd = dup(0);

	if (fd >= 0)
		close(fd);
	return fd >= 0 ? fd : 1000;
}

/*
 * The highest valid user address (USER_PTR_MAX, TASK_SIZE_MAX on x86-64):
 * 47 bits with 4-level paging, 56 bits with 5-level paging. access_ok(p, n)
 * holds iff p + n <= this.
 */
static inline uint64_t user_ptr_max(void)
{
	void *p = mmap((void *)(1UL << 47), 4096, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
		       -1, 0);

	if (p == MAP_FAILED)
		return (1ULL << 47) - 4096;
	munmap(p, 4096);
	return (1ULL << 56) - 4096;
}

/* Read a small text file (sysfs, procfs) into buf, NUL-terminated. */
static inline bool read_small_file(const char *path, char *buf, size_t len)
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

/*
 * The C driver's defaults (drivers/vhost/vhost.c in 7.2): what a test
 * expects, whichever module is loaded. They are constants of the oracle and
 * never read from the module under test; module_test.sh checks that both
 * implementations' parameters hold them.
 */
#define VHOST_C_MAX_MEM_REGIONS		64
#define VHOST_C_MAX_IOTLB_ENTRIES	2048
#define VHOST_C_FORK_OWNER_DEFAULT	VHOST_FORK_OWNER_TASK
/* SET/GET_VRING_ENDIAN without CONFIG_VHOST_CROSS_ENDIAN_LEGACY. */
#define VHOST_C_VRING_ENDIAN_ERRNO	ENOTTY

static inline unsigned int max_mem_regions(enum vdev_kind kind)
{
	return VHOST_C_MAX_MEM_REGIONS;
}

/* The fork_owner every device starts with. */
static inline uint8_t fork_owner_default(enum vdev_kind kind)
{
	return VHOST_C_FORK_OWNER_DEFAULT;
}

/*
 * Run an ioctl in a child process (which shares no mm with the owner).
 * arg must live in shared memory (shared_alloc()) if the result is wanted.
 */
struct child_result {
	long ret;
	int err;
};

static inline void *shared_alloc(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* Returns 0, the errno of the ioctl in the child, or -1 if the child died. */
static inline int child_ioctl(int fd, unsigned long req, void *arg)
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

/* The same in another thread of this process (same mm). */
struct thread_ioctl {
	int fd;
	unsigned long req;
	void *arg;
	int ret;
};

static inline void *thread_ioctl_fn(void *p)
{
	struct thread_ioctl *t = p;

	t->ret = ioctl(t->fd, t->req, t->arg) ? errno : 0;
	return NULL;
}

static inline int thread_ioctl(int fd, unsigned long req, void *arg)
{
	struct thread_ioctl t = { .fd = fd, .req = req, .arg = arg, .ret = -1 };
	pthread_t th;

	if (pthread_create(&th, NULL, thread_ioctl_fn, &t))
		return -1;
	pthread_join(th, NULL);
	return t.ret;
}

/* Number of threads of this process, and of those named name. */
static inline int count_threads_once(const char *name)
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
		if (!name) {
			n++;
			continue;
		}
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
		if (!strcmp(comm, name))
			n++;
	}
	closedir(dir);
	return n;
}

/*
 * Threads of this process named name (all with NULL). A thread that exits
 * while /proc/self/task is read shifts the entries after it, and one of
 * them can be missed (a joined pthread is still in the list for a moment):
 * the count is the one two reads in a row agree on.
 */
static inline int count_threads(const char *name)
{
	int n = count_threads_once(name), m, tries;

	for (tries = 0; tries < 20; tries++) {
		m = count_threads_once(name);
		if (m == n)
			return n;
		n = m;
		usleep(10000);
	}
	return n;
}

/* Wait up to timeout_ms for count_threads(name) == n; returns the count. */
static inline int wait_threads(const char *name, int n, int timeout_ms)
{
	int c = count_threads(name);

	while (c != n && timeout_ms > 0) {
		usleep(10000);
		timeout_ms -= 10;
		c = count_threads(name);
	}
	return c;
}

/* A page of memory followed by an inaccessible page. */
static inline unsigned char *guarded_page(void)
{
	unsigned char *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	if (mprotect(p + 4096, 4096, PROT_NONE))
		return NULL;
	return p;
}

/* An address in the user range that maps nothing. */
static inline void *unmapped_addr(void)
{
	void *p = mmap(NULL, 0x10000, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	munmap(p, 0x10000);
	return p;
}

/* ---- networking helpers ---------------------------------------------- */

/*
 * Create a tap (or tun) device attached to the returned fd. name gets the
 * interface name. Returns -errno on failure.
 */
static inline int tap_open(char *name, short flags)
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

static inline int if_index(const char *name)
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

static inline bool if_exists(const char *name)
{
	return if_index(name) > 0;
}

static inline int if_up(const char *name)
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

/* Wait up to timeout_ms for the interface to exist (or not). */
static inline bool wait_if(const char *name, bool exists, int timeout_ms)
{
	while (if_exists(name) != exists && timeout_ms > 0) {
		usleep(10000);
		timeout_ms -= 10;
	}
	return if_exists(name) == exists;
}

/* Non-blocking AF_VSOCK connect to cid:port; returns 0 or the errno. */
static inline int vsock_try_connect(int type, unsigned int cid,
				    unsigned int port)
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

/* A guest CID for this test process, unlikely to collide with others. */
static inline unsigned int test_cid(int n)
{
	return 1000 + (getpid() % 100000) * 4 + n;
}

/*
 * The standard fixture: one device, as a variant for each of vhost-net and
 * vhost-vsock (tests of what vhost.c does for both).
 */
#define VHOST_FIXTURE(name)						\
	FIXTURE(name) { struct vdev d; };				\
	FIXTURE_VARIANT(name) { enum vdev_kind kind; };		\
	FIXTURE_VARIANT_ADD(name, net) { .kind = VDEV_NET };		\
	FIXTURE_VARIANT_ADD(name, vsock) { .kind = VDEV_VSOCK };	\
	FIXTURE_SETUP(name) { vdev_open(_metadata, &self->d, variant->kind); } \
	FIXTURE_TEARDOWN(name) { vdev_close(&self->d); }

/* A fixture for one kind of device only. */
#define VDEV_FIXTURE(name, KIND)					\
	FIXTURE(name) { struct vdev d; };				\
	FIXTURE_SETUP(name) { vdev_open(_metadata, &self->d, KIND); }	\
	FIXTURE_TEARDOWN(name) { vdev_close(&self->d); }

/* ---- one buffer through the data path, for both devices ------------------ */

/*
 * The split rings of one virtqueue, wherever they are in d->mem (the
 * default layout: vdev_ring_of(); or another place, for SET_VRING_ADDR).
 * Used by tests that need to see the data path react to the state an
 * ioctl set: a TX buffer that a started device uses with length 0.
 */
struct vdev_ring {
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	unsigned int num;
};

/* The TX virtqueue of both devices, whose handler runs on a kick. */
#define VDEV_TX_VQ		1
/* d->mem offset (= guest address) of the TX buffers of vdev_tx_fill() */
#define VDEV_TX_BUF_OFF		0x38000UL
#define VDEV_TX_SLOT		0x100UL

/* Rings with the default layout at offset off of d->mem. */
static inline struct vdev_ring vdev_ring_at(struct vdev *d, unsigned long off)
{
	struct vdev_ring r = {
		.desc = (struct vring_desc *)(d->mem + off),
		.avail = (struct vring_avail *)(d->mem + off + VDEV_AVAIL_OFF),
		.used = (struct vring_used *)(d->mem + off + VDEV_USED_OFF),
		.num = VDEV_NUM,
	};

	return r;
}

/* Virtqueue vq's rings as vdev_set_addr() sets them. */
static inline struct vdev_ring vdev_ring_of(struct vdev *d, int vq)
{
	return vdev_ring_at(d, vq * VDEV_VQ_STRIDE);
}

/* VHOST_SET_VRING_ADDR of vq to r. */
static inline int vdev_ring_set_addr(struct vdev *d, int vq,
				     const struct vdev_ring *r)
{
	return set_addr(d->fd, vq, 0, uptr(r->desc), uptr(r->avail),
			uptr(r->used), 0);
}

/*
 * Make a one-descriptor buffer available at descriptor head: the avail
 * entry, then the index (release: the entry is visible first).
 */
static inline void vdev_ring_add(struct vdev_ring *r, uint16_t head,
				 uint64_t gpa, uint32_t len, uint16_t flags)
{
	uint16_t idx = r->avail->idx;

	r->desc[head] = (struct vring_desc){ gpa, len, flags, 0 };
	r->avail->ring[idx % r->num] = head;
	__atomic_store_n(&r->avail->idx, (uint16_t)(idx + 1), __ATOMIC_RELEASE);
}

static inline uint16_t vdev_ring_used_idx(const struct vdev_ring *r)
{
	return __atomic_load_n(&r->used->idx, __ATOMIC_ACQUIRE);
}

/* Wait up to timeout_ms for the used index to be n. */
static inline bool vdev_ring_wait_used(const struct vdev_ring *r, uint16_t n,
				       int timeout_ms)
{
	while (vdev_ring_used_idx(r) != n && timeout_ms > 0) {
		usleep(2000);
		timeout_ms -= 2;
	}
	return vdev_ring_used_idx(r) == n;
}

/*
 * Write a TX buffer in slot `slot` that a started device takes and uses
 * with length 0, and return its guest address (its length in *len):
 * vhost-net sends it on the backend (vdev_start()'s packet socket is not
 * bound, so the send fails with ENXIO and the buffer is dropped, as any
 * frame a socket refuses); vhost-vsock drops a packet that does not come
 * from the guest's CID.
 */
static inline uint64_t vdev_tx_fill(struct vdev *d, unsigned int slot,
				    uint32_t *len)
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

/* Post a TX buffer (slot `slot`) at descriptor head on r; no kick. */
static inline void vdev_tx_post(struct vdev *d, struct vdev_ring *r,
				uint16_t head, unsigned int slot)
{
	uint32_t len;
	uint64_t gpa = vdev_tx_fill(d, slot, &len);

	vdev_ring_add(r, head, gpa, len, 0);
}

/* Bind the kick, call and error eventfds of vq (-1: leave it). */
static inline int vdev_set_files(struct vdev *d, int vq, int kick, int call,
				 int err)
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

#endif /* RVHOST_VHOST_UTIL_H */
