//! Names an API call's final failure by what a caller acts on: refused credentials, a missing
//! folder, file or session, a name in use (and by which item), too large, or transient failures
//! until the retry budget was spent. The engine ends a failed call in
//! [`UploadErrorKind::Api`]; the handle of a public upload names it here, knowing the upload's
//! target and size. Any other answer stays `Api`.

use super::calls::{CallError, CallErrorKind, Target};
use super::error::{ExistingItem, Missing, SizeLimit, UploadError, UploadErrorKind};

/// The calls made on an upload session (a 404 to them means the session is gone).
const SESSION_CALLS: [&str; 5] = [
    "upload_part",
    "commit_upload_session",
    "list_upload_parts",
    "get_upload_session",
    "abort_upload_session",
];

impl UploadError {
    /// Names a call's final failure by what a caller acts on ([`name`]), knowing the upload's
    /// target and size; other kinds are kept.
    pub(crate) fn named(self, target: &Target, size: u64) -> Self {
        let UploadErrorKind::Api {
            operation,
            attempts,
        } = *self.kind()
        else {
            return self;
        };
        let named = self
            .call_error()
            .and_then(|call| name(call, operation, attempts, target, size));
        match named {
            Some(kind) => self.with_kind(kind),
            None => self,
        }
    }
}

/// The kind that names `call`'s failure, or `None` to leave it [`UploadErrorKind::Api`].
pub(crate) fn name(
    call: &CallError,
    operation: &'static str,
    attempts: u32,
    target: &Target,
    size: u64,
) -> Option<UploadErrorKind> {
    if call.is_retryable() {
        return Some(UploadErrorKind::GaveUp {
            operation,
            attempts,
            last: call.reason(),
        });
    }
    if call.kind() == CallErrorKind::Credentials {
        return Some(UploadErrorKind::CredentialsRefused {
            operation,
            attempts,
            status: call.api_error().map(|e| e.status()),
        });
    }
    let api = call.api_error()?;
    let too_large = |limit| UploadErrorKind::TooLarge {
        operation,
        attempts,
        size,
        limit,
    };
    match (api.status(), api.code()) {
        (403, Some("file_size_limit_exceeded")) => Some(too_large(SizeLimit::FileSize)),
        (403, Some("storage_limit_exceeded")) => Some(too_large(SizeLimit::Storage)),
        (413, _) => Some(too_large(SizeLimit::Request)),
        (401 | 403, _) => Some(UploadErrorKind::CredentialsRefused {
            operation,
            attempts,
            status: Some(api.status()),
        }),
        (404, _) => Some(UploadErrorKind::NotFound {
            operation,
            attempts,
            missing: missing(operation, target),
        }),
        (409, Some("item_name_in_use")) => {
            let existing = Box::new(ExistingItem::from_conflicts(&call.conflict()?)?);
            Some(UploadErrorKind::Conflict {
                operation,
                attempts,
                existing,
            })
        }
        _ => None,
    }
}

/// What a 404 to `operation` says is missing.
fn missing(operation: &str, target: &Target) -> Missing {
    if SESSION_CALLS.contains(&operation) {
        return Missing::Session;
    }
    match target {
        Target::NewFile { folder_id, .. } => Missing::Folder {
            id: folder_id.clone(),
        },
        Target::NewVersion { file_id, .. } => Missing::File {
            id: file_id.clone(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upload::calls::fake_answers::{answer, answer_with};

    fn new_file() -> Target {
        Target::NewFile {
            folder_id: "42".into(),
            name: "a.txt".into(),
        }
    }

    #[test]
    fn a_name_in_use_names_the_file_from_an_object_or_a_list() {
        let one = serde_json::json!({"conflicts": {"type": "file", "id": "11", "name": "A.txt", "sha1": "ab"}});
        let list =
            serde_json::json!({"conflicts": [{"type": "file", "id": "12", "name": "a.txt"}]});
        for (info, id, name) in [(one, "11", "A.txt"), (list, "12", "a.txt")] {
            let call = answer_with(409, Some("item_name_in_use"), None, Some(info));
            match name_of(&call, "upload_file") {
                Some(UploadErrorKind::Conflict {
                    existing,
                    attempts: 1,
                    ..
                }) => {
                    assert_eq!((existing.id.as_str(), existing.name.as_str()), (id, name));
                    assert_eq!(existing.kind, "file");
                }
                other => panic!("expected a conflict, got {other:?}"),
            }
        }
        // A 409 that names nothing stays an API error.
        assert_eq!(
            name_of(&answer(409, Some("item_name_in_use")), "upload_file"),
            None
        );
    }

    fn name_of(call: &CallError, operation: &'static str) -> Option<UploadErrorKind> {
        name(call, operation, 1, &new_file(), 7)
    }

    #[test]
    fn statuses_name_what_a_caller_acts_on() {
        assert!(matches!(
            name_of(&answer(401, Some("unauthorized")), "upload_file"),
            Some(UploadErrorKind::CredentialsRefused {
                status: Some(401),
                ..
            })
        ));
        assert!(matches!(
            name_of(
                &answer(403, Some("access_denied_insufficient_permissions")),
                "upload_file"
            ),
            Some(UploadErrorKind::CredentialsRefused {
                status: Some(403),
                ..
            })
        ));
        assert_eq!(
            name_of(
                &answer(403, Some("file_size_limit_exceeded")),
                "upload_file"
            ),
            Some(UploadErrorKind::TooLarge {
                operation: "upload_file",
                attempts: 1,
                size: 7,
                limit: SizeLimit::FileSize
            })
        );
        assert!(matches!(
            name_of(
                &answer(413, Some("request_entity_too_large")),
                "upload_file"
            ),
            Some(UploadErrorKind::TooLarge {
                limit: SizeLimit::Request,
                ..
            })
        ));
        assert_eq!(
            name_of(&answer(404, Some("not_found")), "create_upload_session"),
            Some(UploadErrorKind::NotFound {
                operation: "create_upload_session",
                attempts: 1,
                missing: Missing::Folder { id: "42".into() }
            })
        );
        let version = Target::NewVersion {
            file_id: "9".into(),
            name: None,
        };
        assert!(matches!(
            name(&answer(404, None), "upload_file_version", 1, &version, 7),
            Some(UploadErrorKind::NotFound { missing: Missing::File { id }, .. }) if id == "9"
        ));
        assert!(matches!(
            name_of(&answer(404, None), "upload_part"),
            Some(UploadErrorKind::NotFound {
                missing: Missing::Session,
                ..
            })
        ));
        assert!(matches!(
            name(&answer(503, Some("unavailable")), "upload_part", 8, &new_file(), 7),
            Some(UploadErrorKind::GaveUp { attempts: 8, last, .. }) if last == "HTTP 503 unavailable"
        ));
        assert_eq!(
            name_of(&answer(412, Some("precondition_failed")), "commit"),
            None
        );
    }
}
