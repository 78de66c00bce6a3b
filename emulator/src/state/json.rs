//! How records are rendered as Box's JSON: File and Folder (full, or mini plus the `fields`
//! asked for), listing entries, file versions, upload sessions and parts.

use super::catalog::{Catalog, Item};
use super::records::{FileRecord, FolderRecord, PartRecord, SessionMeta, Trashed, VersionRecord};
use super::Shared;
use crate::util;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

/// The user every item is created, modified and owned by.
fn emulator_user() -> Value {
    json!({"type": "user", "id": "1", "name": "Emulator User", "login": "emulator@example.com"})
}

fn time(t: Option<DateTime<Utc>>) -> Option<String> {
    t.map(util::rfc3339)
}

/// How long the trash keeps an item before purging it: Box's default (an enterprise may set
/// another); `purged_at` is `trashed_at` plus this. Nothing is purged by time here.
const TRASH_RETENTION_DAYS: i64 = 30;

/// `trashed_at`, `purged_at` and `item_status` of an item, in the trash or not.
fn trash_fields(t: Option<&Trashed>) -> (Value, Value, &'static str) {
    match t {
        None => (Value::Null, Value::Null, "active"),
        Some(t) => (
            json!(util::rfc3339(t.at)),
            json!(util::rfc3339(
                t.at + chrono::Duration::days(TRASH_RETENTION_DAYS)
            )),
            "trashed",
        ),
    }
}

/// `path_collection` of an item in the trash: the Trash folder alone (id `1`, null
/// `sequence_id` and `etag`), as Box's TrashFile schema describes it.
fn trash_path_collection() -> Value {
    json!({"total_count": 1, "entries": [
        {"type": "folder", "id": "1", "sequence_id": null, "etag": null, "name": "Trash"}
    ]})
}

/// Fields of File--Full that the emulator answers only when `fields` asks for them: what
/// Box answers for a file of the caller's own, not shared, locked, collaborated on,
/// classified or watermarked. `tags` (always empty) is in the standard answer already.
fn file_fields_on_request() -> Value {
    let yes = true;
    json!({
        "permissions": {
            "can_delete": yes, "can_download": yes, "can_invite_collaborator": yes,
            "can_rename": yes, "can_set_share_access": yes, "can_share": yes,
            "can_annotate": yes, "can_comment": yes, "can_preview": yes, "can_upload": yes,
            "can_view_annotations_all": yes, "can_view_annotations_self": yes,
        },
        "lock": null,
        "has_collaborations": false,
        "is_externally_owned": false,
        "is_accessible_via_shared_link": false,
        "allowed_invitee_roles": ["editor", "viewer", "previewer", "uploader",
            "previewer uploader", "viewer uploader", "co-owner"],
        "shared_link_permission_options": null,
        "watermark_info": {"is_watermarked": false, "is_watermark_inherited": false,
            "is_watermarked_by_access_policy": false},
        "expires_at": null,
        "disposition_at": null,
        "classification": null,
        "uploader_display_name": "Emulator User",
        "is_associated_with_app_item": false,
    })
}

impl FileRecord {
    /// File--Mini, the shape of `context_info.conflicts` and of listing entries.
    pub fn mini_json(&self) -> Value {
        let (vid, sha1) = self
            .current()
            .map(|v| (v.id.clone(), v.sha1.clone()))
            .unwrap_or_default();
        json!({
            "type": "file",
            "id": self.id,
            "file_version": {"type": "file_version", "id": vid, "sha1": sha1},
            "sequence_id": self.etag_str(),
            "etag": self.etag_str(),
            "sha1": sha1,
            "name": self.name,
        })
    }
}

impl FolderRecord {
    /// Folder--Mini: `type`, `id`, `sequence_id`, `etag`, `name` (the root's `sequence_id`
    /// and `etag` are null, as Box's).
    pub fn mini_json(&self) -> Value {
        if self.id == "0" {
            json!({"type": "folder", "id": "0", "sequence_id": null, "etag": null, "name": self.name})
        } else {
            json!({"type": "folder", "id": self.id, "sequence_id": self.etag.to_string(),
                   "etag": self.etag.to_string(), "name": self.name})
        }
    }
}

impl PartRecord {
    /// UploadPart.
    pub fn json(&self) -> Value {
        let mut v = json!({"part_id": self.part_id, "offset": self.offset, "size": self.size, "sha1": self.sha1});
        if let Some(h) = &self.sha512 {
            v["sha512"] = json!(h);
        }
        v
    }
}

impl VersionRecord {
    /// FileVersion.
    pub fn json(&self) -> Value {
        json!({
            "type": "file_version",
            "id": self.id,
            "sha1": self.sha1,
            "name": self.name,
            "size": self.size,
            "created_at": util::rfc3339(self.created_at),
            "modified_at": util::rfc3339(self.created_at),
            "trashed_at": null,
            "purged_at": null,
        })
    }
}

/// With `fields`, the `base` (mini) fields of `full` plus the requested ones, in `full`'s
/// order; without, `full`.
fn select_fields(full: Value, fields: Option<&[String]>, base: &[&str]) -> Value {
    let (Some(fields), Value::Object(full)) = (fields, &full) else {
        return full;
    };
    let out: serde_json::Map<String, Value> = full
        .iter()
        .filter(|(k, _)| base.contains(&k.as_str()) || fields.iter().any(|f| f == *k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Value::Object(out)
}

impl Shared {
    /// Folder--Mini of folder `id` (a placeholder if it does not exist).
    pub fn folder_json(&self, id: &str) -> Value {
        let folders = self.folders();
        // The parent of an item in the trash may be in the trash too.
        match folders.by_id.get(id).or_else(|| folders.trash.get(id)) {
            Some(f) => f.mini_json(),
            None => json!({"type": "folder", "id": id, "sequence_id": "0", "etag": "0",
                           "name": format!("Folder {id}")}),
        }
    }

    /// `path_collection` of an item in folder `parent_id`: the folder and its ancestors,
    /// root first, as Folder--Mini.
    pub fn path_collection(&self, parent_id: &str) -> Value {
        let folders = self.folders();
        let entries: Vec<Value> = folders
            .chain(parent_id)
            .into_iter()
            .map(FolderRecord::mini_json)
            .collect();
        json!({"total_count": entries.len(), "entries": entries})
    }

    /// `path_collection` of a folder whose parent is `parent_id` (empty for the root).
    fn folder_path_collection(&self, parent_id: Option<&str>) -> Value {
        match parent_id {
            Some(p) => self.path_collection(p),
            None => json!({"total_count": 0, "entries": []}),
        }
    }

    /// UploadSession.
    pub fn session_json(&self, meta: &SessionMeta, processed: u64) -> Value {
        let base = format!("{}/files/upload_sessions/{}", self.upload_base(), meta.id);
        json!({
            "type": "upload_session",
            "id": meta.id,
            "session_expires_at": util::rfc3339(meta.expires_at),
            "part_size": meta.part_size,
            "total_parts": meta.total_parts,
            "num_parts_processed": processed,
            "session_endpoints": {
                "upload_part": base,
                "commit": format!("{base}/commit"),
                "abort": base,
                "list_parts": format!("{base}/parts"),
                "status": base,
                "log_event": format!("{base}/log"),
                "plan": format!("{base}/plan"),
            }
        })
    }

    /// Standard File JSON (the fields of File--Full that make sense here), or when
    /// `fields` is given, the File--Mini fields plus the requested ones.
    pub fn file_json(&self, f: &FileRecord, fields: Option<&[String]>) -> Value {
        let (vid, sha1) = f
            .current()
            .map(|v| (v.id.clone(), v.sha1.clone()))
            .unwrap_or_default();
        let user = emulator_user();
        let (trashed_at, purged_at, status) = trash_fields(f.trashed.as_ref());
        let path_collection = match f.trashed {
            Some(_) => trash_path_collection(),
            None => self.path_collection(&f.folder_id),
        };
        let extension = match f.name.rsplit_once('.') {
            Some((stem, ext)) if !stem.is_empty() => ext.to_string(),
            _ => String::new(),
        };
        let full = json!({
            "type": "file",
            "id": f.id,
            "etag": f.etag_str(),
            "sequence_id": f.etag_str(),
            "name": f.name,
            "sha1": sha1,
            "file_version": {"type": "file_version", "id": vid, "sha1": sha1},
            "description": "",
            "size": f.size(),
            "path_collection": path_collection,
            "created_at": util::rfc3339(f.created_at),
            "modified_at": util::rfc3339(f.modified_at),
            "trashed_at": trashed_at,
            "purged_at": purged_at,
            "content_created_at": util::rfc3339(f.content_created_at),
            "content_modified_at": util::rfc3339(f.content_modified_at),
            "created_by": user,
            "modified_by": user,
            "owned_by": user,
            "shared_link": null,
            "parent": self.folder_json(&f.folder_id),
            "item_status": status,
            "version_number": f.versions.len().to_string(),
            "comment_count": 0,
            "extension": extension,
            "is_package": false,
            "tags": [],
        });
        let full = match (fields, full) {
            (Some(_), Value::Object(mut m)) => {
                if let Value::Object(extra) = file_fields_on_request() {
                    m.extend(extra);
                }
                Value::Object(m)
            }
            (_, full) => full,
        };
        select_fields(
            full,
            fields,
            &[
                "type",
                "id",
                "etag",
                "sequence_id",
                "name",
                "sha1",
                "file_version",
            ],
        )
    }

    /// User--Full's standard fields for user `id` (the service account or a configured
    /// user), or with `fields` its `type` and `id` plus the fields asked for. The limits are
    /// the configured ones ([`crate::Config::max_file_size`] and
    /// [`crate::Config::storage_limit`]); one that is not set reads as 999999999999999, the
    /// number Box gives for unlimited storage. `space_used` is every stored version's bytes,
    /// the trash's included, as the storage limit counts them.
    pub fn user_json(&self, catalog: &Catalog, id: &str, fields: Option<&[String]>) -> Value {
        const UNLIMITED: u64 = 999_999_999_999_999;
        let (name, login) = if id == crate::config::SERVICE_ACCOUNT_ID {
            (
                "Emulator Service Account".to_string(),
                format!("AutomationUser_{id}@boxdevedition.com"),
            )
        } else {
            (format!("User {id}"), format!("user{id}@example.com"))
        };
        let full = json!({
            "type": "user",
            "id": id,
            "name": name,
            "login": login,
            "created_at": "2020-01-01T00:00:00Z",
            "modified_at": "2020-01-01T00:00:00Z",
            "language": "en",
            "timezone": "UTC",
            "space_amount": self.config.storage_limit.unwrap_or(UNLIMITED),
            "space_used": catalog.used_bytes,
            "max_upload_size": self.config.max_file_size.unwrap_or(UNLIMITED),
            "status": "active",
            "job_title": "",
            "phone": "",
            "address": "",
            "avatar_url": "",
            "notification_email": null,
        });
        select_fields(full, fields, &["type", "id"])
    }

    /// Files: the answer of an upload or a commit, the one file stored.
    pub fn files_json(&self, f: &FileRecord, fields: Option<&[String]>) -> Value {
        json!({"total_count": 1, "entries": [self.file_json(f, fields)]})
    }

    /// Standard Folder JSON (with the first 100 items as `item_collection`), or with `fields`
    /// Folder--Mini plus the requested fields.
    pub fn folder_full_json(
        &self,
        catalog: &Catalog,
        f: &FolderRecord,
        fields: Option<&[String]>,
    ) -> Value {
        let user = emulator_user();
        let parent = match &f.parent_id {
            Some(p) => self.folder_json(p),
            None => Value::Null,
        };
        let items = self.folder_items(catalog, &f.id);
        let total = items.len();
        let entries: Vec<Value> = items
            .iter()
            .take(100)
            .map(|i| self.item_json(i, None))
            .collect();
        let mini = f.mini_json();
        let (trashed_at, purged_at, status) = trash_fields(f.trashed.as_ref());
        // A trashed folder's size is that of the files that went to the trash with it.
        let (size, path_collection) = match &f.trashed {
            None => (
                self.folder_size(catalog, &f.id),
                self.folder_path_collection(f.parent_id.as_deref()),
            ),
            Some(_) => (
                catalog
                    .trash
                    .values()
                    .filter(|x| {
                        x.trashed.as_ref().and_then(|t| t.with.as_deref()) == Some(f.id.as_str())
                    })
                    .map(FileRecord::size)
                    .sum(),
                trash_path_collection(),
            ),
        };
        let full = json!({
            "type": "folder",
            "id": f.id,
            "sequence_id": mini["sequence_id"],
            "etag": mini["etag"],
            "name": f.name,
            "created_at": time(f.created_at),
            "modified_at": time(f.modified_at),
            "description": "",
            "size": size,
            "path_collection": path_collection,
            "created_by": user,
            "modified_by": user,
            "trashed_at": trashed_at,
            "purged_at": purged_at,
            "content_created_at": time(f.created_at),
            "content_modified_at": time(f.modified_at),
            "owned_by": user,
            "shared_link": null,
            "folder_upload_email": null,
            "parent": parent,
            "item_status": status,
            "item_collection": {
                "total_count": total,
                "entries": entries,
                "offset": 0,
                "limit": 100,
                "order": [{"by": "type", "direction": "ASC"}, {"by": "name", "direction": "ASC"}],
            },
        });
        select_fields(full, fields, &["type", "id", "sequence_id", "etag", "name"])
    }

    /// A listing entry: Folder--Mini or File--Mini, plus the requested `fields`.
    pub fn item_json(&self, item: &Item, fields: Option<&[String]>) -> Value {
        match (item, fields) {
            (Item::File(f), None) => f.mini_json(),
            (Item::File(f), Some(_)) => self.file_json(f, fields),
            (Item::Folder(f), None) => f.mini_json(),
            (Item::Folder(f), Some(fields)) => self.folder_entry_json(f, fields),
        }
    }

    /// A folder's listing entry with `fields`: only what a listing can afford per entry.
    fn folder_entry_json(&self, f: &FolderRecord, fields: &[String]) -> Value {
        let mut v = f.mini_json();
        let extra = [
            ("created_at", json!(time(f.created_at))),
            ("modified_at", json!(time(f.modified_at))),
            ("content_created_at", json!(time(f.created_at))),
            ("content_modified_at", json!(time(f.modified_at))),
            ("item_status", json!("active")),
            ("description", json!("")),
            ("trashed_at", Value::Null),
            ("purged_at", Value::Null),
            ("shared_link", Value::Null),
            (
                "parent",
                f.parent_id
                    .as_deref()
                    .map(|p| self.folder_json(p))
                    .unwrap_or(Value::Null),
            ),
        ];
        for (k, val) in extra {
            if fields.iter().any(|x| x == k) {
                v[k] = val;
            }
        }
        if fields.iter().any(|x| x == "path_collection") {
            v["path_collection"] = self.folder_path_collection(f.parent_id.as_deref());
        }
        v
    }
}
