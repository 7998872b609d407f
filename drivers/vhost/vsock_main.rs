// SPDX-License-Identifier: GPL-2.0

//! rvhost_vsock: `/dev/vhost-vsock` in Rust, a drop-in for vhost_vsock.ko.

// Shared with rvhost_net, of which this foundation uses a part only; ring
// and addr_space are all used by the host crate (tools/host) as well.
#[expect(dead_code)]
mod addr_space;
#[expect(dead_code)]
mod dev;
mod features;
#[expect(dead_code)]
mod guest;
#[expect(dead_code)]
mod iotlb;
#[expect(dead_code)]
mod ring;
#[expect(dead_code)]
#[path = "../../rust/mod.rs"]
mod rvhost;
mod umem;
#[expect(dead_code)]
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
