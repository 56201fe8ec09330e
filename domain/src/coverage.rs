//! The heatmap's cells, computed: from what the read side gathered about one technique at one moment — the
//! latest validated result of each procedure, the deployed rules, telemetry, threat-actor prevalence — and a
//! scoring policy, each cell's counts, best and worst outcome, score and staleness ([`cell`], or [`Prepared`] to
//! score the same facts at many moments in time that does not grow with their results); a technique's
//! sub-techniques folded into it by the policy's function ([`roll_up`]); and how a cell changed between two
//! moments ([`change`]). Pure: the read side brings the facts and the time.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::scoring::{
    OutcomeTally, PolicySettings, Score, ScoreBreakdown, ScoredOutcome, TechniqueContext,
    TechniqueFacts, ValidatedOutcome, Visibility, aggregate, explain, score_tallied,
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
    pub context: TechniqueContext,
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
}

impl Cell {
    /// How the own score was made under `policy` at `at` (the cell's), for "explain this cell".
    pub fn breakdown(&self, policy: &PolicySettings, at: DateTime<Utc>) -> Option<ScoreBreakdown> {
        let facts = TechniqueFacts {
            outcomes: validated_outcomes(&self.results),
            context: TechniqueContext {
                deployed_rules: self.deployed_rules,
                telemetry_visibility: self.telemetry_visibility,
                actor_prevalence: self.actor_prevalence,
            },
        };
        explain(&facts, policy, at)
    }
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
    Prepared::new(
        CellFacts {
            results,
            context: facts.context,
        },
        policy,
    )
    .cell(technique, policy, at)
}

/// A technique's facts with what does not depend on the moment worked out once: the outcome counts and the
/// outcomes tallied for scoring (which knows the newest). A heatmap whose inputs are kept between
/// requests scores each of them again at every request; prepared, that costs the same for ten results as
/// for a million.
#[derive(Debug, Clone)]
pub struct Prepared {
    facts: CellFacts,
    tests_by_outcome: BTreeMap<ScoredOutcome, u32>,
    /// With the half-life of the policy prepared for; `None` when there are no results.
    tally: Option<OutcomeTally>,
}

impl Prepared {
    /// `facts` prepared to be scored under `policy`. Another policy with the same half-life is as quick; one with
    /// another half-life scores the results from scratch.
    pub fn new(facts: CellFacts, policy: &PolicySettings) -> Self {
        let mut tests_by_outcome: BTreeMap<ScoredOutcome, u32> = ScoredOutcome::ALL
            .iter()
            .map(|outcome| (*outcome, 0))
            .collect();
        for result in facts.results.iter() {
            *tests_by_outcome.entry(result.outcome).or_default() += 1;
        }
        Self {
            tests_by_outcome,
            tally: OutcomeTally::new(&validated_outcomes(&facts.results), policy.half_life_days()),
            facts,
        }
    }

    /// The cell of `technique`, scored under `policy` as of `at`: the same as [`cell`] with the facts.
    pub fn cell(&self, technique: &str, policy: &PolicySettings, at: DateTime<Utc>) -> Cell {
        let Some(tally) = &self.tally else {
            return self.untested_cell(technique);
        };
        if tally.newest() > at || tally.half_life_days() != policy.half_life_days() {
            // Not what it was prepared for: some results come after the moment, or they decay otherwise.
            return cell(technique, self.facts.clone(), policy, at);
        }
        let own_score = Some(score_tallied(tally, self.facts.context, policy, at));
        let tested = || {
            self.tests_by_outcome
                .iter()
                .filter(|(_, count)| **count > 0)
                .map(|(outcome, _)| *outcome)
        };
        Cell {
            best: tested().max(),
            worst: tested().min(),
            last_validated_at: Some(tally.newest()),
            stale: tally.newest() < at - freshness(policy),
            own_score,
            score: own_score,
            ..self.untested_cell(technique)
        }
    }

    fn untested_cell(&self, technique: &str) -> Cell {
        let context = &self.facts.context;
        Cell {
            technique: technique.to_owned(),
            results: Arc::clone(&self.facts.results),
            tests_by_outcome: self.tests_by_outcome.clone(),
            best: None,
            worst: None,
            deployed_rules: context.deployed_rules,
            telemetry_visibility: context.telemetry_visibility,
            actor_prevalence: context.actor_prevalence,
            last_validated_at: None,
            own_score: None,
            score: None,
            stale: false,
        }
    }
}

fn validated_outcomes(results: &[ProcedureResult]) -> Vec<ValidatedOutcome> {
    results
        .iter()
        .map(|result| ValidatedOutcome {
            outcome: result.outcome,
            validated_at: result.validated_at,
        })
        .collect()
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
