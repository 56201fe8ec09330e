//! An aggregate's history for auditors: every event with its type, version, actor, time and payload.

use async_graphql::{Context, Enum, ErrorExtensions, Json, Object, SimpleObject};
use chrono::{DateTime, Utc};
use domain::role::Role;
use projections::history::{self, HistoryEntry};
use uuid::Uuid;

use super::account::principal;
use super::error::ApiError;
use super::scalars::BigInt;
use super::test_case_views::sees_blind_tests_redacted;
use crate::state::AppState;

/// The kinds of aggregates with a history.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum AggregateKind {
    TestCase,
    Campaign,
    ScoringPolicy,
    User,
    SecurityPolicy,
}

impl AggregateKind {
    const fn type_name(self) -> &'static str {
        match self {
            Self::TestCase => "TestCase",
            Self::Campaign => "Campaign",
            Self::ScoringPolicy => "ScoringPolicy",
            Self::User => "User",
            Self::SecurityPolicy => "SecurityPolicy",
        }
    }
}

/// One event of an aggregate's history.
#[derive(SimpleObject, Debug)]
pub struct HistoryEvent {
    /// Position in the whole log.
    global_position: BigInt,
    /// Position in the aggregate's stream, from 1.
    sequence: BigInt,
    event_type: String,
    event_version: String,
    actor_id: Option<String>,
    actor_roles: Option<String>,
    correlation_id: Option<String>,
    occurred_at: Option<String>,
    recorded_at: DateTime<Utc>,
    payload: Json<serde_json::Value>,
}

impl From<HistoryEntry> for HistoryEvent {
    fn from(entry: HistoryEntry) -> Self {
        let metadata = |key: &str| {
            entry
                .metadata
                .get(key)
                .and_then(|value| value.as_str())
                .map(str::to_owned)
        };
        Self {
            global_position: BigInt(entry.global_seq),
            sequence: BigInt(entry.sequence),
            actor_id: metadata("actor_id"),
            actor_roles: metadata("actor_roles"),
            correlation_id: metadata("correlation_id"),
            occurred_at: metadata("occurred_at"),
            event_type: entry.event_type,
            event_version: entry.event_version,
            recorded_at: entry.recorded_at,
            payload: Json(entry.payload),
        }
    }
}

#[derive(Debug, Default)]
pub struct HistoryQuery;

#[Object]
impl HistoryQuery {
    /// Every event of one aggregate, oldest first. Users' and the security policy's histories are for admins;
    /// a blind test's history is withheld from blue until red reveals it.
    async fn history(
        &self,
        context: &Context<'_>,
        kind: AggregateKind,
        id: String,
    ) -> async_graphql::Result<Vec<HistoryEvent>> {
        let state = context.data::<AppState>()?;
        let principal = principal(context)?;
        let forbidden = |message: &str| ApiError::Forbidden(message.to_owned()).extend();
        match kind {
            AggregateKind::User | AggregateKind::SecurityPolicy
                if !principal.roles.contains(&Role::Admin) =>
            {
                return Err(forbidden(
                    "only admins read account and security-policy histories",
                ));
            }
            AggregateKind::TestCase if sees_blind_tests_redacted(principal) => {
                let hidden = match Uuid::parse_str(&id) {
                    Ok(id) => projections::test_cases::find(&state.pool, id)
                        .await
                        .map_err(|error| ApiError::internal(error).extend())?
                        .is_some_and(|row| row.is_hidden_from_blue()),
                    Err(_) => false,
                };
                if hidden {
                    return Err(forbidden(
                        "this blind test's history is withheld until red reveals it",
                    ));
                }
            }
            _ => {}
        }
        let entries = history::of(&state.pool, kind.type_name(), &id)
            .await
            .map_err(|error| ApiError::internal(error).extend())?;
        Ok(entries.into_iter().map(HistoryEvent::from).collect())
    }
}
