// SPDX-License-Identifier: GPL-2.0

//! Event index arithmetic shared by both ring formats.

/// `vring_need_event()`: whether moving an index from `old` to `new` crossed
/// `event`, i.e. `event` is in `[old, new)` modulo 2^16.
pub fn need_event(event: u16, new: u16, old: u16) -> bool {
    new.wrapping_sub(event).wrapping_sub(1) < new.wrapping_sub(old)
}
