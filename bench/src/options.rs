//! The command line of `cargo xtask bench`: its usage text and the options it parses.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::files::{human_size, parse_size, GIB};
use crate::profile;
use crate::small_case;

/// The help text; the profiles and the many-small-files case are described from their
/// settings.
fn usage() -> String {
    let shaped: Vec<String> = profile::SHAPED
        .iter()
        .filter(|p| !p.tls)
        .map(|p| {
            format!(
                "{} (--net {}, a {} file)",
                p.name,
                p.net_spec(),
                human_size(p.size)
            )
        })
        .collect();
    format!(
        "usage: cargo xtask bench [OPTIONS]
       (= cargo run --release -p box-uploads-bench -- [OPTIONS])

Starts box-emulator on 127.0.0.1, generates test files under target/bench/files (once), and
measures this project's engine (library and box-upload CLI), Box's Python SDKs (boxsdk 10.x
upload_big_file in target/bench/venv; boxsdk 3.x's chunked uploader, 5 threads, in
target/bench/venv-boxsdk3), Box's Node SDK (box-node-sdk 10.x uploadBigFile, in
target/bench/node) and a two-pass SHA-1 floor, under the network profiles: loopback (no
shaping),
{shaped}, each also over HTTPS (loopback-tls, wan-tls, far-tls: a throwaway CA made with
openssl, trusted by every client). Writes results.json and SVG plots into
bench/results/ and the report BENCHMARKS.md at the workspace root.

  --profile NAME        run only this profile: {names} (repeatable; default all;
                        --quick: all but wan-tls and far-tls)
  --profile-size NAME=SIZE
                        the file of a shaped profile (default wan=1GiB, far=256MiB;
                        --quick: 64MiB each)
  --slow-runs N         runs of the sequential SDKs (boxsdk 10, box-node-sdk) on shaped
                        profiles (default 1: their time is the profile's conn rate)
  --plan                print the cases and an estimate of the duration; measure nothing
  --quick               small files (loopback 64 and 128 MiB; see --profile-size), one run
                        each, {quick_files} small files, output under target/bench/quick/ (a smoke test)
  --runs N              runs of each case (default 3; --quick: 1)
  --big-runs N          runs of each case on files over 1 GiB (default: as --runs)
  --headline-size SIZE  the loopback file of the side-by-side comparison (default 1GiB)
  --sizes LIST          file sizes of the loopback size sweep (default 64MiB,256MiB,1GiB,4GiB)
  --concurrency LIST    loopback concurrency sweep of the engine (default 1,2,4,8)
  --part-sizes LIST     loopback part-size sweep of the engine (default 8MiB,32MiB,64MiB)
  --sdk-max-size SIZE   largest file given to Box's SDKs in the size sweep (default 4GiB)
  --skip-cli            do not measure the box-upload CLI
  --skip-boxsdk         do not measure boxsdk 10.x
  --skip-node           do not measure Box's Node SDK
  --skip-boxsdk3        do not measure boxsdk 3.x (chunked uploader, and on small files)
  --skip-codegen        do not time `xtask codegen` (our spec, and Box's whole API)
  --small-files         run only the many-small-files case ({files} x {kib} KiB under
                        rate-limit-uploads={uploads} and rate-limit={requests}; part of the full run
                        with the loopback profile) and merge its figures into the existing
                        results.json and report
  --small-files-count N files of that case (default {files}; --quick: {quick_files})
  --version-reuse       run only the new-version case (a file uploaded, {changed} changed in
                        place in its middle, uploaded again as a new version by the engine
                        with part reuse, the engine without it, boxsdk 10.x and boxsdk 3.x) on
                        the wan and far profiles (or the plain shaped --profile(s) given), and
                        merge its figures into the existing results.json and report
  --version-size SIZE   that case's file (default: 1GiB on every profile; --quick: the
                        profile's quick size, 64MiB)
  --out DIR             where results.json and the SVGs go (default bench/results)
  --report FILE         the Markdown report (default BENCHMARKS.md)
  --emulator-data DIR   the emulator's data directory, emptied before every run (default: a
                        directory in /dev/shm when it has room for the largest upload twice,
                        else target/bench/emulator-data)
  --from-json FILE      measure nothing: rewrite the report and plots from an earlier
                        results.json (into its directory, unless --out)
  -h, --help            this help

Needs: python3 with venv and pip (PyPI), npm and node (npm registry; else the Node column is
skipped), the openssl command for the HTTPS profiles (else they are not measured), and preferably GNU time (`apt-get install time`) for exact CPU and peak-RSS figures
(without it the bench polls /proc).",
        shaped = shaped.join(" and\n"),
        names = profile::names().join(", "),
        files = small_case::FILES,
        quick_files = small_case::QUICK_FILES,
        kib = small_case::FILE_SIZE >> 10,
        uploads = small_case::upload_limit(),
        requests = small_case::request_limit(),
        changed = human_size(crate::version_case::CHANGED_LEN),
    )
}

/// What the command line asked for; `None` fields take the plan's defaults.
pub struct Options {
    pub quick: bool,
    pub runs: Option<usize>,
    pub big_runs: Option<usize>,
    pub headline: Option<u64>,
    pub sizes: Option<Vec<u64>>,
    pub concurrencies: Option<Vec<usize>>,
    pub part_sizes: Option<Vec<u64>>,
    pub sdk_max_size: u64,
    pub skip_cli: bool,
    pub skip_boxsdk: bool,
    pub skip_node: bool,
    pub skip_boxsdk3: bool,
    pub skip_codegen: bool,
    pub small_files: bool,
    pub small_files_count: u64,
    /// `--version-reuse`: only the new-version-with-one-changed-region case.
    pub version_reuse: bool,
    pub version_size: Option<u64>,
    pub out: Option<PathBuf>,
    pub report: Option<PathBuf>,
    pub emulator_data: Option<PathBuf>,
    pub from_json: Option<PathBuf>,
    /// `--profile`, in the order given; empty: every profile.
    pub profiles: Vec<&'static str>,
    pub profile_sizes: BTreeMap<&'static str, u64>,
    pub slow_runs: Option<usize>,
    small_files_count_set: bool,
    /// `--plan`: print the cases and an estimate of the duration, measure nothing.
    pub plan_only: bool,
}

fn list<T>(s: &str, parse: impl Fn(&str) -> Result<T, String>) -> Result<Vec<T>, String> {
    s.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|p| parse(p.trim()))
        .collect()
}

impl Options {
    /// `None` for `--help`.
    pub fn parse(args: &[String]) -> Result<Option<Options>, String> {
        let mut o = Options {
            quick: false,
            runs: None,
            big_runs: None,
            headline: None,
            sizes: None,
            concurrencies: None,
            part_sizes: None,
            sdk_max_size: 4 * GIB,
            skip_cli: false,
            skip_boxsdk: false,
            skip_node: false,
            skip_boxsdk3: false,
            skip_codegen: false,
            small_files: false,
            small_files_count: small_case::FILES,
            version_reuse: false,
            version_size: None,
            out: None,
            report: None,
            emulator_data: None,
            from_json: None,
            profiles: Vec::new(),
            profile_sizes: BTreeMap::new(),
            slow_runs: None,
            small_files_count_set: false,
            plan_only: false,
        };
        let profile_name = |v: &str| -> Result<&'static str, String> {
            profile::names()
                .into_iter()
                .find(|n| *n == v)
                .ok_or_else(|| format!("unknown profile {v:?} ({})", profile::names().join(", ")))
        };
        let mut iter = args.iter();
        let count = |v: &str| -> Result<usize, String> {
            v.parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("expected a positive number, got {v:?}"))
        };
        while let Some(arg) = iter.next() {
            let mut value = || {
                iter.next()
                    .cloned()
                    .ok_or_else(|| format!("{arg} needs a value\n\n{}", usage()))
            };
            match arg.as_str() {
                "-h" | "--help" => {
                    println!("{}", usage());
                    return Ok(None);
                }
                "--quick" => o.quick = true,
                "--runs" => o.runs = Some(count(&value()?)?),
                "--big-runs" => o.big_runs = Some(count(&value()?)?),
                "--headline-size" => o.headline = Some(parse_size(&value()?)?),
                "--sizes" => o.sizes = Some(list(&value()?, parse_size)?),
                "--concurrency" => o.concurrencies = Some(list(&value()?, count)?),
                "--part-sizes" => o.part_sizes = Some(list(&value()?, parse_size)?),
                "--sdk-max-size" => o.sdk_max_size = parse_size(&value()?)?,
                "--skip-cli" => o.skip_cli = true,
                "--skip-boxsdk" => o.skip_boxsdk = true,
                "--skip-node" => o.skip_node = true,
                "--skip-boxsdk3" => o.skip_boxsdk3 = true,
                "--skip-codegen" => o.skip_codegen = true,
                "--small-files" => o.small_files = true,
                "--version-reuse" => o.version_reuse = true,
                "--version-size" => o.version_size = Some(parse_size(&value()?)?),
                "--small-files-count" => {
                    o.small_files_count = count(&value()?)? as u64;
                    o.small_files_count_set = true;
                }
                "--profile" => {
                    let name = profile_name(&value()?)?;
                    if !o.profiles.contains(&name) {
                        o.profiles.push(name);
                    }
                }
                "--profile-size" => {
                    let v = value()?;
                    let (name, size) = v
                        .split_once('=')
                        .ok_or_else(|| format!("--profile-size takes NAME=SIZE, got {v:?}"))?;
                    let name = profile_name(name)?;
                    if name == profile::LOOPBACK {
                        return Err("loopback's size is --headline-size".into());
                    }
                    o.profile_sizes.insert(name, parse_size(size)?);
                }
                "--slow-runs" => o.slow_runs = Some(count(&value()?)?),
                "--plan" => o.plan_only = true,
                "--out" => o.out = Some(PathBuf::from(value()?)),
                "--report" => o.report = Some(PathBuf::from(value()?)),
                "--emulator-data" => o.emulator_data = Some(PathBuf::from(value()?)),
                "--from-json" => o.from_json = Some(PathBuf::from(value()?)),
                other => return Err(format!("unknown option {other:?}\n\n{}", usage())),
            }
        }
        if o.version_reuse && o.small_files {
            return Err("--version-reuse and --small-files each run one case: give one".into());
        }
        if o.version_size.is_some() && !o.version_reuse {
            return Err("--version-size applies only with --version-reuse".into());
        }
        if o.version_reuse
            && o.profiles
                .iter()
                .any(|p| profile::shaped(p).is_none_or(|p| p.tls))
        {
            return Err(
                "--version-reuse runs on the plain shaped profiles (wan, far), not loopback or \
                 HTTPS"
                    .into(),
            );
        }
        if o.quick && !o.small_files_count_set {
            o.small_files_count = small_case::QUICK_FILES;
        }
        Ok(Some(o))
    }

    /// The profiles of `--version-reuse`: the `--profile`s given, else every plain shaped
    /// profile (`wan`, whose targets are the stated ones, then `far`).
    pub fn version_profiles(&self) -> Vec<profile::Profile> {
        profile::SHAPED
            .iter()
            .copied()
            .filter(|p| !p.tls && (self.profiles.is_empty() || self.profiles.contains(&p.name)))
            .collect()
    }

    /// The file of `--version-reuse` on `p`: `--version-size`, else 1 GiB (in 32 MiB parts)
    /// on every profile, or the profile's quick size with `--quick`.
    pub fn version_size(&self, p: &profile::Profile) -> u64 {
        self.version_size.unwrap_or(if self.quick {
            p.quick_size
        } else {
            crate::version_case::DEFAULT_SIZE
        })
    }

    pub fn wants(&self, profile: &str) -> bool {
        self.profiles.is_empty() || self.profiles.contains(&profile)
    }
}

/// The command as the user typed it, for the report.
pub fn command_line(args: &[String]) -> String {
    let mut command = String::from("cargo xtask bench");
    for a in args {
        command.push(' ');
        command.push_str(a);
    }
    command
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::MIB;

    fn parse(args: &[&str]) -> Result<Options, String> {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        Options::parse(&args).map(|o| o.unwrap_or_else(|| panic!("--help was not asked")))
    }

    #[test]
    fn version_reuse_runs_on_wan_at_its_size_unless_told() {
        let o = parse(&["--version-reuse"]).unwrap();
        let names: Vec<&str> = o.version_profiles().iter().map(|p| p.name).collect();
        assert_eq!(names, vec!["wan", "far"]);
        let [wan, far] = [o.version_profiles()[0], o.version_profiles()[1]];
        assert_eq!(o.version_size(&wan), GIB);
        assert_eq!(o.version_size(&far), GIB, "the same file on both profiles");
        let o = parse(&["--version-reuse", "--quick"]).unwrap();
        assert_eq!(o.version_size(&wan), 64 * MIB);
        let o = parse(&[
            "--version-reuse",
            "--profile",
            "far",
            "--version-size",
            "128MiB",
        ])
        .unwrap();
        let far = o.version_profiles()[0];
        assert_eq!(far.name, "far");
        assert_eq!(o.version_profiles().len(), 1);
        assert_eq!(o.version_size(&far), 128 * MIB);
    }

    #[test]
    fn version_reuse_refuses_options_that_do_not_apply() {
        assert!(parse(&["--version-size", "1GiB"]).is_err());
        assert!(parse(&["--version-reuse", "--small-files"]).is_err());
        assert!(parse(&["--version-reuse", "--profile", "loopback"]).is_err());
        assert!(parse(&["--version-reuse", "--profile", "wan-tls"]).is_err());
        // Both plain shaped profiles, one after the other.
        let both = parse(&["--version-reuse", "--profile", "wan", "--profile", "far"]).unwrap();
        assert_eq!(both.version_profiles().len(), 2);
    }
}
