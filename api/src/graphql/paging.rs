//! Relay-style lists: a cap on the page size, a complexity that grows with it, and keyset pages.

use std::future::Future;

use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::{ErrorExtensions, OutputType};
use projections::paging::PageCursor;

use super::error::{ApiError, internal};

/// No page is larger than this.
pub const MAX_PAGE: usize = 100;

/// How many items a page asked for holds (50 by default, at most [`MAX_PAGE`]).
pub fn page_size(first: Option<usize>) -> usize {
    first.unwrap_or(50).min(MAX_PAGE)
}

/// A page costs what one item costs, times the items it may hold: aliasing many large pages is refused by
/// the complexity limit rather than answered with many queries.
pub fn page_complexity(first: Option<i32>, child_complexity: usize) -> usize {
    page_size(first.and_then(|first| usize::try_from(first).ok())).max(1) * child_complexity
}

/// A keyset page of a read model: decodes `after`, asks `fetch` for one row more than the page (to learn
/// whether another follows), and makes the connection of the rows as `node` shows them, each with its
/// `cursor`.
pub async fn keyset_page<Row, Node, Fetched>(
    after: Option<String>,
    first: Option<i32>,
    fetch: impl FnOnce(Option<PageCursor>, i64) -> Fetched,
    cursor: impl Fn(&Row) -> PageCursor,
    node: impl Fn(Row) -> Node,
) -> async_graphql::Result<Connection<String, Node, EmptyFields, EmptyFields>>
where
    Fetched: Future<Output = Result<Vec<Row>, sqlx::Error>>,
    Node: OutputType,
{
    let after =
        match after.as_deref() {
            Some(text) => Some(PageCursor::decode(text).ok_or_else(|| {
                ApiError::Validation("the cursor is not valid".to_owned()).extend()
            })?),
            None => None,
        };
    let limit = page_size(first.and_then(|first| usize::try_from(first).ok()));
    let mut rows = fetch(after, i64::try_from(limit + 1).unwrap_or(101))
        .await
        .map_err(internal)?;
    let has_next = rows.len() > limit;
    rows.truncate(limit);
    let mut connection = Connection::new(after.is_some(), has_next);
    connection.edges.extend(
        rows.into_iter()
            .map(|row| Edge::new(cursor(&row).encode(), node(row))),
    );
    Ok(connection)
}
