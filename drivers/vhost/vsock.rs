// SPDX-License-Identifier: GPL-2.0

//! `/dev/vhost-vsock`: the virtio-vsock device (drivers/vhost/vsock.c).

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

/// RX and TX; the event queue is not the host kernel's.
const NVQS: u32 = 2;

/// `vhost_vsock_bits` and `VHOST_VSOCK_BACKEND_FEATURES` of the C driver.
static FEATURES: Features = Features::new(
    &[
        b::VIRTIO_F_ACCESS_PLATFORM,
        b::VIRTIO_VSOCK_F_SEQPACKET,
    ],
    1 << b::VHOST_BACKEND_F_IOTLB_MSG_V2,
);

/// An open `/dev/vhost-vsock`.
#[pin_data]
pub(crate) struct Vsock {
    #[pin]
    dev: Dev,
}

impl MiscFile for Vsock {
    type Ptr = Pin<KBox<Self>>;

    fn open(_file: &File) -> Result<Self::Ptr> {
        KBox::pin_init(
            pin_init!(Vsock {
                dev <- Dev::new(NVQS, &FEATURES),
            }),
            GFP_KERNEL,
        )
    }

    fn ioctl(this: Pin<&Vsock>, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        let dev = &this.dev;
        match cmd {
            b::VHOST_GET_FEATURES => dev.get_features(arg),
            // C's vsock has no VHOST_GET_FEATURES_ARRAY: it falls to the
            // generic path like any unknown ioctl.
            b::VHOST_GET_BACKEND_FEATURES => dev.get_backend_features(arg),
            b::VHOST_SET_OWNER => dev.set_owner(),
            _ => dev.unknown_ioctl(arg),
        }
    }

    fn read_iter(this: Pin<&Vsock>, iov: &mut IovIterDest<'_>, nonblock: bool) -> Result<usize> {
        this.dev.read(iov, nonblock)
    }

    fn write_iter(this: Pin<&Vsock>, iov: &mut IovIterSource<'_>) -> Result<usize> {
        this.dev.write(iov)
    }

    fn poll(this: Pin<&Vsock>, file: &File, table: &PollTable<'_>) -> u32 {
        this.dev.poll(file, table)
    }
}
