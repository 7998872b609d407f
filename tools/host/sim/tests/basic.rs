// SPDX-License-Identifier: GPL-2.0

//! Chains go through unchanged, used entries come back, both formats.

use rvhost_ring::{
    VIRTIO_F_IN_ORDER,
    VIRTIO_RING_F_EVENT_IDX,
    VIRTIO_RING_F_INDIRECT_DESC, //
};
use rvhost_sim::{
    driver::{
        features,
        SplitDriver, //
    },
    harness::{
        configure,
        segs_of, //
    },
    Format,
    Rig,
    TestMem, //
};

fn roundtrip(format: Format, feats: u64, batch: u16) {
    let mut rig = Rig::new(format, 16, feats, 64, batch, true);
    let shapes = [
        (1, 0, false),
        (2, 1, false),
        (4, 2, false),
        (3, 3, true),
        (5, 0, true),
    ];
    for round in 0..6u64 {
        let mut bufs = Vec::new();
        for (k, &(n, readable, ind)) in shapes.iter().enumerate() {
            let segs = rig.segs(round * 8 + k as u64, n, readable, 100 + k as u32);
            bufs.push(rig.drv.add(&rig.mem, &segs, ind).expect("room"));
        }
        let mut heads = Vec::new();
        for b in &bufs {
            let c = rig.dev.next_chain(&rig.mem).unwrap().expect("a chain");
            assert_eq!(c.head().id, b.id);
            assert_eq!(c.head().ndescs, b.ndescs);
            assert_eq!(segs_of(c.descs()), b.segs);
            let r = b.segs.iter().filter(|s| !s.write).count();
            assert_eq!(c.readable().len(), r);
            assert_eq!(c.writable().len(), b.segs.len() - r);
            assert_eq!(c.writable_len(), u64::from(b.writable_len()));
            heads.push(c.head());
        }
        assert!(rig.dev.next_chain(&rig.mem).unwrap().is_none());
        for (i, h) in heads.iter().enumerate() {
            rig.dev.add_used(&rig.mem, *h, i as u32).unwrap();
        }
        // Nothing visible before the flush.
        assert!(rig.drv.reap(&rig.mem).is_empty());
        rig.dev.flush_used(&rig.mem).unwrap();
        let got = rig.drv.reap(&rig.mem);
        let want: Vec<(u16, u32)> = if feats & (1 << VIRTIO_F_IN_ORDER) != 0 {
            // One used entry for the batch: the others are assumed full.
            let last = bufs.len() - 1;
            bufs.iter()
                .enumerate()
                .map(|(i, b)| {
                    (
                        b.id,
                        if i == last {
                            last as u32
                        } else {
                            b.writable_len()
                        },
                    )
                })
                .collect()
        } else {
            bufs.iter()
                .enumerate()
                .map(|(i, b)| (b.id, i as u32))
                .collect()
        };
        assert_eq!(got, want);
        assert_eq!(rig.drv.outstanding(), 0);
    }
}

#[test]
fn split_roundtrip() {
    for batch in [1, 3, 64] {
        roundtrip(
            Format::Split,
            features(&[VIRTIO_RING_F_INDIRECT_DESC]),
            batch,
        );
        roundtrip(
            Format::Split,
            features(&[VIRTIO_RING_F_EVENT_IDX, VIRTIO_F_IN_ORDER]),
            batch,
        );
    }
}

#[test]
fn packed_roundtrip() {
    for batch in [1, 3, 64] {
        roundtrip(
            Format::Packed,
            features(&[VIRTIO_RING_F_INDIRECT_DESC]),
            batch,
        );
        roundtrip(
            Format::Packed,
            features(&[VIRTIO_RING_F_EVENT_IDX, VIRTIO_F_IN_ORDER]),
            batch,
        );
    }
}

/// One read of the avail index and one of the avail entries per refill;
/// one write of the used entries and one of the used index per flush.
#[test]
fn split_bulk_access() {
    let mut rig = Rig::new(Format::Split, 256, 0, 1024, 64, false);
    for k in 0..64 {
        let segs = rig.segs(k, 1, 1, 64);
        rig.drv.add(&rig.mem, &segs, false).unwrap();
    }
    let reads = rig.mem.reads.get();
    let mut heads = Vec::new();
    while let Some(c) = rig.dev.next_chain(&rig.mem).unwrap() {
        heads.push(c.head());
    }
    assert_eq!(heads.len(), 64);
    // avail idx + avail entries + 64 neighbouring descriptors, 16 per
    // window + the avail idx read that finds the ring empty.
    assert_eq!(rig.mem.reads.get() - reads, 1 + 1 + 64 / 16 + 1);
    let writes = rig.mem.writes.get();
    for h in heads {
        rig.dev.add_used(&rig.mem, h, 0).unwrap();
    }
    rig.dev.flush_used(&rig.mem).unwrap();
    assert_eq!(rig.mem.writes.get() - writes, 2);
    assert_eq!(rig.drv.reap(&rig.mem).len(), 64);
}

/// Out of order, heads a free list hands out as neighbours are read a
/// window at a time, ascending (a fresh list) or descending (a LIFO list
/// refilled in used order, as Linux's); heads far apart one descriptor
/// each; and a fetch batch of 1 reads one descriptor per copy, as C.
#[test]
fn split_neighbour_heads_read_ahead() {
    let ascending: Vec<u16> = (0..64).collect();
    let descending: Vec<u16> = (0..64).rev().collect();
    // Neighbours in pairs, the pairs far apart; and two-descriptor chains.
    let pairs: Vec<u16> = (0..16).flat_map(|k| [k * 16, k * 16 + 1]).collect();
    let scattered: Vec<u16> = (0..64).map(|k| (k * 37) % 256).collect();
    let cases: [(&str, &[u16], u16, u64); 5] = [
        ("ascending", &ascending, 1, 64 / 16),
        ("descending", &descending, 1, 64 / 16),
        ("pairs", &pairs, 1, 16),
        ("scattered", &scattered, 1, 64),
        ("descending, two descriptors", &descending[..32], 2, 32 / 8),
    ];
    for (what, heads, len, windows) in cases {
        for batch in [64u16, 1] {
            let mem = TestMem::new(8 << 20, false);
            let (mut d, _) = SplitDriver::new(&mem, 0x1000, 256, 0);
            let mut dev = configure(&mem, &d, 1024, batch).unwrap();
            for &h in heads {
                // A chain of `len` descriptors, downwards from `h` for
                // two (the next free descriptor of a LIFO list).
                let h = h * len + (len - 1);
                for i in 0..len {
                    let next = if i + 1 < len { 1 } else { 0 };
                    d.put_desc(&mem, h - i, 0x40_0000 + u64::from(h - i) * 64, 64, next, h - i - next);
                }
                d.push_head(&mem, h);
            }
            let reads = mem.reads.get();
            let mut got = Vec::new();
            while let Some(c) = dev.next_chain(&mem).unwrap() {
                assert_eq!(c.descs().len(), usize::from(len), "{what}");
                for (i, desc) in c.descs().iter().enumerate() {
                    let at = c.head().id - i as u16;
                    assert_eq!(desc.addr, 0x40_0000 + u64::from(at) * 64, "{what}");
                }
                got.push(c.head().id);
            }
            let want: Vec<u16> = heads.iter().map(|h| h * len + (len - 1)).collect();
            assert_eq!(got, want, "{what}, batch {batch}");
            let n = heads.len() as u64;
            // Avail index, entries (one copy per chain with a batch of
            // 1), descriptors, the index read finding the ring empty.
            let want = if batch == 1 {
                1 + n + n * u64::from(len) + 1
            } else {
                1 + 1 + windows + 1
            };
            assert_eq!(mem.reads.get() - reads, want, "{what}, batch {batch}");
        }
    }
}

/// In order, descriptors and indirect tables are read a window at a time.
#[test]
fn in_order_reads_ahead() {
    let feats = features(&[VIRTIO_F_IN_ORDER]);
    for format in [Format::Split, Format::Packed] {
        let mut rig = Rig::new(format, 256, feats, 1024, 64, false);
        for k in 0..64 {
            let segs = rig.segs(k, 2, 1, 64);
            rig.drv.add(&rig.mem, &segs, false).unwrap();
        }
        let reads = rig.mem.reads.get();
        let mut n = 0;
        while rig.dev.next_chain(&rig.mem).unwrap().is_some() {
            n += 1;
        }
        assert_eq!(n, 64);
        let used = rig.mem.reads.get() - reads;
        // 128 descriptors, 16 per window; packed reads flags then contents.
        assert!(used <= 2 * 128 / 16 + 4, "{format:?}: {used} reads");
    }
}

/// In order, each group of chains ended with `end_used_group` is one used
/// entry, with the group's last id and length, at its first chain's slot.
#[test]
fn in_order_groups() {
    let feats = features(&[VIRTIO_F_IN_ORDER]);
    for format in [Format::Split, Format::Packed] {
        let mut rig = Rig::new(format, 16, feats, 64, 8, false);
        let mut bufs = Vec::new();
        for k in 0..6 {
            let segs = rig.segs(k, 1 + (k % 2) as usize, 1, 64);
            bufs.push(rig.drv.add(&rig.mem, &segs, false).unwrap());
        }
        let writes = rig.mem.writes.get();
        for (i, b) in bufs.iter().enumerate() {
            let c = rig.dev.next_chain(&rig.mem).unwrap().expect("chain");
            assert_eq!(c.head().id, b.id);
            let h = c.head();
            rig.dev.add_used(&rig.mem, h, 10 + i as u32).unwrap();
            // Groups of 1, 3 and 2 chains.
            if i == 0 || i == 3 {
                rig.dev.end_used_group();
            }
        }
        assert_eq!(rig.dev.used_pending(), 6);
        rig.dev.flush_used(&rig.mem).unwrap();
        // Split: three entries and the index; packed: the first two
        // descriptors in one run (the second group, 5 slots, ends it), the
        // third alone, then the first one's flags.
        let w = rig.mem.writes.get() - writes;
        let want = if format == Format::Split { 4 } else { 3 };
        assert_eq!(w, want, "{format:?}");
        let got = rig.drv.reap(&rig.mem);
        let want: Vec<(u16, u32)> = bufs
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let last = i == 0 || i == 3 || i == 5;
                (b.id, if last { 10 + i as u32 } else { b.writable_len() })
            })
            .collect();
        assert_eq!(got, want, "{format:?}");
    }
}

#[test]
fn wraps_at_65535() {
    for format in [Format::Split, Format::Packed] {
        let mut rig = Rig::new(format, 4, features(&[VIRTIO_RING_F_EVENT_IDX]), 16, 3, true);
        // 2^16 + a few buffers through a ring of 4: every index wraps.
        for k in 0..(65536 + 10) as u64 {
            let segs = rig.segs(k % 4, 1 + (k % 2) as usize, 1, 8);
            let b = rig.drv.add(&rig.mem, &segs, false).expect("room");
            let c = rig.dev.next_chain(&rig.mem).unwrap().expect("chain");
            assert_eq!(c.head().id, b.id);
            assert_eq!(segs_of(c.descs()), b.segs);
            let h = c.head();
            rig.dev.add_used(&rig.mem, h, 1).unwrap();
            rig.dev.flush_used(&rig.mem).unwrap();
            assert_eq!(rig.drv.reap(&rig.mem), vec![(b.id, 1)]);
        }
    }
}

/// vhost-net's TX pattern on a packed ring: bursts of 1 to 8 chains of 1 to
/// 3 readable descriptors, at most 16 outstanding; the device takes chains
/// until there are none, re-enabling notifications when empty, publishing
/// every 64 chains and at the end; the guest reaps after each run. Many
/// laps of the ring.
#[test]
fn packed_tx_pattern() {
    for format in [Format::Packed, Format::Split] {
        let mut rig = Rig::new(format, 256, features(&[]), 1024, 64, false);
        let (mut posted, mut done) = (0u64, 0u64);
        let mut out = std::collections::VecDeque::new();
        while done < 5000 {
            let burst = 1 + posted % 8;
            for _ in 0..burst {
                if out.len() >= 16 {
                    break;
                }
                let n = 1 + (posted % 3) as usize;
                let segs = rig.segs(posted % 32, n, n, 64);
                match rig.drv.add(&rig.mem, &segs, false) {
                    Some(b) => {
                        out.push_back(b.id);
                        posted += 1;
                    }
                    None => break,
                }
            }
            let mut pkts = 0;
            loop {
                let h = match rig.dev.next_chain(&rig.mem).unwrap() {
                    Some(c) => c.head(),
                    None => {
                        if rig.dev.enable_notify(&rig.mem).unwrap() {
                            rig.dev.disable_notify(&rig.mem).unwrap();
                            continue;
                        }
                        break;
                    }
                };
                rig.dev.add_used(&rig.mem, h, 0).unwrap();
                pkts += 1;
                if pkts % 64 == 0 {
                    rig.dev.flush_used(&rig.mem).unwrap();
                    let _ = rig.dev.need_notify(&rig.mem);
                }
            }
            rig.dev.flush_used(&rig.mem).unwrap();
            let _ = rig.dev.need_notify(&rig.mem);
            for (id, len) in rig.drv.reap(&rig.mem) {
                assert_eq!(Some(id), out.pop_front(), "{format:?} after {done}");
                assert_eq!(len, 0);
                done += 1;
            }
            assert!(out.is_empty(), "{format:?}: {} not used", out.len());
            assert!(rig.drv.reap(&rig.mem).is_empty(), "{format:?}: extra used");
        }
    }
}

/// In order, a group of a ring's worth of chains is published by
/// `add_used` itself; the guest must still hear of it: `used_undecided`
/// says so until the next interrupt decision.
#[test]
fn in_order_full_group_is_undecided() {
    for format in [Format::Split, Format::Packed] {
        let feats = features(&[VIRTIO_F_IN_ORDER]);
        let mut rig = Rig::new(format, 8, feats, 64, 64, false);
        let mut heads = Vec::new();
        for k in 0..8u64 {
            let segs = rig.segs(k, 1, 1, 64);
            rig.drv.add(&rig.mem, &segs, false).expect("room");
            heads.push(rig.dev.next_chain(&rig.mem).unwrap().expect("a chain").head());
        }
        assert!(!rig.dev.used_undecided());
        for h in heads {
            rig.dev.add_used(&rig.mem, h, 0).unwrap();
        }
        assert_eq!(rig.dev.used_pending(), 0, "{format:?}");
        assert!(rig.dev.used_undecided(), "{format:?}");
        assert!(rig.drv.has_used(&rig.mem), "{format:?}");
        rig.dev.need_notify(&rig.mem).unwrap();
        assert!(!rig.dev.used_undecided(), "{format:?}");
    }
}
