// SPDX-License-Identifier: GPL-2.0

//! A literal model of `drivers/vhost/iotlb.c` and the lookups of
//! `drivers/vhost/vhost.c` (7.2): a list in insertion order, and the
//! interval tree's in-order walk as that list stably sorted by start. Slow
//! and obviously like C; the tests compare the real tables against it.

#![allow(dead_code, unreachable_pub)]

use rvhost_addr_space::{
    user_range_ok,
    Errno,
    Iotlb,
    Kind,
    Map,
    Slot,
    TranslateError,
    USER_PTR_MAX_4LEVEL,
    VIRTIO_FEATURES_U64S, //
};

/// `access_ok()` of an x86-64 kernel with 4-level paging.
pub fn access_ok(addr: u64, size: u64) -> bool {
    user_range_ok(addr, size, USER_PTR_MAX_4LEVEL)
}

/// Feature words with `bits` acked.
pub fn features(bits: &[u32]) -> [u64; VIRTIO_FEATURES_U64S] {
    let mut words = [0; VIRTIO_FEATURES_U64S];
    for b in bits {
        words[(b / 64) as usize] |= 1 << (b % 64);
    }
    words
}

pub type Table = Iotlb<Vec<Slot>>;

pub fn table(kind: Kind, limit: u32) -> Table {
    Iotlb::new(Vec::new(), kind, limit)
}

pub fn map(start: u64, last: u64, addr: u64, perm: u8) -> Map {
    Map {
        start,
        last,
        addr,
        perm,
    }
}

#[derive(Clone, Debug)]
pub struct Model {
    /// `iotlb->list`.
    pub list: Vec<Map>,
    pub limit: u32,
    pub retire: bool,
    pub kind: Kind,
}

impl Model {
    pub fn new(kind: Kind, limit: u32, retire: bool) -> Self {
        Self {
            list: Vec::new(),
            limit,
            retire,
            kind,
        }
    }

    /// In-order walk of the interval tree: insertion puts a node right of
    /// every node with an equal start (interval_tree_generic.h, insert).
    pub fn tree(&self) -> Vec<Map> {
        let mut t = self.list.clone();
        t.sort_by_key(|m| m.start); // stable
        t
    }

    /// `vhost_iotlb_itree_first()`: `_subtree_search()` returns the leftmost
    /// node with `start <= ITLAST(node)` (Cond2) if `ITSTART(node) <= last`
    /// (Cond1), else NULL.
    pub fn first(&self, start: u64, last: u64) -> Option<Map> {
        let n = self.tree().into_iter().find(|m| start <= m.last)?;
        (n.start <= last).then_some(n)
    }

    /// iotlb.c:55 `vhost_iotlb_add_range_ctx()`, line by line.
    pub fn add_range(
        &mut self,
        mut start: u64,
        last: u64,
        mut addr: u64,
        perm: u8,
    ) -> Result<(), Errno> {
        if last < start {
            return Err(Errno::Fault);
        }
        if self.limit == 0 {
            return Err(Errno::Inval);
        }
        if start == 0 && last == u64::MAX {
            let mid = last / 2;
            if self.limit < 2 {
                return Err(Errno::NoSpc);
            }
            if !self.retire && self.list.len() as u64 > u64::from(self.limit) - 2 {
                return Err(Errno::NoSpc);
            }
            self.add_range(start, mid, addr, perm)?;
            addr = addr.wrapping_add(mid + 1);
            start = mid + 1;
        }
        if self.list.len() as u64 >= u64::from(self.limit) {
            if self.retire {
                self.list.remove(0);
            } else {
                return Err(Errno::NoSpc);
            }
        }
        self.list.push(map(start, last, addr, perm));
        Ok(())
    }

    /// iotlb.c:137 `vhost_iotlb_del_range()`.
    pub fn del_range(&mut self, start: u64, last: u64) {
        while let Some(m) = self.first(start, last) {
            let i = self.list.iter().position(|x| *x == m).unwrap();
            // The node the tree returns: equal maps are interchangeable.
            self.list.remove(i);
        }
    }

    /// vhost.c:2712 `translate_desc()`.
    pub fn translate(
        &self,
        mut addr: u64,
        len: u64,
        access: u8,
        iov_size: usize,
    ) -> Result<Vec<(u64, u64)>, TranslateError> {
        let mut iov = Vec::new();
        let mut s = 0u64;
        let last = addr.wrapping_add(len).wrapping_sub(1);
        while len > s {
            if iov.len() >= iov_size {
                return Err(TranslateError::NoBufs);
            }
            let m = self.first(addr, last);
            let m = match m {
                Some(m) if m.start <= addr => m,
                _ => {
                    return Err(match self.kind {
                        Kind::Umem => TranslateError::Unmapped { addr },
                        Kind::Iotlb => TranslateError::Miss {
                            iova: addr,
                            perm: access,
                        },
                    })
                }
            };
            if m.perm & access == 0 {
                return Err(TranslateError::Perm { addr });
            }
            let size = m.size().wrapping_sub(addr).wrapping_add(m.start);
            iov.push((
                m.addr.wrapping_add(addr).wrapping_sub(m.start),
                (len - s).min(size),
            ));
            s = s.wrapping_add(size);
            addr = addr.wrapping_add(size);
        }
        Ok(iov)
    }

    /// vhost.c:2505 `log_write()`: the (byte, bit) calls.
    pub fn log_write(
        out: &mut Vec<(u64, u8)>,
        log_base: u64,
        write_address: u64,
        mut write_length: u64,
    ) {
        let mut write_page = write_address / 4096;
        if write_length == 0 {
            return;
        }
        write_length = write_length.wrapping_add(write_address % 4096);
        loop {
            let log = log_base.wrapping_add(write_page / 8);
            let bit = (write_page % 8) as u8;
            out.push((log, bit));
            if write_length <= 4096 {
                break;
            }
            write_length -= 4096;
            write_page += 1;
        }
    }

    /// vhost.c:2531 `log_write_hva()` over this table as `vq->umem`.
    pub fn log_write_hva(
        &self,
        out: &mut Vec<(u64, u8)>,
        log_base: u64,
        mut hva: u64,
        mut len: u64,
    ) -> Result<(), ()> {
        let mut hit = false;
        while len != 0 {
            let mut min = len;
            for u in &self.list {
                if u.addr > hva.wrapping_sub(1).wrapping_add(len)
                    || u.addr.wrapping_sub(1).wrapping_add(u.size()) < hva
                {
                    continue;
                }
                let start = u.addr.max(hva);
                let end = u
                    .addr
                    .wrapping_sub(1)
                    .wrapping_add(u.size())
                    .min(hva.wrapping_sub(1).wrapping_add(len));
                let l = end.wrapping_sub(start).wrapping_add(1);
                Self::log_write(
                    out,
                    log_base,
                    u.start.wrapping_add(start).wrapping_sub(u.addr),
                    l,
                );
                hit = true;
                min = min.min(l);
            }
            if !hit {
                return Err(());
            }
            assert!(min != 0, "C would loop forever");
            len -= min;
            hva = hva.wrapping_add(min);
        }
        Ok(())
    }
}

/// The entries of a table in insertion order.
pub fn list(t: &Table) -> Vec<Map> {
    t.maps().copied().collect()
}
