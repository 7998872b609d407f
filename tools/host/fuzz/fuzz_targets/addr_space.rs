// SPDX-License-Identifier: GPL-2.0

//! Fuzzes the vhost IOTLB of drivers/vhost/addr_space: any sequence of adds,
//! deletes, lookups and translations on a small table must give what the
//! plain reading of `drivers/vhost/iotlb.c` gives (a list in insertion
//! order, the interval tree's order as that list stably sorted by start),
//! and nothing may panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rvhost_addr_space::{
    Errno,
    Iotlb,
    Kind,
    Map,
    Slot,
    TranslateError,
    VHOST_IOTLB_FLAG_RETIRE, //
};

struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(*b)
    }

    /// Addresses that collide often, and the extremes.
    fn addr(&mut self) -> Option<u64> {
        let b = self.byte()?;
        Some(match b {
            0xfc => u64::MAX,
            0xfd => u64::MAX / 2,
            0xfe => u64::MAX / 2 + 1,
            0xff => u64::from_le_bytes([
                self.byte()?,
                self.byte()?,
                self.byte()?,
                self.byte()?,
                self.byte()?,
                self.byte()?,
                self.byte()?,
                self.byte()?,
            ]),
            _ => u64::from(b) * 0x80,
        })
    }
}

/// The list of iotlb.c, and itree_first() as the leftmost node in tree
/// order that ends at or after `start`, returned if it begins by `last`.
struct Model {
    list: Vec<Map>,
    limit: u32,
    retire: bool,
}

impl Model {
    fn first(&self, start: u64, last: u64) -> Option<Map> {
        let mut t = self.list.clone();
        t.sort_by_key(|m| m.start);
        let n = t.into_iter().find(|m| start <= m.last)?;
        (n.start <= last).then_some(n)
    }

    fn insert(&mut self, m: Map) -> Result<(), Errno> {
        if self.list.len() as u64 >= u64::from(self.limit) {
            if !self.retire {
                return Err(Errno::NoSpc);
            }
            self.list.remove(0);
        }
        self.list.push(m);
        Ok(())
    }

    fn add(&mut self, start: u64, last: u64, addr: u64, perm: u8) -> Result<(), Errno> {
        if last < start {
            return Err(Errno::Fault);
        }
        if self.limit == 0 {
            return Err(Errno::Inval);
        }
        let m = Map {
            start,
            last,
            addr,
            perm,
        };
        if start == 0 && last == u64::MAX {
            let mid = last / 2;
            if self.limit < 2
                || (!self.retire && self.list.len() as u64 > u64::from(self.limit) - 2)
            {
                return Err(Errno::NoSpc);
            }
            self.insert(Map { last: mid, ..m })?;
            return self.insert(Map {
                start: mid + 1,
                addr: addr.wrapping_add(mid + 1),
                ..m
            });
        }
        self.insert(m)
    }

    fn del(&mut self, start: u64, last: u64) {
        self.list.retain(|m| !(m.last >= start && m.start <= last));
    }
}

fuzz_target!(|data: &[u8]| {
    let mut inp = Input(data);
    let Some(cfg) = inp.byte() else { return };
    let limit = u32::from(cfg & 7);
    let retire = cfg & 8 != 0;
    let kind = if cfg & 16 != 0 {
        Kind::Iotlb
    } else {
        Kind::Umem
    };
    let flags = if retire { VHOST_IOTLB_FLAG_RETIRE } else { 0 };
    let mut t: Iotlb<Vec<Slot>> = Iotlb::with_flags(Vec::new(), kind, limit, flags);
    let mut m = Model {
        list: Vec::new(),
        limit,
        retire,
    };
    while let Some(op) = inp.byte() {
        let (Some(s), Some(l)) = (inp.addr(), inp.addr()) else {
            return;
        };
        match op % 4 {
            0 => {
                let (Some(a), Some(p)) = (inp.addr(), inp.byte()) else {
                    return;
                };
                assert_eq!(t.add_range(s, l, a, p & 3), m.add(s, l, a, p & 3));
            }
            1 => {
                t.del_range(s, l);
                m.del(s, l);
            }
            2 => assert_eq!(t.first(s, l).copied(), m.first(s, l)),
            _ => {
                // translate_desc() of s..s + len, at most 4 pieces
                let len = l % 0x2000;
                let access = op / 4 % 3 + 1;
                let got: Result<Vec<_>, _> = t.translate(s, len, access, 4).collect();
                let last = s.wrapping_add(len).wrapping_sub(1);
                let (mut a, mut done, mut want) = (s, 0u64, Ok(Vec::new()));
                while len > done {
                    let Ok(v) = &mut want else { break };
                    if v.len() >= 4 {
                        want = Err(TranslateError::NoBufs);
                        break;
                    }
                    let e = match m.first(a, last) {
                        Some(e) if e.start <= a => e,
                        _ => {
                            want = Err(match kind {
                                Kind::Umem => TranslateError::Unmapped { addr: a },
                                Kind::Iotlb => TranslateError::Miss {
                                    iova: a,
                                    perm: access,
                                },
                            });
                            break;
                        }
                    };
                    if e.perm & access == 0 {
                        want = Err(TranslateError::Perm { addr: a });
                        break;
                    }
                    let size = e.last.wrapping_sub(a).wrapping_add(1);
                    v.push(rvhost_addr_space::Seg {
                        addr: e.uaddr(a),
                        len: (len - done).min(size),
                    });
                    done = done.wrapping_add(size);
                    a = a.wrapping_add(size);
                }
                assert_eq!(got, want);
            }
        }
        assert_eq!(t.maps().copied().collect::<Vec<_>>(), m.list);
    }
});
