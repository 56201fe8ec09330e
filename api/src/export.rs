//! `aegis export csv|json`: test cases (all, or one campaign's) and campaigns as spreadsheets and documents —
//! with each tool's outcome, the executions and the times to detect — for people leaving with their data.
//!
//! A CSV row is one test case (or campaign) with lists joined by `; `; the JSON has the same fields with lists
//! as arrays and each outcome and execution as an object. Both are made from the read models as they are,
//! unredacted: exporting is for operators (the command line) and admins.

use chrono::{DateTime, SecondsFormat, Utc};
use projections::campaigns::{self, CampaignFilter, CampaignRow};
use projections::paging::PageCursor;
use projections::test_cases::{self, TestCaseFilter, TestCaseRow};
use serde::Serialize;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

/// Rows read per query while exporting.
const PAGE: i64 = 500;

/// What an export holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Dataset {
    TestCases,
    Campaigns,
}

/// The format of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Csv,
    Json,
}

/// Every test case (of `campaign` when given), oldest first.
pub async fn all_test_cases(
    pool: &PgPool,
    campaign: Option<Uuid>,
) -> Result<Vec<TestCaseRow>, sqlx::Error> {
    let filter = TestCaseFilter {
        campaign_id: campaign,
        ..TestCaseFilter::default()
    };
    let mut rows: Vec<TestCaseRow> = Vec::new();
    loop {
        let after = rows.last().map(|row| PageCursor {
            at: row.planned_at,
            id: row.test_case_id,
        });
        let page = test_cases::page(pool, &filter, after.as_ref(), PAGE).await?;
        let done = i64::try_from(page.len()).unwrap_or(i64::MAX) < PAGE;
        rows.extend(page);
        if done {
            return Ok(rows);
        }
    }
}

/// Every campaign (only `campaign` when given), oldest first.
pub async fn all_campaigns(
    pool: &PgPool,
    campaign: Option<Uuid>,
) -> Result<Vec<CampaignRow>, sqlx::Error> {
    if let Some(campaign) = campaign {
        return Ok(campaigns::find(pool, campaign).await?.into_iter().collect());
    }
    let mut rows: Vec<CampaignRow> = Vec::new();
    loop {
        let after = rows.last().map(CampaignRow::cursor);
        let page = campaigns::page(pool, &CampaignFilter::default(), after.as_ref(), PAGE).await?;
        let done = i64::try_from(page.len()).unwrap_or(i64::MAX) < PAGE;
        rows.extend(page);
        if done {
            return Ok(rows);
        }
    }
}

fn time(moment: Option<DateTime<Utc>>) -> String {
    moment.map_or_else(String::new, |moment| {
        moment.to_rfc3339_opts(SecondsFormat::Secs, true)
    })
}

fn name<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|value| value.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// One test case as a CSV row.
#[derive(Debug, Serialize)]
struct TestCaseLine {
    id: Uuid,
    title: String,
    technique: String,
    state: String,
    outcome: String,
    run: i32,
    platforms: String,
    tags: String,
    blind: bool,
    red_assignee: String,
    blue_assignee: String,
    planned_at: String,
    first_execution_started_at: String,
    completed_at: String,
    time_to_detect_seconds: String,
    /// `tool: outcome (severity, detected at)` per tool of the current run.
    outcomes: String,
    commands: String,
    detection_rules: String,
}

fn current_outcomes(row: &TestCaseRow) -> impl Iterator<Item = &test_cases::OutcomeRow> {
    row.outcomes
        .iter()
        .filter(move |outcome| outcome.run == row.run)
}

fn test_case_line(row: &TestCaseRow) -> TestCaseLine {
    let outcomes: Vec<String> = current_outcomes(row)
        .map(|outcome| {
            let severity = outcome.severity.as_ref().map(name).unwrap_or_default();
            format!(
                "{}: {} ({severity}, {})",
                outcome.tool,
                name(&outcome.outcome),
                time(outcome.detected_at)
            )
        })
        .collect();
    TestCaseLine {
        id: row.test_case_id,
        title: row.title.clone(),
        technique: row.technique.clone(),
        state: row.state.as_str().to_owned(),
        outcome: row.outcome.as_ref().map(name).unwrap_or_default(),
        run: row.run,
        platforms: row.platforms.join("; "),
        tags: row.tags.join("; "),
        blind: row.blind,
        red_assignee: row
            .red_assignee
            .map(|id| id.to_string())
            .unwrap_or_default(),
        blue_assignee: row
            .blue_assignee
            .map(|id| id.to_string())
            .unwrap_or_default(),
        planned_at: time(Some(row.planned_at)),
        first_execution_started_at: time(row.first_execution_started_at),
        completed_at: time(row.completed_at),
        time_to_detect_seconds: row
            .time_to_detect_ms
            .map(|ms| format!("{:.3}", ms as f64 / 1000.0))
            .unwrap_or_default(),
        outcomes: outcomes.join("; "),
        commands: row
            .executions
            .iter()
            .filter(|execution| execution.run == row.run)
            .map(|execution| execution.command.as_str())
            .collect::<Vec<_>>()
            .join("; "),
        detection_rules: row.detection_rules.join("; "),
    }
}

fn test_case_json(row: &TestCaseRow) -> Value {
    json!({
        "id": row.test_case_id,
        "title": row.title,
        "objective": row.objective,
        "technique": row.technique,
        "state": row.state.as_str(),
        "outcome": row.outcome,
        "run": row.run,
        "platforms": row.platforms,
        "targets": row.targets,
        "tags": row.tags,
        "blind": row.blind,
        "red_assignee": row.red_assignee,
        "blue_assignee": row.blue_assignee,
        "planned_at": row.planned_at,
        "first_execution_started_at": row.first_execution_started_at,
        "completed_at": row.completed_at,
        "time_to_detect_ms": row.time_to_detect_ms,
        "detection_rules": row.detection_rules,
        "outcomes": row.outcomes.iter().map(|outcome| json!({
            "run": outcome.run,
            "tool": outcome.tool,
            "outcome": outcome.outcome,
            "severity": outcome.severity,
            "detected_at": outcome.detected_at,
            "rules_fired": outcome.rules_fired,
            "recorded_at": outcome.recorded_at,
        })).collect::<Vec<_>>(),
        "executions": row.executions.iter().map(|execution| json!({
            "run": execution.run,
            "command": execution.command,
            "target": execution.target,
            "started_at": execution.started_at,
            "stopped_at": execution.stopped_at,
        })).collect::<Vec<_>>(),
        "evidence": row.evidence.iter().filter(|evidence| !evidence.removed).map(|evidence| json!({
            "file_name": evidence.file_name,
            "sha256": evidence.sha256,
            "side": evidence.side,
        })).collect::<Vec<_>>(),
    })
}

/// One campaign as a CSV row (the JSON adds nothing: a campaign has no lists but its scope).
#[derive(Debug, Serialize)]
struct CampaignLine {
    id: Uuid,
    name: String,
    status: String,
    scope_techniques: String,
    scope_threat_actor: String,
    planned_start: String,
    planned_end: String,
    activated_at: String,
    completed_at: String,
    test_cases: i64,
    closed: i64,
    percent_complete: String,
    /// Per outcome of the members' current runs: `blocked: 3; alerted: 1`.
    outcomes: String,
    time_to_detect_median_seconds: String,
}

async fn campaign_line(pool: &PgPool, row: &CampaignRow) -> Result<CampaignLine, sqlx::Error> {
    let progress = campaigns::campaign_progress(pool, row.campaign_id).await?;
    let outcomes = progress.as_ref().map_or_else(String::new, |progress| {
        progress
            .by_outcome
            .iter()
            .filter(|count| count.count > 0)
            .map(|count| {
                let outcome = count
                    .outcome
                    .as_ref()
                    .map_or_else(|| "none yet".to_owned(), name);
                format!("{outcome}: {}", count.count)
            })
            .collect::<Vec<_>>()
            .join("; ")
    });
    Ok(CampaignLine {
        id: row.campaign_id,
        name: row.name.clone(),
        status: name(&row.status),
        scope_techniques: row.scope_techniques.join("; "),
        scope_threat_actor: row.scope_threat_actor.clone().unwrap_or_default(),
        planned_start: time(Some(row.planned_start)),
        planned_end: time(Some(row.planned_end)),
        activated_at: time(row.activated_at),
        completed_at: time(row.completed_at),
        test_cases: progress.as_ref().map_or(0, |progress| progress.total),
        closed: progress.as_ref().map_or(0, |progress| progress.closed),
        percent_complete: progress
            .as_ref()
            .and_then(|progress| progress.percent_complete)
            .map(|percent| format!("{percent:.1}"))
            .unwrap_or_default(),
        outcomes,
        time_to_detect_median_seconds: progress
            .as_ref()
            .and_then(|progress| progress.time_to_detect.median_ms)
            .map(|ms| format!("{:.3}", ms as f64 / 1000.0))
            .unwrap_or_default(),
    })
}

/// The export as bytes.
pub async fn render(
    pool: &PgPool,
    dataset: Dataset,
    format: Format,
    campaign: Option<Uuid>,
) -> anyhow::Result<Vec<u8>> {
    match dataset {
        Dataset::TestCases => {
            let rows = all_test_cases(pool, campaign).await?;
            match format {
                Format::Csv => csv_bytes(rows.iter().map(test_case_line)),
                Format::Json => Ok(serde_json::to_vec_pretty(
                    &rows.iter().map(test_case_json).collect::<Vec<_>>(),
                )?),
            }
        }
        Dataset::Campaigns => {
            let rows = all_campaigns(pool, campaign).await?;
            let mut lines = Vec::with_capacity(rows.len());
            for row in &rows {
                lines.push(campaign_line(pool, row).await?);
            }
            match format {
                Format::Csv => csv_bytes(lines),
                Format::Json => Ok(serde_json::to_vec_pretty(&lines)?),
            }
        }
    }
}

fn csv_bytes<T: Serialize>(lines: impl IntoIterator<Item = T>) -> anyhow::Result<Vec<u8>> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    for line in lines {
        writer.serialize(line)?;
    }
    Ok(writer.into_inner()?)
}
