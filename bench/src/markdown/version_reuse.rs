//! The new-version-with-one-changed-region section: the case, each client's version upload
//! side by side with the emulator's counters of it, the two targets' verdicts with their
//! ratios, and the least time the profile allows either way.

use std::fmt::{self, Write as _};

use super::{client_label, client_notes, opt, skipped_row, status_cell};
use crate::files::human_size;
use crate::results::version_reuse::{ENGINE_FULL, ENGINE_REUSE};
use crate::results::VersionReuse;
use crate::targets::{self, Target};

pub fn section(md: &mut String, v: &VersionReuse, targets: &[Target]) -> fmt::Result {
    writeln!(
        md,
        "## New version with one changed region: `{}`\n",
        v.profile
    )?;
    writeln!(
        md,
        "A {} file of pseudo-random bytes is uploaded (chunked, by the engine; not measured), \
         then {} in its middle (bytes {}–{}, each byte changed in place, the size unchanged) \
         are changed and each client uploads the changed file as a new version of it. Each \
         client runs against a fresh emulator on the `{}` profile (`--net {}`). The session's \
         part size is {}, so the changed region touches {} part(s): a client that reuses parts \
         needs to send only those. Upload s = the version upload measured inside the client \
         around the call; sent = file content the emulator read during it \
         (`file_bytes_received`); plans, hits, misses and reused parts are the emulator's \
         counters (`plan_requests`, `plan_hits`, `plan_misses`, `parts_reused`) over the \
         version upload alone; intact = the file's SHA-1 afterwards is the changed file's. \
         One run per client, in this order, in one run of the bench: `{}` on {} (load average \
         {} at the start, {} at the end; {:.0} s).\n",
        human_size(v.size),
        human_size(v.changed_len),
        v.changed_offset,
        v.changed_offset + v.changed_len - 1,
        v.profile,
        v.net,
        human_size(v.part_size),
        v.changed_parts,
        v.command,
        v.date,
        v.load_average_at_start,
        v.load_average_at_end,
        v.duration_s
    )?;
    writeln!(
        md,
        "| Client | Upload s | Its time / the engine's with reuse | Sent | Part uploads | Plan requests | Hits / misses | Parts reused | Intact | CPU s | Peak RSS MiB | Load (1 min) |"
    )?;
    writeln!(
        md,
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: |"
    )?;
    let count = |n: Option<u64>| n.map_or("–".into(), |n| n.to_string());
    for c in &v.clients {
        let label = client_label(&c.run.label, c.run.version.as_deref());
        if let Some(why) = &c.run.skipped {
            skipped_row(md, &label, why, 10)?;
            continue;
        }
        let speedup = if c.run.key == ENGINE_REUSE {
            "–".to_string()
        } else {
            v.speedup_over(&c.run.key)
                .map_or("–".into(), |x| format!("{x:.2}x"))
        };
        writeln!(
            md,
            "| {label} | {} | {speedup} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            if c.run.ok {
                opt(c.run.upload_s, 2)
            } else {
                "failed".into()
            },
            c.bytes_sent.map_or("–".into(), human_size),
            count(c.part_requests),
            count(c.plan_requests),
            match (c.plan_hits, c.plan_misses) {
                (Some(h), Some(m)) => format!("{h} / {m}"),
                _ => "–".into(),
            },
            match (c.parts_reused, c.part_bytes_reused) {
                (Some(n), Some(b)) => format!("{n} ({})", human_size(b)),
                _ => "–".into(),
            },
            if c.intact { "yes" } else { "no" },
            opt(c.cpu_s, 2),
            opt(c.max_rss_mib, 0),
            opt(c.load_avg_1m, 1),
        )?;
    }
    writeln!(md)?;
    for c in &v.clients {
        client_notes(md, &c.run, "did not finish")?;
    }
    writeln!(md)?;
    let this_profile = format!("(`{}`,", v.profile);
    for t in targets
        .iter()
        .filter(|t| targets::is_version_reuse(t) && t.name.contains(&this_profile))
    {
        writeln!(
            md,
            "- Target: {} — {}: {} ({}).",
            t.name,
            t.goal,
            status_cell(t.status),
            t.measured
        )?;
    }
    writeln!(md)?;
    where_the_time_goes(md, v)?;
    let (reuse, full) = (v.least_reuse_s(), v.least_full_s());
    writeln!(
        md,
        "What the profile allows: a changed part crosses one connection, at `conn` = {:.0} \
         MiB/s at most, so a version upload that sends {} part(s) of {} takes at least {:.2} s \
         (the parts in parallel, and a {} ms round trip), however little of the part changed; \
         a full upload of {} takes at least {:.2} s at `link` = {:.0} MiB/s. The best ratio \
         any client can reach here is therefore about {:.1}x{}.\n",
        v.conn_mib_s,
        v.changed_parts,
        human_size(v.part_size),
        reuse,
        v.rtt_ms,
        human_size(v.size),
        full,
        v.link_mib_s,
        full / reuse,
        if full / reuse < targets::FULL_RATIO {
            format!(
                ", below the {:.0}x target: with Box's part size for this file the target \
                 cannot be met on this profile by any client",
                targets::FULL_RATIO
            )
        } else {
            String::new()
        }
    )
}

/// The engine's version upload in its phases, from its own figures: until its first reused
/// part (the first plan answer) it opened the session and hashed the first batch; then it
/// hashed the rest and sent the misses as their batches were answered; then it committed.
fn where_the_time_goes(md: &mut String, v: &VersionReuse) -> fmt::Result {
    let Some(e) = v.measured(ENGINE_REUSE) else {
        return Ok(());
    };
    let (Some(total), Some(plan_at)) = (e.run.upload_s, e.first_reused_s) else {
        return Ok(());
    };
    let commit = e.commit_s.unwrap_or(0.0);
    writeln!(
        md,
        "Where the engine's {total:.2} s went: it asks the plan in batches of up to 256 MiB of \
         hashed parts ({} request(s) here), so its first answer (the first reused part) came \
         {plan_at:.2} s in, once the session was open and the first batch hashed (the SHA-1 \
         of the file and the SHA-512 of every part, on both cores; a part's own SHA-1 only for \
         the parts sent: {} s of CPU in all, over a wall time that other work on the \
         machine shares, load {}). In the next {:.2} s it hashed the rest of the file and sent \
         the {} missed part(s) as their batches were answered; the commit (the emulator \
         assembling the version from the reused parts and checking its SHA-1) took the last \
         {commit:.2} s{}. The emulator held the SHA-512 of every part of the earlier version \
         before any client started (it computes them in the background after a commit, as Box \
         keeps them for the parts it stores), so no client's plan waited for them.\n",
        e.plan_requests.map_or("?".to_string(), |n| n.to_string()),
        opt(e.cpu_s, 2),
        opt(e.load_avg_1m, 1),
        (total - plan_at - commit).max(0.0),
        e.plan_misses.unwrap_or(0),
        v.measured(ENGINE_FULL)
            .and_then(|f| f.commit_s)
            .map(|f| format!(" (the full upload's commit: {f:.2} s)"))
            .unwrap_or_default(),
    )
}
