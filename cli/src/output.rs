//! What `box-upload` shows: progress bars on stderr (only on a terminal, never with `-q`), the
//! committed file or the tree's report on stdout (as text or JSON), retries as they happen, and
//! messages and failures on stderr, each on one line after the program's name.

use std::fmt::Display;
use std::io::IsTerminal as _;
use std::time::Duration;

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use tokio::sync::watch;

use box_uploads::models::FileFull;
use box_uploads::tree::{FileOutcome, FileReport, TreeHandle, TreeReport};
use box_uploads::upload::{Progress, ProgressEvent, UploadHandle, UploadOutcome};

use crate::explain::{explain, plain_chain, Explained, Scene};
use crate::logging::Verbosity;

/// A line on stderr, after the program's name.
pub(crate) fn message(text: impl Display) {
    eprintln!("box-upload: {text}");
}

/// A failure on stderr: its message and hint on one line; with `-v` its details on a second;
/// with `--json`, `{"error": {...}}` on stdout too.
pub(crate) fn print_failure(x: &Explained, as_json: bool, verbosity: Verbosity) {
    message(x.line());
    if verbosity >= Verbosity::Verbose {
        message(format_args!("details: {}", x.details()));
    }
    if as_json {
        println!("{}", x.json());
    }
}

/// The failure and its causes, outermost first, on one line, each cause once.
pub(crate) fn failure_line(e: &anyhow::Error) -> String {
    plain_chain(e.as_ref())
}

/// An error and its causes, outermost first, on one line, each cause once.
pub(crate) fn chain_line(e: &(dyn std::error::Error + 'static)) -> String {
    plain_chain(e)
}

/// `text` with every run of white space (new lines too) made one space.
pub(crate) fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A progress bar on stderr, or nothing when stderr is not a terminal (a log or a pipe gets no
/// bar) or `-q` was given.
#[derive(Clone)]
pub(crate) struct Bar(Option<ProgressBar>);

impl Bar {
    /// Removes the bar, so that what is printed next starts on a clean line.
    pub(crate) fn clear(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }

    /// A note after the bar's own message (the last retry).
    fn note(&self, text: String) {
        if let Some(bar) = &self.0 {
            bar.set_prefix(text);
        }
    }
}

/// Shows the last retry of an upload on its bar (the lines in the log are `logging`'s).
pub(crate) fn follow_retries(handle: &UploadHandle, bar: Bar) {
    if bar.0.is_none() {
        return;
    }
    let mut events = handle.events();
    tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(ProgressEvent::Retry {
                    attempt,
                    reason,
                    wait,
                    ..
                }) => bar.note(format!(
                    "| retry {attempt}: {reason}, waiting {:.1}s",
                    wait.as_secs_f64()
                )),
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            }
        }
    });
}

/// Bytes and parts of a single upload.
pub(crate) fn upload_bar(handle: &UploadHandle, show: bool) -> Bar {
    follow(show, handle.progress(), |p| {
        let mut msg = format!("{}/{} parts", p.parts_done, p.total_parts);
        if p.retries > 0 {
            msg.push_str(&format!(", {} retries", p.retries));
        }
        if p.commit_waits > 0 {
            msg.push_str(&format!(", commit pending x{}", p.commit_waits));
        }
        (bar_position(p), p.total_bytes, msg)
    })
}

/// How far a single upload's bar is: the bytes sent (smooth, in-flight parts too, and parts
/// found stored on resume) plus those reused (a new version's parts Box held already), or the
/// bytes done when more. Reaches `total_bytes` when every part is done, however many were
/// reused.
fn bar_position(p: &Progress) -> u64 {
    p.bytes_sent
        .saturating_add(p.bytes_reused)
        .max(p.bytes_done)
}

/// Bytes and files of a tree upload.
pub(crate) fn tree_bar(handle: &TreeHandle, show: bool) -> Bar {
    follow(show, handle.progress(), |p| {
        let mut msg = format!("{}/{} files", p.files_done, p.files_total);
        if p.files_failed > 0 {
            msg.push_str(&format!(", {} failed", p.files_failed));
        }
        (p.bytes_done, p.bytes_total, msg)
    })
}

/// A bar over bytes that follows `rx`; `show` turns an update into the bytes done, the bytes in
/// all and the message after them.
fn follow<P: Send + Sync + 'static>(
    visible: bool,
    mut rx: watch::Receiver<P>,
    show: fn(&P) -> (u64, u64, String),
) -> Bar {
    if !visible || !std::io::stderr().is_terminal() {
        return Bar(None);
    }
    let bar = ProgressBar::new(0);
    if let Ok(style) = ProgressStyle::with_template(
        "{bar:40.cyan/blue} {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta} {msg} {prefix}",
    ) {
        bar.set_style(style);
    }
    let shown = bar.clone();
    tokio::spawn(async move {
        while rx.changed().await.is_ok() {
            let (done, total, msg) = show(&rx.borrow_and_update());
            shown.set_length(total);
            shown.set_position(done.min(total));
            shown.set_message(msg);
        }
    });
    bar.enable_steady_tick(Duration::from_millis(200));
    Bar(Some(bar))
}

/// What a new version's upload moved: the bytes of the parts sent (by this run, or by the
/// interrupted run it resumed), and those Box held already (the plan's hits, committed by
/// reference), of the file's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct VersionTransfer {
    pub(crate) total: u64,
    pub(crate) sent: u64,
    pub(crate) reused: u64,
}

impl VersionTransfer {
    /// From an upload's last progress.
    pub(crate) fn of(p: &Progress) -> VersionTransfer {
        VersionTransfer {
            total: p.total_bytes,
            sent: p.bytes_sent,
            reused: p.bytes_reused,
        }
    }

    /// `reused 184.0 MiB of 200.0 MiB, sent 16.0 MiB`.
    fn line(&self) -> String {
        format!(
            "reused {} of {}, sent {}",
            mib(self.reused),
            mib(self.total),
            mib(self.sent)
        )
    }
}

/// Bytes as MiB with one decimal.
fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// What `put FILE` did: the file committed (or, for a skip, the one Box holds) and what became
/// of it; as JSON, the file with an `outcome` field. A new version (`transfer` given) also says
/// how many bytes were reused and sent: fields `bytes_reused` and `bytes_sent` in JSON.
pub(crate) fn print_put(
    file: &FileFull,
    outcome: &UploadOutcome,
    transfer: Option<VersionTransfer>,
    as_json: bool,
    quiet: bool,
) -> anyhow::Result<()> {
    if as_json {
        let mut doc = serde_json::to_value(file).context("cannot encode the file as JSON")?;
        if let Some(map) = doc.as_object_mut() {
            map.insert("outcome".into(), outcome_word(outcome).into());
            if let Some(t) = transfer {
                map.insert("bytes_reused".into(), t.reused.into());
                map.insert("bytes_sent".into(), t.sent.into());
            }
        }
        println!(
            "{}",
            serde_json::to_string_pretty(&doc).context("cannot encode the file as JSON")?
        );
        return Ok(());
    }
    let name = file.name.as_deref().unwrap_or("?");
    let line = match outcome {
        UploadOutcome::SkippedIdentical => Some(format!(
            "skipped: Box holds the same content as file {} ({name}); nothing was sent",
            file.id
        )),
        UploadOutcome::SkippedRenamedCopy { name: copy } => Some(format!(
            "skipped: the renamed copy {copy} (file {}) holds the same content; nothing was sent",
            file.id
        )),
        UploadOutcome::Skipped => Some(format!(
            "skipped: Box holds {name} as file {} with other content (--on-conflict skip);              nothing was sent",
            file.id
        )),
        UploadOutcome::Versioned => Some(format!(
            "uploaded a new version of {name}, file {} ({} bytes, sha1 {})",
            file.id,
            file.size.map_or_else(|| "?".to_string(), |s| s.to_string()),
            file.sha1.as_deref().unwrap_or("?"),
        )),
        _ if transfer.is_some() => Some(format!(
            "uploaded a new version of {name}, file {} ({} bytes, sha1 {})",
            file.id,
            file.size.map_or_else(|| "?".to_string(), |s| s.to_string()),
            file.sha1.as_deref().unwrap_or("?"),
        )),
        _ => None,
    };
    let line = match (line, transfer) {
        (Some(line), Some(t)) if outcome.sent() => Some(format!("{line}; {}", t.line())),
        (line, _) => line,
    };
    match line {
        Some(line) if !quiet => println!("{line}"),
        Some(_) => {}
        None => print_file(file, false, quiet)?,
    }
    Ok(())
}

/// An outcome as one word, for JSON.
fn outcome_word(outcome: &UploadOutcome) -> &'static str {
    match outcome {
        UploadOutcome::Versioned => "versioned",
        UploadOutcome::Renamed { .. } => "renamed",
        UploadOutcome::SkippedIdentical => "skipped_same_content",
        UploadOutcome::SkippedRenamedCopy { .. } => "skipped_renamed_copy",
        UploadOutcome::Skipped => "skipped",
        _ => "uploaded",
    }
}

pub(crate) fn print_file(file: &FileFull, as_json: bool, quiet: bool) -> anyhow::Result<()> {
    if as_json {
        println!(
            "{}",
            serde_json::to_string_pretty(file).context("cannot encode the file as JSON")?
        );
    } else if !quiet {
        println!(
            "uploaded {} as file {} ({} bytes, sha1 {})",
            file.name.as_deref().unwrap_or("?"),
            file.id,
            file.size.map_or_else(|| "?".to_string(), |s| s.to_string()),
            file.sha1.as_deref().unwrap_or("?"),
        );
    }
    Ok(())
}

/// A tree upload's report: each file's outcome as JSON on stdout if asked, each failure on
/// stderr, then (without JSON, unless `-q`) the counts on stdout.
pub(crate) fn print_tree_report(
    report: &TreeReport,
    as_json: bool,
    dry_run: bool,
    quiet: bool,
    scene: &Scene,
    into: &str,
) -> anyhow::Result<()> {
    if as_json {
        let files: Vec<serde_json::Value> = report.files.iter().map(file_json).collect();
        let doc = json!({
            "files": files,
            "uploaded": report.uploaded(),
            "versioned": report.versioned(),
            "skipped": report.skipped(),
            "failed": report.failed(),
            "bytes_sent": report.bytes_sent(),
            "folders_created": report.folders_created,
            "throttled": report.throttled,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&doc).context("cannot encode the report as JSON")?
        );
    }
    for f in report.failures() {
        if let FileOutcome::Failed(e) = &f.outcome {
            let scene = Scene {
                path: scene.path.join(&f.path),
                ..scene.clone()
            };
            message(format_args!(
                "{}: {}",
                f.path,
                explain(e, Some(&scene)).line()
            ));
        }
    }
    if !as_json && !quiet {
        let what = format!(
            "{} from the contents of {} into {into}",
            files_word(report.files.len()),
            scene.path.display()
        );
        println!("{}", tree_summary(report, dry_run, &what));
    }
    Ok(())
}

/// The counts of a tree upload on one line; for a dry run, what would be done.
/// `1 file`, `2 files`.
fn files_word(n: usize) -> String {
    match n {
        1 => "1 file".to_string(),
        n => format!("{n} files"),
    }
}

/// The counts after `what` (`N files from the contents of DIR into folder F`).
fn tree_summary(report: &TreeReport, dry_run: bool, what: &str) -> String {
    if dry_run {
        let mut planned = std::collections::BTreeMap::<String, usize>::new();
        for f in &report.files {
            let key = match &f.outcome {
                FileOutcome::Planned { action } => word(action),
                FileOutcome::Skipped { .. } => "skip".to_string(),
                _ => "other".to_string(),
            };
            *planned.entry(key).or_default() += 1;
        }
        let parts: Vec<String> = planned.iter().map(|(k, v)| format!("{k} {v}")).collect();
        return format!("dry run, {what}: {}", parts.join(", "));
    }
    format!(
        "{what}: {} uploaded, {} new versions, {} skipped, {} failed; {} bytes sent, {} folders created{}",
        report.uploaded(),
        report.versioned(),
        report.skipped(),
        report.failed(),
        report.bytes_sent(),
        report.folders_created,
        if report.throttled > 0 {
            format!(", slowed down by {} rate-limit answers", report.throttled)
        } else {
            String::new()
        }
    )
}

/// One file's outcome in the tree report's JSON.
fn file_json(f: &FileReport) -> serde_json::Value {
    let mut v = match &f.outcome {
        FileOutcome::Uploaded { file_id } => json!({"result": "uploaded", "file_id": file_id}),
        FileOutcome::Versioned { file_id } => json!({"result": "versioned", "file_id": file_id}),
        FileOutcome::Renamed { file_id, name } => {
            json!({"result": "renamed", "file_id": file_id, "name": name})
        }
        FileOutcome::Skipped { reason, file_id } => json!({
            "result": "skipped",
            "reason": word(reason),
            "file_id": file_id,
        }),
        FileOutcome::Planned { action } => {
            json!({"result": "planned", "action": word(action)})
        }
        FileOutcome::Failed(e) => {
            let x = explain(e, None);
            json!({"result": "failed", "error": x.chain, "exit_code": x.exit.code()})
        }
        other => json!({"result": format!("{other:?}")}),
    };
    v["path"] = json!(f.path);
    v["size"] = json!(f.size);
    v
}

/// A unit variant's name as a word of the JSON and the summary: `SameContent` is
/// `same_content` (the engine's enums grow, so every variant is named the same way).
fn word(value: &impl std::fmt::Debug) -> String {
    let mut out = String::new();
    for (i, c) in format!("{value:?}").chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_reasons_are_one_line() {
        assert_eq!(one_line("a\n  b\tc"), "a b c");
        let e = anyhow::anyhow!("inner\ncause").context("outer");
        assert_eq!(failure_line(&e), "outer: inner cause");
        assert_eq!(
            word(&box_uploads::tree::SkipReason::SameContent),
            "same_content"
        );
        assert_eq!(word(&box_uploads::tree::PlannedAction::Upload), "upload");
    }

    #[test]
    fn the_bar_counts_reused_bytes_and_reaches_the_end() {
        let mut p = Progress::default();
        p.total_bytes = 200;
        p.bytes_sent = 16;
        p.bytes_reused = 184;
        p.bytes_done = 150;
        assert_eq!(bar_position(&p), 200);
        // On resume, parts found stored count through the bytes done.
        p.bytes_sent = 10;
        p.bytes_reused = 100;
        p.bytes_done = 200;
        assert_eq!(bar_position(&p), 200);
        let t = VersionTransfer {
            total: 200 * 1024 * 1024,
            sent: 16 * 1024 * 1024,
            reused: 184 * 1024 * 1024,
        };
        assert_eq!(t.line(), "reused 184.0 MiB of 200.0 MiB, sent 16.0 MiB");
    }
}
