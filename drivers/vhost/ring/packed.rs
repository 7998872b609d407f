// SPDX-License-Identifier: GPL-2.0

//! The packed ring: one descriptor ring and two event suppression areas.
//!
//! No C vhost driver offers `VIRTIO_F_RING_PACKED`; this follows the VIRTIO
//! 1.1 text, the Linux guest driver and QEMU's device side.

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
    fetch::packed_step,
    guest_memory::{
        self,
        GuestMemory, //
    },
    indirect,
    layout::{
        DESC_SIZE,
        VIRTIO_F_NOTIFY_ON_EMPTY,
        VIRTIO_RING_F_EVENT_IDX,
        VRING_DESC_F_INDIRECT,
        VRING_DESC_F_NEXT,
        VRING_DESC_F_WRITE,
        VRING_PACKED_DESC_F_AVAIL,
        VRING_PACKED_DESC_F_USED,
        VRING_PACKED_EVENT_FLAG_DESC,
        VRING_PACKED_EVENT_FLAG_DISABLE,
        VRING_PACKED_EVENT_FLAG_ENABLE,
        VRING_PACKED_EVENT_F_WRAP_CTR, //
    },
    used::{
        UsedElem,
        USED_BATCH, //
    },
    vring::{
        Cursor,
        Vring,
        SCRATCH, //
    },
};

/// Offset of `flags` in a packed descriptor.
const FLAGS_OFF: u64 = 14;
/// Offset of `len` in a packed descriptor.
const LEN_OFF: u64 = 8;
/// Ring slots one write of used descriptors covers at most.
const RUN: u32 = (SCRATCH / DESC_SIZE as usize) as u32;
/// Chains of up to this many slots are read over when their used
/// descriptors are written in runs.
const SHORT: u32 = 4;

/// Whether `flags` mark a descriptor available on lap `wrap`: AVAIL equal
/// to the wrap counter, USED not.
fn is_avail(flags: u16, wrap: bool) -> bool {
    let avail = flags & VRING_PACKED_DESC_F_AVAIL != 0;
    let used = flags & VRING_PACKED_DESC_F_USED != 0;
    avail == wrap && used != wrap
}

/// Flags of a used descriptor on lap `wrap`.
fn used_flags(wrap: bool, len: u32) -> u16 {
    let mut f = if wrap {
        VRING_PACKED_DESC_F_AVAIL | VRING_PACKED_DESC_F_USED
    } else {
        0
    };
    if len != 0 {
        f |= VRING_DESC_F_WRITE;
    }
    f
}

/// The `len`, `id` and `flags` of a used descriptor on lap `wrap`, and how
/// many of those bytes to write: without the flags for the batch's first,
/// whose flags publish it.
fn used_elem(e: &UsedElem, wrap: bool, first: bool) -> ([u8; 8], usize) {
    let [l0, l1, l2, l3] = e.len.to_le_bytes();
    let [i0, i1] = e.id.to_le_bytes();
    let [f0, f1] = used_flags(wrap, e.len).to_le_bytes();
    ([l0, l1, l2, l3, i0, i1, f0, f1], if first { 6 } else { 8 })
}

impl<S: DerefMut<Target = [Desc]>> Vring<S> {
    /// Fills the batch; on error, the chains fetched before it stay in it.
    pub(crate) fn refill_packed<M: GuestMemory + ?Sized>(
        &mut self,
        guest: &M,
    ) -> Result<(), Error> {
        self.ring_win.invalidate();
        self.ind_win.invalidate();
        for _ in 0..self.batch_eff() {
            let (pos, wrap) = (self.fetch.idx, self.fetch.wrap);
            let Some(head) = self.packed_head(guest, pos, wrap)? else {
                // The guest took back what it had made available (a
                // hostile one can): nothing is known past this point any
                // more, or enable_notify() would keep finding "new" chains
                // behind a ring that no longer changes.
                self.seen = None;
                break;
            };
            match self.walk_packed(guest, pos, wrap, head) {
                Ok(slots) => {
                    let (p, w) = self.packed_advance(pos, wrap, u32::from(slots));
                    self.fetch.idx = p;
                    self.fetch.head = p;
                    self.fetch.wrap = w;
                    if let Some(seen) = self.seen {
                        if self.packed_ahead(self.fetch) >= self.packed_ahead(seen) {
                            self.seen = None;
                        }
                    }
                }
                Err(Stop::Full) => break,
                Err(Stop::Bad(e)) => return Err(e),
            }
        }
        Ok(())
    }

    /// The descriptor at `pos` if the guest made it available.
    ///
    /// Reads up to a window of descriptors, counts how many lead with the
    /// available marking, then (read barrier) reads those again: only
    /// contents read after seeing the flags are trusted, and every head in
    /// the verified part can be used without another flags read.
    fn packed_head<M: GuestMemory + ?Sized>(
        &mut self,
        guest: &M,
        pos: u16,
        wrap: bool,
    ) -> Result<Option<RawDesc>, Error> {
        let table = self.desc;
        let at = u32::from(pos);
        let n = self.ahead().min(u32::from(self.num.saturating_sub(pos)));
        let win = &mut self.ring_win;
        if !(win.lap == wrap && win.is_verified(table, at)) {
            win.load(guest, table, at, n)?;
            let mut a = 0;
            while a < n {
                match win.cached(table, at + a) {
                    Some(b) if is_avail(RawDesc::packed(b).flags, wrap) => a += 1,
                    _ => break,
                }
            }
            if a == 0 {
                win.invalidate();
                return Ok(None);
            }
            guest.rmb();
            win.load(guest, table, at, a)?;
            win.lap = wrap;
            win.verified = a;
        }
        let Some(b) = win.cached(table, at) else {
            return Ok(None);
        };
        let d = RawDesc::packed(b);
        // Flipped back between the two reads: not available after all.
        if !is_avail(d.flags, wrap) {
            win.invalidate();
            return Ok(None);
        }
        Ok(Some(d))
    }

    /// Walks the chain whose first descriptor `head` is at `pos`; returns
    /// the ring slots it took.
    fn walk_packed<M: GuestMemory + ?Sized>(
        &mut self,
        guest: &M,
        pos: u16,
        wrap: bool,
        head: RawDesc,
    ) -> Result<u16, Stop> {
        let num = self.num;
        let ahead = self.ahead();
        let table = self.desc;
        let win = &mut self.ring_win;
        let ind = &mut self.ind_win;
        let mut b = Builder::new(&mut self.store, self.end, pos);
        let (mut p, mut w) = (pos, wrap);
        let mut raw = head;
        let mut slots = 0u16;
        loop {
            if slots >= num {
                return Err(Error::DescLoop { head: pos }.into());
            }
            slots += 1;
            if raw.flags & VRING_DESC_F_INDIRECT != 0 {
                // An indirect descriptor is a chain of its own.
                if slots > 1 || raw.flags & VRING_DESC_F_NEXT != 0 {
                    return Err(Error::IndirectInChain { head: pos }.into());
                }
                indirect::expand(guest, ind, &mut b, &raw, ahead, true)?;
            } else {
                b.push(raw.addr, raw.len, raw.flags & VRING_DESC_F_WRITE != 0, true)?;
            }
            // The buffer id is in the last descriptor of the chain.
            let id = raw.tag;
            p += 1;
            if p == num {
                p = 0;
                w = !w;
            }
            if raw.flags & VRING_DESC_F_NEXT == 0 {
                self.end = b.finish(id);
                return Ok(slots);
            }
            // The rest of the chain was written before its head was made
            // available, so it needs no barrier, but must be marked for
            // this lap like the head.
            let at = u32::from(p);
            let bytes = match win.cached(table, at) {
                Some(d) if win.lap == w => d,
                _ => {
                    win.load(
                        guest,
                        table,
                        at,
                        ahead.min(u32::from(num.saturating_sub(p))),
                    )?;
                    win.lap = w;
                    win.cached(table, at).ok_or(Error::NotReady)?
                }
            };
            raw = RawDesc::packed(bytes);
            if !is_avail(raw.flags, w) {
                return Err(Error::PackedWrap { pos: p }.into());
            }
        }
    }

    /// Whether the descriptor at `pos` is available on lap `wrap`.
    pub(crate) fn packed_avail_at<M: GuestMemory + ?Sized>(
        &self,
        guest: &M,
        pos: u16,
        wrap: bool,
    ) -> Result<bool, Error> {
        let addr = guest_memory::at(self.desc, DESC_SIZE * u64::from(pos) + FLAGS_OFF)?;
        Ok(is_avail(guest_memory::read_u16(guest, addr)?, wrap))
    }

    /// Writes one used descriptor per buffered entry (one per group in
    /// order). The first one's flags go last, after a write barrier: they
    /// publish the whole batch.
    ///
    /// The used descriptors of a batch lie close together, between ring
    /// slots the device owns until then, so they are written in runs of up
    /// to [`RUN`] slots: one read of the run, the entries put in, one
    /// write back, instead of one small write per entry. Bytes the device
    /// does not set (addresses, the slots of a chain after its first) go
    /// back as read; the first entry's flags too, until they publish. A
    /// chain longer than [`SHORT`] slots ends a run: its slots are not
    /// worth a read.
    pub(crate) fn flush_packed<M: GuestMemory + ?Sized>(&mut self, guest: &M) -> Result<(), Error> {
        let n = self.used_n.min(USED_BATCH);
        if n == 0 {
            return Ok(());
        }
        let num = self.num;
        let (first_pos, first_wrap) = (self.used_idx, self.used_wrap);
        let (mut p, mut w) = (first_pos, first_wrap);
        let mut k = 0;
        let mut slots = 0u32;
        while k < n {
            // The run: entries from `k` on, as long as their used
            // descriptors lie within RUN slots of the first one's, before
            // the end of the ring (so all on lap `w`).
            let start = p;
            let room = u32::from(num.checked_sub(start).ok_or(Error::NotReady)?).min(RUN);
            let (mut q, mut v) = (p, w);
            let mut end = k;
            let mut dist = 0u32;
            while end < n && dist < room {
                let e = self.used_buf.get(end).copied().unwrap_or_default();
                slots = slots.saturating_add(e.slots);
                dist = dist.saturating_add(e.slots);
                (q, v) = packed_step(num, q, v, e.slots);
                end += 1;
                if e.slots > SHORT {
                    break;
                }
            }
            let base = guest_memory::at(self.desc, DESC_SIZE * u64::from(start))?;
            if end - k == 1 {
                let e = self.used_buf.get(k).copied().unwrap_or_default();
                let (bytes, len) = used_elem(&e, w, k == 0);
                let addr = guest_memory::at(base, LEN_OFF)?;
                guest_memory::write(guest, addr, bytes.get(..len).unwrap_or(&[]))?;
            } else {
                // Up to the last entry's descriptor.
                let mut span = 0u32;
                for e in self.used_buf.get(k..end - 1).unwrap_or(&[]) {
                    span = span.saturating_add(e.slots);
                }
                let size = (span as usize + 1) * DESC_SIZE as usize;
                let buf = self.scratch.get_mut(..size).ok_or(Error::NotReady)?;
                guest_memory::read(guest, base, buf)?;
                let mut off = 0usize;
                for (i, e) in self.used_buf.get(k..end).unwrap_or(&[]).iter().enumerate() {
                    let (bytes, len) = used_elem(e, w, k + i == 0);
                    let at = off + LEN_OFF as usize;
                    buf.get_mut(at..at + len)
                        .ok_or(Error::NotReady)?
                        .copy_from_slice(bytes.get(..len).unwrap_or(&[]));
                    off += e.slots as usize * DESC_SIZE as usize;
                }
                guest_memory::write(guest, base, buf)?;
            }
            (p, w, k) = (q, v, end);
        }
        let first = self.used_buf.first().copied().unwrap_or_default();
        let base = guest_memory::at(self.desc, DESC_SIZE * u64::from(first_pos))?;
        guest.wmb();
        guest_memory::write_u16(
            guest,
            guest_memory::at(base, FLAGS_OFF)?,
            used_flags(first_wrap, first.len),
        )?;
        self.used_idx = p;
        self.used_wrap = w;
        self.since_signal = self.since_signal.saturating_add(slots);
        Ok(())
    }

    pub(crate) fn packed_need_notify<M: GuestMemory + ?Sized>(
        &mut self,
        guest: &M,
    ) -> Result<bool, Error> {
        // Our used descriptors are visible before we read the driver's
        // suppression area.
        guest.mb();
        if self.has(VIRTIO_F_NOTIFY_ON_EMPTY)
            && self.pos >= self.end
            && !self.packed_avail_at(guest, self.fetch.idx, self.fetch.wrap)?
        {
            return Ok(true);
        }
        let mut b = [0u8; 4];
        guest_memory::read(guest, self.avail, &mut b)?;
        let [o0, o1, f0, f1] = b;
        let off_wrap = u16::from_le_bytes([o0, o1]);
        let flags = u16::from_le_bytes([f0, f1]) & 3;
        let since = self.since_signal;
        let valid = self.signalled_valid;
        self.since_signal = 0;
        self.signalled_valid = true;
        if flags == VRING_PACKED_EVENT_FLAG_DISABLE {
            return Ok(false);
        }
        // A whole ring used since the last decision: the event offset
        // cannot tell which lap it meant.
        let num = self.num;
        if flags != VRING_PACKED_EVENT_FLAG_DESC
            || !self.has(VIRTIO_RING_F_EVENT_IDX)
            || !valid
            || since >= u32::from(num)
        {
            return Ok(true);
        }
        // Positions on one line, as the guest driver computes them for
        // kicks: `old` may be "negative" when the used index wrapped, and
        // an event on the previous lap is a ring behind.
        let new = self.used_idx;
        let old = new.wrapping_sub(since as u16);
        let mut event = off_wrap & !(1 << VRING_PACKED_EVENT_F_WRAP_CTR);
        if (off_wrap >> VRING_PACKED_EVENT_F_WRAP_CTR != 0) != self.used_wrap {
            event = event.wrapping_sub(num);
        }
        Ok(need_event(event, new, old))
    }

    /// Ring slots from the consumed position to `c`, counting laps.
    pub(crate) fn packed_ahead(&self, c: Cursor) -> u32 {
        let num = u32::from(self.num);
        (c.lap_pos(self.num) + 2 * num - self.consumed.lap_pos(self.num)) % (2 * num).max(1)
    }

    pub(crate) fn packed_enable_notify<M: GuestMemory + ?Sized>(
        &mut self,
        guest: &M,
    ) -> Result<bool, Error> {
        // Chains put back are not new: ask for a kick, and look, past them.
        let at = self.seen.unwrap_or(self.fetch);
        let (off_wrap, flags) = if self.has(VIRTIO_RING_F_EVENT_IDX) {
            let wrap = u16::from(at.wrap) << VRING_PACKED_EVENT_F_WRAP_CTR;
            (at.idx | wrap, VRING_PACKED_EVENT_FLAG_DESC)
        } else {
            (0, VRING_PACKED_EVENT_FLAG_ENABLE)
        };
        let [o0, o1] = off_wrap.to_le_bytes();
        let [f0, f1] = flags.to_le_bytes();
        guest_memory::write(guest, self.used, &[o0, o1, f0, f1])?;
        // The guest may have added a chain as we did that: make the write
        // visible, then look again.
        guest.mb();
        if self.pos < self.end {
            return Ok(true);
        }
        self.packed_avail_at(guest, at.idx, at.wrap)
    }

    pub(crate) fn packed_disable_notify<M: GuestMemory + ?Sized>(
        &mut self,
        guest: &M,
    ) -> Result<(), Error> {
        let addr = guest_memory::at(self.used, 2)?;
        guest_memory::write_u16(guest, addr, VRING_PACKED_EVENT_FLAG_DISABLE)
    }
}
