// SPDX-License-Identifier: GPL-2.0

//! Misc character devices with a complete `file_operations`.
//!
//! `kernel::miscdevice` of Linux 7.2 always takes a dynamic minor, has no
//! `.poll` and leaves `.owner` unset, so `rmmod` while a file is open frees the
//! code under it. The vhost devices need the fixed minors the C drivers
//! register (module autoloading through `char-major-10-<minor>`), `.poll` for
//! IOTLB messages and a module reference for every open file.
//!
//! C header: [`include/linux/miscdevice.h`](srctree/include/linux/miscdevice.h).

use core::marker::PhantomData;
use kernel::{
    bindings,
    error::to_result,
    ffi::{
        c_int,
        c_long,
        c_uint,
        c_ulong, //
    },
    fs::{
        file::flags::O_NONBLOCK,
        File, //
    },
    iov::{
        IovIterDest,
        IovIterSource, //
    },
    prelude::*,
    sync::poll::PollTable,
    types::{
        ForeignOwnable,
        Opaque, //
    },
};

/// The borrowed form of a [`MiscFile::Ptr`], handed to the file operations.
pub(crate) type Borrowed<'a, T> = <<T as MiscFile>::Ptr as ForeignOwnable>::Borrowed<'a>;

/// The per-open-file state of a misc device and its file operations.
pub(crate) trait MiscFile: Sized {
    /// How the state is owned while the file is open.
    type Ptr: ForeignOwnable + Send + Sync;

    /// Called when the device node is opened; the result becomes the file's
    /// private data.
    fn open(file: &File) -> Result<Self::Ptr>;

    /// Called on the last close of the file.
    fn release(this: Self::Ptr, _file: &File) {
        drop(this);
    }

    /// `unlocked_ioctl`; 32-bit callers reach it through `compat_ptr_ioctl`,
    /// as the vhost ABI has no layout that differs between the two.
    fn ioctl(this: Borrowed<'_, Self>, file: &File, cmd: u32, arg: usize) -> Result<isize>;

    /// `read_iter`; `nonblock` is the file's `O_NONBLOCK`. The file position
    /// is not used: the device is a message queue.
    fn read_iter(
        this: Borrowed<'_, Self>,
        iov: &mut IovIterDest<'_>,
        nonblock: bool,
    ) -> Result<usize>;

    /// `write_iter`.
    fn write_iter(this: Borrowed<'_, Self>, iov: &mut IovIterSource<'_>) -> Result<usize>;

    /// `poll`: register with `table` and return the ready events.
    fn poll(this: Borrowed<'_, Self>, file: &File, table: &PollTable<'_>) -> u32;
}

/// A registered misc device.
///
/// # Invariants
///
/// `inner` holds a `struct miscdevice` registered with `misc_register()` whose
/// `fops` is [`VTable::<T>::FOPS`]; it is deregistered exactly once, in
/// [`Drop`].
#[pin_data(PinnedDrop)]
pub(crate) struct Registration<T> {
    #[pin]
    inner: Opaque<bindings::miscdevice>,
    _t: PhantomData<T>,
}

// SAFETY: `misc_deregister()` may be called from any thread.
unsafe impl<T> Send for Registration<T> {}
// SAFETY: `&Registration` gives access to nothing.
unsafe impl<T> Sync for Registration<T> {}

impl<T: MiscFile> Registration<T> {
    /// Registers the device `/dev/<name>` with the fixed `minor`.
    pub(crate) fn register(name: &'static CStr, minor: u32) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            inner <- Opaque::try_ffi_init(move |slot: *mut bindings::miscdevice| {
                let mut misc: bindings::miscdevice = pin_init::zeroed();
                misc.minor = minor as c_int;
                misc.name = name.as_char_ptr();
                misc.fops = &VTable::<T>::FOPS;
                // SAFETY: The initialiser may write to `slot`.
                unsafe { slot.write(misc) };
                // SAFETY: `slot` holds an initialised `miscdevice` and is pinned; `Drop`
                // deregisters it before the memory goes away.
                // INVARIANT: On success the device is registered with `FOPS`.
                to_result(unsafe { bindings::misc_register(slot) })
            }),
            _t: PhantomData,
        })
    }
}

#[pinned_drop]
impl<T> PinnedDrop for Registration<T> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: The device is registered, by the type invariants.
        unsafe { bindings::misc_deregister(self.inner.get()) };
    }
}

/// The `file_operations` of a [`MiscFile`].
struct VTable<T>(PhantomData<T>);

impl<T: MiscFile> VTable<T> {
    const FOPS: bindings::file_operations = bindings::file_operations {
        // The VFS takes a reference on this module for every open file, so
        // the module cannot be unloaded while one exists.
        owner: crate::THIS_MODULE.as_ptr(),
        open: Some(Self::open),
        release: Some(Self::release),
        llseek: Some(bindings::noop_llseek),
        unlocked_ioctl: Some(Self::ioctl),
        #[cfg(CONFIG_COMPAT)]
        compat_ioctl: bindings::compat_ptr_ioctl,
        read_iter: Some(Self::read_iter),
        write_iter: Some(Self::write_iter),
        poll: Some(Self::poll),
        ..pin_init::zeroed()
    };

    /// # Safety
    ///
    /// Called by `misc_open()` for a file of a device registered with these
    /// operations: `file` is valid and its private data is not yet set by us.
    unsafe extern "C" fn open(_inode: *mut bindings::inode, file: *mut bindings::file) -> c_int {
        // SAFETY: `file` is valid for the duration of the call and no fdget_pos region is
        // active on it.
        let f = unsafe { File::from_raw_file(file) };
        match T::open(f) {
            Ok(ptr) => {
                // SAFETY: The open call may set the private data; every other operation
                // here reads it back as `T::Ptr`.
                unsafe { (*file).private_data = ptr.into_foreign().cast() };
                0
            }
            Err(e) => e.to_errno(),
        }
    }

    /// # Safety
    ///
    /// Called once on the last close of a file that [`Self::open`] succeeded on.
    unsafe extern "C" fn release(_inode: *mut bindings::inode, file: *mut bindings::file) -> c_int {
        // SAFETY: `open` stored a `T::Ptr` in the private data; release owns it now and
        // nothing else borrows it any more.
        let ptr = unsafe { T::Ptr::from_foreign((*file).private_data.cast()) };
        // SAFETY: `file` is valid for the duration of the call.
        T::release(ptr, unsafe { File::from_raw_file(file) });
        0
    }

    /// # Safety
    ///
    /// `file` is an open file of this device.
    unsafe extern "C" fn ioctl(file: *mut bindings::file, cmd: c_uint, arg: c_ulong) -> c_long {
        // SAFETY: The private data is a `T::Ptr` until release, which cannot run during
        // an ioctl.
        let this = unsafe { T::Ptr::borrow((*file).private_data.cast()) };
        // SAFETY: `file` is valid for the duration of the call.
        let f = unsafe { File::from_raw_file(file) };
        match T::ioctl(this, f, cmd, arg as usize) {
            Ok(r) => r as c_long,
            Err(e) => e.to_errno() as c_long,
        }
    }

    /// # Safety
    ///
    /// `kiocb` belongs to an open file of this device, `iter` is a valid
    /// destination iterator.
    unsafe extern "C" fn read_iter(
        kiocb: *mut bindings::kiocb,
        iter: *mut bindings::iov_iter,
    ) -> isize {
        // SAFETY: `kiocb` is valid and refers to an open file of this device.
        let file = unsafe { (*kiocb).ki_filp };
        // SAFETY: The private data is a `T::Ptr` until release, which cannot run while a
        // kiocb of the file exists.
        let this = unsafe { T::Ptr::borrow((*file).private_data.cast()) };
        // SAFETY: `file` is valid for the duration of the call.
        let nonblock = unsafe { File::from_raw_file(file) }.flags() & O_NONBLOCK != 0;
        // SAFETY: `iter` is a valid destination iterator for the duration of the call.
        let iov = unsafe { IovIterDest::from_raw(iter) };
        match T::read_iter(this, iov, nonblock) {
            Ok(n) => n as isize,
            Err(e) => e.to_errno() as isize,
        }
    }

    /// # Safety
    ///
    /// `kiocb` belongs to an open file of this device, `iter` is a valid
    /// source iterator.
    unsafe extern "C" fn write_iter(
        kiocb: *mut bindings::kiocb,
        iter: *mut bindings::iov_iter,
    ) -> isize {
        // SAFETY: `kiocb` is valid and refers to an open file of this device.
        let file = unsafe { (*kiocb).ki_filp };
        // SAFETY: The private data is a `T::Ptr` until release, which cannot run while a
        // kiocb of the file exists.
        let this = unsafe { T::Ptr::borrow((*file).private_data.cast()) };
        // SAFETY: `iter` is a valid source iterator for the duration of the call.
        let iov = unsafe { IovIterSource::from_raw(iter) };
        match T::write_iter(this, iov) {
            Ok(n) => n as isize,
            Err(e) => e.to_errno() as isize,
        }
    }

    /// # Safety
    ///
    /// `file` is an open file of this device; `wait` is null or a valid poll
    /// table for the duration of the call.
    unsafe extern "C" fn poll(
        file: *mut bindings::file,
        wait: *mut bindings::poll_table_struct,
    ) -> bindings::__poll_t {
        // SAFETY: The private data is a `T::Ptr` until release, which cannot run during
        // a poll.
        let this = unsafe { T::Ptr::borrow((*file).private_data.cast()) };
        // SAFETY: `file` is valid for the duration of the call.
        let f = unsafe { File::from_raw_file(file) };
        // SAFETY: `wait` is null or valid for the duration of the call.
        let table = unsafe { PollTable::from_raw(wait) };
        T::poll(this, f, &table)
    }
}
