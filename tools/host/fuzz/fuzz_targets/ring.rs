// SPDX-License-Identifier: GPL-2.0

//! Fuzzes the device side of a ring over (ring contents, ring size, batch
//! size, features, storage size) and a sequence of device operations, with
//! the guest rewriting ring bytes between them. Nothing may panic, and every
//! chain handed out must be well formed.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rvhost_ring::{
    Desc,
    Vring,
    VIRTIO_F_IN_ORDER,
    VIRTIO_F_NOTIFY_ON_EMPTY,
    VIRTIO_F_RING_PACKED,
    VIRTIO_RING_F_EVENT_IDX,
    VIRTIO_RING_F_INDIRECT_DESC, //
};
use rvhost_sim::TestMem;

/// Guest memory: rings at 0, the rest for indirect tables and buffers.
const MEM: u64 = 64 << 10;

struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(*b)
    }

    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes([self.byte()?, self.byte()?]))
    }

    fn bytes(&mut self, n: usize) -> &[u8] {
        let (a, b) = self.0.split_at(n.min(self.0.len()));
        self.0 = b;
        a
    }
}

fn check(c: &rvhost_ring::Chain<'_>, num: u16, storage: usize) {
    let descs = c.descs();
    assert!(!descs.is_empty() && descs.len() <= storage);
    assert_eq!(c.readable().len() + c.writable().len(), descs.len());
    assert!(c.readable().iter().all(|d| !d.is_write()));
    assert!(c.writable().iter().all(|d| d.is_write()));
    let h = c.head();
    assert!(h.ndescs >= 1 && h.ndescs <= num);
    for d in descs {
        assert!(d.len == 0 || d.addr.checked_add(u64::from(d.len) - 1).is_some());
    }
}

fuzz_target!(|data: &[u8]| {
    let mut inp = Input(data);
    let Some(cfg) = inp.byte() else { return };
    let Some(size) = inp.byte() else { return };
    let Some(batch) = inp.byte() else { return };
    let Some(store) = inp.byte() else { return };
    let packed = cfg & 1 != 0;
    let mut features = 0u64;
    for (bit, f) in [
        (1, VIRTIO_F_IN_ORDER),
        (2, VIRTIO_RING_F_EVENT_IDX),
        (3, VIRTIO_RING_F_INDIRECT_DESC),
        (4, VIRTIO_F_NOTIFY_ON_EMPTY),
    ] {
        if cfg & (1 << bit) != 0 {
            features |= 1 << f;
        }
    }
    if packed {
        features |= 1 << VIRTIO_F_RING_PACKED;
    }
    // Split: a power of two up to 256. Packed: any size up to 256.
    let num: u16 = if packed {
        u16::from(size).max(1)
    } else {
        1 << (size % 9)
    };
    let storage = usize::from(store % 64) + 1;
    let mem = TestMem::new(MEM, cfg & 0x80 != 0);
    // Ring areas: descriptors at 0, avail / driver area and used / device
    // area after them, as a guest would place them.
    let n = u64::from(num);
    let desc = 0u64;
    let avail = 16 * n;
    let used = (avail + 6 + 2 * n + 3) & !3;
    let ring_end = used + 6 + 8 * n;
    // Initial guest memory: ring and tables from the input.
    let init = inp.bytes(ring_end as usize + 512).to_vec();
    mem.put(0, &init);

    let mut dev = Vring::new(vec![Desc::default(); storage]);
    dev.set_features(features);
    if dev.set_num(u32::from(num)).is_err() || dev.set_addr(desc, avail, used).is_err() {
        return;
    }
    dev.set_batch(u16::from(batch));
    if let Some(base) = inp.u16() {
        let base = if packed {
            u32::from(base) | (u32::from(base) << 16)
        } else {
            u32::from(base)
        };
        let _ = dev.set_base(base);
    }
    let _ = dev.start(&mem);

    let mut heads = Vec::new();
    let mut marks = Vec::new();
    while let Some(op) = inp.byte() {
        match op % 12 {
            0..=3 => match dev.next_chain(&mem) {
                Ok(Some(c)) => {
                    check(&c, num, storage);
                    marks.push(c.start());
                    heads.push(c.head());
                }
                Ok(None) | Err(_) => {}
            },
            4 => {
                if let Some(h) = heads.pop() {
                    let _ = dev.add_used(&mem, h, u32::from(op));
                }
            }
            5 => {
                let _ = dev.flush_used(&mem);
            }
            6 => {
                let _ = dev.need_notify(&mem);
            }
            7 => {
                let _ = dev.enable_notify(&mem);
                let _ = dev.disable_notify(&mem);
            }
            8 => {
                if let Some(m) = marks.pop() {
                    let _ = dev.rewind(m);
                }
            }
            9 => {
                // Migration round trip, or a restart.
                let _ = dev.stop(&mem);
                let base = dev.get_base();
                let _ = dev.set_base(base);
                let _ = dev.start(&mem);
            }
            10 => {
                // The guest rewrites part of the ring.
                let (Some(off), Some(len)) = (inp.u16(), inp.byte()) else {
                    break;
                };
                let off = u64::from(off) % (ring_end + 512);
                let bytes = inp.bytes(usize::from(len % 32)).to_vec();
                if off + bytes.len() as u64 <= MEM {
                    mem.put(off, &bytes);
                }
            }
            _ => {
                let _ = dev.is_empty(&mem);
                if op & 0x80 != 0 {
                    dev.reset();
                    heads.clear();
                    marks.clear();
                    dev.set_features(features);
                    let _ = dev.set_num(u32::from(num));
                    let _ = dev.set_addr(desc, avail, used);
                    let _ = dev.start(&mem);
                }
            }
        }
    }
});
