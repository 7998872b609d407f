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
