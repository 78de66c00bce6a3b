//! The store's file and folder operations: ids, new files and versions, folders, and the
//! checks of names and limits that guard them. Each change is saved before it shows in
//! memory; the caller holds the catalog lock across the change.

use super::catalog::{Catalog, Folders, Item};
use super::disk::{io_err, write_json_atomic, NewContent, TempPath};
use super::records::{FileRecord, FolderRecord, PartRecord, VersionRecord};
use super::Shared;
use crate::error::ApiError;
use crate::util;
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::atomic::Ordering;

impl Shared {
    pub fn folders(&self) -> std::sync::RwLockReadGuard<'_, Folders> {
        self.folders.read().unwrap_or_else(|e| e.into_inner())
    }

    pub fn folder_name(&self, id: &str) -> Option<String> {
        self.folders().by_id.get(id).map(|f| f.name.clone())
    }

    pub fn folder(&self, id: &str) -> Option<FolderRecord> {
        self.folders().by_id.get(id).cloned()
    }

    /// A fresh temporary path under `tmp/`.
    pub fn temp_path(&self) -> TempPath {
        let n = self.tmp_seq.fetch_add(1, Ordering::Relaxed);
        TempPath::new(
            self.data_dir
                .join("tmp")
                .join(format!("{n}-{}", crate::error::new_request_id())),
        )
    }

    pub fn blob_path(&self, version_id: &str) -> PathBuf {
        self.data_dir.join("blobs").join(version_id)
    }

    pub(super) fn file_meta_path(&self, file_id: &str) -> PathBuf {
        self.data_dir.join("files").join(format!("{file_id}.json"))
    }

    pub(super) async fn save_ids(&self, catalog: &Catalog) -> Result<(), ApiError> {
        write_json_atomic(&self.data_dir.join("state.json"), &catalog.ids)
            .await
            .map_err(io_err("saving id counters"))
    }

    /// Allocates a new file, version or folder id.
    async fn alloc_id(&self, catalog: &mut Catalog) -> Result<String, ApiError> {
        let id = catalog.ids.next_id;
        catalog.ids.next_id += 1;
        self.save_ids(catalog).await?;
        Ok(id.to_string())
    }

    pub(super) async fn save_file(&self, f: &FileRecord) -> Result<(), ApiError> {
        write_json_atomic(&self.file_meta_path(&f.id), f)
            .await
            .map_err(io_err("saving file metadata"))
    }

    /// Moves received content into `blobs/` as version `version_id`; returns the blob's path.
    async fn store_blob(&self, version_id: &str, tmp: TempPath) -> Result<PathBuf, ApiError> {
        let blob = self.blob_path(version_id);
        tokio::fs::rename(tmp.path(), &blob)
            .await
            .map_err(io_err("storing file content"))?;
        tmp.keep();
        Ok(blob)
    }

    /// Stores a new file in the catalog.
    pub async fn create_file(
        &self,
        catalog: &mut Catalog,
        folder_id: &str,
        name: &str,
        content: NewContent,
        content_created_at: Option<DateTime<Utc>>,
        content_modified_at: Option<DateTime<Utc>>,
    ) -> Result<FileRecord, ApiError> {
        let now = Utc::now();
        let file_id = self.alloc_id(catalog).await?;
        let version_id = self.alloc_id(catalog).await?;
        let NewContent { tmp, sha1, size } = content;
        let blob = self.store_blob(&version_id, tmp).await?;
        let f = FileRecord {
            id: file_id,
            folder_id: folder_id.to_string(),
            name: name.to_string(),
            etag: 0,
            created_at: now,
            modified_at: now,
            content_created_at: content_created_at.unwrap_or(now),
            content_modified_at: content_modified_at.unwrap_or(now),
            versions: vec![VersionRecord {
                id: version_id,
                sha1,
                size,
                name: name.to_string(),
                created_at: now,
                parts: Vec::new(),
            }],
            trashed: None,
        };
        if let Err(e) = self.save_file(&f).await {
            let _ = tokio::fs::remove_file(&blob).await;
            return Err(e);
        }
        catalog.insert(f.clone(), size);
        self.counters().files_created += 1;
        Ok(f)
    }

    /// Adds a version to an existing file, optionally renaming it.
    pub async fn add_version(
        &self,
        catalog: &mut Catalog,
        file_id: &str,
        new_name: Option<&str>,
        content: NewContent,
        content_modified_at: Option<DateTime<Utc>>,
    ) -> Result<FileRecord, ApiError> {
        let now = Utc::now();
        let Some(mut f) = catalog.files.get(file_id).cloned() else {
            return Err(ApiError::not_found("Could not find the specified resource"));
        };
        let version_id = self.alloc_id(catalog).await?;
        let NewContent { tmp, sha1, size } = content;
        let blob = self.store_blob(&version_id, tmp).await?;
        let old_key = (f.folder_id.clone(), util::name_key(&f.name));
        if let Some(n) = new_name {
            f.name = n.to_string();
        }
        f.etag += 1;
        f.modified_at = now;
        f.content_modified_at = content_modified_at.unwrap_or(now);
        // Only the current version's parts can be reused.
        for v in &mut f.versions {
            v.parts.clear();
        }
        f.versions.push(VersionRecord {
            id: version_id,
            sha1,
            size,
            name: f.name.clone(),
            created_at: now,
            parts: Vec::new(),
        });
        if let Err(e) = self.save_file(&f).await {
            let _ = tokio::fs::remove_file(&blob).await;
            return Err(e);
        }
        catalog.names.remove(&old_key);
        catalog.insert(f.clone(), size);
        self.counters().file_versions_created += 1;
        Ok(f)
    }

    /// Keeps `parts` (offset order) as those of version `version_id`, file `file_id`'s
    /// current version just committed, so a later version session can reuse them; returns
    /// the file as saved. Nothing changes if that version is no longer current.
    pub async fn record_parts(
        &self,
        catalog: &mut Catalog,
        file_id: &str,
        version_id: &str,
        parts: Vec<PartRecord>,
    ) -> Result<Option<FileRecord>, ApiError> {
        let Some(mut f) = catalog.files.get(file_id).cloned() else {
            return Ok(None);
        };
        match f.versions.last_mut() {
            Some(v) if v.id == version_id => v.parts = parts,
            _ => return Ok(None),
        }
        self.save_file(&f).await?;
        catalog.files.insert(f.id.clone(), f.clone());
        Ok(Some(f))
    }

    /// Keeps the SHA-512s a plan computed for parts of version `version_id` (by offset and
    /// `part_id`) recorded without one, so each is hashed at most once; nothing changes if that version
    /// is no longer file `file_id`'s current one, or the part has a SHA-512 by now.
    pub async fn record_part_sha512s(
        &self,
        catalog: &mut Catalog,
        file_id: &str,
        version_id: &str,
        sha512s: &[(u64, String, String)],
    ) -> Result<(), ApiError> {
        let Some(mut f) = catalog.files.get(file_id).cloned() else {
            return Ok(());
        };
        let Some(v) = f.versions.last_mut().filter(|v| v.id == version_id) else {
            return Ok(());
        };
        let mut changed = false;
        for p in &mut v.parts {
            if p.sha512.is_none() {
                let found = sha512s
                    .iter()
                    .find(|(o, id, _)| *o == p.offset && *id == p.part_id);
                if let Some((_, _, h)) = found {
                    p.sha512 = Some(h.clone());
                    changed = true;
                }
            }
        }
        if changed {
            self.save_file(&f).await?;
            catalog.files.insert(f.id.clone(), f);
        }
        Ok(())
    }

    /// What holds `name` in folder `folder_id` (case-insensitively): a file (other than
    /// `except`) or a folder, as its mini JSON.
    pub fn name_holder(
        &self,
        catalog: &Catalog,
        folder_id: &str,
        name: &str,
        except: Option<&str>,
    ) -> Option<Value> {
        if let Some(existing) = catalog.find_by_name(folder_id, name) {
            if Some(existing.id.as_str()) != except {
                return Some(existing.mini_json());
            }
        }
        self.folders()
            .find_by_name(folder_id, name)
            .map(FolderRecord::mini_json)
    }

    /// 409 item_name_in_use if `name` is taken in `folder_id` by a file other than `except`
    /// or by a folder (names are unique per folder across files and folders,
    /// case-insensitively). `context_info.conflicts` is the item, one object, as Box's file
    /// uploads answer.
    pub fn check_name_free(
        &self,
        catalog: &Catalog,
        folder_id: &str,
        name: &str,
        except: Option<&str>,
    ) -> Result<(), ApiError> {
        match self.name_holder(catalog, folder_id, name, except) {
            Some(holder) => Err(ApiError::name_in_use(holder)),
            None => Ok(()),
        }
    }

    /// 403 if `size` is over the per-file limit or does not fit the storage limit.
    pub fn check_size_limits(&self, catalog: &Catalog, size: u64) -> Result<(), ApiError> {
        if let Some(max) = self.config.max_file_size {
            if size > max {
                return Err(ApiError::file_size_limit());
            }
        }
        if let Some(limit) = self.config.storage_limit {
            if catalog.used_bytes.saturating_add(size) > limit {
                return Err(ApiError::storage_limit());
            }
        }
        Ok(())
    }

    /// The items of folder `id` in listing order (folders first, then by name).
    pub fn folder_items(&self, catalog: &Catalog, id: &str) -> Vec<Item> {
        let mut items: Vec<Item> = self
            .folders()
            .children(id)
            .cloned()
            .map(Item::Folder)
            .collect();
        items.extend(
            catalog
                .files
                .values()
                .filter(|f| f.folder_id == id)
                .cloned()
                .map(Item::File),
        );
        items.sort_by_cached_key(Item::sort_key);
        items
    }

    /// Total size of the current versions of the files in folder `id` and below.
    pub fn folder_size(&self, catalog: &Catalog, id: &str) -> u64 {
        let ids = self.folders().subtree(id);
        catalog
            .files
            .values()
            .filter(|f| ids.contains(&f.folder_id))
            .map(FileRecord::size)
            .sum()
    }

    /// Makes a folder named `name` in `parent_id` and persists it. The caller holds the
    /// catalog (which serializes every change of names) and has checked the name's syntax.
    pub async fn create_folder(
        &self,
        catalog: &mut Catalog,
        parent_id: &str,
        name: &str,
    ) -> Result<FolderRecord, ApiError> {
        if self.folder_name(parent_id).is_none() {
            return Err(ApiError::not_found("Could not find the specified resource"));
        }
        if let Some(holder) = self.name_holder(catalog, parent_id, name, None) {
            // Box's create-folder conflict lists the item in an array (ConflictError), where
            // its file uploads give one object.
            return Err(ApiError::name_in_use(Value::Array(vec![holder])));
        }
        let id = loop {
            let id = self.alloc_id(catalog).await?;
            if !self.folders().by_id.contains_key(&id) {
                break id;
            }
        };
        let now = Utc::now();
        let f = FolderRecord {
            id: id.clone(),
            name: name.to_string(),
            parent_id: Some(parent_id.to_string()),
            etag: 0,
            created_at: Some(now),
            modified_at: Some(now),
            configured: false,
            trashed: None,
        };
        self.save_folder(&f).await?;
        self.folders
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(f.clone());
        self.counters().folders_created += 1;
        Ok(f)
    }

    /// Adds a folder that is not persisted (configuration, `Emulator::add_folder`) under the
    /// root, named `Folder <id>`, if there is none with that id.
    pub fn add_configured_folder(&self, id: &str) {
        let mut folders = self.folders.write().unwrap_or_else(|e| e.into_inner());
        if !folders.by_id.contains_key(id) {
            folders.insert(FolderRecord::configured(id, Utc::now()));
        }
    }
}
