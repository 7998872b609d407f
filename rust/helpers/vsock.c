// SPDX-License-Identifier: GPL-2.0
/* vhost-vsock: sk_buffs of the virtio-vsock transport, and sockets. */

#include <linux/nsproxy.h>
#include <linux/sched.h>
#include <linux/virtio_vsock.h>
#include <net/af_vsock.h>
#include <net/net_namespace.h>
#include <net/sock.h>

struct net *rvhost_current_net_get(void)
{
	return get_net(current->nsproxy->net_ns);
}

void rvhost_put_net(struct net *net)
{
	put_net(net);
}

bool rvhost_vsock_net_check_mode(struct net *ns0, struct net *ns1)
{
	return vsock_net_check_mode(ns0, ns1);
}

struct net *rvhost_vsock_net(struct vsock_sock *vsk)
{
	return sock_net(sk_vsock(vsk));
}

u32 rvhost_vsock_remote_cid(struct vsock_sock *vsk)
{
	return vsk->remote_addr.svm_cid;
}

struct vsock_sock *rvhost_vsock_sk(struct sock *sk)
{
	return vsock_sk(sk);
}

/*
 * vhost_vsock_reset_orphans() once the peer is known to be gone: unless
 * the close timeout is pending (it resets the socket itself), the socket
 * is reset. Called under vsock_table_lock, which keeps the socket alive.
 */
void rvhost_vsock_reset_orphan(struct sock *sk)
{
	struct vsock_sock *vsk = vsock_sk(sk);

	if (vsk->close_work_scheduled)
		return;

	sock_set_flag(sk, SOCK_DONE);
	vsk->peer_shutdown = SHUTDOWN_MASK;
	sk->sk_state = SS_UNCONNECTED;
	sk->sk_err = ECONNRESET;
	sk_error_report(sk);
}

struct sk_buff *rvhost_vsock_alloc_skb(unsigned int size)
{
	return virtio_vsock_alloc_skb(size, GFP_KERNEL);
}

struct virtio_vsock_hdr *rvhost_vsock_hdr(struct sk_buff *skb)
{
	return virtio_vsock_hdr(skb);
}

unsigned int rvhost_skb_len(const struct sk_buff *skb)
{
	return skb->len;
}

bool rvhost_vsock_skb_reply(struct sk_buff *skb)
{
	return virtio_vsock_skb_reply(skb);
}

u32 rvhost_vsock_skb_offset(struct sk_buff *skb)
{
	return VIRTIO_VSOCK_SKB_CB(skb)->offset;
}

void rvhost_vsock_skb_set_offset(struct sk_buff *skb, u32 offset)
{
	VIRTIO_VSOCK_SKB_CB(skb)->offset = offset;
}

void rvhost_vsock_skb_clear_tap_delivered(struct sk_buff *skb)
{
	virtio_vsock_skb_clear_tap_delivered(skb);
}

void rvhost_vsock_skb_put(struct sk_buff *skb, u32 len)
{
	virtio_vsock_skb_put(skb, len);
}

void rvhost_kfree_skb(struct sk_buff *skb)
{
	kfree_skb(skb);
}

void rvhost_skb_queue_head_init(struct sk_buff_head *list)
{
	skb_queue_head_init(list);
}

struct sk_buff *rvhost_vsock_skb_dequeue(struct sk_buff_head *list)
{
	return virtio_vsock_skb_dequeue(list);
}

void rvhost_vsock_skb_queue_head(struct sk_buff_head *list, struct sk_buff *skb)
{
	virtio_vsock_skb_queue_head(list, skb);
}

void rvhost_vsock_skb_queue_tail(struct sk_buff_head *list, struct sk_buff *skb)
{
	virtio_vsock_skb_queue_tail(list, skb);
}

void rvhost_vsock_skb_queue_purge(struct sk_buff_head *list)
{
	virtio_vsock_skb_queue_purge(list);
}

size_t rvhost_copy_to_iter(const void *addr, size_t bytes, struct iov_iter *i)
{
	return copy_to_iter(addr, bytes, i);
}

size_t rvhost_copy_from_iter(void *addr, size_t bytes, struct iov_iter *i)
{
	return copy_from_iter(addr, bytes, i);
}
