//! A VECTR CSV export into Aegis (`aegis import vectr-csv`): each VECTR campaign becomes a campaign and each
//! row a test case that goes through the same workflow a live one does — planned, assigned, executed with
//! the row's command and times, reviewed with an outcome per detecting tool, approved — so that a VECTR user's
//! past counts in coverage, time travel and the audit log like everything else.
//!
//! # Whose history
//! Every command carries the row's own times (`at`, execution start and stop, detection time) as event data;
//! the events' metadata records the importing user and the import time. The importer must be an admin: one
//! person plays every part of the workflow, which only an admin may.
//!
//! # Nothing half-written, nothing twice
//! A row's commands are first decided in memory by the pure `TestCase` aggregate; only a row whose whole
//! sequence is accepted is written, and a refused one is reported with its campaign, name and reason. Ids
//! are derived from the row (assessment, campaign, name, technique, start), so importing the same file again
//! finds its test cases and campaigns there and adds nothing.

use std::collections::BTreeSet;

use chrono::{DateTime, TimeDelta, Utc};
use commands::context::CommandContext;
use commands::service::CommandError;
use cqrs_es::Aggregate;
use domain::actor::Actor;
use domain::campaign::{
    CampaignAction, CampaignCommand, CampaignDescription, CampaignError, CampaignName,
    CampaignScope,
};
use domain::test_case::{
    DefenseOutcome, Execution, Outcome, Plan, ProcedureSource, Tag, Target, TechniqueId, TestCase,
    TestCaseAction, TestCaseCommand, TestCaseError, Text, Title, ToolName,
};
use importers::interop::vectr::{self, VectrRecord, VectrStatus};
use serde::Serialize;
use uuid::Uuid;

use crate::state::AppState;

/// The namespace of the ids of imported test cases and campaigns.
const VECTR_NAMESPACE: Uuid = Uuid::from_u128(0x6165_6769_735f_7665_6374_725f_6964_0001);

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct VectrImport {
    pub campaigns: usize,
    pub test_cases: usize,
    /// Rows whose test case an earlier import of the file made.
    pub already_imported: usize,
    /// Rows left out, each with the reason.
    pub skipped: Vec<String>,
}

/// Imports the VECTR export `bytes` as `actor` (an admin).
pub async fn import(
    state: &AppState,
    actor: &Actor,
    context: &CommandContext,
    bytes: &[u8],
    now: DateTime<Utc>,
) -> anyhow::Result<VectrImport> {
    let export = vectr::parse(bytes)?;
    let mut summary = VectrImport {
        skipped: export
            .skipped
            .iter()
            .map(|skipped| format!("row {}: {}", skipped.row, skipped.reason))
            .collect(),
        ..VectrImport::default()
    };
    // Campaigns in the order the file first names them.
    let mut campaigns: Vec<((&str, &str), Vec<&VectrRecord>)> = Vec::new();
    for record in &export.records {
        let key = (record.assessment_group.as_str(), record.campaign.as_str());
        match campaigns.iter_mut().find(|(existing, _)| *existing == key) {
            Some((_, records)) => records.push(record),
            None => campaigns.push((key, vec![record])),
        }
    }
    for ((assessment, campaign), records) in campaigns {
        let mut members = Vec::new();
        for record in records {
            let label = format!("{campaign} / {}", record.variant);
            let Some(technique) = &record.technique else {
                summary.skipped.push(format!(
                    "{label}: no ATT&CK id (VECTR method {:?})",
                    record.method.as_deref().unwrap_or_default()
                ));
                continue;
            };
            let steps = match workflow(record, actor, now) {
                Ok(steps) => steps,
                Err(reason) => {
                    summary.skipped.push(format!("{label}: {reason}"));
                    continue;
                }
            };
            let test_case = Uuid::new_v5(
                &VECTR_NAMESPACE,
                format!(
                    "test case\0{assessment}\0{campaign}\0{}\0{technique}\0{:?}",
                    record.variant, record.start_time
                )
                .as_bytes(),
            );
            if write_test_case(state, context, test_case, steps).await? {
                summary.test_cases += 1;
            } else {
                summary.already_imported += 1;
            }
            members.push((test_case, record));
        }
        if !members.is_empty()
            && write_campaign(state, actor, context, assessment, campaign, &members, now).await?
        {
            summary.campaigns += 1;
        }
    }
    Ok(summary)
}

/// The row's times: start, stop and the detection (or the stop, or `now`, where the row has none).
fn times(
    record: &VectrRecord,
    now: DateTime<Utc>,
) -> (DateTime<Utc>, DateTime<Utc>, DateTime<Utc>) {
    let start = record
        .start_time
        .or(record.stop_time)
        .or(record.detection_time)
        .unwrap_or(now);
    let stop = record
        .stop_time
        .filter(|stop| *stop >= start)
        .unwrap_or(start);
    let judged = record
        .detection_time
        .filter(|at| *at >= stop)
        .unwrap_or(stop);
    (start, stop, judged)
}

fn text(field: &str, value: Option<&str>, fallback: &str) -> Result<Text, String> {
    Text::parse(
        value
            .filter(|value| !value.trim().is_empty())
            .unwrap_or(fallback),
    )
    .map_err(|error| format!("{field}: {error}"))
}

/// The row as a plan: its name, objective, technique, command, targets and tags.
fn plan(record: &VectrRecord) -> Result<Plan, String> {
    let technique = record.technique.clone().ok_or("no technique")?;
    let targets = record
        .target_assets
        .iter()
        .map(|target| Target::parse(target).map_err(|error| format!("target: {error}")))
        .collect::<Result<BTreeSet<_>, _>>()?;
    let mut tags = BTreeSet::from([Tag::parse("vectr-import").map_err(|error| error.to_string())?]);
    for tag in &record.tags {
        tags.insert(Tag::parse(tag).map_err(|error| format!("tag: {error}"))?);
    }
    let title: String = record.variant.chars().take(200).collect();
    Ok(Plan {
        title: Title::parse(&title).map_err(|error| format!("name: {error}"))?,
        objective: text(
            "objective",
            record.objective.as_deref(),
            "Imported from VECTR.",
        )?,
        technique,
        procedure: ProcedureSource::Manual,
        steps: text("command", record.command.as_deref(), NO_COMMAND)?,
        platforms: BTreeSet::new(),
        targets,
        tags,
        blind: false,
    })
}

/// What stands for the command of a row that has none.
const NO_COMMAND: &str = "(VECTR recorded no command)";

/// The commands that take the row's test case where VECTR left it, decided in memory first.
fn workflow(
    record: &VectrRecord,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<Vec<TestCaseCommand>, String> {
    let (start, stop, judged) = times(record, now);
    let plan = plan(record)?;
    let target = plan
        .targets
        .first()
        .cloned()
        .map_or_else(|| Target::parse("unknown"), Ok)
        .map_err(|error| error.to_string())?;
    let mut actions = vec![(start, TestCaseAction::PlanTestCase { plan })];
    match record.status {
        VectrStatus::Abandoned => {
            let reason = domain::test_case::Note::parse("abandoned in VECTR")
                .map_err(|error| error.to_string())?;
            actions.push((start, TestCaseAction::Abandon { reason }));
            return decided(actor, actions);
        }
        VectrStatus::NotPerformed => return decided(actor, actions),
        VectrStatus::InProgress | VectrStatus::Paused | VectrStatus::Completed => {}
    }
    actions.push((
        start,
        TestCaseAction::AssignTestCase {
            red_assignee: Some(actor.user_id),
            blue_assignee: Some(actor.user_id),
        },
    ));
    actions.push((start, TestCaseAction::StartExecution));
    actions.push((
        stop,
        TestCaseAction::RecordExecution {
            execution: Execution {
                command: text("command", record.command.as_deref(), NO_COMMAND)?,
                target,
                started_at: start,
                stopped_at: stop,
                output_excerpt: text("outcome notes", record.outcome_notes.as_deref(), "(none)")?,
            },
        },
    ));
    let outcome = match (record.status, record.domain_outcome()) {
        (VectrStatus::Completed, Some(outcome)) => outcome,
        (VectrStatus::Paused, _) => {
            actions.push((stop, TestCaseAction::Pause));
            return decided(actor, actions);
        }
        _ => return decided(actor, actions),
    };
    actions.push((stop, TestCaseAction::CompleteExecution));
    actions.push((judged, TestCaseAction::StartReview));
    for defense in defenses(record, outcome)? {
        actions.push((judged, TestCaseAction::RecordDefenseOutcome { defense }));
    }
    actions.push((judged, TestCaseAction::SubmitForApproval));
    actions.push((judged, TestCaseAction::ApproveResult));
    decided(actor, actions)
}

/// One outcome per detecting tool (VECTR itself when the row names none).
fn defenses(record: &VectrRecord, outcome: Outcome) -> Result<Vec<DefenseOutcome>, String> {
    let detected = matches!(
        outcome,
        Outcome::Alerted | Outcome::Logged | Outcome::Blocked
    );
    let tools = if record.detecting_tools.is_empty() {
        vec!["VECTR".to_owned()]
    } else {
        record.detecting_tools.clone()
    };
    tools
        .iter()
        .map(|tool| {
            Ok(DefenseOutcome {
                tool: ToolName::parse(tool).map_err(|error| format!("tool: {error}"))?,
                outcome,
                // Only a detection may carry a severity or a time (four sample rows say otherwise).
                severity: record.alert_severity.filter(|_| detected),
                detected_at: record.detection_time.filter(|_| detected),
                rules_fired: BTreeSet::new(),
            })
        })
        .collect()
}

/// The commands, after the aggregate accepted each of them in turn.
fn decided(
    actor: &Actor,
    actions: Vec<(DateTime<Utc>, TestCaseAction)>,
) -> Result<Vec<TestCaseCommand>, String> {
    let mut aggregate = TestCase::default();
    let mut commands = Vec::with_capacity(actions.len());
    for (at, action) in actions {
        let command = TestCaseCommand {
            actor: actor.clone(),
            at,
            action,
        };
        for event in aggregate
            .decide(command.clone())
            .map_err(|error| error.to_string())?
        {
            aggregate.apply(event);
        }
        commands.push(command);
    }
    Ok(commands)
}

/// Writes the test case; `false` when an earlier import made it.
async fn write_test_case(
    state: &AppState,
    context: &CommandContext,
    test_case: Uuid,
    commands: Vec<TestCaseCommand>,
) -> anyhow::Result<bool> {
    let id = test_case.to_string();
    for (index, command) in commands.into_iter().enumerate() {
        match state.test_cases.execute(context, &id, command).await {
            Ok(_) => {}
            Err(CommandError::Rejected(TestCaseError::AlreadyExists)) if index == 0 => {
                return Ok(false);
            }
            Err(error) => return Err(error.into()),
        }
    }
    Ok(true)
}

/// Creates the campaign with `members`, active from the first start to the last stop and completed when
/// every member was; `false` when an earlier import made it.
async fn write_campaign(
    state: &AppState,
    actor: &Actor,
    context: &CommandContext,
    assessment: &str,
    campaign: &str,
    members: &[(Uuid, &VectrRecord)],
    now: DateTime<Utc>,
) -> anyhow::Result<bool> {
    let starts = members.iter().map(|(_, record)| times(record, now));
    let first = starts
        .clone()
        .map(|(start, _, _)| start)
        .min()
        .unwrap_or(now);
    let last = starts.map(|(_, _, judged)| judged).max().unwrap_or(now);
    let techniques: Vec<&str> = members
        .iter()
        .filter_map(|(_, record)| record.technique.as_ref().map(TechniqueId::as_str))
        .collect();
    let id = Uuid::new_v5(
        &VECTR_NAMESPACE,
        format!("campaign\0{assessment}\0{campaign}").as_bytes(),
    )
    .to_string();
    let create = CampaignAction::Create {
        name: CampaignName::parse(&campaign.chars().take(200).collect::<String>())?,
        description: CampaignDescription::parse(&format!(
            "Imported from VECTR (assessment group \u{201c}{assessment}\u{201d})."
        ))?,
        scope: CampaignScope::parse(techniques, None)?,
        planned_start: first,
        planned_end: last.max(first + TimeDelta::minutes(1)),
        recurrence: None,
    };
    let mut actions = vec![(first, create)];
    actions.extend(members.iter().map(|(test_case, _)| {
        (
            first,
            CampaignAction::AddTestCase {
                test_case_id: *test_case,
            },
        )
    }));
    actions.push((first, CampaignAction::Activate));
    if members
        .iter()
        .all(|(_, record)| record.status == VectrStatus::Completed)
    {
        actions.push((last, CampaignAction::Complete));
    }
    for (index, (at, action)) in actions.into_iter().enumerate() {
        let command = CampaignCommand {
            actor: actor.clone(),
            at,
            action,
        };
        match state.campaigns.execute(context, &id, command).await {
            Ok(_) => {}
            Err(CommandError::Rejected(CampaignError::AlreadyExists)) if index == 0 => {
                return Ok(false);
            }
            Err(error) => return Err(error.into()),
        }
    }
    Ok(true)
}
