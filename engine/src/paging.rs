//! The one paging loop: fetch a page, hand on its items, follow its cursor (a marker or an
//! offset) until there is none. Used for an upload session's parts and for folder listings.
//!
//! The pages come as a stream of items, each page fetched only when the one before is used up,
//! so a caller looking for one item stops fetching once it is found ([`items`]); [`collect`]
//! reads them all. How the next cursor follows from a page is the API's to say:
//! [`next_offset`] and [`next_marker`] are Box's two ways.

use std::future::Future;

use futures_util::{stream, Stream, TryStreamExt as _};

/// One page: its items, and the cursor of the next page (`None`: this was the last).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Page<T, C> {
    pub items: Vec<T>,
    pub next: Option<C>,
}

/// Every item of every page, from the page at `first` on. `fetch` is called with each page's
/// cursor, when the items before are used up; the first error ends the stream.
pub(crate) fn items<'a, T, C, E, F, Fut>(
    first: C,
    fetch: F,
) -> impl Stream<Item = Result<T, E>> + Send + 'a
where
    T: Send + 'a,
    C: Send + 'a,
    E: Send + 'a,
    F: FnMut(C) -> Fut + Send + 'a,
    Fut: Future<Output = Result<Page<T, C>, E>> + Send + 'a,
{
    // The fetcher travels in the state, so that each page's future owns it while it runs.
    stream::try_unfold((fetch, Some(first)), |(mut fetch, cursor)| async move {
        let Some(cursor) = cursor else {
            return Ok(None);
        };
        let page = fetch(cursor).await?;
        let items = stream::iter(page.items.into_iter().map(Ok));
        Ok(Some((items, (fetch, page.next))))
    })
    .try_flatten()
}

/// Every item of every page, from the page at `first` on.
pub(crate) async fn collect<'a, T, C, E, F, Fut>(first: C, fetch: F) -> Result<Vec<T>, E>
where
    T: Send + 'a,
    C: Send + 'a,
    E: Send + 'a,
    F: FnMut(C) -> Fut + Send + 'a,
    Fut: Future<Output = Result<Page<T, C>, E>> + Send + 'a,
{
    items(first, fetch).try_collect().await
}

/// Offset paging: the offset after a page of `got` items read at `offset`, or `None` when that
/// was the last page. The last page is the one that reaches `total` (when the answer gives one),
/// or, without a total, a page shorter than `limit`; an empty page always ends (a server that
/// keeps promising more would otherwise be asked forever), and so does an offset past
/// `max_offset` (the largest the API accepts).
pub(crate) fn next_offset(
    offset: u64,
    got: usize,
    limit: u64,
    total: Option<u64>,
    max_offset: u64,
) -> Option<u64> {
    let got = got as u64;
    let next = offset.saturating_add(got);
    let more = match total {
        Some(total) => next < total,
        None => got >= limit,
    };
    (got > 0 && more && next <= max_offset).then_some(next)
}

/// Marker paging: the next page's marker, `None` when the answer gives none (or an empty one).
pub(crate) fn next_marker(marker: Option<String>) -> Option<String> {
    marker.filter(|m| !m.is_empty())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use futures_util::TryStreamExt as _;

    use super::*;

    /// Pages of three over `0..total`, by offset, counting the pages fetched.
    fn numbers(
        total: u64,
        fetched: &AtomicU32,
    ) -> impl FnMut(u64) -> std::future::Ready<Result<Page<u64, u64>, String>> + Send + '_ {
        move |offset| {
            fetched.fetch_add(1, Ordering::Relaxed);
            let items: Vec<u64> = (offset..total.min(offset + 3)).collect();
            let next = next_offset(offset, items.len(), 3, Some(total), u64::MAX);
            std::future::ready(Ok(Page { items, next }))
        }
    }

    #[tokio::test]
    async fn collect_follows_the_cursor_to_the_last_page() {
        let fetched = AtomicU32::new(0);
        let all = collect(0, numbers(8, &fetched)).await.expect("pages");
        assert_eq!(all, (0..8).collect::<Vec<_>>());
        assert_eq!(fetched.load(Ordering::Relaxed), 3);
    }

    #[tokio::test]
    async fn a_page_is_fetched_only_when_the_one_before_is_used_up() {
        let fetched = AtomicU32::new(0);
        let mut found = std::pin::pin!(items(0, numbers(100, &fetched)));
        while let Some(n) = found.try_next().await.expect("page") {
            if n == 4 {
                break;
            }
        }
        assert_eq!(fetched.load(Ordering::Relaxed), 2);
    }

    #[tokio::test]
    async fn the_first_error_ends_the_items() {
        let err = collect(None::<String>, |marker| async move {
            match marker {
                None => Ok(Page {
                    items: vec![1],
                    next: Some(Some("m".to_string())),
                }),
                Some(_) => Err("broken"),
            }
        })
        .await
        .expect_err("second page fails");
        assert_eq!(err, "broken");
    }

    #[test]
    fn offsets_stop_at_the_total_a_short_or_empty_page_or_the_largest_offset() {
        assert_eq!(next_offset(0, 10, 10, Some(25), 10_000), Some(10));
        assert_eq!(next_offset(20, 5, 10, Some(25), 10_000), None);
        assert_eq!(next_offset(0, 10, 10, None, 10_000), Some(10));
        assert_eq!(next_offset(10, 4, 10, None, 10_000), None);
        assert_eq!(next_offset(10, 0, 10, Some(99), 10_000), None);
        assert_eq!(next_offset(9_990, 20, 20, Some(50_000), 10_000), None);
    }

    #[test]
    fn an_empty_marker_is_no_marker() {
        assert_eq!(next_marker(Some("abc".into())), Some("abc".into()));
        assert_eq!(next_marker(Some(String::new())), None);
        assert_eq!(next_marker(None), None);
    }
}
