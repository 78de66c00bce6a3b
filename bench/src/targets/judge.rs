//! Judging each target from the figures of a run.

use super::{why, Status, Target, CODEGEN_CHECK_S, FLOOR_RATIO, LINK_SHARE, PEER_RATIO};
use crate::files::{human_size, GIB};
use crate::memory;
use crate::plan::Client;
use crate::profile;
use crate::results::{best_peer, cli, engine_default, CaseResult, ProfileRun, Results};

/// Every target, judged from this run's figures, in the report's order.
pub fn judge(results: &Results) -> Vec<Target> {
    let mut out = Vec::new();
    for p in results.profile_runs() {
        if let Some(link) = p.link_mib_s {
            out.push(shaped_link(results, &p, link));
            out.push(shaped_peer(results, &p, link));
        }
    }
    if results.has_loopback() {
        out.push(loopback_peer(results));
        out.push(loopback_floor(results));
    }
    out.extend(super::tls::targets(results));
    out.push(peak_rss(results));
    out.push(codegen_check(results));
    // Only when measured.
    out.extend(super::small_files::target(results));
    out.extend(super::version_reuse::targets(results));
    out
}

/// A shaped profile: the engine at its defaults fills at least [`LINK_SHARE`] of `link`.
fn shaped_link(results: &Results, p: &ProfileRun, link: f64) -> Target {
    let cases = results.group(&p.name);
    let name = format!(
        "`{}`, {}: engine at default settings vs `link`",
        p.name,
        human_size(p.size)
    );
    let goal = format!("at least {:.0}% of {link:.0} MiB/s", LINK_SHARE * 100.0);
    let engine = engine_default(&cases);
    let Some((e, t)) = engine.and_then(|e| e.throughput_mib_s.map(|t| (e, t))) else {
        return Target::not_measured(name, goal, "the engine's runs failed or did not run");
    };
    let share = t.median / link;
    let mut measured = format!(
        "{:.0}% of link: {:.1} MiB/s (median of {})",
        share * 100.0,
        t.median,
        t.n
    );
    if let Some(ct) = cli(&cases).and_then(|c| c.throughput_mib_s) {
        measured.push_str(&format!(
            "; CLI {:.1} MiB/s = {:.0}%",
            ct.median,
            100.0 * ct.median / link
        ));
    }
    let met = share >= LINK_SHARE;
    if !met {
        measured.push_str(&format!(". Why: {}", why::shaped_shortfall(results, p, e)));
    }
    Target::judged(name, goal, measured, met)
}

/// A shaped profile: the engine at its defaults moves at least [`PEER_RATIO`] times the best
/// peer.
fn shaped_peer(results: &Results, p: &ProfileRun, link: f64) -> Target {
    let cases = results.group(&p.name);
    let name = format!(
        "`{}`, {}: engine at default settings vs the best peer",
        p.name,
        human_size(p.size)
    );
    let goal = format!("at least {PEER_RATIO}x");
    let engine = engine_default(&cases);
    let (Some(e), Some((peer, b))) = (engine.and_then(|e| e.throughput_mib_s), best_peer(&cases))
    else {
        return Target::not_measured(name, goal, "the engine or every peer failed or did not run");
    };
    let ratio = e.median / b;
    let mut measured = format!(
        "{ratio:.2}x: {:.1} MiB/s vs {} {b:.1} MiB/s",
        e.median,
        peer.client.label()
    );
    let met = ratio >= PEER_RATIO;
    if !met {
        measured.push_str(&format!(
            ". Why: {PEER_RATIO}x would be {:.1} MiB/s = {:.0}% of `link`",
            PEER_RATIO * b,
            100.0 * PEER_RATIO * b / link
        ));
        if PEER_RATIO * b > link {
            measured.push_str(", beyond the physical limit: no client can");
        } else if let Some(e) = engine {
            measured.push_str(&format!("; {}", why::shaped_shortfall(results, p, e)));
        }
    }
    Target::judged(name, goal, measured, met)
}

/// Loopback, the side-by-side file: at least [`PEER_RATIO`] times the best peer.
fn loopback_peer(results: &Results) -> Target {
    let head = results.group("headline");
    let name = format!(
        "`loopback`, {}: engine at default settings vs the best peer",
        human_size(results.headline_size)
    );
    let goal = format!("at least {PEER_RATIO}x");
    let (Some(e), Some((peer, b))) = (
        engine_default(&head).and_then(|e| e.throughput_mib_s),
        best_peer(&head),
    ) else {
        return Target::not_measured(name, goal, "the engine or every peer failed");
    };
    let ratio = e.median / b;
    let mut measured = format!(
        "{ratio:.2}x: {:.0} MiB/s vs {} {b:.0} MiB/s (medians)",
        e.median,
        peer.client.label()
    );
    if let Some(c) = cli(&head).and_then(|c| c.throughput_mib_s) {
        measured.push_str(&format!(
            "; CLI {:.0} MiB/s = {:.2}x",
            c.median,
            c.median / b
        ));
    }
    let met = ratio >= PEER_RATIO;
    if !met {
        if let Some(n) = why::ceiling_note(results) {
            measured.push_str(&format!(". Why: {n}"));
        }
    }
    Target::judged(name, goal, measured, met)
}

/// Loopback, the side-by-side file: client CPU per GiB at most [`FLOOR_RATIO`] times the
/// two-pass SHA-1 floor.
fn loopback_floor(results: &Results) -> Target {
    let head = results.group("headline");
    let name = format!(
        "`loopback`, {}: client CPU per GiB vs two-pass SHA-1 floor",
        human_size(results.headline_size)
    );
    let goal = format!("at most {FLOOR_RATIO}x, at every size of the sweep");
    let floor = results
        .floor(results.headline_size)
        .and_then(|c| c.cpu_s_per_gib);
    let (Some(e), Some(f)) = (engine_default(&head).and_then(|c| c.cpu_s_per_gib), floor) else {
        return Target::not_measured(name, goal, "the engine or the floor failed");
    };
    let ratio = e.median / f.median;
    let mut measured = format!(
        "{ratio:.2}x: {:.2} s/GiB vs floor {:.2} s/GiB (medians)",
        e.median, f.median
    );
    if let Some(c) = cli(&head).and_then(|c| c.cpu_s_per_gib) {
        measured.push_str(&format!(
            "; CLI {:.2} s/GiB = {:.2}x",
            c.median,
            c.median / f.median
        ));
    }
    // The other sizes of the sweep: fixed start-up costs weigh more on small files. The goal
    // holds at every size, so one over it is not met.
    let mut over = Vec::new();
    let others: Vec<String> = results
        .group("size")
        .into_iter()
        .filter(|c| c.client == Client::Engine && c.size != results.headline_size)
        .filter_map(|c| {
            let e = c.cpu_s_per_gib?;
            let f = results.floor(c.size)?.cpu_s_per_gib?;
            let r = e.median / f.median;
            let mark = if r > FLOOR_RATIO {
                over.push(human_size(c.size));
                " (over)"
            } else {
                ""
            };
            Some(format!("{} {r:.2}x{mark}", human_size(c.size)))
        })
        .collect();
    if !others.is_empty() {
        measured.push_str(&format!("; engine at other sizes: {}", others.join(", ")));
    }
    if !over.is_empty() {
        measured.push_str(&format!(". Over {FLOOR_RATIO}x at {}", over.join(", ")));
    }
    let met = ratio <= FLOOR_RATIO && over.is_empty();
    if ratio > FLOOR_RATIO {
        measured.push_str(&format!(
            ". Why: {:.2} s/GiB beyond hashing (reading, HTTP framing, copies into the socket, \
             the runtime), {:.2} s/GiB more than the target allows",
            e.median - f.median,
            e.median - FLOOR_RATIO * f.median
        ));
    }
    Target::judged(name, goal, measured, met)
}

/// Peak RSS within the engine's memory bound, every engine and CLI case of every profile.
fn peak_rss(results: &Results) -> Target {
    let goal = format!("at most {}", memory::describe());
    let bounded: Vec<&CaseResult> = results
        .cases
        .iter()
        .filter(|c| c.client.ours() && c.max_rss_mib.is_some() && c.rss_bound_mib.is_some())
        .collect();
    if bounded.is_empty() {
        return Target {
            name: "Client peak RSS".into(),
            goal,
            measured: "not measured".into(),
            status: Status::NotMeasured,
        };
    }
    let over: Vec<&CaseResult> = bounded
        .iter()
        .copied()
        .filter(|c| c.worst_rss() > c.rss_bound_mib.unwrap_or(0.0))
        .collect();
    let worst = bounded
        .iter()
        .map(|c| c.worst_rss() / c.rss_bound_mib.unwrap_or(1.0))
        .fold(0.0f64, f64::max);
    let mut measured = String::new();
    let mut shown = Vec::new();
    let picks = [GIB, 4 * GIB, results.headline_size]
        .into_iter()
        .map(|size| (profile::LOOPBACK.to_string(), size))
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
            measured.push_str(&format!(
                "{profile} {}: {:.0} MiB (bound {:.0} MiB); ",
                human_size(size),
                c.worst_rss(),
                c.rss_bound_mib.unwrap_or(0.0)
            ));
            shown.push((profile, size));
        }
    }
    measured.push_str(&format!(
        "worst of {} engine/CLI cases (max over runs): {:.0}% of its bound",
        bounded.len(),
        worst * 100.0
    ));
    if !over.is_empty() {
        let names: Vec<String> = over.iter().map(|c| c.describe()).collect();
        measured.push_str(&format!("; over the bound: {}", names.join(", ")));
    }
    let sizes_present = !results.has_loopback()
        || [GIB, 4 * GIB]
            .iter()
            .all(|s| bounded.iter().any(|c| c.size == *s));
    Target {
        name: "Client peak RSS, every engine and CLI case of every profile (incl. loopback 1 GiB \
               and 4 GiB)"
            .into(),
        goal,
        measured,
        status: if !over.is_empty() {
            Status::NotMet
        } else if sizes_present || results.quick {
            Status::Met
        } else {
            Status::NotMeasured
        },
    }
}

/// `cargo xtask codegen --check` on an already-built tree, under [`CODEGEN_CHECK_S`].
fn codegen_check(results: &Results) -> Target {
    let name = "`cargo xtask codegen --check`, already-built tree".to_string();
    let goal = format!("under {CODEGEN_CHECK_S} s");
    let codegen = results.codegen_check.as_ref();
    match codegen.and_then(|c| c.cargo_xtask_s) {
        Some(t) => {
            let binary = codegen
                .and_then(|c| c.binary_s)
                .map(|b| format!("; the xtask binary alone {:.3} s", b.median))
                .unwrap_or_default();
            Target::judged(
                name,
                goal,
                format!(
                    "{:.3} s median of {} (max {:.3} s){binary}",
                    t.median, t.n, t.max
                ),
                t.median < CODEGEN_CHECK_S,
            )
        }
        None => Target {
            name,
            goal,
            measured: codegen
                .and_then(|c| c.note.clone())
                .unwrap_or_else(|| "not measured".into()),
            status: Status::NotMeasured,
        },
    }
}
