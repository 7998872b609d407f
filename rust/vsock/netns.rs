// SPDX-License-Identifier: GPL-2.0

//! Network namespaces, as vsock sees them: a device belongs to the
//! namespace of the process that opened it, and reaches sockets the vsock
//! mode rules allow (`vsock_net_check_mode()`).
//!
//! C header: [`include/net/af_vsock.h`](srctree/include/net/af_vsock.h).

use crate::rvhost::bindings as rb;
use core::{
    marker::PhantomData,
    ptr::NonNull, //
};
use kernel::bindings;

/// A counted reference to a network namespace (`get_net()`).
///
/// # Invariants
///
/// `ptr` is a valid namespace on which this object owns a reference,
/// dropped in [`Drop`].
pub(crate) struct NetNs {
    ptr: NonNull<bindings::net>,
}

// SAFETY: A namespace reference may be dropped from any thread, and nothing
// but its address is used through `&NetNs`.
unsafe impl Send for NetNs {}
// SAFETY: See above: `&NetNs` only reads the pointer.
unsafe impl Sync for NetNs {}

impl NetNs {
    /// The calling task's namespace (`current->nsproxy->net_ns`), counted.
    pub(crate) fn current() -> Self {
        // SAFETY: Called from a task (an open() of the device), whose nsproxy is valid;
        // the helper takes a reference.
        let ptr = unsafe { rb::rvhost_current_net_get() };
        // INVARIANT: `get_net()` returned the namespace with a reference taken for us.
        Self {
            // SAFETY: A task's network namespace is never null.
            ptr: unsafe { NonNull::new_unchecked(ptr) },
        }
    }

    /// The namespace, as a [`NetRef`].
    pub(crate) fn as_ref(&self) -> NetRef<'_> {
        NetRef {
            ptr: self.ptr.as_ptr(),
            _p: PhantomData,
        }
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        // SAFETY: By the type invariant we own a reference, given back here.
        unsafe { rb::rvhost_put_net(self.ptr.as_ptr()) };
    }
}

/// A namespace the vsock core passed in, valid for the call; null stands
/// for the global mode, as in C.
#[derive(Clone, Copy)]
pub(crate) struct NetRef<'a> {
    ptr: *mut bindings::net,
    _p: PhantomData<&'a bindings::net>,
}

impl NetRef<'_> {
    /// A namespace pointer the caller received from the vsock core.
    ///
    /// # Safety
    ///
    /// `ptr` is null or a namespace that stays valid for `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut bindings::net) -> NetRef<'a> {
        NetRef {
            ptr,
            _p: PhantomData,
        }
    }

    /// Whether sockets of `self` and `other` reach each other
    /// (`vsock_net_check_mode()`): the same namespace, or both in the
    /// global mode.
    pub(crate) fn reaches(self, other: NetRef<'_>) -> bool {
        // SAFETY: Both are null or valid namespaces, by the invariants of `NetRef`.
        unsafe { rb::rvhost_vsock_net_check_mode(self.ptr, other.ptr) }
    }

    pub(crate) fn as_ptr(self) -> *mut bindings::net {
        self.ptr
    }
}
