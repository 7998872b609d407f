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

/// Reads the `u16` at user address `addr` with one load (`get_user()`), so
/// that a value the guest is changing is seen before or after, never
/// half-written. Fails with `EFAULT`.
pub(crate) fn get_u16(addr: usize) -> Result<u16> {
    let mut val = 0u16;
    // SAFETY: `get_user()` checks the address with `access_ok()` and handles
    // faults itself; `val` is a valid `u16` to write.
    match unsafe { bindings::rvhost_get_user_u16(addr as _, &mut val) } {
        0 => Ok(val),
        _ => Err(EFAULT),
    }
}

/// Writes `val` to user address `addr` with one store (`put_user()`): the
/// guest never sees it half-written. Fails with `EFAULT`.
pub(crate) fn put_u16(addr: usize, val: u16) -> Result {
    // SAFETY: `put_user()` checks the address with `access_ok()` and handles
    // faults itself.
    match unsafe { bindings::rvhost_put_user_u16(addr as _, val) } {
        0 => Ok(()),
        _ => Err(EFAULT),
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
