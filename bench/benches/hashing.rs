//! Criterion micro-benchmark of the engine's hashing scheme, with no network: each byte hashed
//! once, into the whole-file SHA-1 and its part's SHA-1 from the same slice (what the engine's
//! ordered reader does), against two passes (whole file, then each part, as a client without an
//! ordered reader must).
//!
//! `cargo bench -p box-uploads-bench --bench hashing`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sha1::{Digest, Sha1};

const MIB: usize = 1024 * 1024;

fn data(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

/// Whole-file and per-part digests from one walk over the data, in slices of at most 1 MiB
/// (the size the engine's reader fills its buffers in).
fn one_pass(data: &[u8], part_size: usize) -> ([u8; 20], Vec<[u8; 20]>) {
    let mut whole = Sha1::new();
    let mut parts = Vec::new();
    for part in data.chunks(part_size) {
        let mut hasher = Sha1::new();
        for slice in part.chunks(MIB) {
            whole.update(slice);
            hasher.update(slice);
        }
        parts.push(hasher.finalize().into());
    }
    (whole.finalize().into(), parts)
}

fn two_passes(data: &[u8], part_size: usize) -> ([u8; 20], Vec<[u8; 20]>) {
    let whole = Sha1::digest(data).into();
    let parts = data
        .chunks(part_size)
        .map(|p| Sha1::digest(p).into())
        .collect();
    (whole, parts)
}

fn hashing(c: &mut Criterion) {
    let input = data(64 * MIB);
    assert_eq!(one_pass(&input, 8 * MIB), two_passes(&input, 8 * MIB));
    let mut group = c.benchmark_group("hash 64 MiB in 8 MiB parts");
    group.throughput(Throughput::Bytes(input.len() as u64));
    group.sample_size(10);
    group.bench_function("one pass (whole + part from the same slices)", |b| {
        b.iter(|| one_pass(black_box(&input), 8 * MIB))
    });
    group.bench_function("two passes", |b| {
        b.iter(|| two_passes(black_box(&input), 8 * MIB))
    });
    group.finish();
}

criterion_group!(benches, hashing);
criterion_main!(benches);
