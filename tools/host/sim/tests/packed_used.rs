// SPDX-License-Identifier: GPL-2.0

//! Packed rings: used descriptors are written in runs, each read and
//! written back whole. What the device does not set stays as the driver
//! wrote it, and nothing is published before the first one's flags.

use std::cell::RefCell;

use rvhost_ring::{
    Fault,
    GuestMemory,
    Space,
    VIRTIO_F_IN_ORDER, //
};
use rvhost_sim::{
    driver::{
        features,
        Buf, //
    },
    Format,
    Rig,
    TestMem, //
};

const AVAIL: u16 = 1 << 7;
const USED: u16 = 1 << 15;
const WRITE: u16 = 2;

/// The descriptor ring of a [`Rig`] (it starts at 0x1000).
fn ring(rig: &Rig, num: u16) -> Vec<u8> {
    let mut v = vec![0u8; 16 * usize::from(num)];
    rig.mem.get(0x1000, &mut v);
    v
}

/// In order, groups far longer than RUN slots, chains longer than RUN,
/// a ring of 100 (not a power of two), many laps.
#[test]
fn in_order_long_groups_and_chains() {
    let num = 100u16;
    let mut rig = Rig::new(
        Format::Packed,
        num,
        features(&[VIRTIO_F_IN_ORDER]),
        1024,
        64,
        true,
    );
    let shapes: [&[usize]; 5] = [&[40, 1, 33], &[2, 2, 2, 2, 50], &[64], &[1; 20], &[35, 35]];
    let mut pos = 0usize;
    let mut wrap = true;
    let mut tag = 0u64;
    for round in 0..40 {
        let groups: Vec<Vec<usize>> = vec![
            shapes[round % 5].to_vec(),
            shapes[(round + 2) % 5]
                .iter()
                .copied()
                .filter(|&n| n < 30)
                .collect(),
        ];
        // Add as many as fit, in groups.
        let mut bufs: Vec<Vec<Buf>> = Vec::new();
        let mut room = usize::from(num);
        for g in &groups {
            let mut v = Vec::new();
            for &n in g {
                if n > room {
                    break;
                }
                tag += 1;
                let segs = rig.segs(tag % 100, n, n / 2, 64);
                v.push(rig.drv.add(&rig.mem, &segs, false).expect("room"));
                room -= n;
            }
            if !v.is_empty() {
                bufs.push(v);
            }
        }
        let mut heads = Vec::new();
        while let Some(c) = rig.dev.next_chain(&rig.mem).unwrap() {
            heads.push(c.head());
        }
        let before = ring(&rig, num);
        let mut k = 0;
        let mut want = Vec::new();
        let mut expect: Vec<(usize, u16, u32, bool)> = Vec::new();
        let (mut p, mut w) = (pos, wrap);
        for (gi, g) in bufs.iter().enumerate() {
            let (gp, gw) = (p, w);
            let mut last = (0u16, 0u32);
            for (i, b) in g.iter().enumerate() {
                let len = 7 + gi as u32 + i as u32;
                rig.dev.add_used(&rig.mem, heads[k], len).unwrap();
                k += 1;
                want.push((
                    b.id,
                    if i + 1 == g.len() {
                        len
                    } else {
                        b.writable_len()
                    },
                ));
                last = (b.id, len);
                p += usize::from(b.ndescs);
                if p >= usize::from(num) {
                    p -= usize::from(num);
                    w = !w;
                }
            }
            rig.dev.end_used_group();
            expect.push((gp, last.0, last.1, gw));
        }
        assert_eq!(k, heads.len());
        rig.dev.flush_used(&rig.mem).unwrap();
        let after = ring(&rig, num);
        for slot in 0..usize::from(num) {
            let (a, b) = (&after[16 * slot..][..16], &before[16 * slot..][..16]);
            match expect.iter().find(|e| e.0 == slot) {
                Some(&(_, id, len, gw)) => {
                    assert_eq!(a[..8], b[..8], "round {round} slot {slot} addr");
                    assert_eq!(a[8..12], len.to_le_bytes(), "round {round} slot {slot}");
                    assert_eq!(a[12..14], id.to_le_bytes(), "round {round} slot {slot}");
                    let f = (if gw { AVAIL | USED } else { 0 }) | if len != 0 { WRITE } else { 0 };
                    assert_eq!(
                        a[14..16],
                        f.to_le_bytes(),
                        "round {round} slot {slot} flags"
                    );
                }
                None => assert_eq!(a, b, "round {round}: slot {slot}"),
            }
        }
        assert_eq!(rig.drv.reap(&rig.mem), want, "round {round}");
        (pos, wrap) = (p, w);
    }
}

/// Memory that records, at the write barrier of a flush, the ring as the
/// driver would see it then.
struct AtWmb<'a> {
    mem: &'a TestMem,
    snap: RefCell<Vec<Vec<u8>>>,
    num: u16,
}

impl GuestMemory for AtWmb<'_> {
    fn read(&self, s: Space, a: u64, b: &mut [u8]) -> Result<(), Fault> {
        self.mem.read(s, a, b)
    }
    fn write(&self, s: Space, a: u64, b: &[u8]) -> Result<(), Fault> {
        self.mem.write(s, a, b)
    }
    fn rmb(&self) {}
    fn wmb(&self) {
        let mut v = vec![0u8; 16 * usize::from(self.num)];
        self.mem.get(0x1000, &mut v);
        self.snap.borrow_mut().push(v);
    }
    fn mb(&self) {}
}

/// Before the barrier everything but the first flags is in place, and the
/// first slot is still the driver's (not used): nothing is published early.
#[test]
fn nothing_published_before_the_barrier() {
    let num = 37u16;
    let mut rig = Rig::new(Format::Packed, num, 0, 256, 64, false);
    let mut pos = 0usize;
    for round in 0..12u64 {
        let mut bufs = Vec::new();
        for k in 0..9u64 {
            let segs = rig.segs(round * 9 + k, 1 + (k % 4) as usize, 1, 64);
            bufs.push(rig.drv.add(&rig.mem, &segs, false).expect("room"));
        }
        let mut heads = Vec::new();
        while let Some(c) = rig.dev.next_chain(&rig.mem).unwrap() {
            heads.push(c.head());
        }
        let before = ring(&rig, num);
        for (i, h) in heads.iter().enumerate() {
            rig.dev.add_used(&rig.mem, *h, 1 + i as u32).unwrap();
        }
        let m = AtWmb {
            mem: &rig.mem,
            snap: RefCell::new(Vec::new()),
            num,
        };
        rig.dev.flush_used(&m).unwrap();
        let snaps = m.snap.into_inner();
        assert_eq!(snaps.len(), 1);
        let at = &snaps[0];
        let after = ring(&rig, num);
        // The first slot's flags as the driver left them at the barrier.
        assert_eq!(
            at[16 * pos + 14..][..2],
            before[16 * pos + 14..][..2],
            "round {round}"
        );
        // Everything else as it ends up.
        let mut a2 = after.clone();
        a2[16 * pos + 14..][..2].copy_from_slice(&before[16 * pos + 14..][..2]);
        assert_eq!(*at, a2, "round {round}");
        let total: usize = bufs.iter().map(|b| usize::from(b.ndescs)).sum();
        pos = (pos + total) % usize::from(num);
        assert_eq!(rig.drv.reap(&rig.mem).len(), bufs.len());
    }
}

/// Packed: a batch of used descriptors goes out in runs, each read and
/// written back whole. Only the used descriptors' id, length and flags
/// change: the addresses, and the slots of a chain after its first, stay
/// as the guest wrote them, also when the batch wraps the ring and takes
/// more than one run.
#[test]
fn packed_used_runs_keep_the_rest() {
    let num = 50u16;
    let mut rig = Rig::new(Format::Packed, num, 0, 256, 64, false);
    let desc = 0x1000u64;
    let ring = 16 * usize::from(num);
    let mut pos = 0usize;
    let mut lap = true;
    for round in 0..4u64 {
        let mut bufs = Vec::new();
        for k in 0..18 {
            let segs = rig.segs(round * 18 + k, 1 + (k % 3) as usize, 1, 64);
            bufs.push(rig.drv.add(&rig.mem, &segs, false).expect("room"));
        }
        let mut heads = Vec::new();
        while let Some(c) = rig.dev.next_chain(&rig.mem).unwrap() {
            heads.push(c.head());
        }
        assert_eq!(heads.len(), bufs.len());
        let mut before = vec![0u8; ring];
        rig.mem.get(desc, &mut before);
        let writes = rig.mem.writes.get();
        for (i, h) in heads.iter().enumerate() {
            rig.dev.add_used(&rig.mem, *h, 100 + i as u32).unwrap();
        }
        rig.dev.flush_used(&rig.mem).unwrap();
        // 36 slots from `pos`: two runs, three when they wrap, and the
        // first descriptor's flags.
        let w = rig.mem.writes.get() - writes;
        assert!((3..=4).contains(&w), "round {round}: {w} writes");
        let mut after = vec![0u8; ring];
        rig.mem.get(desc, &mut after);
        let mut first = vec![None; usize::from(num)];
        let mut p = pos;
        for (i, b) in bufs.iter().enumerate() {
            first[p] = Some((b.id, 100 + i as u32, lap));
            p += usize::from(b.ndescs);
            if p >= usize::from(num) {
                p -= usize::from(num);
                lap = !lap;
            }
        }
        for (slot, f) in first.iter().enumerate() {
            let (a, b) = (&after[16 * slot..][..16], &before[16 * slot..][..16]);
            match f {
                Some((id, len, lap)) => {
                    assert_eq!(a[..8], b[..8], "round {round}: address of slot {slot}");
                    assert_eq!(a[8..12], len.to_le_bytes(), "round {round}: slot {slot}");
                    assert_eq!(a[12..14], id.to_le_bytes(), "round {round}: slot {slot}");
                    let f = if *lap { AVAIL | USED | WRITE } else { WRITE };
                    assert_eq!(a[14..16], f.to_le_bytes(), "round {round}: flags of {slot}");
                }
                None => assert_eq!(a, b, "round {round}: slot {slot}"),
            }
        }
        pos = p;
        let got = rig.drv.reap(&rig.mem);
        let want: Vec<(u16, u32)> = bufs
            .iter()
            .enumerate()
            .map(|(i, b)| (b.id, 100 + i as u32))
            .collect();
        assert_eq!(got, want, "round {round}");
    }
}
