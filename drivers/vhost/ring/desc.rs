// SPDX-License-Identifier: GPL-2.0

//! Format-independent descriptors, and the raw ring descriptors they come from.

use super::layout::{
    VRING_DESC_F_NEXT,
    VRING_DESC_F_WRITE, //
};

/// One guest buffer of a chain, whatever ring format it came from.
///
/// The queue's descriptor storage is an array of these, provided by the
/// owner. `addr`/`len` is a guest range, not yet translated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Desc {
    /// Guest address.
    pub addr: u64,
    /// Length in bytes (zero is allowed, as in C).
    pub len: u32,
    /// [`Desc::F_NEXT`], [`Desc::F_WRITE`], [`Desc::F_SLOT`].
    pub flags: u16,
    /// Id of the chain: the head index (split) or buffer id (packed).
    pub id: u16,
}

impl Desc {
    /// Another descriptor of the same chain follows in the storage.
    pub const F_NEXT: u16 = VRING_DESC_F_NEXT;
    /// Device-writable buffer.
    pub const F_WRITE: u16 = VRING_DESC_F_WRITE;
    /// This descriptor occupied a slot of the ring: a direct descriptor, or
    /// the first one expanded from an indirect table. Counting these gives
    /// the ring space a chain used (in-order heads, packed used entries).
    pub const F_SLOT: u16 = 1 << 8;

    /// Whether the device may write the buffer.
    pub fn is_write(&self) -> bool {
        self.flags & Self::F_WRITE != 0
    }
}

/// A descriptor as the guest wrote it, decoded from 16 little-endian bytes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RawDesc {
    pub(crate) addr: u64,
    pub(crate) len: u32,
    pub(crate) flags: u16,
    /// `next` for split descriptors, buffer `id` for packed ones.
    pub(crate) tag: u16,
}

impl RawDesc {
    /// `struct vring_desc`: addr, len, flags, next.
    pub(crate) fn split(b: [u8; 16]) -> Self {
        let [a0, a1, a2, a3, a4, a5, a6, a7, l0, l1, l2, l3, f0, f1, n0, n1] = b;
        Self {
            addr: u64::from_le_bytes([a0, a1, a2, a3, a4, a5, a6, a7]),
            len: u32::from_le_bytes([l0, l1, l2, l3]),
            flags: u16::from_le_bytes([f0, f1]),
            tag: u16::from_le_bytes([n0, n1]),
        }
    }

    /// `struct vring_packed_desc`: addr, len, id, flags.
    pub(crate) fn packed(b: [u8; 16]) -> Self {
        let [a0, a1, a2, a3, a4, a5, a6, a7, l0, l1, l2, l3, i0, i1, f0, f1] = b;
        Self {
            addr: u64::from_le_bytes([a0, a1, a2, a3, a4, a5, a6, a7]),
            len: u32::from_le_bytes([l0, l1, l2, l3]),
            flags: u16::from_le_bytes([f0, f1]),
            tag: u16::from_le_bytes([i0, i1]),
        }
    }
}
