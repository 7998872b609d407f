// SPDX-License-Identifier: GPL-2.0

//! The memory table of `VHOST_SET_MEM_TABLE` (drivers/vhost/vhost.c:
//! `vhost_set_memory()`, `memory_access_ok()`). C keeps it in a
//! `vhost_iotlb`; so do we: the table logic is `addr_space::Iotlb`, shared
//! with the device IOTLB and tested on the host (see
//! Documentation/addr_space.rst).

use crate::{
    addr_space::{
        self,
        Iotlb,
        Kind,
        MemoryRegion,
        NoMem,
        Slot, //
    },
    dev::{
        Dev,
        DevInner, //
    },
    rvhost::{
        bindings as b,
        errno,
        params,
        user, //
    },
    vq::QueueData,
};
use kernel::{
    alloc::{
        KVVec,
        KVec, //
    },
    prelude::*,
    sync::Arc,
    uaccess::{
        UserPtr,
        UserSlice, //
    },
};

/// The kernel's storage for table entries.
pub(crate) type Slots = KVVec<Slot>;

impl addr_space::Storage for Slots {
    fn push_slot(&mut self, slot: Slot) -> Result<(), NoMem> {
        self.push(slot, GFP_KERNEL).map_err(|_| NoMem)
    }

    fn pop_slot(&mut self) {
        self.pop();
    }
}

/// The kernel error for an errno of `addr_space`.
pub(crate) fn kernel_error(e: addr_space::Errno) -> Error {
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
        let map =
            addr_space::build_umem(Slots::new(), regions, Self::limit()).map_err(kernel_error)?;
        Ok(Self { map })
    }

    /// The entries, for the checks of `addr_space`.
    pub(crate) fn map(&self) -> &Iotlb<Slots> {
        &self.map
    }
}

impl<D: QueueData> Dev<D> {
    /// `VHOST_SET_MEM_TABLE` (`vhost_set_memory()`).
    pub(crate) fn set_mem_table(&self, inner: &mut DevInner, arg: usize) -> Result<isize> {
        let mut r = UserSlice::new(UserPtr::from_addr(arg), usize::MAX).reader();
        let hdr: b::vhost_memory = r.read()?;
        if hdr.padding != 0 {
            return Err(errno::eopnotsupp());
        }
        if hdr.nregions > u32::from(params::max_mem_regions()) {
            return Err(E2BIG);
        }
        if params::max_iotlb_entries() <= 0 {
            return Err(EINVAL);
        }
        let mut regions = KVec::with_capacity(hdr.nregions as usize, GFP_KERNEL)?;
        for _ in 0..hdr.nregions {
            let reg: b::vhost_memory_region = r.read()?;
            regions.push(reg, GFP_KERNEL)?;
        }
        let table = Table::from_regions(&regions)?;
        if !self.memory_access_ok(Some(&table), false) {
            return Err(EFAULT);
        }
        let table = Arc::new(table, GFP_KERNEL)?;
        for q in self.vqs.iter() {
            q.vq.lock().umem = Some(table.clone());
        }
        inner.umem = Some(table);
        Ok(0)
    }

    /// `memory_access_ok()`: every queue with a backend can reach `umem`
    /// (and log it when `log_all` or its features say so).
    pub(crate) fn memory_access_ok(&self, umem: Option<&Table>, log_all: bool) -> bool {
        let umem = umem.map(Table::map);
        self.vqs.iter().all(|q| {
            let vq = q.vq.lock();
            let vqs = [(&vq.cfg, vq.active())];
            addr_space::memory_access_ok(vqs, umem, log_all, &user::access_ok)
        })
    }
}
