//! The audit log read model: every event with who did it, when, and in which request.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool, Row};

use crate::projector::{Projection, StoredEvent};

/// Keeps `audit_log` in step with the event log.
#[derive(Debug, Clone, Copy, Default)]
pub struct AuditLog;

// Metadata keys written by the command layer (see `commands::context::keys`); projections read them by name
// because they must not depend on the write side.
const ACTOR_ID: &str = "actor_id";
const ACTOR_ROLES: &str = "actor_roles";
const CORRELATION_ID: &str = "correlation_id";
const IDEMPOTENCY_KEY: &str = "idempotency_key";
const OCCURRED_AT: &str = "occurred_at";

#[async_trait::async_trait]
impl Projection for AuditLog {
    fn name(&self) -> &'static str {
        "audit_log"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["audit_log"]
    }

    async fn apply(
        &self,
        connection: &mut PgConnection,
        events: &[StoredEvent],
    ) -> Result<(), sqlx::Error> {
        let column = |value: fn(&StoredEvent) -> Option<&str>| -> Vec<Option<&str>> {
            events.iter().map(value).collect()
        };
        let occurred_at: Vec<Option<DateTime<Utc>>> = events
            .iter()
            .map(|event| {
                event
                    .metadata_str(OCCURRED_AT)
                    .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
                    .map(|time| time.with_timezone(&Utc))
            })
            .collect();
        // One statement per batch: projection speed is dominated by round trips.
        sqlx::query(
            "INSERT INTO audit_log (global_seq, recorded_at, occurred_at, aggregate_type, aggregate_id, sequence,
                                    event_type, event_version, actor_id, actor_roles, correlation_id,
                                    idempotency_key)
             SELECT * FROM UNNEST($1::bigint[], $2::timestamptz[], $3::timestamptz[], $4::text[], $5::text[],
                                  $6::bigint[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[],
                                  $12::text[])",
        )
        .bind(events.iter().map(|event| event.global_seq).collect::<Vec<_>>())
        .bind(events.iter().map(|event| event.recorded_at).collect::<Vec<_>>())
        .bind(occurred_at)
        .bind(events.iter().map(|event| event.aggregate_type.as_str()).collect::<Vec<_>>())
        .bind(events.iter().map(|event| event.aggregate_id.as_str()).collect::<Vec<_>>())
        .bind(events.iter().map(|event| event.sequence).collect::<Vec<_>>())
        .bind(events.iter().map(|event| event.event_type.as_str()).collect::<Vec<_>>())
        .bind(events.iter().map(|event| event.event_version.as_str()).collect::<Vec<_>>())
        .bind(column(|event| event.metadata_str(ACTOR_ID)))
        .bind(column(|event| event.metadata_str(ACTOR_ROLES)))
        .bind(column(|event| event.metadata_str(CORRELATION_ID)))
        .bind(column(|event| event.metadata_str(IDEMPOTENCY_KEY)))
        .execute(connection)
        .await?;
        Ok(())
    }
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub global_seq: i64,
    pub recorded_at: DateTime<Utc>,
    pub occurred_at: Option<DateTime<Utc>>,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: i64,
    pub event_type: String,
    pub actor_id: Option<String>,
    pub correlation_id: Option<String>,
}

/// The history of one aggregate, oldest first.
pub async fn history(
    pool: &PgPool,
    aggregate_type: &str,
    aggregate_id: &str,
) -> Result<Vec<AuditEntry>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT global_seq, recorded_at, occurred_at, aggregate_type, aggregate_id, sequence, event_type,
                actor_id, correlation_id
           FROM audit_log WHERE aggregate_type = $1 AND aggregate_id = $2 ORDER BY sequence",
    )
    .bind(aggregate_type)
    .bind(aggregate_id)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(AuditEntry {
                global_seq: row.try_get("global_seq")?,
                recorded_at: row.try_get("recorded_at")?,
                occurred_at: row.try_get("occurred_at")?,
                aggregate_type: row.try_get("aggregate_type")?,
                aggregate_id: row.try_get("aggregate_id")?,
                sequence: row.try_get("sequence")?,
                event_type: row.try_get("event_type")?,
                actor_id: row.try_get("actor_id")?,
                correlation_id: row.try_get("correlation_id")?,
            })
        })
        .collect()
}
