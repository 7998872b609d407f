// SPDX-License-Identifier: GPL-2.0

//! The vhost uapi structures as plain bytes, so that they can be copied
//! from and to userspace with `kernel::uaccess`.

use crate::rvhost::bindings as b;
use kernel::transmute::{
    AsBytes,
    FromBytes, //
};

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
