//! A fixed pool of part buffers. At most `capacity` buffers of `part_size` bytes exist for one
//! upload; each is allocated once (on first need, as [`PartMemory`]), filled in place, handed to a worker as
//! [`Bytes`] without a copy, and comes back to the pool when the last `Bytes` clone of it is
//! dropped. A buffer is never grown by appending.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::part_memory::PartMemory;

/// The pool. Cheap to clone (shared).
#[derive(Clone)]
pub(crate) struct BufferPool {
    inner: Arc<Inner>,
}

struct Inner {
    part_size: usize,
    free: Mutex<Vec<PartMemory>>,
    permits: Arc<Semaphore>,
    allocations: AtomicUsize,
}

/// A buffer taken from the pool. Returns to the pool when dropped (directly, or through the last
/// [`Bytes`] made by [`PoolBuf::freeze`]).
pub(crate) struct PoolBuf {
    data: PartMemory,
    len: usize,
    inner: Arc<Inner>,
    _permit: OwnedSemaphorePermit,
}

impl BufferPool {
    /// A pool of at most `capacity` (at least 1) buffers of `part_size` bytes.
    pub(crate) fn new(part_size: usize, capacity: usize) -> Self {
        let capacity = capacity.max(1);
        BufferPool {
            inner: Arc::new(Inner {
                part_size,
                free: Mutex::new(Vec::with_capacity(capacity)),
                permits: Arc::new(Semaphore::new(capacity)),
                allocations: AtomicUsize::new(0),
            }),
        }
    }

    /// Waits until a buffer is free and takes it. Its contents are whatever the last user left.
    /// `None` only if the pool was closed (it never is while an upload runs).
    pub(crate) async fn acquire(&self) -> Option<PoolBuf> {
        let permit = self.inner.permits.clone().acquire_owned().await.ok()?;
        Some(self.take(permit))
    }

    /// A buffer if one is free now, without waiting.
    pub(crate) fn try_acquire(&self) -> Option<PoolBuf> {
        let permit = self.inner.permits.clone().try_acquire_owned().ok()?;
        Some(self.take(permit))
    }

    fn take(&self, permit: OwnedSemaphorePermit) -> PoolBuf {
        let reused = self.inner.free.lock().ok().and_then(|mut free| free.pop());
        let data = match reused {
            Some(data) => data,
            None => {
                self.inner.allocations.fetch_add(1, Ordering::Relaxed);
                PartMemory::zeroed(self.inner.part_size)
            }
        };
        PoolBuf {
            data,
            len: 0,
            inner: self.inner.clone(),
            _permit: permit,
        }
    }

    /// How many buffers are free now (0: a reader asking for one waits).
    pub(crate) fn available(&self) -> usize {
        self.inner.permits.available_permits()
    }

    /// How many buffers were ever allocated (at most the capacity while buffers come back whole).
    #[cfg(test)]
    pub(crate) fn allocations(&self) -> usize {
        self.inner.allocations.load(Ordering::Relaxed)
    }
}

impl PoolBuf {
    /// Moves the storage out (to fill it on another thread); give it back with [`PoolBuf::put`].
    pub(crate) fn take(&mut self) -> PartMemory {
        std::mem::take(&mut self.data)
    }

    /// Puts the storage back after [`PoolBuf::take`].
    pub(crate) fn put(&mut self, data: PartMemory) {
        self.data = data;
    }

    /// The whole storage (`part_size` bytes).
    pub(crate) fn storage_len(&self) -> usize {
        self.data.len()
    }

    /// The first `len` bytes as [`Bytes`], without a copy. The buffer returns to the pool when
    /// the last clone is dropped.
    pub(crate) fn freeze(mut self, len: usize) -> Bytes {
        self.len = len.min(self.data.len());
        Bytes::from_owner(self)
    }
}

impl AsRef<[u8]> for PoolBuf {
    fn as_ref(&self) -> &[u8] {
        &self.data[..self.len.min(self.data.len())]
    }
}

impl Drop for PoolBuf {
    fn drop(&mut self) {
        let data = std::mem::take(&mut self.data);
        // Only a whole buffer goes back; one lost to a failed read is replaced on next need.
        if data.len() == self.inner.part_size {
            if let Ok(mut free) = self.inner.free.lock() {
                free.push(data);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn buffers_are_allocated_once_and_reused() {
        let pool = BufferPool::new(1024, 3);
        for round in 0..10u8 {
            let mut held = Vec::new();
            for _ in 0..3 {
                let mut buf = pool.acquire().await.expect("open");
                let mut data = buf.take();
                data[0] = round;
                buf.put(data);
                held.push(buf.freeze(10));
            }
            assert!(held.iter().all(|b| b.len() == 10 && b[0] == round));
        }
        assert_eq!(pool.allocations(), 3);
    }

    #[tokio::test]
    async fn acquire_waits_until_a_buffer_comes_back() {
        let pool = BufferPool::new(16, 1);
        let first = pool.acquire().await.expect("open").freeze(4);
        let clone = first.clone();
        let waiting = tokio::time::timeout(Duration::from_millis(50), pool.acquire()).await;
        assert!(waiting.is_err(), "the only buffer is still in use");
        drop(first);
        drop(clone);
        let again = tokio::time::timeout(Duration::from_secs(5), pool.acquire()).await;
        assert!(again.is_ok());
        assert_eq!(pool.allocations(), 1);
    }

    #[tokio::test]
    async fn try_acquire_takes_a_free_buffer_or_none() {
        let pool = BufferPool::new(16, 1);
        let held = pool.try_acquire().expect("one is free").freeze(4);
        assert!(pool.try_acquire().is_none(), "the only buffer is in use");
        drop(held);
        assert!(pool.try_acquire().is_some());
        assert_eq!(pool.allocations(), 1);
    }

    #[tokio::test]
    async fn a_lost_buffer_is_replaced_not_shrunk() {
        let pool = BufferPool::new(8, 1);
        let mut buf = pool.acquire().await.expect("open");
        let _lost = buf.take();
        drop(buf);
        let buf = pool.acquire().await.expect("open");
        assert_eq!(buf.storage_len(), 8);
        assert_eq!(pool.allocations(), 2);
    }
}
