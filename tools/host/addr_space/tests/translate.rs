// SPDX-License-Identifier: GPL-2.0

//! `translate_desc()`, `iotlb_access_ok()` and the ring translation cache,
//! against `drivers/vhost/vhost.c` (7.2).

// Tests may panic: the lints for the kernel code do not apply.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::type_complexity)]

mod common;

use common::{
    map,
    table,
    Model,
    Table, //
};
use proptest::prelude::*;
use rvhost_addr_space::{
    iotlb_access_ok,
    AccessError,
    Errno,
    Kind,
    MetaCache,
    MetaType,
    Seg,
    TranslateError,
    VHOST_ACCESS_RO,
    VHOST_ACCESS_RW,
    VHOST_ACCESS_WO,
    VHOST_MAP_RO,
    VHOST_MAP_RW,
    VHOST_MAP_WO, //
};

fn segs(
    t: &Table,
    addr: u64,
    len: u64,
    access: u8,
    max: usize,
) -> Result<Vec<(u64, u64)>, TranslateError> {
    t.translate(addr, len, access, max)
        .map(|r| r.map(|s| (s.addr, s.len)))
        .collect()
}

/// Three regions: 0x0-0xfff, 0x1000-0x2fff (elsewhere in the host), a hole,
/// then 0x4000-0x4fff read-only.
fn regions(kind: Kind) -> Table {
    let mut t = table(kind, 16);
    t.add_range(0x0, 0xfff, 0x10_0000, VHOST_MAP_RW).unwrap();
    t.add_range(0x1000, 0x2fff, 0x20_0000, VHOST_MAP_RW)
        .unwrap();
    t.add_range(0x4000, 0x4fff, 0x30_0000, VHOST_MAP_RO)
        .unwrap();
    t
}

#[test]
fn split_at_boundaries() {
    let t = regions(Kind::Umem);
    // vhost.c:2742-2748: one piece per entry, the last one clamped
    assert_eq!(
        segs(&t, 0x800, 0x1000, VHOST_ACCESS_RO, 8),
        Ok(vec![(0x10_0800, 0x800), (0x20_0000, 0x800)])
    );
    assert_eq!(
        segs(&t, 0x1800, 0x100, VHOST_ACCESS_WO, 8),
        Ok(vec![(0x20_0800, 0x100)])
    );
    assert_eq!(
        segs(&t, 0x0, 0x3000, VHOST_ACCESS_RW, 8),
        Ok(vec![(0x10_0000, 0x1000), (0x20_0000, 0x2000)])
    );
    // vhost.c:2721: len 0 gives nothing, even unmapped
    assert_eq!(segs(&t, 0x3000, 0, VHOST_ACCESS_RO, 8), Ok(vec![]));
}

#[test]
fn errors_and_their_order() {
    let umem = regions(Kind::Umem);
    let iotlb = regions(Kind::Iotlb);
    // vhost.c:2731-2735: the memory table says -EFAULT at the first
    // address not mapped ...
    assert_eq!(
        segs(&umem, 0x2800, 0x1000, VHOST_ACCESS_RO, 8),
        Err(TranslateError::Unmapped { addr: 0x3000 })
    );
    // ... the IOTLB -EAGAIN, with a miss for that address and the access
    // (vhost.c:2754-2755)
    assert_eq!(
        segs(&iotlb, 0x2800, 0x1000, VHOST_ACCESS_WO, 8),
        Err(TranslateError::Miss {
            iova: 0x3000,
            perm: VHOST_ACCESS_WO
        })
    );
    assert_eq!(
        TranslateError::Miss { iova: 0, perm: 1 }.errno(),
        Errno::Again
    );
    assert_eq!(TranslateError::Unmapped { addr: 0 }.errno(), Errno::Fault);
    // vhost.c:2737: -EPERM for a read-only entry written
    assert_eq!(
        segs(&umem, 0x4000, 0x10, VHOST_ACCESS_WO, 8),
        Err(TranslateError::Perm { addr: 0x4000 })
    );
    assert_eq!(TranslateError::Perm { addr: 0 }.errno(), Errno::Perm);
    // RW needs only one of the bits (map->perm & access)
    assert_eq!(
        segs(&umem, 0x4000, 0x10, VHOST_ACCESS_RW, 8),
        Ok(vec![(0x30_0000, 0x10)])
    );
    // vhost.c:2725: -ENOBUFS is checked before the next lookup, so a full
    // iov wins over a hole after it
    assert_eq!(
        segs(&umem, 0x800, 0x3000, VHOST_ACCESS_RO, 2),
        Err(TranslateError::NoBufs)
    );
    assert_eq!(
        segs(&umem, 0x800, 0x1000, VHOST_ACCESS_RO, 1),
        Err(TranslateError::NoBufs)
    );
    assert_eq!(
        segs(&umem, 0x800, 0x1000, VHOST_ACCESS_RO, 0),
        Err(TranslateError::NoBufs)
    );
    assert_eq!(TranslateError::NoBufs.errno(), Errno::NoBufs);
}

#[test]
fn wrapping_range_is_unmapped() {
    // vhost.c:2718: last = addr + len - 1 wraps, and itree_first(addr, last)
    // then finds nothing beginning at or before the small `last`, though
    // `addr` itself is mapped.
    let mut t = table(Kind::Umem, 4);
    t.add_range(0, u64::MAX, 0, VHOST_MAP_RW).unwrap();
    let top = u64::MAX - 1;
    assert_eq!(segs(&t, top, 2, VHOST_ACCESS_RO, 8), Ok(vec![(top, 2)]));
    assert_eq!(
        segs(&t, top, 3, VHOST_ACCESS_RO, 8),
        Err(TranslateError::Unmapped { addr: top })
    );
}

#[test]
fn overlapping_regions_first_wins() {
    // The memory table accepts overlaps; translation uses the entry with
    // the lowest start, then the earliest added, for each piece.
    let mut t = table(Kind::Umem, 8);
    t.add_range(0x2000, 0x2fff, 0xb000, VHOST_MAP_RW).unwrap();
    t.add_range(0x1000, 0x3fff, 0xa000, VHOST_MAP_RW).unwrap();
    t.add_range(0x1000, 0x1fff, 0xc000, VHOST_MAP_RW).unwrap();
    assert_eq!(
        segs(&t, 0x1800, 0x2000, VHOST_ACCESS_RO, 8),
        Ok(vec![(0xa800, 0x2000)])
    );
    // pieces restart the search at the end of the previous entry
    t.del_range(0x3800, 0x3800);
    assert_eq!(
        segs(&t, 0x1800, 0x1000, VHOST_ACCESS_RO, 8),
        Ok(vec![(0xc800, 0x800), (0xb000, 0x800)])
    );
}

#[test]
fn translate_into_fills_iov() {
    let t = regions(Kind::Umem);
    let mut iov = [Seg { addr: 0, len: 0 }; 2];
    assert_eq!(
        t.translate_into(0x800, 0x1000, VHOST_ACCESS_RO, &mut iov),
        Ok(2)
    );
    assert_eq!(
        iov,
        [
            Seg {
                addr: 0x10_0800,
                len: 0x800
            },
            Seg {
                addr: 0x20_0000,
                len: 0x800
            }
        ]
    );
    let mut one = [Seg { addr: 0, len: 0 }; 1];
    assert_eq!(
        t.translate_into(0x800, 0x1000, VHOST_ACCESS_RO, &mut one),
        Err(TranslateError::NoBufs)
    );
    assert_eq!(
        t.translate_into(0x800, 0x800, VHOST_ACCESS_RO, &mut one),
        Ok(1)
    );
    assert_eq!(
        t.translate_into(0x3000, 1, VHOST_ACCESS_RO, &mut one),
        Err(TranslateError::Unmapped { addr: 0x3000 })
    );
}

#[test]
fn one_piece() {
    // vhost.c:1410-1437 __vhost_get_user_slow()
    let t = regions(Kind::Iotlb);
    assert_eq!(
        t.translate_one(0xffe, 2, VHOST_ACCESS_RO),
        Ok(Some(0x10_0ffe))
    );
    // two pieces: "Non atomic userspace memory access"
    assert_eq!(t.translate_one(0xfff, 2, VHOST_ACCESS_RO), Ok(None));
    // the whole range is translated first: a miss further on is reported
    assert_eq!(
        t.translate_one(0x2fff, 2, VHOST_ACCESS_RO),
        Err(TranslateError::Miss {
            iova: 0x3000,
            perm: VHOST_ACCESS_RO
        })
    );
    assert_eq!(
        t.translate_one(0x4000, 2, VHOST_ACCESS_WO),
        Err(TranslateError::Perm { addr: 0x4000 })
    );
}

#[test]
fn access_ok_and_cache() {
    let mut t = table(Kind::Iotlb, 8);
    t.add_range(0x1000, 0x1fff, 0xa000, VHOST_MAP_RO).unwrap();
    t.add_range(0x2000, 0x2fff, 0xb000, VHOST_MAP_RW).unwrap();
    let mut c = MetaCache::default();
    // vhost.c:1903: missing, reported at the first address not mapped
    assert_eq!(
        iotlb_access_ok(&t, &mut c, VHOST_ACCESS_RO, 0x1800, 0x2000, MetaType::Desc),
        Err(AccessError::Miss {
            iova: 0x3000,
            perm: VHOST_ACCESS_RO
        })
    );
    // vhost.c:1906: no permission, no miss
    assert_eq!(
        iotlb_access_ok(&t, &mut c, VHOST_ACCESS_WO, 0x1800, 0x100, MetaType::Used),
        Err(AccessError::Denied)
    );
    // across two entries: fine, but not cached (vhost.c:1915)
    assert_eq!(
        iotlb_access_ok(&t, &mut c, VHOST_ACCESS_RO, 0x1800, 0x1000, MetaType::Desc),
        Ok(())
    );
    assert_eq!(c, MetaCache::default());
    // within one: cached, and then fetch() answers without looking
    assert_eq!(
        iotlb_access_ok(&t, &mut c, VHOST_ACCESS_RO, 0x1800, 0x100, MetaType::Avail),
        Ok(())
    );
    assert_eq!(
        c.get(MetaType::Avail),
        Some(&map(0x1000, 0x1fff, 0xa000, VHOST_MAP_RO))
    );
    assert_eq!(c.fetch(MetaType::Avail, 0x1804), Some(0xa804));
    assert_eq!(c.fetch(MetaType::Used, 0x1804), None);
    // vhost.c:1898: a cached type is ok whatever is asked
    t.reset();
    assert_eq!(
        iotlb_access_ok(&t, &mut c, VHOST_ACCESS_RO, 0x1800, 0x100, MetaType::Avail),
        Ok(())
    );
    c.reset();
    assert!(iotlb_access_ok(&t, &mut c, VHOST_ACCESS_RO, 0x1800, 0x100, MetaType::Avail).is_err());
    // vhost.c:1879-1887: the used ring is cached only from an entry that
    // may be written
    let mut t = table(Kind::Iotlb, 8);
    t.add_range(0x1000, 0x1fff, 0xa000, VHOST_MAP_WO).unwrap();
    assert_eq!(
        iotlb_access_ok(&t, &mut c, VHOST_ACCESS_WO, 0x1000, 0x10, MetaType::Used),
        Ok(())
    );
    assert!(c.get(MetaType::Used).is_some());
    // len 0: nothing to check
    assert_eq!(
        iotlb_access_ok(&t, &mut c, VHOST_ACCESS_RO, 0x9000, 0, MetaType::Desc),
        Ok(())
    );
    // an RW entry checked for RO is cached for desc
    let mut t = table(Kind::Iotlb, 8);
    t.add_range(0x0, 0xffff, 0x0, VHOST_MAP_RW).unwrap();
    c.reset();
    assert_eq!(
        iotlb_access_ok(&t, &mut c, VHOST_ACCESS_RO, 0x0, 0x100, MetaType::Desc),
        Ok(())
    );
    assert!(c.get(MetaType::Desc).is_some());
}

fn addr() -> impl Strategy<Value = u64> {
    prop_oneof![
        8 => (0u64..48).prop_map(|x| x * 0x100),
        1 => (0u64..48).prop_map(|x| x * 0x100 + 1),
        1 => Just(u64::MAX),
        1 => Just(u64::MAX / 2 + 1),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    /// translate_desc() over random overlapping tables: the same pieces or
    /// the same error as the model.
    #[test]
    fn same_as_model(
        iotlb: bool,
        entries in prop::collection::vec((addr(), addr(), any::<u64>(), 0u8..4), 0..10),
        queries in prop::collection::vec((addr(), 0u64..0x1800, 1u8..4, 0usize..5), 1..10),
    ) {
        let kind = if iotlb { Kind::Iotlb } else { Kind::Umem };
        let mut t = table(kind, 8);
        let mut m = Model::new(kind, 8, true);
        for (s, l, a, p) in entries {
            prop_assert_eq!(t.add_range(s, l, a, p), m.add_range(s, l, a, p));
        }
        for (a, len, access, max) in queries {
            prop_assert_eq!(segs(&t, a, len, access, max), m.translate(a, len, access, max));
        }
    }
}
