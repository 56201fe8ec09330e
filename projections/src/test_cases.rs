//! The test cases read model: one row per test case (its current run's plan, state, assignees and derived
//! result) and its children per run: runs, defense outcomes, executions, comments and evidence. Campaign
//! membership is not here but in [`crate::campaigns`], which owns it.
//!
//! Blind tests: the rows hold everything; [`TestCaseRow::redacted_for_blue`] removes what the domain's
//! module docs (`domain::test_case`, "Blind tests") withhold from blue, and the API applies it.
//!
//! # Idempotence
//! Every row of `test_cases` keeps the aggregate sequence of the last event applied to it, and an event
//! changes nothing unless it is newer (see `claim`); all child rows of an event are written only then.
//! Rows carry the events' own times, never the clock, so a rebuild reproduces them exactly.

use std::collections::HashMap;
use std::error::Error as StdError;

use chrono::{DateTime, Utc};
use domain::test_case::{
    ActiveState, DefenseOutcome, DetectionRuleRef, EvidenceRef, Execution, Outcome, Plan,
    ProcedureSource, Severity, Side, Tag, TechniqueId, TestCaseEvent, TestState,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Row};
use uuid::Uuid;

use crate::paging::PageCursor;
use crate::projector::{Projection, StoredEvent, streams_of};

/// Keeps `test_cases` and its child tables in step with `TestCase` events.
#[derive(Debug, Clone, Copy, Default)]
pub struct TestCases;

#[async_trait::async_trait]
impl Projection for TestCases {
    fn name(&self) -> &'static str {
        "test_cases"
    }

    fn tables(&self) -> &'static [&'static str] {
        &[
            "test_cases",
            "test_case_runs",
            "test_case_outcomes",
            "test_case_executions",
            "test_case_comments",
            "test_case_evidence",
        ]
    }

    async fn apply(
        &self,
        connection: &mut PgConnection,
        events: &[StoredEvent],
    ) -> Result<(), sqlx::Error> {
        for (test_case_id, event) in streams_of(events, "TestCase") {
            let payload: TestCaseEvent = event.payload()?;
            apply(connection, test_case_id, event.sequence, &payload).await?;
        }
        Ok(())
    }
}

/// Where an event applies: its test case, its sequence in the test case's stream, the run it belongs to
/// (the current one before the event) and the time of its command.
#[derive(Debug, Clone, Copy)]
struct Step {
    test_case_id: Uuid,
    sequence: i64,
    run: i32,
    at: DateTime<Utc>,
}

#[expect(
    clippy::too_many_lines,
    reason = "one short arm per event, so the projection reads as the event list"
)]
async fn apply(
    connection: &mut PgConnection,
    test_case_id: Uuid,
    sequence: i64,
    event: &TestCaseEvent,
) -> Result<(), sqlx::Error> {
    if let TestCaseEvent::Planned {
        planned_by,
        at,
        plan,
    } = event
    {
        return insert_planned(connection, test_case_id, sequence, *planned_by, *at, plan).await;
    }
    let at = event_time(event);
    let Some(run) = claim(connection, test_case_id, sequence, at).await? else {
        return Ok(());
    };
    let step = Step {
        test_case_id,
        sequence,
        run,
        at,
    };
    if let Some(state) = state_after(event) {
        set_state(connection, test_case_id, state, at).await?;
    }
    match event {
        TestCaseEvent::PlanEdited { plan, .. } => update_plan(connection, test_case_id, plan).await,
        TestCaseEvent::Assigned {
            red_assignee,
            blue_assignee,
            ..
        } => {
            sqlx::query(
                "UPDATE test_cases
                    SET red_assignee = coalesce($2, red_assignee), blue_assignee = coalesce($3, blue_assignee)
                  WHERE test_case_id = $1",
            )
            .bind(test_case_id)
            .bind(red_assignee)
            .bind(blue_assignee)
            .execute(connection)
            .await
            .map(drop)
        }
        TestCaseEvent::ExecutionRecorded {
            recorded_by,
            execution,
            ..
        } => record_execution(connection, step, *recorded_by, execution).await,
        TestCaseEvent::OutcomeRecorded {
            recorded_by,
            defense,
            ..
        } => record_outcome(connection, step, *recorded_by, defense).await,
        TestCaseEvent::ResultApproved {
            approved_by,
            outcome,
            ..
        } => approve(connection, step, *approved_by, *outcome).await,
        TestCaseEvent::Abandoned {
            abandoned_by,
            reason,
            ..
        } => {
            sqlx::query(
                "UPDATE test_case_runs SET abandoned_by = $3, abandoned_at = $4, abandon_reason = $5
                  WHERE test_case_id = $1 AND run = $2",
            )
            .bind(test_case_id)
            .bind(run)
            .bind(abandoned_by)
            .bind(at)
            .bind(reason.as_str())
            .execute(connection)
            .await
            .map(drop)
        }
        TestCaseEvent::Reopened {
            reopened_by,
            reason,
            run: next_run,
            ..
        } => reopen(connection, step, *next_run, *reopened_by, reason.as_str()).await,
        TestCaseEvent::RevealedToBlue { .. } => {
            sqlx::query("UPDATE test_cases SET revealed = true WHERE test_case_id = $1")
                .bind(test_case_id)
                .execute(connection)
                .await
                .map(drop)
        }
        TestCaseEvent::DetectionRuleLinked { rule, .. } => {
            set_rules(connection, test_case_id, "array_append", rule.as_str()).await
        }
        TestCaseEvent::DetectionRuleUnlinked { rule, .. } => {
            set_rules(connection, test_case_id, "array_remove", rule.as_str()).await
        }
        TestCaseEvent::CommentAdded { author, body, .. } => {
            sqlx::query(
                "INSERT INTO test_case_comments (test_case_id, sequence, run, author, body, at)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(test_case_id)
            .bind(sequence)
            .bind(run)
            .bind(author)
            .bind(body.as_str())
            .bind(at)
            .execute(connection)
            .await
            .map(drop)
        }
        TestCaseEvent::EvidenceAttached {
            attached_by,
            side,
            evidence,
            ..
        } => attach_evidence(connection, step, *attached_by, *side, evidence).await,
        TestCaseEvent::EvidenceRemoved {
            removed_by,
            evidence_id,
            ..
        } => {
            sqlx::query(
                "UPDATE test_case_evidence SET removed = true, removed_by = $4, removed_at = $5
                  WHERE test_case_id = $1 AND run = $2 AND evidence_id = $3",
            )
            .bind(test_case_id)
            .bind(run)
            .bind(evidence_id)
            .bind(removed_by)
            .bind(at)
            .execute(connection)
            .await
            .map(drop)
        }
        // Only a state change, made above.
        TestCaseEvent::Planned { .. }
        | TestCaseEvent::ExecutionStarted { .. }
        | TestCaseEvent::ExecutionCompleted { .. }
        | TestCaseEvent::ReviewStarted { .. }
        | TestCaseEvent::SubmittedForApproval { .. }
        | TestCaseEvent::ResultRejected { .. }
        | TestCaseEvent::Paused { .. }
        | TestCaseEvent::Resumed { .. } => Ok(()),
    }
}

/// The state a test case is in after `event`, when the event changes it: the transitions of the
/// aggregate's `apply`.
fn state_after(event: &TestCaseEvent) -> Option<TestState> {
    Some(match event {
        TestCaseEvent::Planned { .. } => TestState::Planned,
        TestCaseEvent::Assigned { .. } | TestCaseEvent::Reopened { .. } => TestState::Assigned,
        TestCaseEvent::ExecutionStarted { .. } => TestState::Executing,
        TestCaseEvent::ExecutionCompleted { .. } => TestState::Executed,
        TestCaseEvent::ReviewStarted { .. } => TestState::Reviewing,
        TestCaseEvent::SubmittedForApproval { .. } => TestState::AwaitingApproval,
        TestCaseEvent::ResultApproved { .. } => TestState::Completed,
        TestCaseEvent::ResultRejected { back_to, .. } => back_to.working_state().into(),
        TestCaseEvent::Paused { previous, .. } => TestState::Paused {
            previous: *previous,
        },
        TestCaseEvent::Resumed { state, .. } => (*state).into(),
        TestCaseEvent::Abandoned { .. } => TestState::Abandoned,
        TestCaseEvent::PlanEdited { .. }
        | TestCaseEvent::ExecutionRecorded { .. }
        | TestCaseEvent::OutcomeRecorded { .. }
        | TestCaseEvent::RevealedToBlue { .. }
        | TestCaseEvent::DetectionRuleLinked { .. }
        | TestCaseEvent::DetectionRuleUnlinked { .. }
        | TestCaseEvent::CommentAdded { .. }
        | TestCaseEvent::EvidenceAttached { .. }
        | TestCaseEvent::EvidenceRemoved { .. } => return None,
    })
}

async fn record_execution(
    connection: &mut PgConnection,
    step: Step,
    recorded_by: Uuid,
    execution: &Execution,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO test_case_executions (test_case_id, sequence, run, command, target, started_at,
                                           stopped_at, output_excerpt, recorded_by, recorded_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(step.test_case_id)
    .bind(step.sequence)
    .bind(step.run)
    .bind(execution.command.as_str())
    .bind(execution.target.as_str())
    .bind(execution.started_at)
    .bind(execution.stopped_at)
    .bind(execution.output_excerpt.as_str())
    .bind(recorded_by)
    .bind(step.at)
    .execute(&mut *connection)
    .await?;
    refresh_result(connection, step.test_case_id, step.run).await
}

async fn record_outcome(
    connection: &mut PgConnection,
    step: Step,
    recorded_by: Uuid,
    defense: &DefenseOutcome,
) -> Result<(), sqlx::Error> {
    let rules: Vec<&str> = defense
        .rules_fired
        .iter()
        .map(DetectionRuleRef::as_str)
        .collect();
    // Recording a tool again replaces its outcome in this run, as in the aggregate.
    sqlx::query(
        "INSERT INTO test_case_outcomes (test_case_id, run, tool, outcome, severity, detected_at,
                                         rules_fired, recorded_by, recorded_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (test_case_id, run, tool) DO UPDATE
            SET outcome = excluded.outcome, severity = excluded.severity,
                detected_at = excluded.detected_at, rules_fired = excluded.rules_fired,
                recorded_by = excluded.recorded_by, recorded_at = excluded.recorded_at",
    )
    .bind(step.test_case_id)
    .bind(step.run)
    .bind(defense.tool.as_str())
    .bind(serde_name(&defense.outcome)?)
    .bind(defense.severity.as_ref().map(serde_name).transpose()?)
    .bind(defense.detected_at)
    .bind(&rules)
    .bind(recorded_by)
    .bind(step.at)
    .execute(&mut *connection)
    .await?;
    refresh_result(connection, step.test_case_id, step.run).await
}

/// `function` is `array_append` or `array_remove`, named by the caller, never input.
async fn set_rules(
    connection: &mut PgConnection,
    test_case_id: Uuid,
    function: &'static str,
    rule: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "UPDATE test_cases SET detection_rules = {function}(detection_rules, $2) WHERE test_case_id = $1"
    ))
    .bind(test_case_id)
    .bind(rule)
    .execute(connection)
    .await?;
    Ok(())
}

async fn attach_evidence(
    connection: &mut PgConnection,
    step: Step,
    attached_by: Uuid,
    side: Side,
    evidence: &EvidenceRef,
) -> Result<(), sqlx::Error> {
    // Evidence removed earlier in the run may be attached again under its id.
    sqlx::query(
        "INSERT INTO test_case_evidence (test_case_id, run, evidence_id, side, sha256, file_name,
                                         attached_by, attached_at, removed, size, content_type)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, false, $9, $10)
         ON CONFLICT (test_case_id, run, evidence_id) DO UPDATE
            SET side = excluded.side, sha256 = excluded.sha256, file_name = excluded.file_name,
                attached_by = excluded.attached_by, attached_at = excluded.attached_at,
                removed = false, removed_by = NULL, removed_at = NULL,
                size = excluded.size, content_type = excluded.content_type",
    )
    .bind(step.test_case_id)
    .bind(step.run)
    .bind(evidence.id)
    .bind(serde_name(&side)?)
    .bind(evidence.sha256.as_str())
    .bind(evidence.file_name.as_str())
    .bind(attached_by)
    .bind(step.at)
    .bind(
        evidence
            .stored
            .as_ref()
            .map(|stored| i64::try_from(stored.size).unwrap_or(i64::MAX)),
    )
    .bind(
        evidence
            .stored
            .as_ref()
            .map(|stored| stored.content_type.as_str()),
    )
    .execute(connection)
    .await?;
    Ok(())
}

/// The time every test case event carries: when its command was given.
fn event_time(event: &TestCaseEvent) -> DateTime<Utc> {
    match event {
        TestCaseEvent::Planned { at, .. }
        | TestCaseEvent::PlanEdited { at, .. }
        | TestCaseEvent::Assigned { at, .. }
        | TestCaseEvent::ExecutionStarted { at, .. }
        | TestCaseEvent::ExecutionRecorded { at, .. }
        | TestCaseEvent::ExecutionCompleted { at, .. }
        | TestCaseEvent::ReviewStarted { at, .. }
        | TestCaseEvent::OutcomeRecorded { at, .. }
        | TestCaseEvent::SubmittedForApproval { at, .. }
        | TestCaseEvent::ResultApproved { at, .. }
        | TestCaseEvent::ResultRejected { at, .. }
        | TestCaseEvent::Paused { at, .. }
        | TestCaseEvent::Resumed { at, .. }
        | TestCaseEvent::Abandoned { at, .. }
        | TestCaseEvent::Reopened { at, .. }
        | TestCaseEvent::RevealedToBlue { at, .. }
        | TestCaseEvent::DetectionRuleLinked { at, .. }
        | TestCaseEvent::DetectionRuleUnlinked { at, .. }
        | TestCaseEvent::CommentAdded { at, .. }
        | TestCaseEvent::EvidenceAttached { at, .. }
        | TestCaseEvent::EvidenceRemoved { at, .. } => *at,
    }
}

async fn insert_planned(
    connection: &mut PgConnection,
    test_case_id: Uuid,
    sequence: i64,
    planned_by: Uuid,
    at: DateTime<Utc>,
    plan: &Plan,
) -> Result<(), sqlx::Error> {
    let inserted = sqlx::query(
        "INSERT INTO test_cases (test_case_id, last_sequence, run, state, title, objective, technique,
                                 procedure_source, steps, platforms, targets, tags, blind, revealed,
                                 detection_rules, planned_by, planned_at, state_changed_at, last_changed_at)
         VALUES ($1, $2, 1, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, false, '{}', $13, $14, $14, $14)
         ON CONFLICT (test_case_id) DO NOTHING",
    )
    .bind(test_case_id)
    .bind(sequence)
    .bind(TestState::Planned.as_str())
    .bind(plan.title.as_str())
    .bind(plan.objective.as_str())
    .bind(plan.technique.as_str())
    .bind(procedure_json(&plan.procedure)?)
    .bind(plan.steps.as_str())
    .bind(keywords(&plan.platforms, |platform| platform.as_str()))
    .bind(keywords(&plan.targets, |target| target.as_str()))
    .bind(keywords(&plan.tags, |tag| tag.as_str()))
    .bind(plan.blind)
    .bind(planned_by)
    .bind(at)
    .execute(&mut *connection)
    .await?;
    // Nothing inserted: this event was applied before, and so was its run.
    if inserted.rows_affected() == 0 {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO test_case_runs (test_case_id, run, started_at, started_by) VALUES ($1, 1, $2, $3)",
    )
    .bind(test_case_id)
    .bind(at)
    .bind(planned_by)
    .execute(&mut *connection)
    .await?;
    Ok(())
}

/// Marks `sequence` as applied to the test case and returns its current run, or `None` when the event was
/// applied before. An event for a test case that was never planned is an error: the aggregate only emits
/// events after `Planned`, so the log or this projection is broken and must not be papered over.
async fn claim(
    connection: &mut PgConnection,
    test_case_id: Uuid,
    sequence: i64,
    at: DateTime<Utc>,
) -> Result<Option<i32>, sqlx::Error> {
    let run: Option<i32> = sqlx::query_scalar(
        "UPDATE test_cases SET last_sequence = $2, last_changed_at = $3
          WHERE test_case_id = $1 AND last_sequence < $2
          RETURNING run",
    )
    .bind(test_case_id)
    .bind(sequence)
    .bind(at)
    .fetch_optional(&mut *connection)
    .await?;
    if run.is_some() {
        return Ok(run);
    }
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM test_cases WHERE test_case_id = $1)")
            .bind(test_case_id)
            .fetch_one(&mut *connection)
            .await?;
    if exists {
        Ok(None)
    } else {
        Err(invalid(format!(
            "TestCase {test_case_id}: event {sequence} arrived before the test case was planned"
        )))
    }
}

async fn update_plan(
    connection: &mut PgConnection,
    test_case_id: Uuid,
    plan: &Plan,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE test_cases
            SET title = $2, objective = $3, technique = $4, procedure_source = $5, steps = $6, platforms = $7,
                targets = $8, tags = $9, blind = $10
          WHERE test_case_id = $1",
    )
    .bind(test_case_id)
    .bind(plan.title.as_str())
    .bind(plan.objective.as_str())
    .bind(plan.technique.as_str())
    .bind(procedure_json(&plan.procedure)?)
    .bind(plan.steps.as_str())
    .bind(keywords(&plan.platforms, |platform| platform.as_str()))
    .bind(keywords(&plan.targets, |target| target.as_str()))
    .bind(keywords(&plan.tags, |tag| tag.as_str()))
    .bind(plan.blind)
    .execute(connection)
    .await?;
    Ok(())
}

async fn set_state(
    connection: &mut PgConnection,
    test_case_id: Uuid,
    state: TestState,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let paused_from = match state {
        TestState::Paused { previous } => Some(TestState::from(previous).as_str()),
        _ => None,
    };
    sqlx::query(
        "UPDATE test_cases SET state = $2, paused_from = $3, state_changed_at = $4 WHERE test_case_id = $1",
    )
    .bind(test_case_id)
    .bind(state.as_str())
    .bind(paused_from)
    .bind(at)
    .execute(connection)
    .await?;
    Ok(())
}

/// Completes the run with the outcome the lead approved; the state is set by the caller.
async fn approve(
    connection: &mut PgConnection,
    step: Step,
    approved_by: Uuid,
    approved: Outcome,
) -> Result<(), sqlx::Error> {
    let Step {
        test_case_id,
        run,
        at,
        ..
    } = step;
    let derived: Option<String> =
        sqlx::query_scalar("SELECT outcome FROM test_cases WHERE test_case_id = $1")
            .bind(test_case_id)
            .fetch_one(&mut *connection)
            .await?;
    let approved_name = serde_name(&approved)?;
    // The aggregate approves the outcome it derives; a difference means this projection derives it
    // differently, which the read side must hear about even though the approved outcome is recorded.
    if derived.as_deref() != Some(approved_name.as_str()) {
        tracing::warn!(
            %test_case_id, run, ?derived, approved = %approved_name,
            "the projected outcome differs from the approved one"
        );
    }
    sqlx::query("UPDATE test_cases SET completed_at = $2 WHERE test_case_id = $1")
        .bind(test_case_id)
        .bind(at)
        .execute(&mut *connection)
        .await?;
    sqlx::query(
        "UPDATE test_case_runs SET approved_outcome = $3, approved_by = $4, completed_at = $5
          WHERE test_case_id = $1 AND run = $2",
    )
    .bind(test_case_id)
    .bind(run)
    .bind(&approved_name)
    .bind(approved_by)
    .bind(at)
    .execute(connection)
    .await?;
    Ok(())
}

/// Starts `next_run` with the same plan, assignees, rules and reveal, and without a result; the state is
/// set by the caller.
async fn reopen(
    connection: &mut PgConnection,
    step: Step,
    next_run: u32,
    reopened_by: Uuid,
    reason: &str,
) -> Result<(), sqlx::Error> {
    let run =
        i32::try_from(next_run).map_err(|_| invalid(format!("run {next_run} is out of range")))?;
    sqlx::query(
        "UPDATE test_cases
            SET run = $2, outcome = NULL, time_to_detect_ms = NULL, first_execution_started_at = NULL,
                completed_at = NULL
          WHERE test_case_id = $1",
    )
    .bind(step.test_case_id)
    .bind(run)
    .execute(&mut *connection)
    .await?;
    sqlx::query(
        "INSERT INTO test_case_runs (test_case_id, run, started_at, started_by, reopen_reason)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(step.test_case_id)
    .bind(run)
    .bind(step.at)
    .bind(reopened_by)
    .bind(reason)
    .execute(connection)
    .await?;
    Ok(())
}

/// Derives `run`'s outcome and time to detect from its outcomes and executions, into the run and, since it
/// is the current run, into the test case.
async fn refresh_result(
    connection: &mut PgConnection,
    test_case_id: Uuid,
    run: i32,
) -> Result<(), sqlx::Error> {
    let row = sqlx::query(
        "SELECT array(SELECT outcome FROM test_case_outcomes WHERE test_case_id = $1 AND run = $2) AS outcomes,
                (SELECT min(started_at) FROM test_case_executions
                  WHERE test_case_id = $1 AND run = $2) AS started_at,
                (SELECT min(detected_at) FROM test_case_outcomes
                  WHERE test_case_id = $1 AND run = $2) AS detected_at",
    )
    .bind(test_case_id)
    .bind(run)
    .fetch_one(&mut *connection)
    .await?;
    let outcomes = row
        .try_get::<Vec<String>, _>("outcomes")?
        .iter()
        .map(|name| from_serde_name(name))
        .collect::<Result<Vec<Outcome>, _>>()?;
    let started_at: Option<DateTime<Utc>> = row.try_get("started_at")?;
    let detected_at: Option<DateTime<Utc>> = row.try_get("detected_at")?;
    let outcome = derived_outcome(&outcomes)
        .as_ref()
        .map(serde_name)
        .transpose()?;
    let time_to_detect = time_to_detect_ms(started_at, detected_at);
    sqlx::query(
        "UPDATE test_cases SET outcome = $2, time_to_detect_ms = $3, first_execution_started_at = $4
          WHERE test_case_id = $1",
    )
    .bind(test_case_id)
    .bind(&outcome)
    .bind(time_to_detect)
    .bind(started_at)
    .execute(&mut *connection)
    .await?;
    sqlx::query(
        "UPDATE test_case_runs SET outcome = $3, time_to_detect_ms = $4, first_execution_started_at = $5
          WHERE test_case_id = $1 AND run = $2",
    )
    .bind(test_case_id)
    .bind(run)
    .bind(&outcome)
    .bind(time_to_detect)
    .bind(started_at)
    .execute(&mut *connection)
    .await?;
    Ok(())
}

/// A run's outcome: the strongest of its tools' outcomes by the domain's order of [`Outcome`], so
/// `NotApplicable` only when every tool says so; `None` without outcomes. The same rule as
/// `domain::test_case::TestCase::outcome`, which needs the whole aggregate (whose `apply` is only reachable
/// through `cqrs_es`, a crate the read side does not depend on); the approval event's outcome is compared
/// with this one in `approve`.
pub fn derived_outcome(outcomes: &[Outcome]) -> Option<Outcome> {
    outcomes.iter().copied().max()
}

/// A run's time to detect in whole milliseconds (truncated towards zero): the earliest detection time
/// minus the earliest execution start; `None` without both, negative when a tool's clock runs behind red's.
/// The same rule as `domain::test_case::TestCase::time_to_detect`, reimplemented for the reason given at
/// [`derived_outcome`].
pub fn time_to_detect_ms(
    first_execution_started_at: Option<DateTime<Utc>>,
    first_detected_at: Option<DateTime<Utc>>,
) -> Option<i64> {
    Some(
        first_detected_at?
            .signed_duration_since(first_execution_started_at?)
            .num_milliseconds(),
    )
}

fn procedure_json(procedure: &ProcedureSource) -> Result<Value, sqlx::Error> {
    serde_json::to_value(procedure).map_err(|error| sqlx::Error::Encode(Box::new(error)))
}

/// A set of keywords as a text array, in the set's (sorted) order.
fn keywords<T>(values: &std::collections::BTreeSet<T>, as_str: fn(&T) -> &str) -> Vec<&str> {
    values.iter().map(as_str).collect()
}

// Helpers shared by the workflow read models (test cases, campaigns, scoring policies).

/// The name serde writes for a unit enum variant (`Outcome::NotDetected` → `"not_detected"`), which is how
/// the read models store the domain's enums.
pub(crate) fn serde_name<T: Serialize>(value: &T) -> Result<String, sqlx::Error> {
    match serde_json::to_value(value) {
        Ok(Value::String(name)) => Ok(name),
        Ok(other) => Err(sqlx::Error::Encode(
            format!("expected an enum name, serde wrote {other}").into(),
        )),
        Err(error) => Err(sqlx::Error::Encode(Box::new(error))),
    }
}

/// The enum variant serde reads from `name`, the inverse of [`serde_name`].
pub(crate) fn from_serde_name<T: DeserializeOwned>(name: &str) -> Result<T, sqlx::Error> {
    serde_json::from_value(Value::String(name.to_owned()))
        .map_err(|error| sqlx::Error::Decode(Box::new(error)))
}

/// A read model that cannot follow the log: loud, so that the batch is retried and someone looks.
pub(crate) fn invalid(message: String) -> sqlx::Error {
    sqlx::Error::Decode(Box::<dyn StdError + Send + Sync>::from(message))
}

// The read side.

/// One test case with everything recorded for it, in every run. Children are ordered by run, then as
/// recorded; the current run is [`TestCaseRow::run`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestCaseRow {
    pub test_case_id: Uuid,
    /// The current run, from 1.
    pub run: i32,
    pub state: TestState,
    pub title: String,
    /// `None` only in a copy redacted for blue, as are `procedure`, `steps` and `targets`.
    pub objective: Option<String>,
    /// The ATT&CK technique or sub-technique id.
    pub technique: String,
    pub procedure: Option<ProcedureSource>,
    pub steps: Option<String>,
    pub platforms: Vec<String>,
    pub targets: Option<Vec<String>>,
    pub tags: Vec<String>,
    pub blind: bool,
    pub revealed: bool,
    pub red_assignee: Option<Uuid>,
    pub blue_assignee: Option<Uuid>,
    /// In the order they were linked.
    pub detection_rules: Vec<String>,
    /// The current run's outcome as the domain derives it; `None` until an outcome is recorded.
    pub outcome: Option<Outcome>,
    /// The current run's time to detect (see [`time_to_detect_ms`]).
    pub time_to_detect_ms: Option<i64>,
    /// The earliest execution start of the current run.
    pub first_execution_started_at: Option<DateTime<Utc>>,
    pub planned_by: Uuid,
    pub planned_at: DateTime<Utc>,
    /// When the current run was approved; `None` unless completed.
    pub completed_at: Option<DateTime<Utc>>,
    /// When the state last changed.
    pub state_changed_at: DateTime<Utc>,
    /// When anything last changed; in a copy redacted for blue, when the state last changed.
    pub last_changed_at: DateTime<Utc>,
    /// Whether this is a copy with red's side withheld ([`TestCaseRow::redacted_for_blue`]).
    pub redacted: bool,
    pub runs: Vec<RunRow>,
    pub outcomes: Vec<OutcomeRow>,
    pub executions: Vec<ExecutionRow>,
    pub comments: Vec<CommentRow>,
    pub evidence: Vec<EvidenceRow>,
}

impl TestCaseRow {
    /// Whether blue users must not see red's side yet: a blind test not revealed (see the module docs of
    /// `domain::test_case`).
    pub fn is_hidden_from_blue(&self) -> bool {
        self.blind && !self.revealed
    }

    /// The test case as a blue user may see it. Unchanged unless [`Self::is_hidden_from_blue`]; otherwise
    /// without the objective, procedure, steps and targets, the executions, red's evidence and every time
    /// to detect and execution start (they give away when red attacked). The last change time becomes the
    /// last state change, because a later change may be red's. Who may see what is the API's decision: it
    /// calls this for blue users (a blue role, no red role, not admin).
    #[must_use]
    pub fn redacted_for_blue(&self) -> TestCaseRow {
        let mut row = self.clone();
        if !self.is_hidden_from_blue() {
            return row;
        }
        row.objective = None;
        row.procedure = None;
        row.steps = None;
        row.targets = None;
        row.time_to_detect_ms = None;
        row.first_execution_started_at = None;
        row.last_changed_at = row.state_changed_at;
        row.executions.clear();
        row.evidence.retain(|evidence| evidence.side == Side::Blue);
        for run in &mut row.runs {
            run.time_to_detect_ms = None;
            run.first_execution_started_at = None;
        }
        row.redacted = true;
        row
    }

    /// The position of this row in [`page`]'s order.
    pub fn cursor(&self) -> PageCursor {
        PageCursor {
            at: self.planned_at,
            id: self.test_case_id,
        }
    }
}

/// One run of a test case and its result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRow {
    pub run: i32,
    /// Planning for run 1, the reopen for the others.
    pub started_at: DateTime<Utc>,
    pub started_by: Uuid,
    pub reopen_reason: Option<String>,
    /// The run's derived outcome, time to detect and first execution start, as on the test case for the
    /// current run.
    pub outcome: Option<Outcome>,
    pub time_to_detect_ms: Option<i64>,
    pub first_execution_started_at: Option<DateTime<Utc>>,
    /// The outcome approved, when the run was completed.
    pub approved_outcome: Option<Outcome>,
    pub approved_by: Option<Uuid>,
    pub completed_at: Option<DateTime<Utc>>,
    pub abandoned_by: Option<Uuid>,
    pub abandoned_at: Option<DateTime<Utc>>,
    pub abandon_reason: Option<String>,
}

/// What one tool did in one run (the latest record of that tool in the run).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutcomeRow {
    pub run: i32,
    pub tool: String,
    pub outcome: Outcome,
    pub severity: Option<Severity>,
    pub detected_at: Option<DateTime<Utc>>,
    pub rules_fired: Vec<String>,
    pub recorded_by: Uuid,
    pub recorded_at: DateTime<Utc>,
}

/// One execution red recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionRow {
    pub run: i32,
    /// The sequence of the recording event in the test case's stream: unique, and in recording order.
    pub sequence: i64,
    pub command: String,
    pub target: String,
    pub started_at: DateTime<Utc>,
    pub stopped_at: DateTime<Utc>,
    pub output_excerpt: String,
    pub recorded_by: Uuid,
    pub recorded_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentRow {
    pub run: i32,
    /// The sequence of the event in the test case's stream: unique, and in the order written.
    pub sequence: i64,
    pub author: Uuid,
    pub body: String,
    pub at: DateTime<Utc>,
}

/// A file attached in a run; removed evidence stays listed, flagged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceRow {
    pub run: i32,
    pub evidence_id: Uuid,
    pub side: Side,
    pub sha256: String,
    pub file_name: String,
    pub attached_by: Uuid,
    pub attached_at: DateTime<Utc>,
    pub removed: bool,
    pub removed_by: Option<Uuid>,
    pub removed_at: Option<DateTime<Utc>>,
    /// Size and verified type of an uploaded file; `None` for evidence attached before verified uploads.
    pub size: Option<i64>,
    pub content_type: Option<String>,
}

/// Which test cases [`page`] lists; every field given narrows the list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TestCaseFilter {
    /// A state by the name of `TestState::as_str` (`"paused"` matches every paused test case).
    pub state: Option<String>,
    /// The technique and its sub-techniques: `T1003` also matches `T1003.001`.
    pub technique: Option<TechniqueId>,
    /// Members of this campaign.
    pub campaign_id: Option<Uuid>,
    /// Assigned to this user, on either side.
    pub assignee: Option<Uuid>,
    /// The current run's derived outcome.
    pub outcome: Option<Outcome>,
    pub tag: Option<Tag>,
}

const COLUMNS: &str = "t.test_case_id, t.run, t.state, t.paused_from, t.title, t.objective, t.technique,
    t.procedure_source, t.steps, t.platforms, t.targets, t.tags, t.blind, t.revealed, t.red_assignee,
    t.blue_assignee, t.detection_rules, t.outcome, t.time_to_detect_ms, t.first_execution_started_at,
    t.planned_by, t.planned_at, t.completed_at, t.state_changed_at, t.last_changed_at";

/// The test case with all its runs and children; `None` when there is none with this id.
pub async fn find(pool: &PgPool, test_case_id: Uuid) -> Result<Option<TestCaseRow>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM test_cases t WHERE t.test_case_id = $1"
    ))
    .bind(test_case_id)
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let mut rows = vec![test_case(&row)?];
    load_children(pool, &mut rows).await?;
    Ok(rows.pop())
}

/// The aggregate sequence of the last event applied to `test_case_id`'s row: it changes with every change
/// to the test case, so a poller compares it before reading the whole row again. `None` when there is no
/// such test case.
pub async fn revision(pool: &PgPool, test_case_id: Uuid) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT last_sequence FROM test_cases WHERE test_case_id = $1")
        .bind(test_case_id)
        .fetch_optional(pool)
        .await
}

/// Up to `limit` test cases matching `filter`, after `after`, ordered by `(planned_at, test_case_id)`; each
/// with its children (five queries per page, whatever its size). Ask for one more than a page to learn
/// whether another follows.
pub async fn page(
    pool: &PgPool,
    filter: &TestCaseFilter,
    after: Option<&PageCursor>,
    limit: i64,
) -> Result<Vec<TestCaseRow>, sqlx::Error> {
    let found = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM test_cases t
          WHERE ($1::timestamptz IS NULL OR (t.planned_at, t.test_case_id) > ($1, $2::uuid))
            AND ($3::text IS NULL OR t.state = $3)
            AND ($4::text IS NULL OR t.technique = $4 OR t.technique LIKE $4 || '.%')
            AND ($5::uuid IS NULL OR EXISTS (SELECT 1 FROM campaign_test_cases m
                                               WHERE m.campaign_id = $5 AND m.test_case_id = t.test_case_id))
            AND ($6::uuid IS NULL OR t.red_assignee = $6 OR t.blue_assignee = $6)
            AND ($7::text IS NULL OR t.outcome = $7)
            AND ($8::text IS NULL OR t.tags @> ARRAY[$8::text])
          ORDER BY t.planned_at, t.test_case_id
          LIMIT $9"
    ))
    .bind(after.map(|cursor| cursor.at))
    .bind(after.map(|cursor| cursor.id))
    .bind(filter.state.as_deref())
    .bind(filter.technique.as_ref().map(TechniqueId::as_str))
    .bind(filter.campaign_id)
    .bind(filter.assignee)
    .bind(filter.outcome.as_ref().map(serde_name).transpose()?)
    .bind(filter.tag.as_ref().map(Tag::as_str))
    .bind(limit)
    .fetch_all(pool)
    .await?;
    let mut rows = found.iter().map(test_case).collect::<Result<Vec<_>, _>>()?;
    load_children(pool, &mut rows).await?;
    Ok(rows)
}

fn test_case(row: &PgRow) -> Result<TestCaseRow, sqlx::Error> {
    let state: String = row.try_get("state")?;
    let paused_from: Option<String> = row.try_get("paused_from")?;
    let state = if state == "paused" {
        let previous: ActiveState = from_serde_name(paused_from.as_deref().unwrap_or_default())?;
        TestState::Paused { previous }
    } else {
        from_serde_name(&state)?
    };
    let procedure: Value = row.try_get("procedure_source")?;
    Ok(TestCaseRow {
        test_case_id: row.try_get("test_case_id")?,
        run: row.try_get("run")?,
        state,
        title: row.try_get("title")?,
        objective: Some(row.try_get("objective")?),
        technique: row.try_get("technique")?,
        procedure: Some(
            serde_json::from_value(procedure)
                .map_err(|error| sqlx::Error::Decode(Box::new(error)))?,
        ),
        steps: Some(row.try_get("steps")?),
        platforms: row.try_get("platforms")?,
        targets: Some(row.try_get("targets")?),
        tags: row.try_get("tags")?,
        blind: row.try_get("blind")?,
        revealed: row.try_get("revealed")?,
        red_assignee: row.try_get("red_assignee")?,
        blue_assignee: row.try_get("blue_assignee")?,
        detection_rules: row.try_get("detection_rules")?,
        outcome: optional_name(row, "outcome")?,
        time_to_detect_ms: row.try_get("time_to_detect_ms")?,
        first_execution_started_at: row.try_get("first_execution_started_at")?,
        planned_by: row.try_get("planned_by")?,
        planned_at: row.try_get("planned_at")?,
        completed_at: row.try_get("completed_at")?,
        state_changed_at: row.try_get("state_changed_at")?,
        last_changed_at: row.try_get("last_changed_at")?,
        redacted: false,
        runs: Vec::new(),
        outcomes: Vec::new(),
        executions: Vec::new(),
        comments: Vec::new(),
        evidence: Vec::new(),
    })
}

fn optional_name<T: DeserializeOwned>(row: &PgRow, column: &str) -> Result<Option<T>, sqlx::Error> {
    row.try_get::<Option<String>, _>(column)?
        .as_deref()
        .map(from_serde_name)
        .transpose()
}

/// Fills the children of `rows`, one query per child table.
async fn load_children(pool: &PgPool, rows: &mut [TestCaseRow]) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = rows.iter().map(|row| row.test_case_id).collect();
    let position: HashMap<Uuid, usize> = ids
        .iter()
        .enumerate()
        .map(|(index, id)| (*id, index))
        .collect();
    let owner = |row: &PgRow| -> Result<usize, sqlx::Error> {
        let id: Uuid = row.try_get("test_case_id")?;
        position.get(&id).copied().ok_or_else(|| {
            invalid(format!(
                "a child row of test case {id}, which was not asked for"
            ))
        })
    };
    let children = |table: &str, order: &str| {
        let sql = format!(
            "SELECT * FROM {table} WHERE test_case_id = ANY($1) ORDER BY test_case_id, {order}"
        );
        let ids = ids.clone();
        async move { sqlx::query(&sql).bind(ids).fetch_all(pool).await }
    };
    for row in children("test_case_runs", "run").await? {
        rows[owner(&row)?].runs.push(run_row(&row)?);
    }
    for row in children("test_case_outcomes", "run, recorded_at, tool").await? {
        rows[owner(&row)?].outcomes.push(outcome_row(&row)?);
    }
    for row in children("test_case_executions", "sequence").await? {
        rows[owner(&row)?].executions.push(execution_row(&row)?);
    }
    for row in children("test_case_comments", "sequence").await? {
        rows[owner(&row)?].comments.push(CommentRow {
            run: row.try_get("run")?,
            sequence: row.try_get("sequence")?,
            author: row.try_get("author")?,
            body: row.try_get("body")?,
            at: row.try_get("at")?,
        });
    }
    for row in children("test_case_evidence", "run, attached_at, evidence_id").await? {
        rows[owner(&row)?].evidence.push(evidence_row(&row)?);
    }
    Ok(())
}

fn run_row(row: &PgRow) -> Result<RunRow, sqlx::Error> {
    Ok(RunRow {
        run: row.try_get("run")?,
        started_at: row.try_get("started_at")?,
        started_by: row.try_get("started_by")?,
        reopen_reason: row.try_get("reopen_reason")?,
        outcome: optional_name(row, "outcome")?,
        time_to_detect_ms: row.try_get("time_to_detect_ms")?,
        first_execution_started_at: row.try_get("first_execution_started_at")?,
        approved_outcome: optional_name(row, "approved_outcome")?,
        approved_by: row.try_get("approved_by")?,
        completed_at: row.try_get("completed_at")?,
        abandoned_by: row.try_get("abandoned_by")?,
        abandoned_at: row.try_get("abandoned_at")?,
        abandon_reason: row.try_get("abandon_reason")?,
    })
}

fn outcome_row(row: &PgRow) -> Result<OutcomeRow, sqlx::Error> {
    Ok(OutcomeRow {
        run: row.try_get("run")?,
        tool: row.try_get("tool")?,
        outcome: from_serde_name(row.try_get("outcome")?)?,
        severity: optional_name(row, "severity")?,
        detected_at: row.try_get("detected_at")?,
        rules_fired: row.try_get("rules_fired")?,
        recorded_by: row.try_get("recorded_by")?,
        recorded_at: row.try_get("recorded_at")?,
    })
}

fn execution_row(row: &PgRow) -> Result<ExecutionRow, sqlx::Error> {
    Ok(ExecutionRow {
        run: row.try_get("run")?,
        sequence: row.try_get("sequence")?,
        command: row.try_get("command")?,
        target: row.try_get("target")?,
        started_at: row.try_get("started_at")?,
        stopped_at: row.try_get("stopped_at")?,
        output_excerpt: row.try_get("output_excerpt")?,
        recorded_by: row.try_get("recorded_by")?,
        recorded_at: row.try_get("recorded_at")?,
    })
}

fn evidence_row(row: &PgRow) -> Result<EvidenceRow, sqlx::Error> {
    Ok(EvidenceRow {
        run: row.try_get("run")?,
        evidence_id: row.try_get("evidence_id")?,
        side: from_serde_name(row.try_get("side")?)?,
        sha256: row.try_get("sha256")?,
        file_name: row.try_get("file_name")?,
        attached_by: row.try_get("attached_by")?,
        attached_at: row.try_get("attached_at")?,
        removed: row.try_get("removed")?,
        removed_by: row.try_get("removed_by")?,
        removed_at: row.try_get("removed_at")?,
        size: row.try_get("size")?,
        content_type: row.try_get("content_type")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// States are stored by `TestState::as_str` (a paused one's previous state too) and read back with serde.
    #[test]
    fn stored_state_names_read_back_as_the_same_state() {
        let active = [
            ActiveState::Planned,
            ActiveState::Assigned,
            ActiveState::Executing,
            ActiveState::Executed,
            ActiveState::Reviewing,
            ActiveState::AwaitingApproval,
        ];
        for previous in active {
            let state = TestState::from(previous);
            assert_eq!(
                from_serde_name::<TestState>(state.as_str()).ok(),
                Some(state)
            );
            assert_eq!(
                from_serde_name::<ActiveState>(state.as_str()).ok(),
                Some(previous)
            );
        }
        for state in [TestState::Completed, TestState::Abandoned] {
            assert_eq!(
                from_serde_name::<TestState>(state.as_str()).ok(),
                Some(state)
            );
        }
    }

    #[test]
    fn not_applicable_counts_only_when_every_tool_says_so() {
        assert_eq!(derived_outcome(&[]), None);
        assert_eq!(
            derived_outcome(&[Outcome::NotApplicable, Outcome::NotDetected]),
            Some(Outcome::NotDetected)
        );
        assert_eq!(
            derived_outcome(&[Outcome::NotApplicable, Outcome::NotApplicable]),
            Some(Outcome::NotApplicable)
        );
        assert_eq!(
            derived_outcome(&[Outcome::Logged, Outcome::Blocked, Outcome::Alerted]),
            Some(Outcome::Blocked)
        );
    }

    #[test]
    fn time_to_detect_needs_both_times_and_may_be_negative() {
        let at = |text: &str| text.parse::<DateTime<Utc>>().ok();
        assert_eq!(time_to_detect_ms(at("2025-03-01T10:00:00Z"), None), None);
        assert_eq!(time_to_detect_ms(None, at("2025-03-01T10:00:00Z")), None);
        assert_eq!(
            time_to_detect_ms(at("2025-03-01T10:00:00Z"), at("2025-03-01T10:01:00.250Z")),
            Some(60_250)
        );
        assert_eq!(
            time_to_detect_ms(at("2025-03-01T10:00:00Z"), at("2025-03-01T09:59:59Z")),
            Some(-1_000)
        );
    }
}
