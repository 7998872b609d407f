// SPDX-License-Identifier: GPL-2.0

//! The ring-fetch layer of rvhost (`drivers/vhost/ring`), built for the
//! host. The source is the kernel's, included as it is; this crate is
//! `no_std` so that anything beyond `core` fails to build here as it would
//! in the kernel.

#![no_std]

#[path = "../../../../drivers/vhost/ring/mod.rs"]
mod ring;

pub use ring::*;
