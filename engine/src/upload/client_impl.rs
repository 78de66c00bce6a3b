//! The engine's calls, made with the generated [`Client`]: request building, and the reduction of
//! every operation's typed error to a [`CallError`].

use box_uploads_runtime::{self as rt, OperationError};

use super::api::{
    CallError, CallErrorKind, CommitOutcome, FileFacts, PartRecord, PartsPage, SessionEndpoints,
    SessionInfo, Target, UploadApi,
};
use super::digest::Sha1Digest;
use super::progress::CountedBody;
use crate::errors::{
    AbortUploadSessionError, CommitUploadSessionError, CreateUploadSessionError,
    CreateUploadSessionForFileError, GetUploadSessionError, ListUploadPartsError, UploadFileError,
    UploadFileVersionError, UploadPartError,
};
use crate::models::{
    CommitUploadSessionBody, CreateUploadSessionBody, CreateUploadSessionForFileBody, FileFull,
    Files, UploadFileAttributes, UploadFileAttributesParent, UploadFileVersionAttributes,
    UploadPart, UploadSession,
};
use crate::operations::{
    AbortUploadSessionRequest, CommitUploadSessionRequest, CommitUploadSessionResponse,
    CreateUploadSessionForFileRequest, CreateUploadSessionRequest, GetUploadSessionRequest,
    ListUploadPartsRequest, UploadFileRequest, UploadFileVersionRequest, UploadPartRequest,
};
use crate::Client;

/// The raw body of an error answer (to read `context_info`, whose shape varies).
trait RawBody {
    fn raw_text(&self) -> &str;
}

macro_rules! raw_body {
    ($($t:ty),* $(,)?) => {
        $(impl RawBody for $t {
            fn raw_text(&self) -> &str {
                self.raw_body()
            }
        })*
    };
}

raw_body!(
    AbortUploadSessionError,
    CommitUploadSessionError,
    CreateUploadSessionError,
    CreateUploadSessionForFileError,
    GetUploadSessionError,
    ListUploadPartsError,
    UploadFileError,
    UploadFileVersionError,
    UploadPartError,
);

fn call_error<E: OperationError + RawBody>(
    operation: &'static str,
    err: rt::Error<E>,
) -> CallError {
    match err {
        rt::Error::Api(e) => {
            let body: Option<serde_json::Value> = serde_json::from_str(e.raw_text()).ok();
            let conflict = body.and_then(|v| {
                let info = v.get("context_info")?;
                info.get("conflicting_part")
                    .or_else(|| info.get("conflicts"))
                    .cloned()
            });
            CallError::api(e.status(), e.code(), e.to_string())
                .with_message(e.message())
                .with_request_id(e.request_id())
                .with_retry_after(e.retry_after().and_then(rt::retry_after::parse))
                .with_conflict(conflict)
                .with_source(Box::new(e))
        }
        rt::Error::Transport(t) => {
            let kind = if t.is_timeout() {
                CallErrorKind::Timeout
            } else if t.is_connect() {
                CallErrorKind::Connect
            } else if t.is_builder() {
                CallErrorKind::InvalidRequest
            } else {
                CallErrorKind::Connection
            };
            CallError::new(kind, format!("{operation}: {t}")).with_source(Box::new(t))
        }
        rt::Error::Decode(d) => CallError::new(CallErrorKind::Decode, format!("{operation}: {d}"))
            .with_source(Box::new(d)),
        rt::Error::InvalidRequest(why) => {
            CallError::new(CallErrorKind::InvalidRequest, format!("{operation}: {why}"))
        }
    }
}

fn bad_answer(operation: &'static str, what: &str) -> CallError {
    CallError::new(
        CallErrorKind::Decode,
        format!("{operation}: the answer has no {what}"),
    )
}

fn session_info(
    client: &Client,
    operation: &'static str,
    s: UploadSession,
) -> Result<SessionInfo, CallError> {
    let id =
        s.id.filter(|id| !id.is_empty())
            .ok_or_else(|| bad_answer(operation, "session id"))?;
    let part_size = s
        .part_size
        .and_then(|n| u64::try_from(n).ok())
        .filter(|n| *n > 0)
        .ok_or_else(|| bad_answer(operation, "valid part_size"))?;
    // Box returns absolute endpoints; should one be missing, build it as the spec's path would.
    let base = client
        .base_url("upload_session")
        .unwrap_or("https://upload.box.com/api/2.0")
        .trim_end_matches('/');
    let encoded = rt::support::encode_path::<()>(&id)
        .map_err(|_| bad_answer(operation, "usable session id"))?;
    let session_url = format!("{base}/files/upload_sessions/{encoded}");
    let e = s.session_endpoints.unwrap_or_default();
    let endpoints = SessionEndpoints {
        upload_part: e.upload_part.unwrap_or_else(|| session_url.clone()),
        commit: e.commit.unwrap_or_else(|| format!("{session_url}/commit")),
        abort: e.abort.unwrap_or_else(|| session_url.clone()),
        list_parts: e
            .list_parts
            .unwrap_or_else(|| format!("{session_url}/parts")),
        status: e.status.unwrap_or_else(|| session_url.clone()),
    };
    Ok(SessionInfo {
        id,
        part_size,
        total_parts: s.total_parts.and_then(|n| u64::try_from(n).ok()),
        expires_at: s.session_expires_at,
        endpoints,
    })
}

fn part_record(operation: &'static str, p: UploadPart) -> Result<PartRecord, CallError> {
    Ok(PartRecord {
        part_id: p.part_id.unwrap_or_default(),
        offset: p
            .offset
            .and_then(|n| u64::try_from(n).ok())
            .ok_or_else(|| bad_answer(operation, "part offset"))?,
        size: p
            .size
            .and_then(|n| u64::try_from(n).ok())
            .ok_or_else(|| bad_answer(operation, "part size"))?,
        sha1: p.sha1.ok_or_else(|| bad_answer(operation, "part sha1"))?,
    })
}

fn to_i64(operation: &'static str, n: u64) -> Result<i64, CallError> {
    i64::try_from(n).map_err(|_| {
        CallError::new(
            CallErrorKind::InvalidRequest,
            format!("{operation}: {n} is too large"),
        )
    })
}

fn only_file(operation: &'static str, files: Files) -> Result<FileFull, CallError> {
    files
        .entries
        .and_then(|e| e.into_iter().next())
        .ok_or_else(|| bad_answer(operation, "file entry"))
}

/// The last URL path segment, used as the session id for requests that also carry an endpoint.
fn session_id_of(url: &str) -> String {
    url.trim_end_matches('/')
        .trim_end_matches("/commit")
        .trim_end_matches("/parts")
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string()
}

impl UploadApi for Client {
    type File = FileFull;

    async fn create_session(
        &self,
        target: &Target,
        file_size: u64,
    ) -> Result<SessionInfo, CallError> {
        match target {
            Target::NewFile { folder_id, name } => {
                const OP: &str = "create_upload_session";
                let body = CreateUploadSessionBody {
                    folder_id: folder_id.clone(),
                    file_size: to_i64(OP, file_size)?,
                    file_name: name.clone(),
                };
                let session = self
                    .create_upload_session(CreateUploadSessionRequest::new(body))
                    .await
                    .map_err(|e| call_error(OP, e))?;
                session_info(self, OP, session)
            }
            Target::NewVersion { file_id, name } => {
                const OP: &str = "create_upload_session_for_file";
                let body = CreateUploadSessionForFileBody {
                    file_size: to_i64(OP, file_size)?,
                    file_name: name.clone(),
                };
                let session = self
                    .create_upload_session_for_file(CreateUploadSessionForFileRequest::new(
                        file_id.clone(),
                        body,
                    ))
                    .await
                    .map_err(|e| call_error(OP, e))?;
                session_info(self, OP, session)
            }
        }
    }

    async fn get_session(&self, status_url: &str) -> Result<SessionInfo, CallError> {
        const OP: &str = "get_upload_session";
        let request =
            GetUploadSessionRequest::new(session_id_of(status_url)).with_endpoint(status_url);
        let session = self
            .get_upload_session(request)
            .await
            .map_err(|e| call_error(OP, e))?;
        session_info(self, OP, session)
    }

    async fn upload_part(
        &self,
        url: &str,
        body: CountedBody,
        content_range: String,
        digest: String,
    ) -> Result<PartRecord, CallError> {
        const OP: &str = "upload_part";
        let request =
            UploadPartRequest::new(session_id_of(url), digest, content_range, body.into_body())
                .with_endpoint(url);
        let uploaded = Client::upload_part(self, request)
            .await
            .map_err(|e| call_error(OP, e))?;
        part_record(OP, uploaded.part.ok_or_else(|| bad_answer(OP, "part"))?)
    }

    async fn list_parts(&self, url: &str, offset: u64, limit: u64) -> Result<PartsPage, CallError> {
        const OP: &str = "list_upload_parts";
        let request = ListUploadPartsRequest::new(session_id_of(url))
            .with_offset(to_i64(OP, offset)?)
            .with_limit(to_i64(OP, limit)?)
            .with_endpoint(url);
        let page = self
            .list_upload_parts(request)
            .await
            .map_err(|e| call_error(OP, e))?;
        let entries = page
            .entries
            .unwrap_or_default()
            .into_iter()
            .map(|p| part_record(OP, p))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(PartsPage {
            entries,
            total_count: page.total_count.and_then(|n| u64::try_from(n).ok()),
        })
    }

    async fn commit(
        &self,
        url: &str,
        parts: Vec<PartRecord>,
        digest: String,
        if_match: Option<String>,
    ) -> Result<CommitOutcome<FileFull>, CallError> {
        const OP: &str = "commit_upload_session";
        let parts = parts
            .into_iter()
            .map(|p| {
                Ok(UploadPart {
                    part_id: Some(p.part_id),
                    offset: Some(to_i64(OP, p.offset)?),
                    size: Some(to_i64(OP, p.size)?),
                    sha1: Some(p.sha1),
                })
            })
            .collect::<Result<Vec<_>, CallError>>()?;
        let body = CommitUploadSessionBody {
            parts,
            attributes: None,
        };
        let mut request =
            CommitUploadSessionRequest::new(session_id_of(url), digest, body).with_endpoint(url);
        if let Some(etag) = if_match {
            request = request.with_if_match(etag);
        }
        match self
            .commit_upload_session(request)
            .await
            .map_err(|e| call_error(OP, e))?
        {
            CommitUploadSessionResponse::Committed(files) => {
                Ok(CommitOutcome::Committed(only_file(OP, files)?))
            }
            CommitUploadSessionResponse::Pending { retry_after } => Ok(CommitOutcome::Pending {
                retry_after: retry_after.as_deref().and_then(rt::retry_after::parse),
            }),
        }
    }

    async fn abort(&self, url: &str) -> Result<(), CallError> {
        const OP: &str = "abort_upload_session";
        let request = AbortUploadSessionRequest::new(session_id_of(url)).with_endpoint(url);
        self.abort_upload_session(request)
            .await
            .map_err(|e| call_error(OP, e))
    }

    async fn upload_direct(
        &self,
        target: &Target,
        body: CountedBody,
        sha1: Sha1Digest,
        if_match: Option<String>,
    ) -> Result<FileFull, CallError> {
        match target {
            Target::NewFile { folder_id, name } => {
                const OP: &str = "upload_file";
                let attributes = UploadFileAttributes {
                    name: name.clone(),
                    parent: UploadFileAttributesParent {
                        id: folder_id.clone(),
                    },
                    content_created_at: None,
                    content_modified_at: None,
                };
                let file = rt::FilePart::new(body.into_body()).with_file_name(name.clone());
                let request = UploadFileRequest::new(attributes, file).with_content_md5(sha1.hex());
                let files = self
                    .upload_file(request)
                    .await
                    .map_err(|e| call_error(OP, e))?;
                only_file(OP, files)
            }
            Target::NewVersion { file_id, name } => {
                const OP: &str = "upload_file_version";
                let attributes = UploadFileVersionAttributes {
                    name: name.clone(),
                    content_modified_at: None,
                };
                let file = rt::FilePart::new(body.into_body())
                    .with_file_name(name.clone().unwrap_or_else(|| "file".into()));
                let mut request = UploadFileVersionRequest::new(file_id.clone(), attributes, file)
                    .with_content_md5(sha1.hex());
                if let Some(etag) = if_match {
                    request = request.with_if_match(etag);
                }
                let files = self
                    .upload_file_version(request)
                    .await
                    .map_err(|e| call_error(OP, e))?;
                only_file(OP, files)
            }
        }
    }

    fn file_facts(file: &FileFull) -> FileFacts {
        FileFacts {
            id: file.id.clone(),
            size: file.size.and_then(|n| u64::try_from(n).ok()),
            sha1: file.sha1.clone(),
        }
    }

    fn file_from_conflict(conflict: &serde_json::Value) -> Option<FileFull> {
        serde_json::from_value(conflict.clone()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_come_from_endpoint_urls() {
        assert_eq!(
            session_id_of("http://h/api/2.0/files/upload_sessions/ABC"),
            "ABC"
        );
        assert_eq!(
            session_id_of("http://h/api/2.0/files/upload_sessions/ABC/commit"),
            "ABC"
        );
        assert_eq!(
            session_id_of("http://h/api/2.0/files/upload_sessions/ABC/parts"),
            "ABC"
        );
    }

    #[test]
    fn a_session_without_endpoints_gets_them_built() {
        let client = crate::ClientBuilder::new()
            .upload_url("http://127.0.0.1:9/api/2.0")
            .build()
            .expect("client");
        let session = UploadSession {
            id: Some("S".into()),
            part_size: Some(8),
            ..Default::default()
        };
        let info = session_info(&client, "t", session).expect("info");
        assert_eq!(
            info.endpoints.commit,
            "http://127.0.0.1:9/api/2.0/files/upload_sessions/S/commit"
        );
        let missing = UploadSession {
            part_size: Some(8),
            ..Default::default()
        };
        assert!(session_info(&client, "t", missing).is_err());
    }
}
