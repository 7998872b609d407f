// SPDX-License-Identifier: GPL-2.0

//! The error numbers the guest address checks return.

/// An errno of the vhost core, as C returns it (negated by [`Errno::to_errno`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Errno {
    /// `EPERM`: an IOTLB entry without the access asked for.
    Perm = 1,
    /// `E2BIG`: more memory regions than `max_mem_regions`.
    TooBig = 7,
    /// `EAGAIN`: an IOTLB miss, reported to userspace.
    Again = 11,
    /// `ENOMEM`.
    NoMem = 12,
    /// `EFAULT`.
    Fault = 14,
    /// `EBUSY`: the ring has a backend.
    Busy = 16,
    /// `EINVAL`.
    Inval = 22,
    /// `ENOSPC`: the table is full and does not retire entries.
    NoSpc = 28,
    /// `EOPNOTSUPP`.
    OpNotSupp = 95,
    /// `ENOBUFS`: more pieces than the caller's I/O vector holds.
    NoBufs = 105,
}

impl Errno {
    /// The negative errno the kernel returns.
    pub const fn to_errno(self) -> i32 {
        -(self as i32)
    }
}
