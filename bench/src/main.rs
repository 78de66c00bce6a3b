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
//! at 4 parts in flight beside its adaptive default), and each over HTTPS too (`loopback-tls`:
//! the side-by-side file; `wan-tls`, `far-tls`), with a throwaway CA every client trusts
//! (`setup::Trust`). It judges its targets ([`targets`])
//! against the best peer, each profile's `link`, the SHA-1 floor and the engine's memory bound
//! ([`memory`], the one place to change when the engine's documented bound changes), times
//! `xtask codegen` on our spec and on Box's whole published API, and writes
//! `bench/results/results.json`, SVG plots beside it, and `BENCHMARKS.md`.
//!
//! Data flows one way through the modules: [`options`] -> [`plan`] (what to run) ->
//! [`runner`] (running it) -> [`results`] (the measured data) -> [`targets`] (met or not) ->
//! [`markdown`] and [`plots`] (the report), written by [`output`]. The engine's and the
//! emulator's defaults are read from their crates ([`defaults`]).
//!
//! It is never part of `cargo test` or CI: it is slow and its figures depend on the machine.
//!
//! ```text
//! cargo xtask bench                      # the full run: every profile (about 40 minutes on 2 cores)
//! cargo xtask bench --plan               # the cases and an estimated duration; measures nothing
//! cargo xtask bench --profile wan-tls    # one profile (loopback, wan, far, each also -tls)
//! cargo xtask bench --quick              # small files, one run each: a smoke test (HTTPS on loopback)
//! cargo xtask bench --quick --profile far  # one profile only (repeatable)
//! cargo xtask bench --small-files        # only the many-small-files case, merged into results.json
//! cargo xtask bench --version-reuse      # only the one-changed-region new version (wan, far), merged likewise
//! cargo xtask bench --help               # every option
//! ```

#![forbid(unsafe_code)]

mod charts;
mod children;
mod defaults;
mod emulator;
mod files;
mod markdown;
mod measure;
mod memory;
mod options;
mod output;
mod plan;
mod plots;
mod profile;
mod results;
mod runner;
mod setup;
mod small_case;
mod stats;
mod targets;
mod version_case;

use std::process::ExitCode;

use options::Options;
use plan::Plan;
use setup::Paths;
use targets::Target;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        // Hidden subcommands: the bench re-invokes itself so that the measured process is
        // only the client.
        Some("upload-one") => children::upload_one(&args[1..]),
        Some("upload-tree") => children::upload_tree(&args[1..]),
        Some("hash-floor") => children::hash_floor(&args[1..]),
        _ => bench(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("box-uploads-bench: {message}");
            ExitCode::FAILURE
        }
    }
}

/// `cargo xtask bench [OPTIONS]`: plan, run, judge, write.
fn bench(args: &[String]) -> Result<(), String> {
    let Some(opts) = Options::parse(args)? else {
        return Ok(());
    };
    let paths = Paths::discover();
    if let Some(json) = &opts.from_json {
        // The report and plots again from saved figures (the targets are judged anew).
        let results = output::read(json)?
            .ok_or_else(|| format!("cannot read {}: no such file", json.display()))?;
        let (out_dir, report) = output::rewrite_paths(&paths, &opts, json, results.quick);
        output::write(&results, &targets::judge(&results), &out_dir, &report)?;
        eprintln!("rewrote {} from {}", report.display(), json.display());
        return Ok(());
    }
    if opts.plan_only && opts.version_reuse {
        plan::estimate::print_version_reuse(&opts);
        return Ok(());
    }
    let (out_dir, report) = output::paths(&paths, &opts);
    if opts.small_files || opts.version_reuse {
        // One case, merged into the saved figures. Read them first: a results.json that
        // cannot be read stops the run before anything is measured.
        let json = out_dir.join("results.json");
        let saved = output::read(&json)?;
        if saved.is_none() {
            eprintln!(
                "no {} yet: the report will hold only this case",
                json.display()
            );
        }
        let (results, ours): (_, fn(&Target) -> bool) = if opts.version_reuse {
            (
                runner::version_reuse_only(&paths, &opts, args, saved)?,
                targets::is_version_reuse,
            )
        } else {
            (
                runner::small_files_only(&paths, &opts, args, saved)?,
                targets::is_small_files,
            )
        };
        let targets = targets::judge(&results);
        output::write(&results, &targets, &out_dir, &report)?;
        eprintln!(
            "merged into {} and rewrote {}",
            json.display(),
            report.display()
        );
        print_targets(targets.iter().filter(|t| ours(t)));
        return Ok(());
    }
    let plan = Plan::new(&opts);
    if opts.plan_only {
        plan::estimate::print(&plan, &opts);
        return Ok(());
    }
    let mut results = runner::run(paths, &opts, &plan, args)?;
    // The full run does not measure the new-version case (`--version-reuse` does): its saved
    // figures stay in the report.
    match output::read(&out_dir.join("results.json")) {
        Ok(Some(saved)) => results.version_reuse = saved.version_reuse,
        Ok(None) => {}
        Err(e) => eprintln!("warning: the saved new-version figures are dropped: {e}"),
    }
    let targets = targets::judge(&results);
    output::write(&results, &targets, &out_dir, &report)?;
    eprintln!(
        "done in {:.0} s: {} and {}",
        results.duration_s,
        report.display(),
        out_dir.join("results.json").display()
    );
    print_targets(targets.iter());
    Ok(())
}

fn print_targets<'a>(targets: impl Iterator<Item = &'a Target>) {
    for t in targets {
        eprintln!("  {:<8} {}: {}", t.status.word(), t.name, t.measured);
    }
}
