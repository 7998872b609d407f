// SPDX-License-Identifier: GPL-2.0

//! The backends of vhost-net: raw packet sockets, tun/tap and macvtap.
//!
//! - [`backend`]: the socket `VHOST_NET_SET_BACKEND` binds to a virtqueue
//!   (`get_socket()` of drivers/vhost/net.c), and its `sendmsg`/`recvmsg`,
//!   the calls of `handle_tx_copy()` and `handle_rx()`.
//! - [`iov`]: the arrays of user buffers those calls take.
//! - [`rx_batch`]: C's `vhost_net_buf`: tun and tap queue packets in a
//!   `ptr_ring`, which RX drains 64 entries at a time instead of taking the
//!   ring's lock per packet.
//! - [`tx_batch`]: the other direction: up to 64 packets copied into page
//!   fragments and handed to tun or tap in one `sendmsg` (`TUN_MSG_PTR`).

pub(crate) mod backend;
pub(crate) mod iov;
pub(crate) mod rx_batch;
pub(crate) mod tx_batch;

/// `VHOST_NET_BATCH`: entries taken from a ptr_ring at a time.
pub(crate) const VHOST_NET_BATCH: usize = 64;
