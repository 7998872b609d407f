// SPDX-License-Identifier: GPL-2.0

//! Module parameters that are visible in sysfs.
//!
//! The `module!` macro of Linux 7.2 gives its parameters permission 0, so they
//! do not appear under `/sys/module/<module>/parameters/`, where userspace
//! looks for vhost's `max_mem_regions`. [`sysfs_params!`] declares
//! parameters the way C's `module_param(name, type, 0444)` does: a
//! `struct kernel_param` in the `__param` section with the kernel's own
//! `param_ops_<type>`, and the `parm`/`parmtype` modinfo strings.
//!
//! Every module crate that includes this tree gets the parameters of
//! drivers/vhost/vhost.c, under its own name (`rvhost_net`, `rvhost_vsock`).
//!
//! C header: [`include/linux/moduleparam.h`](srctree/include/linux/moduleparam.h).

use core::cell::UnsafeCell;
use kernel::prelude::*;

/// The value of a parameter, written by the kernel.
///
/// # Invariants
///
/// The kernel writes the value only while the module is loading, before its
/// init function runs (the parameter is read-only in sysfs); Rust only reads
/// it after that.
#[repr(transparent)]
pub(crate) struct Param<T>(UnsafeCell<T>);

// SAFETY: After loading, the value is only read, by the type invariants.
unsafe impl<T: Copy + Sync> Sync for Param<T> {}

impl<T: Copy> Param<T> {
    #[doc(hidden)]
    pub(crate) const fn new(default: T) -> Self {
        Self(UnsafeCell::new(default))
    }

    /// The `arg` of the `kernel_param`, which the `param_ops` set and get.
    #[doc(hidden)]
    pub(crate) const fn as_arg(&'static self) -> *mut c_void {
        self.0.get().cast()
    }

    /// The value.
    pub(crate) fn get(&'static self) -> T {
        // SAFETY: No writes happen any more, by the type invariants.
        unsafe { *self.0.get() }
    }
}

/// A modinfo string (`.modinfo` holds `key=value\0` strings back to back).
#[doc(hidden)]
pub(crate) const fn modinfo<const N: usize>(s: &str) -> [u8; N] {
    let bytes = s.as_bytes();
    let mut out = [0u8; N];
    let mut i = 0;
    while i < N {
        out[i] = bytes[i];
        i += 1;
    }
    out
}

/// Declares module parameters readable in sysfs (mode 0444), each with an
/// accessor function of its name, as `module_param(name, type, 0444)` and
/// `MODULE_PARM_DESC(name, desc)` do in C:
///
/// ```ignore
/// sysfs_params! {
///     /// Documentation of the accessor.
///     max_mem_regions: ushort = 64, "Maximum number of memory regions ...";
/// }
/// let n: u16 = max_mem_regions();
/// ```
///
/// The types are C's names: `ushort` (`u16`), `int` (`i32`), `bool`.
macro_rules! sysfs_params {
    (@rust ushort) => { u16 };
    (@rust int) => { i32 };
    (@rust bool) => { bool };
    (@ops ushort) => { ::kernel::bindings::param_ops_ushort };
    (@ops int) => { ::kernel::bindings::param_ops_int };
    (@ops bool) => { ::kernel::bindings::param_ops_bool };
    ($($(#[$meta:meta])* $name:ident: $ty:ident = $default:expr, $desc:literal;)*) => {$(
        $(#[$meta])*
        pub(crate) fn $name() -> sysfs_params!(@rust $ty) {
            static VALUE: $crate::rvhost::params::Param<sysfs_params!(@rust $ty)> =
                $crate::rvhost::params::Param::new($default);

            #[link_section = "__param"]
            #[used(compiler)]
            static PARAM: ::kernel::module_param::KernelParam =
                ::kernel::module_param::KernelParam::new(::kernel::bindings::kernel_param {
                    name: concat!(stringify!($name), "\0").as_ptr().cast(),
                    mod_: $crate::THIS_MODULE.as_ptr(),
                    ops: &raw const sysfs_params!(@ops $ty),
                    perm: 0o444,
                    level: -1,
                    flags: 0,
                    __bindgen_anon_1: ::kernel::bindings::kernel_param__bindgen_ty_1 {
                        arg: VALUE.as_arg(),
                    },
                });

            const PARMTYPE: &str =
                concat!("parmtype=", stringify!($name), ":", stringify!($ty), "\0");
            #[link_section = ".modinfo"]
            #[used(compiler)]
            static MODINFO_PARMTYPE: [u8; PARMTYPE.len()] =
                $crate::rvhost::params::modinfo(PARMTYPE);

            const PARM: &str = concat!("parm=", stringify!($name), ":", $desc, "\0");
            #[link_section = ".modinfo"]
            #[used(compiler)]
            static MODINFO_PARM: [u8; PARM.len()] = $crate::rvhost::params::modinfo(PARM);

            VALUE.get()
        }
    )*};
}

sysfs_params! {
    /// `max_mem_regions`: the most regions `VHOST_SET_MEM_TABLE` accepts.
    max_mem_regions: ushort = 64,
        "Maximum number of memory regions in memory map. (default: 64)";
    /// `max_iotlb_entries`: the size of the device IOTLB; no IOTLB if not
    /// positive.
    max_iotlb_entries: int = 2048, "Maximum number of iotlb entries. (default: 2048)";
    /// `fetch_batch`: chains the ring layer fetches per refill of a
    /// virtqueue (clamped to 1 and the ring size). rvhost's own, for
    /// measuring what batching buys (`make bench`); C reads one at a time.
    fetch_batch: ushort = 64,
        "Descriptor chains fetched per refill of a virtqueue (rvhost; 1: one at a time as C; default: 64)";
}

#[cfg(CONFIG_VHOST_ENABLE_FORK_OWNER_CONTROL)]
sysfs_params! {
    /// `fork_from_owner_default`: whether a new device's worker is a
    /// vhost_task of the owner (`VHOST_FORK_OWNER_TASK`) rather than a
    /// kthread.
    fork_from_owner_default: bool = true, "Set task mode as the default(default: Y)";
}

/// `fork_from_owner_default`: without `CONFIG_VHOST_ENABLE_FORK_OWNER_CONTROL`
/// C has no parameter and always uses `VHOST_FORK_OWNER_TASK`.
#[cfg(not(CONFIG_VHOST_ENABLE_FORK_OWNER_CONTROL))]
pub(crate) fn fork_from_owner_default() -> bool {
    true
}
