// SPDX-License-Identifier: GPL-2.0

//! The virtio-vsock packet header (`struct virtio_vsock_hdr`) and what
//! vhost-vsock decides from it (drivers/vhost/vsock.c): whether a packet
//! the guest sent may be taken, and how a packet for the guest is cut to
//! the guest's buffers.
//!
//! `core` only: the kernel module and the host crate (tools/host/vsock)
//! build this file unchanged.

/// Bytes of the header on the wire (`sizeof(struct virtio_vsock_hdr)`,
/// `VIRTIO_VSOCK_SKB_HEADROOM`).
pub const HDR_SIZE: usize = 44;

/// The largest payload a guest may send (`VIRTIO_VSOCK_MAX_PKT_BUF_SIZE`).
pub const MAX_PKT_BUF_SIZE: usize = 64 * 1024;

/// The host's CID (`VHOST_VSOCK_DEFAULT_HOST_CID`).
pub const HOST_CID: u64 = 2;

/// `VIRTIO_VSOCK_SEQ_EOM`: the last packet of a SEQPACKET message.
pub const SEQ_EOM: u32 = 1;
/// `VIRTIO_VSOCK_SEQ_EOR`: the message ends a record (`MSG_EOR`).
pub const SEQ_EOR: u32 = 2;

/// The header, its fields in host order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Hdr {
    /// Sender's CID.
    pub src_cid: u64,
    /// Receiver's CID.
    pub dst_cid: u64,
    /// Sender's port.
    pub src_port: u32,
    /// Receiver's port.
    pub dst_port: u32,
    /// Payload bytes after the header.
    pub len: u32,
    /// `VIRTIO_VSOCK_TYPE_*`.
    pub type_: u16,
    /// `VIRTIO_VSOCK_OP_*`.
    pub op: u16,
    /// `VIRTIO_VSOCK_SHUTDOWN_*` or `VIRTIO_VSOCK_SEQ_*`.
    pub flags: u32,
    /// Sender's receive buffer size.
    pub buf_alloc: u32,
    /// Bytes the sender has consumed.
    pub fwd_cnt: u32,
}

/// The `N` bytes at `AT`. The range is a constant inside the header, so
/// this compiles to a load (the `None` arm is gone): the handlers parse a
/// header per packet.
fn bytes<const AT: usize, const N: usize>(b: &[u8; HDR_SIZE]) -> [u8; N] {
    const { assert!(AT + N <= HDR_SIZE) };
    b.get(AT..)
        .and_then(<[u8]>::first_chunk::<N>)
        .copied()
        .unwrap_or([0; N])
}

/// Puts `v` at `AT`, as [`bytes`] reads.
fn put<const AT: usize, const N: usize>(b: &mut [u8; HDR_SIZE], v: [u8; N]) {
    const { assert!(AT + N <= HDR_SIZE) };
    if let Some(d) = b.get_mut(AT..).and_then(<[u8]>::first_chunk_mut::<N>) {
        *d = v;
    }
}

impl Hdr {
    /// The header as the wire has it (little endian, packed).
    pub fn from_bytes(b: &[u8; HDR_SIZE]) -> Self {
        Self {
            src_cid: u64::from_le_bytes(bytes::<0, 8>(b)),
            dst_cid: u64::from_le_bytes(bytes::<8, 8>(b)),
            src_port: u32::from_le_bytes(bytes::<16, 4>(b)),
            dst_port: u32::from_le_bytes(bytes::<20, 4>(b)),
            len: u32::from_le_bytes(bytes::<24, 4>(b)),
            type_: u16::from_le_bytes(bytes::<28, 2>(b)),
            op: u16::from_le_bytes(bytes::<30, 2>(b)),
            flags: u32::from_le_bytes(bytes::<32, 4>(b)),
            buf_alloc: u32::from_le_bytes(bytes::<36, 4>(b)),
            fwd_cnt: u32::from_le_bytes(bytes::<40, 4>(b)),
        }
    }

    /// The header for the wire.
    pub fn to_bytes(&self) -> [u8; HDR_SIZE] {
        let mut b = [0u8; HDR_SIZE];
        put::<0, 8>(&mut b, self.src_cid.to_le_bytes());
        put::<8, 8>(&mut b, self.dst_cid.to_le_bytes());
        put::<16, 4>(&mut b, self.src_port.to_le_bytes());
        put::<20, 4>(&mut b, self.dst_port.to_le_bytes());
        put::<24, 4>(&mut b, self.len.to_le_bytes());
        put::<28, 2>(&mut b, self.type_.to_le_bytes());
        put::<30, 2>(&mut b, self.op.to_le_bytes());
        put::<32, 4>(&mut b, self.flags.to_le_bytes());
        put::<36, 4>(&mut b, self.buf_alloc.to_le_bytes());
        put::<40, 4>(&mut b, self.fwd_cnt.to_le_bytes());
        b
    }
}

/// Why a chain the guest sent is not a packet (`vhost_vsock_alloc_skb()`
/// returning `NULL`). The chain is dropped, counted, and its buffer
/// returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxError {
    /// The chain has device-writable buffers.
    Writable,
    /// Shorter than a header.
    Short,
    /// Longer than a header and the largest payload.
    Long,
    /// The header could not be read from the buffers.
    Fault,
    /// The header's `len` is more than the buffers hold past it.
    LenPastBuffer,
}

/// The checks of `vhost_vsock_alloc_skb()` before the header is read: a
/// chain of `len` bytes, `writable` of its pieces device-writable.
pub fn check_tx_chain(writable: usize, len: u64) -> Result<(), TxError> {
    if writable != 0 {
        return Err(TxError::Writable);
    }
    if len < HDR_SIZE as u64 {
        return Err(TxError::Short);
    }
    if len > (MAX_PKT_BUF_SIZE + HDR_SIZE) as u64 {
        return Err(TxError::Long);
    }
    Ok(())
}

/// The payload bytes of a packet whose chain holds `len` bytes: the
/// header's `len`, if the chain holds that much past the header. The
/// receive buffer is sized from this, not from the chain: a guest posting
/// 64 KiB buffers with empty packets makes the host hold only headers.
pub fn tx_payload_len(hdr: &Hdr, len: u64) -> Result<usize, TxError> {
    let payload = u64::from(hdr.len);
    if payload + HDR_SIZE as u64 > len {
        return Err(TxError::LenPastBuffer);
    }
    Ok(hdr.len as usize)
}

/// Whether a packet from the guest of `guest_cid` is addressed as it must
/// be: from the guest, to the host. Anything else is dropped.
pub fn tx_addressed(hdr: &Hdr, guest_cid: u32) -> bool {
    hdr.src_cid == u64::from(guest_cid) && hdr.dst_cid == HOST_CID
}

/// A piece of a packet for the guest that fits a buffer: its header, and
/// its payload bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RxPiece {
    /// The header to write before the payload.
    pub hdr: Hdr,
    /// Payload bytes of this piece.
    pub len: usize,
    /// Flags the rest of the packet gets back (`flags_to_restore`).
    pub restore: u32,
}

/// How much of a packet with header `hdr` and `remaining` payload bytes
/// goes into a guest buffer of `buf_len` bytes (`vhost_transport_do_send_pkt()`);
/// `None` if the buffer cannot take a header. A packet that does not fit
/// is split: every piece but the last has the header's `len` of its own
/// and, for SEQPACKET, no end-of-message or end-of-record flag.
pub fn rx_piece(hdr: &Hdr, remaining: usize, buf_len: usize) -> Option<RxPiece> {
    let room = buf_len.checked_sub(HDR_SIZE)?;
    let mut piece = *hdr;
    let mut restore = 0;
    let len = if remaining > room {
        if hdr.flags & SEQ_EOM != 0 {
            piece.flags &= !SEQ_EOM;
            restore |= SEQ_EOM;
            if hdr.flags & SEQ_EOR != 0 {
                piece.flags &= !SEQ_EOR;
                restore |= SEQ_EOR;
            }
        }
        room
    } else {
        remaining
    };
    // `len` is at most `remaining`, a packet's length, which is a u32.
    piece.len = u32::try_from(len).unwrap_or(u32::MAX);
    Some(RxPiece {
        hdr: piece,
        len,
        restore,
    })
}
