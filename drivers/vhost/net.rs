// SPDX-License-Identifier: GPL-2.0

//! `/dev/vhost-net`: the virtio-net device (drivers/vhost/net.c).

use crate::{
    dev::Dev,
    features::Features,
    rvhost::{
        bindings as b,
        miscdev::MiscFile, //
    },
};
use kernel::{
    fs::File,
    iov::{
        IovIterDest,
        IovIterSource, //
    },
    prelude::*,
    sync::poll::PollTable,
};

/// RX and TX.
const NVQS: u32 = 2;

/// `vhost_net_bits` and `VHOST_NET_BACKEND_FEATURES` of the C driver.
static FEATURES: Features = Features::new(
    &[
        b::VHOST_NET_F_VIRTIO_NET_HDR,
        b::VIRTIO_NET_F_MRG_RXBUF,
        b::VIRTIO_F_ACCESS_PLATFORM,
        b::VIRTIO_F_RING_RESET,
        b::VIRTIO_F_IN_ORDER,
        b::VIRTIO_NET_F_GUEST_UDP_TUNNEL_GSO,
        b::VIRTIO_NET_F_HOST_UDP_TUNNEL_GSO,
    ],
    1 << b::VHOST_BACKEND_F_IOTLB_MSG_V2,
);

/// An open `/dev/vhost-net`.
#[pin_data]
pub(crate) struct Net {
    #[pin]
    dev: Dev,
}

impl MiscFile for Net {
    type Ptr = Pin<KBox<Self>>;

    fn open(_file: &File) -> Result<Self::Ptr> {
        KBox::pin_init(
            pin_init!(Net {
                dev <- Dev::new(NVQS, &FEATURES),
            }),
            GFP_KERNEL,
        )
    }

    fn ioctl(this: Pin<&Net>, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        let dev = &this.dev;
        match cmd {
            b::VHOST_GET_FEATURES => dev.get_features(arg),
            b::VHOST_GET_FEATURES_ARRAY => dev.get_features_array(arg),
            b::VHOST_GET_BACKEND_FEATURES => dev.get_backend_features(arg),
            b::VHOST_SET_OWNER => dev.set_owner(),
            _ => dev.unknown_ioctl(arg),
        }
    }

    fn read_iter(this: Pin<&Net>, iov: &mut IovIterDest<'_>, nonblock: bool) -> Result<usize> {
        this.dev.read(iov, nonblock)
    }

    fn write_iter(this: Pin<&Net>, iov: &mut IovIterSource<'_>) -> Result<usize> {
        this.dev.write(iov)
    }

    fn poll(this: Pin<&Net>, file: &File, table: &PollTable<'_>) -> u32 {
        this.dev.poll(file, table)
    }
}
