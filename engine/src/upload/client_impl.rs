//! The engine's calls, made with the generated [`Client`]: request building, and the reduction of
//! every operation's typed error to a [`CallError`].

use box_uploads_runtime::{self as rt, OperationError};

use super::calls::{
    CallError, CallErrorKind, CommitOutcome, CommitPart, FileDates, FileFacts, PartRecord,
    PartsPage, PlanEntry, SessionEndpoints, SessionInfo, Target, UploadCalls,
};
use super::progress::CountedBody;
use crate::digest::Sha1Digest;
use crate::models::{
    CommitUploadSessionBody, CommitUploadSessionBodyAttributes, CreateUploadSessionBody,
    CreateUploadSessionForFileBody, FileFull, Files, PlanUploadPartsBody, PreflightUploadBody,
    PreflightUploadBodyParent, UploadFileAttributes, UploadFileAttributesParent,
    UploadFileVersionAttributes, UploadPart, UploadPartPlan, UploadSession,
};
use crate::operations::{
    AbortUploadSessionRequest, CommitUploadSessionRequest, CommitUploadSessionResponse,
    CreateUploadSessionForFileRequest, CreateUploadSessionRequest, GetFileInfoRequest,
    GetUploadSessionRequest, ListUploadPartsRequest, PlanUploadPartsRequest,
    PreflightUploadRequest, UploadFileRequest, UploadFileVersionRequest, UploadPartRequest,
};
use crate::Client;

/// The fields get-file-info is asked for: what the engine checks (SHA-1, size, etag, name,
/// version) and the rest of what an upload's answer carries, so a file found that way reads
/// like one an upload returned.
const FILE_INFO_FIELDS: &[&str] = &[
    "type",
    "id",
    "etag",
    "sequence_id",
    "name",
    "sha1",
    "size",
    "file_version",
    "description",
    "parent",
    "path_collection",
    "created_at",
    "modified_at",
    "content_created_at",
    "content_modified_at",
    "created_by",
    "modified_by",
    "owned_by",
    "item_status",
];

/// Reduces a call's failure to a [`CallError`], keeping the API's typed answer.
pub(crate) fn call_error<E: OperationError>(err: rt::Error<E>) -> CallError {
    match err {
        rt::Error::Api(e) => CallError::answer(e),
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
            CallError::failure(kind, t)
        }
        rt::Error::Decode(d) => CallError::failure(CallErrorKind::Decode, d),
        rt::Error::InvalidRequest(why) => CallError::new(
            CallErrorKind::InvalidRequest,
            format!("invalid request: {why}"),
        ),
        rt::Error::Credentials(c) => CallError::failure(CallErrorKind::Credentials, c),
    }
}

fn bad_answer(what: &str) -> CallError {
    CallError::new(CallErrorKind::Decode, format!("the answer has no {what}"))
}

fn session_info(client: &Client, s: UploadSession) -> Result<SessionInfo, CallError> {
    let id =
        s.id.filter(|id| !id.is_empty())
            .ok_or_else(|| bad_answer("session id"))?;
    let part_size = s
        .part_size
        .and_then(|n| u64::try_from(n).ok())
        .filter(|n| *n > 0)
        .ok_or_else(|| bad_answer("valid part_size"))?;
    // Box returns absolute endpoints; should one be missing, build it as the spec's path would.
    let base = client
        .base_url("upload_session")
        .unwrap_or("https://upload.box.com/api/2.0")
        .trim_end_matches('/');
    let encoded =
        rt::support::encode_path::<()>(&id).map_err(|_| bad_answer("usable session id"))?;
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
        plan: e.plan.unwrap_or_else(|| format!("{session_url}/plan")),
    };
    Ok(SessionInfo {
        id,
        part_size,
        total_parts: s.total_parts.and_then(|n| u64::try_from(n).ok()),
        expires_at: s.session_expires_at,
        endpoints,
    })
}

fn part_record(p: UploadPart) -> Result<PartRecord, CallError> {
    Ok(PartRecord {
        part_id: p.part_id.unwrap_or_default(),
        offset: p
            .offset
            .and_then(|n| u64::try_from(n).ok())
            .ok_or_else(|| bad_answer("part offset"))?,
        size: p
            .size
            .and_then(|n| u64::try_from(n).ok())
            .ok_or_else(|| bad_answer("part size"))?,
        sha1: p.sha1.ok_or_else(|| bad_answer("part sha1"))?,
    })
}

fn to_i64(n: u64) -> Result<i64, CallError> {
    i64::try_from(n).map_err(|_| {
        CallError::new(
            CallErrorKind::InvalidRequest,
            format!("{n} is too large for the API"),
        )
    })
}

fn only_file(files: Files) -> Result<FileFull, CallError> {
    files
        .entries
        .and_then(|e| e.into_iter().next())
        .ok_or_else(|| bad_answer("file entry"))
}

/// The last URL path segment, used as the session id for requests that also carry an endpoint.
fn session_id_of(url: &str) -> String {
    url.trim_end_matches('/')
        .trim_end_matches("/commit")
        .trim_end_matches("/parts")
        .trim_end_matches("/plan")
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string()
}

impl UploadCalls for Client {
    type File = FileFull;

    async fn create_session(
        &self,
        target: &Target,
        file_size: u64,
    ) -> Result<SessionInfo, CallError> {
        match target {
            Target::NewFile { folder_id, name } => {
                let body = CreateUploadSessionBody {
                    folder_id: folder_id.clone(),
                    file_size: to_i64(file_size)?,
                    file_name: name.clone(),
                };
                let session = self
                    .create_upload_session(CreateUploadSessionRequest::new(body))
                    .await
                    .map_err(call_error)?;
                session_info(self, session)
            }
            Target::NewVersion { file_id, name } => {
                let body = CreateUploadSessionForFileBody {
                    file_size: to_i64(file_size)?,
                    file_name: name.clone(),
                };
                let session = self
                    .create_upload_session_for_file(CreateUploadSessionForFileRequest::new(
                        file_id.clone(),
                        body,
                    ))
                    .await
                    .map_err(call_error)?;
                session_info(self, session)
            }
        }
    }

    async fn get_session(&self, status_url: &str) -> Result<SessionInfo, CallError> {
        let request =
            GetUploadSessionRequest::new(session_id_of(status_url)).with_endpoint(status_url);
        let session = self.get_upload_session(request).await.map_err(call_error)?;
        session_info(self, session)
    }

    async fn upload_part(
        &self,
        url: &str,
        body: CountedBody,
        content_range: String,
        digest: String,
    ) -> Result<PartRecord, CallError> {
        let request =
            UploadPartRequest::new(session_id_of(url), digest, content_range, body.into_body())
                .with_endpoint(url);
        let uploaded = Client::upload_part(self, request)
            .await
            .map_err(call_error)?;
        part_record(uploaded.part.ok_or_else(|| bad_answer("part"))?)
    }

    async fn list_parts(&self, url: &str, offset: u64, limit: u64) -> Result<PartsPage, CallError> {
        let request = ListUploadPartsRequest::new(session_id_of(url))
            .with_offset(to_i64(offset)?)
            .with_limit(to_i64(limit)?)
            .with_endpoint(url);
        let page = self.list_upload_parts(request).await.map_err(call_error)?;
        let entries = page
            .entries
            .unwrap_or_default()
            .into_iter()
            .map(part_record)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(PartsPage {
            entries,
            total_count: page.total_count.and_then(|n| u64::try_from(n).ok()),
        })
    }

    async fn plan(&self, url: &str, parts: Vec<PlanEntry>) -> Result<Vec<PlanEntry>, CallError> {
        let parts = parts
            .into_iter()
            .map(|p| {
                Ok(UploadPartPlan {
                    offset: to_i64(p.offset)?,
                    size: to_i64(p.size)?,
                    sha512: p.sha512,
                })
            })
            .collect::<Result<Vec<_>, CallError>>()?;
        let request =
            PlanUploadPartsRequest::new(session_id_of(url), PlanUploadPartsBody { parts })
                .with_endpoint(url);
        let answer = self.plan_upload_parts(request).await.map_err(call_error)?;
        let entry = |offset: i64, size: i64, sha512: String, part_id: Option<String>| {
            Ok(PlanEntry {
                offset: u64::try_from(offset).map_err(|_| bad_answer("valid part offset"))?,
                size: u64::try_from(size).map_err(|_| bad_answer("valid part size"))?,
                sha512,
                part_id,
            })
        };
        let hits = answer
            .hits
            .into_iter()
            .map(|h| entry(h.offset, h.size, h.sha512, Some(h.part_id)));
        let misses = answer
            .misses
            .into_iter()
            .map(|m| entry(m.offset, m.size, m.sha512, None));
        hits.chain(misses).collect()
    }

    async fn commit(
        &self,
        url: &str,
        parts: Vec<CommitPart>,
        digest: String,
        if_match: Option<String>,
        dates: Option<FileDates>,
    ) -> Result<CommitOutcome<FileFull>, CallError> {
        let parts = parts
            .into_iter()
            .map(|p| {
                Ok(UploadPart {
                    part_id: Some(p.part_id),
                    offset: Some(to_i64(p.offset)?),
                    size: Some(to_i64(p.size)?),
                    sha1: p.sha1,
                    sha512: p.sha512,
                })
            })
            .collect::<Result<Vec<_>, CallError>>()?;
        let attributes = dates
            .filter(|d| d.modified.is_some() || d.created.is_some())
            .map(|d| CommitUploadSessionBodyAttributes {
                content_created_at: d.created,
                content_modified_at: d.modified,
                ..Default::default()
            });
        let body = CommitUploadSessionBody { parts, attributes };
        let mut request =
            CommitUploadSessionRequest::new(session_id_of(url), digest, body).with_endpoint(url);
        if let Some(etag) = if_match {
            request = request.with_if_match(etag);
        }
        match self
            .commit_upload_session(request)
            .await
            .map_err(call_error)?
        {
            CommitUploadSessionResponse::Committed(files) => {
                Ok(CommitOutcome::Committed(only_file(files)?))
            }
            CommitUploadSessionResponse::Pending { retry_after } => Ok(CommitOutcome::Pending {
                retry_after: retry_after.as_deref().and_then(rt::retry_after::parse),
            }),
        }
    }

    async fn abort(&self, url: &str) -> Result<(), CallError> {
        let request = AbortUploadSessionRequest::new(session_id_of(url)).with_endpoint(url);
        self.abort_upload_session(request).await.map_err(call_error)
    }

    async fn upload_direct(
        &self,
        target: &Target,
        body: CountedBody,
        sha1: Sha1Digest,
        if_match: Option<String>,
        dates: Option<FileDates>,
    ) -> Result<FileFull, CallError> {
        let dates = dates.unwrap_or_default();
        match target {
            Target::NewFile { folder_id, name } => {
                let attributes = UploadFileAttributes {
                    name: name.clone(),
                    parent: UploadFileAttributesParent {
                        id: folder_id.clone(),
                    },
                    content_created_at: dates.created,
                    content_modified_at: dates.modified,
                };
                let file = rt::FilePart::new(body.into_body()).with_file_name(name.clone());
                // `if_match` has no meaning for a new file; the engine refuses it before this.
                let request = UploadFileRequest::new(attributes, file).with_content_md5(sha1.hex());
                let files = self.upload_file(request).await.map_err(call_error)?;
                only_file(files)
            }
            Target::NewVersion { file_id, name } => {
                let attributes = UploadFileVersionAttributes {
                    name: name.clone(),
                    content_modified_at: dates.modified,
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
                    .map_err(call_error)?;
                only_file(files)
            }
        }
    }

    async fn existing_item(
        &self,
        target: &Target,
        size: u64,
    ) -> Result<Option<serde_json::Value>, CallError> {
        // Box's `conflicts` names the file's id and SHA-1 but not its size (the spec's
        // FileConflict): the engine reads the rest with get-file-info.
        let Target::NewFile { folder_id, name } = target else {
            return Ok(None);
        };
        let body = PreflightUploadBody {
            name: Some(name.clone()),
            size: Some(to_i64(size)?),
            parent: Some(PreflightUploadBodyParent {
                id: Some(folder_id.clone()),
            }),
        };
        match self
            .preflight_upload(PreflightUploadRequest::new(body))
            .await
            .map_err(call_error)
        {
            Ok(_) => Ok(None),
            Err(e) if e.is_code("item_name_in_use") => Ok(e.conflict()),
            Err(e) => Err(e),
        }
    }

    async fn file_info(&self, file_id: &str) -> Result<FileFull, CallError> {
        let fields = FILE_INFO_FIELDS.iter().map(|f| f.to_string()).collect();
        let request = GetFileInfoRequest::new(file_id).with_fields(fields);
        self.get_file_info(request).await.map_err(call_error)
    }

    fn file_facts(file: &FileFull) -> FileFacts {
        FileFacts {
            id: file.id.clone(),
            size: file.size.and_then(|n| u64::try_from(n).ok()),
            sha1: file.sha1.clone(),
            etag: file.etag.clone(),
            name: file.name.clone(),
        }
    }

    fn file_from_conflict(conflict: &serde_json::Value, size: u64) -> Option<FileFull> {
        let mut file: FileFull = serde_json::from_value(conflict.clone()).ok()?;
        file.size = file.size.or(Some(to_i64(size).ok()?));
        Some(file)
    }

    fn can_refresh_credentials(&self) -> bool {
        self.core().credentials().is_some_and(|c| c.can_refresh())
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
        assert_eq!(
            session_id_of("http://h/api/2.0/files/upload_sessions/ABC/plan"),
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
        let info = session_info(&client, session).expect("info");
        assert_eq!(
            info.endpoints.commit,
            "http://127.0.0.1:9/api/2.0/files/upload_sessions/S/commit"
        );
        assert_eq!(
            info.endpoints.plan,
            "http://127.0.0.1:9/api/2.0/files/upload_sessions/S/plan"
        );
        let missing = UploadSession {
            part_size: Some(8),
            ..Default::default()
        };
        assert!(session_info(&client, missing).is_err());
    }
}
