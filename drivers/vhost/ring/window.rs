// SPDX-License-Identifier: GPL-2.0

//! A few consecutive descriptors of a table, read with one copy.
//!
//! Used for indirect tables, the packed ring and the in-order split table,
//! where the descriptors of the next chains follow each other in memory.
//! A window is only valid within one refill: descriptors are reused by the
//! guest once used, so nothing read before the last avail index read (and
//! its read barrier) may be trusted for a chain published after it.

use super::{
    error::Error,
    guest_memory::{
        self,
        GuestMemory,
        Space, //
    },
    layout::DESC_SIZE,
};

/// Descriptors one window holds.
pub(crate) const WINDOW: usize = 16;

const BYTES: usize = WINDOW * DESC_SIZE as usize;

pub(crate) struct Window {
    /// Where `table` lives: the ring or guest memory (indirect tables).
    space: Space,
    /// Guest address of the table (or ring) the window is a part of.
    table: u64,
    /// Table index of `buf[0]`.
    first: u32,
    /// Number of descriptors held; 0 when invalid.
    len: u32,
    /// Packed: the wrap counter the window's positions belong to.
    pub(crate) lap: bool,
    /// Packed: how many leading descriptors were seen available before the
    /// read barrier, and so may be used as chain heads.
    pub(crate) verified: u32,
    buf: [u8; BYTES],
}

impl Window {
    pub(crate) const fn new(space: Space) -> Self {
        Self {
            space,
            table: 0,
            first: 0,
            len: 0,
            lap: false,
            verified: 0,
            buf: [0; BYTES],
        }
    }

    pub(crate) fn invalidate(&mut self) {
        self.len = 0;
        self.verified = 0;
    }

    /// The descriptor at `idx` of `table`, if the window holds it.
    pub(crate) fn cached(&self, table: u64, idx: u32) -> Option<[u8; 16]> {
        if self.len == 0 || self.table != table || idx < self.first {
            return None;
        }
        let rel = idx - self.first;
        if rel >= self.len {
            return None;
        }
        self.entry(rel)
    }

    /// Whether `idx` is among the verified descriptors of `table`.
    pub(crate) fn is_verified(&self, table: u64, idx: u32) -> bool {
        self.len != 0
            && self.table == table
            && idx >= self.first
            && idx - self.first < self.verified
    }

    fn entry(&self, rel: u32) -> Option<[u8; 16]> {
        let off = (rel as usize).checked_mul(DESC_SIZE as usize)?;
        let bytes = self.buf.get(off..off.checked_add(DESC_SIZE as usize)?)?;
        bytes.try_into().ok()
    }

    /// Reads `n` descriptors (clamped to `1..=WINDOW`) of `table` from `idx`.
    pub(crate) fn load<M: GuestMemory + ?Sized>(
        &mut self,
        guest: &M,
        table: u64,
        idx: u32,
        n: u32,
    ) -> Result<(), Error> {
        let n = n.clamp(1, WINDOW as u32);
        self.invalidate();
        let addr = guest_memory::at(table, u64::from(idx) * DESC_SIZE)?;
        let bytes = (n as usize) * DESC_SIZE as usize;
        let buf = self.buf.get_mut(..bytes).ok_or(Error::NotReady)?;
        guest_memory::read_in(guest, self.space, addr, buf)?;
        self.table = table;
        self.first = idx;
        self.len = n;
        Ok(())
    }

    /// The descriptor at `idx`, read with the window `start..start + n`
    /// (clamped to [`WINDOW`]) if the window does not hold it yet, or alone
    /// if that window would not hold it.
    pub(crate) fn get_from<M: GuestMemory + ?Sized>(
        &mut self,
        guest: &M,
        table: u64,
        idx: u32,
        start: u32,
        n: u32,
    ) -> Result<[u8; 16], Error> {
        if let Some(d) = self.cached(table, idx) {
            return Ok(d);
        }
        let n = n.min(WINDOW as u32);
        if idx < start || idx - start >= n {
            return self.get_from(guest, table, idx, idx, 1);
        }
        if let Err(e) = self.load(guest, table, start, n) {
            // In the ring, descriptors the chain does not need may be
            // unreadable (the VMM's doing: a guest cannot make its table
            // so), and C reads only those it walks: read this one alone.
            // A window in guest memory never leaves its indirect table,
            // all of which C translates before reading any of it: there
            // the error stands.
            if n <= 1 || self.space != Space::Ring {
                return Err(e);
            }
            self.load(guest, table, idx, 1)?;
        }
        self.cached(table, idx).ok_or(Error::NotReady)
    }

    /// The descriptor at `idx`, read with up to `n` following ones if the
    /// window does not hold it yet.
    pub(crate) fn get<M: GuestMemory + ?Sized>(
        &mut self,
        guest: &M,
        table: u64,
        idx: u32,
        n: u32,
    ) -> Result<[u8; 16], Error> {
        self.get_from(guest, table, idx, idx, n.max(1))
    }
}
