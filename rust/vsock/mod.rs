// SPDX-License-Identifier: GPL-2.0

//! What vhost-vsock needs of the vsock core (net/vmw_vsock/): the
//! host-to-guest transport it registers ([`transport`]), the devices the
//! transport reaches by CID ([`registry`]), the transport's packets
//! ([`skb`]), copies to and from the guest's buffers ([`iov_iter`]) and
//! network namespaces ([`netns`]).
//!
//! Included by rvhost_vsock only.

pub(crate) mod iov_iter;
pub(crate) mod netns;
pub(crate) mod registry;
pub(crate) mod skb;
pub(crate) mod transport;

use kernel::{
    bindings,
    error::Error, //
};

/// `EADDRINUSE`: a guest CID another device has.
pub(crate) fn eaddrinuse() -> Error {
    Error::from_errno(-(bindings::EADDRINUSE as i32))
}

/// `EHOSTUNREACH`: a packet for a guest whose device does not run.
pub(crate) fn ehostunreach() -> Error {
    Error::from_errno(-(bindings::EHOSTUNREACH as i32))
}
