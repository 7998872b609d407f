// SPDX-License-Identifier: GPL-2.0

//! The device IOTLB (`VIRTIO_F_ACCESS_PLATFORM`): translations userspace
//! writes to the device fd, and the misses the device reads back. The
//! message format and table logic are `mem`'s; this is the kernel's view.

use crate::{
    mem::{
        self,
        Kind, //
    },
    umem::Slots,
};

/// `VHOST_ACCESS_RO`, `VHOST_ACCESS_WO`.
pub(crate) use crate::mem::{
    VHOST_ACCESS_RO as ACCESS_RO,
    VHOST_ACCESS_WO as ACCESS_WO, //
};

/// The device IOTLB: a `mem::Iotlb` that reports holes as misses.
pub(crate) struct Iotlb {
    map: mem::Iotlb<Slots>,
}

/// How a lookup ended.
pub(crate) enum Lookup {
    /// Mapped: user address and bytes left in the map from there.
    Hit(u64, u64),
    /// Nothing at this address: ask userspace (`-EAGAIN`).
    Miss,
    /// Mapped without the access wanted (`-EPERM`).
    Denied,
}

impl Iotlb {
    /// `iotlb_alloc()`: at most `limit` entries, the oldest retired.
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            map: mem::Iotlb::new(Slots::new(), Kind::Iotlb, limit as u32),
        }
    }

    /// The table, for the functions of `mem`.
    pub(crate) fn map(&self) -> &mem::Iotlb<Slots> {
        &self.map
    }

    /// The table, for `mem::process_iotlb_msg()`.
    pub(crate) fn map_mut(&mut self) -> &mut mem::Iotlb<Slots> {
        &mut self.map
    }

    /// `translate_desc()`'s lookup for `[addr, last]`.
    pub(crate) fn lookup(&self, addr: u64, last: u64, access: u8) -> Lookup {
        match self.map.lookup(addr, last) {
            None => Lookup::Miss,
            Some(m) if m.perm & access == 0 => Lookup::Denied,
            Some(m) => {
                let left = (m.last - addr).checked_add(1).unwrap_or(u64::MAX);
                Lookup::Hit(m.addr.wrapping_add(addr - m.start), left)
            }
        }
    }
}

/// A miss waiting for its update, and the queue to run again then.
#[derive(Clone, Copy)]
pub(crate) struct Pending {
    pub(crate) iova: u64,
    pub(crate) vq: usize,
}
