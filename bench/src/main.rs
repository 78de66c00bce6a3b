//! `box-uploads-bench`: the upload benchmark behind `cargo xtask bench`.
//!
//! Starts `box-emulator` on loopback, generates test files under `target/bench/files`, and
//! measures, in child processes, this project's upload engine (as a library and through the
//! `box-upload` CLI), Box's official Python SDK (boxsdk 10.x `upload_big_file`, in
//! `target/bench/venv`), Box's previous Python SDK (boxsdk 3.x's chunked uploader at its
//! default 5 threads, in `target/bench/venv-boxsdk3`), optionally Box's Node SDK
//! (box-node-sdk 10.x `uploadBigFile`, in `target/bench/node`), and a hashing-only floor (two
//! SHA-1 passes over the file).
//!
//! It measures under network profiles ([`profile`]): `loopback` (no shaping: the side-by-side
//! 1 GiB file, the size sweep, the engine's concurrency and part-size sweeps, and many small
//! files under rate limits), `wan` and `far` (the emulator's own `--net` shaping: every client
//! on one file sized so that the slowest client takes about a minute, plus the engine pinned
//! at 4 parts in flight beside its adaptive default). It judges the issue's targets against
//! the best peer, each profile's `link`, the SHA-1 floor and the engine's memory bound
//! ([`memory`], the one place to change when the engine's documented bound changes), times
//! `xtask codegen` on our spec and on Box's whole published API, and writes
//! `bench/results/results.json`, SVG plots beside it, and `BENCHMARKS.md`.
//!
//! It is never part of `cargo test` or CI: it is slow and its figures depend on the machine.
//!
//! ```text
//! cargo xtask bench                      # the full run: every profile (about 40 minutes on 2 cores)
//! cargo xtask bench --plan               # the cases and an estimated duration; measures nothing
//! cargo xtask bench --quick              # small files, one run each: a smoke test of every profile
//! cargo xtask bench --quick --profile far  # one profile only (repeatable)
//! cargo xtask bench --small-files        # only the many-small-files case, merged into results.json
//! cargo xtask bench --help               # every option
//! ```

#![forbid(unsafe_code)]

mod charts;
mod children;
mod emulator;
mod files;
mod measure;
mod memory;
mod profile;
mod report;
mod run;
mod setup;
mod small;
mod stats;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        // Hidden subcommands: the bench re-invokes itself so that the measured process is
        // only the client.
        Some("upload-one") => children::upload_one(&args[1..]),
        Some("upload-tree") => children::upload_tree(&args[1..]),
        Some("hash-floor") => children::hash_floor(&args[1..]),
        _ => run::main(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("box-uploads-bench: {message}");
            ExitCode::FAILURE
        }
    }
}
