// SPDX-License-Identifier: GPL-2.0

//! Descriptors fetched per second by `drivers/vhost/ring`: batched fetch
//! (64 chains per refill, bulk reads) against a one-at-a-time walk of the
//! same layer (batch 1: one avail entry and one descriptor per copy, as
//! `vhost_get_vq_desc()` reads them), for chains of 1, 2 and 4 descriptors
//! and for a 4-entry indirect table, split and packed.
//!
//!     cargo run --release --manifest-path tools/host/Cargo.toml -p rvhost-bench -- [SAMPLES] [ROUNDS]
//!
//! Only the device's `next_chain()` loop is timed; the guest model refills
//! the ring and reaps it between timed runs.

use std::hint::black_box;
use std::time::Instant;

use rvhost_ring::{
    VIRTIO_F_IN_ORDER,
    VIRTIO_RING_F_INDIRECT_DESC, //
};
use rvhost_sim::{driver::features, Format, Rig};

const NUM: u16 = 256;

#[derive(Clone, Copy)]
struct Shape {
    name: &'static str,
    segs: usize,
    indirect: bool,
}

const SHAPES: [Shape; 4] = [
    Shape {
        name: "1",
        segs: 1,
        indirect: false,
    },
    Shape {
        name: "2",
        segs: 2,
        indirect: false,
    },
    Shape {
        name: "4",
        segs: 4,
        indirect: false,
    },
    Shape {
        name: "indirect 4",
        segs: 4,
        indirect: true,
    },
];

/// Median descriptors per second over `samples` samples of `rounds` full
/// rings each.
fn measure(
    format: Format,
    in_order: bool,
    shape: Shape,
    batch: u16,
    samples: usize,
    rounds: usize,
) -> f64 {
    let mut bits = vec![VIRTIO_RING_F_INDIRECT_DESC];
    if in_order {
        bits.push(VIRTIO_F_IN_ORDER);
    }
    let mut rig = Rig::new(format, NUM, features(&bits), 1024, batch, false);
    let segs = rig.segs(0, shape.segs, shape.segs / 2, 1500);
    let mut rates = Vec::with_capacity(samples);
    for _ in 0..samples {
        let mut descs = 0u64;
        let mut busy = 0f64;
        for _ in 0..rounds {
            while rig.drv.add(&rig.mem, &segs, shape.indirect).is_some() {}
            let mut heads = Vec::with_capacity(usize::from(NUM));
            let t = Instant::now();
            while let Some(c) = rig.dev.next_chain(&rig.mem).expect("good ring") {
                descs += c.descs().len() as u64;
                black_box(c.readable_len());
                heads.push(c.head());
            }
            busy += t.elapsed().as_secs_f64();
            for h in heads {
                rig.dev.add_used(&rig.mem, h, 0).expect("used");
            }
            rig.dev.flush_used(&rig.mem).expect("flush");
            rig.drv.reap(&rig.mem);
        }
        rates.push(descs as f64 / busy);
    }
    rates.sort_by(|a, b| a.total_cmp(b));
    rates[rates.len() / 2]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let samples: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(21);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(200);
    println!("ring {NUM}, {samples} samples of {rounds} rings, median Mdesc/s");
    println!();
    println!(
        "{:<16} {:<11} {:>12} {:>12} {:>7}",
        "ring", "chain", "batched", "one-by-one", "ratio"
    );
    for (format, in_order, name) in [
        (Format::Split, false, "split"),
        (Format::Split, true, "split in-order"),
        (Format::Packed, false, "packed"),
    ] {
        for shape in SHAPES {
            let batched = measure(format, in_order, shape, 64, samples, rounds);
            let single = measure(format, in_order, shape, 1, samples, rounds);
            println!(
                "{:<16} {:<11} {:>12.1} {:>12.1} {:>7.2}",
                name,
                shape.name,
                batched / 1e6,
                single / 1e6,
                batched / single
            );
        }
    }
}
