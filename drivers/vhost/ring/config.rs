// SPDX-License-Identifier: GPL-2.0

//! Configuration: what the vring ioctls and backend changes do to a queue.

use core::ops::DerefMut;

use super::{
    desc::Desc,
    error::Error,
    guest_memory::GuestMemory,
    layout::{
        MAX_RING_SIZE,
        VIRTIO_F_RING_PACKED, //
    },
    vring::{
        Cursor,
        Vring, //
    },
};

impl<S: DerefMut<Target = [Desc]>> Vring<S> {
    /// Drops all ring-dependent state, what the guest made available
    /// included, and stales every [`Mark`].
    pub(crate) fn invalidate(&mut self) {
        self.drop_batch();
        self.avail_idx = self.consumed.idx;
        self.seen = None;
        self.gen = self.gen.wrapping_add(1);
    }

    fn check_num(&self, num: u32) -> Result<(), Error> {
        let pow2 = num.is_power_of_two();
        if num == 0 || num > MAX_RING_SIZE || (!self.packed() && !pow2) {
            return Err(Error::BadNum { num });
        }
        Ok(())
    }

    /// `VHOST_SET_VRING_NUM`. Split rings must be a power of two. The ring
    /// must be started again afterwards.
    pub fn set_num(&mut self, num: u32) -> Result<(), Error> {
        self.check_num(num)?;
        self.num = num as u16;
        // Positions were checked against the old size: start again.
        self.ready = false;
        self.invalidate();
        Ok(())
    }

    /// `VHOST_SET_VRING_ADDR`: descriptor table, avail ring (packed: driver
    /// area) and used ring (packed: device area), alignment checked as C.
    pub fn set_addr(&mut self, desc: u64, avail: u64, used: u64) -> Result<(), Error> {
        if avail & 1 != 0 {
            return Err(Error::BadAddr { addr: avail });
        }
        if used & 3 != 0 {
            return Err(Error::BadAddr { addr: used });
        }
        self.desc = desc;
        self.avail = avail;
        self.used = used;
        self.invalidate();
        Ok(())
    }

    /// `vhost_vq_invalidate_access()`: the ring areas are forgotten until
    /// new ones are set; a queue without them does not run.
    pub fn forget_addr(&mut self) {
        self.desc = 0;
        self.avail = 0;
        self.used = 0;
        self.invalidate();
    }

    /// `VHOST_SET_FEATURES`: the negotiated virtio features. The ring must
    /// be started again afterwards.
    pub fn set_features(&mut self, features: u64) {
        self.features = features;
        // The ring format may have changed: start again.
        self.ready = false;
        self.invalidate();
    }

    /// New features for a running queue, which C's handlers read at each
    /// use (`vhost_net_set_features()` changes them in place): what was
    /// fetched is fetched again under them, positions stay. A change of
    /// ring format cannot apply to a ring in use: the queue then waits for
    /// its next start.
    pub fn update_features(&mut self, features: u64) {
        let format = (features ^ self.features) & (1u64 << VIRTIO_F_RING_PACKED) != 0;
        self.features = features;
        if format {
            self.ready = false;
        }
        self.invalidate();
    }

    /// Chains per refill; clamped to `1..=num` when used.
    pub fn set_batch(&mut self, batch: u16) {
        self.batch = batch;
    }

    /// `VHOST_SET_VRING_BASE`. Split: the avail index, at most `0xffff`.
    /// Packed: avail position and wrap counter in bits 0..16, used position
    /// and wrap counter in bits 16..32 (bit 15 of each half is the counter).
    ///
    /// Everything fetched from the old ring is dropped: batched descriptors
    /// surviving this is what corrupted the RFC's queues.
    pub fn set_base(&mut self, base: u32) -> Result<(), Error> {
        if self.packed() {
            let avail = (base & 0x7fff) as u16;
            let used = ((base >> 16) & 0x7fff) as u16;
            if self.num != 0 && (avail >= self.num || used >= self.num) {
                return Err(Error::BadBase { base });
            }
            self.consumed = Cursor {
                idx: avail,
                head: avail,
                wrap: base & 0x8000 != 0,
            };
            self.used_idx = used;
            self.used_wrap = base & 0x8000_0000 != 0;
        } else {
            if base > 0xffff {
                return Err(Error::BadBase { base });
            }
            let idx = base as u16;
            // C sets next_avail_head to the base, which is only right if
            // every chain was one descriptor: keep ours across a GET/SET
            // round trip of the same position.
            let head = if idx == self.consumed.idx {
                self.consumed.head
            } else {
                idx
            };
            self.consumed = Cursor {
                idx,
                head,
                wrap: true,
            };
        }
        self.drop_used();
        self.signalled_valid = false;
        self.undecided = false;
        self.invalidate();
        Ok(())
    }

    /// `VHOST_GET_VRING_BASE`: where the device is, counting only chains
    /// handed out (batched ones go back to the guest's ring).
    pub fn get_base(&self) -> u32 {
        if self.packed() {
            let avail = u32::from(self.consumed.idx) | (u32::from(self.consumed.wrap) << 15);
            let used = u32::from(self.used_idx) | (u32::from(self.used_wrap) << 15);
            avail | (used << 16)
        } else {
            u32::from(self.consumed.idx)
        }
    }

    /// The backend is set (`vhost_vq_init_access()`): checks the ring, drops
    /// stale state and, for split rings, writes the used flags and reads the
    /// used index back from the guest.
    pub fn start<M: GuestMemory + ?Sized>(&mut self, guest: &M) -> Result<(), Error> {
        self.ready = false;
        self.check_num(u32::from(self.num))?;
        self.invalidate();
        self.signalled_valid = false;
        self.undecided = false;
        if self.packed() {
            if self.avail & 3 != 0 {
                return Err(Error::BadAddr { addr: self.avail });
            }
            // SET_VRING_BASE may have come before SET_VRING_NUM.
            if self.consumed.idx >= self.num || self.used_idx >= self.num {
                return Err(Error::BadBase {
                    base: self.get_base(),
                });
            }
        } else {
            self.write_used_flags(guest)?;
            self.used_idx = self.read_used_idx(guest).map_err(|e| match e {
                Error::Translation { addr, fault } => Error::UsedIdx { addr, fault },
                e => e,
            })?;
        }
        self.ready = true;
        Ok(())
    }

    /// Undoes [`Vring::stop`] for a backend that stays (its replacement
    /// failed to start; C never stopped it): the ring runs on from where
    /// it stopped, the guest's memory not touched again. Only right with
    /// no configuration change since the stop.
    pub fn resume(&mut self) {
        self.ready = true;
    }

    /// The backend is going away: publishes what was used, then drops the
    /// batch, so that [`Vring::get_base`] and the next start agree with
    /// the guest.
    pub fn stop<M: GuestMemory + ?Sized>(&mut self, guest: &M) -> Result<(), Error> {
        let r = if self.num != 0 {
            self.flush_used(guest)
        } else {
            Ok(())
        };
        self.ready = false;
        self.invalidate();
        r
    }

    /// Ring reset (`vhost_vq_reset()`): back to a queue with no ring.
    pub fn reset(&mut self) {
        self.num = 0;
        self.desc = 0;
        self.avail = 0;
        self.used = 0;
        self.features = 0;
        self.ready = false;
        self.consumed = Cursor::INIT;
        self.used_idx = 0;
        self.used_wrap = true;
        self.signalled_used = 0;
        self.since_signal = 0;
        self.signalled_valid = false;
        self.undecided = false;
        self.no_notify = false;
        self.drop_used();
        self.invalidate();
    }

    /// Replaces the descriptor storage, returning the old one.
    pub fn replace_storage(&mut self, store: S) -> S {
        self.invalidate();
        core::mem::replace(&mut self.store, store)
    }
}
