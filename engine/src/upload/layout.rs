//! How a file is cut into the parts of an upload session: every part is `part_size` bytes and
//! starts at a multiple of it, except the last one, which holds what is left.

/// The cut of one file into parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartLayout {
    file_size: u64,
    part_size: u64,
}

/// One part of a [`PartLayout`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PartSpan {
    /// Position of the part, from 0.
    pub index: u64,
    /// Offset of its first byte in the file.
    pub offset: u64,
    /// Its length in bytes (never 0).
    pub len: u64,
}

impl PartLayout {
    /// `None` when `part_size` is 0.
    pub fn new(file_size: u64, part_size: u64) -> Option<Self> {
        (part_size > 0).then_some(PartLayout {
            file_size,
            part_size,
        })
    }

    /// The size of the file cut.
    /// The file's size in bytes.
    pub fn file_size(&self) -> u64 {
        self.file_size
    }

    /// The size of every part but the last.
    /// The size of every part but the last.
    pub fn part_size(&self) -> u64 {
        self.part_size
    }

    /// `ceil(file_size / part_size)`; 0 for an empty file.
    pub fn total_parts(&self) -> u64 {
        self.file_size.div_ceil(self.part_size)
    }

    /// The part at `index`, if there is one.
    pub fn part(&self, index: u64) -> Option<PartSpan> {
        let offset = index.checked_mul(self.part_size)?;
        if offset >= self.file_size {
            return None;
        }
        let len = self.part_size.min(self.file_size - offset);
        Some(PartSpan { index, offset, len })
    }

    /// The part starting at `offset`, if `offset` is the start of one.
    pub fn part_at(&self, offset: u64) -> Option<PartSpan> {
        if offset % self.part_size != 0 {
            return None;
        }
        self.part(offset / self.part_size)
    }

    /// Every part, in offset order.
    pub fn parts(&self) -> impl Iterator<Item = PartSpan> + '_ {
        (0..self.total_parts()).filter_map(move |i| self.part(i))
    }
}

impl PartSpan {
    /// Offset of the last byte (inclusive).
    pub fn last_byte(&self) -> u64 {
        self.offset + self.len - 1
    }

    /// The `content-range` header value: `bytes <first>-<last>/<total>`.
    pub fn content_range(&self, total: u64) -> String {
        format!("bytes {}-{}/{}", self.offset, self.last_byte(), total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn box_guide_example_four_parts_last_short() {
        let layout = PartLayout::new(32_127_641, 8_388_608).expect("layout");
        let ranges: Vec<String> = layout
            .parts()
            .map(|p| p.content_range(32_127_641))
            .collect();
        assert_eq!(
            ranges,
            [
                "bytes 0-8388607/32127641",
                "bytes 8388608-16777215/32127641",
                "bytes 16777216-25165823/32127641",
                "bytes 25165824-32127640/32127641",
            ]
        );
        assert_eq!(layout.part(3).expect("last").len, 6_961_817);
    }

    #[test]
    fn exact_multiple_has_no_empty_tail() {
        let layout = PartLayout::new(4 * 1024, 1024).expect("layout");
        assert_eq!(layout.total_parts(), 4);
        assert!(layout.parts().all(|p| p.len == 1024));
        assert_eq!(layout.part(4), None);
    }

    #[test]
    fn one_byte_over_a_multiple_has_a_one_byte_tail() {
        let layout = PartLayout::new(4 * 1024 + 1, 1024).expect("layout");
        assert_eq!(layout.total_parts(), 5);
        let last = layout.part(4).expect("tail");
        assert_eq!((last.offset, last.len), (4096, 1));
        assert_eq!(last.content_range(4097), "bytes 4096-4096/4097");
    }

    #[test]
    fn empty_file_has_no_parts_and_zero_part_size_is_refused() {
        let layout = PartLayout::new(0, 1024).expect("layout");
        assert_eq!(layout.total_parts(), 0);
        assert_eq!(layout.parts().count(), 0);
        assert_eq!(PartLayout::new(10, 0), None);
    }

    #[test]
    fn non_power_of_two_part_size_and_offsets() {
        let layout = PartLayout::new(10_000, 3_000).expect("layout");
        let spans: Vec<(u64, u64)> = layout.parts().map(|p| (p.offset, p.len)).collect();
        assert_eq!(spans, [(0, 3000), (3000, 3000), (6000, 3000), (9000, 1000)]);
        assert_eq!(layout.part_at(6000).map(|p| p.index), Some(2));
        assert_eq!(layout.part_at(6001), None);
        assert_eq!(layout.part_at(12_000), None);
    }

    #[test]
    fn files_over_four_gib_do_not_overflow() {
        let size = 5 * (1u64 << 32) + 7;
        let layout = PartLayout::new(size, 64 << 20).expect("layout");
        let last = layout.part(layout.total_parts() - 1).expect("last");
        assert_eq!(last.offset + last.len, size);
        assert_eq!(layout.part(u64::MAX), None);
    }
}
