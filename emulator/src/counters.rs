//! Counters of normal traffic and of injected faults.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The operations the emulator serves; [`Operation::as_str`] is the key used in
/// [`Counters::requests`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// `OPTIONS /2.0/files/content` (and `OPTIONS /2.0/files/{id}/content`).
    Preflight,
    /// `POST /api/2.0/files/content`.
    UploadFile,
    /// `POST /api/2.0/files/{file_id}/content`.
    UploadFileVersion,
    /// `POST /api/2.0/files/upload_sessions`.
    CreateUploadSession,
    /// `POST /api/2.0/files/{file_id}/upload_sessions`.
    CreateUploadSessionForFile,
    /// `GET /api/2.0/files/upload_sessions/{id}`.
    GetUploadSession,
    /// `PUT /api/2.0/files/upload_sessions/{id}`.
    UploadPart,
    /// `DELETE /api/2.0/files/upload_sessions/{id}`.
    AbortUploadSession,
    /// `GET /api/2.0/files/upload_sessions/{id}/parts`.
    ListParts,
    /// `POST /api/2.0/files/upload_sessions/{id}/commit`.
    CommitUploadSession,
    /// `POST /api/2.0/files/upload_sessions/{id}/log` (accepted and ignored).
    LogEvent,
    /// `POST /api/2.0/files/upload_sessions/{id}/plan` (which parts a new version can reuse).
    PlanUploadSession,
    /// `GET /2.0/files/{id}`.
    GetFile,
    /// `GET /2.0/files/{id}/content`.
    DownloadFile,
    /// `GET /2.0/files/{id}/versions`.
    ListFileVersions,
    /// `GET /2.0/folders/{id}/items`.
    ListFolderItems,
    /// `POST /2.0/folders`.
    CreateFolder,
    /// `GET /2.0/folders/{id}`.
    GetFolder,
    /// `DELETE /2.0/files/{id}` (to the trash).
    DeleteFile,
    /// `GET /2.0/files/{id}/trash`.
    GetTrashedFile,
    /// `DELETE /2.0/files/{id}/trash` (for good).
    PurgeFile,
    /// `POST /2.0/files/{id}` (restore from the trash).
    RestoreFile,
    /// `DELETE /2.0/folders/{id}` (to the trash).
    DeleteFolder,
    /// `GET /2.0/folders/{id}/trash`.
    GetTrashedFolder,
    /// `DELETE /2.0/folders/{id}/trash` (for good).
    PurgeFolder,
    /// `POST /2.0/folders/{id}` (restore from the trash).
    RestoreFolder,
    /// `GET /2.0/users/me`.
    GetCurrentUser,
    /// `GET` of a download URL (the `location` of `GET /2.0/files/{id}/content`).
    DownloadUrl,
    /// `POST /oauth2/token`.
    RequestToken,
    /// `POST /oauth2/revoke`.
    RevokeToken,
}

impl Operation {
    /// Every operation, in a fixed order.
    pub const ALL: [Operation; 30] = [
        Operation::Preflight,
        Operation::UploadFile,
        Operation::UploadFileVersion,
        Operation::CreateUploadSession,
        Operation::CreateUploadSessionForFile,
        Operation::GetUploadSession,
        Operation::UploadPart,
        Operation::AbortUploadSession,
        Operation::ListParts,
        Operation::CommitUploadSession,
        Operation::LogEvent,
        Operation::PlanUploadSession,
        Operation::GetFile,
        Operation::DownloadFile,
        Operation::ListFileVersions,
        Operation::ListFolderItems,
        Operation::CreateFolder,
        Operation::GetFolder,
        Operation::DeleteFile,
        Operation::GetTrashedFile,
        Operation::PurgeFile,
        Operation::RestoreFile,
        Operation::DeleteFolder,
        Operation::GetTrashedFolder,
        Operation::PurgeFolder,
        Operation::RestoreFolder,
        Operation::GetCurrentUser,
        Operation::DownloadUrl,
        Operation::RequestToken,
        Operation::RevokeToken,
    ];

    /// The counter key: `preflight`, `upload_file`, `upload_file_version`,
    /// `create_upload_session`, `create_upload_session_for_file`, `get_upload_session`,
    /// `upload_part`, `abort_upload_session`, `list_parts`, `commit_upload_session`,
    /// `log_event`, `plan_upload_session`, `get_file`, `download_file`, `list_file_versions`, `list_folder_items`,
    /// `create_folder`, `get_folder`, `delete_file`, `get_trashed_file`, `purge_file`,
    /// `restore_file`, `delete_folder`, `get_trashed_folder`, `purge_folder`, `restore_folder`,
    /// `get_current_user`, `download_url`, `request_token`, `revoke_token`.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Preflight => "preflight",
            Operation::UploadFile => "upload_file",
            Operation::UploadFileVersion => "upload_file_version",
            Operation::CreateUploadSession => "create_upload_session",
            Operation::CreateUploadSessionForFile => "create_upload_session_for_file",
            Operation::GetUploadSession => "get_upload_session",
            Operation::UploadPart => "upload_part",
            Operation::AbortUploadSession => "abort_upload_session",
            Operation::ListParts => "list_parts",
            Operation::CommitUploadSession => "commit_upload_session",
            Operation::LogEvent => "log_event",
            Operation::PlanUploadSession => "plan_upload_session",
            Operation::GetFile => "get_file",
            Operation::DownloadFile => "download_file",
            Operation::ListFileVersions => "list_file_versions",
            Operation::ListFolderItems => "list_folder_items",
            Operation::CreateFolder => "create_folder",
            Operation::GetFolder => "get_folder",
            Operation::DeleteFile => "delete_file",
            Operation::GetTrashedFile => "get_trashed_file",
            Operation::PurgeFile => "purge_file",
            Operation::RestoreFile => "restore_file",
            Operation::DeleteFolder => "delete_folder",
            Operation::GetTrashedFolder => "get_trashed_folder",
            Operation::PurgeFolder => "purge_folder",
            Operation::RestoreFolder => "restore_folder",
            Operation::GetCurrentUser => "get_current_user",
            Operation::DownloadUrl => "download_url",
            Operation::RequestToken => "request_token",
            Operation::RevokeToken => "revoke_token",
        }
    }
}

/// A snapshot of the emulator's counters (also served as JSON by
/// `GET /_emulator/counters`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Counters {
    /// Every HTTP request received, including `/_emulator/*` and unknown paths.
    pub requests_total: u64,
    /// TCP connections accepted (with TLS: before the handshake, so failed handshakes
    /// count too). An HTTP/2 client's streams share one connection.
    pub connections_opened: u64,
    /// TLS handshakes that failed or timed out (an untrusted certificate, a plain-HTTP
    /// client on an HTTPS port).
    pub tls_handshakes_failed: u64,
    /// Of [`requests_total`](Self::requests_total): requests over HTTP/1.x.
    pub http1_requests: u64,
    /// Of [`requests_total`](Self::requests_total): requests over HTTP/2 (HTTPS with ALPN
    /// `h2` only).
    pub http2_requests: u64,
    /// API requests by operation ([`Operation::as_str`]), counted on arrival, before
    /// authentication and fault injection.
    pub requests: BTreeMap<String, u64>,
    /// Responses by HTTP status (`"201"`, `"416"`, ...), excluding `/_emulator/*`.
    pub responses: BTreeMap<String, u64>,
    /// Error responses by Box error code (`"range_overlaps_existing_part"`, ...), including
    /// injected ones.
    pub errors: BTreeMap<String, u64>,
    /// Parts stored (each accepted part upload, including those later answered with an
    /// injected 500 or dropped connection).
    pub parts_stored: u64,
    /// Bytes of stored parts.
    pub part_bytes_stored: u64,
    /// Part uploads being handled now (arrived, past the round trip, not yet answered).
    pub part_uploads_in_flight: u64,
    /// The most part uploads handled at once: a client's parallelism, seen from the server.
    pub part_uploads_max_in_flight: u64,
    /// Part uploads that came without a `content-length` (chunked transfer).
    pub part_uploads_without_length: u64,
    /// Files created (direct upload or commit of a new-file session).
    pub files_created: u64,
    /// New versions of existing files (direct or chunked).
    pub file_versions_created: u64,
    /// Files or versions stored by direct upload.
    pub direct_uploads: u64,
    /// Bytes of file content stored by direct upload.
    pub direct_upload_bytes: u64,
    /// Bytes of file content stored by commits.
    pub committed_bytes: u64,
    /// All content bytes received and kept: part bytes plus direct-upload bytes.
    pub bytes_stored: u64,
    /// File content bytes read from requests, kept or not: the `file` part of direct uploads
    /// (new files and versions) and part bodies, counted as they arrive (so also bodies
    /// refused half-way, or read and then answered with an injected fault). A run that
    /// uploads nothing leaves it unchanged.
    pub file_bytes_received: u64,
    /// Folders made by `POST /2.0/folders`.
    pub folders_created: u64,
    /// Files moved to the trash by `DELETE /2.0/files/{id}` (not those that went with a
    /// folder).
    pub files_trashed: u64,
    /// Files deleted for good by `DELETE /2.0/files/{id}/trash`.
    pub files_purged: u64,
    /// Files restored from the trash by `POST /2.0/files/{id}`.
    pub files_restored: u64,
    /// Folders moved to the trash by `DELETE /2.0/folders/{id}` (with what they held).
    pub folders_trashed: u64,
    /// Folders deleted for good by `DELETE /2.0/folders/{id}/trash` (with what they held).
    pub folders_purged: u64,
    /// Folders restored from the trash by `POST /2.0/folders/{id}` (with what they held).
    pub folders_restored: u64,
    /// Downloads served from download URLs (whole or ranges).
    pub downloads_served: u64,
    /// Bytes of file content sent by downloads.
    pub download_bytes: u64,
    /// Upload sessions created.
    pub sessions_created: u64,
    /// Upload sessions committed (first successful commit only).
    pub sessions_committed: u64,
    /// Upload sessions aborted.
    pub sessions_aborted: u64,
    /// Plans answered (`POST .../plan` answered 200).
    pub plan_requests: u64,
    /// Parts a plan answered as hits (the current version holds them).
    pub plan_hits: u64,
    /// Parts a plan answered as misses (to be uploaded).
    pub plan_misses: u64,
    /// Parts committed by reference to the previous version's parts (not uploaded again).
    pub parts_reused: u64,
    /// Bytes of those reused parts.
    pub part_bytes_reused: u64,
    /// Hits a plan copied into the session's file at once, so the commit that reuses them
    /// need not copy them (see `api::sessions::prefill`).
    #[serde(default)]
    pub parts_prefilled: u64,
    /// Bytes of sessions' files hashed in the background as their parts arrived (each part
    /// once the parts before it are stored), for the commit's whole-file SHA-1 (see
    /// `api::sessions::hash_ahead`).
    #[serde(default)]
    pub bytes_hashed_ahead: u64,
    /// Bytes the commits hashed themselves, failed commits included: those neither hashed
    /// ahead nor covered by a SHA-1 state resumed from the version before.
    #[serde(default)]
    pub commit_bytes_hashed: u64,
    /// Kept version parts whose SHA-512 (what a plan matches by) the emulator computed in the
    /// background after the commit that stored their version (parts sent with `sha=` alone;
    /// see `state::part_sha512`).
    #[serde(default)]
    pub part_sha512s_hashed_ahead: u64,
    /// Parts plans asked about (a part of the current version at that offset and size) whose
    /// SHA-512 was ready when the plan came.
    #[serde(default)]
    pub plan_sha512s_ready: u64,
    /// Such parts whose SHA-512 the background was computing: the plan waited for it.
    #[serde(default)]
    pub plan_sha512s_awaited: u64,
    /// Such parts whose SHA-512 nobody had started: the plan computed it.
    #[serde(default)]
    pub plan_sha512s_hashed: u64,
    /// Microseconds plans spent waiting for part SHA-512s (awaited or computed), in all.
    #[serde(default)]
    pub plan_sha512_wait_us: u64,
    /// What fault injection did.
    pub injected: InjectedCounters,
    /// Tokens issued and refused.
    pub auth: AuthCounters,
}

/// Counters of the token endpoint and of authentication.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct AuthCounters {
    /// Access tokens issued by grant type.
    pub tokens_issued: TokensIssued,
    /// Refresh tokens created: issued with a `refresh_token` grant or minted by a test
    /// (configured ones not included).
    pub refresh_tokens_issued: u64,
    /// Token requests refused (400 with `error`/`error_description`; by code in
    /// [`Counters::errors`]).
    pub token_errors: u64,
    /// Tokens revoked by `POST /oauth2/revoke` (access and refresh tokens).
    pub tokens_revoked: u64,
    /// Access tokens invalidated by the `expire-tokens` action.
    pub tokens_invalidated: u64,
    /// 401s answered by the API, for any reason (no token, an unknown token, an issued token
    /// that expired, was revoked or invalidated).
    pub unauthorized: u64,
    /// Of [`unauthorized`](Self::unauthorized): 401s for an issued token that expired, was
    /// revoked or invalidated (answered with an empty body, as Box does).
    pub expired_token_401: u64,
    /// API requests made as another user (`as-user` honoured).
    pub as_user: u64,
}

/// Access tokens issued, by grant type.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct TokensIssued {
    /// `grant_type=client_credentials`.
    pub client_credentials: u64,
    /// `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`.
    pub jwt_bearer: u64,
    /// `grant_type=refresh_token`.
    pub refresh_token: u64,
}

impl TokensIssued {
    /// All access tokens issued.
    pub fn total(&self) -> u64 {
        self.client_credentials + self.jwt_bearer + self.refresh_token
    }
}

/// Counters of injected faults.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct InjectedCounters {
    /// Part uploads answered 500 without storing.
    pub part_500_before_store: u64,
    /// Part uploads stored, then answered 500.
    pub part_500_after_store: u64,
    /// Part uploads stored, then the connection dropped.
    pub part_drop_after_store: u64,
    /// Part uploads whose connection was reset mid-body.
    pub part_reset_mid_body: u64,
    /// Commits answered 202 by `commit_202`.
    pub commit_202: u64,
    /// Commits answered 400 parts_mismatch by `commit_parts_mismatch_once`.
    pub commit_parts_mismatch: u64,
    /// Commits applied, then answered by dropping the connection (`commit_drop_after_store`).
    pub commit_drop_after_store: u64,
    /// Direct uploads stored, then answered 500 (`direct_500_after_store`).
    pub direct_500_after_store: u64,
    /// Requests answered 503 before being handled (`request_503`).
    pub request_503: u64,
    /// Writes applied, then answered 503 (`write_503_after_store`).
    pub write_503_after_store: u64,
    /// Requests answered 502 (`request_502`).
    pub request_502: u64,
    /// Requests answered 409 name_temporarily_reserved (`name_temporarily_reserved`).
    pub name_temporarily_reserved: u64,
    /// Requests answered 409 operation_blocked_temporary (`operation_blocked`).
    pub operation_blocked: u64,
    /// Requests answered 429 by either limit: [`rate_limited_requests`](Self::rate_limited_requests)
    /// plus [`rate_limited_uploads`](Self::rate_limited_uploads).
    pub rate_limited: u64,
    /// Requests answered 429 by `rate_limit` (all API requests).
    pub rate_limited_requests: u64,
    /// Uploads (direct uploads and session creations) answered 429 by `rate_limit_uploads`.
    pub rate_limited_uploads: u64,
    /// Requests delayed by `latency_ms`.
    pub delayed_requests: u64,
    /// Times the `expire-tokens` action ran.
    pub expire_tokens: u64,
}

impl Counters {
    /// Counts one request for `op` in [`requests`](Self::requests).
    pub(crate) fn count_request(&mut self, op: Operation) {
        *self.requests.entry(op.as_str().to_string()).or_default() += 1;
    }

    /// Requests received for one operation.
    pub fn requests_for(&self, op: Operation) -> u64 {
        self.requests.get(op.as_str()).copied().unwrap_or(0)
    }

    /// Error responses with one Box error code.
    pub fn errors_for(&self, code: &str) -> u64 {
        self.errors.get(code).copied().unwrap_or(0)
    }

    /// Responses with one HTTP status.
    pub fn responses_for(&self, status: u16) -> u64 {
        self.responses
            .get(&status.to_string())
            .copied()
            .unwrap_or(0)
    }

    /// Total faults injected (not counting added latency).
    pub fn injected_total(&self) -> u64 {
        let i = &self.injected;
        i.part_500_before_store
            + i.part_500_after_store
            + i.part_drop_after_store
            + i.part_reset_mid_body
            + i.commit_202
            + i.commit_parts_mismatch
            + i.commit_drop_after_store
            + i.direct_500_after_store
            + i.request_503
            + i.write_503_after_store
            + i.request_502
            + i.name_temporarily_reserved
            + i.operation_blocked
            + i.rate_limited
            + i.expire_tokens
    }
}
