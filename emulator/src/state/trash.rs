//! The trash: files and folders moved there, purged for good, or restored.
//!
//! A trashed item is out of its folder: no lookup by id finds it, no listing shows it, it
//! holds no name, and an open upload session that targets it fails at commit. Its record stays
//! on disk (marked [`Trashed`]) and its bytes still count toward the storage limit (Box: the
//! trash counts toward the quota) until it is purged. A folder goes with everything below it;
//! those items are marked as gone with it and cannot be read or restored on their own.

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

    /// Deletes trashed file `id` for good: its record, then its versions' content.
    pub async fn purge_file(&self, catalog: &mut Catalog, id: &str) -> Result<(), ApiError> {
        let f = self.trashed_file(catalog, id)?;
        match tokio::fs::remove_file(self.file_meta_path(id)).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(ApiError::io("removing file metadata", e)),
        }
        catalog.trash.remove(id);
        for v in &f.versions {
            catalog.used_bytes = catalog.used_bytes.saturating_sub(v.size);
            if let Err(e) = tokio::fs::remove_file(self.blob_path(&v.id)).await {
                tracing::warn!("removing content of purged version {}: {e}", v.id);
            }
        }
        self.counters().files_purged += 1;
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

    pub(super) async fn save_folder(&self, f: &FolderRecord) -> Result<(), ApiError> {
        write_json_atomic(
            &self.data_dir.join("folders").join(format!("{}.json", f.id)),
            f,
        )
        .await
        .map_err(io_err("saving folder"))
    }
}
