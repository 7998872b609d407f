// SPDX-License-Identifier: GPL-2.0

//! Ring layouts, flags and feature bits, from `include/uapi/linux/virtio_ring.h`
//! and `virtio_config.h`.
//!
//! Every multi-byte field of both ring formats is little endian: that is what
//! VIRTIO 1.x mandates, and what the C driver does for legacy guests on x86
//! with `CONFIG_VHOST_CROSS_ENDIAN_LEGACY` off.

/// Feature bit: notify the driver when the ring becomes empty (legacy).
pub const VIRTIO_F_NOTIFY_ON_EMPTY: u32 = 24;
/// Feature bit: indirect descriptor tables.
pub const VIRTIO_RING_F_INDIRECT_DESC: u32 = 28;
/// Feature bit: `used_event` / `avail_event` notification suppression.
pub const VIRTIO_RING_F_EVENT_IDX: u32 = 29;
/// Feature bit: VIRTIO 1.0 or later.
pub const VIRTIO_F_VERSION_1: u32 = 32;
/// Feature bit: the packed ring layout.
pub const VIRTIO_F_RING_PACKED: u32 = 34;
/// Feature bit: buffers are used in the order they were made available.
pub const VIRTIO_F_IN_ORDER: u32 = 35;

/// Largest ring the layer accepts (the packed layout has 15-bit indices).
pub const MAX_RING_SIZE: u32 = 32768;

/// Default number of chains one refill takes from the ring.
pub const DEFAULT_BATCH: u16 = 64;

/// Suggested descriptor storage per queue: `UIO_MAXIOV`, the C driver's
/// per-chain segment limit. A chain longer than the storage is an error.
pub const DEFAULT_STORAGE: usize = 1024;

/// Most entries an indirect table may have (`USHRT_MAX + 1`, as in C).
pub const MAX_INDIRECT: u32 = 65536;

/// Chain continues in the `next` field (split) or the next slot (packed).
pub(crate) const VRING_DESC_F_NEXT: u16 = 1;
/// Buffer is device write-only.
pub(crate) const VRING_DESC_F_WRITE: u16 = 2;
/// Buffer holds a table of descriptors.
pub(crate) const VRING_DESC_F_INDIRECT: u16 = 4;
/// Packed: available flag.
pub(crate) const VRING_PACKED_DESC_F_AVAIL: u16 = 1 << 7;
/// Packed: used flag.
pub(crate) const VRING_PACKED_DESC_F_USED: u16 = 1 << 15;

/// Split: `used->flags` bit asking the driver not to kick.
pub(crate) const VRING_USED_F_NO_NOTIFY: u16 = 1;
/// Split: `avail->flags` bit asking the device not to interrupt.
pub(crate) const VRING_AVAIL_F_NO_INTERRUPT: u16 = 1;

/// Packed event suppression: events enabled.
pub(crate) const VRING_PACKED_EVENT_FLAG_ENABLE: u16 = 0;
/// Packed event suppression: events disabled.
pub(crate) const VRING_PACKED_EVENT_FLAG_DISABLE: u16 = 1;
/// Packed event suppression: event at a given offset and wrap counter.
pub(crate) const VRING_PACKED_EVENT_FLAG_DESC: u16 = 2;
/// Packed event suppression: bit of `off_wrap` holding the wrap counter.
pub(crate) const VRING_PACKED_EVENT_F_WRAP_CTR: u16 = 15;

/// Size of a descriptor, split or packed.
pub(crate) const DESC_SIZE: u64 = 16;
/// Size of a split used element.
pub(crate) const USED_ELEM_SIZE: u64 = 8;
/// Offset of `idx` in `struct vring_avail` and `struct vring_used`.
pub(crate) const RING_IDX: u64 = 2;
/// Offset of `ring[]` in `struct vring_avail` and `struct vring_used`.
pub(crate) const RING_ENTRIES: u64 = 4;
