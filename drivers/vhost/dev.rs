// SPDX-License-Identifier: GPL-2.0

//! The state every vhost device has, and the ioctls net and vsock answer
//! alike (drivers/vhost/vhost.c: `vhost_dev_ioctl`, `vhost_vring_ioctl`).
//!
//! This is the foundation's subset: ownership and the answers to ioctls not
//! implemented yet, in the order C checks them, so that the errno is C's.

use crate::{
    features::{
        Features,
        WORDS, //
    },
    rvhost::{
        errno,
        user, //
    },
};
use kernel::{
    current,
    fs::File,
    iov::{
        IovIterDest,
        IovIterSource, //
    },
    mm::MmWithUser,
    new_mutex,
    prelude::*,
    new_poll_condvar,
    sync::{
        aref::ARef,
        poll::{
            PollCondVar,
            PollTable, //
        },
        Mutex, //
    },
    uaccess::{
        UserPtr,
        UserSlice, //
    },
};

/// A vhost device: what `struct vhost_dev` holds.
#[pin_data]
pub(crate) struct Dev {
    nvqs: u32,
    features: &'static Features,
    #[pin]
    inner: Mutex<DevInner>,
    /// Readers and pollers of IOTLB messages wait here (`dev->wait`).
    #[pin]
    wait: PollCondVar,
}

struct DevInner {
    /// The address space of the process that called `VHOST_SET_OWNER`.
    /// C keeps a user reference (`get_task_mm()`) so that the worker can
    /// reach guest memory; so do we.
    owner: Option<ARef<MmWithUser>>,
}

impl Dev {
    pub(crate) fn new(nvqs: u32, features: &'static Features) -> impl PinInit<Self> {
        pin_init!(Self {
            nvqs,
            features,
            inner <- new_mutex!(DevInner { owner: None }),
            wait <- new_poll_condvar!("vhost_dev::wait"),
        })
    }

    /// `VHOST_GET_FEATURES`: the first feature word.
    pub(crate) fn get_features(&self, arg: usize) -> Result<isize> {
        let mut w = UserSlice::new(UserPtr::from_addr(arg), 8).writer();
        w.write(&self.features.words[0])?;
        Ok(0)
    }

    /// `VHOST_GET_FEATURES_ARRAY`: a `u64` count, then that many words; the
    /// words past the ones the kernel knows are zeroed.
    pub(crate) fn get_features_array(&self, arg: usize) -> Result<isize> {
        let count: u64 = UserSlice::new(UserPtr::from_addr(arg), 8).reader().read()?;
        let words = UserPtr::from_addr(arg).wrapping_byte_add(8);
        let copied = count.min(WORDS as u64) as usize;
        let mut w = UserSlice::new(words, copied * 8).writer();
        for word in &self.features.words[..copied] {
            w.write(word)?;
        }
        // C's size_mul() saturates, and clear_user() then refuses the range.
        let rest = (count - copied as u64).saturating_mul(8);
        let rest = usize::try_from(rest).unwrap_or(usize::MAX);
        user::clear(words.wrapping_byte_add(copied * 8), rest)?;
        Ok(0)
    }

    /// `VHOST_GET_BACKEND_FEATURES`.
    pub(crate) fn get_backend_features(&self, arg: usize) -> Result<isize> {
        let mut w = UserSlice::new(UserPtr::from_addr(arg), 8).writer();
        w.write(&self.features.backend)?;
        Ok(0)
    }

    /// `read()`: the next queued IOTLB message. There is no IOTLB before
    /// `VIRTIO_F_ACCESS_PLATFORM` is negotiated, so C answers `EAGAIN` to a
    /// non-blocking reader and `EBADFD` to a blocking one.
    pub(crate) fn read(&self, _iov: &mut IovIterDest<'_>, nonblock: bool) -> Result<usize> {
        if nonblock {
            Err(EAGAIN)
        } else {
            Err(errno::ebadfd())
        }
    }

    /// `write()`: an IOTLB message. Not implemented yet; the vhost core
    /// issue brings the IOTLB.
    pub(crate) fn write(&self, _iov: &mut IovIterSource<'_>) -> Result<usize> {
        Err(EINVAL)
    }

    /// `poll()`: readable while IOTLB messages are queued, which needs an
    /// IOTLB; until then nothing is ever ready.
    pub(crate) fn poll(&self, file: &File, table: &PollTable<'_>) -> u32 {
        table.register_wait(file, &self.wait);
        0
    }

    /// `VHOST_SET_OWNER`: the calling process becomes the owner.
    pub(crate) fn set_owner(&self) -> Result<isize> {
        let mut inner = self.inner.lock();
        if inner.owner.is_some() {
            return Err(EBUSY);
        }
        // A process without an mm (a kernel thread) cannot own a device.
        let task = current!();
        let mm = task.mm().ok_or(EFAULT)?;
        inner.owner = Some(ARef::from(mm));
        Ok(0)
    }

    /// The answer to an ioctl this device does not know: C checks ownership
    /// (`vhost_dev_ioctl`), then reads a ring index (`vhost_vring_ioctl`),
    /// and only then gives up with `ENOIOCTLCMD` (which the VFS turns into
    /// `ENOTTY`).
    pub(crate) fn unknown_ioctl(&self, arg: usize) -> Result<isize> {
        let inner = self.inner.lock();
        Self::check_owner(&inner)?;
        let idx: u32 = UserSlice::new(UserPtr::from_addr(arg), 4).reader().read()?;
        if idx >= self.nvqs {
            return Err(errno::enobufs());
        }
        Err(ENOIOCTLCMD)
    }

    /// `vhost_dev_check_owner`: only the owner's address space may configure
    /// the device.
    fn check_owner(inner: &DevInner) -> Result {
        let task = current!();
        let caller = task.mm().map(|mm| mm.as_raw());
        match &inner.owner {
            Some(owner) if Some(owner.as_raw()) == caller => Ok(()),
            _ => Err(EPERM),
        }
    }
}
