//! Keyset paging shared by the read models that list pages.

use chrono::{DateTime, SecondsFormat, Utc};
use uuid::Uuid;

/// A position in a list ordered by `(time, id)`; the page after it starts past it. Each list says which time
/// and id it orders by (a test case's `planned_at`, a campaign's `created_at`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageCursor {
    pub at: DateTime<Utc>,
    pub id: Uuid,
}

impl PageCursor {
    /// `"<at in RFC 3339, microseconds>_<id>"`, for an opaque API cursor.
    pub fn encode(&self) -> String {
        format!(
            "{}_{}",
            self.at.to_rfc3339_opts(SecondsFormat::Micros, true),
            self.id
        )
    }

    /// The cursor [`Self::encode`] wrote; `None` for anything else.
    pub fn decode(text: &str) -> Option<Self> {
        let (at, id) = text.split_once('_')?;
        Some(Self {
            at: DateTime::parse_from_rfc3339(at).ok()?.with_timezone(&Utc),
            id: Uuid::parse_str(id).ok()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// API clients hold these strings between requests, so the form must not drift.
    #[test]
    fn a_cursor_is_micro_rfc3339_then_the_id_and_reads_back() {
        let cursor = PageCursor {
            at: "2026-11-28T10:00:00.123456Z"
                .parse()
                .expect("a valid RFC 3339 time"),
            id: Uuid::from_u128(0x0190_d6c4_3b7a_7cc2_9a4e_2f5f_1d0c_9b11),
        };
        let text = cursor.encode();
        assert_eq!(
            text,
            "2026-11-28T10:00:00.123456Z_0190d6c4-3b7a-7cc2-9a4e-2f5f1d0c9b11"
        );
        assert_eq!(PageCursor::decode(&text), Some(cursor));
        assert_eq!(PageCursor::decode("not a cursor"), None);
    }
}
