// SPDX-License-Identifier: GPL-2.0

//! What userspace configures in a queue (`struct vhost_virtqueue`): ring
//! size and addresses, acked features, dirty log, the IOTLB switch. The
//! kernel's queue holds one [`VqConfig`] and the checks read it there.

/// Number of feature words a queue acks (`VIRTIO_FEATURES_U64S` in
/// include/linux/virtio_features.h, not part of the uapi).
pub const VIRTIO_FEATURES_U64S: usize = 2;
/// `VHOST_F_LOG_ALL`: buffers the device writes are logged.
pub const VHOST_F_LOG_ALL: u32 = 26;
/// `VIRTIO_RING_F_EVENT_IDX`: the rings carry event fields.
pub const VIRTIO_RING_F_EVENT_IDX: u32 = 29;
/// `VIRTIO_F_RING_PACKED`.
pub const VIRTIO_F_RING_PACKED: u32 = 34;

/// The configuration of a queue, as `vhost_vq_reset()` leaves it in
/// [`VqConfig::RESET`] and the vring ioctls, `VHOST_SET_FEATURES` and
/// `VHOST_SET_LOG_BASE` change it. Whether the queue has a backend is the
/// device's to say; the checks that depend on it take it apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VqConfig {
    /// `vq->num`.
    pub num: u32,
    /// `vq->acked_features_array`. C's vhost core has no packed layout and
    /// sizes every ring as split; rvhost sizes a ring as packed with
    /// [`VIRTIO_F_RING_PACKED`]. Leave that bit out for C's answers.
    pub features: [u64; VIRTIO_FEATURES_U64S],
    /// `vq->iotlb` is set: ring addresses are IOVAs.
    pub iotlb: bool,
    /// `vq->desc` (0: not set).
    pub desc: u64,
    /// `vq->avail`.
    pub avail: u64,
    /// `vq->used`.
    pub used: u64,
    /// `vq->log_used`: `VHOST_VRING_F_LOG` was set.
    pub log_used: bool,
    /// `vq->log_addr`.
    pub log_addr: u64,
    /// `vq->log_base` (0: not set).
    pub log_base: u64,
    /// `VHOST_SET_VRING_BASE` while stopped: the split avail index, or the
    /// packed avail and used halves (`vq->last_avail_idx` and the rest).
    pub base: u32,
}

impl VqConfig {
    /// What `vhost_vq_reset()` leaves: one entry, nothing set.
    pub const RESET: Self = Self {
        num: 1,
        features: [0; VIRTIO_FEATURES_U64S],
        iotlb: false,
        desc: 0,
        avail: 0,
        used: 0,
        log_used: false,
        log_addr: u64::MAX,
        log_base: 0,
        base: 0,
    };

    /// Whether feature `bit` is acked (`vhost_has_feature()`).
    pub const fn has(&self, bit: u32) -> bool {
        let word = (bit / 64) as usize;
        word < VIRTIO_FEATURES_U64S && self.features[word] & (1 << (bit % 64)) != 0
    }

    /// [`VIRTIO_RING_F_EVENT_IDX`] is acked.
    pub const fn event_idx(&self) -> bool {
        self.has(VIRTIO_RING_F_EVENT_IDX)
    }

    /// [`VIRTIO_F_RING_PACKED`] is acked.
    pub const fn packed(&self) -> bool {
        self.has(VIRTIO_F_RING_PACKED)
    }

    /// [`VHOST_F_LOG_ALL`] is acked.
    pub const fn log_all(&self) -> bool {
        self.has(VHOST_F_LOG_ALL)
    }

    /// `vhost_vq_invalidate_access()`: the ring addresses and the used
    /// ring's log as reset, for an IOTLB that comes or goes.
    pub fn invalidate_access(&mut self) {
        let r = Self::RESET;
        self.desc = r.desc;
        self.avail = r.avail;
        self.used = r.used;
        self.log_used = r.log_used;
        self.log_addr = r.log_addr;
    }
}

impl Default for VqConfig {
    fn default() -> Self {
        Self::RESET
    }
}
