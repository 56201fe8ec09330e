//! Cells, roll-up, staleness and change.

use super::*;
use crate::scoring::{Aggregation, PolicySettingsDraft};

fn at(rfc3339: &str) -> DateTime<Utc> {
    rfc3339.parse().unwrap()
}

fn result(procedure: &str, outcome: ScoredOutcome, validated_at: &str) -> ProcedureResult {
    ProcedureResult {
        procedure: procedure.to_owned(),
        test_case_id: Uuid::from_u128(1),
        run: 1,
        outcome,
        validated_at: at(validated_at),
    }
}

fn policy(half_life_days: Option<u16>, aggregation: Aggregation) -> PolicySettings {
    PolicySettings::parse(PolicySettingsDraft {
        half_life_days,
        aggregation,
        ..PolicySettings::default().to_draft()
    })
    .unwrap()
}

#[test]
fn a_cell_counts_outcomes_and_scores_like_the_policy_formula() {
    let facts = CellFacts {
        results: vec![
            result("atomic:a", ScoredOutcome::Blocked, "2026-01-01T00:00:00Z"),
            result(
                "atomic:b",
                ScoredOutcome::NotDetected,
                "2026-01-02T00:00:00Z",
            ),
        ]
        .into(),
        ..CellFacts::default()
    };
    let policy = policy(None, Aggregation::Average);
    let cell = cell("T1003", facts, &policy, at("2026-01-03T00:00:00Z"));
    assert_eq!(cell.tests_by_outcome[&ScoredOutcome::Blocked], 1);
    assert_eq!(cell.tests_by_outcome[&ScoredOutcome::NotDetected], 1);
    assert_eq!(cell.tests_by_outcome[&ScoredOutcome::Logged], 0);
    assert_eq!(cell.best, Some(ScoredOutcome::Blocked));
    assert_eq!(cell.worst, Some(ScoredOutcome::NotDetected));
    // Blocked 100 and NotDetected 0 average to 50 under the default weights.
    assert_eq!(cell.score, Score::new(50));
    assert_eq!(
        cell.own_score,
        cell.breakdown(&policy, at("2026-01-03T00:00:00Z"))
            .map(|b| b.score)
    );
    assert_eq!(cell.last_validated_at, Some(at("2026-01-02T00:00:00Z")));
    assert!(!cell.stale);
}

#[test]
fn results_after_the_moment_do_not_count() {
    let facts = CellFacts {
        results: vec![result(
            "atomic:a",
            ScoredOutcome::Blocked,
            "2026-02-01T00:00:00Z",
        )]
        .into(),
        ..CellFacts::default()
    };
    let cell = cell(
        "T1003",
        facts,
        &policy(None, Aggregation::Average),
        at("2026-01-01T00:00:00Z"),
    );
    assert_eq!(cell.score, None);
    assert!(cell.results.is_empty());
    assert!(!cell.stale, "untested is not stale");
}

#[test]
fn a_cell_goes_stale_after_the_freshness_window() {
    let facts = CellFacts {
        results: vec![result(
            "atomic:a",
            ScoredOutcome::Alerted,
            "2026-01-01T00:00:00Z",
        )]
        .into(),
        ..CellFacts::default()
    };
    let thirty_days = policy(Some(30), Aggregation::Average);
    assert!(
        !cell(
            "T1",
            facts.clone(),
            &thirty_days,
            at("2026-01-30T00:00:00Z")
        )
        .stale
    );
    assert!(
        cell(
            "T1",
            facts.clone(),
            &thirty_days,
            at("2026-02-01T00:00:00Z")
        )
        .stale
    );
    let no_decay = policy(None, Aggregation::Average);
    assert!(!cell("T1", facts.clone(), &no_decay, at("2026-06-29T00:00:00Z")).stale);
    assert!(cell("T1", facts, &no_decay, at("2026-07-01T00:00:00Z")).stale);
}

#[test]
fn sub_techniques_roll_up_by_the_policy_function() {
    let scored = |outcome| CellFacts {
        results: vec![result("p", outcome, "2026-01-01T00:00:00Z")].into(),
        ..CellFacts::default()
    };
    let now = at("2026-01-02T00:00:00Z");
    for (aggregation, expected) in [
        (Aggregation::Max, 100),
        (Aggregation::Min, 0),
        (Aggregation::Average, 50),
    ] {
        let policy = policy(None, aggregation);
        let subs = [
            cell("T1003.001", scored(ScoredOutcome::Blocked), &policy, now),
            cell(
                "T1003.002",
                scored(ScoredOutcome::NotDetected),
                &policy,
                now,
            ),
            cell("T1003.003", CellFacts::default(), &policy, now),
        ];
        let mut parent = cell("T1003", CellFacts::default(), &policy, now);
        roll_up(&mut parent, &subs, &policy);
        assert_eq!(parent.score, Score::new(expected), "{aggregation:?}");
        assert_eq!(parent.own_score, None);
    }
}

#[test]
fn an_untested_technique_without_tested_sub_techniques_stays_unscored() {
    let policy = policy(None, Aggregation::Average);
    let now = at("2026-01-02T00:00:00Z");
    let mut parent = cell("T1003", CellFacts::default(), &policy, now);
    roll_up(
        &mut parent,
        &[cell("T1003.001", CellFacts::default(), &policy, now)],
        &policy,
    );
    assert_eq!(parent.score, None);
}

#[test]
fn changes_are_named_by_direction() {
    let score = |value| Score::new(value);
    assert_eq!(change(None, score(10)), Some(Change::Gained));
    assert_eq!(change(score(10), None), Some(Change::Lost));
    assert_eq!(change(score(10), score(20)), Some(Change::Improved));
    assert_eq!(change(score(20), score(10)), Some(Change::Regressed));
    assert_eq!(change(score(20), score(20)), None);
    assert_eq!(change(None, None), None);
}

#[test]
fn visibility_grows_with_the_event_types_collected() {
    assert_eq!(visibility_from_event_types(0), Visibility::None);
    assert_eq!(visibility_from_event_types(1), Visibility::Low);
    assert_eq!(visibility_from_event_types(2), Visibility::Medium);
    assert_eq!(visibility_from_event_types(7), Visibility::High);
}

#[test]
fn coverage_levels_split_at_the_covered_threshold() {
    assert_eq!(CoverageLevel::of(None), CoverageLevel::Untested);
    assert_eq!(CoverageLevel::of(Score::new(0)), CoverageLevel::Partial);
    assert_eq!(
        CoverageLevel::of(Score::new(COVERED_FROM - 1)),
        CoverageLevel::Partial
    );
    assert_eq!(
        CoverageLevel::of(Score::new(COVERED_FROM)),
        CoverageLevel::Covered
    );
}

mod prepared {
    use chrono::TimeDelta;
    use proptest::prelude::*;

    use super::*;
    use crate::scoring::score;

    fn start() -> DateTime<Utc> {
        at("2026-01-01T00:00:00Z")
    }

    /// Up to 40 results over a year, in any order.
    fn arbitrary_results() -> impl Strategy<Value = Vec<ProcedureResult>> {
        prop::collection::vec(
            (
                prop::sample::select(ScoredOutcome::ALL.to_vec()),
                0_i64..365 * 86_400,
            ),
            0..40,
        )
        .prop_map(|results| {
            results
                .into_iter()
                .enumerate()
                .map(|(index, (outcome, offset))| ProcedureResult {
                    procedure: format!("test_case:{index}"),
                    test_case_id: Uuid::from_u128(index as u128),
                    run: 1,
                    outcome,
                    validated_at: start() + TimeDelta::seconds(offset),
                })
                .collect()
        })
    }

    proptest! {
        /// Facts prepared once, under one policy, and scored at any moment under any half-life give what scoring the
        /// results validated by then from scratch gives.
        #[test]
        fn a_prepared_cell_is_scored_like_its_results_from_scratch(
            results in arbitrary_results(),
            prepared_half_life in prop::option::of(1_u16..=400),
            half_life in prop::option::of(1_u16..=400),
            deployed_rules in 0_u32..5,
            moment in 0_i64..500 * 86_400,
        ) {
            let facts = CellFacts {
                results: results.clone().into(),
                context: TechniqueContext { deployed_rules, ..TechniqueContext::default() },
            };
            let prepared = Prepared::new(facts, &policy(prepared_half_life, Aggregation::Average));
            let policy = policy(half_life, Aggregation::Average);
            let moment = start() + TimeDelta::seconds(moment);
            let cell = prepared.cell("T1003", &policy, moment);

            let counted: Vec<&ProcedureResult> =
                results.iter().filter(|result| result.validated_at <= moment).collect();
            let from_scratch = TechniqueFacts {
                outcomes: counted
                    .iter()
                    .map(|result| ValidatedOutcome { outcome: result.outcome, validated_at: result.validated_at })
                    .collect(),
                context: TechniqueContext { deployed_rules, ..TechniqueContext::default() },
            };
            prop_assert_eq!(cell.own_score, score(&from_scratch, &policy, moment));
            prop_assert_eq!(cell.breakdown(&policy, moment).map(|breakdown| breakdown.score), cell.own_score);
            prop_assert_eq!(cell.results.len(), counted.len());
            prop_assert_eq!(
                cell.tests_by_outcome.values().sum::<u32>() as usize,
                counted.len()
            );
            prop_assert_eq!(cell.best, counted.iter().map(|result| result.outcome).max());
            prop_assert_eq!(cell.worst, counted.iter().map(|result| result.outcome).min());
            let newest = counted.iter().map(|result| result.validated_at).max();
            prop_assert_eq!(cell.last_validated_at, newest);
            prop_assert_eq!(cell.stale, newest.is_some_and(|newest| newest < moment - freshness(&policy)));
        }
    }
}
