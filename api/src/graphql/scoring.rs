//! Scoring policies: one mutation per command of the `ScoringPolicy` aggregate, admins only. The aggregate
//! decides what each policy allows; this layer parses inputs, builds the command with the caller and the
//! time, maps refusals to codes, and keeps the two rules that span policies:
//!
//! - **One active policy.** `activateScoringPolicy` activates the policy, then deactivates every other
//!   policy the `scoring_policies` read model lists (with the same reason). The aggregate turns that into
//!   nothing for a policy that is inactive already, so a policy whose activation the read model has not
//!   caught up with is still deactivated. Activating first means a refused activation (unknown or retired
//!   policy) leaves the active policy as it was, and readers never see none: the read model's `active`
//!   picks the policy activated last while the previous one is being deactivated. Two admins activating two
//!   policies at the same moment may leave neither active; activating again settles it.
//! - **Unique names.** `defineScoringPolicy` and `renameScoringPolicy` refuse a name another policy has
//!   (ignoring case) with reason NAME_TAKEN, as far as the read model has caught up.

use async_graphql::{Context, Enum, ErrorExtensions, InputObject, Object, SimpleObject};
use commands::context::CommandContext;
use commands::service::CommandError;
use domain::scoring::{
    ChangeReason, OutcomeWeights, PolicyName, PolicySettings, PolicySettingsDraft, ScoringPolicy,
    ScoringPolicyAction, ScoringPolicyCommand, ScoringPolicyError,
};
use uuid::Uuid;

use super::command::{caller, failed, refused};
use super::error::{ApiError, internal};
use crate::state::AppState;

/// How a technique's score is built from its sub-techniques' scores.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
#[graphql(remote = "domain::scoring::Aggregation")]
pub enum AggregationName {
    /// As good as the best-defended sub-technique.
    Max,
    /// The rounded mean: one gap does not hide behind one success.
    Average,
    /// As good as the weakest sub-technique.
    Min,
}

fn default_weights() -> OutcomeWeights {
    PolicySettings::default().outcome_weights()
}

/// Points out of 100 per outcome of a test, never more for a worse outcome
/// (blocked ≥ alerted ≥ logged ≥ not detected).
#[derive(InputObject, Debug, Clone, Copy)]
pub struct OutcomeWeightsInput {
    #[graphql(default_with = "i32::from(default_weights().blocked)")]
    blocked: i32,
    #[graphql(default_with = "i32::from(default_weights().alerted)")]
    alerted: i32,
    #[graphql(default_with = "i32::from(default_weights().logged)")]
    logged: i32,
    #[graphql(default_with = "i32::from(default_weights().not_detected)")]
    not_detected: i32,
}

impl Default for OutcomeWeightsInput {
    fn default() -> Self {
        let weights = default_weights();
        Self {
            blocked: i32::from(weights.blocked),
            alerted: i32::from(weights.alerted),
            logged: i32::from(weights.logged),
            not_detected: i32::from(weights.not_detected),
        }
    }
}

/// The knobs of the score. A field left out takes the default shown, not the policy's current value: the
/// settings are replaced as a whole.
#[derive(InputObject, Debug, Clone, Copy)]
pub struct PolicySettingsInput {
    #[graphql(default_with = "OutcomeWeightsInput::default()")]
    outcome_weights: OutcomeWeightsInput,
    /// Bonus points, 0 to 100, earned in full by three deployed detection rules.
    #[graphql(default_with = "i32::from(PolicySettings::default().rule_weight())")]
    rule_weight: i32,
    /// Bonus points, 0 to 100, earned in full by high telemetry visibility.
    #[graphql(default_with = "i32::from(PolicySettings::default().telemetry_weight())")]
    telemetry_weight: i32,
    /// 0 to 100 percent: how much of the gap to a full score is charged again, scaled by how many tracked
    /// threat actors use the technique.
    #[graphql(default_with = "i32::from(PolicySettings::default().prevalence_weight())")]
    prevalence_weight: i32,
    /// 1 to 3650: after this many days a result counts half; `null`: results never fade.
    #[graphql(default_with = "PolicySettings::default().half_life_days().map(i32::from)")]
    half_life_days: Option<i32>,
    #[graphql(default_with = "AggregationName::from(PolicySettings::default().aggregation())")]
    aggregation: AggregationName,
}

/// A scoring policy as a command left it.
#[derive(SimpleObject, Debug)]
pub struct ScoringPolicyChange {
    id: Uuid,
    /// The version of the policy's settings: 1 when defined, one more with each change.
    version: i32,
    /// True when this answers a retried request (same idempotency key) without doing it again.
    replayed: bool,
    /// Whether scores are computed with this policy.
    active: bool,
    /// Whether the policy is put away for good.
    retired: bool,
}

/// GraphQL's `Int` is wider than the weights: out-of-range values are refused like any other bad setting.
pub(super) fn parse_settings(
    input: PolicySettingsInput,
) -> Result<PolicySettings, ScoringPolicyError> {
    let invalid = |reason: String| ScoringPolicyError::InvalidSettings(reason);
    let outcome_weight = |label: &str, value: i32| {
        u8::try_from(value)
            .map_err(|_| invalid(format!("the weight of \"{label}\" must be 0 to 100")))
    };
    let bonus_weight = |label: &str, value: i32| {
        u8::try_from(value).map_err(|_| invalid(format!("the {label} weight must be 0 to 100")))
    };
    let weights = input.outcome_weights;
    let half_life_days = input
        .half_life_days
        .map(|days| {
            u16::try_from(days)
                .map_err(|_| invalid("the half-life must be 1 to 3650 days, or none".to_owned()))
        })
        .transpose()?;
    PolicySettings::parse(PolicySettingsDraft {
        outcome_weights: OutcomeWeights {
            blocked: outcome_weight("blocked", weights.blocked)?,
            alerted: outcome_weight("alerted", weights.alerted)?,
            logged: outcome_weight("logged", weights.logged)?,
            not_detected: outcome_weight("not detected", weights.not_detected)?,
        },
        rule_weight: bonus_weight("rule", input.rule_weight)?,
        telemetry_weight: bonus_weight("telemetry", input.telemetry_weight)?,
        prevalence_weight: bonus_weight("prevalence", input.prevalence_weight)?,
        half_life_days,
        aggregation: input.aggregation.into(),
    })
}

/// Refuses `name` when a policy other than `id` is called that already, ignoring case.
async fn check_name_is_free(
    context: &Context<'_>,
    id: Uuid,
    name: &PolicyName,
) -> async_graphql::Result<()> {
    let state = context.data::<AppState>()?;
    let policies = projections::scoring_policies::list(&state.pool)
        .await
        .map_err(internal)?;
    let wanted = name.as_str().to_lowercase();
    let taken = policies
        .iter()
        .any(|policy| policy.policy_id != id && policy.name.to_lowercase() == wanted);
    if taken {
        return Err(ApiError::refused(
            "NAME_TAKEN",
            format!("A scoring policy named \"{name}\" exists already."),
        )
        .extend());
    }
    Ok(())
}

/// Runs `action` on policy `id` as the caller, with the request's idempotency key.
async fn execute(
    context: &Context<'_>,
    id: Uuid,
    action: Result<ScoringPolicyAction, ScoringPolicyError>,
) -> async_graphql::Result<ScoringPolicyChange> {
    let action = action.map_err(|error| refused(&error))?;
    let state = context.data::<AppState>()?;
    let caller = caller(context)?;
    let command = ScoringPolicyCommand {
        actor: caller.actor,
        at: state.scoring_policies.now(),
        action,
    };
    let (outcome, policy) = state
        .scoring_policies
        .execute_returning(&caller.context, &id.to_string(), command)
        .await
        .map_err(failed)?;
    Ok(change(id, outcome.replayed, &policy))
}

fn change(id: Uuid, replayed: bool, policy: &ScoringPolicy) -> ScoringPolicyChange {
    ScoringPolicyChange {
        id,
        version: i32::try_from(policy.version()).unwrap_or(i32::MAX),
        replayed,
        active: policy.is_active(),
        retired: policy.is_retired(),
    }
}

/// Deactivates every policy but `id` that the read model lists and that is not retired, for `reason`.
/// Without the request's idempotency key: that belongs to the activation, and these steps are harmless to
/// repeat.
async fn deactivate_others(
    context: &Context<'_>,
    id: Uuid,
    reason: &ChangeReason,
) -> async_graphql::Result<()> {
    let state = context.data::<AppState>()?;
    let caller = caller(context)?;
    let command_context = CommandContext {
        idempotency_key: None,
        ..caller.context
    };
    let policies = projections::scoring_policies::list(&state.pool)
        .await
        .map_err(internal)?;
    for policy in policies
        .iter()
        .filter(|policy| policy.policy_id != id && !policy.retired)
    {
        let command = ScoringPolicyCommand {
            actor: caller.actor.clone(),
            at: state.scoring_policies.now(),
            action: ScoringPolicyAction::Deactivate {
                reason: reason.clone(),
            },
        };
        let deactivated = state
            .scoring_policies
            .execute(&command_context, &policy.policy_id.to_string(), command)
            .await;
        match deactivated {
            // Retired since the read model looked: it is not active either.
            Ok(_) | Err(CommandError::Rejected(ScoringPolicyError::Retired)) => {}
            Err(error) => return Err(failed(error)),
        }
    }
    Ok(())
}

#[derive(Debug, Default)]
pub struct ScoringMutation;

#[Object]
impl ScoringMutation {
    /// Defines a new policy at version 1, inactive; returns its id.
    async fn define_scoring_policy(
        &self,
        context: &Context<'_>,
        name: String,
        settings: PolicySettingsInput,
        reason: String,
    ) -> async_graphql::Result<ScoringPolicyChange> {
        let id = caller(context)?.new_aggregate_id();
        let parsed = PolicyName::parse(&name).and_then(|name| {
            Ok((
                name,
                parse_settings(settings)?,
                ChangeReason::parse(&reason)?,
            ))
        });
        let (name, settings, reason) = parsed.map_err(|error| refused(&error))?;
        check_name_is_free(context, id, &name).await?;
        let action = ScoringPolicyAction::Define {
            name,
            settings,
            reason,
        };
        execute(context, id, Ok(action)).await
    }

    /// Replaces the settings as a whole; the version goes up by one. The current settings again change
    /// nothing.
    async fn change_scoring_policy(
        &self,
        context: &Context<'_>,
        id: Uuid,
        settings: PolicySettingsInput,
        reason: String,
    ) -> async_graphql::Result<ScoringPolicyChange> {
        let action = parse_settings(settings).and_then(|settings| {
            Ok(ScoringPolicyAction::Change {
                settings,
                reason: ChangeReason::parse(&reason)?,
            })
        });
        execute(context, id, action).await
    }

    /// Relabels the policy; the version stays.
    async fn rename_scoring_policy(
        &self,
        context: &Context<'_>,
        id: Uuid,
        name: String,
        reason: String,
    ) -> async_graphql::Result<ScoringPolicyChange> {
        let parsed =
            PolicyName::parse(&name).and_then(|name| Ok((name, ChangeReason::parse(&reason)?)));
        let (name, reason) = parsed.map_err(|error| refused(&error))?;
        check_name_is_free(context, id, &name).await?;
        execute(
            context,
            id,
            Ok(ScoringPolicyAction::Rename { name, reason }),
        )
        .await
    }

    /// Makes this the policy scores are computed with, and deactivates the one that was.
    async fn activate_scoring_policy(
        &self,
        context: &Context<'_>,
        id: Uuid,
        reason: String,
    ) -> async_graphql::Result<ScoringPolicyChange> {
        let reason = ChangeReason::parse(&reason).map_err(|error| refused(&error))?;
        let activated = execute(
            context,
            id,
            Ok(ScoringPolicyAction::Activate {
                reason: reason.clone(),
            }),
        )
        .await?;
        deactivate_others(context, id, &reason).await?;
        Ok(activated)
    }

    /// Stops computing scores with this policy; until another is activated, no policy is active.
    async fn deactivate_scoring_policy(
        &self,
        context: &Context<'_>,
        id: Uuid,
        reason: String,
    ) -> async_graphql::Result<ScoringPolicyChange> {
        let action =
            ChangeReason::parse(&reason).map(|reason| ScoringPolicyAction::Deactivate { reason });
        execute(context, id, action).await
    }

    /// Puts an inactive policy away for good; it stays readable for history.
    async fn retire_scoring_policy(
        &self,
        context: &Context<'_>,
        id: Uuid,
        reason: String,
    ) -> async_graphql::Result<ScoringPolicyChange> {
        let action =
            ChangeReason::parse(&reason).map(|reason| ScoringPolicyAction::Retire { reason });
        execute(context, id, action).await
    }
}
