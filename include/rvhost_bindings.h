/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Input of rvhost's own bindgen step (see Kbuild): the kernel interfaces
 * that the kernel crate's bindings do not carry. The output is allowlisted
 * (include/bindgen_parameters) so that it stays small.
 */

#include <linux/vhost.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <linux/virtio_net.h>
#include <linux/virtio_vsock.h>
#include <linux/if_tun.h>
#include <linux/if_tap.h>
#include <linux/sched/vhost_task.h>
#include <linux/eventpoll.h>
#include <linux/miscdevice.h>
#include <linux/ptr_ring.h>
#include <linux/skbuff.h>
#include <net/xdp.h>
#include <net/af_vsock.h>

#include "rvhost_helpers.h"

/*
 * The ioctl numbers are function-like macros, which bindgen cannot expand;
 * clang evaluates these constants, and the Kbuild rule strips the prefix
 * (the same trick as the kernel's rust/bindings/bindings_helper.h).
 */
#define RVHOST_CONST(name) const unsigned int RUST_CONST_HELPER_##name = name

RVHOST_CONST(VHOST_GET_FEATURES);
RVHOST_CONST(VHOST_SET_FEATURES);
RVHOST_CONST(VHOST_GET_FEATURES_ARRAY);
RVHOST_CONST(VHOST_SET_FEATURES_ARRAY);
RVHOST_CONST(VHOST_SET_OWNER);
RVHOST_CONST(VHOST_RESET_OWNER);
RVHOST_CONST(VHOST_SET_MEM_TABLE);
RVHOST_CONST(VHOST_SET_LOG_BASE);
RVHOST_CONST(VHOST_SET_LOG_FD);
RVHOST_CONST(VHOST_SET_VRING_NUM);
RVHOST_CONST(VHOST_SET_VRING_ADDR);
RVHOST_CONST(VHOST_SET_VRING_BASE);
RVHOST_CONST(VHOST_GET_VRING_BASE);
RVHOST_CONST(VHOST_SET_VRING_ENDIAN);
RVHOST_CONST(VHOST_GET_VRING_ENDIAN);
RVHOST_CONST(VHOST_SET_VRING_KICK);
RVHOST_CONST(VHOST_SET_VRING_CALL);
RVHOST_CONST(VHOST_SET_VRING_ERR);
RVHOST_CONST(VHOST_SET_VRING_BUSYLOOP_TIMEOUT);
RVHOST_CONST(VHOST_GET_VRING_BUSYLOOP_TIMEOUT);
RVHOST_CONST(VHOST_SET_BACKEND_FEATURES);
RVHOST_CONST(VHOST_GET_BACKEND_FEATURES);
RVHOST_CONST(VHOST_NEW_WORKER);
RVHOST_CONST(VHOST_FREE_WORKER);
RVHOST_CONST(VHOST_ATTACH_VRING_WORKER);
RVHOST_CONST(VHOST_GET_VRING_WORKER);
RVHOST_CONST(VHOST_SET_FORK_FROM_OWNER);
RVHOST_CONST(VHOST_GET_FORK_FROM_OWNER);
RVHOST_CONST(VHOST_NET_SET_BACKEND);
RVHOST_CONST(VHOST_VSOCK_SET_GUEST_CID);
RVHOST_CONST(VHOST_VSOCK_SET_RUNNING);

/* The sizes of vhost_net_build_xdp() (drivers/vhost/net.c). */
const unsigned int RUST_CONST_HELPER_RVHOST_SKB_SHINFO_SIZE =
	SKB_DATA_ALIGN(sizeof(struct skb_shared_info));
/* NET_SKB_PAD is max(32, L1_CACHE_BYTES), a statement expression. */
const unsigned int RUST_CONST_HELPER_RVHOST_NET_RX_PAD =
	NET_IP_ALIGN + (32 > L1_CACHE_BYTES ? 32 : L1_CACHE_BYTES);
const unsigned int RUST_CONST_HELPER_RVHOST_XDP_PACKET_HEADROOM = XDP_PACKET_HEADROOM;
const unsigned int RUST_CONST_HELPER_RVHOST_SMP_CACHE_BYTES = SMP_CACHE_BYTES;

/* __poll_t constants are casts, which bindgen does not evaluate either. */
RVHOST_CONST(EPOLLIN);
RVHOST_CONST(EPOLLOUT);
RVHOST_CONST(EPOLLERR);
RVHOST_CONST(EPOLLHUP);
RVHOST_CONST(EPOLLRDNORM);
RVHOST_CONST(EPOLLWRNORM);
