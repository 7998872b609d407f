// SPDX-License-Identifier: GPL-2.0

//! Bindings generated at build time from `include/rvhost_bindings.h`.
//!
//! They cover what the kernel crate's bindings lack: the vhost and virtio
//! uapi, tun/tap, vhost_task and af_vsock.

#![allow(
    dead_code,
    non_camel_case_types,
    non_upper_case_globals,
    non_snake_case,
    unsafe_op_in_unsafe_fn,
    unreachable_pub,
    clippy::all,
    clippy::undocumented_unsafe_blocks,
    warnings
)]

include!(env!("RVHOST_BINDINGS_RS"));
