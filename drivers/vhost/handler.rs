// SPDX-License-Identifier: GPL-2.0

//! What every queue handler does around and between its own steps, as the
//! helpers of drivers/vhost/vhost.c that net.c and vsock.c both call:
//! a handler run ([`Dev::run_queue`]), taking a chain and translating its
//! buffers ([`get_vq_desc`]), putting chains back ([`discard_vq_desc`]),
//! publishing used entries and interrupting the guest ([`publish`]), and
//! asking it to kick ([`rearm`]); and why a handler stops ([`Stop`]).

use core::ops::ControlFlow;

use crate::{
    addr_space::Prefetch,
    dev::Dev,
    guest::Guest,
    iotlb::{
        ACCESS_RO,
        ACCESS_WO, //
    },
    ring::{
        Chain,
        Error as RingError,
        Fault,
        Head,
        Mark, //
    },
    rvhost::{
        eventfd::EventFd,
        socket::iov::UserIovec, //
    },
    vq::{
        QueueData,
        Ring, //
    },
};
use kernel::{
    alloc::KVec,
    prelude::*, //
};

/// `UIO_MAXIOV`: at most this many pieces per chain.
pub(crate) const MAXIOV: usize = kernel::bindings::UIO_MAXIOV as usize;

/// What the handlers need per packet, allocated once per queue.
pub(crate) struct Scratch {
    /// The user pieces of the packet being moved.
    pub(crate) iov: KVec<UserIovec>,
    /// RX: the chains of one packet and their lengths.
    pub(crate) heads: KVec<(Head, u32)>,
    /// RX with the dirty log: the ranges of the buffers, for
    /// [`Guest::log_received`] (guest ranges, or host ranges with an IOTLB).
    pub(crate) log: KVec<(u64, u64)>,
}

/// A handler run: how to interrupt the guest, and how the run ended.
pub(crate) struct Run<'a> {
    /// The queue's call eventfd.
    pub(crate) call: Option<&'a EventFd>,
    /// The run failed: signal the error eventfd (`vq_err()`).
    pub(crate) err: bool,
    /// The queue gave up the worker for fairness: run it again.
    pub(crate) requeue: bool,
    /// Wait for the socket: TX full, or RX drained.
    pub(crate) poll_sock: bool,
    /// Used entries could not be written: RX stops taking packets it
    /// could not give back (C goes on, and loses them).
    pub(crate) used_failed: bool,
    /// The queue's `VHOST_SET_VRING_BUSYLOOP_TIMEOUT`, for this run.
    pub(crate) busyloop: u32,
}

/// Why a handler stops before it is done (C's `vq_err()` and a `break`):
/// the queue waits for the next kick, userspace hears of it on the error
/// eventfd ([`Stop::signals_err`]).
#[derive(Clone, Copy)]
pub(crate) enum Stop {
    /// The ring layer failed: the guest broke its ring, or an IOTLB miss
    /// on it.
    Ring(RingError),
    /// A buffer the memory table or IOTLB did not translate
    /// (`translate_desc()`).
    Buffer(Fault),
    /// A chain of the wrong shape for the queue: TX with device-writable
    /// buffers or nothing past the header (`get_tx_bufs()`), RX with
    /// readable ones or no writable ones (`get_rx_bufs()`).
    Format,
    /// vhost's header or `num_buffers` could not be written into the
    /// buffers (`handle_rx()`).
    Header,
    /// tun refused a batch of TX packets (`vhost_tx_batch()`).
    Batch,
    /// No memory for a packet's bookkeeping.
    NoMem,
}

impl Stop {
    /// Whether userspace hears of it on the error eventfd: everything but
    /// an IOTLB miss (C's `-EAGAIN`), which userspace hears of as a miss,
    /// and after whose answer the queue runs again.
    pub(crate) fn signals_err(self) -> bool {
        !matches!(
            self,
            Stop::Ring(RingError::Translation {
                fault: Fault::Miss,
                ..
            }) | Stop::Buffer(Fault::Miss)
        )
    }
}

impl From<RingError> for Stop {
    fn from(e: RingError) -> Self {
        Stop::Ring(e)
    }
}

/// A chain [`get_vq_desc`] took, its buffers translated.
pub(crate) struct ChainBufs {
    pub(crate) head: Head,
    /// Where it starts, to put it back.
    pub(crate) start: Mark,
    /// Pieces its device-readable and device-writable buffers made.
    pub(crate) readable: usize,
    pub(crate) writable: usize,
    /// Bytes of all its buffers.
    pub(crate) len: u64,
}

impl<'a> Run<'a> {
    pub(crate) fn new(call: Option<&'a EventFd>) -> Self {
        Self {
            call,
            err: false,
            requeue: false,
            poll_sock: false,
            used_failed: false,
            busyloop: 0,
        }
    }

    /// Records why the handler stops, for the error eventfd.
    pub(crate) fn fail(&mut self, stop: Stop) {
        if stop.signals_err() {
            self.err = true;
        }
    }
}

/// `!vhost_vq_avail_empty()`: whether the guest made chains available. An
/// avail index that cannot be read counts as chains (the handler meets the
/// error again), and is reported through `failed`, as C's `vq_err()` in
/// `vhost_get_avail_idx()`.
pub(crate) fn has_avail(
    ring: &mut Ring,
    guest: &Guest<'_>,
    failed: &mut dyn FnMut(RingError),
) -> bool {
    match ring.is_empty(guest) {
        Ok(empty) => !empty,
        Err(e) => {
            failed(e);
            true
        }
    }
}

/// Publishes the used entries and interrupts the guest if it asked to
/// (`vhost_net_signal_used()`).
pub(crate) fn publish(ring: &mut Ring, guest: &Guest<'_>, run: &mut Run<'_>) {
    // Also when the ring published on its own (its buffer full, or an
    // in-order group a ring long): C decides on every used chain.
    if ring.used_pending() == 0 && !ring.used_undecided() {
        return;
    }
    if let Err(e) = ring.flush_used(guest) {
        run.fail(e.into());
        run.used_failed = true;
        return;
    }
    // C's `vhost_notify()`: a guest whose flags or event index cannot
    // be read is interrupted anyway, and the error signalled.
    let notify = ring.need_notify(guest).unwrap_or_else(|e| {
        run.fail(e.into());
        true
    });
    if notify {
        if let Some(call) = run.call {
            call.signal();
        }
    }
}

/// The guest made nothing more available: ask it to kick
/// (`vhost_enable_notify()`). `Continue` when chains came meanwhile,
/// with notifications off again: the handler goes on. Else it stops,
/// a failure recorded in `run`.
pub(crate) fn rearm(ring: &mut Ring, guest: &Guest<'_>, run: &mut Run<'_>) -> ControlFlow<()> {
    match ring.enable_notify(guest) {
        Ok(true) => {
            // Reported, and the handler goes on, as C's
            // `vhost_disable_notify()`.
            if let Err(e) = ring.disable_notify(guest) {
                run.fail(e.into());
            }
            ControlFlow::Continue(())
        }
        Ok(false) => ControlFlow::Break(()),
        // C's `vhost_enable_notify()` treats its errors as nothing new.
        Err(e) => {
            run.fail(e.into());
            ControlFlow::Break(())
        }
    }
}

/// `vhost_discard_vq_desc()`: puts back the chains taken since `mark`.
/// C's cannot fail. [`Ring::rewind`] refuses a stale mark, which one
/// taken in this handler run (under the queue's lock, so with no
/// configuration change since) is only if the chains taken since span
/// more than the ring: a guest that made buffers in flight available
/// again. That ring is broken, and the queue stops as for any other.
pub(crate) fn discard_vq_desc(ring: &mut Ring, mark: Mark) -> Result<(), Stop> {
    ring.rewind(mark).map_err(Stop::Ring)
}

/// `vhost_get_vq_desc_n()`, of both handlers: takes the next chain and
/// translates every buffer of it ([`translate_chain`]), the
/// pieces appended to `buf.iov`, and with `log` what the dirty log
/// needs appended to `buf.log`. `Ok(None)` when the guest made nothing
/// more available. A chain that does not translate is put back, as C
/// leaves it in the ring.
pub(crate) fn get_vq_desc(
    ring: &mut Ring,
    guest: &Guest<'_>,
    buf: &mut Scratch,
    log: bool,
) -> Result<Option<ChainBufs>, Stop> {
    let Some(chain) = ring.next_chain(guest)? else {
        return Ok(None);
    };
    let (head, start) = (chain.head(), chain.start());
    let len = chain.readable_len() + chain.writable_len();
    let pieces = translate_chain(&chain, guest, buf, log);
    drop(chain);
    match pieces {
        Ok((readable, writable)) => Ok(Some(ChainBufs {
            head,
            start,
            readable,
            writable,
            len,
        })),
        Err(stop) => {
            discard_vq_desc(ring, start)?;
            Err(stop)
        }
    }
}

/// `translate_desc()` for every buffer of `chain`, appended to
/// `buf.iov`, and with `log` their dirty-log ranges to `buf.log`: how
/// many pieces the readable and the writable buffers made (C's `out`
/// and `in`: an empty buffer makes none).
fn translate_chain(
    chain: &Chain<'_>,
    guest: &Guest<'_>,
    buf: &mut Scratch,
    log: bool,
) -> Result<(usize, usize), Stop> {
    let seg = buf.iov.len();
    let (mut readable, mut writable) = (0, 0);
    for d in chain.descs() {
        let (access, count) = if d.is_write() {
            (ACCESS_WO, &mut writable)
        } else {
            (ACCESS_RO, &mut readable)
        };
        let before = buf.iov.len();
        guest
            .translate(d.addr, d.len, access, &mut buf.iov, MAXIOV)
            .map_err(Stop::Buffer)?;
        *count += buf.iov.len() - before;
    }
    if log {
        log_ranges(chain, guest, buf, seg).map_err(|_| Stop::NoMem)?;
    }
    Ok((readable, writable))
}

/// What the dirty log needs of a chain just translated into
/// `buf.iov[seg..]`: its buffers (`struct vhost_log`), or with an
/// IOTLB the host pieces they were translated to.
fn log_ranges(chain: &Chain<'_>, guest: &Guest<'_>, buf: &mut Scratch, seg: usize) -> Result {
    if guest.logs_by_host_address() {
        for v in buf.iov.get(seg..).unwrap_or(&[]) {
            buf.log.push((v.base as u64, v.len as u64), GFP_KERNEL)?;
        }
    } else {
        for d in chain.descs() {
            buf.log.push((d.addr, u64::from(d.len)), GFP_KERNEL)?;
        }
    }
    Ok(())
}

impl<D: QueueData> Dev<D> {
    /// What runs around every handler: the queue lock, the IOTLB prefetch,
    /// notifications off, then after `handler` the used entries published,
    /// errors and misses reported, and the queue (work bit `idx`) requeued
    /// when it gave up the worker for fairness. Nothing runs without a
    /// backend or a started ring.
    pub(crate) fn run_queue(
        &self,
        idx: usize,
        handler: impl FnOnce(&mut Ring, &Guest<'_>, &mut D, &mut Run<'_>),
    ) {
        let mut guard = self.vqs[idx].vq.lock();
        let vq = &mut *guard;
        if !vq.active() || !vq.ring.is_ready() {
            return;
        }
        let tlbg = self.lock_tlb();
        let tlb = tlbg.iotlb.as_ref();
        let busyloop = vq.busyloop_timeout;
        let prefetch = vq.prefetch(tlb);
        let (ring, guest, data, call) = vq.split(tlb);
        let mut run = Run::new(call);
        run.busyloop = busyloop;
        match prefetch {
            Prefetch::Ready => {
                // C's `vhost_disable_notify()` reports a failure and goes
                // on.
                if let Err(e) = ring.disable_notify(&guest) {
                    run.fail(e.into());
                }
                handler(ring, &guest, data, &mut run);
            }
            // A backend's own wakeup stays on, as in C, where
            // `vq_meta_prefetch()` failing returns before it is turned off.
            Prefetch::Miss { iova, perm } => guest.record_miss(iova, perm),
            // No rings yet, or a ring mapped without the access it needs:
            // nothing to do until userspace changes that.
            Prefetch::Unset | Prefetch::Denied => {}
        }
        publish(ring, &guest, &mut run);
        let (miss, logged) = (guest.miss(), guest.logged());
        let (err, requeue) = (run.err || guest.ring_missed(), run.requeue);
        drop(guest);
        if err {
            // `vq_err()`: the queue stops until the next kick.
            vq.signal_err();
        }
        if logged {
            vq.signal_log();
        }
        drop(tlbg);
        drop(guard);
        if let Some((iova, perm)) = miss {
            self.report_miss(idx, iova, perm);
        }
        if requeue {
            self.requeue(1 << idx);
        }
    }
}
