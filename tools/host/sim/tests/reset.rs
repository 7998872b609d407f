// SPDX-License-Identifier: GPL-2.0

//! Reset correctness: nothing fetched from a ring outlives SET_VRING_BASE,
//! a backend change or a ring reset.

use rvhost_ring::{
    Error,
    VIRTIO_F_IN_ORDER,
    VIRTIO_RING_F_EVENT_IDX, //
};
use rvhost_sim::{
    driver::{
        features,
        Buf,
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

fn seg(addr: u64) -> Vec<Seg> {
    vec![
        Seg {
            addr,
            len: 16,
            write: false,
        },
        Seg {
            addr: addr + 16,
            len: 16,
            write: true,
        },
    ]
}

fn fresh(mem: &TestMem, packed: bool, feats: u64) -> Box<dyn Driver> {
    if packed {
        Box::new(PackedDriver::new(mem, 0x1000, 16, feats).0)
    } else {
        Box::new(SplitDriver::new(mem, 0x1000, 16, feats).0)
    }
}

/// The RFC's corruption: the device batches 8 chains, hands out 2, and
/// userspace moves the base (here: to a ring the guest laid out again at
/// the same address, as after a guest reset or a migration). The 6 chains
/// still batched belong to the old ring and must not be handed out.
#[test]
fn batched_descriptors_do_not_survive_set_vring_base() {
    for packed in [false, true] {
        for feats in [0, features(&[VIRTIO_F_IN_ORDER])] {
            for restart in [false, true] {
                let mem = TestMem::new(8 << 20, true);
                let mut old = fresh(&mem, packed, feats);
                let mut dev = configure(&mem, old.as_ref(), 64, 64).unwrap();
                for k in 0..8 {
                    old.add(&mem, &seg(0x40_0000 + k * 0x100), false).unwrap();
                }
                for _ in 0..2 {
                    let h = dev.next_chain(&mem).unwrap().unwrap().head();
                    dev.add_used(&mem, h, 0).unwrap();
                }
                if restart {
                    dev.stop(&mem).unwrap();
                }
                // GET_VRING_BASE counts what was handed out, not batched.
                let base = dev.get_base();
                // Packed counts ring slots: two chains of two descriptors.
                assert_eq!(base & 0x7fff, if packed { 4 } else { 2 }, "packed {packed}");

                let mut new = fresh(&mem, packed, feats);
                let want: Vec<Buf> = (0..4)
                    .map(|k| new.add(&mem, &seg(0x50_0000 + k * 0x100), true).unwrap())
                    .collect();
                dev.set_base(if packed { 0x8000_8000 } else { 0 }).unwrap();
                if restart {
                    dev.start(&mem).unwrap();
                }
                for b in &want {
                    let c = dev.next_chain(&mem).unwrap().expect("new chain");
                    assert_eq!(
                        segs_of(c.descs()),
                        b.segs,
                        "packed {packed} restart {restart}"
                    );
                    assert_eq!(c.head().id, b.id);
                }
                assert!(dev.next_chain(&mem).unwrap().is_none());
            }
        }
    }
}

/// Migration round trip in the middle of a batch: GET then SET of the same
/// base loses and repeats nothing.
#[test]
fn base_round_trip_mid_batch() {
    for packed in [false, true] {
        let mem = TestMem::new(8 << 20, true);
        let mut drv = fresh(&mem, packed, 0);
        let mut dev = configure(&mem, drv.as_ref(), 64, 64).unwrap();
        let bufs: Vec<Buf> = (0..10)
            .map(|k| {
                drv.add(&mem, &seg(0x40_0000 + k * 0x100), k % 3 == 0)
                    .unwrap()
            })
            .collect();
        let mut heads = Vec::new();
        for b in &bufs[..3] {
            let c = dev.next_chain(&mem).unwrap().unwrap();
            assert_eq!(c.head().id, b.id);
            heads.push(c.head());
        }
        dev.stop(&mem).unwrap();
        let base = dev.get_base();
        let mut dev2 = configure(&mem, drv.as_ref(), 64, 64).unwrap();
        dev2.set_base(base).unwrap();
        dev2.start(&mem).unwrap();
        for b in &bufs[3..] {
            let c = dev2.next_chain(&mem).unwrap().unwrap();
            assert_eq!(c.head().id, b.id);
            assert_eq!(segs_of(c.descs()), b.segs);
            heads.push(c.head());
        }
        assert!(dev2.next_chain(&mem).unwrap().is_none());
        // Chains handed out before the move are used after it.
        for h in &heads {
            dev2.add_used(&mem, *h, 7).unwrap();
        }
        dev2.flush_used(&mem).unwrap();
        let got: Vec<u16> = drv.reap(&mem).iter().map(|u| u.0).collect();
        let want: Vec<u16> = bufs.iter().map(|b| b.id).collect();
        assert_eq!(got, want);
    }
}

#[test]
fn rewind_puts_chains_back() {
    for packed in [false, true] {
        let mem = TestMem::new(8 << 20, true);
        let mut drv = fresh(&mem, packed, 0);
        let mut dev = configure(&mem, drv.as_ref(), 64, 4).unwrap();
        let bufs: Vec<Buf> = (0..6)
            .map(|k| drv.add(&mem, &seg(0x40_0000 + k * 0x100), k == 2).unwrap())
            .collect();
        let a = dev.next_chain(&mem).unwrap().unwrap().head();
        let mark = dev.next_chain(&mem).unwrap().unwrap().start();
        let base = dev.get_base();
        // Across a refill boundary (batch 4).
        for b in &bufs[2..5] {
            assert_eq!(dev.next_chain(&mem).unwrap().unwrap().head().id, b.id);
        }
        dev.rewind(mark).unwrap();
        // Back by one chain: one avail entry, or its two packed slots.
        assert_eq!(dev.get_base(), base - if packed { 2 } else { 1 });
        for b in &bufs[1..] {
            let c = dev.next_chain(&mem).unwrap().unwrap();
            assert_eq!(c.head().id, b.id);
            assert_eq!(segs_of(c.descs()), b.segs);
        }
        assert_eq!(a.id, bufs[0].id);
        // A mark from before SET_VRING_BASE is refused.
        let mark = dev.mark();
        dev.set_base(dev.get_base()).unwrap();
        assert_eq!(dev.rewind(mark), Err(Error::StaleMark));
    }
}

#[test]
fn stop_flushes_used() {
    let mem = TestMem::new(8 << 20, false);
    let mut drv = fresh(&mem, false, 0);
    let mut dev: Dev = configure(&mem, drv.as_ref(), 64, 64).unwrap();
    let b = drv.add(&mem, &seg(0x40_0000), false).unwrap();
    let h = dev.next_chain(&mem).unwrap().unwrap().head();
    dev.add_used(&mem, h, 3).unwrap();
    assert!(drv.reap(&mem).is_empty());
    dev.stop(&mem).unwrap();
    assert_eq!(drv.reap(&mem), vec![(b.id, 3)]);
    assert_eq!(
        dev.next_chain(&mem).map(|c| c.is_some()),
        Err(Error::NotReady)
    );
}

/// Chains put back are not new chains (C's `vhost_discard_vq_desc()` leaves
/// `avail_idx` alone): a mergeable RX packet bigger than the buffers posted
/// puts them back and asks for a kick, and `enable_notify()` must not say
/// the guest added some, or the handler loops on the same buffers for
/// ever. One more chain from the guest is new, after a refill too.
#[test]
fn chains_put_back_are_not_new() {
    for packed in [false, true] {
        for feats in [0, features(&[VIRTIO_RING_F_EVENT_IDX])] {
            let mem = TestMem::new(8 << 20, true);
            let mut drv = fresh(&mem, packed, feats);
            let mut dev = configure(&mem, drv.as_ref(), 64, 4).unwrap();
            for k in 0..3 {
                drv.add(&mem, &seg(0x40_0000 + k * 0x100), false).unwrap();
            }
            dev.disable_notify(&mem).unwrap();
            for round in 0..3 {
                // Not enough: take all three, put them back, ask for a kick.
                let mark = dev.mark();
                let mut n = 0;
                while dev.next_chain(&mem).unwrap().is_some() {
                    n += 1;
                }
                assert_eq!(n, 3 + round, "packed {packed} feats {feats:#x}");
                dev.rewind(mark).unwrap();
                assert!(!dev.enable_notify(&mem).unwrap(), "packed {packed} round {round}");
                assert!(!dev.is_empty(&mem).unwrap());
                // The guest posts one more, and kicks if asked to.
                drv.add(&mem, &seg(0x50_0000 + round * 0x100), false).unwrap();
                assert!(drv.kick_needed(&mem), "packed {packed} feats {feats:#x}");
                dev.disable_notify(&mem).unwrap();
            }
            // The chains put back are handed out again, all of them.
            let mut n = 0;
            while dev.next_chain(&mem).unwrap().is_some() {
                n += 1;
            }
            assert_eq!(n, 6);
            assert!(!dev.enable_notify(&mem).unwrap());
        }
    }
}

/// Packed: a hostile guest takes back a chain it had made available (slot
/// 1) and makes the slot past what the device had seen (slot 2) available.
/// Refills now stop at slot 1: the device must forget what it had seen,
/// or enable_notify() finds "new" chains behind a ring that no longer
/// changes, and the RX handler never sleeps.
#[test]
fn packed_withdrawn_chain_lets_the_device_sleep() {
    const F_WRITE: u16 = 2;
    const F_AVAIL: u16 = 1 << 7;
    let w = |addr| {
        vec![Seg {
            addr,
            len: 16,
            write: true,
        }]
    };
    for feats in [0, features(&[VIRTIO_RING_F_EVENT_IDX])] {
        let mem = TestMem::new(8 << 20, true);
        let (mut drv, _) = PackedDriver::new(&mem, 0x1000, 16, feats);
        let mut dev = configure(&mem, &drv, 64, 4).unwrap();
        drv.add(&mem, &w(0x40_0000), false).unwrap();
        drv.add(&mem, &w(0x40_0100), false).unwrap();
        // What handle_rx does with a frame bigger than the buffers: take
        // them, put them back, ask for a kick; "new chains" means again.
        let rounds = |dev: &mut Dev| {
            dev.disable_notify(&mem).unwrap();
            for round in 0..16 {
                let mark = dev.mark();
                while dev.next_chain(&mem).unwrap().is_some() {}
                dev.rewind(mark).unwrap();
                if !dev.enable_notify(&mem).unwrap() {
                    return round;
                }
                dev.disable_notify(&mem).unwrap();
            }
            16
        };
        assert_eq!(rounds(&mut dev), 0);
        drv.put_desc(&mem, 1, 0x40_0100, 16, 1, 0);
        drv.put_desc(&mem, 2, 0x40_0200, 16, 2, F_AVAIL | F_WRITE);
        assert!(rounds(&mut dev) <= 1, "feats {feats:#x}");
    }
}

/// C rejects "out after in" by pieces (`vhost_get_vq_desc()`'s in_num;
/// a buffer of 0 bytes makes none): [R 64, W 0, R 16] is a TX chain of
/// 80 bytes, and [W 0, R 0, W 16] an RX chain of 16.
#[test]
fn empty_writable_buffer_before_readable_ones() {
    const NEXT: u16 = 1;
    const WRITE: u16 = 2;
    for (descs, readable) in [
        ([(64, NEXT), (0, NEXT | WRITE), (16, 0)], 3),
        ([(0, NEXT | WRITE), (0, NEXT), (16, WRITE)], 2),
    ] {
        let mem = TestMem::new(8 << 20, true);
        let (mut drv, _) = SplitDriver::new(&mem, 0x1000, 16, 0);
        let mut dev = configure(&mem, &drv, 64, 4).unwrap();
        for (i, (len, flags)) in descs.iter().enumerate() {
            let i = i as u16;
            drv.put_desc(&mem, i, 0x40_0000 + 0x1000 * u64::from(i), *len, *flags, i + 1);
        }
        drv.push_head(&mem, 0);
        let c = dev.next_chain(&mem).unwrap().unwrap();
        assert_eq!(c.descs().len(), 3);
        assert_eq!(c.readable().len(), readable);
        assert_eq!(c.writable_len(), if readable == 3 { 0 } else { 16 });
    }
}
