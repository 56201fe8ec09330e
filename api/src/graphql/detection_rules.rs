//! Deploying and retiring detection rules: one mutation per command of the `DetectionRule` aggregate. The
//! rule must be in the loaded catalog (checked here, before the command: the aggregate knows only its own
//! decisions); deployed rules count in every technique's score.

use async_graphql::{Context, Object, SimpleObject};
use chrono::{DateTime, Utc};
use domain::detection_rule::{
    DetectionRuleAction, DetectionRuleCommand, DetectionRuleError, RuleChangeReason, RuleId,
    RuleRef, RuleSource,
};
use projections::{catalog, detection_rules};

use super::command::{caller, failed, refused};
use super::error::internal;
use crate::state::AppState;

/// What a deploy or retire did.
#[derive(SimpleObject, Debug, Clone, PartialEq, Eq)]
pub struct DetectionRuleChange {
    /// sigma or elastic.
    source: String,
    id: String,
    /// Whether the rule is deployed now.
    deployed: bool,
    /// True when the rule already was in the asked state (or the request was a retry): nothing was recorded.
    unchanged: bool,
}

/// Whether we run a detection rule, and the last decision about it.
#[derive(SimpleObject, Debug, Clone, PartialEq, Eq)]
pub struct RuleDeployment {
    deployed: bool,
    /// When the rule was last deployed or retired, by whom (actor id) and why.
    changed_at: DateTime<Utc>,
    changed_by: Option<String>,
    reason: String,
    /// The first time it was deployed (kept after a retirement).
    first_deployed_at: Option<DateTime<Utc>>,
}

impl From<detection_rules::Deployment> for RuleDeployment {
    fn from(deployment: detection_rules::Deployment) -> Self {
        Self {
            deployed: deployment.deployed,
            changed_at: deployment.changed_at,
            changed_by: deployment.changed_by,
            reason: deployment.reason,
            first_deployed_at: deployment.first_deployed_at,
        }
    }
}

/// The deployment state of the rule `source`/`id` (null: never deployed).
pub async fn deployment(
    context: &Context<'_>,
    source: &str,
    id: &str,
) -> async_graphql::Result<Option<RuleDeployment>> {
    let state = context.data::<AppState>()?;
    Ok(detection_rules::find(&state.pool, source, id)
        .await
        .map_err(internal)?
        .map(RuleDeployment::from))
}

#[derive(Debug, Default)]
pub struct DetectionRulesMutation;

#[Object]
impl DetectionRulesMutation {
    /// Records that we run this catalog rule (`source`: sigma or elastic), with the reason.
    async fn deploy_detection_rule(
        &self,
        context: &Context<'_>,
        source: String,
        id: String,
        reason: String,
    ) -> async_graphql::Result<DetectionRuleChange> {
        let action =
            RuleChangeReason::parse(&reason).map(|reason| DetectionRuleAction::Deploy { reason });
        execute(context, &source, &id, action).await
    }

    /// Records that we no longer run this rule, with the reason.
    async fn retire_detection_rule(
        &self,
        context: &Context<'_>,
        source: String,
        id: String,
        reason: String,
    ) -> async_graphql::Result<DetectionRuleChange> {
        let action =
            RuleChangeReason::parse(&reason).map(|reason| DetectionRuleAction::Retire { reason });
        execute(context, &source, &id, action).await
    }
}

async fn execute(
    context: &Context<'_>,
    source: &str,
    id: &str,
    action: Result<DetectionRuleAction, DetectionRuleError>,
) -> async_graphql::Result<DetectionRuleChange> {
    let rule = parse_rule(source, id).map_err(|error| refused(&error))?;
    let action = action.map_err(|error| refused(&error))?;
    let state = context.data::<AppState>()?;
    let in_catalog = catalog::find(
        &state.pool,
        "detection_rule",
        Some(rule.source.as_str()),
        rule.id.as_str(),
        None,
    )
    .await
    .map_err(internal)?;
    if in_catalog.is_none() {
        let error = DetectionRuleError::UnknownRule(rule.source, rule.id.to_string());
        return Err(refused(&error));
    }
    let caller = caller(context)?;
    let command = DetectionRuleCommand {
        actor: caller.actor,
        rule: rule.clone(),
        action,
    };
    let (outcome, aggregate) = state
        .detection_rules
        .execute_returning(&caller.context, &rule.aggregate_id().to_string(), command)
        .await
        .map_err(failed)?;
    Ok(DetectionRuleChange {
        source: rule.source.to_string(),
        id: rule.id.to_string(),
        deployed: aggregate.is_deployed(),
        unchanged: outcome.replayed || outcome.appended == 0,
    })
}

fn parse_rule(source: &str, id: &str) -> Result<RuleRef, DetectionRuleError> {
    Ok(RuleRef {
        source: RuleSource::parse(source)?,
        id: RuleId::parse(id)?,
    })
}
