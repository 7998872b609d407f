// SPDX-License-Identifier: GPL-2.0

//! The transmit handler of `/dev/vhost-vsock` (drivers/vhost/vsock.c:
//! `vhost_vsock_handle_tx_kick()`, `vhost_vsock_alloc_skb()`): every chain
//! the guest made available is a packet for the vsock core.

use super::{
    weighted_loop,
    Step,
    Vsock,
    TX, //
};
use crate::{
    guest::Guest,
    handler::{
        get_vq_desc,
        ChainBufs,
        Run,
        Scratch,
        Stop, //
    },
    vhost_transport,
    vq::Ring,
    vsock_hdr::{
        self,
        Hdr,
        TxError,
        HDR_SIZE, //
    },
    vsock_rvhost::iov_iter::IovIter,
    vsock_rvhost::skb::Skb,
};
use kernel::{
    prelude::*,
    sync::atomic::Relaxed, //
};

impl Vsock {
    /// `vhost_vsock_handle_tx_kick()`: a packet each iteration of the
    /// weight, until the ring is empty, the weight spent, or the replies
    /// queued for the guest reach the TX ring's size (then TX waits, its
    /// kicks off, until RX sends them).
    pub(super) fn handle_tx(&self) {
        self.dev.run_queue(TX, |ring, guest, data, run| {
            weighted_loop(ring, guest, run, |ring, guest, run| {
                if self.queued_replies.load(Relaxed) >= i32::from(ring.num()) {
                    return Ok(Step::Done);
                }
                let bytes = self.take_packet(ring, guest, &mut data.buf, run)?;
                Ok(bytes.map_or(Step::Empty, Step::Moved))
            });
        });
    }

    /// The next chain as a packet for the vsock core: `Ok(None)` when the
    /// ring is empty, else the bytes it counts for the weight. A chain
    /// that is not a well-formed packet from this guest to the host is
    /// dropped, its buffer returned.
    fn take_packet(
        &self,
        ring: &mut Ring,
        guest: &Guest<'_>,
        buf: &mut Scratch,
        run: &mut Run<'_>,
    ) -> Result<Option<usize>, Stop> {
        buf.iov.clear();
        let Some(chain) = get_vq_desc(ring, guest, buf, false)? else {
            return Ok(None);
        };
        let head = chain.head;
        let bytes = match self.read_packet(&chain, buf) {
            Ok((skb, hdr)) => {
                let bytes = HDR_SIZE + skb.len();
                skb.deliver_tap();
                if vsock_hdr::tx_addressed(&hdr, self.guest_cid.load(Relaxed)) {
                    skb.receive(&vhost_transport, self.net.as_ref());
                }
                bytes
            }
            Err(_) => {
                // C's `vq_err()`, and the handler goes on; unlike C, the
                // buffer goes back to the guest.
                run.fail(Stop::Format);
                0
            }
        };
        ring.add_used(guest, head, 0)?;
        Ok(Some(bytes))
    }

    /// `vhost_vsock_alloc_skb()`: the chain's header and payload in a
    /// packet sized from the header's `len` (C sizes it from the chain,
    /// which lets a guest make the host hold 64 KiB per empty packet),
    /// and its header.
    fn read_packet(&self, chain: &ChainBufs, buf: &Scratch) -> Result<(Skb, Hdr), TxError> {
        vsock_hdr::check_tx_chain(chain.writable, chain.len)?;
        // `len` fits a usize: checked above against 64 KiB.
        let len = chain.len as usize;
        let mut iter = IovIter::source(&buf.iov, len).map_err(|_| TxError::Fault)?;
        let mut raw = [0u8; HDR_SIZE];
        iter.read(&mut raw).map_err(|_| TxError::Fault)?;
        let hdr = Hdr::from_bytes(&raw);
        let payload = vsock_hdr::tx_payload_len(&hdr, chain.len)?;
        let skb = Skb::alloc_from(&raw, &mut iter, payload).map_err(|_| TxError::Fault)?;
        Ok((skb, hdr))
    }
}
