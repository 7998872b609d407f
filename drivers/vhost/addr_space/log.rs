// SPDX-License-Identifier: GPL-2.0

//! The dirty log (`VHOST_SET_LOG_BASE`, `VHOST_F_LOG_ALL`): one bit per
//! 4 KiB guest page, in a bitmap in the owner's memory at the log base.
//! This computes which bits `log_write()`, `log_write_hva()` and
//! `log_used()` set, in C's order; the kernel sets each with its
//! `set_bit_to_user()`, and stops at the first failure as C does.

use super::{
    iotlb::{
        Iotlb,
        Storage, //
    },
    translate::{
        TranslateError,
        VHOST_ACCESS_WO, //
    },
};

/// `VHOST_PAGE_SIZE`: what one bit of the log covers.
pub const VHOST_PAGE_SIZE: u64 = 0x1000;

/// Bit `bit` (0..8) of the byte at user address `addr` is to be set
/// (`set_bit_to_user(bit, addr)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogBit {
    /// User address of the log byte.
    pub addr: u64,
    /// Bit in that byte.
    pub bit: u8,
}

/// Why a log write failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogError<E> {
    /// No memory region holds the host address (`-EFAULT`).
    Fault,
    /// `log_used()` with an IOTLB could not translate the used ring
    /// (a miss is reported as `translate_desc()` does).
    Translate(TranslateError),
    /// Setting a bit failed: the error of the kernel's `set_bit_to_user()`.
    SetBit(E),
}

/// `log_access_ok(log_base, addr, sz)`: whether the log bytes for the
/// guest range `addr..addr + sz` are user memory. As in C the length checked
/// is `sz` rounded up to 32 KiB (one log byte) from the byte of `addr`,
/// not from `addr` itself, so a range not starting on a 32 KiB boundary
/// may need one byte more than is checked; and `sz` near `u64::MAX` wraps.
pub fn log_access_ok<A: Fn(u64, u64) -> bool>(
    log_base: u64,
    addr: u64,
    sz: u64,
    access_ok: &A,
) -> bool {
    let a = addr / VHOST_PAGE_SIZE / 8;
    // C also checks `a + log_base > ULONG_MAX`, never true for u64.
    if a > u64::MAX - log_base {
        return false;
    }
    access_ok(
        log_base + a,
        sz.wrapping_add(VHOST_PAGE_SIZE * 8 - 1) / VHOST_PAGE_SIZE / 8,
    )
}

/// The bits `log_write(log_base, addr, len)` sets: one per page the guest
/// range touches, in order. `len` is added to `addr`'s offset in its page
/// with wrapping arithmetic, as in C.
#[derive(Clone, Debug)]
pub struct LogWrite {
    base: u64,
    page: u64,
    left: u64,
    end: bool,
}

impl LogWrite {
    /// The bits for guest range `addr..addr + len` in the log at `log_base`.
    pub fn new(log_base: u64, addr: u64, len: u64) -> Self {
        Self {
            base: log_base,
            page: addr / VHOST_PAGE_SIZE,
            left: len.wrapping_add(addr % VHOST_PAGE_SIZE),
            end: len == 0,
        }
    }

    /// The same bits grouped by byte: `(addr, mask)`, for a kernel that
    /// sets a byte's bits with one page pin. Every bit of a byte is in the
    /// same page, so a failure stops at the same byte as bit by bit.
    pub fn bytes(self) -> LogBytes {
        LogBytes {
            bits: self,
            next: None,
        }
    }
}

impl Iterator for LogWrite {
    type Item = LogBit;

    fn next(&mut self) -> Option<LogBit> {
        if self.end {
            return None;
        }
        let bit = LogBit {
            addr: self.base.wrapping_add(self.page / 8),
            bit: (self.page % 8) as u8,
        };
        if self.left <= VHOST_PAGE_SIZE {
            self.end = true;
        } else {
            self.left -= VHOST_PAGE_SIZE;
            self.page += 1;
        }
        Some(bit)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.end {
            return (0, Some(0));
        }
        let n = self.left.div_ceil(VHOST_PAGE_SIZE).max(1);
        match usize::try_from(n) {
            Ok(n) => (n, Some(n)),
            Err(_) => (usize::MAX, None),
        }
    }
}

/// [`LogWrite::bytes`].
#[derive(Clone, Debug)]
pub struct LogBytes {
    bits: LogWrite,
    next: Option<LogBit>,
}

impl Iterator for LogBytes {
    type Item = (u64, u8);

    fn next(&mut self) -> Option<(u64, u8)> {
        let first = self.next.take().or_else(|| self.bits.next())?;
        let mut mask = 1u8 << first.bit;
        for b in self.bits.by_ref() {
            if b.addr != first.addr {
                self.next = Some(b);
                break;
            }
            mask |= 1 << b.bit;
        }
        Some((first.addr, mask))
    }
}

/// `log_write(log_base, addr, len)`: calls `set_bit` for each bit of
/// [`LogWrite`], stopping at the first error.
pub fn log_write<E, F: FnMut(LogBit) -> Result<(), E> + ?Sized>(
    log_base: u64,
    addr: u64,
    len: u64,
    set_bit: &mut F,
) -> Result<(), E> {
    LogWrite::new(log_base, addr, len).try_for_each(set_bit)
}

/// `log_write_hva(vq, hva, len)`: logs the guest pages behind the host
/// range `hva..hva + len`, found through the memory table `umem`.
///
/// As in C: every region holding part of the range is logged, in table
/// (insertion) order, and the range advances by the shortest such part,
/// so parts may be logged twice; a host range mapped by no region is
/// `Fault` only if nothing was found in the first round (C's `hit` is
/// never cleared), later gaps are skipped.
pub fn log_write_hva<S: Storage, E, F: FnMut(LogBit) -> Result<(), E> + ?Sized>(
    umem: &Iotlb<S>,
    log_base: u64,
    mut hva: u64,
    mut len: u64,
    set_bit: &mut F,
) -> Result<(), LogError<E>> {
    let mut hit = false;
    while len != 0 {
        let mut min = len;
        // More than one guest range can map one host address: try all.
        for u in umem.maps() {
            let u_last = u.addr.wrapping_sub(1).wrapping_add(u.size());
            let h_last = hva.wrapping_sub(1).wrapping_add(len);
            if u.addr > h_last || u_last < hva {
                continue;
            }
            let start = u.addr.max(hva);
            let end = u_last.min(h_last);
            let l = end.wrapping_sub(start).wrapping_add(1);
            log_write(log_base, u.uaddr_to_gpa(start), l, set_bit).map_err(LogError::SetBit)?;
            hit = true;
            min = min.min(l);
        }
        if !hit {
            return Err(LogError::Fault);
        }
        // Only a region wrapping the address space gives 0, where C would
        // loop forever; vq_memory_access_ok() keeps those from a running
        // queue.
        if min == 0 {
            return Err(LogError::Fault);
        }
        len -= min;
        hva = hva.wrapping_add(min);
    }
    Ok(())
}

/// `log_used(vq, used_offset, len)`: logs a write of `len` bytes at
/// `used_offset` in the used ring.
///
/// Without an IOTLB (`iotlb` is `None`) the used ring's guest address is
/// `log_addr` (from `VHOST_SET_VRING_ADDR`). With one, the used ring's IOVA
/// `used` is translated for writing into at most 64 pieces (failing as
/// `translate_desc()` does, `len` cut to 32 bits by its prototype), and
/// the pieces are logged with [`log_write_hva`] through `umem` — only the
/// first piece, since C's loop reuses its bound `ret` for the result of
/// `log_write_hva()`, which ends it.
#[expect(clippy::too_many_arguments)]
pub fn log_used<S: Storage, T: Storage, E, F: FnMut(LogBit) -> Result<(), E> + ?Sized>(
    iotlb: Option<&Iotlb<S>>,
    umem: &Iotlb<T>,
    log_base: u64,
    log_addr: u64,
    used: u64,
    used_offset: u64,
    len: u64,
    set_bit: &mut F,
) -> Result<(), LogError<E>> {
    let Some(tlb) = iotlb else {
        return log_write(log_base, log_addr.wrapping_add(used_offset), len, set_bit)
            .map_err(LogError::SetBit);
    };
    let addr = used.wrapping_add(used_offset);
    let len = u64::from(len as u32);
    // translate_desc() fills the whole iov before anything is logged.
    for seg in tlb.translate(addr, len, VHOST_ACCESS_WO, 64) {
        seg.map_err(LogError::Translate)?;
    }
    if let Some(Ok(seg)) = tlb.translate(addr, len, VHOST_ACCESS_WO, 64).next() {
        log_write_hva(umem, log_base, seg.addr, seg.len, set_bit)?;
    }
    Ok(())
}

/// `vhost_log_write()` without an IOTLB: logs the guest ranges `logs`
/// (`struct vhost_log`: address, length) of a chain of which `len` bytes
/// were written (`u64::MAX`: all of every range). On success C then
/// signals the log eventfd.
pub fn log_write_descs<E, F: FnMut(LogBit) -> Result<(), E> + ?Sized>(
    log_base: u64,
    logs: impl IntoIterator<Item = (u64, u64)>,
    mut len: u64,
    set_bit: &mut F,
) -> Result<(), E> {
    for (addr, l) in logs {
        let l = l.min(len);
        log_write(log_base, addr, l, set_bit)?;
        if len != u64::MAX {
            len -= l;
        }
    }
    Ok(())
}

/// `vhost_log_write()` with an IOTLB: logs the host ranges `iovs`
/// (address, length) through the memory table. C does not signal the log
/// eventfd in this case.
pub fn log_write_iovs<S: Storage, E, F: FnMut(LogBit) -> Result<(), E> + ?Sized>(
    umem: &Iotlb<S>,
    log_base: u64,
    iovs: impl IntoIterator<Item = (u64, u64)>,
    set_bit: &mut F,
) -> Result<(), LogError<E>> {
    for (hva, len) in iovs {
        log_write_hva(umem, log_base, hva, len, set_bit)?;
    }
    Ok(())
}
