// SPDX-License-Identifier: GPL-2.0

//! Chains: what the iterator hands out, and how refills build them.

use super::{
    desc::Desc,
    error::Error,
    used::Head,
    vring::Mark, //
};

/// One descriptor chain, ready to be translated and used.
///
/// Borrowed from the queue's descriptor storage: translate the segments,
/// keep [`Chain::head`], and drop the chain before calling
/// [`Vring::add_used`](super::Vring::add_used).
#[derive(Debug)]
pub struct Chain<'a> {
    pub(crate) head: Head,
    pub(crate) start: Mark,
    pub(crate) descs: &'a [Desc],
    pub(crate) readable: usize,
    pub(crate) readable_len: u64,
    pub(crate) writable_len: u64,
}

impl<'a> Chain<'a> {
    /// What to give back to [`Vring::add_used`](super::Vring::add_used).
    pub fn head(&self) -> Head {
        self.head
    }

    /// Position of the queue before this chain, to put it back with
    /// [`Vring::rewind`](super::Vring::rewind).
    pub fn start(&self) -> Mark {
        self.start
    }

    /// All segments, readable ones first.
    pub fn descs(&self) -> &'a [Desc] {
        self.descs
    }

    /// Device-readable segments (the driver's "out" buffers).
    pub fn readable(&self) -> &'a [Desc] {
        self.descs.get(..self.readable).unwrap_or(&[])
    }

    /// Device-writable segments (the driver's "in" buffers).
    pub fn writable(&self) -> &'a [Desc] {
        self.descs.get(self.readable..).unwrap_or(&[])
    }

    /// Total length of the readable segments.
    pub fn readable_len(&self) -> u64 {
        self.readable_len
    }

    /// Total length of the writable segments.
    pub fn writable_len(&self) -> u64 {
        self.writable_len
    }
}

/// Why a chain walk stopped early.
pub(crate) enum Stop {
    /// The chain does not fit behind the chains already in the storage; it
    /// stays in the ring for the next refill.
    Full,
    /// The chain is bad.
    Bad(Error),
}

impl From<Error> for Stop {
    fn from(e: Error) -> Self {
        Self::Bad(e)
    }
}

/// Appends one chain to the descriptor storage, checking it on the way.
pub(crate) struct Builder<'s> {
    store: &'s mut [Desc],
    start: usize,
    end: usize,
    head: u16,
    seen_write: bool,
}

impl<'s> Builder<'s> {
    pub(crate) fn new(store: &'s mut [Desc], start: usize, head: u16) -> Self {
        Self {
            store,
            start,
            end: start,
            head,
            seen_write: false,
        }
    }

    pub(crate) fn head(&self) -> u16 {
        self.head
    }

    /// Adds a buffer. `slot` marks the ones that took a ring slot.
    pub(crate) fn push(
        &mut self,
        addr: u64,
        len: u32,
        write: bool,
        slot: bool,
    ) -> Result<(), Stop> {
        if len != 0 && addr.checked_add(u64::from(len) - 1).is_none() {
            return Err(Stop::Bad(Error::AddrOverflow { addr, len }));
        }
        // C counts pieces, not descriptors (`vhost_get_vq_desc()`'s
        // in_num): an empty writable buffer before any other is no "in",
        // and a readable one may follow it. Stored as readable, it keeps
        // a chain's readable-first order and changes nothing else: it
        // makes no piece either way.
        let write = write && (len != 0 || self.seen_write);
        if write {
            self.seen_write = true;
        } else if self.seen_write {
            return Err(Stop::Bad(Error::ReadAfterWrite { head: self.head }));
        }
        let max = self.store.len();
        let Some(d) = self.store.get_mut(self.end) else {
            // Alone in the storage and still too long: it never fits.
            return Err(if self.start == 0 {
                Stop::Bad(Error::ChainTooLong {
                    head: self.head,
                    max,
                })
            } else {
                Stop::Full
            });
        };
        let mut flags = Desc::F_NEXT;
        if write {
            flags |= Desc::F_WRITE;
        }
        if slot {
            flags |= Desc::F_SLOT;
        }
        *d = Desc {
            addr,
            len,
            flags,
            id: 0,
        };
        self.end += 1;
        Ok(())
    }

    /// Ends the chain and returns the new end of the storage.
    pub(crate) fn finish(self, id: u16) -> usize {
        if let Some(chain) = self.store.get_mut(self.start..self.end) {
            for d in chain.iter_mut() {
                d.id = id;
            }
            if let Some(last) = chain.last_mut() {
                last.flags &= !Desc::F_NEXT;
            }
        }
        self.end
    }
}
