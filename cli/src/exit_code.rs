//! Exit codes: what a failure's chain of errors says ([`Facts`], read once by [`facts_of`])
//! decides the code ([`exit_for`], the one mapping, tested from a table). The codes are
//! documented in `--help` (`args::AFTER_HELP`) and the README.

use std::error::Error as StdError;
use std::io;

use box_uploads::runtime::{CredentialsErrorKind, OperationError};
use box_uploads::tree::{TreeError, TreeFileError};
use box_uploads::upload::{CallErrorKind, UploadError, UploadErrorKind};

/// How `box-upload` ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exit {
    Done,
    /// Some files of a tree failed, or a failure no other code names.
    Failed,
    Usage,
    /// Authentication or permission refused (401/403, bad or missing credentials).
    Refused,
    NotFound,
    /// Transient failures (network, 5xx, 429) outlasted the retries.
    GaveUp,
    /// The name is in use (409) or the etag is stale (412).
    Conflict,
    SourceChanged,
    /// The file is over the Box user's upload limit or the account's storage, or a single
    /// request's limit.
    TooLarge,
    Interrupted,
}

impl Exit {
    pub(crate) fn code(self) -> u8 {
        match self {
            Exit::Done => 0,
            Exit::Failed => 1,
            Exit::Usage => 2,
            Exit::Refused => 3,
            Exit::NotFound => 4,
            Exit::GaveUp => 5,
            Exit::Conflict => 6,
            Exit::SourceChanged => 7,
            Exit::TooLarge => 8,
            Exit::Interrupted => 130,
        }
    }

    /// The name of the failure in `--json`'s `error.kind`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Exit::Done => "done",
            Exit::Failed => "failed",
            Exit::Usage => "usage",
            Exit::Refused => "refused",
            Exit::NotFound => "not_found",
            Exit::GaveUp => "gave_up",
            Exit::Conflict => "conflict",
            Exit::SourceChanged => "source_changed",
            Exit::TooLarge => "too_large",
            Exit::Interrupted => "interrupted",
        }
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(e: Exit) -> Self {
        std::process::ExitCode::from(e.code())
    }
}

/// A failure the command line has already put in words, with its exit code: a usage error, a
/// credentials setup problem, a missing local path. Its text is the whole message.
#[derive(Debug)]
pub(crate) struct Classified {
    pub(crate) exit: Exit,
    pub(crate) text: String,
    pub(crate) hint: Option<String>,
}

impl Classified {
    pub(crate) fn new(exit: Exit, text: impl Into<String>) -> Self {
        Classified {
            exit,
            text: text.into(),
            hint: None,
        }
    }

    pub(crate) fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl std::fmt::Display for Classified {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl StdError for Classified {}

/// A failed call of the generated client made by the command line itself (a dry run's
/// look-ups), reduced to its facts.
#[derive(Debug)]
pub(crate) struct CallFailed {
    pub(crate) facts: Facts,
    pub(crate) text: String,
}

impl CallFailed {
    pub(crate) fn new<E: OperationError>(
        operation: &'static str,
        err: &box_uploads::runtime::Error<E>,
    ) -> Self {
        use box_uploads::runtime::Error as RtError;
        let mut facts = Facts {
            operation: Some(operation),
            attempts: Some(1),
            ..Facts::default()
        };
        match err {
            RtError::Api(e) => api_facts(&mut facts, e),
            RtError::Transport(t) => {
                facts.call = Some(if t.is_timeout() {
                    CallErrorKind::Timeout
                } else if t.is_connect() {
                    CallErrorKind::Connect
                } else {
                    CallErrorKind::Connection
                })
            }
            RtError::Credentials(c) => {
                facts.credentials = Some(c.kind());
                facts.status = c.status();
                facts.code = c.code().map(str::to_string);
            }
            RtError::Decode(_) => facts.call = Some(CallErrorKind::Decode),
            RtError::InvalidRequest(_) => facts.call = Some(CallErrorKind::InvalidRequest),
        }
        CallFailed {
            facts,
            text: crate::output::chain_line(err),
        }
    }
}

impl std::fmt::Display for CallFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl StdError for CallFailed {}

/// Where a tree upload failed as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TreeFacet {
    Walk,
    Journal,
    Folder(String),
    FileConflict,
}

/// What an error's chain says, as far as the exit code and the message need it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Facts {
    /// Already put in words by the command line.
    pub(crate) classified: Option<Exit>,
    pub(crate) upload: Option<UploadErrorKind>,
    pub(crate) tree: Option<TreeFacet>,
    pub(crate) interrupted: bool,
    /// The API's answer.
    pub(crate) status: Option<u16>,
    pub(crate) code: Option<String>,
    pub(crate) request_id: Option<String>,
    /// The item an `item_name_in_use` answer names.
    pub(crate) conflict_id: Option<String>,
    pub(crate) call: Option<CallErrorKind>,
    pub(crate) credentials: Option<CredentialsErrorKind>,
    pub(crate) io: Option<io::ErrorKind>,
    pub(crate) operation: Option<&'static str>,
    pub(crate) attempts: Option<u32>,
    pub(crate) session_id: Option<String>,
}

/// Reads an error's chain, outermost first; the first of each fact wins.
pub(crate) fn facts_of(err: &(dyn StdError + 'static)) -> Facts {
    let mut f = Facts::default();
    let mut next = Some(err);
    while let Some(e) = next {
        if let Some(c) = e.downcast_ref::<Classified>() {
            f.classified.get_or_insert(c.exit);
        } else if let Some(c) = e.downcast_ref::<CallFailed>() {
            merge(&mut f, c.facts.clone());
        } else if let Some(u) = as_upload_error(e) {
            upload_facts(&mut f, u);
        } else if let Some(t) = e.downcast_ref::<TreeError>() {
            match t {
                TreeError::Walk { .. } => f.tree = f.tree.take().or(Some(TreeFacet::Walk)),
                TreeError::Journal { .. } => f.tree = f.tree.take().or(Some(TreeFacet::Journal)),
                TreeError::Folder { folder_id, .. } => {
                    f.tree = f.tree.take().or(Some(TreeFacet::Folder(folder_id.clone())))
                }
                TreeError::Cancelled => f.interrupted = true,
                _ => {}
            }
        } else if let Some(TreeFileError::Conflict { existing_id, .. }) =
            e.downcast_ref::<TreeFileError>()
        {
            f.tree.get_or_insert(TreeFacet::FileConflict);
            f.conflict_id.get_or_insert_with(|| existing_id.clone());
        } else if let Some(c) = e.downcast_ref::<box_uploads::runtime::CredentialsError>() {
            f.credentials.get_or_insert(c.kind());
            if f.status.is_none() {
                f.status = c.status();
                f.code = c.code().map(str::to_string);
            }
        } else if let Some(io) = e.downcast_ref::<io::Error>() {
            f.io.get_or_insert(io.kind());
        }
        next = e.source();
    }
    f
}

/// The error as an [`UploadError`], itself or shared (a tree's folder failure holds it in an
/// `Arc`, which is an error of its own type).
pub(crate) fn as_upload_error<'e>(e: &'e (dyn StdError + 'static)) -> Option<&'e UploadError> {
    e.downcast_ref::<UploadError>().or_else(|| {
        e.downcast_ref::<std::sync::Arc<UploadError>>()
            .map(|a| a.as_ref())
    })
}

fn upload_facts(f: &mut Facts, u: &UploadError) {
    if let (Some(operation), Some(attempts)) = (u.operation(), u.attempts()) {
        f.operation.get_or_insert(operation);
        f.attempts.get_or_insert(attempts);
    }
    if *u.kind() == UploadErrorKind::Cancelled {
        f.interrupted = true;
    }
    f.upload.get_or_insert_with(|| u.kind().clone());
    if f.session_id.is_none() {
        f.session_id = u.session_id().map(str::to_string);
    }
    if let Some(call) = u.call_error() {
        f.call.get_or_insert(call.kind());
        if let Some(c) = call.credentials_error() {
            f.credentials.get_or_insert(c.kind());
        }
    }
    if let Some(api) = u.api_error() {
        if f.status.is_none() {
            api_facts(f, api);
        }
    }
}

fn api_facts<E: OperationError + ?Sized>(f: &mut Facts, api: &E) {
    f.status = Some(api.status());
    f.code = api.code().map(str::to_string);
    f.request_id = api.request_id().map(str::to_string);
    f.conflict_id = conflict_id(api.raw_body());
}

/// `context_info.conflicts.id` (an object on file uploads, an array elsewhere).
fn conflict_id(body: &str) -> Option<String> {
    let body: serde_json::Value = serde_json::from_str(body).ok()?;
    let conflicts = body.get("context_info")?.get("conflicts")?;
    let item = match conflicts {
        serde_json::Value::Array(items) => items.first()?,
        other => other,
    };
    item.get("id")?.as_str().map(str::to_string)
}

/// Adds the facts of `other` that `f` has not.
fn merge(f: &mut Facts, other: Facts) {
    let Facts {
        classified,
        upload,
        tree,
        interrupted,
        status,
        code,
        request_id,
        conflict_id,
        call,
        credentials,
        io,
        operation,
        attempts,
        session_id,
    } = other;
    f.classified = f.classified.or(classified);
    f.upload = f.upload.take().or(upload);
    f.tree = f.tree.take().or(tree);
    f.interrupted |= interrupted;
    if f.status.is_none() {
        f.status = status;
        f.code = code;
        f.request_id = request_id;
        f.conflict_id = conflict_id;
    }
    f.call = f.call.or(call);
    f.credentials = f.credentials.or(credentials);
    f.io = f.io.or(io);
    f.operation = f.operation.or(operation);
    f.attempts = f.attempts.or(attempts);
    f.session_id = f.session_id.take().or(session_id);
}

/// Box's 409s that mean "not now": retried, and so a way to give up, not a conflict.
const TEMPORARY_CONFLICTS: [&str; 2] = ["name_temporarily_reserved", "operation_blocked_temporary"];

/// The exit code of a failure.
pub(crate) fn exit_for(f: &Facts) -> Exit {
    if let Some(exit) = f.classified {
        return exit;
    }
    if f.interrupted || f.upload == Some(UploadErrorKind::Cancelled) {
        return Exit::Interrupted;
    }
    match &f.upload {
        Some(
            UploadErrorKind::SourceChanged { .. }
            | UploadErrorKind::SourceTooShort { .. }
            | UploadErrorKind::SourceTooLong { .. },
        ) => return Exit::SourceChanged,
        Some(UploadErrorKind::InvalidInput { .. }) => return Exit::Usage,
        // Also without an answer to read: `--on-conflict fail` refused before sending.
        Some(UploadErrorKind::Conflict { .. }) => return Exit::Conflict,
        Some(UploadErrorKind::CommitTimeout { .. }) => return Exit::GaveUp,
        // Found before sending (the user's max_upload_size), or Box's 403/413 refusal.
        Some(UploadErrorKind::TooLarge { .. }) => return Exit::TooLarge,
        _ => {}
    }
    match f.credentials {
        Some(CredentialsErrorKind::Unavailable) => return Exit::GaveUp,
        Some(_) => return Exit::Refused,
        None => {}
    }
    match f.status {
        Some(401 | 403) => return Exit::Refused,
        Some(404) => return Exit::NotFound,
        Some(409)
            if !f
                .code
                .as_deref()
                .is_some_and(|c| TEMPORARY_CONFLICTS.contains(&c)) =>
        {
            return Exit::Conflict
        }
        Some(409 | 429) => return Exit::GaveUp,
        Some(412) => return Exit::Conflict,
        Some(s) if s >= 500 => return Exit::GaveUp,
        _ => {}
    }
    if matches!(
        f.call,
        Some(CallErrorKind::Timeout | CallErrorKind::Connect | CallErrorKind::Connection)
    ) {
        return Exit::GaveUp;
    }
    if f.tree == Some(TreeFacet::FileConflict) {
        return Exit::Conflict;
    }
    match f.io {
        Some(io::ErrorKind::NotFound) => Exit::NotFound,
        _ => Exit::Failed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use box_uploads::upload::SizeLimit;

    fn api(status: u16, code: &str) -> Facts {
        Facts {
            upload: Some(UploadErrorKind::Api {
                operation: "upload_file",
                attempts: 1,
            }),
            call: Some(CallErrorKind::Api),
            status: Some(status),
            code: Some(code.to_string()),
            ..Facts::default()
        }
    }

    fn upload(kind: UploadErrorKind) -> Facts {
        Facts {
            upload: Some(kind),
            ..Facts::default()
        }
    }

    fn call(kind: CallErrorKind) -> Facts {
        Facts {
            call: Some(kind),
            ..Facts::default()
        }
    }

    #[test]
    fn each_failure_has_its_exit_code() {
        let creds = |kind| Facts {
            credentials: Some(kind),
            ..call(CallErrorKind::Credentials)
        };
        let table: Vec<(&str, Facts, u8)> = vec![
            (
                "usage",
                Facts {
                    classified: Some(Exit::Usage),
                    ..Facts::default()
                },
                2,
            ),
            ("401", api(401, "unauthorized"), 3),
            ("403", api(403, "access_denied_insufficient_permissions"), 3),
            ("refused token", creds(CredentialsErrorKind::Rejected), 3),
            ("refused grant", creds(CredentialsErrorKind::Refused), 3),
            ("bad JWT key", creds(CredentialsErrorKind::Config), 3),
            (
                "token endpoint down",
                creds(CredentialsErrorKind::Unavailable),
                5,
            ),
            ("404 folder", api(404, "not_found"), 4),
            (
                "missing local file",
                Facts {
                    io: Some(io::ErrorKind::NotFound),
                    ..Facts::default()
                },
                4,
            ),
            ("502", api(502, "bad_gateway"), 5),
            ("503", api(503, "unavailable"), 5),
            ("429", api(429, "rate_limit_exceeded"), 5),
            ("409 reserved", api(409, "name_temporarily_reserved"), 5),
            ("connect", call(CallErrorKind::Connect), 5),
            ("timeout", call(CallErrorKind::Timeout), 5),
            ("reset", call(CallErrorKind::Connection), 5),
            (
                "commit pending",
                upload(UploadErrorKind::CommitTimeout {
                    waited: std::time::Duration::from_secs(600),
                    pending: 60,
                }),
                5,
            ),
            ("409 name in use", api(409, "item_name_in_use"), 6),
            ("412", api(412, "precondition_failed"), 6),
            (
                "tree conflict",
                Facts {
                    tree: Some(TreeFacet::FileConflict),
                    ..Facts::default()
                },
                6,
            ),
            (
                "changed",
                upload(UploadErrorKind::SourceChanged {
                    detail: "during the upload".into(),
                }),
                7,
            ),
            (
                "shorter",
                upload(UploadErrorKind::SourceTooShort {
                    declared: 10,
                    got: 4,
                }),
                7,
            ),
            (
                "longer",
                upload(UploadErrorKind::SourceTooLong { declared: 10 }),
                7,
            ),
            (
                "over the user's limit, found before sending",
                upload(UploadErrorKind::TooLarge {
                    operation: "upload_file",
                    attempts: 0,
                    size: 2 << 20,
                    limit: SizeLimit::MaxUploadSize(1 << 20),
                }),
                8,
            ),
            (
                "Box's 403 file_size_limit_exceeded",
                Facts {
                    upload: Some(UploadErrorKind::TooLarge {
                        operation: "create_upload_session",
                        attempts: 1,
                        size: 2 << 20,
                        limit: SizeLimit::FileSize,
                    }),
                    ..api(403, "file_size_limit_exceeded")
                },
                8,
            ),
            (
                "a directory for a file",
                upload(UploadErrorKind::InvalidInput {
                    detail: "a directory".into(),
                }),
                2,
            ),
            ("cancelled", upload(UploadErrorKind::Cancelled), 130),
            (
                "tree cancelled",
                Facts {
                    interrupted: true,
                    ..Facts::default()
                },
                130,
            ),
            ("400", api(400, "bad_request"), 1),
            ("decode", call(CallErrorKind::Decode), 1),
            (
                "verification",
                upload(UploadErrorKind::Verification {
                    operation: "commit_upload_session",
                    detail: "size".into(),
                }),
                1,
            ),
            ("nothing known", Facts::default(), 1),
        ];
        for (what, facts, code) in table {
            assert_eq!(exit_for(&facts).code(), code, "{what}: {facts:?}");
        }
    }

    #[test]
    fn the_chain_is_read_for_its_facts() {
        let e = anyhow::Error::new(UploadError::from(UploadErrorKind::SourceChanged {
            detail: "during the upload".into(),
        }));
        assert_eq!(exit_for(&facts_of(e.as_ref())), Exit::SourceChanged);

        let e = anyhow::Error::new(io::Error::new(io::ErrorKind::NotFound, "gone"))
            .context("cannot read a.txt");
        assert_eq!(facts_of(e.as_ref()).io, Some(io::ErrorKind::NotFound));
        assert_eq!(exit_for(&facts_of(e.as_ref())), Exit::NotFound);

        let e = anyhow::Error::new(box_uploads::runtime::CredentialsError::new(
            CredentialsErrorKind::Rejected,
            "refused",
        ));
        assert_eq!(exit_for(&facts_of(e.as_ref())), Exit::Refused);

        let shared = std::sync::Arc::new(UploadError::from(UploadErrorKind::Cancelled));
        let e = anyhow::Error::new(TreeError::Folder {
            folder_id: "0".into(),
            source: shared,
        });
        assert_eq!(
            facts_of(e.as_ref()).upload,
            Some(UploadErrorKind::Cancelled)
        );

        let e = anyhow::Error::new(TreeError::Cancelled);
        assert_eq!(exit_for(&facts_of(e.as_ref())), Exit::Interrupted);

        let e = anyhow::Error::new(Classified::new(Exit::Usage, "--exclude takes a directory"));
        assert_eq!(exit_for(&facts_of(e.as_ref())), Exit::Usage);

        assert_eq!(
            conflict_id(r#"{"context_info":{"conflicts":{"id":"12","type":"file"}}}"#),
            Some("12".into())
        );
        assert_eq!(
            conflict_id(r#"{"context_info":{"conflicts":[{"id":"7"}]}}"#),
            Some("7".into())
        );
    }
}
