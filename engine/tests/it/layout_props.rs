//! Property tests of the part layout and of the headers built from it: for any file size and
//! part size, the parts cover the file exactly once, in order, aligned to the part size, all
//! full but the last; `content-range` and `digest` are well formed.

use base64::Engine as _;
use box_uploads::upload::{PartLayout, Sha1Digest};
use proptest::prelude::*;

fn sizes() -> impl Strategy<Value = (u64, u64)> {
    prop_oneof![
        // Small files and parts, where off-by-one errors live.
        (0u64..5_000, 1u64..700),
        // Realistic: Box's 8 / 32 MiB parts and odd sizes, files beyond 2^31 and 2^32 bytes
        // (up to 600 GB with large parts; at most ~20,000 parts, to keep the test fast).
        (
            0u64..20_000_000_000,
            prop::sample::select(vec![8u64 << 20, 1_000_003])
        ),
        (
            0u64..600_000_000_000,
            prop::sample::select(vec![32u64 << 20, 64 << 20])
        ),
        // Exact multiples and one byte either side.
        (1u64..10_000, 1u64..5_000, -1i64..=1)
            .prop_map(|(k, p, d)| ((k * p).saturating_add_signed(d), p)),
    ]
}

/// `bytes a-b/total` parsed back.
fn parse_range(header: &str) -> (u64, u64, u64) {
    let rest = header.strip_prefix("bytes ").expect("unit");
    let (range, total) = rest.split_once('/').expect("total");
    let (a, b) = range.split_once('-').expect("range");
    (
        a.parse().expect("a"),
        b.parse().expect("b"),
        total.parse().expect("total"),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn parts_cover_the_file_exactly_once((file_size, part_size) in sizes()) {
        let layout = PartLayout::new(file_size, part_size).expect("a positive part size gives a layout");
        let parts: Vec<_> = layout.parts().collect();
        prop_assert_eq!(parts.len() as u64, layout.total_parts());
        prop_assert_eq!(layout.total_parts(), file_size.div_ceil(part_size));
        let mut next = 0u64;
        for (i, part) in parts.iter().enumerate() {
            prop_assert_eq!(part.index, i as u64);
            prop_assert_eq!(part.offset, next, "no gap, no overlap");
            prop_assert_eq!(part.offset % part_size, 0, "aligned");
            prop_assert!(part.len > 0);
            if i + 1 < parts.len() {
                prop_assert_eq!(part.len, part_size, "every part but the last is full");
            } else {
                prop_assert!(part.len <= part_size);
            }
            prop_assert_eq!(layout.part(part.index), Some(*part));
            prop_assert_eq!(layout.part_at(part.offset), Some(*part));
            let (a, b, total) = parse_range(&part.content_range(file_size));
            prop_assert_eq!((a, b, total), (part.offset, part.offset + part.len - 1, file_size));
            next += part.len;
        }
        prop_assert_eq!(next, file_size, "the parts add up to the file");
        prop_assert!(layout.part(layout.total_parts()).is_none());
    }

    #[test]
    fn digest_header_is_base64_of_the_sha1_and_hex_matches(data in prop::collection::vec(any::<u8>(), 0..2_048)) {
        let digest = Sha1Digest::of(&data);
        let header = digest.header();
        let b64 = header.strip_prefix("sha=").expect("sha= prefix");
        let raw = base64::engine::general_purpose::STANDARD.decode(b64).expect("base64");
        prop_assert_eq!(raw.len(), 20);
        let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
        prop_assert_eq!(&digest.hex(), &hex);
        prop_assert!(digest.matches_hex(&hex.to_ascii_uppercase()), "hex compares without regard to case");
    }
}

#[test]
fn a_zero_part_size_has_no_layout() {
    assert!(PartLayout::new(10, 0).is_none());
}
