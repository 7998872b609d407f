// SPDX-License-Identifier: GPL-2.0

//! Ring-fetch layer: split and packed virtqueues seen from the device side.
//!
//! This is the part of vhost that reads what a guest driver made available
//! and writes back what the device used. It is `core`-only Rust with no
//! allocation, and forbids unsafe_code, so the same source is compiled into both
//! kernel modules and, unchanged, into the host crate in `tools/host` for
//! tests, fuzzing and benchmarks.
//!
//! A [`Vring`] refills a batch of format-independent descriptors ([`Desc`])
//! from the guest's ring in bulk and hands them out chain by chain
//! ([`Chain`]). Used entries are buffered and published once per batch. All
//! guest memory is reached through [`GuestMemory`]. See
//! `Documentation/ring.rst` for the design and its invariants.

// Items are `pub` so that the host crate can re-export them; the kernel
// modules include this directory as a private module.
#![allow(unreachable_pub)]
#![forbid(unsafe_code)]

mod chain;
mod config;
mod desc;
mod error;
mod event;
mod fetch;
mod guest_memory;
mod indirect;
mod layout;
mod notify;
mod packed;
mod split;
mod used;
mod vring;
mod weight;
mod window;

// The host crate uses all of these; each kernel module a part.
#[allow(unused_imports)]
pub use self::{
    chain::Chain,
    desc::Desc,
    error::Error,
    event::need_event,
    guest_memory::{
        Fault,
        GuestMemory,
        Space, //
    },
    layout::*,
    used::Head,
    vring::{
        Mark,
        Vring, //
    },
    weight::Weight,
};
