// SPDX-License-Identifier: GPL-2.0

//! The virtio-net header check of `vhost_net_build_xdp()` (drivers/vhost/
//! net.c, 7.2), case by case.

use rvhost_net::net_hdr::{
    fix_csum_hdr_len,
    HdrLenPastPacket,
    VirtioNetHdr,
    VIRTIO_NET_HDR_F_NEEDS_CSUM, //
};

/// A header with `flags`, `hdr_len`, `csum_start` and `csum_offset`, the
/// other fields filled with a pattern the check must leave alone.
fn hdr(flags: u8, hdr_len: u16, start: u16, offset: u16, le: bool) -> VirtioNetHdr {
    let b = |v: u16| if le { v.to_le_bytes() } else { v.to_be_bytes() };
    let (l, s, o) = (b(hdr_len), b(start), b(offset));
    [flags, 0xa5, l[0], l[1], 0x5a, 0x3c, s[0], s[1], o[0], o[1]]
}

#[test]
fn no_csum_is_untouched() {
    for le in [true, false] {
        let mut h = hdr(0, 0, 100, 100, le);
        let before = h;
        assert_eq!(fix_csum_hdr_len(&mut h, le, 0), Ok(()));
        assert_eq!(h, before);
    }
}

#[test]
fn zero_header_is_untouched() {
    let mut h = [0; 10];
    assert_eq!(fix_csum_hdr_len(&mut h, true, 0), Ok(()));
    assert_eq!(h, [0; 10]);
}

#[test]
fn long_enough_hdr_len_is_kept() {
    for le in [true, false] {
        // csum_start + csum_offset + 2 == hdr_len: enough.
        let mut h = hdr(VIRTIO_NET_HDR_F_NEEDS_CSUM, 50, 34, 14, le);
        let before = h;
        assert_eq!(fix_csum_hdr_len(&mut h, le, 10), Ok(()));
        assert_eq!(h, before);
    }
}

#[test]
fn short_hdr_len_is_raised() {
    for le in [true, false] {
        let mut h = hdr(VIRTIO_NET_HDR_F_NEEDS_CSUM | 0x2, 10, 34, 16, le);
        assert_eq!(fix_csum_hdr_len(&mut h, le, 52), Ok(()));
        assert_eq!(h, hdr(VIRTIO_NET_HDR_F_NEEDS_CSUM | 0x2, 52, 34, 16, le));
    }
}

#[test]
fn raised_past_the_packet_is_refused() {
    for le in [true, false] {
        let mut h = hdr(VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 34, 16, le);
        assert_eq!(fix_csum_hdr_len(&mut h, le, 51), Err(HdrLenPastPacket));
        // C has written the new hdr_len before it refuses the packet.
        assert_eq!(h, hdr(VIRTIO_NET_HDR_F_NEEDS_CSUM, 52, 34, 16, le));
    }
}

#[test]
fn raised_hdr_len_wraps_at_16_bits() {
    // 0xffff + 0xffff + 2 == 0x2_0000, stored as 0: C's cpu_to_vhost16().
    let mut h = hdr(VIRTIO_NET_HDR_F_NEEDS_CSUM, 1, 0xffff, 0xffff, true);
    assert_eq!(fix_csum_hdr_len(&mut h, true, 0), Ok(()));
    assert_eq!(h, hdr(VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0xffff, 0xffff, true));
}

#[test]
fn byte_order_matters() {
    let f = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    // Little-endian: hdr_len 5, csum_start and csum_offset 256 each, so
    // hdr_len is raised to 514. Big-endian: hdr_len 1280, the others 1,
    // long enough.
    let bytes = [f, 0, 0x05, 0x00, 0, 0, 0x00, 0x01, 0x00, 0x01];
    let mut le = bytes;
    assert_eq!(fix_csum_hdr_len(&mut le, true, 514), Ok(()));
    assert_eq!(le, [f, 0, 0x02, 0x02, 0, 0, 0x00, 0x01, 0x00, 0x01]);
    let mut be = bytes;
    assert_eq!(fix_csum_hdr_len(&mut be, false, 0), Ok(()));
    assert_eq!(be, bytes);
}
