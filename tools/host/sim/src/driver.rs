// SPDX-License-Identifier: GPL-2.0

//! Reference models of a guest virtio driver, split and packed, written
//! from the VIRTIO 1.1 text and `drivers/virtio/virtio_ring.c`: what the
//! device must see, and what it must give back.

use std::collections::{
    HashMap,
    VecDeque, //
};
use std::sync::atomic::{
    fence,
    Ordering, //
};

use rvhost_ring::{
    need_event,
    VIRTIO_F_IN_ORDER,
    VIRTIO_F_RING_PACKED,
    VIRTIO_RING_F_EVENT_IDX, //
};

use crate::mem::TestMem;

const F_NEXT: u16 = 1;
const F_WRITE: u16 = 2;
const F_INDIRECT: u16 = 4;
const F_AVAIL: u16 = 1 << 7;
const F_USED: u16 = 1 << 15;

/// Most segments of one indirect table the models build.
pub const MAX_IND: u64 = 64;

/// One segment of a buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seg {
    /// Guest address.
    pub addr: u64,
    /// Length.
    pub len: u32,
    /// Device-writable.
    pub write: bool,
}

/// A buffer the driver made available.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Buf {
    /// Head index (split) or buffer id (packed).
    pub id: u16,
    /// Its segments, in order.
    pub segs: Vec<Seg>,
    /// Ring slots it takes.
    pub ndescs: u16,
}

impl Buf {
    /// Total writable length: what an in-order driver assumes was written
    /// for the buffers of a batch that have no used entry of their own.
    pub fn writable_len(&self) -> u32 {
        self.segs.iter().filter(|s| s.write).map(|s| s.len).sum()
    }
}

/// What tests need from either model.
pub trait Driver {
    /// Features the model negotiated.
    fn features(&self) -> u64;
    /// Ring size.
    fn num(&self) -> u16;
    /// Descriptor, driver (avail) and device (used) area addresses.
    fn addrs(&self) -> (u64, u64, u64);
    /// Makes a buffer available; `None` if the ring has no room.
    fn add(&mut self, mem: &TestMem, segs: &[Seg], indirect: bool) -> Option<Buf>;
    /// Buffers the device used since the last call, in order, with the
    /// length the driver sees for each.
    fn reap(&mut self, mem: &TestMem) -> Vec<(u16, u32)>;
    /// `virtqueue_kick_prepare()`: whether the adds since the last call
    /// need a notification.
    fn kick_needed(&mut self, mem: &TestMem) -> bool;
    /// `virtqueue_enable_cb()`: asks for an interrupt at the next used
    /// buffer; `false` if some are already there (do not sleep).
    fn enable_cb(&mut self, mem: &TestMem) -> bool;
    /// `virtqueue_disable_cb()`.
    fn disable_cb(&mut self, mem: &TestMem);
    /// Buffers made available and not yet reaped.
    fn outstanding(&self) -> usize;
    /// Whether the device published used buffers not reaped yet.
    fn has_used(&self, mem: &TestMem) -> bool;
}

/// Feature word of the given bits.
pub fn features(bits: &[u32]) -> u64 {
    bits.iter().fold(0, |f, b| f | (1u64 << b))
}

fn align(v: u64, a: u64) -> u64 {
    v.div_ceil(a) * a
}

/// Linux's split ring driver, as far as the device can tell.
pub struct SplitDriver {
    num: u16,
    desc: u64,
    avail: u64,
    used: u64,
    ind: u64,
    features: u64,
    /// Free descriptors: a LIFO list, as Linux's `free_head`.
    free: Vec<u16>,
    /// In order: next descriptor, allocated sequentially.
    next_desc: u16,
    nfree: usize,
    avail_idx: u16,
    kicked_at: u16,
    last_used: u16,
    cb: bool,
    out: HashMap<u16, (Buf, Vec<u16>)>,
    order: VecDeque<u16>,
}

impl SplitDriver {
    /// A ring of `num` entries laid out from `base`, with room after it for
    /// the indirect tables; returns the model and the first free address.
    pub fn new(mem: &TestMem, base: u64, num: u16, features: u64) -> (Self, u64) {
        let n = u64::from(num);
        let desc = base;
        let avail = desc + 16 * n;
        let used = align(avail + 6 + 2 * n, 4);
        let ind = align(used + 6 + 8 * n, 16);
        let end = ind + n * MAX_IND * 16;
        mem.put(base, &vec![0; (end - base) as usize]);
        let d = Self {
            num,
            desc,
            avail,
            used,
            ind,
            features,
            free: (0..num).rev().collect(),
            next_desc: 0,
            nfree: usize::from(num),
            avail_idx: 0,
            kicked_at: 0,
            last_used: 0,
            cb: true,
            out: HashMap::new(),
            order: VecDeque::new(),
        };
        (d, end)
    }

    fn has(&self, bit: u32) -> bool {
        self.features & (1 << bit) != 0
    }

    /// Writes a descriptor of the table.
    pub fn put_desc(&self, mem: &TestMem, i: u16, addr: u64, len: u32, flags: u16, next: u16) {
        let a = self.desc + 16 * u64::from(i);
        put_split(mem, a, addr, len, flags, next);
    }

    /// Puts `head` in the avail ring and publishes it, without any check:
    /// for hostile-guest tests.
    pub fn push_head(&mut self, mem: &TestMem, head: u16) {
        let slot = u64::from(self.avail_idx % self.num);
        mem.put_u16(self.avail + 4 + 2 * slot, head);
        self.avail_idx = self.avail_idx.wrapping_add(1);
        self.publish(mem);
    }

    /// Writes the avail index as is: for hostile-guest tests.
    pub fn set_avail_idx(&mut self, mem: &TestMem, idx: u16) {
        self.avail_idx = idx;
        self.publish(mem);
    }

    fn publish(&self, mem: &TestMem) {
        fence(Ordering::Release);
        mem.put_u16(self.avail + 2, self.avail_idx);
    }

    /// The used index as the device last published it.
    pub fn used_idx(&self, mem: &TestMem) -> u16 {
        mem.get_u16(self.used + 2)
    }

    /// Address of the indirect table of head `head`.
    pub fn ind_table(&self, head: u16) -> u64 {
        self.ind + u64::from(head) * MAX_IND * 16
    }
}

fn put_split(mem: &TestMem, a: u64, addr: u64, len: u32, flags: u16, next: u16) {
    let mut b = [0u8; 16];
    b[0..8].copy_from_slice(&addr.to_le_bytes());
    b[8..12].copy_from_slice(&len.to_le_bytes());
    b[12..14].copy_from_slice(&flags.to_le_bytes());
    b[14..16].copy_from_slice(&next.to_le_bytes());
    mem.put(a, &b);
}

fn put_packed(mem: &TestMem, a: u64, addr: u64, len: u32, id: u16, flags: u16) {
    let mut b = [0u8; 16];
    b[0..8].copy_from_slice(&addr.to_le_bytes());
    b[8..12].copy_from_slice(&len.to_le_bytes());
    b[12..14].copy_from_slice(&id.to_le_bytes());
    b[14..16].copy_from_slice(&flags.to_le_bytes());
    mem.put(a, &b);
}

impl Driver for SplitDriver {
    fn features(&self) -> u64 {
        self.features
    }

    fn num(&self) -> u16 {
        self.num
    }

    fn addrs(&self) -> (u64, u64, u64) {
        (self.desc, self.avail, self.used)
    }

    fn add(&mut self, mem: &TestMem, segs: &[Seg], indirect: bool) -> Option<Buf> {
        assert!(!segs.is_empty() && segs.len() as u64 <= MAX_IND);
        let n = if indirect { 1 } else { segs.len() };
        if self.nfree < n || self.out.len() >= usize::from(self.num) {
            return None;
        }
        let in_order = self.has(VIRTIO_F_IN_ORDER);
        let descs: Vec<u16> = (0..n)
            .map(|_| {
                if in_order {
                    let d = self.next_desc;
                    self.next_desc = (d + 1) % self.num;
                    d
                } else {
                    self.free.pop().unwrap()
                }
            })
            .collect();
        self.nfree -= n;
        let head = descs[0];
        if indirect {
            let table = self.ind_table(head);
            for (i, s) in segs.iter().enumerate() {
                let last = i + 1 == segs.len();
                let flags = (if s.write { F_WRITE } else { 0 }) | (if last { 0 } else { F_NEXT });
                put_split(
                    mem,
                    table + 16 * i as u64,
                    s.addr,
                    s.len,
                    flags,
                    (i + 1) as u16,
                );
            }
            self.put_desc(mem, head, table, 16 * segs.len() as u32, F_INDIRECT, 0);
        } else {
            for (i, s) in segs.iter().enumerate() {
                let next = descs.get(i + 1).copied();
                let flags =
                    (if s.write { F_WRITE } else { 0 }) | (if next.is_some() { F_NEXT } else { 0 });
                self.put_desc(mem, descs[i], s.addr, s.len, flags, next.unwrap_or(0));
            }
        }
        let buf = Buf {
            id: head,
            segs: segs.to_vec(),
            ndescs: n as u16,
        };
        self.out.insert(head, (buf.clone(), descs));
        self.order.push_back(head);
        let slot = u64::from(self.avail_idx % self.num);
        mem.put_u16(self.avail + 4 + 2 * slot, head);
        self.avail_idx = self.avail_idx.wrapping_add(1);
        self.publish(mem);
        Some(buf)
    }

    fn reap(&mut self, mem: &TestMem) -> Vec<(u16, u32)> {
        let used_idx = self.used_idx(mem);
        fence(Ordering::Acquire);
        let mut got = Vec::new();
        let in_order = self.has(VIRTIO_F_IN_ORDER);
        while self.last_used != used_idx {
            let slot = u64::from(self.last_used % self.num);
            let id = mem.get_u32(self.used + 4 + 8 * slot);
            let len = mem.get_u32(self.used + 8 + 8 * slot);
            assert!(id < u32::from(self.num), "device used id {id} out of range");
            let id = id as u16;
            loop {
                let h = if in_order {
                    *self
                        .order
                        .front()
                        .expect("in-order batch past the last buffer")
                } else {
                    id
                };
                let (buf, descs) = self
                    .out
                    .remove(&h)
                    .unwrap_or_else(|| panic!("device used {h}, not outstanding"));
                self.order.retain(|&x| x != h);
                if !in_order {
                    self.free.extend(descs.iter().rev());
                }
                self.nfree += descs.len();
                self.last_used = self.last_used.wrapping_add(1);
                if h == id {
                    got.push((h, len));
                    break;
                }
                assert!(
                    self.last_used != used_idx,
                    "in-order batch ends before its used entry"
                );
                got.push((h, buf.writable_len()));
            }
        }
        if self.cb && self.has(VIRTIO_RING_F_EVENT_IDX) {
            mem.put_u16(self.avail + 4 + 2 * u64::from(self.num), self.last_used);
        }
        got
    }

    fn kick_needed(&mut self, mem: &TestMem) -> bool {
        fence(Ordering::SeqCst);
        let old = self.kicked_at;
        let new = self.avail_idx;
        self.kicked_at = new;
        if self.has(VIRTIO_RING_F_EVENT_IDX) {
            let event = mem.get_u16(self.used + 4 + 8 * u64::from(self.num));
            need_event(event, new, old)
        } else {
            mem.get_u16(self.used) & 1 == 0
        }
    }

    fn enable_cb(&mut self, mem: &TestMem) -> bool {
        self.cb = true;
        if self.has(VIRTIO_RING_F_EVENT_IDX) {
            mem.put_u16(self.avail + 4 + 2 * u64::from(self.num), self.last_used);
        } else {
            mem.put_u16(self.avail, 0);
        }
        fence(Ordering::SeqCst);
        self.used_idx(mem) == self.last_used
    }

    fn disable_cb(&mut self, mem: &TestMem) {
        self.cb = false;
        if self.has(VIRTIO_RING_F_EVENT_IDX) {
            // Far from anything the device will cross soon.
            mem.put_u16(
                self.avail + 4 + 2 * u64::from(self.num),
                self.last_used.wrapping_add(0x8000),
            );
        } else {
            mem.put_u16(self.avail, 1);
        }
    }

    fn outstanding(&self) -> usize {
        self.out.len()
    }

    fn has_used(&self, mem: &TestMem) -> bool {
        self.used_idx(mem) != self.last_used
    }
}

/// Linux's packed ring driver, as far as the device can tell.
pub struct PackedDriver {
    num: u16,
    desc: u64,
    driver: u64,
    device: u64,
    ind: u64,
    features: u64,
    free_ids: Vec<u16>,
    nfree: usize,
    next_avail: u16,
    avail_wrap: bool,
    next_used: u16,
    used_wrap: bool,
    added: u16,
    cb: bool,
    out: HashMap<u16, Buf>,
    order: VecDeque<u16>,
}

impl PackedDriver {
    /// A ring of `num` entries laid out from `base`; returns the model and
    /// the first free address.
    pub fn new(mem: &TestMem, base: u64, num: u16, features: u64) -> (Self, u64) {
        let n = u64::from(num);
        let desc = base;
        let driver = desc + 16 * n;
        let device = driver + 4;
        let ind = align(device + 4, 16);
        let end = ind + n * MAX_IND * 16;
        mem.put(base, &vec![0; (end - base) as usize]);
        let d = Self {
            num,
            desc,
            driver,
            device,
            ind,
            features: features | (1 << VIRTIO_F_RING_PACKED),
            free_ids: (0..num).rev().collect(),
            nfree: usize::from(num),
            next_avail: 0,
            avail_wrap: true,
            next_used: 0,
            used_wrap: true,
            added: 0,
            cb: true,
            out: HashMap::new(),
            order: VecDeque::new(),
        };
        (d, end)
    }

    fn has(&self, bit: u32) -> bool {
        self.features & (1 << bit) != 0
    }

    /// Flags marking a descriptor available on the current lap.
    pub fn avail_flags(&self) -> u16 {
        if self.avail_wrap {
            F_AVAIL
        } else {
            F_USED
        }
    }

    /// Writes the descriptor at `pos` as is: for hostile-guest tests.
    pub fn put_desc(&self, mem: &TestMem, pos: u16, addr: u64, len: u32, id: u16, flags: u16) {
        put_packed(mem, self.desc + 16 * u64::from(pos), addr, len, id, flags);
    }

    /// Address of the indirect table of buffer `id`.
    pub fn ind_table(&self, id: u16) -> u64 {
        self.ind + u64::from(id) * MAX_IND * 16
    }

    fn step(&self, pos: u16, wrap: bool, n: u16) -> (u16, bool) {
        let p = u32::from(pos) + u32::from(n);
        let num = u32::from(self.num);
        if p >= num {
            ((p - num) as u16, !wrap)
        } else {
            (p as u16, wrap)
        }
    }
}

impl Driver for PackedDriver {
    fn features(&self) -> u64 {
        self.features
    }

    fn num(&self) -> u16 {
        self.num
    }

    fn addrs(&self) -> (u64, u64, u64) {
        (self.desc, self.driver, self.device)
    }

    fn add(&mut self, mem: &TestMem, segs: &[Seg], indirect: bool) -> Option<Buf> {
        assert!(!segs.is_empty() && segs.len() as u64 <= MAX_IND);
        let n = if indirect { 1 } else { segs.len() };
        if self.nfree < n || self.free_ids.is_empty() {
            return None;
        }
        let head = self.next_avail;
        let id = if self.has(VIRTIO_F_IN_ORDER) {
            // Linux's in-order driver names buffers by their head slot.
            self.free_ids.retain(|&i| i != head);
            head
        } else {
            self.free_ids.pop().unwrap()
        };
        let mut head_flags = 0;
        let (mut p, mut w) = (self.next_avail, self.avail_wrap);
        let desc = self.desc;
        let mut put = |mem: &TestMem, p: u16, w: bool, addr: u64, len: u32, flags: u16| {
            let flags = flags | if w { F_AVAIL } else { F_USED };
            let a = desc + 16 * u64::from(p);
            if p == head {
                // Everything but the flags: the head is published last.
                let mut b = [0u8; 14];
                b[0..8].copy_from_slice(&addr.to_le_bytes());
                b[8..12].copy_from_slice(&len.to_le_bytes());
                b[12..14].copy_from_slice(&id.to_le_bytes());
                mem.put(a, &b);
                head_flags = flags;
            } else {
                put_packed(mem, a, addr, len, id, flags);
            }
        };
        if indirect {
            let table = self.ind + u64::from(id) * MAX_IND * 16;
            for (i, s) in segs.iter().enumerate() {
                let flags = if s.write { F_WRITE } else { 0 };
                put_packed(mem, table + 16 * i as u64, s.addr, s.len, 0, flags);
            }
            put(mem, p, w, table, 16 * segs.len() as u32, F_INDIRECT);
            (p, w) = self.step(p, w, 1);
        } else {
            for (i, s) in segs.iter().enumerate() {
                let last = i + 1 == segs.len();
                let flags = (if s.write { F_WRITE } else { 0 }) | (if last { 0 } else { F_NEXT });
                put(mem, p, w, s.addr, s.len, flags);
                (p, w) = self.step(p, w, 1);
            }
        }
        fence(Ordering::Release);
        mem.put_u16(self.desc + 16 * u64::from(head) + 14, head_flags);
        self.next_avail = p;
        self.avail_wrap = w;
        self.nfree -= n;
        self.added = self.added.wrapping_add(n as u16);
        let buf = Buf {
            id,
            segs: segs.to_vec(),
            ndescs: n as u16,
        };
        self.out.insert(id, buf.clone());
        self.order.push_back(id);
        Some(buf)
    }

    fn reap(&mut self, mem: &TestMem) -> Vec<(u16, u32)> {
        let mut got = Vec::new();
        let in_order = self.has(VIRTIO_F_IN_ORDER);
        loop {
            let a = self.desc + 16 * u64::from(self.next_used);
            let flags = mem.get_u16(a + 14);
            let used = flags & F_USED != 0;
            let avail = flags & F_AVAIL != 0;
            if !(used == avail && used == self.used_wrap) {
                break;
            }
            fence(Ordering::Acquire);
            let len = mem.get_u32(a + 8);
            let id = mem.get_u16(a + 12);
            loop {
                let h = if in_order {
                    *self
                        .order
                        .front()
                        .expect("in-order batch past the last buffer")
                } else {
                    id
                };
                let buf = self
                    .out
                    .remove(&h)
                    .unwrap_or_else(|| panic!("device used id {h}, not outstanding"));
                self.order.retain(|&x| x != h);
                self.free_ids.push(h);
                self.nfree += usize::from(buf.ndescs);
                (self.next_used, self.used_wrap) =
                    self.step(self.next_used, self.used_wrap, buf.ndescs);
                if h == id {
                    got.push((h, len));
                    break;
                }
                got.push((h, buf.writable_len()));
            }
        }
        if self.cb && self.has(VIRTIO_RING_F_EVENT_IDX) {
            let off_wrap = self.next_used | (u16::from(self.used_wrap) << 15);
            mem.put_u16(self.driver, off_wrap);
        }
        got
    }

    fn kick_needed(&mut self, mem: &TestMem) -> bool {
        fence(Ordering::SeqCst);
        let off_wrap = mem.get_u16(self.device);
        let flags = mem.get_u16(self.device + 2) & 3;
        let new = self.next_avail;
        let old = new.wrapping_sub(self.added);
        self.added = 0;
        if flags == 2 {
            let mut event = off_wrap & 0x7fff;
            if (off_wrap >> 15 != 0) != self.avail_wrap {
                event = event.wrapping_sub(self.num);
            }
            need_event(event, new, old)
        } else {
            flags != 1
        }
    }

    fn enable_cb(&mut self, mem: &TestMem) -> bool {
        self.cb = true;
        if self.has(VIRTIO_RING_F_EVENT_IDX) {
            let off_wrap = self.next_used | (u16::from(self.used_wrap) << 15);
            mem.put_u16(self.driver, off_wrap);
            mem.put_u16(self.driver + 2, 2);
        } else {
            mem.put_u16(self.driver + 2, 0);
        }
        fence(Ordering::SeqCst);
        let flags = mem.get_u16(self.desc + 16 * u64::from(self.next_used) + 14);
        let used = flags & F_USED != 0;
        !(used == (flags & F_AVAIL != 0) && used == self.used_wrap)
    }

    fn disable_cb(&mut self, mem: &TestMem) {
        self.cb = false;
        mem.put_u16(self.driver + 2, 1);
    }

    fn outstanding(&self) -> usize {
        self.out.len()
    }
    fn has_used(&self, mem: &TestMem) -> bool {
        let flags = mem.get_u16(self.desc + 16 * u64::from(self.next_used) + 14);
        let used = flags & F_USED != 0;
        used == (flags & F_AVAIL != 0) && used == self.used_wrap
    }
}
