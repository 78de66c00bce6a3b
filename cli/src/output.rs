//! What `box-upload` shows: progress bars on stderr (only on a terminal), the committed file or
//! the tree's report on stdout (as text or JSON), and messages and failures on stderr, each on
//! one line after the program's name.

use std::fmt::Display;
use std::io::IsTerminal as _;
use std::time::Duration;

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use tokio::sync::watch;

use box_uploads::models::FileFull;
use box_uploads::tree::{FileOutcome, FileReport, TreeHandle, TreeReport};
use box_uploads::upload::UploadHandle;

/// A line on stderr, after the program's name.
pub(crate) fn message(text: impl Display) {
    eprintln!("box-upload: {text}");
}

/// The failure and its causes, outermost first, on one line. Every error of the engine and the
/// runtime says only its own sentence and leaves its cause to `source()`, so each is printed once.
pub(crate) fn failure_line(e: &anyhow::Error) -> String {
    error_chain(e.as_ref())
}

/// An error and its causes, outermost first, on one line.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![one_line(&e.to_string())];
    let mut cause = e.source();
    while let Some(c) = cause {
        parts.push(one_line(&c.to_string()));
        cause = c.source();
    }
    parts.join(": ")
}

/// `text` with every run of white space (new lines too) made one space.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A progress bar on stderr, or nothing when stderr is not a terminal (a log or a pipe gets no
/// bar).
pub(crate) struct Bar(Option<ProgressBar>);

impl Bar {
    /// Removes the bar, so that what is printed next starts on a clean line.
    pub(crate) fn clear(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

/// Bytes and parts of a single upload.
pub(crate) fn upload_bar(handle: &UploadHandle) -> Bar {
    follow(handle.progress(), |p| {
        let mut msg = format!("{}/{} parts", p.parts_done, p.total_parts);
        if p.retries > 0 {
            msg.push_str(&format!(", {} retries", p.retries));
        }
        if p.commit_waits > 0 {
            msg.push_str(&format!(", commit pending x{}", p.commit_waits));
        }
        (p.bytes_sent, p.total_bytes, msg)
    })
}

/// Bytes and files of a tree upload.
pub(crate) fn tree_bar(handle: &TreeHandle) -> Bar {
    follow(handle.progress(), |p| {
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
    mut rx: watch::Receiver<P>,
    show: fn(&P) -> (u64, u64, String),
) -> Bar {
    if !std::io::stderr().is_terminal() {
        return Bar(None);
    }
    let bar = ProgressBar::new(0);
    if let Ok(style) = ProgressStyle::with_template(
        "{bar:40.cyan/blue} {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta} {msg}",
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

/// The committed file on stdout: all of it as JSON, or one line.
pub(crate) fn print_file(file: &FileFull, as_json: bool) -> anyhow::Result<()> {
    if as_json {
        println!(
            "{}",
            serde_json::to_string_pretty(file).context("cannot encode the file as JSON")?
        );
    } else {
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
/// stderr, then (without JSON) the counts on stdout.
pub(crate) fn print_tree_report(
    report: &TreeReport,
    as_json: bool,
    dry_run: bool,
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
            message(format_args!("{}: {}", f.path, error_chain(e)));
        }
    }
    if !as_json {
        println!("{}", tree_summary(report, dry_run));
    }
    Ok(())
}

/// The counts of a tree upload on one line; for a dry run, what would be done.
fn tree_summary(report: &TreeReport, dry_run: bool) -> String {
    if dry_run {
        let mut planned = std::collections::BTreeMap::<String, usize>::new();
        for f in &report.files {
            let key = match &f.outcome {
                FileOutcome::Planned { action } => format!("{action:?}").to_lowercase(),
                FileOutcome::Skipped { .. } => "skip".to_string(),
                _ => "other".to_string(),
            };
            *planned.entry(key).or_default() += 1;
        }
        let parts: Vec<String> = planned.iter().map(|(k, v)| format!("{k} {v}")).collect();
        return format!(
            "dry run, {} files: {}",
            report.files.len(),
            parts.join(", ")
        );
    }
    format!(
        "{} files: {} uploaded, {} new versions, {} skipped, {} failed; {} bytes sent, {} folders created{}",
        report.files.len(),
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
            "reason": format!("{reason:?}").to_lowercase(),
            "file_id": file_id,
        }),
        FileOutcome::Planned { action } => {
            json!({"result": "planned", "action": format!("{action:?}").to_lowercase()})
        }
        FileOutcome::Failed(e) => json!({"result": "failed", "error": error_chain(e)}),
        other => json!({"result": format!("{other:?}")}),
    };
    v["path"] = json!(f.path);
    v["size"] = json!(f.size);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_reasons_are_one_line() {
        assert_eq!(one_line("a\n  b\tc"), "a b c");
        let e = anyhow::anyhow!("inner\ncause").context("outer");
        assert_eq!(failure_line(&e), "outer: inner cause");
    }
}
