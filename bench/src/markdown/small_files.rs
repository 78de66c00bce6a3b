//! The many-small-files section: the case, each client's row, and the target's verdict.

use std::fmt::{self, Write as _};

use super::{client_label, client_notes, opt, skipped_row};
use crate::results::SmallFiles;
use crate::targets::{self, Status, Target};

pub fn section(md: &mut String, s: &SmallFiles, targets: &[Target]) -> fmt::Result {
    writeln!(md, "## Many small files\n")?;
    writeln!(
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
    )?;
    writeln!(
        md,
        "The ceiling holds over a long run: the emulator's windows are fixed, so a run of T \
         seconds can meet ceil(T) + 1 of them and a run of a few seconds can come out above \
         {:.0} files/s; over {} files (about {:.0} s at the ceiling) that allowance is about \
         {:.1}%.\n",
        s.ceiling_files_per_s,
        s.files,
        s.files as f64 / s.ceiling_files_per_s,
        100.0 * s.ceiling_files_per_s / s.files as f64
    )?;
    writeln!(
        md,
        "| Client | Files/s | vs ceiling | 429s (uploads + requests) | Requests | 429 share | Upload s | Process wall s | Files intact | CPU s | Peak RSS MiB |"
    )?;
    writeln!(
        md,
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    )?;
    for c in &s.clients {
        let label = client_label(&c.run.label, c.run.version.as_deref());
        if let Some(why) = &c.run.skipped {
            skipped_row(md, &label, why, 9)?;
            continue;
        }
        writeln!(
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
            opt(c.run.upload_s, 1),
            opt(c.run.process_wall_s, 1),
            match (c.files_intact, c.files_arrived) {
                (Some(i), Some(a)) if a == s.files => format!("{i}/{}", s.files),
                (Some(i), Some(a)) => format!("{i}/{} ({a} in the folder)", s.files),
                _ => "–".into(),
            },
            opt(c.cpu_s, 2),
            opt(c.max_rss_mib, 0),
        )?;
    }
    writeln!(md)?;
    for c in &s.clients {
        client_notes(md, &c.run, "did not finish cleanly")?;
    }
    writeln!(md)?;
    let sentence =
        match (
            targets::small_files_engine(s),
            targets.iter().find(|t| targets::is_small_files(t)),
        ) {
            (Some(e), Some(t)) if t.status != Status::NotMeasured => {
                format!(
            "The target (under scaled-down rate limits, {} small files upload with at most \
             {:.0}% 429s), judged on the library's `upload_tree`: **{}**. It moved {} files/s \
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
        )
            }
            _ => format!(
                "The target (at most {:.0}% 429s under the scaled-down limits, files/s against \
             the ceiling) was not measured: the library's run is missing.",
                s.max_429_fraction * 100.0
            ),
        };
    writeln!(md, "{sentence}\n")
}
