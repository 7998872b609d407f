// SPDX-License-Identifier: GPL-2.0

//! The memory table: `VHOST_SET_MEM_TABLE` (`vhost_set_memory()`) and the
//! checks of its user ranges (`vq_memory_access_ok()`,
//! `memory_access_ok()`, `vhost_log_access_ok()`).

use super::{
    access::vhost_overflow,
    errno::Errno,
    iotlb::{
        Iotlb,
        Kind,
        Storage,
        VHOST_MAP_RW, //
    },
    log::log_access_ok,
    vq_config::VqConfig,
};

/// Default of the `max_mem_regions` module parameter of `vhost.ko`.
pub const DEFAULT_MAX_MEM_REGIONS: u16 = 64;

/// `struct vhost_memory_region`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemoryRegion {
    /// First guest physical address.
    pub guest_phys_addr: u64,
    /// Size in bytes.
    pub memory_size: u64,
    /// Userspace address of `guest_phys_addr`.
    pub userspace_addr: u64,
    /// Ignored, as in C.
    pub flags_padding: u64,
}

impl MemoryRegion {
    /// `sizeof(struct vhost_memory_region)`.
    pub const SIZE: usize = 32;

    /// The region as laid out in memory (native endian, x86: little).
    pub fn from_bytes(b: &[u8; Self::SIZE]) -> Self {
        let f = |i: usize| {
            let mut w = [0u8; 8];
            if let Some(s) = b.get(i * 8..i * 8 + 8) {
                w.copy_from_slice(s);
            }
            u64::from_ne_bytes(w)
        };
        Self {
            guest_phys_addr: f(0),
            memory_size: f(1),
            userspace_addr: f(2),
            flags_padding: f(3),
        }
    }
}

/// The header checks of `vhost_set_memory()`, in C's order, after
/// `struct vhost_memory`'s 8-byte header (`nregions`, `padding`) was copied:
/// `OpNotSupp` for a non-zero padding, `TooBig` for more than
/// `max_mem_regions` regions, `Inval` if `max_iotlb_entries` is not
/// positive. Next the caller allocates for `nregions` regions (`-ENOMEM`),
/// copies them (`-EFAULT`), allocates the table's storage (`-ENOMEM`) and
/// calls [`set_memory`].
pub fn check_memory_header(
    nregions: u32,
    padding: u32,
    max_mem_regions: u16,
    max_iotlb_entries: i32,
) -> Result<(), Errno> {
    if padding != 0 {
        return Err(Errno::OpNotSupp);
    }
    if nregions > u32::from(max_mem_regions) {
        return Err(Errno::TooBig);
    }
    if max_iotlb_entries <= 0 {
        return Err(Errno::Inval);
    }
    Ok(())
}

/// The memory table built from `regions` as `vhost_set_memory()` builds
/// it, in a table of `limit` (`max_iotlb_entries`) entries that retires
/// its oldest when full.
///
/// Each region is `vhost_iotlb_add_range(gpa, gpa + size - 1, uaddr, RW)`
/// and any failure is `Fault`: a region whose last byte wraps the address
/// space, and a region of size 0 except at address 0 (`gpa - 1 < gpa`).
/// Size 0 at address 0 is the range `0..=u64::MAX`, accepted as two
/// entries. Overlapping regions are accepted; the first region in address
/// order wins a lookup. A storage that cannot grow is `Fault` too (C's
/// per-entry allocation in `vhost_iotlb_add_range()`): give one with room
/// for `regions` to make that impossible.
pub fn build_umem<S: Storage>(
    slots: S,
    regions: impl IntoIterator<Item = MemoryRegion>,
    limit: u32,
) -> Result<Iotlb<S>, Errno> {
    let mut umem = Iotlb::new(slots, Kind::Umem, limit);
    for r in regions {
        let last = r
            .guest_phys_addr
            .wrapping_add(r.memory_size)
            .wrapping_sub(1);
        umem.add_range(r.guest_phys_addr, last, r.userspace_addr, VHOST_MAP_RW)
            .map_err(|_| Errno::Fault)?;
    }
    Ok(umem)
}

/// `vq_memory_access_ok(log_base, umem, log_all)`: no table is `false`;
/// otherwise every entry's user range must not overflow and be user
/// memory, and with `log_all` its guest range must be covered by the log
/// ([`log_access_ok`]).
pub fn vq_memory_access_ok<S: Storage, A: Fn(u64, u64) -> bool>(
    log_base: u64,
    umem: Option<&Iotlb<S>>,
    log_all: bool,
    access_ok: &A,
) -> bool {
    let Some(umem) = umem else {
        return false;
    };
    umem.maps().all(|m| {
        !vhost_overflow(m.addr, m.size())
            && access_ok(m.addr, m.size())
            && (!log_all || log_access_ok(log_base, m.start, m.size(), access_ok))
    })
}

/// `memory_access_ok(d, umem, log_all)`: may the device switch to `umem`?
/// Checked for every queue with a backend (each given with whether it has
/// one), logging if `log_all` or the queue negotiated `VHOST_F_LOG_ALL`,
/// with the queue's log base. No table is `false` if any queue has a
/// backend.
pub fn memory_access_ok<'a, S: Storage, A: Fn(u64, u64) -> bool>(
    vqs: impl IntoIterator<Item = (&'a VqConfig, bool)>,
    umem: Option<&Iotlb<S>>,
    log_all: bool,
    access_ok: &A,
) -> bool {
    vqs.into_iter().all(|(vq, active)| {
        // An inactive ring is checked when it is started.
        !active || vq_memory_access_ok(vq.log_base, umem, log_all || vq.log_all(), access_ok)
    })
}

/// `vhost_log_access_ok(dev)`: can every queue with a backend log? Checked
/// when `VHOST_F_LOG_ALL` is negotiated (`-EFAULT` if not).
pub fn vhost_log_access_ok<'a, S: Storage, A: Fn(u64, u64) -> bool>(
    vqs: impl IntoIterator<Item = (&'a VqConfig, bool)>,
    umem: Option<&Iotlb<S>>,
    access_ok: &A,
) -> bool {
    memory_access_ok(vqs, umem, true, access_ok)
}

/// `vhost_set_memory()` from the regions on: [`build_umem`], then
/// [`memory_access_ok`] over the device's queues without forcing the log
/// (`Fault` if refused). On success the caller installs the table on the
/// device and every queue, and frees the old one.
pub fn set_memory<'a, S: Storage, A: Fn(u64, u64) -> bool>(
    slots: S,
    regions: impl IntoIterator<Item = MemoryRegion>,
    limit: u32,
    vqs: impl IntoIterator<Item = (&'a VqConfig, bool)>,
    access_ok: &A,
) -> Result<Iotlb<S>, Errno> {
    let umem = build_umem(slots, regions, limit)?;
    if !memory_access_ok(vqs, Some(&umem), false, access_ok) {
        return Err(Errno::Fault);
    }
    Ok(umem)
}
