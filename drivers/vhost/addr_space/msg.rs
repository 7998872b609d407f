// SPDX-License-Identifier: GPL-2.0

//! IOTLB messages on the device file: what `write()` takes
//! (`vhost_chr_write_iter()`, `vhost_process_iotlb_msg()`) and the miss
//! messages `read()` gives (`vhost_iotlb_miss()`, `vhost_chr_read_iter()`).

use super::{
    access::vhost_overflow,
    errno::Errno,
    iotlb::{
        Iotlb,
        Storage, //
    },
    translate::{
        VHOST_ACCESS_RO,
        VHOST_ACCESS_WO, //
    },
};

/// `VHOST_IOTLB_MSG`: `struct vhost_msg`.
pub const VHOST_IOTLB_MSG: u32 = 0x1;
/// `VHOST_IOTLB_MSG_V2`: `struct vhost_msg_v2`.
pub const VHOST_IOTLB_MSG_V2: u32 = 0x2;

/// Message type: the device asks for a translation.
pub const VHOST_IOTLB_MISS: u8 = 1;
/// Message type: add an entry.
pub const VHOST_IOTLB_UPDATE: u8 = 2;
/// Message type: drop the entries in a range.
pub const VHOST_IOTLB_INVALIDATE: u8 = 3;
/// Message type: access failure (not handled by vhost-net/vsock).
pub const VHOST_IOTLB_ACCESS_FAIL: u8 = 4;
/// Message type: batch start (vDPA only).
pub const VHOST_IOTLB_BATCH_BEGIN: u8 = 5;
/// Message type: batch end (vDPA only).
pub const VHOST_IOTLB_BATCH_END: u8 = 6;

/// `sizeof(struct vhost_msg)` and `sizeof(struct vhost_msg_v2)`: what a
/// successful `write()` returns and the least a `read()` must ask for.
pub const MSG_SIZE: usize = 72;

/// Offset of the `struct vhost_iotlb_msg` in both message structures.
const IOTLB_OFFSET: usize = 8;
/// `sizeof(struct vhost_iotlb_msg)`.
const IOTLB_SIZE: usize = 32;

/// `struct vhost_iotlb_msg`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IotlbMsg {
    /// First IOVA.
    pub iova: u64,
    /// Size in bytes.
    pub size: u64,
    /// Userspace address of `iova`.
    pub uaddr: u64,
    /// `VHOST_ACCESS_*`.
    pub perm: u8,
    /// `VHOST_IOTLB_*` message type.
    pub ty: u8,
}

impl IotlbMsg {
    /// From its 32 bytes (native endian).
    fn from_bytes(b: &[u8]) -> Option<Self> {
        let u = |i: usize| -> Option<u64> {
            Some(u64::from_ne_bytes(b.get(i..i + 8)?.try_into().ok()?))
        };
        Some(Self {
            iova: u(0)?,
            size: u(8)?,
            uaddr: u(16)?,
            perm: *b.get(24)?,
            ty: *b.get(25)?,
        })
    }
}

/// A message `write()` accepted for processing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriteMsg {
    /// `VHOST_IOTLB_MSG` or `VHOST_IOTLB_MSG_V2`.
    pub version: u32,
    /// Address space (V2 with `VHOST_BACKEND_F_IOTLB_ASID`), else 0.
    pub asid: u32,
    /// The message.
    pub msg: IotlbMsg,
}

/// Parses what `write()` was given, as `vhost_chr_write_iter()`: the type
/// (`int`), then for V1 a 4-byte hole, for V2 the `asid` if
/// `VHOST_BACKEND_F_IOTLB_ASID` was negotiated (`asid_feature`) or 4 ignored
/// bytes, then the 32-byte `struct vhost_iotlb_msg`. Anything short, an
/// unknown type, or an update of size 0 is `Inval`. Bytes after the first
/// 40 are not read; a processed message returns [`MSG_SIZE`] whatever
/// the length written.
pub fn parse_write(buf: &[u8], asid_feature: bool) -> Result<WriteMsg, Errno> {
    let word =
        |i: usize| -> Option<u32> { Some(u32::from_ne_bytes(buf.get(i..i + 4)?.try_into().ok()?)) };
    let version = word(0).ok_or(Errno::Inval)?;
    let asid = match version {
        VHOST_IOTLB_MSG => 0,
        VHOST_IOTLB_MSG_V2 if asid_feature => word(4).ok_or(Errno::Inval)?,
        VHOST_IOTLB_MSG_V2 => 0,
        _ => return Err(Errno::Inval),
    };
    let msg = buf
        .get(IOTLB_OFFSET..IOTLB_OFFSET + IOTLB_SIZE)
        .and_then(IotlbMsg::from_bytes)
        .ok_or(Errno::Inval)?;
    if msg.ty == VHOST_IOTLB_UPDATE && msg.size == 0 {
        return Err(Errno::Inval);
    }
    Ok(WriteMsg { version, asid, msg })
}

/// The `VHOST_IOTLB_MISS` message `read()` gives (`v2` if the owner
/// negotiated `VHOST_BACKEND_F_IOTLB_MSG_V2`): the IOVA and access that
/// missed, every other byte zero.
pub fn encode_miss(v2: bool, iova: u64, perm: u8) -> [u8; MSG_SIZE] {
    let mut b = [0u8; MSG_SIZE];
    let version = if v2 {
        VHOST_IOTLB_MSG_V2
    } else {
        VHOST_IOTLB_MSG
    };
    let fields: [(usize, &[u8]); 4] = [
        (0, &version.to_ne_bytes()),
        (IOTLB_OFFSET, &iova.to_ne_bytes()),
        (IOTLB_OFFSET + 24, &[perm]),
        (IOTLB_OFFSET + 25, &[VHOST_IOTLB_MISS]),
    ];
    for (off, bytes) in fields {
        if let Some(d) = b.get_mut(off..off + bytes.len()) {
            d.copy_from_slice(bytes);
        }
    }
    b
}

/// `umem_access_ok(uaddr, size, access)`: the user range of an update
/// neither overflows nor leaves user memory.
pub fn umem_access_ok<A: Fn(u64, u64) -> bool>(
    uaddr: u64,
    size: u64,
    access: u8,
    access_ok: &A,
) -> bool {
    if vhost_overflow(uaddr, size) {
        return false;
    }
    if access & VHOST_ACCESS_RO != 0 && !access_ok(uaddr, size) {
        return false;
    }
    if access & VHOST_ACCESS_WO != 0 && !access_ok(uaddr, size) {
        return false;
    }
    true
}

/// What [`process_iotlb_msg`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MsgOutcome {
    /// C's result. `write()` turns any error into `-EFAULT`.
    pub result: Result<(), Errno>,
    /// The IOTLB may have changed: reset every queue's
    /// [`MetaCache`](super::MetaCache) (`vhost_vq_meta_reset()`).
    pub reset_meta: bool,
    /// An entry was added: wake the queue of each pending miss that
    /// [`resolves_miss`] says it answers, and drop that miss
    /// (`vhost_iotlb_notify_vq()`).
    pub notify: bool,
}

/// `vhost_process_iotlb_msg(dev, asid, msg)`, for the device IOTLB
/// `iotlb` (`None` without `VIRTIO_F_ACCESS_PLATFORM`).
///
/// Asid other than 0: `Inval`. Update: no IOTLB or a bad user range
/// ([`umem_access_ok`]) is `Fault`; the entry `iova..=iova + size - 1` is
/// added with any `perm`, and any failure of that is `NoMem`. Invalidate:
/// no IOTLB is `Fault`; drops every entry overlapping the range (with C's
/// wrapping: size 0 at IOVA 0 drops all). Any other type is `Inval`.
pub fn process_iotlb_msg<S: Storage, A: Fn(u64, u64) -> bool>(
    iotlb: Option<&mut Iotlb<S>>,
    asid: u32,
    msg: &IotlbMsg,
    access_ok: &A,
) -> MsgOutcome {
    let mut out = MsgOutcome {
        result: Ok(()),
        reset_meta: false,
        notify: false,
    };
    if asid != 0 {
        out.result = Err(Errno::Inval);
        return out;
    }
    let last = msg.iova.wrapping_add(msg.size).wrapping_sub(1);
    match msg.ty {
        VHOST_IOTLB_UPDATE => {
            let Some(tlb) = iotlb else {
                out.result = Err(Errno::Fault);
                return out;
            };
            if !umem_access_ok(msg.uaddr, msg.size, msg.perm, access_ok) {
                out.result = Err(Errno::Fault);
                return out;
            }
            out.reset_meta = true;
            if tlb.add_range(msg.iova, last, msg.uaddr, msg.perm).is_err() {
                out.result = Err(Errno::NoMem);
                return out;
            }
            out.notify = true;
        }
        VHOST_IOTLB_INVALIDATE => {
            let Some(tlb) = iotlb else {
                out.result = Err(Errno::Fault);
                return out;
            };
            out.reset_meta = true;
            tlb.del_range(msg.iova, last);
        }
        _ => out.result = Err(Errno::Inval),
    }
    out
}

/// Whether `update` answers a pending miss for `miss_iova`
/// (`vhost_iotlb_notify_vq()`): it starts at or before it and its last
/// byte (wrapping as in C) is at or after it.
pub fn resolves_miss(update: &IotlbMsg, miss_iova: u64) -> bool {
    update.iova <= miss_iova && update.iova.wrapping_add(update.size).wrapping_sub(1) >= miss_iova
}
