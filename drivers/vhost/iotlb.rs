// SPDX-License-Identifier: GPL-2.0

//! The device IOTLB (`VIRTIO_F_ACCESS_PLATFORM`): translations userspace
//! writes to the device fd, and the misses the device reads back
//! (drivers/vhost/vhost.c: `vhost_chr_write_iter()`, `vhost_chr_read_iter()`,
//! `vhost_process_iotlb_msg()`, `vhost_iotlb_miss()`).

use crate::{
    mem::{
        self,
        Kind, //
    },
    umem::Slots,
};
use kernel::prelude::*;

/// `struct vhost_msg` and `struct vhost_msg_v2` are both this long, with
/// the `vhost_iotlb_msg` at byte 8.
pub(crate) const MSG_SIZE: usize = 72;
const IOTLB_AT: usize = 8;

/// `VHOST_IOTLB_MSG`, `VHOST_IOTLB_MSG_V2`.
pub(crate) const MSG_V1: u32 = 0x1;
pub(crate) const MSG_V2: u32 = 0x2;

/// `vhost_iotlb_msg.type`.
pub(crate) const MISS: u8 = 1;
pub(crate) const UPDATE: u8 = 2;
pub(crate) const INVALIDATE: u8 = 3;

/// `VHOST_ACCESS_RO`, `VHOST_ACCESS_WO`.
pub(crate) const ACCESS_RO: u8 = 0x1;
pub(crate) const ACCESS_WO: u8 = 0x2;

/// `struct vhost_iotlb_msg`.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct IotlbMsg {
    pub(crate) iova: u64,
    pub(crate) size: u64,
    pub(crate) uaddr: u64,
    pub(crate) perm: u8,
    pub(crate) kind: u8,
}

impl IotlbMsg {
    /// Decodes the 32 bytes of a `vhost_iotlb_msg`.
    pub(crate) fn decode(b: &[u8; 32]) -> Self {
        let u64_at = |o: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&b[o..o + 8]);
            u64::from_ne_bytes(w)
        };
        Self {
            iova: u64_at(0),
            size: u64_at(8),
            uaddr: u64_at(16),
            perm: b[24],
            kind: b[25],
        }
    }

    /// Encodes a whole `vhost_msg` (`v2`: `vhost_msg_v2`) carrying `self`.
    pub(crate) fn encode(&self, v2: bool) -> [u8; MSG_SIZE] {
        let mut m = [0u8; MSG_SIZE];
        let ty: u32 = if v2 { MSG_V2 } else { MSG_V1 };
        m[0..4].copy_from_slice(&ty.to_ne_bytes());
        let i = IOTLB_AT;
        m[i..i + 8].copy_from_slice(&self.iova.to_ne_bytes());
        m[i + 8..i + 16].copy_from_slice(&self.size.to_ne_bytes());
        m[i + 16..i + 24].copy_from_slice(&self.uaddr.to_ne_bytes());
        m[i + 24] = self.perm;
        m[i + 25] = self.kind;
        m
    }
}

/// The device IOTLB: a `mem::Iotlb` that reports holes as misses.
pub(crate) struct Iotlb {
    map: mem::Iotlb<Slots>,
}

/// How a lookup ended.
pub(crate) enum Lookup {
    /// Mapped: user address and bytes left in the map from there.
    Hit(u64, u64),
    /// Nothing at this address: ask userspace (`-EAGAIN`).
    Miss,
    /// Mapped without the access wanted (`-EPERM`).
    Denied,
}

impl Iotlb {
    /// `iotlb_alloc()`: at most `limit` entries, the oldest retired.
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            map: mem::Iotlb::new(Slots::new(), Kind::Iotlb, limit as u32),
        }
    }

    /// `vhost_iotlb_add_range()`.
    pub(crate) fn add(&mut self, start: u64, last: u64, uaddr: u64, perm: u8) -> Result {
        self.map
            .add_range(start, last, uaddr, perm)
            .map_err(|_| ENOMEM)
    }

    /// `vhost_iotlb_del_range()`: every map touching `[start, last]` goes.
    pub(crate) fn del(&mut self, start: u64, last: u64) {
        self.map.del_range(start, last);
    }

    /// `translate_desc()`'s lookup for `[addr, last]`.
    pub(crate) fn lookup(&self, addr: u64, last: u64, access: u8) -> Lookup {
        match self.map.lookup(addr, last) {
            None => Lookup::Miss,
            Some(m) if m.perm & access == 0 => Lookup::Denied,
            Some(m) => {
                let left = (m.last - addr).checked_add(1).unwrap_or(u64::MAX);
                Lookup::Hit(m.addr.wrapping_add(addr - m.start), left)
            }
        }
    }
}

/// A miss waiting for its update, and the queue to run again then.
#[derive(Clone, Copy)]
pub(crate) struct Pending {
    pub(crate) iova: u64,
    pub(crate) vq: usize,
}
