// SPDX-License-Identifier: GPL-2.0

//! rvhost's own kernel abstractions.
//!
//! Every `unsafe` of the project lives below this directory; the drivers in
//! `drivers/vhost/` are safe Rust on top of these types. Each module crate
//! (`rvhost_net`, `rvhost_vsock`) includes this tree itself.

pub(crate) mod bindings;
pub(crate) mod errno;
pub(crate) mod miscdev;
pub(crate) mod user;
