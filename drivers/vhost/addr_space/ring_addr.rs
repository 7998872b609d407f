// SPDX-License-Identifier: GPL-2.0

//! Ring address checks: `VHOST_SET_VRING_NUM`, `VHOST_SET_VRING_ADDR`,
//! `vq_access_ok()`, `vhost_vq_access_ok()`, the log checks of a queue and
//! `vq_meta_prefetch()`.

use super::{
    errno::Errno,
    iotlb::{
        Iotlb,
        Storage, //
    },
    log::log_access_ok,
    table::vq_memory_access_ok,
    translate::{
        iotlb_access_ok,
        AccessError,
        MetaCache,
        MetaType,
        VHOST_ACCESS_RO,
        VHOST_ACCESS_WO, //
    },
    vq_config::VqConfig,
};

/// `VHOST_VRING_F_LOG`: bit of `vhost_vring_addr.flags` asking for used
/// ring writes to be logged at `log_guest_addr`.
pub const VHOST_VRING_F_LOG: u32 = 0;
/// `VRING_AVAIL_ALIGN_SIZE`.
pub const VRING_AVAIL_ALIGN_SIZE: u64 = 2;
/// `VRING_USED_ALIGN_SIZE`, also required of `log_guest_addr`.
pub const VRING_USED_ALIGN_SIZE: u64 = 4;
/// `VRING_DESC_ALIGN_SIZE`. C does not check it for the descriptor table.
pub const VRING_DESC_ALIGN_SIZE: u64 = 16;

/// `struct vhost_vring_addr`, the argument of `VHOST_SET_VRING_ADDR`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VringAddr {
    /// Queue index.
    pub index: u32,
    /// `1 << VHOST_VRING_F_LOG` or 0.
    pub flags: u32,
    /// Descriptor table (split) or ring (packed).
    pub desc_user_addr: u64,
    /// Used ring (split) or device area (packed).
    pub used_user_addr: u64,
    /// Avail ring (split) or driver area (packed).
    pub avail_user_addr: u64,
    /// Guest address of the used ring, for the log.
    pub log_guest_addr: u64,
}

/// Sizes in bytes of the three ring structures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RingSizes {
    /// Descriptor table (`vhost_get_desc_size()`).
    pub desc: u64,
    /// Avail ring or driver area (`vhost_get_avail_size()`).
    pub avail: u64,
    /// Used ring or device area (`vhost_get_used_size()`).
    pub used: u64,
}

impl RingSizes {
    /// Split rings of `num` entries: 16 bytes a descriptor; avail
    /// `4 + 2 * num`, used `4 + 8 * num`, each 2 more with event index.
    pub const fn split(num: u32, event_idx: bool) -> Self {
        let num = num as u64;
        let event = if event_idx { 2 } else { 0 };
        Self {
            desc: 16 * num,
            avail: 4 + 2 * num + event,
            used: 4 + 8 * num + event,
        }
    }

    /// Packed ring of `num` descriptors and the two 4-byte event
    /// suppression areas.
    pub const fn packed(num: u32) -> Self {
        Self {
            desc: 16 * num as u64,
            avail: 4,
            used: 4,
        }
    }

    /// The sizes of `vq`'s rings for `num` entries.
    pub const fn of(vq: &VqConfig, num: u32) -> Self {
        if vq.packed() {
            Self::packed(num)
        } else {
            Self::split(num, vq.event_idx())
        }
    }
}

/// `vq_access_ok(vq, num, desc, avail, used)`. With an IOTLB the
/// addresses are IOVAs, checked at prefetch instead.
pub fn vq_access_ok<A: Fn(u64, u64) -> bool>(
    vq: &VqConfig,
    num: u32,
    desc: u64,
    avail: u64,
    used: u64,
    access_ok: &A,
) -> bool {
    if vq.iotlb {
        return true;
    }
    let sz = RingSizes::of(vq, num);
    access_ok(desc, sz.desc) && access_ok(avail, sz.avail) && access_ok(used, sz.used)
}

/// `vq_log_used_access_ok(vq, log_base, log_used, log_addr)`: the log
/// covers the used ring's guest address, sized for `vq.num`.
pub fn vq_log_used_access_ok<A: Fn(u64, u64) -> bool>(
    vq: &VqConfig,
    log_base: u64,
    log_used: bool,
    log_addr: u64,
    access_ok: &A,
) -> bool {
    // With an IOTLB, log_addr is an IOVA that log_used() never logs.
    if vq.iotlb {
        return true;
    }
    !log_used
        || log_access_ok(
            log_base,
            log_addr,
            RingSizes::of(vq, vq.num).used,
            access_ok,
        )
}

/// `vq_log_access_ok(vq, log_base)`: the memory table's user ranges (and,
/// with `VHOST_F_LOG_ALL`, their log bytes) and the used ring's log bytes.
pub fn vq_log_access_ok<S: Storage, A: Fn(u64, u64) -> bool>(
    vq: &VqConfig,
    umem: Option<&Iotlb<S>>,
    log_base: u64,
    access_ok: &A,
) -> bool {
    vq_memory_access_ok(log_base, umem, vq.log_all(), access_ok)
        && vq_log_used_access_ok(vq, log_base, vq.log_used, vq.log_addr, access_ok)
}

/// `vhost_vq_access_ok(vq)`: may the queue be started? Both devices
/// check it when a backend is set (`-EFAULT` if not).
pub fn vhost_vq_access_ok<S: Storage, A: Fn(u64, u64) -> bool>(
    vq: &VqConfig,
    umem: Option<&Iotlb<S>>,
    access_ok: &A,
) -> bool {
    vq_log_access_ok(vq, umem, vq.log_base, access_ok)
        && vq_access_ok(vq, vq.num, vq.desc, vq.avail, vq.used, access_ok)
}

/// `vhost_vq_is_setup(vq)`: addresses set and [`vhost_vq_access_ok`].
pub fn vhost_vq_is_setup<S: Storage, A: Fn(u64, u64) -> bool>(
    vq: &VqConfig,
    umem: Option<&Iotlb<S>>,
    access_ok: &A,
) -> bool {
    vq.avail != 0 && vq.desc != 0 && vq.used != 0 && vhost_vq_access_ok(vq, umem, access_ok)
}

/// `VHOST_SET_VRING_NUM` (`vhost_vring_set_num()`): `Busy` with a backend
/// (`active`), `Inval` unless `num` is a power of two up to `0xffff`. The
/// caller then sets `vq->num` and, whatever the result, resets the
/// [`MetaCache`].
pub fn check_vring_num(active: bool, num: u32) -> Result<(), Errno> {
    if active {
        return Err(Errno::Busy);
    }
    if num == 0 || num > 0xffff || num & (num - 1) != 0 {
        return Err(Errno::Inval);
    }
    Ok(())
}

/// `VHOST_SET_VRING_ADDR` (`vhost_vring_set_addr()`), after the copy from
/// userspace: unknown flags are `OpNotSupp`; a misaligned avail ring (2),
/// used ring (4) or `log_guest_addr` (4) is `Inval`; with a backend
/// (`active`), rings that [`vq_access_ok`] refuses or a used-ring log that
/// [`vq_log_used_access_ok`] refuses are `Inval`. The descriptor table's
/// alignment is not checked. On success the caller stores `log_used`,
/// the three addresses and `log_addr`; whatever the result it resets the
/// [`MetaCache`]. (C's check that the addresses fit an `unsigned long`
/// cannot fail on 64-bit.)
pub fn check_vring_addr<A: Fn(u64, u64) -> bool>(
    vq: &VqConfig,
    active: bool,
    a: &VringAddr,
    access_ok: &A,
) -> Result<(), Errno> {
    let log = 1u32 << VHOST_VRING_F_LOG;
    if a.flags & !log != 0 {
        return Err(Errno::OpNotSupp);
    }
    if a.avail_user_addr & (VRING_AVAIL_ALIGN_SIZE - 1) != 0
        || a.used_user_addr & (VRING_USED_ALIGN_SIZE - 1) != 0
        || a.log_guest_addr & (VRING_USED_ALIGN_SIZE - 1) != 0
    {
        return Err(Errno::Inval);
    }
    // Checked now only with a backend; otherwise when one is set.
    if active {
        if !vq_access_ok(
            vq,
            vq.num,
            a.desc_user_addr,
            a.avail_user_addr,
            a.used_user_addr,
            access_ok,
        ) {
            return Err(Errno::Inval);
        }
        if !vq_log_used_access_ok(
            vq,
            vq.log_base,
            a.flags & log != 0,
            a.log_guest_addr,
            access_ok,
        ) {
            return Err(Errno::Inval);
        }
    }
    Ok(())
}

/// `VHOST_SET_LOG_BASE` for one queue, with a backend if `active`:
/// whether `log_base` may be set. C sets it on every queue for which this
/// holds and returns `-EFAULT` if it failed for any (the others keep the
/// new base).
pub fn log_base_ok<S: Storage, A: Fn(u64, u64) -> bool>(
    vq: &VqConfig,
    active: bool,
    umem: Option<&Iotlb<S>>,
    log_base: u64,
    access_ok: &A,
) -> bool {
    // An inactive ring is checked when it is started.
    !active || vq_log_access_ok(vq, umem, log_base, access_ok)
}

/// What [`vq_meta_prefetch`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prefetch {
    /// The rings are reachable: handle the queue (C returns 1).
    Ready,
    /// No ring address is set (C returns 0).
    Unset,
    /// Queue a `VHOST_IOTLB_MISS` for `iova` and `perm`; the queue is
    /// handled again when the update comes (C returns 0).
    Miss {
        /// The IOVA to report.
        iova: u64,
        /// The access to report.
        perm: u8,
    },
    /// An IOTLB entry lacks the access (C returns 0).
    Denied,
}

/// `vq_meta_prefetch(vq)`: with an IOTLB (`iotlb`), checks the descriptor
/// table and avail ring for reading and the used ring for writing, in that
/// order, caching the entries in `cache`.
pub fn vq_meta_prefetch<S: Storage>(
    vq: &VqConfig,
    iotlb: Option<&Iotlb<S>>,
    cache: &mut MetaCache,
) -> Prefetch {
    // The three are cleared together; one zero may be a valid IOVA.
    if vq.desc == 0 && vq.avail == 0 && vq.used == 0 {
        return Prefetch::Unset;
    }
    let Some(tlb) = iotlb else {
        return Prefetch::Ready;
    };
    let sz = RingSizes::of(vq, vq.num);
    let rings = [
        (VHOST_ACCESS_RO, vq.desc, sz.desc, MetaType::Desc),
        (VHOST_ACCESS_RO, vq.avail, sz.avail, MetaType::Avail),
        (VHOST_ACCESS_WO, vq.used, sz.used, MetaType::Used),
    ];
    for (access, addr, len, ty) in rings {
        match iotlb_access_ok(tlb, cache, access, addr, len, ty) {
            Ok(()) => {}
            Err(AccessError::Miss { iova, perm }) => return Prefetch::Miss { iova, perm },
            Err(AccessError::Denied) => return Prefetch::Denied,
        }
    }
    Prefetch::Ready
}
