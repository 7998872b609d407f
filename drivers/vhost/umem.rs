// SPDX-License-Identifier: GPL-2.0

//! The memory table of `VHOST_SET_MEM_TABLE`. C keeps it in a
//! `vhost_iotlb`; so do we: the table logic is `mem::Iotlb`, shared with
//! the device IOTLB and tested on the host (see Documentation/mem.rst).

use crate::{
    mem::{
        self,
        Iotlb,
        Kind,
        MemoryRegion,
        NoMem,
        Slot, //
    },
    rvhost::{
        bindings as b,
        params, //
    },
};
use kernel::{alloc::KVVec, prelude::*};

/// The kernel's storage for table entries.
pub(crate) type Slots = KVVec<Slot>;

impl mem::Storage for Slots {
    fn push_slot(&mut self, slot: Slot) -> Result<(), NoMem> {
        self.push(slot, GFP_KERNEL).map_err(|_| NoMem)
    }

    fn pop_slot(&mut self) {
        self.pop();
    }
}

/// The kernel error for an errno of `mem`.
pub(crate) fn kernel_error(e: mem::Errno) -> Error {
    Error::from_errno(e.to_errno())
}

/// The guest's memory as the owner mapped it.
pub(crate) struct Table {
    map: Iotlb<Slots>,
}

impl Table {
    /// An empty table (what `RESET_OWNER` leaves).
    pub(crate) fn new() -> Self {
        Self {
            map: Iotlb::new(Slots::new(), Kind::Umem, Self::limit()),
        }
    }

    fn limit() -> u32 {
        params::max_iotlb_entries().max(0) as u32
    }

    /// Builds a table from the regions userspace gave (`vhost_set_memory()`):
    /// C refuses a region it cannot add with `EFAULT`.
    pub(crate) fn from_regions(regs: &[b::vhost_memory_region]) -> Result<Self> {
        let regions = regs.iter().map(|r| MemoryRegion {
            guest_phys_addr: r.guest_phys_addr,
            memory_size: r.memory_size,
            userspace_addr: r.userspace_addr,
            flags_padding: r.flags_padding,
        });
        let map = mem::build_umem(Slots::new(), regions, Self::limit()).map_err(kernel_error)?;
        Ok(Self { map })
    }

    /// The entries, for the checks of `mem`.
    pub(crate) fn map(&self) -> &Iotlb<Slots> {
        &self.map
    }
}
