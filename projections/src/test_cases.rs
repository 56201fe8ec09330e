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

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::error::Error as StdError;

use chrono::{DateTime, Utc};
use domain::test_case::{
    ActiveState, DefenseOutcome, EvidenceRef, Outcome, Plan, ProcedureSource, Severity, Side, Tag,
    TechniqueId, TestCaseEvent, TestState,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Row};
use uuid::Uuid;

use crate::copy::BinaryRows;
use crate::paging::PageCursor;
use crate::projector::{Projection, StoredEvent, streams_of};
use crate::rows;

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
        let events = streams_of(events, "TestCase")
            .map(|(test_case_id, event)| Ok((test_case_id, event.sequence, event.payload()?)))
            .collect::<Result<Vec<(Uuid, i64, Cow<TestCaseEvent>)>, sqlx::Error>>()?;
        let mut batch = Batch::load(connection, &events).await?;
        for (test_case_id, sequence, event) in &events {
            batch.apply(*test_case_id, *sequence, event)?;
        }
        batch.store(connection).await
    }
}

// The write side: each batch loads the rows its events touch (the test cases, and the current run with its
// outcomes and evidence: events only ever change the current run), folds the events into them in order, and
// writes every changed row once.

/// A row of `test_cases`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct CaseRecord {
    test_case_id: Uuid,
    last_sequence: i64,
    run: i32,
    state: String,
    paused_from: Option<String>,
    title: String,
    objective: String,
    technique: String,
    procedure_source: Value,
    steps: String,
    platforms: Vec<String>,
    targets: Vec<String>,
    tags: Vec<String>,
    blind: bool,
    revealed: bool,
    red_assignee: Option<Uuid>,
    blue_assignee: Option<Uuid>,
    detection_rules: Vec<String>,
    outcome: Option<String>,
    time_to_detect_ms: Option<i64>,
    first_execution_started_at: Option<DateTime<Utc>>,
    planned_by: Uuid,
    planned_at: DateTime<Utc>,
    completed_at: Option<DateTime<Utc>>,
    state_changed_at: DateTime<Utc>,
    last_changed_at: DateTime<Utc>,
}

/// A row of `test_case_runs`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct RunRecord {
    test_case_id: Uuid,
    run: i32,
    started_at: DateTime<Utc>,
    started_by: Uuid,
    reopen_reason: Option<String>,
    outcome: Option<String>,
    time_to_detect_ms: Option<i64>,
    first_execution_started_at: Option<DateTime<Utc>>,
    approved_outcome: Option<String>,
    approved_by: Option<Uuid>,
    completed_at: Option<DateTime<Utc>>,
    abandoned_by: Option<Uuid>,
    abandoned_at: Option<DateTime<Utc>>,
    abandon_reason: Option<String>,
}

/// A row of `test_case_outcomes`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct OutcomeRecord {
    test_case_id: Uuid,
    run: i32,
    tool: String,
    outcome: String,
    severity: Option<String>,
    detected_at: Option<DateTime<Utc>>,
    rules_fired: Vec<String>,
    recorded_by: Uuid,
    recorded_at: DateTime<Utc>,
}

/// A row of `test_case_executions`.
#[derive(Debug, Clone)]
struct ExecutionRecord<'a> {
    test_case_id: Uuid,
    sequence: i64,
    run: i32,
    command: &'a str,
    target: &'a str,
    started_at: DateTime<Utc>,
    stopped_at: DateTime<Utc>,
    output_excerpt: &'a str,
    recorded_by: Uuid,
    recorded_at: DateTime<Utc>,
}

/// A row of `test_case_comments`.
#[derive(Debug, Clone)]
struct CommentRecord<'a> {
    test_case_id: Uuid,
    sequence: i64,
    run: i32,
    author: Uuid,
    body: &'a str,
    at: DateTime<Utc>,
}

/// A row of `test_case_evidence`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct EvidenceRecord {
    test_case_id: Uuid,
    run: i32,
    evidence_id: Uuid,
    side: String,
    sha256: String,
    file_name: String,
    attached_by: Uuid,
    attached_at: DateTime<Utc>,
    removed: bool,
    removed_by: Option<Uuid>,
    removed_at: Option<DateTime<Utc>>,
    size: Option<i64>,
    content_type: Option<String>,
}

type RunKey = (Uuid, i32);

/// The rows one batch reads and writes. Maps are ordered so that rows are written in the same order every time.
#[derive(Default)]
struct Batch<'a> {
    cases: BTreeMap<Uuid, CaseRecord>,
    /// The current run of each test case (and any run a reopen started in this batch).
    runs: BTreeMap<RunKey, RunRecord>,
    /// The current run's outcomes, by tool.
    outcomes: BTreeMap<RunKey, BTreeMap<String, OutcomeRecord>>,
    /// The current run's evidence.
    evidence: BTreeMap<RunKey, BTreeMap<Uuid, EvidenceRecord>>,
    executions: Vec<ExecutionRecord<'a>>,
    comments: Vec<CommentRecord<'a>>,
    changed_cases: BTreeSet<Uuid>,
    changed_runs: BTreeSet<RunKey>,
    changed_outcomes: BTreeSet<(RunKey, String)>,
    changed_evidence: BTreeSet<(RunKey, Uuid)>,
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

impl Step {
    fn run_key(self) -> RunKey {
        (self.test_case_id, self.run)
    }
}

impl<'a> Batch<'a> {
    async fn load(
        connection: &mut PgConnection,
        events: &[(Uuid, i64, Cow<'_, TestCaseEvent>)],
    ) -> Result<Self, sqlx::Error> {
        let ids: Vec<Uuid> = events
            .iter()
            .map(|(test_case_id, _, _)| *test_case_id)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut batch = Self::default();
        let cases: Vec<CaseRecord> = rows::load(
            connection,
            "SELECT coalesce(json_agg(c), '[]') FROM test_cases c WHERE test_case_id = ANY($1)",
            &ids,
        )
        .await?;
        batch.cases = cases
            .into_iter()
            .map(|case| (case.test_case_id, case))
            .collect();
        let current: Vec<Uuid> = batch.cases.keys().copied().collect();
        let runs: Vec<RunRecord> = rows::load(
            connection,
            "SELECT coalesce(json_agg(r), '[]')
               FROM test_case_runs r JOIN test_cases c USING (test_case_id, run)
              WHERE c.test_case_id = ANY($1)",
            &current,
        )
        .await?;
        batch.runs = runs
            .into_iter()
            .map(|run| ((run.test_case_id, run.run), run))
            .collect();
        let outcomes: Vec<OutcomeRecord> = rows::load(
            connection,
            "SELECT coalesce(json_agg(o), '[]')
               FROM test_case_outcomes o JOIN test_cases c USING (test_case_id, run)
              WHERE c.test_case_id = ANY($1)",
            &current,
        )
        .await?;
        for outcome in outcomes {
            batch
                .outcomes
                .entry((outcome.test_case_id, outcome.run))
                .or_default()
                .insert(outcome.tool.clone(), outcome);
        }
        let evidence: Vec<EvidenceRecord> = rows::load(
            connection,
            "SELECT coalesce(json_agg(e), '[]')
               FROM test_case_evidence e JOIN test_cases c USING (test_case_id, run)
              WHERE c.test_case_id = ANY($1)",
            &current,
        )
        .await?;
        for item in evidence {
            batch
                .evidence
                .entry((item.test_case_id, item.run))
                .or_default()
                .insert(item.evidence_id, item);
        }
        Ok(batch)
    }

    async fn store(self, connection: &mut PgConnection) -> Result<(), sqlx::Error> {
        let cases: Vec<&CaseRecord> = self
            .changed_cases
            .iter()
            .map(|id| &self.cases[id])
            .collect();
        rows::upsert(connection, "test_cases", &["test_case_id"], &cases).await?;
        let runs: Vec<&RunRecord> = self
            .changed_runs
            .iter()
            .map(|key| &self.runs[key])
            .collect();
        rows::upsert(
            connection,
            "test_case_runs",
            &["test_case_id", "run"],
            &runs,
        )
        .await?;
        let outcomes: Vec<&OutcomeRecord> = self
            .changed_outcomes
            .iter()
            .map(|(run, tool)| &self.outcomes[run][tool])
            .collect();
        rows::upsert(
            connection,
            "test_case_outcomes",
            &["test_case_id", "run", "tool"],
            &outcomes,
        )
        .await?;
        let evidence: Vec<&EvidenceRecord> = self
            .changed_evidence
            .iter()
            .map(|(run, id)| &self.evidence[run][id])
            .collect();
        rows::upsert(
            connection,
            "test_case_evidence",
            &["test_case_id", "run", "evidence_id"],
            &evidence,
        )
        .await?;
        // Executions and comments only ever add rows: one binary COPY each, the cheapest way in.
        let mut executions = BinaryRows::new(
            "test_case_executions",
            &[
                "test_case_id",
                "sequence",
                "run",
                "command",
                "target",
                "started_at",
                "stopped_at",
                "output_excerpt",
                "recorded_by",
                "recorded_at",
            ],
        );
        for execution in &self.executions {
            executions
                .row()
                .uuid(execution.test_case_id)
                .bigint(execution.sequence)
                .integer(execution.run)
                .text(execution.command)
                .text(execution.target)
                .timestamptz(execution.started_at)
                .timestamptz(execution.stopped_at)
                .text(execution.output_excerpt)
                .uuid(execution.recorded_by)
                .timestamptz(execution.recorded_at);
        }
        executions.copy_into(connection).await?;
        let mut comments = BinaryRows::new(
            "test_case_comments",
            &["test_case_id", "sequence", "run", "author", "body", "at"],
        );
        for comment in &self.comments {
            comments
                .row()
                .uuid(comment.test_case_id)
                .bigint(comment.sequence)
                .integer(comment.run)
                .uuid(comment.author)
                .text(comment.body)
                .timestamptz(comment.at);
        }
        comments.copy_into(connection).await
    }

    fn apply(
        &mut self,
        test_case_id: Uuid,
        sequence: i64,
        event: &'a TestCaseEvent,
    ) -> Result<(), sqlx::Error> {
        if let TestCaseEvent::Planned {
            planned_by,
            at,
            plan,
        } = event
        {
            self.plan(
                test_case_id,
                sequence,
                *planned_by,
                rows::as_stored(*at),
                plan,
            )?;
            return Ok(());
        }
        let at = rows::as_stored(event_time(event));
        let Some(run) = self.claim(test_case_id, sequence, at)? else {
            return Ok(());
        };
        let step = Step {
            test_case_id,
            sequence,
            run,
            at,
        };
        if let Some(state) = state_after(event) {
            let case = self.case(test_case_id);
            state.as_str().clone_into(&mut case.state);
            case.paused_from = match state {
                TestState::Paused { previous } => {
                    Some(TestState::from(previous).as_str().to_owned())
                }
                _ => None,
            };
            case.state_changed_at = at;
        }
        self.change(step, event)
    }

    #[expect(
        clippy::too_many_lines,
        reason = "one short arm per event, so the projection reads as the event list"
    )]
    fn change(&mut self, step: Step, event: &'a TestCaseEvent) -> Result<(), sqlx::Error> {
        match event {
            TestCaseEvent::PlanEdited { plan, .. } => {
                let procedure = procedure_json(&plan.procedure)?;
                let case = self.case(step.test_case_id);
                plan.title.as_str().clone_into(&mut case.title);
                plan.objective.as_str().clone_into(&mut case.objective);
                plan.technique.as_str().clone_into(&mut case.technique);
                case.procedure_source = procedure;
                plan.steps.as_str().clone_into(&mut case.steps);
                case.platforms = keywords(&plan.platforms, |platform| platform.as_str());
                case.targets = keywords(&plan.targets, |target| target.as_str());
                case.tags = keywords(&plan.tags, |tag| tag.as_str());
                case.blind = plan.blind;
            }
            TestCaseEvent::Assigned {
                red_assignee,
                blue_assignee,
                ..
            } => {
                let case = self.case(step.test_case_id);
                case.red_assignee = red_assignee.or(case.red_assignee);
                case.blue_assignee = blue_assignee.or(case.blue_assignee);
            }
            TestCaseEvent::ExecutionRecorded {
                recorded_by,
                execution,
                ..
            } => {
                let started_at = rows::as_stored(execution.started_at);
                self.executions.push(ExecutionRecord {
                    test_case_id: step.test_case_id,
                    sequence: step.sequence,
                    run: step.run,
                    command: execution.command.as_str(),
                    target: execution.target.as_str(),
                    started_at,
                    stopped_at: rows::as_stored(execution.stopped_at),
                    output_excerpt: execution.output_excerpt.as_str(),
                    recorded_by: *recorded_by,
                    recorded_at: step.at,
                });
                let case = self.case(step.test_case_id);
                let first = case
                    .first_execution_started_at
                    .map_or(started_at, |first| first.min(started_at));
                case.first_execution_started_at = Some(first);
                self.refresh_result(step)?;
            }
            TestCaseEvent::OutcomeRecorded {
                recorded_by,
                defense,
                ..
            } => {
                self.record_outcome(step, *recorded_by, defense)?;
                self.refresh_result(step)?;
            }
            TestCaseEvent::ResultApproved {
                approved_by,
                outcome,
                ..
            } => self.approve(step, *approved_by, *outcome)?,
            TestCaseEvent::Abandoned {
                abandoned_by,
                reason,
                ..
            } => {
                let run = self.run(step)?;
                run.abandoned_by = Some(*abandoned_by);
                run.abandoned_at = Some(step.at);
                run.abandon_reason = Some(reason.as_str().to_owned());
            }
            TestCaseEvent::Reopened {
                reopened_by,
                reason,
                run: next_run,
                ..
            } => self.reopen(step, *next_run, *reopened_by, reason.as_str())?,
            TestCaseEvent::RevealedToBlue { .. } => self.case(step.test_case_id).revealed = true,
            TestCaseEvent::DetectionRuleLinked { rule, .. } => self
                .case(step.test_case_id)
                .detection_rules
                .push(rule.as_str().to_owned()),
            TestCaseEvent::DetectionRuleUnlinked { rule, .. } => self
                .case(step.test_case_id)
                .detection_rules
                .retain(|linked| linked != rule.as_str()),
            TestCaseEvent::CommentAdded { author, body, .. } => {
                self.comments.push(CommentRecord {
                    test_case_id: step.test_case_id,
                    sequence: step.sequence,
                    run: step.run,
                    author: *author,
                    body: body.as_str(),
                    at: step.at,
                });
            }
            TestCaseEvent::EvidenceAttached {
                attached_by,
                side,
                evidence,
                ..
            } => self.attach_evidence(step, *attached_by, *side, evidence)?,
            TestCaseEvent::EvidenceRemoved {
                removed_by,
                evidence_id,
                ..
            } => {
                // Like an UPDATE that finds no row, removing evidence the run does not hold changes nothing.
                if let Some(item) = self
                    .evidence
                    .get_mut(&step.run_key())
                    .and_then(|evidence| evidence.get_mut(evidence_id))
                {
                    item.removed = true;
                    item.removed_by = Some(*removed_by);
                    item.removed_at = Some(step.at);
                    self.changed_evidence.insert((step.run_key(), *evidence_id));
                }
            }
            // Only a state change, made by the caller.
            TestCaseEvent::Planned { .. }
            | TestCaseEvent::ExecutionStarted { .. }
            | TestCaseEvent::ExecutionCompleted { .. }
            | TestCaseEvent::ReviewStarted { .. }
            | TestCaseEvent::SubmittedForApproval { .. }
            | TestCaseEvent::ResultRejected { .. }
            | TestCaseEvent::Paused { .. }
            | TestCaseEvent::Resumed { .. } => {}
        }
        Ok(())
    }

    /// A test case planned by `Planned`; nothing when it is known already (the event was applied before).
    fn plan(
        &mut self,
        test_case_id: Uuid,
        sequence: i64,
        planned_by: Uuid,
        at: DateTime<Utc>,
        plan: &Plan,
    ) -> Result<(), sqlx::Error> {
        if self.cases.contains_key(&test_case_id) {
            return Ok(());
        }
        let case = CaseRecord {
            test_case_id,
            last_sequence: sequence,
            run: 1,
            state: TestState::Planned.as_str().to_owned(),
            paused_from: None,
            title: plan.title.as_str().to_owned(),
            objective: plan.objective.as_str().to_owned(),
            technique: plan.technique.as_str().to_owned(),
            procedure_source: procedure_json(&plan.procedure)?,
            steps: plan.steps.as_str().to_owned(),
            platforms: keywords(&plan.platforms, |platform| platform.as_str()),
            targets: keywords(&plan.targets, |target| target.as_str()),
            tags: keywords(&plan.tags, |tag| tag.as_str()),
            blind: plan.blind,
            revealed: false,
            red_assignee: None,
            blue_assignee: None,
            detection_rules: Vec::new(),
            outcome: None,
            time_to_detect_ms: None,
            first_execution_started_at: None,
            planned_by,
            planned_at: at,
            completed_at: None,
            state_changed_at: at,
            last_changed_at: at,
        };
        self.cases.insert(test_case_id, case);
        self.changed_cases.insert(test_case_id);
        self.start_run(test_case_id, 1, at, planned_by, None);
        Ok(())
    }

    /// Marks `sequence` as applied to the test case and returns its current run, or `None` when the event was
    /// applied before. An event for a test case that was never planned is an error: the aggregate only emits
    /// events after `Planned`, so the log or this projection is broken and must not be papered over.
    fn claim(
        &mut self,
        test_case_id: Uuid,
        sequence: i64,
        at: DateTime<Utc>,
    ) -> Result<Option<i32>, sqlx::Error> {
        let Some(case) = self.cases.get_mut(&test_case_id) else {
            return Err(invalid(format!(
                "TestCase {test_case_id}: event {sequence} arrived before the test case was planned"
            )));
        };
        if case.last_sequence >= sequence {
            return Ok(None);
        }
        case.last_sequence = sequence;
        case.last_changed_at = at;
        self.changed_cases.insert(test_case_id);
        Ok(Some(case.run))
    }

    /// A test case already claimed in this batch.
    fn case(&mut self, test_case_id: Uuid) -> &mut CaseRecord {
        self.cases
            .get_mut(&test_case_id)
            .expect("claimed before it is changed")
    }

    /// The current run of a claimed test case, marked changed.
    fn run(&mut self, step: Step) -> Result<&mut RunRecord, sqlx::Error> {
        self.changed_runs.insert(step.run_key());
        self.runs.get_mut(&step.run_key()).ok_or_else(|| {
            invalid(format!(
                "TestCase {}: run {} is missing from test_case_runs",
                step.test_case_id, step.run
            ))
        })
    }

    fn start_run(
        &mut self,
        test_case_id: Uuid,
        run: i32,
        at: DateTime<Utc>,
        started_by: Uuid,
        reopen_reason: Option<&str>,
    ) {
        let record = RunRecord {
            test_case_id,
            run,
            started_at: at,
            started_by,
            reopen_reason: reopen_reason.map(str::to_owned),
            outcome: None,
            time_to_detect_ms: None,
            first_execution_started_at: None,
            approved_outcome: None,
            approved_by: None,
            completed_at: None,
            abandoned_by: None,
            abandoned_at: None,
            abandon_reason: None,
        };
        self.runs.insert((test_case_id, run), record);
        self.changed_runs.insert((test_case_id, run));
    }

    fn record_outcome(
        &mut self,
        step: Step,
        recorded_by: Uuid,
        defense: &DefenseOutcome,
    ) -> Result<(), sqlx::Error> {
        let record = OutcomeRecord {
            test_case_id: step.test_case_id,
            run: step.run,
            tool: defense.tool.as_str().to_owned(),
            outcome: serde_name(&defense.outcome)?,
            severity: defense.severity.as_ref().map(serde_name).transpose()?,
            detected_at: defense.detected_at.map(rows::as_stored),
            rules_fired: defense
                .rules_fired
                .iter()
                .map(|rule| rule.as_str().to_owned())
                .collect(),
            recorded_by,
            recorded_at: step.at,
        };
        // Recording a tool again replaces its outcome in this run, as in the aggregate.
        self.changed_outcomes
            .insert((step.run_key(), record.tool.clone()));
        self.outcomes
            .entry(step.run_key())
            .or_default()
            .insert(record.tool.clone(), record);
        Ok(())
    }

    /// Derives the current run's outcome and time to detect from its outcomes and executions, into the run
    /// and the test case.
    fn refresh_result(&mut self, step: Step) -> Result<(), sqlx::Error> {
        let outcomes = self.outcomes.get(&step.run_key());
        let derived = outcomes
            .into_iter()
            .flat_map(BTreeMap::values)
            .map(|record| from_serde_name(&record.outcome))
            .collect::<Result<Vec<Outcome>, _>>()?;
        let detected_at = outcomes
            .into_iter()
            .flat_map(BTreeMap::values)
            .filter_map(|record| record.detected_at)
            .min();
        let outcome = derived_outcome(&derived)
            .as_ref()
            .map(serde_name)
            .transpose()?;
        let case = self.case(step.test_case_id);
        let started_at = case.first_execution_started_at;
        let time_to_detect = time_to_detect_ms(started_at, detected_at);
        case.outcome.clone_from(&outcome);
        case.time_to_detect_ms = time_to_detect;
        let run = self.run(step)?;
        run.outcome = outcome;
        run.time_to_detect_ms = time_to_detect;
        run.first_execution_started_at = started_at;
        Ok(())
    }

    /// Completes the run with the outcome the lead approved; the state is set by the caller.
    fn approve(
        &mut self,
        step: Step,
        approved_by: Uuid,
        approved: Outcome,
    ) -> Result<(), sqlx::Error> {
        let approved_name = serde_name(&approved)?;
        let case = self.case(step.test_case_id);
        // The aggregate approves the outcome it derives; a difference means this projection derives it
        // differently, which the read side must hear about even though the approved outcome is recorded.
        if case.outcome.as_deref() != Some(approved_name.as_str()) {
            tracing::warn!(
                test_case_id = %step.test_case_id, run = step.run, derived = ?case.outcome, approved = %approved_name,
                "the projected outcome differs from the approved one"
            );
        }
        case.completed_at = Some(step.at);
        let run = self.run(step)?;
        run.approved_outcome = Some(approved_name);
        run.approved_by = Some(approved_by);
        run.completed_at = Some(step.at);
        Ok(())
    }

    /// Starts `next_run` with the same plan, assignees, rules and reveal, and without a result; the state is
    /// set by the caller.
    fn reopen(
        &mut self,
        step: Step,
        next_run: u32,
        reopened_by: Uuid,
        reason: &str,
    ) -> Result<(), sqlx::Error> {
        let run = i32::try_from(next_run)
            .map_err(|_| invalid(format!("run {next_run} is out of range")))?;
        let case = self.case(step.test_case_id);
        case.run = run;
        case.outcome = None;
        case.time_to_detect_ms = None;
        case.first_execution_started_at = None;
        case.completed_at = None;
        self.start_run(step.test_case_id, run, step.at, reopened_by, Some(reason));
        Ok(())
    }

    fn attach_evidence(
        &mut self,
        step: Step,
        attached_by: Uuid,
        side: Side,
        evidence: &EvidenceRef,
    ) -> Result<(), sqlx::Error> {
        // Evidence removed earlier in the run may be attached again under its id.
        let record = EvidenceRecord {
            test_case_id: step.test_case_id,
            run: step.run,
            evidence_id: evidence.id,
            side: serde_name(&side)?,
            sha256: evidence.sha256.as_str().to_owned(),
            file_name: evidence.file_name.as_str().to_owned(),
            attached_by,
            attached_at: step.at,
            removed: false,
            removed_by: None,
            removed_at: None,
            size: evidence
                .stored
                .as_ref()
                .map(|stored| i64::try_from(stored.size).unwrap_or(i64::MAX)),
            content_type: evidence
                .stored
                .as_ref()
                .map(|stored| stored.content_type.clone()),
        };
        self.changed_evidence.insert((step.run_key(), evidence.id));
        self.evidence
            .entry(step.run_key())
            .or_default()
            .insert(evidence.id, record);
        Ok(())
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
fn keywords<T>(values: &BTreeSet<T>, as_str: fn(&T) -> &str) -> Vec<String> {
    values
        .iter()
        .map(|value| as_str(value).to_owned())
        .collect()
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

/// The newest test case of `technique` planned from the atomic test `guid` that red can still record an
/// execution on (assigned or executing); `None` when there is none.
pub async fn open_for_atomic(
    pool: &PgPool,
    guid: Uuid,
    technique: &str,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT test_case_id FROM test_cases
          WHERE procedure_source->>'kind' = 'atomic_test' AND procedure_source->>'guid' = $1
            AND technique = $2 AND state IN ('assigned', 'executing')
          ORDER BY planned_at DESC, test_case_id DESC LIMIT 1",
    )
    .bind(guid.to_string())
    .bind(technique)
    .fetch_optional(pool)
    .await
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
