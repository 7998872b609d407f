// SPDX-License-Identifier: GPL-2.0

//! rvhost_vsock: `/dev/vhost-vsock` in Rust, a drop-in for vhost_vsock.ko.

// Shared by both modules, each of which uses only part of it.
#[allow(dead_code)]
mod dev;
mod features;
#[allow(dead_code)]
mod guest;
#[allow(dead_code)]
mod iotlb;
#[allow(dead_code)]
mod mem;
#[allow(dead_code)]
mod ring;
#[allow(dead_code)]
#[path = "../../rust/mod.rs"]
mod rvhost;
#[allow(dead_code)]
mod umem;
#[allow(dead_code)]
mod vq;
mod vsock;

use kernel::prelude::*;
use rvhost::{
    bindings as b,
    miscdev::Registration, //
};

module! {
    type: VsockModule,
    name: "rvhost_vsock",
    authors: ["The rvhost developers"],
    description: "vhost transport for vsock, in Rust",
    license: "GPL v2",
    // MODULE_ALIAS_MISCDEV(VHOST_VSOCK_MINOR) and the devtmpfs node name, as
    // the C driver declares them.
    alias: ["char-major-10-241", "devname:vhost-vsock"],
}

#[pin_data]
struct VsockModule {
    #[pin]
    misc: Registration<vsock::Vsock>,
}

impl kernel::InPlaceModule for VsockModule {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        try_pin_init!(VsockModule {
            misc <- Registration::register(c"vhost-vsock", b::VHOST_VSOCK_MINOR),
        })
    }
}
