// SPDX-License-Identifier: GPL-2.0

#include <linux/if_packet.h>
#include <linux/if_tap.h>
#include <linux/if_tun.h>
#include <linux/if_vlan.h>
#include <linux/net.h>
#include <linux/page_frag_cache.h>
#include <linux/ptr_ring.h>
#include <linux/skb_array.h>
#include <net/sock.h>
#include <net/xdp.h>

#include "rvhost_helpers.h"

/* The checks of get_raw_socket() in drivers/vhost/net.c, in its order. */
int rvhost_sock_check_raw_packet(struct socket *sock)
{
	if (sock->sk->sk_type != SOCK_RAW)
		return -ESOCKTNOSUPPORT;
	if (sock->sk->sk_family != AF_PACKET)
		return -EPFNOSUPPORT;
	return 0;
}

/* peek_head_len() of drivers/vhost/net.c for a socket without a ptr_ring. */
int rvhost_sock_peek_head_len(struct socket *sock)
{
	struct sock *sk = sock->sk;
	struct sk_buff *head;
	unsigned long flags;
	int len = 0;

	spin_lock_irqsave(&sk->sk_receive_queue.lock, flags);
	head = skb_peek(&sk->sk_receive_queue);
	if (likely(head)) {
		len = head->len;
		if (skb_vlan_tag_present(head))
			len += VLAN_HLEN;
	}
	spin_unlock_irqrestore(&sk->sk_receive_queue.lock, flags);
	return len;
}

bool rvhost_sock_rx_queue_empty(struct socket *sock)
{
	return skb_queue_empty(&sock->sk->sk_receive_queue);
}

/*
 * tun and tap may be configured out, when these are inline stubs that fail
 * (drivers/vhost/net.c calls them the same way).
 */
struct socket *rvhost_tun_get_socket(struct file *file)
{
	return tun_get_socket(file);
}

struct socket *rvhost_tap_get_socket(struct file *file)
{
	return tap_get_socket(file);
}

struct ptr_ring *rvhost_tun_get_tx_ring(struct file *file)
{
	return tun_get_tx_ring(file);
}

struct ptr_ring *rvhost_tap_get_ptr_ring(struct file *file)
{
	return tap_get_ptr_ring(file);
}

int rvhost_ptr_ring_consume_batched(struct ptr_ring *r, void **array, int n)
{
	return ptr_ring_consume_batched(r, array, n);
}

/* vhost_net_buf_unproduce(): what does not fit is freed as tun does. */
void rvhost_ptr_ring_unconsume(struct ptr_ring *r, void **batch, int n)
{
	ptr_ring_unconsume(r, batch, n, tun_ptr_free);
}

/* vhost_net_buf_peek_len(): an entry of a tun or tap ptr_ring. */
int rvhost_tun_ptr_peek_len(void *ptr)
{
	if (tun_is_xdp_frame(ptr)) {
		struct xdp_frame *xdpf = tun_ptr_to_xdp(ptr);

		return xdpf->len;
	}

	return __skb_array_len_with_tag(ptr);
}

void rvhost_tun_ptr_free(void *ptr)
{
	tun_ptr_free(ptr);
}

/* sock_can_batch of handle_tx_copy(): tun and tap default to INT_MAX. */
bool rvhost_sock_sndbuf_unlimited(struct socket *sock)
{
	return sock->sk->sk_sndbuf == INT_MAX;
}

/* vhost_sock_xdp(): tun with an XDP program wants XDP_PACKET_HEADROOM. */
bool rvhost_sock_xdp(struct socket *sock)
{
	return sock_flag(sock->sk, SOCK_XDP);
}

/* vhost_net_build_xdp()'s xdp_init_buff() and xdp_prepare_buff(). */
void rvhost_xdp_buff_prepare(struct xdp_buff *xdp, void *buf,
			     unsigned int buflen, int headroom, int data_len)
{
	xdp_init_buff(xdp, buflen, NULL);
	xdp_prepare_buff(xdp, buf, headroom, data_len, true);
}

/* vhost_tx_batch()'s error path: the buffer is a page fragment. */
void rvhost_xdp_buff_put(struct xdp_buff *xdp)
{
	put_page(virt_to_head_page(xdp->data));
}
