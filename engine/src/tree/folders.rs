//! Box folders of a tree: each resolved once however many files wait for it (found in the
//! journal, in its parent's listing, or created; a `409 item_name_in_use` on creation names
//! it), then listed once, all pages (the crate's pager), to learn what it holds.

use std::collections::HashMap;
use std::sync::Arc;

use super::context::{FolderResult, FolderState, Run};
use super::journal::{Entry, FolderLine};
use crate::models::{CreateFolderBody, CreateFolderBodyParent, Item, ItemType};
use crate::operations::{CreateFolderRequest, ListFolderItemsRequest};
use crate::paging::{self, Page};
use crate::upload::{UploadError, UploadErrorKind};

/// The fields a listing asks for.
const LIST_FIELDS: &[&str] = &["type", "id", "name", "sha1", "size", "etag", "modified_at"];

/// `a/b/c.txt` -> (`a/b`, `c.txt`); a name at the root has the parent `""`.
pub(crate) fn split_parent(rel: &str) -> (&str, &str) {
    match rel.rsplit_once('/') {
        Some((p, n)) => (p, n),
        None => ("", rel),
    }
}

/// The `(type, id)` of the item a `409 item_name_in_use` answer names (`context_info.conflicts`:
/// one object or an array of one).
fn named_conflict(conflict: Option<&serde_json::Value>) -> Option<(&str, &str)> {
    let item = match conflict? {
        serde_json::Value::Array(a) => a.first()?,
        other => other,
    };
    let field = |name| item.get(name).and_then(|v: &serde_json::Value| v.as_str());
    Some((field("type")?, field("id")?))
}

impl Run {
    /// Every item of Box folder `folder_id`, by lowercased name: all pages, by marker.
    async fn list(&self, folder_id: &str) -> Result<HashMap<String, Item>, UploadError> {
        let client = self.uploader.client();
        let entries = paging::collect(None::<String>, |marker| async move {
            let request = || {
                let req = ListFolderItemsRequest::new(folder_id)
                    .with_fields(LIST_FIELDS.iter().map(|s| s.to_string()).collect())
                    .with_usemarker(true)
                    .with_limit(1000);
                match &marker {
                    Some(m) => req.with_marker(m.clone()),
                    None => req,
                }
            };
            let page = self
                .call("list_folder_items", || client.list_folder_items(request()))
                .await?;
            Ok::<_, UploadError>(Page {
                items: page.entries.unwrap_or_default(),
                next: paging::next_marker(page.next_marker).map(Some),
            })
        })
        .await?;
        Ok(entries
            .into_iter()
            .filter_map(|item| Some((item.name.as_deref()?.to_lowercase(), item)))
            .collect())
    }

    /// The Box folder for local directory `path` (`""`: the tree's root), resolved once.
    ///
    /// Its ancestors are resolved first, top down, in this loop rather than each calling its
    /// parent: a deep tree (node_modules nests dozens of folders) costs no stack depth.
    pub(crate) async fn resolve(&self, path: &str) -> FolderResult {
        let mut chain = vec![""];
        if !path.is_empty() {
            chain.extend(path.match_indices('/').map(|(end, _)| &path[..end]));
            chain.push(path);
        }
        // A folder the journal knows needs no parent: start at the deepest one.
        let start = chain
            .iter()
            .rposition(|p| self.journal_folders.contains_key(*p))
            .unwrap_or(0);
        let mut resolved = None;
        for p in &chain[start..] {
            resolved = Some(self.resolve_one(p).await);
        }
        match resolved {
            Some(result) => result,
            // Never: the chain holds `path` at least.
            None => self.resolve_one(path).await,
        }
    }

    /// Folder `path` resolved once, its parent being resolved already (or not needed).
    async fn resolve_one(&self, path: &str) -> FolderResult {
        self.folder_cell(path)
            .get_or_init(|| async {
                self.resolve_uncached(path)
                    .await
                    .map(Arc::new)
                    .map_err(Arc::new)
            })
            .await
            .clone()
    }

    fn record_folder(&self, path: &str, id: &str) {
        if let Some(j) = &self.journal {
            if !path.is_empty() && !self.journal_folders.contains_key(path) {
                // A lost folder line only costs a listing next time.
                let _ = j.append(&Entry::Folder(FolderLine {
                    folder: path.to_string(),
                    id: id.to_string(),
                    root: self.root_id.clone(),
                }));
            }
        }
    }

    async fn listed(&self, path: &str, id: String) -> Result<FolderState, UploadError> {
        let items = self.list(&id).await?;
        self.record_folder(path, &id);
        Ok(FolderState::new(Some(id), items))
    }

    async fn resolve_uncached(&self, path: &str) -> Result<FolderState, UploadError> {
        if path.is_empty() {
            return self.listed(path, self.root_id.clone()).await;
        }
        if let Some(id) = self.journal_folders.get(path) {
            return self.listed(path, id.clone()).await;
        }
        let (parent_path, name) = split_parent(path);
        // `resolve` went through the parent just before.
        let parent = match self.folder_cell(parent_path).get() {
            Some(Ok(parent)) => parent.clone(),
            Some(Err(e)) => {
                return Err(UploadError::from(UploadErrorKind::InvalidInput {
                    detail: format!("the parent folder {parent_path:?} is not available: {e}"),
                }))
            }
            None => {
                return Err(UploadError::from(UploadErrorKind::InvalidInput {
                    detail: format!("the parent folder {parent_path:?} was not resolved first"),
                }))
            }
        };
        if let Some(item) = parent.items.get(&name.to_lowercase()) {
            if item.r#type == ItemType::Folder {
                return self.listed(path, item.id.clone()).await;
            }
            return Err(UploadError::from(UploadErrorKind::InvalidInput {
                detail: format!("Box holds a file {name:?} where the folder {path:?} should be"),
            }));
        }
        let Some(parent_id) = parent.id.clone().filter(|_| !self.dry_run) else {
            return Ok(FolderState::new(None, HashMap::new()));
        };
        let client = self.uploader.client();
        let created = self
            .call("create_folder", || {
                let body = CreateFolderBody {
                    name: name.to_string(),
                    parent: CreateFolderBodyParent {
                        id: parent_id.clone(),
                    },
                };
                client.create_folder(CreateFolderRequest::new(body).with_fields(vec!["id".into()]))
            })
            .await;
        match created {
            Ok(folder) => {
                self.folder_created();
                self.record_folder(path, &folder.id);
                Ok(FolderState::new(Some(folder.id), HashMap::new()))
            }
            Err(e) => {
                // 409 item_name_in_use: made meanwhile (by a retry whose answer was lost, or
                // by someone else); the answer names it.
                if e.code() == Some("item_name_in_use") {
                    let conflict = e.call_error().and_then(|c| c.conflict());
                    if let Some(("folder", id)) = named_conflict(conflict.as_ref()) {
                        return self.listed(path, id.to_string()).await;
                    }
                }
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_parent_splits_at_the_last_slash() {
        assert_eq!(split_parent("a/b/c.txt"), ("a/b", "c.txt"));
        assert_eq!(split_parent("c.txt"), ("", "c.txt"));
    }

    #[test]
    fn a_409_names_the_item_as_one_object_or_an_array_of_one() {
        let one = serde_json::json!({"type": "folder", "id": "7", "name": "a"});
        let array = serde_json::json!([{"type": "folder", "id": "8"}]);
        assert_eq!(named_conflict(Some(&one)), Some(("folder", "7")));
        assert_eq!(named_conflict(Some(&array)), Some(("folder", "8")));
        assert_eq!(named_conflict(Some(&serde_json::json!([]))), None);
        assert_eq!(named_conflict(Some(&serde_json::json!({"id": "9"}))), None);
        assert_eq!(named_conflict(None), None);
    }
}
