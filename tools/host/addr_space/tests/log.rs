// SPDX-License-Identifier: GPL-2.0

//! The dirty log: `log_access_ok()`, `log_write()`, `log_write_hva()`,
//! `log_used()` and `vhost_log_write()` of `drivers/vhost/vhost.c` (7.2).

// Tests may panic: the lints for the kernel code do not apply.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::type_complexity)]

mod common;

use common::{
    access_ok,
    table,
    Model,
    Table, //
};
use proptest::prelude::*;
use rvhost_addr_space::{
    log_access_ok,
    log_used,
    log_write,
    log_write_descs,
    log_write_hva,
    log_write_iovs,
    Kind,
    LogBit,
    LogError,
    LogWrite,
    TranslateError,
    USER_PTR_MAX_4LEVEL,
    VHOST_ACCESS_WO,
    VHOST_MAP_RO,
    VHOST_MAP_RW, //
};

const BASE: u64 = 0x7f00_0000_0000;

fn collect(
    f: impl FnOnce(&mut dyn FnMut(LogBit) -> Result<(), ()>) -> Result<(), ()>,
) -> (Vec<(u64, u8)>, Result<(), ()>) {
    let mut v = Vec::new();
    let r = f(&mut |b: LogBit| {
        v.push((b.addr, b.bit));
        Ok(())
    });
    (v, r)
}

fn write_bits(base: u64, addr: u64, len: u64) -> Vec<(u64, u8)> {
    LogWrite::new(base, addr, len)
        .map(|b| (b.addr, b.bit))
        .collect()
}

#[test]
fn log_write_bits() {
    // vhost.c:2505-2528: a bit per page touched, page / 8 bytes from base
    assert_eq!(write_bits(BASE, 0, 0), []);
    assert_eq!(write_bits(BASE, 0, 1), [(BASE, 0)]);
    assert_eq!(write_bits(BASE, 0xfff, 1), [(BASE, 0)]);
    assert_eq!(write_bits(BASE, 0xfff, 2), [(BASE, 0), (BASE, 1)]);
    assert_eq!(write_bits(BASE, 0x1000, 0x1000), [(BASE, 1)]);
    assert_eq!(write_bits(BASE, 0x1000, 0x1001), [(BASE, 1), (BASE, 2)]);
    assert_eq!(
        write_bits(BASE, 7 * 0x1000, 0x2000),
        [(BASE, 7), (BASE + 1, 0)]
    );
    assert_eq!(write_bits(BASE, 0x8000 * 5 + 0x3000, 1), [(BASE + 5, 3)]);
    // the offset is added to the length with wrapping: a huge length at an
    // unaligned address logs one page
    assert_eq!(write_bits(BASE, 0x10, u64::MAX), [(BASE, 0)]);
    // base + page / 8 wraps like C's u64 sum
    assert_eq!(write_bits(u64::MAX, 0x8000, 1), [(0, 0)]);
    assert_eq!(LogWrite::new(BASE, 0xfff, 2).size_hint(), (2, Some(2)));
    // stopping at the first failure
    let mut n = 0;
    let r = log_write(BASE, 0, 0x5000, &mut |_| {
        n += 1;
        if n == 3 {
            Err("efault")
        } else {
            Ok(())
        }
    });
    assert_eq!((r, n), (Err("efault"), 3));
}

#[test]
fn log_bytes() {
    let by: Vec<_> = LogWrite::new(BASE, 0x6000, 0x5000).bytes().collect();
    assert_eq!(by, [(BASE, 0b1100_0000), (BASE + 1, 0b0000_0111)]);
}

#[test]
fn log_access() {
    let top = USER_PTR_MAX_4LEVEL;
    // vhost.c:1243: base + addr / 32 KiB, sz rounded up to 32 KiB
    assert!(log_access_ok(top - 1, 0, 0x8000, &access_ok));
    assert!(!log_access_ok(top, 0, 0x8000, &access_ok));
    assert!(log_access_ok(top, 0, 0, &access_ok));
    assert!(log_access_ok(top - 2, 0x8000, 0x8000, &access_ok));
    assert!(!log_access_ok(top - 1, 0x8000, 0x8000, &access_ok));
    // the rounding starts at the byte of addr, not at addr: a range that
    // crosses a 32 KiB boundary has one byte unchecked
    assert!(log_access_ok(top - 1, 0x7fff, 2, &access_ok));
    assert_eq!(write_bits(top - 1, 0x7fff, 2), [(top - 1, 7), (top, 0)]);
    // vhost.c:1248: base + a overflowing
    assert!(!log_access_ok(u64::MAX, 0x8000, 1, &access_ok));
    // sz near the top wraps to a small count
    let seen = std::cell::Cell::new(0);
    assert!(log_access_ok(0x1000, 0, u64::MAX, &|_, s| {
        seen.set(s);
        true
    }));
    assert_eq!(seen.get(), (u64::MAX.wrapping_add(0x7fff)) / 0x8000);
}

/// Guest 0x0-0x3fff at host 0x10000, guest 0x100000-0x100fff at host
/// 0x12000 (aliasing the host range of guest 0x2000-0x2fff).
fn aliased() -> Table {
    let mut t = table(Kind::Umem, 8);
    t.add_range(0x0, 0x3fff, 0x10000, VHOST_MAP_RW).unwrap();
    t.add_range(0x10_0000, 0x10_0fff, 0x12000, VHOST_MAP_RW)
        .unwrap();
    t
}

fn hva_bits(t: &Table, hva: u64, len: u64) -> (Vec<(u64, u8)>, Result<(), LogError<()>>) {
    let mut v = Vec::new();
    let r = log_write_hva(t, BASE, hva, len, &mut |b: LogBit| {
        v.push((b.addr, b.bit));
        Ok::<(), ()>(())
    });
    (v, r)
}

#[test]
fn hva_to_gpa() {
    let t = aliased();
    // vhost.c:2541-2559: every region holding the host address is logged
    assert_eq!(
        hva_bits(&t, 0x12000, 0x10),
        (vec![(BASE, 2), (BASE + 0x20, 0)], Ok(()))
    );
    assert_eq!(hva_bits(&t, 0x10000, 0x10), (vec![(BASE, 0)], Ok(())));
    // vhost.c:2561: nothing at all is -EFAULT
    assert_eq!(hva_bits(&t, 0x9000, 0x10), (vec![], Err(LogError::Fault)));
    // a gap after a hit is skipped: `hit` is never cleared
    let (bits, r) = hva_bits(&t, 0x13ff0, 0x20);
    assert_eq!((bits, r), (vec![(BASE, 3)], Ok(())));
    // a gap before a hit: the first round logs the later part and moves
    // by its length only, so the second round logs it again
    let (bits, r) = hva_bits(&t, 0xfff0, 0x20);
    assert_eq!((bits, r), (vec![(BASE, 0), (BASE, 0)], Ok(())));
    // the range advances by the shortest part, so longer parts log again
    let (bits, _) = hva_bits(&t, 0x11ff0, 0x1020);
    assert_eq!(
        bits,
        [
            // 0x11ff0..0x13010 in A; B's 0x12000..0x13000; advance 0x1000
            (BASE, 1),
            (BASE, 2),
            (BASE, 3),
            (BASE + 0x20, 0),
            // 0x12ff0..0x13010 in A; B's 0x12ff0..0x13000; advance 0x10
            (BASE, 2),
            (BASE, 3),
            (BASE + 0x20, 0),
            // 0x13000..0x13010 in A
            (BASE, 3),
        ]
    );
    // len 0 logs nothing, even unmapped
    assert_eq!(hva_bits(&t, 0x9000, 0), (vec![], Ok(())));
}

#[test]
fn used_ring() {
    let umem = aliased();
    let none: Option<&Table> = None;
    // vhost.c:2575: without an IOTLB, log_addr + offset is a guest address
    let (bits, r) =
        collect(|f| log_used(none, &umem, BASE, 0x5000, 0xdead, 4, 2, f).map_err(|_| ()));
    assert_eq!((bits, r), (vec![(BASE, 5)], Ok(())));
    // with one, the used ring's IOVA is translated for writing
    let mut iotlb = table(Kind::Iotlb, 8);
    iotlb
        .add_range(0x8000_0000, 0x8000_0fff, 0x10800, VHOST_MAP_RW)
        .unwrap();
    iotlb
        .add_range(0x8000_1000, 0x8000_1fff, 0x12000, VHOST_MAP_RW)
        .unwrap();
    let mut v = Vec::new();
    let r = log_used(
        Some(&iotlb),
        &umem,
        BASE,
        0,
        0x8000_0000,
        0x10,
        4,
        &mut |b: LogBit| {
            v.push((b.addr, b.bit));
            Ok::<(), ()>(())
        },
    );
    assert_eq!((v, r), (vec![(BASE, 0)], Ok(())));
    // vhost.c:2589-2593: only the first piece is logged (`ret` is reused)
    let mut v = Vec::new();
    let r = log_used(
        Some(&iotlb),
        &umem,
        BASE,
        0,
        0x8000_0ff0,
        0,
        0x20,
        &mut |b: LogBit| {
            v.push((b.addr, b.bit));
            Ok::<(), ()>(())
        },
    );
    assert_eq!((v, r), (vec![(BASE, 1)], Ok(())));
    // a miss: nothing logged, the error of translate_desc()
    let mut v = Vec::new();
    let r = log_used(
        Some(&iotlb),
        &umem,
        BASE,
        0,
        0x8000_1ff0,
        0,
        0x20,
        &mut |b: LogBit| {
            v.push((b.addr, b.bit));
            Ok::<(), ()>(())
        },
    );
    assert_eq!(
        (v, r),
        (
            vec![],
            Err(LogError::Translate(TranslateError::Miss {
                iova: 0x8000_2000,
                perm: VHOST_ACCESS_WO
            }))
        )
    );
    // a read-only entry: -EPERM
    let mut ro = table(Kind::Iotlb, 8);
    ro.add_range(0, 0xfff, 0x10000, VHOST_MAP_RO).unwrap();
    let r = log_used(
        Some(&ro),
        &umem,
        BASE,
        0,
        0,
        0,
        2,
        &mut |_| Ok::<(), ()>(()),
    );
    assert_eq!(
        r,
        Err(LogError::Translate(TranslateError::Perm { addr: 0 }))
    );
}

#[test]
fn vhost_log_write() {
    // vhost.c:2620-2630: min(log.len, len), len counting down unless U64_MAX
    let logs = [(0x0u64, 0x1000u64), (0x3000, 0x2000), (0x8000, 0x1000)];
    let (bits, _) = collect(|f| log_write_descs(BASE, logs, 0x1800, f));
    assert_eq!(bits, [(BASE, 0), (BASE, 3)]);
    let (bits, _) = collect(|f| log_write_descs(BASE, logs, u64::MAX, f));
    assert_eq!(bits, [(BASE, 0), (BASE, 3), (BASE, 4), (BASE + 1, 0)]);
    // with an IOTLB: the host pieces through the memory table
    let umem = aliased();
    let mut v = Vec::new();
    let r = log_write_iovs(
        &umem,
        BASE,
        [(0x10000, 1), (0x9000, 1)],
        &mut |b: LogBit| {
            v.push((b.addr, b.bit));
            Ok::<(), ()>(())
        },
    );
    assert_eq!((v, r), (vec![(BASE, 0)], Err(LogError::Fault)));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    /// log_write(): the same calls as C, and bytes() the same bits.
    #[test]
    fn log_write_as_c(base: u64, addr: u64, len in 0u64..0x20000, wrap: bool) {
        // or a length that wraps when the page offset is added
        let off = addr % 4096;
        let len = if wrap && off != 0 { u64::MAX - len % off } else { len };
        let mut want = Vec::new();
        Model::log_write(&mut want, base, addr, len);
        let got: Vec<_> = LogWrite::new(base, addr, len).take(want.len() + 1).map(|b| (b.addr, b.bit)).collect();
        prop_assert_eq!(&got, &want);
        let mut from_bytes = Vec::new();
        for (a, mask) in LogWrite::new(base, addr, len).bytes().take(want.len() + 1) {
            for bit in 0..8 {
                if mask & (1 << bit) != 0 {
                    from_bytes.push((a, bit));
                }
            }
        }
        prop_assert_eq!(from_bytes, want);
    }

    /// log_write_hva(): the same calls and result as C over random tables
    /// that a running queue can have (no region wraps).
    #[test]
    fn log_write_hva_as_c(
        regions in prop::collection::vec((0u64..64, 1u64..8, 0u64..64), 0..6),
        hva in 0u64..0x50000,
        len in 0u64..0x10000,
    ) {
        let mut t = table(Kind::Umem, 8);
        let mut m = Model::new(Kind::Umem, 8, true);
        for (g, s, u) in regions {
            let (g, s, u) = (g * 0x1000 + u % 3, s * 0x1000, u * 0x1000);
            t.add_range(g, g + s - 1, u, VHOST_MAP_RW).unwrap();
            m.add_range(g, g + s - 1, u, VHOST_MAP_RW).unwrap();
        }
        let mut want = Vec::new();
        let want_r = m.log_write_hva(&mut want, BASE, hva, len);
        let (got, r) = hva_bits(&t, hva, len);
        prop_assert_eq!(got, want);
        prop_assert_eq!(r.is_ok(), want_r.is_ok());
    }
}
