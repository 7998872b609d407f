// SPDX-License-Identifier: GPL-2.0

//! User-memory operations that `kernel::uaccess` does not offer.

use crate::rvhost::bindings;
use kernel::{
    prelude::*,
    uaccess::UserPtr, //
};

/// Zeroes `len` bytes of user memory at `ptr`, as C's `clear_user()`.
///
/// Like C, nothing is written when the range as a whole is not a user range;
/// a fault part way leaves the bytes before it zeroed. Fails with `EFAULT`.
pub(crate) fn clear(ptr: UserPtr, len: usize) -> Result {
    // SAFETY: `clear_user()` checks the range with `access_ok()` and handles faults
    // itself; any value of `ptr` and `len` is acceptable.
    let left = unsafe { bindings::rvhost_clear_user(ptr.as_mut_ptr(), len as _) };
    if left == 0 {
        Ok(())
    } else {
        Err(EFAULT)
    }
}

/// Whether `[addr, addr + size)` lies in user space, as C's `access_ok()`:
/// a range check only, nothing is read.
pub(crate) fn access_ok(addr: u64, size: u64) -> bool {
    let (Ok(addr), Ok(size)) = (usize::try_from(addr), usize::try_from(size)) else {
        return false;
    };
    // SAFETY: `access_ok()` only compares the numbers with the task size.
    unsafe { bindings::rvhost_access_ok(addr as _, size as _) }
}
