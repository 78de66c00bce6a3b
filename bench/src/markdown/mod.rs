//! `BENCHMARKS.md`, rendered from a run's results and the targets judged from them: the
//! targets, the machine, the commands, what is measured, then a section per profile, the
//! many-small-files case, the new version with one changed region, the codegen timings and
//! the notes. Every section writes into one `String` through `fmt::Write`; the file is
//! written by `output`.

mod codegen;
mod loopback;
mod profiles;
mod small_files;
mod tls;
mod version_reuse;

use std::fmt::{self, Write as _};

use crate::defaults;
use crate::memory;
use crate::plan::Client;
use crate::results::{CaseResult, ClientRun, Results};
use crate::setup;
use crate::stats::Spread;
use crate::targets::{Status, Target};

/// The commands section's code block.
const COMMANDS: &str = "\
apt-get install time          # optional: peak RSS through wait4 and, with bash, CPU in ms (else /proc polling)
cargo xtask bench             # the full run: this report (= cargo run --release -p box-uploads-bench --)
cargo xtask bench --quick     # smoke test: small files, one run, output in target/bench/quick/
cargo xtask bench --profile wan --profile far   # only these profiles (loopback, wan, far, and
                              # over HTTPS loopback-tls, wan-tls, far-tls)
cargo xtask bench --plan      # the cases and an estimate of the duration; measures nothing
cargo xtask bench --small-files   # only the many-small-files case, merged into results.json
cargo xtask bench --version-reuse # only the new version with one changed region (wan, far), merged likewise
cargo xtask bench --help      # options (runs, sizes, sweeps, skipping a client)
cargo bench -p box-uploads-bench --bench hashing   # Criterion micro-benchmark: one-pass vs two-pass hashing
";

/// The report. `img` turns a file written beside `results.json` into a link from the report.
pub fn render(
    r: &Results,
    targets: &[Target],
    img: &dyn Fn(&str) -> String,
) -> Result<String, fmt::Error> {
    let mut md = String::new();
    intro(&mut md, r, img)?;
    targets_table(&mut md, targets)?;
    machine(&mut md, r)?;
    commands(&mut md, r)?;
    what_is_measured(&mut md, r)?;
    profiles::section(&mut md, r, img)?;
    if r.has_loopback() {
        loopback::sections(&mut md, r, img)?;
    }
    tls::section(&mut md, r)?;
    if let Some(s) = &r.small_files {
        small_files::section(&mut md, s, targets)?;
    }
    for v in &r.version_reuse {
        version_reuse::section(&mut md, v, targets)?;
    }
    codegen::section(&mut md, r)?;
    writeln!(md, "## Micro-benchmarks\n")?;
    writeln!(
        md,
        "Hashing each byte once for the whole file and its part versus twice has a Criterion \
         benchmark in `bench/benches/hashing.rs`: `cargo bench -p box-uploads-bench --bench \
         hashing` (reports in `target/criterion/`). It is not part of this run.\n"
    )?;
    notes(&mut md, r)?;
    Ok(md)
}

/// A median with its min–max, or a dash.
fn show(s: Option<Spread>, digits: usize) -> String {
    s.map_or_else(|| "–".into(), |s| s.show(digits))
}

/// A client's name in a table: its label, with its version when known.
fn client_label(label: &str, version: Option<&str>) -> String {
    match version {
        Some(v) => format!("{label} ({v})"),
        None => label.to_string(),
    }
}

/// A table row of a client that was not run: its name, why (kept to one cell) and `empty`
/// empty cells for the figures it has not.
fn skipped_row(md: &mut String, label: &str, why: &str, empty: usize) -> fmt::Result {
    writeln!(
        md,
        "| {label} | skipped: {} |{}",
        why.replace('|', "/").replace('\n', " "),
        " |".repeat(empty)
    )
}

/// A client's lines under a table: what was run, how it failed (`unfinished`: "did not
/// finish", as the case words it) and why it was not measured.
fn client_notes(md: &mut String, run: &ClientRun, unfinished: &str) -> fmt::Result {
    if run.skipped.is_none() {
        writeln!(md, "- {}: {}.", run.label, run.how)?;
    }
    if let Some(e) = &run.error {
        writeln!(md, "- {} {unfinished}: {}", run.label, e.replace('\n', " "))?;
    }
    if let Some(why) = &run.skipped {
        writeln!(
            md,
            "- {} was not measured: {}",
            run.label,
            why.replace('\n', " ")
        )?;
    }
    Ok(())
}

/// A figure with `digits` decimals, or a dash.
fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "–".into(), |v| format!("{v:.digits$}"))
}

/// A bound in MiB, or a dash.
fn mib(v: Option<f64>) -> String {
    v.map_or("–".into(), |b| format!("{b:.0}"))
}

/// The client's TCP connections / requests over HTTP/1.1 / over HTTP/2, from the emulator's
/// counters (a middle run), or a dash.
fn traffic_cell(c: &CaseResult) -> String {
    c.traffic.map_or("–".into(), |t| {
        format!("{} / {} / {}", t.connections, t.http1, t.http2)
    })
}

/// Parts in flight: one for the sequential SDKs, the pinned number, what the engine reported
/// at its adaptive default, or the client's default.
fn parts_cell(c: &CaseResult) -> String {
    match c.client {
        Client::Floor => "–".into(),
        Client::Boxsdk | Client::Node => "1 (sequential)".into(),
        _ => match (c.concurrency, c.parts_in_flight) {
            (Some(n), _) => format!("{n} (pinned)"),
            (None, Some(n)) if c.client.ours() => format!("auto ({n} reported)"),
            (None, Some(n)) => format!("{n} (default)"),
            (None, None) => "default".into(),
        },
    }
}

fn intro(md: &mut String, r: &Results, img: &dyn Fn(&str) -> String) -> fmt::Result {
    let m = &r.machine;
    writeln!(md, "# Benchmarks\n")?;
    writeln!(
        md,
        "Generated by `{}` on {} ({:.0} minutes). Do not edit by hand: run the command again \
         (the text comes from `bench/src/markdown/`). Figures: [`{}`]({}).\n",
        r.command,
        m.date,
        r.duration_s / 60.0,
        img("results.json"),
        img("results.json")
    )?;
    if r.quick {
        writeln!(
            md,
            "**This is a `--quick` smoke run (small files, one run each): its figures say \
             little.**\n"
        )?;
    }
    Ok(())
}

/// The verdict of each target in the report's words.
fn status_cell(status: Status) -> &'static str {
    match status {
        Status::Met => "**met**",
        Status::NotMet => "**not met**",
        Status::NotMeasured => "not measured",
    }
}

fn targets_table(md: &mut String, targets: &[Target]) -> fmt::Result {
    writeln!(md, "## Targets\n")?;
    writeln!(md, "| Target | Goal | Measured in this run | Status |")?;
    writeln!(md, "| --- | --- | --- | --- |")?;
    for t in targets {
        writeln!(
            md,
            "| {} | {} | {} | {} |",
            t.name,
            t.goal,
            t.measured,
            status_cell(t.status)
        )?;
    }
    writeln!(md)
}

/// The machine and the conditions of the run.
fn machine(md: &mut String, r: &Results) -> fmt::Result {
    let m = &r.machine;
    writeln!(md, "## Machine and run conditions\n")?;
    writeln!(md, "| | |\n| --- | --- |")?;
    writeln!(md, "| CPUs (`nproc`) | {} |", m.nproc)?;
    writeln!(md, "| CPU (`lscpu`) | {} |", m.cpu_model)?;
    writeln!(md, "| Memory | {} |", m.memory)?;
    writeln!(md, "| Kernel | {} |", m.kernel)?;
    writeln!(md, "| Rust | {} |", m.rustc)?;
    for (k, v) in &r.versions {
        writeln!(md, "| {k} | {v} |")?;
    }
    writeln!(md, "| Commit | {} |", m.git)?;
    writeln!(
        md,
        "| Load average (1, 5, 15 min) | {} at the start, {} at the end |",
        m.load_average_at_start, r.load_average_at_end
    )?;
    let loads: Vec<f64> = r
        .cases
        .iter()
        .flat_map(|c| c.runs.iter().map(|x| x.load_avg_1m))
        .filter(|l| l.is_finite())
        .collect();
    if let Some(l) = Spread::of(&loads) {
        writeln!(
            md,
            "| 1-minute load when a run started | median {:.1}, {:.1}–{:.1} |",
            l.median, l.min, l.max
        )?;
    }
    writeln!(md)?;
    writeln!(
        md,
        "The machine has {} CPUs. The emulator runs on the same machine as the client and \
         competes with it for CPU; a load average above the CPU count means other work (other \
         builds and test runs on this shared machine) was running too, which slows every \
         client and widens the spreads. Cases are run in rounds (run 1 of every case, then \
         run 2, ...) so such disturbance falls on all clients alike. The figures are as \
         measured.\n",
        m.nproc
    )?;
    Ok(())
}

fn commands(md: &mut String, r: &Results) -> fmt::Result {
    writeln!(md, "## Commands\n")?;
    writeln!(md, "```sh\n{COMMANDS}```\n")?;
    writeln!(md, "This report: `{}`.\n", r.command)?;
    writeln!(md, "The bench builds and runs, in this order:\n")?;
    writeln!(
        md,
        "- `cargo build --release -p box-emulator` and `cargo build --release -p box-upload-cli \
         --bin box-upload`;\n\
         - a virtual environment `target/bench/venv` with `pip install '{}'` (Box's official \
         Python SDK, module `box_sdk_gen`), and `npm install --prefix target/bench/node {}`;\n\
         - test files of pseudo-random bytes in `target/bench/files` (generated once, reused);\n\
         - for every run a fresh `target/release/box-emulator --listen 127.0.0.1:0 --data-dir \
         {} --token bench-token [--part-size N]`, one client process (measured), then the \
         emulator's counters are checked (one session committed, every byte) and the emulator \
         and its data are removed;\n\
         - for the many-small-files case (below), a second virtual environment \
         `target/bench/venv-boxsdk3` with `pip install '{}'` (Box's legacy Python SDK, module \
         `boxsdk`), which also runs the boxsdk 3 chunked uploader of the side-by-side \
         comparisons;\n\
         - on a shaped profile, the same emulator with `--net` (below);\n\
         - for the HTTPS profiles (`-tls`), once per run a throwaway CA and a server \
         certificate for `127.0.0.1` and `localhost` made with the `openssl` command (needed \
         for these profiles; without it they are not measured) in `target/bench/tls`, the \
         emulator started with `--tls-cert server.pem --tls-key server.key`, and every client \
         trusting the CA: the library's `upload-one` and the CLI with `--ca-cert ca.pem`, \
         boxsdk 3.x and boxsdk 10 (Python `requests`) through `REQUESTS_CA_BUNDLE`, \
         box-node-sdk through `NODE_EXTRA_CA_CERTS`;\n\
         - `cargo build -p xtask`, then timed runs of `cargo xtask codegen --check`; `cargo \
         build --release -p xtask`, then timed runs of it on Box's whole API.\n",
        setup::BOXSDK_REQUIREMENT,
        setup::NODE_REQUIREMENT,
        r.emulator_data_dir,
        setup::BOXSDK3_REQUIREMENT
    )?;
    Ok(())
}

fn what_is_measured(md: &mut String, r: &Results) -> fmt::Result {
    writeln!(md, "## What is measured\n")?;
    writeln!(
        md,
        "- **Clients**, each in its own process against the same emulator build and the same \
         files: *box-uploads (library)*: this bench's binary re-invoked as `upload-one`, one \
         `Uploader::upload` with `UploadConfig::default()` on a multi-threaded Tokio runtime \
         (sweeps change only `concurrency` and, where needed, `memory_cap`); *box-upload \
         CLI*: `box-upload put`; *boxsdk (Python)*: `client.chunked_uploads.upload_big_file(open(path, 'rb'), ...)` \
         with `BaseUrls` pointing at the emulator and a developer token; *boxsdk 3 chunked \
         (Python)*: Box's previous SDK, `client.folder('0').get_chunked_uploader(path, \
         name).start()` with `boxsdk.config.API.BASE_API_URL` and `UPLOAD_URL` pointing at the \
         emulator, at its default `CHUNK_UPLOAD_THREADS` (5 parts at once); *box-node-sdk*: \
         `client.chunkedUploads.uploadBigFile(fs.createReadStream(path), ...)` like boxsdk 10. \
         boxsdk 10 and box-node-sdk upload one part at a time; the engine decides how many \
         parts are in flight unless `concurrency` pins it (\"conc N\" in the tables).\n\
         - **Throughput** = file size / upload time, where the upload time is measured inside \
         the client around the upload call (session creation to verified commit; it excludes \
         interpreter start-up and SDK import, which favours the SDKs), and for the CLI the \
         process's wall time. MiB/s = 2^20 bytes per second.\n\
         - **CPU** = user + system time of the client process only (start-up included), by \
         {}. Per GiB = divided by the file size in GiB. Tables show user + system: the kernel \
         splits a process's runtime between the two by clock-tick samples, but their sum is \
         the exact runtime, read to the precision above.\n\
         - **Peak RSS** = the client process's maximum resident set size (by the method above).\n\
         - **Conns / h1 / h2 requests** = the emulator's counters after the run \
         (`connections_opened`, `http1_requests`, `http2_requests`), the bench's own reads of \
         them taken out: the TCP connections the client opened and its requests over HTTP/1.1 \
         and HTTP/2 (HTTP/2 only over HTTPS, when the client offers `h2`).\n\
         - **Floor** = this bench's `hash-floor`: read the file in order and hash every byte \
         twice with the `sha1` crate the engine uses (whole-file and part SHA-1; SHA-NI when \
         the CPU has it), single-threaded, into a part-sized buffer of the engine's kind \
         (advised for huge pages), 1 MiB at a time, each piece hashed while it is in the \
         cache. It is the least CPU a correct chunked upload can spend: CPU of the engine is \
         reported as a multiple of it.\n\
         - **RSS bound** = {}, with the parts in flight the engine reported (the most over \
         the runs; else the pinned concurrency, else the engine's adaptive ceiling, {}), never \
         more than the file's parts. \
         The concurrency and part-size sweeps raise `memory_cap` to (concurrency + 1) x part \
         size where the default would lower the concurrency asked for.\n\
         - **Part size** is the emulator's, as on Box: {}; the sweeps force it with \
         `--part-size`.\n\
         - The emulator hashes and stores every part and concatenates them on commit: that \
         server time is inside every client's upload time alike, and the emulator's CPU time \
         (\"server CPU\") is taken from the same machine's CPUs. Its data directory was `{}`: \
         by default a RAM-backed directory (`/dev/shm`) when there is room, because on this \
         machine's virtual disk the emulator's writes roughly halved every client's \
         throughput and the benchmark would have measured the disk (`--emulator-data DIR` \
         chooses another).\n\
         - Each case ran {} times ({} for files over 1 GiB; the floor two more; on shaped \
         profiles the sequential SDKs fewer, see below); tables give the median and, in \
         parentheses, the min–max; plots show the median with min–max whiskers.\n",
        r.measurement,
        memory::describe(),
        defaults::engine_max_concurrency(),
        defaults::describe_emulator_part_size(),
        r.emulator_data_dir,
        r.runs,
        r.big_runs
    )?;
    Ok(())
}

fn notes(md: &mut String, r: &Results) -> fmt::Result {
    let failures: Vec<String> =
        r.cases
            .iter()
            .flat_map(|c| {
                c.runs.iter().filter(|x| !x.ok).map(move |x| {
                    format!("{}: {}", c.describe(), x.error.clone().unwrap_or_default())
                })
            })
            .collect();
    if !r.notes.is_empty() || !failures.is_empty() {
        writeln!(md, "## Notes\n")?;
        for n in &r.notes {
            writeln!(md, "- {n}")?;
        }
        for f in failures {
            writeln!(md, "- Failed run: {}", f.replace('\n', " "))?;
        }
        writeln!(md)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
