// SPDX-License-Identifier: GPL-2.0

//! Busy polling: a worker spinning a bounded time for more work instead of
//! sleeping (`vhost_net_busy_poll()`, `VHOST_SET_VRING_BUSYLOOP_TIMEOUT`).

use crate::rvhost::bindings as rb;
use core::marker::PhantomData;
use kernel::processor::cpu_relax;

/// A bounded spin on the current CPU.
///
/// Migration is disabled while it lives, so that the clock it reads is the
/// one it started with; it is `!Send` for the same reason.
///
/// # Invariants
///
/// `migrate_disable()` was called when it was made and `migrate_enable()`
/// is called when it is dropped, on the same task.
pub(crate) struct BusyLoop {
    end: kernel::ffi::c_ulong,
    _not_send: PhantomData<*mut ()>,
}

impl BusyLoop {
    /// Starts a spin of about `timeout` microseconds.
    pub(crate) fn start(timeout: u32) -> Self {
        // SAFETY: Paired with `migrate_enable()` in `drop`, on this task.
        unsafe { rb::rvhost_migrate_disable() };
        // SAFETY: Reads the local clock; no requirements.
        let now = unsafe { rb::rvhost_busy_clock() };
        // INVARIANT: Migration was just disabled.
        Self {
            end: now.wrapping_add(timeout as kernel::ffi::c_ulong),
            _not_send: PhantomData,
        }
    }

    /// Whether the spin may go on: time left, and nothing else (rescheduling,
    /// a signal) waits for the task (`vhost_can_busy_poll()`).
    pub(crate) fn may_spin(&self) -> bool {
        // SAFETY: Reads the clock and the current task's flags; no requirements.
        unsafe { rb::rvhost_can_busy_poll(self.end) }
    }

    /// One spin of the loop (`cpu_relax()`).
    pub(crate) fn relax(&self) {
        cpu_relax();
    }
}

impl Drop for BusyLoop {
    fn drop(&mut self) {
        // SAFETY: By the type invariants, migration was disabled by `start` on this task.
        unsafe { rb::rvhost_migrate_enable() };
    }
}
