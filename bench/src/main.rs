//! `box-uploads-bench`: the upload benchmark behind `cargo xtask bench`.
//!
//! Starts `box-emulator` on loopback, generates test files under `target/bench/files`, and
//! measures, in child processes, this project's upload engine (as a library and through the
//! `box-upload` CLI), Box's official Python SDK (boxsdk 10.x `upload_big_file`, installed into
//! `target/bench/venv`), optionally Box's Node SDK (box-node-sdk 10.x `uploadBigFile`, installed
//! into `target/bench/node`), and a hashing-only floor (two SHA-1 passes over the file). It
//! then writes `bench/results/results.json`, SVG plots beside it, and `BENCHMARKS.md`.
//!
//! It is never part of `cargo test` or CI: it is slow and its figures depend on the machine.
//!
//! ```text
//! cargo xtask bench            # the full run (about 20-30 minutes on 2 cores)
//! cargo xtask bench --quick    # small files, one run each: a smoke test
//! cargo xtask bench --help     # every option
//! ```

#![forbid(unsafe_code)]

mod charts;
mod children;
mod emulator;
mod files;
mod measure;
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
