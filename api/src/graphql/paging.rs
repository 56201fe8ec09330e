//! Relay-style lists: a cap on the page size, and a complexity that grows with it.

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
