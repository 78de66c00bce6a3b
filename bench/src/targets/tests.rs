//! Each target judged met, not met or not measured from small results.

use super::*;
use crate::files::GIB;
use crate::plan::{CaseSpec, Client};
use crate::results::fixture::{case, headline, over_tls, results, run};
use crate::results::{ClientRun, SmallClient, SmallFiles};

fn find<'a>(targets: &'a [Target], start: &str) -> &'a Target {
    targets
        .iter()
        .find(|t| t.name.starts_with(start))
        .unwrap_or_else(|| panic!("no target named {start:?} in {targets:#?}"))
}

#[test]
fn loopback_peer_target_is_met_at_the_ratio_and_not_below() {
    let met = judge(&results(vec![(
        "headline",
        headline(1.0, 200.0, 1.1, 100.0),
    )]));
    let t = find(
        &met,
        "`loopback`, 1 GiB: engine at default settings vs the best peer",
    );
    assert_eq!(t.status, Status::Met);
    assert_eq!(t.goal, "at least 1.5x");
    assert_eq!(
        t.measured,
        "2.00x: 200 MiB/s vs boxsdk 3 chunked (Python) 100 MiB/s (medians)"
    );

    let short = judge(&results(vec![(
        "headline",
        headline(1.0, 120.0, 1.1, 100.0),
    )]));
    let t = find(
        &short,
        "`loopback`, 1 GiB: engine at default settings vs the best peer",
    );
    assert_eq!(t.status, Status::NotMet);
    assert!(t.measured.starts_with("1.20x: 120 MiB/s"), "{}", t.measured);
}

#[test]
fn floor_target_compares_cpu_per_gib_with_the_floor() {
    let met = judge(&results(vec![(
        "headline",
        headline(2.0, 200.0, 2.2, 100.0),
    )]));
    let t = find(&met, "`loopback`, 1 GiB: client CPU per GiB");
    assert_eq!(t.status, Status::Met);
    assert_eq!(
        t.measured,
        "1.10x: 2.20 s/GiB vs floor 2.00 s/GiB (medians)"
    );

    let over = judge(&results(vec![(
        "headline",
        headline(2.0, 200.0, 3.0, 100.0),
    )]));
    let t = find(&over, "`loopback`, 1 GiB: client CPU per GiB");
    assert_eq!(t.status, Status::NotMet);
    assert!(
        t.measured.contains(". Why: 1.00 s/GiB beyond hashing"),
        "{}",
        t.measured
    );
}

#[test]
fn the_floor_target_holds_at_every_size_of_the_sweep() {
    const MIB64: u64 = 64 << 20;
    let sweep = |engine_cpu: f64| {
        vec![
            case(
                CaseSpec::new(Client::Floor, MIB64, 1),
                vec![run(MIB64, 500.0, 2.0, 10.0)],
            ),
            case(
                CaseSpec::new(Client::Engine, MIB64, 1),
                vec![run(MIB64, 200.0, engine_cpu, 40.0)],
            ),
        ]
    };
    let name = "`loopback`, 1 GiB: client CPU per GiB";
    let within = judge(&results(vec![
        ("headline", headline(2.0, 200.0, 2.2, 100.0)),
        ("size", sweep(2.4)),
    ]));
    let t = find(&within, name);
    assert_eq!(t.status, Status::Met, "{}", t.measured);
    assert!(
        t.measured
            .ends_with("; engine at other sizes: 64 MiB 1.20x"),
        "{}",
        t.measured
    );

    let over = judge(&results(vec![
        ("headline", headline(2.0, 200.0, 2.2, 100.0)),
        ("size", sweep(2.6)),
    ]));
    let t = find(&over, name);
    assert_eq!(
        t.status,
        Status::NotMet,
        "the 1 GiB file alone is within: {}",
        t.measured
    );
    assert!(
        t.measured
            .ends_with("64 MiB 1.30x (over). Over 1.2x at 64 MiB"),
        "{}",
        t.measured
    );
}

#[test]
fn a_missing_peer_leaves_the_peer_target_not_measured() {
    let mut cases = headline(1.0, 200.0, 1.1, 100.0);
    cases.pop();
    let t = judge(&results(vec![("headline", cases)]));
    let t = find(
        &t,
        "`loopback`, 1 GiB: engine at default settings vs the best peer",
    );
    assert_eq!(t.status, Status::NotMeasured);
}

/// The `wan` group: the engine at its default moving `engine_tp`, boxsdk 3 at 40 MiB/s.
fn wan(engine_tp: f64) -> Vec<crate::results::CaseResult> {
    let spec = |client| CaseSpec {
        profile: "wan",
        ..CaseSpec::new(client, GIB, 1)
    };
    vec![
        case(spec(Client::Engine), vec![run(GIB, engine_tp, 3.0, 50.0)]),
        case(spec(Client::Boxsdk3), vec![run(GIB, 40.0, 4.0, 300.0)]),
    ]
}

#[test]
fn shaped_targets_judge_the_share_of_link_and_the_peer_ratio() {
    let met = judge(&results(vec![("wan", wan(108.0))]));
    let link = find(&met, "`wan`, 1 GiB: engine at default settings vs `link`");
    assert_eq!(link.goal, "at least 85% of 120 MiB/s");
    assert_eq!(link.status, Status::Met);
    assert_eq!(link.measured, "90% of link: 108.0 MiB/s (median of 1)");
    let peer = find(
        &met,
        "`wan`, 1 GiB: engine at default settings vs the best peer",
    );
    assert_eq!(peer.status, Status::Met);

    let short = judge(&results(vec![("wan", wan(90.0))]));
    let link = find(&short, "`wan`, 1 GiB: engine at default settings vs `link`");
    assert_eq!(link.status, Status::NotMet);
    assert!(link.measured.starts_with("75% of link: 90.0 MiB/s"));
    assert!(link.measured.contains(". Why: "), "{}", link.measured);
}

#[test]
fn peak_rss_over_the_engines_bound_is_not_met() {
    let mut cases = headline(1.0, 200.0, 1.1, 100.0);
    // Within the bound, but the full run's 1 GiB and 4 GiB files were not both measured.
    let mut r = results(vec![("headline", cases.clone())]);
    assert_eq!(
        find(&judge(&r), "Client peak RSS").status,
        Status::NotMeasured
    );
    r.quick = true;
    let t = judge(&r);
    let t = find(&t, "Client peak RSS");
    assert_eq!(t.status, Status::Met);
    assert_eq!(
        t.measured,
        "loopback 1 GiB: 40 MiB (bound 352 MiB); worst of 1 engine/CLI cases (max over runs): 11% \
         of its bound"
    );

    cases[1] = case(
        CaseSpec::new(Client::Engine, GIB, 1),
        vec![run(GIB, 200.0, 1.1, 500.0)],
    );
    let over = judge(&results(vec![("headline", cases)]));
    let t = find(&over, "Client peak RSS");
    assert_eq!(t.status, Status::NotMet);
    assert!(t
        .measured
        .contains("over the bound: box-uploads (library) 1 GiB part 32 MiB"));
}

#[test]
fn codegen_not_timed_is_not_measured_and_fast_enough_is_met() {
    let mut r = results(vec![("headline", headline(1.0, 200.0, 1.1, 100.0))]);
    let t = judge(&r);
    assert_eq!(
        find(&t, "`cargo xtask codegen --check`").status,
        Status::NotMeasured
    );
    r.codegen_check = Some(crate::setup::CodegenTiming {
        cargo_xtask_s: crate::stats::Spread::of(&[0.25, 0.3]),
        binary_s: None,
        runs: 2,
        all_passed: true,
        note: None,
    });
    let t = judge(&r);
    let t = find(&t, "`cargo xtask codegen --check`");
    assert_eq!(t.goal, "under 1 s");
    assert_eq!(t.status, Status::Met);
}

fn small_files(rate_limited: u64) -> SmallFiles {
    SmallFiles {
        command: "cargo xtask bench --small-files".into(),
        date: "2026-01-01 00:00 UTC".into(),
        files: 100,
        file_size: 64 * 1024,
        upload_limit: "20/1s".into(),
        request_limit: "80/1s".into(),
        ceiling_files_per_s: 20.0,
        max_429_fraction: 0.02,
        emulator_data_dir: "/dev/shm/test".into(),
        load_average_at_start: "0.1".into(),
        load_average_at_end: "0.1".into(),
        duration_s: 10.0,
        clients: vec![SmallClient {
            run: ClientRun {
                key: "engine".into(),
                label: "box-uploads (library) upload_tree".into(),
                ok: true,
                ..ClientRun::default()
            },
            files_per_s: Some(19.0),
            requests: Some(100),
            rate_limited_uploads: Some(rate_limited),
            rate_limited_requests: Some(0),
            files_arrived: Some(100),
            files_intact: Some(100),
            ..SmallClient::default()
        }],
    }
}

#[test]
fn small_files_target_holds_the_429_share() {
    let mut r = results(vec![("headline", headline(1.0, 200.0, 1.1, 100.0))]);
    assert!(!judge(&r).iter().any(is_small_files));
    r.small_files = Some(small_files(1));
    let t = judge(&r);
    let t = find(&t, "Many small files (100 x 64 KiB)");
    assert_eq!(t.status, Status::Met);
    assert_eq!(
        t.measured,
        "19.0 files/s = 95% of the ceiling; 1 429s of 100 requests (1.00%); 100/100 files intact"
    );
    r.small_files = Some(small_files(5));
    let t = judge(&r);
    assert_eq!(find(&t, "Many small files").status, Status::NotMet);
}

#[test]
fn tls_targets_hold_cpu_to_the_floor_and_boxsdk3_and_throughput_to_boxsdk3() {
    // Floor 2.0 s/GiB; the engine 2.6 s/GiB (1.30x the floor, 0.65x boxsdk 3's 4.0) at
    // 120 MiB/s against boxsdk 3's 100 MiB/s (1.2x).
    let met = judge(&results(vec![
        ("headline", headline(2.0, 200.0, 2.2, 100.0)),
        ("loopback-tls", over_tls(headline(2.0, 120.0, 2.6, 100.0))),
    ]));
    for start in [
        "`loopback-tls`, 1 GiB: client CPU per GiB vs two-pass",
        "`loopback-tls`, 1 GiB: client CPU per GiB vs boxsdk 3.x",
        "`loopback-tls`, 1 GiB: engine at default settings vs boxsdk 3.x",
    ] {
        assert_eq!(find(&met, start).status, Status::Met, "{start}");
    }
    assert_eq!(
        find(
            &met,
            "`loopback-tls`, 1 GiB: client CPU per GiB vs two-pass"
        )
        .measured,
        "1.30x: 2.60 s/GiB vs floor 2.00 s/GiB (medians)"
    );

    // 3.2 s/GiB: 1.60x the floor, 0.80x boxsdk 3; 105 MiB/s = 1.05x.
    let over = judge(&results(vec![
        ("headline", headline(2.0, 200.0, 2.2, 100.0)),
        ("loopback-tls", over_tls(headline(2.0, 105.0, 3.2, 100.0))),
    ]));
    let floor = find(
        &over,
        "`loopback-tls`, 1 GiB: client CPU per GiB vs two-pass",
    );
    assert_eq!(floor.status, Status::NotMet);
    assert!(
        floor.measured.contains("so TLS added 1.00 s/GiB"),
        "{}",
        floor.measured
    );
    for start in [
        "`loopback-tls`, 1 GiB: client CPU per GiB vs boxsdk 3.x",
        "`loopback-tls`, 1 GiB: engine at default settings vs boxsdk 3.x",
    ] {
        assert_eq!(find(&over, start).status, Status::NotMet, "{start}");
    }
}

#[test]
fn without_loopback_tls_there_are_no_tls_targets() {
    let t = judge(&results(vec![(
        "headline",
        headline(2.0, 200.0, 2.2, 100.0),
    )]));
    assert!(t.iter().all(|t| !t.name.contains("loopback-tls")));
}
