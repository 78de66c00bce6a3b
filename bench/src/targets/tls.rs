//! The HTTPS targets on loopback (`loopback-tls`, the side-by-side file): client CPU against
//! the two-pass SHA-1 floor and against boxsdk 3.x's under the same TLS, and throughput against
//! boxsdk 3.x's. (The shaped HTTPS profiles are judged like every shaped profile: a share of
//! `link` and a multiple of the best peer.)

use super::Target;
use crate::files::human_size;
use crate::plan::Client;
use crate::profile::{self, LOOPBACK_TLS};
use crate::results::{engine_default, CaseResult, Results};
use crate::stats::Spread;

/// Client CPU over HTTPS at most this multiple of the two-pass SHA-1 floor.
pub const TLS_FLOOR_RATIO: f64 = 1.35;
/// Client CPU per GiB over HTTPS at most this multiple of boxsdk 3.x's under the same TLS.
pub const BOXSDK3_CPU_RATIO: f64 = 0.75;
/// Throughput over HTTPS at least this multiple of boxsdk 3.x's.
pub const BOXSDK3_THROUGHPUT_RATIO: f64 = 1.1;

/// The loopback HTTPS targets, when `loopback-tls` ran.
pub fn targets(results: &Results) -> Vec<Target> {
    if !results
        .profile_runs()
        .iter()
        .any(|p| p.name == LOOPBACK_TLS)
    {
        return Vec::new();
    }
    let cases = results.group(LOOPBACK_TLS);
    let engine = engine_default(&cases);
    let boxsdk3 = cases.iter().copied().find(|c| c.client == Client::Boxsdk3);
    vec![
        floor(results, engine),
        boxsdk3_cpu(results, engine, boxsdk3),
        boxsdk3_throughput(results, engine, boxsdk3),
    ]
}

fn name(results: &Results, what: &str) -> String {
    format!(
        "`{LOOPBACK_TLS}`, {}: {what}",
        human_size(results.headline_size)
    )
}

/// The engine's CPU per GiB over plain HTTP on loopback (the same file), for the why.
fn plain_cpu(results: &Results, engine: &CaseResult) -> Option<Spread> {
    results
        .cases
        .iter()
        .find(|c| {
            c.profile == profile::LOOPBACK
                && c.client == Client::Engine
                && c.size == engine.size
                && c.concurrency.is_none()
                && !c.part_size_forced
        })
        .and_then(|c| c.cpu_s_per_gib)
}

/// What TLS added to the engine's CPU per GiB, when the plain run is there.
fn tls_share(results: &Results, engine: &CaseResult, tls: Spread) -> String {
    plain_cpu(results, engine).map_or(String::new(), |p| {
        format!(
            "; plain HTTP {:.2} s/GiB, so TLS added {:.2} s/GiB",
            p.median,
            tls.median - p.median
        )
    })
}

fn floor(results: &Results, engine: Option<&CaseResult>) -> Target {
    let name = name(results, "client CPU per GiB vs two-pass SHA-1 floor");
    let goal = format!("at most {TLS_FLOOR_RATIO}x");
    let floor = results
        .floor(results.headline_size)
        .and_then(|c| c.cpu_s_per_gib);
    let (Some((e, cpu)), Some(f)) = (engine.and_then(|e| Some((e, e.cpu_s_per_gib?))), floor)
    else {
        return Target::not_measured(name, goal, "the engine or the floor failed");
    };
    let ratio = cpu.median / f.median;
    let mut measured = format!(
        "{ratio:.2}x: {:.2} s/GiB vs floor {:.2} s/GiB (medians)",
        cpu.median, f.median
    );
    let met = ratio <= TLS_FLOOR_RATIO;
    if !met {
        measured.push_str(&format!(
            ". Why: {:.2} s/GiB beyond hashing, {:.2} s/GiB more than the target allows{}",
            cpu.median - f.median,
            cpu.median - TLS_FLOOR_RATIO * f.median,
            tls_share(results, e, cpu)
        ));
    }
    Target::judged(name, goal, measured, met)
}

fn boxsdk3_cpu(
    results: &Results,
    engine: Option<&CaseResult>,
    boxsdk3: Option<&CaseResult>,
) -> Target {
    let name = name(results, "client CPU per GiB vs boxsdk 3.x's, same TLS");
    let goal = format!("at most {BOXSDK3_CPU_RATIO}x");
    let (Some((e, cpu)), Some(b)) = (
        engine.and_then(|e| Some((e, e.cpu_s_per_gib?))),
        boxsdk3.and_then(|b| b.cpu_s_per_gib),
    ) else {
        return Target::not_measured(name, goal, "the engine or boxsdk 3.x failed or did not run");
    };
    let ratio = cpu.median / b.median;
    let mut measured = format!(
        "{ratio:.2}x: {:.2} s/GiB vs boxsdk 3.x {:.2} s/GiB (medians)",
        cpu.median, b.median
    );
    let met = ratio <= BOXSDK3_CPU_RATIO;
    if !met {
        measured.push_str(&format!(
            ". Why: {BOXSDK3_CPU_RATIO}x would be {:.2} s/GiB{}",
            BOXSDK3_CPU_RATIO * b.median,
            tls_share(results, e, cpu)
        ));
    }
    Target::judged(name, goal, measured, met)
}

fn boxsdk3_throughput(
    results: &Results,
    engine: Option<&CaseResult>,
    boxsdk3: Option<&CaseResult>,
) -> Target {
    let name = name(results, "engine at default settings vs boxsdk 3.x");
    let goal = format!("at least {BOXSDK3_THROUGHPUT_RATIO}x");
    let (Some(e), Some(b)) = (
        engine.and_then(|e| e.throughput_mib_s),
        boxsdk3.and_then(|b| b.throughput_mib_s),
    ) else {
        return Target::not_measured(name, goal, "the engine or boxsdk 3.x failed or did not run");
    };
    let ratio = e.median / b.median;
    let mut measured = format!(
        "{ratio:.2}x: {:.0} MiB/s vs boxsdk 3.x {:.0} MiB/s (medians)",
        e.median, b.median
    );
    let met = ratio >= BOXSDK3_THROUGHPUT_RATIO;
    if !met {
        if let Some(t) = engine.and_then(|c| c.traffic) {
            measured.push_str(&format!(
                ". Why: the engine's upload opened {} connection(s) for {} HTTP/1.1 and {} \
                 HTTP/2 requests; client and emulator share {} CPUs",
                t.connections,
                t.http1,
                t.http2,
                results.machine.nproc.trim()
            ));
        }
    }
    Target::judged(name, goal, measured, met)
}
