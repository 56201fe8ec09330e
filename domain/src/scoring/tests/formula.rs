//! The score: worked examples of each step of the formula, and its properties over arbitrary facts and
//! policies.

use chrono::TimeDelta;
use proptest::prelude::*;

use super::*;

/// The time every example is scored at.
fn now() -> DateTime<Utc> {
    at("2025-06-01T00:00:00Z")
}

fn days_ago(days: i64) -> DateTime<Utc> {
    now() - TimeDelta::days(days)
}

fn validated(outcome: ScoredOutcome, validated_at: DateTime<Utc>) -> ValidatedOutcome {
    ValidatedOutcome {
        outcome,
        validated_at,
    }
}

/// Facts with these outcomes and nothing else.
fn tested(outcomes: &[(ScoredOutcome, DateTime<Utc>)]) -> TechniqueFacts {
    TechniqueFacts {
        outcomes: outcomes
            .iter()
            .map(|&(outcome, validated_at)| validated(outcome, validated_at))
            .collect(),
        ..TechniqueFacts::default()
    }
}

fn policy(change: impl FnOnce(&mut PolicySettingsDraft)) -> PolicySettings {
    let mut draft = PolicySettings::default().to_draft();
    change(&mut draft);
    PolicySettings::parse(draft).unwrap()
}

fn score_of(facts: &TechniqueFacts, settings: &PolicySettings) -> u8 {
    score(facts, settings, now()).unwrap().value()
}

fn scores(values: &[u8]) -> Vec<Score> {
    values
        .iter()
        .map(|&value| Score::new(value).unwrap())
        .collect()
}

// Examples

#[test]
fn a_technique_never_tested_has_no_score() {
    let defaults = PolicySettings::default();
    let untested = TechniqueFacts {
        outcomes: Vec::new(),
        context: TechniqueContext {
            deployed_rules: 5,
            telemetry_visibility: Visibility::High,
            actor_prevalence: None,
        },
    };
    assert_eq!(score(&untested, &defaults, now()), None);
    // Tested only after the time of scoring: not tested yet, as of then.
    let tested_later = tested(&[(ScoredOutcome::Blocked, now() + TimeDelta::seconds(1))]);
    assert_eq!(explain(&tested_later, &defaults, now()), None);
}

#[test]
fn a_fresh_block_scores_full_marks() {
    let breakdown = explain(
        &tested(&[(ScoredOutcome::Blocked, now())]),
        &PolicySettings::default(),
        now(),
    )
    .unwrap();
    assert_eq!(
        breakdown,
        ScoreBreakdown {
            outcomes: vec![OutcomeContribution {
                outcome: ScoredOutcome::Blocked,
                validated_at: now(),
                weight: 100,
                retained_ppm: 1_000_000,
                points: Points::from_hundredths(10_000),
            }],
            outcome_points: Points::from_hundredths(10_000),
            rule_points: Points::default(),
            telemetry_points: Points::default(),
            subtotal: Points::from_hundredths(10_000),
            prevalence_penalty: Points::default(),
            total: Points::from_hundredths(10_000),
            score: Score::MAX,
        }
    );
}

#[test]
fn each_outcome_scores_its_default_weight_when_fresh() {
    let defaults = PolicySettings::default();
    for (outcome, expected) in [
        (ScoredOutcome::Blocked, 100),
        (ScoredOutcome::Alerted, 80),
        (ScoredOutcome::Logged, 40),
        (ScoredOutcome::NotDetected, 0),
    ] {
        assert_eq!(score_of(&tested(&[(outcome, now())]), &defaults), expected);
    }
}

#[test]
fn rules_and_telemetry_add_bounded_bonuses() {
    let defaults = PolicySettings::default();
    let facts = |deployed_rules, telemetry_visibility| TechniqueFacts {
        context: TechniqueContext {
            deployed_rules,
            telemetry_visibility,
            actor_prevalence: None,
        },
        ..tested(&[(ScoredOutcome::Logged, now())])
    };
    // 40 + 10 × 1/3 + 10 × 1/3 = 46.66, rounded to 47.
    let breakdown = explain(&facts(1, Visibility::Low), &defaults, now()).unwrap();
    assert_eq!(breakdown.rule_points, Points::from_hundredths(333));
    assert_eq!(breakdown.telemetry_points, Points::from_hundredths(333));
    assert_eq!(breakdown.total, Points::from_hundredths(4666));
    assert_eq!(breakdown.score.value(), 47);
    assert_eq!(score_of(&facts(3, Visibility::High), &defaults), 60);
    // Rules beyond three earn nothing more.
    assert_eq!(score_of(&facts(30, Visibility::High), &defaults), 60);
    assert_eq!(score_of(&facts(2, Visibility::Medium), &defaults), 53);
}

#[test]
fn the_subtotal_is_capped_at_one_hundred() {
    let facts = TechniqueFacts {
        context: TechniqueContext {
            deployed_rules: 3,
            telemetry_visibility: Visibility::High,
            actor_prevalence: None,
        },
        ..tested(&[(ScoredOutcome::Blocked, now())])
    };
    let breakdown = explain(&facts, &PolicySettings::default(), now()).unwrap();
    assert_eq!(breakdown.subtotal, Points::from_hundredths(10_000));
    assert_eq!(breakdown.score, Score::MAX);
}

#[test]
fn results_lose_half_their_weight_every_half_life() {
    let defaults = PolicySettings::default();
    let breakdown = explain(
        &tested(&[(ScoredOutcome::Blocked, days_ago(180))]),
        &defaults,
        now(),
    )
    .unwrap();
    assert_eq!(breakdown.outcomes[0].retained_ppm, 500_000);
    assert_eq!(breakdown.score.value(), 50);
    assert_eq!(
        score_of(
            &tested(&[(ScoredOutcome::Blocked, days_ago(360))]),
            &defaults
        ),
        25
    );
    assert_eq!(
        score_of(
            &tested(&[(ScoredOutcome::Alerted, days_ago(90))]),
            &defaults
        ),
        57 // 80 × 0.7071
    );
}

#[test]
fn without_a_half_life_results_never_fade() {
    let no_decay = policy(|draft| draft.half_life_days = None);
    assert_eq!(
        score_of(
            &tested(&[(ScoredOutcome::Blocked, days_ago(3650))]),
            &no_decay
        ),
        100
    );
}

#[test]
fn every_procedure_counts_equally() {
    let defaults = PolicySettings::default();
    let facts = tested(&[
        (ScoredOutcome::Blocked, now()),
        (ScoredOutcome::NotDetected, now()),
        (ScoredOutcome::Alerted, now()),
    ]);
    assert_eq!(score_of(&facts, &defaults), 60);
}

#[test]
fn prevalence_charges_the_gap_again() {
    let weighted = policy(|draft| {
        draft.prevalence_weight = 50;
        draft.rule_weight = 0;
        draft.telemetry_weight = 0;
    });
    let used_by_all = |outcome| TechniqueFacts {
        context: TechniqueContext {
            actor_prevalence: Some(100),
            ..TechniqueContext::default()
        },
        ..tested(&[(outcome, now())])
    };
    // Gap 60 × 50 % × 100 % = 30 off 40.
    let breakdown = explain(&used_by_all(ScoredOutcome::Logged), &weighted, now()).unwrap();
    assert_eq!(breakdown.prevalence_penalty, Points::from_hundredths(3000));
    assert_eq!(breakdown.score.value(), 10);
    // A fully defended technique keeps its full score, however common.
    assert_eq!(
        score_of(&used_by_all(ScoredOutcome::Blocked), &weighted),
        100
    );
    // Unknown prevalence, or a prevalence weight of 0, changes nothing.
    assert_eq!(
        score_of(&tested(&[(ScoredOutcome::Logged, now())]), &weighted),
        40
    );
    assert_eq!(
        score_of(
            &used_by_all(ScoredOutcome::Logged),
            &PolicySettings::default()
        ),
        40
    );
}

#[test]
fn prevalence_above_one_hundred_percent_counts_as_one_hundred() {
    let weighted = policy(|draft| draft.prevalence_weight = 100);
    let facts = |actor_prevalence| TechniqueFacts {
        context: TechniqueContext {
            actor_prevalence: Some(actor_prevalence),
            ..TechniqueContext::default()
        },
        ..tested(&[(ScoredOutcome::NotDetected, now())])
    };
    assert_eq!(score_of(&facts(255), &weighted), 0);
    assert_eq!(
        score_of(&facts(255), &weighted),
        score_of(&facts(100), &weighted)
    );
}

#[test]
fn the_total_is_rounded_half_up() {
    let odd = policy(|draft| {
        draft.outcome_weights = OutcomeWeights {
            blocked: 100,
            alerted: 80,
            logged: 41,
            not_detected: 0,
        };
    });
    let facts = tested(&[
        (ScoredOutcome::Logged, now()),
        (ScoredOutcome::NotDetected, now()),
    ]);
    let breakdown = explain(&facts, &odd, now()).unwrap();
    assert_eq!(breakdown.total, Points::from_hundredths(2050));
    assert_eq!(breakdown.score.value(), 21);
}

#[test]
fn points_show_two_decimals() {
    assert_eq!(Points::from_hundredths(8734).to_string(), "87.34");
    assert_eq!(Points::from_hundredths(5).to_string(), "0.05");
    assert_eq!(Points::from_hundredths(10_000).to_string(), "100.00");
}

#[test]
fn scores_are_at_most_one_hundred() {
    assert_eq!(Score::new(100), Some(Score::MAX));
    assert_eq!(Score::new(101), None);
    assert_eq!(
        serde_json::to_string(&Score::new(42).unwrap()).unwrap(),
        "42"
    );
    assert!(serde_json::from_str::<Score>("101").is_err());
}

#[test]
fn aggregation_of_sub_techniques() {
    let subs = scores(&[20, 50, 91]);
    assert_eq!(aggregate(&subs, None, Aggregation::Max), Score::new(91));
    assert_eq!(aggregate(&subs, None, Aggregation::Min), Score::new(20));
    // 161 / 3 = 53.67
    assert_eq!(aggregate(&subs, None, Aggregation::Average), Score::new(54));
    // 50.5 rounds up.
    assert_eq!(
        aggregate(&scores(&[50, 51]), None, Aggregation::Average),
        Score::new(51)
    );
}

#[test]
fn the_parent_counts_as_one_more_input() {
    let subs = scores(&[20, 40]);
    let parent = Score::new(90);
    assert_eq!(aggregate(&subs, parent, Aggregation::Max), parent);
    assert_eq!(
        aggregate(&subs, parent, Aggregation::Average),
        Score::new(50)
    );
    assert_eq!(aggregate(&[], parent, Aggregation::Min), parent);
}

#[test]
fn nothing_to_aggregate_is_no_score() {
    for how in [Aggregation::Max, Aggregation::Average, Aggregation::Min] {
        assert_eq!(aggregate(&[], None, how), None);
    }
}

// Properties

/// Up to three years, in seconds.
const MAX_AGE_SECONDS: i64 = 3 * 365 * 86_400;

fn arbitrary_settings() -> impl Strategy<Value = PolicySettings> {
    (
        prop::array::uniform4(0_u8..=100),
        0_u8..=100,
        0_u8..=100,
        0_u8..=100,
        prop::option::of(1_u16..=3650),
        prop::sample::select(vec![
            Aggregation::Max,
            Aggregation::Average,
            Aggregation::Min,
        ]),
    )
        .prop_map(
            |(
                mut weights,
                rule_weight,
                telemetry_weight,
                prevalence_weight,
                half_life_days,
                aggregation,
            )| {
                weights.sort_unstable_by(|a, b| b.cmp(a));
                PolicySettings::parse(PolicySettingsDraft {
                    outcome_weights: OutcomeWeights {
                        blocked: weights[0],
                        alerted: weights[1],
                        logged: weights[2],
                        not_detected: weights[3],
                    },
                    rule_weight,
                    telemetry_weight,
                    prevalence_weight,
                    half_life_days,
                    aggregation,
                })
                .unwrap()
            },
        )
}

fn arbitrary_outcome() -> impl Strategy<Value = ScoredOutcome> {
    prop::sample::select(ScoredOutcome::ALL.to_vec())
}

fn arbitrary_visibility() -> impl Strategy<Value = Visibility> {
    prop::sample::select(vec![
        Visibility::None,
        Visibility::Low,
        Visibility::Medium,
        Visibility::High,
    ])
}

/// Facts with 1 to 5 outcomes, all validated no later than [`now`].
fn arbitrary_facts() -> impl Strategy<Value = TechniqueFacts> {
    (
        prop::collection::vec((arbitrary_outcome(), 0..=MAX_AGE_SECONDS), 1..=5),
        0_u32..10,
        arbitrary_visibility(),
        prop::option::of(0_u8..=255),
    )
        .prop_map(
            |(outcomes, deployed_rules, telemetry_visibility, actor_prevalence)| TechniqueFacts {
                outcomes: outcomes
                    .into_iter()
                    .map(|(outcome, age)| validated(outcome, now() - TimeDelta::seconds(age)))
                    .collect(),
                context: TechniqueContext {
                    deployed_rules,
                    telemetry_visibility,
                    actor_prevalence,
                },
            },
        )
}

proptest! {
    #[test]
    fn scores_are_bounded_and_the_breakdown_adds_up(
        facts in arbitrary_facts(),
        settings in arbitrary_settings(),
    ) {
        let breakdown = explain(&facts, &settings, now()).unwrap();
        prop_assert!(breakdown.score.value() <= 100);
        prop_assert!(breakdown.total.hundredths() <= 10_000);
        let sum = breakdown.outcome_points.hundredths()
            + breakdown.rule_points.hundredths()
            + breakdown.telemetry_points.hundredths();
        prop_assert_eq!(breakdown.subtotal.hundredths(), sum.min(10_000));
        prop_assert_eq!(
            breakdown.total.hundredths(),
            breakdown.subtotal.hundredths() - breakdown.prevalence_penalty.hundredths()
        );
        prop_assert_eq!(u32::from(breakdown.score.value()), (breakdown.total.hundredths() + 50) / 100);
        prop_assert_eq!(breakdown.outcomes.len(), facts.outcomes.len());
    }

    #[test]
    fn a_better_outcome_never_lowers_the_score(
        facts in arbitrary_facts(),
        settings in arbitrary_settings(),
        index in any::<prop::sample::Index>(),
        better in arbitrary_outcome(),
    ) {
        let mut improved = facts.clone();
        let replaced = &mut improved.outcomes[index.index(facts.outcomes.len())];
        replaced.outcome = replaced.outcome.max(better);
        prop_assert!(score(&improved, &settings, now()) >= score(&facts, &settings, now()));
    }

    #[test]
    fn without_new_validations_a_score_never_rises(
        facts in arbitrary_facts(),
        settings in arbitrary_settings(),
        later_seconds in 0..=MAX_AGE_SECONDS,
    ) {
        let later = now() + TimeDelta::seconds(later_seconds);
        prop_assert!(score(&facts, &settings, later) <= score(&facts, &settings, now()));
    }

    #[test]
    fn more_rules_or_visibility_never_lower_the_score(
        facts in arbitrary_facts(),
        settings in arbitrary_settings(),
        more_rules in 0_u32..10,
        visibility in arbitrary_visibility(),
    ) {
        let mut more = facts.clone();
        more.context.deployed_rules += more_rules;
        more.context.telemetry_visibility = more.context.telemetry_visibility.max(visibility);
        prop_assert!(score(&more, &settings, now()) >= score(&facts, &settings, now()));
    }

    #[test]
    fn higher_prevalence_never_raises_the_score(
        facts in arbitrary_facts(),
        settings in arbitrary_settings(),
        prevalence in 0_u8..=100,
        more in 0_u8..=100,
    ) {
        let mut common = facts.clone();
        let mut rare = facts;
        rare.context.actor_prevalence = Some(prevalence);
        common.context.actor_prevalence = Some(prevalence.saturating_add(more));
        prop_assert!(score(&common, &settings, now()) <= score(&rare, &settings, now()));
    }

    #[test]
    fn outcomes_validated_later_do_not_count(
        facts in arbitrary_facts(),
        settings in arbitrary_settings(),
        outcome in arbitrary_outcome(),
        ahead_seconds in 1..=MAX_AGE_SECONDS,
    ) {
        let mut with_future = facts.clone();
        with_future.outcomes.push(validated(outcome, now() + TimeDelta::seconds(ahead_seconds)));
        prop_assert_eq!(score(&with_future, &settings, now()), score(&facts, &settings, now()));
    }

    #[test]
    fn aggregation_lies_between_the_smallest_and_largest_input(
        sub_scores in prop::collection::vec(0_u8..=100, 0..8),
        parent in prop::option::of(0_u8..=100),
        how in prop::sample::select(vec![Aggregation::Max, Aggregation::Average, Aggregation::Min]),
    ) {
        let sub_scores = scores(&sub_scores);
        let parent = parent.and_then(Score::new);
        let inputs: Vec<Score> = sub_scores.iter().copied().chain(parent).collect();
        let result = aggregate(&sub_scores, parent, how);
        if let (Some(&min), Some(&max)) = (inputs.iter().min(), inputs.iter().max()) {
            let result = result.unwrap();
            prop_assert!(min <= result && result <= max);
        } else {
            prop_assert_eq!(result, None);
        }
    }
}
