// SPDX-License-Identifier: GPL-2.0

//! The dirty log of live migration: setting one bit of the user bitmap
//! (`set_bit_to_user()` of drivers/vhost/vhost.c); which bits is
//! `addr_space`'s.
//!
//! The bitmap is the owner's memory (`VHOST_SET_LOG_BASE`), written while
//! the owner's process may run, so a bit is set atomically in the pinned page
//! rather than with a read-modify-write through user accessors.

use core::ptr;
use kernel::{
    bindings,
    ffi::{
        c_uint,
        c_ulong, //
    },
    page::PAGE_SIZE,
    prelude::*,
};

/// Sets bit `nr` of the user bitmap at `addr` (bit `nr % 8` of the byte at
/// `addr + nr / 8`), as C's `set_bit_to_user()`: the page is pinned for
/// writing, the bit set atomically, and the page marked dirty.
///
/// Fails as `pin_user_pages_fast()` does: `EFAULT` for an address that is not
/// mapped writable in the current process's memory.
///
/// # Context
///
/// Process context with the owner's mm (the ioctl or the worker); may sleep.
pub(crate) fn set_bit_to_user(nr: u64, addr: usize) -> Result {
    let byte = usize::try_from(nr / 8)
        .ok()
        .and_then(|off| addr.checked_add(off))
        .ok_or(EFAULT)?;
    let bit = (byte % PAGE_SIZE) * 8 + (nr % 8) as usize;
    let mut page: *mut bindings::page = ptr::null_mut();
    // SAFETY: `page` has room for the one page asked for; the address is checked by
    // pin_user_pages_fast() against the current mm.
    let r = unsafe {
        bindings::pin_user_pages_fast(
            byte as c_ulong,
            1,
            bindings::FOLL_WRITE as c_uint,
            &mut page,
        )
    };
    if r < 0 {
        return Err(Error::from_errno(r));
    }
    if r != 1 || page.is_null() {
        // C's BUG_ON(r != 1): pinning one page gives one page or an error.
        return Err(EFAULT);
    }
    // SAFETY: `page` is pinned; the mapping is released below, in this context.
    let base = unsafe { bindings::kmap_local_page(page) };
    // SAFETY: `base` maps the whole page and `bit < PAGE_SIZE * 8`; set_bit() is atomic,
    // as other threads of the owner may write the bitmap concurrently.
    unsafe { bindings::set_bit(bit as c_ulong, base.cast()) };
    // SAFETY: `base` is the mapping made above, the last one made in this context.
    unsafe { bindings::kunmap_local(base) };
    // SAFETY: `page` was pinned above with FOLL_PIN (pin_user_pages_fast()); this drops that
    // pin after marking the page dirty.
    unsafe { bindings::unpin_user_pages_dirty_lock(&mut page, 1, true) };
    Ok(())
}
