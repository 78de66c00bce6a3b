//! The parts an upload session already holds, read with list parts
//! (<https://developer.box.com/reference/get-files-upload-sessions-id-parts/>) through the
//! crate's pager: all of them when a session is resumed, one of them after a part upload whose
//! answer was lost.

use std::pin::pin;

use futures_util::{Stream, TryStreamExt as _};

use crate::paging::{self, Page};
use crate::retry::RetryContext;
use crate::upload::calls::{PartRecord, UploadCalls};
use crate::upload::error::UploadError;

/// Parts per list-parts page (Box's maximum).
const LIST_PAGE: u64 = 1000;
/// Box refuses list-parts offsets above this.
const LIST_MAX_OFFSET: u64 = 10_000;

/// Every part the session holds, page after page of list parts
/// (<https://developer.box.com/reference/get-files-upload-sessions-id-parts/>), each page
/// fetched only when the one before is used up.
pub(super) fn stored_parts<'a, A: UploadCalls>(
    calls: RetryContext<'a>,
    api: &'a A,
    list_url: &'a str,
) -> impl Stream<Item = Result<PartRecord, UploadError>> + Send + 'a {
    paging::items(0u64, move |offset| async move {
        let page = calls
            .call("list_upload_parts", || {
                api.list_parts(list_url, offset, LIST_PAGE)
            })
            .await?;
        let next = paging::next_offset(
            offset,
            page.entries.len(),
            LIST_PAGE,
            page.total_count,
            LIST_MAX_OFFSET,
        );
        Ok(Page {
            items: page.entries,
            next,
        })
    })
}

/// The part the session holds at `offset`, if any (reading pages only until it is found).
pub(super) async fn find_part<A: UploadCalls>(
    calls: RetryContext<'_>,
    api: &A,
    list_url: &str,
    offset: u64,
) -> Result<Option<PartRecord>, UploadError> {
    let mut parts = pin!(stored_parts(calls, api, list_url));
    while let Some(part) = parts.try_next().await? {
        if part.offset == offset {
            return Ok(Some(part));
        }
    }
    Ok(None)
}
