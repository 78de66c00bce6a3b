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
            "| Client | Throughput MiB/s | Upload s | CPU s/GiB | CPU vs floor | Peak RSS MiB | RSS bound MiB | Part size | Parallel parts | Server CPU s/GiB | Runs ok |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
            "| SHA-1 x2 floor | 500 | 2.05 | 2.00 | 1.00x | 10 | – | – | – | – | 1/1 |",
            "| box-uploads (library) | 200 = 2.00x best peer | 5.12 | 2.20 | 1.10x | 40 | 72 | 32 MiB | default | – | 1/1 |",
            "| boxsdk 3 chunked (Python) | 100 | 10.24 | 4.00 | 2.00x | 300 | – | 32 MiB | default | – | 1/1 |",
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
