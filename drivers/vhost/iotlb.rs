// SPDX-License-Identifier: GPL-2.0

//! The device IOTLB (`VIRTIO_F_ACCESS_PLATFORM`): translations userspace
//! writes to the device fd, and the misses the device reads back
//! (drivers/vhost/vhost.c: `vhost_chr_read_iter()`,
//! `vhost_chr_write_iter()`, `vhost_chr_poll()`, `vhost_iotlb_miss()`,
//! `vhost_process_iotlb_msg()`). The message format and table logic are
//! `addr_space`'s; this is the kernel's view.

use crate::{
    addr_space::{
        self,
        Kind, //
    },
    dev::Dev,
    rvhost::{
        bindings as b,
        errno,
        params,
        user, //
    },
    umem::{
        kernel_error,
        Slots, //
    },
    vq::QueueData,
};
use kernel::{
    alloc::KVVec,
    fs::File,
    iov::{
        IovIterDest,
        IovIterSource, //
    },
    prelude::*,
    sync::{
        poll::PollTable,
        MutexGuard, //
    },
};

/// `VHOST_ACCESS_RO`, `VHOST_ACCESS_WO`.
pub(crate) use crate::addr_space::{
    VHOST_ACCESS_RO as ACCESS_RO,
    VHOST_ACCESS_WO as ACCESS_WO, //
};

/// The device IOTLB: a `addr_space::Iotlb` that reports holes as misses.
pub(crate) struct Iotlb {
    map: addr_space::Iotlb<Slots>,
    /// Counts changes, so that queues know when the ring translations
    /// they cached are stale (C resets every `vq->meta_iotlb[]` instead).
    generation: u64,
}

impl Iotlb {
    /// `iotlb_alloc()`: at most `limit` entries, the oldest retired.
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            map: addr_space::Iotlb::new(Slots::new(), Kind::Iotlb, limit as u32),
            generation: 0,
        }
    }

    /// The table, for the functions of `addr_space`.
    pub(crate) fn map(&self) -> &addr_space::Iotlb<Slots> {
        &self.map
    }

    /// The table, for `addr_space::process_iotlb_msg()`: whatever it does
    /// invalidates the cached ring translations (C's
    /// `vhost_vq_meta_reset()` on update and invalidate).
    pub(crate) fn map_mut(&mut self) -> &mut addr_space::Iotlb<Slots> {
        self.generation = self.generation.wrapping_add(1);
        &mut self.map
    }

    /// How many times the table may have changed.
    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }
}

/// A miss waiting for its update, and the queue to run again then.
#[derive(Clone, Copy)]
pub(crate) struct Pending {
    pub(crate) iova: u64,
    pub(crate) vq: usize,
}

/// The device IOTLB, as the device holds it.
pub(crate) struct Tlb {
    /// Present while `VIRTIO_F_ACCESS_PLATFORM` is acked (`dev->iotlb`).
    pub(crate) iotlb: Option<Iotlb>,
}

/// The IOTLB messages to and from userspace.
pub(crate) struct Msgs {
    /// Whether there is an IOTLB to take misses for.
    enabled: bool,
    /// Messages for `read()` (`dev->read_list`), with the miss each is.
    read: KVVec<([u8; addr_space::MSG_SIZE], Pending)>,
    /// Misses read by userspace and not answered yet (`dev->pending_list`):
    /// only these are resumed by an update.
    pending: KVVec<Pending>,
    /// `VHOST_BACKEND_F_IOTLB_MSG_V2` acked: misses are `vhost_msg_v2`.
    v2: bool,
}

impl Msgs {
    /// No IOTLB, no messages.
    pub(crate) const fn new() -> Self {
        Self {
            enabled: false,
            read: KVVec::new(),
            pending: KVVec::new(),
            v2: false,
        }
    }

    /// `vhost_clear_msg()`.
    fn clear(&mut self) {
        self.read.clear();
        self.pending.clear();
    }
}

impl<D: QueueData> Dev<D> {
    /// `vhost_init_device_iotlb()`: a new, empty IOTLB each time.
    pub(crate) fn init_iotlb(&self) -> Result {
        let limit = params::max_iotlb_entries();
        if limit <= 0 {
            return Err(EFAULT);
        }
        self.tlb.lock().iotlb = Some(Iotlb::new(limit as usize));
        self.msgs.lock().enabled = true;
        Ok(())
    }

    /// `vhost_clear_device_iotlb()`.
    pub(crate) fn clear_iotlb(&self) {
        if self.tlb.lock().iotlb.take().is_some() {
            let mut msgs = self.msgs.lock();
            msgs.enabled = false;
            msgs.clear();
            drop(msgs);
            self.wait.notify_all();
        }
    }

    /// `vhost_clear_msg()`.
    pub(crate) fn clear_msgs(&self) {
        self.msgs.lock().clear();
    }

    /// The IOTLB, for translating.
    pub(crate) fn lock_tlb(&self) -> MutexGuard<'_, Tlb> {
        self.tlb.lock()
    }

    /// `vhost_iotlb_miss()`: tells userspace that queue `vq` needs a
    /// translation for `iova`; the queue runs again when it comes.
    pub(crate) fn report_miss(&self, vq: usize, iova: u64, perm: u8) {
        let mut tlb = self.msgs.lock();
        if !tlb.enabled {
            return;
        }
        let m = addr_space::encode_miss(tlb.v2, iova, perm);
        // Room on the pending list for every miss userspace may read, so
        // that read() need not allocate after taking the message.
        let room = tlb.read.len() + 1;
        if tlb.pending.reserve(room, GFP_KERNEL).is_err()
            || tlb
                .read
                .push((m, Pending { iova, vq }), GFP_KERNEL)
                .is_err()
        {
            return;
        }
        drop(tlb);
        self.wait.notify_all();
    }

    /// `vhost_process_iotlb_msg()`; an update runs the queues that missed
    /// in its range (`vhost_iotlb_notify_vq()`).
    fn process_msg(&self, w: &addr_space::WriteMsg) -> Result {
        let _inner = self.lock();
        let mut table = self.tlb.lock();
        let map = table.iotlb.as_mut().map(Iotlb::map_mut);
        let out = addr_space::process_iotlb_msg(map, w.asid, &w.msg, &user::access_ok);
        drop(table);
        out.result.map_err(kernel_error)?;
        if out.notify {
            self.msgs.lock().pending.retain(|p| {
                let resolved = addr_space::resolves_miss(&w.msg, p.iova);
                if resolved {
                    self.requeue(1 << p.vq);
                }
                !resolved
            });
        }
        Ok(())
    }

    /// `read()`: the next queued IOTLB message (`vhost_chr_read_iter()`).
    /// Without an IOTLB a blocking reader gets `EBADFD`.
    pub(crate) fn read(&self, iov: &mut IovIterDest<'_>, nonblock: bool) -> Result<usize> {
        if iov.len() < addr_space::MSG_SIZE {
            return Ok(0);
        }
        let mut tlb = self.msgs.lock();
        let (msg, miss) = loop {
            if !tlb.read.is_empty() {
                break tlb.read.remove(0)?;
            }
            if nonblock {
                return Err(EAGAIN);
            }
            if !tlb.enabled {
                return Err(errno::ebadfd());
            }
            if self.wait.wait_interruptible(&mut tlb) {
                return Err(ERESTARTSYS);
            }
        };
        drop(tlb);
        let n = iov.copy_to_iter(&msg);
        // A miss read whole waits for its update; one that could not be
        // copied is dropped (`vhost_chr_read_iter()`).
        if n == msg.len() {
            let mut tlb = self.msgs.lock();
            // Unless the IOTLB went away meanwhile, taking its misses. The
            // room was reserved with the message: the push cannot fail,
            // and if it did, the queue would go on at its next kick.
            if tlb.enabled && tlb.pending.push_within_capacity(miss).is_err() {
                pr_debug!("rvhost: no room for a pending IOTLB miss\n");
            }
        }
        Ok(n)
    }

    /// `write()`: an IOTLB message (`vhost_chr_write_iter()`). Net and vsock
    /// do not offer `VHOST_BACKEND_F_IOTLB_ASID`.
    pub(crate) fn write(&self, iov: &mut IovIterSource<'_>) -> Result<usize> {
        // C copies the type, skips a word and copies the 32-byte message.
        let mut buf = [0u8; 40];
        let n = iov.copy_from_iter(&mut buf);
        let w = addr_space::parse_write(&buf[..n], false).map_err(kernel_error)?;
        self.process_msg(&w).map_err(|_| EFAULT)?;
        Ok(addr_space::MSG_SIZE)
    }

    /// `poll()`: readable while IOTLB messages are queued.
    pub(crate) fn poll(&self, file: &File, table: &PollTable<'_>) -> u32 {
        table.register_wait(file, &self.wait);
        if self.msgs.lock().read.is_empty() {
            0
        } else {
            b::EPOLLIN | b::EPOLLRDNORM
        }
    }

    /// `VHOST_SET_BACKEND_FEATURES`: whether misses are `vhost_msg_v2`.
    pub(crate) fn set_iotlb_msg_v2(&self, v2: bool) {
        self.msgs.lock().v2 = v2;
    }

    /// The IOTLB part of `vhost_dev_cleanup()`: the table and every
    /// message go, and the message version is forgotten. The caller wakes
    /// the readers.
    pub(crate) fn cleanup_iotlb(&self) {
        self.tlb.lock().iotlb = None;
        let mut msgs = self.msgs.lock();
        msgs.enabled = false;
        msgs.v2 = false;
        msgs.clear();
    }
}
