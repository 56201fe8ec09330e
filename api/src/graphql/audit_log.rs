//! The whole audit log for auditors (admins): every event, newest first, filtered and paged.

use async_graphql::connection::{Connection, Edge, EmptyFields, query};
use async_graphql::{Context, ErrorExtensions, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use projections::audit_log::{self, AuditLogFilter, AuditLogLine};

use super::error::ApiError;
use super::paging::page_size;
use super::scalars::BigInt;
use crate::state::AppState;

/// Narrows `auditLog`; the fields given combine (all must hold).
#[derive(InputObject, Debug, Default)]
pub struct AuditLogFilterInput {
    /// Who acted: a user id, or a part of Aegis such as `system:login`.
    actor_id: Option<String>,
    /// `TestCase`, `Campaign`, `ScoringPolicy`, `User`, `SecurityPolicy`, `DetectionRule`, or any type the log
    /// holds.
    aggregate_type: Option<String>,
    aggregate_id: Option<String>,
    /// An event type such as `TestCaseOutcomeRecorded`.
    event_type: Option<String>,
    /// Events that happened at or after this time.
    from: Option<DateTime<Utc>>,
    /// Events that happened at or before this time.
    to: Option<DateTime<Utc>>,
}

impl From<AuditLogFilterInput> for AuditLogFilter {
    fn from(input: AuditLogFilterInput) -> Self {
        Self {
            actor_id: input.actor_id,
            aggregate_type: input.aggregate_type,
            aggregate_id: input.aggregate_id,
            event_type: input.event_type,
            from: input.from,
            to: input.to,
        }
    }
}

/// One event as the audit log shows it.
#[derive(SimpleObject, Debug)]
pub struct AuditLogEntry {
    /// Position in the whole log; the list is ordered by it, newest first.
    global_position: BigInt,
    /// When the command behind the event was given (when it was stored, for events written otherwise).
    occurred_at: DateTime<Utc>,
    recorded_at: DateTime<Utc>,
    /// A user id, a part of Aegis (`system:login`), or null for an event written by other means.
    actor_id: Option<String>,
    /// The actor's e-mail address when the event happened, else the actor id.
    actor: String,
    /// The roles the actor acted with.
    actor_roles: Vec<String>,
    aggregate_type: String,
    aggregate_id: String,
    /// Position in the aggregate's stream, from 1.
    sequence: BigInt,
    event_type: String,
    event_version: String,
    /// One line for people: "red.lead@aegis.demo planned test case “LSASS dump” (T1003.001)".
    summary: String,
    /// Ties together every event caused by one request.
    correlation_id: Option<String>,
    /// The event's hash in the chain `aegis audit verify` checks, in hex.
    hash: String,
    /// The hash of the aggregate's previous event (64 zeros for its first), in hex.
    prev_hash: String,
}

impl From<AuditLogLine> for AuditLogEntry {
    fn from(line: AuditLogLine) -> Self {
        Self {
            global_position: BigInt(line.global_seq),
            occurred_at: line.occurred_at,
            recorded_at: line.recorded_at,
            actor_id: line.actor_id,
            actor: line.actor_label,
            actor_roles: line.actor_roles,
            aggregate_type: line.aggregate_type,
            aggregate_id: line.aggregate_id,
            sequence: BigInt(line.sequence),
            event_type: line.event_type,
            event_version: line.event_version,
            summary: line.summary,
            correlation_id: line.correlation_id,
            hash: hex::encode(line.hash),
            prev_hash: hex::encode(line.prev_hash),
        }
    }
}

#[derive(Debug, Default)]
pub struct AuditLogQuery;

#[Object]
impl AuditLogQuery {
    /// Every event, newest first, filtered. Paging is stable while events arrive: a page's cursor is a global
    /// position, and new events only ever come before the first page. Admins only.
    #[graphql(complexity = "super::paging::page_complexity(first, child_complexity)")]
    async fn audit_log(
        &self,
        context: &Context<'_>,
        filter: Option<AuditLogFilterInput>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<String, AuditLogEntry, EmptyFields, EmptyFields>> {
        let state = context.data::<AppState>()?;
        let filter = AuditLogFilter::from(filter.unwrap_or_default());
        query(
            after,
            None,
            first,
            None,
            |after: Option<String>, _: Option<String>, first, _| async move {
                let before = match after.as_deref() {
                    Some(text) => Some(text.parse::<i64>().map_err(|_| {
                        ApiError::Validation("the cursor is not valid".to_owned()).extend()
                    })?),
                    None => None,
                };
                let limit = page_size(first);
                let mut lines = audit_log::page(
                    &state.pool,
                    &filter,
                    before,
                    i64::try_from(limit + 1).unwrap_or(101),
                )
                .await
                .map_err(|error| ApiError::internal(error).extend())?;
                let has_next = lines.len() > limit;
                lines.truncate(limit);
                let mut connection = Connection::new(before.is_some(), has_next);
                connection.edges.extend(
                    lines.into_iter().map(|line| {
                        Edge::new(line.global_seq.to_string(), AuditLogEntry::from(line))
                    }),
                );
                Ok::<_, async_graphql::Error>(connection)
            },
        )
        .await
    }
}
