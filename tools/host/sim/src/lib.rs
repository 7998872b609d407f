// SPDX-License-Identifier: GPL-2.0

//! The guest side of `drivers/vhost/ring`, for host tests, the fuzz target
//! and the benchmark: a guest memory ([`TestMem`]) and reference models of
//! what a guest's virtio driver does with a split ([`SplitDriver`]) or a
//! packed ([`PackedDriver`]) ring.

pub mod driver;
pub mod harness;
pub mod mem;

pub use driver::{
    Buf,
    Driver,
    PackedDriver,
    Seg,
    SplitDriver, //
};
pub use harness::{
    Format,
    Rig, //
};
pub use mem::TestMem;
