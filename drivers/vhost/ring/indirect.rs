// SPDX-License-Identifier: GPL-2.0

//! Expansion of indirect tables into the chain being built.

use super::{
    chain::{
        Builder,
        Stop, //
    },
    desc::RawDesc,
    error::Error,
    guest_memory::GuestMemory,
    layout::{
        MAX_INDIRECT,
        VRING_DESC_F_INDIRECT,
        VRING_DESC_F_NEXT,
        VRING_DESC_F_WRITE, //
    },
    window::Window,
};

/// Expands the table `table` refers to, reading it `ahead` descriptors at
/// a time.
///
/// Entries are taken in table order, as the C driver does (it reads the
/// table as a stream and only looks at `next` to print it). A split table
/// ends at the first entry without `NEXT`; `NEXT` on the last entry is the
/// C driver's "loop detected". A packed table uses every entry, and its
/// `NEXT` bits are reserved. An indirect entry inside a table is rejected
/// for both formats.
pub(crate) fn expand<M: GuestMemory + ?Sized>(
    guest: &M,
    win: &mut Window,
    b: &mut Builder<'_>,
    table: &RawDesc,
    ahead: u32,
    packed: bool,
) -> Result<(), Stop> {
    let head = b.head();
    let len = table.len;
    if len == 0 || len & 15 != 0 {
        return Err(Error::IndirectLen { head, len }.into());
    }
    let count = len / 16;
    if count > MAX_INDIRECT {
        return Err(Error::IndirectTooBig { head, len }.into());
    }
    if table.addr.checked_add(u64::from(len) - 1).is_none() {
        return Err(Error::AddrOverflow {
            addr: table.addr,
            len,
        }
        .into());
    }
    let mut j = 0u32;
    loop {
        if j >= count {
            return Err(Error::DescLoop { head }.into());
        }
        let bytes = win.get(guest, table.addr, j, ahead.min(count - j))?;
        let d = if packed {
            RawDesc::packed(bytes)
        } else {
            RawDesc::split(bytes)
        };
        if d.flags & VRING_DESC_F_INDIRECT != 0 {
            return Err(Error::NestedIndirect { head }.into());
        }
        b.push(d.addr, d.len, d.flags & VRING_DESC_F_WRITE != 0, j == 0)?;
        j += 1;
        let more = if packed {
            j < count
        } else {
            d.flags & VRING_DESC_F_NEXT != 0
        };
        if !more {
            return Ok(());
        }
    }
}
