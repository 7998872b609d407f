// SPDX-License-Identifier: GPL-2.0

//! One virtqueue: what `struct vhost_virtqueue` holds, and the vring ioctls
//! (drivers/vhost/vhost.c: `vhost_vring_ioctl()`).
//!
//! Userspace configures a queue field by field, checked as C checks it, so
//! ioctl answers never depend on what the ring layer would accept. The
//! ring layer's [`Vring`] is loaded with that configuration when a backend
//! starts the queue ([`Vq::start_ring`]); a running queue takes new ring
//! addresses and features at once, as C's does.

use crate::{
    features::WORDS,
    guest::{
        Guest,
        Log,
        Rings, //
    },
    iotlb::Iotlb,
    mem,
    ring::{
        self,
        Desc,
        Vring, //
    },
    rvhost::{
        bindings,
        eventfd::{
            EventFd,
            EventFile, //
        },
        user,
    },
    umem::{
        kernel_error,
        Table, //
    },
};
use kernel::{alloc::KVVec, prelude::*, sync::Arc};

/// `VIRTIO_F_RING_PACKED`.
const RING_PACKED: u32 = bindings::VIRTIO_F_RING_PACKED;
/// `VIRTIO_RING_F_EVENT_IDX`.
const EVENT_IDX: u32 = bindings::VIRTIO_RING_F_EVENT_IDX;
/// `VHOST_F_LOG_ALL`.
pub(crate) const LOG_ALL: u32 = bindings::VHOST_F_LOG_ALL;
/// `VHOST_VRING_F_LOG`.
pub(crate) const VRING_F_LOG: u32 = bindings::VHOST_VRING_F_LOG;

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
    /// The IOTLB entries the last prefetch found to cover each ring
    /// (`vq->meta_iotlb[]`), valid while the IOTLB is at `meta_gen`.
    meta: mem::MetaCache,
    meta_gen: u64,
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
            meta: mem::MetaCache::default(),
            meta_gen: 0,
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
        self.meta.reset();
    }

    /// What the checks of `mem` read from the queue. A packed ring is
    /// sized as packed (C offers no packed ring to size).
    pub(crate) fn state(&self) -> mem::VqState {
        mem::VqState {
            num: self.num,
            event_idx: self.has(EVENT_IDX),
            packed: self.has(RING_PACKED),
            log_all: self.has(LOG_ALL),
            iotlb: self.iotlb,
            active: self.data.has_backend(),
            desc: self.desc,
            avail: self.avail,
            used: self.used,
            log_used: self.log_used,
            log_addr: self.log_addr,
            log_base: self.log_base,
        }
    }

    /// `log_base_ok()`: the dirty log at `log_base` covers what this queue
    /// may write (checked when it has a backend, else when it gets one).
    pub(crate) fn log_ok(&self, log_base: u64) -> bool {
        let umem = self.umem.as_deref().map(Table::map);
        mem::log_base_ok(&self.state(), umem, log_base, &user::access_ok)
    }

    /// `vhost_vq_access_ok()`: what setting a backend checks first.
    pub(crate) fn access_ok(&self) -> bool {
        let umem = self.umem.as_deref().map(Table::map);
        mem::vhost_vq_access_ok(&self.state(), umem, &user::access_ok)
    }

    /// `VHOST_SET_VRING_NUM`.
    pub(crate) fn set_num(&mut self, num: u32) -> Result {
        mem::check_vring_num(&self.state(), num).map_err(kernel_error)?;
        self.num = num;
        Ok(())
    }

    /// `VHOST_SET_VRING_ADDR`.
    pub(crate) fn set_addr(&mut self, a: &bindings::vhost_vring_addr) -> Result {
        let addr = mem::VringAddr {
            index: a.index,
            flags: a.flags,
            desc_user_addr: a.desc_user_addr,
            used_user_addr: a.used_user_addr,
            avail_user_addr: a.avail_user_addr,
            log_guest_addr: a.log_guest_addr,
        };
        mem::check_vring_addr(&self.state(), &addr, &user::access_ok).map_err(kernel_error)?;
        // A running queue uses the new rings at once, as C's handlers read
        // the addresses from the virtqueue at each use; a stopped one gets
        // them when it starts ([`Vq::start_ring`]).
        if self.ring.is_ready() {
            let (desc, avail, used) = (a.desc_user_addr, a.avail_user_addr, a.used_user_addr);
            self.ring.set_addr(desc, avail, used).map_err(|_| EINVAL)?;
        }
        self.log_used = a.flags & (1 << VRING_F_LOG) != 0;
        self.desc = a.desc_user_addr;
        self.avail = a.avail_user_addr;
        self.used = a.used_user_addr;
        self.log_addr = a.log_guest_addr;
        // The cached translations were for the old rings.
        self.meta.reset();
        Ok(())
    }

    /// `VHOST_SET_FEATURES` on this queue (and the IOTLB coming or going,
    /// which makes the ring addresses meaningless): a running queue takes
    /// them at once, as C's does.
    pub(crate) fn set_features(&mut self, features: [u64; WORDS], iotlb: bool) {
        let switch = iotlb != self.iotlb;
        self.features = features;
        self.iotlb = iotlb;
        if self.ring.is_ready() {
            self.ring.update_features(features[0]);
        }
        if switch {
            // Ring addresses change meaning when an IOTLB comes or goes:
            // `vhost_vq_invalidate_access()` forgets them.
            self.desc = 0;
            self.avail = 0;
            self.used = 0;
            self.log_used = false;
            self.log_addr = u64::MAX;
            self.ring.forget_addr();
        }
        // A new IOTLB each time: what was cached came from the old one.
        self.meta.reset();
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

    /// `vq_meta_prefetch()`: whether the handler may run. With an IOTLB
    /// the rings must be mapped, the first hole reported as a miss; the
    /// translations that cover whole rings are kept for the run.
    pub(crate) fn prefetch(&mut self, tlb: Option<&Iotlb>) -> mem::Prefetch {
        let tlb = tlb.filter(|_| self.iotlb);
        if let Some(t) = tlb {
            if self.meta_gen != t.generation() {
                self.meta.reset();
                self.meta_gen = t.generation();
            }
        }
        let state = self.state();
        mem::vq_meta_prefetch(&state, tlb.map(Iotlb::map), &mut self.meta)
    }

    /// The ring, guest memory as this queue sees it, the device's data and
    /// the call eventfd, borrowed apart so that the ring can be driven and
    /// the guest interrupted meanwhile.
    pub(crate) fn split<'a>(
        &'a mut self,
        tlb: Option<&'a Iotlb>,
    ) -> (&'a mut Ring, Guest<'a>, &'a mut D, Option<&'a EventFd>) {
        let tlb = tlb.filter(|_| self.iotlb);
        let sz = mem::RingSizes::of(&self.state(), self.num);
        // The used ring (device area) is logged with VHOST_VRING_F_LOG,
        // buffers with VHOST_F_LOG_ALL (C: `log_used()` and
        // `vhost_log_write()`); the packed descriptor ring takes used
        // descriptors and is logged with the used ring.
        let all = self.has(LOG_ALL);
        let log = (all || self.log_used).then(|| Log {
            base: self.log_base,
            all,
            used: self.log_used.then_some((self.used, sz.used, self.log_addr)),
            desc: (self.log_used && self.has(RING_PACKED)).then_some((self.desc, sz.desc)),
        });
        // Cached translations are only good for the IOTLB they came from.
        let rings = tlb
            .filter(|t| t.generation() == self.meta_gen)
            .map(|_| Rings {
                areas: [
                    (self.desc, sz.desc),
                    (self.avail, sz.avail),
                    (self.used, sz.used),
                ],
                meta: &self.meta,
            });
        (
            &mut self.ring,
            Guest::new(self.umem.as_deref(), tlb, rings, log),
            &mut self.data,
            self.call.as_ref(),
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
        let (ring, mem, _, _) = self.split(tlb);
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
        let (ring, mem, _, _) = self.split(tlb);
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
}
