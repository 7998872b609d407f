// SPDX-License-Identifier: GPL-2.0

//! A guest and a device on one ring, set up the way userspace sets up
//! vhost: features, size, addresses, base, backend.

use rvhost_ring::{
    Desc,
    Error,
    Vring, //
};

use crate::{
    driver::{
        Driver,
        PackedDriver,
        Seg,
        SplitDriver, //
    },
    mem::TestMem,
};

/// The device side under test.
pub type Dev = Vring<Vec<Desc>>;

/// Which ring layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Split virtqueue.
    Split,
    /// Packed virtqueue.
    Packed,
}

/// Memory, a driver model and a started device on the same ring.
pub struct Rig {
    /// Guest memory.
    pub mem: TestMem,
    /// The guest.
    pub drv: Box<dyn Driver>,
    /// The device.
    pub dev: Dev,
    /// First guest address free for buffers.
    pub data: u64,
    /// Format.
    pub format: Format,
}

/// Guest memory size of a [`Rig`].
pub const MEM_SIZE: u64 = 8 << 20;

impl Rig {
    /// A started ring of `num` entries, `storage` descriptors of device
    /// storage, `batch` chains per refill, guest features `features`.
    pub fn new(
        format: Format,
        num: u16,
        features: u64,
        storage: usize,
        batch: u16,
        scatter: bool,
    ) -> Self {
        let mem = TestMem::new(MEM_SIZE, scatter);
        let (drv, data): (Box<dyn Driver>, u64) = match format {
            Format::Split => {
                let (d, end) = SplitDriver::new(&mem, 0x1000, num, features);
                (Box::new(d), end)
            }
            Format::Packed => {
                let (d, end) = PackedDriver::new(&mem, 0x1000, num, features);
                (Box::new(d), end)
            }
        };
        let dev = configure(&mem, drv.as_ref(), storage, batch).expect("device setup");
        Self {
            mem,
            drv,
            dev,
            data: data.next_multiple_of(0x1000),
            format,
        }
    }

    /// `n` segments of `len` bytes each, the first `readable` device-readable,
    /// at distinct addresses derived from `tag`.
    pub fn segs(&self, tag: u64, n: usize, readable: usize, len: u32) -> Vec<Seg> {
        (0..n)
            .map(|i| Seg {
                addr: self.data + (tag * 64 + i as u64) * 64,
                len,
                write: i >= readable,
            })
            .collect()
    }
}

/// A device configured for `drv`'s ring and started.
pub fn configure(
    mem: &TestMem,
    drv: &dyn Driver,
    storage: usize,
    batch: u16,
) -> Result<Dev, Error> {
    let mut dev = Vring::new(vec![Desc::default(); storage]);
    let (desc, avail, used) = drv.addrs();
    dev.set_features(drv.features());
    dev.set_num(u32::from(drv.num()))?;
    dev.set_addr(desc, avail, used)?;
    dev.set_batch(batch);
    dev.start(mem)?;
    Ok(dev)
}

/// The segments of a fetched chain, as the model describes them.
pub fn segs_of(descs: &[Desc]) -> Vec<Seg> {
    descs
        .iter()
        .map(|d| Seg {
            addr: d.addr,
            len: d.len,
            write: d.is_write(),
        })
        .collect()
}
