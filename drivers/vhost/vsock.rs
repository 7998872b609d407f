// SPDX-License-Identifier: GPL-2.0

//! `/dev/vhost-vsock`: the virtio-vsock device (drivers/vhost/vsock.c).

use crate::{
    dev::Dev,
    features::Features,
    rvhost::{
        bindings as b,
        miscdev::MiscFile,
        worker::WorkHandler, //
    },
    vq::QueueData,
};
use kernel::{
    fs::File,
    iov::{
        IovIterDest,
        IovIterSource, //
    },
    prelude::*,
    sync::{
        poll::PollTable,
        Arc,
        ArcBorrow, //
    },
};

/// Per-queue state: whether the device runs (`VHOST_VSOCK_SET_RUNNING`).
pub(crate) struct VsockQueue {
    running: bool,
}

impl QueueData for VsockQueue {
    fn has_backend(&self) -> bool {
        self.running
    }
}

/// `vhost_vsock_bits` and `VHOST_VSOCK_BACKEND_FEATURES` of the C driver.
static FEATURES: Features = Features::new(
    &[b::VIRTIO_F_ACCESS_PLATFORM, b::VIRTIO_VSOCK_F_SEQPACKET],
    1 << b::VHOST_BACKEND_F_IOTLB_MSG_V2,
);

/// An open `/dev/vhost-vsock`.
#[pin_data]
pub(crate) struct Vsock {
    #[pin]
    dev: Dev<VsockQueue>,
}

impl WorkHandler for Vsock {
    // The vsock data path is the vhost-vsock issue's.
    fn run(&self, _work: u64) {}
}

impl Vsock {
    /// The answer to an ioctl this device does not know: C checks ownership
    /// (`vhost_dev_ioctl`), then reads a ring index (`vhost_vring_ioctl`),
    /// and only then gives up with `ENOIOCTLCMD` (which the VFS turns into
    /// `ENOTTY`).
    fn unknown_ioctl(dev: &Dev<VsockQueue>, arg: usize) -> Result<isize> {
        let inner = dev.lock();
        Dev::<VsockQueue>::check_owner(&inner)?;
        dev.vq_index(arg)?;
        Err(ENOIOCTLCMD)
    }
}

impl MiscFile for Vsock {
    type Ptr = Arc<Self>;

    fn open(_file: &File) -> Result<Self::Ptr> {
        // RX and TX; the event queue is not the host kernel's.
        let queues = [VsockQueue { running: false }, VsockQueue { running: false }];
        Arc::pin_init(
            try_pin_init!(Vsock {
                dev <- Dev::new(&FEATURES, queues)?,
            }),
            GFP_KERNEL,
        )
    }

    fn release(this: Self::Ptr, _file: &File) {
        let mut inner = this.dev.lock();
        this.dev.stop(&inner);
        this.dev.cleanup(&mut inner);
        drop(inner);
        drop(this);
    }

    fn ioctl(this: ArcBorrow<'_, Vsock>, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        let dev = &this.dev;
        match cmd {
            b::VHOST_GET_FEATURES => dev.get_features(arg),
            // C's vsock has no VHOST_GET_FEATURES_ARRAY: it falls to the
            // generic path like any unknown ioctl.
            b::VHOST_GET_BACKEND_FEATURES => dev.get_backend_features(arg),
            b::VHOST_SET_OWNER => {
                let mut inner = dev.lock();
                let handler: Arc<Vsock> = this.into();
                dev.set_owner(&mut inner, handler)
            }
            _ => Self::unknown_ioctl(dev, arg),
        }
    }

    fn read_iter(
        this: ArcBorrow<'_, Vsock>,
        iov: &mut IovIterDest<'_>,
        nonblock: bool,
    ) -> Result<usize> {
        this.dev.read(iov, nonblock)
    }

    fn write_iter(this: ArcBorrow<'_, Vsock>, iov: &mut IovIterSource<'_>) -> Result<usize> {
        this.dev.write(iov)
    }

    fn poll(this: ArcBorrow<'_, Vsock>, file: &File, table: &PollTable<'_>) -> u32 {
        this.dev.poll(file, table)
    }
}
