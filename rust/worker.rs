// SPDX-License-Identifier: GPL-2.0

//! The worker thread of a vhost device (drivers/vhost/vhost.c:
//! `struct vhost_worker`, kernel/vhost_task.c).
//!
//! Work items are bits of a `u64`: [`Worker::queue`] sets them, lock-free and
//! from any context, and the worker thread takes all pending bits at once and
//! hands them to [`WorkHandler::run`]. Bit 63 ([`FLUSH`]) is the worker's own.
//!
//! As in C, the thread is either a vhost_task, a thread of the owner process
//! (`fork_from_owner`, the default), or a kthread that borrows the owner's mm
//! and cgroups. Either way [`WorkHandler::run`] runs in the owner's address
//! space, so user memory of the owner can be accessed there.
//!
//! C header: [`include/linux/sched/vhost_task.h`](srctree/include/linux/sched/vhost_task.h).

use crate::rvhost::bindings as rb;
use core::{
    cell::UnsafeCell,
    ptr::{
        self,
        NonNull, //
    },
};
use kernel::{
    bindings, current,
    error::from_err_ptr,
    mm::MmWithUser,
    new_condvar, new_mutex,
    prelude::*,
    str::CString,
    sync::{
        aref::ARef,
        atomic::{
            Acquire,
            Atomic,
            Full,
            Relaxed,
            Release, //
        },
        rcu,
        Arc,
        Completion,
        CondVar,
        Mutex, //
    },
    task::Task,
};

/// The bit of the work mask that [`Worker::flush`] uses; never passed to
/// [`WorkHandler::run`].
pub(crate) const FLUSH: u64 = 1 << 63;

/// What the worker runs.
pub(crate) trait WorkHandler: Send + Sync {
    /// Runs the work items in `work` (never 0), the bits queued since the
    /// last call, on the worker thread, in the owner's address space.
    ///
    /// Must not call [`Worker::flush`] or [`Worker::stop`] of its own worker,
    /// nor drop the last reference to it.
    fn run(&self, work: u64);
}

/// The thread of a worker.
enum Thread {
    /// A vhost_task, from `vhost_task_create()`.
    Task(NonNull<rb::vhost_task>),
    /// A kthread, with a task reference of ours.
    Kthread(NonNull<bindings::task_struct>),
}

// SAFETY: Both pointers may be used to stop the thread from any thread.
unsafe impl Send for Thread {}

/// What the thread uses while it runs.
struct ThreadData {
    handler: Option<Arc<dyn WorkHandler>>,
    /// kthread mode: a user reference on the owner's mm, which the thread
    /// adopts with `kthread_use_mm()`.
    mm: Option<ARef<MmWithUser>>,
    /// kthread mode: the owner, whose cgroups the thread joins; valid until
    /// `started` is completed.
    owner: *mut bindings::task_struct,
}

struct FlushState {
    /// Flush requests up to this number have been served.
    done: u64,
    /// The thread is gone (killed or stopped): nothing will be served.
    ended: bool,
}

/// A vhost worker: one thread that runs a [`WorkHandler`].
///
/// # Invariants
///
/// - `wake` is null or the thread of `control` (a `vhost_task` or a
///   `task_struct`, according to `kthread`); once null it stays null. It is
///   set to null, followed by an RCU grace period, before the thread is
///   stopped, and when the thread is killed; readers only use it inside an
///   RCU read-side section.
/// - `data` is only read by the thread, while it runs, and by
///   [`Worker::new`] before the thread is started; it is only written by
///   [`Worker::stop`], with `control` locked, after the thread was reaped.
#[pin_data(PinnedDrop)]
pub(crate) struct Worker {
    /// Queued work bits, [`FLUSH`] included.
    pending: Atomic<u64>,
    /// Number of flush requests made.
    flush_req: Atomic<u64>,
    /// What [`Worker::queue`] wakes.
    wake: Atomic<*mut c_void>,
    kthread: bool,
    data: UnsafeCell<ThreadData>,
    /// The thread, until it is stopped.
    #[pin]
    control: Mutex<Option<Thread>>,
    #[pin]
    flush: Mutex<FlushState>,
    #[pin]
    flushed: CondVar,
    /// kthread mode: completed once the thread has joined the owner's
    /// cgroups, with the result in `attach`.
    #[pin]
    started: Completion,
    attach: Atomic<i32>,
}

// SAFETY: `data` is only used as the invariants say: by the thread while it runs, and by
// `stop()` after the thread is gone, with `control` serialising `stop()` calls. The handler
// is `Send + Sync`, `ARef<MmWithUser>` is `Send + Sync`, and `owner` is only read by the
// thread while `new()` waits. Everything else is atomics and kernel locks.
unsafe impl Send for Worker {}
// SAFETY: See `Send`.
unsafe impl Sync for Worker {}

impl Worker {
    /// Creates and starts the worker of a device, in the context of the
    /// owner (`VHOST_SET_OWNER`): a vhost_task named `vhost-<pid>` if
    /// `fork_from_owner`, else a kthread of that name which uses the owner's
    /// mm and joins its cgroups (C's kthread mode).
    ///
    /// The errors are the thread creation's (C's `VHOST_SET_OWNER` reports
    /// any of them as `ENOMEM`); `EFAULT` if the caller has no mm.
    pub(crate) fn new(handler: Arc<dyn WorkHandler>, fork_from_owner: bool) -> Result<Arc<Self>> {
        let task = current!();
        let mm = if fork_from_owner {
            None
        } else {
            Some(ARef::from(task.mm().ok_or(EFAULT)?))
        };
        let name = CString::try_from_fmt(fmt!("vhost-{}", task.pid()))?;
        let worker = Arc::pin_init(
            pin_init!(Self {
                pending: Atomic::new(0),
                flush_req: Atomic::new(0),
                wake: Atomic::new(ptr::null_mut()),
                kthread: !fork_from_owner,
                data: UnsafeCell::new(ThreadData {
                    handler: Some(handler),
                    mm,
                    owner: task.as_ptr(),
                }),
                control <- new_mutex!(None, "vhost_worker::control"),
                flush <- new_mutex!(FlushState { done: 0, ended: false }, "vhost_worker::flush"),
                flushed <- new_condvar!("vhost_worker::flushed"),
                started <- Completion::new(),
                attach: Atomic::new(0),
            }),
            GFP_KERNEL_ACCOUNT,
        )?;
        if fork_from_owner {
            worker.start_task(&name)?;
        } else {
            worker.start_kthread(&name)?;
        }
        Ok(worker)
    }

    fn as_data(&self) -> *mut c_void {
        ptr::from_ref(self).cast_mut().cast()
    }

    /// `vhost_task_worker_create()`.
    fn start_task(&self, name: &CStr) -> Result {
        // SAFETY: The callbacks take `self.as_data()`, which stays valid until the task is
        // reaped: `stop()` reaps it, and runs at the latest when the worker is dropped.
        // `name` is a string that `copy_process()` copies.
        let vtsk = from_err_ptr(unsafe {
            rb::vhost_task_create(
                Some(task_fn),
                Some(task_killed),
                self.as_data(),
                name.as_char_ptr(),
            )
        })?;
        // SAFETY: `vhost_task_create()` succeeded.
        let vtsk = unsafe { NonNull::new_unchecked(vtsk) };
        *self.control.lock() = Some(Thread::Task(vtsk));
        // SAFETY: `vtsk` was created above and is started once.
        unsafe { rb::vhost_task_start(vtsk.as_ptr()) };
        // INVARIANT: `wake` is the thread of `control`.
        self.wake.store(vtsk.as_ptr().cast(), Release);
        Ok(())
    }

    /// `vhost_kthread_worker_create()` and `vhost_attach_task_to_cgroups()`.
    fn start_kthread(&self, name: &CStr) -> Result {
        // SAFETY: `kthread_fn` takes `self.as_data()`, which stays valid until the kthread is
        // reaped: `stop()` reaps it, and runs at the latest when the worker is dropped.
        let task = from_err_ptr(unsafe {
            rb::rvhost_kthread_create(Some(kthread_fn), self.as_data(), name.as_char_ptr())
        })?;
        // SAFETY: `kthread_create()` succeeded; the task cannot exit before `kthread_stop()`.
        // Our own reference is put by `kthread_stop_put()` in `stop()`.
        unsafe { bindings::get_task_struct(task) };
        // SAFETY: Just created, so not null.
        let task = unsafe { NonNull::new_unchecked(task) };
        *self.control.lock() = Some(Thread::Kthread(task));
        // SAFETY: `task` is a valid task.
        unsafe { bindings::wake_up_process(task.as_ptr()) };
        // The thread has adopted the mm and tried to join the owner's cgroups when this
        // returns; `owner` (the current task) is valid until then.
        self.started.wait_for_completion();
        let ret = self.attach.load(Relaxed);
        if ret != 0 {
            self.stop();
            return Err(Error::from_errno(ret));
        }
        // INVARIANT: `wake` is the thread of `control`.
        self.wake.store(task.as_ptr().cast(), Release);
        Ok(())
    }

    /// Queues the work items `work` (bits; not [`FLUSH`]) and wakes the
    /// worker if nothing was pending. Callable from any context, including a
    /// wait queue callback with a spinlock held and interrupts off.
    ///
    /// Returns `false` and does nothing once the worker was killed or
    /// stopped (C's `vhost_vq_work_queue()` failing).
    pub(crate) fn queue(&self, work: u64) -> bool {
        let _rcu = rcu::read_lock();
        let target = self.wake.load(Acquire);
        if target.is_null() {
            return false;
        }
        if self.fetch_or(work) == 0 {
            // SAFETY: `target` is the thread by the type invariants, and it is not reaped
            // before an RCU grace period after `wake` was cleared, which has not ended: we
            // are inside a read-side section that saw `wake` set.
            unsafe {
                if self.kthread {
                    bindings::wake_up_process(target.cast());
                } else {
                    rb::vhost_task_wake(target.cast());
                }
            }
        }
        true
    }

    /// Whether work is queued and has not started to run (C's
    /// `vhost_vq_has_work()`, the hint of busy polling).
    pub(crate) fn has_work(&self) -> bool {
        self.pending.load(Relaxed) != 0
    }

    /// Returns once all the work queued before the call has run
    /// (`vhost_worker_flush()`), or at once if the worker was killed or
    /// stopped. Must not be called with a lock held that
    /// [`WorkHandler::run`] takes.
    pub(crate) fn flush(&self) {
        let target = self.flush_req.fetch_add(1, Full) + 1;
        if !self.queue(FLUSH) {
            return;
        }
        let mut state = self.flush.lock();
        while state.done < target && !state.ended {
            self.flushed.wait(&mut state);
        }
    }

    /// Stops the thread and waits until it is gone (`vhost_task_stop()`,
    /// `kthread_stop()`), then drops the handler. Work still queued does not
    /// run: flush first. Idempotent; the drop of the worker calls it too.
    ///
    /// Must not be called with a lock held that [`WorkHandler::run`] takes
    /// (if the owner was killed, the thread runs the work left on its way
    /// out), nor from the handler.
    pub(crate) fn stop(&self) {
        let mut control = self.control.lock();
        let Some(thread) = control.take() else {
            return;
        };
        // INVARIANT: `wake` is cleared before the grace period that precedes the reaping.
        self.wake.store(ptr::null_mut(), Release);
        // SAFETY: No locks are held that a grace period could wait for.
        unsafe { bindings::synchronize_rcu() };
        match thread {
            // SAFETY: The task was created and started by `start_task()` and is stopped
            // once, here; this frees it.
            Thread::Task(vtsk) => unsafe { rb::vhost_task_stop(vtsk.as_ptr()) },
            // SAFETY: The kthread came from `kthread_create()`, only exits once asked to,
            // and we own a reference, which this puts.
            Thread::Kthread(task) => unsafe {
                bindings::kthread_stop_put(task.as_ptr());
            },
        }
        // SAFETY: The thread is gone and `control` is locked, so nothing else accesses
        // `data`, by the type invariants.
        let data = unsafe { &mut *self.data.get() };
        let handler = data.handler.take();
        let mm = data.mm.take();
        drop(control);
        self.end_flushes();
        drop(handler);
        drop(mm);
    }

    /// An atomic `fetch_or` on the pending bits, with full ordering: the
    /// worker sees what the caller wrote before queueing.
    fn fetch_or(&self, bits: u64) -> u64 {
        let mut old = self.pending.load(Relaxed);
        loop {
            match self.pending.cmpxchg(old, old | bits, Full) {
                Ok(old) => return old,
                Err(current) => old = current,
            }
        }
    }

    /// On the thread: runs the pending work, if any; returns whether there
    /// was some (`vhost_run_work_list()`).
    fn run_once(&self) -> bool {
        // Read before taking the bits: every flush request counted here was
        // made after its work was queued, so that work is in this batch or
        // an earlier one.
        let requested = self.flush_req.load(Acquire);
        let bits = self.pending.xchg(0, Full);
        if bits == 0 {
            return false;
        }
        // SAFETY: Called on the worker thread, which may run.
        unsafe { rb::rvhost_set_current_running() };
        let work = bits & !FLUSH;
        if work != 0 {
            // SAFETY: The thread may read `data` while it runs, by the type invariants.
            if let Some(handler) = unsafe { &(*self.data.get()).handler } {
                handler.run(work);
            }
        }
        if bits & FLUSH != 0 {
            self.flushed_up_to(requested);
        }
        // SAFETY: The thread runs in process context without locks held.
        unsafe { rb::rvhost_cond_resched() };
        true
    }

    /// On the thread: the requests up to `requested` are served. Requests
    /// made since, whose [`FLUSH`] bit this batch may have taken, get it back.
    fn flushed_up_to(&self, requested: u64) {
        {
            let mut state = self.flush.lock();
            if requested > state.done {
                state.done = requested;
            }
        }
        self.flushed.notify_all();
        if self.flush_req.load(Acquire) > requested {
            // The thread runs again before it sleeps: `run_once()` returned true.
            self.fetch_or(FLUSH);
        }
    }

    /// Releases the flushers: the thread is gone.
    fn end_flushes(&self) {
        self.flush.lock().ended = true;
        self.flushed.notify_all();
    }
}

#[pinned_drop]
impl PinnedDrop for Worker {
    fn drop(self: Pin<&mut Self>) {
        self.stop();
    }
}

/// The `fn` of the vhost_task: called in a loop by `vhost_task_fn()`, in
/// `TASK_INTERRUPTIBLE`; it sleeps when this returns false.
///
/// # Safety
///
/// `data` is the `Worker` that created the task, valid until the task is reaped.
unsafe extern "C" fn task_fn(data: *mut c_void) -> bool {
    // SAFETY: By the function's safety requirements.
    let worker = unsafe { &*data.cast::<Worker>() };
    worker.run_once()
}

/// The `handle_sigkill` of the vhost_task (`vhost_worker_killed()`): the
/// owner got a fatal signal and the task is exiting, without
/// [`Worker::stop`] having been called.
///
/// # Safety
///
/// `data` is the `Worker` that created the task, valid until the task is reaped.
unsafe extern "C" fn task_killed(data: *mut c_void) {
    // SAFETY: By the function's safety requirements.
    let worker = unsafe { &*data.cast::<Worker>() };
    // INVARIANT: Cleared for good; `stop()` still reaps the task.
    worker.wake.store(ptr::null_mut(), Release);
    // After the grace period no `queue()` is between its test of `wake` and
    // setting bits, so the bits seen below are the last ones.
    // SAFETY: Process context, no locks held.
    unsafe { bindings::synchronize_rcu() };
    // As C, run what was queued before the kill, flushes included.
    while worker.run_once() {}
    worker.end_flushes();
}

/// The kthread of C's kthread mode (`vhost_run_work_kthread_list()`).
///
/// # Safety
///
/// `data` is the `Worker` that created the kthread, valid until it is reaped.
unsafe extern "C" fn kthread_fn(data: *mut c_void) -> c_int {
    // SAFETY: By the function's safety requirements.
    let worker = unsafe { &*data.cast::<Worker>() };
    // SAFETY: The thread may read `data` while it runs, by the type invariants.
    let (mm, owner) = unsafe {
        let data = &*worker.data.get();
        (data.mm.as_ref().map(|mm| mm.as_raw()), data.owner)
    };
    // `new()` always gives a kthread worker an mm.
    if let Some(mm) = mm {
        // SAFETY: The worker holds a user reference on `mm` until the kthread is reaped;
        // this kthread has no mm of its own.
        unsafe { bindings::kthread_use_mm(mm) };
    }
    // SAFETY: `owner` is valid until `started` is completed; the current task is valid.
    let ret = unsafe { rb::rvhost_cgroup_attach_task_all(owner, Task::current_raw()) };
    worker.attach.store(ret, Relaxed);
    worker.started.complete_all();
    loop {
        // SAFETY: On our own thread; pairs with the waker's test of the bits.
        unsafe { rb::rvhost_set_current_interruptible() };
        // SAFETY: Called from a kthread.
        if unsafe { bindings::kthread_should_stop() } {
            // SAFETY: On our own thread.
            unsafe { rb::rvhost_set_current_running() };
            break;
        }
        if !worker.run_once() {
            // SAFETY: Process context, no locks held.
            unsafe { bindings::schedule() };
        }
    }
    if let Some(mm) = mm {
        // SAFETY: Adopted above, still referenced by the worker.
        unsafe { bindings::kthread_unuse_mm(mm) };
    }
    0
}
