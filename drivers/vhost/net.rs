// SPDX-License-Identifier: GPL-2.0

//! `/dev/vhost-net`: the virtio-net device (drivers/vhost/net.c).
//!
//! Queue 0 receives (the socket's packets go into the guest's buffers),
//! queue 1 transmits. The worker runs [`Net::handle_tx`] and
//! [`Net::handle_rx`] when the guest kicks or the socket has room or data.

use crate::{
    dev::{
        Dev,
        DevInner, //
    },
    features::{
        Features,
        WORDS, //
    },
    guest::Guest,
    iotlb::{
        ACCESS_RO,
        ACCESS_WO, //
    },
    mem::Prefetch,
    net_hdr,
    ring::{
        Chain,
        Error as RingError,
        Fault,
        Head,
        Mark,
        Weight, //
    },
    rvhost::{
        bindings as b,
        busy::BusyLoop,
        errno,
        eventfd::EventFd,
        miscdev::MiscFile,
        poll::FilePoll,
        socket::{
            backend::NetBackend,
            iov::UserIovec,
            rx_batch::RxBatch,
            tx_batch::TxBatch,
            VHOST_NET_BATCH, //
        },
        uapi,
        worker::WorkHandler,
    },
    vq::{
        QueueData,
        Ring, //
    },
};
use kernel::{
    alloc::KVec,
    fs::File,
    iov::{
        IovIterDest,
        IovIterSource, //
    },
    prelude::*,
    sync::{
        poll::PollTable,
        Arc,
        ArcBorrow, //
    },
    uaccess::{
        UserPtr,
        UserSlice, //
    },
};

/// Queue indices (`VHOST_NET_VQ_RX`, `VHOST_NET_VQ_TX`).
const RX: usize = 0;
const TX: usize = 1;

/// Work bits: the kicks are bits 0 and 1 (the queue index, see
/// [`Dev::new`]); the sockets' readiness comes after.
const WORK_RX_KICK: u64 = 1 << RX;
const WORK_TX_KICK: u64 = 1 << TX;
const WORK_RX_SOCK: u64 = 1 << 2;
const WORK_TX_SOCK: u64 = 1 << 3;

/// `EPOLLIN` and `EPOLLOUT`.
const EPOLLIN: u32 = b::EPOLLIN;
const EPOLLOUT: u32 = b::EPOLLOUT;

/// A queue gives up the worker after this many bytes (`VHOST_NET_WEIGHT`)
/// or packets (`VHOST_NET_PKT_WEIGHT`), so that the other queue and other
/// devices are not starved.
const WEIGHT: usize = 0x80000;
const PKT_WEIGHT: usize = 256;

/// `UIO_MAXIOV`: at most this many pieces per packet.
const MAXIOV: usize = kernel::bindings::UIO_MAXIOV as usize;

/// `VHOST_NET_BATCH`: used entries are published (and the guest maybe
/// interrupted) every this many chains; in order, each such batch of
/// transmitted chains is one used entry.
const BATCH: usize = VHOST_NET_BATCH;

/// `sizeof(struct virtio_net_hdr)`: what vhost writes itself on receive.
const HDR_LEN: usize = core::mem::size_of::<b::virtio_net_hdr>();

/// `vhost_net_bits` and `VHOST_NET_BACKEND_FEATURES` of the C driver, and
/// the packed ring, which only rvhost offers.
static FEATURES: Features = Features::new(
    &[
        b::VHOST_NET_F_VIRTIO_NET_HDR,
        b::VIRTIO_NET_F_MRG_RXBUF,
        b::VIRTIO_F_ACCESS_PLATFORM,
        b::VIRTIO_F_RING_RESET,
        b::VIRTIO_F_IN_ORDER,
        b::VIRTIO_F_RING_PACKED,
        b::VIRTIO_NET_F_GUEST_UDP_TUNNEL_GSO,
        b::VIRTIO_NET_F_HOST_UDP_TUNNEL_GSO,
    ],
    1 << b::VHOST_BACKEND_F_IOTLB_MSG_V2,
);

/// Per-queue state of the net device (`struct vhost_net_virtqueue`).
pub(crate) struct NetQueue {
    sock: Option<NetBackend>,
    /// Header bytes vhost adds or strips itself (`VHOST_NET_F_VIRTIO_NET_HDR`).
    vhost_hlen: usize,
    /// Header bytes the socket adds or takes.
    sock_hlen: usize,
    /// `VIRTIO_NET_F_MRG_RXBUF`: a packet may take several chains.
    mergeable: bool,
    /// `num_buffers` is written (`MRG_RXBUF` or `VERSION_1`).
    set_num_buffers: bool,
    /// Wakes the worker when the socket can take (TX) or has (RX) packets.
    poll: Pin<KBox<FilePoll>>,
    /// RX: packets taken from a tun/tap ring in one go (`vhost_net_buf`).
    rxq: RxBatch,
    /// TX: packets copied for one `sendmsg` to tun/tap (`nvq->xdp`).
    txb: Option<TxBatch>,
    /// The queue's `VHOST_SET_VRING_BUSYLOOP_TIMEOUT`, copied in for each
    /// handler run.
    busyloop: u32,
    /// Preallocated room for one packet's bookkeeping.
    buf: Scratch,
}

/// What the handlers need per packet, allocated once per queue.
struct Scratch {
    /// The user pieces of the packet being moved.
    iov: KVec<UserIovec>,
    /// RX: the chains of one packet and their lengths.
    heads: KVec<(Head, u32)>,
    /// RX with the dirty log: the ranges of the buffers, for
    /// [`Guest::log_received`] (guest ranges, or host ranges with an IOTLB).
    log: KVec<(u64, u64)>,
}

/// A handler run: how to interrupt the guest, and how the run ended.
struct Run<'a> {
    /// The queue's call eventfd.
    call: Option<&'a EventFd>,
    /// The run failed: signal the error eventfd (`vq_err()`).
    err: bool,
    /// The queue gave up the worker for fairness: run it again.
    requeue: bool,
    /// Wait for the socket: TX full, or RX drained.
    poll_sock: bool,
}

/// Why a handler stops before it is done (C's `vq_err()` and a `break`):
/// the queue waits for the next kick, userspace hears of it on the error
/// eventfd ([`Stop::signals_err`]).
#[derive(Clone, Copy)]
enum Stop {
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
    fn signals_err(self) -> bool {
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

/// A chain [`Net::get_vq_desc`] took, its buffers translated.
struct ChainBufs {
    head: Head,
    /// Where it starts, to put it back.
    start: Mark,
    /// Pieces its device-readable and device-writable buffers made.
    readable: usize,
    writable: usize,
    /// Bytes of all its buffers.
    len: u64,
}

/// What [`Net::rx_bufs`] found.
enum RxBufs {
    /// Enough buffers for the packet.
    Ready,
    /// Not enough buffers yet.
    Empty,
    /// More than the guest may take for one packet: drop it.
    TooBig,
    /// A chain with device-readable or no device-writable buffers.
    BadFormat,
}

impl<'a> Run<'a> {
    fn new(call: Option<&'a EventFd>) -> Self {
        Self {
            call,
            err: false,
            requeue: false,
            poll_sock: false,
        }
    }

    /// Records why the handler stops, for the error eventfd.
    fn fail(&mut self, stop: Stop) {
        if stop.signals_err() {
            self.err = true;
        }
    }
}

impl NetQueue {
    /// Takes the backend away; packets taken from its ring but not
    /// received go back to it, in order.
    fn detach(&mut self) -> Option<NetBackend> {
        let sock = self.sock.take();
        if let Some(s) = &sock {
            self.rxq.unproduce(s);
        }
        sock
    }

    fn new(mask: u32, work: u64, txb: Option<TxBatch>) -> Result<Self> {
        Ok(Self {
            sock: None,
            vhost_hlen: 0,
            sock_hlen: 0,
            mergeable: false,
            set_num_buffers: false,
            poll: KBox::pin_init(FilePoll::new(mask, work), GFP_KERNEL)?,
            rxq: RxBatch::new(),
            txb,
            busyloop: 0,
            buf: Scratch {
                iov: KVec::with_capacity(MAXIOV, GFP_KERNEL)?,
                heads: KVec::with_capacity(64, GFP_KERNEL)?,
                log: KVec::with_capacity(64, GFP_KERNEL)?,
            },
        })
    }
}

impl QueueData for NetQueue {
    fn has_backend(&self) -> bool {
        self.sock.is_some()
    }
}

/// An open `/dev/vhost-net`.
#[pin_data]
pub(crate) struct Net {
    #[pin]
    dev: Dev<NetQueue>,
}

/// Header sizes for the acked features (`vhost_net_set_features()`):
/// `(vhost_hlen, sock_hlen)`.
fn header_lens(features: &[u64; WORDS]) -> (usize, usize) {
    let has = |bit: u32| features[(bit / 64) as usize] & (1 << (bit % 64)) != 0;
    let mut len = if has(b::VIRTIO_NET_F_MRG_RXBUF) || has(b::VIRTIO_F_VERSION_1) {
        core::mem::size_of::<b::virtio_net_hdr_mrg_rxbuf>()
    } else {
        core::mem::size_of::<b::virtio_net_hdr>()
    };
    if has(b::VIRTIO_NET_F_HOST_UDP_TUNNEL_GSO) || has(b::VIRTIO_NET_F_GUEST_UDP_TUNNEL_GSO) {
        len = core::mem::size_of::<b::virtio_net_hdr_v1_hash_tunnel>();
    }
    if has(b::VHOST_NET_F_VIRTIO_NET_HDR) {
        (len, 0)
    } else {
        (0, len)
    }
}

/// Drops the first `skip` bytes of `iov`; returns the bytes left.
fn iov_advance(iov: &mut KVec<UserIovec>, mut skip: usize) -> usize {
    let mut drop_n = 0;
    for v in iov.iter_mut() {
        if skip == 0 {
            break;
        }
        let n = skip.min(v.len);
        v.base += n;
        v.len -= n;
        skip -= n;
        if v.len == 0 {
            drop_n += 1;
        }
    }
    if drop_n > 0 {
        let len = iov.len();
        iov.copy_within(drop_n..len, 0);
        iov.truncate(len - drop_n);
    }
    iov.iter().map(|v| v.len).sum()
}

/// Writes `data` at byte `off` of the user pieces `iov`.
fn iov_write(iov: &[UserIovec], mut off: usize, mut data: &[u8]) -> Result {
    for v in iov {
        if data.is_empty() {
            break;
        }
        if off >= v.len {
            off -= v.len;
            continue;
        }
        let n = (v.len - off).min(data.len());
        let ptr = UserPtr::from_addr(v.base + off);
        UserSlice::new(ptr, n).writer().write_slice(&data[..n])?;
        data = &data[n..];
        off = 0;
    }
    if data.is_empty() {
        Ok(())
    } else {
        Err(EFAULT)
    }
}

impl Net {
    /// The worker asks the same queue to run again later (weight exceeded,
    /// or chains arrived while notifications were being enabled).
    fn requeue(&self, work: u64) {
        self.dev.requeue(work);
    }

    /// Publishes the used entries and interrupts the guest if it asked to
    /// (`vhost_net_signal_used()`).
    fn publish(ring: &mut Ring, guest: &Guest<'_>, run: &mut Run<'_>) {
        if ring.used_pending() == 0 {
            return;
        }
        if let Err(e) = ring.flush_used(guest) {
            run.fail(e.into());
            return;
        }
        if ring.need_notify(guest).unwrap_or(true) {
            if let Some(call) = run.call {
                call.signal();
            }
        }
    }

    /// The guest made nothing more available: ask it to kick
    /// (`vhost_enable_notify()`). `Ok(true)` when chains came meanwhile,
    /// with notifications off again: the handler goes on.
    fn rearm(ring: &mut Ring, guest: &Guest<'_>) -> Result<bool, RingError> {
        if ring.enable_notify(guest)? {
            ring.disable_notify(guest)?;
            return Ok(true);
        }
        Ok(false)
    }

    /// `vhost_net_enable_vq()` where C ignores its result (at the end of a
    /// handler run, and when a failed `SET_BACKEND` puts the old backend
    /// back): the socket is watched again. It fails only when the socket
    /// reports `EPOLLERR`, which leaves it unwatched until a later run
    /// tries again: the socket's state, not a fault of the guest's ring,
    /// so not a `vq_err()`; kicks still run the queue.
    fn watch_sock(&self, data: &NetQueue) {
        let Some(sock) = &data.sock else {
            return;
        };
        match self.dev.start_poll(data.poll.as_ref(), sock.file()) {
            Ok(()) => {}
            // Not watched: see above.
            Err(_) => {}
        }
    }

    /// `vhost_discard_vq_desc()`: puts back the chains taken since `mark`.
    /// C's cannot fail. [`Ring::rewind`] refuses a stale mark, which one
    /// taken in this handler run (under the queue's lock, so with no
    /// configuration change since) is only if the chains taken since span
    /// more than the ring: a guest that made buffers in flight available
    /// again. That ring is broken, and the queue stops as for any other.
    fn discard_vq_desc(ring: &mut Ring, mark: Mark) -> Result<(), Stop> {
        ring.rewind(mark).map_err(Stop::Ring)
    }

    /// What runs around both handlers: the queue lock, the IOTLB prefetch,
    /// notifications off, then after `handler` the used entries published,
    /// errors and misses reported, and the queue requeued when it gave up
    /// the worker for fairness.
    fn run(
        &self,
        idx: usize,
        handler: impl FnOnce(&mut Ring, &Guest<'_>, &mut NetQueue, &mut Run<'_>),
    ) {
        let mut guard = self.dev.vqs[idx].vq.lock();
        let vq = &mut *guard;
        if vq.data.sock.is_none() || !vq.ring.is_ready() {
            return;
        }
        let tlbg = self.dev.lock_tlb();
        let tlb = tlbg.iotlb.as_ref();
        vq.data.busyloop = vq.busyloop_timeout;
        let prefetch = vq.prefetch(tlb);
        let (ring, guest, data, call) = vq.split(tlb);
        data.poll.as_ref().stop();
        let mut run = Run::new(call);
        match prefetch {
            Prefetch::Ready => match ring.disable_notify(&guest) {
                Ok(()) => handler(ring, &guest, data, &mut run),
                Err(e) => run.fail(e.into()),
            },
            Prefetch::Miss { iova, perm } => guest.record_miss(iova, perm),
            // No rings yet, or a ring mapped without the access it needs:
            // nothing to do until userspace changes that.
            Prefetch::Unset | Prefetch::Denied => {}
        }
        // The socket is watched again before the guest hears of the used
        // buffers, as C's `handle_rx()` does.
        if run.poll_sock {
            self.watch_sock(data);
        }
        Self::publish(ring, &guest, &mut run);
        let (miss, logged) = (guest.miss(), guest.logged());
        let (err, requeue) = (run.err, run.requeue);
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
            self.dev.report_miss(idx, iova, perm);
        }
        if requeue {
            self.requeue(1 << idx);
        }
    }

    /// `vhost_net_busy_poll()`: with the other queue locked (if it is free)
    /// and its kicks off, spins up to `data.busyloop` microseconds until
    /// there is something to do: the RX socket has a packet and the RX ring
    /// buffers, or the TX ring a chain. `this` is the RX queue if `poll_rx`,
    /// else the TX queue. Then the other queue is queued if it has work
    /// (and, from TX, RX kicks come back on).
    ///
    /// Returns true if it stopped because other work was queued for the
    /// worker (C's `busyloop_intr`): the caller requeues itself instead of
    /// waiting for a kick.
    fn busy_poll(
        &self,
        ring: &mut Ring,
        guest: &Guest<'_>,
        data: &NetQueue,
        poll_rx: bool,
    ) -> bool {
        let other = if poll_rx { TX } else { RX };
        let Some(mut guard) = self.dev.vqs[other].vq.try_lock() else {
            return false;
        };
        let ovq = &mut *guard;
        if !ovq.ring.is_ready() {
            return false;
        }
        let (oring, oguest, odata, _) = ovq.split(guest.tlb());
        // C's `vhost_disable_notify()` and `vhost_enable_notify()` report
        // their failures themselves, as a `vq_err()` of the queue whose
        // ring they write, and busy polling goes on: `oerr` is that for the
        // other queue, signalled when it is done with.
        let mut oerr = false;
        let mut other_failed = |e: RingError| oerr |= Stop::Ring(e).signals_err();
        if let Err(e) = oring.disable_notify(&oguest) {
            other_failed(e);
        }
        // The RX queue's data: ours from RX, the other's from TX.
        let rdata: &NetQueue = if poll_rx { data } else { &*odata };
        let rx_data =
            || !rdata.rxq.is_empty() || rdata.sock.as_ref().is_some_and(|s| s.has_rx_data());
        let mut intr = false;
        {
            let spin = BusyLoop::start(data.busyloop);
            while spin.may_spin() {
                if self.dev.has_work() {
                    intr = true;
                    break;
                }
                // An error ends the spin as chains would (C too treats it
                // as not empty), and is met again where they would be.
                let (rx_empty, tx_empty) = if poll_rx {
                    (ring.is_empty(guest), oring.is_empty(&oguest))
                } else {
                    (oring.is_empty(&oguest), ring.is_empty(guest))
                };
                if (rx_data() && rx_empty != Ok(true)) || tx_empty != Ok(true) {
                    break;
                }
                spin.relax();
            }
        }
        if poll_rx || rx_data() {
            // vhost_net_busy_poll_try_queue()
            let queue = match oring.is_empty(&oguest) {
                Ok(false) => true,
                // Not empty, for C (`vhost_vq_avail_empty()`).
                Err(e) => {
                    other_failed(e);
                    true
                }
                Ok(true) => match oring.enable_notify(&oguest) {
                    Ok(true) => {
                        if let Err(e) = oring.disable_notify(&oguest) {
                            other_failed(e);
                        }
                        true
                    }
                    Ok(false) => false,
                    Err(e) => {
                        other_failed(e);
                        false
                    }
                },
            };
            if queue {
                self.requeue(1 << other);
            }
        } else {
            // From TX, with no packet for RX: RX kicks back on. Buffers
            // that came meanwhile (`Ok(true)`) wait for a packet, which
            // wakes RX through its socket; C ignores them too.
            if let Err(e) = oring.enable_notify(&oguest) {
                other_failed(e);
            }
        }
        let (miss, logged) = (oguest.miss(), oguest.logged());
        drop(oguest);
        if oerr {
            ovq.signal_err();
        }
        if logged {
            ovq.signal_log();
        }
        // A miss met on the other queue's rings is reported as its own.
        if let Some((iova, perm)) = miss {
            drop(guard);
            self.dev.report_miss(other, iova, perm);
        }
        intr
    }

    /// `vhost_tx_batch()`: hands the packets copied so far to tun/tap in
    /// one `sendmsg`. If it fails they are dropped, but unlike C their
    /// buffers still go back to the guest (their used entries stay).
    fn tx_flush(txb: &mut Option<TxBatch>, sock: &NetBackend, run: &mut Run<'_>) {
        if let Some(b) = txb.as_mut() {
            if b.flush(sock).is_err() {
                run.fail(Stop::Batch);
            }
        }
    }

    /// `handle_tx()`: every chain the guest made available becomes a packet
    /// on the socket: copied into a batch for one `sendmsg` to tun/tap when
    /// its send buffer is unlimited (`handle_tx_copy()`'s
    /// `sock_can_batch`), else one `sendmsg` each, with `MSG_MORE` while
    /// more follow.
    fn handle_tx(&self) {
        self.run(TX, |ring, guest, data, run| {
            let Some(sock) = data.sock.as_ref() else {
                return;
            };
            let batching = sock.can_batch();
            let mut weight = Weight::new(PKT_WEIGHT, WEIGHT);
            let mut pkts = 0usize;
            let mut polled = false;
            loop {
                if !weight.next() {
                    run.requeue = true;
                    break;
                }
                data.buf.iov.clear();
                let taken = match Self::get_vq_desc(ring, guest, &mut data.buf, false) {
                    Ok(Some(taken)) => taken,
                    Ok(None) => {
                        // Out before spinning or asking the guest to kick.
                        Self::tx_flush(&mut data.txb, sock, run);
                        if data.busyloop != 0 && !polled {
                            polled = true;
                            // The guest hears of them before the spin.
                            Self::publish(ring, guest, run);
                            if self.busy_poll(ring, guest, data, false) {
                                // Other work came: after it, look again.
                                run.requeue = true;
                                break;
                            }
                            continue;
                        }
                        match Self::rearm(ring, guest) {
                            Ok(true) => {
                                polled = false;
                                continue;
                            }
                            Ok(false) => break,
                            Err(e) => {
                                run.fail(e.into());
                                break;
                            }
                        }
                    }
                    Err(stop) => {
                        run.fail(stop);
                        break;
                    }
                };
                polled = false;
                let (head, mark) = (taken.head, taken.start);
                // A chain with device-writable bytes, or with nothing past
                // the header, is consumed without a used entry, and the
                // queue stops until the next kick (`get_tx_bufs()`). C
                // counts pieces, not descriptors: an empty writable
                // descriptor is none.
                let len = if taken.writable > 0 {
                    0
                } else {
                    iov_advance(&mut data.buf.iov, data.vhost_hlen)
                };
                if len == 0 {
                    run.fail(Stop::Format);
                    break;
                }
                weight.add_bytes(len);
                // Copied into the batch, or else sent on its own: a packet
                // that does not fit a page, or that the batch refuses (C
                // would spin on a packet shorter than the tap's header; the
                // tap drops it instead).
                let batched = batching
                    && match data.txb.as_mut() {
                        Some(b) => match b.add(sock, &data.buf.iov, len, data.sock_hlen, |hdr| {
                            net_hdr::fix_csum_hdr_len(hdr, true, len).map_err(|_| EINVAL)
                        }) {
                            Ok(()) => true,
                            Err(_) => {
                                Self::tx_flush(&mut data.txb, sock, run);
                                false
                            }
                        },
                        None => false,
                    };
                if !batched {
                    let more =
                        !batching && !weight.bytes_spent() && !ring.is_empty(guest).unwrap_or(true);
                    match sock.sendmsg(&data.buf.iov, len, more) {
                        Err(e) if e == EAGAIN || e == ENOMEM || e == errno::enobufs() => {
                            // The socket is full: retry when it has room.
                            match Self::discard_vq_desc(ring, mark) {
                                Ok(()) => run.poll_sock = true,
                                Err(stop) => run.fail(stop),
                            }
                            break;
                        }
                        // Anything else drops the packet, as C does.
                        _ => {}
                    }
                }
                if let Err(e) = ring.add_used(guest, head, 0) {
                    run.fail(e.into());
                    break;
                }
                pkts += 1;
                if pkts % BATCH == 0 {
                    Self::tx_flush(&mut data.txb, sock, run);
                    Self::publish(ring, guest, run);
                }
            }
            // The packets go out before their buffers are published.
            Self::tx_flush(&mut data.txb, sock, run);
        });
    }

    /// `vhost_get_vq_desc_n()`, of both handlers: takes the next chain and
    /// translates every buffer of it ([`Net::translate_chain`]), the
    /// pieces appended to `buf.iov`, and with `log` what the dirty log
    /// needs appended to `buf.log`. `Ok(None)` when the guest made nothing
    /// more available. A chain that does not translate is put back, as C
    /// leaves it in the ring.
    fn get_vq_desc(
        ring: &mut Ring,
        guest: &Guest<'_>,
        buf: &mut Scratch,
        log: bool,
    ) -> Result<Option<ChainBufs>, Stop> {
        let Some(chain) = ring.next_chain(guest)? else {
            return Ok(None);
        };
        let (head, start) = (chain.head(), chain.start());
        let len = chain.descs().iter().map(|d| u64::from(d.len)).sum();
        let pieces = Self::translate_chain(&chain, guest, buf, log);
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
                Self::discard_vq_desc(ring, start)?;
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
            Self::log_ranges(chain, guest, buf, seg).map_err(|_| Stop::NoMem)?;
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

    /// `get_rx_bufs()`: chains for `want` bytes, at most `quota` of them,
    /// their pieces in `data.buf.iov`. On anything but [`RxBufs::Ready`] the
    /// chains taken are back in the ring.
    fn rx_bufs(
        ring: &mut Ring,
        guest: &Guest<'_>,
        buf: &mut Scratch,
        want: usize,
        quota: usize,
    ) -> Result<RxBufs, Stop> {
        let mark = ring.mark();
        buf.iov.clear();
        buf.heads.clear();
        buf.log.clear();
        let mut left = want as i64;
        let r = loop {
            if left <= 0 {
                break Ok(RxBufs::Ready);
            }
            if buf.heads.len() >= quota {
                break Ok(RxBufs::TooBig);
            }
            let (seg, log) = (buf.iov.len(), buf.log.len());
            let taken = match Self::get_vq_desc(ring, guest, buf, guest.logs_data()) {
                Ok(Some(taken)) => taken,
                Ok(None) => break Ok(RxBufs::Empty),
                Err(stop) => break Err(stop),
            };
            // RX chains carry device-writable pieces only, at least one
            // (`get_rx_bufs()` counts pieces: an empty buffer is none, and
            // a chain of nothing but empty buffers cannot take a byte).
            if taken.readable > 0 || taken.writable == 0 {
                buf.iov.truncate(seg);
                buf.log.truncate(log);
                break Ok(RxBufs::BadFormat);
            }
            let len = taken.len.min(u64::from(u32::MAX)) as u32;
            if buf.heads.push((taken.head, len), GFP_KERNEL).is_err() {
                break Err(Stop::NoMem);
            }
            left -= i64::from(len);
        };
        match r {
            Ok(RxBufs::Ready) => {
                // The last chain takes only what is left of the packet.
                if let Some(last) = buf.heads.last_mut() {
                    last.1 = (i64::from(last.1) + left) as u32;
                }
            }
            _ => Self::discard_vq_desc(ring, mark)?,
        }
        r
    }

    /// `handle_rx()`: every packet the socket has goes into guest buffers.
    fn handle_rx(&self) {
        self.run(RX, |ring, guest, data, run| {
            let Some(sock) = data.sock.as_ref() else {
                return;
            };
            let mergeable = data.mergeable;
            let set_num_buffers = data.set_num_buffers;
            let mut weight = Weight::new(PKT_WEIGHT, WEIGHT);
            loop {
                if !weight.next() {
                    run.requeue = true;
                    break;
                }
                let mut intr = false;
                let mut sock_len = data.rxq.peek_len(sock);
                if sock_len == 0 && data.busyloop != 0 {
                    // What was received so far goes to the guest first.
                    Self::publish(ring, guest, run);
                    intr = self.busy_poll(ring, guest, data, true);
                    sock_len = data.rxq.peek_len(sock);
                }
                if sock_len == 0 {
                    // Other work came while spinning: after it, look
                    // again; else wait for the socket.
                    if intr {
                        run.requeue = true;
                    } else {
                        run.poll_sock = true;
                    }
                    break;
                }
                let sock_len = sock_len + data.sock_hlen;
                let vhost_len = sock_len + data.vhost_hlen;
                let quota = if mergeable { MAXIOV } else { 1 };
                let mark = ring.mark();
                match Self::rx_bufs(ring, guest, &mut data.buf, vhost_len, quota) {
                    Ok(RxBufs::Ready) => {}
                    // Wait for the guest's kick, unless buffers came
                    // meanwhile (or other work did while spinning).
                    Ok(RxBufs::Empty) if intr => {
                        run.requeue = true;
                        break;
                    }
                    Ok(RxBufs::Empty) => match Self::rearm(ring, guest) {
                        Ok(true) => continue,
                        Ok(false) => break,
                        Err(e) => {
                            run.fail(e.into());
                            break;
                        }
                    },
                    Ok(RxBufs::BadFormat) => {
                        // C consumes one chain (`vhost_discard_vq_desc()`
                        // puts back all but one) and stops until the next
                        // kick; the packet stays in the socket. Taking the
                        // chain just put back fails only if the guest
                        // changed its ring meanwhile: the queue stops with
                        // an error either way.
                        if let Err(e) = ring.next_chain(guest) {
                            run.fail(e.into());
                        }
                        run.fail(Stop::Format);
                        break;
                    }
                    Ok(RxBufs::TooBig) => {
                        // Truncate and discard, as C: one byte into the
                        // first buffer (a read of nothing would not take
                        // the packet off the socket).
                        if let Some(first) = data.buf.iov.first() {
                            let one = [UserIovec {
                                base: first.base,
                                len: 1,
                            }];
                            match data.rxq.recv(sock, &one, 1) {
                                Ok(_) => {}
                                // Ignored, as C does (it only prints it for
                                // debugging): a packet left in the socket
                                // is met again, in another iteration of
                                // the weight.
                                Err(_) => {}
                            }
                        }
                        continue;
                    }
                    Err(stop) => {
                        run.fail(stop);
                        break;
                    }
                }
                // vhost's own header goes first (the buffers are put back
                // if the receive fails, so writing it early is harmless);
                // with the socket's header, num_buffers is patched after.
                let mut hdr = [0u8; HDR_LEN + 2];
                let nbufs = data.buf.heads.len() as u16;
                hdr[HDR_LEN..].copy_from_slice(&nbufs.to_le_bytes());
                let mut w = Ok(());
                if data.vhost_hlen > 0 {
                    let n = if set_num_buffers {
                        HDR_LEN + 2
                    } else {
                        HDR_LEN
                    };
                    w = iov_write(&data.buf.iov, 0, &hdr[..n]);
                    iov_advance(&mut data.buf.iov, data.vhost_hlen);
                }
                if w.is_err() {
                    if let Err(stop) = Self::discard_vq_desc(ring, mark) {
                        run.fail(stop);
                    }
                    run.fail(Stop::Header);
                    break;
                }
                if data.rxq.recv(sock, &data.buf.iov, sock_len) != Ok(sock_len) {
                    // Userspace took the packet meanwhile: put the buffers
                    // back.
                    match Self::discard_vq_desc(ring, mark) {
                        Ok(()) => continue,
                        Err(stop) => {
                            run.fail(stop);
                            break;
                        }
                    }
                }
                if data.vhost_hlen == 0
                    && set_num_buffers
                    && iov_write(&data.buf.iov, HDR_LEN, &hdr[HDR_LEN..]).is_err()
                {
                    if let Err(stop) = Self::discard_vq_desc(ring, mark) {
                        run.fail(stop);
                    }
                    run.fail(Stop::Header);
                    break;
                }
                guest.log_received(&data.buf.log, vhost_len as u64);
                for &(head, len) in data.buf.heads.iter() {
                    if let Err(e) = ring.add_used(guest, head, len) {
                        run.fail(e.into());
                        break;
                    }
                }
                // In order, a packet is one used entry.
                ring.end_used_group();
                weight.add_bytes(vhost_len);
                if run.err {
                    break;
                }
                if ring.used_pending() > BATCH {
                    Self::publish(ring, guest, run);
                }
            }
        });
    }

    /// `vhost_net_stop_vq()`: detaches the backend of queue `idx`.
    fn stop_vq(&self, idx: usize) -> Option<NetBackend> {
        let mut guard = self.dev.vqs[idx].vq.lock();
        let vq = &mut *guard;
        vq.data.poll.as_ref().stop();
        let tlbg = self.dev.lock_tlb();
        vq.stop_ring(tlbg.iotlb.as_ref());
        drop(tlbg);
        vq.data.detach()
    }

    /// `vhost_net_set_backend()`.
    fn set_backend(&self, index: u32, fd: i32) -> Result<isize> {
        let inner = self.dev.lock();
        Dev::<NetQueue>::check_owner(&inner)?;
        if index as usize >= self.dev.vqs.len() {
            return Err(errno::enobufs());
        }
        let idx = index as usize;
        let q = &self.dev.vqs[idx];
        let mut guard = q.vq.lock();
        if fd == -1 {
            self.dev.clear_msgs();
        }
        if !guard.access_ok() {
            return Err(EFAULT);
        }
        let sock = NetBackend::from_fd(fd)?;
        let same = match (&sock, &guard.data.sock) {
            (Some(a), Some(b)) => a.same_as(b),
            (None, None) => true,
            _ => false,
        };
        if same {
            return Ok(0);
        }
        let vq = &mut *guard;
        vq.data.poll.as_ref().stop();
        let tlbg = self.dev.lock_tlb();
        let tlb = tlbg.iotlb.as_ref();
        vq.stop_ring(tlb);
        let old = vq.data.detach();
        vq.data.sock = sock;
        let mut miss = None;
        let started = if vq.data.sock.is_some() {
            let (r, m) = vq.start_ring(tlb);
            miss = m;
            r
        } else {
            Ok(())
        };
        let started = started.and_then(|()| match &vq.data.sock {
            Some(s) => self.dev.start_poll(vq.data.poll.as_ref(), s.file()),
            None => Ok(()),
        });
        if let Err(e) = started {
            // `vq_err()`: userspace hears of it on the error eventfd.
            vq.signal_err();
            // Put the old backend back, as C's err_used path.
            vq.data.poll.as_ref().stop();
            vq.data.sock = old;
            if vq.data.sock.is_some() {
                match vq.start_ring(tlb) {
                    (Ok(()), _) => {}
                    // C never stopped the old backend's ring; this did, and
                    // starts it again with the configuration that just
                    // failed to start for the new backend. Failing again,
                    // the queue stays stopped (its handlers do nothing)
                    // until the next SET_BACKEND: userspace knows from this
                    // call and the error eventfd, and a miss met again is
                    // the one reported below.
                    (Err(_), _) => {}
                }
                self.watch_sock(&vq.data);
            }
            drop(tlbg);
            drop(guard);
            if let Some((iova, perm)) = miss {
                self.dev.report_miss(idx, iova, perm);
            }
            return Err(e);
        }
        drop(tlbg);
        drop(guard);
        if old.is_some() {
            Dev::<NetQueue>::flush(&inner);
        }
        drop(old);
        Ok(0)
    }

    /// Stops both queues and the device, and drops everything
    /// (`vhost_net_release()` and the first half of RESET_OWNER).
    fn stop_all(&self, inner: &mut DevInner) {
        let tx = self.stop_vq(TX);
        let rx = self.stop_vq(RX);
        Dev::<NetQueue>::flush(inner);
        self.dev.stop(inner);
        drop(tx);
        drop(rx);
    }

    /// `vhost_net_reset_owner()`.
    fn reset_owner(&self) -> Result<isize> {
        let mut inner = self.dev.lock();
        Dev::<NetQueue>::check_owner(&inner)?;
        let empty = Dev::<NetQueue>::reset_owner_prepare()?;
        self.stop_all(&mut inner);
        self.dev.reset_owner(&mut inner, empty);
        for q in self.dev.vqs.iter() {
            let mut vq = q.vq.lock();
            vq.data.vhost_hlen = 0;
            vq.data.sock_hlen = 0;
            vq.data.mergeable = false;
            vq.data.set_num_buffers = false;
        }
        Ok(0)
    }

    /// `vhost_net_set_owner()`.
    fn set_owner(this: ArcBorrow<'_, Net>) -> Result<isize> {
        let mut inner = this.dev.lock();
        let handler: Arc<Net> = this.into();
        this.dev.set_owner(&mut inner, handler)?;
        Dev::<NetQueue>::flush(&inner);
        Ok(0)
    }

    /// `vhost_net_set_features()`.
    fn set_features(&self, features: [u64; WORDS]) -> Result<isize> {
        let (vhost_hlen, sock_hlen) = header_lens(&features);
        let has = |bit: u32| features[(bit / 64) as usize] & (1 << (bit % 64)) != 0;
        let mergeable = has(b::VIRTIO_NET_F_MRG_RXBUF);
        let set_num_buffers = mergeable || has(b::VIRTIO_F_VERSION_1);
        self.dev.set_features(features, |vq| {
            vq.data.vhost_hlen = vhost_hlen;
            vq.data.sock_hlen = sock_hlen;
            vq.data.mergeable = mergeable;
            vq.data.set_num_buffers = set_num_buffers;
        })?;
        Ok(0)
    }
}

impl WorkHandler for Net {
    fn run(&self, work: u64) {
        if work & (WORK_RX_KICK | WORK_RX_SOCK) != 0 {
            self.handle_rx();
        }
        if work & (WORK_TX_KICK | WORK_TX_SOCK) != 0 {
            self.handle_tx();
        }
    }
}

impl MiscFile for Net {
    type Ptr = Arc<Self>;

    fn open(_file: &File) -> Result<Self::Ptr> {
        let queues = [
            NetQueue::new(EPOLLIN, WORK_RX_SOCK, None)?,
            NetQueue::new(EPOLLOUT, WORK_TX_SOCK, Some(TxBatch::new()?))?,
        ];
        Arc::pin_init(
            try_pin_init!(Net {
                dev <- Dev::new(&FEATURES, queues)?,
            }),
            GFP_KERNEL,
        )
    }

    fn release(this: Self::Ptr, _file: &File) {
        let mut inner = this.dev.lock();
        this.stop_all(&mut inner);
        this.dev.cleanup(&mut inner);
        drop(inner);
        drop(this);
    }

    fn ioctl(this: ArcBorrow<'_, Net>, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        let dev = &this.dev;
        match cmd {
            b::VHOST_NET_SET_BACKEND => {
                let f: b::vhost_vring_file = uapi::ioctl_arg(cmd, arg).reader().read()?;
                this.set_backend(f.index, f.fd)
            }
            b::VHOST_GET_FEATURES => dev.get_features(arg),
            b::VHOST_SET_FEATURES => this.set_features(dev.read_features(arg)?),
            b::VHOST_GET_FEATURES_ARRAY => dev.get_features_array(arg),
            b::VHOST_SET_FEATURES_ARRAY => this.set_features(dev.read_features_array(arg)?),
            b::VHOST_GET_BACKEND_FEATURES => dev.get_backend_features(arg),
            b::VHOST_SET_BACKEND_FEATURES => dev.set_backend_features(arg),
            b::VHOST_RESET_OWNER => this.reset_owner(),
            b::VHOST_SET_OWNER => Self::set_owner(this),
            _ => {
                let mut inner = dev.lock();
                match dev.dev_ioctl(&mut inner, cmd, arg)? {
                    Some(r) => {
                        Dev::<NetQueue>::flush(&inner);
                        Ok(r)
                    }
                    None => dev.vring_ioctl(&inner, cmd, arg),
                }
            }
        }
    }

    fn read_iter(
        this: ArcBorrow<'_, Net>,
        iov: &mut IovIterDest<'_>,
        nonblock: bool,
    ) -> Result<usize> {
        this.dev.read(iov, nonblock)
    }

    fn write_iter(this: ArcBorrow<'_, Net>, iov: &mut IovIterSource<'_>) -> Result<usize> {
        this.dev.write(iov)
    }

    fn poll(this: ArcBorrow<'_, Net>, file: &File, table: &PollTable<'_>) -> u32 {
        this.dev.poll(file, table)
    }
}
