//! Reading test cases: from the `test_cases` read model, with blind tests redacted for blue-only callers
//! (blue sees title, technique, state and outcomes, but not red's objective, procedure, steps, targets,
//! executions, evidence or timings until red reveals the test).

use async_graphql::connection::{Connection, Edge, EmptyFields, query};
use async_graphql::{ComplexObject, Context, ErrorExtensions, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use domain::role::Role;
use domain::test_case::{ProcedureSource, Tag, TechniqueId};
use projections::catalog;
use projections::paging::PageCursor;
use projections::test_cases::{self, TestCaseFilter, TestCaseRow};
use uuid::Uuid;

use super::account::principal;
use super::error::{ApiError, internal};
use super::paging::page_size;
use super::scalars::BigInt;
use super::test_cases::{OutcomeName, SeverityName, SideName};
use crate::auth::session::Principal;
use crate::state::AppState;

/// A test case as the caller may see it.
#[derive(SimpleObject, Debug, Clone, PartialEq, Eq)]
#[graphql(complex)]
pub struct TestCase {
    id: Uuid,
    run: i32,
    state: String,
    title: String,
    technique: String,
    /// Withheld (null) from blue while the test is blind and not revealed, like the other red details.
    objective: Option<String>,
    /// `ATOMIC_TEST:<guid>`, `CALDERA_ABILITY:<id>`, `LOLBAS:<entry>`, `GTFOBINS:<entry>` or `MANUAL`.
    procedure: Option<String>,
    steps: Option<String>,
    platforms: Vec<String>,
    targets: Option<Vec<String>>,
    tags: Vec<String>,
    blind: bool,
    revealed: bool,
    /// True when this view withholds red's details from the caller.
    redacted: bool,
    red_assignee: Option<Uuid>,
    blue_assignee: Option<Uuid>,
    detection_rules: Vec<String>,
    outcome: Option<OutcomeName>,
    time_to_detect_seconds: Option<i64>,
    planned_by: Uuid,
    planned_at: DateTime<Utc>,
    completed_at: Option<DateTime<Utc>>,
    last_changed_at: DateTime<Utc>,
    outcomes: Vec<DefenseOutcomeView>,
    executions: Vec<ExecutionView>,
    comments: Vec<CommentView>,
    evidence: Vec<EvidenceView>,
}

#[ComplexObject]
impl TestCase {
    /// Whether the loaded ATT&CK catalog knows `technique` (revoked ids included). An unknown id is allowed —
    /// a technique newer than the loaded release, or one being drafted — and flagged here; null while no
    /// ATT&CK catalog is loaded.
    async fn technique_known(&self, context: &Context<'_>) -> async_graphql::Result<Option<bool>> {
        let state = context.data::<AppState>()?;
        if !catalog::has_techniques(&state.pool)
            .await
            .map_err(internal)?
        {
            return Ok(None);
        }
        Ok(Some(self.technique_entry(state).await?.is_some()))
    }

    /// The technique's name in the loaded ATT&CK catalog.
    async fn technique_name(&self, context: &Context<'_>) -> async_graphql::Result<Option<String>> {
        let state = context.data::<AppState>()?;
        Ok(self.technique_entry(state).await?.map(|entry| entry.name))
    }
}

impl TestCase {
    async fn technique_entry(
        &self,
        state: &AppState,
    ) -> async_graphql::Result<Option<catalog::CatalogEntry>> {
        catalog::find(&state.pool, "technique", None, &self.technique, None)
            .await
            .map_err(internal)
    }
}

/// What one defensive tool did in one run.
#[derive(SimpleObject, Debug, Clone, PartialEq, Eq)]
pub struct DefenseOutcomeView {
    run: i32,
    tool: String,
    outcome: OutcomeName,
    severity: Option<SeverityName>,
    detected_at: Option<DateTime<Utc>>,
    rules_fired: Vec<String>,
    recorded_by: Uuid,
}

#[derive(SimpleObject, Debug, Clone, PartialEq, Eq)]
pub struct ExecutionView {
    run: i32,
    command: String,
    target: String,
    started_at: DateTime<Utc>,
    stopped_at: DateTime<Utc>,
    output_excerpt: String,
    recorded_by: Uuid,
}

#[derive(SimpleObject, Debug, Clone, PartialEq, Eq)]
pub struct CommentView {
    run: i32,
    author: Uuid,
    body: String,
    at: DateTime<Utc>,
}

#[derive(SimpleObject, Debug, Clone, PartialEq, Eq)]
pub struct EvidenceView {
    run: i32,
    /// Fetch the file with `evidenceDownloadUrl(id)`.
    id: Uuid,
    side: SideName,
    file_name: String,
    attached_at: DateTime<Utc>,
    /// The SHA-256 recorded when the file was attached (and verified, for uploads).
    sha256: String,
    /// Bytes; null for evidence attached before verified uploads.
    size: Option<BigInt>,
    /// The verified content type; null for evidence attached before verified uploads.
    content_type: Option<String>,
    /// Removed from the run; the file and the attachment stay in history.
    removed: bool,
    removed_at: Option<DateTime<Utc>>,
}

/// Narrows `testCases`.
#[derive(InputObject, Debug, Default)]
pub struct TestCaseFilterInput {
    /// A state name (`planned`, `executing`, `awaiting_approval`, `paused`…).
    state: Option<String>,
    /// A technique; also matches its sub-techniques.
    technique: Option<String>,
    campaign_id: Option<Uuid>,
    /// Assigned on either side.
    assignee: Option<Uuid>,
    outcome: Option<OutcomeName>,
    tag: Option<String>,
}

/// Blue users who hold no red role, no admin role and are not viewers see blind tests redacted.
pub fn sees_blind_tests_redacted(principal: &Principal) -> bool {
    let blue =
        principal.roles.contains(&Role::BlueLead) || principal.roles.contains(&Role::BlueTech);
    let sees_all = [Role::Admin, Role::RedLead, Role::RedTech, Role::Viewer]
        .iter()
        .any(|role| principal.roles.contains(role));
    blue && !sees_all
}

fn view(row: TestCaseRow, principal: &Principal) -> TestCase {
    let row = if sees_blind_tests_redacted(principal) {
        row.redacted_for_blue()
    } else {
        row
    };
    TestCase {
        id: row.test_case_id,
        run: row.run,
        state: row.state.as_str().to_owned(),
        title: row.title,
        technique: row.technique,
        objective: row.objective,
        procedure: row.procedure.map(|procedure| procedure_text(&procedure)),
        steps: row.steps,
        platforms: row.platforms,
        targets: row.targets,
        tags: row.tags,
        blind: row.blind,
        revealed: row.revealed,
        redacted: row.redacted,
        red_assignee: row.red_assignee,
        blue_assignee: row.blue_assignee,
        detection_rules: row.detection_rules,
        outcome: row.outcome.map(OutcomeName::from),
        time_to_detect_seconds: row.time_to_detect_ms.map(|ms| ms / 1000),
        planned_by: row.planned_by,
        planned_at: row.planned_at,
        completed_at: row.completed_at,
        last_changed_at: row.last_changed_at,
        outcomes: row
            .outcomes
            .into_iter()
            .map(|outcome| DefenseOutcomeView {
                run: outcome.run,
                tool: outcome.tool,
                outcome: outcome.outcome.into(),
                severity: outcome.severity.map(SeverityName::from),
                detected_at: outcome.detected_at,
                rules_fired: outcome.rules_fired,
                recorded_by: outcome.recorded_by,
            })
            .collect(),
        executions: row
            .executions
            .into_iter()
            .map(|execution| ExecutionView {
                run: execution.run,
                command: execution.command,
                target: execution.target,
                started_at: execution.started_at,
                stopped_at: execution.stopped_at,
                output_excerpt: execution.output_excerpt,
                recorded_by: execution.recorded_by,
            })
            .collect(),
        comments: row
            .comments
            .into_iter()
            .map(|comment| CommentView {
                run: comment.run,
                author: comment.author,
                body: comment.body,
                at: comment.at,
            })
            .collect(),
        evidence: row
            .evidence
            .into_iter()
            .map(|evidence| EvidenceView {
                run: evidence.run,
                id: evidence.evidence_id,
                side: evidence.side.into(),
                file_name: evidence.file_name,
                attached_at: evidence.attached_at,
                sha256: evidence.sha256,
                size: evidence.size.map(BigInt),
                content_type: evidence.content_type,
                removed: evidence.removed,
                removed_at: evidence.removed_at,
            })
            .collect(),
    }
}

/// Test case `id` as `principal` may see it; `None` when there is none. Shared by `testCase` and the
/// `testCaseChanged` subscription, so both show the same thing.
pub async fn find_view(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
) -> async_graphql::Result<Option<TestCase>> {
    let row = test_cases::find(&state.pool, id)
        .await
        .map_err(|error| ApiError::internal(error).extend())?;
    Ok(row.map(|row| view(row, principal)))
}

fn procedure_text(procedure: &ProcedureSource) -> String {
    match procedure {
        ProcedureSource::AtomicTest { guid } => format!("ATOMIC_TEST:{guid}"),
        ProcedureSource::CalderaAbility { id } => format!("CALDERA_ABILITY:{id}"),
        ProcedureSource::Lolbas { entry } => format!("LOLBAS:{entry}"),
        ProcedureSource::Gtfobins { entry } => format!("GTFOBINS:{entry}"),
        ProcedureSource::Manual => "MANUAL".to_owned(),
    }
}

fn filter(input: TestCaseFilterInput) -> Result<TestCaseFilter, ApiError> {
    let invalid = |error: domain::test_case::TestCaseError| {
        ApiError::refused(error.code(), error.to_string())
    };
    Ok(TestCaseFilter {
        state: input.state,
        technique: input
            .technique
            .as_deref()
            .map(TechniqueId::parse)
            .transpose()
            .map_err(invalid)?,
        campaign_id: input.campaign_id,
        assignee: input.assignee,
        outcome: input.outcome.map(Into::into),
        tag: input
            .tag
            .as_deref()
            .map(Tag::parse)
            .transpose()
            .map_err(invalid)?,
    })
}

#[derive(Debug, Default)]
pub struct TestCasesQuery;

#[Object]
impl TestCasesQuery {
    /// One test case, redacted for blue while blind.
    async fn test_case(
        &self,
        context: &Context<'_>,
        id: Uuid,
    ) -> async_graphql::Result<Option<TestCase>> {
        find_view(context.data::<AppState>()?, principal(context)?, id).await
    }

    /// Test cases in planning order, filtered.
    #[graphql(complexity = "super::paging::page_complexity(first, child_complexity)")]
    async fn test_cases(
        &self,
        context: &Context<'_>,
        filter: Option<TestCaseFilterInput>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<String, TestCase, EmptyFields, EmptyFields>> {
        let state = context.data::<AppState>()?;
        let principal = principal(context)?;
        let filter = self::filter(filter.unwrap_or_default()).map_err(|error| error.extend())?;
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
                let mut rows = test_cases::page(
                    &state.pool,
                    &filter,
                    cursor.as_ref(),
                    i64::try_from(limit + 1).unwrap_or(101),
                )
                .await
                .map_err(|error| ApiError::internal(error).extend())?;
                let has_next = rows.len() > limit;
                rows.truncate(limit);
                let mut connection = Connection::new(cursor.is_some(), has_next);
                connection.edges.extend(
                    rows.into_iter()
                        .map(|row| Edge::new(row.cursor().encode(), view(row, principal))),
                );
                Ok::<_, async_graphql::Error>(connection)
            },
        )
        .await
    }
}
