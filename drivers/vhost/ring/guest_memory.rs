// SPDX-License-Identifier: GPL-2.0

//! How the layer reaches guest memory.

use super::error::Error;

/// Why a guest memory access failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Not mapped, or not with the access needed (`-EFAULT`).
    Unmapped,
    /// Not translated yet: the owner has asked userspace for the mapping
    /// (an IOTLB miss, `-EAGAIN` in C). The queue is retried when it comes.
    Miss,
}

/// Which address space an address belongs to.
///
/// Without an IOTLB the two differ: the ring structures are at the
/// userspace addresses `VHOST_SET_VRING_ADDR` gave, buffers and indirect
/// tables at the guest physical addresses descriptors name, translated by
/// the memory table. With an IOTLB both are I/O virtual addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Space {
    /// Descriptor table, avail and used rings, event areas.
    Ring,
    /// What descriptors point to: buffers and indirect tables.
    Guest,
}

/// Guest memory as the device sees it, and the barriers that order it.
///
/// The kernel implements this with the memory table or IOTLB and
/// `copy_from_user()` / `copy_to_user()`; the host crate with a test memory.
/// An access may span several translations: the implementation splits it,
/// the layer never assumes that guest-contiguous memory is host-contiguous.
/// A partial access is a failed one. An aligned two-byte access (an index,
/// flags, an event offset: the guest changes them while the device reads
/// them, and reads them while the device writes) must be one load or
/// store, never torn, as C's `vhost_get_user()`/`vhost_put_user()`.
pub trait GuestMemory {
    /// Fills `buf` from `addr` of `space`.
    fn read(&self, space: Space, addr: u64, buf: &mut [u8]) -> Result<(), Fault>;
    /// Copies `buf` to `addr` of `space`.
    fn write(&self, space: Space, addr: u64, buf: &[u8]) -> Result<(), Fault>;
    /// Orders earlier reads before later reads (`smp_rmb()`).
    fn rmb(&self);
    /// Orders earlier writes before later writes (`smp_wmb()`).
    fn wmb(&self);
    /// Orders earlier accesses before later ones (`smp_mb()`).
    fn mb(&self);
}

/// `base + off`, or a translation error: ring addresses come from
/// userspace, so a ring that wraps the address space is simply unreachable.
pub(crate) fn at(base: u64, off: u64) -> Result<u64, Error> {
    base.checked_add(off).ok_or(Error::Translation {
        addr: base,
        fault: Fault::Unmapped,
    })
}

/// Reads `buf` from `addr` of `space`.
pub(crate) fn read_in<M: GuestMemory + ?Sized>(
    guest: &M,
    space: Space,
    addr: u64,
    buf: &mut [u8],
) -> Result<(), Error> {
    guest
        .read(space, addr, buf)
        .map_err(|fault| Error::Translation { addr, fault })
}

/// Reads `buf` from the ring structures at `addr`.
pub(crate) fn read<M: GuestMemory + ?Sized>(
    guest: &M,
    addr: u64,
    buf: &mut [u8],
) -> Result<(), Error> {
    read_in(guest, Space::Ring, addr, buf)
}

/// Writes `buf` to the ring structures at `addr`.
pub(crate) fn write<M: GuestMemory + ?Sized>(
    guest: &M,
    addr: u64,
    buf: &[u8],
) -> Result<(), Error> {
    guest
        .write(Space::Ring, addr, buf)
        .map_err(|fault| Error::Translation { addr, fault })
}

pub(crate) fn read_u16<M: GuestMemory + ?Sized>(guest: &M, addr: u64) -> Result<u16, Error> {
    let mut b = [0u8; 2];
    read(guest, addr, &mut b)?;
    Ok(u16::from_le_bytes(b))
}

pub(crate) fn write_u16<M: GuestMemory + ?Sized>(
    guest: &M,
    addr: u64,
    val: u16,
) -> Result<(), Error> {
    write(guest, addr, &val.to_le_bytes())
}

/// The little-endian `u16` at `off` of `buf`.
pub(crate) fn le16(buf: &[u8], off: usize) -> Option<u16> {
    let b = buf.get(off..off.checked_add(2)?)?;
    Some(u16::from_le_bytes(b.try_into().ok()?))
}
