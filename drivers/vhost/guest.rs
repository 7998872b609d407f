// SPDX-License-Identifier: GPL-2.0

//! Guest memory as the kernel reaches it: through the owner's address space.
//!
//! Ring structures are at the userspace addresses `VHOST_SET_VRING_ADDR`
//! gave; buffers and indirect tables at guest physical addresses, which the
//! memory table turns into userspace addresses (`translate_desc()`). Every
//! access is a `copy_{from,to}_user()` of the owner's memory: the worker
//! runs in the owner's mm, and so do the ioctls.

use crate::{
    iotlb::{
        Iotlb,
        Lookup,
        ACCESS_RO,
        ACCESS_WO, //
    },
    mem,
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
    umem::Table,
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

/// Where the dirty log goes, while `VHOST_F_LOG_ALL` is acked.
#[derive(Clone, Copy)]
pub(crate) struct Log {
    /// `VHOST_SET_LOG_BASE`.
    pub(crate) base: u64,
    /// `VHOST_F_LOG_ALL`: buffers the device writes are logged.
    pub(crate) all: bool,
    /// Used ring: user address, size, and the guest address to log it at
    /// (`VHOST_VRING_F_LOG`); `None` when the used ring is not logged.
    pub(crate) used: Option<(u64, u64, u64)>,
}

/// A queue's view of guest memory.
pub(crate) struct Guest<'a> {
    pub(crate) umem: Option<&'a Table>,
    /// With `VIRTIO_F_ACCESS_PLATFORM`, every address is an I/O address
    /// this translates.
    pub(crate) tlb: Option<&'a Iotlb>,
    pub(crate) log: Option<Log>,
    logged: Cell<bool>,
    /// The first IOTLB miss met: address and access, for userspace.
    miss: Cell<Option<(u64, u8)>>,
}

impl<'a> Guest<'a> {
    pub(crate) fn new(umem: Option<&'a Table>, tlb: Option<&'a Iotlb>, log: Option<Log>) -> Self {
        Self {
            umem,
            tlb,
            log,
            logged: Cell::new(false),
            miss: Cell::new(None),
        }
    }

    /// The IOTLB miss to report to userspace, if any.
    pub(crate) fn miss(&self) -> Option<(u64, u8)> {
        self.miss.get()
    }

    /// `iotlb_access_ok()`: `[addr, addr + len)` is mapped for `access`; a
    /// hole is recorded as a miss.
    pub(crate) fn tlb_ok(&self, addr: u64, len: u64, access: u8) -> bool {
        let Some(tlb) = self.tlb else {
            return true;
        };
        let mut at = addr;
        let mut done = 0u64;
        while done < len {
            let last = addr.wrapping_add(len).wrapping_sub(1);
            match tlb.lookup(at, last, access) {
                Lookup::Hit(_, n) => {
                    done = done.saturating_add(n);
                    at = at.wrapping_add(n);
                }
                Lookup::Miss => {
                    self.miss.set(Some((at, access)));
                    return false;
                }
                Lookup::Denied => return false,
            }
        }
        true
    }

    /// Translates one piece: user address and length, at most `len`.
    fn one(&self, addr: u64, len: u64, access: u8) -> Result<(u64, u64), Fault> {
        if let Some(tlb) = self.tlb {
            let last = addr.saturating_add(len - 1);
            return match tlb.lookup(addr, last, access) {
                Lookup::Hit(uaddr, n) => Ok((uaddr, n.min(len))),
                Lookup::Miss => {
                    if self.miss.get().is_none() {
                        self.miss.set(Some((addr, access)));
                    }
                    Err(Fault::Miss)
                }
                Lookup::Denied => Err(Fault::Unmapped),
            };
        }
        let umem = self.umem.ok_or(Fault::Unmapped)?;
        umem.translate(addr, len).ok_or(Fault::Unmapped)
    }

    /// Whether buffers the device writes are logged (`VHOST_F_LOG_ALL`).
    pub(crate) fn logs_data(&self) -> bool {
        self.log.is_some_and(|l| l.all)
    }

    /// Whether anything was logged through this view.
    pub(crate) fn logged(&self) -> bool {
        self.logged.get()
    }

    /// Calls `f` with each (user address, length) piece of guest range
    /// `[gpa, gpa + len)`.
    pub(crate) fn pieces(
        &self,
        gpa: u64,
        len: u64,
        access: u8,
        mut f: impl FnMut(u64, u64) -> Result<(), Fault>,
    ) -> Result<(), Fault> {
        let mut at = gpa;
        let mut left = len;
        while left > 0 {
            let (uaddr, n) = self.one(at, left, access)?;
            f(uaddr, n)?;
            left -= n;
            at = at.wrapping_add(n);
        }
        Ok(())
    }

    /// `translate_desc()`: appends the user pieces of a buffer to `iov`.
    pub(crate) fn translate(
        &self,
        gpa: u64,
        len: u32,
        access: u8,
        iov: &mut KVec<UserIovec>,
        max: usize,
    ) -> Result<(), Fault> {
        self.pieces(gpa, u64::from(len), access, |uaddr, n| {
            if iov.len() >= max {
                return Err(Fault::Unmapped);
            }
            iov.push(
                UserIovec {
                    base: uaddr as usize,
                    len: n as usize,
                },
                GFP_KERNEL,
            )
            .map_err(|_| Fault::Unmapped)
        })
    }

    /// A log bit that cannot be set does not fail the write it logs: C
    /// looks at no result of `log_used()` or `vhost_log_write()`, and the
    /// guest's ring must not break because the VMM's bitmap did.
    fn log_ignoring_faults(&self, r: Result<(), Fault>) {
        if r.is_err() {
            pr_debug!("rvhost: a dirty log bit could not be set\n");
        }
    }

    /// `vhost_log_write()` of received bytes: logged, and a bit that
    /// cannot be set ignored, as C does.
    pub(crate) fn log_data(&self, gpa: u64, len: u64) {
        self.log_ignoring_faults(self.log_write(gpa, len).map(|_| ()));
    }

    /// Logs `[gpa, gpa + len)` as written (`log_write()`). Returns whether
    /// anything was logged.
    pub(crate) fn log_write(&self, gpa: u64, len: u64) -> Result<bool, Fault> {
        let Some(log) = self.log.filter(|l| l.all) else {
            return Ok(false);
        };
        self.log_bits(log.base, gpa, len)
    }

    /// Sets one log bit (`set_bit_to_user()`).
    fn set_bit(&self, b: mem::LogBit) -> Result<(), Fault> {
        let addr = usize::try_from(b.addr).map_err(|_| Fault::Unmapped)?;
        dirty::set_bit_to_user(u64::from(b.bit), addr).map_err(|_| Fault::Unmapped)?;
        self.logged.set(true);
        Ok(())
    }

    /// Sets the log bits of `[gpa, gpa + len)` (`log_write()`).
    fn log_bits(&self, base: u64, gpa: u64, len: u64) -> Result<bool, Fault> {
        mem::log_write(base, gpa, len, &mut |b| self.set_bit(b))?;
        Ok(len != 0)
    }

    /// Logs a write to the ring structures at `uaddr`: only the used ring
    /// is logged, at its log address, and only with `VHOST_VRING_F_LOG`
    /// (`log_used()`).
    fn log_ring(&self, uaddr: u64, len: u64) -> Result<(), Fault> {
        let Some(log) = self.log else {
            return Ok(());
        };
        let Some((used, size, log_addr)) = log.used else {
            return Ok(());
        };
        if uaddr < used || uaddr - used >= size {
            return Ok(());
        }
        let off = uaddr - used;
        let Some(umem) = self.umem else {
            self.log_bits(log.base, log_addr.wrapping_add(off), len)?;
            return Ok(());
        };
        let tlb = self.tlb.map(Iotlb::map);
        let mut set = |b| self.set_bit(b);
        mem::log_used(
            tlb,
            umem.map(),
            log.base,
            log_addr,
            used,
            off,
            len,
            &mut set,
        )
        .map_err(|_| Fault::Unmapped)
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

impl GuestMemory for Guest<'_> {
    fn read(&self, space: Space, addr: u64, buf: &mut [u8]) -> Result<(), Fault> {
        match space {
            Space::Ring if self.tlb.is_none() => copy_in(addr, buf),
            _ => {
                let mut off = 0usize;
                self.pieces(addr, buf.len() as u64, ACCESS_RO, |uaddr, n| {
                    let n = n as usize;
                    copy_in(uaddr, &mut buf[off..off + n])?;
                    off += n;
                    Ok(())
                })
            }
        }
    }

    fn write(&self, space: Space, addr: u64, buf: &[u8]) -> Result<(), Fault> {
        match space {
            Space::Ring if self.tlb.is_none() => {
                copy_out(addr, buf)?;
                if self.log.is_some() {
                    // Order the write before its log bit (C: smp_wmb()
                    // in log_used()).
                    barrier::smp_wmb();
                    self.log_ignoring_faults(self.log_ring(addr, buf.len() as u64));
                }
                Ok(())
            }
            _ => {
                let mut off = 0usize;
                // C translates ring writes for reading (`vhost_put_user()`
                // goes through `__vhost_get_user()`); buffers for writing.
                let access = if space == Space::Ring {
                    ACCESS_RO
                } else {
                    ACCESS_WO
                };
                self.pieces(addr, buf.len() as u64, access, |uaddr, n| {
                    let n = n as usize;
                    copy_out(uaddr, &buf[off..off + n])?;
                    off += n;
                    Ok(())
                })?;
                if space == Space::Guest {
                    self.log_ignoring_faults(self.log_write(addr, buf.len() as u64).map(|_| ()));
                } else if self.log.is_some() {
                    barrier::smp_wmb();
                    self.log_ignoring_faults(self.log_ring(addr, buf.len() as u64));
                }
                Ok(())
            }
        }
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
