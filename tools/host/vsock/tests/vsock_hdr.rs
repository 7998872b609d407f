// SPDX-License-Identifier: GPL-2.0

//! The virtio-vsock header checks and the RX split of drivers/vhost/vsock.c
//! (7.2), case by case.

use rvhost_vsock::vsock_hdr::{
    check_tx_chain,
    rx_piece,
    tx_addressed,
    tx_payload_len,
    Hdr,
    TxError,
    HDR_SIZE,
    HOST_CID,
    MAX_PKT_BUF_SIZE,
    SEQ_EOM,
    SEQ_EOR, //
};

fn sample() -> Hdr {
    Hdr {
        src_cid: 0x0102_0304_0506_0708,
        dst_cid: 2,
        src_port: 0x1122_3344,
        dst_port: 0x5566_7788,
        len: 100,
        type_: 1,
        op: 5,
        flags: SEQ_EOM | SEQ_EOR,
        buf_alloc: 0x0004_0000,
        fwd_cnt: 7,
    }
}

#[test]
fn wire_layout_is_little_endian_packed() {
    let b = sample().to_bytes();
    assert_eq!(b.len(), 44);
    assert_eq!(&b[0..8], &0x0102_0304_0506_0708u64.to_le_bytes());
    assert_eq!(&b[8..16], &2u64.to_le_bytes());
    assert_eq!(&b[16..20], &0x1122_3344u32.to_le_bytes());
    assert_eq!(&b[20..24], &0x5566_7788u32.to_le_bytes());
    assert_eq!(&b[24..28], &100u32.to_le_bytes());
    assert_eq!(&b[28..30], &1u16.to_le_bytes());
    assert_eq!(&b[30..32], &5u16.to_le_bytes());
    assert_eq!(&b[32..36], &3u32.to_le_bytes());
    assert_eq!(&b[36..40], &0x0004_0000u32.to_le_bytes());
    assert_eq!(&b[40..44], &7u32.to_le_bytes());
    assert_eq!(Hdr::from_bytes(&b), sample());
}

/// Every byte of the wire header lands in its own field and back: two
/// fields swapped in both directions would survive a round trip.
#[test]
fn every_byte_has_its_field() {
    let wire: [u8; HDR_SIZE] = core::array::from_fn(|i| i as u8 + 1);
    let h = Hdr::from_bytes(&wire);
    let le = |at: usize, n: usize| {
        wire[at..at + n]
            .iter()
            .rev()
            .fold(0u64, |v, &b| v << 8 | u64::from(b))
    };
    assert_eq!(h.src_cid, le(0, 8));
    assert_eq!(h.dst_cid, le(8, 8));
    assert_eq!(u64::from(h.src_port), le(16, 4));
    assert_eq!(u64::from(h.dst_port), le(20, 4));
    assert_eq!(u64::from(h.len), le(24, 4));
    assert_eq!(u64::from(h.type_), le(28, 2));
    assert_eq!(u64::from(h.op), le(30, 2));
    assert_eq!(u64::from(h.flags), le(32, 4));
    assert_eq!(u64::from(h.buf_alloc), le(36, 4));
    assert_eq!(u64::from(h.fwd_cnt), le(40, 4));
    assert_eq!(h.to_bytes(), wire);
}

#[test]
fn tx_chain_bounds() {
    assert_eq!(check_tx_chain(1, 100), Err(TxError::Writable));
    assert_eq!(check_tx_chain(0, HDR_SIZE as u64 - 1), Err(TxError::Short));
    assert_eq!(check_tx_chain(0, HDR_SIZE as u64), Ok(()));
    let max = (MAX_PKT_BUF_SIZE + HDR_SIZE) as u64;
    assert_eq!(check_tx_chain(0, max), Ok(()));
    assert_eq!(check_tx_chain(0, max + 1), Err(TxError::Long));
    assert_eq!(check_tx_chain(0, u64::MAX), Err(TxError::Long));
}

#[test]
fn tx_payload_from_header_not_chain() {
    let mut h = sample();
    h.len = 0;
    // A 64 KiB buffer with an empty packet: no payload to hold.
    assert_eq!(tx_payload_len(&h, (MAX_PKT_BUF_SIZE + HDR_SIZE) as u64), Ok(0));
    h.len = 10;
    assert_eq!(tx_payload_len(&h, HDR_SIZE as u64 + 10), Ok(10));
    assert_eq!(
        tx_payload_len(&h, HDR_SIZE as u64 + 9),
        Err(TxError::LenPastBuffer)
    );
    h.len = u32::MAX;
    assert_eq!(tx_payload_len(&h, u64::MAX / 2), Ok(u32::MAX as usize));
    assert_eq!(
        tx_payload_len(&h, (MAX_PKT_BUF_SIZE + HDR_SIZE) as u64),
        Err(TxError::LenPastBuffer)
    );
}

#[test]
fn tx_addressing() {
    let mut h = sample();
    h.src_cid = 3;
    h.dst_cid = HOST_CID;
    assert!(tx_addressed(&h, 3));
    assert!(!tx_addressed(&h, 4));
    h.src_cid = 3 | 1 << 32;
    assert!(!tx_addressed(&h, 3));
    h.src_cid = 3;
    h.dst_cid = 1;
    assert!(!tx_addressed(&h, 3));
}

#[test]
fn rx_whole_packet_keeps_flags() {
    let h = sample();
    let p = rx_piece(&h, 100, HDR_SIZE + 100).unwrap();
    assert_eq!(p.len, 100);
    assert_eq!(p.hdr.len, 100);
    assert_eq!(p.hdr.flags, SEQ_EOM | SEQ_EOR);
    assert_eq!(p.restore, 0);
}

#[test]
fn rx_split_clears_and_restores_eom_eor() {
    let h = sample();
    let p = rx_piece(&h, 100, HDR_SIZE + 30).unwrap();
    assert_eq!(p.len, 30);
    assert_eq!(p.hdr.len, 30);
    assert_eq!(p.hdr.flags, 0);
    assert_eq!(p.restore, SEQ_EOM | SEQ_EOR);
    // EOR alone (no EOM) is left as C leaves it.
    let mut h2 = sample();
    h2.flags = SEQ_EOR;
    let p = rx_piece(&h2, 100, HDR_SIZE + 30).unwrap();
    assert_eq!(p.hdr.flags, SEQ_EOR);
    assert_eq!(p.restore, 0);
}

#[test]
fn rx_buffer_too_small_for_header() {
    assert_eq!(rx_piece(&sample(), 100, HDR_SIZE - 1), None);
    // Exactly a header: an empty piece (C sends it, the guest sees len 0).
    let p = rx_piece(&sample(), 100, HDR_SIZE).unwrap();
    assert_eq!(p.len, 0);
}
