//! The detection rule deployments read model (`detection_rule_deployments`): which catalog rules we run, since
//! when, by whose decision and why — from the `DetectionRule` aggregate's events. Scores count the deployed
//! rules per technique by joining this table with the catalog.
//!
//! Idempotence as in [`crate::test_cases`]: each row keeps the aggregate sequence of the last event applied.

use chrono::{DateTime, Utc};
use domain::detection_rule::{DetectionRuleEvent, RuleChangeReason, RuleRef};
use sqlx::{FromRow, PgConnection, PgPool};
use uuid::Uuid;

use crate::projector::{Projection, StoredEvent, streams_of};

/// Keeps `detection_rule_deployments` in step with `DetectionRule` events.
#[derive(Debug, Clone, Copy, Default)]
pub struct DetectionRules;

#[async_trait::async_trait]
impl Projection for DetectionRules {
    fn name(&self) -> &'static str {
        "detection_rules"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["detection_rule_deployments"]
    }

    async fn apply(
        &self,
        connection: &mut PgConnection,
        events: &[StoredEvent],
    ) -> Result<(), sqlx::Error> {
        for (aggregate_id, stored) in streams_of(events, "DetectionRule") {
            let (rule, reason, deployed) =
                match stored.payload::<DetectionRuleEvent>()?.into_owned() {
                    DetectionRuleEvent::Deployed { rule, reason } => (rule, reason, true),
                    DetectionRuleEvent::Retired { rule, reason } => (rule, reason, false),
                };
            record(connection, aggregate_id, stored, &rule, &reason, deployed).await?;
        }
        Ok(())
    }
}

async fn record(
    connection: &mut PgConnection,
    aggregate_id: Uuid,
    stored: &StoredEvent,
    rule: &RuleRef,
    reason: &RuleChangeReason,
    deployed: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO detection_rule_deployments AS d
             (source, rule_id, aggregate_id, last_sequence, deployed, changed_at, changed_by, reason,
              first_deployed_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, CASE WHEN $5 THEN $6 END)
         ON CONFLICT (source, rule_id) DO UPDATE SET
             last_sequence = excluded.last_sequence, deployed = excluded.deployed,
             changed_at = excluded.changed_at, changed_by = excluded.changed_by, reason = excluded.reason,
             first_deployed_at = coalesce(d.first_deployed_at, excluded.first_deployed_at)
         WHERE d.last_sequence < excluded.last_sequence",
    )
    .bind(rule.source.as_str())
    .bind(rule.id.as_str())
    .bind(aggregate_id)
    .bind(stored.sequence)
    .bind(deployed)
    .bind(stored.occurred_at())
    .bind(stored.actor_id())
    .bind(reason.as_str())
    .execute(connection)
    .await?;
    Ok(())
}

/// One rule's deployment state.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct Deployment {
    pub source: String,
    pub rule_id: String,
    pub deployed: bool,
    pub changed_at: DateTime<Utc>,
    pub changed_by: Option<String>,
    pub reason: String,
    pub first_deployed_at: Option<DateTime<Utc>>,
}

/// The deployment state of one rule; `None` when nobody ever deployed it.
pub async fn find(
    pool: &PgPool,
    source: &str,
    rule_id: &str,
) -> Result<Option<Deployment>, sqlx::Error> {
    sqlx::query_as(
        "SELECT source, rule_id, deployed, changed_at, changed_by, reason, first_deployed_at
         FROM detection_rule_deployments WHERE source = $1 AND rule_id = $2",
    )
    .bind(source)
    .bind(rule_id)
    .fetch_optional(pool)
    .await
}
