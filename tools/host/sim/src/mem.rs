// SPDX-License-Identifier: GPL-2.0

//! Guest memory for tests: pages that may be unmapped or missing, mapped
//! out of order in the backing store, so that nothing can assume that
//! guest-contiguous means host-contiguous.

use std::cell::{
    Cell,
    RefCell, //
};
use std::sync::atomic::{
    fence,
    Ordering, //
};

use rvhost_ring::{
    Fault,
    GuestMemory,
    Space, //
};

/// Page size of the test translation.
pub const PAGE: u64 = 4096;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Map {
    /// Backing page number.
    Page(usize),
    Unmapped,
    Miss,
}

/// A guest address space of `size` bytes from 0.
pub struct TestMem {
    data: RefCell<Vec<u8>>,
    map: RefCell<Vec<Map>>,
    /// Number of `read` / `write` calls, to check bulk access.
    pub reads: Cell<u64>,
    /// See `reads`.
    pub writes: Cell<u64>,
    /// Bytes read.
    pub read_bytes: Cell<u64>,
}

impl TestMem {
    /// `size` bytes, every page mapped. With `scatter`, guest page `n` is
    /// backed by a page far from page `n + 1`.
    pub fn new(size: u64, scatter: bool) -> Self {
        let pages = size.div_ceil(PAGE) as usize;
        let map = (0..pages)
            .map(|n| {
                if scatter {
                    // An odd stride is a permutation of any power-of-two
                    // count and of most others; fall back to identity.
                    let p = (n * 7919) % pages;
                    Map::Page(if pages % 7919 == 0 { n } else { p })
                } else {
                    Map::Page(n)
                }
            })
            .collect();
        Self {
            data: RefCell::new(vec![0; pages * PAGE as usize]),
            map: RefCell::new(map),
            reads: Cell::new(0),
            writes: Cell::new(0),
            read_bytes: Cell::new(0),
        }
    }

    /// Size of the address space.
    pub fn size(&self) -> u64 {
        self.map.borrow().len() as u64 * PAGE
    }

    /// Makes the page holding `addr` fault.
    pub fn unmap(&self, addr: u64) {
        if let Some(m) = self.map.borrow_mut().get_mut((addr / PAGE) as usize) {
            *m = Map::Unmapped;
        }
    }

    /// Makes the page holding `addr` an IOTLB miss.
    pub fn miss(&self, addr: u64) {
        if let Some(m) = self.map.borrow_mut().get_mut((addr / PAGE) as usize) {
            *m = Map::Miss;
        }
    }

    /// Maps the page holding `addr` back (identity backing).
    pub fn remap(&self, addr: u64) {
        let n = (addr / PAGE) as usize;
        if let Some(m) = self.map.borrow_mut().get_mut(n) {
            *m = Map::Page(n);
        }
    }

    /// Calls `f(host_offset, offset_in_access, length)` for each page-sized
    /// piece of `[addr, addr + len)`, after checking that all are mapped.
    fn pieces(
        &self,
        addr: u64,
        len: usize,
        mut f: impl FnMut(usize, usize, usize),
    ) -> Result<(), Fault> {
        let map = self.map.borrow();
        let end = addr.checked_add(len as u64).ok_or(Fault::Unmapped)?;
        for pass in 0..2 {
            let mut a = addr;
            while a < end {
                let off = (a % PAGE) as usize;
                let take = ((PAGE as usize) - off).min((end - a) as usize);
                match map.get((a / PAGE) as usize) {
                    Some(Map::Page(p)) => {
                        if pass == 1 {
                            f(p * PAGE as usize + off, (a - addr) as usize, take);
                        }
                    }
                    Some(Map::Miss) => return Err(Fault::Miss),
                    _ => return Err(Fault::Unmapped),
                }
                a += take as u64;
            }
        }
        Ok(())
    }

    /// Guest-side write, for the driver models (no fault injection).
    pub fn put(&self, addr: u64, buf: &[u8]) {
        let mut data = self.data.borrow_mut();
        self.pieces(addr, buf.len(), |h, b, n| {
            data[h..h + n].copy_from_slice(&buf[b..b + n])
        })
        .expect("driver write outside memory");
    }

    /// Guest-side read.
    pub fn get(&self, addr: u64, buf: &mut [u8]) {
        let data = self.data.borrow();
        self.pieces(addr, buf.len(), |h, b, n| {
            buf[b..b + n].copy_from_slice(&data[h..h + n])
        })
        .expect("driver read outside memory");
    }

    /// Guest-side little-endian accessors.
    pub fn put_u16(&self, addr: u64, v: u16) {
        self.put(addr, &v.to_le_bytes());
    }
    /// See [`TestMem::put_u16`].
    pub fn put_u32(&self, addr: u64, v: u32) {
        self.put(addr, &v.to_le_bytes());
    }
    /// See [`TestMem::put_u16`].
    pub fn put_u64(&self, addr: u64, v: u64) {
        self.put(addr, &v.to_le_bytes());
    }
    /// See [`TestMem::put_u16`].
    pub fn get_u16(&self, addr: u64) -> u16 {
        let mut b = [0; 2];
        self.get(addr, &mut b);
        u16::from_le_bytes(b)
    }
    /// See [`TestMem::put_u16`].
    pub fn get_u32(&self, addr: u64) -> u32 {
        let mut b = [0; 4];
        self.get(addr, &mut b);
        u32::from_le_bytes(b)
    }
}

impl GuestMemory for TestMem {
    fn read(&self, _space: Space, addr: u64, buf: &mut [u8]) -> Result<(), Fault> {
        self.reads.set(self.reads.get() + 1);
        self.read_bytes
            .set(self.read_bytes.get() + buf.len() as u64);
        let data = self.data.borrow();
        self.pieces(addr, buf.len(), |h, b, n| {
            buf[b..b + n].copy_from_slice(&data[h..h + n])
        })
    }

    fn write(&self, _space: Space, addr: u64, buf: &[u8]) -> Result<(), Fault> {
        self.writes.set(self.writes.get() + 1);
        let mut data = self.data.borrow_mut();
        self.pieces(addr, buf.len(), |h, b, n| {
            data[h..h + n].copy_from_slice(&buf[b..b + n])
        })
    }

    fn rmb(&self) {
        fence(Ordering::Acquire);
    }

    fn wmb(&self) {
        fence(Ordering::Release);
    }

    fn mb(&self) {
        fence(Ordering::SeqCst);
    }
}
