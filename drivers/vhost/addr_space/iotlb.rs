// SPDX-License-Identifier: GPL-2.0

//! `struct vhost_iotlb` (`drivers/vhost/iotlb.c`): the table that both the
//! memory table (guest physical addresses) and the device IOTLB (IOVAs) are.
//!
//! C keeps the entries in an interval tree, ordered by start and, for equal
//! starts, by insertion, and in a list in insertion order. Overlapping
//! entries are accepted; a lookup returns the first entry in tree order
//! whose last byte is at or after the start of the range asked for, if it
//! begins at or before the range's last byte (`vhost_iotlb_itree_first()`).
//! This table gives the same answers with one array of [`Slot`]s: slot `i`
//! holds entry `i` in insertion order, and the tree order is kept in the
//! slots as a permutation with the running maximum of `last`, which makes
//! the lookup a binary search. Changes are O(n), lookups O(log n).

use core::ops::DerefMut;

use super::errno::Errno;

/// Entry permission: the device may read (`VHOST_MAP_RO`, `VHOST_ACCESS_RO`).
pub const VHOST_MAP_RO: u8 = 0x1;
/// Entry permission: the device may write (`VHOST_MAP_WO`, `VHOST_ACCESS_WO`).
pub const VHOST_MAP_WO: u8 = 0x2;
/// Entry permission: both (`VHOST_MAP_RW`, `VHOST_ACCESS_RW`).
pub const VHOST_MAP_RW: u8 = 0x3;

/// `VHOST_IOTLB_FLAG_RETIRE`: when full, an insertion drops the oldest entry.
pub const VHOST_IOTLB_FLAG_RETIRE: u32 = 0x1;

/// Default of the `max_iotlb_entries` module parameter of `vhost.ko`.
pub const DEFAULT_MAX_IOTLB_ENTRIES: i32 = 2048;

/// One entry (`struct vhost_iotlb_map`): `start..=last` maps to `addr`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Map {
    /// First address mapped.
    pub start: u64,
    /// Last address mapped (inclusive).
    pub last: u64,
    /// Userspace address of `start`.
    pub addr: u64,
    /// `VHOST_MAP_*` bits as given (any value is stored).
    pub perm: u8,
}

impl Map {
    /// `map->size`. Never 0: `0..=u64::MAX` is stored as two entries.
    pub const fn size(&self) -> u64 {
        self.last.wrapping_sub(self.start).wrapping_add(1)
    }

    /// The userspace address of `addr` (`map->addr + addr - map->start`).
    pub const fn uaddr(&self, addr: u64) -> u64 {
        self.addr.wrapping_add(addr).wrapping_sub(self.start)
    }

    /// The address of userspace address `uaddr` (`u->start + uaddr - u->addr`).
    pub const fn uaddr_to_gpa(&self, uaddr: u64) -> u64 {
        self.start.wrapping_add(uaddr).wrapping_sub(self.addr)
    }
}

/// A lookup remembered: for every `start` in `lo..=hi`, [`Iotlb::first`]
/// looks at `map` (its binary search ends at the same position), whatever
/// the entries overlap. Valid until the table changes: a queue keeps one
/// for a handler run, under the locks that keep the table as it is, so
/// that buffers next to each other cost no search ([`Probe::translate`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Probe {
    pub(super) map: Map,
    pub(super) lo: u64,
    pub(super) hi: u64,
}

/// One element of a table's storage. Opaque: the storage only holds them.
#[derive(Clone, Copy, Debug, Default)]
pub struct Slot {
    /// Entry in insertion order.
    map: Map,
    /// Insertion index of the entry at this position in tree order.
    pos: u32,
    /// Largest `last` of the entries at this and earlier tree positions.
    max_last: u64,
}

/// Allocation failure of a [`Storage`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NoMem;

/// The memory a table lives in: `KVVec<Slot>` in the kernel, `Vec<Slot>`
/// on the host. A table grows by one slot per entry, up to its limit.
pub trait Storage: DerefMut<Target = [Slot]> {
    /// Appends `slot`. May allocate; fails with [`NoMem`] if it cannot.
    fn push_slot(&mut self, slot: Slot) -> Result<(), NoMem>;
    /// Drops the last slot.
    fn pop_slot(&mut self);
}

/// Which table this is, which decides what an unmapped address means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The memory table (`dev->umem`): unmapped is `-EFAULT`.
    Umem,
    /// The device IOTLB (`dev->iotlb`): unmapped is a miss, reported to
    /// userspace, and `-EAGAIN`.
    Iotlb,
}

/// A vhost IOTLB: the memory table or the device IOTLB.
///
/// # Invariants
///
/// `slots.len()` entries; the `pos` fields of all slots are a permutation of
/// `0..len` listing the entries by `(start, insertion index)`, and each
/// `max_last` is the running maximum of `last` in that order.
pub struct Iotlb<S> {
    slots: S,
    limit: u32,
    flags: u32,
    kind: Kind,
}

impl<S: Storage> Iotlb<S> {
    /// `vhost_iotlb_alloc(limit, VHOST_IOTLB_FLAG_RETIRE)`, what vhost uses
    /// for both tables (`iotlb_alloc()`), in `slots` (emptied first).
    pub fn new(slots: S, kind: Kind, limit: u32) -> Self {
        Self::with_flags(slots, kind, limit, VHOST_IOTLB_FLAG_RETIRE)
    }

    /// `vhost_iotlb_init(limit, flags)`.
    pub fn with_flags(mut slots: S, kind: Kind, limit: u32, flags: u32) -> Self {
        while !slots.is_empty() {
            slots.pop_slot();
        }
        Self {
            slots,
            limit,
            flags,
            kind,
        }
    }

    /// Number of entries (`nmaps`).
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// No entries.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Most entries (`limit`).
    pub fn limit(&self) -> u32 {
        self.limit
    }

    /// Memory table or device IOTLB.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Gives the storage back.
    pub fn into_storage(self) -> S {
        self.slots
    }

    /// The entries in insertion order (C's `iotlb->list`).
    pub fn maps(&self) -> impl Iterator<Item = &Map> + '_ {
        self.slots.iter().map(|s| &s.map)
    }

    /// The entries in tree order: by start, then insertion.
    pub fn sorted(&self) -> impl Iterator<Item = &Map> + '_ {
        (0..self.len()).filter_map(move |p| self.at(p))
    }

    /// The entry at tree position `p`.
    fn at(&self, p: usize) -> Option<&Map> {
        let i = self.slots.get(p)?.pos as usize;
        self.slots.get(i).map(|s| &s.map)
    }

    /// `vhost_iotlb_itree_first(start, last)`: the first entry in tree
    /// order that ends at or after `start`, if it begins at or before
    /// `last`. `last < start` is not special, as in C.
    pub fn first(&self, start: u64, last: u64) -> Option<&Map> {
        let p = self.slots.partition_point(|s| s.max_last < start);
        self.at(p).filter(|m| m.start <= last)
    }

    /// What [`Iotlb::first`] looks at for a range starting at `start`, and
    /// every start it would look at the same entry for (see [`Probe`]).
    /// `None` if no entry ends at or after `start`.
    pub fn probe(&self, start: u64) -> Option<Probe> {
        let p = self.slots.partition_point(|s| s.max_last < start);
        let map = *self.at(p)?;
        let hi = self.slots.get(p)?.max_last;
        // Below `p`, every entry ends before `start`: no overflow.
        let lo = match p.checked_sub(1).and_then(|q| self.slots.get(q)) {
            Some(s) => s.max_last + 1,
            None => 0,
        };
        Some(Probe { map, lo, hi })
    }

    /// The entry that translates `addr` (C: `itree_first(addr, last)`
    /// followed by `map->start > addr` is a miss), as `translate_desc()`
    /// would find it for a range `addr..=last`.
    pub fn lookup(&self, addr: u64, last: u64) -> Option<&Map> {
        self.first(addr, last).filter(|m| m.start <= addr)
    }

    /// `vhost_iotlb_add_range(start, last, addr, perm)`.
    ///
    /// `Fault` if `last < start`, `Inval` for a zero limit, `NoSpc` when
    /// full without `VHOST_IOTLB_FLAG_RETIRE` (or `0..=u64::MAX` with a
    /// limit below 2), `NoMem` if the storage cannot grow. When full with
    /// `RETIRE`, the oldest entry is dropped and its slot reused.
    /// `0..=u64::MAX` is added as two halves, each of these rules applying
    /// to each half (a failure of the second leaves the first in place).
    pub fn add_range(
        &mut self,
        mut start: u64,
        last: u64,
        mut addr: u64,
        perm: u8,
    ) -> Result<(), Errno> {
        if last < start {
            return Err(Errno::Fault);
        }
        if self.limit == 0 {
            return Err(Errno::Inval);
        }
        // A size that would overflow u64: split in two.
        if start == 0 && last == u64::MAX {
            let mid = last / 2;
            if self.limit < 2 {
                return Err(Errno::NoSpc);
            }
            if !self.retire() && self.len() as u64 > u64::from(self.limit) - 2 {
                return Err(Errno::NoSpc);
            }
            self.insert(Map {
                start,
                last: mid,
                addr,
                perm,
            })?;
            addr = addr.wrapping_add(mid + 1);
            start = mid + 1;
        }
        self.insert(Map {
            start,
            last,
            addr,
            perm,
        })
    }

    /// `vhost_iotlb_del_range(start, last)`: drops, whole, every entry that
    /// `vhost_iotlb_itree_first(start, last)` finds, until it finds none,
    /// that is every entry with `last >= start` and `start <= last`.
    pub fn del_range(&mut self, start: u64, last: u64) {
        let kept = self.compact(|m| m.last >= start && m.start <= last);
        while self.slots.len() > kept {
            self.slots.pop_slot();
        }
    }

    /// `vhost_iotlb_reset()`: drops every entry.
    pub fn reset(&mut self) {
        self.del_range(0, u64::MAX);
    }

    fn retire(&self) -> bool {
        self.flags & VHOST_IOTLB_FLAG_RETIRE != 0
    }

    fn insert(&mut self, map: Map) -> Result<(), Errno> {
        let slot = Slot {
            map,
            pos: 0,
            max_last: 0,
        };
        if self.len() as u64 >= u64::from(self.limit) {
            if !self.retire() {
                return Err(Errno::NoSpc);
            }
            // The list head goes; its slot is the last one after compaction.
            let mut first = true;
            let kept = self.compact(|_| core::mem::take(&mut first));
            if let Some(s) = self.slots.get_mut(kept) {
                *s = slot;
            }
        } else {
            self.slots.push_slot(slot).map_err(|NoMem| Errno::NoMem)?;
        }
        self.link_last();
        Ok(())
    }

    /// Inserts the entry in the last slot into the tree order, after every
    /// entry with the same start, as the interval tree does.
    fn link_last(&mut self) {
        let Some(n) = self.slots.len().checked_sub(1) else {
            return;
        };
        let start = self.slots.get(n).map_or(0, |s| s.map.start);
        let (mut lo, mut hi) = (0, n);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.at(mid).is_some_and(|m| m.start <= start) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        let mut carry = n as u32;
        if let Some(tail) = self.slots.get_mut(lo..) {
            for s in tail {
                core::mem::swap(&mut s.pos, &mut carry);
            }
        }
        self.fix_max(lo, n + 1);
    }

    /// Recomputes `max_last` of tree positions `from..end`.
    fn fix_max(&mut self, from: usize, end: usize) {
        let mut max = match from.checked_sub(1) {
            Some(p) => self.slots.get(p).map_or(0, |s| s.max_last),
            None => 0,
        };
        for p in from..end {
            let last = self.at(p).map_or(0, |m| m.last);
            max = max.max(last);
            if let Some(s) = self.slots.get_mut(p) {
                s.max_last = max;
            }
        }
    }

    /// Removes the entries `drop` picks (called once per entry, in
    /// insertion order), keeping both orders. Returns the number kept; the
    /// slots from there on are left over for the caller.
    fn compact(&mut self, mut drop: impl FnMut(&Map) -> bool) -> usize {
        const GONE: u64 = u64::MAX;
        let n = self.slots.len();
        // New insertion index of each entry, in `max_last` meanwhile.
        let mut kept = 0u64;
        for s in self.slots.iter_mut() {
            if drop(&s.map) {
                s.max_last = GONE;
            } else {
                s.max_last = kept;
                kept += 1;
            }
        }
        if kept == n as u64 {
            self.fix_max(0, n);
            return n;
        }
        let mut w = 0;
        for p in 0..n {
            let old = self.slots.get(p).map_or(0, |s| s.pos as usize);
            let new = self.slots.get(old).map_or(GONE, |s| s.max_last);
            if new != GONE {
                if let Some(s) = self.slots.get_mut(w) {
                    s.pos = new as u32;
                }
                w += 1;
            }
        }
        for i in 0..n {
            let Some(&Slot { map, max_last, .. }) = self.slots.get(i) else {
                break;
            };
            if max_last != GONE {
                if let Some(s) = self.slots.get_mut(max_last as usize) {
                    s.map = map;
                }
            }
        }
        self.fix_max(0, w);
        w
    }
}
