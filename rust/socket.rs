// SPDX-License-Identifier: GPL-2.0

//! The backends of vhost-net: raw packet sockets, tun/tap and macvtap.
//!
//! [`NetBackend`] is what `VHOST_NET_SET_BACKEND` binds to a virtqueue
//! (`get_socket()` of drivers/vhost/net.c); its `sendmsg`/`recvmsg` are the
//! calls of `handle_tx_copy()` and `handle_rx()`. [`RxBatch`] is C's
//! `vhost_net_buf`: tun and tap queue packets in a `ptr_ring`, which RX
//! drains 64 entries at a time instead of taking the ring's lock per packet.
//! [`TxBatch`] is the other direction: up to 64 packets copied into page
//! fragments and handed to tun or tap in one `sendmsg` (`TUN_MSG_PTR`).
//!
//! C headers: [`include/linux/net.h`](srctree/include/linux/net.h),
//! [`include/linux/if_tun.h`](srctree/include/linux/if_tun.h),
//! [`include/linux/if_tap.h`](srctree/include/linux/if_tap.h),
//! [`include/linux/ptr_ring.h`](srctree/include/linux/ptr_ring.h).

use crate::rvhost::bindings as rb;
use core::{
    mem::{
        offset_of,
        size_of,
        MaybeUninit, //
    },
    ptr::{
        self,
        NonNull, //
    },
};
use kernel::{
    bindings,
    error::{
        from_err_ptr,
        to_result, //
    },
    ffi::{
        c_int,
        c_uint,
        c_ulong,
        c_void, //
    },
    fs::{
        File,
        LocalFile, //
    },
    page::PAGE_SIZE,
    prelude::*,
    sync::aref::ARef,
};

/// `VHOST_NET_BATCH`: entries taken from a ptr_ring at a time.
pub(crate) const VHOST_NET_BATCH: usize = 64;

/// `ENOTSOCK`, what `VHOST_NET_SET_BACKEND` answers for any unusable fd.
fn enotsock() -> Error {
    Error::from_errno(-(bindings::ENOTSOCK as i32))
}

/// One user buffer, laid out as `struct iovec`.
///
/// The addresses are user virtual addresses of the process whose memory the
/// caller runs in; nothing is checked until the socket copies (which checks
/// `access_ok()` and handles faults), as with C's `vq->iov`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct UserIovec {
    /// Start of the buffer (`iov_base`).
    pub base: usize,
    /// Length of the buffer in bytes (`iov_len`).
    pub len: usize,
}

const _: () = {
    assert!(size_of::<UserIovec>() == size_of::<bindings::iovec>());
    assert!(offset_of!(UserIovec, base) == offset_of!(bindings::iovec, iov_base));
    assert!(offset_of!(UserIovec, len) == offset_of!(bindings::iovec, iov_len));
    assert!(size_of::<usize>() == size_of::<*mut c_void>());
};

/// A `struct msghdr` whose iterator covers the first `len` bytes of `iov`.
///
/// Fails with `EINVAL` if `iov` holds fewer than `len` bytes: the iterator
/// would walk off the array.
fn msghdr(direction: u32, iov: &[UserIovec], len: usize) -> Result<bindings::msghdr> {
    let mut need = len;
    for v in iov {
        if need <= v.len {
            need = 0;
            break;
        }
        need -= v.len;
    }
    if need != 0 {
        return Err(EINVAL);
    }
    let mut msg = bindings::msghdr::default();
    // SAFETY: `msg_iter` is writable; `iov` has the layout of `iov.len()` `struct iovec`s
    // and holds at least `len` bytes. The iterator points into `iov`, so `msg` must not be
    // used after `iov`'s borrow ends: the callers pass it to the socket and drop it.
    unsafe {
        bindings::iov_iter_init(
            &mut msg.msg_iter,
            direction,
            iov.as_ptr().cast(),
            iov.len() as c_ulong,
            len,
        )
    };
    Ok(msg)
}

/// Turns a `sendmsg`/`recvmsg` result into a length or an error.
fn sock_result(r: c_int) -> Result<usize> {
    to_result(r).map(|()| r as usize)
}

/// What kind of file a [`NetBackend`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// An `AF_PACKET`, `SOCK_RAW` socket.
    Raw,
    /// A tun/tap file (`/dev/net/tun`).
    Tun,
    /// A macvtap/ipvtap file (`/dev/tapN`).
    Tap,
}

/// A vhost-net backend: the socket of a raw packet socket, tun/tap or
/// macvtap file, and a reference to that file.
///
/// Drop it from process context (the ioctl, as C's `sockfd_put()`): the last
/// `fput()` from the worker would wait for the worker's exit.
///
/// # Invariants
///
/// - `sock` is the socket of `file` (`sock->file == file`), valid while `file`
///   is; its `ops` have `sendmsg` and `recvmsg`.
/// - `ring` is null for [`Kind::Raw`]; otherwise it is the file's ptr_ring
///   (`tun_get_tx_ring()` or `tap_get_ptr_ring()`), valid while `file` is,
///   whose entries are sk_buffs or, for tun, tagged `xdp_frame`s.
pub(crate) struct NetBackend {
    file: ARef<File>,
    sock: NonNull<bindings::socket>,
    ring: *mut rb::ptr_ring,
    kind: Kind,
}

// SAFETY: The file may be used from any thread, and the socket operations called here take
// the socket's own locks: C's handle_tx() and handle_rx() call them from the vhost worker and
// other threads concurrently.
unsafe impl Send for NetBackend {}
// SAFETY: All methods take `&self` and only call the socket's operations, see `Send`.
unsafe impl Sync for NetBackend {}

impl NetBackend {
    /// C's `get_socket()`: `Ok(None)` for fd -1 (unbind), the backend for a raw
    /// `AF_PACKET` socket, a tun/tap or a macvtap file, `ENOTSOCK` for anything
    /// else, a bad fd included.
    pub(crate) fn from_fd(fd: i32) -> Result<Option<NetBackend>> {
        if fd == -1 {
            return Ok(None);
        }
        // get_socket() replaces whatever get_raw_socket() and get_tap_socket() fail with.
        Self::get(fd).map(Some).map_err(|_| enotsock())
    }

    fn get(fd: i32) -> Result<NetBackend> {
        // A negative fd is no open file, as for fget() in C.
        let file = LocalFile::fget(fd as u32)?;
        let fp = file.as_ptr();
        // get_raw_socket(), then get_tap_socket(); a socket is never tun or tap.
        // SAFETY: `fp` is a valid file, we hold a reference.
        let raw = unsafe { bindings::sock_from_file(fp) };
        let (sock, kind) = if !raw.is_null() {
            // SAFETY: `raw` is the socket of the open file `fp`.
            to_result(unsafe { rb::rvhost_sock_check_raw_packet(raw) })?;
            (raw, Kind::Raw)
        } else {
            // SAFETY: `fp` is a valid file; tun_get_socket() checks its `f_op`.
            let tun = unsafe { rb::rvhost_tun_get_socket(fp) };
            if let Ok(s) = from_err_ptr(tun) {
                (s, Kind::Tun)
            } else {
                // SAFETY: As above, for tap_get_socket().
                let tap = unsafe { rb::rvhost_tap_get_socket(fp) };
                (from_err_ptr(tap)?, Kind::Tap)
            }
        };
        let sock = NonNull::new(sock).ok_or_else(enotsock)?;
        // SAFETY: `sock` is valid while the file is: it is the file's private data or part
        // of it. `file` and `ops` are set when it is created.
        let (sfile, ops) = unsafe { ((*sock.as_ptr()).file, (*sock.as_ptr()).ops) };
        // SAFETY: A socket's `ops` are static.
        let ops = unsafe { ops.as_ref() }.ok_or_else(enotsock)?;
        if sfile != fp || ops.sendmsg.is_none() || ops.recvmsg.is_none() {
            return Err(enotsock());
        }
        // get_tap_ptr_ring(), which vhost_net_set_backend() calls for RX.
        let ring = if kind == Kind::Raw {
            ptr::null_mut()
        } else {
            // SAFETY: `fp` is a valid file; both check its `f_op`.
            from_err_ptr(unsafe { rb::rvhost_tun_get_tx_ring(fp) })
                .or_else(|_| from_err_ptr(unsafe { rb::rvhost_tap_get_ptr_ring(fp) }))
                .unwrap_or(ptr::null_mut())
        };
        // SAFETY: The current thread is in an ioctl, not in a read, write or seek of this
        // file (the vhost device's own `read_iter`/`write_iter` are the only entry points
        // under fdget_pos(), and that file is none of the three kinds). Sockets and tun/tap
        // files have no FMODE_ATOMIC_POS anyway, so fdget_pos() never skips their lock.
        let file = unsafe { LocalFile::assume_no_fdget_pos(file) };
        // INVARIANT: `sock->file` is `file`, checked above with its ops; `ring` is the
        // file's ring for tun and tap, null for raw sockets.
        Ok(NetBackend {
            file,
            sock,
            ring,
            kind,
        })
    }

    /// The backend's file, which the caller polls (`vhost_poll_start()`).
    pub(crate) fn file(&self) -> &File {
        &self.file
    }

    /// Whether both are the same socket (C compares `struct socket *`).
    pub(crate) fn same_as(&self, other: &NetBackend) -> bool {
        self.sock == other.sock
    }

    /// The kind of file.
    pub(crate) fn kind(&self) -> Kind {
        self.kind
    }

    /// Whether this is a tun/tap or macvtap file (it has a ptr_ring).
    pub(crate) fn is_tun_or_tap(&self) -> bool {
        self.kind != Kind::Raw
    }

    /// `sock_can_batch` of `handle_tx_copy()`: the socket's send buffer is
    /// unlimited (tun and tap unless `TUNSETSNDBUF` limited it), so TX may
    /// batch packets with [`TxBatch`]; otherwise it sends each with
    /// [`NetBackend::sendmsg`] and `MSG_MORE`.
    pub(crate) fn can_batch(&self) -> bool {
        // SAFETY: `sock` is valid by the type invariants.
        unsafe { rb::rvhost_sock_sndbuf_unlimited(self.sock.as_ptr()) }
    }

    fn ops(&self) -> &bindings::proto_ops {
        // SAFETY: By the type invariants `sock` is valid and has non-null static `ops`.
        unsafe { &*(*self.sock.as_ptr()).ops }
    }

    /// `sock->ops->sendmsg()` of `handle_tx_copy()`: sends the first `len` bytes
    /// of `iov` as one packet, `MSG_DONTWAIT`, and `MSG_MORE` if `more` (more
    /// packets follow at once). Returns what the socket returns.
    pub(crate) fn sendmsg(&self, iov: &[UserIovec], len: usize, more: bool) -> Result<usize> {
        let mut msg = msghdr(bindings::ITER_SOURCE, iov, len)?;
        msg.msg_flags = bindings::MSG_DONTWAIT | if more { bindings::MSG_MORE } else { 0 };
        let sendmsg = self.ops().sendmsg.ok_or(EINVAL)?;
        // SAFETY: `sock` is valid by the type invariants; `msg` is a kernel msghdr without
        // control data whose iterator points into `iov`, borrowed for the call.
        sock_result(unsafe { sendmsg(self.sock.as_ptr(), &mut msg, len) })
    }

    /// `sock->ops->recvmsg()` of `handle_rx()` (`MSG_DONTWAIT | MSG_TRUNC`):
    /// receives the next packet into the first `len` bytes of `iov` and returns
    /// its length, which exceeds `len` if it was truncated.
    ///
    /// For tun and tap, prefer [`RxBatch::recv`] once an [`RxBatch`] is in use:
    /// this takes the packet at the head of the ring, after the batch.
    pub(crate) fn recvmsg(&self, iov: &[UserIovec], len: usize) -> Result<usize> {
        let mut msg = msghdr(bindings::ITER_DEST, iov, len)?;
        // SAFETY: A null pointer is no entry.
        unsafe { self.recv_ptr(&mut msg, len, ptr::null_mut()) }
    }

    /// # Safety
    ///
    /// `ptr` is null or an entry of this backend's ring that the caller owns;
    /// ownership passes to the socket (tun and tap free it on every path).
    unsafe fn recv_ptr(
        &self,
        msg: &mut bindings::msghdr,
        len: usize,
        ptr: *mut c_void,
    ) -> Result<usize> {
        msg.msg_flags = bindings::MSG_DONTWAIT;
        msg.__bindgen_anon_1.msg_control = ptr;
        let Some(recvmsg) = self.ops().recvmsg else {
            // Not reached: the type invariants say the socket has recvmsg.
            if !ptr.is_null() {
                // SAFETY: The caller passed us the entry.
                unsafe { rb::rvhost_tun_ptr_free(ptr) };
            }
            return Err(EINVAL);
        };
        let flags = (bindings::MSG_DONTWAIT | bindings::MSG_TRUNC) as c_int;
        // SAFETY: `sock` is valid by the type invariants; `msg`'s iterator points into an
        // iovec array the caller borrows for the call; `msg_control` is null or, for tun and
        // tap, the entry to read (`tun_recvmsg()`/`tap_recvmsg()` take it over).
        sock_result(unsafe { recvmsg(self.sock.as_ptr(), msg, len, flags) })
    }

    /// The length of the next packet to receive, 0 if there is none: the
    /// head of the ptr_ring for tun and tap (`sock->ops->peek_len`), the
    /// receive queue's head for a raw socket, with a VLAN tag counted as C's
    /// `peek_head_len()` does.
    pub(crate) fn peek_len(&self) -> usize {
        match self.ops().peek_len {
            // SAFETY: `sock` is valid by the type invariants.
            Some(peek_len) => unsafe { peek_len(self.sock.as_ptr()) }.max(0) as usize,
            // SAFETY: `sock` is valid and a raw socket, which has no ptr_ring.
            None => unsafe { rb::rvhost_sock_peek_head_len(self.sock.as_ptr()) }.max(0) as usize,
        }
    }

    /// C's `sock_has_rx_data()`, for busy polling, as it is: for a socket
    /// without `peek_len` (raw) it is true when the receive queue is *empty*.
    pub(crate) fn has_rx_data(&self) -> bool {
        match self.ops().peek_len {
            // SAFETY: `sock` is valid by the type invariants.
            Some(peek_len) => (unsafe { peek_len(self.sock.as_ptr()) }) != 0,
            // SAFETY: `sock` is valid by the type invariants.
            None => unsafe { rb::rvhost_sock_rx_queue_empty(self.sock.as_ptr()) },
        }
    }
}

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
    pub(crate) fn is_empty(&self) -> bool {
        self.head == self.tail
    }

    /// The ring of `backend` and its kind, `None` for raw sockets.
    fn source(backend: &NetBackend) -> Option<(NonNull<rb::ptr_ring>, Kind)> {
        NonNull::new(backend.ring).map(|r| (r, backend.kind))
    }

    /// Frees what is held if it is not from `backend`'s ring.
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

    /// `recvmsg()` as [`NetBackend::recvmsg`], of the packet
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
// SAFETY: `&TxBatch` only reads `n`.
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

    /// Packets held (`nvq->batched_xdp`).
    pub(crate) fn len(&self) -> usize {
        self.n
    }

    /// Whether no packets are held.
    pub(crate) fn is_empty(&self) -> bool {
        self.n == 0
    }

    fn xdp_ptr(&mut self, i: usize) -> *mut rb::xdp_buff {
        // The array is never read as a whole, only through these pointers.
        self.xdp.as_mut_ptr().cast::<rb::xdp_buff>().wrapping_add(i)
    }

    /// C's `vhost_net_build_xdp()`: copies one packet, the first `len` bytes
    /// of `iov` of which the first `sock_hlen` are the socket's virtio-net
    /// header, into the batch. If the header asks for checksum offload with
    /// `hdr_len` short of `csum_start + csum_offset + 2`, `hdr_len` is raised
    /// (in the virtqueue's byte order, little-endian unless `little_endian`
    /// is false).
    ///
    /// Errors as C: `EFAULT` for `len < sock_hlen` or a failed copy, `EINVAL`
    /// for such a `hdr_len` past the packet, `ENOMEM`; `ENOSPC` when the packet
    /// does not fit in a page (or the batch is full, see [`TxBatch::flush`]):
    /// send that one with [`NetBackend::sendmsg`]. `backend` must be tun or
    /// tap (`EINVAL` otherwise): nothing else takes `TUN_MSG_PTR`.
    pub(crate) fn add(
        &mut self,
        backend: &NetBackend,
        iov: &[UserIovec],
        len: usize,
        sock_hlen: usize,
        little_endian: bool,
    ) -> Result {
        if !backend.is_tun_or_tap() {
            return Err(EINVAL);
        }
        if self.n == VHOST_NET_BATCH {
            return Err(ENOSPC);
        }
        let mut msg = msghdr(bindings::ITER_SOURCE, iov, len)?;
        if len < sock_hlen {
            return Err(EFAULT);
        }
        // SAFETY: `sock` is valid by the type invariants of `backend`.
        let headroom = if unsafe { rb::rvhost_sock_xdp(backend.sock.as_ptr()) } {
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
        // SAFETY: `pf` is a page_frag_cache only used here and in `drop`; the alignment
        // is a power of two.
        let buf: *mut u8 = unsafe {
            rb::rvhost_page_frag_alloc_align(
                &mut self.pf,
                buflen as c_uint,
                rb::RVHOST_SMP_CACHE_BYTES,
            )
        }
        .cast();
        if buf.is_null() {
            return Err(ENOMEM);
        }
        // `pad >= sock_hlen`, and the header and packet fit in `buflen`.
        let hdr = buf.wrapping_add(pad - sock_hlen);
        // SAFETY: `hdr..hdr + len` is inside the fragment; `msg_iter` covers `len` bytes
        // of `iov`, which the call borrows.
        let copied = unsafe { bindings::_copy_from_iter(hdr.cast(), len, &mut msg.msg_iter) };
        let r = if copied != len {
            Err(EFAULT)
        } else {
            // SAFETY: `buf` is the fragment of `buflen` bytes, ours alone; `hdr` is at
            // `pad - sock_hlen` in it, `len` bytes were copied there.
            unsafe { Self::fix_hdr(buf, pad, hdr, sock_hlen, len, little_endian) }
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

    /// The virtio-net header checks of `vhost_net_build_xdp()`, and the header
    /// moved to the start of the buffer, where tun and tap read it.
    ///
    /// # Safety
    ///
    /// `buf` points to `pad` bytes followed by the `len` copied bytes at
    /// `hdr = buf + pad - sock_hlen`, with `pad >= 64 > 10`, writable and
    /// not accessed concurrently.
    unsafe fn fix_hdr(
        buf: *mut u8,
        pad: usize,
        hdr: *mut u8,
        sock_hlen: usize,
        len: usize,
        le: bool,
    ) -> Result {
        let gso = if sock_hlen == 0 {
            // SAFETY: The first `pad` bytes are ours.
            unsafe { ptr::write_bytes(buf, 0, pad) };
            buf
        } else {
            hdr
        };
        let rd = |off: usize| {
            // SAFETY: `gso` has at least 10 readable bytes (within `pad` or the packet
            // and the tail room after it); `off + 2 <= 10`.
            let b = unsafe { ptr::read_unaligned(gso.add(off).cast::<[u8; 2]>()) };
            if le {
                u16::from_le_bytes(b)
            } else {
                u16::from_be_bytes(b)
            }
        };
        // struct virtio_net_hdr: flags, gso_type, hdr_len, gso_size, csum_start,
        // csum_offset.
        // SAFETY: As for `rd`.
        let flags = unsafe { gso.read() };
        let need = u32::from(rd(6)) + u32::from(rd(8)) + 2;
        if u32::from(flags) & rb::VIRTIO_NET_HDR_F_NEEDS_CSUM != 0 && need > u32::from(rd(4)) {
            let hdr_len = need as u16;
            let b = if le {
                hdr_len.to_le_bytes()
            } else {
                hdr_len.to_be_bytes()
            };
            // SAFETY: As for `rd`, and writable.
            unsafe { ptr::write_unaligned(gso.add(2).cast::<[u8; 2]>(), b) };
            if usize::from(hdr_len) > len {
                return Err(EINVAL);
            }
        }
        // "pad contains sock_hlen"
        // SAFETY: Both ranges are in the buffer; `ptr::copy` allows overlap.
        unsafe { ptr::copy(hdr, buf, sock_hlen) };
        Ok(())
    }

    /// C's `vhost_tx_batch()` send: hands the batch to `backend` in one
    /// `sendmsg` with `TUN_MSG_PTR`, and is empty afterwards. On an error
    /// (tun: `EBADFD`, detached) the packets are freed, as C does. Call it
    /// when [`TxBatch::len`] reaches [`VHOST_NET_BATCH`] and when TX stops.
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
            // SAFETY: `backend` is tun or tap, whose sendmsg reads `ctl` and takes over the
            // `n` initialised `xdp_buff`s' fragments; the array outlives the call.
            sock_result(unsafe { sendmsg(backend.sock.as_ptr(), &mut msg, 0) }).map(|_| ())
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
