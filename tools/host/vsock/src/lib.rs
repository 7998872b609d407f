// SPDX-License-Identifier: GPL-2.0

//! The pure parts of rvhost's vhost-vsock (`drivers/vhost/vsock_hdr.rs`),
//! built for the host. The source is the kernel's, included as it is; this
//! crate is `no_std` so that anything beyond `core` fails to build here as
//! it would in the kernel.

#![no_std]

#[path = "../../../../drivers/vhost/vsock_hdr.rs"]
pub mod vsock_hdr;
