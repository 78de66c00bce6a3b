//! The files and folders in memory, with their name indexes: names are unique per folder
//! across files and folders, case-insensitively.

use super::records::{FileRecord, FolderRecord, IdState};
use crate::util;
use std::collections::{BTreeMap, HashMap, HashSet};

/// Files and their name index, and the files in the trash. Guarded by one async mutex; disk writes of file metadata
/// happen while it is held, so the catalog on disk and in memory agree. Holding it also
/// serializes every change of names (files and folders).
pub(crate) struct Catalog {
    pub files: HashMap<String, FileRecord>,
    /// (folder id, lower-cased name) -> file id.
    pub names: HashMap<(String, String), String>,
    /// Files in the trash, by id: out of `files` and `names` (a trashed file holds no name,
    /// and every lookup of a live file misses it), their bytes still in `used_bytes`.
    pub trash: HashMap<String, FileRecord>,
    /// Bytes of every version of every file, trashed ones included (Box: the trash counts
    /// toward the quota until it is purged).
    pub used_bytes: u64,
    pub(super) ids: IdState,
}

impl Catalog {
    pub(super) fn new(ids: IdState) -> Catalog {
        Catalog {
            files: HashMap::new(),
            names: HashMap::new(),
            trash: HashMap::new(),
            used_bytes: 0,
            ids,
        }
    }

    pub fn find_by_name(&self, folder_id: &str, name: &str) -> Option<&FileRecord> {
        self.names
            .get(&(folder_id.to_string(), util::name_key(name)))
            .and_then(|id| self.files.get(id))
    }

    /// Adds or replaces a file, indexing its name and counting its bytes (a trashed file
    /// goes to the trash). A renamed file's old name is the caller's to remove.
    pub(super) fn insert(&mut self, f: FileRecord, new_bytes: u64) {
        self.used_bytes += new_bytes;
        if f.trashed.is_some() {
            self.trash.insert(f.id.clone(), f);
            return;
        }
        self.names
            .insert((f.folder_id.clone(), util::name_key(&f.name)), f.id.clone());
        self.files.insert(f.id.clone(), f);
    }
}

impl Catalog {
    /// Takes live file `id` out of the files and the name it held.
    pub(super) fn take_live(&mut self, id: &str) -> Option<FileRecord> {
        let f = self.files.remove(id)?;
        let key = (f.folder_id.clone(), util::name_key(&f.name));
        if self.names.get(&key) == Some(&f.id) {
            self.names.remove(&key);
        }
        Some(f)
    }
}

/// Every folder, and the folder names by parent.
pub(crate) struct Folders {
    pub by_id: BTreeMap<String, FolderRecord>,
    /// (parent id, lower-cased name) -> folder id.
    names: HashMap<(String, String), String>,
    /// Folders in the trash, by id: nobody's item, no name held, not found by id.
    pub trash: BTreeMap<String, FolderRecord>,
}

impl Folders {
    /// Just the root.
    pub(super) fn new() -> Folders {
        let mut f = Folders {
            by_id: BTreeMap::new(),
            names: HashMap::new(),
            trash: BTreeMap::new(),
        };
        f.insert(FolderRecord::root());
        f
    }

    /// Adds a folder (a trashed one goes to the trash).
    pub(super) fn insert(&mut self, f: FolderRecord) {
        if f.trashed.is_some() {
            self.trash.insert(f.id.clone(), f);
            return;
        }
        if let (Some(p), false) = (&f.parent_id, f.configured) {
            self.names
                .entry((p.clone(), util::name_key(&f.name)))
                .or_insert_with(|| f.id.clone());
        }
        self.by_id.insert(f.id.clone(), f);
    }

    /// Takes a live folder out, with the name it held.
    pub(super) fn remove(&mut self, id: &str) -> Option<FolderRecord> {
        let f = self.by_id.remove(id)?;
        if let Some(p) = &f.parent_id {
            let key = (p.clone(), util::name_key(&f.name));
            if self.names.get(&key) == Some(&f.id) {
                self.names.remove(&key);
            }
        }
        Some(f)
    }

    pub fn find_by_name(&self, parent_id: &str, name: &str) -> Option<&FolderRecord> {
        self.names
            .get(&(parent_id.to_string(), util::name_key(name)))
            .and_then(|id| self.by_id.get(id))
    }

    /// The folders made in `parent_id` (configured folders are nobody's items).
    pub fn children<'a>(&'a self, parent_id: &'a str) -> impl Iterator<Item = &'a FolderRecord> {
        self.by_id
            .values()
            .filter(move |f| !f.configured && f.parent_id.as_deref() == Some(parent_id))
    }

    /// The folder and its ancestors, root first (empty if there is no such folder).
    pub fn chain(&self, id: &str) -> Vec<&FolderRecord> {
        let mut out = Vec::new();
        let mut cur = self.by_id.get(id);
        while let Some(f) = cur {
            out.push(f);
            if out.len() > self.by_id.len() {
                break; // a cycle in hand-edited data
            }
            cur = f.parent_id.as_ref().and_then(|p| self.by_id.get(p));
        }
        out.reverse();
        out
    }

    /// The ids of the folder and every folder below it.
    pub fn subtree(&self, id: &str) -> HashSet<String> {
        let mut out = HashSet::new();
        out.insert(id.to_string());
        let mut grew = true;
        while grew {
            grew = false;
            for f in self.by_id.values() {
                if let (Some(p), false) = (&f.parent_id, f.configured) {
                    if out.contains(p) && !out.contains(&f.id) {
                        out.insert(f.id.clone());
                        grew = true;
                    }
                }
            }
        }
        out
    }
}

/// A folder entry or a file entry of a listing.
pub(crate) enum Item {
    Folder(FolderRecord),
    File(FileRecord),
}

impl Item {
    /// Listing order: folders before files, then by name (case-insensitively), then id.
    pub fn sort_key(&self) -> (u8, String, u64) {
        match self {
            Item::Folder(f) => (0, util::name_key(&f.name), f.id.parse().unwrap_or(0)),
            Item::File(f) => (1, util::name_key(&f.name), f.id.parse().unwrap_or(0)),
        }
    }
}
