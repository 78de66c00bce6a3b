//! The outputs: `results.json`, the SVG plots and `BENCHMARKS.md`, with each target of the
//! issue marked met or not met from the figures of this run.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::charts::{self, Bar, LineChart, Series};
use crate::files::{human_size, GIB, MIB};
use crate::memory;
use crate::run::{CaseResult, Client, ProfileRun, Results};
use crate::small::{SmallClient, SmallFiles};
use crate::stats::Spread;

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Met,
    NotMet,
    NotMeasured,
}

impl Status {
    pub fn word(self) -> &'static str {
        match self {
            Status::Met => "met",
            Status::NotMet => "NOT met",
            Status::NotMeasured => "not measured",
        }
    }

    fn of(ok: bool) -> Status {
        if ok {
            Status::Met
        } else {
            Status::NotMet
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Target {
    pub name: String,
    pub goal: String,
    pub measured: String,
    pub status: Status,
}

/// At least this multiple of the best peer's throughput (every profile).
pub const PEER_RATIO: f64 = 1.5;
/// At least this share of the profile's `link` (shaped profiles).
pub const LINK_SHARE: f64 = 0.85;
/// Client CPU at most this multiple of the two-pass SHA-1 floor (loopback).
pub const FLOOR_RATIO: f64 = 1.2;

/// The fastest peer of a group (median throughput), if any peer finished.
fn best_peer<'a>(cases: &[&'a CaseResult]) -> Option<(&'a CaseResult, f64)> {
    cases
        .iter()
        .filter(|c| c.client.peer())
        .filter_map(|c| c.throughput_mib_s.map(|t| (*c, t.median)))
        .max_by(|a, b| a.1.total_cmp(&b.1))
}

/// The engine as a library at its default settings (not a pinned concurrency).
fn engine_default<'a>(cases: &[&'a CaseResult]) -> Option<&'a CaseResult> {
    cases
        .iter()
        .copied()
        .find(|c| c.client == Client::Engine && c.concurrency.is_none())
}

fn not_measured(name: String, goal: String, why: &str) -> Target {
    Target {
        name,
        goal,
        measured: format!("not measured ({why})"),
        status: Status::NotMeasured,
    }
}

/// The issue's targets, judged from this run's figures.
pub fn targets(results: &Results) -> Vec<Target> {
    let size = human_size(results.headline_size);
    let mut out = Vec::new();

    // Shaped profiles: a share of the link, and a multiple of the best peer.
    for p in results.profile_runs() {
        let Some(link) = p.link_mib_s else { continue };
        let cases = results.group(&p.name);
        let engine = engine_default(&cases);
        let name = format!(
            "`{}`, {}: engine at default settings vs `link`",
            p.name,
            human_size(p.size)
        );
        let goal = format!("at least {:.0}% of {link:.0} MiB/s", LINK_SHARE * 100.0);
        out.push(
            match engine.and_then(|e| e.throughput_mib_s.map(|t| (e, t))) {
                Some((e, t)) => {
                    let share = t.median / link;
                    let mut measured = format!(
                        "{:.0}% of link: {:.1} MiB/s (median of {})",
                        share * 100.0,
                        t.median,
                        t.n
                    );
                    if let Some(c) = cases.iter().find(|c| c.client == Client::Cli) {
                        if let Some(ct) = c.throughput_mib_s {
                            let _ = write!(
                                measured,
                                "; CLI {:.1} MiB/s = {:.0}%",
                                ct.median,
                                100.0 * ct.median / link
                            );
                        }
                    }
                    let met = share >= LINK_SHARE;
                    if !met {
                        let _ = write!(measured, ". Why: {}", shaped_shortfall(results, &p, e));
                    }
                    Target {
                        name,
                        goal,
                        measured,
                        status: Status::of(met),
                    }
                }
                None => not_measured(name, goal, "the engine's runs failed or did not run"),
            },
        );
        let name = format!(
            "`{}`, {}: engine at default settings vs the best peer",
            p.name,
            human_size(p.size)
        );
        let goal = format!("at least {PEER_RATIO}x");
        out.push(
            match (engine.and_then(|e| e.throughput_mib_s), best_peer(&cases)) {
                (Some(e), Some((peer, b))) => {
                    let ratio = e.median / b;
                    let mut measured = format!(
                        "{ratio:.2}x: {:.1} MiB/s vs {} {b:.1} MiB/s",
                        e.median,
                        peer.client.label()
                    );
                    let met = ratio >= PEER_RATIO;
                    if !met {
                        let _ = write!(
                            measured,
                            ". Why: {PEER_RATIO}x would be {:.1} MiB/s = {:.0}% of `link`",
                            PEER_RATIO * b,
                            100.0 * PEER_RATIO * b / link
                        );
                        if PEER_RATIO * b > link {
                            measured.push_str(", beyond the physical limit: no client can");
                        } else if let Some(e) = engine {
                            let _ = write!(measured, "; {}", shaped_shortfall(results, &p, e));
                        }
                    }
                    Target {
                        name,
                        goal,
                        measured,
                        status: Status::of(met),
                    }
                }
                _ => not_measured(name, goal, "the engine or every peer failed or did not run"),
            },
        );
    }

    if results.has_loopback() {
        // Loopback, the headline file: a multiple of the best peer.
        let head = results.group("headline");
        let name = format!("`loopback`, {size}: engine at default settings vs the best peer");
        let goal = format!("at least {PEER_RATIO}x");
        out.push(
            match (
                engine_default(&head).and_then(|e| e.throughput_mib_s),
                best_peer(&head),
            ) {
                (Some(e), Some((peer, b))) => {
                    let ratio = e.median / b;
                    let mut measured = format!(
                        "{ratio:.2}x: {:.0} MiB/s vs {} {b:.0} MiB/s (medians)",
                        e.median,
                        peer.client.label()
                    );
                    if let Some(c) = head
                        .iter()
                        .find(|c| c.client == Client::Cli)
                        .and_then(|c| c.throughput_mib_s)
                    {
                        let _ = write!(
                            measured,
                            "; CLI {:.0} MiB/s = {:.2}x",
                            c.median,
                            c.median / b
                        );
                    }
                    let met = ratio >= PEER_RATIO;
                    if !met {
                        if let Some(n) = ceiling_note(results) {
                            let _ = write!(measured, ". Why: {n}");
                        }
                    }
                    Target {
                        name,
                        goal,
                        measured,
                        status: Status::of(met),
                    }
                }
                _ => not_measured(name, goal, "the engine or every peer failed"),
            },
        );

        // Loopback: client CPU per GiB against the two-pass SHA-1 floor.
        let floor = results
            .floor(results.headline_size)
            .and_then(|c| c.cpu_s_per_gib);
        let engine_cpu = engine_default(&head).and_then(|c| c.cpu_s_per_gib);
        let cli_cpu = head
            .iter()
            .find(|c| c.client == Client::Cli)
            .and_then(|c| c.cpu_s_per_gib);
        let name = format!("`loopback`, {size}: client CPU per GiB vs two-pass SHA-1 floor");
        let goal = format!("at most {FLOOR_RATIO}x");
        out.push(match (engine_cpu, floor) {
            (Some(e), Some(f)) => {
                let ratio = e.median / f.median;
                let mut measured = format!(
                    "{ratio:.2}x: {:.2} s/GiB vs floor {:.2} s/GiB (medians)",
                    e.median, f.median
                );
                if let Some(c) = cli_cpu {
                    let _ = write!(
                        measured,
                        "; CLI {:.2} s/GiB = {:.2}x",
                        c.median,
                        c.median / f.median
                    );
                }
                // The other sizes of the sweep: fixed start-up costs weigh more on small files.
                let mut others = Vec::new();
                for c in results.group("size") {
                    if c.client != Client::Engine || c.size == results.headline_size {
                        continue;
                    }
                    if let (Some(e), Some(f)) = (
                        c.cpu_s_per_gib,
                        results.floor(c.size).and_then(|f| f.cpu_s_per_gib),
                    ) {
                        let r = e.median / f.median;
                        let mark = if r > FLOOR_RATIO { " (over)" } else { "" };
                        others.push(format!("{} {r:.2}x{mark}", human_size(c.size)));
                    }
                }
                if !others.is_empty() {
                    let _ = write!(measured, "; engine at other sizes: {}", others.join(", "));
                }
                let met = ratio <= FLOOR_RATIO;
                if !met {
                    let _ = write!(
                        measured,
                        ". Why: {:.2} s/GiB beyond hashing (reading, HTTP framing, copies into \
                         the socket, the runtime), {:.2} s/GiB more than the target allows",
                        e.median - f.median,
                        e.median - FLOOR_RATIO * f.median
                    );
                }
                Target {
                    name,
                    goal,
                    measured,
                    status: Status::of(met),
                }
            }
            _ => not_measured(name, goal, "the engine or the floor failed"),
        });
    }

    // Peak RSS within the engine's memory bound, every engine and CLI case of every profile.
    let bounded: Vec<&CaseResult> = results
        .cases
        .iter()
        .filter(|c| c.client.ours() && c.max_rss_mib.is_some() && c.rss_bound_mib.is_some())
        .collect();
    if bounded.is_empty() {
        out.push(Target {
            name: "Client peak RSS".into(),
            goal: format!("at most {}", memory::describe()),
            measured: "not measured".into(),
            status: Status::NotMeasured,
        });
    } else {
        let over: Vec<&&CaseResult> = bounded
            .iter()
            .filter(|c| worst_rss(c) > c.rss_bound_mib.unwrap_or(0.0))
            .collect();
        let worst = bounded
            .iter()
            .map(|c| worst_rss(c) / c.rss_bound_mib.unwrap_or(1.0))
            .fold(0.0f64, f64::max);
        let mut measured = String::new();
        let mut shown = Vec::new();
        let picks = [GIB, 4 * GIB, results.headline_size]
            .into_iter()
            .map(|size| (crate::profile::LOOPBACK.to_string(), size))
            .chain(results.profile_runs().into_iter().map(|p| (p.name, p.size)));
        for (profile, size) in picks {
            if shown.contains(&(profile.clone(), size)) {
                continue;
            }
            if let Some(c) = bounded.iter().find(|c| {
                c.profile == profile
                    && c.client == Client::Engine
                    && c.size == size
                    && c.concurrency.is_none()
                    && !c.part_size_forced
            }) {
                let _ = write!(
                    measured,
                    "{profile} {}: {:.0} MiB (bound {:.0} MiB); ",
                    human_size(size),
                    worst_rss(c),
                    c.rss_bound_mib.unwrap_or(0.0)
                );
                shown.push((profile, size));
            }
        }
        let _ = write!(
            measured,
            "worst of {} engine/CLI cases (max over runs): {:.0}% of its bound",
            bounded.len(),
            worst * 100.0
        );
        if !over.is_empty() {
            let names: Vec<String> = over.iter().map(|c| describe(c)).collect();
            let _ = write!(measured, "; over the bound: {}", names.join(", "));
        }
        let sizes_present = !results.has_loopback()
            || [GIB, 4 * GIB]
                .iter()
                .all(|s| bounded.iter().any(|c| c.size == *s));
        out.push(Target {
            name: "Client peak RSS, every engine and CLI case of every profile (incl. loopback 1 GiB and 4 GiB)".into(),
            goal: format!("at most {}", memory::describe()),
            measured,
            status: if over.is_empty() {
                if sizes_present || results.quick {
                    Status::Met
                } else {
                    Status::NotMeasured
                }
            } else {
                Status::NotMet
            },
        });
    }

    // codegen --check under 1 s.
    let codegen = results.codegen_check.as_ref();
    out.push(match codegen.and_then(|c| c.cargo_xtask_s) {
        Some(t) => {
            let binary = codegen
                .and_then(|c| c.binary_s)
                .map(|b| format!("; the xtask binary alone {:.3} s", b.median))
                .unwrap_or_default();
            Target {
                name: "`cargo xtask codegen --check`, already-built tree".into(),
                goal: "under 1 s".into(),
                measured: format!(
                    "{:.3} s median of {} (max {:.3} s){binary}",
                    t.median, t.n, t.max
                ),
                status: Status::of(t.median < 1.0),
            }
        }
        None => Target {
            name: "`cargo xtask codegen --check`, already-built tree".into(),
            goal: "under 1 s".into(),
            measured: codegen
                .and_then(|c| c.note.clone())
                .unwrap_or_else(|| "not measured".into()),
            status: Status::NotMeasured,
        },
    });

    // Many small files under the scaled-down limits (only when measured).
    if let Some(t) = small_files_target(results) {
        out.push(t);
    }
    out
}

/// The library's row of the many-small-files case.
fn small_engine(s: &SmallFiles) -> Option<&SmallClient> {
    s.clients.iter().find(|c| c.key == "engine")
}

fn small_files_target(results: &Results) -> Option<Target> {
    let s = results.small_files.as_ref()?;
    let name = format!(
        "Many small files ({} x {} KiB) under rate-limit-uploads={}, rate-limit={}, library `upload_tree`",
        s.files,
        s.file_size >> 10,
        s.upload_limit,
        s.request_limit
    );
    let goal = format!(
        "every file intact, at most {:.0}% of requests answered 429; files/s against the {:.0} files/s ceiling",
        s.max_429_fraction * 100.0,
        s.ceiling_files_per_s
    );
    let Some(e) = small_engine(s).filter(|e| e.skipped.is_none()) else {
        return Some(Target {
            name,
            goal,
            measured: "not measured".into(),
            status: Status::NotMeasured,
        });
    };
    let (Some(fps), Some(frac)) = (e.files_per_s, e.fraction_429()) else {
        return Some(Target {
            name,
            goal,
            measured: format!("failed: {}", e.error.as_deref().unwrap_or("no figures")),
            status: Status::NotMet,
        });
    };
    let intact = e.all_intact(s.files);
    let mut measured = format!(
        "{fps:.1} files/s = {:.0}% of the ceiling; {} 429s of {} requests ({:.2}%); {}/{} files intact",
        100.0 * fps / s.ceiling_files_per_s,
        e.rate_limited().unwrap_or(0),
        e.requests.unwrap_or(0),
        100.0 * frac,
        e.files_intact.unwrap_or(0),
        s.files
    );
    for other in s.clients.iter().filter(|c| c.key != "engine") {
        if let (Some(f), Some(p)) = (other.files_per_s, other.fraction_429()) {
            let _ = write!(
                measured,
                "; {} {f:.1} files/s, {:.2}% 429s",
                other.label,
                100.0 * p
            );
        }
    }
    Some(Target {
        name,
        goal,
        measured,
        status: Status::of(intact && frac <= s.max_429_fraction),
    })
}

fn worst_rss(c: &CaseResult) -> f64 {
    c.max_rss_mib.map_or(0.0, |s| s.max)
}

fn describe(c: &CaseResult) -> String {
    let mut s = format!(
        "{} {} part {}",
        c.client.label(),
        human_size(c.size),
        human_size(c.part_size)
    );
    if let Some(n) = c.concurrency {
        let _ = write!(s, " conc {n}");
    }
    s
}

fn relative(from_dir: &Path, to: &Path) -> String {
    to.strip_prefix(from_dir)
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| to.to_path_buf())
        .to_string_lossy()
        .into_owned()
}

fn show(s: Option<Spread>, digits: usize) -> String {
    s.map_or_else(|| "–".into(), |s| s.show(digits))
}

fn size_ticks(sizes: &[u64]) -> Vec<(f64, String)> {
    sizes
        .iter()
        .map(|&s| (s as f64 / MIB as f64, human_size(s)))
        .collect()
}

/// One colour per client in every plot.
fn client_color(c: Client) -> &'static str {
    match c {
        Client::Engine => "#1f77b4",
        Client::Cli => "#17becf",
        Client::Boxsdk => "#d62728",
        Client::Boxsdk3 => "#9467bd",
        Client::Node => "#ff7f0e",
        Client::Floor => "#7f7f7f",
    }
}

fn client_order() -> [Client; 5] {
    crate::run::CLIENTS
}

/// Writes results.json and the SVGs into `out_dir`, and the Markdown report.
pub fn write(results: &Results, out_dir: &Path, report: &Path) -> Result<(), String> {
    std::fs::create_dir_all(out_dir)
        .map_err(|e| format!("cannot create {}: {e}", out_dir.display()))?;
    let json = serde_json::to_string_pretty(results).map_err(|e| e.to_string())?;
    let save = |name: &str, text: &str| -> Result<PathBuf, String> {
        let path = out_dir.join(name);
        std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        Ok(path)
    };
    save("results.json", &format!("{json}\n"))?;
    let report_dir = report
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let img = |name: &str| relative(&report_dir, &out_dir.join(name));

    for p in results.profile_runs() {
        if p.link_mib_s.is_some() {
            profile_charts(results, &p, &save)?;
        }
    }
    if results.has_loopback() {
        loopback_charts(results, &save)?;
    }
    let md = markdown(results, &img);
    std::fs::write(report, md).map_err(|e| format!("cannot write {}: {e}", report.display()))?;
    Ok(())
}

/// The plots of a shaped profile: throughput with the link's limit and the target's share of
/// it, and peak RSS with the engine's bound.
fn profile_charts(
    results: &Results,
    p: &ProfileRun,
    save: &dyn Fn(&str, &str) -> Result<PathBuf, String>,
) -> Result<(), String> {
    let cases = results.group(&p.name);
    let bars = |f: fn(&CaseResult) -> Option<Spread>| -> Vec<Bar> {
        cases
            .iter()
            .filter_map(|c| {
                f(c).map(|v| Bar {
                    label: case_label(c),
                    value: v,
                    color: Some(if c.client == Client::Engine && c.concurrency.is_some() {
                        "#aec7e8"
                    } else {
                        client_color(c.client)
                    }),
                })
            })
            .collect()
    };
    let link = p.link_mib_s.unwrap_or(0.0);
    let link_label = format!("link {link:.0} MiB/s");
    let share_label = format!("{:.0}% of link (target)", LINK_SHARE * 100.0);
    save(
        &format!("{}-throughput.svg", p.name),
        &charts::bar_chart(
            &format!(
                "`{}` ({}): throughput, {} file",
                p.name,
                p.net.as_deref().unwrap_or("unshaped"),
                human_size(p.size)
            ),
            "MiB/s",
            &bars(|c| c.throughput_mib_s),
            &[(link, &link_label), (LINK_SHARE * link, &share_label)],
        ),
    )?;
    let bound = engine_default(&cases).and_then(|c| c.rss_bound_mib);
    save(
        &format!("{}-rss.svg", p.name),
        &charts::bar_chart(
            &format!("`{}`: client peak RSS, {} file", p.name, human_size(p.size)),
            "MiB",
            &bars(|c| c.max_rss_mib),
            bound.map(|b| (b, "engine bound")).as_slice(),
        ),
    )?;
    Ok(())
}

/// A case's name in tables and plots: the client, and a pinned concurrency.
fn case_label(c: &CaseResult) -> String {
    match (c.client, c.concurrency) {
        (Client::Engine | Client::Cli, Some(n)) => format!("{} conc {n}", c.client.label()),
        _ => c.client.label().to_string(),
    }
}

/// The loopback plots: the side-by-side file, the size sweep and the engine's sweeps.
fn loopback_charts(
    results: &Results,
    save: &dyn Fn(&str, &str) -> Result<PathBuf, String>,
) -> Result<(), String> {
    let hsize = human_size(results.headline_size);
    let head: Vec<&CaseResult> = results.group("headline");
    let uploads: Vec<&&CaseResult> = head.iter().filter(|c| c.client != Client::Floor).collect();
    let bars = |f: fn(&CaseResult) -> Option<Spread>| -> Vec<Bar> {
        uploads
            .iter()
            .filter_map(|c| {
                f(c).map(|v| Bar {
                    label: c.client.label().to_string(),
                    value: v,
                    color: Some(client_color(c.client)),
                })
            })
            .collect()
    };
    let floor = results.floor(results.headline_size);
    let mut cpu_bars = bars(|c| c.cpu_s_per_gib);
    if let Some(f) = floor.and_then(|f| f.cpu_s_per_gib) {
        cpu_bars.insert(
            0,
            Bar {
                label: "SHA-1 x2 floor".into(),
                value: f,
                color: Some("#7f7f7f"),
            },
        );
    }
    let floor_ref = floor
        .and_then(|f| f.cpu_s_per_gib)
        .map(|f| (FLOOR_RATIO * f.median, "1.2x floor (target)"));
    save(
        "headline-throughput.svg",
        &charts::bar_chart(
            &format!("Upload throughput, {hsize} file (median, min–max)"),
            "MiB/s",
            &bars(|c| c.throughput_mib_s),
            &[],
        ),
    )?;
    save(
        "headline-cpu.svg",
        &charts::bar_chart(
            &format!("Client CPU (user + sys) per GiB, {hsize} file"),
            "CPU seconds per GiB",
            &cpu_bars,
            floor_ref.as_slice(),
        ),
    )?;
    let engine_bound = engine_default(&head).and_then(|c| c.rss_bound_mib);
    save(
        "headline-rss.svg",
        &charts::bar_chart(
            &format!("Client peak RSS, {hsize} file"),
            "MiB",
            &bars(|c| c.max_rss_mib),
            engine_bound.map(|b| (b, "engine bound")).as_slice(),
        ),
    )?;

    let size_cases = results.group("size");
    let mut sizes: Vec<u64> = size_cases.iter().map(|c| c.size).collect();
    sizes.sort_unstable();
    sizes.dedup();
    let series_by_client = |f: fn(&CaseResult) -> Option<Spread>| -> Vec<Series> {
        client_order()
            .iter()
            .filter_map(|&client| {
                let points: Vec<(f64, Spread)> = size_cases
                    .iter()
                    .filter(|c| c.client == client)
                    .filter_map(|c| f(c).map(|v| (c.size as f64 / MIB as f64, v)))
                    .collect();
                (!points.is_empty()).then(|| Series {
                    name: client.label().to_string(),
                    points,
                    dashed: false,
                    color: Some(client_color(client)),
                })
            })
            .collect()
    };
    save(
        "size-throughput.svg",
        &charts::line_chart(&LineChart {
            title: "Throughput vs file size (default part size and concurrency)".into(),
            x_label: "file size".into(),
            y_label: "MiB/s".into(),
            x_ticks: size_ticks(&sizes),
            log2_x: true,
            series: series_by_client(|c| c.throughput_mib_s),
        }),
    )?;
    let mut rss_series = series_by_client(|c| c.max_rss_mib);
    let bound_points: Vec<(f64, Spread)> = size_cases
        .iter()
        .filter(|c| c.client == Client::Engine)
        .filter_map(|c| {
            c.rss_bound_mib
                .and_then(|b| Spread::of(&[b]))
                .map(|b| (c.size as f64 / MIB as f64, b))
        })
        .collect();
    if !bound_points.is_empty() {
        rss_series.push(Series {
            name: "engine bound".into(),
            points: bound_points,
            dashed: true,
            color: Some("#555555"),
        });
    }
    save(
        "size-rss.svg",
        &charts::line_chart(&LineChart {
            title: "Client peak RSS vs file size".into(),
            x_label: "file size".into(),
            y_label: "MiB".into(),
            x_ticks: size_ticks(&sizes),
            log2_x: true,
            series: rss_series,
        }),
    )?;

    let sweep = |group: &str,
                 x: fn(&CaseResult) -> f64,
                 label: fn(f64) -> String,
                 title_t: String,
                 title_r: String,
                 x_label: &str,
                 file_t: &str,
                 file_r: &str|
     -> Result<(), String> {
        let cases = results.group(group);
        let mut xs: Vec<f64> = cases.iter().map(|c| x(c)).collect();
        xs.sort_by(f64::total_cmp);
        xs.dedup();
        let ticks: Vec<(f64, String)> = xs.iter().map(|&v| (v, label(v))).collect();
        let pts = |f: fn(&CaseResult) -> Option<Spread>| -> Vec<(f64, Spread)> {
            cases
                .iter()
                .filter_map(|c| f(c).map(|v| (x(c), v)))
                .collect()
        };
        save(
            file_t,
            &charts::line_chart(&LineChart {
                title: title_t,
                x_label: x_label.into(),
                y_label: "MiB/s".into(),
                x_ticks: ticks.clone(),
                log2_x: true,
                series: vec![Series {
                    name: Client::Engine.label().into(),
                    points: pts(|c| c.throughput_mib_s),
                    dashed: false,
                    color: Some(client_color(Client::Engine)),
                }],
            }),
        )?;
        save(
            file_r,
            &charts::line_chart(&LineChart {
                title: title_r,
                x_label: x_label.into(),
                y_label: "MiB".into(),
                x_ticks: ticks,
                log2_x: true,
                series: vec![
                    Series {
                        name: "engine peak RSS".into(),
                        points: pts(|c| c.max_rss_mib),
                        dashed: false,
                        color: Some(client_color(Client::Engine)),
                    },
                    Series {
                        name: "bound".into(),
                        points: pts(|c| c.rss_bound_mib.and_then(|b| Spread::of(&[b]))),
                        dashed: true,
                        color: Some("#555555"),
                    },
                ],
            }),
        )?;
        Ok(())
    };
    sweep(
        "concurrency",
        |c| c.concurrency.unwrap_or(1) as f64,
        |v| format!("{v:.0}"),
        format!(
            "Engine throughput vs concurrency ({hsize}, {} parts)",
            human_size(results.sweep_part_size)
        ),
        format!(
            "Engine peak RSS vs concurrency ({hsize}, {} parts)",
            human_size(results.sweep_part_size)
        ),
        "parts in flight",
        "concurrency-throughput.svg",
        "concurrency-rss.svg",
    )?;
    sweep(
        "part_size",
        |c| c.part_size as f64 / MIB as f64,
        |v| format!("{v:.0} MiB"),
        format!(
            "Engine throughput vs part size ({hsize}, concurrency {})",
            results.sweep_concurrency
        ),
        format!(
            "Engine peak RSS vs part size ({hsize}, concurrency {})",
            results.sweep_concurrency
        ),
        "part size",
        "partsize-throughput.svg",
        "partsize-rss.svg",
    )?;
    Ok(())
}

fn markdown(r: &Results, img: &dyn Fn(&str) -> String) -> String {
    let mut md = String::new();
    let m = &r.machine;
    let _ = writeln!(md, "# Benchmarks\n");
    let _ = writeln!(
        md,
        "Generated by `{}` on {} ({:.0} minutes). Do not edit by hand: run the command again \
         (the text comes from `bench/src/report.rs`). Figures: [`{}`]({}).\n",
        r.command,
        m.date,
        r.duration_s / 60.0,
        img("results.json"),
        img("results.json")
    );
    if r.quick {
        let _ = writeln!(
            md,
            "**This is a `--quick` smoke run (small files, one run each): its figures say \
             little.**\n"
        );
    }

    let _ = writeln!(md, "## The issue's targets\n");
    let _ = writeln!(md, "| Target | Goal | Measured in this run | Status |");
    let _ = writeln!(md, "| --- | --- | --- | --- |");
    for t in &r.targets {
        let status = match t.status {
            Status::Met => "**met**",
            Status::NotMet => "**not met**",
            Status::NotMeasured => "not measured",
        };
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} |",
            t.name, t.goal, t.measured, status
        );
    }
    let _ = writeln!(md);

    // Machine and conditions.
    let _ = writeln!(md, "## Machine and run conditions\n");
    let _ = writeln!(md, "| | |\n| --- | --- |");
    let _ = writeln!(md, "| CPUs (`nproc`) | {} |", m.nproc);
    let _ = writeln!(md, "| CPU (`lscpu`) | {} |", m.cpu_model);
    let _ = writeln!(md, "| Memory | {} |", m.memory);
    let _ = writeln!(md, "| Kernel | {} |", m.kernel);
    let _ = writeln!(md, "| Rust | {} |", m.rustc);
    for (k, v) in &r.versions {
        let _ = writeln!(md, "| {k} | {v} |");
    }
    let _ = writeln!(md, "| Commit | {} |", m.git);
    let _ = writeln!(
        md,
        "| Load average (1, 5, 15 min) | {} at the start, {} at the end |",
        m.load_average_at_start, r.load_average_at_end
    );
    let loads: Vec<f64> = r
        .cases
        .iter()
        .flat_map(|c| c.runs.iter().map(|x| x.load_avg_1m))
        .filter(|l| l.is_finite())
        .collect();
    if let Some(l) = Spread::of(&loads) {
        let _ = writeln!(
            md,
            "| 1-minute load when a run started | median {:.1}, {:.1}–{:.1} |",
            l.median, l.min, l.max
        );
    }
    let _ = writeln!(md);
    let _ = writeln!(
        md,
        "The machine has {} CPUs. The emulator runs on the same machine as the client and \
         competes with it for CPU; a load average above the CPU count means other work (other \
         builds and test runs on this shared machine) was running too, which slows every \
         client and widens the spreads. Cases are run in rounds (run 1 of every case, then \
         run 2, ...) so such disturbance falls on all clients alike. The figures are as \
         measured.\n",
        m.nproc
    );

    // Commands.
    let _ = writeln!(md, "## Commands\n");
    let _ = writeln!(md, "```sh");
    let _ = writeln!(
        md,
        "apt-get install time          # optional: exact CPU and peak RSS through wait4 (else /proc polling)"
    );
    let _ = writeln!(
        md,
        "cargo xtask bench             # the full run: this report (= cargo run --release -p box-uploads-bench --)"
    );
    let _ = writeln!(
        md,
        "cargo xtask bench --quick     # smoke test: small files, one run, output in target/bench/quick/"
    );
    let _ = writeln!(
        md,
        "cargo xtask bench --profile wan --profile far   # only these profiles (loopback, wan, far)"
    );
    let _ = writeln!(
        md,
        "cargo xtask bench --plan      # the cases and an estimate of the duration; measures nothing"
    );
    let _ = writeln!(
        md,
        "cargo xtask bench --small-files   # only the many-small-files case, merged into results.json"
    );
    let _ = writeln!(
        md,
        "cargo xtask bench --help      # options (runs, sizes, sweeps, skipping a client)"
    );
    let _ = writeln!(
        md,
        "cargo bench -p box-uploads-bench --bench hashing   # Criterion micro-benchmark: one-pass vs two-pass hashing"
    );
    let _ = writeln!(md, "```\n");
    let _ = writeln!(md, "This report: `{}`.\n", r.command);
    let _ = writeln!(md, "The bench builds and runs, in this order:\n");
    let _ = writeln!(
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
         - `cargo build -p xtask`, then timed runs of `cargo xtask codegen --check`; `cargo \
         build --release -p xtask`, then timed runs of it on Box's whole API.\n",
        crate::setup::BOXSDK_REQUIREMENT,
        crate::setup::NODE_REQUIREMENT,
        r.emulator_data_dir,
        crate::setup::BOXSDK3_REQUIREMENT
    );

    let _ = writeln!(md, "## What is measured\n");
    let _ = writeln!(
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
         {}. Per GiB = divided by the file size in GiB. CPU time is counted in 10 ms \
         steps, coarse for the 64 MiB files (about 0.1 s of CPU).\n\
         - **Peak RSS** = the client process's maximum resident set size (same source).\n\
         - **Floor** = this bench's `hash-floor`: read the file in order and hash every byte \
         twice with the `sha1` crate the engine uses (whole-file and part SHA-1; SHA-NI when \
         the CPU has it), single-threaded. It is the least CPU a correct chunked upload can \
         spend: CPU of the engine is reported as a multiple of it.\n\
         - **RSS bound** = {}, with the parts in flight the engine reported (the most over \
         the runs; else the pinned concurrency, else 4), never more than the file's parts. \
         The concurrency and part-size sweeps raise `memory_cap` to (concurrency + 1) x part \
         size where the default would lower the concurrency asked for.\n\
         - **Part size** is the emulator's, as on Box: 8 MiB below 512 MiB, 32 MiB from \
         512 MiB (the sweeps force it with `--part-size`).\n\
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
        r.emulator_data_dir,
        r.runs,
        r.big_runs
    );

    profiles_section(&mut md, r, img);
    if r.has_loopback() {
        loopback_sections(&mut md, r, img);
    }
    if let Some(s) = &r.small_files {
        small_files_section(&mut md, r, s);
    }
    codegen_section(&mut md, r);
    let _ = writeln!(md, "## Micro-benchmarks\n");
    let _ = writeln!(
        md,
        "Hashing each byte once for the whole file and its part versus twice has a Criterion \
         benchmark in `bench/benches/hashing.rs`: `cargo bench -p box-uploads-bench --bench \
         hashing` (reports in `target/criterion/`). It is not part of this run.\n"
    );
    notes_section(&mut md, r);
    md
}

/// The side-by-side file, the size sweep and the engine's sweeps, on loopback.
fn loopback_sections(md: &mut String, r: &Results, img: &dyn Fn(&str) -> String) {
    let hsize = human_size(r.headline_size);
    let _ = writeln!(md, "## `loopback`\n");
    let _ = writeln!(
        md,
        "No shaping: client and emulator share the machine's CPUs and nothing else limits them, \
         so these figures measure CPU more than network.\n"
    );
    // Headline.
    let _ = writeln!(md, "## Side by side: {hsize} file\n");
    let floor_cpu = r.floor(r.headline_size).and_then(|f| f.cpu_s_per_gib);
    let _ = writeln!(
        md,
        "| Client | Throughput MiB/s | Upload s | CPU s/GiB | CPU vs floor | Peak RSS MiB | RSS bound MiB | Part size | Parallel parts | Server CPU s/GiB | Runs ok |"
    );
    let _ = writeln!(
        md,
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    let peer_tp = best_peer(&r.group("headline")).map(|(_, t)| t);
    for c in r.group("headline") {
        let vs_floor = match (c.cpu_s_per_gib, floor_cpu) {
            (Some(a), Some(f)) => format!("{:.2}x", a.median / f.median),
            _ => "–".into(),
        };
        let mut tp = show(c.throughput_mib_s, 0);
        if let (Some(a), Some(b)) = (c.throughput_mib_s, peer_tp) {
            if c.client.ours() {
                let _ = write!(tp, " = {:.2}x best peer", a.median / b);
            }
        }
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {}/{} |",
            c.client.label(),
            tp,
            show(c.upload_s, 2),
            show(c.cpu_s_per_gib, 2),
            vs_floor,
            show(c.max_rss_mib, 0),
            c.rss_bound_mib.map_or("–".into(), |b| format!("{b:.0}")),
            if c.client == Client::Floor {
                "–".into()
            } else {
                human_size(c.part_size)
            },
            c.concurrency.map_or(
                if c.client == Client::Floor {
                    "–".to_string()
                } else {
                    "1".into()
                },
                |n| n.to_string()
            ),
            show(c.server_cpu_s_per_gib, 2),
            c.runs.len() - c.failures,
            c.runs.len()
        );
    }
    let _ = writeln!(md);
    let sdk_notes: Vec<String> = r
        .group("headline")
        .into_iter()
        .filter(|c| c.client.peer())
        .filter_map(|c| {
            let ok: Vec<_> = c.runs.iter().filter(|x| x.ok).collect();
            let import = Spread::of(&ok.iter().filter_map(|x| x.import_s).collect::<Vec<_>>())?;
            let in_call = Spread::of(
                &ok.iter()
                    .filter_map(|x| x.in_call_cpu_s)
                    .collect::<Vec<_>>(),
            )?;
            Some(format!(
                "{}: importing the SDK took {:.2} s (not in its upload time); CPU inside the \
                 upload call alone {:.2} s ({:.2} s/GiB)",
                c.client.label(),
                import.median,
                in_call.median,
                in_call.median / (c.size as f64 / GIB as f64)
            ))
        })
        .collect();
    for n in sdk_notes {
        let _ = writeln!(md, "- {n}");
    }
    if let Some(engine) = engine_default(&r.group("headline")) {
        let ok: Vec<_> = engine.runs.iter().filter(|x| x.ok).collect();
        if let (Some(commit), Some(total)) = (
            Spread::of(&ok.iter().filter_map(|x| x.commit_s).collect::<Vec<_>>()),
            engine.upload_s,
        ) {
            let _ = writeln!(
                md,
                "- Of the engine's {:.2} s, the commit (the emulator assembling the file from \
                 its parts, the same work for every client) took {:.2} s.",
                total.median, commit.median
            );
        }
    }
    if let Some(n) = ceiling_note(r) {
        let _ = writeln!(md, "- {n}");
    }
    let _ = writeln!(md);
    let _ = writeln!(
        md,
        "![throughput]({})\n![cpu]({})\n![rss]({})\n",
        img("headline-throughput.svg"),
        img("headline-cpu.svg"),
        img("headline-rss.svg")
    );

    // Size sweep.
    let _ = writeln!(md, "## Scaling with file size\n");
    let _ = writeln!(
        md,
        "Default settings of every client; the part size is the emulator's default for the \
         size.\n"
    );
    let _ = writeln!(
        md,
        "| File | Client | Part size | Throughput MiB/s | CPU s/GiB | CPU vs floor | Peak RSS MiB | RSS bound MiB | Runs ok |"
    );
    let _ = writeln!(
        md,
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    let mut size_cases = r.group("size");
    size_cases.sort_by_key(|c| (c.size, c.client));
    for c in &size_cases {
        let floor = r.floor(c.size).and_then(|f| f.cpu_s_per_gib);
        let vs = match (c.cpu_s_per_gib, floor) {
            (Some(a), Some(f)) if c.client != Client::Floor => {
                format!("{:.2}x", a.median / f.median)
            }
            _ => "–".into(),
        };
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {}/{} |",
            human_size(c.size),
            c.client.label(),
            if c.client == Client::Floor {
                "–".into()
            } else {
                human_size(c.part_size)
            },
            show(c.throughput_mib_s, 0),
            show(c.cpu_s_per_gib, 2),
            vs,
            show(c.max_rss_mib, 0),
            c.rss_bound_mib.map_or("–".into(), |b| format!("{b:.0}")),
            c.runs.len() - c.failures,
            c.runs.len()
        );
    }
    let _ = writeln!(
        md,
        "\nThe floor's \"throughput\" is its hashing speed on one core (both passes).\n"
    );
    let _ = writeln!(
        md,
        "![throughput vs size]({})\n![rss vs size]({})\n",
        img("size-throughput.svg"),
        img("size-rss.svg")
    );

    for (group, title, x) in [
        (
            "concurrency",
            format!(
                "Concurrency (engine, {hsize}, {} parts)",
                human_size(r.sweep_part_size)
            ),
            "Concurrency",
        ),
        (
            "part_size",
            format!(
                "Part size (engine, {hsize}, concurrency {})",
                r.sweep_concurrency
            ),
            "Part size",
        ),
    ] {
        let _ = writeln!(md, "## {title}\n");
        let _ = writeln!(
            md,
            "| {x} | memory_cap | Throughput MiB/s | CPU s/GiB | Peak RSS MiB | RSS bound MiB | Runs ok |"
        );
        let _ = writeln!(md, "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        for c in r.group(group) {
            let xv = if group == "concurrency" {
                c.concurrency.map_or("–".into(), |n| n.to_string())
            } else {
                human_size(c.part_size)
            };
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {}/{} |",
                xv,
                c.memory_cap.map_or("–".into(), human_size),
                show(c.throughput_mib_s, 0),
                show(c.cpu_s_per_gib, 2),
                show(c.max_rss_mib, 0),
                c.rss_bound_mib.map_or("–".into(), |b| format!("{b:.0}")),
                c.runs.len() - c.failures,
                c.runs.len()
            );
        }
        let (t, rss) = if group == "concurrency" {
            ("concurrency-throughput.svg", "concurrency-rss.svg")
        } else {
            ("partsize-throughput.svg", "partsize-rss.svg")
        };
        let _ = writeln!(md, "\n![throughput]({})\n![rss]({})\n", img(t), img(rss));
    }
}

fn codegen_section(md: &mut String, r: &Results) {
    let _ = writeln!(md, "## `cargo xtask codegen --check`\n");
    match &r.codegen_check {
        Some(c) => {
            let _ = writeln!(
                md,
                "On the already-built tree (after `cargo build -p xtask` and one untimed \
                 warm-up), {} timed runs each, interleaved:\n",
                c.runs
            );
            let _ = writeln!(
                md,
                "| Command | Median s | Min–max s |\n| --- | ---: | ---: |"
            );
            if let Some(t) = c.cargo_xtask_s {
                let _ = writeln!(
                    md,
                    "| `cargo xtask codegen --check` (cargo's freshness check included) | {:.3} | {:.3}–{:.3} |",
                    t.median, t.min, t.max
                );
            }
            if let Some(t) = c.binary_s {
                let _ = writeln!(
                    md,
                    "| `target/debug/xtask codegen --check` (the generator alone) | {:.3} | {:.3}–{:.3} |",
                    t.median, t.min, t.max
                );
            }
            if let Some(n) = &c.note {
                let _ = writeln!(md, "\nNote: {n}");
            }
            let _ = writeln!(md);
        }
        None => {
            let _ = writeln!(md, "Not timed in this run (`--skip-codegen`).\n");
        }
    }
    whole_api_section(md, r);
}

/// The profiles, each shaped profile's side-by-side table and plots, and the emulator's CPU
/// cost of shaping.
fn profiles_section(md: &mut String, r: &Results, img: &dyn Fn(&str) -> String) {
    let profiles = r.profile_runs();
    let _ = writeln!(md, "## Network profiles\n");
    let _ = writeln!(
        md,
        "The emulator shapes the network itself (`--net`: a round trip before every request, \
         token buckets on the bodies per connection and for the whole link; no root, no `tc`). \
         `link` is the profile's physical limit: the targets are measured against it and the \
         throughput plots draw it. The file of each shaped profile is chosen so that the \
         slowest client (a sequential SDK, at `conn`) takes about a minute.\n"
    );
    let _ = writeln!(
        md,
        "| Profile | Emulator `--net` | `link` MiB/s | File | Why this size | Runs (sequential SDKs) |"
    );
    let _ = writeln!(md, "| --- | --- | ---: | ---: | --- | ---: |");
    for p in &profiles {
        let _ = writeln!(
            md,
            "| `{}` | {} | {} | {} | {} | {} ({}) |",
            p.name,
            p.net.as_deref().map_or("none".into(), |n| format!("`{n}`")),
            p.link_mib_s.map_or("–".into(), |l| format!("{l:.0}")),
            human_size(p.size),
            p.size_reason,
            p.runs,
            p.slow_runs
        );
    }
    let _ = writeln!(md);
    if profiles
        .iter()
        .any(|p| p.link_mib_s.is_some() && p.slow_runs < p.runs)
    {
        let _ = writeln!(
            md,
            "boxsdk 10 and box-node-sdk run fewer times on shaped profiles: they move one part \
             at a time, so their time is the profile's `conn` rate and barely varies, and they \
             are most of the run's duration.\n"
        );
    }
    for p in profiles.iter().filter(|p| p.link_mib_s.is_some()) {
        shaped_section(md, r, p, img);
    }
    shaping_cost_section(md, r);
}

/// One shaped profile: every client on its file.
fn shaped_section(md: &mut String, r: &Results, p: &ProfileRun, img: &dyn Fn(&str) -> String) {
    let link = p.link_mib_s.unwrap_or(f64::NAN);
    let cases = r.group(&p.name);
    let _ = writeln!(
        md,
        "## `{}`: {} over `{}`\n",
        p.name,
        human_size(p.size),
        p.net.as_deref().unwrap_or("")
    );
    let peer = best_peer(&cases).map(|(_, t)| t);
    let _ = writeln!(
        md,
        "| Client | Parts at once | Throughput MiB/s | Share of `link` | vs best peer | Upload s | CPU s/GiB | Peak RSS MiB | RSS bound MiB | Part size | Emulator CPU s/GiB | Runs ok |"
    );
    let _ = writeln!(
        md,
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for c in &cases {
        let parts = match c.client {
            Client::Boxsdk | Client::Node => "1 (sequential)".to_string(),
            _ => match (c.concurrency, c.parts_in_flight) {
                (Some(n), _) => format!("{n} (pinned)"),
                (None, Some(n)) if c.client.ours() => format!("auto ({n} reported)"),
                (None, Some(n)) => format!("{n} (default)"),
                (None, None) => "default".into(),
            },
        };
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {}/{} |",
            case_label(c),
            parts,
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
            c.rss_bound_mib.map_or("–".into(), |b| format!("{b:.0}")),
            human_size(c.part_size),
            show(c.server_cpu_s_per_gib, 2),
            c.runs.len() - c.failures,
            c.runs.len()
        );
    }
    let _ = writeln!(md);
    if let (Some(auto), Some((pinned, pinned_tp))) = (
        engine_default(&cases).and_then(|c| c.throughput_mib_s),
        cases
            .iter()
            .find(|c| c.client == Client::Engine && c.concurrency.is_some())
            .and_then(|c| c.throughput_mib_s.map(|t| (c, t))),
    ) {
        let _ = writeln!(
            md,
            "What adaptivity buys: the engine's default moved {:.1} MiB/s, pinned at {} parts in \
             flight {:.1} MiB/s ({:.2}x).\n",
            auto.median,
            pinned.concurrency.unwrap_or(0),
            pinned_tp.median,
            auto.median / pinned_tp.median
        );
    }
    let _ = writeln!(
        md,
        "![throughput]({})\n![rss]({})\n",
        img(&format!("{}-throughput.svg", p.name)),
        img(&format!("{}-rss.svg", p.name))
    );
}

/// The emulator's CPU per GiB during the engine's default uploads, unshaped and shaped: the
/// cost of `--net` (the emulator's other work per GiB, hashing, storing and committing, is the
/// same under every profile).
fn shaping_cost_section(md: &mut String, r: &Results) {
    let mut rows: Vec<(String, &CaseResult)> = Vec::new();
    for p in r.profile_runs() {
        let cases = if p.link_mib_s.is_some() {
            r.group(&p.name)
        } else {
            r.cases
                .iter()
                .filter(|c| c.profile == crate::profile::LOOPBACK && !c.part_size_forced)
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
        return;
    }
    let _ = writeln!(md, "## The emulator's CPU cost of shaping\n");
    let _ = writeln!(
        md,
        "CPU seconds (user + system, from `/proc/PID/stat` of the emulator process) per GiB \
         the emulator received during the engine's default uploads, each on a fresh emulator. \
         The emulator's other work per GiB (hashing and storing parts, the commit) is the same \
         with and without `--net`, so the difference between a shaped row and the loopback row \
         of the same size is what shaping costs.\n"
    );
    let _ = writeln!(
        md,
        "| Profile | File | Emulator CPU s/GiB | vs loopback, same file |\n| --- | ---: | ---: | ---: |"
    );
    for (name, c) in &rows {
        let base = rows
            .iter()
            .find(|(n, o)| n == crate::profile::LOOPBACK && o.size == c.size)
            .and_then(|(_, o)| o.server_cpu_s_per_gib);
        let vs = match (c.server_cpu_s_per_gib, base) {
            (Some(a), Some(b)) if name != crate::profile::LOOPBACK => format!(
                "{:+.2} s/GiB ({:.2}x)",
                a.median - b.median,
                a.median / b.median
            ),
            _ => "–".into(),
        };
        let _ = writeln!(
            md,
            "| `{name}` | {} | {} | {vs} |",
            human_size(c.size),
            show(c.server_cpu_s_per_gib, 2)
        );
    }
    let _ = writeln!(md);
}

/// `xtask codegen` on Box's whole published API, beside the `--check` of our own spec.
fn whole_api_section(md: &mut String, r: &Results) {
    let Some(w) = &r.codegen_whole_api else {
        return;
    };
    let _ = writeln!(md, "### Box's whole published API\n");
    let _ = writeln!(
        md,
        "`{}` ({} operations; `bash xtask/tests/fixtures/upstream/fetch.sh` puts it there), \
         with the release xtask binary (`cargo build --release -p xtask`), after one untimed \
         generation, {} timed runs each, interleaved:\n",
        w.spec, w.operations, w.runs
    );
    let _ = writeln!(
        md,
        "| Command | Median s | Min–max s |\n| --- | ---: | ---: |"
    );
    for (label, t) in [
        (
            "`target/release/xtask codegen --spec box.com.json --out target/bench/box-whole-api`",
            w.generate_s,
        ),
        ("the same with `--check`", w.check_s),
    ] {
        if let Some(t) = t {
            let _ = writeln!(
                md,
                "| {label} | {:.3} | {:.3}–{:.3} |",
                t.median, t.min, t.max
            );
        }
    }
    if let Some(n) = &w.note {
        let _ = writeln!(md, "\nNote: {}", n.replace('\n', " "));
    }
    let _ = writeln!(md);
}

fn notes_section(md: &mut String, r: &Results) {
    let failures: Vec<String> =
        r.cases
            .iter()
            .flat_map(|c| {
                c.runs.iter().filter(|x| !x.ok).map(move |x| {
                    format!("{}: {}", describe(c), x.error.clone().unwrap_or_default())
                })
            })
            .collect();
    if !r.notes.is_empty() || !failures.is_empty() {
        let _ = writeln!(md, "## Notes\n");
        for n in &r.notes {
            let _ = writeln!(md, "- {n}");
        }
        for f in failures {
            let _ = writeln!(md, "- Failed run: {}", f.replace('\n', " "));
        }
        let _ = writeln!(md);
    }
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "–".into(), |v| format!("{v:.digits$}"))
}

fn small_files_section(md: &mut String, r: &Results, s: &SmallFiles) {
    let _ = writeln!(md, "## Many small files\n");
    let _ = writeln!(
        md,
        "{} files of {} KiB (pseudo-random bytes, `target/bench/files/small-*`) uploaded into \
         folder `0` by each client in turn, each against a fresh emulator started with \
         `--fault rate-limit-uploads={} --fault rate-limit={}`: Box's 240 uploads and 1000 \
         requests a minute, scaled up x5 in rate. Above the limit the emulator answers `429 \
         rate_limit_exceeded` with `retry-after` (fixed windows). The upload limit caps any \
         client at **{:.0} files/s** (the ceiling). Files/s = files that arrived intact / the \
         upload time measured inside the client (the CLI: its process's wall time); 429s are \
         the emulator's counters (`injected.rate_limited_uploads` + \
         `injected.rate_limited_requests`), requests every API request it received (429s \
         included); \"intact\" = the name, size and SHA-1 of each file in `GET \
         /2.0/folders/0/items?fields=sha1,size` afterwards match a local file. Measured by \
         `{}` on {} (load average {} at the start, {} at the end; {:.0} s).\n",
        s.files,
        s.file_size >> 10,
        s.upload_limit,
        s.request_limit,
        s.ceiling_files_per_s,
        s.command,
        s.date,
        s.load_average_at_start,
        s.load_average_at_end,
        s.duration_s
    );
    let _ = writeln!(
        md,
        "The ceiling holds over a long run: the emulator's windows are fixed, so a run of T \
         seconds can meet ceil(T) + 1 of them and a run of a few seconds can come out above \
         {:.0} files/s; over {} files (about {:.0} s at the ceiling) that allowance is about \
         {:.1}%.\n",
        s.ceiling_files_per_s,
        s.files,
        s.files as f64 / s.ceiling_files_per_s,
        100.0 * s.ceiling_files_per_s / s.files as f64
    );
    let _ = writeln!(
        md,
        "| Client | Files/s | vs ceiling | 429s (uploads + requests) | Requests | 429 share | Upload s | Process wall s | Files intact | CPU s | Peak RSS MiB |"
    );
    let _ = writeln!(
        md,
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for c in &s.clients {
        let label = match &c.version {
            Some(v) => format!("{} ({v})", c.label),
            None => c.label.clone(),
        };
        if let Some(why) = &c.skipped {
            let _ = writeln!(
                md,
                "| {label} | skipped: {} | | | | | | | | | |",
                why.replace('|', "/").replace('\n', " ")
            );
            continue;
        }
        let _ = writeln!(
            md,
            "| {label} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            opt(c.files_per_s, 2),
            c.ratio_to_ceiling
                .map_or("–".into(), |x| format!("{:.0}%", 100.0 * x)),
            match (c.rate_limited_uploads, c.rate_limited_requests) {
                (Some(u), Some(q)) => format!("{} ({u} + {q})", u + q),
                _ => "–".into(),
            },
            c.requests.map_or("–".into(), |n| n.to_string()),
            c.fraction_429()
                .map_or("–".into(), |f| format!("{:.2}%", 100.0 * f)),
            opt(c.upload_s, 1),
            opt(c.process_wall_s, 1),
            match (c.files_intact, c.files_arrived) {
                (Some(i), Some(a)) if a == s.files => format!("{i}/{}", s.files),
                (Some(i), Some(a)) => format!("{i}/{} ({a} in the folder)", s.files),
                _ => "–".into(),
            },
            opt(c.cpu_s, 2),
            opt(c.max_rss_mib, 0),
        );
    }
    let _ = writeln!(md);
    for c in &s.clients {
        if c.skipped.is_none() {
            let _ = writeln!(md, "- {}: {}.", c.label, c.how);
        }
        if let Some(e) = &c.error {
            let _ = writeln!(
                md,
                "- {} did not finish cleanly: {}",
                c.label,
                e.replace('\n', " ")
            );
        }
        if let Some(why) = &c.skipped {
            let _ = writeln!(
                md,
                "- {} was not measured: {}",
                c.label,
                why.replace('\n', " ")
            );
        }
    }
    let _ = writeln!(md);
    let sentence = match (
        small_engine(s).filter(|e| e.skipped.is_none()),
        r.targets.iter().find(|t| t.name.starts_with("Many small files")),
    ) {
        (Some(e), Some(t)) if t.status != Status::NotMeasured => format!(
            "The issue's target, \"under scaled-down rate limits, {} small files upload with at \
             most {:.0}% 429s\", judged on the library's `upload_tree`: **{}**. It moved {} files/s \
             = {} of the {:.0} files/s ceiling, drew {} 429s of {} requests ({}), and {} of {} \
             files arrived intact.",
            s.files,
            s.max_429_fraction * 100.0,
            if t.status == Status::Met { "met" } else { "not met" },
            opt(e.files_per_s, 2),
            e.ratio_to_ceiling
                .map_or("–".into(), |x| format!("{:.0}%", 100.0 * x)),
            s.ceiling_files_per_s,
            e.rate_limited().map_or("–".into(), |n| n.to_string()),
            e.requests.map_or("–".into(), |n| n.to_string()),
            e.fraction_429()
                .map_or("–".into(), |f| format!("{:.2}%", 100.0 * f)),
            e.files_intact.map_or("–".into(), |n| n.to_string()),
            s.files
        ),
        _ => "The issue's target (at most 2% 429s under the scaled-down limits, files/s against \
              the ceiling) was not measured: the library's run is missing."
            .into(),
    };
    let _ = writeln!(md, "{sentence}\n");
}

/// Where the CPUs go on the headline file: with client and emulator on the same machine, no
/// client can go faster than the CPUs allow for both processes' work.
fn ceiling_note(r: &Results) -> Option<String> {
    let head = r.group("headline");
    let engine = engine_default(&head)?;
    let (peer, peer_tp) = best_peer(&head)?;
    let cpus: f64 = r.machine.nproc.trim().parse().ok()?;
    let client = engine.cpu_s_per_gib?.median;
    let server = engine.server_cpu_s_per_gib?.median;
    let ceiling = cpus / (client + server) * 1024.0;
    let goal = PEER_RATIO * peer_tp;
    let verdict = if goal > ceiling {
        format!(
            "{PEER_RATIO}x {} would be {goal:.0} MiB/s, above that ceiling: against this \
             emulator on this machine no client can reach it, however parallel",
            peer.client.label()
        )
    } else {
        format!(
            "{PEER_RATIO}x {} would be {goal:.0} MiB/s, within that ceiling",
            peer.client.label()
        )
    };
    Some(format!(
        "CPU budget: during the engine's uploads the emulator spent {server:.2} CPU s/GiB and \
         the engine {client:.2}, together {:.2} s/GiB; with {cpus:.0} CPUs (and nothing else \
         running) that caps the throughput of client + emulator on this machine at about \
         {ceiling:.0} MiB/s. {verdict}. On a real network the emulator's work is Box's, on \
         Box's machines, and parts in flight overlap network round trips instead.",
        client + server
    ))
}

/// Why the engine fell short of a shaped profile's link, from the run's own figures: parts in
/// flight against what the link needs, the share of the time the commit took, the waves of
/// parts the file makes, and the CPU both processes used.
fn shaped_shortfall(r: &Results, p: &ProfileRun, e: &CaseResult) -> String {
    let mut why = Vec::new();
    let (Some(conn), Some(link)) = (p.conn_mib_s, p.link_mib_s) else {
        return "no shaping".into();
    };
    let needed = (LINK_SHARE * link / conn).ceil() as u64;
    match e.parts_in_flight {
        Some(n) if (n as f64) * conn < LINK_SHARE * link => why.push(format!(
            "the engine reported {n} parts in flight, and {n} x `conn` {conn:.0} MiB/s = \
             {:.0} MiB/s is below {:.0}% of `link` (that takes {needed})",
            n as f64 * conn,
            LINK_SHARE * 100.0
        )),
        Some(n) => why.push(format!(
            "{n} parts in flight reported ({needed} fill {:.0}% of `link`)",
            LINK_SHARE * 100.0
        )),
        None => why.push("the engine reported no concurrency".into()),
    }
    let parts = e.size.div_ceil(e.part_size);
    if let Some(n) = e.parts_in_flight.filter(|n| *n > 0) {
        let waves = parts.div_ceil(n);
        let full = parts as f64 / n as f64;
        if (waves as f64) > full + 0.05 {
            why.push(format!(
                "{parts} parts of {} in waves of {n}: the last wave is {:.0}% full, so the link \
                 idles for part of it",
                human_size(e.part_size),
                100.0 * (full - (waves - 1) as f64)
            ));
        }
    }
    let ok: Vec<&crate::run::RunRecord> = e.runs.iter().filter(|x| x.ok).collect();
    if let (Some(commit), Some(total)) = (
        Spread::of(&ok.iter().filter_map(|x| x.commit_s).collect::<Vec<_>>()),
        e.upload_s,
    ) {
        let rate_without = e.size as f64 / MIB as f64 / (total.median - commit.median).max(1e-3);
        why.push(format!(
            "the commit (the emulator assembling the file) took {:.2} of {:.2} s; without it \
             {rate_without:.0} MiB/s = {:.0}% of `link`",
            commit.median,
            total.median,
            100.0 * rate_without / link
        ));
    }
    if let (Some(client), Some(server), Some(tp), Ok(cpus)) = (
        e.cpu_s_per_gib,
        e.server_cpu_s_per_gib,
        e.throughput_mib_s,
        r.machine.nproc.trim().parse::<f64>(),
    ) {
        let busy = (client.median + server.median) * tp.median / 1024.0;
        why.push(format!(
            "client and emulator kept {busy:.2} of {cpus:.0} CPUs busy"
        ));
    }
    why.join("; ")
}
