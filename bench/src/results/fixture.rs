//! Small results for the tests of the targets and the report: a loopback side-by-side group
//! (over plain HTTP or HTTPS), one size of the sweep, and the `wan` profile, each case with one
//! run of chosen figures.

use std::collections::BTreeMap;

use super::{CaseResult, ProfileRun, Results, RunRecord};
use crate::files::{GIB, MIB};
use crate::plan::{CaseSpec, Client};
use crate::profile;
use crate::setup::Machine;

/// One successful run: throughput MiB/s, client CPU s/GiB and peak RSS MiB, on a file of
/// `size` bytes.
pub fn run(size: u64, throughput: f64, cpu_s_per_gib: f64, rss_mib: f64) -> RunRecord {
    let gib = size as f64 / GIB as f64;
    let upload_s = size as f64 / MIB as f64 / throughput;
    RunRecord {
        ok: true,
        error: None,
        process_wall_s: upload_s,
        upload_s,
        user_s: cpu_s_per_gib * gib,
        sys_s: 0.0,
        cpu_s: cpu_s_per_gib * gib,
        cpu_s_per_gib,
        max_rss_mib: rss_mib,
        throughput_mib_s: throughput,
        ..RunRecord::failed(String::new(), 0.5)
    }
}

/// A case of `spec` with these runs, summarised.
pub fn case(spec: CaseSpec, runs: Vec<RunRecord>) -> CaseResult {
    let mut c = CaseResult::new(&spec);
    c.runs = runs;
    c.summarise();
    c
}

/// Results of a run from these cases, the groups naming them; the `wan` profile is listed when
/// a group of that name is given.
pub fn results(groups: Vec<(&str, Vec<CaseResult>)>) -> Results {
    let mut cases: Vec<CaseResult> = Vec::new();
    let mut keys = BTreeMap::new();
    for (name, group) in groups {
        keys.insert(
            name.to_string(),
            group.iter().map(|c| c.key.clone()).collect::<Vec<_>>(),
        );
        for c in group {
            if !cases.iter().any(|o| o.key == c.key) {
                cases.push(c);
            }
        }
    }
    let mut profiles = vec![ProfileRun {
        name: profile::LOOPBACK.into(),
        net: None,
        rtt_ms: None,
        conn_mib_s: None,
        link_mib_s: None,
        size: GIB,
        runs: 1,
        slow_runs: 1,
        size_reason: "the side-by-side file".into(),
        tls: false,
    }];
    if keys.contains_key(profile::LOOPBACK_TLS) {
        profiles.push(ProfileRun {
            name: profile::LOOPBACK_TLS.into(),
            tls: true,
            ..profiles[0].clone()
        });
    }
    if keys.contains_key("wan") {
        let wan = profile::shaped("wan").map(|p| ProfileRun {
            name: p.name.into(),
            net: Some(p.net_spec()),
            rtt_ms: Some(p.rtt_ms),
            conn_mib_s: Some(p.conn_mib_s as f64),
            link_mib_s: Some(p.link_mib_s as f64),
            size: GIB,
            runs: 1,
            slow_runs: 1,
            size_reason: "a minute for a sequential SDK".into(),
            tls: false,
        });
        profiles.extend(wan);
    }
    Results {
        command: "cargo xtask bench".into(),
        quick: false,
        runs: 1,
        big_runs: 1,
        machine: Machine {
            nproc: "2".into(),
            cpu_model: "test CPU".into(),
            memory: "8.0 GiB".into(),
            kernel: "Linux".into(),
            rustc: "rustc".into(),
            git: "abc1234".into(),
            date: "2026-01-01 00:00 UTC".into(),
            load_average_at_start: "0.1 0.1 0.1".into(),
        },
        load_average_at_end: "0.1 0.1 0.1".into(),
        measurement: "GNU time".into(),
        emulator_data_dir: "/dev/shm/test".into(),
        duration_s: 60.0,
        versions: BTreeMap::new(),
        headline_size: GIB,
        sweep_part_size: 32 * MIB,
        sweep_concurrency: 8,
        groups: keys,
        cases,
        codegen_check: None,
        notes: Vec::new(),
        small_files: None,
        profiles,
        codegen_whole_api: None,
        version_reuse: Vec::new(),
    }
}

/// The loopback side-by-side group: the floor at `floor_cpu` s/GiB, the engine at
/// `engine_tp` MiB/s and `engine_cpu` s/GiB (40 MiB peak RSS), and boxsdk 3 at `peer_tp`.
pub fn headline(floor_cpu: f64, engine_tp: f64, engine_cpu: f64, peer_tp: f64) -> Vec<CaseResult> {
    vec![
        case(
            CaseSpec::new(Client::Floor, GIB, 1),
            vec![run(GIB, 500.0, floor_cpu, 10.0)],
        ),
        case(
            CaseSpec::new(Client::Engine, GIB, 1),
            vec![run(GIB, engine_tp, engine_cpu, 40.0)],
        ),
        case(
            CaseSpec::new(Client::Boxsdk3, GIB, 1),
            vec![run(GIB, peer_tp, 4.0, 300.0)],
        ),
    ]
}

/// [`headline`]'s cases over HTTPS on loopback (the floor stays plain: the same work).
pub fn over_tls(cases: Vec<CaseResult>) -> Vec<CaseResult> {
    cases
        .into_iter()
        .map(|mut c| {
            if c.client != Client::Floor {
                c.profile = profile::LOOPBACK_TLS.into();
                c.key = format!("{}/{}", profile::LOOPBACK_TLS, c.key);
            }
            c
        })
        .collect()
}
