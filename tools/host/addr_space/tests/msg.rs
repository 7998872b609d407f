// SPDX-License-Identifier: GPL-2.0

//! IOTLB messages: `vhost_chr_write_iter()`, `vhost_process_iotlb_msg()`,
//! `vhost_iotlb_miss()`, `vhost_iotlb_notify_vq()` of
//! `drivers/vhost/vhost.c` (7.2).

// Tests may panic: the lints for the kernel code do not apply.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::type_complexity)]

mod common;

use common::{
    access_ok,
    list,
    map,
    table,
    Table, //
};
use rvhost_addr_space::{
    encode_miss,
    parse_write,
    process_iotlb_msg,
    resolves_miss,
    umem_access_ok,
    Errno,
    IotlbMsg,
    Kind,
    MsgOutcome,
    WriteMsg,
    MSG_SIZE,
    USER_PTR_MAX_4LEVEL,
    VHOST_ACCESS_RO,
    VHOST_ACCESS_RW,
    VHOST_ACCESS_WO,
    VHOST_IOTLB_ACCESS_FAIL,
    VHOST_IOTLB_BATCH_BEGIN,
    VHOST_IOTLB_INVALIDATE,
    VHOST_IOTLB_MISS,
    VHOST_IOTLB_MSG,
    VHOST_IOTLB_MSG_V2,
    VHOST_IOTLB_UPDATE, //
};

fn raw(version: u32, word1: u32, m: &IotlbMsg) -> Vec<u8> {
    let mut b = vec![0u8; MSG_SIZE];
    b[0..4].copy_from_slice(&version.to_ne_bytes());
    b[4..8].copy_from_slice(&word1.to_ne_bytes());
    b[8..16].copy_from_slice(&m.iova.to_ne_bytes());
    b[16..24].copy_from_slice(&m.size.to_ne_bytes());
    b[24..32].copy_from_slice(&m.uaddr.to_ne_bytes());
    b[32] = m.perm;
    b[33] = m.ty;
    b
}

fn update(iova: u64, size: u64, uaddr: u64, perm: u8) -> IotlbMsg {
    IotlbMsg {
        iova,
        size,
        uaddr,
        perm,
        ty: VHOST_IOTLB_UPDATE,
    }
}

fn invalidate(iova: u64, size: u64) -> IotlbMsg {
    IotlbMsg {
        iova,
        size,
        uaddr: 0,
        perm: 0,
        ty: VHOST_IOTLB_INVALIDATE,
    }
}

#[test]
fn parse() {
    let m = update(0x1000, 0x1000, 0x7000_0000, VHOST_ACCESS_RW);
    // vhost.c:1702-1723: V1 skips the hole, V2 reads the asid only with
    // VHOST_BACKEND_F_IOTLB_ASID
    assert_eq!(
        parse_write(&raw(VHOST_IOTLB_MSG, 7, &m), true),
        Ok(WriteMsg {
            version: 1,
            asid: 0,
            msg: m
        })
    );
    assert_eq!(
        parse_write(&raw(VHOST_IOTLB_MSG_V2, 7, &m), false),
        Ok(WriteMsg {
            version: 2,
            asid: 0,
            msg: m
        })
    );
    assert_eq!(
        parse_write(&raw(VHOST_IOTLB_MSG_V2, 7, &m), true),
        Ok(WriteMsg {
            version: 2,
            asid: 7,
            msg: m
        })
    );
    // vhost.c:1721: other types
    assert_eq!(parse_write(&raw(0, 0, &m), false), Err(Errno::Inval));
    assert_eq!(parse_write(&raw(3, 0, &m), false), Err(Errno::Inval));
    // short writes: the type, the asid, the message (40 bytes are enough)
    let b = raw(VHOST_IOTLB_MSG_V2, 7, &m);
    assert_eq!(parse_write(&b[..3], false), Err(Errno::Inval));
    assert_eq!(parse_write(&b[..7], true), Err(Errno::Inval));
    assert_eq!(parse_write(&b[..39], false), Err(Errno::Inval));
    assert_eq!(
        parse_write(&b[..40], true),
        Ok(WriteMsg {
            version: 2,
            asid: 7,
            msg: m
        })
    );
    // vhost.c:1733: an update of size 0, whatever else
    let z = update(0, 0, 0, VHOST_ACCESS_RW);
    assert_eq!(
        parse_write(&raw(VHOST_IOTLB_MSG, 0, &z), false),
        Err(Errno::Inval)
    );
    // an invalidate of size 0 passes
    assert!(parse_write(&raw(VHOST_IOTLB_MSG, 0, &invalidate(0, 0)), false).is_ok());
    // a message type parse does not know passes on to processing
    let odd = IotlbMsg { ty: 77, ..m };
    assert!(parse_write(&raw(VHOST_IOTLB_MSG, 0, &odd), false).is_ok());
}

#[test]
fn miss_message() {
    // vhost.c:1836-1861 and vhost_new_msg(): zeroed, type, iova, perm
    let v1 = encode_miss(false, 0x1234_5678_9abc, VHOST_ACCESS_WO);
    let mut want = [0u8; MSG_SIZE];
    want[0..4].copy_from_slice(&1u32.to_ne_bytes());
    want[8..16].copy_from_slice(&0x1234_5678_9abcu64.to_ne_bytes());
    want[32] = VHOST_ACCESS_WO;
    want[33] = VHOST_IOTLB_MISS;
    assert_eq!(v1, want);
    let v2 = encode_miss(true, 0x1234_5678_9abc, VHOST_ACCESS_WO);
    want[0..4].copy_from_slice(&2u32.to_ne_bytes());
    assert_eq!(v2, want);
}

fn process(t: Option<&mut Table>, asid: u32, m: IotlbMsg) -> MsgOutcome {
    process_iotlb_msg(t, asid, &m, &access_ok)
}

#[test]
fn processing() {
    let ok = |reset, notify| MsgOutcome {
        result: Ok(()),
        reset_meta: reset,
        notify,
    };
    let err = |e, reset| MsgOutcome {
        result: Err(e),
        reset_meta: reset,
        notify: false,
    };
    let mut t = table(Kind::Iotlb, 2);
    let u = update(0x1000, 0x1000, 0x7000_0000, VHOST_ACCESS_RO);
    // vhost.c:1645: asid first
    assert_eq!(process(Some(&mut t), 1, u), err(Errno::Inval, false));
    assert_eq!(process(None, 1, u), err(Errno::Inval, false));
    // vhost.c:1651, 1670: no IOTLB
    assert_eq!(process(None, 0, u), err(Errno::Fault, false));
    assert_eq!(process(None, 0, invalidate(0, 0)), err(Errno::Fault, false));
    // vhost.c:1679: other types
    for ty in [
        VHOST_IOTLB_MISS,
        VHOST_IOTLB_ACCESS_FAIL,
        VHOST_IOTLB_BATCH_BEGIN,
        0,
        77,
    ] {
        assert_eq!(
            process(Some(&mut t), 0, IotlbMsg { ty, ..u }),
            err(Errno::Inval, false),
            "{ty}"
        );
    }
    // vhost.c:1655: the user range
    let top = USER_PTR_MAX_4LEVEL;
    assert_eq!(
        process(
            Some(&mut t),
            0,
            update(0, 0x1000, top - 0xfff, VHOST_ACCESS_RO)
        ),
        err(Errno::Fault, false)
    );
    // ... checked only for the access asked: perm 0 is not checked
    assert_eq!(
        process(Some(&mut t), 0, update(0, 0x1000, top - 0xfff, 0)),
        ok(true, true)
    );
    assert_eq!(list(&t), [map(0, 0xfff, top - 0xfff, 0)]);
    // vhost.c:1660: added, overlapping is fine, RETIRE at the limit
    assert_eq!(process(Some(&mut t), 0, u), ok(true, true));
    assert_eq!(
        process(
            Some(&mut t),
            0,
            update(0x1800, 0x10, 0x7000_1000, VHOST_ACCESS_WO)
        ),
        ok(true, true)
    );
    assert_eq!(
        list(&t).iter().map(|m| m.start).collect::<Vec<_>>(),
        [0x1000, 0x1800]
    );
    // the last byte wraps: add_range()'s -EFAULT becomes -ENOMEM
    assert_eq!(
        process(
            Some(&mut t),
            0,
            update(u64::MAX, 2, 0x7000_0000, VHOST_ACCESS_RO)
        ),
        err(Errno::NoMem, true)
    );
    // vhost.c:1668-1676: invalidate drops whole entries
    assert_eq!(
        process(Some(&mut t), 0, invalidate(0x1808, 1)),
        ok(true, false)
    );
    assert!(t.is_empty());
}

#[test]
fn user_range() {
    let top = USER_PTR_MAX_4LEVEL;
    // vhost.c:1623
    assert!(umem_access_ok(0, 0, VHOST_ACCESS_RW, &access_ok));
    assert!(umem_access_ok(
        top - 0x1000,
        0x1000,
        VHOST_ACCESS_RW,
        &access_ok
    ));
    assert!(!umem_access_ok(
        top - 0xfff,
        0x1000,
        VHOST_ACCESS_RO,
        &access_ok
    ));
    assert!(!umem_access_ok(
        top - 0xfff,
        0x1000,
        VHOST_ACCESS_WO,
        &access_ok
    ));
    assert!(umem_access_ok(top - 0xfff, 0x1000, 0, &access_ok));
    assert!(!umem_access_ok(u64::MAX, 2, 0, &access_ok));
    assert!(umem_access_ok(u64::MAX, 1, 0, &access_ok));
}

#[test]
fn notify() {
    // vhost.c:1611-1613: iova <= miss <= iova + size - 1
    let u = update(0x1000, 0x1000, 0, 0);
    assert!(!resolves_miss(&u, 0xfff));
    assert!(resolves_miss(&u, 0x1000));
    assert!(resolves_miss(&u, 0x1fff));
    assert!(!resolves_miss(&u, 0x2000));
    // wrapping end: nothing above iova is "at or before" the small last
    assert!(!resolves_miss(&update(u64::MAX, 2, 0, 0), u64::MAX));
    assert!(resolves_miss(&update(u64::MAX, 1, 0, 0), u64::MAX));
}
