// SPDX-License-Identifier: GPL-2.0

//! One virtqueue: what `struct vhost_virtqueue` holds, and the vring ioctls
//! (drivers/vhost/vhost.c: `vhost_vring_ioctl()`).
//!
//! Userspace configures a queue field by field; the ring layer's [`Vring`]
//! is only loaded with that configuration when a backend starts the queue
//! ([`Vq::start`]), so ioctl answers never depend on what the ring layer
//! would accept, only on what C accepts.

use crate::{
    features::WORDS,
    guest::{
        Guest,
        Log, //
    },
    iotlb::Iotlb,
    umem::Table,
    ring::{
        self,
        Desc,
        Vring, //
    },
    rvhost::{
        eventfd::{
            EventFd,
            EventFile, //
        },
        errno,
        user,
    },
};
use kernel::{
    alloc::KVVec,
    prelude::*,
    sync::Arc,
};

/// `VIRTIO_F_RING_PACKED`.
const RING_PACKED: u32 = 34;
/// `VIRTIO_RING_F_EVENT_IDX`.
const EVENT_IDX: u32 = 29;
/// `VHOST_F_LOG_ALL`.
pub(crate) const LOG_ALL: u32 = 26;
/// `VHOST_VRING_F_LOG`.
pub(crate) const VRING_F_LOG: u32 = 0;
/// `VHOST_PAGE_SIZE`: granularity of the dirty log.
pub(crate) const LOG_PAGE: u64 = 0x1000;

/// The ring layer's queue, as the kernel instantiates it.
pub(crate) type Ring = Vring<KVVec<Desc>>;

/// What a device keeps per queue besides the common state: its backend.
pub(crate) trait QueueData: Sized + Unpin {
    /// Whether a backend is attached (C's `vq->private_data != NULL`).
    fn has_backend(&self) -> bool;
}

/// One virtqueue.
pub(crate) struct Vq<D> {
    /// Ring layer state; valid while a backend runs the queue.
    pub(crate) ring: Ring,
    /// `VHOST_SET_VRING_NUM`.
    pub(crate) num: u32,
    /// `VHOST_SET_VRING_ADDR`.
    pub(crate) desc: u64,
    pub(crate) avail: u64,
    pub(crate) used: u64,
    pub(crate) log_used: bool,
    pub(crate) log_addr: u64,
    /// `VHOST_SET_VRING_BASE` while stopped: split avail index, or the
    /// packed avail/used halves.
    pub(crate) base: u32,
    pub(crate) kick: Option<EventFile>,
    pub(crate) call: Option<EventFd>,
    pub(crate) err: Option<EventFd>,
    pub(crate) busyloop_timeout: u32,
    /// Acked features, all words.
    pub(crate) features: [u64; WORDS],
    /// `VHOST_SET_LOG_BASE`, a user address.
    pub(crate) log_base: u64,
    /// `VHOST_SET_LOG_FD`, shared with the device.
    pub(crate) log_ctx: Option<Arc<EventFd>>,
    /// The memory table the queue translates with.
    pub(crate) umem: Option<Arc<Table>>,
    /// Whether an IOTLB translates instead of the memory table.
    pub(crate) iotlb: bool,
    /// The device's per-queue data and backend.
    pub(crate) data: D,
}

impl<D: QueueData> Vq<D> {
    pub(crate) fn new(data: D) -> Result<Self> {
        let mut store = KVVec::with_capacity(ring::DEFAULT_STORAGE, GFP_KERNEL)?;
        store.resize(ring::DEFAULT_STORAGE, Desc::default(), GFP_KERNEL)?;
        Ok(Self {
            ring: Vring::new(store),
            // `vhost_vq_reset()` starts a queue at one entry.
            num: 1,
            desc: 0,
            avail: 0,
            used: 0,
            log_used: false,
            log_addr: u64::MAX,
            base: 0,
            kick: None,
            call: None,
            err: None,
            busyloop_timeout: 0,
            features: [0; WORDS],
            log_base: 0,
            log_ctx: None,
            umem: None,
            iotlb: false,
            data,
        })
    }

    pub(crate) fn has(&self, bit: u32) -> bool {
        let word = (bit / 64) as usize;
        word < WORDS && self.features[word] & (1 << (bit % 64)) != 0
    }

    /// `vhost_vq_reset()`: everything but the backend and the memory
    /// table, which the caller handles.
    pub(crate) fn reset(&mut self) {
        self.ring.reset();
        self.num = 1;
        self.desc = 0;
        self.avail = 0;
        self.used = 0;
        self.log_used = false;
        self.log_addr = u64::MAX;
        self.base = 0;
        self.kick = None;
        self.call = None;
        self.err = None;
        self.busyloop_timeout = 0;
        self.features = [0; WORDS];
        self.log_base = 0;
        self.log_ctx = None;
        self.iotlb = false;
    }

    fn event(&self) -> u64 {
        if self.has(EVENT_IDX) {
            2
        } else {
            0
        }
    }

    /// `vhost_get_desc_size()`.
    pub(crate) fn desc_size(&self, num: u32) -> u64 {
        16 * u64::from(num)
    }

    /// `vhost_get_avail_size()`.
    pub(crate) fn avail_size(&self, num: u32) -> u64 {
        if self.has(RING_PACKED) {
            4
        } else {
            4 + 2 * u64::from(num) + self.event()
        }
    }

    /// `vhost_get_used_size()`.
    pub(crate) fn used_size(&self, num: u32) -> u64 {
        if self.has(RING_PACKED) {
            4
        } else {
            4 + 8 * u64::from(num) + self.event()
        }
    }

    /// `vq_access_ok()`: the rings lie in user space (with an IOTLB they
    /// are I/O addresses, checked when used).
    pub(crate) fn rings_ok(&self, num: u32, desc: u64, avail: u64, used: u64) -> bool {
        self.iotlb
            || (user::access_ok(desc, self.desc_size(num))
                && user::access_ok(avail, self.avail_size(num))
                && user::access_ok(used, self.used_size(num)))
    }

    /// `vq_log_used_access_ok()`.
    pub(crate) fn log_used_ok(&self, log_base: u64, log_used: bool, log_addr: u64) -> bool {
        self.iotlb || !log_used || log_access_ok(log_base, log_addr, self.used_size(self.num))
    }

    /// `vq_memory_access_ok()` of `umem` for this queue.
    pub(crate) fn memory_ok(umem: Option<&Table>, log_base: u64, log_all: bool) -> bool {
        let Some(umem) = umem else {
            return false;
        };
        umem.regions().all(|r| {
            !overflows(r.uaddr, r.size)
                && user::access_ok(r.uaddr, r.size)
                && (!log_all || log_access_ok(log_base, r.gpa, r.size))
        })
    }

    /// `vq_log_access_ok()`.
    pub(crate) fn log_ok(&self, log_base: u64) -> bool {
        Self::memory_ok(self.umem.as_deref(), log_base, self.has(LOG_ALL))
            && self.log_used_ok(log_base, self.log_used, self.log_addr)
    }

    /// `vhost_vq_access_ok()`: what setting a backend checks first.
    pub(crate) fn access_ok(&self) -> bool {
        self.log_ok(self.log_base) && self.rings_ok(self.num, self.desc, self.avail, self.used)
    }

    /// `VHOST_SET_VRING_NUM`.
    pub(crate) fn set_num(&mut self, num: u32) -> Result {
        if self.data.has_backend() {
            return Err(EBUSY);
        }
        if num == 0 || num > 0xffff || !num.is_power_of_two() {
            return Err(EINVAL);
        }
        self.num = num;
        Ok(())
    }

    /// `VHOST_SET_VRING_ADDR`.
    pub(crate) fn set_addr(&mut self, a: &crate::rvhost::bindings::vhost_vring_addr) -> Result {
        if a.flags & !(1 << VRING_F_LOG) != 0 {
            return Err(errno::eopnotsupp());
        }
        if a.avail_user_addr & 1 != 0 || a.used_user_addr & 3 != 0 || a.log_guest_addr & 3 != 0 {
            return Err(EINVAL);
        }
        let log_used = a.flags & (1 << VRING_F_LOG) != 0;
        if self.data.has_backend() {
            if !self.rings_ok(
                self.num,
                a.desc_user_addr,
                a.avail_user_addr,
                a.used_user_addr,
            ) {
                return Err(EINVAL);
            }
            if !self.log_used_ok(self.log_base, log_used, a.log_guest_addr) {
                return Err(EINVAL);
            }
        }
        self.log_used = log_used;
        self.desc = a.desc_user_addr;
        self.avail = a.avail_user_addr;
        self.used = a.used_user_addr;
        self.log_addr = a.log_guest_addr;
        Ok(())
    }

    /// `VHOST_SET_VRING_BASE`.
    pub(crate) fn set_base(&mut self, num: u32) -> Result {
        if self.data.has_backend() {
            return Err(EBUSY);
        }
        if !self.has(RING_PACKED) && num > 0xffff {
            return Err(EINVAL);
        }
        self.base = num;
        Ok(())
    }

    /// `VHOST_GET_VRING_BASE`: live from the ring while it runs.
    pub(crate) fn get_base(&self) -> u32 {
        if self.ring.is_ready() {
            self.ring.get_base()
        } else {
            self.base
        }
    }

    /// The ring, guest memory as this queue sees it, and the device's
    /// data, borrowed apart so that the ring can be driven.
    pub(crate) fn split<'a>(&'a mut self, tlb: Option<&'a Iotlb>) -> (&'a mut Ring, Guest<'a>, &'a mut D) {
        // The used ring is logged with VHOST_VRING_F_LOG, buffers with
        // VHOST_F_LOG_ALL (C: `log_used()` and `vhost_log_write()`).
        let all = self.has(LOG_ALL);
        let log = (all || self.log_used).then(|| Log {
            base: self.log_base,
            all,
            used: self
                .log_used
                .then(|| (self.used, self.used_size(self.num), self.log_addr)),
        });
        (
            &mut self.ring,
            Guest::new(self.umem.as_deref(), tlb.filter(|_| self.iotlb), log),
            &mut self.data,
        )
    }

    /// Loads the configuration into the ring layer and starts it
    /// (`vhost_vq_init_access()`), for a backend being attached.
    ///
    /// An IOTLB miss met on the way is returned for the caller to report.
    pub(crate) fn start_ring(&mut self, tlb: Option<&Iotlb>) -> (Result, Option<(u64, u8)>) {
        let features = self.features[0];
        let (num, base) = (self.num, self.base);
        let (desc, avail, used) = (self.desc, self.avail, self.used);
        let (ring, mem, _) = self.split(tlb);
        ring.set_features(features);
        if ring.set_num(num).is_err()
            || ring.set_addr(desc, avail, used).is_err()
            || ring.set_base(base).is_err()
        {
            return (Err(EFAULT), None);
        }
        let r = ring.start(&mem).map_err(|_| EFAULT);
        let (miss, logged) = (mem.miss(), mem.logged());
        if logged {
            self.signal_log();
        }
        (r, miss)
    }

    /// The backend goes away: publish what was used, remember the position
    /// for `GET_VRING_BASE` and the next start.
    pub(crate) fn stop_ring(&mut self, tlb: Option<&Iotlb>) {
        if !self.ring.is_ready() {
            return;
        }
        self.base = self.ring.get_base();
        let (ring, mem, _) = self.split(tlb);
        // A ring the guest broke cannot take the last used entries; the
        // error was reported when it broke.
        let _ = ring.stop(&mem);
    }

    /// Signals the dirty log eventfd: pages were logged.
    pub(crate) fn signal_log(&self) {
        if let Some(log) = &self.log_ctx {
            log.signal();
        }
    }

    /// `vq_err()` and the error eventfd: the guest broke the ring.
    pub(crate) fn signal_err(&self) {
        if let Some(err) = &self.err {
            err.signal();
        }
    }

    /// Signals the call eventfd.
    pub(crate) fn signal_call(&self) {
        if let Some(call) = &self.call {
            call.signal();
        }
    }
}

/// `vhost_overflow()`: `uaddr + size` wraps.
fn overflows(uaddr: u64, size: u64) -> bool {
    size != 0 && uaddr > u64::MAX - size + 1
}

/// `log_access_ok()`: the log bits for `[addr, addr + size)` lie in user
/// space.
pub(crate) fn log_access_ok(log_base: u64, addr: u64, size: u64) -> bool {
    let a = addr / LOG_PAGE / 8;
    if a > u64::MAX - log_base {
        return false;
    }
    // C adds in `unsigned long` and lets it wrap; so do we.
    let bytes = size.wrapping_add(LOG_PAGE * 8 - 1) / LOG_PAGE / 8;
    user::access_ok(log_base + a, bytes)
}
