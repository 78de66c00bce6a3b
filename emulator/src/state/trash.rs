//! The trash: files and folders moved there, purged for good, or restored.
//!
//! A trashed item is out of its folder: no lookup by id finds it, no listing shows it, it
//! holds no name, and an open upload session that targets it fails at commit. Its record stays
//! on disk (marked [`Trashed`]) and its bytes still count toward the storage limit (Box: the
//! trash counts toward the quota) until it is purged. A folder goes with everything below it;
//! those items are marked as gone with it and cannot be read or restored on their own: they
//! come back, or are purged, with the folder.

use super::catalog::Catalog;
use super::disk::{io_err, write_json_atomic};
use super::records::{FileRecord, FolderRecord, Trashed};
use super::Shared;
use crate::error::ApiError;
use axum::http::StatusCode;
use chrono::Utc;

/// `404 not_found` for an item that is not (directly) in the trash.
fn not_in_trash() -> ApiError {
    ApiError::not_found("Could not find the specified resource")
}

impl Shared {
    /// Moves live file `id` to the trash; its etag changes.
    pub async fn trash_file(&self, catalog: &mut Catalog, id: &str) -> Result<(), ApiError> {
        let mut f = catalog.files.get(id).cloned().ok_or_else(not_in_trash)?;
        f.etag += 1;
        f.trashed = Some(Trashed {
            at: Utc::now(),
            with: None,
        });
        self.save_file(&f).await?;
        catalog.take_live(id);
        catalog.trash.insert(f.id.clone(), f);
        self.counters().files_trashed += 1;
        Ok(())
    }

    /// A file trashed on its own (one trashed with a folder is found through that folder
    /// only, as Box's reference says for `GET /files/{id}/trash`).
    pub fn trashed_file(&self, catalog: &Catalog, id: &str) -> Result<FileRecord, ApiError> {
        catalog
            .trash
            .get(id)
            .filter(|f| f.trashed.as_ref().is_some_and(|t| t.with.is_none()))
            .cloned()
            .ok_or_else(not_in_trash)
    }

    /// Deletes trashed file `id` for good.
    pub async fn purge_file(&self, catalog: &mut Catalog, id: &str) -> Result<(), ApiError> {
        self.trashed_file(catalog, id)?;
        self.purge_file_record(catalog, id).await?;
        self.counters().files_purged += 1;
        Ok(())
    }

    /// Removes file `id` of the trash for good: its record, then its versions' content.
    async fn purge_file_record(&self, catalog: &mut Catalog, id: &str) -> Result<(), ApiError> {
        let Some(f) = catalog.trash.get(id).cloned() else {
            return Ok(());
        };
        remove_record(&self.file_meta_path(id), "removing file metadata").await?;
        catalog.trash.remove(id);
        for v in &f.versions {
            catalog.used_bytes = catalog.used_bytes.saturating_sub(v.size);
            if let Err(e) = tokio::fs::remove_file(self.blob_path(&v.id)).await {
                tracing::warn!("removing content of purged version {}: {e}", v.id);
            }
        }
        Ok(())
    }

    /// Restores trashed file `id` into `parent_id` (default: the folder it was in) as
    /// `name` (default: its name): `404 not_found` if that folder is not there (Box documents
    /// a 403 for a folder the caller cannot reach, and nothing for one that is gone: 404 is
    /// what the emulator answers for any missing parent), `409 item_name_in_use` if the name
    /// is taken there. Its etag changes.
    pub async fn restore_file(
        &self,
        catalog: &mut Catalog,
        id: &str,
        name: Option<&str>,
        parent_id: Option<&str>,
    ) -> Result<FileRecord, ApiError> {
        let mut f = self.trashed_file(catalog, id)?;
        let folder = parent_id.unwrap_or(&f.folder_id).to_string();
        if self.folder_name(&folder).is_none() {
            return Err(ApiError::not_found("The parent folder was not found"));
        }
        let name = name.unwrap_or(&f.name).to_string();
        self.check_name_free(catalog, &folder, &name, None)?;
        f.folder_id = folder;
        f.name = name;
        f.etag += 1;
        f.trashed = None;
        self.save_file(&f).await?;
        catalog.trash.remove(id);
        catalog.insert(f.clone(), 0);
        self.counters().files_restored += 1;
        Ok(f)
    }

    /// Moves folder `id` to the trash with everything below it. `403` for the root (what Box
    /// answers is not documented; it cannot be deleted), `400 folder_not_empty` for a folder
    /// with items unless `recursive`. The items go first and the folder last, so a crash
    /// half-way leaves the folder where it was, holding what was not yet trashed.
    pub async fn trash_folder(
        &self,
        catalog: &mut Catalog,
        id: &str,
        recursive: bool,
    ) -> Result<(), ApiError> {
        if id == "0" {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "access_denied_insufficient_permissions",
                "The root folder cannot be deleted",
            ));
        }
        if self.folder(id).is_none() {
            return Err(not_in_trash());
        }
        if !recursive && !self.folder_items(catalog, id).is_empty() {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "folder_not_empty",
                "The folder is not empty (recursive=true deletes it with its items)",
            ));
        }
        let now = Utc::now();
        let below = self.folders().subtree(id);
        let files: Vec<String> = catalog
            .files
            .values()
            .filter(|f| below.contains(&f.folder_id))
            .map(|f| f.id.clone())
            .collect();
        for file_id in files {
            let Some(mut f) = catalog.files.get(&file_id).cloned() else {
                continue;
            };
            f.etag += 1;
            f.trashed = Some(Trashed {
                at: now,
                with: Some(id.to_string()),
            });
            self.save_file(&f).await?;
            catalog.take_live(&file_id);
            catalog.trash.insert(file_id, f);
        }
        // Deepest folders first, the folder itself last.
        let mut folders: Vec<(usize, String)> = below
            .into_iter()
            .map(|f| (self.folders().chain(&f).len(), f))
            .collect();
        folders.sort_by(|a, b| b.cmp(a));
        for (_, folder_id) in folders {
            let with = (folder_id != id).then(|| id.to_string());
            self.trash_one_folder(&folder_id, Trashed { at: now, with })
                .await?;
        }
        self.counters().folders_trashed += 1;
        Ok(())
    }

    /// Marks one folder trashed, saved (unless configured) before it leaves the live folders.
    async fn trash_one_folder(&self, id: &str, trashed: Trashed) -> Result<(), ApiError> {
        let Some(mut f) = self.folder(id) else {
            return Ok(());
        };
        f.etag += 1;
        f.trashed = Some(trashed);
        if !f.configured {
            self.save_folder(&f).await?;
        }
        let mut folders = self.folders.write().unwrap_or_else(|e| e.into_inner());
        folders.remove(id);
        folders.trash.insert(f.id.clone(), f);
        Ok(())
    }

    /// A folder trashed on its own (one trashed with a folder above it is found through that
    /// folder only).
    pub fn trashed_folder(&self, id: &str) -> Result<FolderRecord, ApiError> {
        self.folders()
            .trash
            .get(id)
            .filter(|f| f.trashed.as_ref().is_some_and(|t| t.with.is_none()))
            .cloned()
            .ok_or_else(not_in_trash)
    }

    /// What went to the trash with folder `id`: its files and its folders, by id.
    fn trashed_with(&self, catalog: &Catalog, id: &str) -> (Vec<String>, Vec<String>) {
        let went_with =
            |t: &Option<Trashed>| t.as_ref().and_then(|t| t.with.as_deref()) == Some(id);
        let files = catalog
            .trash
            .values()
            .filter(|f| went_with(&f.trashed))
            .map(|f| f.id.clone())
            .collect();
        let folders = self
            .folders()
            .trash
            .values()
            .filter(|f| went_with(&f.trashed))
            .map(|f| f.id.clone())
            .collect();
        (files, folders)
    }

    /// Deletes trashed folder `id` for good, with everything that went to the trash with it.
    pub async fn purge_folder(&self, catalog: &mut Catalog, id: &str) -> Result<(), ApiError> {
        let top = self.trashed_folder(id)?;
        let (files, folders) = self.trashed_with(catalog, id);
        for file_id in files {
            self.purge_file_record(catalog, &file_id).await?;
        }
        for folder_id in folders.iter().map(String::as_str).chain([id]) {
            let configured = folder_id == id && top.configured;
            if !configured {
                remove_record(&self.folder_meta_path(folder_id), "removing folder").await?;
            }
            self.folders
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .trash
                .remove(folder_id);
        }
        self.counters().folders_purged += 1;
        Ok(())
    }

    /// Restores trashed folder `id` into `parent_id` (default: where it was) as `name`
    /// (default: its name), with everything that went to the trash with it: `404 not_found`
    /// if that parent is not there, `409 item_name_in_use` (the holder in an array, as for a
    /// new folder) if the name is taken there. The folder comes back first, then its folders,
    /// then its files, so a crash half-way leaves the folder live with what was restored.
    pub async fn restore_folder(
        &self,
        catalog: &mut Catalog,
        id: &str,
        name: Option<&str>,
        parent_id: Option<&str>,
    ) -> Result<FolderRecord, ApiError> {
        let mut f = self.trashed_folder(id)?;
        let parent = parent_id
            .map(str::to_string)
            .or_else(|| f.parent_id.clone())
            .unwrap_or_else(|| "0".to_string());
        if self.folder_name(&parent).is_none() {
            return Err(ApiError::not_found("The parent folder was not found"));
        }
        let name = name.unwrap_or(&f.name).to_string();
        if let Some(holder) = self.name_holder(catalog, &parent, &name, None) {
            return Err(ApiError::name_in_use(serde_json::Value::Array(vec![
                holder,
            ])));
        }
        let (files, folders) = self.trashed_with(catalog, id);
        f.parent_id = Some(parent);
        f.name = name;
        self.restore_one_folder(f.clone()).await?;
        for folder_id in folders {
            let sub = self.folders().trash.get(&folder_id).cloned();
            if let Some(sub) = sub {
                self.restore_one_folder(sub).await?;
            }
        }
        for file_id in files {
            let Some(mut file) = catalog.trash.get(&file_id).cloned() else {
                continue;
            };
            file.etag += 1;
            file.trashed = None;
            self.save_file(&file).await?;
            catalog.trash.remove(&file_id);
            catalog.insert(file, 0);
        }
        self.counters().folders_restored += 1;
        Ok(self.folder(id).unwrap_or(f))
    }

    /// Brings one trashed folder back among the live ones (etag bumped, saved first).
    async fn restore_one_folder(&self, mut f: FolderRecord) -> Result<(), ApiError> {
        f.etag += 1;
        f.trashed = None;
        if !f.configured {
            self.save_folder(&f).await?;
        }
        let mut folders = self.folders.write().unwrap_or_else(|e| e.into_inner());
        folders.trash.remove(&f.id);
        folders.insert(f);
        Ok(())
    }

    fn folder_meta_path(&self, id: &str) -> std::path::PathBuf {
        self.data_dir.join("folders").join(format!("{id}.json"))
    }

    pub(super) async fn save_folder(&self, f: &FolderRecord) -> Result<(), ApiError> {
        write_json_atomic(&self.folder_meta_path(&f.id), f)
            .await
            .map_err(io_err("saving folder"))
    }
}

/// Removes a record file; one that is not there is fine.
async fn remove_record(path: &std::path::Path, what: &str) -> Result<(), ApiError> {
    match tokio::fs::remove_file(path).await {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(ApiError::io(what, e)),
    }
}
