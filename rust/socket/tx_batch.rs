// SPDX-License-Identifier: GPL-2.0

//! The TX batch of tun and tap: packets copied into page fragments and
//! handed to the file in one `sendmsg` with `TUN_MSG_PTR` (C's
//! `vhost_net_build_xdp()` and `vhost_tx_batch()`).
//!
//! C headers: [`include/linux/if_tun.h`](srctree/include/linux/if_tun.h),
//! [`include/net/xdp.h`](srctree/include/net/xdp.h).

use super::{
    backend::{
        sock_result,
        NetBackend, //
    },
    iov::{
        iov_iter,
        UserIovec, //
    },
    VHOST_NET_BATCH,
};
use crate::rvhost::bindings as rb;
use core::{
    mem::{
        size_of,
        MaybeUninit, //
    },
    ptr,
};
use kernel::{
    bindings,
    ffi::{
        c_int,
        c_uint, //
    },
    page::PAGE_SIZE,
    prelude::*,
};

/// A `struct virtio_net_hdr` as bytes, in the virtqueue's byte order.
pub(crate) type VirtioNetHdr = [u8; size_of::<rb::virtio_net_hdr>()];

// The header is in the pad when there is none in the packet.
const _: () = assert!(rb::RVHOST_NET_RX_PAD as usize > size_of::<VirtioNetHdr>());

/// `SKB_DATA_ALIGN()`.
const fn skb_data_align(x: usize) -> usize {
    let a = rb::RVHOST_SMP_CACHE_BYTES as usize;
    (x + a - 1) & !(a - 1)
}

/// C's batched TX for tun and tap: `vhost_net_build_xdp()` copies each
/// packet into a page fragment described by an `xdp_buff`, and
/// `vhost_tx_batch()` hands them all to the socket in one `sendmsg` with a
/// `TUN_MSG_PTR` control message. One per device, for the TX virtqueue
/// (C's `pf_cache` and `nvq->xdp`).
///
/// # Invariants
///
/// `xdp[..n]` are initialised `xdp_buff`s, each owning a page fragment
/// allocated from `pf`; `n <= VHOST_NET_BATCH`.
pub(crate) struct TxBatch {
    xdp: KBox<MaybeUninit<[rb::xdp_buff; VHOST_NET_BATCH]>>,
    n: usize,
    pf: bindings::page_frag_cache,
}

// SAFETY: The buffers are page fragments, which any thread may free or hand to a socket;
// the page_frag_cache is only used through `&mut self`.
unsafe impl Send for TxBatch {}
// SAFETY: `&TxBatch` gives access to nothing.
unsafe impl Sync for TxBatch {}

impl TxBatch {
    /// An empty batch (the allocations of `vhost_net_open()`).
    pub(crate) fn new() -> Result<Self> {
        Ok(Self {
            xdp: KBox::new_uninit(GFP_KERNEL)?,
            n: 0,
            // page_frag_cache_init()
            pf: bindings::page_frag_cache::default(),
        })
    }

    fn xdp_ptr(&mut self, i: usize) -> *mut rb::xdp_buff {
        // The array is never read as a whole, only through these pointers.
        self.xdp.as_mut_ptr().cast::<rb::xdp_buff>().wrapping_add(i)
    }

    /// C's `vhost_net_build_xdp()`: copies one packet, the first `len` bytes
    /// of `iov` of which the first `sock_hlen` (0, or at least
    /// [`VirtioNetHdr`]'s size) are the socket's virtio-net header, into the
    /// batch. `check_hdr` sees the header's `struct virtio_net_hdr` in the
    /// copy (all zeroes if `sock_hlen` is 0) before tun or tap do, and may
    /// change it or refuse the packet.
    ///
    /// Errors as C: `EFAULT` for `len < sock_hlen` or a failed copy, what
    /// `check_hdr` returns, `ENOMEM`; `ENOSPC` when the packet
    /// does not fit in a page (or the batch is full, see [`TxBatch::flush`]):
    /// send that one with [`NetBackend::sendmsg`]. `backend` must be tun or
    /// tap (`EINVAL` otherwise): nothing else takes `TUN_MSG_PTR`.
    pub(crate) fn add(
        &mut self,
        backend: &NetBackend,
        iov: &[UserIovec],
        len: usize,
        sock_hlen: usize,
        check_hdr: impl FnOnce(&mut VirtioNetHdr) -> Result,
    ) -> Result {
        if !backend.is_tun_or_tap() {
            return Err(EINVAL);
        }
        if self.n == VHOST_NET_BATCH {
            return Err(ENOSPC);
        }
        let mut iter = iov_iter(bindings::ITER_SOURCE, iov, len)?;
        if len < sock_hlen {
            return Err(EFAULT);
        }
        // Not reached from the driver: it knows no header this short.
        if sock_hlen != 0 && sock_hlen < size_of::<VirtioNetHdr>() {
            return Err(EINVAL);
        }
        let headroom = if backend.xdp() {
            rb::RVHOST_XDP_PACKET_HEADROOM as usize
        } else {
            0
        };
        let shinfo = rb::RVHOST_SKB_SHINFO_SIZE as usize;
        let pad = skb_data_align(rb::RVHOST_NET_RX_PAD as usize + headroom + sock_hlen);
        let data = len.checked_add(pad).ok_or(ENOSPC)?;
        if data > PAGE_SIZE || skb_data_align(data) + shinfo > PAGE_SIZE {
            return Err(ENOSPC);
        }
        let buflen = shinfo + skb_data_align(data);
        // `page_frag_alloc_align()`, an inline of `-align`.
        let align_mask = (rb::RVHOST_SMP_CACHE_BYTES as c_uint).wrapping_neg();
        const _: () = assert!(rb::RVHOST_SMP_CACHE_BYTES.is_power_of_two());
        // SAFETY: `pf` is a page_frag_cache only used here and in `drop`; the mask is that
        // of a power of two.
        let buf: *mut u8 = unsafe {
            bindings::__page_frag_alloc_align(
                &mut self.pf,
                buflen as c_uint,
                bindings::GFP_KERNEL,
                align_mask,
            )
        }
        .cast();
        if buf.is_null() {
            return Err(ENOMEM);
        }
        // `pad >= sock_hlen`, and the header and packet fit in `buflen`.
        let hdr = buf.wrapping_add(pad - sock_hlen);
        // SAFETY: `hdr..hdr + len` is inside the fragment; `iter` covers `len` bytes of
        // `iov`, which the call borrows.
        let copied = unsafe { bindings::_copy_from_iter(hdr.cast(), len, &mut iter) };
        let r = if copied != len {
            Err(EFAULT)
        } else {
            // SAFETY: `buf` is the fragment of `buflen` bytes, ours alone; `hdr` is at
            // `pad - sock_hlen` in it, `len >= sock_hlen` bytes were copied there.
            unsafe { Self::place_hdr(buf, pad, sock_hlen, check_hdr) }
        };
        if let Err(e) = r {
            // SAFETY: `buf` was allocated above from a page_frag_cache and is not used
            // anywhere else.
            unsafe { bindings::page_frag_free(buf.cast()) };
            return Err(e);
        }
        let xdp = self.xdp_ptr(self.n);
        // SAFETY: `xdp` is an entry of the array, `buf` the fragment of `buflen` bytes
        // whose packet data starts at `pad` and is `len - sock_hlen` long.
        unsafe {
            rb::rvhost_xdp_buff_prepare(
                xdp,
                buf.cast(),
                buflen as c_uint,
                pad as c_int,
                (len - sock_hlen) as c_int,
            )
        };
        // INVARIANT: Entry `n` is initialised and owns `buf`.
        self.n += 1;
        Ok(())
    }

    /// The virtio-net header of `vhost_net_build_xdp()`: handed to
    /// `check_hdr` where it was copied (or, without one, zeroes at the
    /// start of the buffer), then moved to the start of the buffer, where
    /// tun and tap read it.
    ///
    /// # Safety
    ///
    /// `buf` points to a buffer, writable and not accessed concurrently, of
    /// `pad` bytes whose last `sock_hlen` are initialised, and more after
    /// them; `sock_hlen` is 0 or at least the size of [`VirtioNetHdr`], and
    /// `pad` greater than that size.
    unsafe fn place_hdr(
        buf: *mut u8,
        pad: usize,
        sock_hlen: usize,
        check_hdr: impl FnOnce(&mut VirtioNetHdr) -> Result,
    ) -> Result {
        let gso = if sock_hlen == 0 {
            // SAFETY: The first `pad` bytes are ours.
            unsafe { ptr::write_bytes(buf, 0, pad) };
            buf
        } else {
            buf.wrapping_add(pad - sock_hlen)
        };
        // SAFETY: `gso` is `buf`, whose first `pad > size_of::<VirtioNetHdr>()` bytes were
        // just zeroed, or the copied header of `sock_hlen >= size_of::<VirtioNetHdr>()`
        // initialised bytes; they are ours, and no other reference to them exists while this
        // one lives. The alignment of bytes is 1.
        check_hdr(unsafe { &mut *gso.cast::<VirtioNetHdr>() })?;
        // "pad contains sock_hlen"
        // SAFETY: Both ranges are in the buffer; `ptr::copy` allows overlap.
        unsafe { ptr::copy(gso, buf, sock_hlen) };
        Ok(())
    }

    /// C's `vhost_tx_batch()` send: hands the batch to `backend` in one
    /// `sendmsg` with `TUN_MSG_PTR`, and is empty afterwards. On an error
    /// (tun: `EBADFD`, detached) the packets are freed, as C does. Call it
    /// when the batch is full ([`TxBatch::add`] answers `ENOSPC` with
    /// [`VHOST_NET_BATCH`] packets held) and when TX stops.
    pub(crate) fn flush(&mut self, backend: &NetBackend) -> Result {
        if self.n == 0 {
            return Ok(());
        }
        let n = self.n;
        let r = if backend.is_tun_or_tap() {
            let mut ctl = rb::tun_msg_ctl {
                type_: rb::TUN_MSG_PTR as u16,
                num: n as u16,
                ptr: self.xdp_ptr(0).cast(),
            };
            let mut msg = bindings::msghdr::default();
            msg.msg_flags = bindings::MSG_DONTWAIT;
            msg.__bindgen_anon_1.msg_control = (&raw mut ctl).cast();
            msg.msg_controllen = size_of::<rb::tun_msg_ctl>();
            let sendmsg = backend.ops().sendmsg.ok_or(EINVAL)?;
            // SAFETY: `backend.sock()` is valid while `backend` is; it is tun or tap, whose sendmsg
            // reads `ctl` and takes over the `n` initialised `xdp_buff`s' fragments; the array
            // outlives the call.
            sock_result(unsafe { sendmsg(backend.sock(), &mut msg, 0) }).map(|_| ())
        } else {
            Err(EINVAL)
        };
        if r.is_err() {
            self.put_all();
        }
        // INVARIANT: The socket took the fragments, or `put_all()` freed them.
        self.n = 0;
        r
    }

    fn put_all(&mut self) {
        for i in 0..self.n {
            // SAFETY: Entry `i < n` is initialised and owns its fragment.
            unsafe { rb::rvhost_xdp_buff_put(self.xdp_ptr(i)) };
        }
        self.n = 0;
    }
}

impl Drop for TxBatch {
    fn drop(&mut self) {
        self.put_all();
        // SAFETY: No fragment of the cache is ours any more; the cache is not used again.
        unsafe { bindings::page_frag_cache_drain(&mut self.pf) };
    }
}
