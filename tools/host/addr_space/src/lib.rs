// SPDX-License-Identifier: GPL-2.0

//! The address-space layer of rvhost (`drivers/vhost/addr_space`), built
//! for the host. The source is the kernel's, included as it is; this crate
//! is `no_std` so that anything beyond `core` fails to build here as it
//! would in the kernel. The only addition is the table storage, a `Vec`
//! here where the kernel uses a `KVVec`.

#![no_std]

extern crate alloc;

#[path = "../../../../drivers/vhost/addr_space/mod.rs"]
mod addr_space;

pub use addr_space::*;

/// Table storage on the host, as the kernel's `KVVec<Slot>`.
impl Storage for alloc::vec::Vec<Slot> {
    fn push_slot(&mut self, slot: Slot) -> Result<(), NoMem> {
        self.try_reserve(1).map_err(|_| NoMem)?;
        self.push(slot);
        Ok(())
    }

    fn pop_slot(&mut self) {
        self.pop();
    }
}

/// Storage that holds at most `cap` slots: allocation failure on demand.
#[derive(Debug, Default)]
pub struct CappedStorage {
    /// The slots.
    pub v: alloc::vec::Vec<Slot>,
    /// Most slots before `push_slot()` fails.
    pub cap: usize,
}

impl CappedStorage {
    /// Storage that fails to grow past `cap` slots.
    pub fn new(cap: usize) -> Self {
        Self {
            v: alloc::vec::Vec::new(),
            cap,
        }
    }
}

impl core::ops::Deref for CappedStorage {
    type Target = [Slot];

    fn deref(&self) -> &[Slot] {
        &self.v
    }
}

impl core::ops::DerefMut for CappedStorage {
    fn deref_mut(&mut self) -> &mut [Slot] {
        &mut self.v
    }
}

impl Storage for CappedStorage {
    fn push_slot(&mut self, slot: Slot) -> Result<(), NoMem> {
        if self.v.len() >= self.cap {
            return Err(NoMem);
        }
        self.v.push(slot);
        Ok(())
    }

    fn pop_slot(&mut self) {
        self.v.pop();
    }
}
