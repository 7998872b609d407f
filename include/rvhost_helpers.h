/* SPDX-License-Identifier: GPL-2.0 */
/*
 * C wrappers for static inline kernel functions that rvhost calls from Rust.
 * Defined in rust/helpers/, of which each module links its own copy.
 */
#ifndef RVHOST_HELPERS_H
#define RVHOST_HELPERS_H

#include <linux/compiler_types.h>
#include <linux/poll.h>
#include <linux/types.h>
#include <linux/wait.h>

struct eventfd_ctx;
struct iov_iter;
struct net;
struct sk_buff;
struct sk_buff_head;
struct sock;
struct virtio_vsock_hdr;
struct vsock_sock;
struct file;
struct page_frag_cache;
struct ptr_ring;
struct socket;
struct task_struct;
struct xdp_buff;

/* Backends of vhost-net (drivers/vhost/net.c). */
int rvhost_sock_check_raw_packet(struct socket *sock);
int rvhost_sock_peek_head_len(struct socket *sock);
bool rvhost_sock_rx_queue_empty(struct socket *sock);
struct socket *rvhost_tun_get_socket(struct file *file);
struct socket *rvhost_tap_get_socket(struct file *file);
struct ptr_ring *rvhost_tun_get_tx_ring(struct file *file);
struct ptr_ring *rvhost_tap_get_ptr_ring(struct file *file);
int rvhost_ptr_ring_consume_batched(struct ptr_ring *r, void **array, int n);
void rvhost_ptr_ring_unconsume(struct ptr_ring *r, void **batch, int n);
int rvhost_tun_ptr_peek_len(void *ptr);
void rvhost_tun_ptr_free(void *ptr);
bool rvhost_sock_sndbuf_unlimited(struct socket *sock);
bool rvhost_sock_xdp(struct socket *sock);
void rvhost_xdp_buff_prepare(struct xdp_buff *xdp, void *buf,
			     unsigned int buflen, int headroom, int data_len);
void rvhost_xdp_buff_put(struct xdp_buff *xdp);
/* Worker threads. */
void rvhost_set_current_running(void);
void rvhost_set_current_interruptible(void);
void rvhost_cond_resched(void);
struct task_struct *rvhost_kthread_create(int (*fn)(void *), void *data,
					  const char *name);
int rvhost_cgroup_attach_task_all(struct task_struct *from,
				  struct task_struct *to);
/* Polling a file from a wait queue callback (struct vhost_poll). */
void rvhost_init_poll_funcptr(poll_table *pt, poll_queue_proc qproc);
void rvhost_init_waitqueue_func_entry(struct wait_queue_entry *wq_entry,
				      wait_queue_func_t func);
__poll_t rvhost_vfs_poll(struct file *file, poll_table *pt);
void rvhost_eventfd_signal(struct eventfd_ctx *ctx);
unsigned long rvhost_clear_user(void __user *to, unsigned long n);
bool rvhost_access_ok(unsigned long addr, unsigned long size);
int rvhost_get_user_u16(unsigned long addr, u16 *val);
int rvhost_put_user_u16(unsigned long addr, u16 val);
/* Busy polling. */
unsigned long rvhost_busy_clock(void);
bool rvhost_can_busy_poll(unsigned long endtime);
void rvhost_migrate_disable(void);
void rvhost_migrate_enable(void);
/* vhost-vsock (rvhost_vsock.ko only: rust/helpers/vsock.c). */
struct net *rvhost_current_net_get(void);
void rvhost_put_net(struct net *net);
bool rvhost_vsock_net_check_mode(struct net *ns0, struct net *ns1);
struct net *rvhost_vsock_net(struct vsock_sock *vsk);
u32 rvhost_vsock_remote_cid(struct vsock_sock *vsk);
struct vsock_sock *rvhost_vsock_sk(struct sock *sk);
void rvhost_vsock_reset_orphan(struct sock *sk);
struct sk_buff *rvhost_vsock_alloc_skb(unsigned int size);
struct virtio_vsock_hdr *rvhost_vsock_hdr(struct sk_buff *skb);
unsigned int rvhost_skb_len(const struct sk_buff *skb);
bool rvhost_vsock_skb_reply(struct sk_buff *skb);
u32 rvhost_vsock_skb_offset(struct sk_buff *skb);
void rvhost_vsock_skb_set_offset(struct sk_buff *skb, u32 offset);
void rvhost_vsock_skb_clear_tap_delivered(struct sk_buff *skb);
void rvhost_vsock_skb_put(struct sk_buff *skb, u32 len);
void rvhost_kfree_skb(struct sk_buff *skb);
void rvhost_skb_queue_head_init(struct sk_buff_head *list);
struct sk_buff *rvhost_vsock_skb_dequeue(struct sk_buff_head *list);
void rvhost_vsock_skb_queue_head(struct sk_buff_head *list, struct sk_buff *skb);
void rvhost_vsock_skb_queue_tail(struct sk_buff_head *list, struct sk_buff *skb);
void rvhost_vsock_skb_queue_purge(struct sk_buff_head *list);
size_t rvhost_copy_to_iter(const void *addr, size_t bytes, struct iov_iter *i);
size_t rvhost_copy_from_iter(void *addr, size_t bytes, struct iov_iter *i);

#endif
