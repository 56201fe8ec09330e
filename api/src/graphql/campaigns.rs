//! Campaigns: one mutation per command of the `Campaign` aggregate. Which change a campaign allows in which
//! status is decided by the aggregate; this layer only parses inputs, builds the command with the caller and
//! the time, and maps refusals to codes. Spawning the instances of a recurring campaign is the scheduler's
//! job, not a mutation.

use async_graphql::{Context, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use domain::campaign::{
    Campaign, CampaignAction, CampaignCommand, CampaignDescription, CampaignDetails, CampaignError,
    CampaignName, CampaignScope, CancellationReason, Recurrence,
};
use uuid::Uuid;

use super::command::{caller, failed, refused};
use super::scalars::BigInt;
use crate::state::AppState;

/// What a campaign covers: techniques, a threat actor, or both, never nothing.
#[derive(InputObject, Debug)]
pub struct CampaignScopeInput {
    /// ATT&CK technique or sub-technique ids, `T1059` or `T1059.001`.
    #[graphql(default)]
    techniques: Vec<String>,
    /// An ATT&CK group id, `G0016`.
    threat_actor: Option<String>,
}

/// When a recurring campaign is due.
#[derive(InputObject, Debug)]
pub struct RecurrenceInput {
    /// Five cron fields: minute, hour, day of month, month, day of week (`0 9 * * MON`).
    cron: String,
    /// The IANA time zone the schedule is read in (`Europe/Berlin`); due times keep their wall-clock time
    /// across daylight-saving changes.
    timezone: String,
}

/// A campaign's details; `editCampaign` replaces them as a whole.
#[derive(InputObject, Debug)]
pub struct CampaignDetailsInput {
    name: String,
    #[graphql(default)]
    description: String,
    scope: CampaignScopeInput,
    planned_start: DateTime<Utc>,
    /// Not before the planned start; the same instant is a one-off exercise.
    planned_end: DateTime<Utc>,
}

/// A new campaign: its details and, for a template of recurring instances, a recurrence.
#[derive(InputObject, Debug)]
pub struct CampaignInput {
    #[graphql(flatten)]
    details: CampaignDetailsInput,
    /// With a recurrence the campaign is a template: the scheduler spawns an instance, with fresh copies of
    /// its test cases, at each due time after the planned start.
    recurrence: Option<RecurrenceInput>,
}

/// A campaign as a command left it.
#[derive(SimpleObject, Debug)]
pub struct CampaignChange {
    id: Uuid,
    /// The campaign's event sequence after the command.
    version: BigInt,
    /// True when this answers a retried request (same idempotency key) without doing it again.
    replayed: bool,
    /// `planned`, `active`, `completed` or `cancelled`.
    status: String,
    /// How many test cases belong to the campaign.
    test_case_count: i32,
}

fn parse_details(input: &CampaignDetailsInput) -> Result<CampaignDetails, CampaignError> {
    Ok(CampaignDetails {
        name: CampaignName::parse(&input.name)?,
        description: CampaignDescription::parse(&input.description)?,
        scope: CampaignScope::parse(
            input.scope.techniques.iter().map(String::as_str),
            input.scope.threat_actor.as_deref(),
        )?,
        planned_start: input.planned_start,
        planned_end: input.planned_end,
    })
}

fn parse_recurrence(input: &RecurrenceInput) -> Result<Recurrence, CampaignError> {
    Recurrence::parse(&input.cron, &input.timezone)
}

fn create_action(input: &CampaignInput) -> Result<CampaignAction, CampaignError> {
    let details = parse_details(&input.details)?;
    let recurrence = input
        .recurrence
        .as_ref()
        .map(parse_recurrence)
        .transpose()?;
    Ok(CampaignAction::Create {
        name: details.name,
        description: details.description,
        scope: details.scope,
        planned_start: details.planned_start,
        planned_end: details.planned_end,
        recurrence,
    })
}

fn edit_action(input: &CampaignDetailsInput) -> Result<CampaignAction, CampaignError> {
    let details = parse_details(input)?;
    Ok(CampaignAction::Edit {
        name: details.name,
        description: details.description,
        scope: details.scope,
        planned_start: details.planned_start,
        planned_end: details.planned_end,
    })
}

/// Runs `action` on campaign `id` as the caller, with the request's idempotency key.
async fn execute(
    context: &Context<'_>,
    id: Uuid,
    action: Result<CampaignAction, CampaignError>,
) -> async_graphql::Result<CampaignChange> {
    let action = action.map_err(|error| refused(&error))?;
    let state = context.data::<AppState>()?;
    let caller = caller(context)?;
    let command = CampaignCommand {
        actor: caller.actor,
        at: state.campaigns.now(),
        action,
    };
    let (outcome, campaign) = state
        .campaigns
        .execute_returning(&caller.context, &id.to_string(), command)
        .await
        .map_err(failed)?;
    Ok(change(id, outcome.version, outcome.replayed, &campaign))
}

fn change(id: Uuid, version: i64, replayed: bool, campaign: &Campaign) -> CampaignChange {
    CampaignChange {
        id,
        version: BigInt(version),
        replayed,
        status: campaign
            .status()
            .map_or("none", |status| status.as_str())
            .to_owned(),
        test_case_count: i32::try_from(campaign.test_cases().len()).unwrap_or(i32::MAX),
    }
}

#[derive(Debug, Default)]
pub struct CampaignsMutation;

#[Object]
impl CampaignsMutation {
    /// Creates a campaign, planned; returns its id.
    async fn create_campaign(
        &self,
        context: &Context<'_>,
        input: CampaignInput,
    ) -> async_graphql::Result<CampaignChange> {
        execute(
            context,
            caller(context)?.new_aggregate_id(),
            create_action(&input),
        )
        .await
    }

    /// Replaces name, description, scope and planned window (planned or active only). The current details
    /// again change nothing.
    async fn edit_campaign(
        &self,
        context: &Context<'_>,
        id: Uuid,
        input: CampaignDetailsInput,
    ) -> async_graphql::Result<CampaignChange> {
        execute(context, id, edit_action(&input)).await
    }

    /// Starts a planned campaign.
    async fn activate_campaign(
        &self,
        context: &Context<'_>,
        id: Uuid,
    ) -> async_graphql::Result<CampaignChange> {
        execute(context, id, Ok(CampaignAction::Activate)).await
    }

    /// Finishes an active campaign.
    async fn complete_campaign(
        &self,
        context: &Context<'_>,
        id: Uuid,
    ) -> async_graphql::Result<CampaignChange> {
        execute(context, id, Ok(CampaignAction::Complete)).await
    }

    /// Abandons a planned or active campaign.
    async fn cancel_campaign(
        &self,
        context: &Context<'_>,
        id: Uuid,
        reason: String,
    ) -> async_graphql::Result<CampaignChange> {
        let action =
            CancellationReason::parse(&reason).map(|reason| CampaignAction::Cancel { reason });
        execute(context, id, action).await
    }

    /// Makes a test case a member (planned or active only).
    async fn add_test_case_to_campaign(
        &self,
        context: &Context<'_>,
        id: Uuid,
        test_case_id: Uuid,
    ) -> async_graphql::Result<CampaignChange> {
        execute(
            context,
            id,
            Ok(CampaignAction::AddTestCase { test_case_id }),
        )
        .await
    }

    /// Removes a member test case (planned or active only); the test case itself stays.
    async fn remove_test_case_from_campaign(
        &self,
        context: &Context<'_>,
        id: Uuid,
        test_case_id: Uuid,
    ) -> async_graphql::Result<CampaignChange> {
        execute(
            context,
            id,
            Ok(CampaignAction::RemoveTestCase { test_case_id }),
        )
        .await
    }

    /// Gives a campaign a schedule, making it a template of recurring instances, or stops it recurring
    /// (`recurrence: null`). Planned or active only; an instance cannot recur itself.
    async fn set_campaign_recurrence(
        &self,
        context: &Context<'_>,
        id: Uuid,
        recurrence: Option<RecurrenceInput>,
    ) -> async_graphql::Result<CampaignChange> {
        let action = recurrence
            .as_ref()
            .map(parse_recurrence)
            .transpose()
            .map(|recurrence| CampaignAction::SetRecurrence { recurrence });
        execute(context, id, action).await
    }
}
