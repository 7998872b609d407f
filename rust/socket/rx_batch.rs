// SPDX-License-Identifier: GPL-2.0

//! The RX batch of tun and tap: packets taken from the file's `ptr_ring`
//! [`VHOST_NET_BATCH`] at a time instead of under the ring's lock one by one
//! (C's `vhost_net_buf`).
//!
//! C header: [`include/linux/ptr_ring.h`](srctree/include/linux/ptr_ring.h).

use super::{
    backend::{
        Kind,
        NetBackend, //
    },
    iov::{
        msghdr,
        UserIovec, //
    },
    VHOST_NET_BATCH,
};
use crate::rvhost::bindings as rb;
use core::ptr::{
    self,
    NonNull, //
};
use kernel::{
    bindings,
    ffi::{
        c_int,
        c_void, //
    },
    prelude::*,
};

/// C's `vhost_net_buf`: up to [`VHOST_NET_BATCH`] packets taken from a tun or
/// tap ptr_ring, handed to `recvmsg` one by one.
///
/// It is used with the RX virtqueue's backend under the virtqueue's lock:
/// [`RxBatch::peek_len`] and [`RxBatch::recv`] as `handle_rx()`, and
/// [`RxBatch::unproduce`] with the old backend before the backend changes or
/// stops (`vhost_net_buf_unproduce()`), which returns the packets to its
/// ring. Packets still held for another backend (a missed `unproduce`, or a
/// drop) are freed, never handed to the wrong socket.
///
/// # Invariants
///
/// `queue[head..tail]` are entries of the ring `from` (an sk_buff or, for
/// [`Kind::Tun`], a tagged `xdp_frame`) that this object owns; `from` is
/// `Some` when that range is not empty.
pub(crate) struct RxBatch {
    queue: [*mut c_void; VHOST_NET_BATCH],
    head: usize,
    tail: usize,
    from: Option<(NonNull<rb::ptr_ring>, Kind)>,
}

// SAFETY: The entries are sk_buffs and xdp_frames, which any thread may free or hand to a
// socket; the ring pointer is only an identity until compared to a live backend's ring.
unsafe impl Send for RxBatch {}
// SAFETY: `&RxBatch` only reads the indices.
unsafe impl Sync for RxBatch {}

impl Default for RxBatch {
    fn default() -> Self {
        Self::new()
    }
}

impl RxBatch {
    /// An empty batch (`vhost_net_buf_init()`).
    pub(crate) const fn new() -> Self {
        Self {
            queue: [ptr::null_mut(); VHOST_NET_BATCH],
            head: 0,
            tail: 0,
            from: None,
        }
    }

    /// Number of packets held.
    pub(crate) fn len(&self) -> usize {
        self.tail - self.head
    }

    /// Whether no packets are held.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.head == self.tail
    }

    /// The ring of `backend` and its kind, `None` for raw sockets.
    #[inline]
    fn source(backend: &NetBackend) -> Option<(NonNull<rb::ptr_ring>, Kind)> {
        backend.ring().map(|r| (r, backend.kind()))
    }

    /// Frees what is held if it is not from `backend`'s ring.
    #[inline]
    fn check_source(&mut self, backend: &NetBackend) {
        if !self.is_empty() && self.from != Self::source(backend) {
            self.free_all();
        }
    }

    fn free_all(&mut self) {
        for &p in &self.queue[self.head..self.tail] {
            // SAFETY: By the type invariants we own the entry; tun_ptr_free() frees both
            // kinds of entries.
            unsafe { rb::rvhost_tun_ptr_free(p) };
        }
        self.head = 0;
        self.tail = 0;
        self.from = None;
    }

    /// C's `peek_head_len()`: the length of the next packet `backend` will
    /// receive, 0 if none. For tun and tap it refills the batch from the ring
    /// when empty (`vhost_net_buf_peek()`).
    pub(crate) fn peek_len(&mut self, backend: &NetBackend) -> usize {
        self.check_source(backend);
        let Some(src) = Self::source(backend) else {
            return backend.peek_len();
        };
        if self.is_empty() {
            // vhost_net_buf_produce()
            // SAFETY: The ring is valid while `backend` is; the queue has room for
            // VHOST_NET_BATCH entries.
            let n = unsafe {
                rb::rvhost_ptr_ring_consume_batched(
                    src.0.as_ptr(),
                    self.queue.as_mut_ptr(),
                    VHOST_NET_BATCH as c_int,
                )
            };
            // INVARIANT: The consumed entries are ours now and came from `src`.
            self.head = 0;
            self.tail = n.clamp(0, VHOST_NET_BATCH as c_int) as usize;
            if self.tail == 0 {
                return 0;
            }
            self.from = Some(src);
        }
        // SAFETY: The head entry is a valid entry of a tun or tap ring, by the invariants.
        unsafe { rb::rvhost_tun_ptr_peek_len(self.queue[self.head]) }.max(0) as usize
    }

    /// `sock->ops->recvmsg()` of `handle_rx()`, of the packet
    /// [`RxBatch::peek_len`] measured: for tun and tap the batch's head entry
    /// is handed to the socket (C's `msg_control` of `handle_rx()`), which
    /// consumes it whatever the result.
    pub(crate) fn recv(
        &mut self,
        backend: &NetBackend,
        iov: &[UserIovec],
        len: usize,
    ) -> Result<usize> {
        let mut msg = msghdr(bindings::ITER_DEST, iov, len)?;
        self.check_source(backend);
        let mut p = ptr::null_mut();
        if !self.is_empty() {
            // vhost_net_buf_consume()
            p = self.queue[self.head];
            self.head += 1;
            if self.is_empty() {
                self.from = None;
            }
        }
        // SAFETY: `p` is null or an entry of `backend`'s ring that we owned and no longer
        // hold.
        unsafe { backend.recv_ptr(&mut msg, len, p) }
    }

    /// C's `vhost_net_buf_unproduce()`: returns the packets held to the ring of
    /// `backend`, which they were taken from (those that no longer fit, and
    /// any from another backend, are freed).
    pub(crate) fn unproduce(&mut self, backend: &NetBackend) {
        self.check_source(backend);
        if let Some((ring, _)) = self.from {
            // SAFETY: `ring` is `backend`'s ring, valid while it is; the entries are ours
            // and go back to (or are freed by) ptr_ring_unconsume().
            unsafe {
                rb::rvhost_ptr_ring_unconsume(
                    ring.as_ptr(),
                    self.queue.as_mut_ptr().add(self.head),
                    self.len() as c_int,
                )
            };
            self.head = 0;
            self.tail = 0;
            self.from = None;
        }
    }
}

impl Drop for RxBatch {
    fn drop(&mut self) {
        // The ring may be gone: free rather than unconsume.
        self.free_all();
    }
}
