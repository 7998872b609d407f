// SPDX-License-Identifier: GPL-2.0

//! The host-to-guest vsock transport (`vhost_transport` of
//! drivers/vhost/vsock.c): the vsock core's protocol is the kernel's
//! virtio_transport_common, as in C; the transport adds how a packet
//! reaches a guest, which it asks of the device found by CID
//! ([`registry`](super::registry)).
//!
//! C header: [`include/net/af_vsock.h`](srctree/include/net/af_vsock.h).

use super::{
    netns::NetRef,
    registry,
    skb::{
        Skb,
        VsockRef, //
    },
};
use crate::rvhost::bindings as rb;
use kernel::{
    bindings,
    ffi::c_int,
    prelude::*,
    sync::atomic::{
        Acquire,
        Atomic,
        Release, //
    },
    types::Opaque,
    ThisModule,
};

/// The host's CID (`VHOST_VSOCK_DEFAULT_HOST_CID`).
const HOST_CID: u32 = rb::VMADDR_CID_HOST;

/// The transport object (`struct virtio_transport`). The driver declares
/// it as a static under the name C gives it, which tools look up in
/// `/proc/kallsyms`; [`Registration::register`] fills it in.
///
/// # Invariants
///
/// Once `ready` is true, `t` is initialised and never written again.
pub(crate) struct Transport {
    t: Opaque<rb::virtio_transport>,
    ready: Atomic<bool>,
}

// SAFETY: The object is written once, before `ready` is set and before the vsock core
// or any device can reach it; after that it is only read.
unsafe impl Sync for Transport {}

impl Transport {
    pub(crate) const fn new() -> Self {
        Self {
            t: Opaque::uninit(),
            ready: Atomic::new(false),
        }
    }

    /// The initialised transport, if it was registered.
    pub(super) fn registered(&self) -> Option<*mut rb::virtio_transport> {
        self.ready.load(Acquire).then(|| self.t.get())
    }
}

/// Whether `cid` is the vsock core's own: the guest-to-host transport's
/// (when this kernel is itself a guest), the host's or the loopback's
/// (`vsock_find_cid()`).
pub(crate) fn core_has_cid(cid: u32) -> bool {
    // SAFETY: Reads the core's transports under its own rules; any value is accepted.
    unsafe { rb::vsock_find_cid(cid) }
}

/// `vhost_transport_get_local_cid()`.
unsafe extern "C" fn get_local_cid() -> u32 {
    HOST_CID
}

/// `vhost_transport_has_remote_cid()`: a device of that CID is reachable.
unsafe extern "C" fn has_remote_cid(vsk: *mut rb::vsock_sock, cid: u32) -> bool {
    // SAFETY: The vsock core passes a valid socket for the call.
    let vsk = unsafe { VsockRef::from_raw(vsk) };
    registry::with(cid, vsk.net(), |_| ()).is_some()
}

/// `vhost_transport_send_pkt()`: queues a packet for the guest its header
/// is addressed to; the bytes queued, or `-ENODEV` (no such guest) or
/// `-EHOSTUNREACH` (not running), the packet freed.
unsafe extern "C" fn send_pkt(skb: *mut bindings::sk_buff, net: *mut bindings::net) -> c_int {
    // SAFETY: The vsock core hands over a transport buffer it owns.
    let skb = unsafe { Skb::from_raw(skb) };
    // SAFETY: `net` is null or the caller's namespace, valid for the call.
    let net = unsafe { NetRef::from_raw(net) };
    let hdr = skb.hdr();
    // `dst_cid` at offset 8, little endian; C truncates it to the u32 of its lookup.
    let mut cid = [0u8; 8];
    cid.copy_from_slice(&hdr[8..16]);
    let cid = u64::from_le_bytes(cid) as u32;
    let Some(dev) = registry::get(cid, net) else {
        return ENODEV.to_errno();
    };
    match dev.send_pkt(skb) {
        Ok(n) => c_int::try_from(n).unwrap_or(c_int::MAX),
        Err(e) => e.to_errno(),
    }
}

/// `vhost_transport_cancel_pkt()`: drops the packets of `vsk` the device
/// of its peer still queues.
unsafe extern "C" fn cancel_pkt(vsk: *mut rb::vsock_sock) -> c_int {
    // SAFETY: The vsock core passes a valid socket for the call.
    let vsk = unsafe { VsockRef::from_raw(vsk) };
    match registry::get(vsk.remote_cid(), vsk.net()) {
        Some(dev) => {
            dev.cancel_pkt(vsk);
            0
        }
        None => ENODEV.to_errno(),
    }
}

/// `vhost_transport_seqpacket_allow()`: the guest acked SEQPACKET.
unsafe extern "C" fn seqpacket_allow(vsk: *mut rb::vsock_sock, remote_cid: u32) -> bool {
    // SAFETY: The vsock core passes a valid socket for the call.
    let vsk = unsafe { VsockRef::from_raw(vsk) };
    registry::with(remote_cid, vsk.net(), |dev| dev.seqpacket_allow()).unwrap_or(false)
}

/// `vhost_transport_stream_allow()`.
unsafe extern "C" fn stream_allow(_vsk: *mut rb::vsock_sock, _cid: u32, _port: u32) -> bool {
    true
}

/// `vhost_transport_msgzerocopy_allow()`.
unsafe extern "C" fn msgzerocopy_allow() -> bool {
    true
}

/// `vhost_vsock_reset_orphans()`: a connected socket whose peer no device
/// reaches any more is reset. Called under `vsock_table_lock`.
unsafe extern "C" fn reset_orphan(sk: *mut bindings::sock) {
    // SAFETY: `vsock_for_each_connected_socket()` passes a vsock socket, kept alive by
    // the table lock it holds.
    let vsk = unsafe { VsockRef::from_raw(rb::rvhost_vsock_sk(sk)) };
    if registry::with(vsk.remote_cid(), vsk.net(), |_| ()).is_some() {
        return;
    }
    // SAFETY: As above; the helper resets the socket as C does.
    unsafe { rb::rvhost_vsock_reset_orphan(sk) };
}

/// The transport's operations: virtio_transport_common's, and ours.
fn ops(module: &'static ThisModule) -> rb::virtio_transport {
    let mut t = rb::virtio_transport::default();
    let v = &mut t.transport;
    v.module = module.as_ptr();
    v.get_local_cid = Some(get_local_cid);
    v.has_remote_cid = Some(has_remote_cid);
    v.init = Some(rb::virtio_transport_do_socket_init);
    v.destruct = Some(rb::virtio_transport_destruct);
    v.release = Some(rb::virtio_transport_release);
    v.connect = Some(rb::virtio_transport_connect);
    v.shutdown = Some(rb::virtio_transport_shutdown);
    v.cancel_pkt = Some(cancel_pkt);
    v.dgram_enqueue = Some(rb::virtio_transport_dgram_enqueue);
    v.dgram_dequeue = Some(rb::virtio_transport_dgram_dequeue);
    v.dgram_bind = Some(rb::virtio_transport_dgram_bind);
    v.dgram_allow = Some(rb::virtio_transport_dgram_allow);
    v.stream_enqueue = Some(rb::virtio_transport_stream_enqueue);
    v.stream_dequeue = Some(rb::virtio_transport_stream_dequeue);
    v.stream_has_data = Some(rb::virtio_transport_stream_has_data);
    v.stream_has_space = Some(rb::virtio_transport_stream_has_space);
    v.stream_rcvhiwat = Some(rb::virtio_transport_stream_rcvhiwat);
    v.stream_is_active = Some(rb::virtio_transport_stream_is_active);
    v.stream_allow = Some(stream_allow);
    v.seqpacket_dequeue = Some(rb::virtio_transport_seqpacket_dequeue);
    v.seqpacket_enqueue = Some(rb::virtio_transport_seqpacket_enqueue);
    v.seqpacket_allow = Some(seqpacket_allow);
    v.seqpacket_has_data = Some(rb::virtio_transport_seqpacket_has_data);
    v.msgzerocopy_allow = Some(msgzerocopy_allow);
    v.notify_poll_in = Some(rb::virtio_transport_notify_poll_in);
    v.notify_poll_out = Some(rb::virtio_transport_notify_poll_out);
    v.notify_recv_init = Some(rb::virtio_transport_notify_recv_init);
    v.notify_recv_pre_block = Some(rb::virtio_transport_notify_recv_pre_block);
    v.notify_recv_pre_dequeue = Some(rb::virtio_transport_notify_recv_pre_dequeue);
    v.notify_recv_post_dequeue = Some(rb::virtio_transport_notify_recv_post_dequeue);
    v.notify_send_init = Some(rb::virtio_transport_notify_send_init);
    v.notify_send_pre_block = Some(rb::virtio_transport_notify_send_pre_block);
    v.notify_send_pre_enqueue = Some(rb::virtio_transport_notify_send_pre_enqueue);
    v.notify_send_post_enqueue = Some(rb::virtio_transport_notify_send_post_enqueue);
    v.notify_buffer_size = Some(rb::virtio_transport_notify_buffer_size);
    v.notify_set_rcvlowat = Some(rb::virtio_transport_notify_set_rcvlowat);
    v.unsent_bytes = Some(rb::virtio_transport_unsent_bytes);
    v.read_skb = Some(rb::virtio_transport_read_skb);
    t.send_pkt = Some(send_pkt);
    t
}

/// The transport, registered with the vsock core as its host-to-guest
/// transport (`vsock_core_register(..., VSOCK_TRANSPORT_F_H2G)`) until
/// dropped.
///
/// # Invariants
///
/// `t` is registered, and ready.
pub(crate) struct Registration {
    t: &'static Transport,
}

// SAFETY: The registration is a reference to a `Sync` static.
unsafe impl Send for Registration {}
// SAFETY: See above.
unsafe impl Sync for Registration {}

impl Registration {
    /// Fills in `t` and registers it. Fails with `EBUSY` if another
    /// host-to-guest transport is registered (C's vhost_vsock), saying so in
    /// the kernel log; nothing is left registered then.
    pub(crate) fn register(t: &'static Transport, module: &'static ThisModule) -> Result<Self> {
        if t.ready.load(Acquire) {
            return Err(EBUSY);
        }
        // SAFETY: `t` is not ready, so nothing reads it yet (see `Transport`), and this is
        // the module's one registration: the registry is initialised once, before the
        // transport can reach it.
        unsafe {
            registry::init();
            t.t.get().write(ops(module));
        }
        // INVARIANT: Written above; never written again.
        t.ready.store(true, Release);
        // SAFETY: `t` is initialised and `'static`; the core keeps the pointer until
        // `vsock_core_unregister()` in `drop()`.
        let r = unsafe {
            rb::vsock_core_register(
                &raw const (*t.t.get()).transport,
                rb::VSOCK_TRANSPORT_F_H2G as c_int,
            )
        };
        if r < 0 {
            pr_err!(
                "cannot register the host-to-guest vsock transport ({}): is vhost_vsock loaded?\n",
                r
            );
            return Err(Error::from_errno(r));
        }
        // INVARIANT: Registered, and ready.
        Ok(Self { t })
    }

    /// Resets every connected socket of this transport whose peer no
    /// device reaches any more (after a device left the registry).
    pub(crate) fn reset_orphans(t: &Transport) {
        let Some(vt) = t.registered() else {
            return;
        };
        // SAFETY: `vt` is initialised; the callback is called under the table lock with
        // valid sockets.
        unsafe {
            rb::vsock_for_each_connected_socket(&raw mut (*vt).transport, Some(reset_orphan))
        };
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        // SAFETY: Registered, by the type invariant.
        unsafe { rb::vsock_core_unregister(&raw const (*self.t.t.get()).transport) };
    }
}
