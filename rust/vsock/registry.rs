// SPDX-License-Identifier: GPL-2.0

//! The devices the host-to-guest transport reaches, by guest CID
//! (`vhost_vsock_hash` of drivers/vhost/vsock.c).
//!
//! C keeps an RCU hash table. Here a red-black tree under a spinlock maps
//! `(cid, device)` to the device, so that devices of one CID in namespaces
//! that do not reach each other can coexist; a lookup is a walk of the
//! entries of one CID, `O(log n)` in the number of devices. Entries hold a
//! reference on their device, so a lookup may use what it found after the
//! lock is dropped, where C waits for readers with `synchronize_rcu()`.

use super::{
    netns::NetRef,
    skb::{
        Skb,
        VsockRef, //
    },
};
use kernel::{
    prelude::*,
    rbtree::{
        RBTree,
        RBTreeNodeReservation, //
    },
    sync::Arc,
};

/// What the transport asks of a device it found by CID.
pub(crate) trait H2gDevice: Send + Sync {
    /// The namespace the device belongs to.
    fn net(&self) -> NetRef<'_>;
    /// Queues `skb` for the guest (`vhost_transport_send_pkt()`); the
    /// bytes queued.
    fn send_pkt(&self, skb: Skb) -> Result<usize>;
    /// Drops the packets of `vsk` still queued (`vhost_transport_cancel_pkt()`).
    fn cancel_pkt(&self, vsk: VsockRef<'_>);
    /// Whether the guest acked `VIRTIO_VSOCK_F_SEQPACKET`.
    fn seqpacket_allow(&self) -> bool;
}

/// An entry's key: the CID, then the device's address, unique while it is
/// in the tree.
type Key = (u32, usize);

type Tree = RBTree<Key, Arc<dyn H2gDevice>>;

kernel::sync::global_lock! {
    // SAFETY: `init()` initialises it, once, before the transport is registered: nothing
    // reaches it earlier.
    unsafe(uninit) static DEVICES: SpinLock<Option<RBTree<(u32, usize), Arc<dyn H2gDevice>>>> = None;
}

/// Initialises the registry's lock.
///
/// # Safety
///
/// Called once, before any other function of this module.
pub(super) unsafe fn init() {
    // SAFETY: By the safety requirements.
    unsafe { DEVICES.init() };
}

fn id(dev: &Arc<dyn H2gDevice>) -> usize {
    Arc::as_ptr(dev).cast::<()>() as usize
}

/// The key of a device with `cid` that `net` reaches.
fn find(tree: &mut Tree, cid: u32, net: NetRef<'_>) -> Option<Key> {
    let mut cursor = tree.cursor_lower_bound_mut(&(cid, 0))?;
    loop {
        let (key, dev) = cursor.current();
        if key.0 != cid {
            return None;
        }
        if net.reaches(dev.net()) {
            return Some(*key);
        }
        cursor = cursor.move_next()?;
    }
}

/// Runs `f` on the device with `cid` that `net` reaches, under the
/// registry's lock (so `f` must not sleep).
pub(crate) fn with<R>(cid: u32, net: NetRef<'_>, f: impl FnOnce(&dyn H2gDevice) -> R) -> Option<R> {
    let mut guard = DEVICES.lock();
    let tree = guard.as_mut()?;
    let key = find(tree, cid, net)?;
    tree.get(&key).map(|dev| f(&**dev))
}

/// The device with `cid` that `net` reaches (`vhost_vsock_get()`).
pub(crate) fn get(cid: u32, net: NetRef<'_>) -> Option<Arc<dyn H2gDevice>> {
    let mut guard = DEVICES.lock();
    let tree = guard.as_mut()?;
    let key = find(tree, cid, net)?;
    tree.get(&key).cloned()
}

/// Gives `dev` the CID `cid` in place of `old` (0: none yet):
/// `EADDRINUSE` if another device its namespace reaches has it.
pub(crate) fn set_cid(dev: &Arc<dyn H2gDevice>, old: u32, cid: u32) -> Result {
    let id = id(dev);
    let node = RBTreeNodeReservation::new(GFP_KERNEL)?;
    let mut guard = DEVICES.lock();
    let tree = guard.get_or_insert_with(RBTree::new);
    let mut cursor = tree.cursor_lower_bound_mut(&(cid, 0));
    while let Some(c) = cursor {
        let (key, other) = c.current();
        if key.0 != cid {
            break;
        }
        if key.1 != id && dev.net().reaches(other.net()) {
            return Err(super::eaddrinuse());
        }
        cursor = c.move_next();
    }
    let replaced = if old != 0 {
        tree.remove(&(old, id))
    } else {
        None
    };
    tree.insert(node.into_node((cid, id), dev.clone()));
    drop(guard);
    // The tree's reference on the device is dropped outside the lock.
    drop(replaced);
    Ok(())
}

/// Takes `dev` out under `cid`; the transport no longer finds it.
pub(crate) fn remove(dev: &Arc<dyn H2gDevice>, cid: u32) {
    let key = (cid, id(dev));
    let removed = DEVICES.lock().as_mut().and_then(|tree| tree.remove(&key));
    drop(removed);
}
