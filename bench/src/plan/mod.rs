//! What to run: the clients, the cases of each group (the loopback file, sweeps, and one group
//! per shaped profile), and how many runs each gets, from the command line's options.

mod client;
pub mod estimate;

pub use client::{CaseSpec, Client, CLIENTS};

use crate::defaults;
use crate::files::{GIB, MIB};
use crate::options::Options;
use crate::profile::{self, Profile};

/// The pinned concurrency measured beside the engine's adaptive default on shaped profiles,
/// to show what adaptivity buys: 4 parts, within the 3 to 5 that Box's guide suggests for
/// uploaders that pick a fixed number.
pub const PINNED_CONCURRENCY: usize = 4;

/// A named group of cases: the report's tables and plots read them by name.
pub type Group = (String, Vec<CaseSpec>);

/// What to run.
pub struct Plan {
    pub headline: u64,
    pub sizes: Vec<u64>,
    pub concurrencies: Vec<usize>,
    pub part_sizes: Vec<u64>,
    pub sweep_part: u64,
    pub sweep_conc: usize,
    pub runs: usize,
    pub big_runs: usize,
    pub sdk_max_size: u64,
    /// Whether the loopback groups run.
    pub loopback: bool,
    /// Whether the side-by-side file runs over HTTPS on loopback too.
    pub loopback_tls: bool,
    /// The shaped profiles to run, each with its file size.
    pub shaped: Vec<(Profile, u64)>,
    /// Runs of the sequential SDKs on shaped profiles.
    pub slow_runs: usize,
}

impl Plan {
    pub fn new(o: &Options) -> Plan {
        let (headline, sizes, concurrencies, part_sizes, sweep_part) = if o.quick {
            (
                128 * MIB,
                vec![64 * MIB, 128 * MIB],
                vec![1, 4],
                vec![8 * MIB, 32 * MIB],
                8 * MIB,
            )
        } else {
            (
                GIB,
                vec![64 * MIB, 256 * MIB, GIB, 4 * GIB],
                vec![1, 2, 4, 8],
                vec![8 * MIB, 32 * MIB, 64 * MIB],
                32 * MIB,
            )
        };
        let headline = o.headline.unwrap_or(headline);
        let runs = o.runs.unwrap_or(if o.quick { 1 } else { 3 });
        Plan {
            headline,
            sizes: o.sizes.clone().unwrap_or(sizes),
            concurrencies: o.concurrencies.clone().unwrap_or(concurrencies),
            part_sizes: o.part_sizes.clone().unwrap_or(part_sizes),
            sweep_part: if o.headline.is_some() {
                defaults::emulator_part_size(headline, None)
            } else {
                sweep_part
            },
            sweep_conc: defaults::engine_start_concurrency(),
            runs,
            big_runs: o.big_runs.unwrap_or(runs),
            sdk_max_size: o.sdk_max_size,
            loopback: o.wants(profile::LOOPBACK),
            loopback_tls: o.wants(profile::LOOPBACK_TLS),
            // A quick run proves the HTTPS plumbing on loopback alone, unless asked for more.
            shaped: profile::SHAPED
                .iter()
                .filter(|p| o.wants(p.name) && !(o.quick && p.tls && o.profiles.is_empty()))
                .map(|p| {
                    let size = o.profile_sizes.get(p.name).copied().unwrap_or(if o.quick {
                        p.quick_size
                    } else {
                        p.size
                    });
                    (*p, size)
                })
                .collect(),
            slow_runs: o.slow_runs.unwrap_or(1),
        }
    }

    /// Sizes of the loopback groups (plain and HTTPS).
    pub fn loopback_sizes(&self) -> Vec<u64> {
        let mut s = Vec::new();
        if self.loopback {
            s.extend(self.sizes.iter().copied());
        }
        if self.loopback || self.loopback_tls {
            s.push(self.headline);
        }
        s.sort_unstable();
        s.dedup();
        s
    }

    pub fn runs_for(&self, size: u64) -> usize {
        if size > GIB {
            self.big_runs
        } else {
            self.runs
        }
    }

    /// Every file the run uploads.
    pub fn all_sizes(&self) -> Vec<u64> {
        let mut s = self.loopback_sizes();
        s.extend(self.shaped.iter().map(|(_, size)| *size));
        s.sort_unstable();
        s.dedup();
        s
    }

    fn case(&self, client: Client, size: u64) -> CaseSpec {
        CaseSpec::new(client, size, self.runs_for(size))
    }

    /// Every group of the run for these uploaders, in the order they run.
    pub fn groups(&self, uploaders: &[Client]) -> Vec<Group> {
        let mut groups = Vec::new();
        if self.loopback {
            groups.extend(self.loopback_groups(uploaders));
        }
        if self.loopback_tls {
            // The floor is the same work over either protocol: the plain run's, if it ran.
            groups.push((
                profile::LOOPBACK_TLS.to_string(),
                std::iter::once(self.floor_case(self.headline))
                    .chain(uploaders.iter().map(|&c| CaseSpec {
                        profile: profile::LOOPBACK_TLS,
                        ..self.case(c, self.headline)
                    }))
                    .collect(),
            ));
        }
        for (p, size) in &self.shaped {
            groups.push((p.name.to_string(), self.shaped_group(p, *size, uploaders)));
        }
        groups
    }

    /// The floor of each loopback file, with two more runs: cheap, and as a floor worth a
    /// steadier median.
    fn floor_case(&self, size: u64) -> CaseSpec {
        let mut c = self.case(Client::Floor, size);
        c.runs += 2;
        c
    }

    /// The loopback groups: the floor, the side-by-side headline file, the size sweep and the
    /// engine's concurrency and part-size sweeps.
    fn loopback_groups(&self, uploaders: &[Client]) -> Vec<Group> {
        let mut groups = Vec::new();
        let floor_case = |size: u64| self.floor_case(size);
        groups.push((
            "floor".to_string(),
            self.loopback_sizes().into_iter().map(floor_case).collect(),
        ));
        groups.push((
            "headline".to_string(),
            std::iter::once(floor_case(self.headline))
                .chain(uploaders.iter().map(|&c| self.case(c, self.headline)))
                .collect(),
        ));
        let mut size_cases = Vec::new();
        for &size in &self.sizes {
            size_cases.push(floor_case(size));
            for &c in uploaders {
                if c.ours() || size <= self.sdk_max_size {
                    size_cases.push(self.case(c, size));
                }
            }
        }
        groups.push(("size".to_string(), size_cases));
        // The sweeps pin what they vary, and raise the memory cap where the default would
        // lower the concurrency they ask for.
        let cap =
            |conc: usize, part: u64| defaults::engine_memory_cap().max((conc as u64 + 1) * part);
        groups.push((
            "concurrency".to_string(),
            self.concurrencies
                .iter()
                .map(|&c| CaseSpec {
                    part_size: Some(self.sweep_part),
                    concurrency: Some(c),
                    memory_cap: Some(cap(c, self.sweep_part)),
                    ..self.case(Client::Engine, self.headline)
                })
                .collect(),
        ));
        groups.push((
            "part_size".to_string(),
            self.part_sizes
                .iter()
                .map(|&p| CaseSpec {
                    part_size: Some(p),
                    concurrency: Some(self.sweep_conc),
                    memory_cap: Some(cap(self.sweep_conc, p)),
                    ..self.case(Client::Engine, self.headline)
                })
                .collect(),
        ));
        groups
    }

    /// A shaped profile's one group: every uploader at its defaults on the profile's file, and
    /// the engine pinned at [`PINNED_CONCURRENCY`] parts in flight to show what adaptivity
    /// buys. The sequential SDKs run `slow_runs` times.
    fn shaped_group(&self, p: &Profile, size: u64, uploaders: &[Client]) -> Vec<CaseSpec> {
        let mut cases = Vec::new();
        for &c in uploaders {
            cases.push(CaseSpec {
                profile: p.name,
                runs: if c.sequential() {
                    self.slow_runs
                } else {
                    self.runs
                },
                ..self.case(c, size)
            });
            if c == Client::Engine {
                cases.push(CaseSpec {
                    profile: p.name,
                    concurrency: Some(PINNED_CONCURRENCY),
                    runs: self.runs,
                    ..self.case(c, size)
                });
            }
        }
        cases
    }
}

/// The number of runs of the groups' cases, each case counted once (a later group reuses an
/// earlier group's figures of the same case).
pub fn distinct_runs(groups: &[Group]) -> usize {
    let mut seen = std::collections::BTreeSet::new();
    groups
        .iter()
        .flat_map(|(_, cases)| cases)
        .filter(|c| seen.insert(c.key()))
        .map(|c| c.runs)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(args: &[&str]) -> Plan {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        match Options::parse(&args) {
            Ok(Some(o)) => Plan::new(&o),
            other => panic!("options did not parse: {:?}", other.err()),
        }
    }

    #[test]
    fn the_part_size_sweep_pins_the_engines_starting_concurrency() {
        let p = plan(&["--profile", "loopback"]);
        let groups = p.groups(&CLIENTS);
        let (_, sweep) = groups
            .iter()
            .find(|(name, _)| name == "part_size")
            .expect("a part-size group");
        assert!(sweep
            .iter()
            .all(|c| c.concurrency == Some(defaults::engine_start_concurrency())));
        assert!(sweep
            .iter()
            .all(|c| c.memory_cap >= Some(defaults::engine_memory_cap())));
    }

    #[test]
    fn shaped_profiles_pin_the_engine_beside_its_default() {
        let p = plan(&["--quick", "--profile", "far"]);
        let groups = p.groups(&[Client::Engine, Client::Boxsdk]);
        assert_eq!(groups.len(), 1);
        let (name, cases) = &groups[0];
        assert_eq!(name, "far");
        let conc: Vec<Option<usize>> = cases.iter().map(|c| c.concurrency).collect();
        assert_eq!(conc, vec![None, Some(PINNED_CONCURRENCY), None]);
        assert_eq!(distinct_runs(&groups), 3);
    }

    #[test]
    fn quick_runs_https_on_loopback_only_and_the_full_run_everywhere() {
        let names = |p: &Plan| -> Vec<String> {
            p.groups(&[Client::Engine])
                .into_iter()
                .map(|(n, _)| n)
                .filter(|n| n.ends_with("-tls"))
                .collect()
        };
        assert_eq!(names(&plan(&["--quick"])), vec!["loopback-tls"]);
        assert_eq!(
            names(&plan(&[])),
            vec!["loopback-tls", "wan-tls", "far-tls"]
        );
        let p = plan(&["--quick", "--profile", "far-tls"]);
        assert_eq!(names(&p), vec!["far-tls"]);
        let groups = p.groups(&[Client::Engine]);
        assert!(groups[0].1.iter().all(|c| c.profile == "far-tls"));
    }
}
