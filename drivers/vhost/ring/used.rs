// SPDX-License-Identifier: GPL-2.0

//! Used entries, buffered until [`Vring::flush_used`] publishes them.

use core::ops::DerefMut;

use super::{
    desc::Desc,
    error::Error,
    layout::VIRTIO_F_IN_ORDER,
    mem::GuestMemory,
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
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct UsedElem {
    pub(crate) id: u16,
    pub(crate) ndescs: u16,
    pub(crate) len: u32,
}

/// Used entries buffered before one flush.
pub(crate) const USED_BATCH: usize = 64;

/// In-order: a batch is one used entry, for its last chain.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct InOrderUsed {
    /// Chains in the batch.
    pub(crate) count: u16,
    /// Ring slots they took.
    pub(crate) slots: u32,
    /// The last chain and its length.
    pub(crate) last: UsedElem,
}

impl<S: DerefMut<Target = [Desc]>> Vring<S> {
    /// Marks a chain used, `len` bytes written. Buffered: the guest sees it
    /// after [`Vring::flush_used`] (called here when the buffer is full).
    ///
    /// With `VIRTIO_F_IN_ORDER`, chains must be used in the order they were
    /// fetched; the whole batch becomes one used entry.
    pub fn add_used<M: GuestMemory + ?Sized>(
        &mut self,
        mem: &M,
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
        let elem = UsedElem {
            id: head.id,
            ndescs: head.ndescs,
            len,
        };
        if self.has(VIRTIO_F_IN_ORDER) {
            let io = &mut self.in_order;
            io.count = io.count.wrapping_add(1);
            io.slots = io.slots.wrapping_add(u32::from(head.ndescs));
            io.last = elem;
            // The guest cannot have more than a ring of buffers out, so a
            // longer batch would only wrap the counts: publish first.
            if io.count >= self.num {
                return self.flush_used(mem);
            }
            return Ok(());
        }
        if self.used_n >= USED_BATCH {
            self.flush_used(mem)?;
        }
        if let Some(slot) = self.used_buf.get_mut(self.used_n) {
            *slot = elem;
            self.used_n += 1;
        }
        Ok(())
    }

    /// Writes the buffered used entries and publishes them to the guest
    /// with one index (split) or flags (packed) update.
    ///
    /// On failure the buffered entries are dropped and the used index does
    /// not move, as in `vhost_add_used_n()`.
    pub fn flush_used<M: GuestMemory + ?Sized>(&mut self, mem: &M) -> Result<(), Error> {
        if self.num == 0 {
            return Err(Error::NotReady);
        }
        let r = if self.packed() {
            self.flush_packed(mem)
        } else {
            self.flush_split(mem)
        };
        self.used_n = 0;
        self.in_order = InOrderUsed::default();
        r
    }

    /// Number of used entries waiting for [`Vring::flush_used`].
    pub fn used_pending(&self) -> usize {
        if self.has(VIRTIO_F_IN_ORDER) {
            usize::from(self.in_order.count)
        } else {
            self.used_n
        }
    }
}
