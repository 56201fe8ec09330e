//! The coverage read model (migration 0009): every approved run that scores (`coverage_validations`), the
//! newest result of each procedure against each technique (`coverage_current`), when rules were deployed and
//! policies active (`coverage_rule_periods`, `coverage_policy_periods`), and snapshots of the current results at
//! points of the log (`coverage_snapshots`). [`crate::heatmap`] turns them, with the catalogs, into heatmaps.
//!
//! The projection keeps its own copy of each test case's plan facts (`coverage_plans`) rather than reading the
//! `test_cases` read model: during a rebuild of this projection alone, that table shows the end state, not the
//! plan as it was when each run was approved.

use chrono::{DateTime, Utc};
use domain::coverage::ProcedureResult;
use domain::coverage_snapshot::{CoverageSnapshotEvent, WEEKLY_SNAPSHOTS_KEPT};
use domain::detection_rule::DetectionRuleEvent;
use domain::scoring::{ScoredOutcome, ScoringPolicyEvent};
use domain::test_case::{Outcome, ProcedureSource, TestCaseEvent};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Row};
use uuid::Uuid;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::catalog::IN_FORCE;
use crate::projector::{Projection, StoredEvent, stream_ids};
use crate::rows;

/// Keeps the coverage tables in step with test case, detection rule, scoring policy and snapshot events.
#[derive(Debug, Clone, Copy, Default)]
pub struct Coverage;

#[async_trait::async_trait]
impl Projection for Coverage {
    fn name(&self) -> &'static str {
        "coverage"
    }

    fn tables(&self) -> &'static [&'static str] {
        &[
            "coverage_plans",
            "coverage_validations",
            "coverage_current",
            "coverage_rule_periods",
            "coverage_policy_periods",
            "coverage_snapshots",
        ]
    }

    async fn apply(
        &self,
        connection: &mut PgConnection,
        events: &[StoredEvent],
    ) -> Result<(), sqlx::Error> {
        // One pass in log order: a snapshot copies the results of every approval before it, so what the batch
        // holds in memory is written before each snapshot and at the end.
        let mut plans = Plans::load(connection, events).await?;
        for event in events {
            match (event.aggregate_type.as_str(), event.uuid_of()) {
                ("TestCase", Some(test_case_id)) => {
                    plans.apply(test_case_id, event, &*event.payload::<TestCaseEvent>()?);
                }
                ("DetectionRule", _) => {
                    rule(connection, event, &*event.payload::<DetectionRuleEvent>()?).await?;
                }
                ("ScoringPolicy", Some(policy_id)) => {
                    policy(
                        connection,
                        policy_id,
                        event,
                        &*event.payload::<ScoringPolicyEvent>()?,
                    )
                    .await?;
                }
                ("CoverageSnapshots", _) => {
                    plans.store(connection).await?;
                    snapshot(
                        connection,
                        event,
                        &*event.payload::<CoverageSnapshotEvent>()?,
                    )
                    .await?;
                }
                _ => {}
            }
        }
        plans.store(connection).await
    }
}

/// The procedure key of a plan: its template, or the test case itself when written by hand.
pub fn procedure_key(test_case_id: Uuid, procedure: &ProcedureSource) -> String {
    match procedure {
        ProcedureSource::AtomicTest { guid } => format!("atomic:{guid}"),
        ProcedureSource::CalderaAbility { id } => format!("caldera:{id}"),
        ProcedureSource::Lolbas { entry } => format!("lolbas:{entry}"),
        ProcedureSource::Gtfobins { entry } => format!("gtfobins:{entry}"),
        ProcedureSource::Manual => format!("test_case:{test_case_id}"),
    }
}

/// A row of `coverage_plans`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct PlanRecord {
    test_case_id: Uuid,
    technique: String,
    procedure: String,
    platforms: Vec<String>,
    tags: Vec<String>,
    run: i32,
}

/// A row of `coverage_validations`.
#[derive(Debug, Clone, serde::Serialize)]
struct ValidationRecord {
    test_case_id: Uuid,
    run: i32,
    technique: String,
    procedure: String,
    outcome: &'static str,
    validated_at: DateTime<Utc>,
    approved_by: Uuid,
    platforms: Vec<String>,
    tags: Vec<String>,
    global_seq: i64,
}

/// The plans of a batch's test cases, and the validations and plan changes not yet written.
struct Plans {
    known: BTreeMap<Uuid, PlanRecord>,
    changed: BTreeSet<Uuid>,
    validations: Vec<ValidationRecord>,
}

impl Plans {
    async fn load(
        connection: &mut PgConnection,
        events: &[StoredEvent],
    ) -> Result<Self, sqlx::Error> {
        let ids = stream_ids(events, "TestCase");
        let plans: Vec<PlanRecord> = rows::load(
            connection,
            "SELECT coalesce(json_agg(p), '[]') FROM coverage_plans p WHERE test_case_id = ANY($1)",
            &ids,
        )
        .await?;
        Ok(Self {
            known: plans
                .into_iter()
                .map(|plan| (plan.test_case_id, plan))
                .collect(),
            changed: BTreeSet::new(),
            validations: Vec::new(),
        })
    }

    fn apply(&mut self, test_case_id: Uuid, stored: &StoredEvent, event: &TestCaseEvent) {
        match event {
            TestCaseEvent::Planned { plan, .. } | TestCaseEvent::PlanEdited { plan, .. } => {
                let record = PlanRecord {
                    test_case_id,
                    technique: plan.technique.as_str().to_owned(),
                    procedure: procedure_key(test_case_id, &plan.procedure),
                    platforms: plan
                        .platforms
                        .iter()
                        .map(|platform| platform.as_str().to_owned())
                        .collect(),
                    tags: plan
                        .tags
                        .iter()
                        .map(|tag| tag.as_str().to_owned())
                        .collect(),
                    // A new plan starts at run 1; an edited one stays in its run.
                    run: self.known.get(&test_case_id).map_or(1, |known| known.run),
                };
                self.known.insert(test_case_id, record);
                self.changed.insert(test_case_id);
            }
            TestCaseEvent::Reopened { run, .. } => {
                if let Some(plan) = self.known.get_mut(&test_case_id) {
                    plan.run = i32::try_from(*run).unwrap_or(i32::MAX);
                    self.changed.insert(test_case_id);
                }
            }
            TestCaseEvent::ResultApproved {
                approved_by,
                at,
                outcome,
            } => {
                if let (Some(outcome), Some(plan)) =
                    (scored(*outcome), self.known.get(&test_case_id))
                {
                    self.validations.push(ValidationRecord {
                        test_case_id,
                        run: plan.run,
                        technique: plan.technique.clone(),
                        procedure: plan.procedure.clone(),
                        outcome: outcome_name(outcome),
                        validated_at: rows::as_stored(*at),
                        approved_by: *approved_by,
                        platforms: plan.platforms.clone(),
                        tags: plan.tags.clone(),
                        global_seq: stored.global_seq,
                    });
                }
            }
            _ => {}
        }
    }

    /// Writes the changed plans and the new validations, and makes each procedure's newest validation its
    /// current result.
    async fn store(&mut self, connection: &mut PgConnection) -> Result<(), sqlx::Error> {
        let changed: Vec<&PlanRecord> = self.changed.iter().map(|id| &self.known[id]).collect();
        rows::upsert(connection, "coverage_plans", &["test_case_id"], &changed).await?;
        self.changed.clear();
        if self.validations.is_empty() {
            return Ok(());
        }
        // A run validated before keeps its first validation; each procedure's newest new one becomes its current
        // result unless the current one is newer.
        sqlx::query(
            "WITH inserted AS (
                 INSERT INTO coverage_validations
                     (test_case_id, run, technique, procedure, outcome, validated_at, approved_by, platforms,
                      tags, global_seq)
                 SELECT test_case_id, run, technique, procedure, outcome, validated_at, approved_by, platforms,
                        tags, global_seq
                   FROM jsonb_populate_recordset(NULL::coverage_validations, $1)
                 ON CONFLICT (test_case_id, run) DO NOTHING
                 RETURNING *)
             INSERT INTO coverage_current AS c
                 (technique, procedure, test_case_id, run, outcome, validated_at, platforms, tags, global_seq)
             SELECT DISTINCT ON (technique, procedure)
                    technique, procedure, test_case_id, run, outcome, validated_at, platforms, tags, global_seq
               FROM inserted
              ORDER BY technique, procedure, validated_at DESC, global_seq DESC
             ON CONFLICT (technique, procedure) DO UPDATE SET test_case_id = excluded.test_case_id,
                 run = excluded.run, outcome = excluded.outcome, validated_at = excluded.validated_at,
                 platforms = excluded.platforms, tags = excluded.tags, global_seq = excluded.global_seq
             WHERE (c.validated_at, c.global_seq) < (excluded.validated_at, excluded.global_seq)",
        )
        .bind(sqlx::types::Json(&self.validations))
        .execute(connection)
        .await?;
        self.validations.clear();
        Ok(())
    }
}

/// The outcome as it scores; "not applicable" (every tool said so) does not score.
fn scored(outcome: Outcome) -> Option<ScoredOutcome> {
    match outcome {
        Outcome::NotApplicable => None,
        Outcome::NotDetected => Some(ScoredOutcome::NotDetected),
        Outcome::Logged => Some(ScoredOutcome::Logged),
        Outcome::Alerted => Some(ScoredOutcome::Alerted),
        Outcome::Blocked => Some(ScoredOutcome::Blocked),
    }
}

async fn rule(
    connection: &mut PgConnection,
    stored: &StoredEvent,
    event: &DetectionRuleEvent,
) -> Result<(), sqlx::Error> {
    match event {
        DetectionRuleEvent::Deployed { rule, .. } => {
            sqlx::query(
                "INSERT INTO coverage_rule_periods (source, rule_id, deployed_at, deployed_by)
                 SELECT $1, $2, $3, $4
                 WHERE NOT EXISTS (SELECT 1 FROM coverage_rule_periods
                                   WHERE source = $1 AND rule_id = $2 AND retired_at IS NULL)
                 ON CONFLICT DO NOTHING",
            )
            .bind(rule.source.as_str())
            .bind(rule.id.as_str())
            .bind(stored.occurred_at())
            .bind(stored.actor_id())
            .execute(connection)
            .await?;
        }
        DetectionRuleEvent::Retired { rule, .. } => {
            sqlx::query(
                "UPDATE coverage_rule_periods SET retired_at = $3
                 WHERE source = $1 AND rule_id = $2 AND retired_at IS NULL",
            )
            .bind(rule.source.as_str())
            .bind(rule.id.as_str())
            .bind(stored.occurred_at())
            .execute(connection)
            .await?;
        }
    }
    Ok(())
}

async fn policy(
    connection: &mut PgConnection,
    policy_id: Uuid,
    stored: &StoredEvent,
    event: &ScoringPolicyEvent,
) -> Result<(), sqlx::Error> {
    match event {
        ScoringPolicyEvent::Activated { .. } => {
            sqlx::query(
                "INSERT INTO coverage_policy_periods (policy_id, activated_at)
                 SELECT $1, $2 WHERE NOT EXISTS (SELECT 1 FROM coverage_policy_periods
                                                 WHERE policy_id = $1 AND deactivated_at IS NULL)
                 ON CONFLICT DO NOTHING",
            )
            .bind(policy_id)
            .bind(stored.occurred_at())
            .execute(connection)
            .await?;
        }
        ScoringPolicyEvent::Deactivated { .. } | ScoringPolicyEvent::Retired { .. } => {
            sqlx::query(
                "UPDATE coverage_policy_periods SET deactivated_at = $2
                 WHERE policy_id = $1 AND deactivated_at IS NULL",
            )
            .bind(policy_id)
            .bind(stored.occurred_at())
            .execute(connection)
            .await?;
        }
        _ => {}
    }
    Ok(())
}

async fn snapshot(
    connection: &mut PgConnection,
    stored: &StoredEvent,
    event: &CoverageSnapshotEvent,
) -> Result<(), sqlx::Error> {
    let CoverageSnapshotEvent::Taken { snapshot_id, kind } = event;
    let inserted = sqlx::query(
        "INSERT INTO coverage_snapshots (snapshot_id, kind, taken_at, taken_by, global_seq, results)
         SELECT $1, $2, $3, $4, $5,
                coalesce(array_agg((technique, procedure, test_case_id, run, outcome, validated_at, global_seq)
                                   ::coverage_snapshot_result ORDER BY technique, procedure), '{}')
           FROM coverage_current
         ON CONFLICT DO NOTHING",
    )
    .bind(snapshot_id)
    .bind(kind.as_str())
    .bind(stored.occurred_at())
    .bind(stored.actor_id())
    .bind(stored.global_seq)
    .execute(&mut *connection)
    .await?;
    if inserted.rows_affected() == 0 {
        return Ok(());
    }
    // Only the newest weekly snapshots are kept; on-demand ones stay until someone decides otherwise.
    sqlx::query(
        "DELETE FROM coverage_snapshots WHERE snapshot_id IN (
             SELECT snapshot_id FROM coverage_snapshots WHERE kind = 'weekly'
             ORDER BY taken_at DESC, global_seq DESC OFFSET $1)",
    )
    .bind(i64::try_from(WEEKLY_SNAPSHOTS_KEPT).unwrap_or(i64::MAX))
    .execute(connection)
    .await?;
    Ok(())
}

fn outcome_name(outcome: ScoredOutcome) -> &'static str {
    match outcome {
        ScoredOutcome::NotDetected => "not_detected",
        ScoredOutcome::Logged => "logged",
        ScoredOutcome::Alerted => "alerted",
        ScoredOutcome::Blocked => "blocked",
    }
}

fn outcome_from(name: &str) -> Result<ScoredOutcome, sqlx::Error> {
    serde_json::from_value(serde_json::Value::String(name.to_owned()))
        .map_err(|error| sqlx::Error::Decode(Box::new(error)))
}

/// Which validations count toward a heatmap.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ResultFilter {
    /// Only test cases planned for this platform.
    pub platform: Option<String>,
    /// Only test cases with this tag.
    pub tag: Option<String>,
    /// Only the test cases of this campaign.
    pub campaign_id: Option<Uuid>,
}

impl ResultFilter {
    fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// One procedure's newest result against one technique, with what explains it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultRow {
    pub technique: String,
    pub result: ProcedureResult,
    /// The event that approved it.
    pub global_seq: i64,
}

fn result_row(row: &PgRow) -> Result<ResultRow, sqlx::Error> {
    let run: i32 = row.try_get("run")?;
    Ok(ResultRow {
        technique: row.try_get("technique")?,
        result: ProcedureResult {
            procedure: row.try_get("procedure")?,
            test_case_id: row.try_get("test_case_id")?,
            run: u32::try_from(run).unwrap_or_default(),
            outcome: outcome_from(row.try_get("outcome")?)?,
            validated_at: row.try_get("validated_at")?,
        },
        global_seq: row.try_get("global_seq")?,
    })
}

const FILTERS: &str = "($1::text IS NULL OR $1 = ANY(platforms))
     AND ($2::text IS NULL OR $2 = ANY(tags))
     AND ($3::uuid IS NULL OR test_case_id IN (SELECT test_case_id FROM campaign_test_cases WHERE campaign_id = $3))";

/// The newest result of each procedure against each technique, now or as of a moment, among the validations
/// `filter` keeps. Now and unfiltered, this is `coverage_current`; as of a moment, the nearest earlier snapshot
/// plus the validations after it (so the cost follows the activity since that snapshot, not the whole log); a
/// filtered view picks the newest *matching* validation of each procedure from the history.
pub async fn results(
    pool: &PgPool,
    filter: &ResultFilter,
    as_of: Option<DateTime<Utc>>,
) -> Result<Vec<ResultRow>, sqlx::Error> {
    let columns = "technique, procedure, test_case_id, run, outcome, validated_at, global_seq";
    let rows = match (as_of, filter.is_empty()) {
        (None, true) => {
            sqlx::query(&format!("SELECT {columns} FROM coverage_current"))
                .fetch_all(pool)
                .await?
        }
        (Some(at), true) => {
            sqlx::query(&format!(
                "WITH base AS (
                     SELECT snapshot_id, taken_at, global_seq FROM coverage_snapshots
                     WHERE taken_at <= $1 ORDER BY taken_at DESC LIMIT 1),
                 candidates AS (
                     -- The result type's fields are these columns, in this order.
                     SELECT r.* FROM coverage_snapshots s CROSS JOIN LATERAL unnest(s.results) AS r
                     WHERE s.snapshot_id = (SELECT snapshot_id FROM base)
                     UNION ALL
                     SELECT {columns} FROM coverage_validations
                     WHERE validated_at <= $1
                       AND (NOT EXISTS (SELECT 1 FROM base)
                            OR validated_at > (SELECT taken_at FROM base)
                            OR global_seq > (SELECT global_seq FROM base)))
                 SELECT DISTINCT ON (technique, procedure) {columns} FROM candidates
                 WHERE validated_at <= $1
                 ORDER BY technique, procedure, validated_at DESC, global_seq DESC"
            ))
            .bind(at)
            .fetch_all(pool)
            .await?
        }
        (at, false) => {
            sqlx::query(&format!(
                "SELECT DISTINCT ON (technique, procedure) {columns} FROM coverage_validations
                 WHERE {FILTERS} AND ($4::timestamptz IS NULL OR validated_at <= $4)
                 ORDER BY technique, procedure, validated_at DESC, global_seq DESC"
            ))
            .bind(&filter.platform)
            .bind(&filter.tag)
            .bind(filter.campaign_id)
            .bind(at)
            .fetch_all(pool)
            .await?
        }
    };
    rows.iter().map(result_row).collect()
}

/// Every validation of `technique` up to `until`, oldest first: the history behind a cell, for explain and diff.
pub async fn validations_of(
    pool: &PgPool,
    techniques: &[String],
    after: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
) -> Result<Vec<Validation>, sqlx::Error> {
    sqlx::query_as(
        "SELECT test_case_id, run, technique, procedure, outcome, validated_at, approved_by, global_seq
         FROM coverage_validations
         WHERE technique = ANY($1)
           AND ($2::timestamptz IS NULL OR validated_at > $2)
           AND ($3::timestamptz IS NULL OR validated_at <= $3)
         ORDER BY validated_at, global_seq",
    )
    .bind(techniques)
    .bind(after)
    .bind(until)
    .fetch_all(pool)
    .await
}

/// One approved run, as explain and diff cite it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Validation {
    pub test_case_id: Uuid,
    pub run: i32,
    pub technique: String,
    pub procedure: String,
    pub outcome: String,
    pub validated_at: DateTime<Utc>,
    pub approved_by: Uuid,
    pub global_seq: i64,
}

/// A rule deployment that counted at some moment.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RulePeriod {
    pub source: String,
    pub rule_id: String,
    pub deployed_at: DateTime<Utc>,
    pub retired_at: Option<DateTime<Utc>>,
    pub deployed_by: Option<String>,
}

/// The rules deployed at `at` (now when `None`).
pub async fn deployed_rules(
    pool: &PgPool,
    at: Option<DateTime<Utc>>,
) -> Result<Vec<RulePeriod>, sqlx::Error> {
    sqlx::query_as(
        "SELECT source, rule_id, deployed_at, retired_at, deployed_by FROM coverage_rule_periods
         WHERE ($1::timestamptz IS NULL AND retired_at IS NULL)
            OR ($1::timestamptz IS NOT NULL AND deployed_at <= $1 AND (retired_at IS NULL OR retired_at > $1))",
    )
    .bind(at)
    .fetch_all(pool)
    .await
}

/// The active scoring policy at `at` (now when `None`): its id and the settings version in force then.
pub async fn policy_in_force(
    pool: &PgPool,
    at: Option<DateTime<Utc>>,
) -> Result<Option<(Uuid, i32, serde_json::Value)>, sqlx::Error> {
    let policy_id: Option<Uuid> = sqlx::query_scalar(
        "SELECT policy_id FROM coverage_policy_periods
         WHERE ($1::timestamptz IS NULL AND deactivated_at IS NULL)
            OR ($1::timestamptz IS NOT NULL AND activated_at <= $1
                AND (deactivated_at IS NULL OR deactivated_at > $1))
         ORDER BY activated_at DESC LIMIT 1",
    )
    .bind(at)
    .fetch_optional(pool)
    .await?;
    match policy_id {
        Some(policy_id) => policy_version(pool, policy_id, at).await,
        None => Ok(None),
    }
}

/// Policy `policy_id`'s settings version in force at `at` (the newest when `None`).
pub async fn policy_version(
    pool: &PgPool,
    policy_id: Uuid,
    at: Option<DateTime<Utc>>,
) -> Result<Option<(Uuid, i32, serde_json::Value)>, sqlx::Error> {
    let row: Option<(i32, serde_json::Value)> = sqlx::query_as(
        "SELECT version, settings FROM scoring_policy_versions
         WHERE policy_id = $1 AND ($2::timestamptz IS NULL OR at <= $2)
         ORDER BY version DESC LIMIT 1",
    )
    .bind(policy_id)
    .bind(at)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|(version, settings)| (policy_id, version, settings)))
}

/// The snapshots kept, newest first.
pub async fn snapshots(pool: &PgPool) -> Result<Vec<SnapshotRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT snapshot_id, kind, taken_at, taken_by FROM coverage_snapshots ORDER BY taken_at DESC",
    )
    .fetch_all(pool)
    .await
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SnapshotRow {
    pub snapshot_id: Uuid,
    pub kind: String,
    pub taken_at: DateTime<Utc>,
    pub taken_by: Option<String>,
}

/// Deployed rules per technique at `at` (now when `None`): the rules deployed then, their catalog records as they
/// were then, and the techniques those name.
pub async fn deployed_rule_counts(
    pool: &PgPool,
    at: Option<DateTime<Utc>>,
) -> Result<HashMap<String, u32>, sqlx::Error> {
    let rows: Vec<(String, i64)> = sqlx::query_as(&format!(
        // Each deployed rule looked up by its key (a subquery the planner cannot turn into a join, which
        // scanned every rule of the catalog; at most one version of a rule is in force at a time).
        "SELECT technique, count(*) FROM coverage_rule_periods p
         CROSS JOIN LATERAL unnest((
             SELECT techniques FROM catalog_records
             WHERE kind = 'detection_rule' AND scope = p.source AND id = p.rule_id AND {IN_FORCE}
             LIMIT 1)) AS technique
         WHERE (($1::timestamptz IS NULL AND p.retired_at IS NULL)
                OR ($1::timestamptz IS NOT NULL AND p.deployed_at <= $1
                    AND (p.retired_at IS NULL OR p.retired_at > $1)))
         GROUP BY technique"
    ))
    .bind(at)
    .fetch_all(pool)
    .await?;
    Ok(counts(rows))
}

/// Per technique, how many distinct Sysmon event types the imported configurations collect events naming it
/// for (under an include filter), at `at`.
pub async fn telemetry_event_types(
    pool: &PgPool,
    at: Option<DateTime<Utc>>,
) -> Result<HashMap<String, u32>, sqlx::Error> {
    let rows: Vec<(String, i64)> = sqlx::query_as(&format!(
        "SELECT technique, count(DISTINCT filter->>'event') FROM catalog_records
         CROSS JOIN LATERAL jsonb_array_elements(coalesce(details->'event_filters', '[]')) AS filter
         CROSS JOIN LATERAL jsonb_array_elements_text(coalesce(filter->'techniques', '[]')) AS technique
         WHERE {IN_FORCE} AND kind = 'telemetry_config' AND lower(filter->>'onmatch') = 'include'
         GROUP BY technique"
    ))
    .bind(at)
    .fetch_all(pool)
    .await?;
    Ok(counts(rows))
}

/// The active ATT&CK groups of a domain at `at`, and how many of them use each technique.
pub async fn actor_usage(
    pool: &PgPool,
    scope: &str,
    at: Option<DateTime<Utc>>,
) -> Result<(u32, HashMap<String, u32>), sqlx::Error> {
    let groups: i64 = sqlx::query_scalar(&format!(
        "SELECT count(*) FROM catalog_records WHERE {IN_FORCE} AND kind = 'group' AND scope = $2
           AND status = 'active'"
    ))
    .bind(at)
    .bind(scope)
    .fetch_one(pool)
    .await?;
    let rows: Vec<(String, i64)> = sqlx::query_as(&format!(
        "SELECT technique, count(*) FROM catalog_records CROSS JOIN LATERAL unnest(techniques) AS technique
         WHERE {IN_FORCE} AND kind = 'group' AND scope = $2 AND status = 'active'
         GROUP BY technique"
    ))
    .bind(at)
    .bind(scope)
    .fetch_all(pool)
    .await?;
    Ok((u32::try_from(groups).unwrap_or(u32::MAX), counts(rows)))
}

fn counts(rows: Vec<(String, i64)>) -> HashMap<String, u32> {
    rows.into_iter()
        .map(|(technique, count)| (technique, u32::try_from(count).unwrap_or(u32::MAX)))
        .collect()
}
