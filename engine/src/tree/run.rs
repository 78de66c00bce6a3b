//! The driver of one tree upload: walk the local tree, read the journal, make sure the target
//! folder is there, handle the files (a bounded number at once, each on a task of its own),
//! make the empty folders, and gather the report.

use std::sync::Arc;

use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tracing::Instrument as _;

use super::context::Run;
use super::error::{TreeError, TreeFileError};
use super::journal::{Journal, JournalFiles, Loaded};
use super::options::TreeUpload;
use super::report::{FileOutcome, FileReport, TreeProgress, TreeReport};
use super::walk::{walk, WalkOptions};
use crate::upload::{Concurrency, Uploader};

/// Runs `tree` to its report, publishing the progress on `progress`, under a `tree` span (the
/// root and the target folder) that each file's span, and so its upload's, nests under.
pub(crate) async fn run(
    uploader: Uploader,
    tree: TreeUpload,
    progress: watch::Sender<TreeProgress>,
) -> Result<TreeReport, TreeError> {
    let span = tracing::info_span!(
        "tree",
        root = %tree.root.display(),
        folder_id = %tree.folder_id
    );
    run_in_span(uploader, tree, progress).instrument(span).await
}

async fn run_in_span(
    uploader: Uploader,
    tree: TreeUpload,
    progress: watch::Sender<TreeProgress>,
) -> Result<TreeReport, TreeError> {
    let root = tree.root.clone();
    let (exclude, follow) = (tree.exclude.clone(), tree.follow_symlinks);
    // The journal's own files, if it is kept inside the tree, are reported and never uploaded.
    let journal_files = tree.journal.as_deref().and_then(JournalFiles::new);
    let walked = tokio::task::spawn_blocking(move || {
        let options = WalkOptions {
            exclude: &exclude,
            follow,
            journal: journal_files.as_ref(),
        };
        walk(&root, options)
    })
    .await
    .map_err(|e| TreeError::Internal(e.to_string()))?
    .map_err(|source| TreeError::Walk {
        path: tree.root.clone(),
        source,
    })?;
    let (journal, loaded) = match &tree.journal {
        None => (None, Loaded::default()),
        Some(path) => {
            let (j, l) = Journal::open(path, &tree.folder_id, !tree.dry_run).map_err(|source| {
                TreeError::Journal {
                    path: path.clone(),
                    source,
                }
            })?;
            tracing::debug!(journal = %path.display(), files = l.files.len(), "journal read");
            (j, l)
        }
    };
    progress.send_modify(|p| {
        p.files_total = walked.files.len() as u64;
        p.bytes_total = walked.files.iter().map(|f| f.size).sum();
    });
    let files_in_flight = tree
        .files_in_flight
        .unwrap_or(match uploader.config().concurrency {
            Concurrency::Fixed(n) => n.max(1) * 8,
            Concurrency::Adaptive { .. } => 32,
        });
    let run = Arc::new(Run::new(uploader, &tree, journal, loaded, progress));
    let throttled_before = run.limiter.throttled_count();
    // The target folder must be there: without it nothing can go anywhere.
    let all_journaled = walked
        .files
        .iter()
        .all(|f| run.journaled(&f.rel, f.size, f.mtime_ns).is_some());
    if !all_journaled || walked.files.is_empty() {
        run.resolve("").await.map_err(|source| TreeError::Folder {
            folder_id: tree.folder_id.clone(),
            source,
        })?;
    }

    let skipped = walked.skipped.into_iter().map(|s| FileReport {
        path: s.rel,
        size: s.size,
        outcome: FileOutcome::Skipped {
            reason: s.reason,
            file_id: None,
        },
    });
    // An entry that could not be read fails alone, named by its path.
    let unreadable = walked.unreadable.into_iter().map(|u| FileReport {
        path: u.rel,
        size: 0,
        outcome: FileOutcome::Failed(TreeFileError::Unreadable {
            path: u.abs,
            source: u.error,
        }),
    });
    let mut reports: Vec<FileReport> = skipped.chain(unreadable).collect();
    let slots = Arc::new(Semaphore::new(files_in_flight));
    let mut set = JoinSet::new();
    for f in walked.files {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            break;
        };
        let run = run.clone();
        // The file's task stays under the tree's span.
        set.spawn(
            async move {
                let report = run.file(f).await;
                drop(permit);
                report
            }
            .in_current_span(),
        );
        while let Some(done) = set.try_join_next() {
            reports.push(done.map_err(|e| TreeError::Internal(e.to_string()))?);
        }
    }
    while let Some(done) = set.join_next().await {
        reports.push(done.map_err(|e| TreeError::Internal(e.to_string()))?);
    }
    // Empty directories are made too (the others already are).
    for dir in &walked.dirs {
        if !run.journal_folders.contains_key(dir) {
            let _ = run.resolve(dir).await;
        }
    }
    reports.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(TreeReport {
        files: reports,
        folders_created: run.folders_created(),
        throttled: run.limiter.throttled_count() - throttled_before,
    })
}
