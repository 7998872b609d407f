// SPDX-License-Identifier: GPL-2.0

//! The transmit handler of `/dev/vhost-net` and its steps (drivers/vhost/net.c:
//! `handle_tx()`, `handle_tx_copy()`, `get_tx_bufs()`, `vhost_tx_batch()`):
//! every chain the guest made available becomes a packet on the socket.
//!
//! C has a second loop, `handle_tx_zerocopy()`, for its
//! `experimental_zcopytx` module parameter; rvhost always copies.

use core::ops::ControlFlow;

use super::{
    has_avail,
    iov_advance,
    Net,
    NetQueue,
    BATCH,
    PKT_WEIGHT,
    TX,
    WEIGHT, //
};
use crate::{
    guest::Guest,
    handler::{discard_vq_desc, get_vq_desc, publish, rearm, Run, Scratch, Stop},
    net_hdr,
    ring::{
        Head,
        Mark,
        Weight, //
    },
    rvhost::{
        errno,
        socket::{
            backend::NetBackend,
            tx_batch::TxBatch, //
        },
    },
    vq::Ring,
};
use kernel::prelude::*;

/// A packet [`Tx::get_tx_bufs`] found, its pieces past vhost's header in
/// `buf.iov`.
struct TxPacket {
    head: Head,
    /// Where its chain starts, to put it back.
    start: Mark,
    len: usize,
}

/// What became of a packet [`Tx::send`] was given.
enum Sent {
    /// Sent, batched, or dropped as C drops it: its chain is used.
    Done,
    /// The socket is full: the chain is back in the ring.
    Full,
}

/// One run of the TX handler: the queue, and what C's `handle_tx_copy()`
/// keeps in locals.
struct Tx<'a, 'r> {
    net: &'a Net,
    ring: &'a mut Ring,
    guest: &'a Guest<'a>,
    run: &'a mut Run<'r>,
    sock: &'a NetBackend,
    buf: &'a mut Scratch,
    txb: &'a mut Option<TxBatch>,
    vhost_hlen: usize,
    sock_hlen: usize,
    busyloop: u32,
    /// Packets are copied into `txb` for one `sendmsg` to tun/tap, whose
    /// send buffer is unlimited (C's `sock_can_batch`).
    batching: bool,
    /// The last look at an empty ring ended in a spin (busy polling): the
    /// next one asks the guest to kick instead.
    polled: bool,
}

impl Net {
    /// `handle_tx()`: every chain the guest made available becomes a packet
    /// on the socket: copied into a batch for one `sendmsg` to tun/tap when
    /// its send buffer is unlimited, else one `sendmsg` each, with
    /// `MSG_MORE` while more follow.
    pub(super) fn handle_tx(&self) {
        self.run(TX, |ring, guest, data, run| {
            let NetQueue {
                sock: Some(sock),
                vhost_hlen,
                sock_hlen,
                txb,
                busyloop,
                buf,
                ..
            } = data
            else {
                return;
            };
            Tx {
                net: self,
                ring,
                guest,
                run,
                sock,
                buf,
                txb,
                vhost_hlen: *vhost_hlen,
                sock_hlen: *sock_hlen,
                busyloop: *busyloop,
                batching: sock.can_batch(),
                polled: false,
            }
            .handle_tx_copy();
        });
    }
}

impl Tx<'_, '_> {
    /// `handle_tx_copy()`: a packet each iteration of the weight, until the
    /// ring is empty, the socket full, the weight spent or the queue
    /// stopped.
    fn handle_tx_copy(&mut self) {
        let mut weight = Weight::new(PKT_WEIGHT, WEIGHT);
        let mut pkts = 0usize;
        loop {
            if !weight.next() {
                self.run.requeue = true;
                break;
            }
            let pkt = match self.get_tx_bufs() {
                Ok(Some(pkt)) => pkt,
                Ok(None) => match self.ring_empty() {
                    ControlFlow::Continue(()) => continue,
                    ControlFlow::Break(()) => break,
                },
                Err(stop) => {
                    self.run.fail(stop);
                    break;
                }
            };
            weight.add_bytes(pkt.len);
            match self.send(&pkt, weight.bytes_spent()) {
                Ok(Sent::Done) => {}
                Ok(Sent::Full) => {
                    // Retry when the socket has room.
                    self.run.poll_sock = true;
                    break;
                }
                Err(stop) => {
                    self.run.fail(stop);
                    break;
                }
            }
            if let Err(e) = self.ring.add_used(self.guest, pkt.head, 0) {
                self.run.fail(e.into());
                break;
            }
            pkts += 1;
            if pkts % BATCH == 0 {
                self.tx_batch();
                publish(self.ring, self.guest, self.run);
            }
        }
        // The packets go out before their buffers are published.
        self.tx_batch();
    }

    /// `get_tx_bufs()`: the next chain as a packet, its pieces past vhost's
    /// header in `buf.iov`; `Ok(None)` when the ring is empty.
    ///
    /// A chain with device-writable buffers, or with nothing past the
    /// header, is consumed without a used entry, and the queue stops until
    /// the next kick. C counts pieces, not descriptors: an empty writable
    /// buffer is none.
    fn get_tx_bufs(&mut self) -> Result<Option<TxPacket>, Stop> {
        self.buf.iov.clear();
        let Some(chain) = get_vq_desc(self.ring, self.guest, self.buf, false)? else {
            return Ok(None);
        };
        self.polled = false;
        if chain.writable > 0 {
            return Err(Stop::Format);
        }
        // The pieces hold the chain's bytes, all readable.
        let len = usize::try_from(chain.len)
            .unwrap_or(usize::MAX)
            .saturating_sub(self.vhost_hlen);
        if self.vhost_hlen > 0 {
            iov_advance(&mut self.buf.iov, self.vhost_hlen);
        }
        if len == 0 {
            return Err(Stop::Format);
        }
        Ok(Some(TxPacket {
            head: chain.head,
            start: chain.start,
            len,
        }))
    }

    /// Nothing new in the ring (C's `head == vq->num`): the batch goes out
    /// first. Then with busy polling the handler spins once, and the next
    /// iteration looks again (C spins in `vhost_net_tx_get_vq_desc()` and
    /// looks again in the same iteration); else it asks the guest to kick,
    /// and goes on if chains came meanwhile.
    fn ring_empty(&mut self) -> ControlFlow<()> {
        self.tx_batch();
        if self.busyloop != 0 && !self.polled {
            self.polled = true;
            // The guest hears of them before the spin.
            publish(self.ring, self.guest, self.run);
            if self
                .net
                .busy_poll(self.ring, self.guest, self.run, self.busyloop, None)
            {
                // Other work came: after it, look again.
                self.run.requeue = true;
                return ControlFlow::Break(());
            }
            return ControlFlow::Continue(());
        }
        let next = rearm(self.ring, self.guest, self.run);
        if next.is_continue() {
            self.polled = false;
        }
        next
    }

    /// One packet to the socket: copied into the batch
    /// (`vhost_net_build_xdp()`), or else sent on its own, with `MSG_MORE`
    /// while more follow and the weight allows (`tx_can_batch()`). A
    /// packet that does not fit a page, or that the batch refuses, is sent
    /// on its own (C would spin on a packet shorter than the tap's header;
    /// the tap drops it instead). A send error drops the packet, as C
    /// does, but a full socket puts its chain back.
    fn send(&mut self, pkt: &TxPacket, bytes_spent: bool) -> Result<Sent, Stop> {
        let len = pkt.len;
        if self.batching {
            if let Some(b) = self.txb.as_mut() {
                let added = b.add(self.sock, &self.buf.iov, len, self.sock_hlen, |hdr| {
                    net_hdr::fix_csum_hdr_len(hdr, true, len).map_err(|_| EINVAL)
                });
                match added {
                    Ok(()) => return Ok(Sent::Done),
                    Err(_) => self.tx_batch(),
                }
            }
        }
        // `tx_can_batch()`
        let more = !self.batching && !bytes_spent && {
            let run = &mut *self.run;
            has_avail(self.ring, self.guest, &mut |e| run.fail(e.into()))
        };
        match self.sock.sendmsg(&self.buf.iov, len, more) {
            Err(e) if e == EAGAIN || e == ENOMEM || e == errno::enobufs() => {
                discard_vq_desc(self.ring, pkt.start)?;
                Ok(Sent::Full)
            }
            // Anything else drops the packet, as C does.
            _ => Ok(Sent::Done),
        }
    }

    /// `vhost_tx_batch()`: hands the packets copied so far to tun/tap in
    /// one `sendmsg`. If it fails they are dropped, but unlike C their
    /// buffers still go back to the guest (their used entries stay).
    fn tx_batch(&mut self) {
        if let Some(b) = self.txb.as_mut() {
            if b.flush(self.sock).is_err() {
                self.run.fail(Stop::Batch);
            }
        }
    }
}
