// SPDX-License-Identifier: GPL-2.0

//! Notification suppression in both directions, format by format.

use core::ops::DerefMut;

use super::{
    desc::Desc,
    error::Error,
    guest_memory::GuestMemory,
    vring::Vring, //
};

impl<S: DerefMut<Target = [Desc]>> Vring<S> {
    /// Whether no chain is available (`vhost_vq_avail_empty()`).
    pub fn is_empty<M: GuestMemory + ?Sized>(&mut self, guest: &M) -> Result<bool, Error> {
        if self.pos < self.end {
            return Ok(false);
        }
        if self.packed() {
            Ok(!self.packed_avail_at(guest, self.fetch.idx, self.fetch.wrap)?)
        } else {
            if self.avail_idx != self.consumed.idx {
                return Ok(false);
            }
            self.read_avail_idx(guest)?;
            Ok(self.avail_idx == self.consumed.idx)
        }
    }

    /// Whether the guest must be interrupted after [`Vring::flush_used`]
    /// (`vhost_notify()`). On error, interrupt it anyway and report.
    pub fn need_notify<M: GuestMemory + ?Sized>(&mut self, guest: &M) -> Result<bool, Error> {
        if self.num == 0 {
            return Err(Error::NotReady);
        }
        self.undecided = false;
        if self.packed() {
            self.packed_need_notify(guest)
        } else {
            self.split_need_notify(guest)
        }
    }

    /// Asks the guest to kick again (`vhost_enable_notify()`), then checks
    /// the ring once more: `Ok(true)` means chains arrived meanwhile and
    /// the caller should disable notifications and keep going.
    pub fn enable_notify<M: GuestMemory + ?Sized>(&mut self, guest: &M) -> Result<bool, Error> {
        if self.num == 0 {
            return Err(Error::NotReady);
        }
        if !self.no_notify {
            return Ok(false);
        }
        self.no_notify = false;
        if self.packed() {
            self.packed_enable_notify(guest)
        } else {
            self.split_enable_notify(guest)
        }
    }

    /// Tells the guest not to kick (`vhost_disable_notify()`).
    pub fn disable_notify<M: GuestMemory + ?Sized>(&mut self, guest: &M) -> Result<(), Error> {
        if self.num == 0 {
            return Err(Error::NotReady);
        }
        if self.no_notify {
            return Ok(());
        }
        self.no_notify = true;
        if self.packed() {
            self.packed_disable_notify(guest)
        } else {
            self.split_disable_notify(guest)
        }
    }
}
