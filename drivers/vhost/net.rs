// SPDX-License-Identifier: GPL-2.0

//! `/dev/vhost-net`: the virtio-net device (drivers/vhost/net.c).
//!
//! Queue 0 receives (the socket's packets go into the guest's buffers),
//! queue 1 transmits. The worker runs [`Net::handle_tx`] (`net_tx.rs`) and
//! [`Net::handle_rx`] (`net_rx.rs`) when the guest kicks or the socket has
//! room or data. What both handlers use is here: [`Net::run`] around a
//! handler run and busy polling; what every device's handlers share is in
//! handler.rs.

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
    handler::{
        has_avail,
        Run,
        Scratch,
        Stop,
        MAXIOV, //
    },
    ring::Error as RingError,
    rvhost::{
        bindings as b,
        busy::BusyLoop,
        errno,
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
};

// The handlers and their steps, a file each.
#[path = "net_rx.rs"]
mod rx;
#[path = "net_tx.rs"]
mod tx;

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

/// `VHOST_NET_BATCH`: used entries are published (and the guest maybe
/// interrupted) every this many chains; in order, each such batch of
/// transmitted chains is one used entry.
const BATCH: usize = VHOST_NET_BATCH;

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

/// Drops the first `skip` bytes of `iov`.
fn iov_advance(iov: &mut KVec<UserIovec>, mut skip: usize) {
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
}

impl Net {
    /// The worker asks the same queue to run again later (weight exceeded,
    /// or chains arrived while notifications were being enabled).
    fn requeue(&self, work: u64) {
        self.dev.requeue(work);
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

    /// A run of queue `idx` ([`Dev::run_queue`]) with the socket's
    /// wakeup off while `handler` runs (`vhost_net_disable_vq()`), and on
    /// again before the guest hears of the used buffers when the handler
    /// waits for the socket, as C's `handle_rx()` does.
    fn run(
        &self,
        idx: usize,
        handler: impl FnOnce(&mut Ring, &Guest<'_>, &mut NetQueue, &mut Run<'_>),
    ) {
        self.dev.run_queue(idx, |ring, guest, data, run| {
            data.busyloop = run.busyloop;
            data.poll.as_ref().stop();
            handler(ring, guest, data, run);
            if run.poll_sock {
                self.watch_sock(data);
            }
        });
    }

    /// `vhost_net_busy_poll()`: with the other queue locked (if it is free)
    /// and its kicks off, spins up to `busyloop` microseconds until there
    /// is something to do: the RX socket has a packet and the RX ring
    /// buffers, or the TX ring a chain. `ring` is the RX queue's, whose
    /// packets are `rx` (C's `poll_rx`), or else the TX queue's. Then the
    /// other queue is queued if it has work (and, from TX, RX kicks come
    /// back on).
    ///
    /// Returns true if it stopped because other work was queued for the
    /// worker (C's `busyloop_intr`): the caller requeues itself instead of
    /// waiting for a kick.
    fn busy_poll(
        &self,
        ring: &mut Ring,
        guest: &Guest<'_>,
        run: &mut Run<'_>,
        busyloop: u32,
        rx: Option<(&RxBatch, &NetBackend)>,
    ) -> bool {
        let poll_rx = rx.is_some();
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
        // The RX queue's packets: ours from RX, the other's from TX.
        let (rxq, rsock) = match rx {
            Some((rxq, sock)) => (rxq, Some(sock)),
            None => (&odata.rxq, odata.sock.as_ref()),
        };
        let rx_data = || !rxq.is_empty() || rsock.is_some_and(|s| s.has_rx_data());
        let mut own_failed = |e: RingError| run.fail(e.into());
        let mut intr = false;
        {
            let spin = BusyLoop::start(busyloop);
            while spin.may_spin() {
                if self.dev.has_work() {
                    intr = true;
                    break;
                }
                // C's test, in its order: an avail index that cannot be
                // read is an error of its queue and counts as chains (the
                // spin ends, and the handler meets the error again).
                let ready = if poll_rx {
                    (rx_data() && has_avail(ring, guest, &mut own_failed))
                        || has_avail(oring, &oguest, &mut other_failed)
                } else {
                    (rx_data() && has_avail(oring, &oguest, &mut other_failed))
                        || has_avail(ring, guest, &mut own_failed)
                };
                if ready {
                    break;
                }
                spin.relax();
            }
        }
        if poll_rx || rx_data() {
            // vhost_net_busy_poll_try_queue()
            let queue = has_avail(oring, &oguest, &mut other_failed)
                || match oring.enable_notify(&oguest) {
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
        let oerr = oerr || oguest.ring_missed();
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
        let was_ready = vq.ring.is_ready();
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
            // Put the old backend back, as C's err_used path.
            vq.data.poll.as_ref().stop();
            vq.data.sock = old;
            if vq.data.sock.is_some() {
                // C never stopped the old backend's ring: it runs on as it
                // was, and is not started again with the configuration
                // that just failed.
                if was_ready {
                    vq.ring.resume();
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
