// SPDX-License-Identifier: GPL-2.0

//! A hostile guest: every malformed ring is an error for the queue, with
//! the exact reason, never a panic; the bad chain is not consumed; and the
//! queue works again after a reset.

use rvhost_ring::{
    Error,
    Fault,
    GuestMemory,
    Space,
    VIRTIO_F_IN_ORDER,
    VIRTIO_RING_F_INDIRECT_DESC, //
};
use rvhost_sim::{
    driver::{
        features,
        Driver,
        PackedDriver,
        Seg,
        SplitDriver, //
    },
    harness::{
        configure,
        segs_of,
        Dev, //
    },
    TestMem,
};

const NUM: u16 = 8;
const NEXT: u16 = 1;
const WRITE: u16 = 2;
const IND: u16 = 4;
const BUF: u64 = 0x40_0000;

/// What a hostile split guest does to the ring before the device looks.
type SplitCase = fn(&TestMem, &mut SplitDriver);

fn split_cases() -> Vec<(&'static str, SplitCase, Error)> {
    vec![
        (
            "self-referencing NEXT",
            |m, d| {
                d.put_desc(m, 0, BUF, 8, NEXT, 0);
                d.push_head(m, 0);
            },
            Error::DescLoop { head: 0 },
        ),
        (
            "two-descriptor loop",
            |m, d| {
                d.put_desc(m, 3, BUF, 8, NEXT, 5);
                d.put_desc(m, 5, BUF, 8, NEXT, 3);
                d.push_head(m, 3);
            },
            Error::DescLoop { head: 3 },
        ),
        (
            "NEXT out of range",
            |m, d| {
                d.put_desc(m, 1, BUF, 8, NEXT, NUM);
                d.push_head(m, 1);
            },
            Error::NextOutOfRange { head: 1, next: NUM },
        ),
        (
            "head out of range",
            |m, d| d.push_head(m, 0xffff),
            Error::HeadOutOfRange {
                head: 0xffff,
                num: NUM,
            },
        ),
        (
            "indirect in indirect",
            |m, d| {
                let t = d.ind_table(0);
                put(m, t, BUF, 8, NEXT, 1);
                put(m, t + 16, t, 32, IND, 0);
                d.put_desc(m, 0, t, 32, IND, 0);
                d.push_head(m, 0);
            },
            Error::NestedIndirect { head: 0 },
        ),
        (
            "zero-length indirect table",
            |m, d| {
                d.put_desc(m, 2, d.ind_table(2), 0, IND, 0);
                d.push_head(m, 2);
            },
            Error::IndirectLen { head: 2, len: 0 },
        ),
        (
            "indirect table length not a multiple of 16",
            |m, d| {
                d.put_desc(m, 2, d.ind_table(2), 24, IND, 0);
                d.push_head(m, 2);
            },
            Error::IndirectLen { head: 2, len: 24 },
        ),
        (
            "oversize indirect table",
            |m, d| {
                d.put_desc(m, 2, d.ind_table(2), 16 * 65537, IND, 0);
                d.push_head(m, 2);
            },
            Error::IndirectTooBig {
                head: 2,
                len: 16 * 65537,
            },
        ),
        (
            "NEXT on the last entry of an indirect table",
            |m, d| {
                let t = d.ind_table(0);
                put(m, t, BUF, 8, NEXT, 1);
                put(m, t + 16, BUF, 8, NEXT, 2);
                d.put_desc(m, 0, t, 32, IND, 0);
                d.push_head(m, 0);
            },
            Error::DescLoop { head: 0 },
        ),
        (
            "addr + len wraps",
            |m, d| {
                d.put_desc(m, 0, BUF, 8, NEXT, 1);
                d.put_desc(m, 1, u64::MAX - 10, 12, 0, 0);
                d.push_head(m, 0);
            },
            Error::AddrOverflow {
                addr: u64::MAX - 10,
                len: 12,
            },
        ),
        (
            "indirect table wraps the address space",
            |m, d| {
                d.put_desc(m, 0, u64::MAX - 15, 32, IND, 0);
                d.push_head(m, 0);
            },
            Error::AddrOverflow {
                addr: u64::MAX - 15,
                len: 32,
            },
        ),
        (
            "readable after writable",
            |m, d| {
                d.put_desc(m, 0, BUF, 8, WRITE | NEXT, 1);
                d.put_desc(m, 1, BUF, 8, 0, 0);
                d.push_head(m, 0);
            },
            Error::ReadAfterWrite { head: 0 },
        ),
        (
            "readable after writable in an indirect table",
            |m, d| {
                let t = d.ind_table(4);
                put(m, t, BUF, 8, WRITE | NEXT, 1);
                put(m, t + 16, BUF, 8, 0, 0);
                d.put_desc(m, 4, t, 32, IND, 0);
                d.push_head(m, 4);
            },
            Error::ReadAfterWrite { head: 4 },
        ),
        (
            "avail index jumps more than the ring",
            |m, d| d.set_avail_idx(m, NUM + 1),
            Error::AvailIdxJump {
                last: 0,
                idx: NUM + 1,
            },
        ),
        (
            "avail index goes backwards",
            |m, d| d.set_avail_idx(m, 0xffff),
            Error::AvailIdxJump {
                last: 0,
                idx: 0xffff,
            },
        ),
        (
            "ring unmapped (found at the avail index)",
            |m, d| {
                d.push_head(m, 0);
                m.unmap(d.addrs().0);
            },
            Error::Translation {
                addr: 0x1000 + 16 * NUM as u64 + 2,
                fault: Fault::Unmapped,
            },
        ),
        (
            "indirect table unmapped",
            |m, d| {
                d.put_desc(m, 0, 0x7f_f000, 16, IND, 0);
                d.push_head(m, 0);
                m.unmap(0x7f_f000);
            },
            Error::Translation {
                addr: 0x7f_f000,
                fault: Fault::Unmapped,
            },
        ),
    ]
}

/// A packed descriptor in an indirect table.
fn putp(m: &TestMem, a: u64, addr: u64, len: u32, flags: u16) {
    m.put_u64(a, addr);
    m.put_u32(a + 8, len);
    m.put_u16(a + 12, 0);
    m.put_u16(a + 14, flags);
}

fn put(m: &TestMem, a: u64, addr: u64, len: u32, flags: u16, next: u16) {
    m.put_u64(a, addr);
    m.put_u32(a + 8, len);
    m.put_u16(a + 12, flags);
    m.put_u16(a + 14, next);
}

/// A good split ring on fresh memory through a reset device.
fn works_after_reset(dev: &mut Dev) {
    let mem = TestMem::new(8 << 20, true);
    let (mut d, _) = SplitDriver::new(&mem, 0x1000, NUM, features(&[VIRTIO_RING_F_INDIRECT_DESC]));
    dev.reset();
    let (desc, avail, used) = d.addrs();
    dev.set_features(d.features());
    dev.set_num(u32::from(NUM)).unwrap();
    dev.set_addr(desc, avail, used).unwrap();
    dev.start(&mem).unwrap();
    for ind in [false, true] {
        let segs = [
            Seg {
                addr: BUF,
                len: 4,
                write: false,
            },
            Seg {
                addr: BUF + 64,
                len: 4,
                write: true,
            },
        ];
        let b = d.add(&mem, &segs, ind).unwrap();
        let c = dev.next_chain(&mem).unwrap().unwrap();
        assert_eq!(segs_of(c.descs()), b.segs);
        let h = c.head();
        dev.add_used(&mem, h, 4).unwrap();
        dev.flush_used(&mem).unwrap();
        assert_eq!(d.reap(&mem), vec![(b.id, 4)]);
    }
}

#[test]
fn split_hostile_table() {
    for (what, case, want) in split_cases() {
        for batch in [1, 64] {
            let mem = TestMem::new(8 << 20, false);
            let (mut d, _) =
                SplitDriver::new(&mem, 0x1000, NUM, features(&[VIRTIO_RING_F_INDIRECT_DESC]));
            let mut dev = configure(&mem, &d, 64, batch).unwrap();
            // A good chain first: it is handed out before the error.
            // Descriptor 7 is one no case touches.
            d.put_desc(&mem, 7, BUF, 1, 0, 0);
            d.push_head(&mem, 7);
            case(&mem, &mut d);
            // These are found at the avail index, before the good chain.
            let jump = matches!(
                want,
                Error::AvailIdxJump { .. } | Error::Translation { addr: 0x1082, .. }
            );
            if !jump {
                let c = dev.next_chain(&mem).unwrap().expect(what);
                assert_eq!(c.head().id, 7, "{what}");
            }
            for _ in 0..2 {
                let got = dev.next_chain(&mem).map(|c| c.map(|c| c.head()));
                // The index error is found before the good chain is read.
                let want = match want {
                    Error::AvailIdxJump { idx, .. } => Error::AvailIdxJump { last: 0, idx },
                    w => w,
                };
                assert_eq!(got, Err(want), "{what}, batch {batch}");
                // The bad chain is not consumed.
                assert_eq!(dev.get_base(), if jump { 0 } else { 1 }, "{what}");
            }
            works_after_reset(&mut dev);
        }
    }
}

#[test]
fn iotlb_miss_is_retried() {
    let mem = TestMem::new(8 << 20, false);
    let (mut d, _) = SplitDriver::new(&mem, 0x1000, NUM, 0);
    let mut dev = configure(&mem, &d, 64, 64).unwrap();
    let b = d
        .add(
            &mem,
            &[Seg {
                addr: BUF,
                len: 1,
                write: false,
            }],
            false,
        )
        .unwrap();
    mem.miss(0x1000);
    let got = dev.next_chain(&mem).map(|c| c.map(|c| c.head()));
    // The first access is the avail index.
    assert_eq!(
        got,
        Err(Error::Translation {
            addr: d.addrs().1 + 2,
            fault: Fault::Miss
        })
    );
    mem.remap(0x1000);
    let c = dev.next_chain(&mem).unwrap().unwrap();
    assert_eq!(c.head().id, b.id);
}

/// Reading ahead meets an IOTLB miss on a later chain's indirect table.
/// The miss is not kept for later: when the chain is reached the mapping
/// may be there (the VMM answered the miss reported for it), and a stale
/// error would reach a caller that never saw the miss, and stall the queue.
/// With `early`, the mapping comes back before the chain is reached.
fn iotlb_miss_read_ahead<D: Driver>(
    mem: &TestMem,
    d: &mut D,
    table: fn(&D, u16) -> u64,
    early: bool,
) {
    let mut dev = configure(mem, d, 64, 64).unwrap();
    let seg = |addr| Seg {
        addr,
        len: 1,
        write: false,
    };
    // Direct chains first, so that B's table is on a page of its own.
    let a: Vec<u16> = (0..4).map(|_| d.add(mem, &[seg(BUF)], false).unwrap().id).collect();
    let b = d.add(mem, &[seg(BUF + 64), seg(BUF + 128)], true).unwrap();
    let t = table(d, b.id);
    let (desc, avail, used) = d.addrs();
    assert!([desc, avail, used].iter().all(|r| r / 4096 != t / 4096));
    mem.miss(t);
    for id in a {
        let c = dev.next_chain(mem).unwrap().unwrap();
        assert_eq!(c.head().id, id);
    }
    if !early {
        // Reached with the table still missing: the miss, and B stays.
        assert_eq!(
            dev.next_chain(mem).map(|c| c.map(|c| c.head().id)),
            Err(Error::Translation {
                addr: t,
                fault: Fault::Miss
            })
        );
        assert_eq!(dev.get_base() & 0x7fff, 4);
    }
    mem.remap(t);
    let c = dev.next_chain(mem).unwrap().unwrap();
    assert_eq!(segs_of(c.descs()), b.segs, "early {early}");
}

#[test]
fn split_iotlb_miss_read_ahead() {
    for early in [false, true] {
        let mem = TestMem::new(8 << 20, false);
        let f = features(&[VIRTIO_RING_F_INDIRECT_DESC]);
        let (mut d, _) = SplitDriver::new(&mem, 0x1000, NUM, f);
        iotlb_miss_read_ahead(&mem, &mut d, SplitDriver::ind_table, early);
    }
}

#[test]
fn packed_iotlb_miss_read_ahead() {
    for early in [false, true] {
        let mem = TestMem::new(8 << 20, false);
        let f = features(&[VIRTIO_RING_F_INDIRECT_DESC]);
        let (mut d, _) = PackedDriver::new(&mem, 0x1000, NUM, f);
        iotlb_miss_read_ahead(&mem, &mut d, PackedDriver::ind_table, early);
    }
}

#[test]
fn chain_longer_than_storage() {
    let mem = TestMem::new(8 << 20, false);
    let (mut d, _) = SplitDriver::new(&mem, 0x1000, 32, 0);
    let mut dev = configure(&mem, &d, 8, 64).unwrap();
    let short = d
        .add(
            &mem,
            &[Seg {
                addr: BUF,
                len: 1,
                write: false,
            }; 5],
            false,
        )
        .unwrap();
    // Does not fit behind the first: waits for the next refill.
    let fits = d
        .add(
            &mem,
            &[Seg {
                addr: BUF,
                len: 1,
                write: false,
            }; 8],
            false,
        )
        .unwrap();
    d.add(
        &mem,
        &[Seg {
            addr: BUF,
            len: 1,
            write: false,
        }; 9],
        false,
    )
    .unwrap();
    assert_eq!(dev.next_chain(&mem).unwrap().unwrap().head().id, short.id);
    assert_eq!(dev.next_chain(&mem).unwrap().unwrap().head().id, fits.id);
    let got = dev.next_chain(&mem).map(|c| c.map(|c| c.head()));
    assert!(
        matches!(got, Err(Error::ChainTooLong { max: 8, .. })),
        "{got:?}"
    );
}

type PackedCase = fn(&TestMem, &mut PackedDriver);

fn packed_cases() -> Vec<(&'static str, PackedCase, Error)> {
    vec![
        (
            "wrap counter misuse inside a chain",
            |m, d| {
                let a = d.avail_flags();
                // The second descriptor is marked for the other lap.
                d.put_desc(m, 1, BUF, 8, 0, (a ^ 0x8080) | WRITE);
                d.put_desc(m, 0, BUF, 8, 0, a | NEXT);
            },
            Error::PackedWrap { pos: 1 },
        ),
        (
            "chain longer than the ring",
            |m, d| {
                let a = d.avail_flags();
                for p in 0..NUM {
                    d.put_desc(m, p, BUF, 8, 0, a | NEXT);
                }
            },
            // Back at its head, the chain meets a descriptor of the
            // previous lap: the wrap check stops it before the length does.
            Error::PackedWrap { pos: 0 },
        ),
        (
            "indirect with NEXT",
            |m, d| {
                let a = d.avail_flags();
                let t = d.ind_table(0);
                putp(m, t, BUF, 8, 0);
                d.put_desc(m, 1, BUF, 8, 0, a);
                d.put_desc(m, 0, t, 16, 0, a | IND | NEXT);
            },
            Error::IndirectInChain { head: 0 },
        ),
        (
            "indirect after a direct descriptor",
            |m, d| {
                let a = d.avail_flags();
                let t = d.ind_table(0);
                putp(m, t, BUF, 8, 0);
                d.put_desc(m, 1, t, 16, 0, a | IND);
                d.put_desc(m, 0, BUF, 8, 0, a | NEXT);
            },
            Error::IndirectInChain { head: 0 },
        ),
        (
            "indirect in indirect",
            |m, d| {
                let a = d.avail_flags();
                let t = d.ind_table(0);
                putp(m, t, BUF, 8, 0);
                putp(m, t + 16, t, 16, IND);
                d.put_desc(m, 0, t, 32, 0, a | IND);
            },
            Error::NestedIndirect { head: 0 },
        ),
        (
            "zero-length indirect table",
            |m, d| {
                let a = d.avail_flags();
                d.put_desc(m, 0, d.ind_table(0), 0, 0, a | IND);
            },
            Error::IndirectLen { head: 0, len: 0 },
        ),
        (
            "oversize indirect table",
            |m, d| {
                let a = d.avail_flags();
                d.put_desc(m, 0, d.ind_table(0), 0xffff_fff0, 0, a | IND);
            },
            Error::IndirectTooBig {
                head: 0,
                len: 0xffff_fff0,
            },
        ),
        (
            "readable after writable",
            |m, d| {
                let a = d.avail_flags();
                d.put_desc(m, 1, BUF, 8, 0, a);
                d.put_desc(m, 0, BUF, 8, 0, a | NEXT | WRITE);
            },
            Error::ReadAfterWrite { head: 0 },
        ),
        (
            "addr + len wraps",
            |m, d| {
                let a = d.avail_flags();
                d.put_desc(m, 0, u64::MAX, 2, 0, a);
            },
            Error::AddrOverflow {
                addr: u64::MAX,
                len: 2,
            },
        ),
    ]
}

#[test]
fn packed_hostile_table() {
    for (what, case, want) in packed_cases() {
        for batch in [1, 64] {
            let mem = TestMem::new(8 << 20, false);
            let (mut d, _) =
                PackedDriver::new(&mem, 0x1000, NUM, features(&[VIRTIO_RING_F_INDIRECT_DESC]));
            let mut dev = configure(&mem, &d, 64, batch).unwrap();
            case(&mem, &mut d);
            for _ in 0..2 {
                let got = dev.next_chain(&mem).map(|c| c.map(|c| c.head()));
                assert_eq!(got, Err(want), "{what}, batch {batch}");
                assert_eq!(dev.get_base() & 0xffff, 0x8000, "{what}");
            }
            works_after_reset(&mut dev);
        }
    }
}

#[test]
fn packed_bad_base() {
    let mem = TestMem::new(8 << 20, false);
    let (d, _) = PackedDriver::new(&mem, 0x1000, NUM, 0);
    let mut dev = configure(&mem, &d, 64, 64).unwrap();
    assert_eq!(
        dev.set_base(u32::from(NUM)),
        Err(Error::BadBase {
            base: u32::from(NUM)
        })
    );
    assert_eq!(
        dev.set_base(u32::from(NUM) << 16),
        Err(Error::BadBase {
            base: u32::from(NUM) << 16
        })
    );
    assert_eq!(dev.set_base(0x8003_8005), Ok(()));
    assert_eq!(dev.get_base(), 0x8003_8005);
}

#[test]
fn bad_config() {
    let mut dev = Dev::new(vec![Default::default(); 8]);
    assert_eq!(dev.set_num(0), Err(Error::BadNum { num: 0 }));
    assert_eq!(dev.set_num(12), Err(Error::BadNum { num: 12 }));
    assert_eq!(dev.set_num(65536), Err(Error::BadNum { num: 65536 }));
    assert_eq!(dev.set_num(32768), Ok(()));
    assert_eq!(dev.set_addr(0, 1, 0), Err(Error::BadAddr { addr: 1 }));
    assert_eq!(dev.set_addr(0, 0, 2), Err(Error::BadAddr { addr: 2 }));
    assert_eq!(dev.set_base(0x10000), Err(Error::BadBase { base: 0x10000 }));
    let mem = TestMem::new(1 << 20, false);
    assert_eq!(
        dev.next_chain(&mem).map(|c| c.is_some()),
        Err(Error::NotReady)
    );
    // Packed rings may have any size.
    dev.set_features(1 << rvhost_ring::VIRTIO_F_RING_PACKED);
    assert_eq!(dev.set_num(12), Ok(()));
}

/// `mem` with one address that cannot be read, as a used ring behind an
/// IOTLB entry that only permits writes would be.
struct NoRead<'a> {
    mem: &'a TestMem,
    addr: u64,
}

impl GuestMemory for NoRead<'_> {
    fn read(&self, space: Space, addr: u64, buf: &mut [u8]) -> Result<(), Fault> {
        if (addr..addr + buf.len() as u64).contains(&self.addr) {
            return Err(Fault::Unmapped);
        }
        self.mem.read(space, addr, buf)
    }

    fn write(&self, space: Space, addr: u64, buf: &[u8]) -> Result<(), Fault> {
        self.mem.write(space, addr, buf)
    }

    fn rmb(&self) {
        self.mem.rmb()
    }

    fn wmb(&self) {
        self.mem.wmb()
    }

    fn mb(&self) {
        self.mem.mb()
    }
}

/// `vhost_vq_init_access()` reports only an unreadable used index as the
/// guest's error (`vq_err()`); the kernel side tells them apart by
/// [`Error::UsedIdx`].
#[test]
fn start_tells_unreadable_used_idx() {
    let mem = TestMem::new(8 << 20, false);
    let (d, _) = SplitDriver::new(&mem, 0x1000, NUM, 0);
    let (_, _, used) = d.addrs();
    let mut dev = configure(&mem, &d, 64, 64).unwrap();
    let idx = NoRead {
        mem: &mem,
        addr: used + 2,
    };
    assert_eq!(
        dev.start(&idx),
        Err(Error::UsedIdx {
            addr: used + 2,
            fault: Fault::Unmapped
        })
    );
    // Used flags that cannot be written come first, and are no such error.
    mem.unmap(used);
    assert_eq!(
        dev.start(&mem),
        Err(Error::Translation {
            addr: used,
            fault: Fault::Unmapped
        })
    );
    mem.remap(used);
    dev.start(&mem).unwrap();
}

/// A descriptor table the VMM made partly unreadable (a guest cannot):
/// chains in the readable part are fetched, as C fetches them reading only
/// the descriptors it walks, though the window of their neighbours (or, in
/// order, of the chains to come) reaches the unreadable part.
#[test]
fn table_partly_unreadable() {
    for feats in [0, features(&[VIRTIO_F_IN_ORDER])] {
        for batch in [64, 1] {
            let mem = TestMem::new(8 << 20, false);
            // Descriptors 0 and 1 end the page at 0; 2 to 257 are on the
            // next, unmapped; the rest and the rings after it.
            let (mut d, _) = SplitDriver::new(&mem, 0x1000 - 32, 512, feats);
            let mut dev = configure(&mem, &d, 1024, batch).unwrap();
            d.put_desc(&mem, 0, BUF, 1, 0, 0);
            d.put_desc(&mem, 1, BUF + 64, 1, 0, 0);
            d.push_head(&mem, 0);
            d.push_head(&mem, 1);
            mem.unmap(0x1000);
            let what = format!("features {feats:#x}, batch {batch}");
            for head in [0, 1] {
                let c = dev.next_chain(&mem).expect(&what).expect(&what);
                assert_eq!(c.head().id, head, "{what}");
            }
            assert!(dev.next_chain(&mem).expect(&what).is_none(), "{what}");
        }
    }
}
