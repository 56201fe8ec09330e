//! Execution logs into Aegis (`aegis import attire|art-log`): each procedure an ATTiRe JSON log or an
//! Invoke-AtomicRedTeam CSV log records becomes a `RecordExecution` — on the open test case planned from the
//! same atomic test for the same technique (assigned or executing; started first when assigned), or on a new
//! test case planned from that atomic, assigned to the importer and started.
//!
//! An execution the test case holds already (same start and command) is not recorded twice, so importing a
//! log again adds nothing. Entries without a technique cannot be placed and are reported.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::Utc;
use commands::context::CommandContext;
use commands::service::CommandError;
use domain::actor::Actor;
use domain::test_case::{
    Execution, Plan, ProcedureSource, Tag, Target, TechniqueId, TestCaseAction, TestCaseCommand,
    Text, Title,
};
use importers::interop::execution_log::{self, ExecutionEntry, ExecutionLog};
use serde::Serialize;
use uuid::Uuid;

use crate::state::AppState;

/// Which log format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// ATTiRe JSON.
    Attire,
    /// The Invoke-AtomicRedTeam default CSV execution log.
    AtomicCsv,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ExecutionsImported {
    /// Executions recorded on test cases that were open for them.
    pub recorded: usize,
    /// Test cases planned for executions nothing was open for.
    pub planned: usize,
    /// Executions the test cases held already.
    pub already_recorded: usize,
    /// Entries left out, each with the reason.
    pub skipped: Vec<String>,
}

/// Reads the log `bytes` and records each execution as `actor`.
pub async fn import(
    state: &AppState,
    actor: &Actor,
    context: &CommandContext,
    format: LogFormat,
    bytes: &[u8],
) -> anyhow::Result<ExecutionsImported> {
    let log: ExecutionLog = match format {
        LogFormat::Attire => execution_log::parse_attire(bytes)?,
        LogFormat::AtomicCsv => execution_log::parse_atomic_csv(bytes)?,
    };
    let mut imported = ExecutionsImported {
        skipped: log
            .skipped
            .iter()
            .map(|skipped| format!("row {}: {}", skipped.row, skipped.reason))
            .collect(),
        ..ExecutionsImported::default()
    };
    let mut started_here: HashMap<(Uuid, TechniqueId), Uuid> = HashMap::new();
    let mut recorded_here = HashSet::new();
    for (index, entry) in log.entries.iter().enumerate() {
        let Some(technique) = &entry.technique else {
            imported
                .skipped
                .push(format!("entry {}: no ATT&CK technique", index + 1));
            continue;
        };
        let execution = execution(entry)?;
        // The read models may not have seen what this run wrote yet: its own test cases and executions
        // are remembered here.
        let key = entry.atomic_guid.map(|guid| (guid, technique.clone()));
        let here = key.as_ref().and_then(|key| started_here.get(key)).copied();
        let Some((test_case, mut actions, planned)) = (match here {
            Some(test_case) => Some((test_case, Vec::new(), false)),
            None => destination(state, actor, entry, technique, &execution).await?,
        }) else {
            imported.already_recorded += 1;
            continue;
        };
        let recorded = (test_case, execution.started_at, execution.command.clone());
        if recorded_here.contains(&recorded) {
            imported.already_recorded += 1;
            continue;
        }
        actions.push(TestCaseAction::RecordExecution { execution });
        let id = test_case.to_string();
        for (step, action) in actions.into_iter().enumerate() {
            let command = TestCaseCommand {
                actor: actor.clone(),
                at: Utc::now(),
                action,
            };
            match state.test_cases.execute(context, &id, command).await {
                Ok(_) => {}
                // Refused at the first step (the importer may not plan, or the open test case is not theirs):
                // nothing was written for the entry.
                Err(CommandError::Rejected(refusal)) if step == 0 => {
                    imported
                        .skipped
                        .push(format!("entry {}: {refusal}", index + 1));
                    break;
                }
                Err(error) => return Err(error.into()),
            }
            if step == 0 {
                if planned {
                    imported.planned += 1;
                } else {
                    imported.recorded += 1;
                }
                if let Some(key) = key.clone() {
                    started_here.insert(key, test_case);
                }
                recorded_here.insert(recorded.clone());
            }
        }
    }
    Ok(imported)
}

/// Where `execution` goes: the open test case of the same atomic and technique (started first when only
/// assigned), or a new one (`true`), with the actions that come before recording it; `None` when the open
/// test case holds the execution already.
async fn destination(
    state: &AppState,
    actor: &Actor,
    entry: &ExecutionEntry,
    technique: &TechniqueId,
    execution: &Execution,
) -> anyhow::Result<Option<(Uuid, Vec<TestCaseAction>, bool)>> {
    let open = match entry.atomic_guid {
        Some(guid) => {
            projections::test_cases::open_for_atomic(&state.pool, guid, technique.as_str()).await?
        }
        None => None,
    };
    let Some(test_case) = open else {
        let actions = vec![
            TestCaseAction::PlanTestCase {
                plan: plan(entry, technique)?,
            },
            TestCaseAction::AssignTestCase {
                red_assignee: Some(actor.user_id),
                blue_assignee: None,
            },
            TestCaseAction::StartExecution,
        ];
        return Ok(Some((Uuid::now_v7(), actions, true)));
    };
    let Some(row) = projections::test_cases::find(&state.pool, test_case).await? else {
        anyhow::bail!("test case {test_case} is listed but cannot be read");
    };
    let held = row.executions.iter().any(|held| {
        held.started_at == execution.started_at && held.command == execution.command.as_str()
    });
    if held {
        return Ok(None);
    }
    let actions = if row.state.as_str() == "assigned" {
        vec![TestCaseAction::StartExecution]
    } else {
        Vec::new()
    };
    Ok(Some((test_case, actions, false)))
}

/// The plan of a test case made for an execution nothing was open for.
fn plan(entry: &ExecutionEntry, technique: &TechniqueId) -> anyhow::Result<Plan> {
    let name = entry
        .test_name
        .clone()
        .unwrap_or_else(|| format!("{technique} atomic test {}", entry.test_number.unwrap_or(1)));
    Ok(Plan {
        title: Title::parse(&name.chars().take(200).collect::<String>())?,
        objective: Text::parse("Recorded from an execution log; say what it should show.")?,
        technique: technique.clone(),
        procedure: entry.atomic_guid.map_or(ProcedureSource::Manual, |guid| {
            ProcedureSource::AtomicTest { guid }
        }),
        steps: Text::parse(
            entry
                .command
                .as_deref()
                .unwrap_or("(see the execution log)"),
        )?,
        platforms: BTreeSet::new(),
        targets: entry
            .target_host
            .as_deref()
            .map(Target::parse)
            .transpose()?
            .into_iter()
            .collect(),
        tags: BTreeSet::from([Tag::parse("execution-log")?]),
        blind: false,
    })
}

fn execution(entry: &ExecutionEntry) -> anyhow::Result<Execution> {
    let mut output = entry.output.clone().unwrap_or_default();
    if let Some(code) = entry.exit_code {
        output = format!(
            "exit code {code}{}{output}",
            if output.is_empty() { "" } else { "\n" }
        );
    }
    if entry.timed_out {
        output.insert_str(0, "timed out\n");
    }
    Ok(Execution {
        command: Text::parse(
            entry
                .command
                .as_deref()
                .unwrap_or("(the log names no command)"),
        )?,
        target: Target::parse(entry.target_host.as_deref().unwrap_or("unknown"))?,
        started_at: entry.started_at,
        stopped_at: entry.stopped_at.unwrap_or(entry.started_at),
        output_excerpt: Text::parse(if output.is_empty() {
            "(no output)"
        } else {
            &output
        })?,
    })
}
