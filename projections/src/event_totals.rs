//! How many events of each type the log holds: cheap totals for `serverInfo` and metrics.

use std::collections::BTreeMap;

use sqlx::{PgConnection, PgPool};

use crate::projector::{Projection, StoredEvent};

/// Keeps `event_totals` in step with the event log.
#[derive(Debug, Clone, Copy, Default)]
pub struct EventTotals;

#[async_trait::async_trait]
impl Projection for EventTotals {
    fn name(&self) -> &'static str {
        "event_totals"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["event_totals"]
    }

    async fn apply(
        &self,
        connection: &mut PgConnection,
        events: &[StoredEvent],
    ) -> Result<(), sqlx::Error> {
        let mut counts: BTreeMap<(&str, &str), i64> = BTreeMap::new();
        for event in events {
            *counts
                .entry((event.aggregate_type.as_str(), event.event_type.as_str()))
                .or_default() += 1;
        }
        sqlx::query(
            "INSERT INTO event_totals (aggregate_type, event_type, events)
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::bigint[])
             ON CONFLICT (aggregate_type, event_type) DO UPDATE SET events = event_totals.events + excluded.events",
        )
        .bind(counts.keys().map(|key| key.0).collect::<Vec<_>>())
        .bind(counts.keys().map(|key| key.1).collect::<Vec<_>>())
        .bind(counts.values().copied().collect::<Vec<_>>())
        .execute(connection)
        .await?;
        Ok(())
    }
}

/// Events projected so far, all types together.
pub async fn total(pool: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT coalesce(sum(events), 0)::bigint FROM event_totals")
        .fetch_one(pool)
        .await
}
