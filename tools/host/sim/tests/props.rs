// SPDX-License-Identifier: GPL-2.0

//! Property tests against the driver models: random sequences of
//! add / fetch / use / rewind / base moves over random ring, batch and
//! storage sizes give the chains the guest made available, in order, and
//! the guest gets back exactly the used entries the device wrote; and no
//! kick or interrupt is ever lost.

use std::collections::VecDeque;

use proptest::prelude::*;
use rvhost_ring::{
    Head,
    Mark,
    VIRTIO_F_IN_ORDER,
    VIRTIO_RING_F_EVENT_IDX, //
};
use rvhost_sim::{
    driver::{
        features,
        Buf,
        Seg, //
    },
    harness::segs_of,
    Format, Rig,
};

#[derive(Clone, Debug)]
enum Op {
    Add {
        n: usize,
        readable: usize,
        indirect: bool,
    },
    Fetch(usize),
    Use(usize, usize),
    Rewind(usize),
    MoveBase,
    Reap,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (1usize..=6, 0usize..=6, any::<bool>())
            .prop_map(|(n, r, indirect)| Op::Add { n, readable: r.min(n), indirect }),
        3 => (1usize..=8).prop_map(Op::Fetch),
        2 => (1usize..=8, any::<usize>()).prop_map(|(k, p)| Op::Use(k, p)),
        1 => (1usize..=3).prop_map(Op::Rewind),
        1 => Just(Op::MoveBase),
        2 => Just(Op::Reap),
    ]
}

#[derive(Clone, Debug)]
struct Case {
    format: Format,
    num: u16,
    batch: u16,
    storage: usize,
    event_idx: bool,
    in_order: bool,
    ops: Vec<Op>,
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop_oneof![Just(Format::Split), Just(Format::Packed)],
        0u32..=6,
        1u16..=64,
        1u16..=80,
        8usize..=48,
        any::<bool>(),
        any::<bool>(),
        prop::collection::vec(op(), 1..120),
    )
        .prop_map(
            |(format, log, any_num, batch, storage, event_idx, in_order, ops)| Case {
                format,
                // Split rings are powers of two; packed ones any size.
                num: if format == Format::Split {
                    1 << log
                } else {
                    any_num
                },
                batch,
                storage,
                event_idx,
                in_order,
                ops,
            },
        )
}

fn run(c: &Case) -> Result<(), TestCaseError> {
    let mut bits = Vec::new();
    if c.event_idx {
        bits.push(VIRTIO_RING_F_EVENT_IDX);
    }
    if c.in_order {
        bits.push(VIRTIO_F_IN_ORDER);
    }
    let mut rig = Rig::new(c.format, c.num, features(&bits), c.storage, c.batch, true);
    // Made available, not fetched.
    let mut avail: VecDeque<Buf> = VecDeque::new();
    // Fetched, not used, in fetch order.
    let mut fetched: Vec<(Head, Mark, Buf)> = Vec::new();
    // Fetched since the last use: only those may be rewound.
    let mut since_use = 0usize;
    // Used entries the guest must reap, in order.
    let mut used: VecDeque<(u16, u32)> = VecDeque::new();
    let mut tag = 0u64;
    for op in &c.ops {
        match *op {
            Op::Add {
                n,
                readable,
                indirect,
            } => {
                tag += 1;
                let segs: Vec<Seg> = rig.segs(tag % 4096, n, readable, 1 + (tag % 97) as u32);
                if let Some(b) = rig.drv.add(&rig.mem, &segs, indirect) {
                    avail.push_back(b);
                }
            }
            Op::Fetch(k) => {
                for _ in 0..k {
                    let got = rig
                        .dev
                        .next_chain(&rig.mem)
                        .map_err(|e| TestCaseError::fail(format!("{e}")))?;
                    match got {
                        None => {
                            prop_assert!(avail.is_empty(), "ring has {} chains", avail.len());
                            break;
                        }
                        Some(ch) => {
                            let want = avail
                                .pop_front()
                                .ok_or_else(|| TestCaseError::fail("chain from nowhere"))?;
                            prop_assert_eq!(ch.head().id, want.id);
                            prop_assert_eq!(ch.head().ndescs, want.ndescs);
                            prop_assert_eq!(segs_of(ch.descs()), want.segs.clone());
                            prop_assert_eq!(ch.writable_len(), u64::from(want.writable_len()));
                            fetched.push((ch.head(), ch.start(), want));
                            since_use += 1;
                        }
                    }
                }
            }
            Op::Use(k, pick) => {
                let k = k.min(fetched.len());
                let mut batch = Vec::new();
                for i in 0..k {
                    // In order: oldest first. Otherwise any.
                    let at = if c.in_order {
                        0
                    } else {
                        (pick.wrapping_add(i * 7)) % fetched.len()
                    };
                    let (h, _, b) = fetched.remove(at);
                    let len = (pick as u32).wrapping_add(i as u32) % (b.writable_len() + 1);
                    rig.dev
                        .add_used(&rig.mem, h, len)
                        .map_err(|e| TestCaseError::fail(format!("{e}")))?;
                    batch.push((b, len));
                }
                rig.dev
                    .flush_used(&rig.mem)
                    .map_err(|e| TestCaseError::fail(format!("{e}")))?;
                let last = batch.len().saturating_sub(1);
                for (i, (b, len)) in batch.into_iter().enumerate() {
                    let seen = if c.in_order && i != last {
                        b.writable_len()
                    } else {
                        len
                    };
                    used.push_back((b.id, seen));
                }
                since_use = 0;
            }
            Op::Rewind(back) => {
                let back = back.min(since_use).min(fetched.len());
                if back > 0 {
                    let at = fetched.len() - back;
                    let mark = fetched[at].1;
                    rig.dev
                        .rewind(mark)
                        .map_err(|e| TestCaseError::fail(format!("{e}")))?;
                    for (_, _, b) in fetched.drain(at..).rev() {
                        avail.push_front(b);
                    }
                    since_use -= back;
                }
            }
            Op::MoveBase => {
                rig.dev
                    .stop(&rig.mem)
                    .map_err(|e| TestCaseError::fail(format!("{e}")))?;
                let base = rig.dev.get_base();
                rig.dev
                    .set_base(base)
                    .map_err(|e| TestCaseError::fail(format!("{e}")))?;
                rig.dev
                    .start(&rig.mem)
                    .map_err(|e| TestCaseError::fail(format!("{e}")))?;
                // Marks are stale now.
                since_use = 0;
            }
            Op::Reap => {
                let got: Vec<(u16, u32)> = rig.drv.reap(&rig.mem);
                let want: Vec<(u16, u32)> = used.drain(..).collect();
                prop_assert_eq!(got, want);
            }
        }
    }
    Ok(())
}

/// Kicks and interrupts: a device that sleeps after `enable_notify()` and
/// a driver that sleeps after `enable_cb()` are always woken when there is
/// work for them.
#[derive(Clone, Debug)]
enum Wake {
    Add(usize),
    /// The device runs; the guest adds this many chains just before it
    /// enables notifications (the race the re-check exists for).
    Device(usize),
    /// The driver polls; the device uses a chain just before the driver
    /// enables interrupts, if asked.
    Driver(bool),
}

fn wake_case() -> impl Strategy<Value = (Format, u16, u16, bool, bool, Vec<Wake>)> {
    (
        prop_oneof![Just(Format::Split), Just(Format::Packed)],
        0u32..=5,
        1u16..=16,
        any::<bool>(),
        any::<bool>(),
        prop::collection::vec(
            prop_oneof![
                (1usize..=5).prop_map(Wake::Add),
                (0usize..=2).prop_map(Wake::Device),
                any::<bool>().prop_map(Wake::Driver),
            ],
            1..150,
        ),
    )
        .prop_map(|(f, log, batch, ev, io, ops)| (f, 1 << log, batch, ev, io, ops))
}

fn run_wake(
    format: Format,
    num: u16,
    batch: u16,
    event_idx: bool,
    in_order: bool,
    ops: &[Wake],
) -> Result<(), TestCaseError> {
    let mut bits = Vec::new();
    if event_idx {
        bits.push(VIRTIO_RING_F_EVENT_IDX);
    }
    if in_order {
        bits.push(VIRTIO_F_IN_ORDER);
    }
    let mut rig = Rig::new(format, num, features(&bits), 64, batch, false);
    let mut dev_awake = false;
    let mut drv_awake = false;
    let mut unfetched = 0usize;
    let mut tag = 0;
    for op in ops {
        match *op {
            Wake::Add(n) => {
                for _ in 0..n {
                    tag += 1;
                    let segs = rig.segs(tag % 1024, 1, 0, 64);
                    if rig.drv.add(&rig.mem, &segs, false).is_some() {
                        unfetched += 1;
                    }
                }
                if rig.drv.kick_needed(&rig.mem) {
                    dev_awake = true;
                }
            }
            Wake::Device(race) if dev_awake => {
                // handle_tx(): disable, drain, enable and look again.
                // A kick that comes while it runs queues it again.
                dev_awake = false;
                rig.dev.disable_notify(&rig.mem).unwrap();
                let mut race = race;
                loop {
                    while let Some(c) = rig.dev.next_chain(&rig.mem).unwrap() {
                        let h = c.head();
                        unfetched -= 1;
                        rig.dev.add_used(&rig.mem, h, 0).unwrap();
                    }
                    rig.dev.flush_used(&rig.mem).unwrap();
                    if rig.dev.need_notify(&rig.mem).unwrap() {
                        drv_awake = true;
                    }
                    for _ in 0..std::mem::take(&mut race) {
                        tag += 1;
                        let segs = rig.segs(tag % 1024, 1, 0, 64);
                        if rig.drv.add(&rig.mem, &segs, false).is_some() {
                            unfetched += 1;
                        }
                        // Notifications are off: the kick is suppressed.
                        if rig.drv.kick_needed(&rig.mem) {
                            dev_awake = true;
                        }
                    }
                    if rig.dev.enable_notify(&rig.mem).unwrap() {
                        rig.dev.disable_notify(&rig.mem).unwrap();
                        continue;
                    }
                    break;
                }
            }
            Wake::Driver(race) if drv_awake => {
                // A NAPI poll: disable, reap, enable and look again.
                drv_awake = false;
                rig.drv.disable_cb(&rig.mem);
                let mut race = race;
                loop {
                    rig.drv.reap(&rig.mem);
                    // The device uses a chain meanwhile, and its interrupt
                    // is suppressed.
                    if std::mem::take(&mut race) {
                        if let Some(c) = rig.dev.next_chain(&rig.mem).unwrap() {
                            let h = c.head();
                            unfetched -= 1;
                            rig.dev.add_used(&rig.mem, h, 0).unwrap();
                            rig.dev.flush_used(&rig.mem).unwrap();
                            if rig.dev.need_notify(&rig.mem).unwrap() {
                                drv_awake = true;
                            }
                        }
                    }
                    if rig.drv.enable_cb(&rig.mem) {
                        break;
                    }
                    rig.drv.disable_cb(&rig.mem);
                }
            }
            _ => {}
        }
        prop_assert!(
            dev_awake || unfetched == 0,
            "lost kick: device asleep with {} chains",
            unfetched
        );
        prop_assert!(drv_awake || !rig.drv.has_used(&rig.mem), "lost interrupt");
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn device_matches_driver_model(c in case()) {
        run(&c)?;
    }

    #[test]
    fn no_lost_notifications((f, num, batch, ev, io, ops) in wake_case()) {
        run_wake(f, num, batch, ev, io, &ops)?;
    }
}
