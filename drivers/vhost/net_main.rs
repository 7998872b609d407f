// SPDX-License-Identifier: GPL-2.0

//! rvhost_net: `/dev/vhost-net` in Rust, a drop-in for vhost_net.ko.

// The host crate (tools/host) uses all of addr_space and ring; this module
// a part.
#[expect(dead_code)]
mod addr_space;
mod dev;
mod features;
mod guest;
mod handler;
mod iotlb;
mod net;
// `pub` as in the host crate that builds it too (tools/host/net).
pub mod net_hdr;
#[expect(dead_code)]
mod ring;
#[path = "../../rust/mod.rs"]
mod rvhost;
mod umem;
mod vq;

use kernel::prelude::*;
use rvhost::{
    bindings as b,
    miscdev::Registration, //
};

// The layout of `struct virtio_net_hdr` that net_hdr.rs, `core`-only,
// spells out itself.
const _: () = {
    use core::mem::{
        offset_of,
        size_of, //
    };
    assert!(net_hdr::VIRTIO_NET_HDR_SIZE == size_of::<b::virtio_net_hdr>());
    assert!(net_hdr::VIRTIO_NET_HDR_F_NEEDS_CSUM as u32 == b::VIRTIO_NET_HDR_F_NEEDS_CSUM);
    assert!(offset_of!(b::virtio_net_hdr, flags) == 0);
    assert!(offset_of!(b::virtio_net_hdr, hdr_len) == 2);
    assert!(offset_of!(b::virtio_net_hdr, csum_start) == 6);
    assert!(offset_of!(b::virtio_net_hdr, csum_offset) == 8);
};

module! {
    type: NetModule,
    name: "rvhost_net",
    authors: ["The rvhost developers"],
    description: "Host kernel accelerator for virtio net, in Rust",
    license: "GPL v2",
    // MODULE_ALIAS_MISCDEV(VHOST_NET_MINOR) and the devtmpfs node name, as
    // the C driver declares them.
    alias: ["char-major-10-238", "devname:vhost-net"],
}

#[pin_data]
struct NetModule {
    #[pin]
    misc: Registration<net::Net>,
}

impl kernel::InPlaceModule for NetModule {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        try_pin_init!(NetModule {
            misc <- Registration::register(c"vhost-net", b::VHOST_NET_MINOR),
        })
    }
}
