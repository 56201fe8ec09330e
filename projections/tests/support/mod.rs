//! Shared by the projection tests: an event log written the way the command layer writes it, and a projector.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use domain::campaign::CampaignEvent;
use domain::scoring::ScoringPolicyEvent;
use domain::test_case::TestCaseEvent;
use projections::projector::{Projector, ProjectorSettings};
use serde::Serialize;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

pub fn id(number: u128) -> Uuid {
    Uuid::from_u128(number)
}

pub fn at(rfc3339: &str) -> DateTime<Utc> {
    rfc3339.parse().unwrap()
}

pub const RED_LEAD: u128 = 2;
pub const RED_TECH: u128 = 3;
pub const BLUE_LEAD: u128 = 4;
pub const BLUE_TECH: u128 = 5;

/// Appends events the way the command layer stores them: the serde JSON of the domain event as payload,
/// the metadata keys projections read, one sequence per aggregate (hashes do not matter to projections).
pub struct Log {
    pool: PgPool,
    sequences: HashMap<(&'static str, Uuid), i64>,
}

impl Log {
    pub fn new(pool: &PgPool) -> Self {
        Self {
            pool: pool.clone(),
            sequences: HashMap::new(),
        }
    }

    pub async fn append(
        &mut self,
        aggregate_type: &'static str,
        aggregate_id: Uuid,
        occurred_at: &str,
        actor: Uuid,
        event: &impl Serialize,
    ) {
        let pool = self.pool.clone();
        self.append_on(
            &pool,
            aggregate_type,
            aggregate_id,
            occurred_at,
            actor,
            event,
        )
        .await;
    }

    /// Like [`Self::append`], on a connection or transaction of the caller's (a writer that stays open).
    pub async fn append_on(
        &mut self,
        executor: impl sqlx::PgExecutor<'_>,
        aggregate_type: &'static str,
        aggregate_id: Uuid,
        occurred_at: &str,
        actor: Uuid,
        event: &impl Serialize,
    ) {
        let payload = serde_json::to_value(event).unwrap();
        // Externally tagged: the variant is the only key, or the whole value for a unit variant.
        let variant = match &payload {
            Value::String(name) => name.clone(),
            Value::Object(fields) => fields.keys().next().unwrap().clone(),
            other => panic!("not an event: {other}"),
        };
        let sequence = self
            .sequences
            .entry((aggregate_type, aggregate_id))
            .or_insert(0);
        *sequence += 1;
        sqlx::query(
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload,
                                 metadata, prev_hash, hash)
             VALUES ($1, $2, $3, $4, '1', $5, $6, $7, $7)",
        )
        .bind(aggregate_type)
        .bind(aggregate_id.to_string())
        .bind(*sequence)
        .bind(format!("{aggregate_type}{variant}"))
        .bind(payload)
        .bind(json!({
            "actor_id": actor.to_string(),
            "occurred_at": occurred_at,
            "correlation_id": Uuid::from_u128(999).to_string(),
        }))
        .bind(vec![0_u8; 32])
        .execute(executor)
        .await
        .unwrap();
    }

    pub async fn test_case(&mut self, test_case_id: Uuid, event: TestCaseEvent) {
        let (time, actor) = test_case_event_context(&event);
        self.append("TestCase", test_case_id, &time, actor, &event)
            .await;
    }

    pub async fn campaign(&mut self, campaign_id: Uuid, occurred_at: &str, event: CampaignEvent) {
        self.append("Campaign", campaign_id, occurred_at, id(RED_LEAD), &event)
            .await;
    }

    pub async fn policy(&mut self, policy_id: Uuid, occurred_at: &str, event: ScoringPolicyEvent) {
        self.append("ScoringPolicy", policy_id, occurred_at, id(1), &event)
            .await;
    }
}

/// Test case events carry their time and actor; the metadata repeats them as the command layer does.
pub fn test_case_event_context(event: &TestCaseEvent) -> (String, Uuid) {
    let payload = serde_json::to_value(event).unwrap();
    let fields = payload.as_object().unwrap().values().next().unwrap();
    let time = fields["at"].as_str().unwrap().to_owned();
    let actor = fields
        .as_object()
        .unwrap()
        .iter()
        .find(|(key, _)| key.ends_with("_by") || *key == "author")
        .map(|(_, value)| value.as_str().unwrap().parse().unwrap())
        .unwrap();
    (time, actor)
}

pub fn projector(pool: &PgPool, batch_size: i64) -> Projector {
    let settings = ProjectorSettings {
        batch_size,
        ..ProjectorSettings::default()
    };
    Projector::new(pool.clone(), projections::all(), settings)
}
