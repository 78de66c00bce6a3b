//! The outputs: `results.json`, the SVG plots and `BENCHMARKS.md`, with each target of the
//! issue marked met or not met from the figures of this run.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::charts::{self, Bar, LineChart, Series};
use crate::files::{human_size, GIB, MIB};
use crate::run::{CaseResult, Client, Results};
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

fn headline(results: &Results, client: Client) -> Option<&CaseResult> {
    results
        .group("headline")
        .into_iter()
        .find(|c| c.client == client)
}

/// The issue's four targets, judged from this run's figures.
pub fn targets(results: &Results) -> Vec<Target> {
    let size = human_size(results.headline_size);
    let mut out = Vec::new();

    // 1. Throughput at least 4x boxsdk on the headline file.
    let engine = headline(results, Client::Engine).and_then(|c| c.throughput_mib_s);
    let boxsdk = headline(results, Client::Boxsdk).and_then(|c| c.throughput_mib_s);
    let cli = headline(results, Client::Cli).and_then(|c| c.throughput_mib_s);
    out.push(match (engine, boxsdk) {
        (Some(e), Some(b)) => {
            let ratio = e.median / b.median;
            let mut measured = format!(
                "{ratio:.1}x: {:.0} MiB/s vs boxsdk {:.0} MiB/s (medians)",
                e.median, b.median
            );
            if let Some(c) = cli {
                let _ = write!(
                    measured,
                    "; CLI {:.0} MiB/s = {:.1}x",
                    c.median,
                    c.median / b.median
                );
            }
            Target {
                name: format!("Throughput vs boxsdk upload_big_file, {size}"),
                goal: "at least 4x".into(),
                measured,
                status: Status::of(ratio >= 4.0),
            }
        }
        _ => Target {
            name: format!("Throughput vs boxsdk upload_big_file, {size}"),
            goal: "at least 4x".into(),
            measured: "not measured (engine or boxsdk missing or failed)".into(),
            status: Status::NotMeasured,
        },
    });

    // 2. CPU per GiB at most 1.5x the two-pass SHA-1 floor.
    let floor = results
        .floor(results.headline_size)
        .and_then(|c| c.cpu_s_per_gib);
    let engine_cpu = headline(results, Client::Engine).and_then(|c| c.cpu_s_per_gib);
    let cli_cpu = headline(results, Client::Cli).and_then(|c| c.cpu_s_per_gib);
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
                    let mark = if r > 1.5 { " (over)" } else { "" };
                    others.push(format!("{} {r:.2}x{mark}", human_size(c.size)));
                }
            }
            if !others.is_empty() {
                let _ = write!(measured, "; engine at other sizes: {}", others.join(", "));
            }
            Target {
                name: format!("Client CPU per GiB vs two-pass SHA-1 floor, {size}"),
                goal: "at most 1.5x".into(),
                measured,
                status: Status::of(ratio <= 1.5),
            }
        }
        _ => Target {
            name: format!("Client CPU per GiB vs two-pass SHA-1 floor, {size}"),
            goal: "at most 1.5x".into(),
            measured: "not measured".into(),
            status: Status::NotMeasured,
        },
    });

    // 3. Peak RSS within (concurrency + 1) x part_size + 32 MiB, every engine and CLI case.
    let bounded: Vec<&CaseResult> = results
        .cases
        .iter()
        .filter(|c| c.client.parallel() && c.max_rss_mib.is_some() && c.rss_bound_mib.is_some())
        .collect();
    if bounded.is_empty() {
        out.push(Target {
            name: "Client peak RSS".into(),
            goal: "at most (concurrency + 1) x part_size + 32 MiB".into(),
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
        for size in [GIB, 4 * GIB, results.headline_size] {
            if let Some(c) = bounded
                .iter()
                .find(|c| c.client == Client::Engine && c.size == size && !c.part_size_forced)
            {
                if !measured.contains(&format!("{}:", human_size(size))) {
                    let _ = write!(
                        measured,
                        "{}: {:.0} MiB (bound {:.0} MiB); ",
                        human_size(size),
                        worst_rss(c),
                        c.rss_bound_mib.unwrap_or(0.0)
                    );
                }
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
        let sizes_present = [GIB, 4 * GIB]
            .iter()
            .all(|s| bounded.iter().any(|c| c.size == *s));
        out.push(Target {
            name: "Client peak RSS, every engine and CLI case (incl. 1 GiB and 4 GiB)".into(),
            goal: "at most (concurrency + 1) x part_size + 32 MiB".into(),
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

    // 4. codegen --check under 1 s.
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

    // 5. Many small files under the scaled-down limits (only when measured).
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
        Client::Node => "#ff7f0e",
        Client::Floor => "#7f7f7f",
    }
}

fn client_order() -> [Client; 4] {
    [Client::Engine, Client::Cli, Client::Boxsdk, Client::Node]
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
    let hsize = human_size(results.headline_size);

    // Plots.
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
        .map(|f| (1.5 * f.median, "1.5x floor (target)"));
    save(
        "headline-throughput.svg",
        &charts::bar_chart(
            &format!("Upload throughput, {hsize} file (median, min–max)"),
            "MiB/s",
            &bars(|c| c.throughput_mib_s),
            None,
        ),
    )?;
    save(
        "headline-cpu.svg",
        &charts::bar_chart(
            &format!("Client CPU (user + sys) per GiB, {hsize} file"),
            "CPU seconds per GiB",
            &cpu_bars,
            floor_ref,
        ),
    )?;
    let engine_bound = head
        .iter()
        .find(|c| c.client == Client::Engine)
        .and_then(|c| c.rss_bound_mib);
    save(
        "headline-rss.svg",
        &charts::bar_chart(
            &format!("Client peak RSS, {hsize} file"),
            "MiB",
            &bars(|c| c.max_rss_mib),
            engine_bound.map(|b| (b, "engine bound")),
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

    let md = markdown(results, &img);
    std::fs::write(report, md).map_err(|e| format!("cannot write {}: {e}", report.display()))?;
    Ok(())
}

fn markdown(r: &Results, img: &dyn Fn(&str) -> String) -> String {
    let mut md = String::new();
    let hsize = human_size(r.headline_size);
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
         `boxsdk`), and a fresh emulator per client with the scaled-down rate limits;\n\
         - `cargo build -p xtask`, then timed runs of `cargo xtask codegen --check`.\n",
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
         with `BaseUrls` pointing at the emulator and a developer token; *box-node-sdk*: \
         `client.chunkedUploads.uploadBigFile(fs.createReadStream(path), ...)` likewise. \
         Box's SDKs upload one part at a time; the engine uploads `concurrency` parts at once.\n\
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
         - **RSS bound** = (effective concurrency + 1) x part size + 32 MiB, the issue's \
         target. The engine lowers its concurrency so that (concurrency + 1) part buffers fit \
         `memory_cap` (default 256 MiB); the concurrency and part-size sweeps raise \
         `memory_cap` to (concurrency + 1) x part size where the default would lower the \
         concurrency asked for, so the sweep measures what it says.\n\
         - **Part size** is the emulator's, as on Box: 8 MiB below 512 MiB, 32 MiB from \
         512 MiB (the sweeps force it with `--part-size`).\n\
         - The emulator hashes and stores every part and concatenates them on commit: that \
         server time is inside every client's upload time alike, and the emulator's CPU time \
         (\"server CPU\") is taken from the same machine's CPUs. Its data directory was `{}`: \
         by default a RAM-backed directory (`/dev/shm`) when there is room, because on this \
         machine's virtual disk the emulator's writes roughly halved every client's \
         throughput and the benchmark would have measured the disk (`--emulator-data DIR` \
         chooses another).\n\
         - Each case ran {} times ({} for files over 1 GiB; the floor two more); tables give \
         the median and, in parentheses, the min–max; plots show the median with min–max \
         whiskers.\n",
        r.measurement, r.emulator_data_dir, r.runs, r.big_runs
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
    let boxsdk_tp = r
        .group("headline")
        .into_iter()
        .find(|c| c.client == Client::Boxsdk)
        .and_then(|c| c.throughput_mib_s);
    for c in r.group("headline") {
        let vs_floor = match (c.cpu_s_per_gib, floor_cpu) {
            (Some(a), Some(f)) => format!("{:.2}x", a.median / f.median),
            _ => "–".into(),
        };
        let mut tp = show(c.throughput_mib_s, 0);
        if let (Some(a), Some(b)) = (c.throughput_mib_s, boxsdk_tp) {
            if !matches!(c.client, Client::Boxsdk | Client::Floor) {
                let _ = write!(tp, " = {:.1}x boxsdk", a.median / b.median);
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
        .filter(|c| matches!(c.client, Client::Boxsdk | Client::Node))
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
    if let Some(engine) = r
        .group("headline")
        .into_iter()
        .find(|c| c.client == Client::Engine)
    {
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

    if let Some(s) = &r.small_files {
        small_files_section(&mut md, r, s);
    }

    // Codegen.
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

    let _ = writeln!(md, "## Micro-benchmarks\n");
    let _ = writeln!(
        md,
        "Hashing each byte once for the whole file and its part versus twice has a Criterion \
         benchmark in `bench/benches/hashing.rs`: `cargo bench -p box-uploads-bench --bench \
         hashing` (reports in `target/criterion/`). It is not part of this run.\n"
    );

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
    md
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
    let engine = head.iter().find(|c| c.client == Client::Engine)?;
    let boxsdk = head.iter().find(|c| c.client == Client::Boxsdk)?;
    let cpus: f64 = r.machine.nproc.trim().parse().ok()?;
    let client = engine.cpu_s_per_gib?.median;
    let server = engine.server_cpu_s_per_gib?.median;
    let boxsdk_tp = boxsdk.throughput_mib_s?.median;
    let ceiling = cpus / (client + server) * 1024.0;
    let four_x = 4.0 * boxsdk_tp;
    let verdict = if four_x > ceiling {
        format!(
            "4x boxsdk would be {four_x:.0} MiB/s, above that ceiling: against this emulator on this machine the \
             throughput target cannot be met by any client, however parallel"
        )
    } else {
        format!("4x boxsdk would be {four_x:.0} MiB/s, within that ceiling")
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
