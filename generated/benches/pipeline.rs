//! Benchmarks of the upload pipeline's pieces (no network): hashing each byte once for the
//! whole file and its part versus twice, and the ordered reader going through the buffer pool.
//!
//! `cargo bench -p box-uploads --bench pipeline`

use std::hint::black_box;

use box_uploads::upload::bench;
use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

const MIB: usize = 1024 * 1024;

fn data(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

fn hashing(c: &mut Criterion) {
    let input = data(64 * MIB);
    let mut group = c.benchmark_group("hash 64 MiB in 8 MiB parts");
    group.throughput(Throughput::Bytes(input.len() as u64));
    group.sample_size(10);
    group.bench_function("one pass (whole + part from the same slices)", |b| {
        b.iter(|| bench::hash_one_pass(black_box(&input), 8 * MIB))
    });
    group.bench_function("two passes", |b| {
        b.iter(|| bench::hash_two_passes(black_box(&input), 8 * MIB))
    });
    group.finish();
}

fn reader(c: &mut Criterion) {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => panic!("cannot start a runtime: {e}"),
    };
    let input = Bytes::from(data(64 * MIB));
    let mut group = c.benchmark_group("ordered reader through the pool, 64 MiB");
    group.throughput(Throughput::Bytes(input.len() as u64));
    group.sample_size(10);
    for part in [MIB, 8 * MIB] {
        group.bench_with_input(
            BenchmarkId::new("part size MiB", part / MIB),
            &part,
            |b, &part| {
                b.to_async(&runtime)
                    .iter(|| bench::read_through_pool(input.clone(), part, 5))
            },
        );
    }
    group.finish();
}

criterion_group!(benches, hashing, reader);
criterion_main!(benches);
