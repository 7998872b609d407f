// SPDX-License-Identifier: GPL-2.0

//! Address translation: `translate_desc()`, `iotlb_access_ok()` and the
//! per-queue cache of ring translations (`vq->meta_iotlb[]`).

use super::{
    errno::Errno,
    iotlb::{
        Iotlb,
        Kind,
        Map,
        Probe,
        Storage,
        VHOST_MAP_RO,
        VHOST_MAP_WO, //
    },
};

/// Access asked for: read (`VHOST_ACCESS_RO`).
pub const VHOST_ACCESS_RO: u8 = 0x1;
/// Access asked for: write (`VHOST_ACCESS_WO`).
pub const VHOST_ACCESS_WO: u8 = 0x2;
/// Access asked for: both (`VHOST_ACCESS_RW`).
pub const VHOST_ACCESS_RW: u8 = 0x3;

/// One translated piece (a `struct iovec`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seg {
    /// Userspace address.
    pub addr: u64,
    /// Length in bytes.
    pub len: u64,
}

/// Why a translation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TranslateError {
    /// More pieces than the caller allowed (`-ENOBUFS`).
    NoBufs,
    /// Memory table: nothing maps `addr` (`-EFAULT`).
    Unmapped {
        /// The first address not mapped.
        addr: u64,
    },
    /// Device IOTLB: nothing maps `iova`. The caller queues a
    /// `VHOST_IOTLB_MISS` message with this `iova` and `perm`
    /// (`vhost_iotlb_miss()`), and fails with `-EAGAIN`.
    Miss {
        /// The IOVA to report.
        iova: u64,
        /// The access to report (`VHOST_ACCESS_*`).
        perm: u8,
    },
    /// The entry at `addr` lacks the access asked for (`-EPERM`).
    Perm {
        /// The address.
        addr: u64,
    },
}

impl TranslateError {
    /// The errno `translate_desc()` returns.
    pub const fn errno(self) -> Errno {
        match self {
            Self::NoBufs => Errno::NoBufs,
            Self::Unmapped { .. } => Errno::Fault,
            Self::Miss { .. } => Errno::Again,
            Self::Perm { .. } => Errno::Perm,
        }
    }
}

/// The pieces of a translation, one per entry crossed, as
/// `translate_desc()` fills its `iovec` array. Ends after the last piece or
/// after the first error.
///
/// The arithmetic wraps as in C: the range `addr..addr + len` is looked up
/// with `last = addr + len - 1`, so a range that wraps the address space
/// is not mapped, and a piece may be longer than what is left of the range
/// (only its `len` is clamped).
pub struct Translate<'a, S> {
    tlb: &'a Iotlb<S>,
    addr: u64,
    last: u64,
    len: u64,
    done: u64,
    segs: usize,
    max_segs: usize,
    access: u8,
    end: bool,
}

impl<S: Storage> Iterator for Translate<'_, S> {
    type Item = Result<Seg, TranslateError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.end || self.len <= self.done {
            return None;
        }
        let r = self.step();
        self.end = r.is_err();
        Some(r)
    }
}

impl<S: Storage> Translate<'_, S> {
    fn step(&mut self) -> Result<Seg, TranslateError> {
        if self.segs >= self.max_segs {
            return Err(TranslateError::NoBufs);
        }
        let Some(map) = self.tlb.lookup(self.addr, self.last) else {
            return Err(match self.tlb.kind() {
                Kind::Umem => TranslateError::Unmapped { addr: self.addr },
                Kind::Iotlb => TranslateError::Miss {
                    iova: self.addr,
                    perm: self.access,
                },
            });
        };
        if map.perm & self.access == 0 {
            return Err(TranslateError::Perm { addr: self.addr });
        }
        let size = map.size().wrapping_sub(self.addr).wrapping_add(map.start);
        let seg = Seg {
            addr: map.uaddr(self.addr),
            len: (self.len - self.done).min(size),
        };
        self.done = self.done.wrapping_add(size);
        self.addr = self.addr.wrapping_add(size);
        self.segs += 1;
        Ok(seg)
    }
}

impl<S: Storage> Iotlb<S> {
    /// `translate_desc(addr, len, iov, max_segs, access)`: the userspace
    /// pieces of `addr..addr + len`, at most `max_segs` of them.
    pub fn translate(&self, addr: u64, len: u64, access: u8, max_segs: usize) -> Translate<'_, S> {
        Translate {
            tlb: self,
            addr,
            last: addr.wrapping_add(len).wrapping_sub(1),
            len,
            done: 0,
            segs: 0,
            max_segs,
            access,
            end: false,
        }
    }

    /// [`Iotlb::translate`] into `out`, as C fills `iov[]`: the number of
    /// pieces, or the error.
    pub fn translate_into(
        &self,
        addr: u64,
        len: u64,
        access: u8,
        out: &mut [Seg],
    ) -> Result<usize, TranslateError> {
        let mut n = 0;
        // At most `out.len()` pieces: the next one is NoBufs.
        for seg in self.translate(addr, len, access, out.len()) {
            let seg = seg?;
            if let Some(slot) = out.get_mut(n) {
                *slot = seg;
            }
            n += 1;
        }
        Ok(n)
    }
}

impl Probe {
    /// [`Iotlb::translate`] of `addr..addr + len` with room for a piece,
    /// when this probe answers it: the whole range in the probed entry,
    /// with `access`. The translation is then that one piece, which is
    /// returned. `None`: translate the slow way (which may still succeed).
    #[inline]
    pub fn translate(&self, addr: u64, len: u64, access: u8) -> Option<Seg> {
        let last = addr.checked_add(len.checked_sub(1)?)?;
        let map = &self.map;
        // `first(addr, last)` is `map`, which `lookup()` keeps as it
        // starts at or before `addr`; one piece as it ends at or after
        // `last`.
        let holds = self.lo <= addr && addr <= self.hi && map.start <= addr && last <= map.last;
        (holds && map.perm & access != 0).then(|| Seg {
            addr: map.uaddr(addr),
            len,
        })
    }
}

impl<S: Storage> Iotlb<S> {
    /// `__vhost_get_user_slow(addr, size)`: [`Iotlb::translate`] into
    /// `vq->iotlb_iov` (64 pieces), then the userspace address if that is
    /// one piece of `size` bytes. `Ok(None)` is C's "Non atomic userspace
    /// memory access", `-EFAULT` like a translation error (after which C
    /// has reported a miss for a [`TranslateError::Miss`]).
    pub fn translate_one(
        &self,
        addr: u64,
        size: u64,
        access: u8,
    ) -> Result<Option<u64>, TranslateError> {
        let (mut first, mut n) = (None, 0);
        for seg in self.translate(addr, size, access, IOTLB_IOV) {
            let seg = seg?;
            first = first.or(Some(seg));
            n += 1;
        }
        Ok(first.filter(|s| n == 1 && s.len == size).map(|s| s.addr))
    }
}

/// `ARRAY_SIZE(vq->iotlb_iov)`.
const IOTLB_IOV: usize = 64;

/// The ring structure a cached translation is for (`VHOST_ADDR_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetaType {
    /// `VHOST_ADDR_DESC`: the descriptor table, read.
    Desc = 0,
    /// `VHOST_ADDR_AVAIL`: the avail ring, read.
    Avail = 1,
    /// `VHOST_ADDR_USED`: the used ring, written.
    Used = 2,
}

/// `vq->meta_iotlb[]`: the IOTLB entry found to cover each whole ring
/// structure by the last prefetch. A copy, valid until the IOTLB or the
/// ring addresses change: the owner calls [`MetaCache::reset`] wherever C
/// calls `__vhost_vq_meta_reset()` / `vhost_vq_meta_reset()`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MetaCache {
    maps: [Option<Map>; 3],
}

impl MetaCache {
    /// Forgets every entry.
    pub fn reset(&mut self) {
        *self = Self::default();
    }

    /// `vhost_vq_meta_fetch(addr, ty)`: the userspace address of `addr` by
    /// the cached entry, which C does not check against `addr`.
    pub fn fetch(&self, ty: MetaType, addr: u64) -> Option<u64> {
        self.get(ty).map(|m| m.uaddr(addr))
    }

    /// The cached entry.
    pub fn get(&self, ty: MetaType) -> Option<&Map> {
        self.maps.get(ty as usize)?.as_ref()
    }

    /// `vhost_vq_meta_update()`.
    fn update(&mut self, ty: MetaType, map: &Map) {
        let access = if ty == MetaType::Used {
            VHOST_MAP_WO
        } else {
            VHOST_MAP_RO
        };
        if map.perm & access != 0 {
            if let Some(m) = self.maps.get_mut(ty as usize) {
                *m = Some(*map);
            }
        }
    }
}

/// Why [`iotlb_access_ok`] said no.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessError {
    /// Not in the IOTLB: queue a `VHOST_IOTLB_MISS` for `iova` and `perm`.
    Miss {
        /// The IOVA to report.
        iova: u64,
        /// The access to report.
        perm: u8,
    },
    /// An entry lacks the access (no miss is reported).
    Denied,
}

/// `iotlb_access_ok(vq, access, addr, len, ty)`: whether the device IOTLB
/// maps `addr..addr + len` with `access`, caching the entry in `cache` when
/// one entry covers it all.
pub fn iotlb_access_ok<S: Storage>(
    tlb: &Iotlb<S>,
    cache: &mut MetaCache,
    access: u8,
    addr: u64,
    len: u64,
    ty: MetaType,
) -> Result<(), AccessError> {
    if cache.fetch(ty, addr).is_some() {
        return Ok(());
    }
    let last = addr.wrapping_add(len).wrapping_sub(1);
    let (mut s, mut a) = (0u64, addr);
    while len > s {
        let Some(map) = tlb.lookup(a, last) else {
            return Err(AccessError::Miss {
                iova: a,
                perm: access,
            });
        };
        if map.perm & access == 0 {
            return Err(AccessError::Denied);
        }
        let size = map.size().wrapping_sub(a).wrapping_add(map.start);
        if a == addr && size >= len {
            cache.update(ty, map);
        }
        // C's `s` wraps only for an entry reaching the end of the address
        // space from `addr == 0` with `len` past it, which the IOTLB
        // cannot hold (`umem_access_ok()`); C would loop on, we stop.
        let Some(ns) = s.checked_add(size) else {
            return Ok(());
        };
        s = ns;
        a = a.wrapping_add(size);
    }
    Ok(())
}
