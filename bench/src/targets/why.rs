//! Why a target was missed, from the run's own figures: the CPU budget client and emulator
//! share on loopback, and what kept the engine from a shaped profile's link. The report
//! prints them beside the figures too.

use super::{LINK_SHARE, PEER_RATIO};
use crate::files::{human_size, MIB};
use crate::results::{best_peer, engine_default, CaseResult, ProfileRun, Results};

/// Where the CPUs go on the headline file: with client and emulator on the same machine, no
/// client can go faster than the CPUs allow for both processes' work.
pub fn ceiling_note(r: &Results) -> Option<String> {
    let head = r.group("headline");
    let engine = engine_default(&head)?;
    let (peer, peer_tp) = best_peer(&head)?;
    let cpus = r.cpus()?;
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
pub fn shaped_shortfall(r: &Results, p: &ProfileRun, e: &CaseResult) -> String {
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
    if let (Some(commit), Some(total)) = (e.spread_of(|x| x.commit_s), e.upload_s) {
        let rate_without = e.size as f64 / MIB as f64 / (total.median - commit.median).max(1e-3);
        why.push(format!(
            "the commit (the emulator assembling the file) took {:.2} of {:.2} s; without it \
             {rate_without:.0} MiB/s = {:.0}% of `link`",
            commit.median,
            total.median,
            100.0 * rate_without / link
        ));
    }
    if let (Some(client), Some(server), Some(tp), Some(cpus)) = (
        e.cpu_s_per_gib,
        e.server_cpu_s_per_gib,
        e.throughput_mib_s,
        r.cpus(),
    ) {
        let busy = (client.median + server.median) * tp.median / 1024.0;
        why.push(format!(
            "client and emulator kept {busy:.2} of {cpus:.0} CPUs busy"
        ));
    }
    why.join("; ")
}
