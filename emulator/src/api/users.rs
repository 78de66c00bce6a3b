//! `GET /users/me`: the user the request acts as, with the emulator's limits as the user's
//! (`max_upload_size`, `space_amount`) and the bytes stored (`space_used`).
//! <https://developer.box.com/reference/get-users-me/>

use super::request::Fields;
use super::response::json_response;
use super::{ApiResult, AppState};
use crate::auth::Caller;
use axum::extract::State;
use axum::http::StatusCode;

pub(crate) async fn me(State(st): AppState, caller: Caller, fields: Fields) -> ApiResult {
    let catalog = st.catalog.lock().await;
    Ok(json_response(
        StatusCode::OK,
        st.user_json(&catalog, &caller.user, fields.as_deref()),
    ))
}
