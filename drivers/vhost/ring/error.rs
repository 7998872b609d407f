// SPDX-License-Identifier: GPL-2.0

//! Why a queue operation failed.

use core::fmt;

use super::guest_memory::Fault;

/// A queue error, with the exact reason.
///
/// Errors caused by the guest leave the queue where it was: the chain that
/// failed is not consumed, so retrying fails the same way until the guest
/// or userspace fixes the ring (as `vhost_get_vq_desc()` does). `head` is the
/// head index for split rings and the ring position of the chain's first
/// descriptor for packed rings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A ring structure or indirect table could not be read or written.
    Translation {
        /// Guest address of the access.
        addr: u64,
        /// What the memory said.
        fault: Fault,
    },
    /// The used index could not be read when the ring started: the one
    /// start failure `vhost_vq_init_access()` reports as the guest's
    /// (`vq_err()`), where the others only fail the ioctl.
    UsedIdx {
        /// Guest address of the used index.
        addr: u64,
        /// What the memory said.
        fault: Fault,
    },
    /// The avail index moved by more than the ring size, or backwards.
    AvailIdxJump {
        /// Index the device has consumed up to.
        last: u16,
        /// Index the guest published.
        idx: u16,
    },
    /// The avail ring names a head past the end of the descriptor table.
    HeadOutOfRange {
        /// The head.
        head: u16,
        /// Ring size.
        num: u16,
    },
    /// A `next` field points past the end of the descriptor table.
    NextOutOfRange {
        /// Chain head.
        head: u16,
        /// The `next` value.
        next: u16,
    },
    /// The chain is longer than the ring (or its indirect table): a loop.
    DescLoop {
        /// Chain head.
        head: u16,
    },
    /// An indirect table holds an indirect descriptor.
    NestedIndirect {
        /// Chain head.
        head: u16,
    },
    /// An indirect table's length is zero or not a multiple of 16.
    IndirectLen {
        /// Chain head.
        head: u16,
        /// The length.
        len: u32,
    },
    /// An indirect table has more than [`MAX_INDIRECT`](super::MAX_INDIRECT) entries.
    IndirectTooBig {
        /// Chain head.
        head: u16,
        /// The length.
        len: u32,
    },
    /// Packed: an indirect descriptor chained with others, which the packed
    /// layout forbids.
    IndirectInChain {
        /// Chain head.
        head: u16,
    },
    /// `addr + len` wraps the guest address space.
    AddrOverflow {
        /// Start of the buffer.
        addr: u64,
        /// Its length.
        len: u32,
    },
    /// A device-readable descriptor follows a device-writable one.
    ReadAfterWrite {
        /// Chain head.
        head: u16,
    },
    /// The chain has more descriptors than the queue's descriptor storage.
    ChainTooLong {
        /// Chain head.
        head: u16,
        /// Size of the storage.
        max: usize,
    },
    /// Packed: a descriptor inside a chain is not marked available for the
    /// current wrap counter.
    PackedWrap {
        /// Ring position of the descriptor.
        pos: u16,
    },
    /// `add_used()` with a head that no chain of this ring can have.
    BadHead {
        /// The id.
        id: u16,
        /// The number of ring slots it claimed.
        ndescs: u16,
    },
    /// Ring size zero, too big, or not a power of two for a split ring.
    BadNum {
        /// The size asked for.
        num: u32,
    },
    /// `SET_VRING_BASE` value out of range.
    BadBase {
        /// The value.
        base: u32,
    },
    /// Misaligned ring address.
    BadAddr {
        /// The address.
        addr: u64,
    },
    /// A [`Mark`](super::Mark) from before a reset, or ahead of the queue.
    StaleMark,
    /// The ring is not started.
    NotReady,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Translation { addr, fault } => {
                write!(
                    f,
                    "Translation failure ({:?}) at guest address {:#x}",
                    fault, addr
                )
            }
            Self::UsedIdx { addr, fault } => {
                write!(f, "Can't access used idx ({:?}) at {:#x}", fault, addr)
            }
            Self::AvailIdxJump { last, idx } => {
                write!(f, "Invalid available index change from {} to {}", last, idx)
            }
            Self::HeadOutOfRange { head, num } => {
                write!(f, "Guest says index {} > {} is available", head, num)
            }
            Self::NextOutOfRange { head, next } => {
                write!(f, "Desc index is {} out of range, head = {}", next, head)
            }
            Self::DescLoop { head } => write!(f, "Loop detected in chain at head {}", head),
            Self::NestedIndirect { head } => {
                write!(f, "Nested indirect descriptor in chain at head {}", head)
            }
            Self::IndirectLen { head, len } => write!(
                f,
                "Invalid length in indirect descriptor: len {:#x} (head {})",
                len, head
            ),
            Self::IndirectTooBig { head, len } => {
                write!(f, "Indirect buffer length too big: {} (head {})", len, head)
            }
            Self::IndirectInChain { head } => {
                write!(
                    f,
                    "Indirect descriptor chained with others at head {}",
                    head
                )
            }
            Self::AddrOverflow { addr, len } => {
                write!(
                    f,
                    "Buffer wraps address space: addr {:#x} len {:#x}",
                    addr, len
                )
            }
            Self::ReadAfterWrite { head } => {
                write!(f, "Descriptor has out after in: head {}", head)
            }
            Self::ChainTooLong { head, max } => {
                write!(f, "Chain at head {} longer than {} descriptors", head, max)
            }
            Self::PackedWrap { pos } => {
                write!(
                    f,
                    "Descriptor {} not available in chain (wrap counter)",
                    pos
                )
            }
            Self::BadHead { id, ndescs } => {
                write!(f, "Used head {} ({} descriptors) out of range", id, ndescs)
            }
            Self::BadNum { num } => write!(f, "Invalid ring size {}", num),
            Self::BadBase { base } => write!(f, "Invalid ring base {:#x}", base),
            Self::BadAddr { addr } => write!(f, "Misaligned ring address {:#x}", addr),
            Self::StaleMark => f.write_str("Rewind to a stale mark"),
            Self::NotReady => f.write_str("Ring not started"),
        }
    }
}
