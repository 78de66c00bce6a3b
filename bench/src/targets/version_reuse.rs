//! The new-version-with-one-changed-region targets: on a shaped profile, the engine's version
//! upload with part reuse at least [`FULL_RATIO`] times faster than the same upload without
//! reuse (a full upload), and at least [`BOXSDK10_RATIO`] times faster than boxsdk 10.x's own
//! version upload with its part reuse. Both ratios come from the same run, side by side.

use super::{Status, Target};
use crate::files::human_size;
use crate::results::version_reuse::{BOXSDK10, ENGINE_FULL, ENGINE_REUSE};
use crate::results::{Results, VersionClient, VersionReuse};

/// At least this many times faster than the engine without reuse.
pub const FULL_RATIO: f64 = 10.0;
/// At least this many times faster than boxsdk 10.x's version upload.
pub const BOXSDK10_RATIO: f64 = 3.0;

/// How the case's targets are named: the start of their names.
const NAME: &str = "New version, one changed region";

/// Whether a target is this case's.
pub fn is_version_reuse(t: &Target) -> bool {
    t.name.starts_with(NAME)
}

/// The case's two targets on each profile it was measured on (`wan` is the stated one; `far`
/// is judged alike, against what its own link allows).
pub fn targets(results: &Results) -> Vec<Target> {
    results.version_reuse.iter().flat_map(of_profile).collect()
}

/// The two targets of one profile's run.
fn of_profile(v: &VersionReuse) -> Vec<Target> {
    vec![
        versus(
            v,
            ENGINE_FULL,
            "a full upload (the engine, reuse off)",
            FULL_RATIO,
        ),
        versus(
            v,
            BOXSDK10,
            "boxsdk 10's `upload_big_file_version` (its part reuse)",
            BOXSDK10_RATIO,
        ),
    ]
}

/// The engine with reuse against the client `key`, at least `ratio` times faster.
fn versus(v: &VersionReuse, key: &str, whom: &str, ratio: f64) -> Target {
    let name = format!(
        "{NAME} (`{}`, {}, {} changed): engine vs {whom}",
        v.profile,
        human_size(v.size),
        human_size(v.changed_len)
    );
    let goal = format!("at least {ratio:.0}x faster");
    let missing = |who: &str, c: Option<&VersionClient>| match c {
        Some(c) if c.run.skipped.is_some() => {
            format!(
                "{who} skipped: {}",
                c.run.skipped.as_deref().unwrap_or_default()
            )
        }
        Some(c) => format!(
            "{who} failed: {}",
            c.run.error.as_deref().unwrap_or("no figures")
        ),
        None => format!("{who} not run"),
    };
    let (ours, theirs) = match (v.measured(ENGINE_REUSE), v.measured(key)) {
        (Some(a), Some(b)) => (a, b),
        (None, _) => {
            let why = missing("the engine with reuse", v.client(ENGINE_REUSE));
            return Target {
                name,
                goal,
                measured: why,
                status: Status::NotMet,
            };
        }
        (Some(_), None) => {
            return Target::not_measured(name, goal, &missing(whom, v.client(key)));
        }
    };
    let speedup = v.speedup_over(key).unwrap_or(0.0);
    let measured = format!(
        "{speedup:.1}x: {} s vs {} s; {} vs {} sent; {} vs {} plan requests",
        secs(ours),
        secs(theirs),
        sent(ours),
        sent(theirs),
        ours.plan_requests.unwrap_or(0),
        theirs.plan_requests.unwrap_or(0)
    );
    Target::judged(name, goal, measured, speedup >= ratio)
}

fn secs(c: &VersionClient) -> String {
    c.run.upload_s.map_or("–".into(), |s| format!("{s:.2}"))
}

fn sent(c: &VersionClient) -> String {
    c.bytes_sent.map_or("–".into(), human_size)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::fixture::results;
    use crate::results::version_reuse::sample::{case, client};
    use crate::results::version_reuse::BOXSDK3;

    fn measured(key: &str, upload_s: f64, sent_mib: u64, plans: u64) -> VersionClient {
        VersionClient {
            bytes_sent: Some(sent_mib << 20),
            plan_requests: Some(plans),
            intact: true,
            ..client(key, Some(upload_s), true)
        }
    }

    fn judged(clients: Vec<VersionClient>) -> Vec<Target> {
        let mut r = results(vec![]);
        r.version_reuse = vec![case(clients)];
        targets(&r)
    }

    #[test]
    fn met_at_the_ratios_and_not_below() {
        let t = judged(vec![
            measured(ENGINE_REUSE, 1.0, 64, 1),
            measured(ENGINE_FULL, 10.0, 1024, 0),
            measured(BOXSDK10, 3.0, 64, 32),
        ]);
        assert_eq!(t.len(), 2);
        assert!(t.iter().all(is_version_reuse));
        assert_eq!(
            t[0].name,
            "New version, one changed region (`wan`, 1 GiB, 3 MiB changed): engine vs a full \
             upload (the engine, reuse off)"
        );
        assert_eq!(t[0].goal, "at least 10x faster");
        assert_eq!(
            t[0].measured,
            "10.0x: 1.00 s vs 10.00 s; 64 MiB vs 1 GiB sent; 1 vs 0 plan requests"
        );
        assert_eq!(t[0].status, Status::Met);
        assert_eq!(t[1].goal, "at least 3x faster");
        assert_eq!(t[1].status, Status::Met);

        let t = judged(vec![
            measured(ENGINE_REUSE, 1.0, 64, 1),
            measured(ENGINE_FULL, 9.9, 1024, 0),
            measured(BOXSDK10, 2.9, 64, 32),
        ]);
        assert_eq!(t[0].status, Status::NotMet);
        assert_eq!(t[1].status, Status::NotMet);
        assert!(
            t[1].measured.starts_with("2.9x: 1.00 s vs 2.90 s"),
            "{}",
            t[1].measured
        );
    }

    #[test]
    fn a_skipped_sdk_is_not_measured_and_says_why() {
        let t = judged(vec![
            measured(ENGINE_REUSE, 1.0, 64, 1),
            measured(ENGINE_FULL, 12.0, 1024, 0),
            VersionClient::not_measured(BOXSDK10, "boxsdk 10", "", "--skip-boxsdk".into()),
            VersionClient::not_measured(BOXSDK3, "boxsdk 3", "", "--skip-boxsdk3".into()),
        ]);
        assert_eq!(t[0].status, Status::Met);
        assert_eq!(t[1].status, Status::NotMeasured);
        assert!(
            t[1].measured.contains("skipped: --skip-boxsdk"),
            "{}",
            t[1].measured
        );
    }

    #[test]
    fn a_failed_engine_is_not_met() {
        let mut broken = client(ENGINE_REUSE, None, false);
        broken.run.error = Some("the client failed: boom".into());
        let t = judged(vec![broken, measured(ENGINE_FULL, 12.0, 1024, 0)]);
        assert_eq!(t[0].status, Status::NotMet);
        assert_eq!(
            t[0].measured,
            "the engine with reuse failed: the client failed: boom"
        );
    }

    #[test]
    fn no_case_no_targets() {
        assert!(targets(&results(vec![])).is_empty());
    }
}
