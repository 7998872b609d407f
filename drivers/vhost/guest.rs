// SPDX-License-Identifier: GPL-2.0

//! Guest memory as the kernel reaches it: through the owner's address space.
//!
//! Ring structures are at the userspace addresses `VHOST_SET_VRING_ADDR`
//! gave; buffers and indirect tables at guest physical addresses, which the
//! memory table turns into userspace addresses (`translate_desc()`). With
//! `VIRTIO_F_ACCESS_PLATFORM` all of them are I/O addresses the device
//! IOTLB translates, rings through what the last prefetch cached
//! (`vhost_vq_meta_fetch()`). Every translation and every dirty-log bit is
//! the host-tested code of `addr_space`; this file only copies and orders.
//! Every access is a `copy_{from,to}_user()` of the owner's memory: the
//! worker runs in the owner's mm, and so do the ioctls.

use crate::{
    addr_space::{
        self,
        MetaCache,
        MetaType,
        TranslateError, //
    },
    iotlb::{
        Iotlb,
        ACCESS_RO,
        ACCESS_WO, //
    },
    ring::{
        Fault,
        GuestMemory,
        Space, //
    },
    rvhost::{
        dirty,
        socket::iov::UserIovec,
        user, //
    },
    umem::{
        Slots,
        Table, //
    },
};
use core::cell::Cell;
use kernel::{
    prelude::*,
    sync::barrier,
    uaccess::{
        UserPtr,
        UserSlice, //
    },
};

/// Where the dirty log goes, while `VHOST_F_LOG_ALL` or `VHOST_VRING_F_LOG`
/// is on.
#[derive(Clone, Copy)]
pub(crate) struct Log {
    /// `VHOST_SET_LOG_BASE`.
    pub(crate) base: u64,
    /// `VHOST_F_LOG_ALL`: buffers the device writes are logged.
    pub(crate) all: bool,
    /// Used ring (split) or device area (packed): ring address, size, and
    /// the guest address to log it at (`VHOST_VRING_F_LOG`); `None` when
    /// the rings are not logged.
    pub(crate) used: Option<(u64, u64, u64)>,
    /// Packed ring with `VHOST_VRING_F_LOG`: the descriptor ring (address,
    /// size), where the device writes used descriptors. C has no packed
    /// ring; the write is logged at the guest page behind the host address
    /// written, through the memory table (`log_write_hva()`), which needs
    /// no guest address from userspace.
    pub(crate) desc: Option<(u64, u64)>,
}

/// The ring areas of a queue with an IOTLB, and the translations its last
/// prefetch cached for them (`vq->meta_iotlb[]`).
#[derive(Clone, Copy)]
pub(crate) struct Rings<'a> {
    /// Descriptor, avail (driver area) and used (device area) address and
    /// size, in [`MetaType`] order.
    pub(crate) areas: [(u64, u64); 3],
    pub(crate) meta: &'a MetaCache,
}

impl Rings<'_> {
    /// The cached user address of ring address `addr`, if a whole area
    /// holds `[addr, addr + len)` and its translation is cached with the
    /// access a write needs (C checks the access once, at prefetch: the
    /// descriptor ring is cached for reading, and only the packed ring
    /// writes it).
    fn fetch(&self, addr: u64, len: u64, write: bool) -> Option<u64> {
        const TYPES: [MetaType; 3] = [MetaType::Desc, MetaType::Avail, MetaType::Used];
        for (ty, &(start, size)) in TYPES.into_iter().zip(self.areas.iter()) {
            let off = addr.wrapping_sub(start);
            if off >= size || len > size - off {
                continue;
            }
            let map = self.meta.get(ty)?;
            if write && map.perm & addr_space::VHOST_MAP_WO == 0 {
                return None;
            }
            return Some(map.uaddr(addr));
        }
        None
    }
}

/// A queue's view of guest memory.
pub(crate) struct Guest<'a> {
    umem: Option<&'a Table>,
    /// With `VIRTIO_F_ACCESS_PLATFORM`, every address is an I/O address
    /// this translates.
    tlb: Option<&'a Iotlb>,
    rings: Option<Rings<'a>>,
    log: Option<Log>,
    logged: Cell<bool>,
    /// The last IOTLB miss met: address and access, for userspace.
    miss: Cell<Option<(u64, u8)>>,
    /// A ring area missed past the prefetch: C's `vq_err()` too.
    ring_miss: Cell<bool>,
    /// The last buffer's lookup in [`Guest::table`], which the next
    /// buffer mostly repeats (the view lives for one handler run, under
    /// the locks that keep the table as it is).
    probe: Cell<Option<addr_space::Probe>>,
}

impl<'a> Guest<'a> {
    pub(crate) fn new(
        umem: Option<&'a Table>,
        tlb: Option<&'a Iotlb>,
        rings: Option<Rings<'a>>,
        log: Option<Log>,
    ) -> Self {
        Self {
            umem,
            tlb,
            rings,
            log,
            logged: Cell::new(false),
            miss: Cell::new(None),
            ring_miss: Cell::new(false),
            probe: Cell::new(None),
        }
    }

    /// The IOTLB, if addresses are I/O addresses.
    pub(crate) fn tlb(&self) -> Option<&'a Iotlb> {
        self.tlb
    }

    /// The IOTLB miss to report to userspace, if any.
    pub(crate) fn miss(&self) -> Option<(u64, u8)> {
        self.miss.get()
    }

    /// Whether a ring area (descriptor table, driver or device area) was
    /// not in the IOTLB when read or written: the prefetch that starts a
    /// run saw it there, so it went away since, or it is the other
    /// queue's. C's `vhost_copy_from_user()`/`__vhost_get_user_slow()`
    /// report that on the error eventfd as well as asking for it;
    /// indirect tables and buffers are only asked for.
    pub(crate) fn ring_missed(&self) -> bool {
        self.ring_miss.get()
    }

    /// Notes a miss on a ring area, for [`Guest::ring_missed`].
    fn ring_fault(&self, r: Result<(), Fault>) -> Result<(), Fault> {
        if r == Err(Fault::Miss) {
            self.ring_miss.set(true);
        }
        r
    }

    /// Records a miss for userspace; the last one met is reported. That
    /// is the one the handler stopped on: a miss met earlier, reading
    /// chains ahead, is met again when its chain is reached, and must not
    /// hide the one that keeps the chain before it waiting (C reports
    /// every miss, and reads no chain ahead).
    pub(crate) fn record_miss(&self, iova: u64, perm: u8) {
        self.miss.set(Some((iova, perm)));
    }

    /// What translates addresses: the IOTLB, else the memory table.
    fn table(&self) -> Option<&'a addr_space::Iotlb<Slots>> {
        match self.tlb {
            Some(tlb) => Some(tlb.map()),
            None => self.umem.map(Table::map),
        }
    }

    /// The fault a translation error is, a miss recorded for userspace.
    fn fault(&self, e: TranslateError) -> Fault {
        match e {
            TranslateError::Miss { iova, perm } => {
                self.record_miss(iova, perm);
                Fault::Miss
            }
            _ => Fault::Unmapped,
        }
    }

    /// Calls `f` with each (user address, length) piece of `[addr, addr +
    /// len)`, at most `max` pieces (`translate_desc()`).
    fn pieces(
        &self,
        addr: u64,
        len: u64,
        access: u8,
        max: usize,
        mut f: impl FnMut(u64, u64) -> Result<(), Fault>,
    ) -> Result<(), Fault> {
        let table = self.table().ok_or(Fault::Unmapped)?;
        for seg in table.translate(addr, len, access, max) {
            let seg = seg.map_err(|e| self.fault(e))?;
            f(seg.addr, seg.len)?;
        }
        Ok(())
    }

    /// `translate_desc()`: appends the user pieces of a buffer to `iov`,
    /// which holds at most `max`.
    pub(crate) fn translate(
        &self,
        gpa: u64,
        len: u32,
        access: u8,
        iov: &mut KVec<UserIovec>,
        max: usize,
    ) -> Result<(), Fault> {
        let room = max.saturating_sub(iov.len());
        let mut push = |uaddr: u64, n: u64| {
            let v = UserIovec {
                base: uaddr as usize,
                len: n as usize,
            };
            // The handlers allocate `max` pieces up front: no allocation
            // per piece.
            match iov.push_within_capacity(v) {
                Ok(()) => Ok(()),
                Err(_) => iov.push(v, GFP_KERNEL).map_err(|_| Fault::Unmapped),
            }
        };
        let len = u64::from(len);
        let probed = || self.probe.get()?.translate(gpa, len, access);
        if room > 0 {
            if let Some(seg) = probed() {
                return push(seg.addr, seg.len);
            }
            if let Some(table) = self.table() {
                self.probe.set(table.probe(gpa));
                if let Some(seg) = probed() {
                    return push(seg.addr, seg.len);
                }
            }
        }
        self.pieces(gpa, len, access, room, push)
    }

    /// Whether buffers the device writes are logged (`VHOST_F_LOG_ALL`).
    pub(crate) fn logs_data(&self) -> bool {
        self.log.is_some_and(|l| l.all)
    }

    /// Whether the dirty log takes the host addresses written rather than
    /// guest addresses: with an IOTLB, descriptors hold I/O addresses,
    /// which the log does not index (C: `vhost_log_write()` with
    /// `vq->iotlb` logs the iovecs through `log_write_hva()`).
    pub(crate) fn logs_by_host_address(&self) -> bool {
        self.tlb.is_some()
    }

    /// Whether anything was logged through this view.
    pub(crate) fn logged(&self) -> bool {
        self.logged.get()
    }

    /// A log bit that cannot be set does not fail the write it logs: C
    /// looks at no result of `log_used()` or `vhost_log_write()`, and the
    /// guest's ring must not break because the VMM's bitmap did.
    fn log_ignoring_faults<E>(&self, r: Result<(), E>) {
        if r.is_err() {
            pr_debug!("rvhost: a dirty log bit could not be set\n");
        }
    }

    /// Sets one log bit (`set_bit_to_user()`).
    fn set_bit(&self, b: addr_space::LogBit) -> Result<(), Fault> {
        let addr = usize::try_from(b.addr).map_err(|_| Fault::Unmapped)?;
        dirty::set_bit_to_user(u64::from(b.bit), addr).map_err(|_| Fault::Unmapped)?;
        self.logged.set(true);
        Ok(())
    }

    /// `vhost_log_write()` after a receive: the device wrote `len` bytes
    /// into the buffers `ranges`, which [`Self::logs_by_host_address`] says
    /// how to read. Guest ranges are logged up to `len`; host ranges whole,
    /// through the memory table, as C does with an IOTLB.
    pub(crate) fn log_received(&self, ranges: &[(u64, u64)], len: u64) {
        let Some(log) = self.log.filter(|l| l.all) else {
            return;
        };
        // The data is seen before its log bits.
        barrier::smp_wmb();
        let mut set = |b| self.set_bit(b);
        let ranges = ranges.iter().copied();
        if self.logs_by_host_address() {
            if let Some(umem) = self.umem {
                let r = addr_space::log_write_iovs(umem.map(), log.base, ranges, &mut set);
                self.log_ignoring_faults(r);
            }
        } else {
            let r = addr_space::log_write_descs(log.base, ranges, len, &mut set);
            self.log_ignoring_faults(r);
        }
    }

    /// Logs a device write of `len` bytes at host address `uaddr`
    /// (`log_write_hva()`).
    fn log_hva(&self, base: u64, uaddr: u64, len: u64) {
        if let Some(umem) = self.umem {
            let r =
                addr_space::log_write_hva(umem.map(), base, uaddr, len, &mut |b| self.set_bit(b));
            self.log_ignoring_faults(r);
        }
    }

    /// Logs a write to the ring structures at ring address `addr`: the used
    /// ring (device area) at its log address (`log_used()`), the packed
    /// descriptor ring by host address; only with `VHOST_VRING_F_LOG`.
    /// `pieces` are the host ranges written.
    fn log_ring(&self, addr: u64, len: u64, pieces: &[(u64, u64)]) {
        let Some(log) = self.log else {
            return;
        };
        // Order the write before its log bit (C: smp_wmb() in log_used()).
        barrier::smp_wmb();
        if let Some((desc, size)) = log.desc {
            if addr.wrapping_sub(desc) < size {
                for &(uaddr, n) in pieces {
                    self.log_hva(log.base, uaddr, n);
                }
                return;
            }
        }
        let Some((used, size, log_addr)) = log.used else {
            return;
        };
        let off = addr.wrapping_sub(used);
        if off >= size {
            return;
        }
        let mut set = |b| self.set_bit(b);
        let r = match self.umem {
            Some(umem) => addr_space::log_used(
                self.tlb.map(Iotlb::map),
                umem.map(),
                log.base,
                log_addr,
                used,
                off,
                len,
                &mut set,
            ),
            // No memory table: only a log address can say where.
            None => addr_space::log_write(log.base, log_addr.wrapping_add(off), len, &mut set)
                .map_err(addr_space::LogError::SetBit),
        };
        self.log_ignoring_faults(r);
    }

    /// The user address of ring address `addr` when one access reaches it
    /// directly: always without an IOTLB (ring addresses are user
    /// addresses), else through the prefetched translation.
    fn ring_direct(&self, addr: u64, len: usize, write: bool) -> Option<u64> {
        if self.tlb.is_none() {
            return Some(addr);
        }
        self.rings?.fetch(addr, len as u64, write)
    }
}

/// Copies from the owner's memory; an aligned `u16` in one load (see
/// [`GuestMemory`]).
fn copy_in(uaddr: u64, buf: &mut [u8]) -> Result<(), Fault> {
    if let Ok(b) = <&mut [u8; 2]>::try_from(&mut *buf) {
        if uaddr % 2 == 0 {
            let v = user::get_u16(uaddr as usize).map_err(|_| Fault::Unmapped)?;
            *b = v.to_ne_bytes();
            return Ok(());
        }
    }
    let ptr = UserPtr::from_addr(uaddr as usize);
    UserSlice::new(ptr, buf.len())
        .reader()
        .read_slice(buf)
        .map_err(|_| Fault::Unmapped)
}

/// Copies to the owner's memory; an aligned `u16` in one store (see
/// [`GuestMemory`]).
fn copy_out(uaddr: u64, buf: &[u8]) -> Result<(), Fault> {
    if let Ok(b) = <[u8; 2]>::try_from(buf) {
        if uaddr % 2 == 0 {
            return user::put_u16(uaddr as usize, u16::from_ne_bytes(b))
                .map_err(|_| Fault::Unmapped);
        }
    }
    let ptr = UserPtr::from_addr(uaddr as usize);
    UserSlice::new(ptr, buf.len())
        .writer()
        .write_slice(buf)
        .map_err(|_| Fault::Unmapped)
}

/// Pieces of one ring access that spans translations (a descriptor batch
/// or a used entry at most): C's `vq->iotlb_iov` holds 64.
const RING_PIECES: usize = 64;

impl GuestMemory for Guest<'_> {
    fn read(&self, space: Space, addr: u64, buf: &mut [u8]) -> Result<(), Fault> {
        if space == Space::Ring {
            if let Some(uaddr) = self.ring_direct(addr, buf.len(), false) {
                return copy_in(uaddr, buf);
            }
        }
        let mut off = 0usize;
        let r = self.pieces(addr, buf.len() as u64, ACCESS_RO, usize::MAX, |uaddr, n| {
            let n = n as usize;
            copy_in(uaddr, &mut buf[off..off + n])?;
            off += n;
            Ok(())
        });
        if space == Space::Ring {
            return self.ring_fault(r);
        }
        r
    }

    fn write(&self, space: Space, addr: u64, buf: &[u8]) -> Result<(), Fault> {
        if space == Space::Ring {
            if let Some(uaddr) = self.ring_direct(addr, buf.len(), true) {
                copy_out(uaddr, buf)?;
                self.log_ring(addr, buf.len() as u64, &[(uaddr, buf.len() as u64)]);
                return Ok(());
            }
            // C translates ring writes for reading (`vhost_put_user()`
            // goes through `__vhost_get_user()`).
            let mut pieces = [(0u64, 0u64); RING_PIECES];
            let mut count = 0usize;
            let mut off = 0usize;
            let r = self.pieces(
                addr,
                buf.len() as u64,
                ACCESS_RO,
                RING_PIECES,
                |uaddr, n| {
                    copy_out(uaddr, &buf[off..off + n as usize])?;
                    off += n as usize;
                    if let Some(p) = pieces.get_mut(count) {
                        *p = (uaddr, n);
                    }
                    count += 1;
                    Ok(())
                },
            );
            self.ring_fault(r)?;
            self.log_ring(addr, buf.len() as u64, &pieces[..count.min(RING_PIECES)]);
            return Ok(());
        }
        let logs = self.logs_data();
        let mut off = 0usize;
        self.pieces(addr, buf.len() as u64, ACCESS_WO, usize::MAX, |uaddr, n| {
            copy_out(uaddr, &buf[off..off + n as usize])?;
            off += n as usize;
            if logs && self.logs_by_host_address() {
                barrier::smp_wmb();
                if let Some(log) = self.log {
                    self.log_hva(log.base, uaddr, n);
                }
            }
            Ok(())
        })?;
        if logs && !self.logs_by_host_address() {
            self.log_received(&[(addr, buf.len() as u64)], buf.len() as u64);
        }
        Ok(())
    }

    fn rmb(&self) {
        barrier::smp_rmb();
    }

    fn wmb(&self) {
        barrier::smp_wmb();
    }

    fn mb(&self) {
        barrier::smp_mb();
    }
}
