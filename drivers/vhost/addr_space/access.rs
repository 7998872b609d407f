// SPDX-License-Identifier: GPL-2.0

//! User address range checks.
//!
//! The checks take `access_ok` as a function `(addr, size) -> bool`: the
//! kernel passes its `access_ok()`, the host [`user_range_ok`].

/// `TASK_SIZE_MAX` of x86-64 with 4-level page tables, the `USER_PTR_MAX`
/// of a 7.2 kernel without 5-level paging.
pub const USER_PTR_MAX_4LEVEL: u64 = (1 << 47) - 4096;

/// x86-64 `__access_ok(addr, size)` for a size not known at compile time:
/// `addr + size` neither wraps nor passes `user_ptr_max`.
pub const fn user_range_ok(addr: u64, size: u64, user_ptr_max: u64) -> bool {
    let sum = addr.wrapping_add(size);
    sum <= user_ptr_max && sum >= addr
}

/// `vhost_overflow(uaddr, size)`: the last byte of `uaddr..uaddr + size`
/// is past the end of the address space (the `unsigned long` checks
/// cannot fail on 64-bit).
pub const fn vhost_overflow(uaddr: u64, size: u64) -> bool {
    if size == 0 {
        return false;
    }
    uaddr > u64::MAX - size + 1
}
