// SPDX-License-Identifier: GPL-2.0

//! The table itself: `vhost_iotlb_add_range()`, `vhost_iotlb_del_range()`,
//! `vhost_iotlb_itree_first()`, retirement, against the rules of
//! `drivers/vhost/iotlb.c` (7.2) and, by property, against the model.

// Tests may panic: the lints for the kernel code do not apply.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::type_complexity)]

mod common;

use common::{
    list,
    map,
    table,
    Model, //
};
use proptest::prelude::*;
use rvhost_addr_space::{
    CappedStorage,
    Errno,
    Iotlb,
    Kind,
    VHOST_IOTLB_FLAG_RETIRE,
    VHOST_MAP_RO,
    VHOST_MAP_RW,
    VHOST_MAP_WO, //
};

const MAX: u64 = u64::MAX;

#[test]
fn add_range_rules() {
    // (what, limit, flags, entries before, start, last, result, entries after)
    type Case = (
        &'static str,
        u32,
        u32,
        &'static [(u64, u64)],
        u64,
        u64,
        Result<(), Errno>,
        usize,
    );
    let cases: [Case; 15] = [
        // iotlb.c:63 `if (last < start) return -EFAULT;`
        ("last < start", 8, 1, &[], 10, 9, Err(Errno::Fault), 0),
        // a single byte is fine
        ("one byte", 8, 1, &[], 10, 10, Ok(()), 1),
        // iotlb.c:66 `if (!iotlb->limit) return -EINVAL;` (after the order check)
        ("limit 0", 0, 1, &[], 0, 1, Err(Errno::Inval), 0),
        (
            "limit 0, last < start",
            0,
            1,
            &[],
            2,
            1,
            Err(Errno::Fault),
            0,
        ),
        // iotlb.c:72-90: [0, ULONG_MAX] is two entries
        ("whole space", 8, 1, &[], 0, MAX, Ok(()), 2),
        // iotlb.c:76 `if (iotlb->limit < 2) return -ENOSPC;`, even with RETIRE
        (
            "whole space, limit 1",
            1,
            1,
            &[],
            0,
            MAX,
            Err(Errno::NoSpc),
            0,
        ),
        // iotlb.c:79 without RETIRE, room for two is needed up front
        (
            "whole space, no room",
            3,
            0,
            &[(0, 1), (2, 3)],
            0,
            MAX,
            Err(Errno::NoSpc),
            2,
        ),
        (
            "whole space, room",
            4,
            0,
            &[(0, 1), (2, 3)],
            0,
            MAX,
            Ok(()),
            4,
        ),
        // ... but not with RETIRE: the oldest go
        (
            "whole space, retire",
            3,
            1,
            &[(0, 1), (2, 3), (4, 5)],
            0,
            MAX,
            Ok(()),
            3,
        ),
        // iotlb.c:92-97: full without RETIRE is -ENOSPC
        ("full", 2, 0, &[(0, 1), (2, 3)], 4, 5, Err(Errno::NoSpc), 2),
        // iotlb.c:94: full with RETIRE drops the list head
        ("full, retire", 2, 1, &[(0, 1), (2, 3)], 4, 5, Ok(()), 2),
        // overlaps are accepted (nothing in add_range looks)
        ("overlap", 8, 1, &[(0, 100)], 50, 150, Ok(()), 2),
        ("duplicate", 8, 1, &[(0, 100)], 0, 100, Ok(()), 2),
        ("last byte", 8, 1, &[], MAX, MAX, Ok(()), 1),
        ("to the end", 8, 1, &[], 1, MAX, Ok(()), 1),
    ];
    for (what, limit, flags, pre, start, last, want, want_len) in cases {
        let mut t = Iotlb::with_flags(Vec::new(), Kind::Iotlb, limit, flags);
        for &(s, l) in pre {
            t.add_range(s, l, 0x1000, VHOST_MAP_RW).unwrap();
        }
        assert_eq!(
            t.add_range(start, last, 0x1000, VHOST_MAP_RW),
            want,
            "{what}"
        );
        assert_eq!(t.len(), want_len, "{what}");
    }
}

#[test]
fn whole_space_halves() {
    // iotlb.c:73-88: mid = ULONG_MAX / 2, the second half's address moves on
    let mut t = table(Kind::Umem, 8);
    t.add_range(0, MAX, 0x7000, VHOST_MAP_RO).unwrap();
    let mid = MAX / 2;
    assert_eq!(
        list(&t),
        [
            map(0, mid, 0x7000, VHOST_MAP_RO),
            map(mid + 1, MAX, 0x7000u64.wrapping_add(mid + 1), VHOST_MAP_RO)
        ]
    );
    assert_eq!(list(&t)[0].size(), 1 << 63);
}

#[test]
fn retire_drops_oldest_not_lowest() {
    // iotlb.c:94 list_first_entry(): insertion order, not address order
    let mut t = table(Kind::Iotlb, 3);
    for (s, a) in [(300, 3), (100, 1), (200, 2)] {
        t.add_range(s, s + 9, a, VHOST_MAP_RW).unwrap();
    }
    t.add_range(400, 409, 4, VHOST_MAP_RW).unwrap();
    assert_eq!(
        list(&t).iter().map(|m| m.start).collect::<Vec<_>>(),
        [100, 200, 400]
    );
    assert!(t.first(300, 300).is_none());
    assert_eq!(t.first(105, 105).unwrap().addr, 1);
}

#[test]
fn retire_needs_no_allocation() {
    // iotlb.c:93-96: the retired map is reused, kmalloc only below the limit
    let mut t = Iotlb::new(CappedStorage::new(2), Kind::Iotlb, 2);
    t.add_range(0, 9, 0, VHOST_MAP_RW).unwrap();
    t.add_range(10, 19, 0, VHOST_MAP_RW).unwrap();
    t.add_range(20, 29, 0, VHOST_MAP_RW).unwrap();
    assert_eq!(t.len(), 2);
}

#[test]
fn no_memory() {
    // iotlb.c:100-102: -ENOMEM, and nothing changes
    let mut t = Iotlb::new(CappedStorage::new(1), Kind::Iotlb, 8);
    t.add_range(0, 9, 0, VHOST_MAP_RW).unwrap();
    assert_eq!(t.add_range(10, 19, 0, VHOST_MAP_RW), Err(Errno::NoMem));
    assert_eq!(t.len(), 1);
    // the whole space: the first half stays when the second fails
    let mut t = Iotlb::new(CappedStorage::new(1), Kind::Iotlb, 8);
    assert_eq!(t.add_range(0, MAX, 0, VHOST_MAP_RW), Err(Errno::NoMem));
    assert_eq!(t.len(), 1);
}

#[test]
fn first_with_overlaps() {
    // The interval tree's leftmost node that ends at or after `start`,
    // returned if it begins at or before `last` (interval_tree_generic.h
    // _subtree_search: Cond2 then Cond1).
    let mut t = table(Kind::Umem, 16);
    t.add_range(0x1000, 0x5fff, 0xa000, VHOST_MAP_RW).unwrap(); // A
    t.add_range(0x2000, 0x2fff, 0xb000, VHOST_MAP_RW).unwrap(); // B inside A
    t.add_range(0x1000, 0x1fff, 0xc000, VHOST_MAP_RW).unwrap(); // C same start as A, later
    t.add_range(0x8000, 0x8fff, 0xd000, VHOST_MAP_RW).unwrap(); // D
                                                                // A wins over B (lower start) and over C (same start, inserted first)
    assert_eq!(t.first(0x2100, 0x2100).unwrap().addr, 0xa000);
    assert_eq!(t.first(0x1000, 0x1000).unwrap().addr, 0xa000);
    // past A and B: D if the range reaches it
    assert_eq!(t.first(0x6000, 0x7fff), None);
    assert_eq!(t.first(0x6000, 0x8000).unwrap().addr, 0xd000);
    // lookup() is translate's: first() then start <= addr
    assert_eq!(t.lookup(0x6000, 0x8000), None);
    assert_eq!(t.lookup(0x8000, 0x8000).unwrap().addr, 0xd000);
    // inverted ranges are not special: [0x2000, 0x1fff] finds A
    assert_eq!(t.first(0x2000, 0x1fff).unwrap().addr, 0xa000);
    // A gone: C (start 0x1000) ends before 0x2100, B is next
    t.del_range(0x5000, 0x5000);
    assert_eq!(t.first(0x2100, 0x2100).unwrap().addr, 0xb000);
    // a long entry ending late still shadows a later short one
    let mut t = table(Kind::Umem, 16);
    t.add_range(0x3000, 0x3fff, 1, VHOST_MAP_RW).unwrap();
    t.add_range(0x0, 0x9fff, 2, VHOST_MAP_RW).unwrap();
    t.add_range(0x1000, 0x1fff, 3, VHOST_MAP_RW).unwrap();
    assert_eq!(t.first(0x3000, 0x3000).unwrap().addr, 2);
    assert_eq!(t.first(0x1500, 0x1500).unwrap().addr, 2);
}

#[test]
fn del_range_rules() {
    // iotlb.c:137-145: every entry itree_first() finds goes, whole; no
    // splitting of partial overlaps.
    let fresh = || {
        let mut t = table(Kind::Iotlb, 16);
        for s in [0x0u64, 0x1000, 0x2000, 0x3000] {
            t.add_range(s, s + 0xfff, s, VHOST_MAP_RW).unwrap();
        }
        t
    };
    let cases: &[(&str, u64, u64, &[u64])] = &[
        ("one byte inside", 0x1800, 0x1800, &[0x0, 0x2000, 0x3000]),
        ("straddling two", 0x1fff, 0x2000, &[0x0, 0x3000]),
        ("exact", 0x1000, 0x1fff, &[0x0, 0x2000, 0x3000]),
        ("nothing", 0x4000, 0x5000, &[0x0, 0x1000, 0x2000, 0x3000]),
        ("all", 0, MAX, &[]),
        // vhost.c:1675: INVALIDATE uses iova + size - 1; size 0 gives
        // last = iova - 1, and the entry holding iova - 1 .. iova goes
        ("size 0 inside", 0x1800, 0x17ff, &[0x0, 0x2000, 0x3000]),
        // ... but at a boundary the entry found (starting at iova) begins
        // after last: nothing goes
        (
            "size 0 at a boundary",
            0x2000,
            0x1fff,
            &[0x0, 0x1000, 0x2000, 0x3000],
        ),
        ("size 0 at 0", 0, MAX, &[]),
    ];
    for &(what, s, l, left) in cases {
        let mut t = fresh();
        t.del_range(s, l);
        assert_eq!(
            list(&t).iter().map(|m| m.start).collect::<Vec<_>>(),
            left,
            "{what}"
        );
        let mut m = Model::new(Kind::Iotlb, 16, true);
        for x in [0x0u64, 0x1000, 0x2000, 0x3000] {
            m.add_range(x, x + 0xfff, x, VHOST_MAP_RW).unwrap();
        }
        m.del_range(s, l);
        assert_eq!(m.list, list(&t), "{what}");
    }
}

#[test]
fn reset_and_reuse() {
    let mut t = table(Kind::Iotlb, 4);
    t.add_range(0, 9, 0, VHOST_MAP_RW).unwrap();
    t.add_range(0, MAX, 0, VHOST_MAP_WO).unwrap();
    t.reset();
    assert!(t.is_empty());
    t.add_range(5, 6, 7, VHOST_MAP_RO).unwrap();
    assert_eq!(list(&t), [map(5, 6, 7, VHOST_MAP_RO)]);
    let s = t.into_storage();
    assert_eq!(s.len(), 1);
    // a table starts empty whatever the storage held
    let t = Iotlb::new(s, Kind::Umem, 4);
    assert!(t.is_empty());
}

#[test]
fn perm_is_stored_as_given() {
    // vhost.c:1659: msg->perm goes to the entry unchecked
    let mut t = table(Kind::Iotlb, 4);
    t.add_range(0, 9, 0, 0).unwrap();
    t.add_range(10, 19, 0, 0xff).unwrap();
    assert_eq!(list(&t)[0].perm, 0);
    assert_eq!(list(&t)[1].perm, 0xff);
}

#[derive(Clone, Debug)]
enum Op {
    Add(u64, u64, u64, u8),
    Del(u64, u64),
    First(u64, u64),
    /// A probe at the first address, then a translation through it of
    /// the range at the other two (start, length) and an access.
    Probe(u64, u64, u64, u8),
}

/// Addresses from a small set so that ranges touch, nest and coincide,
/// plus the extremes.
fn addr() -> impl Strategy<Value = u64> {
    prop_oneof![
        8 => (0u64..64).prop_map(|x| x * 0x100),
        1 => Just(0u64),
        1 => Just(MAX),
        1 => Just(MAX / 2),
        1 => Just(MAX / 2 + 1),
        1 => any::<u64>(),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (addr(), addr(), any::<u64>(), 0u8..4).prop_map(|(s, l, a, p)| Op::Add(s, l, a, p)),
        1 => (addr(), addr()).prop_map(|(s, l)| Op::Del(s, l)),
        4 => (addr(), addr()).prop_map(|(s, l)| Op::First(s, l)),
        4 => (addr(), addr(), 0u64..0x300, 1u8..4).prop_map(|(p, a, n, acc)| Op::Probe(p, a, n, acc)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Any sequence of adds, deletes and lookups, any limit, with and
    /// without RETIRE: same results, same entries in the same order, same
    /// answers from itree_first().
    #[test]
    fn same_as_model(limit in 0u32..8, retire: bool, ops in prop::collection::vec(op(), 0..40)) {
        let flags = if retire { VHOST_IOTLB_FLAG_RETIRE } else { 0 };
        let mut t = Iotlb::with_flags(Vec::new(), Kind::Iotlb, limit, flags);
        let mut m = Model::new(Kind::Iotlb, limit, retire);
        for op in ops {
            match op {
                Op::Add(s, l, a, p) => prop_assert_eq!(t.add_range(s, l, a, p), m.add_range(s, l, a, p)),
                Op::Del(s, l) => {
                    t.del_range(s, l);
                    m.del_range(s, l);
                }
                Op::First(s, l) => prop_assert_eq!(t.first(s, l).copied(), m.first(s, l)),
                // A probe is a shortcut: whatever it answers, the full
                // translation answers the same; and probing where a
                // one-piece translation starts answers it.
                Op::Probe(p, a, n, acc) => {
                    let slow: Vec<_> = t.translate(a, n, acc, 1).collect();
                    if let Some(seg) = t.probe(p).and_then(|pr| pr.translate(a, n, acc)) {
                        prop_assert_eq!(&slow, &vec![Ok(seg)]);
                    }
                    if let [Ok(seg)] = slow[..] {
                        if seg.len == n {
                            let pr = t.probe(a);
                            prop_assert_eq!(pr.and_then(|pr| pr.translate(a, n, acc)), Some(seg));
                        }
                    }
                }
            }
            prop_assert_eq!(list(&t), m.list.clone());
            prop_assert_eq!(t.sorted().copied().collect::<Vec<_>>(), m.tree());
        }
    }
}
