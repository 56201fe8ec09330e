//! Coverage: the ATT&CK heatmap now or as it stood at any past moment, under the policy in force then or any
//! other (`heatmap`, `rescore`) or settings not saved yet (`previewScoringPolicy`), one cell explained
//! (`explainCoverage`), what changed between two moments and why (`coverageDiff`), the trend
//! (`coverageTrend`), and snapshots (`coverageSnapshots`, `takeCoverageSnapshot`). Resolvers read `projections::heatmap`; the math is `domain::coverage`.

use std::collections::HashMap;

use async_graphql::{Context, Enum, ErrorExtensions, InputObject, Object, SimpleObject};
use chrono::{DateTime, Duration, Utc};
use domain::coverage::{CoverageLevel, ProcedureResult};
use domain::coverage_snapshot::{SNAPSHOTS_AGGREGATE_ID, SnapshotKind, TakeSnapshot};
use domain::scoring::ScoreBreakdown;
use projections::coverage::{self, ResultFilter};
use projections::heatmap::{self, Heatmap, HeatmapError, HeatmapQuery, TechniqueCell};
use uuid::Uuid;

use super::catalog_views::AttackDomain;
use super::command::{Refusal, caller, failed, refused};
use super::error::{ApiError, internal};
use super::scoring::{PolicySettingsInput, parse_settings};
use crate::state::AppState;

/// The most points a trend may have: each is a heatmap at a past moment.
const MAX_TREND_POINTS: i64 = 104;

/// An outcome as it scores, worst first.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
#[graphql(remote = "domain::scoring::ScoredOutcome")]
pub enum ScoredOutcomeName {
    NotDetected,
    Logged,
    Alerted,
    Blocked,
}

/// How much of what is needed to see a technique the collected telemetry gives.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
#[graphql(remote = "domain::scoring::Visibility")]
pub enum VisibilityName {
    None,
    Low,
    Medium,
    High,
}

/// How a cell moved between two moments.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
#[graphql(remote = "domain::coverage::Change")]
pub enum ChangeName {
    /// Untested before, scored after.
    Gained,
    /// Scored before, not after.
    Lost,
    Improved,
    Regressed,
}

/// Which results count.
#[derive(InputObject, Debug, Clone, Default)]
pub struct CoverageFilter {
    /// Only test cases planned for this platform (`windows`).
    platform: Option<String>,
    /// Only the test cases of this campaign.
    campaign_id: Option<Uuid>,
    /// Only the techniques this ATT&CK group uses (`G0016`).
    threat_actor: Option<String>,
    /// Only test cases with this tag.
    tag: Option<String>,
}

/// The newest result of one procedure against a technique.
#[derive(SimpleObject, Debug, Clone, PartialEq, Eq)]
pub struct ProcedureResultView {
    /// `atomic:<guid>`, `caldera:<id>`, `lolbas:<entry>`, `gtfobins:<entry>` or `test_case:<id>`.
    procedure: String,
    test_case_id: Uuid,
    run: i32,
    outcome: ScoredOutcomeName,
    validated_at: DateTime<Utc>,
}

impl From<&ProcedureResult> for ProcedureResultView {
    fn from(result: &ProcedureResult) -> Self {
        Self {
            procedure: result.procedure.clone(),
            test_case_id: result.test_case_id,
            run: i32::try_from(result.run).unwrap_or(i32::MAX),
            outcome: result.outcome.into(),
            validated_at: result.validated_at,
        }
    }
}

#[derive(SimpleObject, Debug, Clone, PartialEq, Eq)]
pub struct OutcomeTally {
    outcome: ScoredOutcomeName,
    procedures: i32,
}

/// One technique's cell.
#[derive(SimpleObject, Debug, Clone, PartialEq)]
pub struct CoverageCell {
    technique_id: String,
    name: String,
    /// 0–100 under the heatmap's policy; null when untested. For a technique with tested sub-techniques, the
    /// policy's aggregation of theirs and its own.
    score: Option<i32>,
    /// The score from the technique's own results only.
    own_score: Option<i32>,
    /// Tested, but not within the policy's freshness window.
    stale: bool,
    best: Option<ScoredOutcomeName>,
    worst: Option<ScoredOutcomeName>,
    /// Procedures per outcome, worst first.
    tests_by_outcome: Vec<OutcomeTally>,
    /// The newest result of each procedure (older runs of the same template are history).
    procedures: Vec<ProcedureResultView>,
    deployed_rules: i32,
    telemetry_visibility: VisibilityName,
    /// Percent of tracked ATT&CK groups using the technique; null when none are tracked.
    actor_prevalence: Option<i32>,
    last_validated_at: Option<DateTime<Utc>>,
    sub_techniques: Vec<CoverageCell>,
}

impl CoverageCell {
    fn of(technique: &TechniqueCell) -> Self {
        let cell = &technique.cell;
        Self {
            technique_id: technique.technique.id.clone(),
            name: technique.technique.name.clone(),
            score: score(cell.score),
            own_score: score(cell.own_score),
            stale: cell.stale,
            best: cell.best.map(Into::into),
            worst: cell.worst.map(Into::into),
            tests_by_outcome: cell
                .tests_by_outcome
                .iter()
                .map(|(outcome, count)| OutcomeTally {
                    outcome: (*outcome).into(),
                    procedures: i32::try_from(*count).unwrap_or(i32::MAX),
                })
                .collect(),
            procedures: cell.results.iter().map(ProcedureResultView::from).collect(),
            deployed_rules: i32::try_from(cell.deployed_rules).unwrap_or(i32::MAX),
            telemetry_visibility: cell.telemetry_visibility.into(),
            actor_prevalence: cell.actor_prevalence.map(i32::from),
            last_validated_at: cell.last_validated_at,
            sub_techniques: technique.sub_techniques.iter().map(Self::of).collect(),
        }
    }
}

fn score(score: Option<domain::scoring::Score>) -> Option<i32> {
    score.map(|score| i32::from(score.value()))
}

/// A tactic column and its technique cells.
#[derive(SimpleObject, Debug, Clone, PartialEq)]
pub struct HeatmapColumn {
    tactic_id: String,
    tactic: String,
    shortname: String,
    cells: Vec<CoverageCell>,
}

/// The policy a view was scored with.
#[derive(SimpleObject, Debug, Clone, PartialEq, Eq)]
pub struct PolicyInForce {
    /// Null when no policy was active (the default settings were used), and for the settings a preview
    /// (`previewScoringPolicy`) scored with.
    policy_id: Option<Uuid>,
    version: Option<i32>,
}

/// The ATT&CK heatmap of one domain at one moment.
#[derive(SimpleObject, Debug, Clone, PartialEq)]
pub struct HeatmapView {
    domain: String,
    /// The moment shown (now, or `asOf`).
    at: DateTime<Utc>,
    policy: PolicyInForce,
    /// Tactic columns in the matrix order of the catalog as it was at `at`; a technique with several tactics
    /// is in each of their columns.
    columns: Vec<HeatmapColumn>,
    /// Techniques with a score (sub-techniques excluded).
    scored_techniques: i32,
    /// Techniques in the view (sub-techniques excluded).
    techniques: i32,
}

impl HeatmapView {
    fn of(heatmap: &Heatmap) -> Self {
        let cells: Vec<(Vec<String>, CoverageCell)> = heatmap
            .techniques
            .iter()
            .map(|technique| {
                (
                    technique.technique.detail_texts("tactics"),
                    CoverageCell::of(technique),
                )
            })
            .collect();
        let columns = heatmap
            .tactics
            .iter()
            .map(|tactic| {
                let shortname = tactic.detail_text("shortname").unwrap_or_default();
                HeatmapColumn {
                    tactic_id: tactic.id.clone(),
                    tactic: tactic.name.clone(),
                    shortname: shortname.to_owned(),
                    cells: cells
                        .iter()
                        .filter(|(tactics, _)| tactics.iter().any(|name| name == shortname))
                        .map(|(_, cell)| cell.clone())
                        .collect(),
                }
            })
            .collect();
        Self {
            domain: heatmap.scope.clone(),
            at: heatmap.at,
            policy: policy_in_force(heatmap),
            columns,
            scored_techniques: count(
                heatmap
                    .techniques
                    .iter()
                    .filter(|t| t.cell.score.is_some())
                    .count(),
            ),
            techniques: count(heatmap.techniques.len()),
        }
    }
}

fn policy_in_force(heatmap: &Heatmap) -> PolicyInForce {
    PolicyInForce {
        policy_id: heatmap.policy.policy_id,
        version: heatmap.policy.version,
    }
}

fn count(value: usize) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

/// One cell under the active policy and under another, side by side.
#[derive(SimpleObject, Debug, Clone, PartialEq, Eq)]
pub struct RescoredCell {
    technique_id: String,
    name: String,
    /// Under the policy in force at the moment.
    score: Option<i32>,
    /// Under the policy asked for.
    rescored: Option<i32>,
}

/// The side-by-side view `rescore` returns.
#[derive(SimpleObject, Debug, Clone, PartialEq, Eq)]
pub struct Rescore {
    at: DateTime<Utc>,
    in_force: PolicyInForce,
    rescored_with: PolicyInForce,
    /// Every technique and sub-technique, by id.
    cells: Vec<RescoredCell>,
}

impl Rescore {
    fn of(in_force: &Heatmap, other: &Heatmap) -> Self {
        let rescored = other.cells();
        let mut cells: Vec<RescoredCell> = in_force
            .cells()
            .into_iter()
            .map(|(id, technique)| RescoredCell {
                technique_id: id.to_owned(),
                name: technique.technique.name.clone(),
                score: score(technique.cell.score),
                rescored: score(rescored.get(id).and_then(|cell| cell.cell.score)),
            })
            .collect();
        cells.sort_by(|left, right| left.technique_id.cmp(&right.technique_id));
        Self {
            at: in_force.at,
            in_force: policy_in_force(in_force),
            rescored_with: policy_in_force(other),
            cells,
        }
    }
}

/// One part of a score, in points out of 100.
#[derive(SimpleObject, Debug, Clone, PartialEq, Eq)]
pub struct OutcomeTerm {
    outcome: ScoredOutcomeName,
    validated_at: DateTime<Utc>,
    /// The policy's weight for the outcome.
    weight: i32,
    /// How much of the weight still counts (recency decay), in parts per million.
    retained_ppm: i32,
    /// Weight × retained, in hundredths of a point.
    points_hundredths: i32,
}

/// How a score was made, term by term (hundredths of a point).
#[derive(SimpleObject, Debug, Clone, PartialEq, Eq)]
pub struct ScoreTerms {
    outcomes: Vec<OutcomeTerm>,
    outcome_points: i32,
    rule_points: i32,
    telemetry_points: i32,
    subtotal: i32,
    prevalence_penalty: i32,
    total: i32,
    score: i32,
}

impl From<&ScoreBreakdown> for ScoreTerms {
    fn from(breakdown: &ScoreBreakdown) -> Self {
        let points = |points: domain::scoring::Points| {
            i32::try_from(points.hundredths()).unwrap_or(i32::MAX)
        };
        Self {
            outcomes: breakdown
                .outcomes
                .iter()
                .map(|term| OutcomeTerm {
                    outcome: term.outcome.into(),
                    validated_at: term.validated_at,
                    weight: i32::from(term.weight),
                    retained_ppm: i32::try_from(term.retained_ppm).unwrap_or(i32::MAX),
                    points_hundredths: points(term.points),
                })
                .collect(),
            outcome_points: points(breakdown.outcome_points),
            rule_points: points(breakdown.rule_points),
            telemetry_points: points(breakdown.telemetry_points),
            subtotal: points(breakdown.subtotal),
            prevalence_penalty: points(breakdown.prevalence_penalty),
            total: points(breakdown.total),
            score: i32::from(breakdown.score.value()),
        }
    }
}

/// An approved run behind a cell.
#[derive(SimpleObject, Debug, Clone, PartialEq, Eq)]
pub struct ValidationEvent {
    test_case_id: Uuid,
    run: i32,
    procedure: String,
    outcome: String,
    validated_at: DateTime<Utc>,
    approved_by: Uuid,
    /// The event's position in the log (`history`, `auditLog`).
    global_position: String,
    /// Whether this is the procedure's newest result at the moment (older ones are history).
    counts: bool,
}

/// A deployed rule behind a cell.
#[derive(SimpleObject, Debug, Clone, PartialEq, Eq)]
pub struct RuleDeploymentEvent {
    source: String,
    rule_id: String,
    deployed_at: DateTime<Utc>,
    deployed_by: Option<String>,
}

/// Why a cell shows what it shows.
#[derive(SimpleObject, Debug, Clone, PartialEq)]
pub struct CoverageExplanation {
    at: DateTime<Utc>,
    policy: PolicyInForce,
    cell: CoverageCell,
    /// The own score's terms; null when untested.
    terms: Option<ScoreTerms>,
    /// Every approved run against the technique up to the moment, oldest first.
    validations: Vec<ValidationEvent>,
    /// The rules deployed at the moment that name the technique.
    rules: Vec<RuleDeploymentEvent>,
}

/// One technique that changed between two moments, and the runs approved in between.
#[derive(SimpleObject, Debug, Clone, PartialEq, Eq)]
pub struct CoverageChange {
    technique_id: String,
    name: String,
    change: ChangeName,
    before: Option<i32>,
    after: Option<i32>,
    /// The approvals in between that moved it (empty when the change came from rules, telemetry, the
    /// catalog or time passing alone).
    causes: Vec<ValidationEvent>,
}

/// One point of the trend.
#[derive(SimpleObject, Debug, Clone, PartialEq, Eq)]
pub struct TrendPoint {
    at: DateTime<Utc>,
    scored_techniques: i32,
    techniques: i32,
    /// The mean score of the scored techniques, rounded; null when none is scored.
    average_score: Option<i32>,
    stale_techniques: i32,
}

/// How well a technique is covered.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
#[graphql(remote = "domain::coverage::CoverageLevel")]
pub enum CoverageLevelName {
    /// Never validated.
    Untested,
    /// Validated, scoring below 70.
    Partial,
    /// Scoring 70 or more.
    Covered,
}

/// One technique in a gap view.
#[derive(SimpleObject, Debug, Clone, PartialEq, Eq)]
pub struct GapCell {
    technique_id: String,
    name: String,
    level: CoverageLevelName,
    score: Option<i32>,
}

/// Techniques counted by how well they are covered.
#[derive(SimpleObject, Debug, Clone, PartialEq, Eq)]
pub struct GapCounts {
    techniques: i32,
    covered: i32,
    partial: i32,
    untested: i32,
    /// The mean score of the scored techniques, rounded.
    average_score: Option<i32>,
    /// Each technique, least covered first.
    cells: Vec<GapCell>,
}

impl GapCounts {
    /// The gaps of `techniques` in `heatmap`; ids the heatmap has no cell for (another domain, revoked) are
    /// left out.
    fn of<'a>(
        heatmap: &HashMap<&str, &TechniqueCell>,
        techniques: impl IntoIterator<Item = &'a String>,
    ) -> Self {
        let mut cells: Vec<GapCell> = techniques
            .into_iter()
            .filter_map(|id| heatmap.get(id.as_str()))
            .map(|technique| GapCell {
                technique_id: technique.technique.id.clone(),
                name: technique.technique.name.clone(),
                level: CoverageLevel::of(technique.cell.score).into(),
                score: score(technique.cell.score),
            })
            .collect();
        cells.sort_by(|left, right| {
            (left.score, &left.technique_id).cmp(&(right.score, &right.technique_id))
        });
        cells.dedup_by(|left, right| left.technique_id == right.technique_id);
        let level_count = |level| count(cells.iter().filter(|cell| cell.level == level).count());
        let scores: Vec<i32> = cells.iter().filter_map(|cell| cell.score).collect();
        Self {
            techniques: count(cells.len()),
            covered: level_count(CoverageLevelName::Covered),
            partial: level_count(CoverageLevelName::Partial),
            untested: level_count(CoverageLevelName::Untested),
            average_score: rounded_mean(&scores),
            cells,
        }
    }
}

/// The half-up rounded mean; `None` for no values.
fn rounded_mean(values: &[i32]) -> Option<i32> {
    let len = i64::try_from(values.len()).ok().filter(|len| *len > 0)?;
    let sum: i64 = values.iter().map(|value| i64::from(*value)).sum();
    i32::try_from((2 * sum + len) / (2 * len)).ok()
}

/// An ATT&CK group and how well the techniques it uses are covered.
#[derive(SimpleObject, Debug, Clone, PartialEq, Eq)]
pub struct ThreatActorGaps {
    group_id: String,
    name: String,
    gaps: GapCounts,
}

/// A compliance control and the coverage of the techniques mapped to it.
#[derive(SimpleObject, Debug, Clone, PartialEq, Eq)]
pub struct ControlCoverage {
    control_id: String,
    /// The mapping's description of the control (CTID).
    name: String,
    /// The control's title in the OSCAL catalog of the same framework, when imported.
    title: Option<String>,
    gaps: GapCounts,
}

/// A snapshot of the coverage.
#[derive(SimpleObject, Debug, Clone, PartialEq, Eq)]
pub struct CoverageSnapshot {
    id: Uuid,
    /// weekly or on_demand
    kind: String,
    taken_at: DateTime<Utc>,
    taken_by: Option<String>,
}

#[derive(Debug, Default)]
pub struct CoverageQuery;

#[Object]
impl CoverageQuery {
    /// The heatmap of `domain` now, or exactly as it stood at `asOf` (the events, the catalog and the policy
    /// in force then), optionally under another policy (`policyId`, its settings as they were then).
    async fn heatmap(
        &self,
        context: &Context<'_>,
        #[graphql(default_with = "AttackDomain::Enterprise")] domain: AttackDomain,
        filter: Option<CoverageFilter>,
        as_of: Option<DateTime<Utc>>,
        policy_id: Option<Uuid>,
    ) -> async_graphql::Result<HeatmapView> {
        let query = query(
            context,
            domain,
            filter.unwrap_or_default(),
            as_of,
            policy_id,
        )?;
        Ok(HeatmapView::of(&load(context, &query).await?))
    }

    /// Every cell under the policy in force at the moment and under `policyId`, side by side.
    async fn rescore(
        &self,
        context: &Context<'_>,
        #[graphql(default_with = "AttackDomain::Enterprise")] domain: AttackDomain,
        policy_id: Uuid,
        filter: Option<CoverageFilter>,
        as_of: Option<DateTime<Utc>>,
    ) -> async_graphql::Result<Rescore> {
        let in_force = query(context, domain, filter.unwrap_or_default(), as_of, None)?;
        let other = HeatmapQuery {
            policy_id: Some(policy_id),
            ..in_force.clone()
        };
        let (in_force, other) = (
            load(context, &in_force).await?,
            load(context, &other).await?,
        );
        Ok(Rescore::of(&in_force, &other))
    }

    /// Every cell under the policy in force at the moment and under `settings`, side by side, without saving
    /// anything: the effect a policy would have before it is defined or changed. The settings are checked
    /// as `defineScoringPolicy` checks them (code VALIDATION, reason INVALID_SETTINGS). `rescoredWith` names
    /// no policy.
    async fn preview_scoring_policy(
        &self,
        context: &Context<'_>,
        #[graphql(default_with = "AttackDomain::Enterprise")] domain: AttackDomain,
        settings: PolicySettingsInput,
        filter: Option<CoverageFilter>,
        as_of: Option<DateTime<Utc>>,
    ) -> async_graphql::Result<Rescore> {
        let settings = parse_settings(settings).map_err(|error| refused(&error))?;
        let in_force = query(context, domain, filter.unwrap_or_default(), as_of, None)?;
        let state = context.data::<AppState>()?;
        let previewed = heatmap::heatmap_cached_with_settings(
            &state.pool,
            &state.heatmaps,
            &in_force,
            settings,
        )
        .await
        .map_err(heatmap_error)?;
        let in_force = load(context, &in_force).await?;
        Ok(Rescore::of(&in_force, &previewed))
    }

    /// The events, rules and policy terms behind one cell, now or at `asOf`.
    async fn explain_coverage(
        &self,
        context: &Context<'_>,
        technique_id: String,
        #[graphql(default_with = "AttackDomain::Enterprise")] domain: AttackDomain,
        as_of: Option<DateTime<Utc>>,
        policy_id: Option<Uuid>,
    ) -> async_graphql::Result<Option<CoverageExplanation>> {
        let state = context.data::<AppState>()?;
        let query = query(context, domain, CoverageFilter::default(), as_of, policy_id)?;
        let heatmap = load(context, &query).await?;
        let technique_id = technique_id.trim().to_uppercase();
        let Some(technique) = heatmap.cells().get(technique_id.as_str()).copied().cloned() else {
            return Ok(None);
        };
        let counted: Vec<(Uuid, u32)> = technique
            .cell
            .results
            .iter()
            .map(|result| (result.test_case_id, result.run))
            .collect();
        let validations = coverage::validations_of(
            &state.pool,
            std::slice::from_ref(&technique_id),
            None,
            Some(heatmap.at),
        )
        .await
        .map_err(internal)?
        .into_iter()
        .map(|validation| validation_event(validation, &counted))
        .collect();
        let rules = rules_naming(context, &technique.technique.id, query.as_of).await?;
        Ok(Some(CoverageExplanation {
            at: heatmap.at,
            policy: policy_in_force(&heatmap),
            terms: technique
                .cell
                .breakdown(&heatmap.policy.settings, heatmap.at)
                .as_ref()
                .map(ScoreTerms::from),
            cell: CoverageCell::of(&technique),
            validations,
            rules,
        }))
    }

    /// Techniques gained, lost, improved or regressed between `from` and `to` (default now), each with the
    /// approvals in between.
    async fn coverage_diff(
        &self,
        context: &Context<'_>,
        #[graphql(default_with = "AttackDomain::Enterprise")] domain: AttackDomain,
        from: DateTime<Utc>,
        to: Option<DateTime<Utc>>,
        filter: Option<CoverageFilter>,
    ) -> async_graphql::Result<Vec<CoverageChange>> {
        let state = context.data::<AppState>()?;
        let filter = filter.unwrap_or_default();
        let before = load(
            context,
            &query(context, domain, filter.clone(), Some(from), None)?,
        )
        .await?;
        let after = load(context, &query(context, domain, filter, to, None)?).await?;
        let before_cells = before.cells();
        let mut changes: Vec<CoverageChange> = after
            .cells()
            .into_iter()
            .filter_map(|(id, technique)| {
                let was = before_cells.get(id).and_then(|cell| cell.cell.score);
                let change = domain::coverage::change(was, technique.cell.score)?;
                Some(CoverageChange {
                    technique_id: id.to_owned(),
                    name: technique.technique.name.clone(),
                    change: change.into(),
                    before: score(was),
                    after: score(technique.cell.score),
                    causes: Vec::new(),
                })
            })
            .collect();
        changes.sort_by(|left, right| left.technique_id.cmp(&right.technique_id));
        let techniques: Vec<String> = changes
            .iter()
            .map(|change| change.technique_id.clone())
            .collect();
        let mut causes: HashMap<String, Vec<ValidationEvent>> = HashMap::new();
        for validation in
            coverage::validations_of(&state.pool, &techniques, Some(from), Some(after.at))
                .await
                .map_err(internal)?
        {
            causes
                .entry(validation.technique.clone())
                .or_default()
                .push(validation_event(validation, &[]));
        }
        for change in &mut changes {
            change.causes = causes.remove(&change.technique_id).unwrap_or_default();
        }
        Ok(changes)
    }

    /// The coverage at regular moments from `from` to `to` (default now), every `intervalDays` (default 7):
    /// each point is the heatmap as of that moment (starting from the nearest snapshot).
    async fn coverage_trend(
        &self,
        context: &Context<'_>,
        #[graphql(default_with = "AttackDomain::Enterprise")] domain: AttackDomain,
        from: DateTime<Utc>,
        to: Option<DateTime<Utc>>,
        #[graphql(default = 7)] interval_days: i32,
        filter: Option<CoverageFilter>,
    ) -> async_graphql::Result<Vec<TrendPoint>> {
        let state = context.data::<AppState>()?;
        let to = to.unwrap_or_else(|| state.campaigns.now());
        if interval_days < 1 || from > to {
            return Err(ApiError::Validation(
                "the trend needs from ≤ to and intervalDays ≥ 1".into(),
            )
            .extend());
        }
        let interval = Duration::days(i64::from(interval_days));
        if (to - from).num_days() / i64::from(interval_days) >= MAX_TREND_POINTS {
            return Err(ApiError::Validation(format!(
                "at most {MAX_TREND_POINTS} points; widen the interval"
            ))
            .extend());
        }
        let filter = filter.unwrap_or_default();
        let mut points = Vec::new();
        let mut at = from;
        while at <= to {
            let heatmap = load(
                context,
                &query(context, domain, filter.clone(), Some(at), None)?,
            )
            .await?;
            let scores: Vec<i32> = heatmap
                .techniques
                .iter()
                .filter_map(|technique| score(technique.cell.score))
                .collect();
            points.push(TrendPoint {
                at,
                scored_techniques: count(scores.len()),
                techniques: count(heatmap.techniques.len()),
                average_score: rounded_mean(&scores),
                stale_techniques: count(heatmap.techniques.iter().filter(|t| t.cell.stale).count()),
            });
            at += interval;
        }
        Ok(points)
    }

    /// For each ATT&CK group of the domain (or one, `groupId`): the techniques it uses, covered, partially
    /// covered and untested — now or at `asOf`. Groups with the largest untested share first.
    async fn threat_actor_gaps(
        &self,
        context: &Context<'_>,
        #[graphql(default_with = "AttackDomain::Enterprise")] domain: AttackDomain,
        group_id: Option<String>,
        as_of: Option<DateTime<Utc>>,
    ) -> async_graphql::Result<Vec<ThreatActorGaps>> {
        let state = context.data::<AppState>()?;
        let query = query(context, domain, CoverageFilter::default(), as_of, None)?;
        let heatmap = load(context, &query).await?;
        let cells = heatmap.cells();
        let groups = projections::catalog::all(&state.pool, "group", &query.scope, query.as_of)
            .await
            .map_err(internal)?;
        let wanted = group_id.map(|id| id.trim().to_uppercase());
        let mut gaps: Vec<ThreatActorGaps> = groups
            .into_iter()
            .filter(|group| group.status == "active")
            .filter(|group| wanted.as_ref().is_none_or(|wanted| *wanted == group.id))
            .map(|group| ThreatActorGaps {
                gaps: GapCounts::of(&cells, &group.techniques),
                group_id: group.id,
                name: group.name,
            })
            .collect();
        gaps.sort_by(|left, right| {
            let share = |gaps: &GapCounts| {
                i64::from(gaps.untested) * 1_000 / i64::from(gaps.techniques.max(1))
            };
            share(&right.gaps)
                .cmp(&share(&left.gaps))
                .then_with(|| left.group_id.cmp(&right.group_id))
        });
        Ok(gaps)
    }

    /// For each control of a compliance framework (`nist_800_53-rev5`, `csa_ccm-4.1`…, as CTID maps them to
    /// ATT&CK), the coverage of its mapped techniques — now or at `asOf`, e.g. an audit date.
    async fn compliance_coverage(
        &self,
        context: &Context<'_>,
        framework: String,
        #[graphql(default_with = "AttackDomain::Enterprise")] domain: AttackDomain,
        as_of: Option<DateTime<Utc>>,
    ) -> async_graphql::Result<Vec<ControlCoverage>> {
        let state = context.data::<AppState>()?;
        let query = query(context, domain, CoverageFilter::default(), as_of, None)?;
        let heatmap = load(context, &query).await?;
        let cells = heatmap.cells();
        let framework = framework.trim();
        let mappings =
            projections::catalog::all(&state.pool, "control_mapping", framework, query.as_of)
                .await
                .map_err(internal)?;
        let titles: HashMap<String, String> =
            projections::catalog::all(&state.pool, "control", framework, query.as_of)
                .await
                .map_err(internal)?
                .into_iter()
                .map(|control| (control.id, control.name))
                .collect();
        Ok(mappings
            .into_iter()
            .map(|mapping| ControlCoverage {
                gaps: GapCounts::of(&cells, &mapping.techniques),
                title: titles.get(&mapping.id).cloned(),
                control_id: mapping.id,
                name: mapping.name,
            })
            .collect())
    }

    /// The coverage snapshots kept (the last 52 weekly ones and every on-demand one), newest first.
    async fn coverage_snapshots(
        &self,
        context: &Context<'_>,
    ) -> async_graphql::Result<Vec<CoverageSnapshot>> {
        let state = context.data::<AppState>()?;
        Ok(coverage::snapshots(&state.pool)
            .await
            .map_err(internal)?
            .into_iter()
            .map(|row| CoverageSnapshot {
                id: row.snapshot_id,
                kind: row.kind,
                taken_at: row.taken_at,
                taken_by: row.taken_by,
            })
            .collect())
    }
}

#[derive(Debug, Default)]
pub struct CoverageMutation;

#[Object]
impl CoverageMutation {
    /// Takes a snapshot of the coverage now (admins); time travel starts from the nearest snapshot. Returns its
    /// id; it is listed once the projector has applied it.
    async fn take_coverage_snapshot(&self, context: &Context<'_>) -> async_graphql::Result<Uuid> {
        let state = context.data::<AppState>()?;
        let caller = caller(context)?;
        let snapshot_id = caller.new_aggregate_id();
        let command = TakeSnapshot {
            actor: caller.actor,
            snapshot_id,
            kind: SnapshotKind::OnDemand,
        };
        state
            .coverage_snapshots
            .execute(
                &caller.context,
                &SNAPSHOTS_AGGREGATE_ID.to_string(),
                command,
            )
            .await
            .map_err(failed)?;
        Ok(snapshot_id)
    }
}

impl Refusal for domain::coverage_snapshot::CoverageSnapshotError {
    fn code(&self) -> &'static str {
        Self::code(self)
    }
}

fn query(
    context: &Context<'_>,
    domain: AttackDomain,
    filter: CoverageFilter,
    as_of: Option<DateTime<Utc>>,
    policy_id: Option<Uuid>,
) -> async_graphql::Result<HeatmapQuery> {
    let state = context.data::<AppState>()?;
    let now = state.campaigns.now();
    Ok(HeatmapQuery {
        scope: domain.scope().to_owned(),
        filter: ResultFilter {
            platform: filter
                .platform
                .map(|platform| platform.trim().to_lowercase()),
            tag: filter.tag.map(|tag| tag.trim().to_lowercase()),
            campaign_id: filter.campaign_id,
        },
        threat_actor: filter.threat_actor.map(|group| group.trim().to_uppercase()),
        // A moment in the future is now: the log holds nothing later.
        as_of: as_of.filter(|as_of| *as_of < now),
        policy_id,
        at: as_of.map_or(now, |as_of| as_of.min(now)),
    })
}

async fn load(context: &Context<'_>, query: &HeatmapQuery) -> async_graphql::Result<Heatmap> {
    let state = context.data::<AppState>()?;
    heatmap::heatmap_cached(&state.pool, &state.heatmaps, query)
        .await
        .map_err(heatmap_error)
}

fn heatmap_error(error: HeatmapError) -> async_graphql::Error {
    match error {
        HeatmapError::UnknownPolicy(_) => ApiError::NotFound(error.to_string()).extend(),
        HeatmapError::Database(error) => internal(error),
        HeatmapError::Settings(_) => ApiError::internal(error).extend(),
    }
}

fn validation_event(validation: coverage::Validation, counted: &[(Uuid, u32)]) -> ValidationEvent {
    let run = u32::try_from(validation.run).unwrap_or_default();
    ValidationEvent {
        counts: counted.contains(&(validation.test_case_id, run)),
        test_case_id: validation.test_case_id,
        run: validation.run,
        procedure: validation.procedure,
        outcome: validation.outcome,
        validated_at: validation.validated_at,
        approved_by: validation.approved_by,
        global_position: validation.global_seq.to_string(),
    }
}

/// The rule deployments at the moment whose catalog records name `technique`.
async fn rules_naming(
    context: &Context<'_>,
    technique: &str,
    as_of: Option<DateTime<Utc>>,
) -> async_graphql::Result<Vec<RuleDeploymentEvent>> {
    let state = context.data::<AppState>()?;
    let deployed = coverage::deployed_rules(&state.pool, as_of)
        .await
        .map_err(internal)?;
    let naming: std::collections::HashSet<(String, String)> =
        projections::catalog::referring_to(&state.pool, "detection_rule", technique, as_of)
            .await
            .map_err(internal)?
            .into_iter()
            .map(|entry| (entry.scope, entry.id))
            .collect();
    Ok(deployed
        .into_iter()
        .filter(|period| naming.contains(&(period.source.clone(), period.rule_id.clone())))
        .map(|period| RuleDeploymentEvent {
            source: period.source,
            rule_id: period.rule_id,
            deployed_at: period.deployed_at,
            deployed_by: period.deployed_by,
        })
        .collect())
}
