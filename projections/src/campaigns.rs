//! The campaigns read model: one row per campaign, its member test cases (`campaign_test_cases`, the only
//! record of membership on the read side) and the spawns its template recorded; plus each campaign's
//! progress, computed at read time from the members' rows in [`crate::test_cases`].
//!
//! Campaign events carry no time of their own except where the time is a fact about the campaign (actual
//! start and end, due times); the others take the command's time from the event metadata
//! (`occurred_at`). Idempotence as in [`crate::test_cases`]: each campaign row keeps the aggregate
//! sequence of the last event applied.

use chrono::{DateTime, Utc};
use domain::campaign::{
    CampaignEvent, CampaignScope, CampaignStatus, Recurrence, ScopeTechnique, ScopeThreatActor,
};
use domain::test_case::{Outcome, TestState};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Row};
use uuid::Uuid;

use crate::paging::PageCursor;
use crate::projector::{Projection, StoredEvent, streams_of};
use crate::test_cases::{from_serde_name, invalid};

/// Keeps `campaigns`, `campaign_test_cases` and `campaign_spawns` in step with `Campaign` events.
#[derive(Debug, Clone, Copy, Default)]
pub struct Campaigns;

#[async_trait::async_trait]
impl Projection for Campaigns {
    fn name(&self) -> &'static str {
        "campaigns"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["campaigns", "campaign_test_cases", "campaign_spawns"]
    }

    async fn apply(
        &self,
        connection: &mut PgConnection,
        events: &[StoredEvent],
    ) -> Result<(), sqlx::Error> {
        for (campaign_id, event) in streams_of(events, "Campaign") {
            let payload = event.payload::<CampaignEvent>()?;
            apply(connection, campaign_id, event, &payload).await?;
        }
        Ok(())
    }
}

/// The details every creation and edit carries.
struct Details<'a> {
    name: &'a str,
    description: &'a str,
    scope: &'a CampaignScope,
    planned_start: DateTime<Utc>,
    planned_end: DateTime<Utc>,
}

#[expect(
    clippy::too_many_lines,
    reason = "one short arm per event, so the projection reads as the event list"
)]
async fn apply(
    connection: &mut PgConnection,
    campaign_id: Uuid,
    stored: &StoredEvent,
    event: &CampaignEvent,
) -> Result<(), sqlx::Error> {
    let at = stored.occurred_at();
    match event {
        CampaignEvent::Created {
            name,
            description,
            scope,
            planned_start,
            planned_end,
            recurrence,
        } => {
            let details = Details {
                name: name.as_str(),
                description: description.as_str(),
                scope,
                planned_start: *planned_start,
                planned_end: *planned_end,
            };
            insert(
                connection,
                campaign_id,
                stored,
                &details,
                recurrence.as_ref(),
                None,
            )
            .await?;
            return Ok(());
        }
        CampaignEvent::InstanceCreated {
            template_id,
            due_at,
            name,
            description,
            scope,
            planned_start,
            planned_end,
            test_cases,
        } => {
            let details = Details {
                name: name.as_str(),
                description: description.as_str(),
                scope,
                planned_start: *planned_start,
                planned_end: *planned_end,
            };
            let origin = Some((*template_id, *due_at));
            if insert(connection, campaign_id, stored, &details, None, origin).await? {
                let members: Vec<Uuid> = test_cases.iter().copied().collect();
                sqlx::query(
                    "INSERT INTO campaign_test_cases (campaign_id, test_case_id, added_at)
                     SELECT $1, unnest($2::uuid[]), $3",
                )
                .bind(campaign_id)
                .bind(&members)
                .bind(at)
                .execute(&mut *connection)
                .await?;
            }
            return Ok(());
        }
        _ => {}
    }
    if !claim(connection, campaign_id, stored.sequence, at).await? {
        return Ok(());
    }
    match event {
        CampaignEvent::Created { .. } | CampaignEvent::InstanceCreated { .. } => {}
        CampaignEvent::Edited {
            name,
            description,
            scope,
            planned_start,
            planned_end,
        } => {
            let techniques: Vec<&str> = scope
                .techniques()
                .iter()
                .map(ScopeTechnique::as_str)
                .collect();
            sqlx::query(
                "UPDATE campaigns
                    SET name = $2, description = $3, scope_techniques = $4, scope_threat_actor = $5,
                        planned_start = $6, planned_end = $7
                  WHERE campaign_id = $1",
            )
            .bind(campaign_id)
            .bind(name.as_str())
            .bind(description.as_str())
            .bind(&techniques)
            .bind(scope.threat_actor().map(ScopeThreatActor::as_str))
            .bind(planned_start)
            .bind(planned_end)
            .execute(&mut *connection)
            .await?;
        }
        CampaignEvent::Activated { at } => {
            set_status(
                connection,
                campaign_id,
                CampaignStatus::Active,
                "activated_at",
                *at,
            )
            .await?;
        }
        CampaignEvent::Completed { at } => {
            set_status(
                connection,
                campaign_id,
                CampaignStatus::Completed,
                "completed_at",
                *at,
            )
            .await?;
        }
        CampaignEvent::Cancelled { reason, at } => {
            set_status(
                connection,
                campaign_id,
                CampaignStatus::Cancelled,
                "cancelled_at",
                *at,
            )
            .await?;
            sqlx::query("UPDATE campaigns SET cancel_reason = $2 WHERE campaign_id = $1")
                .bind(campaign_id)
                .bind(reason.as_str())
                .execute(&mut *connection)
                .await?;
        }
        CampaignEvent::TestCaseAdded { test_case_id } => {
            sqlx::query(
                "INSERT INTO campaign_test_cases (campaign_id, test_case_id, added_at) VALUES ($1, $2, $3)",
            )
            .bind(campaign_id)
            .bind(test_case_id)
            .bind(at)
            .execute(&mut *connection)
            .await?;
        }
        CampaignEvent::TestCaseRemoved { test_case_id } => {
            sqlx::query(
                "DELETE FROM campaign_test_cases WHERE campaign_id = $1 AND test_case_id = $2",
            )
            .bind(campaign_id)
            .bind(test_case_id)
            .execute(&mut *connection)
            .await?;
        }
        CampaignEvent::RecurrenceSet { recurrence } => {
            set_recurrence(connection, campaign_id, Some(recurrence)).await?;
        }
        CampaignEvent::RecurrenceCleared => set_recurrence(connection, campaign_id, None).await?,
        CampaignEvent::SpawnRecorded {
            due_at,
            instance_id,
        } => {
            sqlx::query(
                "INSERT INTO campaign_spawns (template_id, due_at, instance_id, recorded_at)
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(campaign_id)
            .bind(due_at)
            .bind(instance_id)
            .bind(at)
            .execute(&mut *connection)
            .await?;
        }
    }
    Ok(())
}

/// Inserts a new campaign, planned; `false` when it exists already (the event was applied before).
async fn insert(
    connection: &mut PgConnection,
    campaign_id: Uuid,
    stored: &StoredEvent,
    details: &Details<'_>,
    recurrence: Option<&Recurrence>,
    origin: Option<(Uuid, DateTime<Utc>)>,
) -> Result<bool, sqlx::Error> {
    let at = stored.occurred_at();
    let techniques: Vec<&str> = details
        .scope
        .techniques()
        .iter()
        .map(ScopeTechnique::as_str)
        .collect();
    let inserted = sqlx::query(
        "INSERT INTO campaigns (campaign_id, last_sequence, name, description, scope_techniques,
                                scope_threat_actor, planned_start, planned_end, status, recurrence_cron,
                                recurrence_timezone, template_id, due_at, created_at, created_by,
                                last_changed_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $14)
         ON CONFLICT (campaign_id) DO NOTHING",
    )
    .bind(campaign_id)
    .bind(stored.sequence)
    .bind(details.name)
    .bind(details.description)
    .bind(&techniques)
    .bind(details.scope.threat_actor().map(ScopeThreatActor::as_str))
    .bind(details.planned_start)
    .bind(details.planned_end)
    .bind(CampaignStatus::Planned.as_str())
    .bind(recurrence.map(Recurrence::cron))
    .bind(recurrence.map(Recurrence::timezone))
    .bind(origin.map(|(template_id, _)| template_id))
    .bind(origin.map(|(_, due_at)| due_at))
    .bind(at)
    .bind(stored.actor_id())
    .execute(&mut *connection)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

/// Marks `sequence` as applied; `false` when it was applied before. An event for a campaign that was never
/// created is an error, as in [`crate::test_cases`].
async fn claim(
    connection: &mut PgConnection,
    campaign_id: Uuid,
    sequence: i64,
    at: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let claimed = sqlx::query(
        "UPDATE campaigns SET last_sequence = $2, last_changed_at = $3
          WHERE campaign_id = $1 AND last_sequence < $2",
    )
    .bind(campaign_id)
    .bind(sequence)
    .bind(at)
    .execute(&mut *connection)
    .await?;
    if claimed.rows_affected() == 1 {
        return Ok(true);
    }
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM campaigns WHERE campaign_id = $1)")
            .bind(campaign_id)
            .fetch_one(&mut *connection)
            .await?;
    if exists {
        Ok(false)
    } else {
        Err(invalid(format!(
            "Campaign {campaign_id}: event {sequence} arrived before the campaign was created"
        )))
    }
}

/// `column` is one of the fixed timestamp columns named by the callers, never input.
async fn set_status(
    connection: &mut PgConnection,
    campaign_id: Uuid,
    status: CampaignStatus,
    column: &'static str,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "UPDATE campaigns SET status = $2, {column} = $3 WHERE campaign_id = $1"
    ))
    .bind(campaign_id)
    .bind(status.as_str())
    .bind(at)
    .execute(connection)
    .await?;
    Ok(())
}

async fn set_recurrence(
    connection: &mut PgConnection,
    campaign_id: Uuid,
    recurrence: Option<&Recurrence>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE campaigns SET recurrence_cron = $2, recurrence_timezone = $3 WHERE campaign_id = $1",
    )
    .bind(campaign_id)
    .bind(recurrence.map(Recurrence::cron))
    .bind(recurrence.map(Recurrence::timezone))
    .execute(connection)
    .await?;
    Ok(())
}

// The read side.

/// One campaign. Its members are listed by `test_cases::page` with a `campaign_id` filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignRow {
    pub campaign_id: Uuid,
    pub name: String,
    pub description: String,
    pub scope_techniques: Vec<String>,
    pub scope_threat_actor: Option<String>,
    pub planned_start: DateTime<Utc>,
    pub planned_end: DateTime<Utc>,
    pub status: CampaignStatus,
    /// A template's schedule (`Recurrence::next_due_after` gives its next due time); `None` when the
    /// campaign does not recur.
    pub recurrence: Option<Recurrence>,
    /// For an instance: the template it was spawned from and the due time it was spawned for.
    pub template_id: Option<Uuid>,
    pub due_at: Option<DateTime<Utc>>,
    pub activated_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub cancel_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    /// The `actor_id` of the creating command, as the command layer wrote it.
    pub created_by: Option<String>,
    pub last_changed_at: DateTime<Utc>,
}

impl CampaignRow {
    /// The position of this row in [`page`]'s order.
    pub fn cursor(&self) -> PageCursor {
        PageCursor {
            at: self.created_at,
            id: self.campaign_id,
        }
    }
}

/// One spawn a template recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignSpawn {
    pub due_at: DateTime<Utc>,
    pub instance_id: Uuid,
    pub recorded_at: DateTime<Utc>,
}

/// Which campaigns [`page`] lists; every field given narrows the list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CampaignFilter {
    pub status: Option<CampaignStatus>,
    /// Only the instances of this template.
    pub template_id: Option<Uuid>,
}

const COLUMNS: &str = "c.campaign_id, c.name, c.description, c.scope_techniques, c.scope_threat_actor,
    c.planned_start, c.planned_end, c.status, c.recurrence_cron, c.recurrence_timezone, c.template_id, c.due_at,
    c.activated_at, c.completed_at, c.cancelled_at, c.cancel_reason, c.created_at, c.created_by,
    c.last_changed_at";

pub async fn find(pool: &PgPool, campaign_id: Uuid) -> Result<Option<CampaignRow>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM campaigns c WHERE c.campaign_id = $1"
    ))
    .bind(campaign_id)
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(campaign).transpose()
}

/// Up to `limit` campaigns matching `filter`, after `after`, ordered by `(created_at, campaign_id)`, the
/// order they were created in (which no edit changes). Ask for one more than a page to learn whether
/// another follows.
pub async fn page(
    pool: &PgPool,
    filter: &CampaignFilter,
    after: Option<&PageCursor>,
    limit: i64,
) -> Result<Vec<CampaignRow>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM campaigns c
          WHERE ($1::timestamptz IS NULL OR (c.created_at, c.campaign_id) > ($1, $2::uuid))
            AND ($3::text IS NULL OR c.status = $3)
            AND ($4::uuid IS NULL OR c.template_id = $4)
          ORDER BY c.created_at, c.campaign_id
          LIMIT $5"
    ))
    .bind(after.map(|cursor| cursor.at))
    .bind(after.map(|cursor| cursor.id))
    .bind(filter.status.map(CampaignStatus::as_str))
    .bind(filter.template_id)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.iter().map(campaign).collect()
}

/// The campaigns `test_case_id` belongs to, in creation order.
pub async fn for_test_case(
    pool: &PgPool,
    test_case_id: Uuid,
) -> Result<Vec<CampaignRow>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM campaigns c
           JOIN campaign_test_cases m ON m.campaign_id = c.campaign_id
          WHERE m.test_case_id = $1
          ORDER BY c.created_at, c.campaign_id"
    ))
    .bind(test_case_id)
    .fetch_all(pool)
    .await?;
    rows.iter().map(campaign).collect()
}

/// The spawns `template_id` recorded, oldest due time first.
pub async fn spawns(pool: &PgPool, template_id: Uuid) -> Result<Vec<CampaignSpawn>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT due_at, instance_id, recorded_at FROM campaign_spawns WHERE template_id = $1 ORDER BY due_at",
    )
    .bind(template_id)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(CampaignSpawn {
                due_at: row.try_get("due_at")?,
                instance_id: row.try_get("instance_id")?,
                recorded_at: row.try_get("recorded_at")?,
            })
        })
        .collect()
}

/// The member test cases of `campaign_id`, in the order they were added (members the test cases' read model
/// has no row for included); empty when there is no such campaign.
pub async fn members(pool: &PgPool, campaign_id: Uuid) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT test_case_id FROM campaign_test_cases WHERE campaign_id = $1 ORDER BY added_at, test_case_id",
    )
    .bind(campaign_id)
    .fetch_all(pool)
    .await
}

/// Where a campaign and its members stand in their event streams: equal revisions mean nothing a campaign's
/// view is made of (its row, membership, spawns, and its members' rows, which its progress is computed from)
/// has changed. Cheap to read, so pollers compare it before reading the whole view again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignRevision {
    /// The aggregate sequence of the last event applied to the campaign (details, status, membership,
    /// recurrence and spawns all arrive as its events).
    pub sequence: i64,
    /// Each member with the aggregate sequence of the last event applied to its test case row (`None` while
    /// it has none), by test case id.
    pub members: Vec<(Uuid, Option<i64>)>,
}

/// The revision of `campaign_id`; `None` when there is no such campaign.
pub async fn revision(
    pool: &PgPool,
    campaign_id: Uuid,
) -> Result<Option<CampaignRevision>, sqlx::Error> {
    let sequence: Option<i64> =
        sqlx::query_scalar("SELECT last_sequence FROM campaigns WHERE campaign_id = $1")
            .bind(campaign_id)
            .fetch_optional(pool)
            .await?;
    let Some(sequence) = sequence else {
        return Ok(None);
    };
    let members = sqlx::query(
        "SELECT m.test_case_id, t.last_sequence
           FROM campaign_test_cases m
           LEFT JOIN test_cases t ON t.test_case_id = m.test_case_id
          WHERE m.campaign_id = $1
          ORDER BY m.test_case_id",
    )
    .bind(campaign_id)
    .fetch_all(pool)
    .await?
    .iter()
    .map(|row| Ok((row.try_get("test_case_id")?, row.try_get("last_sequence")?)))
    .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok(Some(CampaignRevision { sequence, members }))
}

fn campaign(row: &PgRow) -> Result<CampaignRow, sqlx::Error> {
    let cron: Option<String> = row.try_get("recurrence_cron")?;
    let timezone: Option<String> = row.try_get("recurrence_timezone")?;
    let recurrence = match (cron, timezone) {
        (Some(cron), Some(timezone)) => Some(
            Recurrence::parse(&cron, &timezone)
                .map_err(|error| sqlx::Error::Decode(Box::new(error)))?,
        ),
        _ => None,
    };
    Ok(CampaignRow {
        campaign_id: row.try_get("campaign_id")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        scope_techniques: row.try_get("scope_techniques")?,
        scope_threat_actor: row.try_get("scope_threat_actor")?,
        planned_start: row.try_get("planned_start")?,
        planned_end: row.try_get("planned_end")?,
        status: from_serde_name(row.try_get("status")?)?,
        recurrence,
        template_id: row.try_get("template_id")?,
        due_at: row.try_get("due_at")?,
        activated_at: row.try_get("activated_at")?,
        completed_at: row.try_get("completed_at")?,
        cancelled_at: row.try_get("cancelled_at")?,
        cancel_reason: row.try_get("cancel_reason")?,
        created_at: row.try_get("created_at")?,
        created_by: row.try_get("created_by")?,
        last_changed_at: row.try_get("last_changed_at")?,
    })
}

/// How far a campaign's test cases have got, from their current runs.
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignProgress {
    pub campaign_id: Uuid,
    /// Member test cases.
    pub total: i64,
    /// Members without a test case row (never planned, or not yet projected); counted in `total` only.
    pub unknown: i64,
    /// Members per state, every state in workflow order, zeros included (`TestState::as_str` names).
    pub by_state: Vec<StateCount>,
    /// Members per current-run outcome, strongest first, zeros included; `outcome: None` counts members
    /// without an outcome yet.
    pub by_outcome: Vec<OutcomeCount>,
    /// Completed plus abandoned members.
    pub closed: i64,
    /// `closed` as a percentage of `total`; `None` without members.
    pub percent_complete: Option<f64>,
    /// Over every member with a time to detect.
    pub time_to_detect: TimeToDetectStats,
    /// The same without blind tests not yet revealed, whose times to detect blue users must not learn
    /// (a minimum over one test is its time to detect).
    pub time_to_detect_for_blue: TimeToDetectStats,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateCount {
    pub state: &'static str,
    pub count: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutcomeCount {
    pub outcome: Option<Outcome>,
    pub count: i64,
}

/// Times to detect in milliseconds; every field `None` when none is measured.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TimeToDetectStats {
    /// Members with a time to detect.
    pub measured: i64,
    pub min_ms: Option<i64>,
    /// The middle value; with an even count, the mean of the two middle values rounded down.
    pub median_ms: Option<i64>,
    pub max_ms: Option<i64>,
}

impl TimeToDetectStats {
    /// The figures of `times`, in any order.
    pub fn of(mut times: Vec<i64>) -> Self {
        times.sort_unstable();
        let measured = i64::try_from(times.len()).unwrap_or(i64::MAX);
        let median_ms = match times.len() {
            0 => None,
            count if count % 2 == 1 => Some(times[count / 2]),
            count => {
                let (lower, upper) = (times[count / 2 - 1], times[count / 2]);
                Some(lower + (upper - lower).div_euclid(2))
            }
        };
        Self {
            measured,
            min_ms: times.first().copied(),
            median_ms,
            max_ms: times.last().copied(),
        }
    }
}

/// Every state a test case can be in, in workflow order.
const STATES: [TestState; 9] = [
    TestState::Planned,
    TestState::Assigned,
    TestState::Executing,
    TestState::Executed,
    TestState::Reviewing,
    TestState::AwaitingApproval,
    TestState::Paused {
        previous: domain::test_case::ActiveState::Planned,
    },
    TestState::Completed,
    TestState::Abandoned,
];

/// Every outcome, strongest first (the domain's order, reversed).
const OUTCOMES: [Outcome; 5] = [
    Outcome::Blocked,
    Outcome::Alerted,
    Outcome::Logged,
    Outcome::NotDetected,
    Outcome::NotApplicable,
];

/// The progress of `campaign_id`'s members; `None` when there is no such campaign.
pub async fn campaign_progress(
    pool: &PgPool,
    campaign_id: Uuid,
) -> Result<Option<CampaignProgress>, sqlx::Error> {
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM campaigns WHERE campaign_id = $1)")
            .bind(campaign_id)
            .fetch_one(pool)
            .await?;
    if !exists {
        return Ok(None);
    }
    let members = sqlx::query(
        "SELECT t.state, t.outcome, t.time_to_detect_ms, coalesce(t.blind AND NOT t.revealed, false) AS hidden
           FROM campaign_test_cases m
           LEFT JOIN test_cases t ON t.test_case_id = m.test_case_id
          WHERE m.campaign_id = $1",
    )
    .bind(campaign_id)
    .fetch_all(pool)
    .await?;

    let mut states: Vec<Option<String>> = Vec::with_capacity(members.len());
    let mut outcomes: Vec<Option<Outcome>> = Vec::with_capacity(members.len());
    let (mut times, mut times_for_blue) = (Vec::new(), Vec::new());
    for member in &members {
        let state: Option<String> = member.try_get("state")?;
        let outcome: Option<String> = member.try_get("outcome")?;
        let time_to_detect: Option<i64> = member.try_get("time_to_detect_ms")?;
        let hidden: bool = member.try_get("hidden")?;
        if state.is_some() {
            outcomes.push(outcome.as_deref().map(from_serde_name).transpose()?);
        }
        states.push(state);
        if let Some(time) = time_to_detect {
            times.push(time);
            if !hidden {
                times_for_blue.push(time);
            }
        }
    }
    let count = |matches: &dyn Fn(&Option<String>) -> bool| -> i64 {
        i64::try_from(states.iter().filter(|state| matches(state)).count()).unwrap_or(i64::MAX)
    };
    let total = i64::try_from(members.len()).unwrap_or(i64::MAX);
    let unknown = count(&|state| state.is_none());
    let by_state: Vec<StateCount> = STATES
        .iter()
        .map(|state| StateCount {
            state: state.as_str(),
            count: count(&|name| name.as_deref() == Some(state.as_str())),
        })
        .collect();
    let closed = count(&|name| {
        name.as_deref() == Some(TestState::Completed.as_str())
            || name.as_deref() == Some(TestState::Abandoned.as_str())
    });
    let by_outcome: Vec<OutcomeCount> = OUTCOMES
        .iter()
        .copied()
        .map(Some)
        .chain([None])
        .map(|outcome| OutcomeCount {
            outcome,
            count: i64::try_from(outcomes.iter().filter(|o| **o == outcome).count())
                .unwrap_or(i64::MAX),
        })
        .collect();
    Ok(Some(CampaignProgress {
        campaign_id,
        total,
        unknown,
        by_state,
        by_outcome,
        closed,
        percent_complete: (total > 0).then(|| closed as f64 * 100.0 / total as f64),
        time_to_detect: TimeToDetectStats::of(times),
        time_to_detect_for_blue: TimeToDetectStats::of(times_for_blue),
    }))
}

/// Every test case counted by state and by current-run outcome, zeros included, in the orders of
/// [`CampaignProgress`]: the dashboard's totals, one grouped read instead of paging through every test case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestCaseTotals {
    pub total: i64,
    pub by_state: Vec<StateCount>,
    pub by_outcome: Vec<OutcomeCount>,
}

pub async fn test_case_totals(pool: &PgPool) -> Result<TestCaseTotals, sqlx::Error> {
    let groups = sqlx::query(
        "SELECT state, outcome, count(*) AS count FROM test_cases GROUP BY state, outcome",
    )
    .fetch_all(pool)
    .await?;
    let mut totals = TestCaseTotals {
        total: 0,
        by_state: STATES
            .iter()
            .map(|state| StateCount {
                state: state.as_str(),
                count: 0,
            })
            .collect(),
        by_outcome: OUTCOMES
            .iter()
            .copied()
            .map(Some)
            .chain([None])
            .map(|outcome| OutcomeCount { outcome, count: 0 })
            .collect(),
    };
    for group in &groups {
        let state: String = group.try_get("state")?;
        let outcome: Option<String> = group.try_get("outcome")?;
        let outcome: Option<Outcome> = outcome.as_deref().map(from_serde_name).transpose()?;
        let count: i64 = group.try_get("count")?;
        totals.total += count;
        if let Some(entry) = totals
            .by_state
            .iter_mut()
            .find(|entry| entry.state == state)
        {
            entry.count += count;
        }
        if let Some(entry) = totals
            .by_outcome
            .iter_mut()
            .find(|entry| entry.outcome == outcome)
        {
            entry.count += count;
        }
    }
    Ok(totals)
}

/// Open campaigns that recur: the templates a scheduler checks for due instances.
pub async fn recurring_templates(pool: &PgPool) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT campaign_id FROM campaigns
          WHERE recurrence_cron IS NOT NULL AND status IN ('planned', 'active') ORDER BY created_at, campaign_id",
    )
    .fetch_all(pool)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_cases::serde_name;

    /// Statuses are stored by `CampaignStatus::as_str` and read back with serde, so the names must agree.
    #[test]
    fn stored_status_names_are_serde_names() {
        for status in [
            CampaignStatus::Planned,
            CampaignStatus::Active,
            CampaignStatus::Completed,
            CampaignStatus::Cancelled,
        ] {
            assert_eq!(serde_name(&status).ok().as_deref(), Some(status.as_str()));
        }
    }

    #[test]
    fn median_of_an_even_count_is_the_mean_of_the_middle_values() {
        let stats = TimeToDetectStats::of(vec![40, 10, 30, 20]);
        assert_eq!(
            stats,
            TimeToDetectStats {
                measured: 4,
                min_ms: Some(10),
                median_ms: Some(25),
                max_ms: Some(40),
            }
        );
        assert_eq!(TimeToDetectStats::of(vec![]), TimeToDetectStats::default());
    }
}
