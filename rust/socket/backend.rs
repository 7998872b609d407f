// SPDX-License-Identifier: GPL-2.0

//! The socket a vhost-net virtqueue is bound to: a raw packet socket, a
//! tun/tap or a macvtap file (`get_socket()` of drivers/vhost/net.c).
//!
//! C headers: [`include/linux/net.h`](srctree/include/linux/net.h),
//! [`include/linux/if_tun.h`](srctree/include/linux/if_tun.h),
//! [`include/linux/if_tap.h`](srctree/include/linux/if_tap.h).

use super::iov::{
    msghdr,
    UserIovec, //
};
use crate::rvhost::{
    bindings as rb,
    errno, //
};
use core::ptr::{
    self,
    NonNull, //
};
use kernel::{
    bindings,
    error::{
        from_err_ptr,
        to_result, //
    },
    ffi::{
        c_int,
        c_void, //
    },
    fs::{
        File,
        LocalFile, //
    },
    prelude::*,
    sync::aref::ARef,
};

/// Turns a `sendmsg`/`recvmsg` result into a length or an error.
pub(super) fn sock_result(r: c_int) -> Result<usize> {
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
        Self::get(fd).map(Some).map_err(|_| errno::enotsock())
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
        let sock = NonNull::new(sock).ok_or_else(errno::enotsock)?;
        // SAFETY: `sock` is valid while the file is: it is the file's private data or part
        // of it. `file` and `ops` are set when it is created.
        let (sfile, ops) = unsafe { ((*sock.as_ptr()).file, (*sock.as_ptr()).ops) };
        // SAFETY: A socket's `ops` are static.
        let ops = unsafe { ops.as_ref() }.ok_or_else(errno::enotsock)?;
        if sfile != fp || ops.sendmsg.is_none() || ops.recvmsg.is_none() {
            return Err(errno::enotsock());
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
    /// batch packets with a [`TxBatch`](super::tx_batch::TxBatch); otherwise
    /// it sends each with [`NetBackend::sendmsg`] and `MSG_MORE`.
    pub(crate) fn can_batch(&self) -> bool {
        // SAFETY: `sock` is valid by the type invariants.
        unsafe { rb::rvhost_sock_sndbuf_unlimited(self.sock.as_ptr()) }
    }

    /// The socket, valid while `self` is (by the type invariants).
    pub(super) fn sock(&self) -> *mut bindings::socket {
        self.sock.as_ptr()
    }

    /// The file's ptr_ring, `None` for [`Kind::Raw`]; valid while `self` is.
    pub(super) fn ring(&self) -> Option<NonNull<rb::ptr_ring>> {
        NonNull::new(self.ring)
    }

    /// C's `vhost_sock_xdp()`: tun with an XDP program attached, which wants
    /// `XDP_PACKET_HEADROOM` in front of each packet.
    pub(super) fn xdp(&self) -> bool {
        // SAFETY: `sock` is valid by the type invariants.
        unsafe { rb::rvhost_sock_xdp(self.sock.as_ptr()) }
    }

    pub(super) fn ops(&self) -> &bindings::proto_ops {
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

    /// `sock->ops->recvmsg()` of `handle_rx()` (`MSG_DONTWAIT | MSG_TRUNC`)
    /// into `msg`, for [`RxBatch::recv`](super::rx_batch::RxBatch::recv):
    /// returns the packet's length, which exceeds `len` if it was truncated.
    ///
    /// # Safety
    ///
    /// `ptr` is null or an entry of this backend's ring that the caller owns;
    /// ownership passes to the socket (tun and tap free it on every path).
    pub(super) unsafe fn recv_ptr(
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
