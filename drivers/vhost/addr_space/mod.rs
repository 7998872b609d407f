// SPDX-License-Identifier: GPL-2.0

//! The guest's address space as the vhost core sees it: the memory table,
//! the device IOTLB and its messages, translation through them, the dirty
//! log, and the ring address checks with the queue configuration they
//! read, as `drivers/vhost/vhost.c` and `iotlb.c` of Linux 7.2 do them,
//! answer for answer.
//!
//! Like `ring`, this is `core`-only safe Rust (it forbids unsafe_code),
//! compiled into both kernel modules and, unchanged, into
//! `tools/host/addr_space` for tests.
//! Nothing here touches user memory: the kernel passes its `access_ok()`
//! as a function, gets back the user addresses to copy from and to and the
//! log bits to set, and does those itself. Tables live in a [`Storage`] the
//! kernel provides (`KVVec<Slot>`), which may fail to grow (`-ENOMEM`).
//! See `Documentation/addr_space.rst`.

// Items are `pub` so that the host crate can re-export them; the kernel
// modules include this directory as a private module.
#![allow(unreachable_pub)]
#![forbid(unsafe_code)]

mod access;
mod errno;
mod iotlb;
mod log;
mod msg;
mod ring_addr;
mod table;
mod translate;
mod vq_config;

// The host crate uses all of these; each kernel module a part.
#[allow(unused_imports)]
pub use self::{
    access::{
        user_range_ok,
        vhost_overflow,
        USER_PTR_MAX_4LEVEL, //
    },
    errno::Errno,
    iotlb::{
        Iotlb,
        Kind,
        Map,
        NoMem,
        Probe,
        Slot,
        Storage,
        DEFAULT_MAX_IOTLB_ENTRIES,
        VHOST_IOTLB_FLAG_RETIRE,
        VHOST_MAP_RO,
        VHOST_MAP_RW,
        VHOST_MAP_WO, //
    },
    log::{
        log_access_ok,
        log_used,
        log_write,
        log_write_descs,
        log_write_hva,
        log_write_iovs,
        LogBit,
        LogBytes,
        LogError,
        LogWrite,
        VHOST_PAGE_SIZE, //
    },
    msg::{
        encode_miss,
        parse_write,
        process_iotlb_msg,
        resolves_miss,
        umem_access_ok,
        IotlbMsg,
        MsgOutcome,
        WriteMsg,
        MSG_SIZE,
        VHOST_IOTLB_ACCESS_FAIL,
        VHOST_IOTLB_BATCH_BEGIN,
        VHOST_IOTLB_BATCH_END,
        VHOST_IOTLB_INVALIDATE,
        VHOST_IOTLB_MISS,
        VHOST_IOTLB_MSG,
        VHOST_IOTLB_MSG_V2,
        VHOST_IOTLB_UPDATE, //
    },
    ring_addr::{
        check_vring_addr,
        check_vring_num,
        log_base_ok,
        vhost_vq_access_ok,
        vhost_vq_is_setup,
        vq_access_ok,
        vq_log_access_ok,
        vq_log_used_access_ok,
        vq_meta_prefetch,
        Prefetch,
        RingSizes,
        VringAddr,
        VHOST_VRING_F_LOG,
        VRING_AVAIL_ALIGN_SIZE,
        VRING_DESC_ALIGN_SIZE,
        VRING_USED_ALIGN_SIZE, //
    },
    table::{
        build_umem,
        check_memory_header,
        memory_access_ok,
        set_memory,
        vhost_log_access_ok,
        vq_memory_access_ok,
        MemoryRegion,
        DEFAULT_MAX_MEM_REGIONS, //
    },
    translate::{
        iotlb_access_ok,
        AccessError,
        MetaCache,
        MetaType,
        Seg,
        Translate,
        TranslateError,
        VHOST_ACCESS_RO,
        VHOST_ACCESS_RW,
        VHOST_ACCESS_WO, //
    },
    vq_config::{
        VqConfig,
        VHOST_F_LOG_ALL,
        VIRTIO_FEATURES_U64S,
        VIRTIO_F_RING_PACKED,
        VIRTIO_RING_F_EVENT_IDX, //
    },
};
