//! The report rendered from small results: the rows of its tables.

use super::*;
use crate::results::fixture::{headline, results};
use crate::targets;

fn render_of(r: &Results) -> String {
    let targets = targets::judge(r);
    match render(r, &targets, &|name| format!("bench/results/{name}")) {
        Ok(md) => md,
        Err(e) => panic!("rendering failed: {e}"),
    }
}

#[test]
fn the_targets_table_has_a_row_per_target_with_its_verdict() {
    let mut md = String::new();
    let rows = [
        Target {
            name: "A".into(),
            goal: "at least 1.5x".into(),
            measured: "2.00x".into(),
            status: Status::Met,
        },
        Target {
            name: "B".into(),
            goal: "under 1 s".into(),
            measured: "1.2 s".into(),
            status: Status::NotMet,
        },
    ];
    targets_table(&mut md, &rows).unwrap();
    assert_eq!(
        md,
        "## Targets\n\n\
         | Target | Goal | Measured in this run | Status |\n\
         | --- | --- | --- | --- |\n\
         | A | at least 1.5x | 2.00x | **met** |\n\
         | B | under 1 s | 1.2 s | **not met** |\n\n"
    );
}

#[test]
fn the_side_by_side_table_shows_each_client_against_the_floor_and_the_best_peer() {
    let md = render_of(&results(vec![(
        "headline",
        headline(2.0, 200.0, 2.2, 100.0),
    )]));
    let rows: Vec<&str> = md
        .lines()
        .skip_while(|l| !l.starts_with("## Side by side: 1 GiB file"))
        .filter(|l| l.starts_with("| "))
        .take(5)
        .collect();
    assert_eq!(
        rows,
        [
            "| Client | Throughput MiB/s | Upload s | CPU s/GiB | CPU vs floor | Peak RSS MiB | RSS bound MiB | Part size | Parallel parts | Conns / h1 / h2 requests | Server CPU s/GiB | Runs ok |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
            "| SHA-1 x2 floor | 500 | 2.05 | 2.00 | 1.00x | 10 | – | – | – | – | – | 1/1 |",
            "| box-uploads (library) | 200 = 2.00x best peer | 5.12 | 2.20 | 1.10x | 40 | 352 | 32 MiB | default | – | – | 1/1 |",
            "| boxsdk 3 chunked (Python) | 100 | 10.24 | 4.00 | 2.00x | 300 | – | 32 MiB | default | – | – | 1/1 |",
        ]
    );
}

#[test]
fn the_report_speaks_of_its_targets_and_the_defaults_it_read() {
    let md = render_of(&results(vec![(
        "headline",
        headline(2.0, 200.0, 2.2, 100.0),
    )]));
    assert!(md.contains("## Targets\n"));
    assert!(!md.to_lowercase().contains("issue"));
    assert!(md.contains("(the text comes from `bench/src/markdown/`)"));
    assert!(md.contains(&format!(
        "else the engine's adaptive ceiling, {}",
        crate::defaults::engine_max_concurrency()
    )));
    assert!(md.contains(
        "**Part size** is the emulator's, as on Box: 8 MiB below 512 MiB, 32 MiB from 512 MiB, \
         doubled while a file would need more than 10000 parts; the sweeps force it"
    ));
    assert!(md.contains(
        "| `loopback`, 1 GiB: engine at default settings vs the best peer | at least 1.5x | \
         2.00x: 200 MiB/s vs boxsdk 3 chunked (Python) 100 MiB/s (medians) | **met** |"
    ));
}

#[test]
fn the_version_reuse_section_shows_each_client_side_by_side_with_the_ratios() {
    use crate::results::version_reuse::sample::{case, client};
    use crate::results::version_reuse::{BOXSDK10, BOXSDK3, ENGINE_FULL, ENGINE_REUSE};
    use crate::results::{ClientRun, VersionClient};

    let measured = |key: &str, label: &str, s: f64, sent_mib: u64, plans: u64| VersionClient {
        run: ClientRun {
            label: label.into(),
            ..client(key, Some(s), true).run
        },
        bytes_sent: Some(sent_mib << 20),
        part_requests: Some(sent_mib / 32),
        plan_requests: Some(plans),
        plan_hits: Some(32 - sent_mib.min(1024) / 32),
        plan_misses: Some(sent_mib / 32),
        parts_reused: Some(30),
        part_bytes_reused: Some(30 << 25),
        intact: true,
        cpu_s: Some(3.5),
        max_rss_mib: Some(41.0),
        load_avg_1m: Some(1.5),
        ..client(key, Some(s), true)
    };
    let mut ours = measured(ENGINE_REUSE, "engine, reuse", 4.0, 64, 1);
    ours.first_reused_s = Some(1.5);
    ours.commit_s = Some(0.5);
    let mut full = measured(ENGINE_FULL, "engine, no reuse", 40.0, 1024, 0);
    full.commit_s = Some(0.25);
    let mut r = results(vec![]);
    r.version_reuse = vec![case(vec![
        ours,
        full,
        measured(BOXSDK10, "boxsdk 10", 10.0, 64, 32),
        VersionClient::not_measured(BOXSDK3, "boxsdk 3", "", "--skip-boxsdk3".into()),
    ])];
    let md = render_of(&r);
    assert!(
        md.contains("## New version with one changed region: `wan`\n"),
        "{md}"
    );
    assert!(md.contains(
        "| engine, reuse | 4.00 | – | 64 MiB | 2 | 1 | 30 / 2 | 30 (960 MiB) | yes | 3.50 | 41 | 1.5 |"
    ));
    assert!(md.contains(
        "| engine, no reuse | 40.00 | 10.00x | 1 GiB | 32 | 0 | 0 / 32 | 30 (960 MiB) | yes |"
    ));
    assert!(md.contains("| boxsdk 10 | 10.00 | 2.50x | 64 MiB | 2 | 32 | 30 / 2 |"));
    assert!(md.contains("| boxsdk 3 | skipped: --skip-boxsdk3 |"));
    assert!(md.contains("- boxsdk 3 was not measured: --skip-boxsdk3\n"));
    // The targets, in the table at the top and beside the section.
    assert!(md.contains(
        "- Target: New version, one changed region (`wan`, 1 GiB, 3 MiB changed): engine vs a \
         full upload (the engine, reuse off) — at least 10x faster: **met** (10.0x: 4.00 s vs \
         40.00 s; 64 MiB vs 1 GiB sent; 1 vs 0 plan requests)."
    ));
    assert!(md.contains("at least 3x faster | 2.5x: 4.00 s vs 10.00 s; 64 MiB vs 64 MiB sent; 1 vs 32 plan requests | **not met** |"));
    // The engine's phases and what the profile allows.
    assert!(md.contains(
        "(1 request(s) here), so its first answer (the first reused part) came 1.50 s in"
    ));
    assert!(md.contains(
        "In the next 2.00 s it hashed the rest of the file and sent the 2 missed part(s)"
    ));
    assert!(md.contains("took the last 0.50 s (the full upload's commit: 0.25 s)."));
    assert!(md.contains("takes at least 2.71 s"));
    assert!(md.contains("about 3.2x, below the 10x target"));
}

#[test]
fn without_the_case_there_is_no_section() {
    let md = render_of(&results(vec![]));
    assert!(!md.contains("New version with one changed region"));
}

#[test]
fn the_tls_sections_show_the_https_table_traffic_and_the_cost_against_plain() {
    let mut tls = crate::results::fixture::over_tls(headline(2.0, 150.0, 2.6, 100.0));
    tls[1].traffic = Some(crate::emulator::Traffic {
        connections: 1,
        http1: 0,
        http2: 35,
    });
    let md = render_of(&results(vec![
        ("headline", headline(2.0, 200.0, 2.2, 100.0)),
        ("loopback-tls", tls),
    ]));
    assert!(
        md.contains("## `loopback-tls`: side by side over HTTPS, 1 GiB file\n"),
        "{md}"
    );
    assert!(md.contains("| 40 | 352 | 32 MiB | default | 1 / 0 / 35 | – | 1/1 |"));
    assert!(md.contains("## What TLS costs the client\n"));
    assert!(md.contains(
        "| `loopback-tls` vs `loopback` | 1 GiB | box-uploads (library) | 2.20 | 2.60 | 1.18x |"
    ));
}
