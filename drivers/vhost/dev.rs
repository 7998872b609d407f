// SPDX-License-Identifier: GPL-2.0

//! The state every vhost device has, and the device ioctls net and vsock
//! answer alike (drivers/vhost/vhost.c: `vhost_dev_ioctl()`). Other files
//! add to [`Dev`] what C keeps next to each concept: the vring ioctls
//! (vq.rs), `VHOST_SET_MEM_TABLE` (umem.rs), the device IOTLB and its
//! messages (iotlb.rs).
//!
//! Locking follows C: the device mutex serialises configuration; each
//! queue has its own mutex, which the worker holds while it runs the
//! queue. Order: device, then queues in index order.

use crate::{
    features::{
        Features,
        WORDS, //
    },
    iotlb::{
        Msgs,
        Tlb, //
    },
    rvhost::{
        bindings as b, errno,
        eventfd::EventFd,
        params,
        poll::FilePoll,
        uapi, user,
        worker::{
            WorkHandler,
            Worker, //
        },
    },
    umem::Table,
    vq::{
        QueueData,
        Vq,
        LOG_ALL, //
    },
};
use kernel::{
    alloc::KVec,
    current,
    fs::File,
    mm::MmWithUser,
    new_mutex, new_poll_condvar, new_spinlock,
    prelude::*,
    sync::{
        aref::ARef,
        poll::PollCondVar,
        Arc,
        Mutex,
        MutexGuard,
        SpinLock, //
    },
    uaccess::{
        UserPtr,
        UserSlice, //
    },
};

/// `EPOLLIN`, the mask a kick eventfd is polled for.
const EPOLLIN: u32 = b::EPOLLIN;

/// A queue and the poll of its kick eventfd.
#[pin_data]
pub(crate) struct Queue<D> {
    #[pin]
    pub(crate) vq: Mutex<Vq<D>>,
    /// Wakes the worker when the guest kicks (`vq->poll`).
    pub(crate) kick: Pin<KBox<FilePoll>>,
}

/// A vhost device: what `struct vhost_dev` holds.
#[pin_data]
pub(crate) struct Dev<D> {
    features: &'static Features,
    pub(crate) vqs: KVec<Pin<KBox<Queue<D>>>>,
    #[pin]
    inner: Mutex<DevInner>,
    /// The worker again, for the worker itself to requeue work and start
    /// socket polls without the device mutex (which a flush holds).
    #[pin]
    running: SpinLock<Option<Arc<Worker>>>,
    /// The IOTLB (see iotlb.rs); below the queue mutexes. A handler holds
    /// it for its run, as C's handlers hold the queue mutexes that IOTLB
    /// messages take (`vhost_dev_lock_vqs()`).
    #[pin]
    pub(crate) tlb: Mutex<Tlb>,
    /// IOTLB messages to and from userspace; below the IOTLB. Never held
    /// across a handler run, so that `read()` and `poll()` never wait for
    /// one (C: `dev->iotlb_lock`).
    #[pin]
    pub(crate) msgs: Mutex<Msgs>,
    /// Readers and pollers of IOTLB messages wait here (`dev->wait`).
    #[pin]
    pub(crate) wait: PollCondVar,
}

/// What the device mutex protects.
pub(crate) struct DevInner {
    /// The address space of the process that called `VHOST_SET_OWNER`.
    /// C keeps a user reference (`get_task_mm()`) so that the worker can
    /// reach guest memory; so do we.
    owner: Option<ARef<MmWithUser>>,
    /// The worker, from `SET_OWNER` to `RESET_OWNER` or release.
    pub(crate) worker: Option<Arc<Worker>>,
    /// `VHOST_SET_MEM_TABLE` (see umem.rs); a new device has none,
    /// `RESET_OWNER` leaves an empty one (as `vhost_dev_reset_owner()`).
    pub(crate) umem: Option<Arc<Table>>,
    log_ctx: Option<Arc<EventFd>>,
    /// `VHOST_SET_FORK_FROM_OWNER`: a vhost_task (true) or a kthread.
    fork_owner: bool,
}

impl<D: QueueData> Dev<D> {
    /// A device with one queue per element of `data`; queue `i`'s kicks
    /// queue work bit `i`.
    pub(crate) fn new(
        features: &'static Features,
        data: impl IntoIterator<Item = D>,
    ) -> Result<impl PinInit<Self, Error>> {
        let mut vqs = KVec::new();
        for d in data {
            let vq = Vq::new(d)?;
            let kick = KBox::pin_init(FilePoll::new(EPOLLIN, 1u64 << vqs.len()), GFP_KERNEL)?;
            let q = KBox::pin_init(
                pin_init!(Queue {
                    vq <- new_mutex!(vq, "vhost_virtqueue::mutex"),
                    kick,
                }),
                GFP_KERNEL,
            )?;
            vqs.push(q, GFP_KERNEL)?;
        }
        Ok(try_pin_init!(Self {
            features,
            vqs,
            inner <- new_mutex!(
                DevInner {
                    owner: None,
                    worker: None,
                    umem: None,
                    log_ctx: None,
                    fork_owner: params::fork_from_owner_default(),
                },
                "vhost_dev::mutex"
            ),
            running <- new_spinlock!(None, "vhost_dev::running"),
            tlb <- new_mutex!(Tlb { iotlb: None }, "vhost_dev::iotlb"),
            msgs <- new_mutex!(Msgs::new(), "vhost_dev::iotlb_lock"),
            wait <- new_poll_condvar!("vhost_dev::wait"),
        }? Error))
    }

    pub(crate) fn nvqs(&self) -> u32 {
        self.vqs.len() as u32
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, DevInner> {
        self.inner.lock()
    }

    /// `VHOST_GET_FEATURES`: the first feature word.
    pub(crate) fn get_features(&self, arg: usize) -> Result<isize> {
        let mut w = uapi::ioctl_arg(b::VHOST_GET_FEATURES, arg).writer();
        w.write(&self.features.words[0])?;
        Ok(0)
    }

    /// `VHOST_GET_FEATURES_ARRAY`: a `u64` count, then that many words; the
    /// words past the ones the kernel knows are zeroed.
    pub(crate) fn get_features_array(&self, arg: usize) -> Result<isize> {
        let count: u64 = uapi::ioctl_arg(b::VHOST_GET_FEATURES_ARRAY, arg)
            .reader()
            .read()?;
        let words = UserPtr::from_addr(arg).wrapping_byte_add(8);
        let copied = count.min(WORDS as u64) as usize;
        let mut w = UserSlice::new(words, copied * 8).writer();
        for word in &self.features.words[..copied] {
            w.write(word)?;
        }
        // C's size_mul() saturates, and clear_user() then refuses the range.
        let rest = (count - copied as u64).saturating_mul(8);
        let rest = usize::try_from(rest).unwrap_or(usize::MAX);
        user::clear(words.wrapping_byte_add(copied * 8), rest)?;
        Ok(0)
    }

    /// `VHOST_SET_FEATURES`: one word, checked against what is offered.
    pub(crate) fn read_features(&self, arg: usize) -> Result<[u64; WORDS]> {
        let word: u64 = uapi::ioctl_arg(b::VHOST_SET_FEATURES, arg)
            .reader()
            .read()?;
        if word & !self.features.words[0] != 0 {
            return Err(errno::eopnotsupp());
        }
        let mut all = [0; WORDS];
        all[0] = word;
        Ok(all)
    }

    /// `VHOST_SET_FEATURES_ARRAY`: words past the known ones must be zero.
    pub(crate) fn read_features_array(&self, arg: usize) -> Result<[u64; WORDS]> {
        let count: u64 = uapi::ioctl_arg(b::VHOST_SET_FEATURES_ARRAY, arg)
            .reader()
            .read()?;
        let mut all = [0u64; WORDS];
        let copied = count.min(WORDS as u64) as usize;
        let words = UserPtr::from_addr(arg).wrapping_byte_add(8);
        let mut r = UserSlice::new(words, copied * 8).reader();
        for w in &mut all[..copied] {
            *w = r.read()?;
        }
        for i in copied as u64..count {
            let at = words.wrapping_byte_add((i as usize).wrapping_mul(8));
            let w: u64 = UserSlice::new(at, 8).reader().read()?;
            if w != 0 {
                return Err(errno::eopnotsupp());
            }
        }
        for (w, offered) in all.iter().zip(self.features.words.iter()) {
            if w & !offered != 0 {
                return Err(errno::eopnotsupp());
            }
        }
        Ok(all)
    }

    /// The common part of `vhost_net_set_features()`: the dirty log must be
    /// reachable, the IOTLB comes or goes, the queues take the features.
    /// `per_queue` sets the device's own per-queue values.
    pub(crate) fn set_features(
        &self,
        features: [u64; WORDS],
        mut per_queue: impl FnMut(&mut Vq<D>),
    ) -> Result {
        let inner = self.inner.lock();
        let has = |bit: u32| features[(bit / 64) as usize] & (1 << (bit % 64)) != 0;
        if has(LOG_ALL) && !self.memory_access_ok(inner.umem.as_deref(), true) {
            return Err(EFAULT);
        }
        let iotlb = has(b::VIRTIO_F_ACCESS_PLATFORM);
        if iotlb {
            self.init_iotlb()?;
        } else {
            self.clear_iotlb();
        }
        for q in self.vqs.iter() {
            let mut vq = q.vq.lock();
            vq.set_features(features, iotlb);
            per_queue(&mut vq);
        }
        Ok(())
    }

    /// `VHOST_GET_BACKEND_FEATURES`.
    pub(crate) fn get_backend_features(&self, arg: usize) -> Result<isize> {
        let mut w = uapi::ioctl_arg(b::VHOST_GET_BACKEND_FEATURES, arg).writer();
        w.write(&self.features.backend)?;
        Ok(0)
    }

    /// `VHOST_SET_BACKEND_FEATURES`: not owner-checked in C.
    pub(crate) fn set_backend_features(&self, arg: usize) -> Result<isize> {
        let f: u64 = uapi::ioctl_arg(b::VHOST_SET_BACKEND_FEATURES, arg)
            .reader()
            .read()?;
        if f & !self.features.backend != 0 {
            return Err(errno::eopnotsupp());
        }
        // C takes the device mutex for this.
        let _inner = self.inner.lock();
        self.set_iotlb_msg_v2(f & (1 << b::VHOST_BACKEND_F_IOTLB_MSG_V2) != 0);
        Ok(0)
    }

    /// `VHOST_SET_OWNER`: the calling process becomes the owner, and its
    /// worker is created.
    pub(crate) fn set_owner(
        &self,
        inner: &mut DevInner,
        handler: Arc<dyn WorkHandler>,
    ) -> Result<isize> {
        if inner.owner.is_some() {
            return Err(EBUSY);
        }
        // A process without an mm (a kernel thread) cannot own a device.
        let task = current!();
        let mm = task.mm().ok_or(EFAULT)?;
        let worker = Worker::new(handler, inner.fork_owner).map_err(|_| ENOMEM)?;
        inner.owner = Some(ARef::from(mm));
        *self.running.lock() = Some(worker.clone());
        inner.worker = Some(worker);
        Ok(0)
    }

    /// Whether work is queued for the device's worker and has not started
    /// (`vhost_vq_has_work()`): a busy-polling handler gives way to it.
    pub(crate) fn has_work(&self) -> bool {
        self.running.lock().as_ref().is_some_and(|w| w.has_work())
    }

    /// Queues `work` again, from the worker.
    pub(crate) fn requeue(&self, work: u64) {
        if let Some(w) = &*self.running.lock() {
            w.queue(work);
        }
    }

    /// Starts `poll` on `file` with the device's worker (`vhost_poll_start()`).
    pub(crate) fn start_poll(&self, poll: Pin<&FilePoll>, file: &File) -> Result {
        let worker = self.running.lock().clone();
        match worker {
            Some(w) => poll.start(file, &w),
            None => Ok(()),
        }
    }

    /// `vhost_dev_check_owner`: only the owner's address space may configure
    /// the device.
    pub(crate) fn check_owner(inner: &DevInner) -> Result {
        let task = current!();
        let caller = task.mm().map(|mm| mm.as_raw());
        match &inner.owner {
            Some(owner) if Some(owner.as_raw()) == caller => Ok(()),
            _ => Err(EPERM),
        }
    }

    /// Waits until the worker ran everything queued so far.
    pub(crate) fn flush(inner: &DevInner) {
        if let Some(w) = &inner.worker {
            w.flush();
        }
    }

    /// `vhost_dev_stop()`: no more kicks, and nothing left running.
    pub(crate) fn stop(&self, inner: &DevInner) {
        for q in self.vqs.iter() {
            q.kick.as_ref().stop();
        }
        Self::flush(inner);
    }

    /// `vhost_dev_cleanup()`: the backends must be gone already. Drops
    /// every eventfd, the memory table and the worker, and forgets the
    /// owner.
    pub(crate) fn cleanup(&self, inner: &mut DevInner) {
        for q in self.vqs.iter() {
            q.kick.as_ref().stop();
            let mut vq = q.vq.lock();
            vq.reset();
            vq.umem = None;
        }
        inner.log_ctx = None;
        inner.umem = None;
        self.cleanup_iotlb();
        *self.running.lock() = None;
        if let Some(w) = inner.worker.take() {
            w.stop();
        }
        inner.owner = None;
        self.wait.notify_all();
    }

    /// `vhost_dev_reset_owner_prepare()`: the empty memory table a reset
    /// leaves, allocated before anything is torn down, so that a reset
    /// that cannot have one changes nothing.
    pub(crate) fn reset_owner_prepare() -> Result<Arc<Table>> {
        Ok(Arc::new(Table::new(), GFP_KERNEL)?)
    }

    /// `vhost_dev_reset_owner()`: after cleanup, the empty memory table.
    pub(crate) fn reset_owner(&self, inner: &mut DevInner, empty: Arc<Table>) {
        self.cleanup(inner);
        inner.fork_owner = params::fork_from_owner_default();
        for q in self.vqs.iter() {
            q.vq.lock().umem = Some(empty.clone());
        }
        inner.umem = Some(empty);
    }

    /// `VHOST_SET_FORK_FROM_OWNER`, before an owner exists.
    fn set_fork_owner(inner: &mut DevInner, arg: usize) -> Result<isize> {
        if inner.owner.is_some() {
            return Err(EBUSY);
        }
        let v: u8 = uapi::ioctl_arg(b::VHOST_SET_FORK_FROM_OWNER, arg)
            .reader()
            .read()?;
        if v > 1 {
            return Err(EINVAL);
        }
        inner.fork_owner = v != 0;
        Ok(0)
    }

    /// `VHOST_GET_FORK_FROM_OWNER`.
    fn get_fork_owner(inner: &DevInner, arg: usize) -> Result<isize> {
        let v = u8::from(inner.fork_owner);
        uapi::ioctl_arg(b::VHOST_GET_FORK_FROM_OWNER, arg)
            .writer()
            .write(&v)?;
        Ok(0)
    }

    /// `VHOST_SET_LOG_BASE`.
    fn set_log_base(&self, arg: usize) -> Result<isize> {
        let p: u64 = uapi::ioctl_arg(b::VHOST_SET_LOG_BASE, arg)
            .reader()
            .read()?;
        let mut r = Ok(0);
        for q in self.vqs.iter() {
            let mut vq = q.vq.lock();
            // An inactive ring is checked when it is started.
            if !vq.log_ok(p) {
                r = Err(EFAULT);
            } else {
                vq.cfg.log_base = p;
            }
        }
        r
    }

    /// `VHOST_SET_LOG_FD`.
    fn set_log_fd(&self, inner: &mut DevInner, arg: usize) -> Result<isize> {
        let fd: i32 = uapi::ioctl_arg(b::VHOST_SET_LOG_FD, arg).reader().read()?;
        let ctx = if fd == -1 {
            None
        } else {
            Some(Arc::new(EventFd::from_fd(fd)?, GFP_KERNEL)?)
        };
        inner.log_ctx = ctx.clone();
        for q in self.vqs.iter() {
            q.vq.lock().log_ctx = ctx.clone();
        }
        Ok(0)
    }

    /// `vhost_dev_ioctl()`: `Ok(None)` for an ioctl it does not know
    /// (`-ENOIOCTLCMD`), which then goes to [`Dev::vring_ioctl`].
    pub(crate) fn dev_ioctl(
        &self,
        inner: &mut DevInner,
        cmd: u32,
        arg: usize,
    ) -> Result<Option<isize>> {
        match cmd {
            b::VHOST_SET_FORK_FROM_OWNER => return Self::set_fork_owner(inner, arg).map(Some),
            b::VHOST_GET_FORK_FROM_OWNER => return Self::get_fork_owner(inner, arg).map(Some),
            _ => {}
        }
        Self::check_owner(inner)?;
        match cmd {
            b::VHOST_SET_MEM_TABLE => self.set_mem_table(inner, arg).map(Some),
            b::VHOST_SET_LOG_BASE => self.set_log_base(arg).map(Some),
            b::VHOST_SET_LOG_FD => self.set_log_fd(inner, arg).map(Some),
            _ => Ok(None),
        }
    }
}
