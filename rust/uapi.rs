// SPDX-License-Identifier: GPL-2.0

//! The vhost uapi structures as plain bytes, so that they can be copied
//! from and to userspace with `kernel::uaccess`, and the user memory an
//! ioctl's argument points to.

use crate::rvhost::bindings as b;
use kernel::{
    ioctl::_IOC_SIZE,
    transmute::{
        AsBytes,
        FromBytes, //
    },
    uaccess::{
        UserPtr,
        UserSlice, //
    },
};

/// The argument of the ioctl `cmd` at `arg`: as many bytes as the size
/// field of the command says (`_IOC_SIZE()`), as Rust Binder reads its own.
pub(crate) fn ioctl_arg(cmd: u32, arg: usize) -> UserSlice {
    UserSlice::new(UserPtr::from_addr(arg), _IOC_SIZE(cmd))
}

macro_rules! plain {
    ($($t:ty),* $(,)?) => {
        $(
            // SAFETY: A uapi structure of integers only, without padding
            // (the uapi headers pad explicitly): every bit pattern is valid
            // and every byte is initialised.
            unsafe impl FromBytes for $t {}
            // SAFETY: As above.
            unsafe impl AsBytes for $t {}
        )*
    };
}

plain!(
    b::vhost_vring_state,
    b::vhost_vring_file,
    b::vhost_vring_addr,
    b::vhost_memory,
    b::vhost_memory_region,
);
