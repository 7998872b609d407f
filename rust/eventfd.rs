// SPDX-License-Identifier: GPL-2.0

//! Eventfds given to a vhost device: the call and error eventfds, which the
//! device signals, and the kick eventfd, which it polls.
//!
//! C header: [`include/linux/eventfd.h`](srctree/include/linux/eventfd.h).

use crate::rvhost::bindings as rb;
use core::ptr::NonNull;
use kernel::{
    bindings,
    error::from_err_ptr,
    fs::File,
    prelude::*,
    sync::aref::ARef, //
};

/// A counted reference to an eventfd context (`struct eventfd_ctx`).
///
/// # Invariants
///
/// `ctx` is a valid eventfd context on which this object owns a reference,
/// dropped in [`Drop`].
pub(crate) struct EventFd {
    ctx: NonNull<bindings::eventfd_ctx>,
}

// SAFETY: An eventfd context is reference counted and its operations lock
// internally, so it may be used and released from any thread.
unsafe impl Send for EventFd {}
// SAFETY: `signal()`, the only operation through `&EventFd`, may run
// concurrently on several threads.
unsafe impl Sync for EventFd {}

impl EventFd {
    /// The eventfd of the caller's file descriptor `fd`
    /// (`eventfd_ctx_fdget()`): `EBADF` if `fd` is not open, `EINVAL` if it
    /// is not an eventfd.
    pub(crate) fn from_fd(fd: i32) -> Result<Self> {
        // SAFETY: `eventfd_ctx_fdget()` accepts any value and returns a counted context or
        // an error pointer.
        let ctx = from_err_ptr(unsafe { bindings::eventfd_ctx_fdget(fd) })?;
        // INVARIANT: The lookup succeeded, so `ctx` is a counted context owned by us.
        Ok(Self {
            // SAFETY: A pointer that is not an error pointer is not null here.
            ctx: unsafe { NonNull::new_unchecked(ctx) },
        })
    }

    /// Adds 1 to the counter and wakes its readers and pollers
    /// (`eventfd_signal()`). Callable from any context.
    pub(crate) fn signal(&self) {
        // SAFETY: `ctx` is valid by the type invariants.
        unsafe { rb::rvhost_eventfd_signal(self.ctx.as_ptr()) };
    }
}

impl Drop for EventFd {
    fn drop(&mut self) {
        // SAFETY: We own a reference to `ctx`, by the type invariants.
        unsafe { bindings::eventfd_ctx_put(self.ctx.as_ptr()) };
    }
}

/// A counted reference to the file of an eventfd: what the device polls for
/// kicks.
///
/// # Invariants
///
/// `file` is the file of an eventfd.
pub(crate) struct EventFile {
    file: ARef<File>,
}

impl EventFile {
    /// The eventfd file of the caller's file descriptor `fd`
    /// (`eventfd_fget()`): `EBADF` if `fd` is not open, `EINVAL` if it is
    /// not an eventfd.
    pub(crate) fn from_fd(fd: i32) -> Result<Self> {
        // SAFETY: `eventfd_fget()` accepts any value and returns a counted file or an error
        // pointer.
        let file = from_err_ptr(unsafe { bindings::eventfd_fget(fd) })?;
        // SAFETY: `file` is a valid `struct file` whose reference we now own; `File` has the
        // layout of `struct file`. The file of an eventfd is an anonymous inode, not a
        // regular file or directory, so it has no `FMODE_ATOMIC_POS` and `fdget_pos()` never
        // skips `f_pos_lock` for it, which is the invariant of `File`.
        let file = unsafe { ARef::from_raw(NonNull::new_unchecked(file.cast::<File>())) };
        // INVARIANT: `eventfd_fget()` only returns eventfd files.
        Ok(Self { file })
    }

    /// The file, to poll it (see [`crate::rvhost::poll::FilePoll`]).
    pub(crate) fn file(&self) -> &File {
        &self.file
    }
}
