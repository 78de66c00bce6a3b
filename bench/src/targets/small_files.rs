//! The many-small-files target: under the scaled-down rate limits the library's `upload_tree`
//! gets every file there intact and draws at most the case's share of 429s.

use super::{Status, Target};
use crate::results::{Results, SmallClient, SmallFiles};

/// How the case's target is named: the start of its name.
const NAME: &str = "Many small files";

/// Whether a target is the many-small-files case's.
pub fn is_small_files(t: &Target) -> bool {
    t.name.starts_with(NAME)
}

/// The library's row of the case, unless it was skipped.
pub fn engine(s: &SmallFiles) -> Option<&SmallClient> {
    s.clients
        .iter()
        .find(|c| c.run.key == "engine" && c.run.skipped.is_none())
}

/// The target, when the case was measured.
pub fn target(results: &Results) -> Option<Target> {
    let s = results.small_files.as_ref()?;
    let name = format!(
        "{NAME} ({} x {} KiB) under rate-limit-uploads={}, rate-limit={}, library `upload_tree`",
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
    let Some(e) = engine(s) else {
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
            measured: format!("failed: {}", e.run.error.as_deref().unwrap_or("no figures")),
            status: Status::NotMet,
        });
    };
    let mut measured = format!(
        "{fps:.1} files/s = {:.0}% of the ceiling; {} 429s of {} requests ({:.2}%); {}/{} files intact",
        100.0 * fps / s.ceiling_files_per_s,
        e.rate_limited().unwrap_or(0),
        e.requests.unwrap_or(0),
        100.0 * frac,
        e.files_intact.unwrap_or(0),
        s.files
    );
    for other in s.clients.iter().filter(|c| c.run.key != "engine") {
        if let (Some(f), Some(p)) = (other.files_per_s, other.fraction_429()) {
            measured.push_str(&format!(
                "; {} {f:.1} files/s, {:.2}% 429s",
                other.run.label,
                100.0 * p
            ));
        }
    }
    Some(Target::judged(
        name,
        goal,
        measured,
        e.all_intact(s.files) && frac <= s.max_429_fraction,
    ))
}
