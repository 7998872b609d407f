// SPDX-License-Identifier: GPL-2.0

//! `VHOST_SET_MEM_TABLE`: `vhost_set_memory()`, `memory_access_ok()`,
//! `vq_memory_access_ok()`, `vhost_log_access_ok()` of
//! `drivers/vhost/vhost.c` (7.2).

// Tests may panic: the lints for the kernel code do not apply.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::type_complexity)]

mod common;

use common::{
    access_ok,
    features,
    list,
    map,
    table, //
};
use rvhost_addr_space::{
    build_umem,
    check_memory_header,
    memory_access_ok,
    set_memory,
    vhost_log_access_ok,
    vhost_overflow,
    vq_memory_access_ok,
    CappedStorage,
    Errno,
    Kind,
    MemoryRegion,
    Slot,
    TranslateError,
    VqConfig,
    DEFAULT_MAX_MEM_REGIONS,
    USER_PTR_MAX_4LEVEL,
    VHOST_ACCESS_RO,
    VHOST_F_LOG_ALL,
    VHOST_MAP_RW, //
};

fn r(gpa: u64, size: u64, uaddr: u64) -> MemoryRegion {
    MemoryRegion {
        guest_phys_addr: gpa,
        memory_size: size,
        userspace_addr: uaddr,
        flags_padding: 0,
    }
}

#[test]
fn header() {
    // vhost.c:2001 padding, 2003 nregions, 2005 max_iotlb_entries, in order
    assert_eq!(check_memory_header(1, 1, 64, 2048), Err(Errno::OpNotSupp));
    assert_eq!(check_memory_header(65, 1, 64, 2048), Err(Errno::OpNotSupp));
    assert_eq!(check_memory_header(65, 0, 64, 2048), Err(Errno::TooBig));
    assert_eq!(check_memory_header(65, 0, 64, 0), Err(Errno::TooBig));
    assert_eq!(check_memory_header(64, 0, 64, 0), Err(Errno::Inval));
    assert_eq!(check_memory_header(64, 0, 64, -1), Err(Errno::Inval));
    assert_eq!(
        check_memory_header(64, 0, DEFAULT_MAX_MEM_REGIONS, 2048),
        Ok(())
    );
    // no regions at all is a valid, empty table
    assert_eq!(check_memory_header(0, 0, 64, 2048), Ok(()));
    assert!(build_umem(Vec::<Slot>::new(), [], 2048).unwrap().is_empty());
}

#[test]
fn regions() {
    const MAX: u64 = u64::MAX;
    // vhost.c:2026-2034: each region is add_range(gpa, gpa + size - 1, uaddr,
    // RW), and any failure is -EFAULT (vhost.c:2056).
    let cases: &[(&str, MemoryRegion, Result<usize, Errno>)] = &[
        ("plain", r(0x1000, 0x1000, 0x7000_0000), Ok(1)),
        // iotlb.c:63: gpa - 1 < gpa
        ("size 0", r(0x1000, 0, 0x7000_0000), Err(Errno::Fault)),
        // gpa 0, size 0: last = ULONG_MAX, the whole space in two entries
        ("size 0 at 0", r(0, 0, 0x7000_0000), Ok(2)),
        // the last byte wraps: last < start
        (
            "gpa wraps",
            r(MAX - 0xfff, 0x2000, 0x7000_0000),
            Err(Errno::Fault),
        ),
        ("to the end", r(MAX - 0xfff, 0x1000, 0x7000_0000), Ok(1)),
        ("size max at 1", r(1, MAX, 0), Ok(1)),
        ("size max at 2", r(2, MAX, 0), Err(Errno::Fault)),
        // uaddr + size overflowing is not checked here, only when a
        // ring is running (vq_memory_access_ok)
        ("uaddr wraps", r(0x1000, 0x2000, MAX), Ok(1)),
        // alignment is not checked despite the uapi comment
        ("unaligned", r(0x1001, 0x3, 0x7000_0005), Ok(1)),
    ];
    for (what, region, want) in cases {
        let got = build_umem(Vec::new(), [*region], 2048).map(|t| t.len());
        assert_eq!(got, *want, "{what}");
        let got = set_memory(Vec::new(), [*region], 2048, [], &access_ok).map(|t| t.len());
        assert_eq!(got, *want, "{what}");
    }
}

#[test]
fn whole_space_region_maps_everything() {
    let t = build_umem(Vec::new(), [r(0, 0, 0x1000)], 2048).unwrap();
    assert_eq!(
        t.translate(0xdead_0000, 16, VHOST_ACCESS_RO, 8)
            .collect::<Vec<_>>(),
        [Ok(rvhost_addr_space::Seg {
            addr: 0xdead_1000,
            len: 16
        })]
    );
}

#[test]
fn overlaps_accepted_first_lowest_wins() {
    let t = build_umem(
        Vec::new(),
        [r(0x2000, 0x1000, 0xb000), r(0x0, 0x4000, 0xa000)],
        2048,
    )
    .unwrap();
    assert_eq!(
        list(&t),
        [
            map(0x2000, 0x2fff, 0xb000, VHOST_MAP_RW),
            map(0x0, 0x3fff, 0xa000, VHOST_MAP_RW)
        ]
    );
    assert_eq!(
        t.translate(0x2000, 1, VHOST_ACCESS_RO, 1).next(),
        Some(Ok(rvhost_addr_space::Seg {
            addr: 0xc000,
            len: 1
        }))
    );
}

#[test]
fn more_regions_than_entries_retire() {
    // max_mem_regions above max_iotlb_entries: iotlb_alloc() sets RETIRE,
    // so the first regions silently go.
    let t = build_umem(Vec::new(), (0..4).map(|i| r(i * 0x1000, 0x1000, 0)), 2).unwrap();
    assert_eq!(
        list(&t).iter().map(|m| m.start).collect::<Vec<_>>(),
        [0x2000, 0x3000]
    );
    assert_eq!(
        t.translate(0, 1, VHOST_ACCESS_RO, 1).next(),
        Some(Err(TranslateError::Unmapped { addr: 0 }))
    );
}

#[test]
fn allocation_failure_is_fault() {
    // A failed kmalloc in vhost_iotlb_add_range() takes the `goto err` path.
    let got = build_umem(
        CappedStorage::new(1),
        [r(0, 0x1000, 0), r(0x1000, 0x1000, 0)],
        2048,
    );
    assert_eq!(got.err(), Some(Errno::Fault));
}

#[test]
fn overflow() {
    // vhost.c:1257
    assert!(!vhost_overflow(u64::MAX, 0));
    assert!(!vhost_overflow(u64::MAX, 1));
    assert!(vhost_overflow(u64::MAX, 2));
    assert!(!vhost_overflow(0, u64::MAX));
    assert!(!vhost_overflow(1, u64::MAX));
    assert!(vhost_overflow(2, u64::MAX));
}

/// A queue's configuration, and whether it has a backend.
fn vq(active: bool, log_all: bool, log_base: u64) -> (&'static VqConfig, bool) {
    let bits: &[u32] = if log_all { &[VHOST_F_LOG_ALL] } else { &[] };
    let cfg = VqConfig {
        num: 256,
        features: features(bits),
        log_base,
        ..VqConfig::default()
    };
    (Box::leak(Box::new(cfg)), active)
}

#[test]
fn access_checks() {
    let user_top = USER_PTR_MAX_4LEVEL;
    let good = build_umem(Vec::new(), [r(0, 0x10_0000, 0x7f00_0000_0000)], 2048).unwrap();
    let past = build_umem(Vec::new(), [r(0, 0x1000, user_top - 0xfff)], 2048).unwrap();
    let wraps = build_umem(Vec::new(), [r(0, 0x2000, u64::MAX - 0xfff)], 2048).unwrap();
    // vhost.c:1275: no table at all
    assert!(!vq_memory_access_ok::<Vec<Slot>, _>(
        0, None, false, &access_ok
    ));
    assert!(vq_memory_access_ok(0, Some(&good), false, &access_ok));
    // vhost.c:1282, 1286: overflow and access_ok()
    assert!(!vq_memory_access_ok(0, Some(&past), false, &access_ok));
    assert!(!vq_memory_access_ok(0, Some(&wraps), false, &access_ok));
    // vhost.c:1288: log_all needs the log bytes of each region: 1 MiB of
    // guest memory is 32 bytes of log
    assert!(vq_memory_access_ok(0x1000, Some(&good), true, &access_ok));
    assert!(!vq_memory_access_ok(
        user_top - 31,
        Some(&good),
        true,
        &access_ok
    ));
    assert!(vq_memory_access_ok(
        user_top - 32,
        Some(&good),
        true,
        &access_ok
    ));
    // an empty table is fine
    assert!(vq_memory_access_ok(
        0,
        Some(&table(Kind::Umem, 4)),
        true,
        &access_ok
    ));

    // vhost.c:1308: only queues with a backend are checked, each with its
    // own log base, logging if asked or negotiated
    let idle = vq(false, true, 0);
    let running = vq(true, false, user_top);
    let logging = vq(true, true, user_top);
    assert!(memory_access_ok([idle], Some(&past), false, &access_ok));
    assert!(!memory_access_ok(
        [idle, running],
        Some(&past),
        false,
        &access_ok
    ));
    assert!(memory_access_ok([running], Some(&good), false, &access_ok));
    assert!(!memory_access_ok([logging], Some(&good), false, &access_ok));
    assert!(!memory_access_ok([running], Some(&good), true, &access_ok));
    // vhost.c:1950: vhost_log_access_ok() forces the log
    assert!(!vhost_log_access_ok([running], Some(&good), &access_ok));
    assert!(vhost_log_access_ok(
        [vq(true, false, 0x1000)],
        Some(&good),
        &access_ok
    ));
    assert!(vhost_log_access_ok::<Vec<Slot>, _>(
        [idle],
        None,
        &access_ok
    ));
    assert!(!vhost_log_access_ok::<Vec<Slot>, _>(
        [running],
        None,
        &access_ok
    ));

    // vhost.c:2036: set_memory refuses what a running queue cannot reach,
    // but only ever with the log forced off: a queue's LOG_ALL still counts
    assert_eq!(
        set_memory(
            Vec::new(),
            [r(0, 0x1000, user_top - 0xfff)],
            2048,
            [running],
            &access_ok
        )
        .err(),
        Some(Errno::Fault)
    );
    assert!(set_memory(
        Vec::new(),
        [r(0, 0x1000, user_top - 0xfff)],
        2048,
        [idle],
        &access_ok
    )
    .is_ok());
    assert_eq!(
        set_memory(
            Vec::new(),
            [r(0, 0x10_0000, 0x1000)],
            2048,
            [logging],
            &access_ok
        )
        .err(),
        Some(Errno::Fault)
    );
}

#[test]
fn region_bytes() {
    let mut b = [0u8; 32];
    for (i, v) in [1u64, 2, 3, 4].iter().enumerate() {
        b[i * 8..i * 8 + 8].copy_from_slice(&v.to_ne_bytes());
    }
    assert_eq!(
        MemoryRegion::from_bytes(&b),
        MemoryRegion {
            guest_phys_addr: 1,
            memory_size: 2,
            userspace_addr: 3,
            flags_padding: 4
        }
    );
}
