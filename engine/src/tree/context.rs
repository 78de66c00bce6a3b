//! What one tree upload shares with its steps ([`Run`]): the uploader, the rate limiter, the
//! journal and what it held, the Box folders resolved so far, and the progress. The steps
//! (`calls`, `folders`, `file`) import this module; it imports none of them.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{watch, OnceCell};

use super::journal::{Journal, JournaledFile, Loaded};
use super::limiter::RateLimiter;
use super::options::TreeUpload;
use super::report::TreeProgress;
use crate::conflict::{copy_of, Copy, Existing, OnConflict};
use crate::models::Item;
use crate::upload::{UploadError, Uploader};

/// A Box folder as the run knows it.
#[derive(Debug)]
pub(crate) struct FolderState {
    /// `None` in a dry run for a folder that does not exist yet.
    pub id: Option<String>,
    /// Items by lowercased name (Box compares names without regard to case).
    pub items: HashMap<String, Item>,
    /// The renamed copies listed (`a (2).txt`), by the lowercased name they were made from
    /// (`a.txt`): (number, lowercased copy name), lowest number first.
    copies: HashMap<String, Vec<(u64, String)>>,
}

impl FolderState {
    pub(crate) fn new(id: Option<String>, items: HashMap<String, Item>) -> Self {
        let mut copies: HashMap<String, Vec<(u64, String)>> = HashMap::new();
        for name in items.keys() {
            if let Some((base, n)) = copy_of(name) {
                copies.entry(base).or_default().push((n, name.clone()));
            }
        }
        for list in copies.values_mut() {
            list.sort();
        }
        FolderState { id, items, copies }
    }

    /// The renamed copies listed of `name`, lowest number first.
    pub(crate) fn copies_of(&self, name: &str) -> Vec<Copy<'_>> {
        let Some(list) = self.copies.get(&name.to_lowercase()) else {
            return Vec::new();
        };
        list.iter()
            .filter_map(|(_, key)| {
                let item = self.items.get(key)?;
                Some(Copy {
                    name: item.name.as_deref().unwrap_or(key),
                    existing: Existing::from(item),
                })
            })
            .collect()
    }
}

/// A folder resolved once for every file that waits for it.
pub(crate) type FolderResult = Result<Arc<FolderState>, Arc<UploadError>>;

/// One tree upload's shared state.
pub(crate) struct Run {
    pub uploader: Uploader,
    pub limiter: RateLimiter,
    /// The Box folder the tree goes into.
    pub root_id: String,
    pub on_conflict: OnConflict,
    pub dry_run: bool,
    pub journal: Option<Journal>,
    /// What the journal held when the run started: files done, by path.
    journal_files: HashMap<String, JournaledFile>,
    /// ... and Box folder IDs, by path.
    pub journal_folders: HashMap<String, String>,
    pub progress: watch::Sender<TreeProgress>,
    /// One cell per folder path: the first file to need a folder resolves it, the others wait.
    folders: Mutex<HashMap<String, Arc<OnceCell<FolderResult>>>>,
    /// Names taken by renamed uploads: (folder id, lowercased name).
    taken: Mutex<HashSet<(String, String)>>,
    folders_created: AtomicU64,
}

impl Run {
    pub(crate) fn new(
        uploader: Uploader,
        tree: &TreeUpload,
        journal: Option<Journal>,
        loaded: Loaded,
        progress: watch::Sender<TreeProgress>,
    ) -> Self {
        Run {
            limiter: tree
                .limiter
                .clone()
                .unwrap_or_else(|| RateLimiter::new(tree.limits)),
            uploader,
            root_id: tree.folder_id.clone(),
            on_conflict: tree.on_conflict,
            dry_run: tree.dry_run,
            journal,
            journal_files: loaded.files,
            journal_folders: loaded.folders,
            progress,
            folders: Mutex::new(HashMap::new()),
            taken: Mutex::new(HashSet::new()),
            folders_created: AtomicU64::new(0),
        }
    }

    /// The cell that holds folder `path` once resolved.
    pub(crate) fn folder_cell(&self, path: &str) -> Arc<OnceCell<FolderResult>> {
        let mut map = self.folders.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(path.to_string()).or_default().clone()
    }

    /// Runs `f` on the names renamed uploads took (folder id, lowercased name), alone: a name
    /// chosen and taken under one call is nobody else's.
    pub(crate) fn with_taken_names<R>(
        &self,
        f: impl FnOnce(&mut HashSet<(String, String)>) -> R,
    ) -> R {
        f(&mut self.taken.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// The journal says `rel` was done and it has not changed since.
    pub(crate) fn journaled(&self, rel: &str, size: u64, mtime_ns: i64) -> Option<&JournaledFile> {
        self.journal_files
            .get(rel)
            .filter(|done| done.is_unchanged(size, mtime_ns))
    }

    pub(crate) fn folder_created(&self) {
        self.folders_created.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn folders_created(&self) -> u64 {
        self.folders_created.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(name: &str, id: &str) -> (String, Item) {
        let item: Item = serde_json::from_value(serde_json::json!({
            "type": "file", "id": id, "name": name, "size": 3,
        }))
        .expect("an item");
        (name.to_lowercase(), item)
    }

    #[test]
    fn a_folder_finds_the_renamed_copies_of_a_name_lowest_first_without_case() {
        let folder = FolderState::new(
            Some("1".into()),
            [
                item("A.txt", "10"),
                item("A (10).txt", "20"),
                item("a (2).TXT", "12"),
                item("a (1).txt", "11"),
                item("a (01).txt", "13"),
                item("b (1).txt", "14"),
            ]
            .into_iter()
            .collect(),
        );
        let names: Vec<&str> = folder.copies_of("a.txt").iter().map(|c| c.name).collect();
        assert_eq!(names, ["a (1).txt", "a (2).TXT", "A (10).txt"]);
        assert!(folder
            .copies_of("A.TXT")
            .iter()
            .all(|c| c.existing.size == Some(3)));
        assert!(folder.copies_of("c.txt").is_empty());
    }
}
