//! The whole audit log for auditors (admins): every event, newest first, filtered and paged; the hash chain
//! verified as `aegis audit verify` does; one aggregate's states replayed as `aegis audit replay` does.

use async_graphql::connection::{Connection, Edge, EmptyFields, query};
use async_graphql::{Context, ErrorExtensions, InputObject, Json, Object, SimpleObject};
use chrono::{DateTime, Utc};
use commands::hash_chain::{self, ChainVerdict};
use commands::replay::{self, ReplayError};
use projections::audit_log::{self, AuditLogFilter, AuditLogLine, summary};

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

/// What recomputing the hash chain found (`aegis audit verify`).
#[derive(SimpleObject, Debug)]
pub struct ChainVerification {
    /// Every event's hash recomputes from its content and its predecessor's hash, and no sequence skips.
    intact: bool,
    /// Events checked, when intact.
    events: Option<BigInt>,
    /// The first broken link in global order, in words; null when intact.
    broken_link: Option<String>,
    /// That event's global position.
    broken_at: Option<BigInt>,
}

/// One aggregate's history replayed through the domain's `apply` (`aegis audit replay`).
#[derive(SimpleObject, Debug)]
pub struct AuditReplay {
    aggregate_type: String,
    aggregate_id: String,
    /// Each event, oldest first, with the state after it.
    steps: Vec<AuditReplayStep>,
    /// Events after `until`, left out.
    later_events: i32,
}

#[derive(SimpleObject, Debug)]
pub struct AuditReplayStep {
    /// Position in the aggregate's stream, from 1.
    sequence: i32,
    event_type: String,
    event_version: String,
    occurred_at: Option<DateTime<Utc>>,
    actor_id: Option<String>,
    actor_roles: Vec<String>,
    /// One line for people, as the audit log words it.
    summary: String,
    event: Json<serde_json::Value>,
    /// The aggregate's state after this event.
    state: Json<serde_json::Value>,
}

impl From<ReplayError> for ApiError {
    fn from(error: ReplayError) -> Self {
        match error {
            ReplayError::NoEvents { .. } | ReplayError::NoEventsUntil { .. } => {
                Self::NotFound(error.to_string())
            }
            ReplayError::Ambiguous { .. } | ReplayError::UnknownType(_) => {
                Self::Validation(error.to_string())
            }
            ReplayError::Load(_) | ReplayError::Serialize(_) | ReplayError::Database(_) => {
                Self::internal(error)
            }
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

    /// Recomputes the whole hash chain, as `aegis audit verify` does, and names the first broken link.
    /// Reads every event: seconds for a million. Admins only.
    async fn audit_chain_verification(
        &self,
        context: &Context<'_>,
    ) -> async_graphql::Result<ChainVerification> {
        let state = context.data::<AppState>()?;
        let verdict = hash_chain::verify(&state.pool)
            .await
            .map_err(|error| ApiError::internal(error).extend())?;
        Ok(match verdict {
            ChainVerdict::Intact { events } => ChainVerification {
                intact: true,
                events: Some(BigInt(i64::try_from(events).unwrap_or(i64::MAX))),
                broken_link: None,
                broken_at: None,
            },
            ChainVerdict::Broken(link) => ChainVerification {
                intact: false,
                events: None,
                broken_at: Some(BigInt(link.global_seq)),
                broken_link: Some(link.to_string()),
            },
        })
    }

    /// The states one aggregate went through, event by event, up to `until` (default: all), as
    /// `aegis audit replay` shows them. `aggregateType` is needed only when the id names several streams.
    /// Admins only.
    async fn audit_replay(
        &self,
        context: &Context<'_>,
        aggregate_id: String,
        aggregate_type: Option<String>,
        until: Option<DateTime<Utc>>,
    ) -> async_graphql::Result<AuditReplay> {
        let state = context.data::<AppState>()?;
        let replay = replay::replay(&state.pool, &aggregate_id, aggregate_type.as_deref(), until)
            .await
            .map_err(|error| ApiError::from(error).extend())?;
        let steps = replay
            .steps
            .into_iter()
            .map(|step| AuditReplayStep {
                sequence: i32::try_from(step.sequence).unwrap_or(i32::MAX),
                summary: summary::summarize(&replay.aggregate_type, &step.event_type, &step.event),
                event_type: step.event_type,
                event_version: step.event_version,
                occurred_at: step.occurred_at,
                actor_id: step.actor_id,
                actor_roles: step.actor_roles,
                event: Json(step.event),
                state: Json(step.state),
            })
            .collect();
        Ok(AuditReplay {
            aggregate_type: replay.aggregate_type,
            aggregate_id: replay.aggregate_id,
            steps,
            later_events: i32::try_from(replay.later_events).unwrap_or(i32::MAX),
        })
    }
}
