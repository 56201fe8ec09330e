//! The red/blue workflow of test cases: one mutation per command of the `TestCase` aggregate. Who may take
//! which step (and in which state) is decided by the aggregate; this layer only parses inputs, builds the
//! command with the caller and the time, and maps refusals to codes.

use std::collections::BTreeSet;

use async_graphql::{Context, Enum, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use domain::test_case::{
    DefenseOutcome, DetectionRuleRef, Execution, Note, Plan, Platform, ProcedureSource, Severity,
    Side, Tag, Target, TechniqueId, TemplateRef, TestCase, TestCaseAction, TestCaseCommand,
    TestCaseError, Text, Title, ToolName,
};
use uuid::Uuid;

use super::command::{caller, failed, refused};
use super::scalars::BigInt;
use crate::state::AppState;

/// What a defensive tool did.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
#[graphql(remote = "domain::test_case::Outcome")]
pub enum OutcomeName {
    NotApplicable,
    NotDetected,
    Logged,
    Alerted,
    Blocked,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
#[graphql(remote = "domain::test_case::Severity")]
pub enum SeverityName {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
#[graphql(remote = "domain::test_case::Side")]
pub enum SideName {
    Red,
    Blue,
}

/// Where a procedure comes from.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum ProcedureKind {
    AtomicTest,
    CalderaAbility,
    Lolbas,
    Gtfobins,
    Manual,
}

#[derive(InputObject, Debug)]
pub struct ProcedureInput {
    pub(super) kind: ProcedureKind,
    /// The template's id: the Atomic test's GUID, the CALDERA ability id, the LOLBAS or GTFOBins entry;
    /// omitted for a manual procedure.
    pub(super) reference: Option<String>,
}

/// Everything a plan holds; `editTestCasePlan` replaces it as a whole.
#[derive(InputObject, Debug)]
pub struct PlanInput {
    pub(super) title: String,
    pub(super) objective: String,
    /// An ATT&CK technique or sub-technique id, `T1234` or `T1234.001`.
    pub(super) technique: String,
    pub(super) procedure: ProcedureInput,
    pub(super) steps: String,
    #[graphql(default)]
    pub(super) platforms: Vec<String>,
    #[graphql(default)]
    pub(super) targets: Vec<String>,
    #[graphql(default)]
    pub(super) tags: Vec<String>,
    #[graphql(default)]
    pub(super) blind: bool,
}

#[derive(InputObject, Debug)]
pub struct ExecutionInput {
    command: String,
    target: String,
    started_at: DateTime<Utc>,
    stopped_at: DateTime<Utc>,
    #[graphql(default)]
    output_excerpt: String,
}

#[derive(InputObject, Debug)]
pub struct DefenseOutcomeInput {
    tool: String,
    outcome: OutcomeName,
    severity: Option<SeverityName>,
    detected_at: Option<DateTime<Utc>>,
    #[graphql(default)]
    rules_fired: Vec<String>,
}

/// A test case as a command left it.
#[derive(SimpleObject, Debug)]
pub struct TestCaseChange {
    id: Uuid,
    /// The test case's event sequence after the command.
    version: BigInt,
    /// True when this answers a retried request (same idempotency key) without doing it again.
    replayed: bool,
    state: String,
    run: i32,
    /// The current run's derived outcome: Blocked > Alerted > Logged > NotDetected; NotApplicable only when
    /// every tool says so.
    outcome: Option<OutcomeName>,
    /// Earliest detection minus the first execution start of the run.
    time_to_detect_seconds: Option<BigInt>,
}

pub(super) fn parse_plan(input: &PlanInput) -> Result<Plan, TestCaseError> {
    let reference = || input.procedure.reference.as_deref().unwrap_or_default();
    let procedure = match input.procedure.kind {
        ProcedureKind::AtomicTest => ProcedureSource::AtomicTest {
            guid: Uuid::parse_str(reference()).map_err(|_| {
                TestCaseError::InvalidTemplateRef("an Atomic test is named by its GUID".to_owned())
            })?,
        },
        ProcedureKind::CalderaAbility => ProcedureSource::CalderaAbility {
            id: TemplateRef::parse(reference())?,
        },
        ProcedureKind::Lolbas => ProcedureSource::Lolbas {
            entry: TemplateRef::parse(reference())?,
        },
        ProcedureKind::Gtfobins => ProcedureSource::Gtfobins {
            entry: TemplateRef::parse(reference())?,
        },
        ProcedureKind::Manual => ProcedureSource::Manual,
    };
    Ok(Plan {
        title: Title::parse(&input.title)?,
        objective: Text::parse(&input.objective)?,
        technique: TechniqueId::parse(&input.technique)?,
        procedure,
        steps: Text::parse(&input.steps)?,
        platforms: input
            .platforms
            .iter()
            .map(|platform| Platform::parse(platform))
            .collect::<Result<_, _>>()?,
        targets: input
            .targets
            .iter()
            .map(|target| Target::parse(target))
            .collect::<Result<_, _>>()?,
        tags: input
            .tags
            .iter()
            .map(|tag| Tag::parse(tag))
            .collect::<Result<_, _>>()?,
        blind: input.blind,
    })
}

fn parse_execution(input: &ExecutionInput) -> Result<Execution, TestCaseError> {
    Ok(Execution {
        command: Text::parse(&input.command)?,
        target: Target::parse(&input.target)?,
        started_at: input.started_at,
        stopped_at: input.stopped_at,
        output_excerpt: Text::parse(&input.output_excerpt)?,
    })
}

fn parse_defense(input: &DefenseOutcomeInput) -> Result<DefenseOutcome, TestCaseError> {
    Ok(DefenseOutcome {
        tool: ToolName::parse(&input.tool)?,
        outcome: input.outcome.into(),
        severity: input.severity.map(Severity::from),
        detected_at: input.detected_at,
        rules_fired: input
            .rules_fired
            .iter()
            .map(|rule| DetectionRuleRef::parse(rule))
            .collect::<Result<BTreeSet<_>, _>>()?,
    })
}

/// Runs `action` on test case `id` as the caller, with the request's idempotency key.
pub(super) async fn execute(
    context: &Context<'_>,
    id: Uuid,
    action: Result<TestCaseAction, TestCaseError>,
) -> async_graphql::Result<TestCaseChange> {
    let action = action.map_err(|error| refused(&error))?;
    let state = context.data::<AppState>()?;
    let caller = caller(context)?;
    let command = TestCaseCommand {
        actor: caller.actor,
        at: state.test_cases.now(),
        action,
    };
    let (outcome, test_case) = state
        .test_cases
        .execute_returning(&caller.context, &id.to_string(), command)
        .await
        .map_err(failed)?;
    Ok(change(id, outcome.version, outcome.replayed, &test_case))
}

fn change(id: Uuid, version: i64, replayed: bool, test_case: &TestCase) -> TestCaseChange {
    TestCaseChange {
        id,
        version: BigInt(version),
        replayed,
        state: test_case
            .state()
            .map_or("none", |state| state.as_str())
            .to_owned(),
        run: i32::try_from(test_case.run()).unwrap_or(i32::MAX),
        outcome: test_case.outcome().map(OutcomeName::from),
        time_to_detect_seconds: test_case
            .time_to_detect()
            .map(|delta| BigInt(delta.num_seconds())),
    }
}

fn note(text: &str) -> Result<Note, TestCaseError> {
    Note::parse(text)
}

#[derive(Debug, Default)]
pub struct TestCasesMutation;

#[Object]
impl TestCasesMutation {
    /// Plans a new test case (run 1); returns its id.
    async fn plan_test_case(
        &self,
        context: &Context<'_>,
        plan: PlanInput,
    ) -> async_graphql::Result<TestCaseChange> {
        let action = parse_plan(&plan).map(|plan| TestCaseAction::PlanTestCase { plan });
        execute(context, caller(context)?.new_aggregate_id(), action).await
    }

    /// Replaces the plan (planned or assigned only).
    async fn edit_test_case_plan(
        &self,
        context: &Context<'_>,
        id: Uuid,
        plan: PlanInput,
    ) -> async_graphql::Result<TestCaseChange> {
        execute(
            context,
            id,
            parse_plan(&plan).map(|plan| TestCaseAction::EditPlan { plan }),
        )
        .await
    }

    /// Assigns the red and/or blue side (a lead names its own side).
    async fn assign_test_case(
        &self,
        context: &Context<'_>,
        id: Uuid,
        red_assignee: Option<Uuid>,
        blue_assignee: Option<Uuid>,
    ) -> async_graphql::Result<TestCaseChange> {
        execute(
            context,
            id,
            Ok(TestCaseAction::AssignTestCase {
                red_assignee,
                blue_assignee,
            }),
        )
        .await
    }

    async fn start_execution(
        &self,
        context: &Context<'_>,
        id: Uuid,
    ) -> async_graphql::Result<TestCaseChange> {
        execute(context, id, Ok(TestCaseAction::StartExecution)).await
    }

    /// Records one execution (repeatable while executing).
    async fn record_execution(
        &self,
        context: &Context<'_>,
        id: Uuid,
        execution: ExecutionInput,
    ) -> async_graphql::Result<TestCaseChange> {
        let action = parse_execution(&execution)
            .map(|execution| TestCaseAction::RecordExecution { execution });
        execute(context, id, action).await
    }

    async fn complete_execution(
        &self,
        context: &Context<'_>,
        id: Uuid,
    ) -> async_graphql::Result<TestCaseChange> {
        execute(context, id, Ok(TestCaseAction::CompleteExecution)).await
    }

    async fn start_review(
        &self,
        context: &Context<'_>,
        id: Uuid,
    ) -> async_graphql::Result<TestCaseChange> {
        execute(context, id, Ok(TestCaseAction::StartReview)).await
    }

    /// Records what one defensive tool did (again for the same tool replaces its outcome).
    async fn record_defense_outcome(
        &self,
        context: &Context<'_>,
        id: Uuid,
        outcome: DefenseOutcomeInput,
    ) -> async_graphql::Result<TestCaseChange> {
        let action =
            parse_defense(&outcome).map(|defense| TestCaseAction::RecordDefenseOutcome { defense });
        execute(context, id, action).await
    }

    async fn submit_for_approval(
        &self,
        context: &Context<'_>,
        id: Uuid,
    ) -> async_graphql::Result<TestCaseChange> {
        execute(context, id, Ok(TestCaseAction::SubmitForApproval)).await
    }

    /// Approves the result (not by anyone who recorded an outcome of this run, unless admin).
    async fn approve_result(
        &self,
        context: &Context<'_>,
        id: Uuid,
    ) -> async_graphql::Result<TestCaseChange> {
        execute(context, id, Ok(TestCaseAction::ApproveResult)).await
    }

    /// Sends the result back to red (executing) or blue (reviewing).
    async fn reject_result(
        &self,
        context: &Context<'_>,
        id: Uuid,
        reason: String,
        back_to: SideName,
    ) -> async_graphql::Result<TestCaseChange> {
        let action = note(&reason).map(|reason| TestCaseAction::RejectResult {
            reason,
            back_to: Side::from(back_to),
        });
        execute(context, id, action).await
    }

    async fn pause_test_case(
        &self,
        context: &Context<'_>,
        id: Uuid,
    ) -> async_graphql::Result<TestCaseChange> {
        execute(context, id, Ok(TestCaseAction::Pause)).await
    }

    async fn resume_test_case(
        &self,
        context: &Context<'_>,
        id: Uuid,
    ) -> async_graphql::Result<TestCaseChange> {
        execute(context, id, Ok(TestCaseAction::Resume)).await
    }

    async fn abandon_test_case(
        &self,
        context: &Context<'_>,
        id: Uuid,
        reason: String,
    ) -> async_graphql::Result<TestCaseChange> {
        execute(
            context,
            id,
            note(&reason).map(|reason| TestCaseAction::Abandon { reason }),
        )
        .await
    }

    /// Starts a new run of a completed or abandoned test case; earlier runs stay in history.
    async fn reopen_test_case(
        &self,
        context: &Context<'_>,
        id: Uuid,
        reason: String,
    ) -> async_graphql::Result<TestCaseChange> {
        execute(
            context,
            id,
            note(&reason).map(|reason| TestCaseAction::Reopen { reason }),
        )
        .await
    }

    /// Shows a blind test's procedure and timings to blue.
    async fn reveal_to_blue(
        &self,
        context: &Context<'_>,
        id: Uuid,
    ) -> async_graphql::Result<TestCaseChange> {
        execute(context, id, Ok(TestCaseAction::RevealToBlue)).await
    }

    async fn link_detection_rule(
        &self,
        context: &Context<'_>,
        id: Uuid,
        rule: String,
    ) -> async_graphql::Result<TestCaseChange> {
        let action =
            DetectionRuleRef::parse(&rule).map(|rule| TestCaseAction::LinkDetectionRule { rule });
        execute(context, id, action).await
    }

    async fn unlink_detection_rule(
        &self,
        context: &Context<'_>,
        id: Uuid,
        rule: String,
    ) -> async_graphql::Result<TestCaseChange> {
        let action =
            DetectionRuleRef::parse(&rule).map(|rule| TestCaseAction::UnlinkDetectionRule { rule });
        execute(context, id, action).await
    }

    async fn add_comment(
        &self,
        context: &Context<'_>,
        id: Uuid,
        body: String,
    ) -> async_graphql::Result<TestCaseChange> {
        execute(
            context,
            id,
            note(&body).map(|body| TestCaseAction::AddComment { body }),
        )
        .await
    }

    /// Removes evidence from the current run; the attachment stays in history and the file stays in storage.
    /// (Evidence is attached through `requestEvidenceUpload` and `confirmEvidenceUpload`.)
    async fn remove_evidence(
        &self,
        context: &Context<'_>,
        id: Uuid,
        evidence_id: Uuid,
    ) -> async_graphql::Result<TestCaseChange> {
        execute(
            context,
            id,
            Ok(TestCaseAction::RemoveEvidence { evidence_id }),
        )
        .await
    }
}
