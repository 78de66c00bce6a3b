//! One file of a tree: skipped if the journal has it, else its Box folder resolved, what Box
//! holds under its name looked at (hashing the local file only when sizes do not tell them
//! apart), the conflict policy's [`decide`] asked, and the decision carried out.

use tracing::Instrument as _;

use super::context::{FolderState, Run};
use super::error::TreeFileError;
use super::folders::split_parent;
use super::journal::{Entry, FileLine, JournaledFile};
use super::report::{FileOutcome, FileReport, PlannedAction, SkipReason};
use super::walk::{read_local, LocalFile};
use crate::conflict::{decide, must_hash, Decision, Existing, Local};
use crate::models::{FileFull, Item, ItemType};
use crate::upload::{Sha1Digest, Upload, UploadError};

/// The item a `409 item_name_in_use` answer names (`context_info.conflicts`: one object or an
/// array of one).
fn conflict_item(err: &UploadError) -> Option<Item> {
    let conflict = err.call_error()?.conflict()?;
    let item = match conflict {
        serde_json::Value::Array(mut a) if !a.is_empty() => a.swap_remove(0),
        other => other,
    };
    serde_json::from_value(item).ok()
}

/// What a dry run reports for a decision.
fn planned(decision: &Decision) -> PlannedAction {
    match decision {
        Decision::Upload => PlannedAction::Upload,
        Decision::NewVersion => PlannedAction::Version,
        Decision::Rename { .. } => PlannedAction::Rename,
        Decision::SkipIdentical | Decision::SkipRenamedCopy { .. } | Decision::Skip => {
            PlannedAction::Skip
        }
        Decision::Fail => PlannedAction::Fail,
    }
}

/// The failure for a name Box holds with other content.
fn conflict(name: &str, existing: &Item) -> FileOutcome {
    FileOutcome::Failed(TreeFileError::Conflict {
        name: name.to_string(),
        kind: match &existing.r#type {
            ItemType::File => "file".into(),
            ItemType::Folder => "folder".into(),
            ItemType::WebLink => "web link".into(),
            other => format!("{other:?}"),
        },
        existing_id: existing.id.clone(),
        existing_name: existing.name.clone().unwrap_or_else(|| name.to_string()),
    })
}

/// A decision carried out, or the item that took the name since the folder was listed.
type Decided = Result<FileOutcome, Item>;

impl Run {
    /// Handles one file and counts it in the progress.
    pub(crate) async fn file(&self, f: LocalFile) -> FileReport {
        // Its lookups and its upload (whose span nests under this one) are logged under it.
        let span = tracing::info_span!("file", path = %f.rel);
        let outcome = self.file_outcome(&f).instrument(span).await;
        let failed = matches!(outcome, FileOutcome::Failed(_));
        self.progress.send_modify(|p| {
            p.files_done += 1;
            p.bytes_done += f.size;
            if failed {
                p.files_failed += 1;
            }
        });
        FileReport {
            path: f.rel,
            size: f.size,
            outcome,
        }
    }

    async fn file_outcome(&self, f: &LocalFile) -> FileOutcome {
        if let Some(done) = self.journaled(&f.rel, f.size, f.mtime_ns) {
            return FileOutcome::Skipped {
                reason: SkipReason::Journal,
                file_id: Some(done.file_id.clone()),
            };
        }
        let (parent_path, name) = split_parent(&f.rel);
        let folder = match self.resolve(parent_path).await {
            Ok(folder) => folder,
            Err(source) => {
                return FileOutcome::Failed(TreeFileError::Folder {
                    folder: parent_path.to_string(),
                    source,
                })
            }
        };
        let listed = folder.items.get(&name.to_lowercase());
        match self.decided(f, &folder, name, listed).await {
            Ok(outcome) => outcome,
            // The name was taken since the listing (another client, or an upload of a killed
            // run that landed late): the answer names the file; go on as if the listing had
            // shown it.
            Err(item) => match self.decided(f, &folder, name, Some(&item)).await {
                Ok(outcome) => outcome,
                // Only an upload under a name the listing did not hold ends here.
                Err(item) => conflict(name, &item),
            },
        }
    }

    /// Decides what to do with `f` given what Box holds under `name` in `folder`, and does it.
    async fn decided(
        &self,
        f: &LocalFile,
        folder: &FolderState,
        name: &str,
        existing_item: Option<&Item>,
    ) -> Decided {
        let existing = existing_item.map(Existing::from);
        let copies = folder.copies_of(name);
        let hash = must_hash(f.size, existing.as_ref(), &copies, self.on_conflict);
        // Opened in any case: a file that cannot be read fails here, named, before any call.
        let sha1 = match self.read_local(f, hash).await {
            Ok(sha1) => sha1,
            Err(source) => {
                return Ok(FileOutcome::Failed(TreeFileError::Unreadable {
                    path: f.abs.clone(),
                    source,
                }))
            }
        };
        let Some(folder_id) = folder.id.as_deref() else {
            // Dry run, folder to be made.
            return Ok(FileOutcome::Planned {
                action: PlannedAction::Upload,
            });
        };
        let local = Local { size: f.size, sha1 };
        let decision = self.with_taken_names(|taken| {
            let is_taken = |n: &str| {
                let key = n.to_lowercase();
                folder.items.contains_key(&key) || taken.contains(&(folder_id.to_string(), key))
            };
            let decision = decide(
                name,
                &local,
                existing.as_ref(),
                &copies,
                self.on_conflict,
                is_taken,
            );
            if let Decision::Rename { name } = &decision {
                taken.insert((folder_id.to_string(), name.to_lowercase()));
            }
            decision
        });
        // `decide` uploads under `name` exactly when Box holds nothing of that name.
        let Some(existing_item) = existing_item.filter(|_| decision != Decision::Upload) else {
            return self.upload_new(f, folder_id, name).await;
        };
        Ok(self
            .carry_out(f, folder, name, existing_item, local, decision)
            .await)
    }

    /// Opens the local file (it must still be a file that can be read) and, when `hash` says
    /// so, its SHA-1 if it still has the size it had when the tree was walked.
    async fn read_local(&self, f: &LocalFile, hash: bool) -> std::io::Result<Option<Sha1Digest>> {
        let path = f.abs.clone();
        let read = tokio::task::spawn_blocking(move || read_local(&path, hash))
            .await
            .map_err(|e| std::io::Error::other(e.to_string()))??;
        Ok(read.and_then(|(n, sha1)| (n == f.size).then_some(sha1)))
    }

    /// Uploads `f` as a new file `name`; `Err` with the item that holds the name if Box holds
    /// one after all.
    async fn upload_new(&self, f: &LocalFile, folder_id: &str, name: &str) -> Decided {
        if self.dry_run {
            return Ok(FileOutcome::Planned {
                action: PlannedAction::Upload,
            });
        }
        let up = Upload::new_file(folder_id, name).from_path(&f.abs);
        match self.upload(up, f.size).await {
            Ok(file) => Ok(self.done(f, &file, |file_id| FileOutcome::Uploaded { file_id })),
            Err(e) if e.code() == Some("item_name_in_use") => match conflict_item(&e) {
                Some(item) => Err(item),
                None => Ok(FileOutcome::Failed(TreeFileError::Upload(e))),
            },
            Err(e) => Ok(FileOutcome::Failed(TreeFileError::Upload(e))),
        }
    }

    /// Skips `f`, whose content Box holds as `same`, and journals it so that a run again skips
    /// it without hashing.
    fn skip_same(
        &self,
        f: &LocalFile,
        local: Local,
        same: &Item,
        reason: SkipReason,
    ) -> FileOutcome {
        if let Some(sha1) = local.sha1.filter(|_| !self.dry_run) {
            if let Err(e) = self.journal_file(f, sha1, &same.id) {
                return FileOutcome::Failed(e);
            }
        }
        FileOutcome::Skipped {
            reason,
            file_id: Some(same.id.clone()),
        }
    }

    /// Carries out `decision` for a file whose name Box already holds in its folder.
    async fn carry_out(
        &self,
        f: &LocalFile,
        folder: &FolderState,
        name: &str,
        existing: &Item,
        local: Local,
        decision: Decision,
    ) -> FileOutcome {
        let same = match &decision {
            Decision::SkipIdentical => Some((SkipReason::SameContent, Some(existing))),
            Decision::SkipRenamedCopy { name: copy } => Some((
                SkipReason::RenamedCopy,
                folder.items.get(&copy.to_lowercase()),
            )),
            _ => None,
        };
        if let Some((reason, Some(same))) = same {
            return self.skip_same(f, local, same, reason);
        }
        let Some(folder_id) = folder.id.as_deref().filter(|_| !self.dry_run) else {
            return FileOutcome::Planned {
                action: planned(&decision),
            };
        };
        match decision {
            // Skipped above: both name an item of the listing.
            Decision::SkipIdentical | Decision::SkipRenamedCopy { .. } => conflict(name, existing),
            Decision::Skip => FileOutcome::Skipped {
                reason: SkipReason::Exists,
                file_id: Some(existing.id.clone()),
            },
            Decision::Fail => conflict(name, existing),
            Decision::NewVersion => {
                let mut up = Upload::new_version(&existing.id).from_path(&f.abs);
                if let Some(etag) = &existing.etag {
                    up = up.if_match(etag);
                }
                match self.upload(up, f.size).await {
                    Ok(file) => self.done(f, &file, |file_id| FileOutcome::Versioned { file_id }),
                    Err(e) => FileOutcome::Failed(TreeFileError::Upload(e)),
                }
            }
            Decision::Rename { name: new_name } => {
                let up = Upload::new_file(folder_id, &new_name).from_path(&f.abs);
                match self.upload(up, f.size).await {
                    Ok(file) => self.done(f, &file, |file_id| FileOutcome::Renamed {
                        file_id,
                        name: new_name.clone(),
                    }),
                    Err(e) => FileOutcome::Failed(TreeFileError::Upload(e)),
                }
            }
            // Never decided for a name Box holds (see `decided`).
            Decision::Upload => conflict(name, existing),
        }
    }

    /// Journals an upload Box confirmed, and says what became of the file.
    fn done(
        &self,
        f: &LocalFile,
        file: &FileFull,
        outcome: impl FnOnce(String) -> FileOutcome,
    ) -> FileOutcome {
        // Box states the SHA-1 of what it stored (the upload checked it against ours); without
        // one the file is not journaled, and a run again compares it with Box's listing.
        if let Some(sha1) = file.sha1.as_deref().and_then(Sha1Digest::from_hex) {
            if let Err(e) = self.journal_file(f, sha1, &file.id) {
                return FileOutcome::Failed(e);
            }
        }
        outcome(file.id.clone())
    }

    fn journal_file(
        &self,
        f: &LocalFile,
        sha1: Sha1Digest,
        file_id: &str,
    ) -> Result<(), TreeFileError> {
        match &self.journal {
            None => Ok(()),
            Some(j) => j
                .append(&Entry::File(FileLine {
                    path: f.rel.clone(),
                    file: JournaledFile {
                        size: f.size,
                        mtime_ns: f.mtime_ns,
                        sha1,
                        file_id: file_id.to_string(),
                    },
                    root: self.root_id.clone(),
                }))
                .map_err(TreeFileError::Journal),
        }
    }
}
