// SPDX-License-Identifier: GPL-2.0

//! Polling a file on behalf of a worker (drivers/vhost/vhost.c:
//! `struct vhost_poll`): a wait queue entry on the file whose callback queues
//! a work item, as a kick eventfd or a backend socket becomes ready.
//!
//! C header: [`include/linux/poll.h`](srctree/include/linux/poll.h).

use crate::rvhost::{
    bindings as rb,
    worker::Worker, //
};
use core::{
    mem::offset_of,
    ptr, //
};
use kernel::{
    bindings,
    fs::File,
    new_mutex,
    prelude::*,
    sync::{
        aref::ARef,
        atomic::{
            Acquire,
            Atomic,
            Relaxed,
            Release, //
        },
        Arc,
        Mutex, //
    },
    types::Opaque,
};

/// Queues a work item on a [`Worker`] whenever a polled file signals one of
/// the events of a mask (C's `vhost_poll`).
///
/// The only constructor is a pin initialiser and the type is `!Unpin`, so a
/// `FilePoll` never moves, and its drop stops it: the methods take `&self`,
/// like those of the kernel's locks.
///
/// # Invariants
///
/// - `table` is a `poll_table` whose queueing function is [`poll_func`];
///   `wait` is a wait queue entry whose function is [`wake_fn`].
/// - `wqh` is null or the wait queue head `wait` is on. The file of `file`
///   is referenced while it is set, which keeps the head alive.
/// - `worker` is null or comes from `Arc::into_raw` and is owned by `self`;
///   it is set while `wait` is on a queue. It only changes while `file` is
///   locked and `wait` is on no queue.
#[pin_data(PinnedDrop)]
pub(crate) struct FilePoll {
    #[pin]
    table: Opaque<bindings::poll_table>,
    #[pin]
    wait: Opaque<bindings::wait_queue_entry>,
    mask: u32,
    work: u64,
    wqh: Atomic<*mut bindings::wait_queue_head>,
    worker: Atomic<*const Worker>,
    /// The polled file; the lock serialises [`FilePoll::start`] and
    /// [`FilePoll::stop`].
    #[pin]
    file: Mutex<Option<ARef<File>>>,
}

// SAFETY: `table` and `wait` are only used by `start()` and `stop()`, under the `file` lock,
// and by the kernel's wait queue code under the wait queue's lock; the rest are atomics and
// a kernel lock. The worker pointer is an `Arc<Worker>`, which is `Send + Sync`.
unsafe impl Send for FilePoll {}
// SAFETY: See `Send`.
unsafe impl Sync for FilePoll {}

impl FilePoll {
    /// A poll that queues `work` (a bit of the worker's work mask) when the
    /// file signals any event of `mask` (`EPOLLIN`, `EPOLLOUT`, ...);
    /// `vhost_poll_init()`.
    pub(crate) fn new(mask: u32, work: u64) -> impl PinInit<Self> {
        pin_init!(Self {
            table <- Opaque::ffi_init(|slot: *mut bindings::poll_table| {
                // SAFETY: `slot` is valid for writes.
                unsafe { rb::rvhost_init_poll_funcptr(slot, Some(poll_func)) }
            }),
            wait <- Opaque::ffi_init(|slot: *mut bindings::wait_queue_entry| {
                // SAFETY: `slot` is valid for writes.
                unsafe { rb::rvhost_init_waitqueue_func_entry(slot, Some(wake_fn)) }
            }),
            mask,
            work,
            wqh: Atomic::new(ptr::null_mut()),
            worker: Atomic::new(ptr::null()),
            file <- new_mutex!(None, "vhost_poll::file"),
        })
    }

    /// Starts polling `file` for `worker` (`vhost_poll_start()`): registers
    /// with the file's wait queue, and queues the work at once if the file is
    /// ready already. If the file reports `EPOLLERR`, polling stops again and
    /// this fails with `EINVAL`. Does nothing if already polling.
    ///
    /// The poll holds its own references on `file` and `worker` until
    /// [`FilePoll::stop`], so the caller may drop theirs at any time. Process
    /// context only.
    pub(crate) fn start(&self, file: &File, worker: &Arc<Worker>) -> Result {
        let mut polled = self.file.lock();
        if !self.wqh.load(Relaxed).is_null() {
            return Ok(());
        }
        // A previous start may have found nothing to wait on; it is not on a queue.
        let (old_file, old_worker) = self.release(&mut polled);
        *polled = Some(ARef::from(file));
        // INVARIANT: Set before `wait` can be put on a queue, owned by `self`.
        self.worker.store(Arc::into_raw(worker.clone()), Release);
        // SAFETY: `file` is a valid file and `table` a valid poll table, whose `poll_func`
        // puts `wait` on at most one queue and records it in `wqh`.
        let mask = unsafe { rb::rvhost_vfs_poll(file.as_ptr(), self.table.get()) };
        if mask != 0 {
            self.wakeup(mask);
        }
        let mut result = Ok(());
        let mut err_file = None;
        let mut err_worker = None;
        if mask & rb::EPOLLERR != 0 {
            (err_file, err_worker) = self.release(&mut polled);
            result = Err(EINVAL);
        }
        drop(polled);
        // Dropped unlocked: dropping a worker waits for its thread, which may be starting
        // or stopping a poll.
        drop((old_file, old_worker, err_file, err_worker));
        result
    }

    /// Stops polling (`vhost_poll_stop()`): after this returns the callback
    /// does not run any more. Queued work is not flushed. Idempotent;
    /// process context only.
    pub(crate) fn stop(&self) {
        let mut polled = self.file.lock();
        let released = self.release(&mut polled);
        drop(polled);
        drop(released);
    }

    /// Takes `wait` off its queue and returns the references that polling
    /// held, for the caller to drop once `file` is unlocked.
    fn release(
        &self,
        polled: &mut Option<ARef<File>>,
    ) -> (Option<ARef<File>>, Option<Arc<Worker>>) {
        let wqh = self.wqh.xchg(ptr::null_mut(), Relaxed);
        if !wqh.is_null() {
            // SAFETY: `wait` is on the queue of `wqh`, which the file of `polled` keeps alive.
            // Taking the queue's lock waits for a running callback; none runs after.
            unsafe { bindings::remove_wait_queue(wqh, self.wait.get()) };
        }
        let worker = self.worker.xchg(ptr::null(), Relaxed);
        let worker = if worker.is_null() {
            None
        } else {
            // SAFETY: `worker` came from `Arc::into_raw` and was owned by `self`; `wait` is on
            // no queue, so the callback does not use it any more.
            Some(unsafe { Arc::from_raw(worker) })
        };
        (polled.take(), worker)
    }

    /// `vhost_poll_wakeup()`: queues the work if `mask` has our events.
    fn wakeup(&self, mask: u32) {
        if mask & self.mask == 0 {
            return;
        }
        let worker = self.worker.load(Acquire);
        if !worker.is_null() {
            // SAFETY: `worker` is owned by `self` while `wait` is on a queue, and callers are
            // the callback of that queue or `start()` with `file` locked.
            unsafe { (*worker).queue(self.work) };
        }
    }
}

#[pinned_drop]
impl PinnedDrop for FilePoll {
    fn drop(self: Pin<&mut Self>) {
        self.stop();
    }
}

/// The poll table's queueing function (`vhost_poll_func()`), called by the
/// file's `poll` from [`FilePoll::start`].
///
/// # Safety
///
/// `pt` is the `table` of a pinned [`FilePoll`] whose `file` lock is held by
/// the caller's caller, and `wqh` a wait queue head that lives as long as
/// the file.
unsafe extern "C" fn poll_func(
    _file: *mut bindings::file,
    wqh: *mut bindings::wait_queue_head,
    pt: *mut bindings::poll_table,
) {
    // SAFETY: `pt` is the `table` field of a `FilePoll`; `Opaque` has its content's address.
    let this = unsafe { &*pt.byte_sub(offset_of!(FilePoll, table)).cast::<FilePoll>() };
    // A file with several queues: the first one is enough for the files vhost polls.
    if this.wqh.cmpxchg(ptr::null_mut(), wqh, Relaxed).is_ok() {
        // SAFETY: `wqh` is valid and `wait` is on no queue; `stop()` takes it off before
        // the file is released or `this` is dropped.
        unsafe { bindings::add_wait_queue(wqh, this.wait.get()) };
    }
}

/// The wait queue entry's function (`vhost_poll_wakeup()`); called with the
/// wait queue's lock held, interrupts possibly off.
///
/// # Safety
///
/// `wait` is the `wait` field of a pinned [`FilePoll`] and on a queue.
unsafe extern "C" fn wake_fn(
    wait: *mut bindings::wait_queue_entry,
    _mode: c_uint,
    _sync: c_int,
    key: *mut c_void,
) -> c_int {
    // SAFETY: `wait` is the `wait` field of a `FilePoll`, which is not dropped before it
    // is taken off the queue, and that waits for this callback.
    let this = unsafe { &*wait.byte_sub(offset_of!(FilePoll, wait)).cast::<FilePoll>() };
    // `key_to_poll()`: the events are the key's value.
    this.wakeup(key as usize as u32);
    0
}
