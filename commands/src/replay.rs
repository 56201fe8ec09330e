//! Replaying one aggregate for auditors: every state it went through, event by event.
//!
//! The events are loaded through the event store exactly as [`crate::service::CommandService::load`] loads
//! them (postgres-es' reads over the chained log, upcasters included) and applied one at a time with the
//! domain aggregate's own `apply`, so each state shown is the one the next command was decided against. This
//! lives on the write side because the aggregate's state is the write side's: read models are projections of
//! the events, not the aggregate.

use chrono::{DateTime, Utc};
use cqrs_es::persist::PersistedEventStore;
use cqrs_es::{Aggregate, DomainEvent, EventEnvelope, EventStore};
use domain::campaign::Campaign;
use domain::detection_rule::DetectionRule;
use domain::scoring::ScoringPolicy;
use domain::security_policy::SecurityPolicy;
use domain::test_case::TestCase;
use domain::user::User;
use serde::Serialize;
use serde_json::Value;
use sqlx::PgPool;

use crate::context::keys;
use crate::event_log::ChainedEventRepository;

/// The aggregate types Aegis can replay, by their stored name.
pub const REPLAYABLE_TYPES: [&str; 6] = [
    User::TYPE,
    SecurityPolicy::TYPE,
    TestCase::TYPE,
    Campaign::TYPE,
    ScoringPolicy::TYPE,
    DetectionRule::TYPE,
];

/// The states one aggregate went through.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Replay {
    pub aggregate_type: String,
    pub aggregate_id: String,
    /// One per event, oldest first, up to the `until` asked for.
    pub steps: Vec<ReplayStep>,
    /// Events the aggregate has after the last step (left out by `until`).
    pub later_events: usize,
}

/// One event and the aggregate's state after it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReplayStep {
    pub sequence: usize,
    pub event_type: String,
    pub event_version: String,
    /// When the command behind the event was given; `None` for an event written by other means.
    pub occurred_at: Option<DateTime<Utc>>,
    pub actor_id: Option<String>,
    pub actor_roles: Vec<String>,
    /// The event as stored (after upcasting).
    pub event: Value,
    /// The aggregate after applying the event, as it serializes.
    pub state: Value,
}

/// Why a replay could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("{aggregate_id} has no events{}", aggregate_type.as_ref().map(|kind| format!(" as a {kind}")).unwrap_or_default())]
    NoEvents {
        aggregate_id: String,
        aggregate_type: Option<String>,
    },
    #[error("{aggregate_id} had no events yet at {until}; its first event happened at {first}")]
    NoEventsUntil {
        aggregate_id: String,
        until: DateTime<Utc>,
        first: String,
    },
    #[error("{aggregate_id} names streams of several types ({}); choose one with --type", types.join(", "))]
    Ambiguous {
        aggregate_id: String,
        types: Vec<String>,
    },
    #[error("Aegis cannot replay aggregates of type {0:?}; it can replay {types}", types = REPLAYABLE_TYPES.join(", "))]
    UnknownType(String),
    #[error("the events could not be loaded: {0}")]
    Load(String),
    #[error("the state could not be serialized: {0}")]
    Serialize(#[from] serde_json::Error),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Replays `aggregate_id`: of `aggregate_type` when given, else of the one type its events have; up to the
/// last event that happened at or before `until` when given.
pub async fn replay(
    pool: &PgPool,
    aggregate_id: &str,
    aggregate_type: Option<&str>,
    until: Option<DateTime<Utc>>,
) -> Result<Replay, ReplayError> {
    let aggregate_type = match aggregate_type {
        Some(aggregate_type) => aggregate_type.to_owned(),
        None => stored_type(pool, aggregate_id).await?,
    };
    let (steps, events) = match aggregate_type.as_str() {
        User::TYPE => steps::<User>(pool, aggregate_id, until).await?,
        SecurityPolicy::TYPE => steps::<SecurityPolicy>(pool, aggregate_id, until).await?,
        TestCase::TYPE => steps::<TestCase>(pool, aggregate_id, until).await?,
        Campaign::TYPE => steps::<Campaign>(pool, aggregate_id, until).await?,
        ScoringPolicy::TYPE => steps::<ScoringPolicy>(pool, aggregate_id, until).await?,
        DetectionRule::TYPE => steps::<DetectionRule>(pool, aggregate_id, until).await?,
        _ => return Err(ReplayError::UnknownType(aggregate_type)),
    };
    if events == 0 {
        return Err(ReplayError::NoEvents {
            aggregate_id: aggregate_id.to_owned(),
            aggregate_type: Some(aggregate_type),
        });
    }
    Ok(Replay {
        later_events: events - steps.len(),
        aggregate_type,
        aggregate_id: aggregate_id.to_owned(),
        steps,
    })
}

/// The type of the streams named `aggregate_id`, when there is exactly one.
async fn stored_type(pool: &PgPool, aggregate_id: &str) -> Result<String, ReplayError> {
    let mut types: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT aggregate_type FROM events WHERE aggregate_id = $1 ORDER BY 1",
    )
    .bind(aggregate_id)
    .fetch_all(pool)
    .await?;
    match types.len() {
        0 => Err(ReplayError::NoEvents {
            aggregate_id: aggregate_id.to_owned(),
            aggregate_type: None,
        }),
        1 => Ok(types.remove(0)),
        _ => Err(ReplayError::Ambiguous {
            aggregate_id: aggregate_id.to_owned(),
            types,
        }),
    }
}

/// When the command behind an event was given, from its metadata.
fn occurred_at(metadata: &std::collections::HashMap<String, String>) -> Option<DateTime<Utc>> {
    metadata
        .get(keys::OCCURRED_AT)
        .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
        .map(|time| time.with_timezone(&Utc))
}

/// The aggregate as its events given up to `until` left it (all of them without `until`); `None` when it had
/// none by then. What Aegis knew of it at that moment, for reports as of a date.
pub async fn state_at<A: Aggregate>(
    pool: &PgPool,
    aggregate_id: &str,
    until: Option<DateTime<Utc>>,
) -> Result<Option<A>, ReplayError> {
    let envelopes = envelopes::<A>(pool, aggregate_id).await?;
    let mut aggregate = None;
    for envelope in envelopes {
        if let (Some(until), Some(occurred_at)) = (until, occurred_at(&envelope.metadata))
            && occurred_at > until
        {
            break;
        }
        aggregate
            .get_or_insert_with(A::default)
            .apply(envelope.payload);
    }
    Ok(aggregate)
}

/// Every event of the aggregate, in order.
async fn envelopes<A: Aggregate>(
    pool: &PgPool,
    aggregate_id: &str,
) -> Result<Vec<EventEnvelope<A>>, ReplayError> {
    let store: PersistedEventStore<ChainedEventRepository, A> =
        PersistedEventStore::new_event_store(ChainedEventRepository::new(pool.clone()));
    store
        .load_events(aggregate_id)
        .await
        .map_err(|error| ReplayError::Load(error.to_string()))
}

/// The steps up to `until`, and how many events the aggregate has in all.
async fn steps<A>(
    pool: &PgPool,
    aggregate_id: &str,
    until: Option<DateTime<Utc>>,
) -> Result<(Vec<ReplayStep>, usize), ReplayError>
where
    A: Aggregate + Serialize,
{
    let envelopes = envelopes::<A>(pool, aggregate_id).await?;
    let total = envelopes.len();
    let mut aggregate = A::default();
    let mut steps = Vec::with_capacity(total);
    for envelope in envelopes {
        let occurred_at = occurred_at(&envelope.metadata);
        // Events are in sequence order, so the first one after `until` ends the replay. An event without a
        // time (not written by the command layer) cannot be placed and is kept.
        if let (Some(until), Some(occurred_at)) = (until, occurred_at)
            && occurred_at > until
        {
            if steps.is_empty() {
                return Err(ReplayError::NoEventsUntil {
                    aggregate_id: aggregate_id.to_owned(),
                    until,
                    first: occurred_at.to_rfc3339(),
                });
            }
            break;
        }
        let event = envelope.payload;
        let event_type = event.event_type();
        let event_version = event.event_version();
        let stored = serde_json::to_value(&event)?;
        aggregate.apply(event);
        steps.push(ReplayStep {
            sequence: envelope.sequence,
            event_type,
            event_version,
            occurred_at,
            actor_id: envelope.metadata.get(keys::ACTOR_ID).cloned(),
            actor_roles: envelope
                .metadata
                .get(keys::ACTOR_ROLES)
                .map(|roles| {
                    roles
                        .split(',')
                        .filter(|role| !role.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            event: stored,
            state: serde_json::to_value(&aggregate)?,
        });
    }
    Ok((steps, total))
}
