// SPDX-License-Identifier: GPL-2.0

//! `/dev/vhost-vsock`: the virtio-vsock device (drivers/vhost/vsock.c).
//!
//! Queue 0 receives (host-to-guest packets go into the guest's buffers),
//! queue 1 transmits (the guest's packets go to the vsock core). The host
//! side is the kernel's vsock core, reached through the host-to-guest
//! transport (rust/vsock/), which finds a device by the guest CID that
//! `VHOST_VSOCK_SET_GUEST_CID` gave it. The handlers are in vsock_rx.rs and
//! vsock_tx.rs.

use crate::{
    dev::Dev,
    features::{
        Features,
        WORDS, //
    },
    guest::Guest,
    handler::{
        rearm,
        Run,
        Scratch,
        Stop,
        MAXIOV, //
    },
    ring::Weight,
    rvhost::{
        bindings as b,
        miscdev::MiscFile,
        uapi,
        worker::WorkHandler, //
    },
    vhost_transport,
    vq::{
        QueueData,
        Ring, //
    },
    vsock_hdr,
    vsock_rvhost::{
        netns::{
            NetNs,
            NetRef, //
        },
        registry::{
            self,
            H2gDevice, //
        },
        skb::{
            Skb,
            SkbQueue,
            VsockRef, //
        },
        transport::{
            self,
            Registration, //
        },
    },
};
use kernel::{
    alloc::KVec,
    fs::File,
    iov::{
        IovIterDest,
        IovIterSource, //
    },
    new_mutex,
    prelude::*,
    sync::{
        atomic::{
            Atomic,
            Relaxed, //
        },
        poll::PollTable,
        Arc,
        ArcBorrow,
        Mutex, //
    },
};

#[path = "vsock_rx.rs"]
mod rx;
#[path = "vsock_tx.rs"]
mod tx;

/// Queue indices (`VSOCK_VQ_RX`, `VSOCK_VQ_TX`).
const RX: usize = 0;
const TX: usize = 1;

/// Work bits: the kicks are bits 0 and 1 (the queue index, see
/// [`Dev::new`]); packets queued for the guest come after
/// (`send_pkt_work`).
const WORK_RX_KICK: u64 = 1 << RX;
const WORK_TX_KICK: u64 = 1 << TX;
const WORK_SEND: u64 = 1 << 2;

/// A queue gives up the worker after this many bytes (`VHOST_VSOCK_WEIGHT`)
/// or packets (`VHOST_VSOCK_PKT_WEIGHT`).
const WEIGHT: usize = 0x80000;
const PKT_WEIGHT: usize = 256;

/// What one step of a handler's loop ([`weighted_loop`]) did.
enum Step {
    /// Moved a packet of this many bytes, counted in the weight.
    Moved(usize),
    /// The guest made nothing more available: [`rearm`], and go on if
    /// chains came meanwhile.
    Empty,
    /// Nothing more for this run.
    Done,
}

/// The loop of both handlers (`do { ... } while (!vhost_exceeds_weight())`):
/// `step` once per iteration of the weights, every iteration counted,
/// until it is done, fails (recorded in `run`), or the weight is spent
/// (then the queue runs again).
fn weighted_loop(
    ring: &mut Ring,
    guest: &Guest<'_>,
    run: &mut Run<'_>,
    mut step: impl FnMut(&mut Ring, &Guest<'_>, &mut Run<'_>) -> Result<Step, Stop>,
) {
    let mut weight = Weight::new(PKT_WEIGHT, WEIGHT);
    loop {
        if !weight.next() {
            run.requeue = true;
            return;
        }
        match step(ring, guest, run) {
            Ok(Step::Moved(bytes)) => weight.add_bytes(bytes),
            Ok(Step::Empty) => {
                if rearm(ring, guest, run).is_break() {
                    return;
                }
            }
            Ok(Step::Done) => return,
            Err(stop) => {
                run.fail(stop);
                return;
            }
        }
    }
}

/// `vhost_vsock_bits` and `VHOST_VSOCK_BACKEND_FEATURES` of the C driver,
/// and what the ring layer gives every device beyond C: the packed ring
/// and in-order use.
static FEATURES: Features = Features::new(
    &[
        b::VIRTIO_F_ACCESS_PLATFORM,
        b::VIRTIO_VSOCK_F_SEQPACKET,
        b::VIRTIO_F_IN_ORDER,
        b::VIRTIO_F_RING_PACKED,
    ],
    1 << b::VHOST_BACKEND_F_IOTLB_MSG_V2,
);

// The header layout vsock_hdr.rs, `core`-only, spells out itself.
const _: () = assert!(vsock_hdr::HDR_SIZE == crate::vsock_rvhost::skb::HDR_SIZE);

/// Per-queue state: whether the device runs (`VHOST_VSOCK_SET_RUNNING`),
/// and room for one chain's buffers.
pub(crate) struct VsockQueue {
    running: bool,
    buf: Scratch,
}

impl VsockQueue {
    fn new() -> Result<Self> {
        Ok(Self {
            running: false,
            buf: Scratch {
                iov: KVec::with_capacity(MAXIOV, GFP_KERNEL)?,
                heads: KVec::new(),
                log: KVec::with_capacity(64, GFP_KERNEL)?,
            },
        })
    }
}

impl QueueData for VsockQueue {
    fn has_backend(&self) -> bool {
        self.running
    }
}

/// An open `/dev/vhost-vsock` (`struct vhost_vsock`).
#[pin_data]
pub(crate) struct Vsock {
    #[pin]
    dev: Dev<VsockQueue>,
    /// The namespace of the process that opened the device.
    net: NetNs,
    /// Packets for the guest (`send_pkt_queue`).
    #[pin]
    send_queue: SkbQueue,
    /// Replies queued for the guest: the guest's TX pauses while they
    /// reach the TX ring's size.
    queued_replies: Atomic<i32>,
    /// The guest's CID, 0 before `SET_GUEST_CID`; changed under the lock,
    /// read without it by the TX handler as in C.
    #[pin]
    cid: Mutex<u32>,
    guest_cid: Atomic<u32>,
    /// `VIRTIO_VSOCK_F_SEQPACKET` acked.
    seqpacket: Atomic<bool>,
    /// RX runs: the transport fails fast when it does not
    /// (`vhost_transport_send_pkt()` reads the backend without a lock).
    rx_running: Atomic<bool>,
    /// The TX ring's size while the device runs (it cannot change then).
    tx_num: Atomic<u32>,
}

impl WorkHandler for Vsock {
    fn run(&self, work: u64) {
        if work & (WORK_RX_KICK | WORK_SEND) != 0 {
            self.do_send_pkt();
        }
        if work & WORK_TX_KICK != 0 {
            self.handle_tx();
        }
    }
}

impl H2gDevice for Vsock {
    fn net(&self) -> NetRef<'_> {
        self.net.as_ref()
    }

    fn send_pkt(&self, skb: Skb) -> Result<usize> {
        // Queuing for a guest whose RX does not run is pointless: it
        // would answer with a reset anyway, there being no listener yet.
        if !self.rx_running.load(Relaxed) {
            return Err(crate::vsock_rvhost::ehostunreach());
        }
        let len = skb.len();
        if skb.is_reply() {
            self.queued_replies.add(1, Relaxed);
        }
        self.send_queue.push_back(skb);
        self.dev.requeue(WORK_SEND);
        Ok(len)
    }

    fn cancel_pkt(&self, vsk: VsockRef<'_>) {
        let cnt = self.send_queue.purge_sock(vsk);
        if cnt == 0 {
            return;
        }
        let cnt = i32::try_from(cnt).unwrap_or(i32::MAX);
        let new = self.queued_replies.fetch_sub(cnt, Relaxed) - cnt;
        self.replies_done(new, cnt);
    }

    fn seqpacket_allow(&self) -> bool {
        self.seqpacket.load(Relaxed)
    }
}

impl Vsock {
    /// `cnt` queued replies went (to the guest or purged), leaving `now`:
    /// if that took them below the TX ring's size, the guest's TX, which
    /// paused for them, runs again.
    fn replies_done(&self, now: i32, cnt: i32) {
        let num = i32::try_from(self.tx_num.load(Relaxed)).unwrap_or(i32::MAX);
        if now + cnt >= num && now < num {
            self.dev.requeue(WORK_TX_KICK);
        }
    }

    /// `VHOST_VSOCK_SET_GUEST_CID`: not owner-checked, as in C.
    fn set_cid(this: ArcBorrow<'_, Vsock>, cid: u64) -> Result<isize> {
        // Reserved CIDs; 64-bit CIDs are not supported.
        if cid <= u64::from(b::VMADDR_CID_HOST) || cid >= u64::from(u32::MAX) {
            return Err(EINVAL);
        }
        let cid = cid as u32;
        // The guest-to-host transport's own CID (a nested guest), so that
        // the loopback works.
        if transport::core_has_cid(cid) {
            return Err(crate::vsock_rvhost::eaddrinuse());
        }
        let mut guard = this.cid.lock();
        let dev: Arc<dyn H2gDevice> = Arc::<Vsock>::from(this);
        registry::set_cid(&dev, *guard, cid)?;
        *guard = cid;
        this.guest_cid.store(cid, Relaxed);
        Ok(0)
    }

    /// `VHOST_SET_FEATURES`: as C, `EFAULT` for any failure after the bits
    /// were accepted.
    fn set_features(&self, features: [u64; WORDS]) -> Result<isize> {
        let seqpacket = features[0] & (1u64 << b::VIRTIO_VSOCK_F_SEQPACKET) != 0;
        self.dev
            .set_features(features, |_| {})
            .map_err(|_| EFAULT)?;
        self.seqpacket.store(seqpacket, Relaxed);
        Ok(0)
    }

    /// `vhost_vsock_start()`: both queues get the device as backend; a
    /// queue that cannot start stops both.
    fn start(&self) -> Result<isize> {
        let inner = self.dev.lock();
        Dev::<VsockQueue>::check_owner(&inner)?;
        for (idx, q) in self.dev.vqs.iter().enumerate() {
            let (r, miss) = {
                let mut vq = q.vq.lock();
                if !vq.access_ok() {
                    (Err(EFAULT), None)
                } else if vq.data.running {
                    (Ok(()), None)
                } else {
                    vq.data.running = true;
                    let tlbg = self.dev.lock_tlb();
                    vq.start_ring(tlbg.iotlb.as_ref())
                }
            };
            if let Some((iova, perm)) = miss {
                self.dev.report_miss(idx, iova, perm);
            }
            if let Err(e) = r {
                self.stop_queues();
                return Err(e);
            }
            if idx == TX {
                let vq = q.vq.lock();
                self.tx_num.store(vq.cfg.num, Relaxed);
            }
        }
        self.rx_running.store(true, Relaxed);
        // Packets queued before the device started go out now.
        self.dev.requeue(WORK_SEND);
        Ok(0)
    }

    /// Takes the backend away from both queues.
    fn stop_queues(&self) {
        self.rx_running.store(false, Relaxed);
        for q in self.dev.vqs.iter() {
            let mut vq = q.vq.lock();
            if vq.data.running {
                let tlbg = self.dev.lock_tlb();
                vq.stop_ring(tlbg.iotlb.as_ref());
                drop(tlbg);
                vq.data.running = false;
            }
        }
    }

    /// `vhost_vsock_stop()`: the owner check is skipped on release.
    fn stop(&self, check_owner: bool) -> Result<isize> {
        let inner = self.dev.lock();
        if check_owner {
            Dev::<VsockQueue>::check_owner(&inner)?;
        }
        self.stop_queues();
        Ok(0)
    }
}

impl MiscFile for Vsock {
    type Ptr = Arc<Self>;

    fn open(_file: &File) -> Result<Self::Ptr> {
        let queues = [VsockQueue::new()?, VsockQueue::new()?];
        Arc::pin_init(
            try_pin_init!(Vsock {
                dev <- Dev::new(&FEATURES, queues)?,
                net: NetNs::current(),
                send_queue <- SkbQueue::new(),
                queued_replies: Atomic::new(0),
                cid <- new_mutex!(0, "vhost_vsock::cid"),
                guest_cid: Atomic::new(0),
                seqpacket: Atomic::new(false),
                rx_running: Atomic::new(false),
                tx_num: Atomic::new(0),
            }),
            GFP_KERNEL,
        )
    }

    fn release(this: Self::Ptr, _file: &File) {
        // The transport no longer finds the device; a packet it found the
        // device for just before is freed with the device.
        let cid = *this.cid.lock();
        if cid != 0 {
            let dev: Arc<dyn H2gDevice> = this.clone();
            registry::remove(&dev, cid);
        }
        // Every socket connected to the guest is reset.
        Registration::reset_orphans(&vhost_transport);
        let mut inner = this.dev.lock();
        this.stop_queues();
        Dev::<VsockQueue>::flush(&inner);
        this.dev.stop(&inner);
        this.send_queue.purge();
        this.dev.cleanup(&mut inner);
        drop(inner);
        drop(this);
    }

    fn ioctl(this: ArcBorrow<'_, Vsock>, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        let dev = &this.dev;
        match cmd {
            b::VHOST_VSOCK_SET_GUEST_CID => {
                let cid: u64 = uapi::ioctl_arg(cmd, arg).reader().read()?;
                Self::set_cid(this, cid)
            }
            b::VHOST_VSOCK_SET_RUNNING => {
                let start: i32 = uapi::ioctl_arg(cmd, arg).reader().read()?;
                if start != 0 {
                    this.start()
                } else {
                    this.stop(true)
                }
            }
            b::VHOST_GET_FEATURES => dev.get_features(arg),
            b::VHOST_SET_FEATURES => this.set_features(dev.read_features(arg)?),
            b::VHOST_GET_BACKEND_FEATURES => dev.get_backend_features(arg),
            b::VHOST_SET_BACKEND_FEATURES => dev.set_backend_features(arg),
            b::VHOST_SET_OWNER => {
                let mut inner = dev.lock();
                let handler: Arc<Vsock> = this.into();
                let r = dev.set_owner(&mut inner, handler);
                Dev::<VsockQueue>::flush(&inner);
                r
            }
            // The rest as C's default: the device ioctls, then the vring
            // ioctls, and `ENOTTY` for what neither knows (RESET_OWNER,
            // the worker ioctls, the feature arrays).
            _ => {
                let mut inner = dev.lock();
                match dev.dev_ioctl(&mut inner, cmd, arg)? {
                    Some(r) => {
                        Dev::<VsockQueue>::flush(&inner);
                        Ok(r)
                    }
                    None => dev.vring_ioctl(&inner, cmd, arg),
                }
            }
        }
    }

    fn read_iter(
        this: ArcBorrow<'_, Vsock>,
        iov: &mut IovIterDest<'_>,
        nonblock: bool,
    ) -> Result<usize> {
        this.dev.read(iov, nonblock)
    }

    fn write_iter(this: ArcBorrow<'_, Vsock>, iov: &mut IovIterSource<'_>) -> Result<usize> {
        this.dev.write(iov)
    }

    fn poll(this: ArcBorrow<'_, Vsock>, file: &File, table: &PollTable<'_>) -> u32 {
        this.dev.poll(file, table)
    }
}
