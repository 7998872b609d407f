// SPDX-License-Identifier: GPL-2.0

//! The feature bits a device offers, as the 64-bit words of
//! `VHOST_GET_FEATURES` (word 0) and `VHOST_GET_FEATURES_ARRAY`.

use crate::{
    addr_space,
    rvhost::bindings as b, //
};

/// Number of feature words the kernel knows (`VIRTIO_FEATURES_U64S`), as a
/// queue keeps them.
pub(crate) const WORDS: usize = addr_space::VIRTIO_FEATURES_U64S;

/// Bits every vhost device offers (`VHOST_FEATURES` in drivers/vhost/vhost.h).
pub(crate) const VHOST_BITS: [u32; 6] = [
    b::VIRTIO_F_NOTIFY_ON_EMPTY,
    b::VIRTIO_RING_F_INDIRECT_DESC,
    b::VIRTIO_RING_F_EVENT_IDX,
    b::VHOST_F_LOG_ALL,
    b::VIRTIO_F_ANY_LAYOUT,
    b::VIRTIO_F_VERSION_1,
];

/// What a device type offers to userspace.
pub(crate) struct Features {
    /// Virtio feature bits, word by word.
    pub(crate) words: [u64; WORDS],
    /// `VHOST_BACKEND_F_*` bits.
    pub(crate) backend: u64,
}

impl Features {
    /// Builds the words from bit numbers: the device's own and [`VHOST_BITS`].
    ///
    /// Bits past the last word are a build error, as they are in C.
    pub(crate) const fn new(bits: &[u32], backend: u64) -> Self {
        let mut words = [0u64; WORDS];
        let mut i = 0;
        while i < VHOST_BITS.len() + bits.len() {
            let bit = if i < VHOST_BITS.len() {
                VHOST_BITS[i]
            } else {
                bits[i - VHOST_BITS.len()]
            };
            words[(bit / 64) as usize] |= 1u64 << (bit % 64);
            i += 1;
        }
        Self { words, backend }
    }
}
