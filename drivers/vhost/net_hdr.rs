// SPDX-License-Identifier: GPL-2.0

//! The virtio-net header of a packet the guest transmits, as vhost-net
//! checks it before handing the packet to tun or tap in a batch
//! (`vhost_net_build_xdp()` of drivers/vhost/net.c).
//!
//! `core`-only safe Rust on the header's bytes: compiled into rvhost_net,
//! which copies the packet and calls [`fix_csum_hdr_len`] on the header in
//! place, and, unchanged, into `tools/host/net` for tests. The layout it
//! assumes is checked against the generated bindings in `net_main.rs`.

#![forbid(unsafe_code)]

/// `sizeof(struct virtio_net_hdr)`: the fields every virtio-net header
/// starts with.
pub const VIRTIO_NET_HDR_SIZE: usize = 10;

/// `VIRTIO_NET_HDR_F_NEEDS_CSUM` of `virtio_net_hdr.flags`: the device
/// (here tun or tap) completes the checksum at `csum_start + csum_offset`.
pub const VIRTIO_NET_HDR_F_NEEDS_CSUM: u8 = 1;

/// A `struct virtio_net_hdr` as bytes, in the virtqueue's byte order.
pub type VirtioNetHdr = [u8; VIRTIO_NET_HDR_SIZE];

/// The header asks for a checksum whose `hdr_len` lies past the end of the
/// packet: C drops the packet with `-EINVAL`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HdrLenPastPacket;

fn u16_from(b: [u8; 2], little_endian: bool) -> u16 {
    if little_endian {
        u16::from_le_bytes(b)
    } else {
        u16::from_be_bytes(b)
    }
}

/// The header check of `vhost_net_build_xdp()`: if the header asks for
/// checksum offload (`VIRTIO_NET_HDR_F_NEEDS_CSUM`) with `hdr_len` short of
/// `csum_start + csum_offset + 2`, `hdr_len` is raised to that (truncated
/// to 16 bits, as C's `cpu_to_vhost16()`), and the packet of `len` bytes
/// (header included) is refused if it is shorter than the new `hdr_len`.
///
/// The 16-bit fields are in the virtqueue's byte order: little-endian
/// unless `little_endian` is false (a legacy big-endian ring).
pub fn fix_csum_hdr_len(
    hdr: &mut VirtioNetHdr,
    little_endian: bool,
    len: usize,
) -> Result<(), HdrLenPastPacket> {
    // struct virtio_net_hdr: flags, gso_type, hdr_len, gso_size,
    // csum_start, csum_offset.
    let [flags, _, h0, h1, _, _, s0, s1, o0, o1] = *hdr;
    if flags & VIRTIO_NET_HDR_F_NEEDS_CSUM == 0 {
        return Ok(());
    }
    let need = u32::from(u16_from([s0, s1], little_endian))
        + u32::from(u16_from([o0, o1], little_endian))
        + 2;
    if need <= u32::from(u16_from([h0, h1], little_endian)) {
        return Ok(());
    }
    let hdr_len = need as u16;
    let [_, _, h0, h1, ..] = hdr;
    [*h0, *h1] = if little_endian {
        hdr_len.to_le_bytes()
    } else {
        hdr_len.to_be_bytes()
    };
    if usize::from(hdr_len) > len {
        return Err(HdrLenPastPacket);
    }
    Ok(())
}
