// SPDX-License-Identifier: GPL-2.0

//! Per-queue state.

use core::ops::DerefMut;

use super::{
    desc::Desc,
    guest_memory::Space,
    layout::{
        DEFAULT_BATCH,
        VIRTIO_F_IN_ORDER,
        VIRTIO_F_RING_PACKED, //
    },
    used::{
        UsedElem,
        USED_BATCH, //
    },
    window::{
        Window,
        WINDOW, //
    },
};

/// Bytes of the bounce buffer for avail entries and used entries.
pub(crate) const SCRATCH: usize = 512;

/// Where the device is in the available ring.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Cursor {
    /// Split: free-running avail index. Packed: ring position.
    pub(crate) idx: u16,
    /// Split: `next_avail_head`, the in-order head (free-running).
    pub(crate) head: u16,
    /// Packed: the device's view of the driver ring wrap counter.
    pub(crate) wrap: bool,
}

impl Cursor {
    pub(crate) const INIT: Self = Self {
        idx: 0,
        head: 0,
        wrap: true,
    };

    /// Packed: the position on a span of two laps of a ring of `num`
    /// (wrap counter set: the first), to count slots across a wrap.
    pub(crate) fn lap_pos(self, num: u16) -> u32 {
        u32::from(self.idx) + if self.wrap { 0 } else { u32::from(num) }
    }
}

/// A position of the queue, to put chains back with [`Vring::rewind`].
///
/// Marks do not survive [`Vring::set_base`], [`Vring::reset`] or any
/// configuration change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mark {
    pub(crate) gen: u32,
    pub(crate) at: Cursor,
}

/// One virtqueue, device side.
///
/// `S` is the descriptor storage the owner allocates once (the kernel a
/// `KVVec<Desc>`, the host a `Vec<Desc>`); [`DEFAULT_STORAGE`] entries match
/// the C driver's per-chain limit.
///
/// [`DEFAULT_STORAGE`]: super::DEFAULT_STORAGE
pub struct Vring<S> {
    pub(crate) store: S,
    pub(crate) num: u16,
    pub(crate) desc: u64,
    /// Split: avail ring. Packed: driver event suppression area.
    pub(crate) avail: u64,
    /// Split: used ring. Packed: device event suppression area.
    pub(crate) used: u64,
    pub(crate) features: u64,
    pub(crate) batch: u16,
    pub(crate) ready: bool,
    /// Bumped whenever ring-dependent state is dropped; stales [`Mark`]s.
    pub(crate) gen: u32,

    /// Next chain to read from the ring.
    pub(crate) fetch: Cursor,
    /// Next chain to hand out; what `GET_VRING_BASE` reports.
    pub(crate) consumed: Cursor,
    /// Split: last avail index read from the guest.
    pub(crate) avail_idx: u16,
    /// Packed: how far the fetch got before a [`Vring::rewind`], until a
    /// refill gets there again: chains up to it are known to be available,
    /// and only a chain past it is new (`avail_idx` for split rings).
    pub(crate) seen: Option<Cursor>,
    /// Batch: chains in `store[pos..end]` are fetched but not handed out.
    pub(crate) pos: usize,
    pub(crate) end: usize,

    /// Split: free-running used index. Packed: used ring position.
    pub(crate) used_idx: u16,
    /// Packed: device ring wrap counter.
    pub(crate) used_wrap: bool,
    /// Split: used index at the last interrupt decision.
    pub(crate) signalled_used: u16,
    /// Packed: ring slots used since the last interrupt decision.
    pub(crate) since_signal: u32,
    pub(crate) signalled_valid: bool,
    /// Used entries were published since the last interrupt decision
    /// ([`Vring::need_notify`]).
    pub(crate) undecided: bool,
    /// Guest notifications (kicks) are disabled: `VRING_USED_F_NO_NOTIFY`.
    pub(crate) no_notify: bool,
    pub(crate) used_buf: [UsedElem; USED_BATCH],
    pub(crate) used_n: usize,
    /// Chains in `used_buf[..used_n]`.
    pub(crate) used_chains: u32,
    /// In order: the next used chain joins the last entry.
    pub(crate) group_open: bool,

    pub(crate) ring_win: Window,
    pub(crate) ind_win: Window,
    pub(crate) scratch: [u8; SCRATCH],
}

impl<S: DerefMut<Target = [Desc]>> Vring<S> {
    /// A queue with no ring yet, using `store` for fetched descriptors.
    pub fn new(store: S) -> Self {
        Self {
            store,
            num: 0,
            desc: 0,
            avail: 0,
            used: 0,
            features: 0,
            batch: DEFAULT_BATCH,
            ready: false,
            gen: 0,
            fetch: Cursor::INIT,
            consumed: Cursor::INIT,
            avail_idx: 0,
            seen: None,
            pos: 0,
            end: 0,
            used_idx: 0,
            used_wrap: true,
            signalled_used: 0,
            since_signal: 0,
            signalled_valid: false,
            undecided: false,
            no_notify: false,
            used_buf: [UsedElem::default(); USED_BATCH],
            used_n: 0,
            used_chains: 0,
            group_open: false,
            ring_win: Window::new(Space::Ring),
            ind_win: Window::new(Space::Guest),
            scratch: [0; SCRATCH],
        }
    }

    pub(crate) fn has(&self, bit: u32) -> bool {
        bit < 64 && self.features & (1u64 << bit) != 0
    }

    pub(crate) fn packed(&self) -> bool {
        self.has(VIRTIO_F_RING_PACKED)
    }

    /// Batch size in effect: never more than the ring.
    pub(crate) fn batch_eff(&self) -> u16 {
        self.batch.clamp(1, self.num.max(1))
    }

    /// Descriptors read per copy. A batch of 1 reads one at a time, as C.
    pub(crate) fn ahead(&self) -> u32 {
        u32::from(self.batch_eff()).min(WINDOW as u32)
    }

    /// Ring size.
    pub fn num(&self) -> u16 {
        self.num
    }

    /// Negotiated features.
    pub fn features(&self) -> u64 {
        self.features
    }

    /// Batch size asked for with [`Vring::set_batch`].
    pub fn batch(&self) -> u16 {
        self.batch
    }

    /// Whether [`Vring::start`] succeeded and no stop or reset came since.
    pub fn is_ready(&self) -> bool {
        self.ready
    }

    /// The descriptor storage.
    pub fn storage(&self) -> &[Desc] {
        &self.store
    }

    /// Forgets everything read from the ring that was not handed out: the
    /// batch and in-flight windows. The next refill starts again from what
    /// was consumed. What the guest made available stays known (split: the
    /// avail index read; packed: [`Vring::seen`]), as C's
    /// `vhost_discard_vq_desc()` leaves `avail_idx` alone: chains put back
    /// are not new chains, and must not make [`Vring::enable_notify`] say
    /// the guest added some.
    pub(crate) fn drop_batch(&mut self) {
        if self.packed() && self.seen.is_none() && self.fetch != self.consumed {
            self.seen = Some(self.fetch);
        }
        self.fetch = self.consumed;
        self.pos = 0;
        self.end = 0;
        self.ring_win.invalidate();
        self.ind_win.invalidate();
    }

    /// Whether `VIRTIO_F_IN_ORDER` was negotiated.
    pub fn in_order(&self) -> bool {
        self.has(VIRTIO_F_IN_ORDER)
    }
}
