//! The memory a part is read and hashed in: [`PartMemory`], a zeroed buffer of fixed length.
//!
//! A part buffer is megabytes that are written once, in order, soon after they are allocated.
//! From the allocator such a buffer is fresh anonymous memory, and filling it costs one page
//! fault per 4 KiB page (2,048 for an 8 MiB part, each also zeroing its page): on a 64 MiB
//! upload over loopback those faults were about a tenth of the client's CPU. A buffer of at
//! least [`HUGE_MIN`] is therefore mapped on its own and advised as a candidate for
//! transparent huge pages (Linux `MADV_HUGEPAGE`), so that a 2 MiB page is faulted in at a
//! time where the system allows it (`transparent_hugepage` set to `madvise` or `always`). The
//! advice is only a hint: where it is refused, or mapping fails, or on other systems, the
//! buffer is an ordinary `Vec`. Either way the contents start zeroed and the length is fixed.
//! Where memory is fragmented, the kernel may compact it to find huge pages as an advised
//! buffer is first filled (the default `defrag` setting does so for advised regions): a cost
//! paid once per buffer, since the pool keeps its buffers for the rest of the upload.

use std::ops::{Deref, DerefMut};

/// Buffers from this size up are mapped apart and advised for huge pages (one huge page).
const HUGE_MIN: usize = 2 * 1024 * 1024;

/// A zeroed buffer of fixed length. `Default` is the empty buffer (what is left after a
/// buffer was moved out).
#[derive(Default)]
pub(crate) struct PartMemory(Storage);

#[derive(Default)]
enum Storage {
    #[default]
    Empty,
    Heap(Vec<u8>),
    Mapped(memmap2::MmapMut),
}

impl PartMemory {
    /// `len` zero bytes.
    pub(crate) fn zeroed(len: usize) -> PartMemory {
        if len >= HUGE_MIN {
            if let Some(mapped) = mapped(len) {
                return PartMemory(Storage::Mapped(mapped));
            }
        }
        PartMemory(Storage::Heap(vec![0u8; len]))
    }

    /// Whether the buffer is mapped apart (for tests: the huge-page path was taken).
    #[cfg(test)]
    fn is_mapped(&self) -> bool {
        matches!(self.0, Storage::Mapped(_))
    }
}

/// An anonymous mapping of `len` bytes advised for huge pages, or `None` (then the heap is
/// used). The advice failing is not an error: the mapping is still ordinary memory.
fn mapped(len: usize) -> Option<memmap2::MmapMut> {
    let map = memmap2::MmapMut::map_anon(len).ok()?;
    #[cfg(target_os = "linux")]
    let _ = map.advise(memmap2::Advice::HugePage);
    Some(map)
}

impl Deref for PartMemory {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match &self.0 {
            Storage::Empty => &[],
            Storage::Heap(v) => v,
            Storage::Mapped(m) => m,
        }
    }
}

impl DerefMut for PartMemory {
    fn deref_mut(&mut self) -> &mut [u8] {
        match &mut self.0 {
            Storage::Empty => &mut [],
            Storage::Heap(v) => v,
            Storage::Mapped(m) => m,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_buffers_are_on_the_heap_and_zeroed() {
        let mut b = PartMemory::zeroed(1000);
        assert!(!b.is_mapped());
        assert_eq!(b.len(), 1000);
        assert!(b.iter().all(|&x| x == 0));
        b[999] = 7;
        assert_eq!(b[999], 7);
    }

    #[test]
    fn part_sized_buffers_are_mapped_zeroed_and_writable() {
        let len = 8 * 1024 * 1024 + 3;
        let mut b = PartMemory::zeroed(len);
        assert!(
            b.is_mapped(),
            "an anonymous mapping of 8 MiB is expected to succeed"
        );
        assert_eq!(b.len(), len);
        assert!(b.iter().all(|&x| x == 0));
        b[len - 1] = 9;
        b[0] = 1;
        assert_eq!((b[0], b[len - 1]), (1, 9));
    }

    #[test]
    fn the_default_is_empty() {
        let mut b = PartMemory::default();
        assert!(b.is_empty());
        assert!(b.deref_mut().is_empty());
    }
}
