//! Where a run's outputs go and writing them: `results.json` (the results, and the targets
//! judged from them), the SVG plots beside it, and the Markdown report.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::markdown;
use crate::options::Options;
use crate::plots;
use crate::results::Results;
use crate::setup::Paths;
use crate::targets::Target;

/// What `results.json` holds: the results' fields and, beside them, the targets as this run
/// judged them (`--from-json` judges them anew, so reading ignores them).
#[derive(Serialize)]
struct Saved<'a> {
    #[serde(flatten)]
    results: &'a Results,
    targets: &'a [Target],
}

/// Where the figures and the report go: `--out`/`--report`, else `bench/results/` and
/// `BENCHMARKS.md` (under `target/bench/quick/` with `--quick`).
pub fn paths(paths: &Paths, opts: &Options) -> (PathBuf, PathBuf) {
    let (results, report) = if opts.quick {
        let q = paths.work.join("quick");
        (q.join("results"), q.join("BENCHMARKS.md"))
    } else {
        (
            paths.root.join("bench").join("results"),
            paths.root.join("BENCHMARKS.md"),
        )
    };
    (
        opts.out.clone().unwrap_or(results),
        opts.report.clone().unwrap_or(report),
    )
}

/// `--from-json`: the directory of the figures and the report, from the saved results.
pub fn rewrite_paths(
    paths: &Paths,
    opts: &Options,
    json: &Path,
    quick: bool,
) -> (PathBuf, PathBuf) {
    let out_dir = opts.out.clone().unwrap_or_else(|| {
        json.parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."))
    });
    let report = opts.report.clone().unwrap_or_else(|| {
        if quick {
            paths.work.join("quick").join("BENCHMARKS.md")
        } else {
            paths.root.join("BENCHMARKS.md")
        }
    });
    (out_dir, report)
}

/// Saved results; `Ok(None)` when there is no file.
pub fn read(json: &Path) -> Result<Option<Results>, String> {
    match std::fs::read_to_string(json) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| format!("cannot read {}: {e}", json.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {}: {e}", json.display())),
    }
}

/// Writes results.json and the SVGs into `out_dir`, and the Markdown report.
pub fn write(
    results: &Results,
    targets: &[Target],
    out_dir: &Path,
    report: &Path,
) -> Result<(), String> {
    std::fs::create_dir_all(out_dir)
        .map_err(|e| format!("cannot create {}: {e}", out_dir.display()))?;
    let json = serde_json::to_string_pretty(&Saved { results, targets })
        .map_err(|e| format!("cannot encode the results: {e}"))?;
    let save = |name: &str, text: &str| -> Result<PathBuf, String> {
        let path = out_dir.join(name);
        std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        Ok(path)
    };
    save("results.json", &format!("{json}\n"))?;
    plots::draw(results, &save)?;
    let report_dir = report
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let img = |name: &str| relative(&report_dir, &out_dir.join(name));
    let md = markdown::render(results, targets, &img)
        .map_err(|e| format!("cannot render {}: {e}", report.display()))?;
    std::fs::write(report, md).map_err(|e| format!("cannot write {}: {e}", report.display()))
}

/// `to` as a link from `from_dir` (as it is when it is not below it).
fn relative(from_dir: &Path, to: &Path) -> String {
    to.strip_prefix(from_dir)
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| to.to_path_buf())
        .to_string_lossy()
        .into_owned()
}
