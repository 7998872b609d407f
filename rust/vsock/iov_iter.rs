// SPDX-License-Identifier: GPL-2.0

//! Copies between the kernel and the user buffers of a chain
//! (`copy_to_iter()`, `copy_from_iter()`).
//!
//! C header: [`include/linux/uio.h`](srctree/include/linux/uio.h).

use crate::rvhost::{
    bindings as rb,
    socket::iov::{
        iov_iter,
        UserIovec, //
    },
};
use core::marker::PhantomData;
use kernel::{
    bindings,
    prelude::*, //
};

/// An iterator over user buffers, for copies between them and the kernel
/// (`struct iov_iter` of type `ITER_IOVEC`).
///
/// # Invariants
///
/// `iter` was initialised over the array `iov` borrows, with no more bytes
/// than it holds.
pub(crate) struct IovIter<'a> {
    iter: bindings::iov_iter,
    _iov: PhantomData<&'a [UserIovec]>,
}

impl<'a> IovIter<'a> {
    /// An iterator to copy from the first `len` bytes of `iov`.
    pub(crate) fn source(iov: &'a [UserIovec], len: usize) -> Result<Self> {
        // INVARIANT: `iov_iter()` checked `len` against `iov`.
        Ok(Self {
            iter: iov_iter(bindings::ITER_SOURCE, iov, len)?,
            _iov: PhantomData,
        })
    }

    /// An iterator to copy into the first `len` bytes of `iov`.
    pub(crate) fn dest(iov: &'a [UserIovec], len: usize) -> Result<Self> {
        // INVARIANT: `iov_iter()` checked `len` against `iov`.
        Ok(Self {
            iter: iov_iter(bindings::ITER_DEST, iov, len)?,
            _iov: PhantomData,
        })
    }

    /// The iterator, for a C function that copies through it. Valid while
    /// `self` is borrowed.
    pub(crate) fn as_raw(&mut self) -> *mut bindings::iov_iter {
        &mut self.iter
    }

    /// Fills `buf` from the buffers (`copy_from_iter()`); `EFAULT` if they
    /// end or fault before.
    pub(crate) fn read(&mut self, buf: &mut [u8]) -> Result {
        // SAFETY: `buf` is writable for its length; the iterator is valid by the type
        // invariant, and its user copies handle faults.
        let n = unsafe {
            rb::rvhost_copy_from_iter(buf.as_mut_ptr().cast(), buf.len(), &mut self.iter)
        };
        if n != buf.len() {
            return Err(EFAULT);
        }
        Ok(())
    }

    /// Copies `buf` into the buffers (`copy_to_iter()`); `EFAULT` if they
    /// end or fault before.
    pub(crate) fn write(&mut self, buf: &[u8]) -> Result {
        // SAFETY: `buf` is readable for its length; the iterator is valid by the type
        // invariant, and its user copies handle faults.
        let n = unsafe { rb::rvhost_copy_to_iter(buf.as_ptr().cast(), buf.len(), &mut self.iter) };
        if n != buf.len() {
            return Err(EFAULT);
        }
        Ok(())
    }
}
