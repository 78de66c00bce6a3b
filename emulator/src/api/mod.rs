//! HTTP handlers and their routes.
//!
//! Every API route goes through [`gate::api`] first (counted, delayed, identified, rate
//! limited, injected gateway faults) and its handler takes what the gate found as extractors
//! ([`crate::auth::Caller`], [`gate::Faults`]), with the rest of its inputs ([`request`]).
//! A handler returns [`ApiResult`]: its answer, or an [`ApiError`] that becomes Box's error
//! body. A handler that reads the request body takes a [`crate::body::BodyStream`] as its
//! last argument; what it leaves unread when it answers an error is drained by
//! [`drain_after_error`].

pub(crate) mod direct;
pub(crate) mod download;
pub(crate) mod files;
mod folders;
mod gate;
mod identify;
mod internal;
mod oauth;
mod preflight;
pub(crate) mod request;
mod response;
pub(crate) mod sessions;
mod trash;
mod users;
mod validate;

use crate::body::drain_after_error;
use crate::counters::Operation;
use crate::error::ApiError;
use crate::state::Shared;
use axum::handler::Handler;
use axum::http::StatusCode;
use axum::middleware::from_fn_with_state;
use axum::response::Response;
use axum::routing::{get, options, post};
use axum::Router;
use gate::Gate;
use sessions::{commit, create, part, plan, status};
use std::sync::Arc;

pub(crate) type ApiResult = Result<Response, ApiError>;
pub(crate) type AppState = axum::extract::State<Arc<Shared>>;

/// The routes: each API operation's handler behind its gate, the token endpoint, the test
/// controls (`/_emulator/*`, no gate), and Box's 404 and 405 for the rest.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    // `handler.layer(gate(op))`: the handler behind the gate of operation `op`.
    let gate = |op| from_fn_with_state(Gate::new(&shared, op), gate::api);
    let counted = |op| from_fn_with_state(Gate::new(&shared, op), gate::count_only);
    let mut r = Router::new()
        // API base (api.box.com/2.0). Box serves the preflight here, not the direct uploads:
        // those are on the upload base only (see `direct::upload_on_api_base`).
        .route(
            "/2.0/files/content",
            options(preflight::preflight.layer(gate(Operation::Preflight)))
                .post(direct::upload_on_api_base),
        )
        .route(
            "/2.0/files/{file_id}",
            get(files::get_file.layer(gate(Operation::GetFile)))
                .delete(trash::delete_file.layer(gate(Operation::DeleteFile)))
                .post(trash::restore_file.layer(gate(Operation::RestoreFile))),
        )
        .route(
            "/2.0/files/{file_id}/trash",
            get(trash::get_trashed_file.layer(gate(Operation::GetTrashedFile)))
                .delete(trash::purge_file.layer(gate(Operation::PurgeFile))),
        )
        .route(
            "/2.0/files/{file_id}/content",
            get(files::download.layer(gate(Operation::DownloadFile)))
                .options(preflight::preflight.layer(gate(Operation::Preflight)))
                .post(direct::upload_on_api_base),
        )
        .route(
            "/2.0/files/{file_id}/versions",
            get(files::list_versions.layer(gate(Operation::ListFileVersions))),
        )
        .route(
            "/2.0/folders",
            post(folders::create_folder.layer(gate(Operation::CreateFolder))),
        )
        .route(
            "/2.0/folders/{folder_id}",
            get(folders::get_folder.layer(gate(Operation::GetFolder)))
                .delete(trash::delete_folder.layer(gate(Operation::DeleteFolder)))
                .post(trash::restore_folder.layer(gate(Operation::RestoreFolder))),
        )
        .route(
            "/2.0/folders/{folder_id}/trash",
            get(trash::get_trashed_folder.layer(gate(Operation::GetTrashedFolder)))
                .delete(trash::purge_folder.layer(gate(Operation::PurgeFolder))),
        )
        .route(
            "/2.0/folders/{folder_id}/items",
            get(folders::list_folder_items.layer(gate(Operation::ListFolderItems))),
        )
        .route(
            "/2.0/users/me",
            get(users::me.layer(gate(Operation::GetCurrentUser))),
        )
        // Download URLs (Box's download host): no bearer token, only counted.
        .route(
            "/dl/{token}",
            get(download::serve.layer(counted(Operation::DownloadUrl))),
        )
        // Upload base (upload.box.com/api/2.0).
        .route(
            "/api/2.0/files/content",
            post(direct::upload_file.layer(gate(Operation::UploadFile))),
        )
        .route(
            "/api/2.0/files/{file_id}/content",
            post(direct::upload_file.layer(gate(Operation::UploadFileVersion))),
        );
    // Session operations live on the upload base; they are also accepted on the API base.
    for prefix in ["/api/2.0", "/2.0"] {
        let session = format!("{prefix}/files/upload_sessions/{{session_id}}");
        r = r
            .route(
                &format!("{prefix}/files/upload_sessions"),
                post(create::create_session.layer(gate(Operation::CreateUploadSession))),
            )
            .route(
                &format!("{prefix}/files/{{file_id}}/upload_sessions"),
                post(create::create_session.layer(gate(Operation::CreateUploadSessionForFile))),
            )
            .route(
                &session,
                get(status::get_session.layer(gate(Operation::GetUploadSession)))
                    .put(part::upload_part.layer(gate(Operation::UploadPart)))
                    .delete(status::abort_session.layer(gate(Operation::AbortUploadSession))),
            )
            .route(
                &format!("{session}/parts"),
                get(status::list_parts.layer(gate(Operation::ListParts))),
            )
            .route(
                &format!("{session}/commit"),
                post(commit::commit.layer(gate(Operation::CommitUploadSession))),
            )
            .route(
                &format!("{session}/log"),
                post(status::log_event.layer(gate(Operation::LogEvent))),
            )
            .route(
                &format!("{session}/plan"),
                post(plan::plan.layer(gate(Operation::PlanUploadSession))),
            );
    }
    r.route(
        "/oauth2/token",
        post(oauth::token.layer(counted(Operation::RequestToken))),
    )
    .route(
        "/oauth2/revoke",
        post(oauth::revoke.layer(counted(Operation::RevokeToken))),
    )
    .route("/_emulator/counters", get(internal::counters))
    .route("/_emulator/counters/reset", post(internal::reset_counters))
    .route(
        "/_emulator/faults",
        get(internal::get_faults).put(internal::put_faults),
    )
    .route(
        "/_emulator/net",
        get(internal::get_net).put(internal::put_net),
    )
    .route("/_emulator/expire-tokens", post(internal::expire_tokens))
    .route(
        "/_emulator/refresh-tokens",
        post(internal::mint_refresh_token),
    )
    .route(
        "/_emulator/token-clock",
        post(internal::advance_token_clock),
    )
    .fallback(not_found)
    .method_not_allowed_fallback(method_not_allowed)
    .layer(axum::middleware::from_fn(drain_after_error))
    .with_state(shared)
}

async fn not_found() -> ApiError {
    ApiError::not_found("Not Found")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "Method Not Allowed",
    )
}
