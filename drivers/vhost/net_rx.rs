// SPDX-License-Identifier: GPL-2.0

//! The receive handler of `/dev/vhost-net` and its steps
//! (drivers/vhost/net.c: `handle_rx()`, `vhost_net_rx_peek_head_len()`,
//! `get_rx_bufs()`): every packet the socket has goes into buffers the
//! guest made available.

use core::ops::ControlFlow;

use super::{
    iov_advance,
    Net,
    NetQueue,
    BATCH,
    PKT_WEIGHT,
    RX,
    WEIGHT, //
};
use crate::{
    guest::Guest,
    handler::{
        discard_vq_desc,
        get_vq_desc,
        publish,
        rearm,
        Run,
        Scratch,
        Stop,
        MAXIOV, //
    },
    ring::{
        Mark,
        Weight, //
    },
    rvhost::{
        bindings as b,
        socket::{
            backend::NetBackend,
            iov::UserIovec,
            rx_batch::RxBatch, //
        },
        user,
    },
    vq::Ring,
};
use kernel::{
    prelude::*,
    uaccess::{
        UserPtr,
        UserSlice, //
    },
};

/// `sizeof(struct virtio_net_hdr)`: what vhost writes itself on receive.
const HDR_LEN: usize = core::mem::size_of::<b::virtio_net_hdr>();

/// What [`Rx::get_rx_bufs`] found.
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

/// One run of the RX handler: the queue, and what C's `handle_rx()` keeps
/// in locals.
struct Rx<'a, 'r> {
    net: &'a Net,
    ring: &'a mut Ring,
    guest: &'a Guest<'a>,
    run: &'a mut Run<'r>,
    sock: &'a NetBackend,
    rxq: &'a mut RxBatch,
    buf: &'a mut Scratch,
    vhost_hlen: usize,
    sock_hlen: usize,
    busyloop: u32,
    /// `VIRTIO_NET_F_MRG_RXBUF`: a packet may take several chains.
    mergeable: bool,
    /// `num_buffers` is written (`MRG_RXBUF` or `VERSION_1`).
    set_num_buffers: bool,
    /// Chains used since the guest last heard (C's `done_idx`). Not
    /// [`Ring::used_pending`]: the ring publishes on its own every 64
    /// entries, without deciding whether to interrupt the guest.
    done: usize,
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
        let (chunk, rest) = data.split_at(n);
        if let Ok(b) = <[u8; 2]>::try_from(chunk) {
            // `num_buffers`, once a packet: a store, not a copy.
            user::put_u16(v.base + off, u16::from_ne_bytes(b))?;
        } else {
            let ptr = UserPtr::from_addr(v.base + off);
            UserSlice::new(ptr, n).writer().write_slice(chunk)?;
        }
        data = rest;
        off = 0;
    }
    if data.is_empty() {
        Ok(())
    } else {
        Err(EFAULT)
    }
}

impl Net {
    /// `handle_rx()`: every packet the socket has goes into guest buffers.
    pub(super) fn handle_rx(&self) {
        self.run(RX, |ring, guest, data, run| {
            let NetQueue {
                sock: Some(sock),
                vhost_hlen,
                sock_hlen,
                mergeable,
                set_num_buffers,
                rxq,
                busyloop,
                buf,
                ..
            } = data
            else {
                return;
            };
            Rx {
                net: self,
                ring,
                guest,
                run,
                sock,
                rxq,
                buf,
                vhost_hlen: *vhost_hlen,
                sock_hlen: *sock_hlen,
                busyloop: *busyloop,
                mergeable: *mergeable,
                set_num_buffers: *set_num_buffers,
                done: 0,
            }
            .handle_rx();
        });
    }
}

impl Rx<'_, '_> {
    /// The loop of `handle_rx()`: a packet each iteration of the weight,
    /// until the socket is drained, the guest's buffers run out, the
    /// weight is spent or the queue stopped.
    fn handle_rx(&mut self) {
        let mut weight = Weight::new(PKT_WEIGHT, WEIGHT);
        loop {
            if !weight.next() {
                self.run.requeue = true;
                break;
            }
            let (sock_len, intr) = self.peek_head_len();
            // A publish failed (here, or at the end of the last packet):
            // no packet is taken that could not be given back.
            if self.run.used_failed {
                break;
            }
            if sock_len == 0 {
                // Other work came while spinning: after it, look again;
                // else wait for the socket.
                if intr {
                    self.run.requeue = true;
                } else {
                    self.run.poll_sock = true;
                }
                break;
            }
            let sock_len = sock_len + self.sock_hlen;
            let vhost_len = sock_len + self.vhost_hlen;
            let quota = if self.mergeable { MAXIOV } else { 1 };
            let mark = self.ring.mark();
            match self.get_rx_bufs(vhost_len, quota) {
                Ok(RxBufs::Ready) => {}
                Ok(RxBufs::Empty) => match self.no_bufs(intr) {
                    ControlFlow::Continue(()) => continue,
                    ControlFlow::Break(()) => break,
                },
                Ok(RxBufs::BadFormat) => {
                    self.bad_format();
                    break;
                }
                Ok(RxBufs::TooBig) => {
                    self.drop_packet();
                    continue;
                }
                Err(stop) => {
                    self.run.fail(stop);
                    break;
                }
            }
            match self.receive(mark, sock_len) {
                Ok(true) => {}
                // Userspace took the packet meanwhile: the buffers are back.
                Ok(false) => continue,
                Err(stop) => {
                    self.run.fail(stop);
                    break;
                }
            }
            self.guest.log_received(&self.buf.log, vhost_len as u64);
            if let Err(stop) = self.add_used() {
                self.run.fail(stop);
                self.run.used_failed = true;
            }
            weight.add_bytes(vhost_len);
            // This packet's used entries failed (`add_used()` publishes
            // when its buffer is full). Errors that are only reported
            // (`vq_err()` in C, as a guest flag that cannot be read) do
            // not stop the loop.
            if self.run.used_failed {
                break;
            }
            self.done += self.buf.heads.len();
            if self.done > BATCH {
                publish(self.ring, self.guest, self.run);
                self.done = 0;
            }
        }
    }

    /// `vhost_net_rx_peek_head_len()`: the length of the next packet, 0 if
    /// none. With busy polling and none yet, what was received so far goes
    /// to the guest first, then the handler spins for one. Also returns
    /// whether the spin ended because other work came (`busyloop_intr`).
    fn peek_head_len(&mut self) -> (usize, bool) {
        let len = self.rxq.peek_len(self.sock);
        if len != 0 || self.busyloop == 0 {
            return (len, false);
        }
        publish(self.ring, self.guest, self.run);
        self.done = 0;
        let rx = Some((&*self.rxq, self.sock));
        let intr = self
            .net
            .busy_poll(self.ring, self.guest, self.run, self.busyloop, rx);
        (self.rxq.peek_len(self.sock), intr)
    }

    /// `get_rx_bufs()`: chains for `want` bytes, at most `quota` of them,
    /// their pieces in `buf.iov` and their heads and lengths in
    /// `buf.heads`. On anything but [`RxBufs::Ready`] the chains taken are
    /// back in the ring.
    fn get_rx_bufs(&mut self, want: usize, quota: usize) -> Result<RxBufs, Stop> {
        let (ring, guest, buf) = (&mut *self.ring, self.guest, &mut *self.buf);
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
            let chain = match get_vq_desc(ring, guest, buf, guest.logs_data()) {
                Ok(Some(chain)) => chain,
                Ok(None) => break Ok(RxBufs::Empty),
                Err(stop) => break Err(stop),
            };
            // RX chains carry device-writable pieces only, at least one
            // (C counts pieces: an empty buffer is none, and a chain of
            // nothing but empty buffers cannot take a byte).
            if chain.readable > 0 || chain.writable == 0 {
                buf.iov.truncate(seg);
                buf.log.truncate(log);
                break Ok(RxBufs::BadFormat);
            }
            let len = chain.len.min(u64::from(u32::MAX)) as u32;
            if buf.heads.push((chain.head, len), GFP_KERNEL).is_err() {
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
            _ => discard_vq_desc(ring, mark)?,
        }
        r
    }

    /// No buffers for the packet yet (C's `headcount == 0`): after other
    /// work if some came while spinning; else the guest is asked to kick,
    /// and the handler goes on if buffers came meanwhile.
    fn no_bufs(&mut self, intr: bool) -> ControlFlow<()> {
        if intr {
            self.run.requeue = true;
            return ControlFlow::Break(());
        }
        rearm(self.ring, self.guest, self.run)
    }

    /// A chain of the wrong shape, every chain put back: C consumes one
    /// (its `vhost_discard_vq_desc()` puts back all but one) and stops
    /// until the next kick; the packet stays in the socket.
    fn bad_format(&mut self) {
        // Taking the chain just put back fails only if the guest changed
        // its ring meanwhile: the queue stops with an error either way.
        if let Err(e) = self.ring.next_chain(self.guest) {
            self.run.fail(e.into());
        }
        self.run.fail(Stop::Format);
    }

    /// C's overrun: the packet is bigger than the buffers the guest may
    /// give it, and is truncated and discarded: one byte into the first
    /// buffer (a read of nothing would not take the packet off the
    /// socket), the buffers back in the ring.
    fn drop_packet(&mut self) {
        let Some(first) = self.buf.iov.first() else {
            return;
        };
        let one = [UserIovec {
            base: first.base,
            len: 1,
        }];
        match self.rxq.recv(self.sock, &one, 1) {
            Ok(_) => {}
            // Ignored, as C does (it only prints it for debugging): a
            // packet left in the socket is met again, in another iteration
            // of the weight.
            Err(_) => {}
        }
    }

    /// Receives the packet into the buffers [`Rx::get_rx_bufs`] found.
    /// vhost's own header goes first (the buffers are put back if the
    /// receive fails, so writing it early is harmless); with the socket's
    /// header, `num_buffers` is patched after. `Ok(false)` when userspace
    /// took the packet meanwhile: the buffers are back in the ring.
    fn receive(&mut self, mark: Mark, sock_len: usize) -> Result<bool, Stop> {
        let mut hdr = [0u8; HDR_LEN + 2];
        let nbufs = self.buf.heads.len() as u16;
        hdr[HDR_LEN..].copy_from_slice(&nbufs.to_le_bytes());
        if self.vhost_hlen > 0 {
            let n = if self.set_num_buffers {
                HDR_LEN + 2
            } else {
                HDR_LEN
            };
            let written = iov_write(&self.buf.iov, 0, &hdr[..n]);
            iov_advance(&mut self.buf.iov, self.vhost_hlen);
            if written.is_err() {
                discard_vq_desc(self.ring, mark)?;
                return Err(Stop::Header);
            }
        }
        if self.rxq.recv(self.sock, &self.buf.iov, sock_len) != Ok(sock_len) {
            discard_vq_desc(self.ring, mark)?;
            return Ok(false);
        }
        if self.vhost_hlen == 0
            && self.set_num_buffers
            && iov_write(&self.buf.iov, HDR_LEN, &hdr[HDR_LEN..]).is_err()
        {
            discard_vq_desc(self.ring, mark)?;
            return Err(Stop::Header);
        }
        Ok(true)
    }

    /// The packet's chains are used, each with the bytes written to it (in
    /// order, the packet is one used entry); the first failure stops the
    /// adding.
    fn add_used(&mut self) -> Result<(), Stop> {
        let r = self
            .buf
            .heads
            .iter()
            .try_for_each(|&(head, len)| self.ring.add_used(self.guest, head, len));
        self.ring.end_used_group();
        r.map_err(Stop::from)
    }
}
