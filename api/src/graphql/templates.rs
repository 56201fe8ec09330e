//! Planning a test case from a catalog template (an Atomic test, a CALDERA ability, a LOLBAS command, a GTFOBins
//! example): the plan takes the template's name, description, technique, command and platforms, and keeps the
//! template reference, so that re-tests of the same procedure trend together. The caller adds targets, tags and
//! blindness, and may pick another technique when a template names several. [`TemplatePlan`] shows what a
//! template gives a plan, so that a client changing a planned test case's procedure to a template takes the
//! same steps, objective and platforms.

use async_graphql::{Context, InputObject, Object, SimpleObject};
use domain::test_case::{TestCaseAction, TestCaseError};
use projections::catalog::{self, CatalogEntry};
use serde_json::Value;

use super::command::{caller, refused};
use super::error::internal;
use super::test_cases::{
    PlanInput, ProcedureInput, ProcedureKind, TestCaseChange, execute, parse_plan,
};
use crate::state::AppState;

/// A title is at most 200 characters (the domain's limit); template names rarely come close.
const TITLE_MAX_CHARS: usize = 200;

/// What the caller adds to a template's plan.
#[derive(InputObject, Debug, Default)]
pub struct TemplatePlanInput {
    /// One of the template's techniques (default: its first).
    technique: Option<String>,
    /// Replaces the template's name as the title.
    title: Option<String>,
    #[graphql(default)]
    targets: Vec<String>,
    #[graphql(default)]
    tags: Vec<String>,
    #[graphql(default)]
    blind: bool,
}

#[derive(Debug, Default)]
pub struct TemplatesMutation;

#[Object]
impl TemplatesMutation {
    /// Plans a new test case from a catalog template (`library`: atomic, caldera, lolbas or gtfobins); returns
    /// its id like `planTestCase`.
    async fn plan_test_case_from_template(
        &self,
        context: &Context<'_>,
        library: String,
        template_id: String,
        #[graphql(default)] plan: TemplatePlanInput,
    ) -> async_graphql::Result<TestCaseChange> {
        let state = context.data::<AppState>()?;
        let template = catalog::find(
            &state.pool,
            "template",
            Some(library.trim()),
            template_id.trim(),
            None,
        )
        .await
        .map_err(internal)?
        .ok_or_else(|| {
            refused(&TestCaseError::InvalidTemplateRef(format!(
                "the catalog has no {library} template {template_id:?}"
            )))
        })?;
        let plan = plan_input(&template, plan).map_err(|error| refused(&error))?;
        let action = parse_plan(&plan).map(|plan| TestCaseAction::PlanTestCase { plan });
        execute(context, caller(context)?.new_aggregate_id(), action).await
    }
}

/// The plan a template gives, with the caller's additions.
fn plan_input(
    template: &CatalogEntry,
    input: TemplatePlanInput,
) -> Result<PlanInput, TestCaseError> {
    let technique = technique(template, input.technique)?;
    let procedure = Procedure::of(template)?;
    let title = input
        .title
        .unwrap_or_else(|| template.name.chars().take(TITLE_MAX_CHARS).collect());
    Ok(PlanInput {
        title,
        objective: procedure.objective,
        technique,
        procedure: ProcedureInput {
            kind: procedure.kind,
            reference: Some(template.id.clone()),
        },
        steps: procedure.steps,
        platforms: procedure.platforms,
        targets: input.targets,
        tags: input.tags,
        blind: input.blind,
    })
}

/// The requested technique when it is one of the template's, else the template's first.
fn technique(template: &CatalogEntry, requested: Option<String>) -> Result<String, TestCaseError> {
    match requested {
        Some(technique)
            if template
                .techniques
                .iter()
                .any(|own| own.eq_ignore_ascii_case(technique.trim())) =>
        {
            Ok(technique)
        }
        Some(technique) => Err(TestCaseError::InvalidTechnique(format!(
            "{technique} is not one of the template's techniques ({})",
            template.techniques.join(", ")
        ))),
        None => template.techniques.first().cloned().ok_or_else(|| {
            TestCaseError::InvalidTechnique("the template names no ATT&CK technique".to_owned())
        }),
    }
}

/// What a test case planned from a template takes from it, exactly as `planTestCaseFromTemplate` plans it (the
/// template's id is the procedure's reference, its name the default title). A lead who changes a plan's
/// procedure to the template gets these as the plan's new steps, objective and platforms.
#[derive(SimpleObject, Debug, PartialEq, Eq)]
pub struct TemplatePlan {
    procedure_kind: ProcedureKind,
    objective: String,
    /// The command(s) red runs; for a CALDERA ability, each executor's under a `# platform (executor)` line.
    steps: String,
    platforms: Vec<String>,
}

impl TemplatePlan {
    /// None for a record that is not a template of a known library.
    pub fn of(entry: &CatalogEntry) -> Option<Self> {
        if entry.kind != "template" {
            return None;
        }
        let procedure = Procedure::of(entry).ok()?;
        Some(Self {
            procedure_kind: procedure.kind,
            objective: procedure.objective,
            steps: procedure.steps,
            platforms: procedure.platforms,
        })
    }
}

/// What each library's details say about running the procedure.
struct Procedure {
    kind: ProcedureKind,
    steps: String,
    objective: String,
    platforms: Vec<String>,
}

impl Procedure {
    fn of(template: &CatalogEntry) -> Result<Self, TestCaseError> {
        let details = &template.details;
        let text = |field: &str| {
            details
                .get(field)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        Ok(match template.scope.as_str() {
            "atomic" => {
                let executor = details.get("executor").unwrap_or(&Value::Null);
                let steps = ["command", "steps"]
                    .iter()
                    .find_map(|field| executor.get(*field).and_then(Value::as_str))
                    .unwrap_or_default()
                    .to_owned();
                Self {
                    kind: ProcedureKind::AtomicTest,
                    steps,
                    objective: text("description"),
                    platforms: strings(details.get("supported_platforms")),
                }
            }
            "caldera" => Self::caldera(details, text("description")),
            "lolbas" => Self {
                kind: ProcedureKind::Lolbas,
                steps: text("command"),
                objective: text("description"),
                platforms: vec!["windows".to_owned()],
            },
            "gtfobins" => Self {
                kind: ProcedureKind::Gtfobins,
                steps: text("code"),
                objective: text("comment"),
                platforms: vec!["linux".to_owned()],
            },
            other => {
                return Err(TestCaseError::InvalidTemplateRef(format!(
                    "unknown template library {other:?}"
                )));
            }
        })
    }

    /// Every executor's command under a `# platform (executor)` heading: red picks the one for the target.
    fn caldera(details: &Value, objective: String) -> Self {
        let executors = details
            .get("executors")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let field = |executor: &Value, name: &str| {
            executor
                .get(name)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let steps = executors
            .iter()
            .filter(|executor| executor.get("command").and_then(Value::as_str).is_some())
            .map(|executor| {
                format!(
                    "# {} ({})\n{}",
                    field(executor, "platform"),
                    field(executor, "executor"),
                    field(executor, "command")
                )
            })
            .collect::<Vec<_>>()
            .join("\n\n");
        let mut platforms: Vec<String> = executors
            .iter()
            .map(|executor| field(executor, "platform"))
            .filter(|platform| !platform.is_empty())
            .collect();
        platforms.sort();
        platforms.dedup();
        Self {
            kind: ProcedureKind::CalderaAbility,
            steps,
            objective,
            platforms,
        }
    }
}

fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|values| {
            values
                .iter()
                .filter_map(|value| value.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}
