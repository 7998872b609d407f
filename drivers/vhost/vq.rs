// SPDX-License-Identifier: GPL-2.0

//! One virtqueue: what `struct vhost_virtqueue` holds, and the vring ioctls
//! (drivers/vhost/vhost.c: `vhost_vring_ioctl()`).
//!
//! Userspace configures a queue field by field, into one [`VqConfig`] that
//! the checks of `addr_space` read in place, as C checks it, so ioctl answers
//! never depend on what the ring layer would accept. The
//! ring layer's [`Vring`] is loaded with that configuration when a backend
//! starts the queue ([`Vq::start_ring`]); a running queue takes new ring
//! addresses and features at once, as C's does.

use crate::{
    addr_space::{
        self,
        VqConfig, //
    },
    dev::{
        Dev,
        DevInner, //
    },
    features::WORDS,
    guest::{
        Guest,
        Log,
        Rings, //
    },
    iotlb::Iotlb,
    ring::{
        self,
        Desc,
        Vring, //
    },
    rvhost::{
        bindings, errno,
        eventfd::{
            EventFd,
            EventFile, //
        },
        params, uapi, user,
    },
    umem::{
        kernel_error,
        Table, //
    },
};
use kernel::{
    alloc::KVVec,
    prelude::*,
    sync::Arc,
    uaccess::{
        UserPtr,
        UserSlice, //
    },
};

/// `VHOST_F_LOG_ALL`.
pub(crate) const LOG_ALL: u32 = addr_space::VHOST_F_LOG_ALL;
/// `VHOST_VRING_F_LOG`.
pub(crate) const VRING_F_LOG: u32 = addr_space::VHOST_VRING_F_LOG;

// The bits `addr_space` spells out itself, as the uapi has them.
const _: () = {
    assert!(addr_space::VHOST_F_LOG_ALL == bindings::VHOST_F_LOG_ALL);
    assert!(addr_space::VIRTIO_RING_F_EVENT_IDX == bindings::VIRTIO_RING_F_EVENT_IDX);
    assert!(addr_space::VIRTIO_F_RING_PACKED == bindings::VIRTIO_F_RING_PACKED);
    assert!(addr_space::VHOST_VRING_F_LOG == bindings::VHOST_VRING_F_LOG);
};

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
    /// Ring size and addresses, base, acked features, log base and the
    /// IOTLB switch, as userspace set them: what the checks of
    /// `addr_space` read.
    pub(crate) cfg: VqConfig,
    pub(crate) kick: Option<EventFile>,
    pub(crate) call: Option<EventFd>,
    pub(crate) err: Option<EventFd>,
    pub(crate) busyloop_timeout: u32,
    /// `VHOST_SET_LOG_FD`, shared with the device.
    pub(crate) log_ctx: Option<Arc<EventFd>>,
    /// The memory table the queue translates with.
    pub(crate) umem: Option<Arc<Table>>,
    /// The IOTLB entries the last prefetch found to cover each ring
    /// (`vq->meta_iotlb[]`), valid while the IOTLB is at `meta_gen`.
    meta: addr_space::MetaCache,
    meta_gen: u64,
    /// The device's per-queue data and backend.
    pub(crate) data: D,
}

impl<D: QueueData> Vq<D> {
    pub(crate) fn new(data: D) -> Result<Self> {
        let mut store = KVVec::with_capacity(ring::DEFAULT_STORAGE, GFP_KERNEL)?;
        store.resize(ring::DEFAULT_STORAGE, Desc::default(), GFP_KERNEL)?;
        let mut ring = Vring::new(store);
        ring.set_batch(params::fetch_batch());
        Ok(Self {
            ring,
            cfg: VqConfig::RESET,
            kick: None,
            call: None,
            err: None,
            busyloop_timeout: 0,
            log_ctx: None,
            umem: None,
            meta: addr_space::MetaCache::default(),
            meta_gen: 0,
            data,
        })
    }

    /// `vhost_vq_reset()`: everything but the backend and the memory
    /// table, which the caller handles.
    pub(crate) fn reset(&mut self) {
        self.ring.reset();
        self.cfg = VqConfig::RESET;
        self.kick = None;
        self.call = None;
        self.err = None;
        self.busyloop_timeout = 0;
        self.log_ctx = None;
        self.meta.reset();
    }

    /// Whether the queue has a backend (`vhost_vq_get_backend()`), which
    /// some checks of `addr_space` depend on.
    pub(crate) fn active(&self) -> bool {
        self.data.has_backend()
    }

    /// `log_base_ok()`: the dirty log at `log_base` covers what this queue
    /// may write (checked when it has a backend, else when it gets one).
    pub(crate) fn log_ok(&self, log_base: u64) -> bool {
        let umem = self.umem.as_deref().map(Table::map);
        addr_space::log_base_ok(&self.cfg, self.active(), umem, log_base, &user::access_ok)
    }

    /// `vhost_vq_access_ok()`: what setting a backend checks first.
    pub(crate) fn access_ok(&self) -> bool {
        let umem = self.umem.as_deref().map(Table::map);
        addr_space::vhost_vq_access_ok(&self.cfg, umem, &user::access_ok)
    }

    /// `VHOST_SET_VRING_NUM`.
    pub(crate) fn set_num(&mut self, num: u32) -> Result {
        addr_space::check_vring_num(self.active(), num).map_err(kernel_error)?;
        self.cfg.num = num;
        Ok(())
    }

    /// `VHOST_SET_VRING_ADDR`.
    pub(crate) fn set_addr(&mut self, a: &bindings::vhost_vring_addr) -> Result {
        let addr = addr_space::VringAddr {
            index: a.index,
            flags: a.flags,
            desc_user_addr: a.desc_user_addr,
            used_user_addr: a.used_user_addr,
            avail_user_addr: a.avail_user_addr,
            log_guest_addr: a.log_guest_addr,
        };
        addr_space::check_vring_addr(&self.cfg, self.active(), &addr, &user::access_ok)
            .map_err(kernel_error)?;
        // A running queue uses the new rings at once, as C's handlers read
        // the addresses from the virtqueue at each use; a stopped one gets
        // them when it starts ([`Vq::start_ring`]).
        if self.ring.is_ready() {
            let (desc, avail, used) = (a.desc_user_addr, a.avail_user_addr, a.used_user_addr);
            self.ring.set_addr(desc, avail, used).map_err(|_| EINVAL)?;
        }
        self.cfg.log_used = a.flags & (1 << VRING_F_LOG) != 0;
        self.cfg.desc = a.desc_user_addr;
        self.cfg.avail = a.avail_user_addr;
        self.cfg.used = a.used_user_addr;
        self.cfg.log_addr = a.log_guest_addr;
        // The cached translations were for the old rings.
        self.meta.reset();
        Ok(())
    }

    /// `VHOST_SET_FEATURES` on this queue (and the IOTLB coming or going,
    /// which makes the ring addresses meaningless): a running queue takes
    /// them at once, as C's does.
    pub(crate) fn set_features(&mut self, features: [u64; WORDS], iotlb: bool) {
        let switch = iotlb != self.cfg.iotlb;
        self.cfg.features = features;
        self.cfg.iotlb = iotlb;
        if self.ring.is_ready() {
            self.ring.update_features(features[0]);
        }
        if switch {
            // Ring addresses change meaning when an IOTLB comes or goes:
            // `vhost_vq_invalidate_access()` forgets them.
            self.cfg.invalidate_access();
            self.ring.forget_addr();
        }
        // A new IOTLB each time: what was cached came from the old one.
        self.meta.reset();
    }

    /// `VHOST_SET_VRING_BASE`.
    pub(crate) fn set_base(&mut self, num: u32) -> Result {
        if self.active() {
            return Err(EBUSY);
        }
        if !self.cfg.packed() && num > 0xffff {
            return Err(EINVAL);
        }
        self.cfg.base = num;
        Ok(())
    }

    /// `VHOST_GET_VRING_BASE`: live from the ring while it runs.
    pub(crate) fn get_base(&self) -> u32 {
        if self.ring.is_ready() {
            self.ring.get_base()
        } else {
            self.cfg.base
        }
    }

    /// `vq_meta_prefetch()`: whether the handler may run. With an IOTLB
    /// the rings must be mapped, the first hole reported as a miss; the
    /// translations that cover whole rings are kept for the run.
    pub(crate) fn prefetch(&mut self, tlb: Option<&Iotlb>) -> addr_space::Prefetch {
        let tlb = tlb.filter(|_| self.cfg.iotlb);
        if let Some(t) = tlb {
            if self.meta_gen != t.generation() {
                self.meta.reset();
                self.meta_gen = t.generation();
            }
        }
        addr_space::vq_meta_prefetch(&self.cfg, tlb.map(Iotlb::map), &mut self.meta)
    }

    /// The ring, guest memory as this queue sees it, the device's data and
    /// the call eventfd, borrowed apart so that the ring can be driven and
    /// the guest interrupted meanwhile.
    pub(crate) fn split<'a>(
        &'a mut self,
        tlb: Option<&'a Iotlb>,
    ) -> (&'a mut Ring, Guest<'a>, &'a mut D, Option<&'a EventFd>) {
        let cfg = &self.cfg;
        let tlb = tlb.filter(|_| cfg.iotlb);
        let sz = addr_space::RingSizes::of(cfg, cfg.num);
        // The used ring (device area) is logged with VHOST_VRING_F_LOG,
        // buffers with VHOST_F_LOG_ALL (C: `log_used()` and
        // `vhost_log_write()`); the packed descriptor ring takes used
        // descriptors and is logged with the used ring.
        let all = cfg.log_all();
        let log = (all || cfg.log_used).then(|| Log {
            base: cfg.log_base,
            all,
            used: cfg.log_used.then_some((cfg.used, sz.used, cfg.log_addr)),
            desc: (cfg.log_used && cfg.packed()).then_some((cfg.desc, sz.desc)),
        });
        // Cached translations are only good for the IOTLB they came from.
        let rings = tlb
            .filter(|t| t.generation() == self.meta_gen)
            .map(|_| Rings {
                areas: [
                    (cfg.desc, sz.desc),
                    (cfg.avail, sz.avail),
                    (cfg.used, sz.used),
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
    /// As in C, the error eventfd hears of a used index that cannot be
    /// read, and of a ring area the IOTLB misses (`vq_err()` in
    /// `__vhost_get_user_slow()`); the other failures are the ioctl's
    /// alone.
    pub(crate) fn start_ring(&mut self, tlb: Option<&Iotlb>) -> (Result, Option<(u64, u8)>) {
        let VqConfig {
            features: [features, ..],
            num,
            base,
            desc,
            avail,
            used,
            ..
        } = self.cfg;
        let (ring, guest, _, _) = self.split(tlb);
        ring.set_features(features);
        if ring.set_num(num).is_err()
            || ring.set_addr(desc, avail, used).is_err()
            || ring.set_base(base).is_err()
        {
            return (Err(EFAULT), None);
        }
        let r = ring.start(&guest);
        let (miss, logged) = (guest.miss(), guest.logged());
        let ring_missed = guest.ring_missed();
        if logged {
            self.signal_log();
        }
        if ring_missed || matches!(r, Err(ring::Error::UsedIdx { .. })) {
            self.signal_err();
        }
        (r.map_err(|_| EFAULT), miss)
    }

    /// The backend goes away: publish what was used, remember the position
    /// for `GET_VRING_BASE` and the next start.
    pub(crate) fn stop_ring(&mut self, tlb: Option<&Iotlb>) {
        if !self.ring.is_ready() {
            return;
        }
        self.cfg.base = self.ring.get_base();
        let (ring, guest, _, _) = self.split(tlb);
        // A ring the guest broke cannot take the last used entries; the
        // error was reported when it broke.
        let _ = ring.stop(&guest);
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

impl<D: QueueData> Dev<D> {
    /// `vhost_get_vq_from_user()`: the index a vring ioctl starts with.
    pub(crate) fn vq_index(&self, arg: usize) -> Result<usize> {
        // Whatever the command: C's get_user() of a u32.
        let idx: u32 = UserSlice::new(UserPtr::from_addr(arg), core::mem::size_of::<u32>())
            .reader()
            .read()?;
        if idx >= self.nvqs() {
            return Err(errno::enobufs());
        }
        Ok(idx as usize)
    }

    /// `vhost_vring_ioctl()`.
    pub(crate) fn vring_ioctl(&self, inner: &DevInner, cmd: u32, arg: usize) -> Result<isize> {
        let idx = self.vq_index(arg)?;
        let q = &self.vqs[idx];
        let mut vq = q.vq.lock();
        let argp = uapi::ioctl_arg(cmd, arg);
        match cmd {
            bindings::VHOST_SET_VRING_NUM => {
                // `vhost_vring_set_num()` checks the backend before reading.
                if vq.data.has_backend() {
                    return Err(EBUSY);
                }
                let s: bindings::vhost_vring_state = argp.reader().read()?;
                vq.set_num(s.num)?;
                Ok(0)
            }
            bindings::VHOST_SET_VRING_ADDR => {
                let a: bindings::vhost_vring_addr = argp.reader().read()?;
                vq.set_addr(&a)?;
                Ok(0)
            }
            bindings::VHOST_SET_VRING_BASE => {
                if vq.data.has_backend() {
                    return Err(EBUSY);
                }
                let s: bindings::vhost_vring_state = argp.reader().read()?;
                vq.set_base(s.num)?;
                Ok(0)
            }
            bindings::VHOST_GET_VRING_BASE => {
                let s = bindings::vhost_vring_state {
                    index: idx as u32,
                    num: vq.get_base(),
                };
                argp.writer().write(&s)?;
                Ok(0)
            }
            bindings::VHOST_SET_VRING_KICK => {
                let f: bindings::vhost_vring_file = argp.reader().read()?;
                let file = if f.fd == -1 {
                    None
                } else {
                    Some(EventFile::from_fd(f.fd)?)
                };
                let same = match (&file, &vq.kick) {
                    (Some(a), Some(b)) => core::ptr::eq(a.file(), b.file()),
                    (None, None) => true,
                    _ => false,
                };
                if same {
                    return Ok(0);
                }
                let had = vq.kick.is_some();
                if had {
                    q.kick.as_ref().stop();
                }
                vq.kick = file;
                let r = match &vq.kick {
                    Some(k) => self.start_poll(q.kick.as_ref(), k.file()).map(|()| 0),
                    None => Ok(0),
                };
                drop(vq);
                if had {
                    Self::flush(inner);
                }
                r
            }
            bindings::VHOST_SET_VRING_CALL => {
                let f: bindings::vhost_vring_file = argp.reader().read()?;
                vq.call = if f.fd == -1 {
                    None
                } else {
                    Some(EventFd::from_fd(f.fd)?)
                };
                Ok(0)
            }
            bindings::VHOST_SET_VRING_ERR => {
                let f: bindings::vhost_vring_file = argp.reader().read()?;
                vq.err = if f.fd == -1 {
                    None
                } else {
                    Some(EventFd::from_fd(f.fd)?)
                };
                Ok(0)
            }
            bindings::VHOST_SET_VRING_BUSYLOOP_TIMEOUT => {
                let s: bindings::vhost_vring_state = argp.reader().read()?;
                vq.busyloop_timeout = s.num;
                Ok(0)
            }
            bindings::VHOST_GET_VRING_BUSYLOOP_TIMEOUT => {
                let s = bindings::vhost_vring_state {
                    index: idx as u32,
                    num: vq.busyloop_timeout,
                };
                argp.writer().write(&s)?;
                Ok(0)
            }
            _ => Err(ENOIOCTLCMD),
        }
    }
}
