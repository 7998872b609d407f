// SPDX-License-Identifier: GPL-2.0

//! User I/O vectors, and the `struct msghdr` and `struct iov_iter` over
//! them that the socket calls and copies take.
//!
//! C header: [`include/linux/uio.h`](srctree/include/linux/uio.h).

use core::mem::{
    offset_of,
    size_of, //
};
use kernel::{
    bindings,
    ffi::{
        c_ulong,
        c_void, //
    },
    prelude::*,
};

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

/// An `iov_iter` over the first `len` bytes of `iov`.
///
/// Fails with `EINVAL` if `iov` holds fewer than `len` bytes: the iterator
/// would walk off the array. The iterator points into `iov`: it must not be
/// used after `iov`'s borrow ends.
#[inline]
pub(crate) fn iov_iter(
    direction: u32,
    iov: &[UserIovec],
    len: usize,
) -> Result<bindings::iov_iter> {
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
    let mut iter = bindings::iov_iter::default();
    // SAFETY: `iter` is writable; `iov` has the layout of `iov.len()` `struct iovec`s and
    // holds at least `len` bytes.
    unsafe {
        bindings::iov_iter_init(
            &mut iter,
            direction,
            iov.as_ptr().cast(),
            iov.len() as c_ulong,
            len,
        )
    };
    Ok(iter)
}

/// A `struct msghdr` whose iterator covers the first `len` bytes of `iov`.
///
/// Fails with `EINVAL` if `iov` holds fewer than `len` bytes. The iterator
/// points into `iov`, so `msg` must not be used after `iov`'s borrow ends:
/// the callers pass it to the socket and drop it.
#[inline]
pub(super) fn msghdr(direction: u32, iov: &[UserIovec], len: usize) -> Result<bindings::msghdr> {
    let mut msg = bindings::msghdr::default();
    msg.msg_iter = iov_iter(direction, iov, len)?;
    Ok(msg)
}
