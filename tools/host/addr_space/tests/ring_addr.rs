// SPDX-License-Identifier: GPL-2.0

//! Ring address checks: `vhost_vring_set_num()`, `vhost_vring_set_addr()`,
//! `vq_access_ok()`, `vhost_vq_access_ok()`, `vq_log_access_ok()`,
//! `vq_meta_prefetch()` of `drivers/vhost/vhost.c` (7.2).

// Tests may panic: the lints for the kernel code do not apply.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::type_complexity)]

mod common;

use common::{
    access_ok,
    features,
    table,
    Table, //
};
use rvhost_addr_space::{
    check_vring_addr,
    check_vring_num,
    log_base_ok,
    vhost_vq_access_ok,
    vhost_vq_is_setup,
    vq_access_ok,
    vq_log_used_access_ok,
    vq_meta_prefetch,
    Errno,
    Kind,
    MetaCache,
    MetaType,
    Prefetch,
    RingSizes,
    VqConfig,
    VringAddr,
    USER_PTR_MAX_4LEVEL,
    VHOST_ACCESS_RO,
    VHOST_ACCESS_WO,
    VHOST_F_LOG_ALL,
    VHOST_MAP_RO,
    VHOST_MAP_RW,
    VHOST_MAP_WO,
    VIRTIO_F_RING_PACKED,
    VIRTIO_RING_F_EVENT_IDX, //
};

const TOP: u64 = USER_PTR_MAX_4LEVEL;

fn umem() -> Table {
    let mut t = table(Kind::Umem, 8);
    t.add_range(0, 0xfff_ffff, 0x7f00_0000_0000, VHOST_MAP_RW)
        .unwrap();
    t
}

fn addr(flags: u32, desc: u64, avail: u64, used: u64, log: u64) -> VringAddr {
    VringAddr {
        index: 0,
        flags,
        desc_user_addr: desc,
        avail_user_addr: avail,
        used_user_addr: used,
        log_guest_addr: log,
    }
}

#[test]
fn sizes() {
    // vhost.c:567-589: struct_size() of the split rings, +2 with event idx
    assert_eq!(
        RingSizes::split(256, false),
        RingSizes {
            desc: 4096,
            avail: 516,
            used: 2052
        }
    );
    assert_eq!(
        RingSizes::split(256, true),
        RingSizes {
            desc: 4096,
            avail: 518,
            used: 2054
        }
    );
    assert_eq!(
        RingSizes::split(0xffff, true),
        RingSizes {
            desc: 0xffff * 16,
            avail: 4 + 0xffff * 2 + 2,
            used: 4 + 0xffff * 8 + 2
        }
    );
    assert_eq!(
        RingSizes::packed(256),
        RingSizes {
            desc: 4096,
            avail: 4,
            used: 4
        }
    );
    let vq = VqConfig {
        num: 8,
        features: features(&[VIRTIO_RING_F_EVENT_IDX, VIRTIO_F_RING_PACKED]),
        ..VqConfig::default()
    };
    assert_eq!(RingSizes::of(&vq, 8), RingSizes::packed(8));
}

#[test]
fn set_num() {
    // vhost.c:2067 busy first, 2073 then the value
    assert_eq!(check_vring_num(true, 0), Err(Errno::Busy));
    for (num, want) in [
        (0, Err(Errno::Inval)),
        (1, Ok(())),
        (3, Err(Errno::Inval)),
        (256, Ok(())),
        (32768, Ok(())),
        (65535, Err(Errno::Inval)),
        (65536, Err(Errno::Inval)),
        (u32::MAX, Err(Errno::Inval)),
    ] {
        assert_eq!(check_vring_num(false, num), want, "{num}");
    }
}

#[test]
fn set_addr() {
    let idle = VqConfig {
        num: 256,
        ..VqConfig::default()
    };
    // vhost.c:2087: unknown flags first
    assert_eq!(
        check_vring_addr(&idle, false, &addr(2, 0, 1, 1, 1), &access_ok),
        Err(Errno::OpNotSupp)
    );
    assert_eq!(
        check_vring_addr(&idle, false, &addr(1, 0, 0, 0, 0), &access_ok),
        Ok(())
    );
    // vhost.c:2104-2107: avail 2, used 4, log 4; desc unchecked
    assert_eq!(
        check_vring_addr(
            &idle,
            false,
            &addr(0, 0x1001, 0x2000, 0x3000, 0),
            &access_ok
        ),
        Ok(())
    );
    assert_eq!(
        check_vring_addr(&idle, false, &addr(0, 0, 0x2001, 0x3000, 0), &access_ok),
        Err(Errno::Inval)
    );
    assert_eq!(
        check_vring_addr(&idle, false, &addr(0, 0, 0x2002, 0x3000, 0), &access_ok),
        Ok(())
    );
    assert_eq!(
        check_vring_addr(&idle, false, &addr(0, 0, 0x2000, 0x3002, 0), &access_ok),
        Err(Errno::Inval)
    );
    // the log address is checked even without VHOST_VRING_F_LOG
    assert_eq!(
        check_vring_addr(&idle, false, &addr(0, 0, 0x2000, 0x3000, 2), &access_ok),
        Err(Errno::Inval)
    );
    // without a backend nothing else: any address, even not user memory
    assert_eq!(
        check_vring_addr(
            &idle,
            false,
            &addr(0, u64::MAX, TOP + 2, TOP + 4, 0),
            &access_ok
        ),
        Ok(())
    );

    // vhost.c:2112-2125: with a backend, access_ok() of the three rings
    // sized for vq->num, then the used ring's log
    let running = VqConfig {
        num: 256,
        log_base: TOP - 0x100,
        ..VqConfig::default()
    };
    assert_eq!(
        check_vring_addr(
            &running,
            true,
            &addr(0, 0x1000, 0x2000, 0x3000, 0),
            &access_ok
        ),
        Ok(())
    );
    assert_eq!(
        check_vring_addr(
            &running,
            true,
            &addr(0, TOP - 4095, 0x2000, 0x3000, 0),
            &access_ok
        ),
        Err(Errno::Inval)
    );
    assert_eq!(
        check_vring_addr(
            &running,
            true,
            &addr(0, TOP - 4096, 0x2000, 0x3000, 0),
            &access_ok
        ),
        Ok(())
    );
    assert_eq!(
        check_vring_addr(
            &running,
            true,
            &addr(0, 0x1000, TOP - 514, 0x3000, 0),
            &access_ok
        ),
        Err(Errno::Inval)
    );
    assert_eq!(
        check_vring_addr(
            &running,
            true,
            &addr(0, 0x1000, TOP - 516, 0x3000, 0),
            &access_ok
        ),
        Ok(())
    );
    assert_eq!(
        check_vring_addr(
            &running,
            true,
            &addr(0, 0x1000, 0x2000, TOP - 2048, 0),
            &access_ok
        ),
        Err(Errno::Inval)
    );
    assert_eq!(
        check_vring_addr(
            &running,
            true,
            &addr(0, 0x1000, 0x2000, TOP - 2052, 0),
            &access_ok
        ),
        Ok(())
    );
    // event idx makes them 2 bytes longer
    let ev = VqConfig {
        features: features(&[VIRTIO_RING_F_EVENT_IDX]),
        ..running
    };
    assert_eq!(
        check_vring_addr(
            &ev,
            true,
            &addr(0, 0x1000, TOP - 516, 0x3000, 0),
            &access_ok
        ),
        Err(Errno::Inval)
    );
    // log: the used ring (2052 bytes) needs one log byte at base + addr/32K
    let log_at = |a| addr(1, 0x1000, 0x2000, 0x3000, a);
    assert_eq!(
        check_vring_addr(&running, true, &log_at(0x8000 * 0xff), &access_ok),
        Ok(())
    );
    assert_eq!(
        check_vring_addr(&running, true, &log_at(0x8000 * 0x100), &access_ok),
        Err(Errno::Inval)
    );
    // ... only with the flag
    assert_eq!(
        check_vring_addr(
            &running,
            true,
            &addr(0, 0x1000, 0x2000, 0x3000, 0x8000 * 0x100),
            &access_ok
        ),
        Ok(())
    );
    // with an IOTLB the addresses are IOVAs: not checked here
    let iotlb = VqConfig {
        iotlb: true,
        ..running
    };
    assert_eq!(
        check_vring_addr(
            &iotlb,
            true,
            &addr(1, u64::MAX - 15, TOP, TOP, 0x8000 * 0x100),
            &access_ok
        ),
        Ok(())
    );
}

#[test]
fn vq_access() {
    let vq = VqConfig {
        num: 256,
        ..VqConfig::default()
    };
    // NULL rings pass access_ok(): vhost_vq_is_setup() checks them apart
    assert!(vq_access_ok(&vq, 256, 0, 0, 0, &access_ok));
    assert!(!vq_access_ok(&vq, 256, TOP, 0, 0, &access_ok));
    assert!(vq_access_ok(
        &VqConfig { iotlb: true, ..vq },
        256,
        TOP,
        TOP,
        TOP,
        &access_ok
    ));
    // vq_log_used_access_ok() sizes the used ring for vq->num
    assert!(vq_log_used_access_ok(&vq, TOP - 1, true, 0, &access_ok));
    assert!(!vq_log_used_access_ok(
        &VqConfig { num: 8192, ..vq },
        TOP - 1,
        true,
        0,
        &access_ok
    ));
    assert!(vq_log_used_access_ok(&vq, TOP, false, 0, &access_ok));
}

#[test]
fn vq_start() {
    let umem = umem();
    let vq = VqConfig {
        num: 256,
        desc: 0x1000,
        avail: 0x2000,
        used: 0x3000,
        log_base: 0x1000,
        ..VqConfig::default()
    };
    // vhost.c:1982: the memory table is needed
    assert!(!vhost_vq_access_ok::<Vec<_>, _>(&vq, None, &access_ok));
    assert!(vhost_vq_access_ok(&vq, Some(&umem), &access_ok));
    assert!(vhost_vq_is_setup(&vq, Some(&umem), &access_ok));
    assert!(!vhost_vq_is_setup(
        &VqConfig { avail: 0, ..vq },
        Some(&umem),
        &access_ok
    ));
    assert!(vhost_vq_access_ok(
        &VqConfig { avail: 0, ..vq },
        Some(&umem),
        &access_ok
    ));
    // LOG_ALL: 256 MiB of guest memory needs 8 KiB of log
    assert!(vhost_vq_access_ok(
        &VqConfig {
            features: features(&[VHOST_F_LOG_ALL]),
            log_base: TOP - 0x2000,
            ..vq
        },
        Some(&umem),
        &access_ok
    ));
    assert!(!vhost_vq_access_ok(
        &VqConfig {
            features: features(&[VHOST_F_LOG_ALL]),
            log_base: TOP - 0x1fff,
            ..vq
        },
        Some(&umem),
        &access_ok
    ));
    // used ring log
    assert!(!vhost_vq_access_ok(
        &VqConfig {
            log_used: true,
            log_base: TOP,
            ..vq
        },
        Some(&umem),
        &access_ok
    ));
    assert!(vhost_vq_access_ok(
        &VqConfig {
            log_used: true,
            log_base: TOP,
            iotlb: true,
            ..vq
        },
        Some(&umem),
        &access_ok
    ));
    // SET_LOG_BASE: inactive rings take anything
    assert!(log_base_ok(
        &VqConfig {
            features: features(&[VHOST_F_LOG_ALL]),
            ..vq
        },
        false,
        Some(&umem),
        TOP,
        &access_ok
    ));
    let run = VqConfig {
        features: features(&[VHOST_F_LOG_ALL]),
        ..vq
    };
    assert!(!log_base_ok(&run, true, Some(&umem), TOP, &access_ok));
    assert!(log_base_ok(
        &run,
        true,
        Some(&umem),
        TOP - 0x2000,
        &access_ok
    ));
}

#[test]
fn prefetch() {
    let vq = VqConfig {
        num: 4,
        desc: 0x1000,
        avail: 0x2000,
        used: 0x3000,
        iotlb: true,
        ..VqConfig::default()
    };
    let mut c = MetaCache::default();
    // vhost.c:1932: nothing set
    assert_eq!(
        vq_meta_prefetch::<Vec<_>>(
            &VqConfig {
                desc: 0,
                avail: 0,
                used: 0,
                ..vq
            },
            None,
            &mut c
        ),
        Prefetch::Unset
    );
    // no IOTLB: ready
    assert_eq!(
        vq_meta_prefetch::<Vec<_>>(&vq, None, &mut c),
        Prefetch::Ready
    );
    // in order desc, avail, used, the first miss reported
    let mut t = table(Kind::Iotlb, 8);
    assert_eq!(
        vq_meta_prefetch(&vq, Some(&t), &mut c),
        Prefetch::Miss {
            iova: 0x1000,
            perm: VHOST_ACCESS_RO
        }
    );
    t.add_range(0x1000, 0x1fff, 0xa000, VHOST_MAP_RO).unwrap();
    assert_eq!(
        vq_meta_prefetch(&vq, Some(&t), &mut c),
        Prefetch::Miss {
            iova: 0x2000,
            perm: VHOST_ACCESS_RO
        }
    );
    t.add_range(0x2000, 0x2fff, 0xb000, VHOST_MAP_RO).unwrap();
    assert_eq!(
        vq_meta_prefetch(&vq, Some(&t), &mut c),
        Prefetch::Miss {
            iova: 0x3000,
            perm: VHOST_ACCESS_WO
        }
    );
    t.add_range(0x3000, 0x3fff, 0xc000, VHOST_MAP_RO).unwrap();
    assert_eq!(vq_meta_prefetch(&vq, Some(&t), &mut c), Prefetch::Denied);
    t.add_range(0x3000, 0x3003, 0xd000, VHOST_MAP_WO).unwrap();
    // the first entry starting at 0x3000 is the read-only one
    assert_eq!(vq_meta_prefetch(&vq, Some(&t), &mut c), Prefetch::Denied);
    t.del_range(0x3000, 0x3000);
    t.add_range(0x3000, 0x3003, 0xd000, VHOST_MAP_WO).unwrap();
    // used is 4 + 8 * 4 = 36 bytes: the rest is missing
    assert_eq!(
        vq_meta_prefetch(&vq, Some(&t), &mut c),
        Prefetch::Miss {
            iova: 0x3004,
            perm: VHOST_ACCESS_WO
        }
    );
    t.add_range(0x3004, 0x3fff, 0xd004, VHOST_MAP_WO).unwrap();
    assert_eq!(vq_meta_prefetch(&vq, Some(&t), &mut c), Prefetch::Ready);
    assert_eq!(c.fetch(MetaType::Desc, 0x1010), Some(0xa010));
    assert_eq!(c.fetch(MetaType::Avail, 0x2002), Some(0xb002));
    // the used ring spans two entries: not cached
    assert_eq!(c.fetch(MetaType::Used, 0x3000), None);
    // cached entries answer even after the IOTLB changed: the owner must reset
    t.reset();
    t.add_range(0x3000, 0x3fff, 0xc000, VHOST_MAP_RW).unwrap();
    assert_eq!(vq_meta_prefetch(&vq, Some(&t), &mut c), Prefetch::Ready);
    c.reset();
    assert_eq!(
        vq_meta_prefetch(&vq, Some(&t), &mut c),
        Prefetch::Miss {
            iova: 0x1000,
            perm: VHOST_ACCESS_RO
        }
    );
}
