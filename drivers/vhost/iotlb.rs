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
    /// Counts changes, so that queues know when the ring translations
    /// they cached are stale (C resets every `vq->meta_iotlb[]` instead).
    generation: u64,
}

impl Iotlb {
    /// `iotlb_alloc()`: at most `limit` entries, the oldest retired.
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            map: mem::Iotlb::new(Slots::new(), Kind::Iotlb, limit as u32),
            generation: 0,
        }
    }

    /// The table, for the functions of `mem`.
    pub(crate) fn map(&self) -> &mem::Iotlb<Slots> {
        &self.map
    }

    /// The table, for `mem::process_iotlb_msg()`: whatever it does
    /// invalidates the cached ring translations (C's
    /// `vhost_vq_meta_reset()` on update and invalidate).
    pub(crate) fn map_mut(&mut self) -> &mut mem::Iotlb<Slots> {
        self.generation = self.generation.wrapping_add(1);
        &mut self.map
    }

    /// How many times the table may have changed.
    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }
}

/// A miss waiting for its update, and the queue to run again then.
#[derive(Clone, Copy)]
pub(crate) struct Pending {
    pub(crate) iova: u64,
    pub(crate) vq: usize,
}
