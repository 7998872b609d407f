// SPDX-License-Identifier: GPL-2.0

//! rvhost's own kernel abstractions.
//!
//! Every `unsafe` of the project lives below this directory; the drivers in
//! `drivers/vhost/` are safe Rust on top of these types. Each module crate
//! (`rvhost_net`, `rvhost_vsock`) includes this tree itself.

pub(crate) mod bindings;
pub(crate) mod busy;
pub(crate) mod dirty;
pub(crate) mod errno;
pub(crate) mod eventfd;
pub(crate) mod miscdev;
#[macro_use]
pub(crate) mod params;
pub(crate) mod poll;
pub(crate) mod socket;
pub(crate) mod uapi;
pub(crate) mod user;
pub(crate) mod worker;
