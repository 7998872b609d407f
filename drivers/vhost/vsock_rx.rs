// SPDX-License-Identifier: GPL-2.0

//! The receive handler of `/dev/vhost-vsock` (drivers/vhost/vsock.c:
//! `vhost_transport_do_send_pkt()`): packets the vsock core queued for the
//! guest go into the buffers of its RX ring, a packet larger than a buffer
//! split across several.

use super::{
    weighted_loop,
    Step,
    Vsock,
    RX, //
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
    vq::Ring,
    vsock_hdr::{
        self,
        Hdr,
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
    /// `vhost_transport_do_send_pkt()`: until the queue of packets or the
    /// guest's buffers run out, or the weight is spent. A chain of the
    /// wrong shape stops the queue as in C, but its packet waits for the
    /// next buffer instead of being lost.
    pub(super) fn do_send_pkt(&self) {
        let mut replies = 0i32;
        self.dev.run_queue(RX, |ring, guest, data, run| {
            weighted_loop(ring, guest, run, |ring, guest, run| {
                let Some(skb) = self.send_queue.pop_front() else {
                    // C ignores what came meanwhile: new packets queue
                    // the work again.
                    ring.enable_notify(guest)?;
                    return Ok(Step::Done);
                };
                let sent = self.send_one(ring, guest, &mut data.buf, run, skb, &mut replies)?;
                Ok(sent.map_or(Step::Empty, Step::Moved))
            });
        });
        if replies > 0 {
            let now = self.queued_replies.fetch_sub(replies, Relaxed) - replies;
            self.replies_done(now, replies);
        }
    }

    /// One buffer's worth of the packet `skb`: `Ok(None)` when the guest
    /// has no buffer (the packet is queued back), else the payload bytes
    /// sent. A reply that went whole counts in `replies` even if the used
    /// ring then failed, as in C: it is gone, and if it stayed counted in
    /// `queued_replies`, guest TX could stall for good.
    fn send_one(
        &self,
        ring: &mut Ring,
        guest: &Guest<'_>,
        buf: &mut Scratch,
        run: &mut Run<'_>,
        mut skb: Skb,
        replies: &mut i32,
    ) -> Result<Option<usize>, Stop> {
        buf.iov.clear();
        buf.log.clear();
        let chain = match get_vq_desc(ring, guest, buf, guest.logs_data()) {
            Ok(Some(chain)) => chain,
            Ok(None) => {
                self.send_queue.push_front(skb);
                return Ok(None);
            }
            Err(stop) => {
                self.send_queue.push_front(skb);
                return Err(stop);
            }
        };
        let ChainBufs {
            head,
            readable,
            len: buf_len,
            ..
        } = chain;
        let offset = skb.offset();
        let remaining = skb.len().saturating_sub(offset);
        let raw = skb.hdr();
        let hdr = Hdr::from_bytes(&raw);
        // C consumes a chain it cannot use and stops; the packet stays.
        let piece = match (
            readable,
            vsock_hdr::rx_piece(&hdr, remaining, buf_len as usize),
        ) {
            (0, Some(piece)) => piece,
            _ => {
                self.send_queue.push_front(skb);
                return Err(Stop::Format);
            }
        };
        let wire = piece.hdr.to_bytes();
        skb.set_hdr(&wire);
        let used = HDR_SIZE + piece.len;
        let copied = IovIter::dest(&buf.iov, used).and_then(|mut iter| {
            iter.write(&wire)?;
            skb.copy_payload(offset, &mut iter, piece.len)
        });
        if copied.is_err() {
            // Its header as it was, for the next buffer.
            skb.set_hdr(&raw);
            self.send_queue.push_front(skb);
            return Err(Stop::Header);
        }
        skb.deliver_tap();
        guest.log_received(&buf.log, used as u64);
        // `used` is at most a buffer's length, a u32.
        let added = ring.add_used(guest, head, used as u32);
        // In order, each buffer is an entry of its own: the guest needs
        // every length.
        ring.end_used_group();
        skb.set_offset(offset + piece.len);
        if offset + piece.len < skb.len() {
            // The rest goes into the next buffer, with the flags this
            // piece could not have, and to the taps again.
            let mut rest = piece.hdr;
            rest.flags |= piece.restore;
            skb.set_hdr(&rest.to_bytes());
            skb.clear_tap_delivered();
            self.send_queue.push_front(skb);
        } else {
            *replies += i32::from(skb.is_reply());
            skb.consume_sent();
        }
        if let Err(e) = added {
            run.used_failed = true;
            return Err(e.into());
        }
        Ok(Some(piece.len))
    }
}
