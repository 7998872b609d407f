// SPDX-License-Identifier: GPL-2.0

//! rvhost_vsock: `/dev/vhost-vsock` in Rust, a drop-in for vhost_vsock.ko.

// Shared with rvhost_net, of which vsock uses a part; ring and addr_space
// are all used by the host crate (tools/host) as well.
#[expect(dead_code)]
mod addr_space;
#[expect(dead_code)]
mod dev;
mod features;
#[expect(dead_code)]
mod guest;
#[expect(dead_code)]
mod handler;
#[expect(dead_code)]
mod iotlb;
#[expect(dead_code)]
mod ring;
#[expect(dead_code)]
#[path = "../../rust/mod.rs"]
mod rvhost;
mod umem;
mod vq;
mod vsock;
// `pub` as in the host crate that builds it too (tools/host/vsock).
pub mod vsock_hdr;
#[path = "../../rust/vsock/mod.rs"]
mod vsock_rvhost;

use kernel::prelude::*;
use rvhost::{
    bindings as b,
    miscdev::Registration, //
};
use vsock_rvhost::transport::{
    self,
    Transport, //
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

/// The host-to-guest transport, under the name C gives it: vsock_test
/// finds it in /proc/kallsyms.
#[no_mangle]
#[allow(non_upper_case_globals)]
static vhost_transport: Transport = Transport::new();

#[pin_data]
struct VsockModule {
    // Fields drop in declaration order: the device goes before the
    // transport, which `init()` registers first, as C does; no device
    // exists outside the transport's registration.
    #[pin]
    misc: Registration<vsock::Vsock>,
    transport: transport::Registration,
}

impl kernel::InPlaceModule for VsockModule {
    fn init(module: &'static ThisModule) -> impl PinInit<Self, Error> {
        try_pin_init!(VsockModule {
            transport: transport::Registration::register(&vhost_transport, module)?,
            misc <- Registration::register(c"vhost-vsock", b::VHOST_VSOCK_MINOR),
        })
    }
}
