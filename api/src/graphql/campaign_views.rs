//! Reading campaigns: from the `campaigns` read model, each with its members, its progress (computed from
//! the members' test case rows), its recurrence and the spawns it recorded. Blue-only callers see blind
//! tests' states and outcomes counted like any other, but times to detect only over tests red has revealed:
//! the time to detect of a blind test tells blue when red attacked.

use async_graphql::connection::{Connection, Edge, EmptyFields, query};
use async_graphql::{Context, Enum, ErrorExtensions, Object, SimpleObject};
use chrono::{DateTime, Utc};
use projections::campaigns::{
    self, CampaignFilter, CampaignProgress, CampaignRow, TestCaseTotals, TimeToDetectStats,
};
use projections::paging::PageCursor;
use uuid::Uuid;

use super::account::principal;
use super::error::{ApiError, internal};
use super::paging::page_size;
use super::test_case_views::sees_blind_tests_redacted;
use super::test_cases::OutcomeName;
use crate::auth::session::Principal;
use crate::state::AppState;

/// Where a campaign is in its lifecycle.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
#[graphql(remote = "domain::campaign::CampaignStatus")]
pub enum CampaignStatusName {
    /// Created, not started: details, membership and recurrence may change.
    Planned,
    /// Running; details may still change.
    Active,
    /// Finished as planned.
    Completed,
    /// Abandoned, with a reason.
    Cancelled,
}

/// A campaign as the caller may see it.
#[derive(SimpleObject, Debug, Clone, PartialEq)]
pub struct Campaign {
    id: Uuid,
    name: String,
    description: String,
    scope: CampaignScopeView,
    planned_start: DateTime<Utc>,
    planned_end: DateTime<Utc>,
    status: CampaignStatusName,
    /// The member test cases, in the order they were added; `testCases(filter: { campaignId })` reads them.
    test_case_ids: Vec<Uuid>,
    /// How far the members have got, from their current runs.
    progress: CampaignProgressView,
    /// A template's schedule; null when the campaign does not recur.
    recurrence: Option<RecurrenceView>,
    /// For an instance: the template it was spawned from, and the due time it was spawned for.
    template_id: Option<Uuid>,
    due_at: Option<DateTime<Utc>>,
    /// For a template: the instances spawned so far, oldest due time first.
    spawns: Vec<CampaignSpawnView>,
    activated_at: Option<DateTime<Utc>>,
    completed_at: Option<DateTime<Utc>>,
    cancelled_at: Option<DateTime<Utc>>,
    cancel_reason: Option<String>,
    created_at: DateTime<Utc>,
    /// The actor id of whoever created the campaign.
    created_by: Option<String>,
    last_changed_at: DateTime<Utc>,
}

impl Campaign {
    /// When this view goes out of date by the clock alone: the next due time, once passed, is not the next.
    pub fn stale_after(&self) -> Option<DateTime<Utc>> {
        self.recurrence
            .as_ref()
            .and_then(|recurrence| recurrence.next_due_at)
    }
}

/// What a campaign covers: techniques, a threat actor, or both.
#[derive(SimpleObject, Debug, Clone, PartialEq, Eq)]
pub struct CampaignScopeView {
    /// ATT&CK technique or sub-technique ids.
    techniques: Vec<String>,
    /// An ATT&CK group id.
    threat_actor: Option<String>,
}

/// When a recurring campaign is due.
#[derive(SimpleObject, Debug, Clone, PartialEq, Eq)]
pub struct RecurrenceView {
    /// Five cron fields: minute, hour, day of month, month, day of week.
    cron: String,
    /// The IANA time zone the schedule is read in.
    timezone: String,
    /// The next time an instance is due: the first due time after now and after the planned start. Null
    /// once the campaign is completed or cancelled (it spawns no more), or when the schedule never fires
    /// again.
    next_due_at: Option<DateTime<Utc>>,
}

/// One instance a template spawned.
#[derive(SimpleObject, Debug, Clone, PartialEq, Eq)]
pub struct CampaignSpawnView {
    due_at: DateTime<Utc>,
    instance_id: Uuid,
    recorded_at: DateTime<Utc>,
}

/// How far a campaign's test cases have got.
#[derive(SimpleObject, Debug, Clone, PartialEq)]
#[graphql(name = "CampaignProgress")]
pub struct CampaignProgressView {
    /// Member test cases.
    total: i32,
    /// Members the read side has no test case for yet; counted in `total` only.
    unknown: i32,
    /// Members per state, every state in workflow order, zeros included.
    by_state: Vec<StateCount>,
    /// Members per current-run outcome, strongest first, zeros included; `outcome: null` counts members
    /// without an outcome yet.
    by_outcome: Vec<OutcomeCount>,
    /// Completed plus abandoned members.
    closed: i32,
    /// `closed` as a percentage of `total`; null without members.
    percent_complete: Option<f64>,
    /// Over the members with a time to detect; for blue, over those that are not blind or are revealed.
    time_to_detect: TimeToDetect,
}

#[derive(SimpleObject, Debug, Clone, PartialEq, Eq)]
pub struct StateCount {
    /// A state name (`planned`, `executing`, `awaiting_approval`, `paused`…).
    state: String,
    count: i32,
}

#[derive(SimpleObject, Debug, Clone, PartialEq, Eq)]
pub struct OutcomeCount {
    /// Null: no outcome recorded yet.
    outcome: Option<OutcomeName>,
    count: i32,
}

impl From<campaigns::StateCount> for StateCount {
    fn from(entry: campaigns::StateCount) -> Self {
        Self {
            state: entry.state.to_owned(),
            count: count(entry.count),
        }
    }
}

impl From<campaigns::OutcomeCount> for OutcomeCount {
    fn from(entry: campaigns::OutcomeCount) -> Self {
        Self {
            outcome: entry.outcome.map(OutcomeName::from),
            count: count(entry.count),
        }
    }
}

/// Times to detect, in whole seconds; null when none is measured.
#[derive(SimpleObject, Debug, Clone, PartialEq, Eq)]
pub struct TimeToDetect {
    /// Members with a time to detect.
    measured: i32,
    min_seconds: Option<i64>,
    /// The middle value; with an even count, the mean of the two middle values.
    median_seconds: Option<i64>,
    max_seconds: Option<i64>,
}

fn count(value: i64) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

fn time_to_detect(stats: &TimeToDetectStats) -> TimeToDetect {
    let seconds = |ms: Option<i64>| ms.map(|ms| ms / 1000);
    TimeToDetect {
        measured: count(stats.measured),
        min_seconds: seconds(stats.min_ms),
        median_seconds: seconds(stats.median_ms),
        max_seconds: seconds(stats.max_ms),
    }
}

fn progress_view(progress: CampaignProgress, principal: &Principal) -> CampaignProgressView {
    let stats = if sees_blind_tests_redacted(principal) {
        progress.time_to_detect_for_blue
    } else {
        progress.time_to_detect
    };
    CampaignProgressView {
        total: count(progress.total),
        unknown: count(progress.unknown),
        by_state: progress
            .by_state
            .into_iter()
            .map(StateCount::from)
            .collect(),
        by_outcome: progress
            .by_outcome
            .into_iter()
            .map(OutcomeCount::from)
            .collect(),
        closed: count(progress.closed),
        percent_complete: progress.percent_complete,
        time_to_detect: time_to_detect(&stats),
    }
}

/// The whole view of `row` for `principal`: its members, progress and spawns are read here (three more
/// reads of the read side), and the next due time is computed for the command clock's now.
async fn view(
    state: &AppState,
    principal: &Principal,
    row: CampaignRow,
) -> async_graphql::Result<Campaign> {
    let id = row.campaign_id;
    let test_case_ids = campaigns::members(&state.pool, id)
        .await
        .map_err(internal)?;
    // The campaign row exists, so only a campaign removed meanwhile (a rebuild) has no progress: count none.
    let progress = campaigns::campaign_progress(&state.pool, id)
        .await
        .map_err(internal)?
        .map_or_else(
            || CampaignProgressView {
                total: 0,
                unknown: 0,
                by_state: Vec::new(),
                by_outcome: Vec::new(),
                closed: 0,
                percent_complete: None,
                time_to_detect: time_to_detect(&TimeToDetectStats::default()),
            },
            |progress| progress_view(progress, principal),
        );
    let spawns = campaigns::spawns(&state.pool, id)
        .await
        .map_err(internal)?
        .into_iter()
        .map(|spawn| CampaignSpawnView {
            due_at: spawn.due_at,
            instance_id: spawn.instance_id,
            recorded_at: spawn.recorded_at,
        })
        .collect();
    // Instances are spawned at due times after the planned start, and only while the template is open.
    let after = state.campaigns.now().max(row.planned_start);
    let recurrence = row.recurrence.map(|recurrence| RecurrenceView {
        next_due_at: row
            .status
            .is_open()
            .then(|| recurrence.next_due_after(after))
            .flatten(),
        cron: recurrence.cron().to_owned(),
        timezone: recurrence.timezone().to_owned(),
    });
    Ok(Campaign {
        id,
        name: row.name,
        description: row.description,
        scope: CampaignScopeView {
            techniques: row.scope_techniques,
            threat_actor: row.scope_threat_actor,
        },
        planned_start: row.planned_start,
        planned_end: row.planned_end,
        status: row.status.into(),
        test_case_ids,
        progress,
        recurrence,
        template_id: row.template_id,
        due_at: row.due_at,
        spawns,
        activated_at: row.activated_at,
        completed_at: row.completed_at,
        cancelled_at: row.cancelled_at,
        cancel_reason: row.cancel_reason,
        created_at: row.created_at,
        created_by: row.created_by,
        last_changed_at: row.last_changed_at,
    })
}

/// Campaign `id` as `principal` may see it; `None` when there is none. Shared by `campaign` and the
/// `campaignChanged` subscription, so both show the same thing.
pub async fn find_view(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
) -> async_graphql::Result<Option<Campaign>> {
    match campaigns::find(&state.pool, id).await.map_err(internal)? {
        Some(row) => Ok(Some(view(state, principal, row).await?)),
        None => Ok(None),
    }
}

/// Every test case counted by state and by current-run outcome (the dashboard's totals).
#[derive(SimpleObject, Debug)]
pub struct TestCaseTotalsView {
    total: i32,
    /// Every state in workflow order, zeros included.
    by_state: Vec<StateCount>,
    /// Every outcome, strongest first, zeros included; `outcome: null` counts those without one yet.
    by_outcome: Vec<OutcomeCount>,
}

impl From<TestCaseTotals> for TestCaseTotalsView {
    fn from(totals: TestCaseTotals) -> Self {
        Self {
            total: count(totals.total),
            by_state: totals.by_state.into_iter().map(StateCount::from).collect(),
            by_outcome: totals
                .by_outcome
                .into_iter()
                .map(OutcomeCount::from)
                .collect(),
        }
    }
}

#[derive(Debug, Default)]
pub struct CampaignsQuery;

#[Object]
impl CampaignsQuery {
    /// Every test case counted by state and by current-run outcome.
    async fn test_case_totals(
        &self,
        context: &Context<'_>,
    ) -> async_graphql::Result<TestCaseTotalsView> {
        let state = context.data::<AppState>()?;
        let totals = campaigns::test_case_totals(&state.pool)
            .await
            .map_err(internal)?;
        Ok(totals.into())
    }

    /// One campaign with its members, progress, recurrence and spawns.
    async fn campaign(
        &self,
        context: &Context<'_>,
        id: Uuid,
    ) -> async_graphql::Result<Option<Campaign>> {
        find_view(context.data::<AppState>()?, principal(context)?, id).await
    }

    /// Campaigns in the order they were created, optionally only those in one status or the instances of
    /// one template.
    #[graphql(complexity = "super::paging::page_complexity(first, child_complexity)")]
    async fn campaigns(
        &self,
        context: &Context<'_>,
        status: Option<CampaignStatusName>,
        template_id: Option<Uuid>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<String, Campaign, EmptyFields, EmptyFields>> {
        let state = context.data::<AppState>()?;
        let principal = principal(context)?;
        let filter = CampaignFilter {
            status: status.map(Into::into),
            template_id,
        };
        query(
            after,
            None,
            first,
            None,
            |after: Option<String>, _: Option<String>, first, _| async move {
                let cursor = match after.as_deref() {
                    Some(text) => Some(PageCursor::decode(text).ok_or_else(|| {
                        ApiError::Validation("the cursor is not valid".to_owned()).extend()
                    })?),
                    None => None,
                };
                let limit = page_size(first);
                let mut rows = campaigns::page(
                    &state.pool,
                    &filter,
                    cursor.as_ref(),
                    i64::try_from(limit + 1).unwrap_or(101),
                )
                .await
                .map_err(internal)?;
                let has_next = rows.len() > limit;
                rows.truncate(limit);
                let mut connection = Connection::new(cursor.is_some(), has_next);
                for row in rows {
                    let cursor = row.cursor().encode();
                    connection
                        .edges
                        .push(Edge::new(cursor, view(state, principal, row).await?));
                }
                Ok::<_, async_graphql::Error>(connection)
            },
        )
        .await
    }
}
