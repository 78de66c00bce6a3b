//! The network profiles: their table, each shaped profile's side-by-side table and plots, and
//! the emulator's CPU cost of shaping.

use std::fmt::{self, Write as _};

use super::{mib, parts_cell, show, traffic_cell};
use crate::files::human_size;
use crate::plan::Client;
use crate::profile;
use crate::results::{best_peer, engine_default, CaseResult, ProfileRun, Results};

/// The profiles, each shaped profile's side-by-side table and plots, and the emulator's CPU
/// cost of shaping.
pub fn section(md: &mut String, r: &Results, img: &dyn Fn(&str) -> String) -> fmt::Result {
    let profiles = r.profile_runs();
    writeln!(md, "## Network profiles\n")?;
    writeln!(
        md,
        "The emulator shapes the network itself (`--net`: a round trip before every request, \
         token buckets on the bodies per connection and for the whole link; no root, no `tc`). \
         `link` is the profile's physical limit: the targets are measured against it and the \
         throughput plots draw it. The file of each shaped profile is chosen so that the \
         slowest client (a sequential SDK, at `conn`) takes about a minute. Each profile is run \
         over plain HTTP and over HTTPS (its `-tls` twin: the same shaping and file; the \
         shaper sees plaintext bodies, so TLS records and handshakes are not shaped).\n"
    )?;
    writeln!(
        md,
        "| Profile | Protocol | Emulator `--net` | `link` MiB/s | File | Why this size | Runs (sequential SDKs) |"
    )?;
    writeln!(md, "| --- | --- | --- | ---: | ---: | --- | ---: |")?;
    for p in &profiles {
        writeln!(
            md,
            "| `{}` | {} | {} | {} | {} | {} | {} ({}) |",
            p.name,
            if p.tls { "HTTPS" } else { "HTTP" },
            p.net.as_deref().map_or("none".into(), |n| format!("`{n}`")),
            p.link_mib_s.map_or("–".into(), |l| format!("{l:.0}")),
            human_size(p.size),
            p.size_reason,
            p.runs,
            p.slow_runs
        )?;
    }
    writeln!(md)?;
    if profiles
        .iter()
        .any(|p| p.link_mib_s.is_some() && p.slow_runs < p.runs)
    {
        writeln!(
            md,
            "boxsdk 10 and box-node-sdk run fewer times on shaped profiles: they move one part \
             at a time, so their time is the profile's `conn` rate and barely varies, and they \
             are most of the run's duration.\n"
        )?;
    }
    for p in profiles.iter().filter(|p| p.link_mib_s.is_some()) {
        shaped(md, r, p, img)?;
    }
    shaping_cost(md, r)
}

/// One shaped profile: every client on its file.
fn shaped(
    md: &mut String,
    r: &Results,
    p: &ProfileRun,
    img: &dyn Fn(&str) -> String,
) -> fmt::Result {
    let link = p.link_mib_s.unwrap_or(f64::NAN);
    let cases = r.group(&p.name);
    writeln!(
        md,
        "## `{}`: {} over `{}`{}\n",
        p.name,
        human_size(p.size),
        p.net.as_deref().unwrap_or(""),
        if p.tls { ", HTTPS" } else { "" }
    )?;
    let peer = best_peer(&cases).map(|(_, t)| t);
    writeln!(
        md,
        "| Client | Parts at once | Conns / h1 / h2 requests | Throughput MiB/s | Share of `link` | vs best peer | Upload s | CPU s/GiB | Peak RSS MiB | RSS bound MiB | Part size | Emulator CPU s/GiB | Runs ok |"
    )?;
    writeln!(
        md,
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    )?;
    for c in &cases {
        writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {}/{} |",
            c.label(),
            parts_cell(c),
            traffic_cell(c),
            show(c.throughput_mib_s, 1),
            c.throughput_mib_s
                .map_or("–".into(), |t| format!("{:.0}%", 100.0 * t.median / link)),
            match (c.throughput_mib_s, peer) {
                (Some(t), Some(b)) => format!("{:.2}x", t.median / b),
                _ => "–".into(),
            },
            show(c.upload_s, 1),
            show(c.cpu_s_per_gib, 2),
            show(c.max_rss_mib, 0),
            mib(c.rss_bound_mib),
            human_size(c.part_size),
            show(c.server_cpu_s_per_gib, 2),
            c.runs.len() - c.failures,
            c.runs.len()
        )?;
    }
    writeln!(md)?;
    if let (Some(auto), Some((pinned, pinned_tp))) = (
        engine_default(&cases).and_then(|c| c.throughput_mib_s),
        cases
            .iter()
            .find(|c| c.client == Client::Engine && c.concurrency.is_some())
            .and_then(|c| c.throughput_mib_s.map(|t| (c, t))),
    ) {
        writeln!(
            md,
            "What adaptivity buys: the engine's default moved {:.1} MiB/s, pinned at {} parts in \
             flight {:.1} MiB/s ({:.2}x).\n",
            auto.median,
            pinned.concurrency.unwrap_or(0),
            pinned_tp.median,
            auto.median / pinned_tp.median
        )?;
    }
    writeln!(
        md,
        "![throughput]({})\n![rss]({})\n",
        img(&format!("{}-throughput.svg", p.name)),
        img(&format!("{}-rss.svg", p.name))
    )?;
    Ok(())
}

/// The emulator's CPU per GiB during the engine's default uploads, unshaped and shaped: the
/// cost of `--net` (the emulator's other work per GiB, hashing, storing and committing, is the
/// same under every profile).
fn shaping_cost(md: &mut String, r: &Results) -> fmt::Result {
    let mut rows: Vec<(String, &CaseResult)> = Vec::new();
    for p in r.profile_runs() {
        let cases = if p.link_mib_s.is_some() {
            r.group(&p.name)
        } else {
            r.cases
                .iter()
                .filter(|c| c.profile == p.name && !c.part_size_forced)
                .collect()
        };
        for c in cases {
            if c.client == Client::Engine
                && c.concurrency.is_none()
                && c.server_cpu_s_per_gib.is_some()
                && !rows.iter().any(|(n, o)| *n == p.name && o.size == c.size)
            {
                rows.push((p.name.clone(), c));
            }
        }
    }
    if rows.is_empty() {
        return Ok(());
    }
    writeln!(md, "## The emulator's CPU cost of shaping\n")?;
    writeln!(
        md,
        "CPU seconds (user + system, from `/proc/PID/stat` of the emulator process) per GiB \
         the emulator received during the engine's default uploads, each on a fresh emulator. \
         The emulator's other work per GiB (hashing and storing parts, the commit) is the same \
         with and without `--net`, so the difference between a shaped row and the loopback row \
         of the same size and protocol (`loopback` for plain HTTP, `loopback-tls` for HTTPS) is \
         what shaping costs.\n"
    )?;
    writeln!(
        md,
        "| Profile | File | Emulator CPU s/GiB | vs loopback, same file and protocol |\n| --- | ---: | ---: | ---: |"
    )?;
    for (name, c) in &rows {
        // Against loopback over the same protocol.
        let unshaped = if profile::is_tls(name) {
            profile::LOOPBACK_TLS
        } else {
            profile::LOOPBACK
        };
        let base = rows
            .iter()
            .find(|(n, o)| n == unshaped && o.size == c.size)
            .and_then(|(_, o)| o.server_cpu_s_per_gib);
        let vs = match (c.server_cpu_s_per_gib, base) {
            (Some(a), Some(b)) if name != unshaped => format!(
                "{:+.2} s/GiB ({:.2}x)",
                a.median - b.median,
                a.median / b.median
            ),
            _ => "–".into(),
        };
        writeln!(
            md,
            "| `{name}` | {} | {} | {vs} |",
            human_size(c.size),
            show(c.server_cpu_s_per_gib, 2)
        )?;
    }
    writeln!(md)?;
    Ok(())
}
