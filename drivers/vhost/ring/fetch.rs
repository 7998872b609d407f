// SPDX-License-Identifier: GPL-2.0

//! The chain iterator: handing chains out, and putting them back.

use core::ops::DerefMut;

use super::{
    chain::Chain,
    desc::Desc,
    error::Error,
    guest_memory::GuestMemory,
    used::Head,
    vring::{
        Cursor,
        Mark,
        Vring, //
    },
};

impl<S: DerefMut<Target = [Desc]>> Vring<S> {
    /// The position before the next chain [`Vring::next_chain`] returns.
    pub fn mark(&self) -> Mark {
        Mark {
            gen: self.gen,
            at: self.consumed,
        }
    }

    /// Puts back every chain handed out since `mark` (`vhost_discard_vq_desc()`):
    /// they are fetched again, from the guest's ring.
    ///
    /// Chains already passed to [`Vring::add_used`] must not be rewound.
    pub fn rewind(&mut self, mark: Mark) -> Result<(), Error> {
        if mark.gen != self.gen || !self.behind(mark.at) {
            return Err(Error::StaleMark);
        }
        self.consumed = mark.at;
        self.drop_batch();
        Ok(())
    }

    /// Whether `at` is at most a ring behind the consumed position.
    fn behind(&self, at: Cursor) -> bool {
        let num = u32::from(self.num);
        if self.packed() {
            let (c, a) = (self.consumed.lap_pos(self.num), at.lap_pos(self.num));
            (c + 2 * num - a) % (2 * num).max(1) <= num
        } else {
            u32::from(self.consumed.idx.wrapping_sub(at.idx)) <= num
        }
    }

    /// The next chain, refilling the batch from the ring when it is empty.
    ///
    /// `Ok(None)` when the guest has nothing more. A chain that cannot be
    /// fetched stays in the ring: its error is returned when it is the next
    /// chain, never earlier.
    pub fn next_chain<M: GuestMemory + ?Sized>(
        &mut self,
        guest: &M,
    ) -> Result<Option<Chain<'_>>, Error> {
        if !self.ready {
            return Err(Error::NotReady);
        }
        if self.pos >= self.end {
            self.pos = 0;
            self.end = 0;
            let fetched = if self.packed() {
                self.refill_packed(guest)
            } else {
                self.refill_split(guest)
            };
            // An error met reading ahead is not kept: the caller acts on
            // errors of the chain it asked for (an IOTLB miss is recorded
            // and its queue waits for the update), and the guest or the
            // VMM may have changed what a later chain needs by the time it
            // is reached. The fetch stopped before the bad chain, which is
            // read again, and its error reported, when it comes next.
            if self.end == 0 {
                fetched?;
                return Ok(None);
            }
        }
        Ok(self.take_chain())
    }

    /// Hands out the chain at `pos`.
    fn take_chain(&mut self) -> Option<Chain<'_>> {
        let start = self.pos;
        let mut n = 0usize;
        let mut readable = 0usize;
        let mut readable_len = 0u64;
        let mut writable_len = 0u64;
        let mut slots = 0u16;
        let mut id = 0u16;
        for d in self.store.get(start..self.end)? {
            n += 1;
            id = d.id;
            if d.is_write() {
                writable_len += u64::from(d.len);
            } else {
                readable += 1;
                readable_len += u64::from(d.len);
            }
            if d.flags & Desc::F_SLOT != 0 {
                slots = slots.wrapping_add(1);
            }
            if d.flags & Desc::F_NEXT == 0 {
                break;
            }
        }
        let mark = self.mark();
        self.pos = start + n;
        self.advance_consumed(slots);
        Some(Chain {
            head: Head { id, ndescs: slots },
            start: mark,
            descs: self.store.get(start..start + n)?,
            readable,
            readable_len,
            writable_len,
        })
    }

    fn advance_consumed(&mut self, slots: u16) {
        if self.packed() {
            let (idx, wrap) =
                self.packed_advance(self.consumed.idx, self.consumed.wrap, u32::from(slots));
            self.consumed.idx = idx;
            self.consumed.head = idx;
            self.consumed.wrap = wrap;
        } else {
            self.consumed.idx = self.consumed.idx.wrapping_add(1);
            self.consumed.head = self.consumed.head.wrapping_add(slots);
        }
    }

    /// Packed: position `pos` of lap `wrap` moved by `n` slots.
    #[inline]
    pub(crate) fn packed_advance(&self, pos: u16, wrap: bool, n: u32) -> (u16, bool) {
        packed_step(self.num, pos, wrap, n)
    }
}

/// Position `pos` of lap `wrap` of a packed ring of `num` slots, moved by
/// `n` slots. A move of less than a ring, the usual one, needs no division.
#[inline]
pub(crate) fn packed_step(num: u16, pos: u16, wrap: bool, n: u32) -> (u16, bool) {
    let num = u32::from(num.max(1));
    let p = u32::from(pos) + n;
    if p < num {
        (p as u16, wrap)
    } else if p < 2 * num {
        ((p - num) as u16, !wrap)
    } else {
        let laps = p / num;
        ((p % num) as u16, wrap ^ (laps % 2 == 1))
    }
}
