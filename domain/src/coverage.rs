//! The heatmap's cells, computed: from what the read side gathered about one technique at one moment — the
//! latest validated result of each procedure, the deployed rules, telemetry, threat-actor prevalence — and a
//! scoring policy, each cell's counts, best and worst outcome, score and staleness ([`cell`]); a technique's
//! sub-techniques folded into it by the policy's function ([`roll_up`]); and how a cell changed between two
//! moments ([`change`]). Pure: the read side brings the facts and the time.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::scoring::{
    PolicySettings, Score, ScoreBreakdown, ScoredOutcome, TechniqueFacts, ValidatedOutcome,
    Visibility, aggregate, explain,
};

/// How long a validation keeps a cell fresh when the policy has no half-life: half a year, the usual
/// re-test cadence of a purple-team programme.
pub const DEFAULT_FRESHNESS_DAYS: u16 = 180;

/// The latest validated result of one procedure against a technique. A procedure is a template (re-tests of
/// the same Atomic test trend together) or, for a hand-written test, the test case itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcedureResult {
    /// `atomic:<guid>`, `caldera:<id>`, `lolbas:<entry>`, `gtfobins:<entry>` or `test_case:<id>`.
    pub procedure: String,
    pub test_case_id: Uuid,
    pub run: u32,
    pub outcome: ScoredOutcome,
    pub validated_at: DateTime<Utc>,
}

/// What the read side knows about one technique at the moment of the heatmap.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CellFacts {
    /// One result per procedure (the newest validated by the moment of the heatmap). Shared: a heatmap scored
    /// again at another time (its inputs kept) hands them to its cells without copying them.
    pub results: Arc<[ProcedureResult]>,
    pub deployed_rules: u32,
    pub telemetry_visibility: Visibility,
    /// Percent of tracked threat actors using the technique; `None` when no actors are tracked.
    pub actor_prevalence: Option<u8>,
}

/// One technique's cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    pub technique: String,
    pub results: Arc<[ProcedureResult]>,
    /// Procedures per outcome, every outcome present (zeros included), worst first.
    pub tests_by_outcome: BTreeMap<ScoredOutcome, u32>,
    pub best: Option<ScoredOutcome>,
    pub worst: Option<ScoredOutcome>,
    pub deployed_rules: u32,
    pub telemetry_visibility: Visibility,
    pub actor_prevalence: Option<u8>,
    pub last_validated_at: Option<DateTime<Utc>>,
    /// The technique's own score, from its own results; `None` when never tested.
    pub own_score: Option<Score>,
    /// The score the heatmap shows: the own score, or for a technique with tested sub-techniques the
    /// policy's aggregation of theirs and its own.
    pub score: Option<Score>,
    /// No validation within the freshness window (a never-tested technique is not stale: it is untested).
    pub stale: bool,
    /// How the own score was made, for "explain this cell".
    pub breakdown: Option<ScoreBreakdown>,
}

/// The cell of `technique` with `facts`, scored under `policy` as of `at`.
pub fn cell(technique: &str, facts: CellFacts, policy: &PolicySettings, at: DateTime<Utc>) -> Cell {
    let results = if facts.results.iter().all(|result| result.validated_at <= at) {
        facts.results
    } else {
        facts
            .results
            .iter()
            .filter(|result| result.validated_at <= at)
            .cloned()
            .collect()
    };
    let mut tests_by_outcome: BTreeMap<ScoredOutcome, u32> = ScoredOutcome::ALL
        .iter()
        .map(|outcome| (*outcome, 0))
        .collect();
    for result in results.iter() {
        *tests_by_outcome.entry(result.outcome).or_default() += 1;
    }
    let last_validated_at = results.iter().map(|result| result.validated_at).max();
    let breakdown = explain(
        &TechniqueFacts {
            outcomes: results
                .iter()
                .map(|result| ValidatedOutcome {
                    outcome: result.outcome,
                    validated_at: result.validated_at,
                })
                .collect(),
            deployed_rules: facts.deployed_rules,
            telemetry_visibility: facts.telemetry_visibility,
            actor_prevalence: facts.actor_prevalence,
        },
        policy,
        at,
    );
    let own_score = breakdown.as_ref().map(|breakdown| breakdown.score);
    Cell {
        technique: technique.to_owned(),
        best: results.iter().map(|result| result.outcome).max(),
        worst: results.iter().map(|result| result.outcome).min(),
        stale: last_validated_at.is_some_and(|last| last < at - freshness(policy)),
        results,
        tests_by_outcome,
        deployed_rules: facts.deployed_rules,
        telemetry_visibility: facts.telemetry_visibility,
        actor_prevalence: facts.actor_prevalence,
        last_validated_at,
        own_score,
        score: own_score,
        breakdown,
    }
}

/// How long a validation keeps a cell fresh under `policy`: its half-life, else [`DEFAULT_FRESHNESS_DAYS`].
pub fn freshness(policy: &PolicySettings) -> Duration {
    Duration::days(i64::from(
        policy.half_life_days().unwrap_or(DEFAULT_FRESHNESS_DAYS),
    ))
}

/// Folds the scores of `technique`'s sub-techniques into its heatmap score with the policy's aggregation
/// (a technique tested only through its sub-techniques gets their aggregate).
pub fn roll_up<'a>(
    technique: &mut Cell,
    sub_techniques: impl IntoIterator<Item = &'a Cell>,
    policy: &PolicySettings,
) {
    let sub_scores: Vec<Score> = sub_techniques
        .into_iter()
        .filter_map(|cell| cell.score)
        .collect();
    if sub_scores.is_empty() {
        return;
    }
    technique.score = aggregate(&sub_scores, technique.own_score, policy.aggregation());
}

/// The score from which a technique counts as covered: most procedures alerted or blocked.
pub const COVERED_FROM: u8 = 70;

/// How well a technique is covered, for gap views (threat actors, compliance controls).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CoverageLevel {
    /// Never validated (or not within what the view counts).
    Untested,
    /// Validated, scoring below [`COVERED_FROM`].
    Partial,
    /// Scoring [`COVERED_FROM`] or more.
    Covered,
}

impl CoverageLevel {
    pub fn of(score: Option<Score>) -> Self {
        match score {
            None => Self::Untested,
            Some(score) if score.value() >= COVERED_FROM => Self::Covered,
            Some(_) => Self::Partial,
        }
    }
}

/// How a cell moved between two moments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// Untested before, scored now.
    Gained,
    /// Scored before, untested now (its results were re-attributed or are not yet validated then).
    Lost,
    Improved,
    Regressed,
}

/// The change from score `before` to score `after`; `None` when the score is the same.
pub fn change(before: Option<Score>, after: Option<Score>) -> Option<Change> {
    match (before, after) {
        (None, Some(_)) => Some(Change::Gained),
        (Some(_), None) => Some(Change::Lost),
        (Some(before), Some(after)) if after > before => Some(Change::Improved),
        (Some(before), Some(after)) if after < before => Some(Change::Regressed),
        _ => None,
    }
}

/// Visibility from the number of distinct Sysmon event types that collect events naming the technique:
/// one is a start, two cover most of what is needed, three or more let an analyst see and investigate it.
pub fn visibility_from_event_types(event_types: u32) -> Visibility {
    match event_types {
        0 => Visibility::None,
        1 => Visibility::Low,
        2 => Visibility::Medium,
        _ => Visibility::High,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
