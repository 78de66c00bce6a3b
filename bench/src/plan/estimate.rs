//! `--plan`: the cases of the run and an estimate of its duration, from rough rates of each
//! client (loopback: as measured on the 2-core machine of BENCHMARKS.md, HTTPS alike; shaped:
//! what the profile allows a client of its parallelism, over HTTPS alike: the engine speaks
//! HTTP/1.1 by default, a connection per part in flight).

use super::{distinct_runs, CaseSpec, Client, Plan, CLIENTS};
use crate::files::{human_size, MIB};
use crate::options::Options;
use crate::profile;
use crate::small_case;
use crate::version_case::CHANGED_LEN;

/// Prints the plan and its estimate; measures nothing.
pub fn print(plan: &Plan, opts: &Options) {
    let mut uploaders: Vec<Client> = CLIENTS.to_vec();
    uploaders.retain(|c| match c {
        Client::Cli => !opts.skip_cli,
        Client::Boxsdk => !opts.skip_boxsdk,
        Client::Boxsdk3 => !opts.skip_boxsdk3,
        Client::Node => !opts.skip_node,
        _ => true,
    });
    let groups = plan.groups(&uploaders);
    let mut seen = std::collections::BTreeSet::new();
    let mut total_s = 0.0;
    for (name, cases) in &groups {
        let mut group_s = 0.0;
        println!("== {name}");
        for c in cases {
            if !seen.insert(c.key()) {
                continue;
            }
            let each = run_s(c);
            group_s += each * c.runs as f64;
            println!("  {:<44} x{}  ~{:.0} s each", c.describe(), c.runs, each);
        }
        println!("  group: ~{:.1} min", group_s / 60.0);
        total_s += group_s;
    }
    if plan.loopback {
        // Each client in turn at the ceiling, plus setup.
        let ceiling = f64::from(small_case::UPLOADS_PER_S);
        let small = (opts.small_files_count as f64 / ceiling + 10.0) * 4.0;
        println!("== small files: ~{:.1} min", small / 60.0);
        total_s += small;
    }
    if !opts.skip_codegen {
        println!("== codegen timings: ~1 min (builds excluded)");
        total_s += 60.0;
    }
    println!(
        "{} measured runs; estimated ~{:.0} min on an idle 2-core machine, builds and \
         SDK installs excluded",
        distinct_runs(&groups),
        total_s / 60.0
    );
}

/// Rough seconds of one run of a case (start-up included).
fn run_s(c: &CaseSpec) -> f64 {
    let mib = c.size as f64 / MIB as f64;
    let startup = match c.client {
        Client::Boxsdk | Client::Boxsdk3 | Client::Node => 2.0,
        _ => 0.5,
    };
    let rate = match profile::shaped(c.profile) {
        None => match c.client {
            Client::Floor => 500.0,
            Client::Node => 70.0,
            Client::Boxsdk | Client::Boxsdk3 => 120.0,
            _ => 150.0,
        },
        Some(p) => {
            let (conn, link) = (p.conn_mib_s as f64, p.link_mib_s as f64);
            let parts = c.size.div_ceil(c.effective_part_size()) as f64;
            let rtts = parts * p.rtt_ms as f64 / 1000.0;
            let parallel = match c.client {
                Client::Boxsdk | Client::Node => 1.0,
                Client::Boxsdk3 => 5.0,
                _ => c.concurrency.map_or(link / conn, |n| n as f64),
            };
            let transfer = mib / (parallel * conn).min(link);
            return startup + transfer + rtts / parallel;
        }
    };
    startup + mib / rate
}

/// `--plan --version-reuse`: each profile's file and a rough duration (the first upload at
/// `link`, then the engine with reuse, the engine without, boxsdk 10 and boxsdk 3.x, each
/// at what the profile allows it); measures nothing.
pub fn print_version_reuse(opts: &Options) {
    let mut total_s = 0.0;
    for p in opts.version_profiles() {
        let size = opts.version_size(&p);
        let part = crate::defaults::emulator_part_size(size, None);
        let parts = size.div_ceil(part) as f64;
        let (mib, part_mib) = (size as f64 / MIB as f64, part as f64 / MIB as f64);
        let (conn, link, rtt) = (
            p.conn_mib_s as f64,
            p.link_mib_s as f64,
            p.rtt_ms as f64 / 1000.0,
        );
        let full = mib / link + 2.0;
        let changed = 2.0 * part_mib / conn + 2.0;
        // boxsdk 10: a plan round trip per part, the changed parts one at a time.
        let boxsdk10 = parts * 2.0 * rtt + changed + 2.0;
        let boxsdk3 = mib / (5.0 * conn).min(link) + parts * rtt / 5.0 + 2.0;
        let each = full + changed + full + boxsdk10 + boxsdk3;
        println!(
            "== version reuse on {}: {} file in {} parts of {}, {} changed: ~{:.1} min",
            p.name,
            human_size(size),
            parts,
            human_size(part),
            human_size(CHANGED_LEN),
            each / 60.0
        );
        total_s += each;
    }
    println!(
        "estimated ~{:.0} min on an idle 2-core machine, builds and SDK installs excluded",
        total_s / 60.0
    );
}
