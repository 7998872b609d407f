// SPDX-License-Identifier: GPL-2.0

//! The split ring: avail ring, descriptor table, used ring.

use core::ops::DerefMut;

use super::{
    chain::{
        Builder,
        Stop, //
    },
    desc::{
        Desc,
        RawDesc, //
    },
    error::Error,
    event::need_event,
    guest_memory::{
        self,
        GuestMemory, //
    },
    indirect,
    layout::{
        RING_ENTRIES,
        RING_IDX,
        USED_ELEM_SIZE,
        VIRTIO_F_IN_ORDER,
        VIRTIO_F_NOTIFY_ON_EMPTY,
        VIRTIO_RING_F_EVENT_IDX,
        VRING_AVAIL_F_NO_INTERRUPT,
        VRING_DESC_F_INDIRECT,
        VRING_DESC_F_NEXT,
        VRING_DESC_F_WRITE,
        VRING_USED_F_NO_NOTIFY, //
    },
    vring::{
        Vring,
        SCRATCH, //
    },
};

/// Avail entries read per copy: all of a default batch.
const AVAIL_CHUNK: u16 = (SCRATCH / 2) as u16;

impl<S: DerefMut<Target = [Desc]>> Vring<S> {
    /// Reads `avail->idx` (`vhost_get_avail_idx()`): `Ok(true)` if it moved.
    ///
    /// The read barrier orders it before the avail entries and descriptors
    /// the new index publishes.
    pub(crate) fn read_avail_idx<M: GuestMemory + ?Sized>(
        &mut self,
        guest: &M,
    ) -> Result<bool, Error> {
        let idx = guest_memory::read_u16(guest, guest_memory::at(self.avail, RING_IDX)?)?;
        let ahead = idx.wrapping_sub(self.consumed.idx);
        let fetched = self.fetch.idx.wrapping_sub(self.consumed.idx);
        if ahead > self.num || ahead < fetched {
            return Err(Error::AvailIdxJump {
                last: self.consumed.idx,
                idx,
            });
        }
        if idx == self.avail_idx {
            return Ok(false);
        }
        self.avail_idx = idx;
        guest.rmb();
        Ok(true)
    }

    /// Fills the batch; on error, the chains fetched before it stay in it.
    pub(crate) fn refill_split<M: GuestMemory + ?Sized>(&mut self, guest: &M) -> Result<(), Error> {
        let num = self.num;
        if self.avail_idx == self.fetch.idx && !self.read_avail_idx(guest)? {
            return Ok(());
        }
        let in_order = self.has(VIRTIO_F_IN_ORDER);
        let mut want = self
            .avail_idx
            .wrapping_sub(self.fetch.idx)
            .min(self.batch_eff());
        self.ring_win.invalidate();
        self.ind_win.invalidate();
        while want > 0 {
            // One copy per chunk, never across the end of the ring: a batch
            // is at most two copies.
            let slot = self.fetch.idx & (num - 1);
            let n = want.min(AVAIL_CHUNK).min(num - slot);
            if !in_order {
                let addr = guest_memory::at(self.avail, RING_ENTRIES + 2 * u64::from(slot))?;
                let buf = self
                    .scratch
                    .get_mut(..2 * usize::from(n))
                    .ok_or(Error::NotReady)?;
                guest_memory::read(guest, addr, buf)?;
            }
            for k in 0..usize::from(n) {
                let head = if in_order {
                    self.fetch.head & (num - 1)
                } else {
                    guest_memory::le16(&self.scratch, 2 * k).ok_or(Error::NotReady)?
                };
                if head >= num {
                    return Err(Error::HeadOutOfRange { head, num });
                }
                // Where to read from is only worth working out when the
                // window does not hold the head already.
                let span = if in_order || self.ring_win.cached(self.desc, u32::from(head)).is_some()
                {
                    None
                } else {
                    self.head_span(k, usize::from(n), head)
                };
                match self.walk_split(guest, head, span) {
                    Ok(slots) => {
                        self.fetch.idx = self.fetch.idx.wrapping_add(1);
                        self.fetch.head = self.fetch.head.wrapping_add(slots);
                    }
                    Err(Stop::Full) => return Ok(()),
                    Err(Stop::Bad(e)) => return Err(e),
                }
            }
            want -= n;
        }
        Ok(())
    }

    /// Out of order, where the descriptor table is read from to fetch the
    /// chain at `head`, the `k`-th of the `n` avail entries in the scratch
    /// buffer: a window that also holds the next heads, if they are close
    /// to it. A guest allocates descriptors from a free list, which hands
    /// back what the device used, in the order it was used: successive
    /// heads are mostly neighbours, ascending or descending (Linux's list
    /// is LIFO). `None`: the next head is not in reach, read one.
    fn head_span(&self, k: usize, n: usize, head: u16) -> Option<(u16, u32)> {
        let win = self.ahead();
        if win < 2 {
            return None;
        }
        let (mut lo, mut hi) = (head, head);
        for j in k + 1..n.min(k + win as usize) {
            let Some(h) = guest_memory::le16(&self.scratch, 2 * j) else {
                break;
            };
            let (l, u) = (lo.min(h), hi.max(h));
            if h >= self.num || u32::from(u - l) >= win {
                break;
            }
            (lo, hi) = (l, u);
        }
        if lo == hi {
            return None;
        }
        // Room past the heads for the rest of their chains, on the side the
        // heads run to.
        let start = if lo == head {
            lo
        } else {
            (u32::from(hi) + 1).saturating_sub(win) as u16
        };
        let start = start.min(self.num.saturating_sub(win as u16));
        Some((start, win.min(u32::from(self.num - start))))
    }

    /// Walks the chain at `head` into the storage; returns the ring slots
    /// it took (`vhost_get_vq_desc()`'s loop). `span`: where to read the
    /// table from if the head is not in the window yet (`head_span()`).
    fn walk_split<M: GuestMemory + ?Sized>(
        &mut self,
        guest: &M,
        head: u16,
        span: Option<(u16, u32)>,
    ) -> Result<u16, Stop> {
        let num = self.num;
        let ahead = self.ahead();
        // In order, chains follow each other in the table: read ahead.
        let in_order = self.has(VIRTIO_F_IN_ORDER);
        let table = self.desc;
        let win = &mut self.ring_win;
        let ind = &mut self.ind_win;
        let mut b = Builder::new(&mut self.store, self.end, head);
        let mut i = head;
        let mut slots = 0u16;
        loop {
            if i >= num {
                return Err(Error::NextOutOfRange { head, next: i }.into());
            }
            if slots >= num {
                return Err(Error::DescLoop { head }.into());
            }
            slots += 1;
            let n = if in_order {
                ahead.min(u32::from(num - i))
            } else {
                1
            };
            let raw = match span {
                Some((start, count)) if i == head => {
                    win.get_from(guest, table, u32::from(i), u32::from(start), count)?
                }
                _ => win.get(guest, table, u32::from(i), n)?,
            };
            let raw = RawDesc::split(raw);
            if raw.flags & VRING_DESC_F_INDIRECT != 0 {
                indirect::expand(guest, ind, &mut b, &raw, ahead, false)?;
            } else {
                b.push(raw.addr, raw.len, raw.flags & VRING_DESC_F_WRITE != 0, true)?;
            }
            if raw.flags & VRING_DESC_F_NEXT == 0 {
                break;
            }
            i = raw.tag;
        }
        self.end = b.finish(head);
        Ok(slots)
    }

    /// Writes the buffered used entries in at most two copies (in order:
    /// one per group, at its first chain's slot), then the used index once.
    pub(crate) fn flush_split<M: GuestMemory + ?Sized>(&mut self, guest: &M) -> Result<(), Error> {
        let count = self.used_n;
        if count == 0 {
            return Ok(());
        }
        let num = self.num;
        let mut advance = 0u16;
        if self.has(VIRTIO_F_IN_ORDER) {
            for k in 0..count {
                let e = self.used_buf.get(k).copied().unwrap_or_default();
                let slot = self.used_idx.wrapping_add(advance) & (num - 1);
                let [i0, i1, i2, i3] = u32::from(e.id).to_le_bytes();
                let [l0, l1, l2, l3] = e.len.to_le_bytes();
                guest_memory::write(
                    guest,
                    guest_memory::at(self.used, RING_ENTRIES + USED_ELEM_SIZE * u64::from(slot))?,
                    &[i0, i1, i2, i3, l0, l1, l2, l3],
                )?;
                advance = advance.wrapping_add(e.chains);
            }
        } else {
            for k in 0..count {
                let e = self.used_buf.get(k).copied().unwrap_or_default();
                let off = k * USED_ELEM_SIZE as usize;
                let out = self
                    .scratch
                    .get_mut(off..off + USED_ELEM_SIZE as usize)
                    .ok_or(Error::NotReady)?;
                let [i0, i1, i2, i3] = u32::from(e.id).to_le_bytes();
                let [l0, l1, l2, l3] = e.len.to_le_bytes();
                out.copy_from_slice(&[i0, i1, i2, i3, l0, l1, l2, l3]);
            }
            let start = self.used_idx & (num - 1);
            let first = count.min(usize::from(num - start));
            let bytes = count * USED_ELEM_SIZE as usize;
            let split = first * USED_ELEM_SIZE as usize;
            let (a, b) = self
                .scratch
                .get(..bytes)
                .ok_or(Error::NotReady)?
                .split_at(split);
            guest_memory::write(
                guest,
                guest_memory::at(self.used, RING_ENTRIES + USED_ELEM_SIZE * u64::from(start))?,
                a,
            )?;
            if !b.is_empty() {
                guest_memory::write(guest, guest_memory::at(self.used, RING_ENTRIES)?, b)?;
            }
            advance = count as u16;
        }
        // Entries before the index that publishes them.
        guest.wmb();
        let old = self.used_idx;
        let new = old.wrapping_add(advance);
        guest_memory::write_u16(guest, guest_memory::at(self.used, RING_IDX)?, new)?;
        self.used_idx = new;
        // The driver has not asked for an interrupt in 2^16 entries: the
        // signalled index is meaningless now.
        if new.wrapping_sub(self.signalled_used) < new.wrapping_sub(old) {
            self.signalled_valid = false;
        }
        Ok(())
    }

    pub(crate) fn write_used_flags<M: GuestMemory + ?Sized>(&self, guest: &M) -> Result<(), Error> {
        let flags = if self.no_notify {
            VRING_USED_F_NO_NOTIFY
        } else {
            0
        };
        guest_memory::write_u16(guest, self.used, flags)
    }

    pub(crate) fn read_used_idx<M: GuestMemory + ?Sized>(&self, guest: &M) -> Result<u16, Error> {
        guest_memory::read_u16(guest, guest_memory::at(self.used, RING_IDX)?)
    }

    pub(crate) fn split_need_notify<M: GuestMemory + ?Sized>(
        &mut self,
        guest: &M,
    ) -> Result<bool, Error> {
        // Pairs with the barrier the guest executes when enabling
        // interrupts: our used index is visible before we read its flags.
        guest.mb();
        if self.has(VIRTIO_F_NOTIFY_ON_EMPTY) && self.avail_idx == self.consumed.idx {
            return Ok(true);
        }
        if !self.has(VIRTIO_RING_F_EVENT_IDX) {
            let flags = guest_memory::read_u16(guest, self.avail)?;
            return Ok(flags & VRING_AVAIL_F_NO_INTERRUPT == 0);
        }
        let old = self.signalled_used;
        let valid = self.signalled_valid;
        let new = self.used_idx;
        self.signalled_used = new;
        self.signalled_valid = true;
        if !valid {
            return Ok(true);
        }
        // used_event follows the avail ring.
        let off = RING_ENTRIES + 2 * u64::from(self.num);
        let event = guest_memory::read_u16(guest, guest_memory::at(self.avail, off)?)?;
        Ok(need_event(event, new, old))
    }

    pub(crate) fn split_enable_notify<M: GuestMemory + ?Sized>(
        &mut self,
        guest: &M,
    ) -> Result<bool, Error> {
        if self.has(VIRTIO_RING_F_EVENT_IDX) {
            // avail_event follows the used ring: kick when the guest
            // publishes past what we have seen.
            let off = RING_ENTRIES + USED_ELEM_SIZE * u64::from(self.num);
            guest_memory::write_u16(guest, guest_memory::at(self.used, off)?, self.avail_idx)?;
        } else {
            self.write_used_flags(guest)?;
        }
        // The guest may have added a chain as we did that: make the write
        // visible, then look again.
        guest.mb();
        if self.pos < self.end {
            return Ok(true);
        }
        // New chains only: ones put back since the last read are not
        // (`vhost_get_avail_idx()` compares with the cached index).
        self.read_avail_idx(guest)
    }

    pub(crate) fn split_disable_notify<M: GuestMemory + ?Sized>(
        &mut self,
        guest: &M,
    ) -> Result<(), Error> {
        if self.has(VIRTIO_RING_F_EVENT_IDX) {
            return Ok(());
        }
        self.write_used_flags(guest)
    }
}
