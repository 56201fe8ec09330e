//! The scoring policies read model: each policy's current name, settings, version and activation
//! (`scoring_policies`), and every version of its settings with the reason it was made
//! (`scoring_policy_versions`), for history and for re-scoring under an older version.
//!
//! Policy events carry no time; it comes from the event metadata (`occurred_at`). Idempotence as in
//! [`crate::test_cases`]: each policy row keeps the aggregate sequence of the last event applied.

use chrono::{DateTime, Utc};
use domain::scoring::{ChangeReason, PolicyName, PolicySettings, ScoringPolicyEvent};
use serde_json::Value;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Row};
use uuid::Uuid;

use crate::projector::{Projection, StoredEvent, streams_of};
use crate::test_cases::invalid;

/// Keeps `scoring_policies` and `scoring_policy_versions` in step with `ScoringPolicy` events.
#[derive(Debug, Clone, Copy, Default)]
pub struct ScoringPolicies;

#[async_trait::async_trait]
impl Projection for ScoringPolicies {
    fn name(&self) -> &'static str {
        "scoring_policies"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["scoring_policies", "scoring_policy_versions"]
    }

    async fn apply(
        &self,
        connection: &mut PgConnection,
        events: &[StoredEvent],
    ) -> Result<(), sqlx::Error> {
        for (policy_id, event) in streams_of(events, "ScoringPolicy") {
            let payload = event.payload::<ScoringPolicyEvent>()?;
            apply(connection, policy_id, event, &payload).await?;
        }
        Ok(())
    }
}

async fn apply(
    connection: &mut PgConnection,
    policy_id: Uuid,
    stored: &StoredEvent,
    event: &ScoringPolicyEvent,
) -> Result<(), sqlx::Error> {
    let at = stored.occurred_at();
    let by = stored.actor_id();
    if let ScoringPolicyEvent::Defined {
        name,
        settings,
        reason,
    } = event
    {
        return define(connection, policy_id, stored, name, settings, reason).await;
    }
    let reason = match event {
        ScoringPolicyEvent::Defined { reason, .. }
        | ScoringPolicyEvent::Changed { reason, .. }
        | ScoringPolicyEvent::Renamed { reason, .. }
        | ScoringPolicyEvent::Activated { reason }
        | ScoringPolicyEvent::Deactivated { reason }
        | ScoringPolicyEvent::Retired { reason } => reason,
    };
    let claimed = sqlx::query(
        "UPDATE scoring_policies SET last_sequence = $2, changed_at = $3, last_reason = $4, last_changed_by = $5
          WHERE policy_id = $1 AND last_sequence < $2",
    )
    .bind(policy_id)
    .bind(stored.sequence)
    .bind(at)
    .bind(reason.as_str())
    .bind(by)
    .execute(&mut *connection)
    .await?;
    if claimed.rows_affected() == 0 {
        let exists: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM scoring_policies WHERE policy_id = $1)",
        )
        .bind(policy_id)
        .fetch_one(&mut *connection)
        .await?;
        if exists {
            return Ok(());
        }
        return Err(invalid(format!(
            "ScoringPolicy {policy_id}: event {} arrived before the policy was defined",
            stored.sequence
        )));
    }
    match event {
        ScoringPolicyEvent::Defined { .. } => {}
        ScoringPolicyEvent::Changed {
            version, settings, ..
        } => {
            let version = version_number(*version)?;
            insert_version(connection, policy_id, version, settings, reason, at, by).await?;
            sqlx::query(
                "UPDATE scoring_policies SET version = $2, settings = $3 WHERE policy_id = $1",
            )
            .bind(policy_id)
            .bind(version)
            .bind(settings_json(settings)?)
            .execute(&mut *connection)
            .await?;
        }
        ScoringPolicyEvent::Renamed { name, .. } => {
            sqlx::query("UPDATE scoring_policies SET name = $2 WHERE policy_id = $1")
                .bind(policy_id)
                .bind(name.as_str())
                .execute(&mut *connection)
                .await?;
        }
        ScoringPolicyEvent::Activated { .. } => {
            sqlx::query(
                "UPDATE scoring_policies SET active = true, activated_at = $2 WHERE policy_id = $1",
            )
            .bind(policy_id)
            .bind(at)
            .execute(&mut *connection)
            .await?;
        }
        ScoringPolicyEvent::Deactivated { .. } => {
            sqlx::query("UPDATE scoring_policies SET active = false WHERE policy_id = $1")
                .bind(policy_id)
                .execute(&mut *connection)
                .await?;
        }
        ScoringPolicyEvent::Retired { .. } => {
            sqlx::query("UPDATE scoring_policies SET retired = true WHERE policy_id = $1")
                .bind(policy_id)
                .execute(&mut *connection)
                .await?;
        }
    }
    Ok(())
}

/// Inserts a policy at version 1, inactive; nothing when it exists (the event was applied before).
async fn define(
    connection: &mut PgConnection,
    policy_id: Uuid,
    stored: &StoredEvent,
    name: &PolicyName,
    settings: &PolicySettings,
    reason: &ChangeReason,
) -> Result<(), sqlx::Error> {
    let (at, by) = (stored.occurred_at(), stored.actor_id());
    let inserted = sqlx::query(
        "INSERT INTO scoring_policies (policy_id, last_sequence, name, version, settings, active, retired,
                                       defined_at, changed_at, last_reason, last_changed_by)
         VALUES ($1, $2, $3, 1, $4, false, false, $5, $5, $6, $7)
         ON CONFLICT (policy_id) DO NOTHING",
    )
    .bind(policy_id)
    .bind(stored.sequence)
    .bind(name.as_str())
    .bind(settings_json(settings)?)
    .bind(at)
    .bind(reason.as_str())
    .bind(by)
    .execute(&mut *connection)
    .await?;
    if inserted.rows_affected() == 1 {
        insert_version(connection, policy_id, 1, settings, reason, at, by).await?;
    }
    Ok(())
}

async fn insert_version(
    connection: &mut PgConnection,
    policy_id: Uuid,
    version: i32,
    settings: &PolicySettings,
    reason: &ChangeReason,
    at: DateTime<Utc>,
    by: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO scoring_policy_versions (policy_id, version, settings, reason, at, changed_by)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(policy_id)
    .bind(version)
    .bind(settings_json(settings)?)
    .bind(reason.as_str())
    .bind(at)
    .bind(by)
    .execute(connection)
    .await?;
    Ok(())
}

fn settings_json(settings: &PolicySettings) -> Result<Value, sqlx::Error> {
    serde_json::to_value(settings).map_err(|error| sqlx::Error::Encode(Box::new(error)))
}

fn version_number(version: u32) -> Result<i32, sqlx::Error> {
    i32::try_from(version).map_err(|_| invalid(format!("policy version {version} is out of range")))
}

// The read side.

/// One scoring policy as it is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScoringPolicyRow {
    pub policy_id: Uuid,
    pub name: String,
    /// The version of `settings`: 1 when defined, one more per change.
    pub version: i32,
    pub settings: PolicySettings,
    pub active: bool,
    pub retired: bool,
    pub defined_at: DateTime<Utc>,
    /// The last event of any kind (change, rename, activation, …), its reason and its actor.
    pub changed_at: DateTime<Utc>,
    pub last_reason: String,
    pub last_changed_by: Option<String>,
    /// When the policy was last activated (kept after a deactivation).
    pub activated_at: Option<DateTime<Utc>>,
}

/// One version of a policy's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScoringPolicyVersion {
    pub policy_id: Uuid,
    pub version: i32,
    pub settings: PolicySettings,
    pub reason: String,
    pub at: DateTime<Utc>,
    /// The `actor_id` of the command, as the command layer wrote it.
    pub changed_by: Option<String>,
}

const COLUMNS: &str = "policy_id, name, version, settings, active, retired, defined_at, changed_at,
    last_reason, last_changed_by, activated_at";

/// The policy scores are computed with; `None` before any is activated. The command layer keeps one active
/// at a time; should two ever be, the one activated last wins.
pub async fn active(pool: &PgPool) -> Result<Option<ScoringPolicyRow>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM scoring_policies WHERE active
          ORDER BY activated_at DESC NULLS LAST, policy_id LIMIT 1"
    ))
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(policy).transpose()
}

pub async fn find(pool: &PgPool, policy_id: Uuid) -> Result<Option<ScoringPolicyRow>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM scoring_policies WHERE policy_id = $1"
    ))
    .bind(policy_id)
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(policy).transpose()
}

/// Every policy, retired ones included, by name (a handful exist, so there is no paging).
pub async fn list(pool: &PgPool) -> Result<Vec<ScoringPolicyRow>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM scoring_policies ORDER BY name, policy_id"
    ))
    .fetch_all(pool)
    .await?;
    rows.iter().map(policy).collect()
}

/// Every version of `policy_id`'s settings, oldest first.
pub async fn versions(
    pool: &PgPool,
    policy_id: Uuid,
) -> Result<Vec<ScoringPolicyVersion>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT policy_id, version, settings, reason, at, changed_by FROM scoring_policy_versions
          WHERE policy_id = $1 ORDER BY version",
    )
    .bind(policy_id)
    .fetch_all(pool)
    .await?;
    rows.iter().map(policy_version).collect()
}

/// One version of `policy_id`'s settings, for re-scoring under it.
pub async fn version(
    pool: &PgPool,
    policy_id: Uuid,
    version: i32,
) -> Result<Option<ScoringPolicyVersion>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT policy_id, version, settings, reason, at, changed_by FROM scoring_policy_versions
          WHERE policy_id = $1 AND version = $2",
    )
    .bind(policy_id)
    .bind(version)
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(policy_version).transpose()
}

/// Settings are checked again on the way in, as every `PolicySettings` is.
fn settings(row: &PgRow) -> Result<PolicySettings, sqlx::Error> {
    serde_json::from_value(row.try_get("settings")?)
        .map_err(|error| sqlx::Error::Decode(Box::new(error)))
}

fn policy(row: &PgRow) -> Result<ScoringPolicyRow, sqlx::Error> {
    Ok(ScoringPolicyRow {
        policy_id: row.try_get("policy_id")?,
        name: row.try_get("name")?,
        version: row.try_get("version")?,
        settings: settings(row)?,
        active: row.try_get("active")?,
        retired: row.try_get("retired")?,
        defined_at: row.try_get("defined_at")?,
        changed_at: row.try_get("changed_at")?,
        last_reason: row.try_get("last_reason")?,
        last_changed_by: row.try_get("last_changed_by")?,
        activated_at: row.try_get("activated_at")?,
    })
}

fn policy_version(row: &PgRow) -> Result<ScoringPolicyVersion, sqlx::Error> {
    Ok(ScoringPolicyVersion {
        policy_id: row.try_get("policy_id")?,
        version: row.try_get("version")?,
        settings: settings(row)?,
        reason: row.try_get("reason")?,
        at: row.try_get("at")?,
        changed_by: row.try_get("changed_by")?,
    })
}
