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
 *
 * The functions are in vhost_util.c, built once and linked into every test
 * program. Nothing here asserts: the assertions and fixtures on top of
 * these, and the kselftest harness, are in vhost_test.h.
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
bool vdev_is_rvhost(enum vdev_kind kind);

uint64_t vdev_features(enum vdev_kind kind);

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

/* An errno-or-zero result, for helpers. */
int ioctl_errno(int fd, unsigned long req, const void *arg);

/* IOTLB messages written to the device fd (vhost_util.c) */
ssize_t iotlb_msg(int fd, int ver, uint8_t type, uint64_t iova, uint64_t size,
		  uint64_t uaddr, uint8_t perm, uint32_t asid, size_t len);
int iotlb_map(int fd, uint64_t iova, uint64_t size, const void *host,
	      uint8_t perm);
int iotlb_unmap(int fd, uint64_t iova, uint64_t size);

void vdev_close(struct vdev *d);
int vdev_open_fd(enum vdev_kind kind);

/* VHOST_SET_MEM_TABLE with nregions regions */
struct mem_table {
	struct vhost_memory hdr;
	struct vhost_memory_region r[];
};

struct mem_table *mem_table_alloc(unsigned int nregions);
int set_mem_one(int fd, uint64_t gpa, uint64_t size, uint64_t uaddr);
int set_mem_empty(int fd);

/* The whole of d->mem at guest physical address 0. */
int vdev_set_mem(struct vdev *d);

int set_num(int fd, unsigned int vq, unsigned int num);
int set_base(int fd, unsigned int vq, unsigned int num);

/* Returns the base, or -errno. */
long get_base(int fd, unsigned int vq);

int set_addr(int fd, unsigned int vq, unsigned int flags, uint64_t desc,
	     uint64_t avail, uint64_t used, uint64_t log);

/* Point virtqueue vq at its rings in d->mem. */
int vdev_set_addr(struct vdev *d, int vq);

int set_vring_file(int fd, unsigned long req, unsigned int vq, int file);
int set_features(int fd, uint64_t features);
int set_backend_features(int fd, uint64_t features);
int set_log_base(int fd, uint64_t base);
int set_log_fd(int fd, int efd);
int net_set_backend(int fd, unsigned int vq, int sock);
int vsock_set_running(int fd, int start);
int vsock_set_cid(int fd, uint64_t cid);

/* A raw packet socket: the simplest backend vhost-net accepts. */
int packet_socket(void);

/*
 * Start the device: vhost-net gets a packet socket on every virtqueue,
 * vhost-vsock VHOST_VSOCK_SET_RUNNING(1). Returns 0 or the errno of the
 * first failure.
 */
int vdev_start(struct vdev *d);

int vdev_stop(struct vdev *d);

/*
 * The check vhost does before it starts a virtqueue (vhost_vq_access_ok():
 * memory table present and inside the user address range, rings inside
 * it, log area): vhost-net runs it for VHOST_NET_SET_BACKEND even with fd
 * -1, which starts nothing and touches no ring memory; vhost-vsock runs it
 * for SET_RUNNING(1), which also writes the used rings, and is stopped
 * again. Returns 0 or the errno.
 */
int vdev_probe(struct vdev *d);

/*
 * Wait for the work vhost queued so far to finish. The C drivers flush
 * their workers after every device ioctl that is not a virtqueue ioctl
 * (vhost_net_ioctl / vhost_vsock_dev_ioctl call vhost_net_flush /
 * vhost_vsock_flush); VHOST_GET_FORK_FROM_OWNER is one with no effect.
 * A short sleep covers implementations that do not flush there.
 */
void vdev_flush(struct vdev *d);

/*
 * The flush alone, without the sleep: returns when the worker has run
 * everything queued before the call (vhost_dev_flush()). A kick queues
 * the handler before write() on the kick eventfd returns, so what that
 * handler does is visible when this returns (vring.flush_is_barrier and
 * net_notify.flush_is_barrier check it). Returns 0 or the errno.
 */
int vdev_flush_barrier(int fd);

int new_eventfd(void);

/* The eventfd's count (reading resets it), 0 if it was not signalled. */
uint64_t eventfd_take(int efd);

bool wait_readable(int fd, int timeout_ms);
void eventfd_kick(int efd);

/*
 * CPU time (utime + stime, in clock ticks) of this process's vhost worker
 * threads ("vhost-PID") so far, -1 without /proc; their number in
 * *nworkers if not NULL.
 */
long worker_ticks(int *nworkers);

/* A closed file descriptor number. */
int closed_fd(void);

/*
 * The highest valid user address (USER_PTR_MAX, TASK_SIZE_MAX on x86-64):
 * 47 bits with 4-level paging, 56 bits with 5-level paging. access_ok(p, n)
 * holds iff p + n <= this.
 */
uint64_t user_ptr_max(void);

/* Read a small text file (sysfs, procfs) into buf, NUL-terminated. */
bool read_small_file(const char *path, char *buf, size_t len);

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

void *shared_alloc(size_t size);

/* Returns 0, the errno of the ioctl in the child, or -1 if the child died. */
int child_ioctl(int fd, unsigned long req, void *arg);

/* The same in another thread of this process (same mm). */
struct thread_ioctl {
	int fd;
	unsigned long req;
	void *arg;
	int ret;
};

int thread_ioctl(int fd, unsigned long req, void *arg);

/*
 * The threads of this process named name (all if NULL): their count, the
 * first max of their ids in tid; -1 if /proc cannot be read.
 */
int threads_named(const char *name, pid_t *tid, int max);

/*
 * Threads of this process named name (all with NULL). A thread that exits
 * while /proc/self/task is read shifts the entries after it, and one of
 * them can be missed (a joined pthread is still in the list for a moment):
 * the count is the one two reads in a row agree on.
 */
int count_threads(const char *name);

/* Wait up to timeout_ms for count_threads(name) == n; returns the count. */
int wait_threads(const char *name, int n, int timeout_ms);

/* A page of memory followed by an inaccessible page. */
unsigned char *guarded_page(void);

/* An address in the user range that maps nothing. */
void *unmapped_addr(void);

/* ---- networking helpers ---------------------------------------------- */

/*
 * Create a tap (or tun) device attached to the returned fd. name gets the
 * interface name. Returns -errno on failure.
 */
int tap_open(char *name, short flags);

int if_index(const char *name);
bool if_exists(const char *name);
int if_up(const char *name);

/* Wait up to timeout_ms for the interface to exist (or not). */
bool wait_if(const char *name, bool exists, int timeout_ms);

/* Non-blocking AF_VSOCK connect to cid:port; returns 0 or the errno. */
int vsock_try_connect(int type, unsigned int cid, unsigned int port);

/* A guest CID for this test process, unlikely to collide with others. */
unsigned int test_cid(int n);

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
struct vdev_ring vdev_ring_at(struct vdev *d, unsigned long off);

/* Virtqueue vq's rings as vdev_set_addr() sets them. */
struct vdev_ring vdev_ring_of(struct vdev *d, int vq);

/* VHOST_SET_VRING_ADDR of vq to r. */
int vdev_ring_set_addr(struct vdev *d, int vq, const struct vdev_ring *r);

/*
 * Make a one-descriptor buffer available at descriptor head: the avail
 * entry, then the index (release: the entry is visible first).
 */
void vdev_ring_add(struct vdev_ring *r, uint16_t head, uint64_t gpa,
		   uint32_t len, uint16_t flags);

static inline uint16_t vdev_ring_used_idx(const struct vdev_ring *r)
{
	return __atomic_load_n(&r->used->idx, __ATOMIC_ACQUIRE);
}

/* Wait up to timeout_ms for the used index to be n. */
bool vdev_ring_wait_used(const struct vdev_ring *r, uint16_t n, int timeout_ms);

/* The same for virtqueue vq's rings as vdev_set_addr() sets them. */
static inline uint16_t vdev_used_idx(struct vdev *d, int vq)
{
	return __atomic_load_n(&vq_used(d, vq)->idx, __ATOMIC_ACQUIRE);
}

bool vdev_wait_used(struct vdev *d, int vq, uint16_t n, int timeout_ms);

/* Post a TX buffer (slot `slot`) at descriptor head on r; no kick. */
void vdev_tx_post(struct vdev *d, struct vdev_ring *r, uint16_t head,
		  unsigned int slot);

/* Bind the kick, call and error eventfds of vq (-1: leave it). */
int vdev_set_files(struct vdev *d, int vq, int kick, int call, int err);

#endif /* RVHOST_VHOST_UTIL_H */
