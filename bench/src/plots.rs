//! The report's plots: which figures each SVG shows (the generic drawing is [`crate::charts`]).
//! A shaped profile gets throughput against its link and the target's share of it, and peak
//! RSS against the engine's bound; loopback gets the side-by-side file, the size sweep and the
//! engine's sweeps.

use std::path::PathBuf;

use crate::charts::{self, Bar, LineChart, Series};
use crate::files::{human_size, MIB};
use crate::plan::{Client, CLIENTS};
use crate::results::{engine_default, CaseResult, ProfileRun, Results};
use crate::stats::Spread;
use crate::targets::{FLOOR_RATIO, LINK_SHARE};

/// Writes one SVG by name, returning its path.
pub type Save<'a> = dyn Fn(&str, &str) -> Result<PathBuf, String> + 'a;

/// Every plot of the run.
pub fn draw(results: &Results, save: &Save) -> Result<(), String> {
    for p in results.profile_runs() {
        if p.link_mib_s.is_some() {
            profile_charts(results, &p, save)?;
        }
    }
    if results.has_loopback() {
        loopback_charts(results, save)?;
    }
    Ok(())
}

/// A chart that could not be written into its `String`.
fn drawing(e: std::fmt::Error) -> String {
    format!("cannot draw a plot: {e}")
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

/// The plots of a shaped profile: throughput with the link's limit and the target's share of
/// it, and peak RSS with the engine's bound.
fn profile_charts(results: &Results, p: &ProfileRun, save: &Save) -> Result<(), String> {
    let cases = results.group(&p.name);
    let bars = |f: fn(&CaseResult) -> Option<Spread>| -> Vec<Bar> {
        cases
            .iter()
            .filter_map(|c| {
                f(c).map(|v| Bar {
                    label: c.label(),
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
        )
        .map_err(drawing)?,
    )?;
    let bound = engine_default(&cases).and_then(|c| c.rss_bound_mib);
    save(
        &format!("{}-rss.svg", p.name),
        &charts::bar_chart(
            &format!("`{}`: client peak RSS, {} file", p.name, human_size(p.size)),
            "MiB",
            &bars(|c| c.max_rss_mib),
            bound.map(|b| (b, "engine bound")).as_slice(),
        )
        .map_err(drawing)?,
    )?;
    Ok(())
}

/// The loopback plots: the side-by-side file, the size sweep and the engine's sweeps.
fn loopback_charts(results: &Results, save: &Save) -> Result<(), String> {
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
        .map(|f| FLOOR_RATIO * f.median);
    let floor_label = format!("{FLOOR_RATIO}x floor (target)");
    save(
        "headline-throughput.svg",
        &charts::bar_chart(
            &format!("Upload throughput, {hsize} file (median, min–max)"),
            "MiB/s",
            &bars(|c| c.throughput_mib_s),
            &[],
        )
        .map_err(drawing)?,
    )?;
    save(
        "headline-cpu.svg",
        &charts::bar_chart(
            &format!("Client CPU (user + sys) per GiB, {hsize} file"),
            "CPU seconds per GiB",
            &cpu_bars,
            floor_ref.map(|f| (f, floor_label.as_str())).as_slice(),
        )
        .map_err(drawing)?,
    )?;
    let engine_bound = engine_default(&head).and_then(|c| c.rss_bound_mib);
    save(
        "headline-rss.svg",
        &charts::bar_chart(
            &format!("Client peak RSS, {hsize} file"),
            "MiB",
            &bars(|c| c.max_rss_mib),
            engine_bound.map(|b| (b, "engine bound")).as_slice(),
        )
        .map_err(drawing)?,
    )?;

    let size_cases = results.group("size");
    let mut sizes: Vec<u64> = size_cases.iter().map(|c| c.size).collect();
    sizes.sort_unstable();
    sizes.dedup();
    let series_by_client = |f: fn(&CaseResult) -> Option<Spread>| -> Vec<Series> {
        CLIENTS
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
        })
        .map_err(drawing)?,
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
        })
        .map_err(drawing)?,
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
            })
            .map_err(drawing)?,
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
            })
            .map_err(drawing)?,
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
