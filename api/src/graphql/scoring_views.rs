//! Reading scoring policies: from the `scoring_policies` read model, each as it is now and, on request,
//! every version of its settings with the reason it was made.

use async_graphql::{ComplexObject, Context, Object, SimpleObject};
use chrono::{DateTime, Utc};
use domain::scoring::PolicySettings;
use projections::scoring_policies::{self, ScoringPolicyRow, ScoringPolicyVersion};
use uuid::Uuid;

use super::error::internal;
use super::scoring::AggregationName;
use crate::state::AppState;

/// A scoring policy as it is now.
#[derive(SimpleObject, Debug, Clone, PartialEq, Eq)]
#[graphql(complex)]
pub struct ScoringPolicy {
    id: Uuid,
    name: String,
    /// The version of `settings`: 1 when defined, one more with each change.
    version: i32,
    settings: PolicySettingsView,
    /// Whether scores are computed with this policy.
    active: bool,
    /// Whether the policy is put away for good.
    retired: bool,
    defined_at: DateTime<Utc>,
    /// The last change of any kind (settings, name, activation…), its reason and the actor id behind it.
    changed_at: DateTime<Utc>,
    last_reason: String,
    last_changed_by: Option<String>,
    /// When the policy was last activated (kept after a deactivation).
    activated_at: Option<DateTime<Utc>>,
}

#[ComplexObject]
impl ScoringPolicy {
    /// Every version of the settings, oldest first, with the reason each was made.
    async fn versions(
        &self,
        context: &Context<'_>,
    ) -> async_graphql::Result<Vec<ScoringPolicyVersionView>> {
        let state = context.data::<AppState>()?;
        let versions = scoring_policies::versions(&state.pool, self.id)
            .await
            .map_err(internal)?;
        Ok(versions.into_iter().map(version_view).collect())
    }
}

/// One version of a policy's settings.
#[derive(SimpleObject, Debug, Clone, PartialEq, Eq)]
#[graphql(name = "ScoringPolicyVersion")]
pub struct ScoringPolicyVersionView {
    version: i32,
    settings: PolicySettingsView,
    reason: String,
    at: DateTime<Utc>,
    /// The actor id behind the change.
    changed_by: Option<String>,
}

/// The knobs of the score.
#[derive(SimpleObject, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "PolicySettings")]
pub struct PolicySettingsView {
    outcome_weights: OutcomeWeightsView,
    /// Bonus points, earned in full by three deployed detection rules.
    rule_weight: i32,
    /// Bonus points, earned in full by high telemetry visibility.
    telemetry_weight: i32,
    /// Percent of the gap to a full score charged again, scaled by how many tracked threat actors use the
    /// technique.
    prevalence_weight: i32,
    /// After this many days a result counts half; null: results never fade.
    half_life_days: Option<i32>,
    aggregation: AggregationName,
}

/// Points out of 100 per outcome of a test.
#[derive(SimpleObject, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "OutcomeWeights")]
pub struct OutcomeWeightsView {
    blocked: i32,
    alerted: i32,
    logged: i32,
    not_detected: i32,
}

fn settings_view(settings: &PolicySettings) -> PolicySettingsView {
    let weights = settings.outcome_weights();
    PolicySettingsView {
        outcome_weights: OutcomeWeightsView {
            blocked: i32::from(weights.blocked),
            alerted: i32::from(weights.alerted),
            logged: i32::from(weights.logged),
            not_detected: i32::from(weights.not_detected),
        },
        rule_weight: i32::from(settings.rule_weight()),
        telemetry_weight: i32::from(settings.telemetry_weight()),
        prevalence_weight: i32::from(settings.prevalence_weight()),
        half_life_days: settings.half_life_days().map(i32::from),
        aggregation: settings.aggregation().into(),
    }
}

fn policy_view(row: ScoringPolicyRow) -> ScoringPolicy {
    ScoringPolicy {
        id: row.policy_id,
        name: row.name,
        version: row.version,
        settings: settings_view(&row.settings),
        active: row.active,
        retired: row.retired,
        defined_at: row.defined_at,
        changed_at: row.changed_at,
        last_reason: row.last_reason,
        last_changed_by: row.last_changed_by,
        activated_at: row.activated_at,
    }
}

fn version_view(version: ScoringPolicyVersion) -> ScoringPolicyVersionView {
    ScoringPolicyVersionView {
        version: version.version,
        settings: settings_view(&version.settings),
        reason: version.reason,
        at: version.at,
        changed_by: version.changed_by,
    }
}

#[derive(Debug, Default)]
pub struct ScoringQuery;

#[Object]
impl ScoringQuery {
    /// One scoring policy, retired ones included.
    async fn scoring_policy(
        &self,
        context: &Context<'_>,
        id: Uuid,
    ) -> async_graphql::Result<Option<ScoringPolicy>> {
        let state = context.data::<AppState>()?;
        let row = scoring_policies::find(&state.pool, id)
            .await
            .map_err(internal)?;
        Ok(row.map(policy_view))
    }

    /// The policy scores are computed with; null before any is activated.
    async fn active_scoring_policy(
        &self,
        context: &Context<'_>,
    ) -> async_graphql::Result<Option<ScoringPolicy>> {
        let state = context.data::<AppState>()?;
        let row = scoring_policies::active(&state.pool)
            .await
            .map_err(internal)?;
        Ok(row.map(policy_view))
    }

    /// Every scoring policy, retired ones included, by name (a handful exist, so there is no paging).
    async fn scoring_policies(
        &self,
        context: &Context<'_>,
    ) -> async_graphql::Result<Vec<ScoringPolicy>> {
        let state = context.data::<AppState>()?;
        let rows = scoring_policies::list(&state.pool)
            .await
            .map_err(internal)?;
        Ok(rows.into_iter().map(policy_view).collect())
    }
}
