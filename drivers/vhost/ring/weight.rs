// SPDX-License-Identifier: GPL-2.0

//! How long one handler run may keep the worker.

/// `vhost_exceeds_weight()`: a handler run gives up the worker after
/// `max_iters` iterations of its loop or `max_bytes` bytes, so that the
/// other queues and devices of the worker get their turn; the handler then
/// queues itself again.
///
/// Every iteration counts, whatever it did: C's handler loops are
/// `do { ... } while (!vhost_exceeds_weight(vq, ++pkts, total))`, which a
/// `continue` reaches too. A loop that does not count an iteration (a put
/// back, a retry) is one a guest can make endless.
pub struct Weight {
    iters: usize,
    bytes: usize,
    max_iters: usize,
    max_bytes: usize,
}

impl Weight {
    /// A budget of `max_iters` iterations and `max_bytes` bytes.
    pub const fn new(max_iters: usize, max_bytes: usize) -> Self {
        Self {
            iters: 0,
            bytes: 0,
            max_iters,
            max_bytes,
        }
    }

    /// Starts an iteration; `false` when the budget is spent and the
    /// handler must requeue itself instead. The first one always starts.
    pub fn next(&mut self) -> bool {
        if self.iters > 0 && (self.iters >= self.max_iters || self.bytes >= self.max_bytes) {
            return false;
        }
        self.iters += 1;
        true
    }

    /// Counts `n` bytes moved.
    pub fn add_bytes(&mut self, n: usize) {
        self.bytes = self.bytes.saturating_add(n);
    }

    /// Bytes counted so far.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Whether the byte budget is spent.
    pub fn bytes_spent(&self) -> bool {
        self.bytes >= self.max_bytes
    }
}
