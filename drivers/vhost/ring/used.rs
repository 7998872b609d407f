// SPDX-License-Identifier: GPL-2.0

//! Used entries, buffered until [`Vring::flush_used`] publishes them.

use core::ops::DerefMut;

use super::{
    desc::Desc,
    error::Error,
    guest_memory::GuestMemory,
    layout::VIRTIO_F_IN_ORDER,
    vring::Vring, //
};

/// What identifies a chain to the used ring.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Head {
    /// Head index (split) or buffer id (packed).
    pub id: u16,
    /// Ring slots the chain took: the packed used index and the in-order
    /// head move by this much.
    pub ndescs: u16,
}

/// A used entry waiting for the next flush.
///
/// With `VIRTIO_F_IN_ORDER` one entry stands for a group of chains used in
/// order: it carries the last chain's id and length, and is written where
/// the group's first chain would have been (`vhost_add_used_n_in_order()`).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct UsedElem {
    pub(crate) id: u16,
    /// Chains in the group (1 unless in order): the split used index moves
    /// by this much.
    pub(crate) chains: u16,
    pub(crate) len: u32,
    /// Ring slots the group took: the packed used position moves by this
    /// much.
    pub(crate) slots: u32,
}

/// Used entries buffered before one flush.
pub(crate) const USED_BATCH: usize = 64;

impl<S: DerefMut<Target = [Desc]>> Vring<S> {
    /// Marks a chain used, `len` bytes written. Buffered: the guest sees it
    /// after [`Vring::flush_used`] (called here when the buffer is full).
    ///
    /// With `VIRTIO_F_IN_ORDER`, chains must be used in the order they were
    /// fetched; they join the open group, which becomes one used entry (see
    /// [`Vring::end_used_group`]).
    pub fn add_used<M: GuestMemory + ?Sized>(
        &mut self,
        guest: &M,
        head: Head,
        len: u32,
    ) -> Result<(), Error> {
        if self.num == 0 {
            return Err(Error::NotReady);
        }
        let ok = if self.packed() {
            head.ndescs != 0 && head.ndescs <= self.num
        } else {
            head.id < self.num
        };
        if !ok {
            return Err(Error::BadHead {
                id: head.id,
                ndescs: head.ndescs,
            });
        }
        if self.has(VIRTIO_F_IN_ORDER) && self.group_open && self.used_n > 0 {
            if let Some(g) = self.used_buf.get_mut(self.used_n - 1) {
                g.id = head.id;
                g.len = len;
                g.chains = g.chains.wrapping_add(1);
                g.slots = g.slots.wrapping_add(u32::from(head.ndescs));
            }
            self.used_chains = self.used_chains.wrapping_add(1);
            // The guest cannot have more than a ring of buffers out, so a
            // longer group would only wrap the counts: publish first.
            if self.used_chains >= u32::from(self.num) {
                return self.flush_used(guest);
            }
            return Ok(());
        }
        if self.used_n >= USED_BATCH {
            self.flush_used(guest)?;
        }
        if let Some(slot) = self.used_buf.get_mut(self.used_n) {
            *slot = UsedElem {
                id: head.id,
                chains: 1,
                len,
                slots: u32::from(head.ndescs),
            };
            self.used_n += 1;
            self.used_chains = self.used_chains.wrapping_add(1);
        }
        self.group_open = true;
        Ok(())
    }

    /// In order: the chains used since the last group end become one used
    /// entry; the next chain starts a new group. C's vhost-net ends one per
    /// received packet and one per 64 transmitted chains. Without
    /// `VIRTIO_F_IN_ORDER` every chain is its own entry anyway.
    pub fn end_used_group(&mut self) {
        self.group_open = false;
    }

    /// Writes the buffered used entries and publishes them to the guest
    /// with one index (split) or flags (packed) update.
    ///
    /// On failure the buffered entries are dropped and the used index does
    /// not move, as in `vhost_add_used_n()`.
    pub fn flush_used<M: GuestMemory + ?Sized>(&mut self, guest: &M) -> Result<(), Error> {
        if self.num == 0 {
            return Err(Error::NotReady);
        }
        let r = if self.packed() {
            self.flush_packed(guest)
        } else {
            self.flush_split(guest)
        };
        if r.is_ok() && self.used_n > 0 {
            self.undecided = true;
        }
        self.drop_used();
        r
    }

    /// Forgets the buffered used entries.
    pub(crate) fn drop_used(&mut self) {
        self.used_n = 0;
        self.used_chains = 0;
        self.group_open = false;
    }

    /// Number of chains used and waiting for [`Vring::flush_used`].
    pub fn used_pending(&self) -> usize {
        self.used_chains as usize
    }

    /// Whether used entries were published (by [`Vring::flush_used`],
    /// which [`Vring::add_used`] also calls when its buffer is full) since
    /// the last [`Vring::need_notify`]: the guest may not have heard of
    /// them.
    pub fn used_undecided(&self) -> bool {
        self.undecided
    }
}
