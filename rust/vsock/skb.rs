// SPDX-License-Identifier: GPL-2.0

//! The packets of the virtio-vsock transport: socket buffers whose
//! `struct virtio_vsock_hdr` sits at `skb->head`, before the payload, and
//! the queues they wait in.
//!
//! C header: [`include/linux/virtio_vsock.h`](srctree/include/linux/virtio_vsock.h).

use super::{
    iov_iter::IovIter,
    netns::NetRef,
    transport::Transport, //
};
use crate::rvhost::bindings as rb;
use core::{
    mem::ManuallyDrop,
    ptr::NonNull, //
};
use kernel::{
    bindings,
    ffi::c_void,
    prelude::*,
    types::Opaque, //
};

/// Bytes of the header (`VIRTIO_VSOCK_SKB_HEADROOM`).
pub(crate) const HDR_SIZE: usize = core::mem::size_of::<rb::virtio_vsock_hdr>();

/// A packet of the virtio-vsock transport, owned.
///
/// # Invariants
///
/// `ptr` is a valid socket buffer of the virtio-vsock transport (its header
/// at `head`, its control block a `struct virtio_vsock_skb_cb`), owned by
/// this object: freed in [`Drop`] unless given away.
pub(crate) struct Skb {
    ptr: NonNull<bindings::sk_buff>,
}

// SAFETY: An owned socket buffer may be used and freed on any thread.
unsafe impl Send for Skb {}

impl Skb {
    /// A packet for the vsock core (`virtio_vsock_alloc_skb()`): the header
    /// `hdr` and `payload` bytes read from `iter`, in a buffer made for
    /// exactly them.
    pub(crate) fn alloc_from(
        hdr: &[u8; HDR_SIZE],
        iter: &mut IovIter<'_>,
        payload: usize,
    ) -> Result<Self> {
        let len = i32::try_from(payload).map_err(|_| EINVAL)?;
        let size = u32::try_from(HDR_SIZE + payload).map_err(|_| EINVAL)?;
        // SAFETY: Allocates a new buffer, or returns null; may sleep (process context).
        let ptr = NonNull::new(unsafe { rb::rvhost_vsock_alloc_skb(size) }).ok_or(ENOMEM)?;
        // INVARIANT: A new transport buffer, which we own.
        let mut skb = Self { ptr };
        skb.set_hdr(hdr);
        if len != 0 {
            // SAFETY: The buffer is ours and empty, made with room for
            // `payload` bytes after the header.
            unsafe { rb::rvhost_vsock_skb_put(skb.as_ptr(), len as u32) };
            // SAFETY: The buffer holds `payload` bytes from offset 0; `iter`
            // is valid.
            let r = unsafe {
                bindings::skb_copy_datagram_from_iter(skb.as_ptr(), 0, iter.as_raw(), len)
            };
            if r != 0 {
                return Err(EFAULT);
            }
        }
        Ok(skb)
    }

    /// A packet the vsock core hands over.
    ///
    /// # Safety
    ///
    /// `ptr` is a valid socket buffer of the virtio-vsock transport, whose
    /// ownership passes to the returned object.
    pub(crate) unsafe fn from_raw(ptr: *mut bindings::sk_buff) -> Self {
        // INVARIANT: By the safety requirements.
        Self {
            // SAFETY: By the safety requirements, `ptr` is valid, so not null.
            ptr: unsafe { NonNull::new_unchecked(ptr) },
        }
    }

    /// Gives the buffer away (to a queue or to the vsock core).
    fn into_raw(self) -> *mut bindings::sk_buff {
        ManuallyDrop::new(self).ptr.as_ptr()
    }

    fn as_ptr(&self) -> *mut bindings::sk_buff {
        self.ptr.as_ptr()
    }

    /// The header, as the wire has it.
    pub(crate) fn hdr(&self) -> [u8; HDR_SIZE] {
        let mut b = [0u8; HDR_SIZE];
        // SAFETY: By the type invariant the header, `HDR_SIZE` bytes, is at the head of
        // the buffer, which we own; `b` is a separate array.
        unsafe {
            let hdr = rb::rvhost_vsock_hdr(self.as_ptr());
            core::ptr::copy_nonoverlapping(hdr.cast::<u8>(), b.as_mut_ptr(), HDR_SIZE)
        };
        b
    }

    /// Replaces the header.
    pub(crate) fn set_hdr(&mut self, b: &[u8; HDR_SIZE]) {
        // SAFETY: As in `hdr()`, and `&mut self` makes us the only user.
        unsafe {
            let hdr = rb::rvhost_vsock_hdr(self.as_ptr());
            core::ptr::copy_nonoverlapping(b.as_ptr(), hdr.cast::<u8>(), HDR_SIZE)
        };
    }

    /// Payload bytes (`skb->len`).
    pub(crate) fn len(&self) -> usize {
        // SAFETY: The buffer is valid by the type invariant.
        unsafe { rb::rvhost_skb_len(self.as_ptr()) as usize }
    }

    /// Payload bytes already sent to the guest (`VIRTIO_VSOCK_SKB_CB(skb)->offset`).
    pub(crate) fn offset(&self) -> usize {
        // SAFETY: The buffer is valid and its control block the transport's.
        unsafe { rb::rvhost_vsock_skb_offset(self.as_ptr()) as usize }
    }

    pub(crate) fn set_offset(&mut self, offset: usize) {
        // Offsets are at most `len()`, a u32.
        let offset = u32::try_from(offset).unwrap_or(u32::MAX);
        // SAFETY: As in `offset()`; we own the buffer.
        unsafe { rb::rvhost_vsock_skb_set_offset(self.as_ptr(), offset) };
    }

    /// Whether the packet answers one of the guest's (`virtio_vsock_skb_reply()`).
    pub(crate) fn is_reply(&self) -> bool {
        // SAFETY: As in `offset()`.
        unsafe { rb::rvhost_vsock_skb_reply(self.as_ptr()) }
    }

    /// The rest of a split packet goes to monitoring taps again.
    pub(crate) fn clear_tap_delivered(&mut self) {
        // SAFETY: As in `set_offset()`.
        unsafe { rb::rvhost_vsock_skb_clear_tap_delivered(self.as_ptr()) };
    }

    /// Shows the packet to vsock monitoring devices (`virtio_transport_deliver_tap_pkt()`).
    pub(crate) fn deliver_tap(&self) {
        // SAFETY: The buffer is valid; the tap copies what it needs.
        unsafe { rb::virtio_transport_deliver_tap_pkt(self.as_ptr()) };
    }

    /// Copies `len` payload bytes from `offset` into `iter`.
    pub(crate) fn copy_payload(&self, offset: usize, iter: &mut IovIter<'_>, len: usize) -> Result {
        if offset.checked_add(len).is_none_or(|end| end > self.len()) {
            return Err(EINVAL);
        }
        // SAFETY: The range is inside the payload (checked above); `iter` is valid.
        let r = unsafe {
            bindings::skb_copy_datagram_iter(
                self.as_ptr(),
                offset as i32,
                iter.as_raw(),
                len as i32,
            )
        };
        if r != 0 {
            return Err(EFAULT);
        }
        Ok(())
    }

    /// The packet went to the guest: the sender's socket hears of it
    /// (`virtio_transport_consume_skb_sent()`), and the buffer is freed.
    pub(crate) fn consume_sent(self) {
        // SAFETY: We own the buffer, and give it to the call, which frees it.
        unsafe { rb::virtio_transport_consume_skb_sent(self.into_raw(), true) };
    }

    /// Gives the packet to the vsock core as received on `transport` in
    /// `net` (`virtio_transport_recv_pkt()`). Dropped if the transport was
    /// never registered.
    pub(crate) fn receive(self, transport: &Transport, net: NetRef<'_>) {
        let Some(t) = transport.registered() else {
            return;
        };
        // SAFETY: `t` is an initialised transport; the call takes ownership of the buffer.
        unsafe { rb::virtio_transport_recv_pkt(t, self.into_raw(), net.as_ptr()) };
    }
}

impl Drop for Skb {
    fn drop(&mut self) {
        // SAFETY: We own the buffer by the type invariant.
        unsafe { rb::rvhost_kfree_skb(self.as_ptr()) };
    }
}

/// A vsock socket the core passed in, valid for the call.
#[derive(Clone, Copy)]
pub(crate) struct VsockRef<'a> {
    ptr: *mut rb::vsock_sock,
    _p: core::marker::PhantomData<&'a rb::vsock_sock>,
}

impl<'a> VsockRef<'a> {
    /// # Safety
    ///
    /// `ptr` is a vsock socket that stays valid for `'a`.
    pub(crate) unsafe fn from_raw(ptr: *mut rb::vsock_sock) -> Self {
        Self {
            ptr,
            _p: core::marker::PhantomData,
        }
    }

    /// The CID of the socket's peer (`vsk->remote_addr.svm_cid`).
    pub(crate) fn remote_cid(self) -> u32 {
        // SAFETY: The socket is valid by the type invariant.
        unsafe { rb::rvhost_vsock_remote_cid(self.ptr) }
    }

    /// The socket's namespace.
    pub(crate) fn net(self) -> NetRef<'a> {
        // SAFETY: The socket is valid for `'a`, and so is its namespace.
        unsafe { NetRef::from_raw(rb::rvhost_vsock_net(self.ptr)) }
    }
}

/// A queue of packets (`struct sk_buff_head`, with its own lock).
#[pin_data(PinnedDrop)]
pub(crate) struct SkbQueue {
    #[pin]
    head: Opaque<bindings::sk_buff_head>,
}

// SAFETY: The queue's operations take its lock; the packets are owned by it.
unsafe impl Send for SkbQueue {}
// SAFETY: See above.
unsafe impl Sync for SkbQueue {}

impl SkbQueue {
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            // SAFETY: `skb_queue_head_init()` initialises the head in place.
            head <- Opaque::ffi_init(|p| unsafe { rb::rvhost_skb_queue_head_init(p) }),
        })
    }

    fn raw(&self) -> *mut bindings::sk_buff_head {
        self.head.get()
    }

    /// Queues `skb` last.
    pub(crate) fn push_back(&self, skb: Skb) {
        // SAFETY: The head is initialised and pinned; the queue takes the buffer.
        unsafe { rb::rvhost_vsock_skb_queue_tail(self.raw(), skb.into_raw()) };
    }

    /// Queues `skb` first (the rest of a packet, or one the guest had no
    /// buffer for).
    pub(crate) fn push_front(&self, skb: Skb) {
        // SAFETY: As in `push_back()`.
        unsafe { rb::rvhost_vsock_skb_queue_head(self.raw(), skb.into_raw()) };
    }

    /// Takes the first packet.
    pub(crate) fn pop_front(&self) -> Option<Skb> {
        // SAFETY: The head is initialised; a dequeued buffer belongs to the caller.
        let p = unsafe { rb::rvhost_vsock_skb_dequeue(self.raw()) };
        // SAFETY: Buffers in this queue are transport buffers it owned.
        (!p.is_null()).then(|| unsafe { Skb::from_raw(p) })
    }

    /// Frees every packet.
    pub(crate) fn purge(&self) {
        // SAFETY: The head is initialised.
        unsafe { rb::rvhost_vsock_skb_queue_purge(self.raw()) };
    }

    /// Frees the packets of `vsk` (`virtio_transport_purge_skbs()`);
    /// returns how many were replies.
    pub(crate) fn purge_sock(&self, vsk: VsockRef<'_>) -> usize {
        // SAFETY: The socket is valid for the call; the head is initialised.
        let n = unsafe { rb::virtio_transport_purge_skbs(vsk.ptr.cast::<c_void>(), self.raw()) };
        usize::try_from(n).unwrap_or(0)
    }
}

#[pinned_drop]
impl PinnedDrop for SkbQueue {
    fn drop(self: Pin<&mut Self>) {
        self.purge();
    }
}
