//! The loopback sections: the side-by-side file, the size sweep and the engine's sweeps.

use std::fmt::{self, Write as _};

use super::{mib, parts_cell, show, traffic_cell};
use crate::files::{human_size, GIB};
use crate::plan::Client;
use crate::results::{best_peer, engine_default, CaseResult, Results};
use crate::targets::why;

/// The side-by-side file, the size sweep and the engine's sweeps, on loopback.
pub fn sections(md: &mut String, r: &Results, img: &dyn Fn(&str) -> String) -> fmt::Result {
    let hsize = human_size(r.headline_size);
    writeln!(md, "## `loopback`\n")?;
    writeln!(
        md,
        "No shaping: client and emulator share the machine's CPUs and nothing else limits them, \
         so these figures measure CPU more than network.\n"
    )?;
    // Headline.
    writeln!(md, "## Side by side: {hsize} file\n")?;
    side_by_side(md, r, &r.group("headline"))?;
    let sdk_notes: Vec<String> = r
        .group("headline")
        .into_iter()
        .filter(|c| c.client.peer())
        .filter_map(|c| {
            let import = c.spread_of(|x| x.import_s)?;
            let in_call = c.spread_of(|x| x.in_call_cpu_s)?;
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
        writeln!(md, "- {n}")?;
    }
    if let Some(engine) = engine_default(&r.group("headline")) {
        if let (Some(commit), Some(total)) = (engine.spread_of(|x| x.commit_s), engine.upload_s) {
            writeln!(
                md,
                "- Of the engine's {:.2} s, the commit (the emulator assembling the file from \
                 its parts, the same work for every client) took {:.2} s.",
                total.median, commit.median
            )?;
        }
    }
    if let Some(n) = why::ceiling_note(r) {
        writeln!(md, "- {n}")?;
    }
    writeln!(md)?;
    writeln!(
        md,
        "![throughput]({})\n![cpu]({})\n![rss]({})\n",
        img("headline-throughput.svg"),
        img("headline-cpu.svg"),
        img("headline-rss.svg")
    )?;

    // Size sweep.
    writeln!(md, "## Scaling with file size\n")?;
    writeln!(
        md,
        "Default settings of every client; the part size is the emulator's default for the \
         size.\n"
    )?;
    writeln!(
        md,
        "| File | Client | Part size | Throughput MiB/s | CPU s/GiB | CPU vs floor | Peak RSS MiB | RSS bound MiB | Runs ok |"
    )?;
    writeln!(
        md,
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    )?;
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
        writeln!(
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
            mib(c.rss_bound_mib),
            c.runs.len() - c.failures,
            c.runs.len()
        )?;
    }
    writeln!(
        md,
        "\nThe floor's \"throughput\" is its hashing speed on one core (both passes).\n"
    )?;
    writeln!(
        md,
        "![throughput vs size]({})\n![rss vs size]({})\n",
        img("size-throughput.svg"),
        img("size-rss.svg")
    )?;

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
        writeln!(md, "## {title}\n")?;
        writeln!(
            md,
            "| {x} | memory_cap | Throughput MiB/s | CPU s/GiB | Peak RSS MiB | RSS bound MiB | Runs ok |"
        )?;
        writeln!(md, "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")?;
        for c in r.group(group) {
            let xv = if group == "concurrency" {
                c.concurrency.map_or("–".into(), |n| n.to_string())
            } else {
                human_size(c.part_size)
            };
            writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {}/{} |",
                xv,
                c.memory_cap.map_or("–".into(), human_size),
                show(c.throughput_mib_s, 0),
                show(c.cpu_s_per_gib, 2),
                show(c.max_rss_mib, 0),
                mib(c.rss_bound_mib),
                c.runs.len() - c.failures,
                c.runs.len()
            )?;
        }
        let (t, rss) = if group == "concurrency" {
            ("concurrency-throughput.svg", "concurrency-rss.svg")
        } else {
            ("partsize-throughput.svg", "partsize-rss.svg")
        };
        writeln!(md, "\n![throughput]({})\n![rss]({})\n", img(t), img(rss))?;
    }
    Ok(())
}

/// The side-by-side table of a loopback group (plain or HTTPS): every client on the headline
/// file, CPU against the floor, connections and HTTP versions.
pub fn side_by_side(md: &mut String, r: &Results, cases: &[&CaseResult]) -> fmt::Result {
    let floor_cpu = r.floor(r.headline_size).and_then(|f| f.cpu_s_per_gib);
    writeln!(
        md,
        "| Client | Throughput MiB/s | Upload s | CPU s/GiB | CPU vs floor | Peak RSS MiB | RSS bound MiB | Part size | Parallel parts | Conns / h1 / h2 requests | Server CPU s/GiB | Runs ok |"
    )?;
    writeln!(
        md,
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    )?;
    let peer_tp = best_peer(cases).map(|(_, t)| t);
    for c in cases {
        let vs_floor = match (c.cpu_s_per_gib, floor_cpu) {
            (Some(a), Some(f)) => format!("{:.2}x", a.median / f.median),
            _ => "–".into(),
        };
        let mut tp = show(c.throughput_mib_s, 0);
        if let (Some(a), Some(b)) = (c.throughput_mib_s, peer_tp) {
            if c.client.ours() {
                write!(tp, " = {:.2}x best peer", a.median / b)?;
            }
        }
        writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {}/{} |",
            c.client.label(),
            tp,
            show(c.upload_s, 2),
            show(c.cpu_s_per_gib, 2),
            vs_floor,
            show(c.max_rss_mib, 0),
            mib(c.rss_bound_mib),
            if c.client == Client::Floor {
                "–".into()
            } else {
                human_size(c.part_size)
            },
            parts_cell(c),
            traffic_cell(c),
            show(c.server_cpu_s_per_gib, 2),
            c.runs.len() - c.failures,
            c.runs.len()
        )?;
    }
    writeln!(md)
}
