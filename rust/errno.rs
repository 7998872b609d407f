// SPDX-License-Identifier: GPL-2.0

//! Error codes the vhost ABI uses that `kernel::error::code` does not name.

use kernel::{
    bindings,
    error::Error, //
};

/// `EBADFD`: a blocking read of IOTLB messages on a device without an IOTLB.
pub(crate) fn ebadfd() -> Error {
    Error::from_errno(-(bindings::EBADFD as i32))
}

/// `ENOBUFS`: a virtqueue index past the device's queues.
pub(crate) fn enobufs() -> Error {
    Error::from_errno(-(bindings::ENOBUFS as i32))
}

/// `EOPNOTSUPP`: a feature bit or flag the device does not offer.
pub(crate) fn eopnotsupp() -> Error {
    Error::from_errno(-(bindings::EOPNOTSUPP as i32))
}

/// `ENOTSOCK`: what `VHOST_NET_SET_BACKEND` answers for any unusable fd.
pub(crate) fn enotsock() -> Error {
    Error::from_errno(-(bindings::ENOTSOCK as i32))
}
